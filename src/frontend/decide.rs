//! Stage "verdicts": the policies applied to resolved sources, with Buildx's loop of
//! metadata requests (checksums for PGP signatures) and `pin_image` conversions.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::gateway::Bridge;
use crate::graph::SourceUpdate;
use crate::model::{Facts, Needs, Role, SourceRecord, Verdict, platform_string};
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
        let mut at = Attempt {
            op: original.clone(),
            res,
            http_checksums: Vec::new(),
            facts: Value::Null,
            signatures_rejected: Vec::new(),
            attestation_manifest: None,
        };
        let mut conversions = 0;
        let decision = loop {
            match self.step(&mut at, platform, location.as_ref()).await? {
                Step::Decided(d) => break d,
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
        };
        Ok(decided(original, platform, location, at, decision, role))
    }

    /// One evaluation of the source as it stands.
    async fn step(
        &mut self,
        at: &mut Attempt,
        platform: Option<&pb::Platform>,
        location: Option<&String>,
    ) -> Result<Step> {
        let id = at.op.identifier.clone();
        let doc = self.document(at, platform).map_err(|e| e.at(location))?;
        if self.policies.is_empty() {
            return Ok(Step::Decided(None));
        }
        let raw = match &at.res.facts {
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
        };
        let d = self.policies.evaluate_with(&doc, &raw)?;
        if let Some(req) = &d.wanted_checksum {
            self.fetch_checksum(at, platform, req, &d.policy)
                .await
                .map_err(|e| e.at(location))?;
            return Ok(Step::Checksum);
        }
        for line in &d.prints {
            crate::daemon_log!("print {line}");
        }
        match (&d.pin, &at.res.source) {
            (None, _) => Ok(Step::Decided(Some(d))),
            (Some(digest), Source::Image(r)) if r.digest.as_deref() == Some(digest) => {
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

    /// The policy input for the source, with its image signatures verified.
    fn document(&mut self, at: &mut Attempt, platform: Option<&pb::Platform>) -> Result<Value> {
        let id = at.op.identifier.as_str();
        let mut doc = input::document(
            &self.env,
            &at.res.source,
            &at.op,
            platform,
            Some(&at.res.facts),
        )
        .map_err(|e| Error::source(id, e))?;
        at.attestation_manifest = None;
        if let Facts::Image {
            chain: Some(chain), ..
        } = &at.res.facts
        {
            if !chain.attestation_manifest.is_empty() {
                at.attestation_manifest = Some(chain.attestation_manifest.clone());
            }
            // Signatures are verified here rather than while resolving: one verifier
            // (trust roots, cache) serves every source of the build.
            if let Some(images) = self.images.as_mut() {
                let checked = images.check(chain).map_err(|e| Error::source(id, e))?;
                doc["image"]["signatures"] = Value::Array(checked.signatures);
                at.signatures_rejected = checked.rejected;
            }
        }
        at.facts = doc
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| *k != "env"))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null);
        Ok(doc)
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
