//! One verified build, start to finish. `build` names the stages in order:
//! options -> sub-solve -> graph -> sources -> facts -> verdicts -> rewrite -> solve ->
//! result. The options stage makes the main context exact, reads and compiles the policies
//! and decides what the Dockerfile and the policies were read from and the frontend images,
//! before the first sub-solve; or beside it when that run has nothing to wait for (the
//! builtin Dockerfile frontend on the client's directories), its graph decided only after
//! them. The graph-to-rewrite stages run once per run of the Dockerfile frontend (`rounds`).

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

use futures::future::{Either, try_join_all};
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
    /// Reading and compiling policies, and deciding the frontend images (beside the first
    /// sub-solve when nothing the policies decide comes before it).
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
    let opened = open(bridge, opts).await?;
    let (mut p, mut records, first) = if overlaps(&opened) {
        prepare_beside_subsolve(bridge, opened, t, &mut timings).await?
    } else {
        let (p, records) = prepare(bridge, opened).await?;
        timings.policy_load_ms = ms(t.elapsed());
        (p, records, None)
    };
    // sub-solve -> graph -> sources -> facts -> verdicts -> rewrite, until nothing converts.
    let req = rounds::Request {
        frontend: match p.opts.dockerfile_frontend {
            Some(_) => "gateway.v0",
            None => "dockerfile.v0",
        },
        forwarded: &p.forwarded,
        inputs: &p.main.inputs,
    };
    let round = rounds::decide_rounds(bridge, &mut p.decider, req, first, &mut timings).await?;
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

/// Where the Dockerfile frontend reads from and what it is given, before any policy.
struct Opened {
    /// The options, with a followed `# syntax=` line as the `dockerfile-frontend` choice.
    opts: Options,
    main: MainContext,
    syntax: Option<syntax::Syntax>,
    /// The options the Dockerfile frontend gets.
    forwarded: BTreeMap<String, String>,
}

/// The build after its options: where the Dockerfile frontend reads from, the options it
/// gets, and the policies that decide.
struct Prepared<'a> {
    opts: Options,
    main: MainContext,
    forwarded: BTreeMap<String, String>,
    decider: Decider<'a>,
    caps: Caps,
    /// The progress vertex the policy files were read in; warnings attach to it.
    load_vertex: String,
    trust_root: Option<TrustRootRecord>,
}

/// The policies read and compiled, with their caps pre-pass.
struct Policies<'a> {
    decider: Decider<'a>,
    caps: Caps,
    load_vertex: String,
    trust_root: Option<TrustRootRecord>,
}

/// Stage "options": the main context made exact and a syntax line followed.
async fn open(bridge: &Bridge, opts: &Options) -> Result<Opened> {
    let main = main_context::open(bridge, opts).await?;
    let syntax = syntax::detect(bridge, opts, &main.places.dockerfile).await?;
    let opts = match &syntax {
        Some(s) => s.options(opts),
        None => opts.clone(),
    };
    let mut forwarded = opts.forwarded();
    main.forward(&mut forwarded);
    Ok(Opened {
        opts,
        main,
        syntax,
        forwarded,
    })
}

/// Whether the first run of the Dockerfile frontend may start while the policies load: it
/// is buildkitd's own (no image to decide before it runs) and it reads only the client's
/// local directories (no pinned context or Dockerfile input the policies decide before it
/// reads them). It only reads and resolves, as every first run does before the graph is
/// decided; nothing of it is solved or returned unless every policy decision allows.
fn overlaps(o: &Opened) -> bool {
    o.opts.dockerfile_frontend.is_none()
        && o.main.inputs.is_empty()
        && matches!(o.main.places.dockerfile, places::Place::Local(_))
        && matches!(o.main.places.context, places::Place::Local(_))
}

/// The policies and what they decide before the Dockerfile frontend runs, then the
/// client's image named contexts pinned.
async fn prepare(bridge: &Bridge, o: Opened) -> Result<(Prepared<'_>, Vec<SourceRecord>)> {
    let mut pol = load_policies(bridge, &o).await?;
    let (records, df) = decide_inputs(&o, &mut pol.decider).await?;
    let mut forwarded = o.forwarded;
    if let Some(pinned) = df {
        forwarded.insert(OPT_SOURCE.into(), pinned);
    }
    pol.decider.client_contexts =
        contexts::pin_client_contexts(bridge, &o.opts, &mut forwarded).await?;
    let p = prepared(o.opts, o.main, forwarded, pol);
    Ok((p, records))
}

/// As `prepare`, with the first run of the Dockerfile frontend beside the policies: the
/// policies' error (a broken policy, a denial) is the build's even when that run failed,
/// and a policy error does not wait for the run.
async fn prepare_beside_subsolve<'a>(
    bridge: &'a Bridge,
    o: Opened,
    t: Instant,
    timings: &mut Timings,
) -> Result<(Prepared<'a>, Vec<SourceRecord>, Option<SubResult>)> {
    let ((mut pol, records, load_ms), (forwarded, contexts, sub, sub_ms)) = {
        let policies = std::pin::pin!(async {
            let mut pol = load_policies(bridge, &o).await?;
            let (records, _) = decide_inputs(&o, &mut pol.decider).await?;
            Ok::<_, Error>((pol, records, ms(t.elapsed())))
        });
        let first = std::pin::pin!(async {
            let mut forwarded = o.forwarded.clone();
            let contexts = contexts::pin_client_contexts(bridge, &o.opts, &mut forwarded).await?;
            let t = Instant::now();
            let sub = bridge
                .solve_frontend(
                    rounds::BUILTIN_FRONTEND,
                    forwarded.clone(),
                    o.main.inputs.clone(),
                )
                .await?;
            Ok::<_, Error>((forwarded, contexts, sub, ms(t.elapsed())))
        });
        match futures::future::select(policies, first).await {
            Either::Left((pol, first)) => {
                let pol = pol?;
                (pol, first.await?)
            }
            Either::Right((first, pol)) => {
                let pol = pol.await?;
                (pol, first?)
            }
        }
    };
    timings.policy_load_ms = load_ms;
    timings.subsolve_ms += sub_ms;
    pol.decider.client_contexts = contexts;
    let p = prepared(o.opts, o.main, forwarded, pol);
    Ok((p, records, Some(sub)))
}

fn prepared<'a>(
    opts: Options,
    main: MainContext,
    forwarded: BTreeMap<String, String>,
    pol: Policies<'a>,
) -> Prepared<'a> {
    Prepared {
        opts,
        main,
        forwarded,
        decider: pol.decider,
        caps: pol.caps,
        load_vertex: pol.load_vertex,
        trust_root: pol.trust_root,
    }
}

/// Stage "options -> policies": the policies read and compiled, and their caps pre-pass.
async fn load_policies<'a>(bridge: &'a Bridge, o: &Opened) -> Result<Policies<'a>> {
    let setup = setup::policies(bridge, &o.opts, &o.main.places).await?;
    let mut decider = Decider {
        bridge,
        env: input::env(&o.forwarded),
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
    Ok(Policies {
        decider,
        caps,
        load_vertex: setup.load_vertex,
        trust_root: setup.trust_root,
    })
}

/// What the Dockerfile and the policies were read from is decided first, then the frontend
/// images. Returns the records and the pinned `dockerfile-frontend` image the Dockerfile
/// frontend runs as.
async fn decide_inputs(
    o: &Opened,
    decider: &mut Decider<'_>,
) -> Result<(Vec<SourceRecord>, Option<String>)> {
    let mut records = o.main.decide(decider).await?;
    check_denials(&records, o.opts.policy_mode)?;
    let (images, df) = frontend_images(o, decider).await?;
    records.extend(images);
    check_denials(&records, o.opts.policy_mode)?;
    Ok((records, df))
}

/// The frontend images are sources too. This one is already running, but it refuses to go
/// on if the policy denies it; the Dockerfile frontend it calls (the `dockerfile-frontend`
/// option, or the Dockerfile's `syntax` line) is decided and pinned before it runs.
async fn frontend_images(
    o: &Opened,
    decider: &mut Decider<'_>,
) -> Result<(Vec<SourceRecord>, Option<String>)> {
    let mut records = Vec::new();
    if let Some(own) = o
        .opts
        .all
        .get(OPT_SOURCE)
        .filter(|_| !decider.policies.is_empty())
    {
        records.push(decider.frontend_image(own, "frontend image").await?);
    }
    let mut pinned = None;
    if let Some(df) = &o.opts.dockerfile_frontend {
        let rec = decider
            .frontend_image(df, "dockerfile-frontend")
            .await
            .map_err(|e| match &o.syntax {
                Some(s) => s.locate(e),
                None => e,
            })?;
        pinned = Some(rec.pinned.trim_start_matches("docker-image://").to_string());
        records.push(rec);
    }
    Ok((records, pinned))
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
