//! What ties a signature to the platform manifest being built, checked at least as strictly
//! as Docker's verifier (moby/policy-helpers `VerifyImage`). A signature covers the
//! attestation manifest; that manifest is about the image only through its `subject` (the
//! index annotation naming the image is not signed) and through the SLSA statement it
//! carries, whose own subject names the image. Every link is checked by digest, media type
//! and size before any signature over it may count.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use thiserror::Error;

use crate::proto::gw;
use crate::verify::chain::{
    ATTESTATION_REFERENCE_DIGEST, ATTESTATION_REFERENCE_TYPE, BUNDLE_ARTIFACT_TYPE,
    COSIGN_ARTIFACT_TYPE, SIMPLESIGNING_MEDIA_TYPE, SLSA_PREDICATE_TYPES, Statement, blob, parse,
    predicate_type,
};

/// The chain's attestation manifest with the index entries that place it, checked to agree
/// with the blobs: what every signature of the chain is judged against.
#[derive(Debug)]
pub struct Attestation {
    pub digest: String,
    /// The index's descriptor of the platform image manifest.
    pub image: Descriptor,
    /// The index's descriptor of the attestation manifest (a DHI's: one made from the
    /// blob, as the index does not list it); its size is the blob's.
    pub descriptor: Descriptor,
    pub manifest: ImageManifest,
    /// A Docker Hardened Image's chain (`verify::dhi`): the attestation manifest is a
    /// referrer of the image manifest, and its signatures are by the DHI key.
    pub dhi: bool,
}

/// Why no signature over the attestation manifest can vouch for the image. Worded to follow
/// "attestation manifest <digest>, which".
#[derive(Debug, Error, PartialEq)]
pub enum Unbound {
    #[error("has no subject, so nothing signed names the image manifest")]
    NoSubject,
    #[error("has subject {got}, not the image manifest {want}")]
    SubjectDigest { got: String, want: String },
    #[error("has subject media type {got:?}, not an OCI image manifest or index")]
    SubjectNotOci { got: String },
    #[error(
        "has subject media type {got:?}, but the image index lists the image manifest as {want:?}"
    )]
    SubjectMediaType { got: String, want: String },
    #[error("has subject size {got}, but the image manifest is {want} bytes")]
    SubjectSize { got: u64, want: u64 },
    #[error("holds no SLSA provenance")]
    NoProvenance,
    #[error("names SLSA provenance {layer}, which the attestation chain lacks")]
    StatementMissing { layer: String },
    #[error("names SLSA provenance {layer}, which is not an in-toto statement: {reason}")]
    StatementMalformed { layer: String, reason: String },
    #[error(
        "names SLSA provenance {layer} annotated {annotated:?}, but its statement says {got:?}"
    )]
    PredicateType {
        layer: String,
        annotated: String,
        got: String,
    },
    #[error(
        "names SLSA provenance {layer}, whose statement's subject does not name the image manifest {image}"
    )]
    StatementSubject { layer: String, image: String },
    #[error("{0}")]
    NotDhiReferrer(String),
}

/// Why one signature manifest cannot be a signature of the attestation manifest. Worded to
/// follow "signature <digest>".
#[derive(Debug, Error, PartialEq)]
pub enum Unfit {
    #[error("is not an OCI image manifest: {0}")]
    NotAManifest(String),
    #[error("has no subject")]
    NoSubject,
    #[error("refers to {got}, not the attestation manifest {want}")]
    SubjectDigest { got: String, want: String },
    #[error("has subject media type {got:?}, not an OCI image manifest or index")]
    SubjectNotOci { got: String },
    #[error(
        "has subject media type {got:?}, but the image index lists the attestation manifest as {want:?}"
    )]
    SubjectMediaType { got: String, want: String },
    #[error("has subject size {got}, but the attestation manifest {att} is {want} bytes")]
    SubjectSize { got: u64, want: u64, att: String },
    #[error("has {0} layers, not exactly one")]
    Layers(usize),
    #[error(
        "has artifact type {artifact:?} with a layer of media type {layer:?}: neither a Sigstore bundle nor a cosign signature"
    )]
    Format { artifact: String, layer: String },
}

/// What a signature manifest holds, by its one layer.
#[derive(Debug)]
pub enum Format {
    Bundle(Descriptor),
    Legacy(Descriptor),
}

fn is_attestation_of(d: &Descriptor, image: &str) -> bool {
    let a = d.annotations().as_ref();
    let get = |k: &str| a.and_then(|a| a.get(k)).map(String::as_str);
    get(ATTESTATION_REFERENCE_TYPE) == Some("attestation-manifest")
        && get(ATTESTATION_REFERENCE_DIGEST) == Some(image)
}

/// The attestation manifest and where the root index places it. The index is the pinned
/// digest, so it must list the attestation manifest as the attestation of exactly the image
/// manifest being built (as BuildKit stores it), and list that image manifest; anything
/// else is a chain that does not hold together, an error. A Docker Hardened Image's index
/// lists no attestation manifest: its referrer stands for it, by its own digest and size.
pub fn attestation(chain: &gw::AttestationChain) -> Result<Attestation, String> {
    let (att, image) = (&chain.attestation_manifest, &chain.image_manifest);
    if chain.root.is_empty() || !chain.blobs.contains_key(&chain.root) {
        return Err("the attestation chain lacks its root index".into());
    }
    let index: ImageIndex = parse(
        blob(chain, &chain.root)?,
        "image index",
        "image index",
        &chain.root,
    )?;
    let dhi = crate::verify::dhi::is_dhi_index(&index);
    let data = blob(chain, att)?;
    let manifest: ImageManifest = parse(data, "attestation manifest", "image manifest", att)?;
    let descriptor = if dhi {
        let media = manifest
            .media_type()
            .clone()
            .unwrap_or(MediaType::ImageManifest);
        Descriptor::new(media, data.len() as u64, manifest_digest(att)?)
    } else {
        listed_attestation(&index, att, image, data.len())?
    };
    let image_descriptor = index
        .manifests()
        .iter()
        .find(|d| d.digest().as_ref() == image.as_str() && !is_attestation_of(d, image))
        .cloned()
        .ok_or_else(|| format!("the image index does not list the image manifest {image}"))?;
    Ok(Attestation {
        digest: att.clone(),
        image: image_descriptor,
        descriptor,
        manifest,
        dhi,
    })
}

fn manifest_digest(d: &str) -> Result<oci_spec::image::Digest, String> {
    d.parse()
        .map_err(|e| format!("attestation manifest {d} is not a digest: {e}"))
}

/// The index's entry for the attestation manifest of `image`, of the blob's size.
fn listed_attestation(
    index: &ImageIndex,
    att: &str,
    image: &str,
    size: usize,
) -> Result<Descriptor, String> {
    let listed = |d: &&Descriptor| d.digest().as_ref() == att && is_attestation_of(d, image);
    let descriptor = index
        .manifests()
        .iter()
        .find(listed)
        .cloned()
        .ok_or_else(|| {
            format!("the image index does not list {att} as the attestation of {image}")
        })?;
    if descriptor.size() != size as u64 {
        return Err(format!(
            "the image index lists attestation manifest {att} with size {}, but it is {size} bytes",
            descriptor.size(),
        ));
    }
    Ok(descriptor)
}

fn is_oci_manifest(m: &MediaType) -> bool {
    matches!(m, MediaType::ImageManifest | MediaType::ImageIndex)
}

/// Whether the attestation manifest is, by what its signature covers, about the image:
/// `subject` as Docker's verifier checks it, then every SLSA provenance layer's statement.
/// The outer error is malformed chain data (a statement blob not matching its digest).
pub fn binds(
    chain: &gw::AttestationChain,
    att: &Attestation,
) -> Result<Result<(), Unbound>, String> {
    if let Some(why) = att
        .dhi
        .then(|| crate::verify::dhi::not_a_provenance_referrer(&att.manifest))
        .flatten()
    {
        return Ok(Err(Unbound::NotDhiReferrer(why)));
    }
    if let Err(why) = subject_is_image(att) {
        return Ok(Err(why));
    }
    let provenance: Vec<&Descriptor> = att
        .manifest
        .layers()
        .iter()
        .filter(|l| SLSA_PREDICATE_TYPES.contains(&predicate_type(l)))
        .collect();
    // A signature over an attestation manifest vouches for what it attests; without
    // provenance there is nothing it vouches for (Docker's verifier requires it too).
    if provenance.is_empty() {
        return Ok(Err(Unbound::NoProvenance));
    }
    for layer in provenance {
        if let Err(why) = statement_names_image(chain, layer)? {
            return Ok(Err(why));
        }
    }
    Ok(Ok(()))
}

fn subject_is_image(att: &Attestation) -> Result<(), Unbound> {
    let subject = att.manifest.subject().as_ref().ok_or(Unbound::NoSubject)?;
    let (got, want) = (subject.digest().to_string(), att.image.digest().to_string());
    if got != want {
        return Err(Unbound::SubjectDigest { got, want });
    }
    let (got, want) = (subject.media_type(), att.image.media_type());
    if !is_oci_manifest(got) {
        return Err(Unbound::SubjectNotOci {
            got: got.to_string(),
        });
    }
    if got != want {
        return Err(Unbound::SubjectMediaType {
            got: got.to_string(),
            want: want.to_string(),
        });
    }
    if subject.size() != att.image.size() {
        return Err(Unbound::SubjectSize {
            got: subject.size(),
            want: att.image.size(),
        });
    }
    Ok(())
}

fn statement_names_image(
    chain: &gw::AttestationChain,
    layer: &Descriptor,
) -> Result<Result<(), Unbound>, String> {
    let digest = layer.digest().to_string();
    if !chain.blobs.contains_key(&digest) {
        return Ok(Err(Unbound::StatementMissing { layer: digest }));
    }
    let statement: Statement = match serde_json::from_slice(blob(chain, &digest)?) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(Unbound::StatementMalformed {
                layer: digest,
                reason: e.to_string(),
            }));
        }
    };
    let annotated = predicate_type(layer);
    if statement.predicate_type != annotated {
        return Ok(Err(Unbound::PredicateType {
            layer: digest,
            annotated: annotated.to_string(),
            got: statement.predicate_type,
        }));
    }
    let image = &chain.image_manifest;
    Ok(if statement.names(image) {
        Ok(())
    } else {
        Err(Unbound::StatementSubject {
            layer: digest,
            image: image.clone(),
        })
    })
}

/// Signature manifest `digest` as a referrer of the attestation manifest: its subject is
/// the attestation manifest by digest, media type and size, and it has exactly one layer
/// (Docker's verifier reads only the first; a second is content nobody verifies) whose
/// media type agrees with the artifact type.
pub fn signature_manifest(
    chain: &gw::AttestationChain,
    att: &Attestation,
    digest: &str,
) -> Result<Result<Format, Unfit>, String> {
    let m: ImageManifest = match serde_json::from_slice(blob(chain, digest)?) {
        Ok(m) => m,
        Err(e) => return Ok(Err(Unfit::NotAManifest(e.to_string()))),
    };
    Ok(refers_to(&m, att).and_then(|()| format(&m)))
}

fn refers_to(m: &ImageManifest, att: &Attestation) -> Result<(), Unfit> {
    let subject = m.subject().as_ref().ok_or(Unfit::NoSubject)?;
    let got = subject.digest().to_string();
    if got != att.digest {
        return Err(Unfit::SubjectDigest {
            got,
            want: att.digest.clone(),
        });
    }
    let (got, want) = (subject.media_type(), att.descriptor.media_type());
    if !is_oci_manifest(got) {
        return Err(Unfit::SubjectNotOci {
            got: got.to_string(),
        });
    }
    if got != want {
        return Err(Unfit::SubjectMediaType {
            got: got.to_string(),
            want: want.to_string(),
        });
    }
    if subject.size() != att.descriptor.size() {
        return Err(Unfit::SubjectSize {
            got: subject.size(),
            want: att.descriptor.size(),
            att: att.digest.clone(),
        });
    }
    Ok(())
}

fn format(m: &ImageManifest) -> Result<Format, Unfit> {
    let [layer] = m.layers().as_slice() else {
        return Err(Unfit::Layers(m.layers().len()));
    };
    // policy-helpers reads both: the referrer's artifactType, else its config media type.
    let artifact = m
        .artifact_type()
        .as_ref()
        .unwrap_or_else(|| m.config().media_type())
        .to_string();
    let media = layer.media_type().to_string();
    match (artifact.as_str(), media.as_str()) {
        (BUNDLE_ARTIFACT_TYPE, BUNDLE_ARTIFACT_TYPE) => Ok(Format::Bundle(layer.clone())),
        (COSIGN_ARTIFACT_TYPE, SIMPLESIGNING_MEDIA_TYPE) => Ok(Format::Legacy(layer.clone())),
        _ => Err(Unfit::Format {
            artifact,
            layer: media,
        }),
    }
}
