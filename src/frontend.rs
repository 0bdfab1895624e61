//! One verified build, start to finish:
//! options -> Dockerfile frontend's graph -> sources -> resolutions (pins) -> rewritten
//! graph -> solved result, returned with the Dockerfile frontend's metadata.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::gateway::{Bridge, Options, SubResult};
use crate::graph::{self, Parsed, SourceUpdate};
use crate::proto::{gw, pb};
use crate::resolve::{self, Resolution};

/// Result metadata keys this frontend adds next to the Dockerfile frontend's own.
pub const META_SOURCES: &str = "verified-frontend.sources";
pub const META_TIMINGS: &str = "verified-frontend.timings";

#[derive(Debug, Default, Clone, Serialize)]
pub struct Timings {
    /// Process start until the daemon answered Ping.
    pub start_ms: f64,
    pub subsolve_ms: f64,
    pub resolve_ms: f64,
    pub rewrite_ms: f64,
    pub solve_ms: f64,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// One line of the per-source record returned in the result metadata.
#[derive(Debug, Serialize)]
struct SourceRecord<'a> {
    kind: &'static str,
    original: &'a str,
    pinned: &'a str,
    /// Attributes the pin added (e.g. `git.checksum`, `http.checksum`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pin_attrs: BTreeMap<String, String>,
    /// Digest, commit or checksum the source resolved to; empty for local sources.
    resolved: String,
    platforms: Vec<String>,
}

/// Identity of a source for resolution: the same op on the same platform resolves once,
/// however many stages or platforms use it.
type SourceKey = (String, BTreeMap<String, String>, Option<String>);

/// A source to resolve: the op as written, its platform, and where the user wrote it.
struct Wanted {
    op: pb::SourceOp,
    platform: Option<pb::Platform>,
    location: Option<String>,
}

fn source_key(node: &graph::OpNode, op: &pb::SourceOp) -> SourceKey {
    (
        op.identifier.clone(),
        op.attrs.clone(),
        platform_id(node.platform.as_ref()),
    )
}

fn platform_id(p: Option<&pb::Platform>) -> Option<String> {
    p.map(|p| {
        let mut s = format!("{}/{}", p.os, p.architecture);
        if !p.variant.is_empty() {
            s.push('/');
            s.push_str(&p.variant);
        }
        s
    })
}

pub async fn build(bridge: &Bridge, opts: &Options, started: Instant) -> Result<gw::Result> {
    let mut timings = Timings {
        start_ms: ms(started.elapsed()),
        ..Default::default()
    };

    let t = Instant::now();
    let inputs = bridge.inputs().await?;
    let frontend = if opts.dockerfile_frontend.is_some() {
        "gateway.v0"
    } else {
        "dockerfile.v0"
    };
    let sub = bridge
        .solve_frontend(frontend, opts.forwarded(), inputs)
        .await?;
    timings.subsolve_ms = ms(t.elapsed());

    // Every op of every returned definition is parsed before anything is resolved, so a
    // graph this frontend cannot verify fails the build before any network traffic.
    let t = Instant::now();
    let mut graphs: Vec<(Option<String>, Parsed)> = Vec::new();
    let mut lines: HashMap<String, String> = HashMap::new();
    for (key, r) in &sub.refs {
        // An empty def is an empty result (e.g. FROM scratch with no files): nothing to verify.
        if !r.def.is_empty() {
            let parsed = Parsed::new(&r.def)?;
            lines.extend(graph::source_lines(&parsed.def));
            graphs.push((key.clone(), parsed));
        }
    }
    let mut wanted: BTreeMap<SourceKey, Wanted> = BTreeMap::new();
    for (_, p) in &graphs {
        for (node, op) in p.graph.sources() {
            wanted
                .entry(source_key(node, op))
                .or_insert_with(|| Wanted {
                    op: op.clone(),
                    platform: node.platform.clone(),
                    location: p.graph.location(&node.digest, &lines).cloned(),
                });
        }
    }
    let resolved: Vec<Resolution> = try_join_all(wanted.values().map(|w| async {
        resolve::resolve(bridge, &w.op, w.platform.as_ref())
            .await
            .map_err(|e| e.at(w.location.as_ref()))
    }))
    .await?;
    let by_key: HashMap<&SourceKey, &Resolution> = wanted.keys().zip(resolved.iter()).collect();
    timings.resolve_ms = ms(t.elapsed());

    let t = Instant::now();
    let mut pinned_defs: BTreeMap<Option<String>, Vec<u8>> = BTreeMap::new();
    for (key, p) in &graphs {
        let updates: HashMap<String, SourceUpdate> = p
            .graph
            .sources()
            .filter_map(|(node, op)| {
                by_key[&source_key(node, op)]
                    .update
                    .clone()
                    .map(|u| (node.digest.clone(), u))
            })
            .collect();
        // Re-solve even an unchanged definition: BuildKit's provenance then records this
        // frontend among the build's dependencies, which it does not for the
        // sub-frontend's own refs.
        let out = if updates.is_empty() {
            p.raw.to_vec()
        } else {
            graph::rewrite(p, &updates)?.0
        };
        pinned_defs.insert(key.clone(), out);
    }
    timings.rewrite_ms = ms(t.elapsed());

    let t = Instant::now();
    let mut refs: BTreeMap<Option<String>, gw::Ref> = sub.refs.clone();
    let solved = try_join_all(pinned_defs.into_iter().map(|(key, def)| async move {
        Ok::<_, Error>((key, bridge.solve_definition(def).await?))
    }))
    .await?;
    for (key, r) in solved {
        refs.insert(key, r);
    }
    timings.solve_ms = ms(t.elapsed());

    let records = records(&wanted, &by_key);
    // stderr goes to buildkitd's log: one JSON line per build for operators (and the tests).
    eprintln!(
        "verified-frontend: report {}",
        serde_json::json!({"sources": &records, "timings": &timings})
    );
    Ok(assemble(sub, refs, &records, &timings))
}

fn records<'a>(
    wanted: &'a BTreeMap<SourceKey, Wanted>,
    by_key: &HashMap<&SourceKey, &'a Resolution>,
) -> Vec<SourceRecord<'a>> {
    let mut out: BTreeMap<&str, SourceRecord<'a>> = BTreeMap::new();
    for key in wanted.keys() {
        let r = by_key[key];
        let rec = out
            .entry(r.pinned_identifier())
            .or_insert_with(|| SourceRecord {
                kind: r.source.kind(),
                original: &r.original,
                pinned: r.pinned_identifier(),
                pin_attrs: r
                    .update
                    .as_ref()
                    .map(|u| u.attrs.clone())
                    .unwrap_or_default(),
                resolved: r.facts.resolved().to_string(),
                platforms: vec![],
            });
        if let Some(p) = &key.2 {
            rec.platforms.push(p.clone());
        }
    }
    out.into_values().collect()
}

fn assemble(
    sub: SubResult,
    refs: BTreeMap<Option<String>, gw::Ref>,
    records: &[SourceRecord<'_>],
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
        serde_json::to_vec(records).unwrap_or_default(),
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
