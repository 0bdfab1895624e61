//! Questions the scripts ask about a manifest or index they fetched: its descriptor, the
//! attestation manifest BuildKit attached for a platform, the manifests and blobs it names.

use anyhow::{Context, Result, bail};
use oci_spec::image::{Descriptor, Digest, ImageIndex, MediaType};

use super::{Document, digest_of, len};

const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
const REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
const ATTESTATION_MANIFEST: &str = "attestation-manifest";

/// The descriptor of the document BYTES: its digest and size, its own mediaType or, for a
/// document without one (Docker's and early OCI ones may omit it), FALLBACK, the type the
/// registry served it as.
pub fn describe(bytes: &[u8], fallback: Option<&str>) -> Result<Descriptor> {
    let doc = Document::parse(bytes)?;
    let media_type = match (doc.media_type(), fallback) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) => MediaType::from(t),
        (None, None) => bail!("the document has no mediaType and no --media-type was given"),
    };
    Ok(Descriptor::new(media_type, len(bytes), digest_of(bytes)?))
}

/// A platform as `os/arch[/variant]`.
pub struct Platform<'a> {
    os: &'a str,
    arch: &'a str,
    variant: Option<&'a str>,
}

impl<'a> Platform<'a> {
    pub fn parse(text: &'a str) -> Result<Self> {
        let mut parts = text.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform { os, arch, variant })
            }
            _ => bail!("bad platform {text:?}: want os/arch[/variant]"),
        }
    }

    fn matches(&self, d: &Descriptor) -> bool {
        d.platform().as_ref().is_some_and(|p| {
            p.os().to_string() == self.os
                && p.architecture().to_string() == self.arch
                && self
                    .variant
                    .is_none_or(|v| p.variant().as_deref() == Some(v))
        })
    }
}

fn annotation<'d>(d: &'d Descriptor, key: &str) -> Option<&'d str> {
    d.annotations().as_ref()?.get(key).map(String::as_str)
}

/// BuildKit's attestation manifest in INDEX for the image manifest of PLATFORM: the entry
/// of type `attestation-manifest` whose reference digest is that image's.
pub fn attestation_of<'i>(index: &'i ImageIndex, platform: &Platform) -> Result<&'i Descriptor> {
    let is_attestation =
        |d: &Descriptor| annotation(d, REFERENCE_TYPE) == Some(ATTESTATION_MANIFEST);
    let images: Vec<String> = index
        .manifests()
        .iter()
        .filter(|d| !is_attestation(d) && platform.matches(d))
        .map(|d| d.digest().to_string())
        .collect();
    index
        .manifests()
        .iter()
        .filter(|d| is_attestation(d))
        .find(|d| annotation(d, REFERENCE_DIGEST).is_some_and(|r| images.iter().any(|i| i == r)))
        .context("no attestation manifest for that platform")
}

/// The manifests an index lists, in order; none for a manifest.
pub fn children(doc: &Document) -> Vec<&Digest> {
    match doc {
        Document::Index(i) => i.manifests().iter().map(Descriptor::digest).collect(),
        Document::Manifest(_) => Vec::new(),
    }
}

/// A manifest's config and layers, in order; none for an index.
pub fn blobs(doc: &Document) -> Vec<&Digest> {
    match doc {
        Document::Index(_) => Vec::new(),
        Document::Manifest(m) => std::iter::once(m.config())
            .chain(m.layers())
            .map(Descriptor::digest)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::testdata::{
        ATTESTATION_DIGEST, BUILDKIT_ATTESTATION, BUILDKIT_INDEX, IMAGE_DIGEST,
    };

    fn index() -> ImageIndex {
        serde_json::from_str(BUILDKIT_INDEX).unwrap()
    }

    fn find(index: &ImageIndex, platform: &str) -> Result<String> {
        let platform = Platform::parse(platform)?;
        attestation_of(index, &platform).map(crate::oci::descriptor_line)
    }

    #[test]
    fn the_attestation_manifest_of_a_platform_is_found() {
        let line = find(&index(), "linux/amd64").unwrap();
        assert_eq!(
            line,
            format!("{ATTESTATION_DIGEST} application/vnd.oci.image.manifest.v1+json 836")
        );
        assert!(find(&index(), "linux/arm64").is_err());
        assert!(
            find(&index(), "linux/amd64/v2").is_err(),
            "a variant the image lacks"
        );
        // The attestation manifest's own "unknown/unknown" platform is not an image's.
        assert!(find(&index(), "unknown/unknown").is_err());
    }

    #[test]
    fn an_attestation_manifest_for_another_image_is_not_taken() {
        let moved = BUILDKIT_INDEX.replacen(
            &format!("\"vnd.docker.reference.digest\": \"{IMAGE_DIGEST}\""),
            &format!(
                "\"vnd.docker.reference.digest\": \"sha256:{}\"",
                "0".repeat(64)
            ),
            1,
        );
        assert_ne!(moved, BUILDKIT_INDEX);
        assert!(find(&serde_json::from_str(&moved).unwrap(), "linux/amd64").is_err());
    }

    #[test]
    fn platforms_are_os_arch_and_an_optional_variant() {
        assert!(Platform::parse("linux/arm/v7").is_ok());
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", ""] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_descriptor_is_of_the_bytes_as_served() {
        let d = describe(BUILDKIT_ATTESTATION.as_bytes(), Some("ignored/type")).unwrap();
        assert_eq!(d.digest().to_string(), ATTESTATION_DIGEST);
        assert_eq!(d.size(), 836);
        assert_eq!(d.media_type(), &MediaType::ImageManifest);

        let untyped = BUILDKIT_INDEX.replacen(
            "\"mediaType\": \"application/vnd.oci.image.index.v1+json\",",
            "",
            1,
        );
        let d = describe(untyped.as_bytes(), Some("application/x.served")).unwrap();
        assert_eq!(
            d.media_type(),
            &MediaType::Other("application/x.served".into())
        );
        assert!(describe(untyped.as_bytes(), None).is_err());
        assert!(describe(b"{}", Some("a/b")).is_err());
    }

    #[test]
    fn children_and_blobs_are_listed_in_order() {
        let index = Document::parse(BUILDKIT_INDEX.as_bytes()).unwrap();
        let listed: Vec<String> = children(&index).iter().map(|d| d.to_string()).collect();
        assert_eq!(listed, [IMAGE_DIGEST, ATTESTATION_DIGEST]);
        assert!(blobs(&index).is_empty());

        let manifest = Document::parse(BUILDKIT_ATTESTATION.as_bytes()).unwrap();
        let listed: Vec<String> = blobs(&manifest).iter().map(|d| d.to_string()).collect();
        assert_eq!(
            listed,
            [
                "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                "sha256:ab7a90579399531498363b920a989f0b8a37aeb6660433d979c4b5ecc4c80d92"
            ]
        );
        assert!(children(&manifest).is_empty());
    }
}
