//! Asks BuildKit what each source resolves to right now (image digest, git commit, http
//! checksum) and turns the answer into a pin: the source rewritten so the build can only
//! ever use that exact content.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::gateway::Bridge;
use crate::graph::SourceUpdate;
use crate::proto::gw;
use crate::proto::pb;
use crate::sources::{ImageRef, Source, image_ref::validate_digest};

/// What resolving one source established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    Image {
        digest: String,
        config: Option<Vec<u8>>,
    },
    Git {
        checksum: String,
        commit: String,
        reference: String,
    },
    Http {
        checksum: String,
        filename: String,
    },
    Local {
        name: String,
    },
    Blob {
        digest: String,
    },
}

impl Facts {
    /// The content identity the source was pinned to.
    pub fn resolved(&self) -> &str {
        match self {
            Facts::Image { digest, .. } | Facts::Blob { digest } => digest,
            Facts::Git { commit, .. } => commit,
            Facts::Http { checksum, .. } => checksum,
            Facts::Local { .. } => "",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Resolution {
    pub original: String,
    pub source: Source,
    pub facts: Facts,
    /// `None` when the source was already pinned as written.
    pub update: Option<SourceUpdate>,
}

impl Resolution {
    /// The identifier the build will use.
    pub fn pinned_identifier(&self) -> &str {
        self.update
            .as_ref()
            .map_or(self.original.as_str(), |u| u.identifier.as_str())
    }
}

const ATTR_RESOLVE_MODE: &str = "image.resolvemode";
const ATTR_GIT_CHECKSUM: &str = "git.checksum";
const ATTR_HTTP_CHECKSUM: &str = "http.checksum";
const ATTR_OCI_SESSION: &str = "oci.session";
const ATTR_OCI_STORE: &str = "oci.store";

pub async fn resolve(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
) -> Result<Resolution> {
    let source = Source::parse(op)?;
    let id = op.identifier.as_str();
    // The daemon's own words (404, unknown ref, auth) are the reason; the source is the subject.
    let named = |e: Error| match e {
        Error::Gateway { status, .. } => Error::pin(id, status.message()),
        e @ Error::MissingCap { .. } => Error::pin(id, e.to_string()),
        other => other,
    };
    let (facts, update) = resolve_facts(bridge, op, platform, &source)
        .await
        .map_err(named)?;
    Ok(Resolution {
        original: id.to_string(),
        source,
        facts,
        update,
    })
}

async fn resolve_facts(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    source: &Source,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    Ok(match source {
        Source::Image(r) => pin_image(bridge, op, platform, r, "docker-image").await?,
        Source::OciLayout(r) => pin_image(bridge, op, platform, r, "oci-layout").await?,
        Source::Blob { reference, .. } => {
            let digest = ImageRef::parse(reference)
                .ok()
                .and_then(|r| r.digest)
                .ok_or_else(|| Error::pin(id, "blob reference has no digest"))?;
            (Facts::Blob { digest }, None)
        }
        Source::Local { name } => (Facts::Local { name: name.clone() }, None),
        Source::Git { .. } => {
            let meta = source_meta(bridge, op, platform, "git").await?;
            let git = meta
                .git
                .ok_or_else(|| Error::pin(id, "the daemon returned no git metadata (BuildKit v0.26 or newer resolves git sources)"))?;
            if git.checksum.len() < 40 || !git.checksum.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::pin(
                    id,
                    format!(
                        "the daemon returned an invalid git checksum {:?}",
                        git.checksum
                    ),
                ));
            }
            let commit = if git.commit_checksum.is_empty() {
                git.checksum.clone()
            } else {
                git.commit_checksum.clone()
            };
            let update = checksum_update(
                bridge,
                op,
                ATTR_GIT_CHECKSUM,
                &git.checksum,
                "source.git.checksum",
            )?;
            (
                Facts::Git {
                    checksum: git.checksum,
                    commit,
                    reference: git.r#ref,
                },
                update,
            )
        }
        Source::Http { .. } => {
            let meta = source_meta(bridge, op, platform, "http").await?;
            let http = meta
                .http
                .ok_or_else(|| Error::pin(id, "the daemon returned no http metadata (BuildKit v0.26 or newer resolves http sources)"))?;
            validate_digest(&http.checksum).map_err(|e| Error::pin(id, e))?;
            let update = checksum_update(
                bridge,
                op,
                ATTR_HTTP_CHECKSUM,
                &http.checksum,
                "source.http.checksum",
            )?;
            (
                Facts::Http {
                    checksum: http.checksum,
                    filename: http.filename,
                },
                update,
            )
        }
    })
}

async fn source_meta(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    what: &str,
) -> Result<gw::ResolveSourceMetaResponse> {
    bridge.caps.require_frontend(
        "source.metaresolver",
        &format!("resolve {what} sources to pin them"),
    )?;
    bridge.resolve_source_meta(meta_request(op, platform)).await
}

/// The request that resolves `op` as the build would load it (same platform, same mode).
fn meta_request(
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
) -> gw::ResolveSourceMetaRequest {
    gw::ResolveSourceMetaRequest {
        source: Some(op.clone()),
        platform: platform.cloned(),
        resolve_mode: op.attrs.get(ATTR_RESOLVE_MODE).cloned().unwrap_or_default(),
        ..Default::default()
    }
}

async fn pin_image(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    r: &ImageRef,
    scheme: &str,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    // A reference with a digest is content-addressed: BuildKit pulls exactly that digest
    // and checks it, whatever tag stands beside it. It is pinned as written; asking the
    // registry again would only cost a round trip. (Metadata a policy needs is fetched
    // separately, when a policy asks for it.)
    if let Some(digest) = &r.digest {
        return Ok((
            Facts::Image {
                digest: digest.clone(),
                config: None,
            },
            None,
        ));
    }
    let (digest, config) = if bridge.caps.has_frontend("source.metaresolver") {
        let meta = bridge
            .resolve_source_meta(gw::ResolveSourceMetaRequest {
                image: Some(gw::ResolveSourceImageRequest::default()),
                ..meta_request(op, platform)
            })
            .await?;
        let img = meta
            .image
            .ok_or_else(|| Error::pin(id, "the daemon returned no image metadata"))?;
        (img.digest, img.config)
    } else {
        bridge
            .caps
            .require_frontend("resolveimage", "resolve image digests to pin them")?;
        let oci = scheme == "oci-layout";
        let resp = bridge
            .resolve_image_config(gw::ResolveImageConfigRequest {
                r#ref: r.to_string(),
                platform: platform.cloned(),
                resolve_mode: op.attrs.get(ATTR_RESOLVE_MODE).cloned().unwrap_or_default(),
                resolver_type: i32::from(oci),
                session_id: op.attrs.get(ATTR_OCI_SESSION).cloned().unwrap_or_default(),
                store_id: op.attrs.get(ATTR_OCI_STORE).cloned().unwrap_or_default(),
                ..Default::default()
            })
            .await?;
        (resp.digest, resp.config)
    };
    validate_digest(&digest).map_err(|e| Error::pin(id, format!("the daemon returned {e}")))?;
    let update = Some(SourceUpdate {
        identifier: format!("{scheme}://{}", r.with_digest(&digest)),
        attrs: BTreeMap::new(),
        caps: vec![],
    });
    let config = (!config.is_empty()).then_some(config);
    Ok((Facts::Image { digest, config }, update))
}

/// Pins git and http sources with BuildKit's own checksum attribute: the daemon then
/// refuses the content if it no longer matches what was resolved here.
fn checksum_update(
    bridge: &Bridge,
    op: &pb::SourceOp,
    attr: &str,
    checksum: &str,
    cap: &str,
) -> Result<Option<SourceUpdate>> {
    let id = op.identifier.as_str();
    if let Some(written) = op.attrs.get(attr) {
        // A checksum in the Dockerfile (ADD --checksum) is already a pin; it must agree.
        let agrees = if attr == ATTR_GIT_CHECKSUM {
            checksum.starts_with(written.as_str()) && !written.is_empty()
        } else {
            written == checksum
        };
        if !agrees {
            return Err(Error::pin(
                id,
                format!("{attr} {written} does not match the resolved {checksum}"),
            ));
        }
        if written == checksum {
            return Ok(None);
        }
    }
    if !bridge.caps.has_llb(cap) {
        return Err(Error::MissingCap {
            cap: cap.to_string(),
            why: format!("pin {id} to {checksum}"),
        });
    }
    let mut attrs = BTreeMap::new();
    attrs.insert(attr.to_string(), checksum.to_string());
    Ok(Some(SourceUpdate {
        identifier: id.to_string(),
        attrs,
        caps: vec![cap.to_string()],
    }))
}
