//! Asks BuildKit what each source resolves to right now (image digest, git commit, http
//! checksum) and turns the answer into a pin: the source rewritten so the build can only
//! ever use that exact content.

pub mod budget;
mod degraded;

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

/// What this build has already established about a source before it is resolved here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    /// BuildKit resolved the tag of this `name:tag@digest` to its digest in this build (the
    /// builtin Dockerfile frontend, which runs inside buildkitd, wrote the digest), so the
    /// tag is not asked about again.
    pub tag_resolved: bool,
}

/// Resolves one source, fetching in the same call whatever metadata `needs` asks for.
pub async fn resolve(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    needs: Needs,
) -> Result<Resolution> {
    resolve_known(bridge, op, platform, needs, Known::default()).await
}

/// `resolve`, asking BuildKit only what `known` does not already say.
pub async fn resolve_known(
    bridge: &Bridge,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    needs: Needs,
    known: Known,
) -> Result<Resolution> {
    let source = Source::parse(op)?;
    let id = op.identifier.as_str();
    // The daemon's own words (404, unknown ref, auth) are the reason; the source is the subject.
    let named = |e: Error| match e {
        Error::Gateway { status, .. } => Error::pin(id, status.message()),
        e @ Error::MissingCap { .. } => Error::pin(id, e.to_string()),
        other => other,
    };
    let (facts, update) = resolve_facts(bridge, op, platform, &source, needs, known)
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
    known: Known,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    let image = |r, scheme| ImageSource {
        op,
        platform,
        r,
        scheme,
    };
    Ok(match source {
        Source::Image(r) => pin_image(bridge, image(r, "docker-image"), needs, known).await?,
        Source::OciLayout(r) => pin_image(bridge, image(r, "oci-layout"), needs, known).await?,
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
    if !bridge.caps.has_frontend("source.metaresolver") {
        return degraded::pin_git(bridge, op, needs).await;
    }
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
    if !bridge.caps.has_frontend("source.metaresolver") {
        return degraded::pin_http(bridge, op).await;
    }
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
    let id = req.source.as_ref().map(|op| op.identifier.clone());
    let meta = bridge.resolve_source_meta(req.clone()).await?;
    budget::charge(id.as_deref().unwrap_or_default(), &req, meta)
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

/// An image source as the graph names it.
#[derive(Clone, Copy)]
struct ImageSource<'a> {
    op: &'a pb::SourceOp,
    platform: Option<&'a pb::Platform>,
    r: &'a ImageRef,
    scheme: &'a str,
}

/// An image source, pinned to the digest its reference resolves to now, with the config
/// and attestation chain when a policy reads them.
async fn pin_image(
    bridge: &Bridge,
    img: ImageSource<'_>,
    needs: Needs,
    known: Known,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let ImageSource { op, r, scheme, .. } = img;
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
    if let Some(digest) = &r.digest {
        return pin_digested(bridge, img, digest, needs, known).await;
    }
    let (digest, config, chain) = image_meta_any(bridge, img, needs).await?;
    validate_digest(&digest).map_err(|e| Error::pin(id, format!("the daemon returned {e}")))?;
    let update = image_update(id, r, scheme, &digest)?;
    let facts = Facts::Image {
        digest,
        config: (!config.is_empty()).then_some(config),
        chain,
        tag_digest: None,
    };
    Ok((facts, update))
}

/// A reference with a digest is content-addressed: BuildKit pulls exactly that digest and
/// checks it, whatever tag stands beside it. It is pinned as written; the registry is asked
/// only for what a policy reads beyond the digest, each thing once: the tag's digest (whose
/// answer carries the config of that digest too), then the config or the chain.
async fn pin_digested(
    bridge: &Bridge,
    img: ImageSource<'_>,
    digest: &str,
    needs: Needs,
    known: Known,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let reads_tag = needs.image_tag && img.r.tag.is_some();
    let (tag_digest, tag_config) = match (reads_tag, known.tag_resolved) {
        (false, _) => (None, None),
        (true, true) => (Some(digest.to_string()), None),
        (true, false) => {
            let (d, config) = tag_digest(bridge, img).await;
            let config = (d == digest && !config.is_empty()).then_some(config);
            (Some(d), config)
        }
    };
    let image = |config, chain| Facts::Image {
        digest: digest.to_string(),
        config,
        chain,
        tag_digest: tag_digest.clone(),
    };
    if !needs.image_attestations && !needs.image_config {
        return Ok((image(None, None), None));
    }
    if let (false, Some(config)) = (needs.image_attestations, tag_config) {
        return Ok((image(Some(config), None), None));
    }
    let pinned = by_digest(img, digest);
    let (got, config, chain) = image_meta_any(bridge, pinned.as_source(), needs).await?;
    if got != digest {
        return Err(Error::pin(
            &img.op.identifier,
            format!("the reference names {digest} but the registry resolved it to {got}"),
        ));
    }
    Ok((image((!config.is_empty()).then_some(config), chain), None))
}

/// An image named by its digest alone: BuildKit ignores a tag beside a digest, and without
/// it every tag of one image asks the same question, answered once.
struct ByDigest<'a> {
    op: pb::SourceOp,
    r: ImageRef,
    platform: Option<&'a pb::Platform>,
    scheme: &'a str,
}

impl ByDigest<'_> {
    fn as_source(&self) -> ImageSource<'_> {
        ImageSource {
            op: &self.op,
            platform: self.platform,
            r: &self.r,
            scheme: self.scheme,
        }
    }
}

fn by_digest<'a>(img: ImageSource<'a>, digest: &str) -> ByDigest<'a> {
    let r = ImageRef {
        tag: None,
        ..img.r.with_digest(digest)
    };
    ByDigest {
        op: pb::SourceOp {
            identifier: format!("{}://{r}", img.scheme),
            attrs: img.op.attrs.clone(),
        },
        r,
        platform: img.platform,
        scheme: img.scheme,
    }
}

/// Digest, config and chain by whichever resolver the daemon has.
async fn image_meta_any(
    bridge: &Bridge,
    img: ImageSource<'_>,
    needs: Needs,
) -> Result<(String, Vec<u8>, Option<gw::AttestationChain>)> {
    let ImageSource {
        op,
        platform,
        r,
        scheme,
    } = img;
    if bridge.caps.has_frontend("source.metaresolver") {
        image_meta(bridge, op, platform, r, scheme, needs).await
    } else {
        image_config(bridge, op, platform, scheme, r, needs).await
    }
}

/// What the tag of a `name:tag@digest` reference resolves to now, with that image's
/// config; `""` when the tag no longer exists, so it names no digest and the policy must
/// not see it.
async fn tag_digest(bridge: &Bridge, img: ImageSource<'_>) -> (String, Vec<u8>) {
    let tag_only = img.r.without_digest();
    let op = pb::SourceOp {
        identifier: format!("{}://{tag_only}", img.scheme),
        attrs: img.op.attrs.clone(),
    };
    let tag = ImageSource {
        op: &op,
        r: &tag_only,
        ..img
    };
    match image_meta_any(bridge, tag, Needs::default()).await {
        Ok((digest, config, _)) if validate_digest(&digest).is_ok() => (digest, config),
        Ok(_) | Err(_) => (String::new(), Vec::new()),
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
    let req = gw::ResolveSourceMetaRequest {
        image: Some(gw::ResolveSourceImageRequest::default()),
        ..meta_request(op, platform)
    };
    let meta = bridge.resolve_source_meta(req.clone()).await?;
    let img = budget::charge(&op.identifier, &req, meta)?
        .image
        .ok_or_else(|| Error::pin(&op.identifier, "the daemon returned no image metadata"))?;
    let chain = if attestations {
        let root = Root {
            digest: &img.digest,
            config: &img.config,
        };
        Some(attestation_chain(bridge, op, platform, r, scheme, root, needs).await?)
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
    let written = op.attrs.get(ATTR_RESOLVE_MODE).cloned().unwrap_or_default();
    let ask = |resolve_mode: String| gw::ResolveImageConfigRequest {
        r#ref: r.to_string(),
        platform: platform.cloned(),
        resolve_mode,
        resolver_type: i32::from(oci),
        session_id: op.attrs.get(ATTR_OCI_SESSION).cloned().unwrap_or_default(),
        store_id: op.attrs.get(ATTR_OCI_STORE).cloned().unwrap_or_default(),
        ..Default::default()
    };
    let resp = bridge.resolve_image_config(ask(written.clone())).await?;
    let resp = budget::charge(&op.identifier, &ask(written.clone()), resp)?;
    // Docker's embedded BuildKit answers an image it has locally from its image store,
    // with the config and no digest (moby's `resolveLocal`); the pin needs the registry's
    // digest, so such an answer is asked again of the registry.
    if resp.digest.is_empty() && !oci && written.is_empty() {
        let again = bridge.resolve_image_config(ask("pull".into())).await?;
        let again = budget::charge(&op.identifier, &ask("pull".into()), again)?;
        return Ok((again.digest, again.config, None));
    }
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

/// The platform BuildKit gives an index's attestation manifests (`unknown/unknown`). See
/// `is_index`.
fn probe_platform() -> pb::Platform {
    pb::Platform {
        os: "unknown".into(),
        architecture: "unknown".into(),
        ..Default::default()
    }
}

/// Whether the image at `pinned` is an index with an attestation manifest, given `config`,
/// the config BuildKit resolved for the build's platform.
///
/// BuildKit v0.34.2 dereferences a nil chain, and so crashes the daemon, when asked for the
/// attestation chain of an image that is a single manifest. Whether a root is an index is
/// asked safely, without a step that fails for the images that matter: containerd matches
/// the platform only among an index's children, so a single manifest gives its one config
/// for any platform, while an index gives, for `unknown/unknown`, the config of its
/// attestation manifest (which every BuildKit image with attestations has), a different
/// one. An index without such a child fails the probe ("no match for platform"); it has no
/// attestation manifest to read, and asking for its chain would crash BuildKit if it is a
/// Docker manifest list, so it gets none.
async fn is_index(bridge: &Bridge, pinned: &pb::SourceOp, config: &[u8]) -> Result<bool> {
    let req = gw::ResolveSourceMetaRequest {
        image: Some(gw::ResolveSourceImageRequest::default()),
        log_name: format!(
            "[verified-frontend] attestation manifest of {}",
            pinned.identifier
        ),
        ..meta_request(pinned, Some(&probe_platform()))
    };
    let probe = bridge
        .resolve_source_meta(req.clone())
        .await
        .and_then(|meta| budget::charge(&pinned.identifier, &req, meta));
    let says = |e: &Error, what: &str| matches!(e, Error::Gateway { status, .. } if status.message().contains(what));
    match probe {
        // Two configs to compare, or no chain: saying "index" of a single manifest would
        // crash the daemon, while no chain only hides signatures (the policy then denies).
        Ok(meta) => Ok(!config.is_empty()
            && meta
                .image
                .is_some_and(|i| !i.config.is_empty() && i.config != config)),
        Err(e) if says(&e, "no match for platform") => Ok(false),
        // An OCI artifact attestation manifest (empty config), which containerd does not
        // read as an image: only an index's child takes this path, as the root itself
        // resolved for the build's platform.
        Err(e) if says(&e, "encountered unknown type") => Ok(true),
        Err(e) => Err(e),
    }
}

/// The image root an attestation chain is asked for: its digest, and the config BuildKit
/// resolved for it for the build's platform.
struct Root<'a> {
    digest: &'a str,
    config: &'a [u8],
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
    root: Root<'_>,
    needs: Needs,
) -> Result<gw::AttestationChain> {
    let digest = root.digest;
    let pinned = pb::SourceOp {
        identifier: format!("{scheme}://{}", r.with_digest(digest)),
        attrs: op.attrs.clone(),
    };
    if !is_index(bridge, &pinned, root.config).await? {
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
    let req = gw::ResolveSourceMetaRequest {
        image: Some(image),
        log_name: format!(
            "[verified-frontend] attestations and signatures of {}",
            pinned.identifier
        ),
        ..meta_request(&pinned, platform)
    };
    let meta = bridge.resolve_source_meta(req.clone()).await?;
    let chain = budget::charge(&pinned.identifier, &req, meta)?
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
