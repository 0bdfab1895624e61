//! The attestation manifest's statements: each must be an in-toto statement of its layer's
//! predicate type about exactly the image manifest; then the VSA and the report must say
//! PASSED by this verifier, and provenance is summarized.

use std::collections::BTreeMap;

use serde_json::Value;

use super::document::Read;
use super::rows::PlatformRows;
use crate::model::{REPORT_PREDICATE, VERIFIER_ID, VSA_PREDICATE};
use crate::verify::chain::SLSA_PREFIX;

const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];

/// A statement of the attestation manifest: its layer's predicate type and digest, and its
/// bytes (or why they could not be read).
pub(super) struct Layer {
    pub predicate_type: String,
    pub digest: String,
    pub data: Read<Vec<u8>>,
}

/// The first 12 characters of a digest's hex (of any string: attestation content is not
/// trusted to be ASCII).
pub(super) fn prefix12(hex: &str) -> String {
    hex.chars().take(12).collect()
}

/// The VSA row; returns its predicate when the statement is about this image.
pub(super) fn vsa(layers: &[Layer], image_hex: &str, out: &mut PlatformRows) -> Option<Value> {
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

pub(super) fn report(
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
    match sources_summary(sources) {
        Ok(summary) => out.ok("report", summary),
        Err(why) => out.fail("report", why),
    }
}

/// The report's sources, all allowed (counted by kind), or those that were not.
fn sources_summary(sources: &[Value]) -> Result<String, String> {
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
        return Err(format!(
            "not every source was allowed: {}",
            not_allowed.join("; ")
        ));
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for s in sources {
        *kinds.entry(s["kind"].as_str().unwrap_or("?")).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    Ok(format!(
        "PASSED, {} sources all allowed ({})",
        sources.len(),
        kinds.join(", ")
    ))
}

pub(super) fn provenance(layers: &[Layer], image_hex: &str, out: &mut PlatformRows) {
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

/// The statement of a layer, checked: read and digest-checked, an in-toto statement of the
/// layer's predicate type whose subject is the image manifest.
pub(super) fn statement(l: &Layer, image_hex: &str) -> Result<Value, String> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn layer(pt: &str, stmt: Value) -> Layer {
        let data = serde_json::to_vec(&stmt).unwrap();
        Layer {
            predicate_type: pt.into(),
            digest: super::super::document::sha256_digest(&data),
            data: Ok(data),
        }
    }

    fn rows() -> PlatformRows {
        PlatformRows::new("linux/amd64".into())
    }

    fn stmt(pt: &str, subject_hex: &str, predicate: Value) -> Value {
        json!({"_type": "https://in-toto.io/Statement/v1", "predicateType": pt,
               "subject": [{"name": "x", "digest": {"sha256": subject_hex}}], "predicate": predicate})
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
        let vsa_layer = |result: &str, id: &str| {
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
        let report_layer = |result: &str, decision: &str| {
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
        let mut out = rows();
        let layers = [
            vsa_layer("PASSED", VERIFIER_ID),
            report_layer("PASSED", "allow"),
        ];
        let v = vsa(&layers, &img, &mut out);
        report(&layers, &img, v.as_ref(), &mut out);
        assert!(out.rows.iter().all(|r| r.ok), "{:?}", out.rows);

        let mut out = rows();
        let layers = [
            vsa_layer("FAILED", VERIFIER_ID),
            report_layer("PASSED", "allow"),
        ];
        let v = vsa(&layers, &img, &mut out);
        report(&layers, &img, v.as_ref(), &mut out);
        assert!(!out.rows[0].ok && out.rows[0].detail.contains("\"FAILED\""));
        assert!(!out.rows[1].ok && out.rows[1].detail.contains("disagrees"));

        let mut out = rows();
        let layers = [
            vsa_layer("PASSED", "https://example.com/other"),
            report_layer("PASSED", "deny"),
        ];
        let v = vsa(&layers, &img, &mut out);
        report(&layers, &img, v.as_ref(), &mut out);
        assert!(out.rows[0].detail.contains("verifier.id"), "{:?}", out.rows);
        assert!(
            out.rows[1].detail.contains("decided deny"),
            "{:?}",
            out.rows
        );

        let mut out = rows();
        let v = vsa(&[], &img, &mut out);
        report(&[], &img, v.as_ref(), &mut out);
        assert!(
            out.rows
                .iter()
                .all(|r| !r.ok && r.detail.contains("holds no"))
        );
    }
}
