//! An OCI image layout directory as the image store: the image named by tag or digest in
//! its index.json, blobs by digest, and the referrers of a manifest.

use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;

use super::document::{
    ImageRoot, MAX_BLOB, Read, ReadError, RootDocument, annotation, check_digest, parse,
};
use crate::sources::image_ref::validate_digest;

/// Files up to this size are looked at when searching the blobs for referrers.
const MAX_REFERRER_SCAN: u64 = 1 << 20;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// An index.json entry: a descriptor, and the `subject` that some tools copy into it from
/// the referrer manifest it names (not a descriptor field, so not in the OCI type).
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(flatten)]
    descriptor: Descriptor,
    subject: Option<Descriptor>,
}

impl Entry {
    fn ref_name(&self) -> Option<&str> {
        annotation(&self.descriptor, REF_NAME)
    }

    fn full_name(&self) -> Option<&str> {
        annotation(&self.descriptor, CONTAINERD_NAME)
    }

    fn digest(&self) -> &str {
        self.descriptor.digest().as_ref()
    }

    fn has_tag(&self, t: &str) -> bool {
        self.ref_name() == Some(t)
            || self
                .full_name()
                .is_some_and(|c| c == t || c.rsplit_once(':').is_some_and(|(_, ct)| ct == t))
    }

    /// Referrer manifests and tag-schema indexes may sit in index.json too: they are not
    /// the image.
    fn is_image(&self) -> bool {
        self.subject.is_none()
            && self
                .ref_name()
                .is_none_or(|n| !(n.starts_with("sha256-") && n.len() == 71))
    }
}

/// index.json, read as an image index whose entries may carry a `subject`.
#[derive(Debug, Deserialize)]
struct LayoutIndex {
    manifests: Vec<Entry>,
}

fn blob_path(dir: &Path, digest: &str) -> Read<PathBuf> {
    validate_digest(digest).map_err(ReadError::Malformed)?;
    let (algo, hex) = digest.split_once(':').unwrap_or_default();
    Ok(dir.join("blobs").join(algo).join(hex))
}

pub fn read_blob(dir: &Path, what: &str, digest: &str) -> Read<Vec<u8>> {
    let path = blob_path(dir, digest)?;
    let len = std::fs::metadata(&path)
        .map_err(|e| ReadError::Unreadable(format!("{what} {digest}: {}: {e}", path.display())))?
        .len();
    if len as usize > MAX_BLOB {
        return Err(ReadError::Unreadable(format!(
            "{what} {digest} is larger than {MAX_BLOB} bytes"
        )));
    }
    std::fs::read(&path)
        .map_err(|e| ReadError::Unreadable(format!("{what} {digest}: {}: {e}", path.display())))
}

fn index(dir: &Path) -> Read<LayoutIndex> {
    let path = dir.join("index.json");
    let data = std::fs::read(&path)
        .map_err(|e| ReadError::Unreadable(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&data).map_err(|e| {
        ReadError::Malformed(match e.classify() {
            serde_json::error::Category::Data => {
                format!("{}: not an image index: {e}", path.display())
            }
            _ => format!("{}: not JSON: {e}", path.display()),
        })
    })
}

/// The index.json entry the user named, or `None` for a digest index.json does not list
/// (a nested index, say), which is read by digest alone.
fn chosen<'a>(
    dir: &Path,
    entries: &'a [Entry],
    tag: Option<&str>,
    digest: Option<&str>,
) -> Read<Option<&'a Entry>> {
    let chosen: Vec<&Entry> = match (tag, digest) {
        (_, Some(d)) => entries.iter().filter(|e| e.digest() == d).collect(),
        (Some(t), None) => entries
            .iter()
            .filter(|e| e.is_image() && e.has_tag(t))
            .collect(),
        (None, None) => entries.iter().filter(|e| e.is_image()).collect(),
    };
    match chosen.as_slice() {
        [one] => Ok(Some(*one)),
        [] if digest.is_some() => Ok(None),
        [] => Err(ReadError::Unreadable(match tag {
            Some(t) => format!("{}: index.json has no image tagged {t}", dir.display()),
            _ => format!("{}: index.json lists no image", dir.display()),
        })),
        many => {
            let tags: Vec<String> = many
                .iter()
                .map(|e| {
                    e.ref_name()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{:?}", e.digest()))
                })
                .collect();
            Err(ReadError::Unreadable(format!(
                "{}: index.json lists {} images ({}): name one with :tag or @digest",
                dir.display(),
                many.len(),
                tags.join(", ")
            )))
        }
    }
}

/// The image's root index, named by tag or digest (or the only image of the layout).
pub fn root(dir: &Path, tag: Option<&str>, digest: Option<&str>) -> Read<ImageRoot> {
    let index = index(dir)?;
    let entry = chosen(dir, &index.manifests, tag, digest)?;
    let d = match (entry, digest) {
        (Some(e), _) => e.digest(),
        (None, Some(d)) => d,
        (None, None) => {
            return Err(ReadError::Unreadable(format!(
                "{}: index.json lists no image",
                dir.display()
            )));
        }
    };
    let data = read_blob(dir, "image index", d)?;
    check_digest("image index", d, &data)?;
    let document = RootDocument::parse("image index", d, &data)?;
    let ref_name = entry.and_then(Entry::ref_name).map(str::to_string);
    // The name BuildKit's exporter recorded (`name=` of the output), for the policy input.
    let full = entry.and_then(Entry::full_name);
    let (name, tag) = match full.map(crate::sources::ImageRef::normalize) {
        Some(Ok(r)) => (Some(r.name), r.tag.or(ref_name)),
        _ => (None, ref_name),
    };
    // Named by digest, the image is that digest, whatever tag the layout gives it (as for
    // a registry reference by digest).
    let tag = tag.filter(|_| digest.is_none());
    Ok(ImageRoot {
        digest: d.to_string(),
        data,
        document,
        name,
        tag,
    })
}

/// The manifests whose subject is `subject`: listed in index.json (with their subject, or
/// in a referrers-tag-schema index), or anywhere among the blobs.
pub fn referrers(dir: &Path, subject: &str) -> Read<Vec<Descriptor>> {
    let mut out: Vec<Descriptor> = Vec::new();
    let mut add = |d: Descriptor| {
        if !out.iter().any(|x| x.digest() == d.digest()) {
            out.push(d);
        }
    };
    let tag = subject.replace(':', "-");
    for e in index(dir)?.manifests {
        if e.subject
            .as_ref()
            .is_some_and(|s| s.digest().as_ref() == subject)
        {
            add(e.descriptor.clone());
        }
        // The referrers tag schema, kept in the layout as a tagged index.
        if e.ref_name() == Some(tag.as_str())
            && let Ok(data) = read_blob(dir, "referrers index", e.digest())
            && check_digest("referrers index", e.digest(), &data).is_ok()
            && let Ok(list) =
                parse::<ImageIndex>("referrers index", e.digest(), &data, "an image index")
        {
            list.manifests().iter().cloned().for_each(&mut add);
        }
    }
    for d in scanned_referrers(dir, subject) {
        add(d);
    }
    Ok(out)
}

/// Manifests anywhere in the blobs whose subject is `subject`, in file name order.
fn scanned_referrers(dir: &Path, subject: &str) -> Vec<Descriptor> {
    let Ok(rd) = std::fs::read_dir(dir.join("blobs/sha256")) else {
        return vec![];
    };
    let mut names: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    names.sort();
    names
        .iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() <= MAX_REFERRER_SCAN))
        .filter_map(|p| {
            let digest =
                oci_spec::image::Digest::try_from(format!("sha256:{}", p.file_name()?.to_str()?))
                    .ok()?;
            let data = std::fs::read(p).ok().filter(|d| d.first() == Some(&b'{'))?;
            let m: ImageManifest = serde_json::from_slice(&data).ok()?;
            let media_type = m.media_type().clone().unwrap_or(MediaType::ImageManifest);
            (m.subject().as_ref()?.digest().as_ref() == subject)
                .then(|| Descriptor::new(media_type, data.len() as u64, digest))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::document::sha256_digest;
    use super::*;

    /// Writes `data` among the layout's blobs; its descriptor as JSON.
    fn put(dir: &Path, media_type: &str, data: &[u8]) -> serde_json::Value {
        let digest = sha256_digest(data);
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), data).unwrap();
        json!({"mediaType": media_type, "digest": digest, "size": data.len()})
    }

    fn manifest(subject: Option<&serde_json::Value>) -> Vec<u8> {
        let config = json!({"mediaType": "application/vnd.oci.empty.v1+json",
            "digest": sha256_digest(b"{}"), "size": 2});
        let mut m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config, "layers": []});
        if let Some(s) = subject {
            m["subject"] = s.clone();
        }
        serde_json::to_vec(&m).unwrap()
    }

    /// A layout with an image index tagged v1, and two referrers of its first manifest:
    /// one listed in index.json with its subject, one only among the blobs.
    fn layout() -> (tempfile::TempDir, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let image = put(
            d,
            "application/vnd.oci.image.manifest.v1+json",
            &manifest(None),
        );
        let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [image]})).unwrap();
        let mut root = put(d, "application/vnd.oci.image.index.v1+json", &index);
        root["annotations"] = json!({REF_NAME: "v1"});
        let listed = put(
            d,
            "application/vnd.oci.image.manifest.v1+json",
            &manifest(Some(&image)),
        );
        let mut listed_entry = listed.clone();
        listed_entry["subject"] = image.clone();
        put(
            d,
            "application/vnd.oci.image.manifest.v1+json",
            &manifest(Some(&json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image["digest"], "size": image["size"], "annotations": {"x": "scanned"}}))),
        );
        let top = json!({"schemaVersion": 2, "manifests": [root, listed_entry]});
        std::fs::write(d.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
        let digest = |v: &serde_json::Value| v["digest"].as_str().unwrap().to_string();
        (dir, digest(&root), digest(&image))
    }

    #[test]
    fn the_image_is_found_by_tag_or_alone_and_referrers_are_not_images() {
        let (dir, root_digest, _) = layout();
        for tag in [Some("v1"), None] {
            let r = root(dir.path(), tag, None).unwrap();
            assert_eq!(r.digest, root_digest);
            assert_eq!(r.tag.as_deref(), Some("v1"));
            assert!(matches!(r.document, RootDocument::Index(_)));
        }
        let by_digest = root(dir.path(), None, Some(&root_digest)).unwrap();
        assert_eq!(
            by_digest.tag, None,
            "named by digest, the tag does not count"
        );
        let e = root(dir.path(), Some("v2"), None).err().unwrap();
        assert!(
            e.to_string().contains("index.json has no image tagged v2"),
            "{e}"
        );
    }

    #[test]
    fn referrers_come_from_index_json_and_the_blobs_once_each() {
        let (dir, _, image) = layout();
        let found = referrers(dir.path(), &image).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|d| d.size() > 0));
        assert!(
            referrers(dir.path(), &sha256_digest(b"other"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_malformed_index_json_is_bad_input_naming_why() {
        let (dir, ..) = layout();
        let index_json = dir.path().join("index.json");
        std::fs::write(&index_json, "{not json").unwrap();
        let e = root(dir.path(), None, None).err().unwrap();
        assert!(
            matches!(&e, ReadError::Malformed(m) if m.contains("index.json: not JSON")),
            "{e}"
        );
        // A descriptor without its size is not a descriptor.
        std::fs::write(
            &index_json,
            format!(
                r#"{{"manifests": [{{"mediaType": "x", "digest": "{}"}}]}}"#,
                sha256_digest(b"x")
            ),
        )
        .unwrap();
        let e = root(dir.path(), None, None).err().unwrap();
        assert!(
            matches!(&e, ReadError::Malformed(m) if m.contains("not an image index") && m.contains("size")),
            "{e}"
        );
    }
}
