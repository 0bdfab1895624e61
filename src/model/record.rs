//! The per-source record: what was resolved, pinned and decided, and the facts the policy
//! saw. It feeds the build's report line, the denial messages and the attestations.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{Role, SourceKind, Verdict};

/// What was decided about one source, for the report and for errors.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRecord {
    pub role: Role,
    pub kind: SourceKind,
    pub original: String,
    pub pinned: String,
    /// Attributes the pin added (e.g. `git.checksum`, `http.checksum`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pin_attrs: BTreeMap<String, String>,
    /// Digest, commit or checksum the source resolved to; empty for local sources.
    pub resolved: String,
    pub platforms: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub decision: Verdict,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub policy: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_msg: Vec<String>,
    /// Signatures found on the image that were not accepted, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures_rejected: Vec<String>,
    /// The image's attestation manifest, when its chain was read (signatures, provenance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_manifest: Option<String>,
    /// The input document's object for this source, as the policy saw it.
    #[serde(skip)]
    pub facts: Value,
}

impl SourceRecord {
    /// The build-output line for a decided source.
    pub fn summary(&self) -> String {
        let verdict = match self.decision {
            Verdict::Deny => "DENIED (policy-mode=warn)",
            other => other.as_str(),
        };
        let mut line = format!("verified-frontend: {verdict} {}", self.original);
        if self.pinned != self.original {
            line.push_str(&format!(" pinned to {}", self.pinned));
        } else if !self.resolved.is_empty() {
            line.push_str(&format!(" ({})", self.resolved));
        }
        if !self.policy.is_empty() {
            line.push_str(&format!(" by {}", self.policy));
        }
        // In warn mode this line is all the client shows of a denial: say why, so that one
        // build lists every fix (the knob's deny messages are the lines to paste).
        if self.decision == Verdict::Deny && !self.deny_msg.is_empty() {
            line.push_str(&format!(": {}", self.deny_msg.join("; ")));
        }
        line
    }

    /// One line per denied source: what, where, which policy, why, and the facts it saw.
    pub fn denial(&self) -> String {
        let at = self
            .location
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        let why = if self.deny_msg.is_empty() {
            "no rule allowed it".to_string()
        } else {
            self.deny_msg.join("; ")
        };
        // Signers first and in brief: they decide most image policies and would otherwise be
        // cut off behind the provenance.
        let mut shown = self.facts.clone();
        let signers = match shown.as_object_mut().and_then(|o| o.remove("signatures")) {
            Some(Value::Array(sigs)) => {
                let brief: Vec<String> = sigs
                    .iter()
                    .map(|s| {
                        let g = |k: &str| s["signer"][k].as_str().unwrap_or("-").to_string();
                        format!(
                            "{} by {} ({} {})",
                            s["kind"].as_str().unwrap_or("-"),
                            g("subjectAlternativeName"),
                            g("sourceRepositoryURI"),
                            g("sourceRepositoryRef")
                        )
                    })
                    .collect();
                format!("; verified signatures: [{}]", brief.join(", "))
            }
            // The chain was read and nothing verified (an empty list is not written).
            _ if self.attestation_manifest.is_some() => "; verified signatures: []".into(),
            _ => String::new(),
        };
        let mut facts = shown.to_string();
        if facts.len() > 1200 {
            let cut = (0..=1200)
                .rev()
                .find(|i| facts.is_char_boundary(*i))
                .unwrap_or(0);
            facts.truncate(cut);
            facts.push('…');
        }
        let rejected = if self.signatures_rejected.is_empty() {
            String::new()
        } else {
            format!(
                "; signatures not accepted: {}",
                self.signatures_rejected.join("; ")
            )
        };
        format!(
            "source {}{at} denied by policy {}: {why}{signers}{rejected}; facts: {facts}",
            self.original, self.policy
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_denial_lists_signers_first_and_cuts_long_facts() {
        let rec = SourceRecord {
            role: Role::Build,
            kind: SourceKind::Image,
            original: "docker-image://r/app:1".into(),
            pinned: "docker-image://r/app:1@sha256:ab".into(),
            pin_attrs: BTreeMap::new(),
            resolved: "sha256:ab".into(),
            platforms: vec!["linux/amd64".into()],
            location: Some("Dockerfile:2".into()),
            decision: Verdict::Deny,
            policy: "p.rego".into(),
            deny_msg: vec!["not a release".into()],
            signatures_rejected: vec!["signature sha256:cd does not verify: expired".into()],
            attestation_manifest: None,
            facts: json!({
                "ref": "r/app:1",
                "provenance": {"materials": "x".repeat(3000)},
                "signatures": [{"kind": "self-signed", "signer": {
                    "subjectAlternativeName": "https://github.com/o/r/.github/workflows/b.yml@refs/heads/main",
                    "sourceRepositoryURI": "https://github.com/o/r",
                    "sourceRepositoryRef": "refs/heads/main"}}]
            }),
        };
        let d = rec.denial();
        assert!(d.starts_with(
            "source docker-image://r/app:1 (Dockerfile:2) denied by policy p.rego: not a release; verified signatures: [self-signed by https://github.com/o/r/.github/workflows/b.yml@refs/heads/main (https://github.com/o/r refs/heads/main)]; signatures not accepted: signature sha256:cd does not verify: expired; facts: {"
        ), "{d}");
        assert!(d.ends_with('…') && d.len() < 1600, "{}", d.len());
        assert_eq!(
            rec.summary(),
            "verified-frontend: DENIED (policy-mode=warn) docker-image://r/app:1 pinned to docker-image://r/app:1@sha256:ab by p.rego: not a release"
        );
    }
}
