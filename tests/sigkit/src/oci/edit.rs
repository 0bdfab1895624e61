//! Rewrites for the binding fixtures (scripts/fixtures-binding.sh): an attestation manifest
//! changed so its signature no longer binds the image (or, for the control case, changed
//! harmlessly), the index re-pointed at the rewritten manifest, and a signature manifest
//! given a second layer. Each result is still a well-formed OCI document; only what it says
//! is wrong.

use anyhow::{Context, Result, bail};
use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageManifest, MediaType};

use super::{digest_of, len};

/// What to change in a manifest; the default changes nothing.
#[derive(Default)]
pub struct ManifestEdit {
    /// Annotations to add to (or replace in) the manifest's own annotations.
    pub set_annotations: Vec<(String, String)>,
    pub drop_subject: bool,
    /// Added to the subject's size (negative to shrink it).
    pub subject_size_delta: i64,
    pub subject_media_type: Option<MediaType>,
    /// Appends a copy of the config's descriptor (media type, digest, size) as a layer.
    pub append_config_layer: bool,
}

impl ManifestEdit {
    fn edits_subject(&self) -> bool {
        self.subject_size_delta != 0 || self.subject_media_type.is_some()
    }
}

pub fn apply(mut m: ImageManifest, edit: &ManifestEdit) -> Result<ImageManifest> {
    if !edit.set_annotations.is_empty() {
        let annotations = m.annotations_mut().get_or_insert_default();
        annotations.extend(edit.set_annotations.iter().cloned());
    }
    if edit.drop_subject {
        if edit.edits_subject() {
            bail!("the subject cannot be both dropped and changed");
        }
        m.set_subject(None);
    }
    if edit.edits_subject() {
        let mut subject = m
            .subject()
            .clone()
            .context("the manifest has no subject to change")?;
        let size = subject
            .size()
            .checked_add_signed(edit.subject_size_delta)
            .context("the subject's size would leave the range of a size")?;
        subject.set_size(size);
        if let Some(t) = &edit.subject_media_type {
            subject.set_media_type(t.clone());
        }
        m.set_subject(Some(subject));
    }
    if edit.append_config_layer {
        let c = m.config();
        let copy = Descriptor::new(c.media_type().clone(), c.size(), c.digest().clone());
        m.layers_mut().push(copy);
    }
    Ok(m)
}

/// INDEX with its entries for FROM pointing at MANIFEST (the pushed bytes) instead: new
/// digest and size, media type, platform and annotations kept.
pub fn repoint(mut index: ImageIndex, from: &Digest, manifest: &[u8]) -> Result<ImageIndex> {
    let (digest, size) = (digest_of(manifest)?, len(manifest));
    let mut manifests = index.manifests().clone();
    let mut found = false;
    for d in manifests.iter_mut().filter(|d| d.digest() == from) {
        d.set_digest(digest.clone());
        d.set_size(size);
        found = true;
    }
    if !found {
        bail!("the index lists no manifest {from}");
    }
    index.set_manifests(manifests);
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::testdata::{
        ATTESTATION_DIGEST, BUILDKIT_ATTESTATION, BUILDKIT_INDEX, IMAGE_DIGEST,
    };
    use crate::oci::{parse_exact, sha256_digest, to_json};

    fn attestation() -> ImageManifest {
        parse_exact(BUILDKIT_ATTESTATION.as_bytes(), "image manifest").unwrap()
    }

    fn edited(edit: ManifestEdit) -> Result<ImageManifest> {
        apply(attestation(), &edit)
    }

    #[test]
    fn buildkits_documents_are_kept_whole() {
        let m = attestation();
        assert_eq!(
            digest_of(BUILDKIT_ATTESTATION.as_bytes())
                .unwrap()
                .to_string(),
            ATTESTATION_DIGEST
        );
        let again: ImageManifest = parse_exact(&to_json(&m).unwrap(), "image manifest").unwrap();
        assert_eq!(again, m);
        let i: ImageIndex = parse_exact(BUILDKIT_INDEX.as_bytes(), "image index").unwrap();
        assert_eq!(
            apply(m.clone(), &ManifestEdit::default()).unwrap(),
            m,
            "no edit, no change"
        );
        assert_eq!(i.manifests().len(), 2);
    }

    #[test]
    fn an_annotation_is_added_and_nothing_else_changes() {
        let m = edited(ManifestEdit {
            set_annotations: vec![("org.example.rewritten".into(), "yes".into())],
            ..Default::default()
        })
        .unwrap();
        let mut want = attestation();
        want.set_annotations(Some(
            [("org.example.rewritten".into(), "yes".into())].into(),
        ));
        assert_eq!(m, want);
    }

    #[test]
    fn the_subject_is_dropped_resized_or_retyped() {
        let original = attestation().subject().clone().unwrap();
        let dropped = edited(ManifestEdit {
            drop_subject: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(dropped.subject(), &None);
        assert_eq!(dropped.layers(), attestation().layers());

        let resized = edited(ManifestEdit {
            subject_size_delta: 1,
            ..Default::default()
        })
        .unwrap();
        let subject = resized.subject().clone().unwrap();
        assert_eq!(subject.size(), original.size() + 1);
        assert_eq!(
            (subject.digest(), subject.media_type()),
            (original.digest(), original.media_type())
        );

        let retyped = edited(ManifestEdit {
            subject_media_type: Some(MediaType::ImageIndex),
            ..Default::default()
        })
        .unwrap();
        let subject = retyped.subject().clone().unwrap();
        assert_eq!(subject.media_type(), &MediaType::ImageIndex);
        assert_eq!(
            (subject.digest(), subject.size()),
            (original.digest(), original.size())
        );
    }

    #[test]
    fn impossible_subject_edits_are_refused() {
        let both = ManifestEdit {
            drop_subject: true,
            subject_size_delta: 1,
            ..Default::default()
        };
        assert!(edited(both).is_err());
        let mut none = attestation();
        none.set_subject(None);
        let resize = ManifestEdit {
            subject_size_delta: 1,
            ..Default::default()
        };
        assert!(apply(none, &resize).is_err());
        let below_zero = ManifestEdit {
            subject_size_delta: -100_000,
            ..Default::default()
        };
        assert!(edited(below_zero).is_err());
    }

    #[test]
    fn the_config_is_appended_as_a_bare_layer() {
        let m = edited(ManifestEdit {
            append_config_layer: true,
            ..Default::default()
        })
        .unwrap();
        let config = attestation().config().clone();
        assert!(config.data().is_some(), "BuildKit embeds the empty config");
        let [first, second] = m.layers().as_slice() else {
            panic!("{:?}", m.layers())
        };
        assert_eq!(first, &attestation().layers()[0]);
        assert_eq!(
            second,
            &Descriptor::new(
                config.media_type().clone(),
                config.size(),
                config.digest().clone()
            )
        );
    }

    #[test]
    fn repointing_changes_digest_and_size_only() {
        let index: ImageIndex = serde_json::from_str(BUILDKIT_INDEX).unwrap();
        let new = b"{\"a new manifest\":1}";
        let from = sha256_digest(ATTESTATION_DIGEST).unwrap();
        let out = repoint(index.clone(), &from, new).unwrap();
        let (old, got) = (&index.manifests()[1], &out.manifests()[1]);
        assert_eq!(got.digest(), &digest_of(new).unwrap());
        assert_eq!(got.size(), new.len() as u64);
        assert_eq!(
            (got.media_type(), got.platform(), got.annotations()),
            (old.media_type(), old.platform(), old.annotations())
        );
        assert_eq!(out.manifests()[0], index.manifests()[0]);
        assert_eq!(out.manifests()[0].digest().to_string(), IMAGE_DIGEST);
        let absent = sha256_digest(&format!("sha256:{}", "0".repeat(64))).unwrap();
        assert!(repoint(index, &absent, new).is_err());
    }
}
