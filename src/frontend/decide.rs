//! Stage "verdicts": the policies applied to resolved sources, with Buildx's loop of
//! metadata requests (checksums for PGP signatures) and `pin_image` conversions.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::gateway::Bridge;
use crate::graph::SourceUpdate;
use crate::model::{Facts, Fetched, Needs, Role, SourceRecord, Verdict, platform_string};
use crate::policy::needs::{self, FetchModel};
use crate::policy::{self, Decision, PolicySet, input};
use crate::proto::pb;
use crate::resolve::{self, Resolution};
use crate::sources::{ImageRef, Source};
use crate::verify::image::ImageVerifier;

/// A `pin_image` may lead to another: BuildKit allows 20 conversions, Buildx 10.
const MAX_CONVERSIONS: usize = 10;
/// Distinct signature checksums one source may ask BuildKit for.
const MAX_CHECKSUM_REQUESTS: usize = 8;

/// Applies the policies to resolved sources.
pub struct Decider<'a> {
    pub bridge: &'a Bridge,
    pub policies: PolicySet,
    pub env: Value,
    pub needs: Needs,
    /// Present when a policy reads image signatures.
    pub images: Option<ImageVerifier>,
    /// Per policy, what Buildx would fetch for it: each document holds only that.
    pub models: Vec<FetchModel>,
    /// The client's image named contexts pinned before the Dockerfile frontend read them:
    /// pinned identifier to the identifier as the client gave it.
    pub client_contexts: BTreeMap<String, String>,
}

/// The forms of an image reference Buildx decides, in its order.
#[derive(Debug, Clone, Default)]
pub struct Forms {
    /// `name:tag`, decided first when the Dockerfile frontend resolved the tag (BuildKit
    /// asks about what it resolves before the graph names the digest).
    pub tag: Option<pb::SourceOp>,
    /// Whether the graph's own form is decided too (not for a client's named context,
    /// whose graph form Buildx never sees).
    pub graph: bool,
}

impl Forms {
    pub fn graph_only() -> Self {
        Forms {
            tag: None,
            graph: true,
        }
    }
}

/// A decided source: its final op (after any `pin_image` conversion) and the update that
/// pins it in the graph.
pub struct Decided {
    pub record: SourceRecord,
    pub update: Option<SourceUpdate>,
    /// Set when `pin_image` replaced the image by another digest: the build must use that
    /// image whole (its config too), not only its layers.
    pub converted: Option<String>,
}

/// Where one source stands in the decision loop.
struct Attempt {
    op: pb::SourceOp,
    res: Resolution,
    http_checksums: Vec<(crate::verify::pgp::ChecksumRequest, String)>,
    /// The input document's object for the source, as the policy last saw it.
    facts: Value,
    signatures_rejected: Vec<String>,
    attestation_manifest: Option<String>,
}

impl Attempt {
    fn new(op: &pb::SourceOp, res: Resolution) -> Self {
        Attempt {
            op: op.clone(),
            res,
            http_checksums: Vec::new(),
            facts: Value::Null,
            signatures_rejected: Vec::new(),
            attestation_manifest: None,
        }
    }
}

/// What one evaluation asked for.
enum Step {
    Decided(Option<Decision>),
    /// Evaluate again with the checksum fetched.
    Checksum,
    /// Evaluate the converted image.
    Converted,
}

impl Decider<'_> {
    pub async fn decide(
        &mut self,
        original: &pb::SourceOp,
        platform: Option<&pb::Platform>,
        location: Option<String>,
        res: Resolution,
        role: Role,
    ) -> Result<Decided> {
        self.decide_forms(original, platform, location, res, role, Forms::graph_only())
            .await
    }

    /// Decides the source in each of `forms`: a denial of the first stops there, and a
    /// conversion by the tag form is decided as Buildx decides it (the converted reference).
    pub async fn decide_forms(
        &mut self,
        original: &pb::SourceOp,
        platform: Option<&pb::Platform>,
        location: Option<String>,
        res: Resolution,
        role: Role,
        forms: Forms,
    ) -> Result<Decided> {
        if let Some(tag_op) = forms.tag.as_ref().filter(|_| !self.policies.is_empty())
            && let Source::Image(r) = &res.source
        {
            let tag_res = Resolution {
                source: Source::Image(r.without_digest()),
                ..res.clone()
            };
            let mut at = Attempt::new(tag_op, tag_res);
            let d = self
                .run(&mut at, original, platform, location.as_ref())
                .await?;
            let converted = at.op.identifier != tag_op.identifier;
            let denied = d.as_ref().is_some_and(|d| !d.allow);
            if denied || converted || !forms.graph {
                if !converted {
                    at.op = original.clone();
                }
                return Ok(decided(original, platform, location, at, d, role));
            }
        }
        let mut at = Attempt::new(original, res);
        let d = self
            .run(&mut at, original, platform, location.as_ref())
            .await?;
        Ok(decided(original, platform, location, at, d, role))
    }

    /// Buildx's loop for one source: evaluate, fetch a checksum a signature needs, follow a
    /// `pin_image` conversion, until it is decided.
    async fn run(
        &mut self,
        at: &mut Attempt,
        original: &pb::SourceOp,
        platform: Option<&pb::Platform>,
        location: Option<&String>,
    ) -> Result<Option<Decision>> {
        let mut conversions = 0;
        loop {
            match self.step(at, platform, location).await? {
                Step::Decided(d) => return Ok(d),
                Step::Checksum => continue,
                Step::Converted => {
                    conversions += 1;
                    if conversions > MAX_CONVERSIONS {
                        return Err(Error::Policy {
                            file: self.policies.names().join(", "),
                            message: format!(
                                "more than {MAX_CONVERSIONS} pin_image conversions for {}",
                                original.identifier
                            ),
                        });
                    }
                }
            }
        }
    }

    /// One evaluation of the source as it stands.
    async fn step(
        &mut self,
        at: &mut Attempt,
        platform: Option<&pb::Platform>,
        location: Option<&String>,
    ) -> Result<Step> {
        let id = at.op.identifier.clone();
        if self.policies.is_empty() {
            // Nothing decides; the report still shows what the source is.
            self.document(at, platform, Fetched::all())
                .map_err(|e| e.at(location))?;
            return Ok(Step::Decided(None));
        }
        let d = self.evaluate(at, platform).map_err(|e| e.at(location))?;
        if let Some(req) = &d.wanted_checksum {
            self.fetch_checksum(at, platform, req, &d.policy)
                .await
                .map_err(|e| e.at(location))?;
            return Ok(Step::Checksum);
        }
        for line in &d.prints {
            crate::daemon_log!("print {line}");
        }
        // A builtin error made its call undefined and the evaluation went on, as in OPA:
        // the user sees it, since it may be why a source was denied.
        for w in &d.warnings {
            let line = format!("[verified-frontend] policy warning for {id}: {w}");
            self.bridge.warn(&line).await;
        }
        // Buildx ignores a pin to the checksum the policy saw.
        let seen = at.facts["checksum"].as_str().map(str::to_string);
        match (&d.pin, &at.res.source) {
            (None, _) => Ok(Step::Decided(Some(d))),
            (Some(digest), Source::Image(r))
                if r.digest.as_deref() == Some(digest) || seen.as_deref() == Some(digest) =>
            {
                Ok(Step::Decided(Some(Decision { pin: None, ..d })))
            }
            (Some(digest), Source::Image(r)) => {
                // CONVERT, as BuildKit applies it: the pinned source is a new source,
                // resolved and decided again.
                at.op.identifier = format!("docker-image://{}", r.with_digest(digest));
                at.res = resolve::resolve(self.bridge, &at.op, platform, self.needs)
                    .await
                    .map_err(|e| e.at(location))?;
                at.http_checksums.clear();
                Ok(Step::Converted)
            }
            (Some(_), _) => Err(Error::Policy {
                file: d.policy,
                message: format!("pin_image used for {id}, which is not an image"),
            }),
        }
    }

    /// The decision on the document Buildx would have (the metadata its partial evaluation
    /// fetches), which must also allow on every document it might have had instead where
    /// that cannot be told: the frontend may deny more than Buildx, never less.
    fn evaluate(&mut self, at: &mut Attempt, platform: Option<&pb::Platform>) -> Result<Decision> {
        let raw = raw_objects(at);
        let id = at.op.identifier.clone();
        // The primary document is the one the fetch model built last: it is decided as it
        // is, its signatures checked once.
        let mut checked = None;
        let fetches = {
            let Decider {
                models,
                env,
                images,
                ..
            } = self;
            let kind = kind_of(&at.res.source);
            needs::fetches(models, kind, &mut |f| {
                let (doc, c) = source_document(env, images.as_mut(), at, platform, f)?;
                checked = c;
                Ok(doc)
            })
            .map_err(|e| Error::source(&id, e))?
        };
        let d = self.policies.evaluate_with(&fetches.doc, &raw)?;
        record_seen(at, fetches.primary, fetches.doc, checked);
        if !d.allow || d.wanted_checksum.is_some() {
            return Ok(d);
        }
        for f in fetches.alternatives {
            let (alt, _) = source_document(&self.env, self.images.as_mut(), at, platform, f)
                .map_err(|e| Error::source(&id, e))?;
            let a = self.policies.evaluate_with(&alt, &raw)?;
            if !a.allow {
                crate::daemon_log!(
                    "{id}: denied on metadata Buildx may have fetched for its policy evaluation (its partial evaluation cannot be told apart here)"
                );
                return Ok(Decision {
                    allow: false,
                    pin: None,
                    prints: d.prints,
                    wanted_checksum: None,
                    ..a
                });
            }
        }
        Ok(d)
    }

    /// The policy input for the source holding `fetched`, with its image signatures
    /// verified; recorded as what the policy saw.
    fn document(
        &mut self,
        at: &mut Attempt,
        platform: Option<&pb::Platform>,
        fetched: Fetched,
    ) -> Result<()> {
        let id = at.op.identifier.clone();
        let (doc, checked) =
            source_document(&self.env, self.images.as_mut(), at, platform, fetched)
                .map_err(|e| Error::source(&id, e))?;
        record_seen(at, fetched, doc, checked);
        Ok(())
    }

    /// verify_http_pgp_signature needs BuildKit's checksum with the signature's suffix;
    /// asked once per distinct request, then the source is decided again.
    async fn fetch_checksum(
        &self,
        at: &mut Attempt,
        platform: Option<&pb::Platform>,
        req: &crate::verify::pgp::ChecksumRequest,
        policy: &str,
    ) -> Result<()> {
        if at.http_checksums.len() >= MAX_CHECKSUM_REQUESTS
            || at.http_checksums.iter().any(|(r, _)| r == req)
        {
            return Err(Error::Policy {
                file: policy.to_string(),
                message: format!(
                    "verify_http_pgp_signature asked for more checksums than {MAX_CHECKSUM_REQUESTS} for {}",
                    at.op.identifier
                ),
            });
        }
        let mut pinned = at.op.clone();
        if let Some(u) = &at.res.update {
            pinned.identifier = u.identifier.clone();
            pinned.attrs.extend(u.attrs.clone());
        }
        let digest = resolve::http_checksum(self.bridge, &pinned, platform, req).await?;
        at.http_checksums.push((req.clone(), digest));
        Ok(())
    }

    /// Decides a frontend image (this one, or the Dockerfile frontend it calls). Returns
    /// the record; its `pinned` reference is what the build may run.
    pub async fn frontend_image(
        &mut self,
        reference: &str,
        role_label: &str,
    ) -> Result<SourceRecord> {
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
            .decide(&op, platform.as_ref(), location, res, Role::Frontend)
            .await?
            .record)
    }
}

/// The input object a source's kind has.
fn kind_of(source: &Source) -> &'static str {
    match source {
        Source::Image(_) | Source::OciLayout(_) | Source::Blob { .. } => "image",
        Source::Git { .. } => "git",
        Source::Http { .. } => "http",
        Source::Local { .. } => "local",
    }
}

/// The raw objects the signature builtins verify.
fn raw_objects(at: &Attempt) -> policy::RawObjects {
    match &at.res.facts {
        Facts::Git {
            commit_object,
            tag_object,
            ..
        } => policy::RawObjects {
            git_commit: commit_object.clone(),
            git_tag: tag_object.clone(),
            ..Default::default()
        },
        _ => policy::RawObjects {
            http_checksums: at.http_checksums.clone(),
            ..Default::default()
        },
    }
}

/// The document of the source holding `fetched`, its image signatures verified when the
/// attestation chain is among it (only verified ones appear; none is absent).
fn source_document(
    env: &Value,
    images: Option<&mut ImageVerifier>,
    at: &Attempt,
    platform: Option<&pb::Platform>,
    fetched: Fetched,
) -> std::result::Result<(Value, Option<crate::verify::image::Checked>), String> {
    let mut doc = input::document_with(
        env,
        &at.res.source,
        &at.op,
        platform,
        Some(&at.res.facts),
        fetched,
    )?;
    let mut checked = None;
    if let (
        Facts::Image {
            chain: Some(chain), ..
        },
        Some(images),
    ) = (&at.res.facts, images)
        && fetched.chain()
    {
        // Signatures are verified here rather than while resolving: one verifier (trust
        // roots, cache) serves every source of the build.
        let c = images.check(chain)?;
        if !c.signatures.is_empty() {
            doc["image"]["signatures"] = Value::Array(c.signatures.clone());
        }
        checked = Some(c);
    }
    Ok((doc, checked))
}

/// Records `doc`, the document holding `fetched`, as what the policy saw of the source.
fn record_seen(
    at: &mut Attempt,
    fetched: Fetched,
    doc: Value,
    checked: Option<crate::verify::image::Checked>,
) {
    at.attestation_manifest = None;
    at.signatures_rejected = Vec::new();
    if let Facts::Image {
        chain: Some(chain), ..
    } = &at.res.facts
        && fetched.chain()
        && !chain.attestation_manifest.is_empty()
    {
        at.attestation_manifest = Some(chain.attestation_manifest.clone());
    }
    if let Some(c) = checked {
        at.signatures_rejected = c.rejected;
    }
    at.facts = match doc {
        Value::Object(o) => o
            .into_iter()
            .find(|(k, _)| k != "env")
            .map(|(_, v)| v)
            .unwrap_or(Value::Null),
        _ => Value::Null,
    };
}

fn decided(
    original: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    location: Option<String>,
    at: Attempt,
    decision: Option<Decision>,
    role: Role,
) -> Decided {
    let converted = (at.op.identifier != original.identifier).then(|| at.op.identifier.clone());
    let update = match (at.res.update.clone(), &converted) {
        (Some(u), _) => Some(u),
        (None, Some(identifier)) => Some(SourceUpdate {
            identifier: identifier.clone(),
            attrs: BTreeMap::new(),
            caps: vec![],
        }),
        (None, None) => None,
    };
    let pinned = update
        .as_ref()
        .map_or(original.identifier.clone(), |u| u.identifier.clone());
    let (verdict, policy, deny_msg) = match decision {
        None => (Verdict::NoPolicy, String::new(), vec![]),
        Some(d) if d.allow => (Verdict::Allow, d.policy, d.deny_msg),
        Some(d) => (Verdict::Deny, d.policy, d.deny_msg),
    };
    Decided {
        record: SourceRecord {
            role,
            kind: at.res.source.kind(),
            original: original.identifier.clone(),
            pinned,
            pin_attrs: update.as_ref().map(|u| u.attrs.clone()).unwrap_or_default(),
            resolved: at.res.facts.resolved().to_string(),
            platforms: platform.map(platform_string).into_iter().collect(),
            location,
            decision: verdict,
            policy,
            deny_msg,
            signatures_rejected: at.signatures_rejected,
            attestation_manifest: at.attestation_manifest,
            facts: at.facts,
        },
        update,
        converted,
    }
}
