//! What the client sees of the decisions: one step naming what was verified, with a line
//! per source; a warning per denial that warn mode lets through; and in enforce mode one
//! error whose first lines say which source was denied and why, the facts after.

use std::collections::{BTreeMap, HashSet};

use prost::Message;

use super::graphs::SourceRange;
use crate::error::{Error, Result};
use crate::gateway::Bridge;
use crate::model::{Mode, SourceRecord, Verdict};
use crate::proto::pb;

/// Steps shown per build: a build with hundreds of sources gets the first ones and a count
/// (every source is in the report and the attestations either way).
const MAX_SOURCE_LINES: usize = 40;

/// The step `[verified-frontend] verified N sources against <policies>` and one step per
/// source under it. A progress step rather than warnings: a verified source is not trouble,
/// and Buildx counts every warning as "N warnings found".
pub async fn announce(bridge: &Bridge, records: &[SourceRecord], policies: &[&str]) -> Result<()> {
    let def = steps_definition(&step_names(records, policies));
    bridge.evaluate_definition(def).await.map(drop)
}

fn step_names(records: &[SourceRecord], policies: &[&str]) -> Vec<String> {
    let denied = records
        .iter()
        .filter(|r| r.decision == Verdict::Deny)
        .count();
    let mut head = format!(
        "[verified-frontend] verified {} source{} against {}",
        records.len(),
        if records.len() == 1 { "" } else { "s" },
        policies.join(", ")
    );
    if denied > 0 {
        head.push_str(&format!(" ({denied} denied, built in policy-mode=warn)"));
    }
    let mut names = vec![head];
    names.extend(records.iter().take(MAX_SOURCE_LINES).map(source_line));
    if records.len() > MAX_SOURCE_LINES {
        names.push(format!(
            "[verified-frontend]   … and {} more sources (in the build's report)",
            records.len() - MAX_SOURCE_LINES
        ));
    }
    names
}

/// `allow image docker-image://alpine:3.20 (Dockerfile:1) -> sha256:…`.
fn source_line(r: &SourceRecord) -> String {
    let verdict = match r.decision {
        Verdict::Deny => "DENIED",
        other => other.as_str(),
    };
    let at = r
        .location
        .as_ref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    let pin = if r.resolved.is_empty() {
        String::new()
    } else {
        format!(" -> {}", r.resolved)
    };
    format!("[verified-frontend]   {verdict} {}{at}{pin}", r.original)
}

/// A chain of file ops that each write one small file, named by `names` in order: the
/// client shows one step per name, in that order, and BuildKit caches them like any step.
fn steps_definition(names: &[String]) -> Vec<u8> {
    let mut def = pb::Definition::default();
    let mut previous: Option<String> = None;
    for (i, name) in names.iter().enumerate() {
        let op = pb::Op {
            inputs: previous
                .iter()
                .map(|d| pb::Input {
                    digest: d.clone(),
                    index: 0,
                })
                .collect(),
            op: Some(pb::op::Op::File(pb::FileOp {
                actions: vec![pb::FileAction {
                    // The op's one input, or scratch for the first.
                    input: if previous.is_some() { 0 } else { -1 },
                    secondary_input: -1,
                    output: 0,
                    action: Some(pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                        path: format!("/step-{i}"),
                        mode: 0o644,
                        data: name.as_bytes().to_vec(),
                        ..Default::default()
                    })),
                }],
            })),
            ..Default::default()
        }
        .encode_to_vec();
        let digest = crate::graph::digest_of(&op);
        def.metadata.insert(
            digest.clone(),
            pb::OpMetadata {
                caps: BTreeMap::from([("file.base".to_string(), true)]),
                description: BTreeMap::from([("llb.customname".to_string(), name.clone())]),
                ..Default::default()
            },
        );
        def.def.push(op);
        previous = Some(digest);
    }
    if let Some(last) = previous {
        let terminal = pb::Op {
            inputs: vec![pb::Input {
                digest: last,
                index: 0,
            }],
            ..Default::default()
        };
        def.def.push(terminal.encode_to_vec());
    }
    def.encode_to_vec()
}

/// Warn mode: each denial it lets through is a build warning at its Dockerfile line (the
/// client shows the snippet).
pub async fn warn_denials(
    bridge: &Bridge,
    vertex: &str,
    summaries: Vec<(Option<SourceRange>, String)>,
) {
    let mut seen = HashSet::new();
    for (range, line) in summaries {
        if !line.starts_with("verified-frontend: DENIED") || !seen.insert(line.clone()) {
            continue;
        }
        let (info, ranges) = range.map_or((None, vec![]), |(i, r)| (Some(i), r));
        bridge
            .warn_at(vertex.to_string(), &line, vec![], info, ranges)
            .await;
    }
}

/// In enforce mode, any denied source fails the build: first one line per denied source
/// (what, where, which policy, why), then what each policy saw.
pub fn check_denials(records: &[SourceRecord], mode: Mode) -> Result<()> {
    let denied: Vec<&SourceRecord> = records
        .iter()
        .filter(|r| r.decision == Verdict::Deny)
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    match mode {
        Mode::Enforce => Err(Error::Denied(denial_message(&denied))),
        Mode::Warn | Mode::Off => {
            for d in &denied {
                crate::daemon_log!("warning: {}", d.denial());
            }
            Ok(())
        }
        // The report and the attestations carry the denials; nothing else.
        Mode::ReportOnly => Ok(()),
    }
}

fn denial_message(denied: &[&SourceRecord]) -> String {
    let parts: Vec<(String, String)> = denied.iter().map(|r| split_denial(r)).collect();
    let mut lines: Vec<String> = parts.iter().map(|(head, _)| head.clone()).collect();
    for (r, (_, detail)) in denied.iter().zip(&parts) {
        if !detail.is_empty() {
            lines.push(format!("what the policy saw of {}: {detail}", r.original));
        }
    }
    lines.join("\n")
}

/// The denial's headline (`source … (line) denied by policy …: why`) and the rest
/// (verified signatures, signatures not accepted, facts).
fn split_denial(r: &SourceRecord) -> (String, String) {
    let full = r.denial();
    let at = r
        .location
        .as_ref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    let why = if r.deny_msg.is_empty() {
        "no rule allowed it".to_string()
    } else {
        r.deny_msg.join("; ")
    };
    let head = format!(
        "source {}{at} denied by policy {}: {why}",
        r.original, r.policy
    );
    match full.strip_prefix(&head) {
        Some(rest) => (head, rest.trim_start_matches("; ").to_string()),
        None => (full, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ParsedDefinition;
    use crate::model::{Role, SourceKind};

    fn record(original: &str, decision: Verdict) -> SourceRecord {
        SourceRecord {
            role: Role::Build,
            kind: SourceKind::Image,
            original: original.into(),
            pinned: format!("{original}@sha256:ab"),
            pin_attrs: BTreeMap::new(),
            resolved: "sha256:ab".into(),
            platforms: vec!["linux/amd64".into()],
            location: Some("Dockerfile:2".into()),
            decision,
            policy: "Dockerfile.rego".into(),
            deny_msg: vec!["not reviewed".into()],
            signatures_rejected: vec![],
            attestation_manifest: None,
            facts: serde_json::json!({"ref": "r/app:1"}),
        }
    }

    #[test]
    fn a_denial_says_what_and_why_first_and_the_facts_after() {
        let a = record("docker-image://r/app:1", Verdict::Deny);
        let b = record("docker-image://r/other:1", Verdict::Deny);
        let err = check_denials(&[a, b], Mode::Enforce)
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines[0],
            "source docker-image://r/app:1 (Dockerfile:2) denied by policy Dockerfile.rego: not reviewed"
        );
        assert!(lines[1].starts_with("source docker-image://r/other:1 (Dockerfile:2)"));
        assert!(!lines[0].contains("facts") && !lines[1].contains("facts"));
        assert_eq!(
            lines[2],
            "what the policy saw of docker-image://r/app:1: facts: {\"ref\":\"r/app:1\"}"
        );
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn warn_and_report_only_let_denials_through() {
        let d = [record("docker-image://r/app:1", Verdict::Deny)];
        assert!(check_denials(&d, Mode::Warn).is_ok());
        assert!(check_denials(&d, Mode::ReportOnly).is_ok());
        assert!(check_denials(&[record("x", Verdict::Allow)], Mode::Enforce).is_ok());
    }

    #[test]
    fn one_step_names_the_count_and_each_source_follows_in_order() {
        let recs = [
            record("docker-image://r/app:1", Verdict::Allow),
            record("git://h/r.git#v1", Verdict::Allow),
        ];
        let names = step_names(&recs, &["Dockerfile.rego"]);
        assert_eq!(
            names,
            [
                "[verified-frontend] verified 2 sources against Dockerfile.rego",
                "[verified-frontend]   allow docker-image://r/app:1 (Dockerfile:2) -> sha256:ab",
                "[verified-frontend]   allow git://h/r.git#v1 (Dockerfile:2) -> sha256:ab",
            ]
        );
        let many: Vec<SourceRecord> = (0..MAX_SOURCE_LINES + 3)
            .map(|i| record(&format!("docker-image://r/{i}"), Verdict::Allow))
            .collect();
        let names = step_names(&many, &["a.rego", "b.rego"]);
        assert_eq!(names.len(), MAX_SOURCE_LINES + 2);
        assert!(names[0].ends_with("verified 43 sources against a.rego, b.rego"));
        assert!(names.last().unwrap().contains("and 3 more sources"));
    }

    #[test]
    fn the_steps_are_a_chain_of_named_file_ops() {
        let names = vec!["one".to_string(), "two".to_string(), "three".to_string()];
        let raw = steps_definition(&names);
        let parsed = ParsedDefinition::new(&raw).expect("a valid definition");
        let nodes = &parsed.graph.nodes;
        assert_eq!(nodes.len(), 4);
        // Each op takes the previous one's output; the terminal takes the last.
        assert!(nodes[0].inputs.is_empty());
        for i in 1..4 {
            assert_eq!(nodes[i].inputs.len(), 1);
            assert_eq!(nodes[i].inputs[0].digest, nodes[i - 1].digest);
        }
        let shown: Vec<&str> = nodes[..3]
            .iter()
            .map(|n| parsed.def.metadata[&n.digest].description["llb.customname"].as_str())
            .collect();
        assert_eq!(shown, ["one", "two", "three"]);
    }
}
