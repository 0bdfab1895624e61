//! Stage "result": the report in buildkitd's log and the result metadata, the
//! attestations, and the refs BuildKit exports, returned with the Dockerfile frontend's
//! own metadata and attestations.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Timings;
use crate::attest;
use crate::error::Result;
use crate::gateway::{Bridge, Options, SubResult};
use crate::model::{SourceRecord, TrustRootRecord};
use crate::policy::PolicySet;
use crate::proto::gw;

/// Result metadata keys this frontend adds next to the Dockerfile frontend's own.
pub const META_SOURCES: &str = "verified-frontend.sources";
pub const META_TIMINGS: &str = "verified-frontend.timings";

/// What the build was verified under, for the report and the attestations.
pub struct Verified<'a> {
    pub opts: &'a Options,
    pub policies: &'a PolicySet,
    pub records: &'a [SourceRecord],
    pub trust_root: Option<&'a TrustRootRecord>,
}

/// The report in buildkitd's log and the result metadata, the attestations, the result.
pub async fn finish(
    bridge: &Bridge,
    v: &Verified<'_>,
    sub: SubResult,
    refs: BTreeMap<Option<String>, gw::Ref>,
    timings: &Timings,
) -> Result<gw::Result> {
    let policy_names: Vec<&str> = v.policies.names();
    // The calls so far: every resolution and the sub-solve. The attestations' solves and
    // the Return come after the report and are not in it.
    let timings = &Timings {
        calls: Some(bridge.call_summary()),
        ..timings.clone()
    };
    // stderr goes to buildkitd's log: one JSON line per build for operators (and the tests).
    crate::daemon_log!(
        "report {}",
        serde_json::json!({"policies": &policy_names, "sources": v.records, "timings": timings})
    );
    let report = serde_json::json!({"policies": policy_names, "sources": v.records});
    // Without a policy nothing was verified, so nothing is attested: the result is then the
    // Dockerfile frontend's own, as a build through the stock frontend gives it.
    if v.policies.is_empty() {
        return Ok(assemble(sub, refs, &report, timings));
    }
    let digests = v.policies.digests();
    let facts = attest::BuildFacts {
        policies: &digests,
        mode: v.opts.policy_mode,
        time: attest::VerifiedTime::from_metadata(&sub.metadata),
        dockerfile: v
            .opts
            .all
            .get("filename")
            .map_or("Dockerfile", String::as_str),
        records: v.records,
        trust_root: v.trust_root,
    };
    let statements = attest::attestations(bridge, &sub, &refs, &facts).await?;
    let mut result = assemble(sub, refs, &report, timings);
    match statements {
        // After the Dockerfile frontend's own (its SBOM); BuildKit appends its provenance
        // to the list after the frontend returns.
        Some(a) => {
            for (key, list) in a {
                result
                    .attestations
                    .entry(key)
                    .or_default()
                    .attestation
                    .extend(list);
            }
            // The build was verified; say that its image will not show it.
            if attest::exporter_drops_attestations(&bridge.caps) {
                crate::daemon_log!("{}", attest::DROPPED_BY_CLASSIC_STORE);
                bridge.warn(attest::DROPPED_BY_CLASSIC_STORE).await;
            }
        }
        None => {
            let note = "the daemon cannot attach attestations (no reference.attestations cap): \
                        the verification report is in the result metadata only";
            crate::daemon_log!("{note}");
            bridge.warn(note).await;
        }
    }
    Ok(result)
}

fn assemble(
    sub: SubResult,
    refs: BTreeMap<Option<String>, gw::Ref>,
    report: &Value,
    timings: &Timings,
) -> gw::Result {
    let result = match refs.get(&None) {
        Some(r) if refs.len() == 1 => Some(gw::result::Result::Ref(r.clone())),
        _ if refs.is_empty() => None,
        _ => Some(gw::result::Result::Refs(gw::RefMap {
            refs: refs
                .into_iter()
                .filter_map(|(k, v)| k.map(|k| (k, v)))
                .collect(),
        })),
    };
    let mut metadata = sub.metadata;
    metadata.insert(
        META_SOURCES.to_string(),
        serde_json::to_vec(report).unwrap_or_default(),
    );
    metadata.insert(
        META_TIMINGS.to_string(),
        serde_json::to_vec(timings).unwrap_or_default(),
    );
    gw::Result {
        result,
        metadata,
        attestations: sub.attestations,
    }
}
