//! One verified build, start to finish:
//! options -> policies -> Dockerfile frontend's graph -> sources -> resolutions -> policy
//! verdicts -> rewritten (pinned) graph -> solved result, returned with the Dockerfile
//! frontend's metadata.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use serde::Serialize;
use serde_json::Value;

use crate::attest::{self, SourceRecord};
use crate::error::{Error, Result};
use crate::gateway::{Bridge, Options, SubResult};
use crate::graph::{self, Parsed, SourceUpdate};
use crate::policy::{self, Decision, Mode, Needs, PolicySet, input};
use crate::proto::{gw, pb};
use crate::resolve::{self, Resolution};
use crate::sources::{ImageRef, Source};
use crate::verify::bundle::Root;
use crate::verify::image::ImageVerifier;

/// Result metadata keys this frontend adds next to the Dockerfile frontend's own.
pub const META_SOURCES: &str = "verified-frontend.sources";
pub const META_TIMINGS: &str = "verified-frontend.timings";

/// A `pin_image` may lead to another: BuildKit allows 20 conversions, Buildx 10.
const MAX_CONVERSIONS: usize = 10;
/// Distinct signature checksums one source may ask BuildKit for.
const MAX_CHECKSUM_REQUESTS: usize = 8;

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

/// Identity of a source for resolution: the same op on the same platform resolves once,
/// however many stages or platforms use it.
type SourceKey = (String, BTreeMap<String, String>, Option<String>);

/// A source to resolve: the op as written, its platform, and where the user wrote it.
struct Wanted {
    op: pb::SourceOp,
    platform: Option<pb::Platform>,
    location: Option<String>,
    /// Where in the Dockerfile, for warnings with a snippet.
    range: Option<(pb::SourceInfo, Vec<pb::Range>)>,
}

fn source_key(node: &graph::OpNode, op: &pb::SourceOp) -> SourceKey {
    (
        op.identifier.clone(),
        op.attrs.clone(),
        node.platform.as_ref().map(input::platform_string),
    )
}

/// Applies the policies to resolved sources.
struct Decider<'a> {
    bridge: &'a Bridge,
    policies: PolicySet,
    env: Value,
    needs: Needs,
    /// Present when a policy reads image signatures.
    images: Option<ImageVerifier>,
}

/// A decided source: its final op (after any `pin_image` conversion) and the update that
/// pins it in the graph.
struct Verdict {
    record: SourceRecord,
    update: Option<SourceUpdate>,
}

impl Decider<'_> {
    async fn decide(
        &mut self,
        original: &pb::SourceOp,
        platform: Option<&pb::Platform>,
        location: Option<String>,
        mut res: Resolution,
        role: &'static str,
    ) -> Result<Verdict> {
        let id = original.identifier.as_str();
        let mut op = original.clone();
        let mut decision: Option<Decision> = None;
        let mut facts = Value::Null;
        let mut http_checksums = Vec::new();
        let mut signatures_rejected = Vec::new();
        let mut attestation_manifest = None;
        let mut conversions = 0;
        while conversions <= MAX_CONVERSIONS {
            let mut doc = input::document(&self.env, &res.source, &op, platform, Some(&res.facts))
                .map_err(|e| Error::source(id, e).at(location.as_ref()))?;
            attestation_manifest = None;
            if let crate::resolve::Facts::Image {
                chain: Some(chain), ..
            } = &res.facts
            {
                if !chain.attestation_manifest.is_empty() {
                    attestation_manifest = Some(chain.attestation_manifest.clone());
                }
                // Signatures are verified here rather than while resolving: one verifier
                // (trust roots, cache) serves every source of the build.
                if let Some(images) = self.images.as_mut() {
                    let checked = images
                        .check(chain)
                        .map_err(|e| Error::source(&op.identifier, e).at(location.as_ref()))?;
                    doc["image"]["signatures"] = Value::Array(checked.signatures);
                    signatures_rejected = checked.rejected;
                }
            }
            facts = doc
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| *k != "env"))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null);
            if self.policies.is_empty() {
                break;
            }
            let raw = match &res.facts {
                crate::resolve::Facts::Git {
                    commit_object,
                    tag_object,
                    ..
                } => policy::RawObjects {
                    git_commit: commit_object.clone(),
                    git_tag: tag_object.clone(),
                    ..Default::default()
                },
                _ => policy::RawObjects {
                    http_checksums: http_checksums.clone(),
                    ..Default::default()
                },
            };
            let d = self.policies.evaluate_with(&doc, &raw)?;
            if let Some(req) = &d.wanted_checksum {
                // verify_http_pgp_signature needs BuildKit's checksum with the signature's
                // suffix; ask once per distinct request, then decide again.
                if http_checksums.len() >= MAX_CHECKSUM_REQUESTS
                    || http_checksums.iter().any(|(r, _)| r == req)
                {
                    return Err(Error::Policy {
                        file: d.policy,
                        message: format!(
                            "verify_http_pgp_signature asked for more checksums than {MAX_CHECKSUM_REQUESTS} for {id}"
                        ),
                    });
                }
                let mut pinned = op.clone();
                if let Some(u) = &res.update {
                    pinned.identifier = u.identifier.clone();
                    pinned.attrs.extend(u.attrs.clone());
                }
                let digest = resolve::http_checksum(self.bridge, &pinned, platform, req)
                    .await
                    .map_err(|e| e.at(location.as_ref()))?;
                http_checksums.push((req.clone(), digest));
                continue;
            }
            for line in &d.prints {
                eprintln!("verified-frontend: print {line}");
            }
            conversions += 1;
            match (&d.pin, &res.source) {
                (None, _) => {
                    decision = Some(d);
                    break;
                }
                (Some(digest), Source::Image(r)) if r.digest.as_deref() == Some(digest) => {
                    decision = Some(Decision { pin: None, ..d });
                    break;
                }
                (Some(digest), Source::Image(r)) => {
                    // CONVERT, as BuildKit applies it: the pinned source is a new source,
                    // resolved and decided again.
                    op.identifier = format!("docker-image://{}", r.with_digest(digest));
                    res = resolve::resolve(self.bridge, &op, platform, self.needs)
                        .await
                        .map_err(|e| e.at(location.as_ref()))?;
                }
                (Some(_), _) => {
                    return Err(Error::Policy {
                        file: d.policy,
                        message: format!("pin_image used for {id}, which is not an image"),
                    });
                }
            }
        }
        if !self.policies.is_empty() && decision.is_none() {
            return Err(Error::Policy {
                file: self.policies.names().join(", "),
                message: format!("more than {MAX_CONVERSIONS} pin_image conversions for {id}"),
            });
        }
        let converted = op.identifier != original.identifier;
        let update = match (res.update.clone(), converted) {
            (Some(u), _) => Some(u),
            (None, true) => Some(SourceUpdate {
                identifier: op.identifier.clone(),
                attrs: BTreeMap::new(),
                caps: vec![],
            }),
            (None, false) => None,
        };
        let pinned = update
            .as_ref()
            .map_or(original.identifier.clone(), |u| u.identifier.clone());
        let (decision_word, policy, deny_msg) = match decision {
            None => ("none", String::new(), vec![]),
            Some(d) => (if d.allow { "allow" } else { "deny" }, d.policy, d.deny_msg),
        };
        Ok(Verdict {
            record: SourceRecord {
                role,
                kind: res.source.kind(),
                original: original.identifier.clone(),
                pinned,
                pin_attrs: update.as_ref().map(|u| u.attrs.clone()).unwrap_or_default(),
                resolved: res.facts.resolved().to_string(),
                platforms: platform.map(input::platform_string).into_iter().collect(),
                location,
                decision: decision_word,
                policy,
                deny_msg,
                signatures_rejected,
                attestation_manifest,
                facts,
            },
            update,
        })
    }

    /// Decides a frontend image (this one, or the Dockerfile frontend it calls). Returns
    /// the record; its `pinned` reference is what the build may run.
    async fn frontend_image(&mut self, reference: &str, role_label: &str) -> Result<SourceRecord> {
        let r = ImageRef::normalize(reference)
            .map_err(|e| Error::option(role_label, format!("{reference:?}: {e}")))?;
        let op = pb::SourceOp {
            identifier: format!("docker-image://{r}"),
            attrs: BTreeMap::new(),
        };
        let platform = self.bridge.worker_platform.clone();
        let res = resolve::resolve(self.bridge, &op, platform.as_ref(), self.needs).await?;
        let location = Some(format!("{role_label} {reference}"));
        Ok(self
            .decide(&op, platform.as_ref(), location, res, "frontend")
            .await?
            .record)
    }
}

pub async fn build(bridge: &Bridge, opts: &Options, started: Instant) -> Result<gw::Result> {
    let mut timings = Timings {
        start_ms: ms(started.elapsed()),
        ..Default::default()
    };

    // Policies are read and compiled before anything else is resolved: a broken policy
    // fails the build at once.
    let t = Instant::now();
    let (mut policies, load_vertex) = match opts.policy_mode {
        Mode::Off => (PolicySet::compile(vec![])?, String::new()),
        Mode::Enforce | Mode::Warn | Mode::ReportOnly => {
            let (sources, vertex) = policy::load(bridge, opts).await?;
            (PolicySet::compile(sources)?, vertex)
        }
    };
    let mut forwarded = opts.forwarded();
    let needs = if policies.is_empty() {
        Needs::default()
    } else {
        policies.needs()
    };
    // The trust roots signatures are checked against, and how the attestations name them.
    let mut trust_root = None;
    let images = if needs.image_attestations || opts.trusted_root.is_some() {
        let roots = match &opts.trusted_root {
            Some(path) => {
                let named = opts.trusted_root_context.as_deref();
                let data = policy::load::context_file(bridge, opts, path, named).await?;
                let uri = match named {
                    None => format!("context:{path}"),
                    Some(n) => format!("named-context:{n}:{path}"),
                };
                trust_root = Some(attest::TrustRoot::file(uri, &data));
                let text = String::from_utf8(data)
                    .map_err(|_| Error::option("trusted-root", format!("{path} is not text")))?;
                let roots: Arc<[Root]> = vec![
                    Root::from_json(path, &text).map_err(|e| Error::option("trusted-root", e))?,
                ]
                .into();
                // The build's own root replaces the embedded ones for downloads too.
                policies.set_trust_roots(roots.clone());
                roots
            }
            None => {
                trust_root = Some(attest::TrustRoot::embedded());
                Root::embedded()
                    .map_err(|e| Error::option("trusted-root", e))?
                    .into()
            }
        };
        needs.image_attestations.then(|| ImageVerifier::new(roots))
    } else {
        None
    };
    let mut decider = Decider {
        bridge,
        env: input::env(&forwarded),
        policies,
        needs,
        images,
    };
    let mut records: Vec<SourceRecord> = Vec::new();

    // The frontend images are sources too. This one is already running, but it refuses to
    // go on if the policy denies it; the Dockerfile frontend it calls is decided and pinned
    // before it runs.
    if let Some(own) = opts
        .all
        .get(crate::gateway::options::OPT_SOURCE)
        .filter(|_| !decider.policies.is_empty())
    {
        records.push(decider.frontend_image(own, "frontend image").await?);
    }
    if let Some(df) = &opts.dockerfile_frontend {
        let rec = decider.frontend_image(df, "dockerfile-frontend").await?;
        let pinned = rec.pinned.trim_start_matches("docker-image://").to_string();
        forwarded.insert(crate::gateway::options::OPT_SOURCE.into(), pinned);
        records.push(rec);
    }
    check_denials(&records, opts.policy_mode)?;
    timings.policy_load_ms = ms(t.elapsed());

    let t = Instant::now();
    let inputs = bridge.inputs().await?;
    let frontend = if opts.dockerfile_frontend.is_some() {
        "gateway.v0"
    } else {
        "dockerfile.v0"
    };
    let sub = bridge.solve_frontend(frontend, forwarded, inputs).await?;
    timings.subsolve_ms = ms(t.elapsed());

    // Every op of every returned definition is parsed before anything is resolved, so a
    // graph this frontend cannot verify fails the build before any network traffic.
    let t = Instant::now();
    let mut graphs: Vec<(Option<String>, Parsed)> = Vec::new();
    let mut lines: HashMap<String, String> = HashMap::new();
    let mut ranges = HashMap::new();
    for (key, r) in &sub.refs {
        // An empty def is an empty result (e.g. FROM scratch with no files): nothing to verify.
        if !r.def.is_empty() {
            let parsed = Parsed::new(&r.def)?;
            lines.extend(graph::source_lines(&parsed.def));
            ranges.extend(graph::source_ranges(&parsed.def));
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
                    range: p.graph.location(&node.digest, &ranges).cloned(),
                });
        }
    }
    let resolved: Vec<Resolution> = try_join_all(wanted.values().map(|w| async {
        resolve::resolve(bridge, &w.op, w.platform.as_ref(), needs)
            .await
            .map_err(|e| e.at(w.location.as_ref()))
    }))
    .await?;
    timings.resolve_ms = ms(t.elapsed());

    let t = Instant::now();
    let mut updates_by_key: HashMap<&SourceKey, Option<SourceUpdate>> = HashMap::new();
    let mut build_records: Vec<SourceRecord> = Vec::new();
    let mut summaries = Vec::new();
    for ((key, w), res) in wanted.iter().zip(resolved) {
        let v = decider
            .decide(&w.op, w.platform.as_ref(), w.location.clone(), res, "build")
            .await?;
        updates_by_key.insert(key, v.update);
        summaries.push((w, v.record.summary()));
        build_records.push(v.record);
    }
    timings.evaluate_ms = ms(t.elapsed());
    // The frontend images were checked above; only the build's sources are new here.
    let build_records = merge_platforms(build_records);
    check_denials(&build_records, opts.policy_mode)?;
    // One line per source in the client's output, at its Dockerfile line. Report-only
    // builds say nothing beyond the report; a build without policy has nothing to say.
    if matches!(opts.policy_mode, Mode::Enforce | Mode::Warn) && !decider.policies.is_empty() {
        let mut seen = std::collections::HashSet::new();
        for (w, line) in summaries {
            if seen.insert(line.clone()) {
                let (info, ranges) = w
                    .range
                    .clone()
                    .map_or((None, vec![]), |(i, r)| (Some(i), r));
                bridge
                    .warn_at(load_vertex.clone(), &line, vec![], info, ranges)
                    .await;
            }
        }
    }
    records.extend(build_records);

    let t = Instant::now();
    let mut pinned_defs: BTreeMap<Option<String>, Vec<u8>> = BTreeMap::new();
    for (key, p) in &graphs {
        let updates: HashMap<String, SourceUpdate> = p
            .graph
            .sources()
            .filter_map(|(node, op)| {
                updates_by_key[&source_key(node, op)]
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

    let policy_names: Vec<&str> = decider.policies.names();
    // stderr goes to buildkitd's log: one JSON line per build for operators (and the tests).
    eprintln!(
        "verified-frontend: report {}",
        serde_json::json!({"policies": &policy_names, "sources": &records, "timings": &timings})
    );
    let report = serde_json::json!({"policies": policy_names, "sources": &records});
    let digests = decider.policies.digests();
    let facts = attest::BuildFacts {
        policies: &digests,
        mode: opts.policy_mode.as_str(),
        time: jiff::Timestamp::now().to_string(),
        dockerfile: opts
            .all
            .get("filename")
            .map_or("Dockerfile", String::as_str),
        records: &records,
        trust_root: trust_root.as_ref(),
    };
    let statements = attest::attestations(bridge, &sub, &refs, &facts).await?;
    let mut result = assemble(sub, refs, &report, &timings);
    match statements {
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
