//! What the consumer reads, as documents: bytes checked against their digest, parsed into
//! oci-spec types, and why a read failed. The registry and the OCI layout (`store`,
//! `layout`) both hand their reads through here.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use sha2::{Digest, Sha256};

use crate::sources::image_ref::validate_digest;

/// Manifests and statements are small; a larger blob is refused rather than read into memory.
pub const MAX_BLOB: usize = 16 << 20;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MANIFEST_TYPES: [&str; 4] = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Why something could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Not there, or not reachable: bad input.
    #[error("{0}")]
    Unreadable(String),
    /// The bytes are not what their digest says: a verification failure.
    #[error("{0}")]
    Integrity(String),
    /// Not JSON, or not the shape a manifest has: bad input.
    #[error("{0}")]
    Malformed(String),
}

pub type Read<T> = Result<T, ReadError>;

pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Checks `data` against `digest` (only sha256 digests are accepted).
pub fn check_digest(what: &str, digest: &str, data: &[u8]) -> Read<()> {
    validate_digest(digest).map_err(|e| ReadError::Malformed(format!("{what}: {e}")))?;
    if !digest.starts_with("sha256:") {
        return Err(ReadError::Unreadable(format!(
            "{what} {digest}: only sha256 digests are supported"
        )));
    }
    let got = sha256_digest(data);
    if got != digest {
        return Err(ReadError::Integrity(format!(
            "{what} {digest} hashes to {got}"
        )));
    }
    Ok(())
}

/// Parses an OCI document: "not JSON" when it is not, else what its shape lacks.
pub fn parse<T: DeserializeOwned>(what: &str, digest: &str, data: &[u8], shape: &str) -> Read<T> {
    serde_json::from_slice(data).map_err(|e| {
        ReadError::Malformed(match e.classify() {
            Category::Data => format!("{what} {digest} is not {shape}: {e}"),
            _ => format!("{what} {digest} is not JSON: {e}"),
        })
    })
}

pub fn parse_manifest(what: &str, digest: &str, data: &[u8]) -> Read<ImageManifest> {
    parse(what, digest, data, "an image manifest")
}

/// The value of a descriptor's annotation.
pub fn annotation<'a>(d: &'a Descriptor, key: &str) -> Option<&'a str> {
    d.annotations().as_ref()?.get(key).map(String::as_str)
}

/// What an image reference names: an index (a multi-platform image, which carries the
/// attestations) or a single image manifest. Boxed: both types are large.
#[derive(Debug)]
pub enum RootDocument {
    Index(Box<ImageIndex>),
    Manifest(Box<ImageManifest>),
}

impl RootDocument {
    pub fn parse(what: &str, digest: &str, data: &[u8]) -> Read<RootDocument> {
        let not_an_index = match serde_json::from_slice::<ImageIndex>(data) {
            Ok(i) => return Ok(RootDocument::Index(Box::new(i))),
            Err(e) if e.classify() != Category::Data => {
                return Err(ReadError::Malformed(format!(
                    "{what} {digest} is not JSON: {e}"
                )));
            }
            Err(e) => e,
        };
        serde_json::from_slice::<ImageManifest>(data)
            .map(|m| RootDocument::Manifest(Box::new(m)))
            .map_err(|e| {
                ReadError::Malformed(format!(
                    "{what} {digest} is neither an image index ({not_an_index}) nor an image \
                     manifest ({e})"
                ))
            })
    }
}

/// The root of the image: the manifest or index the reference names.
pub struct ImageRoot {
    pub digest: String,
    pub data: Vec<u8>,
    pub document: RootDocument,
    /// The image's name for the policy input (`registry/repo[:tag]`), when known.
    pub name: Option<String>,
    pub tag: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked() {
        let d = sha256_digest(b"x");
        assert!(check_digest("blob", &d, b"x").is_ok());
        assert!(matches!(
            check_digest("blob", &d, b"y"),
            Err(ReadError::Integrity(m)) if m.contains("hashes to")
        ));
        assert!(matches!(
            check_digest("blob", "sha256:zz", b"y"),
            Err(ReadError::Malformed(_))
        ));
    }

    #[test]
    fn root_documents_are_typed_and_malformed_ones_refused() {
        let d = sha256_digest(b"x");
        let desc = format!(
            r#"{{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{d}", "size": 1}}"#
        );
        let index = format!(r#"{{"schemaVersion": 2, "manifests": [{desc}]}}"#);
        assert!(matches!(
            RootDocument::parse("manifest", &d, index.as_bytes()),
            Ok(RootDocument::Index(i)) if i.manifests()[0].digest().as_ref() == d
        ));
        let manifest = format!(r#"{{"schemaVersion": 2, "config": {desc}, "layers": []}}"#);
        assert!(matches!(
            RootDocument::parse("manifest", &d, manifest.as_bytes()),
            Ok(RootDocument::Manifest(_))
        ));
        for (data, want) in [
            ("{not json".to_string(), "is not JSON"),
            ("{}".to_string(), "is neither an image index"),
            // A digest that is not one fails the index at parse time, not when read.
            (index.replace(&d, "sha256:12"), "is neither an image index"),
        ] {
            let e = RootDocument::parse("manifest", &d, data.as_bytes()).unwrap_err();
            assert!(
                matches!(&e, ReadError::Malformed(m) if m.contains(want)),
                "{data}: {e}"
            );
        }
    }
}
