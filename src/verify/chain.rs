//! BuildKit's attestation chain as every reader of it sees it (the provenance reader, the
//! signature checks, the `verify` subcommand): its blobs, checked against their digests and
//! read as oci-spec types, the annotations and media types that name its parts, and the
//! in-toto statement's subject.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, ImageManifest};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::proto::gw;

/// Index annotations BuildKit marks an attestation manifest and the image it describes with.
pub const ATTESTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
pub const ATTESTATION_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// Layer annotation naming an attestation's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";
pub const SLSA_PREFIX: &str = "https://slsa.dev/provenance/";
/// The SLSA provenance predicate types a signature may vouch for, exactly (as Docker's
/// verifier accepts them).
pub const SLSA_PREDICATE_TYPES: [&str; 2] = [
    "https://slsa.dev/provenance/v0.2",
    "https://slsa.dev/provenance/v1",
];
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const COSIGN_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The layer of a cosign legacy signature holding the signed payload.
pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// A blob of the chain, checked against its digest: the registry's word is not taken.
pub fn blob<'a>(chain: &'a gw::AttestationChain, digest: &str) -> Result<&'a [u8], String> {
    let b = chain
        .blobs
        .get(digest)
        .ok_or_else(|| format!("the attestation chain lacks blob {digest}"))?;
    let got = format!("sha256:{}", hex::encode(Sha256::digest(&b.data)));
    if got != digest {
        return Err(format!("attestation blob {digest} hashes to {got}"));
    }
    Ok(&b.data)
}

/// Adds `data` to the chain's blobs under its sha256 digest, which it returns: how a chain
/// is assembled outside BuildKit (the `verify` subcommand, tests, benchmarks).
pub fn add_blob(chain: &mut gw::AttestationChain, data: Vec<u8>) -> String {
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
    chain.blobs.insert(
        digest.clone(),
        gw::Blob {
            descriptor: None,
            data,
        },
    );
    digest
}

/// `data` as the OCI `kind` it must be, naming it as `what` when it is not.
pub fn parse<T: serde::de::DeserializeOwned>(
    data: &[u8],
    what: &str,
    kind: &str,
    digest: &str,
) -> Result<T, String> {
    serde_json::from_slice(data).map_err(|e| format!("{what} {digest} is not an OCI {kind}: {e}"))
}

/// The chain's attestation manifest, checked against its digest and read as an OCI image
/// manifest.
pub fn attestation_manifest(chain: &gw::AttestationChain) -> Result<ImageManifest, String> {
    let digest = &chain.attestation_manifest;
    parse(
        blob(chain, digest)?,
        "attestation manifest",
        "image manifest",
        digest,
    )
}

/// The predicate type a layer of an attestation manifest is annotated with, `""` if none.
pub fn predicate_type(layer: &Descriptor) -> &str {
    layer
        .annotations()
        .as_ref()
        .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
        .map_or("", String::as_str)
}

/// The attestation manifest's first layer holding SLSA provenance, if any (for the
/// provenance reader; the signature binding checks every one, `image::binding`).
pub fn slsa_layer(attestation_manifest: &ImageManifest) -> Option<&Descriptor> {
    attestation_manifest
        .layers()
        .iter()
        .find(|l| predicate_type(l).starts_with(SLSA_PREFIX))
}

/// An in-toto statement, as far as its binding to an image is read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    pub predicate_type: String,
    pub subject: Vec<Subject>,
}

#[derive(Debug, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub digest: HashMap<String, String>,
}

impl Statement {
    /// Whether a subject is the manifest `image` (`sha256:<hex>`), by its sha256 digest.
    pub fn names(&self, image: &str) -> bool {
        let hex = image.strip_prefix("sha256:").unwrap_or_default();
        !hex.is_empty()
            && self
                .subject
                .iter()
                .any(|s| s.digest.get("sha256").map(String::as_str) == Some(hex))
    }
}
