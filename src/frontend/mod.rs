//! One verified build, start to finish. `build` names the stages in order:
//! options -> sub-solve -> graph -> sources -> facts -> verdicts -> rewrite -> solve ->
//! result. Before the first sub-solve, the options stage makes the main context exact,
//! reads and compiles the policies and decides what the Dockerfile and the policies were
//! read from and the frontend images; the graph-to-rewrite stages run once per run of the
//! Dockerfile frontend (`rounds`).

mod contexts;
mod decide;
mod graphs;
mod main_context;
mod outcome;
mod places;
mod producer;
mod result;
mod rounds;
mod setup;
mod syntax;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::gateway::options::OPT_SOURCE;
use crate::gateway::{Bridge, Options, SubResult};
use crate::model::{Mode, SourceRecord, TrustRootRecord, Verdict};
use crate::policy::{Caps, input};
use crate::proto::gw;
use decide::Decider;
use graphs::{Slot, SourceRange};
use main_context::MainContext;
use outcome::check_denials;
pub use result::{META_SOURCES, META_TIMINGS};
use rounds::Round;

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
    /// Every gateway call up to the report, per kind and per source: where the stages'
    /// time went (filled in by the result stage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<crate::gateway::CallSummary>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub async fn build(bridge: &Bridge, opts: &Options, started: Instant) -> Result<gw::Result> {
    let mut timings = Timings {
        start_ms: ms(started.elapsed()),
        ..Default::default()
    };
    bridge.use_cache_imports(&opts.all)?;
    let t = Instant::now();
    // options: where the Dockerfile is read, which frontend runs, which policies decide.
    let mut p = prepare(bridge, opts).await?;
    let mut records = decide_inputs(&mut p).await?;
    timings.policy_load_ms = ms(t.elapsed());
    // sub-solve -> graph -> sources -> facts -> verdicts -> rewrite, until nothing converts.
    let req = rounds::Request {
        frontend: match p.opts.dockerfile_frontend {
            Some(_) => "gateway.v0",
            None => "dockerfile.v0",
        },
        forwarded: &p.forwarded,
        inputs: &p.main.inputs,
    };
    let round = rounds::decide_rounds(bridge, &mut p.decider, req, &mut timings).await?;
    let Round {
        mut sub,
        pinned,
        records: round_records,
        summaries,
        networked_exec,
        ..
    } = round;
    require_no_exec_proxy(&p.caps, networked_exec)?;
    records.extend(build_records(&p, round_records, summaries).await?);
    if p.opts.policy_mode.decides() && !p.decider.policies.is_empty() {
        outcome::announce(bridge, &records, &p.decider.policies.names()).await?;
    }
    // solve
    let t = Instant::now();
    let refs = solve(bridge, &mut sub, pinned).await?;
    timings.solve_ms = ms(t.elapsed());
    // result
    let verified = result::Verified {
        opts: &p.opts,
        policies: &p.decider.policies,
        records: &records,
        trust_root: p.trust_root.as_ref(),
    };
    result::finish(bridge, &verified, sub, refs, &timings).await
}

/// The build after its options: where the Dockerfile frontend reads from, the options it
/// gets, and the policies that decide.
struct Prepared<'a> {
    /// The options, with a followed `# syntax=` line as the `dockerfile-frontend` choice.
    opts: Options,
    main: MainContext,
    syntax: Option<syntax::Syntax>,
    /// The options the Dockerfile frontend gets.
    forwarded: BTreeMap<String, String>,
    decider: Decider<'a>,
    caps: Caps,
    /// The progress vertex the policy files were read in; warnings attach to it.
    load_vertex: String,
    trust_root: Option<TrustRootRecord>,
}

/// Stage "options": the main context made exact, a syntax line followed, the policies
/// read and compiled, and their caps pre-pass.
async fn prepare<'a>(bridge: &'a Bridge, opts: &Options) -> Result<Prepared<'a>> {
    let main = main_context::open(bridge, opts).await?;
    let syntax = syntax::detect(bridge, opts, &main.places.dockerfile).await?;
    let opts = match &syntax {
        Some(s) => s.options(opts),
        None => opts.clone(),
    };
    let setup = setup::policies(bridge, &opts, &main.places).await?;
    let mut forwarded = opts.forwarded();
    main.forward(&mut forwarded);
    let mut decider = Decider {
        bridge,
        env: input::env(&forwarded),
        policies: setup.policies,
        needs: setup.needs,
        images: setup.images,
        models: setup.models,
        client_contexts: Default::default(),
    };
    let caps = if decider.policies.is_empty() {
        Default::default()
    } else {
        decider.policies.caps(&decider.env)?
    };
    for line in &caps.prints {
        crate::daemon_log!("print {line}");
    }
    for w in &caps.warnings {
        bridge
            .warn(&format!("[verified-frontend] policy warning: {w}"))
            .await;
    }
    Ok(Prepared {
        opts,
        main,
        syntax,
        forwarded,
        decider,
        caps,
        load_vertex: setup.load_vertex,
        trust_root: setup.trust_root,
    })
}

/// What the Dockerfile and the policies were read from is decided first, then the frontend
/// images; the client's image named contexts are pinned before the Dockerfile frontend
/// reads them.
async fn decide_inputs(p: &mut Prepared<'_>) -> Result<Vec<SourceRecord>> {
    let mut records = p.main.decide(&mut p.decider).await?;
    check_denials(&records, p.opts.policy_mode)?;
    records.extend(frontend_images(p).await?);
    check_denials(&records, p.opts.policy_mode)?;
    p.decider.client_contexts =
        contexts::pin_client_contexts(p.decider.bridge, &p.opts, &mut p.forwarded).await?;
    Ok(records)
}

/// The frontend images are sources too. This one is already running, but it refuses to go
/// on if the policy denies it; the Dockerfile frontend it calls (the `dockerfile-frontend`
/// option, or the Dockerfile's `syntax` line) is decided and pinned before it runs.
async fn frontend_images(p: &mut Prepared<'_>) -> Result<Vec<SourceRecord>> {
    let mut records = Vec::new();
    if let Some(own) = p
        .opts
        .all
        .get(OPT_SOURCE)
        .filter(|_| !p.decider.policies.is_empty())
    {
        records.push(p.decider.frontend_image(own, "frontend image").await?);
    }
    if let Some(df) = &p.opts.dockerfile_frontend {
        let rec = p
            .decider
            .frontend_image(df, "dockerfile-frontend")
            .await
            .map_err(|e| match &p.syntax {
                Some(s) => s.locate(e),
                None => e,
            })?;
        let pinned = rec.pinned.trim_start_matches("docker-image://").to_string();
        p.forwarded.insert(OPT_SOURCE.into(), pinned);
        records.push(rec);
    }
    Ok(records)
}

/// A policy asking for `exec.proxy` wants every RUN request decided by BuildKit's exec
/// proxy. BuildKit turns that proxy on only for a client's solve (a job setting a gateway
/// frontend cannot set), so a build whose RUN steps may use the network fails rather than
/// letting requests through undecided; RUN steps without network need no proxy.
fn require_no_exec_proxy(caps: &Caps, networked_exec: bool) -> Result<()> {
    if !caps.exec_proxy || !networked_exec {
        return Ok(());
    }
    Err(Error::Policy {
        file: caps.exec_proxy_by.join(", "),
        message: "the policy asks for caps.exec.proxy (RUN network decided per request), which a gateway frontend cannot enable: BuildKit turns its exec proxy on only for a client's build (buildx build --policy). Use RUN --network=none, or drop the cap".into(),
    })
}

/// The build graph's records, one per source with all its platforms: the git context must
/// be the commit the graph uses, denials apply, and each source gets a line in the output.
async fn build_records(
    p: &Prepared<'_>,
    records: Vec<SourceRecord>,
    summaries: Vec<(Option<SourceRange>, String)>,
) -> Result<Vec<SourceRecord>> {
    let records = merge_platforms(records);
    p.main.check_build(&records)?;
    check_denials(&records, p.opts.policy_mode)?;
    if p.opts.policy_mode == Mode::Warn && !p.decider.policies.is_empty() {
        outcome::warn_denials(p.decider.bridge, &p.load_vertex, summaries).await;
    }
    Ok(records)
}

/// Stage "solve": every pinned definition solved; the refs of the result, and the
/// attestation refs (the SBOM) of `sub` pointed at their pinned solves.
async fn solve(
    bridge: &Bridge,
    sub: &mut SubResult,
    pinned: BTreeMap<Slot, Vec<u8>>,
) -> Result<BTreeMap<Option<String>, gw::Ref>> {
    let solved = try_join_all(pinned.into_iter().map(|(slot, def)| async move {
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
    Ok(refs)
}

/// The same source decided for several platforms is one record with all its platforms.
fn merge_platforms(records: Vec<SourceRecord>) -> Vec<SourceRecord> {
    let mut out: BTreeMap<(String, String, Verdict), SourceRecord> = BTreeMap::new();
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
