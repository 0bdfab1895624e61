//! Stages "sub-solve -> graph -> sources -> facts -> verdicts -> rewrite": one run of the
//! Dockerfile frontend, its graph decided and pinned, repeated with the converted images
//! as named contexts until no `pin_image` conversion is left.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::contexts;
use super::decide::{Decider, Forms};
use super::graphs::{
    Graphs, Slot, SourceKey, SourceRange, digest_added_by_frontend, source_key, written_with_digest,
};
use super::producer;
use super::{Timings, ms};
use crate::error::{Error, Result};
use crate::gateway::{Bridge, SubResult};
use crate::graph::{self, SourceUpdate};
use crate::model::{Role, SourceRecord};
use crate::proto::pb;
use crate::resolve::{self, Resolution};
use crate::sources::{ImageRef, Source};

/// How often the Dockerfile frontend may be run again to hand it converted images.
const MAX_ROUNDS: usize = 4;
/// Sources resolved at once: enough to hide the registry's round trips, few enough not to
/// queue hundreds of requests in buildkitd at a time.
const IN_FLIGHT: usize = 16;
/// The Dockerfile frontend built into buildkitd.
pub(super) const BUILTIN_FRONTEND: &str = "dockerfile.v0";

/// What one run of the Dockerfile frontend gave, decided and pinned.
pub struct Round {
    pub sub: SubResult,
    pub records: Vec<SourceRecord>,
    pub summaries: Vec<(Option<SourceRange>, String)>,
    /// Every definition of the result, rewritten to its pins.
    pub pinned: BTreeMap<Slot, Vec<u8>>,
    /// Image sources (identifier in the graph) and the image the next run must be handed
    /// for it: its `pin_image` conversion, or its pin when the graph has no digest.
    images: Vec<(String, Option<String>)>,
    /// Converted sources only the attestation graphs (the SBOM generator) use.
    converted_attestation_only: Vec<String>,
    /// Whether a RUN step of any graph may use the network.
    pub networked_exec: bool,
}

/// What every run of the Dockerfile frontend is given.
pub struct Request<'a> {
    /// `dockerfile.v0`, or `gateway.v0` for a `dockerfile-frontend` image.
    pub frontend: &'a str,
    pub forwarded: &'a BTreeMap<String, String>,
    pub inputs: &'a BTreeMap<String, Vec<u8>>,
}

/// Runs the Dockerfile frontend and decides its graph, again with the converted images as
/// named contexts until no conversion is left, so every image is used whole as decided.
/// `first`: the first run's result when it ran beside the policies' loading, given
/// `req.forwarded` and `req.inputs`.
pub async fn decide_rounds(
    bridge: &Bridge,
    decider: &mut Decider<'_>,
    req: Request<'_>,
    mut first: Option<SubResult>,
    timings: &mut Timings,
) -> Result<Round> {
    let mut handed: BTreeMap<String, String> = BTreeMap::new();
    // Converted identifier -> the identifier first decided, for the report.
    let mut origins: HashMap<String, String> = HashMap::new();
    for _ in 0..MAX_ROUNDS {
        let mut fwd = req.forwarded.clone();
        fwd.extend(handed.clone());
        let run = Run {
            frontend: req.frontend,
            forwarded: fwd.clone(),
            inputs: req.inputs,
            done: first.take(),
        };
        let mut round = run_round(bridge, decider, run, timings).await?;
        for r in &mut round.records {
            if let Some(first) = origins.get(&r.original) {
                r.original = first.clone();
            }
        }
        let Some(next) = next_contexts(&round, &fwd, &handed)? else {
            return Ok(round);
        };
        for (id, c) in round
            .images
            .iter()
            .filter_map(|(id, c)| Some((id, c.as_ref()?)))
        {
            let first = origins.get(id).cloned().unwrap_or_else(|| id.clone());
            origins.insert(c.clone(), first);
        }
        handed.extend(next);
    }
    Err(Error::Other(format!(
        "pin_image conversions did not settle after {MAX_ROUNDS} runs of the Dockerfile frontend"
    )))
}

/// The named contexts the next run must be given for the round's conversions; `None` when
/// nothing was converted, so the round is final.
fn next_contexts(
    round: &Round,
    forwarded: &BTreeMap<String, String>,
    handed: &BTreeMap<String, String>,
) -> Result<Option<BTreeMap<String, String>>> {
    if let Some(id) = round.converted_attestation_only.first() {
        return Err(Error::source(
            id,
            "pin_image converted an image only the attestation graphs use (the SBOM generator), whose config the Dockerfile frontend has already read; name that image by digest instead",
        ));
    }
    let Some((first_id, _)) = round.images.iter().find(|(_, c)| c.is_some()) else {
        return Ok(None);
    };
    let uses: Vec<contexts::ImageUse> = round
        .images
        .iter()
        .map(|(id, c)| contexts::ImageUse {
            identifier: id,
            converted: c.as_deref(),
        })
        .collect();
    let next = contexts::for_conversions(&uses, forwarded);
    if next.iter().all(|(k, v)| handed.get(k) == Some(v)) {
        return Err(Error::source(
            first_id,
            "the Dockerfile frontend must be given this image as decided (converted by pin_image, or pinned from a named context given by tag), but not under a name it looks up, so its config would not match its layers; name the image by digest in the Dockerfile or the named context instead",
        ));
    }
    Ok(Some(next))
}

/// One run of the Dockerfile frontend.
struct Run<'a> {
    frontend: &'a str,
    forwarded: BTreeMap<String, String>,
    inputs: &'a BTreeMap<String, Vec<u8>>,
    /// Its result when it has already run.
    done: Option<SubResult>,
}

/// One run of the Dockerfile frontend: sub-solve -> graph -> sources -> facts -> verdicts
/// -> rewrite.
async fn run_round(
    bridge: &Bridge,
    decider: &mut Decider<'_>,
    run: Run<'_>,
    timings: &mut Timings,
) -> Result<Round> {
    let Run {
        frontend,
        forwarded,
        inputs,
        done,
    } = run;
    let sub = match done {
        Some(sub) => sub,
        None => {
            let t = Instant::now();
            let sub = bridge
                .solve_frontend(frontend, forwarded.clone(), inputs.clone())
                .await?;
            timings.subsolve_ms += ms(t.elapsed());
            sub
        }
    };

    let t = Instant::now();
    let graphs = Graphs::collect(&sub)?;
    let wanted = graphs.wanted();
    let builtin = frontend == BUILTIN_FRONTEND;
    let resolved = facts(bridge, &wanted, decider, &forwarded, builtin).await?;
    timings.resolve_ms += ms(t.elapsed());

    let t = Instant::now();
    let verdicts = verdicts(decider, &wanted, resolved, &forwarded).await?;
    timings.evaluate_ms += ms(t.elapsed());

    let t = Instant::now();
    let pinned = rewrite_all(&graphs, &verdicts.updates)?;
    timings.rewrite_ms += ms(t.elapsed());
    let networked_exec = graphs.has_networked_exec();
    Ok(Round {
        records: verdicts.records,
        summaries: verdicts.summaries,
        images: verdicts.images,
        converted_attestation_only: verdicts.converted_attestation_only,
        sub,
        pinned,
        networked_exec,
    })
}

/// Stage "facts": every distinct source resolved (and pinned), at most `IN_FLIGHT` at a
/// time, with the metadata the policies read and nothing the build already established.
async fn facts(
    bridge: &Bridge,
    wanted: &BTreeMap<SourceKey, super::graphs::Wanted>,
    decider: &Decider<'_>,
    forwarded: &BTreeMap<String, String>,
    builtin: bool,
) -> Result<Vec<Resolution>> {
    let needs = decider.needs;
    // Unordered: BuildKit answers calls about one git remote one at a time, in no set
    // order, and an answer held back for its turn would keep a slot from the next call.
    let mut resolved: Vec<(usize, Resolution)> =
        stream::iter(wanted.values().enumerate().map(|(i, w)| {
            let known = known(decider, w, forwarded, builtin);
            async move {
                resolve::resolve_known(bridge, &w.op, w.platform.as_ref(), needs, known)
                    .await
                    .map(|r| (i, r))
                    .map_err(|e| e.at(w.location.as_ref()))
            }
        }))
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    resolved.sort_by_key(|(i, _)| *i);
    Ok(resolved.into_iter().map(|(_, r)| r).collect())
}

/// What this build already established about a graph's source. The builtin Dockerfile
/// frontend runs inside buildkitd: a digest it added to a tag the Dockerfile names (its
/// source range shows the tag alone) is BuildKit's own resolution of that tag in this
/// build, so the tag is not resolved again to learn what it names. A Dockerfile frontend
/// image only claims that resolution, so its tags are checked.
fn known(
    decider: &Decider<'_>,
    w: &super::graphs::Wanted,
    forwarded: &BTreeMap<String, String>,
    builtin: bool,
) -> resolve::Known {
    let Ok(source) = Source::parse(&w.op) else {
        return resolve::Known::default();
    };
    let Source::Image(r) = &source else {
        return resolve::Known::default();
    };
    let f = forms(decider, w, &source, forwarded);
    resolve::Known {
        tag_resolved: builtin
            && f.tag.is_some()
            && f.graph
            && digest_added_by_frontend(w.range.as_ref(), r),
    }
}

/// A round's decided sources.
struct Verdicts<'k> {
    updates: HashMap<&'k SourceKey, SourceUpdate>,
    records: Vec<SourceRecord>,
    summaries: Vec<(Option<SourceRange>, String)>,
    images: Vec<(String, Option<String>)>,
    converted_attestation_only: Vec<String>,
}

/// Stage "verdicts": each resolved source decided by the policies, in the graph's order.
async fn verdicts<'k>(
    decider: &mut Decider<'_>,
    wanted: &'k BTreeMap<SourceKey, super::graphs::Wanted>,
    resolved: Vec<Resolution>,
    forwarded: &BTreeMap<String, String>,
) -> Result<Verdicts<'k>> {
    let mut out = Verdicts {
        updates: HashMap::new(),
        records: Vec::new(),
        summaries: Vec::new(),
        images: Vec::new(),
        converted_attestation_only: Vec::new(),
    };
    for ((key, w), res) in wanted.iter().zip(resolved) {
        let is_image = matches!(res.source, Source::Image(_));
        // A client's named context given by tag (left as written when it did not resolve
        // before the first run) reaches the graph without the digest whose config the
        // Dockerfile frontend read; it is handed back pinned, as a conversion is. Other
        // undigested images (an older Dockerfile frontend leaves `COPY --from=<image>` as a
        // tag, and reads no config for it) are pinned in the graph as they are.
        let undigested = match &res.source {
            Source::Image(r)
                if r.digest.is_none()
                    && !w.attestation_only
                    && contexts::names_client_context(&w.op.identifier, forwarded) =>
            {
                Some(res.pinned_identifier().to_string())
            }
            _ => None,
        };
        let forms = forms(decider, w, &res.source, forwarded);
        let v = decider
            .decide_forms(
                &w.op,
                w.platform.as_ref(),
                w.location.clone(),
                res,
                Role::Build,
                forms,
            )
            .await?;
        if is_image {
            let handed = v.converted.clone().or(undigested);
            out.images.push((w.op.identifier.clone(), handed));
        }
        if w.attestation_only && v.converted.is_some() {
            out.converted_attestation_only.push(w.op.identifier.clone());
        }
        if let Some(u) = v.update {
            out.updates.insert(key, u);
        }
        out.summaries.push((w.range.clone(), v.record.summary()));
        out.records.push(v.record);
    }
    Ok(out)
}

/// The forms of a graph's image Buildx decides: the reference the Dockerfile frontend
/// resolved (a tag), then the graph's (the tag with the digest it resolved); for a client's
/// named context the client's reference only; for a reference written with its digest, or
/// handed back as a converted image, the graph's only.
fn forms(
    decider: &Decider<'_>,
    w: &super::graphs::Wanted,
    source: &Source,
    forwarded: &BTreeMap<String, String>,
) -> Forms {
    let Source::Image(r) = source else {
        return Forms::graph_only();
    };
    let tag_op = |identifier: String| pb::SourceOp {
        identifier,
        attrs: w.op.attrs.clone(),
    };
    let normalized = |id: &str| {
        id.strip_prefix("docker-image://")
            .and_then(|r| ImageRef::normalize(r).ok())
    };
    let graph = normalized(&w.op.identifier);
    if let Some((_, given)) = decider
        .client_contexts
        .iter()
        .find(|(pinned, _)| graph.is_some() && normalized(pinned) == graph)
    {
        return Forms {
            tag: Some(tag_op(given.clone())),
            graph: false,
        };
    }
    let written = r.tag.is_none()
        || r.digest.is_none()
        || contexts::names_client_context(&w.op.identifier, forwarded)
        || written_with_digest(w.range.as_ref(), r);
    if written {
        return Forms::graph_only();
    }
    Forms {
        tag: Some(tag_op(format!("docker-image://{}", r.without_digest()))),
        graph: true,
    }
}

/// Stage "rewrite": every definition with its sources pinned. An unchanged definition is
/// re-solved too: BuildKit's provenance then records this frontend among the build's
/// dependencies, which it does not for the sub-frontend's own refs; its head is re-encoded
/// so that BuildKit attributes it to this frontend's request alone (`producer`).
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
            producer::distinct_head(p.raw)?
        } else {
            graph::rewrite(p, &by_node)?.0
        };
        pinned.insert(slot.clone(), out);
    }
    Ok(pinned)
}
