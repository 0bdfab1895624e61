//! An OCI image layout directory as the image store: the image named by tag or digest in
//! its index.json, blobs by digest, and the referrers of a manifest. What is read counts
//! against the verify's bounds (`store::Budget`).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;

use super::document::{
    ImageRoot, MAX_BLOB, Read, ReadError, RootDocument, annotation, check_digest, parse,
};
use super::limits::Budget;
use crate::sources::image_ref::validate_digest;

/// Files up to this size are looked at when searching the blobs for referrers.
const MAX_REFERRER_SCAN: u64 = 1 << 20;

pub(super) const REF_NAME: &str = "org.opencontainers.image.ref.name";
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

/// The manifests among the blobs that name a subject, as (subject, descriptor): the blobs
/// are scanned once per verify, however many platforms ask.
pub type Scanned = OnceLock<Read<Vec<(String, Descriptor)>>>;

fn blob_path(dir: &Path, digest: &str) -> Read<PathBuf> {
    validate_digest(digest).map_err(ReadError::Malformed)?;
    let (algo, hex) = digest.split_once(':').unwrap_or_default();
    Ok(dir.join("blobs").join(algo).join(hex))
}

/// How much of a file may be read, and what more means.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// The size its descriptor gives: more is not the blob it names.
    Descriptor(u64),
    /// A bound on reading at all, described for the error (`a manifest may have`).
    Bound(u64, &'static str),
}

impl Limit {
    fn bytes(self) -> u64 {
        match self {
            Limit::Descriptor(n) | Limit::Bound(n, _) => n.min(MAX_BLOB as u64),
        }
    }

    fn exceeded(self, what: &str) -> ReadError {
        match self {
            Limit::Descriptor(n) => ReadError::Integrity(format!(
                "{what} is larger than the {n} bytes its descriptor says"
            )),
            Limit::Bound(n, bound) => {
                ReadError::Unreadable(format!("{what} is larger than the {n} bytes {bound}"))
            }
        }
    }
}

/// A file's bytes, refused past `limit` (also when it grows while it is read).
fn read_file(path: &Path, what: &str, limit: Limit) -> Read<Vec<u8>> {
    let unreadable =
        |e: std::io::Error| ReadError::Unreadable(format!("{what}: {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    let max = limit.bytes();
    if len > max {
        return Err(limit.exceeded(what));
    }
    let mut data = Vec::with_capacity(len as usize);
    file.take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(unreadable)?;
    if data.len() as u64 > max {
        return Err(limit.exceeded(what));
    }
    Ok(data)
}

/// The blob `digest`, read no further than `limit`.
pub fn read_blob(dir: &Path, what: &str, digest: &str, limit: Limit) -> Read<Vec<u8>> {
    let path = blob_path(dir, digest)?;
    read_file(&path, &format!("{what} {digest}"), limit)
}

const MANIFEST_BOUND: &str = "a manifest may have";

fn manifest_limit(budget: &Budget) -> Limit {
    Limit::Bound(budget.limits.manifest, MANIFEST_BOUND)
}

/// index.json, bounded as a manifest is.
fn index(dir: &Path, budget: &Budget) -> Read<LayoutIndex> {
    let path = dir.join("index.json");
    let name = path.display().to_string();
    let data = read_file(&path, &name, manifest_limit(budget))?;
    budget.charge(&name, data.len() as u64)?;
    let index: LayoutIndex = serde_json::from_slice(&data).map_err(|e| {
        ReadError::Malformed(match e.classify() {
            serde_json::error::Category::Data => {
                format!("{}: not an image index: {e}", path.display())
            }
            _ => format!("{}: not JSON: {e}", path.display()),
        })
    })?;
    budget.entries(&name, "manifests", index.manifests.len())?;
    Ok(index)
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
pub fn root(
    dir: &Path,
    tag: Option<&str>,
    digest: Option<&str>,
    budget: &Budget,
) -> Read<ImageRoot> {
    let index = index(dir, budget)?;
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
    let what = "image index";
    budget.manifest_size(
        &format!("{what} {d}"),
        entry.map_or(0, |e| e.descriptor.size()),
    )?;
    let data = read_blob(dir, what, d, manifest_limit(budget))?;
    budget.charge(&format!("{what} {d}"), data.len() as u64)?;
    check_digest(what, d, &data)?;
    let document = RootDocument::parse(what, d, &data)?;
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
pub fn referrers(
    dir: &Path,
    subject: &str,
    scanned: &Scanned,
    budget: &Budget,
) -> Read<Vec<Descriptor>> {
    let mut out: Vec<Descriptor> = Vec::new();
    let mut add = |d: Descriptor| {
        if !out.iter().any(|x| x.digest() == d.digest()) {
            out.push(d);
        }
    };
    let tag = subject.replace(':', "-");
    for e in index(dir, budget)?.manifests {
        if e.subject
            .as_ref()
            .is_some_and(|s| s.digest().as_ref() == subject)
        {
            add(e.descriptor.clone());
        }
        // The referrers tag schema, kept in the layout as a tagged index.
        if e.ref_name() == Some(tag.as_str()) {
            referrers_index(dir, &e, budget)?
                .into_iter()
                .for_each(&mut add);
        }
    }
    let all = scanned.get_or_init(|| scan(dir, budget));
    for (s, d) in all.as_ref().map_err(Clone::clone)? {
        if s == subject {
            add(d.clone());
        }
    }
    Ok(out)
}

/// The manifests a referrers-tag-schema index lists; none if it cannot be read as one.
fn referrers_index(dir: &Path, e: &Entry, budget: &Budget) -> Read<Vec<Descriptor>> {
    let (what, d) = ("referrers index", e.digest());
    let Ok(data) = read_blob(dir, what, d, manifest_limit(budget)) else {
        return Ok(vec![]);
    };
    budget.charge(&format!("{what} {d}"), data.len() as u64)?;
    if check_digest(what, d, &data).is_err() {
        return Ok(vec![]);
    }
    let Ok(list) = parse::<ImageIndex>(what, d, &data, "an image index") else {
        return Ok(vec![]);
    };
    budget.entries(&format!("{what} {d}"), "manifests", list.manifests().len())?;
    Ok(list.manifests().clone())
}

/// Every manifest among the blobs that names a subject, in file name order. Each file read
/// counts against the verify's bytes.
fn scan(dir: &Path, budget: &Budget) -> Read<Vec<(String, Descriptor)>> {
    let Ok(rd) = std::fs::read_dir(dir.join("blobs/sha256")) else {
        return Ok(vec![]);
    };
    let mut names: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        let Some(hex) = p.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Ok(digest) = oci_spec::image::Digest::try_from(format!("sha256:{hex}")) else {
            continue;
        };
        let scan_limit = Limit::Bound(MAX_REFERRER_SCAN, "a scanned blob may have");
        let Ok(data) = read_file(&p, "blob", scan_limit) else {
            continue;
        };
        budget.charge(
            &format!("scanning the layout's blob {digest}"),
            data.len() as u64,
        )?;
        if data.first() != Some(&b'{') {
            continue;
        }
        let Ok(m) = serde_json::from_slice::<ImageManifest>(&data) else {
            continue;
        };
        let Some(subject) = m.subject() else {
            continue;
        };
        let media_type = m.media_type().clone().unwrap_or(MediaType::ImageManifest);
        let d = Descriptor::new(media_type, data.len() as u64, digest);
        out.push((subject.digest().to_string(), d));
    }
    Ok(out)
}
