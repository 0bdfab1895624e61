//! What the build tells its consumers: a SLSA Verification Summary Attestation and the full
//! per-source report, as in-toto predicates BuildKit attaches to the exported image (the
//! frontend may not write SLSA provenance itself; BuildKit's own provenance already names
//! every pinned source, because the frontend solved the pinned graph).

mod record;

use std::collections::BTreeMap;

use prost::Message;
use serde_json::{Value, json};

pub use record::SourceRecord;

use crate::policy::PolicyDigest;
use crate::proto::pb;

pub const VSA_PREDICATE: &str = "https://slsa.dev/verification_summary/v1";
pub const REPORT_PREDICATE: &str =
    "https://github.com/verified-frontend/verified-frontend/report/v1";
pub const VERIFIER_ID: &str = "https://github.com/verified-frontend/verified-frontend";

/// Everything the statements are made of, for one build.
pub struct BuildFacts<'a> {
    pub policies: &'a [PolicyDigest],
    /// `enforce`, `warn`, `report-only` or `off`.
    pub mode: &'a str,
    /// RFC 3339.
    pub time: String,
    /// The Dockerfile as the user named it, for `resourceUri`.
    pub dockerfile: &'a str,
    pub records: &'a [SourceRecord],
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
        self.records_for(platform).all(|r| r.decision != "deny")
    }
}

/// in-toto digest set of what a source resolved to.
fn digest_set(r: &SourceRecord) -> Option<Value> {
    if r.resolved.is_empty() {
        return None;
    }
    Some(match r.resolved.split_once(':') {
        Some((algo, hex)) => json!({ algo: hex }),
        None if r.kind == "git" => json!({"gitCommit": r.resolved}),
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
    Some(json!({
        "verifier": {
            "id": VERIFIER_ID,
            "version": {"verified-frontend": env!("CARGO_PKG_VERSION")}
        },
        "timeVerified": b.time,
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
        "resolvedDependencies": resolved,
    }))
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
    json!({
        "verifier": {"id": VERIFIER_ID, "version": env!("CARGO_PKG_VERSION")},
        "timeVerified": b.time,
        "platform": platform,
        "policyMode": b.mode,
        "policies": b.policies,
        "verificationResult": if b.passed(platform) { "PASSED" } else { "FAILED" },
        "sources": sources,
    })
}

/// An LLB definition of a scratch filesystem holding `files` (path, content): the ref the
/// attestations point BuildKit at.
pub fn files_definition(files: &[(String, Vec<u8>)]) -> Vec<u8> {
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
