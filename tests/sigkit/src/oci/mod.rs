//! `sigkit oci ...`: every OCI document the test kit's shell scripts read or write (referrer
//! manifests, cosign's signature-image config, referrers tag indexes, the binding fixtures'
//! rewritten attestation manifests and indexes), read and written through `oci-spec`'s
//! types so a script never assembles or edits one with jq.

pub mod cli;
pub mod dhi;
pub mod edit;
pub mod inspect;
pub mod referrer;
pub mod referrers;
#[cfg(test)]
mod testdata;

use std::str::FromStr;

use anyhow::{Context, Result, anyhow, bail};
use oci_spec::image::{Descriptor, Digest, DigestAlgorithm, ImageIndex, ImageManifest, MediaType};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::pki;

/// The `sha256:<hex>` digest of BYTES, as a registry computes it for a blob or manifest.
pub fn digest_of(bytes: &[u8]) -> Result<Digest> {
    let text = format!("sha256:{}", pki::hex(pki::sha256(bytes)));
    Digest::from_str(&text).map_err(|e| anyhow!("digest {text}: {e}"))
}

/// A descriptor of BYTES (digest and size taken from them) with MEDIA_TYPE.
pub fn descriptor_of(media_type: MediaType, bytes: &[u8]) -> Result<Descriptor> {
    Ok(Descriptor::new(media_type, len(bytes), digest_of(bytes)?))
}

fn len(bytes: &[u8]) -> u64 {
    bytes.len() as u64
}

/// A sha256 digest given on the command line; other algorithms are refused because the
/// registry's referrers tag schema (`sha256-<hex>`) and the frontend only use sha256.
pub fn sha256_digest(text: &str) -> Result<Digest> {
    let digest = Digest::from_str(text).map_err(|e| anyhow!("bad digest {text:?}: {e}"))?;
    match digest.algorithm() {
        DigestAlgorithm::Sha256 => Ok(digest),
        other => bail!("bad digest {text:?}: {other}, not sha256"),
    }
}

/// A descriptor given as its three parts, the way the scripts pass "digest mediaType size".
pub fn descriptor_from_parts(digest: &str, media_type: &str, size: &str) -> Result<Descriptor> {
    let size = size
        .parse::<u64>()
        .with_context(|| format!("bad size {size:?}"))?;
    Ok(Descriptor::new(
        MediaType::from(media_type),
        size,
        sha256_digest(digest)?,
    ))
}

/// "digest mediaType size", the one-line form the scripts read with `read -r -a`.
pub fn descriptor_line(d: &Descriptor) -> String {
    format!("{} {} {}", d.digest(), d.media_type(), d.size())
}

/// Compact JSON, the bytes the scripts push.
pub fn to_json<T: Serialize>(doc: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(doc).context("serializing")
}

/// Parses BYTES as T and refuses it if T would not write the same JSON back: a document is
/// only rewritten when the typed form keeps every field, so an edit never silently drops one
/// (oci-spec ignores unknown fields, and names a platform's `os.version` `os_version`).
pub fn parse_exact<T: DeserializeOwned + Serialize>(bytes: &[u8], what: &str) -> Result<T> {
    let doc: T = serde_json::from_slice(bytes).with_context(|| format!("not an OCI {what}"))?;
    let original: serde_json::Value = serde_json::from_slice(bytes)?;
    let written = serde_json::to_value(&doc)?;
    if let Some(at) = first_difference(&original, &written, String::new()) {
        bail!("the OCI {what} type does not keep {at:?} as given; refusing to rewrite it");
    }
    Ok(doc)
}

/// The JSON pointer of the first place A and B differ, if any.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .find_map(|(k, v)| match y.get(k) {
                Some(w) => first_difference(v, w, format!("{at}/{k}")),
                None => Some(format!("{at}/{k}")),
            })
            .or_else(|| {
                y.keys()
                    .find(|k| !x.contains_key(*k))
                    .map(|k| format!("{at}/{k}"))
            }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some(if at.is_empty() { "/".into() } else { at }),
    }
}

/// A manifest or an index, for the commands that take either.
pub enum Document {
    Index(Box<ImageIndex>),
    Manifest(Box<ImageManifest>),
}

impl Document {
    /// An index has `manifests`, a manifest `config` and `layers`; neither parses as the
    /// other, so the first that parses is what the document is.
    pub fn parse(bytes: &[u8]) -> Result<Document> {
        if let Ok(index) = serde_json::from_slice::<ImageIndex>(bytes) {
            return Ok(Document::Index(Box::new(index)));
        }
        serde_json::from_slice::<ImageManifest>(bytes)
            .map(|m| Document::Manifest(Box::new(m)))
            .context("neither an OCI image index nor an image manifest")
    }

    pub fn media_type(&self) -> Option<&MediaType> {
        match self {
            Document::Index(i) => i.media_type().as_ref(),
            Document::Manifest(m) => m.media_type().as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_the_empty_object_is_the_oci_empty_descriptors() {
        let d = descriptor_of(MediaType::EmptyJSON, b"{}").unwrap();
        assert_eq!(
            d.digest().to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(d.size(), 2);
    }

    #[test]
    fn only_sha256_digests_are_taken() {
        assert!(sha256_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(sha256_digest(&format!("sha512:{}", "a".repeat(128))).is_err());
        assert!(sha256_digest("sha256:abc").is_err());
        assert!(descriptor_from_parts(&format!("sha256:{}", "a".repeat(64)), "x/y", "-1").is_err());
    }

    #[test]
    fn parse_exact_names_a_field_the_type_would_drop() {
        let m = r#"{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"extra":1}"#;
        let err = parse_exact::<ImageManifest>(m.as_bytes(), "image manifest").unwrap_err();
        assert!(err.to_string().contains("\"/extra\""), "{err}");
        let kept = m.replace(r#","extra":1"#, "");
        parse_exact::<ImageManifest>(kept.as_bytes(), "image manifest").unwrap();
    }

    #[test]
    fn parse_exact_refuses_a_platform_os_version() {
        let i = r#"{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"platform":{"architecture":"amd64","os":"windows","os.version":"10.0"}}]}"#;
        let err = parse_exact::<ImageIndex>(i.as_bytes(), "image index").unwrap_err();
        assert!(err.to_string().contains("platform"), "{err}");
    }

    #[test]
    fn documents_are_told_apart() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(matches!(
            Document::parse(index).unwrap(),
            Document::Index(_)
        ));
        let manifest = br#"{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
        assert!(matches!(
            Document::parse(manifest).unwrap(),
            Document::Manifest(_)
        ));
        assert!(Document::parse(b"{}").is_err());
    }
}
