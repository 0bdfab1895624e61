//! The shape of a Docker Hardened Image, made from an image BuildKit built: the index
//! policy-helpers recognizes as DHI (`isDHIIndex`: an `org.opencontainers.image.title` of
//! `dhi/...` and a `com.docker.dhi.build.id` on every manifest), with no attestation
//! manifest of its own, and the SLSA provenance as an OCI 1.1 referrer of the image
//! manifest (`artifactType` `application/vnd.in-toto+json`, the predicate type annotated),
//! which is where policy-helpers looks for a DHI's attestation.

use std::collections::HashMap;

use anyhow::{Result, bail};
use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageManifest, MediaType};

use super::referrer::Referrer;
use super::{descriptor_of, to_json};

pub const TITLE: &str = "org.opencontainers.image.title";
pub const BUILD_ID: &str = "com.docker.dhi.build.id";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
const PREDICATE_TYPE: &str = "in-toto.io/predicate-type";
const SLSA_PREFIX: &str = "https://slsa.dev/provenance/";

/// INDEX reduced to the image manifest IMAGE, each entry with a build id and the index
/// titled TITLE (`dhi/<name>` makes it DHI-shaped).
pub fn index(mut index: ImageIndex, image: &Digest, title: &str) -> Result<ImageIndex> {
    let mut kept: Vec<Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| d.digest() == image)
        .cloned()
        .collect();
    if kept.is_empty() {
        bail!("the index does not list {image}");
    }
    for d in &mut kept {
        let mut a = d.annotations().clone().unwrap_or_default();
        a.insert(BUILD_ID.into(), format!("sigkit-{}", &image.digest()[..12]));
        d.set_annotations(Some(a));
    }
    index.set_manifests(kept);
    let mut a = index.annotations().clone().unwrap_or_default();
    a.insert(TITLE.into(), title.into());
    index.set_annotations(Some(a));
    Ok(index)
}

/// The referrer of SUBJECT (the image manifest) holding the SLSA layers of BuildKit's
/// attestation manifest ATTESTATION (the same blobs, already in the repository).
pub fn attestation(attestation: &ImageManifest, subject: Descriptor) -> Result<Referrer> {
    let slsa: Vec<Descriptor> = attestation
        .layers()
        .iter()
        .filter(|l| predicate(l).starts_with(SLSA_PREFIX))
        .cloned()
        .collect();
    let Some(first) = slsa.first() else {
        bail!("the attestation manifest holds no SLSA provenance");
    };
    let annotations = HashMap::from([(PREDICATE_TYPE.to_string(), predicate(first).to_string())]);
    let config = b"{}".to_vec();
    let manifest = oci_spec::image::ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::Other(IN_TOTO.into()))
        .config(descriptor_of(MediaType::EmptyJSON, &config)?)
        .layers(slsa)
        .subject(subject)
        .annotations(annotations)
        .build()?;
    Ok(Referrer {
        manifest: to_json(&manifest)?,
        config,
    })
}

fn predicate(l: &Descriptor) -> &str {
    l.annotations()
        .as_ref()
        .and_then(|a| a.get(PREDICATE_TYPE))
        .map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EMPTY: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn the_index_keeps_the_image_only_with_a_build_id_and_the_title() {
        let index: ImageIndex = serde_json::from_value(json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest('a'), "size": 1},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest('b'), "size": 2,
                 "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}
            ]}))
        .unwrap();
        let image: Digest = digest('a').parse().unwrap();
        let got =
            serde_json::to_value(super::index(index.clone(), &image, "dhi/app").unwrap()).unwrap();
        assert_eq!(got["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(got["manifests"][0]["digest"], digest('a'));
        assert!(
            got["manifests"][0]["annotations"][BUILD_ID]
                .as_str()
                .unwrap()
                .starts_with("sigkit-")
        );
        assert_eq!(got["annotations"][TITLE], "dhi/app");
        let other: Digest = digest('c').parse().unwrap();
        assert!(super::index(index, &other, "dhi/app").is_err());
    }

    #[test]
    fn the_attestation_is_an_in_toto_referrer_of_the_image_with_the_slsa_layers() {
        let slsa = "https://slsa.dev/provenance/v1";
        let att: ImageManifest = serde_json::from_value(json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2},
        "layers": [
            {"mediaType": "application/vnd.in-toto+json", "digest": digest('d'), "size": 3,
             "annotations": {PREDICATE_TYPE: slsa}},
            {"mediaType": "application/vnd.in-toto+json", "digest": digest('e'), "size": 4,
             "annotations": {PREDICATE_TYPE: "https://spdx.dev/Document"}}
        ]}))
        .unwrap();
        let subject = Descriptor::new(
            MediaType::ImageManifest,
            5,
            digest('a').parse::<Digest>().unwrap(),
        );
        let r = attestation(&att, subject).unwrap();
        let m: serde_json::Value = serde_json::from_slice(&r.manifest).unwrap();
        assert_eq!(m["artifactType"], IN_TOTO);
        assert_eq!(m["annotations"][PREDICATE_TYPE], slsa);
        assert_eq!(m["subject"]["digest"], digest('a'));
        assert_eq!(m["layers"].as_array().unwrap().len(), 1);
        assert_eq!(m["layers"][0]["digest"], digest('d'));
        assert_eq!(r.config, b"{}");
    }
}
