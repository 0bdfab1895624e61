//! The Referrers Tag Schema index (`sha256-<hex>` of the subject) that a registry without
//! the referrers API keeps for a subject, and that containerd, and so BuildKit, falls back to.

use anyhow::{Context, Result, bail};
use oci_spec::image::{DescriptorBuilder, ImageIndex, ImageIndexBuilder, ImageManifest, MediaType};

use super::{digest_of, len, parse_exact};

/// An index with no referrers.
pub fn empty() -> Result<ImageIndex> {
    Ok(ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::new())
        .build()?)
}

/// Parses a referrers tag index, which must be an OCI image index kept whole.
pub fn parse(bytes: &[u8]) -> Result<ImageIndex> {
    let index: ImageIndex = parse_exact(bytes, "image index")?;
    if index.media_type().as_ref() != Some(&MediaType::ImageIndex) {
        bail!(
            "not an OCI image index (mediaType {:?})",
            index.media_type()
        );
    }
    Ok(index)
}

/// INDEX with the referrer MANIFEST (the pushed bytes) listed last, replacing an entry of
/// the same digest: its descriptor carries the manifest's artifactType and annotations, as
/// the referrers API would list it.
pub fn add(mut index: ImageIndex, manifest: &[u8]) -> Result<ImageIndex> {
    let parsed: ImageManifest =
        serde_json::from_slice(manifest).context("the referrer is not an OCI image manifest")?;
    if parsed.media_type().as_ref() != Some(&MediaType::ImageManifest) {
        bail!(
            "the referrer's mediaType is {:?}, not {}",
            parsed.media_type(),
            MediaType::ImageManifest
        );
    }
    let digest = digest_of(manifest)?;
    let mut entry = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .digest(digest.clone())
        .size(len(manifest));
    if let Some(t) = parsed.artifact_type() {
        entry = entry.artifact_type(t.clone());
    }
    if let Some(a) = parsed.annotations() {
        entry = entry.annotations(a.clone());
    }
    let entry = entry.build()?;
    let mut manifests = index.manifests().clone();
    manifests.retain(|d| d.digest() != &digest);
    manifests.push(entry);
    index.set_manifests(manifests);
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::to_json;
    use serde_json::json;

    fn manifest(artifact_type: &str, annotations: serde_json::Value) -> Vec<u8> {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": artifact_type,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                "size": 2
            },
            "layers": [],
            "annotations": annotations
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_empty_index_is_an_oci_index_without_manifests() {
        let written: serde_json::Value =
            serde_json::from_slice(&to_json(&empty().unwrap()).unwrap()).unwrap();
        assert_eq!(
            written,
            json!({"schemaVersion": 2, "mediaType": MediaType::ImageIndex.to_string(), "manifests": []})
        );
    }

    #[test]
    fn a_referrer_is_listed_once_with_its_artifact_type_and_annotations() {
        let a = manifest("application/x.a", json!({"k": "v"}));
        let b = manifest("application/x.b", json!({"k": "w"}));
        let once = add(empty().unwrap(), &a).unwrap();
        let twice = add(once.clone(), &a).unwrap();
        assert_eq!(twice, once);
        let both = add(twice, &b).unwrap();
        let [first, second] = both.manifests().as_slice() else {
            panic!("{both:?}")
        };
        assert_eq!(first, &once.manifests()[0]);
        assert_eq!(first.digest(), &digest_of(&a).unwrap());
        assert_eq!(first.size(), a.len() as u64);
        assert_eq!(first.media_type(), &MediaType::ImageManifest);
        assert_eq!(
            first.artifact_type(),
            &Some(MediaType::Other("application/x.a".into()))
        );
        assert_eq!(second.digest(), &digest_of(&b).unwrap());
        assert_eq!(
            second.annotations().as_ref().unwrap()["k"],
            "w",
            "the entry carries the referrer's annotations"
        );
        // What is written is read back whole.
        assert_eq!(parse(&to_json(&both).unwrap()).unwrap(), both);
    }

    #[test]
    fn a_referrer_without_annotations_lists_none() {
        let mut m: serde_json::Value =
            serde_json::from_slice(&manifest("application/x.a", json!({}))).unwrap();
        m.as_object_mut().unwrap().remove("annotations");
        let index = add(empty().unwrap(), m.to_string().as_bytes()).unwrap();
        let written = String::from_utf8(to_json(&index).unwrap()).unwrap();
        assert!(!written.contains("annotations"), "{written}");
    }

    #[test]
    fn only_oci_indexes_and_oci_manifests_are_taken() {
        let no_type = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(parse(no_type).is_err());
        let docker = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
        assert!(parse(docker).is_err());
        let index = String::from_utf8(manifest("application/x.a", json!({})))
            .unwrap()
            .replace(
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.image.index.v1+json",
            );
        let err = add(empty().unwrap(), index.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("mediaType"), "{err}");
    }
}
