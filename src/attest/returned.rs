//! Hands the statements to BuildKit: one scratch ref holding every statement file, and an
//! in-toto attestation per platform and statement pointing into it, marked `inline-only`:
//! BuildKit then attaches them to pushed images only, and its local and tar exporters leave
//! them out (they would otherwise write each statement as a file beside the build's own).

use std::collections::BTreeMap;

use super::{BuildFacts, files_definition, report, vsa};
use crate::error::Result;
use crate::gateway::{Bridge, SubResult};
use crate::model::platform_string;
use crate::model::{REPORT_PREDICATE, VSA_PREDICATE};
use crate::proto::{gw, pb};

/// The platform keys attestations attach to: the Dockerfile frontend's `refs.platforms`,
/// else the result's own keys, else the worker's platform (a single-platform build).
fn platform_keys(
    sub: &SubResult,
    refs: &BTreeMap<Option<String>, gw::Ref>,
    worker: Option<&pb::Platform>,
) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Platforms {
        platforms: Vec<PlatformId>,
    }
    #[derive(serde::Deserialize)]
    struct PlatformId {
        id: String,
    }
    if let Some(p) = sub
        .metadata
        .get("refs.platforms")
        .and_then(|b| serde_json::from_slice::<Platforms>(b).ok())
        .filter(|p| !p.platforms.is_empty())
    {
        return p.platforms.into_iter().map(|p| p.id).collect();
    }
    let keys: Vec<String> = refs.keys().flatten().cloned().collect();
    if !keys.is_empty() {
        return keys;
    }
    worker.map(platform_string).into_iter().collect()
}

/// The line a build on Docker Engine's classic image store shows: the build was verified,
/// but the image it writes carries no proof of it.
pub const DROPPED_BY_CLASSIC_STORE: &str = "[verified-frontend] this Docker Engine uses the classic image store, whose exporter drops attestations: the image gets no verification summary (VSA); use the containerd image store or a docker-container builder to keep it";

/// Whether the daemon is Docker Engine's embedded BuildKit on its classic (graphdriver)
/// image store: it takes a frontend's attestations and its exporter drops them without a
/// word, as the store has no place for them. Moby disables the merge and diff ops on that
/// store alone ("only enabled with containerd image store backend"); every BuildKit that
/// takes attestations from a frontend has them otherwise.
pub fn exporter_drops_attestations(caps: &crate::gateway::Caps) -> bool {
    caps.has_frontend("reference.attestations") && !caps.has_llb("mergeop")
}

/// BuildKit's `result.AttestationReasonKey` and `result.AttestationInlineOnlyKey`.
fn attestation_metadata() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        ("reason".to_string(), b"verified-frontend".to_vec()),
        ("inline-only".to_string(), b"true".to_vec()),
    ])
}

/// The VSA and the report, per platform, as in-toto attestations BuildKit attaches to the
/// image; `None` when the daemon cannot take attestations from a frontend.
pub async fn attestations(
    bridge: &Bridge,
    sub: &SubResult,
    refs: &BTreeMap<Option<String>, gw::Ref>,
    facts: &BuildFacts<'_>,
) -> Result<Option<BTreeMap<String, Vec<gw::Attestation>>>> {
    if !bridge.caps.has_frontend("reference.attestations") {
        return Ok(None);
    }
    let keys = platform_keys(sub, refs, bridge.worker_platform.as_ref());
    let mut files = Vec::new();
    let mut wanted = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let report = report(facts, key);
        let path = format!("/report-{i}.json");
        files.push((
            path.clone(),
            serde_json::to_vec_pretty(&report).unwrap_or_default(),
        ));
        wanted.push((key.clone(), path, REPORT_PREDICATE));
        if let Some(vsa) = vsa(facts, key) {
            let path = format!("/vsa-{i}.json");
            files.push((
                path.clone(),
                serde_json::to_vec_pretty(&vsa).unwrap_or_default(),
            ));
            wanted.push((key.clone(), path, VSA_PREDICATE));
        }
    }
    if files.is_empty() {
        return Ok(Some(BTreeMap::new()));
    }
    let r = bridge.solve_definition(files_definition(&files)).await?;
    let mut out: BTreeMap<String, Vec<gw::Attestation>> = BTreeMap::new();
    for (key, path, predicate) in wanted {
        out.entry(key).or_default().push(gw::Attestation {
            kind: gw::AttestationKind::InToto as i32,
            metadata: attestation_metadata(),
            r#ref: Some(gw::Ref {
                id: r.id.clone(),
                def: Vec::new(),
            }),
            path,
            in_toto_predicate_type: predicate.to_string(),
            // No subjects: BuildKit makes the exported image of this platform the subject.
            in_toto_subjects: vec![],
        });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Caps;

    fn caps(frontend: &[&str], llb: &[&str]) -> Caps {
        Caps {
            frontend: frontend.iter().map(|s| s.to_string()).collect(),
            llb: llb.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn only_a_daemon_that_takes_attestations_without_merge_ops_drops_them() {
        // buildkitd, and Engine 29 on the containerd store.
        let full = caps(&["reference.attestations"], &["mergeop", "diffop"]);
        assert!(!exporter_drops_attestations(&full));
        // Engine 29 on the classic store.
        assert!(exporter_drops_attestations(&caps(
            &["reference.attestations"],
            &[]
        )));
        // Docker 20.10 takes none at all: said otherwise (result stage).
        assert!(!exporter_drops_attestations(&caps(&[], &[])));
    }
}
