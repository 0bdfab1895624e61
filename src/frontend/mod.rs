//! One verified build, start to finish:
//! options -> policies -> Dockerfile frontend's graph -> sources -> resolutions -> policy
//! verdicts -> rewritten (pinned) graph -> solved result, returned with the Dockerfile
//! frontend's metadata.

mod contexts;
mod decide;
mod graphs;
mod main_context;
mod setup;
mod syntax;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use serde::Serialize;
use serde_json::Value;

use crate::attest::{self, SourceRecord};
use crate::error::{Error, Result};
use crate::gateway::{Bridge, Options, SubResult};
use crate::graph::{self, SourceUpdate};
use crate::policy::{Mode, input};
use crate::proto::gw;
use crate::resolve::{self, Resolution};
use decide::Decider;
use graphs::{Graphs, Slot, SourceKey, SourceRange, source_key};

/// Result metadata keys this frontend adds next to the Dockerfile frontend's own.
pub const META_SOURCES: &str = "verified-frontend.sources";
pub const META_TIMINGS: &str = "verified-frontend.timings";

#[derive(Debug, Default, Clone, Serialize)]
pub struct Timings {
    /// Process start until the daemon answered Ping.
    pub start_ms: f64,
    /// Reading and compiling policies, and deciding the frontend images.
    pub policy_load_ms: f64,
    pub subsolve_ms: f64,
    pub resolve_ms: f64,
    /// Policy evaluation of the build's sources (pin conversions included).
    pub evaluate_ms: f64,
    pub rewrite_ms: f64,
    pub solve_ms: f64,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// How often the Dockerfile frontend may be run again to hand it converted images.
const MAX_ROUNDS: usize = 4;

pub async fn build(bridge: &Bridge, opts: &Options, started: Instant) -> Result<gw::Result> {
    let mut timings = Timings {
        start_ms: ms(started.elapsed()),
        ..Default::default()
    };
    bridge.use_cache_imports(&opts.all)?;
    let t = Instant::now();
    let main = main_context::open(bridge, opts).await?;
    let syntax = syntax::detect(bridge, opts, &main.places.dockerfile).await?;
    let followed;
    let opts = match &syntax {
        Some(s) => {
            followed = s.options(opts);
            &followed
        }
        None => opts,
    };
    let setup = setup::policies(bridge, opts, &main.places).await?;
    let mut forwarded = opts.forwarded();
    main.forward(&mut forwarded);
    let mut decider = Decider {
        bridge,
        env: input::env(&forwarded),
        policies: setup.policies,
        needs: setup.needs,
        images: setup.images,
    };
    let caps = if decider.policies.is_empty() {
        Default::default()
    } else {
        decider.policies.caps(&decider.env)?
    };
    for line in &caps.prints {
        eprintln!("verified-frontend: print {line}");
    }
    // What the Dockerfile and the policies were read from is decided first.
    let mut records = main.decide(&mut decider).await?;
    check_denials(&records, opts.policy_mode)?;
    records.extend(frontend_images(&mut decider, opts, &mut forwarded, syntax.as_ref()).await?);
    check_denials(&records, opts.policy_mode)?;
    contexts::pin_client_contexts(bridge, opts, &mut forwarded).await?;
    timings.policy_load_ms = ms(t.elapsed());

    let inputs = main.inputs.clone();
    let round = decide_rounds(bridge, &mut decider, opts, forwarded, inputs, &mut timings).await?;
    require_no_exec_proxy(&caps, round.networked_exec)?;
    let build_records = merge_platforms(round.records);
    main.check_build(&build_records)?;
    check_denials(&build_records, opts.policy_mode)?;
    if matches!(opts.policy_mode, Mode::Enforce | Mode::Warn) && !decider.policies.is_empty() {
        summarize(bridge, &setup.load_vertex, round.summaries).await;
    }
    records.extend(build_records);

    let t = Instant::now();
    let mut sub = round.sub;
    let solved = try_join_all(round.pinned.into_iter().map(|(slot, def)| async move {
        Ok::<_, Error>((slot, bridge.solve_definition(def).await?))
    }))
    .await?;
    let mut refs: BTreeMap<Option<String>, gw::Ref> = sub.refs.clone();
    for (slot, r) in solved {
        match slot {
            Slot::Ref(key) => {
                refs.insert(key, r);
            }
            Slot::Attestation(key, i) => {
                if let Some(a) = sub
                    .attestations
                    .get_mut(&key)
                    .and_then(|l| l.attestation.get_mut(i))
                {
                    a.r#ref = Some(r);
                }
            }
        }
    }
    timings.solve_ms = ms(t.elapsed());
    finish(
        bridge,
        opts,
        &decider,
        sub,
        refs,
        &records,
        setup.trust_root.as_ref(),
        &timings,
    )
    .await
}

/// The frontend images are sources too. This one is already running, but it refuses to go
/// on if the policy denies it; the Dockerfile frontend it calls (the `dockerfile-frontend`
/// option, or the Dockerfile's `syntax` line) is decided and pinned before it runs.
async fn frontend_images(
    decider: &mut Decider<'_>,
    opts: &Options,
    forwarded: &mut BTreeMap<String, String>,
    syntax: Option<&syntax::Syntax>,
) -> Result<Vec<SourceRecord>> {
    let mut records = Vec::new();
    if let Some(own) = opts
        .all
        .get(crate::gateway::options::OPT_SOURCE)
        .filter(|_| !decider.policies.is_empty())
    {
        records.push(decider.frontend_image(own, "frontend image").await?);
    }
    if let Some(df) = &opts.dockerfile_frontend {
        let rec = decider
            .frontend_image(df, "dockerfile-frontend")
            .await
            .map_err(|e| match syntax {
                Some(s) => s.locate(e),
                None => e,
            })?;
        let pinned = rec.pinned.trim_start_matches("docker-image://").to_string();
        forwarded.insert(crate::gateway::options::OPT_SOURCE.into(), pinned);
        records.push(rec);
    }
    Ok(records)
}

/// What one run of the Dockerfile frontend gave, decided and pinned.
struct Round {
    sub: SubResult,
    records: Vec<SourceRecord>,
    summaries: Vec<(Option<SourceRange>, String)>,
    /// Every definition of the result, rewritten to its pins.
    pinned: BTreeMap<Slot, Vec<u8>>,
    /// Image sources (identifier in the graph) and their `pin_image` conversion.
    images: Vec<(String, Option<String>)>,
    /// Converted sources only the attestation graphs (the SBOM generator) use.
    converted_attestation_only: Vec<String>,
    /// Whether a RUN step of any graph may use the network.
    networked_exec: bool,
}

/// A policy asking for `exec.proxy` wants every RUN request decided by BuildKit's exec
/// proxy. BuildKit turns that proxy on only for a client's solve (a job setting a gateway
/// frontend cannot set), so a build whose RUN steps may use the network fails rather than
/// letting requests through undecided; RUN steps without network need no proxy.
fn require_no_exec_proxy(caps: &crate::policy::Caps, networked_exec: bool) -> Result<()> {
    if !caps.exec_proxy || !networked_exec {
        return Ok(());
    }
    Err(Error::Policy {
        file: caps.exec_proxy_by.join(", "),
        message: "the policy asks for caps.exec.proxy (RUN network decided per request), which a gateway frontend cannot enable: BuildKit turns its exec proxy on only for a client's build (buildx build --policy). Use RUN --network=none, or drop the cap".into(),
    })
}

/// Runs the Dockerfile frontend and decides its graph, again with the converted images as
/// named contexts until no conversion is left, so every image is used whole as decided.
async fn decide_rounds(
    bridge: &Bridge,
    decider: &mut Decider<'_>,
    opts: &Options,
    forwarded: BTreeMap<String, String>,
    inputs: BTreeMap<String, Vec<u8>>,
    timings: &mut Timings,
) -> Result<Round> {
    let frontend = if opts.dockerfile_frontend.is_some() {
        "gateway.v0"
    } else {
        "dockerfile.v0"
    };
    let mut handed: BTreeMap<String, String> = BTreeMap::new();
    // Converted identifier -> the identifier first decided, for the report.
    let mut origins: HashMap<String, String> = HashMap::new();
    for _ in 0..MAX_ROUNDS {
        let mut fwd = forwarded.clone();
        fwd.extend(handed.clone());
        let mut round = run_round(
            bridge,
            decider,
            frontend,
            fwd.clone(),
            inputs.clone(),
            timings,
        )
        .await?;
        for r in &mut round.records {
            if let Some(first) = origins.get(&r.original) {
                r.original = first.clone();
            }
        }
        if let Some(id) = round.converted_attestation_only.first() {
            return Err(Error::source(
                id,
                "pin_image converted an image only the attestation graphs use (the SBOM generator), whose config the Dockerfile frontend has already read; name that image by digest instead",
            ));
        }
        let converted: Vec<(&String, &String)> = round
            .images
            .iter()
            .filter_map(|(id, c)| c.as_ref().map(|c| (id, c)))
            .collect();
        let Some((first_id, _)) = converted.first() else {
            return Ok(round);
        };
        let uses: Vec<contexts::ImageUse> = round
            .images
            .iter()
            .map(|(id, c)| contexts::ImageUse {
                identifier: id,
                converted: c.as_deref(),
            })
            .collect();
        let next = contexts::for_conversions(&uses, &fwd);
        if next.iter().all(|(k, v)| handed.get(k) == Some(v)) {
            return Err(Error::source(
                *first_id,
                "pin_image converted this image, but the Dockerfile frontend cannot be given the converted image under a name it looks up, so its config would not match its layers; name the image by digest in the Dockerfile instead",
            ));
        }
        for (id, c) in converted {
            let first = origins.get(id).cloned().unwrap_or_else(|| id.clone());
            origins.insert(c.clone(), first);
        }
        handed.extend(next);
    }
    Err(Error::Other(format!(
        "pin_image conversions did not settle after {MAX_ROUNDS} runs of the Dockerfile frontend"
    )))
}

/// One run of the Dockerfile frontend: graph -> sources -> facts -> verdicts -> rewrite.
async fn run_round(
    bridge: &Bridge,
    decider: &mut Decider<'_>,
    frontend: &str,
    forwarded: BTreeMap<String, String>,
    inputs: BTreeMap<String, Vec<u8>>,
    timings: &mut Timings,
) -> Result<Round> {
    let t = Instant::now();
    let sub = bridge.solve_frontend(frontend, forwarded, inputs).await?;
    timings.subsolve_ms += ms(t.elapsed());

    let t = Instant::now();
    let graphs = Graphs::collect(&sub)?;
    let wanted = graphs.wanted();
    let needs = decider.needs;
    let resolved: Vec<Resolution> = try_join_all(wanted.values().map(|w| async move {
        resolve::resolve(bridge, &w.op, w.platform.as_ref(), needs)
            .await
            .map_err(|e| e.at(w.location.as_ref()))
    }))
    .await?;
    timings.resolve_ms += ms(t.elapsed());

    let t = Instant::now();
    let mut updates: HashMap<&SourceKey, SourceUpdate> = HashMap::new();
    let mut records = Vec::new();
    let mut summaries = Vec::new();
    let mut images = Vec::new();
    let mut converted_attestation_only = Vec::new();
    for ((key, w), res) in wanted.iter().zip(resolved) {
        let is_image = matches!(res.source, crate::sources::Source::Image(_));
        let v = decider
            .decide(&w.op, w.platform.as_ref(), w.location.clone(), res, "build")
            .await?;
        if is_image {
            images.push((w.op.identifier.clone(), v.converted.clone()));
        }
        if w.attestation_only && v.converted.is_some() {
            converted_attestation_only.push(w.op.identifier.clone());
        }
        if let Some(u) = v.update {
            updates.insert(key, u);
        }
        summaries.push((w.range.clone(), v.record.summary()));
        records.push(v.record);
    }
    timings.evaluate_ms += ms(t.elapsed());

    let t = Instant::now();
    let pinned = rewrite_all(&graphs, &updates)?;
    timings.rewrite_ms += ms(t.elapsed());
    let networked_exec = graphs.has_networked_exec();
    drop(graphs);
    Ok(Round {
        sub,
        records,
        summaries,
        pinned,
        images,
        converted_attestation_only,
        networked_exec,
    })
}

/// Every definition with its sources pinned. An unchanged definition is re-solved too:
/// BuildKit's provenance then records this frontend among the build's dependencies, which
/// it does not for the sub-frontend's own refs.
fn rewrite_all(
    graphs: &Graphs,
    updates: &HashMap<&SourceKey, SourceUpdate>,
) -> Result<BTreeMap<Slot, Vec<u8>>> {
    let mut pinned = BTreeMap::new();
    for (slot, p) in &graphs.parsed {
        let by_node: HashMap<String, SourceUpdate> = p
            .graph
            .sources()
            .filter_map(|(node, op)| {
                updates
                    .get(&source_key(node, op))
                    .map(|u| (node.digest.clone(), u.clone()))
            })
            .collect();
        let out = if by_node.is_empty() {
            p.raw.to_vec()
        } else {
            graph::rewrite(p, &by_node)?.0
        };
        pinned.insert(slot.clone(), out);
    }
    Ok(pinned)
}

/// One line per source in the client's output, at its Dockerfile line.
async fn summarize(bridge: &Bridge, vertex: &str, summaries: Vec<(Option<SourceRange>, String)>) {
    let mut seen = std::collections::HashSet::new();
    for (range, line) in summaries {
        if seen.insert(line.clone()) {
            let (info, ranges) = range.map_or((None, vec![]), |(i, r)| (Some(i), r));
            bridge
                .warn_at(vertex.to_string(), &line, vec![], info, ranges)
                .await;
        }
    }
}

/// The report in buildkitd's log and the result metadata, the attestations, the result.
#[allow(clippy::too_many_arguments)]
async fn finish(
    bridge: &Bridge,
    opts: &Options,
    decider: &Decider<'_>,
    sub: SubResult,
    refs: BTreeMap<Option<String>, gw::Ref>,
    records: &[SourceRecord],
    trust_root: Option<&attest::TrustRoot>,
    timings: &Timings,
) -> Result<gw::Result> {
    let policy_names: Vec<&str> = decider.policies.names();
    // stderr goes to buildkitd's log: one JSON line per build for operators (and the tests).
    eprintln!(
        "verified-frontend: report {}",
        serde_json::json!({"policies": &policy_names, "sources": records, "timings": timings})
    );
    let report = serde_json::json!({"policies": policy_names, "sources": records});
    // Without a policy nothing was verified, so nothing is attested: the result is then the
    // Dockerfile frontend's own, as a build through the stock frontend gives it.
    if decider.policies.is_empty() {
        return Ok(assemble(sub, refs, &report, timings));
    }
    let digests = decider.policies.digests();
    let facts = attest::BuildFacts {
        policies: &digests,
        mode: opts.policy_mode.as_str(),
        time: attest::VerifiedTime::from_metadata(&sub.metadata),
        dockerfile: opts
            .all
            .get("filename")
            .map_or("Dockerfile", String::as_str),
        records,
        trust_root,
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
        }
        None => {
            let note = "the daemon cannot attach attestations (no reference.attestations cap): \
                        the verification report is in the result metadata only";
            eprintln!("verified-frontend: {note}");
            bridge.warn(note).await;
        }
    }
    Ok(result)
}

/// The same source decided for several platforms is one record with all its platforms.
fn merge_platforms(records: Vec<SourceRecord>) -> Vec<SourceRecord> {
    let mut out: BTreeMap<(String, String, &'static str), SourceRecord> = BTreeMap::new();
    for r in records {
        let key = (r.original.clone(), r.pinned.clone(), r.decision);
        match out.get_mut(&key) {
            Some(existing) => existing.platforms.extend(r.platforms),
            None => {
                out.insert(key, r);
            }
        }
    }
    out.into_values()
        .map(|mut r| {
            r.platforms.sort();
            r.platforms.dedup();
            r
        })
        .collect()
}

/// In enforce mode, any denied source fails the build, naming every one of them.
fn check_denials(records: &[SourceRecord], mode: Mode) -> Result<()> {
    let denied: Vec<String> = records
        .iter()
        .filter(|r| r.decision == "deny")
        .map(SourceRecord::denial)
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    match mode {
        Mode::Enforce => Err(Error::Denied(denied.join("\n"))),
        Mode::Warn | Mode::Off => {
            for d in &denied {
                eprintln!("verified-frontend: warning: {d}");
            }
            Ok(())
        }
        // The report and the attestations carry the denials; nothing else.
        Mode::ReportOnly => Ok(()),
    }
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
