//! Asks BuildKit what each source resolves to right now (image digest, git commit, http
//! checksum) and turns the answer into a pin: the source rewritten so the build can only
//! ever use that exact content.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::gateway::Bridge;
use crate::graph::SourceUpdate;
use crate::model::{Facts, Needs};
use crate::proto::gw;
use crate::proto::pb;
use crate::sources::{ImageRef, Source, image_ref::validate_digest};

/// SLSA provenance predicate types an image may carry, for `ResolveAttestations`.
const PROVENANCE_TYPES: [&str; 2] = [
    "https://slsa.dev/provenance/v0.2",
    "https://slsa.dev/provenance/v1",
];

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

/// Resolves one source, fetching in the same call whatever metadata `needs` asks for.
pub async fn resolve(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    needs: Needs,
) -> Result<Resolution> {
    let source = Source::parse(op)?;
    let id = op.identifier.as_str();
    // The daemon's own words (404, unknown ref, auth) are the reason; the source is the subject.
    let named = |e: Error| match e {
        Error::Gateway { status, .. } => Error::pin(id, status.message()),
        e @ Error::MissingCap { .. } => Error::pin(id, e.to_string()),
        other => other,
    };
    let (facts, update) = resolve_facts(bridge, op, platform, &source, needs)
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
    needs: Needs,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    Ok(match source {
        Source::Image(r) => pin_image(bridge, op, platform, r, "docker-image", needs).await?,
        Source::OciLayout(r) => pin_image(bridge, op, platform, r, "oci-layout", needs).await?,
        Source::Blob { reference, .. } => {
            let digest = ImageRef::parse(reference)
                .ok()
                .and_then(|r| r.digest)
                .ok_or_else(|| Error::pin(id, "blob reference has no digest"))?;
            (Facts::Blob { digest }, None)
        }
        Source::Local { name } => (Facts::Local { name: name.clone() }, None),
        Source::Git { .. } => pin_git(bridge, op, platform, needs).await?,
        Source::Http { .. } => pin_http(bridge, op, platform).await?,
    })
}

/// A git source, pinned to the object its ref names now (the tag object of an annotated
/// tag, else the commit), with the raw objects when a policy reads them.
async fn pin_git(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    needs: Needs,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    let req = gw::ResolveSourceMetaRequest {
        git: Some(gw::ResolveSourceGitRequest {
            return_object: needs.git_objects,
        }),
        ..meta_request(op, platform)
    };
    let meta = source_meta(bridge, req, "git").await?;
    let git = meta.git.ok_or_else(|| {
        Error::pin(
            id,
            "the daemon returned no git metadata (BuildKit v0.26 or newer resolves git sources)",
        )
    })?;
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
    let object = |b: Vec<u8>| (!b.is_empty()).then_some(b);
    let facts = Facts::Git {
        checksum: git.checksum,
        commit,
        reference: git.r#ref,
        commit_object: object(git.commit_object),
        tag_object: object(git.tag_object),
    };
    Ok((facts, update))
}

/// An http source, pinned to the checksum of its content now.
async fn pin_http(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    let meta = source_meta(bridge, meta_request(op, platform), "http").await?;
    let http = meta.http.ok_or_else(|| {
        Error::pin(
            id,
            "the daemon returned no http metadata (BuildKit v0.26 or newer resolves http sources)",
        )
    })?;
    validate_digest(&http.checksum).map_err(|e| Error::pin(id, e))?;
    let update = checksum_update(
        bridge,
        op,
        ATTR_HTTP_CHECKSUM,
        &http.checksum,
        "source.http.checksum",
    )?;
    let facts = Facts::Http {
        checksum: http.checksum,
        filename: http.filename,
    };
    Ok((facts, update))
}

/// BuildKit's digest of an http source's content followed by `req.suffix`, for a detached
/// OpenPGP signature. `pinned` carries the checksum the build will enforce, so the content
/// hashed here is the content the build gets.
pub async fn http_checksum(
    bridge: &Bridge,
    pinned: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    req: &crate::verify::pgp::ChecksumRequest,
) -> Result<String> {
    let id = pinned.identifier.as_str();
    bridge.caps.require_frontend(
        "source.metaresolver.http.checksumrequest",
        "verify a detached PGP signature over an http source",
    )?;
    let mut request = meta_request(pinned, platform);
    request.http = Some(gw::ResolveSourceHttpRequest {
        checksum_request: Some(gw::ChecksumRequest {
            algo: req.algo,
            suffix: req.suffix.clone(),
        }),
    });
    let meta = source_meta(bridge, request, "http").await?;
    let resp = meta
        .http
        .and_then(|h| h.checksum_response)
        .ok_or_else(|| Error::source(id, "the daemon returned no checksum for the signature"))?;
    // The answer must be for this request: same suffix, same algorithm.
    if resp.suffix != req.suffix || !resp.digest.starts_with(&format!("{}:", req.algo_name)) {
        return Err(Error::source(
            id,
            format!(
                "the daemon answered another checksum request ({})",
                resp.digest
            ),
        ));
    }
    Ok(resp.digest)
}

async fn source_meta(
    bridge: &Bridge,
    req: gw::ResolveSourceMetaRequest,
    what: &str,
) -> Result<gw::ResolveSourceMetaResponse> {
    bridge.caps.require_frontend(
        "source.metaresolver",
        &format!("resolve {what} sources to pin them"),
    )?;
    bridge.resolve_source_meta(req).await
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

/// An image source, pinned to the digest its reference resolves to now, with the config
/// and attestation chain when a policy reads them.
async fn pin_image(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    r: &ImageRef,
    scheme: &str,
    needs: Needs,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    if needs.image_attestations && scheme == "oci-layout" {
        // BuildKit resolves attestation chains for registry images only, so signatures and
        // provenance of a layout image are unknown, not absent: a rule that reads them
        // cannot decide it (Buildx refuses oci-layout sources altogether).
        return Err(Error::pin(
            id,
            "a policy reads image signatures or provenance, which BuildKit does not resolve for oci-layout sources; push the image to a registry, or name it by digest in a policy that does not read them",
        ));
    }
    let tag_check = needs.image_tag && r.tag.is_some() && r.digest.is_some();
    let wants_meta = needs.image_config || needs.image_attestations || tag_check;
    // A reference with a digest is content-addressed: BuildKit pulls exactly that digest
    // and checks it, whatever tag stands beside it. It is pinned as written; asking the
    // registry again is only worth a round trip when a policy reads more than the digest.
    if let (Some(digest), false) = (&r.digest, wants_meta) {
        let facts = Facts::Image {
            digest: digest.clone(),
            config: None,
            chain: None,
            tag_digest: None,
        };
        return Ok((facts, None));
    }
    let tag_digest = if tag_check {
        Some(tag_digest(bridge, op, platform, r, scheme).await)
    } else {
        None
    };
    let (digest, config, chain) = if bridge.caps.has_frontend("source.metaresolver") {
        image_meta(bridge, op, platform, r, scheme, needs).await?
    } else {
        image_config(bridge, op, platform, scheme, r, needs).await?
    };
    validate_digest(&digest).map_err(|e| Error::pin(id, format!("the daemon returned {e}")))?;
    let update = image_update(id, r, scheme, &digest)?;
    let config = (!config.is_empty()).then_some(config);
    let facts = Facts::Image {
        digest,
        config,
        chain,
        tag_digest,
    };
    Ok((facts, update))
}

/// What the tag of a `name:tag@digest` reference resolves to now; `""` when the tag no
/// longer exists, so it names no digest and the policy must not see it.
async fn tag_digest(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    r: &ImageRef,
    scheme: &str,
) -> String {
    let tag_only = r.without_digest();
    let op = pb::SourceOp {
        identifier: format!("{scheme}://{tag_only}"),
        attrs: op.attrs.clone(),
    };
    let no_needs = Needs::default();
    match Box::pin(pin_image(
        bridge, &op, platform, &tag_only, scheme, no_needs,
    ))
    .await
    {
        Ok((Facts::Image { digest, .. }, _)) => digest,
        Ok(_) | Err(_) => String::new(),
    }
}

/// Digest, config and (when a policy reads them) the attestation chain of the image, by
/// BuildKit's source metadata resolver: what the build itself would resolve.
async fn image_meta(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    r: &ImageRef,
    scheme: &str,
    needs: Needs,
) -> Result<(String, Vec<u8>, Option<gw::AttestationChain>)> {
    let attestations = needs.image_attestations && scheme == "docker-image";
    // A signature is bound to the image through the SLSA statement it covers, so reading
    // signatures needs the statement as much as reading provenance does.
    if attestations {
        bridge.caps.require_frontend(
            "source.metaresolver.image.attestations",
            "read the SLSA provenance (and so the signatures) of images the policy inspects",
        )?;
    }
    // BuildKit finds the digest by fetching the config (imageutil.Config); with NoConfig
    // it returns no digest at all, so the config always comes with pinning.
    let meta = bridge
        .resolve_source_meta(gw::ResolveSourceMetaRequest {
            image: Some(gw::ResolveSourceImageRequest::default()),
            ..meta_request(op, platform)
        })
        .await?;
    let img = meta
        .image
        .ok_or_else(|| Error::pin(&op.identifier, "the daemon returned no image metadata"))?;
    let chain = if attestations {
        Some(attestation_chain(bridge, op, platform, r, scheme, &img.digest, needs).await?)
    } else {
        None
    };
    Ok((img.digest, img.config, chain))
}

/// Digest and config of the image by the older `ResolveImageConfig`, for daemons without
/// the source metadata resolver (which alone returns attestation chains).
async fn image_config(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    scheme: &str,
    r: &ImageRef,
    needs: Needs,
) -> Result<(String, Vec<u8>, Option<gw::AttestationChain>)> {
    if needs.image_attestations {
        return Err(Error::MissingCap {
            cap: "source.metaresolver".into(),
            why: "read image attestations the policy inspects".into(),
        });
    }
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
    Ok((resp.digest, resp.config, None))
}

/// The pin of an image resolved to `digest`: none when the reference names it already, an
/// error when it names another.
fn image_update(
    id: &str,
    r: &ImageRef,
    scheme: &str,
    digest: &str,
) -> Result<Option<SourceUpdate>> {
    match &r.digest {
        Some(written) if written == digest => Ok(None),
        Some(written) => Err(Error::pin(
            id,
            format!("the reference names {written} but the registry resolved it to {digest}"),
        )),
        None => Ok(Some(SourceUpdate {
            identifier: format!("{scheme}://{}", r.with_digest(digest)),
            attrs: BTreeMap::new(),
            caps: vec![],
        })),
    }
}

/// A platform no image is built for. See `is_index`.
fn probe_platform() -> pb::Platform {
    pb::Platform {
        os: "verified-frontend-probe".into(),
        architecture: "none".into(),
        ..Default::default()
    }
}

/// Whether the image at `name@digest` is an OCI index.
///
/// BuildKit v0.34.2 dereferences a nil chain, and so crashes the daemon, when asked for the
/// attestation chain of an image that is a single manifest. Whether a root is an index can
/// be asked safely: containerd matches the platform only among an index's children, so
/// resolving for a platform nothing is built for fails for an index ("no match for
/// platform") and succeeds for a single manifest.
async fn is_index(bridge: &Bridge, pinned: &pb::SourceOp) -> Result<bool> {
    let probe = bridge
        .resolve_source_meta(gw::ResolveSourceMetaRequest {
            image: Some(gw::ResolveSourceImageRequest::default()),
            // The client shows this step; for an index it fails by design, so say so.
            log_name: format!(
                "[verified-frontend] is {} an image index? (\"no match for platform\" means yes)",
                pinned.identifier
            ),
            ..meta_request(pinned, Some(&probe_platform()))
        })
        .await;
    match probe {
        Ok(_) => Ok(false),
        Err(Error::Gateway { status, .. })
            if status.message().contains("no match for platform") =>
        {
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// The attestation chain of the image resolved to `digest`, asked for by digest so the
/// answer cannot change between the questions. A single-manifest image has none: BuildKit
/// returns no chain for it either.
async fn attestation_chain(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    r: &ImageRef,
    scheme: &str,
    digest: &str,
    needs: Needs,
) -> Result<gw::AttestationChain> {
    let pinned = pb::SourceOp {
        identifier: format!("{scheme}://{}", r.with_digest(digest)),
        attrs: op.attrs.clone(),
    };
    if !is_index(bridge, &pinned).await? {
        return Ok(gw::AttestationChain::default());
    }
    let image = gw::ResolveSourceImageRequest {
        no_config: true,
        attestation_chain: true,
        resolve_attestations: if needs.image_attestations {
            PROVENANCE_TYPES.iter().map(|s| s.to_string()).collect()
        } else {
            vec![]
        },
    };
    let meta = bridge
        .resolve_source_meta(gw::ResolveSourceMetaRequest {
            image: Some(image),
            log_name: format!(
                "[verified-frontend] attestations and signatures of {}",
                pinned.identifier
            ),
            ..meta_request(&pinned, platform)
        })
        .await?;
    let chain = meta
        .image
        .and_then(|i| i.attestation_chain)
        .unwrap_or_default();
    if !chain.root.is_empty() && chain.root != digest {
        return Err(Error::pin(
            &op.identifier,
            format!(
                "attestation chain root {} is not the image {digest}",
                chain.root
            ),
        ));
    }
    Ok(chain)
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
