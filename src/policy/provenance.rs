//! `input.image.provenance`: the SLSA provenance (v0.2 or v1) BuildKit attached to an image,
//! read from the attestation chain and normalized into Buildx's field names.
//!
//! Nothing is taken on trust: every blob must hash to its digest, and the statement's subject
//! must be the image manifest the build will use.

use serde_json::{Map, Value, json};

use crate::proto::gw;
use crate::sources::ImageRef;
use crate::verify::chain::{Statement, attestation_manifest, blob, slsa_layer};

/// The parsed provenance of the image, `None` when it has no SLSA provenance.
pub fn from_chain(chain: &gw::AttestationChain) -> Result<Option<Value>, String> {
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
    Ok(Some(normalize(&statement)))
}

/// Where a SLSA predicate keeps what Buildx reads, by predicate version.
struct Fields<'a> {
    v1: bool,
    build_type: &'a Value,
    builder: &'a Value,
    invocation: &'a Value,
    started: &'a Value,
    finished: &'a Value,
    config: &'a Value,
    request: &'a Value,
    materials: &'a Value,
    metadata: &'a Value,
}

impl<'a> Fields<'a> {
    fn of(p: &'a Value, v1: bool) -> Self {
        if v1 {
            let bd = &p["buildDefinition"];
            let md = &p["runDetails"]["metadata"];
            Fields {
                v1,
                build_type: &bd["buildType"],
                builder: &p["runDetails"]["builder"]["id"],
                invocation: &md["invocationId"],
                started: &md["startedOn"],
                finished: &md["finishedOn"],
                config: &bd["externalParameters"]["configSource"],
                request: &bd["externalParameters"]["request"],
                materials: &bd["resolvedDependencies"],
                metadata: md,
            }
        } else {
            let md = &p["metadata"];
            Fields {
                v1,
                build_type: &p["buildType"],
                builder: &p["builder"]["id"],
                invocation: &md["buildInvocationID"],
                started: &md["buildStartedOn"],
                finished: &md["buildFinishedOn"],
                config: &p["invocation"]["configSource"],
                request: &p["invocation"]["parameters"],
                materials: &p["materials"],
                metadata: md,
            }
        }
    }
}

/// Buildx's `ImageProvenance` from an in-toto statement with a SLSA predicate.
pub fn normalize(statement: &Value) -> Value {
    let predicate_type = statement["predicateType"].as_str().unwrap_or_default();
    let f = Fields::of(&statement["predicate"], predicate_type.ends_with("/v1"));
    let mut m = Map::new();
    m.insert("predicateType".into(), json!(predicate_type));
    let mut put = |k: &str, v: &Value| {
        if !v.is_null() && v.as_str() != Some("") {
            m.insert(k.into(), v.clone());
        }
    };
    put("buildType", f.build_type);
    put("builderID", f.builder);
    put("invocationID", f.invocation);
    put("startedOn", f.started);
    put("finishedOn", f.finished);
    put("frontend", &f.request["frontend"]);
    if let Some(cs) = config_source(f.config) {
        m.insert("configSource".into(), cs);
    }
    if let Some(args) = f.request["args"].as_object() {
        m.insert("rawArgs".into(), Value::Object(args.clone()));
        m.insert("buildArgs".into(), build_args(args));
    }
    build_flags(&mut m, &f);
    let mats: Vec<Value> = f
        .materials
        .as_array()
        .map(|a| a.iter().filter_map(material).collect())
        .unwrap_or_default();
    m.insert("materials".into(), Value::Array(mats));
    Value::Object(m)
}

/// `configSource` in Buildx's names (v1's `entryPoint` is its `path`), `None` if empty.
fn config_source(config: &Value) -> Option<Value> {
    let mut cs = Map::new();
    for (from, to) in [
        ("uri", "uri"),
        ("digest", "digest"),
        ("path", "path"),
        ("entryPoint", "path"),
    ] {
        if let Some(v) = config.get(from).filter(|v| !v.is_null()) {
            cs.insert(to.into(), v.clone());
        }
    }
    (!cs.is_empty()).then_some(Value::Object(cs))
}

/// The `build-arg:` options of the request, without the prefix.
fn build_args(args: &Map<String, Value>) -> Value {
    let build_args: Map<String, Value> = args
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("build-arg:")
                .map(|n| (n.to_string(), v.clone()))
        })
        .collect();
    Value::Object(build_args)
}

/// `reproducible`, `hermetic` and `completeness`, as each predicate version records them.
fn build_flags(m: &mut Map<String, Value>, f: &Fields) {
    let md = f.metadata;
    let (reproducible, hermetic) = if f.v1 {
        (&md["buildkit_reproducible"], &md["buildkit_hermetic"])
    } else {
        (
            &md["reproducible"],
            &md["https://mobyproject.org/buildkit@v1#hermetic"],
        )
    };
    // Both are omitted by BuildKit when false.
    m.insert(
        "reproducible".into(),
        json!(reproducible.as_bool().unwrap_or(false)),
    );
    m.insert(
        "hermetic".into(),
        json!(hermetic.as_bool().unwrap_or(false)),
    );
    let completeness = if f.v1 {
        let c = &md["buildkit_completeness"];
        json!({"parameters": c["request"], "materials": c["resolvedDependencies"]})
    } else {
        let c = &md["completeness"];
        json!({"parameters": c["parameters"], "environment": c["environment"], "materials": c["materials"]})
    };
    m.insert("completeness".into(), completeness);
}

/// A provenance material as a nested input object (`{image: …}`, `{git: …}`, `{http: …}`),
/// with what the material itself states. Its own provenance and signatures are not fetched.
fn material(mat: &Value) -> Option<Value> {
    let uri = mat["uri"].as_str()?;
    let digest = &mat["digest"];
    if let Some(rest) = uri.strip_prefix("pkg:docker/") {
        return image_material(rest, digest).map(|img| json!({ "image": img }));
    }
    let git_like = uri.starts_with("git://") || uri.contains(".git#") || uri.ends_with(".git");
    if git_like {
        let (remote, r) = uri.split_once('#').unwrap_or((uri, ""));
        let mut g = Map::new();
        g.insert("remote".into(), json!(remote));
        if !r.is_empty() {
            g.insert("ref".into(), json!(r));
        }
        if let Some(sha) = digest["sha1"].as_str() {
            g.insert("checksum".into(), json!(sha));
        }
        return Some(json!({ "git": g }));
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        let mut h = Map::new();
        h.insert("url".into(), json!(uri));
        if let Some(sha) = digest["sha256"].as_str() {
            h.insert("checksum".into(), json!(format!("sha256:{sha}")));
        }
        return Some(json!({ "http": h }));
    }
    None
}

/// An image material, from its package URL after `pkg:docker/` (`name@version?platform=`).
fn image_material(purl: &str, digest: &Value) -> Option<Map<String, Value>> {
    let (path, query) = purl.split_once('?').unwrap_or((purl, ""));
    let (name, version) = path.rsplit_once('@').unwrap_or((path, ""));
    let sha = digest["sha256"].as_str().map(|h| format!("sha256:{h}"));
    let tag = (!version.is_empty() && !version.starts_with("sha256:")).then_some(version);
    let written = tag.map_or(name.to_string(), |t| format!("{name}:{t}"));
    let mut r = ImageRef::normalize(&written).ok()?;
    r.tag = tag.map(str::to_string);
    if let Some(d) = &sha {
        r = r.with_digest(d);
    }
    let mut img = super::image_names::image_names(&r).ok()?;
    if let Some(t) = tag {
        img.insert("tag".into(), json!(t));
    }
    if let Some(d) = &sha {
        img.insert("checksum".into(), json!(d));
    }
    img.insert("isCanonical".into(), json!(sha.is_some()));
    if let Some(p) = query.split('&').find_map(|kv| kv.strip_prefix("platform=")) {
        let platform = p.replace("%2F", "/").replace("%2f", "/");
        img.insert("platform".into(), json!(platform));
    }
    Some(img)
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
        assert_eq!(p["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(
            p["buildType"],
            "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
        );
        assert_eq!(p["invocationID"], "mjwfc5mtokfs4oys0bw9rqehl");
        assert_eq!(p["startedOn"], "2026-11-25T09:22:50.465036189Z");
        assert_eq!(p["frontend"], "dockerfile.v0");
        assert_eq!(p["buildArgs"], json!({"FOO": "bar"}));
        assert_eq!(p["rawArgs"], json!({"build-arg:FOO": "bar"}));
        assert_eq!(
            p["completeness"],
            json!({"parameters": true, "materials": false})
        );
        assert_eq!(p["reproducible"], false);
        let m0 = &p["materials"][0]["image"];
        assert_eq!(m0["repo"], "127.0.0.1:5000/busybox");
        assert_eq!(m0["tag"], "latest");
        assert_eq!(m0["platform"], "linux/amd64");
        assert_eq!(
            m0["checksum"],
            "sha256:6ddbda65b8e28e7f79a4989349f86c18e35e5ea9ca2d1ff32fefab5b66088d7d"
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
        assert_eq!(
            p["materials"][0]["image"]["fullRepo"],
            "127.0.0.1:5000/busybox"
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

    #[test]
    fn git_and_http_materials() {
        let st = json!({"predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {"materials": [
            {"uri": "https://github.com/moby/buildkit.git#refs/tags/v0.26.1", "digest": {"sha1": "2450dcbab66bbd1074964147c326b560461663a0"}},
            {"uri": "https://example.com/a.tar.gz", "digest": {"sha256": "ab"}},
            {"uri": "pkg:docker/alpine@3.22?platform=linux%2Famd64", "digest": {"sha256": "cd"}}
        ]}});
        let m = &normalize(&st)["materials"];
        assert_eq!(
            m[0]["git"]["remote"],
            "https://github.com/moby/buildkit.git"
        );
        assert_eq!(
            m[0]["git"]["checksum"],
            "2450dcbab66bbd1074964147c326b560461663a0"
        );
        assert_eq!(m[1]["http"]["checksum"], "sha256:ab");
        assert_eq!(m[2]["image"]["repo"], "alpine");
        assert_eq!(
            m[2]["image"]["ref"],
            "docker.io/library/alpine:3.22@sha256:cd"
        );
    }
}
