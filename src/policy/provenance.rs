//! `input.image.provenance`: the SLSA provenance (v0.2 or v1) BuildKit attached to an image,
//! read from the attestation chain into Buildx's `ImageProvenance` (`policy/provenance.go`).
//!
//! Nothing is taken on trust: every blob must hash to its digest, and the statement's subject
//! must be the image manifest the build will use. What the statement says is read as Buildx
//! reads it: a predicate its decoder refuses is no provenance, not an error.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::proto::gw;
use crate::verify::chain::{Statement, attestation_manifest, blob, slsa_layer};

const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";

/// Buildx's `ImageProvenance` without its materials, and the materials as the statement
/// lists them (the input builder makes each an input object).
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub fields: Map<String, Value>,
    pub materials: Vec<Material>,
}

/// A dependency the provenance names: `uri` and `digest` of a SLSA resource descriptor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Material {
    #[serde(default)]
    pub uri: String,
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
}

/// The parsed provenance of the image, `None` when it has no SLSA provenance.
pub fn from_chain(chain: &gw::AttestationChain) -> Result<Option<Provenance>, String> {
    if chain.attestation_manifest.is_empty() {
        return Ok(None);
    }
    let manifest = attestation_manifest(chain)?;
    let Some(layer) = slsa_layer(&manifest) else {
        return Ok(None);
    };
    let digest = layer.digest().to_string();
    if !chain.blobs.contains_key(&digest) {
        // Not fetched: the policies read whether there is provenance, not what it says.
        return Ok(None);
    }
    let data = blob(chain, &digest)?;
    let statement: Statement = serde_json::from_slice(data)
        .map_err(|e| format!("provenance statement {digest} is not an in-toto statement: {e}"))?;
    if !statement.names(&chain.image_manifest) {
        return Err(format!(
            "the provenance statement's subject is not the image manifest {}",
            chain.image_manifest
        ));
    }
    let statement: Value = serde_json::from_slice(data)
        .map_err(|e| format!("provenance statement is not JSON: {e}"))?;
    Ok(parse(&statement))
}

/// The provenance fields with the materials as the statement lists them (`uri`, `digest`),
/// for readers that only show it (the `verify` subcommand).
pub fn normalize(statement: &Value) -> Value {
    let Some(p) = parse(statement) else {
        return json!({});
    };
    let mut fields = p.fields;
    let materials: Vec<Value> = p
        .materials
        .iter()
        .map(|m| json!({"uri": m.uri, "digest": m.digest}))
        .collect();
    if !materials.is_empty() {
        fields.insert("materials".into(), Value::Array(materials));
    }
    Value::Object(fields)
}

/// Buildx's `parseProvenanceBlob`: a v1 or v0.2 predicate, or nothing.
pub fn parse(statement: &Value) -> Option<Provenance> {
    let predicate = statement.get("predicate").filter(|p| !p.is_null())?;
    match statement["predicateType"].as_str()? {
        SLSA_V1 => serde_json::from_value::<V1>(predicate.clone())
            .ok()?
            .provenance(),
        SLSA_V02 => serde_json::from_value::<V02>(predicate.clone())
            .ok()?
            .provenance(),
        _ => None,
    }
}

/// What both predicate versions carry, in Buildx's names.
struct Common<'a> {
    predicate_type: &'static str,
    build_type: &'a str,
    builder_id: &'a str,
    config_source: Value,
    request: &'a Request,
}

impl Common<'_> {
    /// The fields, or `None` for a predicate Buildx takes for no provenance.
    fn fields(&self) -> Option<Map<String, Value>> {
        if self.build_type.is_empty() && self.builder_id.is_empty() {
            return None;
        }
        let mut m = Map::new();
        m.insert("predicateType".into(), json!(self.predicate_type));
        put_str(&mut m, "buildType", self.build_type);
        put_str(&mut m, "builderID", self.builder_id);
        // A pointer in Buildx, always set: `{}` when the build had no remote context.
        m.insert("configSource".into(), self.config_source.clone());
        put_str(&mut m, "frontend", &self.request.frontend);
        let build_args: Map<String, Value> = self
            .request
            .args
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("build-arg:")
                    .filter(|n| !n.is_empty())
                    .map(|n| (n.to_string(), json!(v)))
            })
            .collect();
        if !build_args.is_empty() {
            m.insert("buildArgs".into(), Value::Object(build_args));
        }
        if !self.request.args.is_empty() {
            m.insert("rawArgs".into(), json!(self.request.args));
        }
        Some(m)
    }
}

fn put_str(m: &mut Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

/// A config source as Buildx writes it: `uri`, `digest`, `path`, each only when set.
fn config_source(uri: &str, digest: &BTreeMap<String, String>, path: &str) -> Value {
    let mut m = Map::new();
    put_str(&mut m, "uri", uri);
    if !digest.is_empty() {
        m.insert("digest".into(), json!(digest));
    }
    put_str(&mut m, "path", path);
    Value::Object(m)
}

/// A time as Buildx's `formatProvenanceTime`: UTC, whole seconds; `None` when absent. A
/// time Go's decoder refuses makes the whole predicate unreadable.
fn provenance_time(t: &Option<String>) -> Result<Option<String>, ()> {
    match t {
        None => Ok(None),
        Some(s) => {
            let ts: jiff::Timestamp = s.parse().map_err(|_| ())?;
            Ok(Some(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
        }
    }
}

/// The metadata both versions share once their field names are read.
struct Metadata<'a> {
    invocation_id: &'a str,
    started: Option<String>,
    finished: Option<String>,
    reproducible: bool,
    hermetic: bool,
    completeness: Value,
}

impl Metadata<'_> {
    fn apply(self, m: &mut Map<String, Value>) {
        put_str(m, "invocationID", self.invocation_id);
        if let Some(t) = self.started {
            m.insert("startedOn".into(), json!(t));
        }
        if let Some(t) = self.finished {
            m.insert("finishedOn".into(), json!(t));
        }
        // Pointers in Buildx, set whenever there is metadata: `false` is written.
        m.insert("reproducible".into(), json!(self.reproducible));
        m.insert("hermetic".into(), json!(self.hermetic));
        m.insert("completeness".into(), self.completeness);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Request {
    frontend: String,
    args: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Builder {
    id: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct V1 {
    build_definition: V1Definition,
    run_details: V1RunDetails,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct V1Definition {
    build_type: String,
    external_parameters: V1External,
    resolved_dependencies: Option<Vec<Material>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct V1External {
    config_source: V1ConfigSource,
    request: Request,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1ConfigSource {
    uri: String,
    digest: BTreeMap<String, String>,
    path: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1RunDetails {
    builder: Builder,
    metadata: Option<V1Metadata>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1Metadata {
    // Go's decoder matches keys case-insensitively.
    #[serde(rename = "invocationId", alias = "invocationID")]
    invocation_id: String,
    #[serde(rename = "startedOn")]
    started_on: Option<String>,
    #[serde(rename = "finishedOn")]
    finished_on: Option<String>,
    buildkit_hermetic: bool,
    buildkit_reproducible: bool,
    buildkit_completeness: V1Completeness,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct V1Completeness {
    request: bool,
    resolved_dependencies: bool,
}

impl V1 {
    fn provenance(&self) -> Option<Provenance> {
        let d = &self.build_definition;
        let cs = &d.external_parameters.config_source;
        let common = Common {
            predicate_type: SLSA_V1,
            build_type: &d.build_type,
            builder_id: &self.run_details.builder.id,
            config_source: config_source(&cs.uri, &cs.digest, &cs.path),
            request: &d.external_parameters.request,
        };
        let mut fields = common.fields()?;
        if let Some(md) = &self.run_details.metadata {
            Metadata {
                invocation_id: &md.invocation_id,
                started: provenance_time(&md.started_on).ok()?,
                finished: provenance_time(&md.finished_on).ok()?,
                reproducible: md.buildkit_reproducible,
                hermetic: md.buildkit_hermetic,
                completeness: json!({
                    "parameters": md.buildkit_completeness.request,
                    "materials": md.buildkit_completeness.resolved_dependencies,
                }),
            }
            .apply(&mut fields);
        }
        Some(Provenance {
            fields,
            materials: d.resolved_dependencies.clone().unwrap_or_default(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct V02 {
    build_type: String,
    builder: Builder,
    invocation: V02Invocation,
    metadata: Option<V02Metadata>,
    materials: Option<Vec<Material>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct V02Invocation {
    config_source: V02ConfigSource,
    parameters: Request,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct V02ConfigSource {
    uri: String,
    digest: BTreeMap<String, String>,
    entry_point: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V02Metadata {
    #[serde(rename = "buildInvocationID")]
    invocation_id: String,
    #[serde(rename = "buildStartedOn")]
    started_on: Option<String>,
    #[serde(rename = "buildFinishedOn")]
    finished_on: Option<String>,
    reproducible: bool,
    #[serde(rename = "https://mobyproject.org/buildkit@v1#hermetic")]
    hermetic: bool,
    completeness: V02Completeness,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V02Completeness {
    parameters: bool,
    environment: bool,
    materials: bool,
}

impl V02 {
    fn provenance(&self) -> Option<Provenance> {
        let cs = &self.invocation.config_source;
        let common = Common {
            predicate_type: SLSA_V02,
            build_type: &self.build_type,
            builder_id: &self.builder.id,
            config_source: config_source(&cs.uri, &cs.digest, &cs.entry_point),
            request: &self.invocation.parameters,
        };
        let mut fields = common.fields()?;
        if let Some(md) = &self.metadata {
            let c = &md.completeness;
            Metadata {
                invocation_id: &md.invocation_id,
                started: provenance_time(&md.started_on).ok()?,
                finished: provenance_time(&md.finished_on).ok()?,
                reproducible: md.reproducible,
                hermetic: md.hermetic,
                completeness: json!({
                    "parameters": c.parameters,
                    "environment": c.environment,
                    "materials": c.materials,
                }),
            }
            .apply(&mut fields);
        }
        Some(Provenance {
            fields,
            materials: self.materials.clone().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::chain::PREDICATE_TYPE_ANNOTATION;

    fn vector(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/provenance")
                .join(name),
        )
        .unwrap()
    }

    fn digest(b: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        format!("sha256:{}", hex::encode(Sha256::digest(b)))
    }

    /// An attestation chain as BuildKit returns it, around a real provenance statement.
    fn chain_with(statement: Vec<u8>, image: &str) -> gw::AttestationChain {
        let layer = digest(&statement);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                       "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
            "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": layer, "size": statement.len(),
                        "annotations": {PREDICATE_TYPE_ANNOTATION: "https://slsa.dev/provenance/v1"}}]
        }))
        .unwrap();
        let att = digest(&manifest);
        let blob = |d: &str, data: Vec<u8>| {
            (
                d.to_string(),
                gw::Blob {
                    descriptor: None,
                    data,
                },
            )
        };
        gw::AttestationChain {
            root: "sha256:root".into(),
            image_manifest: image.into(),
            attestation_manifest: att.clone(),
            signature_manifests: vec![],
            blobs: [blob(&att, manifest), blob(&layer, statement)].into(),
        }
    }

    // The image manifest both vectors are about.
    const IMAGE: &str = "sha256:0e742de7fa50e182c83dce14360d0333712bbb938d97428e92c6e53c339fb426";

    #[test]
    fn buildkit_slsa_v1() {
        let p = from_chain(&chain_with(vector("buildkit-v1.json"), IMAGE))
            .unwrap()
            .unwrap();
        let f = Value::Object(p.fields);
        assert_eq!(f["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(
            f["buildType"],
            "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
        );
        assert_eq!(f["invocationID"], "mjwfc5mtokfs4oys0bw9rqehl");
        // Buildx writes provenance times in UTC, whole seconds.
        assert_eq!(f["startedOn"], "2026-11-25T09:22:50Z");
        assert_eq!(f["frontend"], "dockerfile.v0");
        assert_eq!(f["buildArgs"], json!({"FOO": "bar"}));
        assert_eq!(f["rawArgs"], json!({"build-arg:FOO": "bar"}));
        assert_eq!(
            f["completeness"],
            json!({"parameters": true, "materials": false})
        );
        assert_eq!(f["reproducible"], false);
        // A local build has no config source; Buildx still writes the (empty) object.
        assert_eq!(f["configSource"], json!({}));
        assert_eq!(
            p.materials[0].uri,
            "pkg:docker/127.0.0.1:5000/busybox@latest?platform=linux%2Famd64"
        );
        assert_eq!(
            p.materials[0].digest["sha256"],
            "6ddbda65b8e28e7f79a4989349f86c18e35e5ea9ca2d1ff32fefab5b66088d7d"
        );
    }

    #[test]
    fn buildkit_slsa_v0_2() {
        let st: Value = serde_json::from_slice(&vector("buildkit-v0.2.json")).unwrap();
        let p = normalize(&st);
        assert_eq!(p["predicateType"], "https://slsa.dev/provenance/v0.2");
        assert_eq!(p["buildType"], "https://mobyproject.org/buildkit@v1");
        assert_eq!(p["invocationID"], "5gu8vkwq2filb1lzvtpdra7pw");
        assert_eq!(
            p["completeness"],
            json!({"parameters": true, "environment": true, "materials": false})
        );
        assert_eq!(p["buildArgs"]["FOO"], "bar");
        assert_eq!(p["configSource"], json!({}));
        assert!(
            p["materials"][0]["uri"]
                .as_str()
                .unwrap()
                .starts_with("pkg:docker/")
        );
    }

    #[test]
    fn what_buildx_does_not_read_as_provenance_is_none() {
        let v1 = |predicate: Value| {
            parse(
                &json!({"predicateType": "https://slsa.dev/provenance/v1", "predicate": predicate}),
            )
        };
        // Neither a build type nor a builder: no provenance.
        assert!(v1(json!({"runDetails": {"builder": {"id": ""}}})).is_none());
        // A predicate Go's decoder refuses (args must be strings): no provenance.
        let bad = json!({"buildDefinition": {"buildType": "x", "externalParameters": {"request": {"args": {"a": 1}}}}});
        assert!(v1(bad).is_none());
        // No metadata: no times, flags or completeness; no args: no buildArgs or rawArgs.
        let p = v1(json!({"buildDefinition": {"buildType": "x"}})).unwrap();
        assert_eq!(
            Value::Object(p.fields),
            json!({"predicateType": "https://slsa.dev/provenance/v1", "buildType": "x", "configSource": {}})
        );
        assert!(
            parse(&json!({"predicateType": "https://spdx.dev/Document", "predicate": {}}))
                .is_none()
        );
    }

    #[test]
    fn provenance_about_another_image_is_refused() {
        let other = format!("sha256:{}", "1".repeat(64));
        let err = from_chain(&chain_with(vector("buildkit-v1.json"), &other)).unwrap_err();
        assert!(err.contains("subject is not the image manifest"), "{err}");
    }

    #[test]
    fn tampered_blobs_are_refused() {
        let mut c = chain_with(vector("buildkit-v1.json"), IMAGE);
        let layer = c
            .blobs
            .keys()
            .find(|k| **k != c.attestation_manifest)
            .unwrap()
            .clone();
        c.blobs.get_mut(&layer).unwrap().data.push(b' ');
        assert!(from_chain(&c).unwrap_err().contains("hashes to"));
        let mut c = chain_with(vector("buildkit-v1.json"), IMAGE);
        c.blobs.remove(&c.attestation_manifest.clone());
        assert!(from_chain(&c).unwrap_err().contains("lacks blob"));
        // a statement that was not asked for is simply not read
        let mut c = chain_with(vector("buildkit-v1.json"), IMAGE);
        c.blobs.remove(&layer);
        assert_eq!(from_chain(&c).unwrap(), None);
    }

    #[test]
    fn a_malformed_attestation_manifest_or_statement_is_refused() {
        let mut c = chain_with(vector("buildkit-v1.json"), IMAGE);
        c.blobs.remove(&c.attestation_manifest.clone());
        // Layers without media type or size, no config: not an OCI image manifest.
        let manifest = br#"{"schemaVersion":2,"layers":[{"digest":"sha256:00"}]}"#.to_vec();
        c.attestation_manifest = crate::verify::chain::add_blob(&mut c, manifest);
        let err = from_chain(&c).unwrap_err();
        assert!(err.contains("is not an OCI image manifest"), "{err}");

        let statement = serde_json::to_vec(&json!({"predicateType": "x", "subject": 1})).unwrap();
        let err = from_chain(&chain_with(statement, IMAGE)).unwrap_err();
        assert!(err.contains("is not an in-toto statement"), "{err}");
    }

    #[test]
    fn no_attestation_manifest_means_no_provenance() {
        assert_eq!(from_chain(&gw::AttestationChain::default()).unwrap(), None);
    }
}
