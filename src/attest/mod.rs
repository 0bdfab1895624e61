//! What the build tells its consumers: a SLSA Verification Summary Attestation and the full
//! per-source report, as in-toto predicates BuildKit attaches to the exported image (the
//! frontend may not write SLSA provenance itself; BuildKit's own provenance already names
//! every pinned source, because the frontend solved the pinned graph).

mod returned;
mod time;

use std::collections::BTreeMap;

use prost::Message;
use serde_json::{Value, json};

pub use returned::{DROPPED_BY_CLASSIC_STORE, attestations, exporter_drops_attestations};
pub use time::VerifiedTime;

use crate::model::{
    Mode, PolicyDigest, SourceKind, SourceRecord, TrustRootRecord, VERIFIER_ID, Verdict,
};
use crate::proto::pb;

/// Everything the statements are made of, for one build.
pub struct BuildFacts<'a> {
    pub policies: &'a [PolicyDigest],
    pub mode: Mode,
    /// `timeVerified` per platform, from the build's inputs.
    pub time: VerifiedTime,
    /// The Dockerfile as the user named it, for `resourceUri`.
    pub dockerfile: &'a str,
    pub records: &'a [SourceRecord],
    /// The Sigstore trust root image signatures were checked against; `None` when no
    /// policy read signatures.
    pub trust_root: Option<&'a TrustRootRecord>,
}

impl BuildFacts<'_> {
    /// The records that concern one platform: its own and those without a platform
    /// (local contexts, frontend images).
    fn records_for<'s>(&'s self, platform: &'s str) -> impl Iterator<Item = &'s SourceRecord> {
        self.records
            .iter()
            .filter(move |r| r.platforms.is_empty() || r.platforms.iter().any(|p| p == platform))
    }

    fn passed(&self, platform: &str) -> bool {
        self.records_for(platform)
            .all(|r| r.decision != Verdict::Deny)
    }
}

/// in-toto digest set of what a source resolved to.
fn digest_set(r: &SourceRecord) -> Option<Value> {
    if r.resolved.is_empty() {
        return None;
    }
    Some(match r.resolved.split_once(':') {
        Some((algo, hex)) => json!({ algo: hex }),
        None if r.kind == SourceKind::Git => json!({"gitCommit": r.resolved}),
        None => json!({"sha256": r.resolved}),
    })
}

/// The VSA for one platform, `None` when no policy was evaluated (a summary that says
/// "passed" without a policy would claim a verification that did not happen).
pub fn vsa(b: &BuildFacts, platform: &str) -> Option<Value> {
    let main = b.policies.first()?;
    let input_attestations: Vec<Value> = b
        .records_for(platform)
        .filter_map(|r| {
            let att = r.attestation_manifest.as_deref()?;
            let (algo, hex) = att.split_once(':')?;
            Some(json!({"uri": r.pinned, "digest": { algo: hex }}))
        })
        .collect();
    let resolved: Vec<Value> = b
        .records_for(platform)
        .map(|r| {
            let mut d = json!({"uri": r.pinned});
            if let Some(set) = digest_set(r) {
                d["digest"] = set;
            }
            d
        })
        .collect();
    let mut vsa = json!({
        "verifier": {
            "id": VERIFIER_ID,
            "version": {"verified-frontend": env!("CARGO_PKG_VERSION")}
        },
        "timeVerified": b.time.at(platform).time,
        "resourceUri": format!("dockerfile:{}#{platform}", b.dockerfile),
        "policy": {"uri": main.name, "digest": {"sha256": main.sha256}},
        "inputAttestations": input_attestations,
        "verificationResult": if b.passed(platform) { "PASSED" } else { "FAILED" },
        "verifiedLevels": [],
        "dependencyLevels": {},
        "slsaVersion": "1.0",
        // Not in the VSA schema: every policy (the VSA names one) and every dependency as
        // pinned, so the summary alone says what the verification covered.
        "policies": b.policies,
        "policyMode": b.mode,
        "trustRoot": b.trust_root,
        "resolvedDependencies": resolved,
    });
    omit_null(&mut vsa, "trustRoot");
    Some(vsa)
}

/// A fact that does not apply to this build is left out rather than written as null.
fn omit_null(v: &mut Value, key: &str) {
    if let Some(o) = v.as_object_mut()
        && o.get(key) == Some(&Value::Null)
    {
        o.remove(key);
    }
}

/// The full report for one platform: each source with what it resolved to, the facts the
/// policy saw (signer claims included) and the decision.
pub fn report(b: &BuildFacts, platform: &str) -> Value {
    let sources: Vec<Value> = b
        .records_for(platform)
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["facts"] = r.facts.clone();
            v
        })
        .collect();
    let stamp = b.time.at(platform);
    let mut report = json!({
        "verifier": {"id": VERIFIER_ID, "version": env!("CARGO_PKG_VERSION")},
        "timeVerified": stamp.time,
        // `source-date-epoch`, `image-history` (the newest time in the image config) or
        // `none` (the Unix epoch: no input carried a time).
        "timeVerifiedFrom": stamp.from,
        "platform": platform,
        "policyMode": b.mode,
        "policies": b.policies,
        "trustRoot": b.trust_root,
        "verificationResult": if b.passed(platform) { "PASSED" } else { "FAILED" },
        "sources": sources,
    });
    omit_null(&mut report, "trustRoot");
    report
}

/// An LLB definition of a scratch filesystem holding `files` (path, content): the ref the
/// attestations point BuildKit at.
pub fn files_definition(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    named_files_definition(files, None)
}

/// `files_definition` with a progress name: the client shows the step under that name.
pub fn named_files_definition(files: &[(String, Vec<u8>)], name: Option<&str>) -> Vec<u8> {
    let n = files.len();
    let actions = files
        .iter()
        .enumerate()
        .map(|(i, (path, data))| pb::FileAction {
            // Each action works on the previous one's result (the op has no inputs, so
            // index i-1 names action i-1's output); the first starts from scratch.
            input: if i == 0 { -1 } else { i as i64 - 1 },
            secondary_input: -1,
            output: if i + 1 == n { 0 } else { -1 },
            action: Some(pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                path: path.clone(),
                mode: 0o644,
                data: data.clone(),
                ..Default::default()
            })),
        })
        .collect();
    let file = pb::Op {
        op: Some(pb::op::Op::File(pb::FileOp { actions })),
        ..Default::default()
    }
    .encode_to_vec();
    let file_digest = crate::graph::digest_of(&file);
    let terminal = pb::Op {
        inputs: vec![pb::Input {
            digest: file_digest.clone(),
            index: 0,
        }],
        ..Default::default()
    }
    .encode_to_vec();
    pb::Definition {
        metadata: BTreeMap::from([(
            file_digest,
            pb::OpMetadata {
                caps: BTreeMap::from([("file.base".to_string(), true)]),
                description: name
                    .map(|n| ("llb.customname".to_string(), n.to_string()))
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
        )])
        .into_iter()
        .collect(),
        def: vec![file, terminal],
        source: None,
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn record(
        kind: SourceKind,
        resolved: &str,
        platforms: &[&str],
        decision: Verdict,
    ) -> SourceRecord {
        SourceRecord {
            role: Role::Build,
            kind,
            original: format!("{kind}://x"),
            pinned: format!("{kind}://x@pinned"),
            pin_attrs: BTreeMap::new(),
            resolved: resolved.into(),
            platforms: platforms.iter().map(|p| p.to_string()).collect(),
            location: None,
            decision,
            policy: "p.rego".into(),
            deny_msg: vec![],
            signatures_rejected: vec![],
            attestation_manifest: None,
            facts: Value::Null,
        }
    }

    fn policy() -> PolicyDigest {
        PolicyDigest {
            name: "p.rego".into(),
            sha256: "ab".repeat(32),
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn summaries_cover_their_platform_and_fail_on_any_denial() {
        let records = vec![
            record(
                SourceKind::Image,
                &format!("sha256:{}", "1".repeat(64)),
                &["linux/amd64"],
                Verdict::Allow,
            ),
            record(
                SourceKind::Image,
                &format!("sha256:{}", "2".repeat(64)),
                &["linux/arm64"],
                Verdict::Deny,
            ),
            record(
                SourceKind::Git,
                &"3".repeat(40),
                &["linux/amd64", "linux/arm64"],
                Verdict::Allow,
            ),
            record(SourceKind::Local, "", &[], Verdict::Allow),
        ];
        let policies = [policy()];
        let b = BuildFacts {
            policies: &policies,
            mode: Mode::Warn,
            time: VerifiedTime::epoch(1_700_000_000),
            dockerfile: "Dockerfile",
            records: &records,
            trust_root: None,
        };
        let amd = vsa(&b, "linux/amd64").unwrap();
        assert_eq!(amd["verificationResult"], "PASSED");
        assert_eq!(amd["timeVerified"], "2023-11-14T22:13:20Z");
        assert_eq!(
            report(&b, "linux/amd64")["timeVerifiedFrom"],
            "source-date-epoch"
        );
        assert_eq!(amd["policy"]["digest"]["sha256"], "ab".repeat(32));
        assert!(amd.get("trustRoot").is_none());
        let deps = amd["resolvedDependencies"].as_array().unwrap();
        assert_eq!(deps.len(), 3, "amd64 image, git, local: {deps:?}");
        assert_eq!(deps[1]["digest"], json!({"gitCommit": "3".repeat(40)}));
        assert!(
            deps[2].get("digest").is_none(),
            "a local context has no digest"
        );
        let arm = vsa(&b, "linux/arm64").unwrap();
        assert_eq!(arm["verificationResult"], "FAILED");
        assert_eq!(
            report(&b, "linux/arm64")["sources"]
                .as_array()
                .unwrap()
                .len(),
            3
        );

        let none = BuildFacts {
            policies: &[],
            trust_root: Some(&TrustRootRecord::embedded()),
            ..b
        };
        assert!(vsa(&none, "linux/amd64").is_none(), "no policy, no summary");
        assert_eq!(
            report(&none, "linux/amd64")["trustRoot"]["uri"],
            "embedded:sigstore-public-good,github"
        );
    }

    #[test]
    fn the_files_ref_is_one_chained_file_op_from_scratch() {
        let def = files_definition(&[
            ("/a.json".into(), b"{}".to_vec()),
            ("/b.json".into(), b"[]".to_vec()),
        ]);
        let parsed = crate::graph::ParsedDefinition::new(&def).unwrap();
        let file = pb::Op::decode(parsed.def.def[0].as_slice()).unwrap();
        let Some(pb::op::Op::File(f)) = file.op else {
            panic!("not a file op")
        };
        let io: Vec<(i64, i64)> = f.actions.iter().map(|a| (a.input, a.output)).collect();
        assert_eq!(io, [(-1, -1), (0, 0)]);
        assert_eq!(
            parsed
                .def
                .metadata
                .values()
                .next()
                .unwrap()
                .caps
                .get("file.base"),
            Some(&true)
        );
    }
}
