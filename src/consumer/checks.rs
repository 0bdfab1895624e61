//! The checks, per platform of the image: the attestation chain, the VSA, the report,
//! provenance, the policy (digest and decision) and signatures over the attestation manifest.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::store::{ImageSpec, Read, ReadError, Root, Store, parse_json};
use crate::attest::{REPORT_PREDICATE, VERIFIER_ID, VSA_PREDICATE};
use crate::policy::PolicySet;
use crate::proto::{gw, pb};
use crate::resolve::Facts;
use crate::sources::{ImageRef, Source};
use crate::verify::image::{
    ATTESTATION_REFERENCE_DIGEST as REFERENCE_DIGEST, ATTESTATION_REFERENCE_TYPE as REFERENCE_TYPE,
    BUNDLE_ARTIFACT_TYPE, ImageVerifier, PREDICATE_TYPE_ANNOTATION as PREDICATE_TYPE, SLSA_PREFIX,
    add_blob,
};
use crate::verify::legacy::SIMPLESIGNING_MEDIA_TYPE;

const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub platform: String,
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// The policy given with `--policy`: compiled, with the sha256 of its file.
pub struct GivenPolicy {
    pub path: String,
    pub sha256: String,
    pub set: PolicySet,
}

pub struct Checker {
    pub policy: Option<GivenPolicy>,
    pub verifier: ImageVerifier,
    /// `--trusted-root` was given: a verified signature is required.
    pub require_signature: bool,
    pub platform: Option<String>,
}

/// Bad input: printed as one line, exit 2.
pub type Fatal = String;

fn fatal_unless_integrity(e: ReadError) -> Result<String, Fatal> {
    match e {
        ReadError::Integrity(m) => Ok(m),
        other => Err(other.to_string()),
    }
}

/// The first 12 characters of a digest's hex (of any string: attestation content is not
/// trusted to be ASCII).
fn prefix12(hex: &str) -> String {
    hex.chars().take(12).collect()
}

fn short(d: &str) -> String {
    format!(
        "sha256:{}",
        prefix12(d.strip_prefix("sha256:").unwrap_or(d))
    )
}

fn platform_of(p: &Value) -> Option<pb::Platform> {
    let os = p["os"].as_str()?;
    let arch = p["architecture"].as_str()?;
    Some(pb::Platform {
        os: os.to_string(),
        architecture: arch.to_string(),
        variant: p["variant"].as_str().unwrap_or_default().to_string(),
        ..Default::default()
    })
}

/// A statement of the attestation manifest: its layer's predicate type and digest, and its
/// bytes (or why they could not be read).
struct Layer {
    predicate_type: String,
    digest: String,
    data: Read<Vec<u8>>,
}

impl Checker {
    /// Every row for the image; `Err` is bad input (exit 2).
    pub async fn run(&mut self, store: &Store, spec: &ImageSpec) -> Result<Vec<Row>, Fatal> {
        let root = match store.root(spec).await {
            Ok(r) => r,
            Err(e) => {
                let m = fatal_unless_integrity(e)?;
                return Ok(vec![Row {
                    platform: "-".into(),
                    check: "image",
                    ok: false,
                    detail: m,
                }]);
            }
        };
        let Some(entries) = root.json["manifests"].as_array().cloned() else {
            if root.json.get("layers").is_some() || root.json.get("config").is_some() {
                return Ok(vec![Row {
                    platform: "-".into(),
                    check: "attestation",
                    ok: false,
                    detail: format!(
                        "{} is a single image manifest, not an index: it carries no attestations",
                        root.digest
                    ),
                }]);
            }
            return Err(format!(
                "{} is neither an image index nor an image manifest",
                root.digest
            ));
        };
        let mut platforms: Vec<(String, pb::Platform, Value)> = Vec::new();
        for e in &entries {
            if e["annotations"][REFERENCE_TYPE].is_string() {
                continue;
            }
            let Some(p) = platform_of(&e["platform"]) else {
                continue;
            };
            if p.os == "unknown" {
                continue;
            }
            let name = crate::policy::input::platform_string(&p);
            if self.platform.as_ref().is_none_or(|want| *want == name) {
                platforms.push((name, p, e.clone()));
            }
        }
        if platforms.is_empty() {
            let all: Vec<String> = entries
                .iter()
                .filter(|e| !e["annotations"][REFERENCE_TYPE].is_string())
                .filter_map(|e| platform_of(&e["platform"]))
                .map(|p| crate::policy::input::platform_string(&p))
                .collect();
            return Err(match &self.platform {
                Some(p) => format!(
                    "the image has no platform {p} (it has: {})",
                    if all.is_empty() {
                        "none".to_string()
                    } else {
                        all.join(", ")
                    }
                ),
                None => format!("the index {} lists no platform image", root.digest),
            });
        }
        let mut rows = Vec::new();
        for (name, platform, entry) in platforms {
            let mut out = PlatformRows {
                platform: name,
                rows: Vec::new(),
            };
            self.platform_checks(store, &root, &entries, &platform, &entry, &mut out)
                .await?;
            rows.extend(out.rows);
        }
        Ok(rows)
    }

    async fn platform_checks(
        &mut self,
        store: &Store,
        root: &Root,
        entries: &[Value],
        platform: &pb::Platform,
        entry: &Value,
        out: &mut PlatformRows,
    ) -> Result<(), Fatal> {
        let image = entry["digest"]
            .as_str()
            .ok_or_else(|| format!("the index {} has an entry without digest", root.digest))?
            .to_string();
        let image_hex = image
            .strip_prefix("sha256:")
            .unwrap_or_default()
            .to_string();

        // 1. index -> platform manifest -> attestation manifest
        let atts: Vec<&Value> = entries
            .iter()
            .filter(|e| {
                e["annotations"][REFERENCE_TYPE] == "attestation-manifest"
                    && e["annotations"][REFERENCE_DIGEST] == image.as_str()
            })
            .collect();
        let att_entry = match atts.as_slice() {
            [one] => *one,
            [] => {
                out.fail(
                    "attestation",
                    format!("the index lists no attestation manifest for {image}"),
                );
                return Ok(());
            }
            many => {
                out.fail(
                    "attestation",
                    format!(
                        "the index lists {} attestation manifests for {image}",
                        many.len()
                    ),
                );
                return Ok(());
            }
        };
        let att = att_entry["digest"].as_str().unwrap_or_default().to_string();
        let manifest = match store
            .manifest("image manifest", &image, entry["size"].as_i64())
            .await
        {
            Ok(d) => parse_json("image manifest", &image, &d).map_err(|e| e.to_string())?,
            Err(e) => {
                out.fail("attestation", fatal_unless_integrity(e)?);
                return Ok(());
            }
        };
        let att_data = match store
            .manifest("attestation manifest", &att, att_entry["size"].as_i64())
            .await
        {
            Ok(d) => d,
            Err(e) => {
                out.fail("attestation", fatal_unless_integrity(e)?);
                return Ok(());
            }
        };
        let att_json =
            parse_json("attestation manifest", &att, &att_data).map_err(|e| e.to_string())?;
        if let Some(subject) = att_json["subject"]["digest"].as_str()
            && subject != image
        {
            out.fail(
                "attestation",
                format!("attestation manifest {att} has subject {subject}, not {image}"),
            );
            return Ok(());
        }
        let mut layers = Vec::new();
        for l in att_json["layers"].as_array().into_iter().flatten() {
            let (Some(t), Some(d)) = (
                l["annotations"][PREDICATE_TYPE].as_str(),
                l["digest"].as_str(),
            ) else {
                continue;
            };
            let data = store.blob("statement", d, l["size"].as_i64()).await;
            if let Err(ReadError::Unreadable(m) | ReadError::Malformed(m)) = &data {
                return Err(m.clone());
            }
            layers.push(Layer {
                predicate_type: t.to_string(),
                digest: d.to_string(),
                data,
            });
        }
        let kinds: Vec<&str> = layers
            .iter()
            .map(|l| match l.predicate_type.as_str() {
                VSA_PREDICATE => "VSA",
                REPORT_PREDICATE => "report",
                t if t.starts_with(SLSA_PREFIX) => "provenance",
                t => t,
            })
            .collect();
        out.ok(
            "attestation",
            format!(
                "{} for image manifest {} ({})",
                short(&att),
                short(&image),
                kinds.join(", ")
            ),
        );

        // 2. the VSA, the report, provenance
        let vsa = self.vsa(&layers, &image_hex, out);
        self.report(&layers, &image_hex, vsa.as_ref(), out);
        self.provenance(&layers, &image_hex, out);

        // 4 (before 3: the policy reads the verified signatures). Signatures over the
        // attestation manifest, through the same verifier the frontend uses.
        let mut chain = gw::AttestationChain {
            root: root.digest.clone(),
            image_manifest: image.clone(),
            attestation_manifest: att.clone(),
            signature_manifests: vec![],
            blobs: Default::default(),
        };
        // The blobs were checked against their digests when read.
        add_blob(&mut chain, root.data.clone());
        add_blob(&mut chain, att_data.clone());
        for l in &layers {
            if let Ok(d) = &l.data {
                add_blob(&mut chain, d.clone());
            }
        }
        let mut unreadable = Vec::new();
        match store.referrers(&att).await {
            Ok(found) => {
                for (digest, size) in found {
                    match self.signature_manifest(store, &digest, size).await {
                        Ok(blobs) => {
                            chain.signature_manifests.push(digest.clone());
                            for (_, data) in blobs {
                                add_blob(&mut chain, data);
                            }
                        }
                        Err(Some(why)) => unreadable.push(why),
                        Err(None) => {}
                    }
                }
            }
            Err(e) => unreadable.push(format!("cannot list the referrers of {att}: {e}")),
        }
        let checked = self.verifier.check(&chain);
        let signatures = match &checked {
            Ok(c) => c.signatures.clone(),
            Err(_) => vec![],
        };
        // 3. the policy, with the image itself as the source
        if let Some(policy) = self.policy.as_mut() {
            policy_digest(policy, vsa.as_ref(), out);
            let config = match manifest["config"]["digest"].as_str() {
                Some(d) => store
                    .blob("image config", d, manifest["config"]["size"].as_i64())
                    .await
                    .map_err(|e| e.to_string()),
                None => Err(format!("image manifest {image} names no config")),
            };
            match config {
                Ok(cfg) => decide(policy, root, platform, &chain, cfg, signatures, out),
                Err(e) => out.fail("policy", e),
            }
        }
        signature_row(checked, unreadable, self.require_signature, out);
        Ok(())
    }

    /// A referrer: its manifest and bundle (or simplesigning payload) layers, checked.
    /// `Err(None)`: not a signature (another kind of artifact); `Err(Some(why))`: a
    /// signature that cannot be read.
    async fn signature_manifest(
        &self,
        store: &Store,
        digest: &str,
        size: Option<i64>,
    ) -> Result<Vec<(String, Vec<u8>)>, Option<String>> {
        let data = store
            .manifest("signature manifest", digest, size)
            .await
            .map_err(|e| Some(e.to_string()))?;
        let m: Value = serde_json::from_slice(&data)
            .map_err(|e| Some(format!("signature manifest {digest} is not JSON: {e}")))?;
        let kind = m["artifactType"]
            .as_str()
            .or_else(|| m["config"]["mediaType"].as_str())
            .unwrap_or_default();
        if !kind.contains("sigstore") && !kind.contains("cosign") {
            return Err(None);
        }
        let mut out = vec![(digest.to_string(), data.clone())];
        let bundles = m["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["mediaType"] == BUNDLE_ARTIFACT_TYPE)
            .count();
        if kind == BUNDLE_ARTIFACT_TYPE && bundles == 0 {
            return Err(Some(format!(
                "signature manifest {digest} has no bundle layer"
            )));
        }
        // The bundle layers, or a legacy cosign signature's simplesigning payload.
        for l in m["layers"].as_array().into_iter().flatten() {
            let what = if l["mediaType"] == BUNDLE_ARTIFACT_TYPE {
                "signature bundle"
            } else if l["mediaType"] == SIMPLESIGNING_MEDIA_TYPE {
                "signature payload"
            } else {
                continue;
            };
            let Some(d) = l["digest"].as_str() else {
                continue;
            };
            let b = store
                .blob(what, d, l["size"].as_i64())
                .await
                .map_err(|e| Some(format!("signature {digest}: {e}")))?;
            out.push((d.to_string(), b));
        }
        Ok(out)
    }

    /// The VSA row; returns its predicate when the statement is about this image.
    fn vsa(&self, layers: &[Layer], image_hex: &str, out: &mut PlatformRows) -> Option<Value> {
        let pred = match one_statement(layers, VSA_PREDICATE, image_hex, "VSA") {
            Ok(p) => p,
            Err(e) => {
                out.fail("vsa", e);
                return None;
            }
        };
        let verifier = pred["verifier"]["id"].as_str().unwrap_or_default();
        let result = pred["verificationResult"].as_str().unwrap_or_default();
        if verifier != VERIFIER_ID {
            out.fail(
                "vsa",
                format!("verifier.id is {verifier:?}, not {VERIFIER_ID}"),
            );
        } else if result != "PASSED" {
            out.fail("vsa", format!("verificationResult is {result:?}"));
        } else {
            let version = pred["verifier"]["version"]["verified-frontend"]
                .as_str()
                .unwrap_or("?");
            let policy = pred["policy"]["uri"].as_str().unwrap_or("?");
            let sha = pred["policy"]["digest"]["sha256"].as_str().unwrap_or("?");
            out.ok(
                "vsa",
                format!(
                    "PASSED by verified-frontend {version} at {}, policy {policy} (sha256:{}), mode {}",
                    pred["timeVerified"].as_str().unwrap_or("?"),
                    prefix12(sha),
                    pred["policyMode"].as_str().unwrap_or("?"),
                ),
            );
        }
        Some(pred)
    }

    fn report(
        &self,
        layers: &[Layer],
        image_hex: &str,
        vsa: Option<&Value>,
        out: &mut PlatformRows,
    ) {
        let pred = match one_statement(layers, REPORT_PREDICATE, image_hex, "report") {
            Ok(p) => p,
            Err(e) => return out.fail("report", e),
        };
        let verifier = pred["verifier"]["id"].as_str().unwrap_or_default();
        let result = pred["verificationResult"].as_str().unwrap_or_default();
        let want = vsa
            .and_then(|v| v["verificationResult"].as_str())
            .unwrap_or("PASSED");
        if verifier != VERIFIER_ID {
            return out.fail(
                "report",
                format!("verifier.id is {verifier:?}, not {VERIFIER_ID}"),
            );
        }
        if result != want {
            return out.fail(
                "report",
                format!("verificationResult {result:?} disagrees with the VSA's {want:?}"),
            );
        }
        if result != "PASSED" {
            return out.fail("report", format!("verificationResult is {result:?}"));
        }
        if let Some(p) = pred["platform"].as_str()
            && p != out.platform
        {
            return out.fail(
                "report",
                format!("the report is for platform {p}, not {}", out.platform),
            );
        }
        let Some(sources) = pred["sources"].as_array() else {
            return out.fail("report", "the report lists no sources".to_string());
        };
        let not_allowed: Vec<String> = sources
            .iter()
            .filter(|s| s["decision"] != "allow")
            .map(|s| {
                format!(
                    "{} decided {}",
                    s["pinned"]
                        .as_str()
                        .or(s["original"].as_str())
                        .unwrap_or("?"),
                    s["decision"].as_str().unwrap_or("nothing")
                )
            })
            .collect();
        if !not_allowed.is_empty() {
            return out.fail(
                "report",
                format!("not every source was allowed: {}", not_allowed.join("; ")),
            );
        }
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for s in sources {
            *kinds.entry(s["kind"].as_str().unwrap_or("?")).or_default() += 1;
        }
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.ok(
            "report",
            format!(
                "PASSED, {} sources all allowed ({})",
                sources.len(),
                kinds.join(", ")
            ),
        );
    }

    fn provenance(&self, layers: &[Layer], image_hex: &str, out: &mut PlatformRows) {
        let slsa: Vec<&Layer> = layers
            .iter()
            .filter(|l| l.predicate_type.starts_with(SLSA_PREFIX))
            .collect();
        if slsa.is_empty() {
            return out.ok("provenance", "none attached (not required)".into());
        }
        let mut details = Vec::new();
        for l in slsa {
            match statement(l, image_hex) {
                Ok(stmt) => {
                    let p = crate::policy::provenance::normalize(&stmt);
                    let mut d = l.predicate_type.clone();
                    if let Some(b) = p["builderID"].as_str() {
                        d.push_str(&format!(", builder {b}"));
                    }
                    if let Some(f) = p["frontend"].as_str() {
                        d.push_str(&format!(", frontend {f}"));
                    }
                    let n = p["materials"].as_array().map_or(0, Vec::len);
                    d.push_str(&format!(", {n} materials"));
                    details.push(d);
                }
                Err(e) => return out.fail("provenance", e),
            }
        }
        out.ok("provenance", details.join("; "));
    }
}

/// Rows of one platform.
struct PlatformRows {
    platform: String,
    rows: Vec<Row>,
}

impl PlatformRows {
    fn ok(&mut self, check: &'static str, detail: String) {
        self.push(check, true, detail);
    }
    fn fail(&mut self, check: &'static str, detail: String) {
        self.push(check, false, detail);
    }
    fn push(&mut self, check: &'static str, ok: bool, detail: String) {
        self.rows.push(Row {
            platform: self.platform.clone(),
            check,
            ok,
            detail,
        });
    }
}

/// The statement of a layer, checked: read and digest-checked, an in-toto statement of the
/// layer's predicate type whose subject is the image manifest.
fn statement(l: &Layer, image_hex: &str) -> Result<Value, String> {
    let data = l.data.as_ref().map_err(|e| e.to_string())?;
    let s: Value = serde_json::from_slice(data)
        .map_err(|e| format!("statement {} is not JSON: {e}", l.digest))?;
    let t = s["_type"].as_str().unwrap_or_default();
    if !STATEMENT_TYPES.contains(&t) {
        return Err(format!(
            "statement {} is not an in-toto statement (_type {t:?})",
            l.digest
        ));
    }
    let pt = s["predicateType"].as_str().unwrap_or_default();
    if pt != l.predicate_type {
        return Err(format!(
            "statement {} has predicateType {pt:?}, its layer says {:?}",
            l.digest, l.predicate_type
        ));
    }
    let subjects: Vec<&str> = s["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["digest"]["sha256"].as_str())
        .collect();
    if !subjects.contains(&image_hex) {
        return Err(format!(
            "statement {}: subject names {}, not the image manifest sha256:{image_hex}",
            l.digest,
            if subjects.is_empty() {
                "no sha256 digest".to_string()
            } else {
                subjects
                    .iter()
                    .map(|h| format!("sha256:{h}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    Ok(s)
}

/// The predicate of the one statement of `predicate_type`.
fn one_statement(
    layers: &[Layer],
    predicate_type: &str,
    image_hex: &str,
    what: &str,
) -> Result<Value, String> {
    let found: Vec<&Layer> = layers
        .iter()
        .filter(|l| l.predicate_type == predicate_type)
        .collect();
    match found.as_slice() {
        [] => Err(format!("the attestation manifest holds no {what}")),
        [one] => Ok(statement(one, image_hex)?["predicate"].clone()),
        many => Err(format!(
            "the attestation manifest holds {} statements of {predicate_type}",
            many.len()
        )),
    }
}

/// The image was verified under this very policy: the file's sha256 is the VSA's policy
/// (or one of its `policies`).
fn policy_digest(policy: &GivenPolicy, vsa: Option<&Value>, out: &mut PlatformRows) {
    let Some(vsa) = vsa else {
        return out.fail(
            "policy-digest",
            "no VSA about this image to compare with".into(),
        );
    };
    let main = vsa["policy"]["digest"]["sha256"]
        .as_str()
        .unwrap_or_default();
    let others: Vec<&str> = vsa["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["sha256"].as_str())
        .collect();
    if main == policy.sha256 || others.contains(&policy.sha256.as_str()) {
        out.ok(
            "policy-digest",
            format!(
                "{} (sha256:{}) is the policy the VSA names",
                policy.path,
                prefix12(&policy.sha256)
            ),
        );
    } else {
        let mut named = vec![format!("sha256:{main}")];
        named.extend(
            others
                .iter()
                .filter(|o| **o != main)
                .map(|o| format!("sha256:{o}")),
        );
        out.fail(
            "policy-digest",
            format!(
                "{} has sha256:{}, the VSA names {}",
                policy.path,
                policy.sha256,
                named.join(", ")
            ),
        );
    }
}

/// Buildx's `input.image` for the image itself, with the verified signatures, decided by
/// the policy.
fn decide(
    policy: &mut GivenPolicy,
    root: &Root,
    platform: &pb::Platform,
    chain: &gw::AttestationChain,
    config: Vec<u8>,
    signatures: Vec<Value>,
    out: &mut PlatformRows,
) {
    // As a verified build would see this image as a source: name, tag checked now, pinned
    // to the digest just read.
    let image = ImageRef {
        name: root.name.clone().unwrap_or_else(|| "oci-layout".into()),
        tag: root.tag.clone(),
        digest: Some(root.digest.clone()),
    };
    let op = pb::SourceOp {
        identifier: format!("docker-image://{image}"),
        attrs: Default::default(),
    };
    let facts = Facts::Image {
        digest: root.digest.clone(),
        config: Some(config),
        chain: Some(chain.clone()),
        tag_digest: Some(root.digest.clone()),
    };
    let env = crate::policy::input::env(&BTreeMap::new());
    let mut doc = match crate::policy::input::document(
        &env,
        &Source::Image(image),
        &op,
        Some(platform),
        Some(&facts),
    ) {
        Ok(d) => d,
        Err(e) => return out.fail("policy", e),
    };
    doc["image"]["signatures"] = Value::Array(signatures);
    match policy.set.evaluate(&doc) {
        Ok(d) if d.allow && d.pin.as_deref().is_none_or(|p| p == root.digest) => out.ok(
            "policy",
            format!(
                "{} allows {}",
                policy.path,
                doc["image"]["ref"].as_str().unwrap_or("?")
            ),
        ),
        Ok(d) if d.allow => out.fail(
            "policy",
            format!(
                "{} pins the image to {}, not {}",
                policy.path,
                d.pin.unwrap_or_default(),
                root.digest
            ),
        ),
        Ok(d) => {
            let mut shown = doc["image"].clone();
            if let Some(o) = shown.as_object_mut() {
                o.remove("provenance");
                o.remove("env");
                o.remove("labels");
            }
            out.fail(
                "policy",
                format!(
                    "{} denies: {}; facts: {}",
                    policy.path,
                    if d.deny_msg.is_empty() {
                        "(no deny_msg)".to_string()
                    } else {
                        d.deny_msg.join("; ")
                    },
                    json!(shown)
                ),
            )
        }
        Err(e) => out.fail("policy", e.to_string()),
    }
}

fn signature_row(
    checked: Result<crate::verify::image::Checked, String>,
    unreadable: Vec<String>,
    required: bool,
    out: &mut PlatformRows,
) {
    let c = match checked {
        Ok(c) => c,
        Err(e) => return out.fail("signature", e),
    };
    let mut rejected = unreadable;
    rejected.extend(c.rejected);
    let verified: Vec<String> = c
        .signatures
        .iter()
        .map(|s| {
            let signer = &s["signer"];
            format!(
                "{} signature by {} ({})",
                s["kind"].as_str().unwrap_or("?"),
                signer["subjectAlternativeName"].as_str().unwrap_or("?"),
                signer["issuer"].as_str().unwrap_or("?")
            )
        })
        .collect();
    let mut detail = if verified.is_empty() {
        "no verified signature".to_string()
    } else {
        format!("verified: {}", verified.join("; "))
    };
    if !rejected.is_empty() {
        detail.push_str(&format!("; not accepted: {}", rejected.join("; ")));
    }
    if verified.is_empty() {
        if required {
            detail.push_str(" (--trusted-root requires one)");
            return out.fail("signature", detail);
        }
        detail.push_str(" (not required without --trusted-root)");
    }
    out.ok("signature", detail);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(pt: &str, stmt: Value) -> Layer {
        let data = serde_json::to_vec(&stmt).unwrap();
        Layer {
            predicate_type: pt.into(),
            digest: super::super::store::sha256_digest(&data),
            data: Ok(data),
        }
    }

    fn rows() -> PlatformRows {
        PlatformRows {
            platform: "linux/amd64".into(),
            rows: vec![],
        }
    }

    fn stmt(pt: &str, subject_hex: &str, predicate: Value) -> Value {
        json!({"_type": "https://in-toto.io/Statement/v1", "predicateType": pt,
               "subject": [{"name": "x", "digest": {"sha256": subject_hex}}], "predicate": predicate})
    }

    fn checker() -> Checker {
        Checker {
            policy: None,
            verifier: ImageVerifier::new(vec![]),
            require_signature: false,
            platform: None,
        }
    }

    #[test]
    fn statements_must_name_the_image_and_match_their_layer() {
        let img = "a".repeat(64);
        let ok = layer(VSA_PREDICATE, stmt(VSA_PREDICATE, &img, json!({})));
        assert!(statement(&ok, &img).is_ok());
        let other = layer(
            VSA_PREDICATE,
            stmt(VSA_PREDICATE, &"b".repeat(64), json!({})),
        );
        let e = statement(&other, &img).unwrap_err();
        assert!(e.contains("subject names sha256:bbbb"), "{e}");
        let mislabeled = layer(VSA_PREDICATE, stmt(REPORT_PREDICATE, &img, json!({})));
        assert!(
            statement(&mislabeled, &img)
                .unwrap_err()
                .contains("predicateType")
        );
        let not_intoto = layer(VSA_PREDICATE, json!({"predicateType": VSA_PREDICATE}));
        assert!(
            statement(&not_intoto, &img)
                .unwrap_err()
                .contains("in-toto")
        );
    }

    #[test]
    fn vsa_and_report_must_pass_and_agree() {
        let img = "a".repeat(64);
        let vsa = |result: &str, id: &str| {
            layer(
                VSA_PREDICATE,
                stmt(
                    VSA_PREDICATE,
                    &img,
                    json!({"verifier": {"id": id}, "verificationResult": result,
                           "policy": {"uri": "p.rego", "digest": {"sha256": "c".repeat(64)}}}),
                ),
            )
        };
        let report = |result: &str, decision: &str| {
            layer(
                REPORT_PREDICATE,
                stmt(
                    REPORT_PREDICATE,
                    &img,
                    json!({"verifier": {"id": VERIFIER_ID}, "verificationResult": result,
                           "platform": "linux/amd64",
                           "sources": [{"kind": "image", "pinned": "docker-image://x@sha256:1", "decision": decision}]}),
                ),
            )
        };
        let c = checker();
        let mut out = rows();
        let layers = [vsa("PASSED", VERIFIER_ID), report("PASSED", "allow")];
        let v = c.vsa(&layers, &img, &mut out);
        c.report(&layers, &img, v.as_ref(), &mut out);
        assert!(out.rows.iter().all(|r| r.ok), "{:?}", out.rows);

        let mut out = rows();
        let layers = [vsa("FAILED", VERIFIER_ID), report("PASSED", "allow")];
        let v = c.vsa(&layers, &img, &mut out);
        c.report(&layers, &img, v.as_ref(), &mut out);
        assert!(!out.rows[0].ok && out.rows[0].detail.contains("\"FAILED\""));
        assert!(!out.rows[1].ok && out.rows[1].detail.contains("disagrees"));

        let mut out = rows();
        let layers = [
            vsa("PASSED", "https://example.com/other"),
            report("PASSED", "deny"),
        ];
        let v = c.vsa(&layers, &img, &mut out);
        c.report(&layers, &img, v.as_ref(), &mut out);
        assert!(out.rows[0].detail.contains("verifier.id"), "{:?}", out.rows);
        assert!(
            out.rows[1].detail.contains("decided deny"),
            "{:?}",
            out.rows
        );

        let mut out = rows();
        let v = c.vsa(&[], &img, &mut out);
        c.report(&[], &img, v.as_ref(), &mut out);
        assert!(
            out.rows
                .iter()
                .all(|r| !r.ok && r.detail.contains("holds no"))
        );
    }

    #[test]
    fn the_policy_file_must_be_the_vsas() {
        let sha = "d".repeat(64);
        let policy = GivenPolicy {
            path: "p.rego".into(),
            sha256: sha.clone(),
            set: PolicySet::compile(vec![]).unwrap(),
        };
        let mut out = rows();
        policy_digest(
            &policy,
            Some(&json!({"policy": {"digest": {"sha256": sha}}})),
            &mut out,
        );
        policy_digest(
            &policy,
            Some(
                &json!({"policy": {"digest": {"sha256": "e".repeat(64)}}, "policies": [{"sha256": sha}]}),
            ),
            &mut out,
        );
        policy_digest(
            &policy,
            Some(&json!({"policy": {"digest": {"sha256": "e".repeat(64)}}})),
            &mut out,
        );
        policy_digest(&policy, None, &mut out);
        let ok: Vec<bool> = out.rows.iter().map(|r| r.ok).collect();
        assert_eq!(ok, [true, true, false, false]);
        assert!(out.rows[2].detail.contains("the VSA names sha256:eeee"));
    }

    #[test]
    fn signatures_are_required_only_with_a_trusted_root() {
        let none = || Ok(crate::verify::image::Checked::default());
        let mut out = rows();
        signature_row(none(), vec![], false, &mut out);
        signature_row(none(), vec![], true, &mut out);
        signature_row(Err("chain broken".into()), vec![], false, &mut out);
        let ok: Vec<bool> = out.rows.iter().map(|r| r.ok).collect();
        assert_eq!(ok, [true, false, false]);
        assert!(out.rows[1].detail.contains("requires one"));
    }
}
