//! The policy given with `--policy`: the image must have been verified under this very file
//! (the VSA names its digest), and the policy must allow the image itself as a source,
//! decided on the input a verified build would give it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::document::ImageRoot;
use super::rows::PlatformRows;
use super::statements::prefix12;
use crate::model::Facts;
use crate::policy::PolicySet;
use crate::proto::{gw, pb};
use crate::sources::{ImageRef, Source};

/// The policy given with `--policy`: compiled, with the sha256 of its file.
pub struct GivenPolicy {
    pub path: String,
    pub sha256: String,
    pub set: PolicySet,
}

/// The image was verified under this very policy: the file's sha256 is the VSA's policy
/// (or one of its `policies`).
pub(super) fn policy_digest(policy: &GivenPolicy, vsa: Option<&Value>, out: &mut PlatformRows) {
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

/// What the policy decides on: the image as read, for one platform.
pub(super) struct Candidate<'a> {
    pub root: &'a ImageRoot,
    pub platform: &'a pb::Platform,
    pub chain: &'a gw::AttestationChain,
    pub config: Vec<u8>,
    /// Verified signatures only (`verify::image`).
    pub signatures: Vec<Value>,
}

/// The policy row: the image, as a source, allowed (and not pinned elsewhere) or not.
pub(super) fn decide(policy: &mut GivenPolicy, c: Candidate<'_>, out: &mut PlatformRows) {
    let digest = c.root.digest.clone();
    let doc = match input(c) {
        Ok(d) => d,
        Err(e) => return out.fail("policy", e),
    };
    match policy.set.evaluate(&doc) {
        Ok(d) if d.allow && d.pin.as_deref().is_none_or(|p| p == digest) => out.ok(
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
                "{} pins the image to {}, not {digest}",
                policy.path,
                d.pin.unwrap_or_default(),
            ),
        ),
        Ok(d) => out.fail("policy", denial(policy, &doc, &d.deny_msg)),
        Err(e) => out.fail("policy", e.to_string()),
    }
}

/// Buildx's input for the image itself, with the verified signatures: as a verified build
/// would see this image as a source, its name and tag checked now, pinned to the digest
/// just read.
fn input(c: Candidate<'_>) -> Result<Value, String> {
    let image = ImageRef {
        name: c.root.name.clone().unwrap_or_else(|| "oci-layout".into()),
        tag: c.root.tag.clone(),
        digest: Some(c.root.digest.clone()),
    };
    let op = pb::SourceOp {
        identifier: format!("docker-image://{image}"),
        attrs: Default::default(),
    };
    let facts = Facts::Image {
        digest: c.root.digest.clone(),
        config: Some(c.config),
        chain: Some(c.chain.clone()),
        tag_digest: Some(c.root.digest.clone()),
    };
    let env = crate::policy::input::env(&BTreeMap::new());
    let mut doc = crate::policy::input::document(
        &env,
        &Source::Image(image),
        &op,
        Some(c.platform),
        Some(&facts),
    )?;
    doc["image"]["signatures"] = Value::Array(c.signatures);
    Ok(doc)
}

/// A denial: the policy's messages and the facts it saw (without the bulky ones).
fn denial(policy: &GivenPolicy, doc: &Value, deny_msg: &[String]) -> String {
    let mut shown = doc["image"].clone();
    if let Some(o) = shown.as_object_mut() {
        o.remove("provenance");
        o.remove("env");
        o.remove("labels");
    }
    format!(
        "{} denies: {}; facts: {}",
        policy.path,
        if deny_msg.is_empty() {
            "(no deny_msg)".to_string()
        } else {
            deny_msg.join("; ")
        },
        json!(shown)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> PlatformRows {
        PlatformRows::new("linux/amd64".into())
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
}
