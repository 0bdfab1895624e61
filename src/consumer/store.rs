//! Where the image is read from: a registry (OCI distribution API, anonymous or with Docker's
//! credentials, plain HTTP only for loopback hosts) or an OCI image layout directory.
//! Every manifest and blob read is checked against its digest here, whatever the source says.
//!
//! What it reads is bounded (`limits`): from a registry each response is cut at its bound
//! while it is read (`registry`), so nothing past a bound is ever held in memory.

use std::path::PathBuf;

use oci_spec::image::{Descriptor, ImageIndex};

use super::document::{
    ImageRoot, MAX_BLOB, Read, ReadError, RootDocument, check_digest, parse, sha256_digest,
};
use super::layout;
use super::limits::Budget;
pub use super::limits::{Limits, MAX_ENTRIES, MAX_MANIFEST, MAX_REFERRERS, MAX_TOTAL};
use super::registry::{Cap, PACE, Pace, Registry};
use crate::sources::image_ref::validate_digest;

/// The image as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSpec {
    /// `name[:tag][@digest]` in a registry.
    Registry(String),
    /// `oci-layout://DIR[:tag|@sha256:…]`.
    Layout {
        dir: PathBuf,
        tag: Option<String>,
        digest: Option<String>,
    },
}

impl ImageSpec {
    pub fn parse(s: &str) -> Result<ImageSpec, String> {
        let Some(rest) = s.strip_prefix("oci-layout://") else {
            if s.is_empty() || s.contains("://") {
                return Err(format!(
                    "{s:?} is neither a registry reference nor oci-layout://DIR"
                ));
            }
            return Ok(ImageSpec::Registry(s.to_string()));
        };
        let (rest, digest) = match rest.rsplit_once('@') {
            Some((d, dg)) if dg.starts_with("sha256:") => {
                validate_digest(dg)?;
                (d, Some(dg.to_string()))
            }
            _ => (rest, None),
        };
        // A ':' after the last '/' starts a tag (a directory name rarely has one).
        let last = rest.rfind('/').map_or(0, |i| i + 1);
        let (dir, tag) = match rest[last..].rfind(':') {
            Some(i) if digest.is_none() => (&rest[..last + i], Some(&rest[last + i + 1..])),
            _ => (rest, None),
        };
        if dir.is_empty() {
            return Err(format!("{s:?} names no directory"));
        }
        if tag.is_some_and(str::is_empty) {
            return Err(format!("{s:?} has an empty tag"));
        }
        Ok(ImageSpec::Layout {
            dir: PathBuf::from(dir),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

/// An image's store, and what has been read from it.
pub struct Store {
    from: From,
    budget: Budget,
}

enum From {
    Registry {
        registry: Box<Registry>,
        reference: oci_client::Reference,
    },
    Layout {
        dir: PathBuf,
        /// The blobs that name a subject, scanned once for all platforms.
        scanned: layout::Scanned,
    },
}

impl From {
    fn open(spec: &ImageSpec, pace: Pace) -> Read<From> {
        match spec {
            ImageSpec::Registry(r) => {
                let reference: oci_client::Reference = r
                    .parse()
                    .map_err(|e| ReadError::Unreadable(format!("{r}: {e}")))?;
                Ok(From::Registry {
                    registry: Box::new(Registry::new(&reference, pace)?),
                    reference,
                })
            }
            ImageSpec::Layout { dir, .. } => {
                if !dir.join("index.json").is_file() || !dir.join("oci-layout").is_file() {
                    return Err(ReadError::Unreadable(format!(
                        "{}: not an OCI image layout (no index.json and oci-layout)",
                        dir.display()
                    )));
                }
                Ok(From::Layout {
                    dir: dir.clone(),
                    scanned: Default::default(),
                })
            }
        }
    }
}

impl Store {
    /// The store `spec` names; a registry's responses are read at no less than `PACE`.
    pub fn open(spec: &ImageSpec) -> Read<Store> {
        Ok(Store {
            from: From::open(spec, PACE)?,
            budget: Budget::new(Limits::default()),
        })
    }

    #[cfg(test)]
    pub(super) fn with_limits(mut self, limits: Limits) -> Store {
        self.budget = Budget::new(limits);
        self
    }

    #[cfg(test)]
    pub(super) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Reads the image's root manifest or index (checked against the digest the reference
    /// names, if any).
    pub async fn root(&self, spec: &ImageSpec) -> Read<ImageRoot> {
        let root = match (&self.from, spec) {
            (
                From::Registry {
                    registry,
                    reference,
                },
                _,
            ) => registry_root(registry, reference, &self.budget).await?,
            (From::Layout { dir, .. }, ImageSpec::Layout { tag, digest, .. }) => {
                layout::root(dir, tag.as_deref(), digest.as_deref(), &self.budget)?
            }
            (From::Layout { .. }, ImageSpec::Registry(_)) => {
                return Err(ReadError::Unreadable(
                    "an OCI layout store opened for a registry reference".into(),
                ));
            }
        };
        let what = format!("the image {}", root.digest);
        let (kind, n) = match &root.document {
            RootDocument::Index(i) => ("manifests", i.manifests().len()),
            RootDocument::Manifest(m) => ("layers", m.layers().len()),
        };
        self.budget.entries(&what, kind, n)?;
        Ok(root)
    }

    /// The manifest (or index) a descriptor names, checked against its digest and size.
    pub async fn manifest(&self, what: &str, d: &Descriptor) -> Read<Vec<u8>> {
        let at = format!("{what} {}", d.digest());
        self.budget.manifest_size(&at, d.size())?;
        let data = self.fetch(true, what, d).await?;
        self.budget.document_entries(&at, &data)?;
        Ok(data)
    }

    /// The blob (config, statement, bundle) a descriptor names, checked as `manifest`.
    pub async fn blob(&self, what: &str, d: &Descriptor) -> Read<Vec<u8>> {
        self.fetch(false, what, d).await
    }

    async fn fetch(&self, is_manifest: bool, what: &str, d: &Descriptor) -> Read<Vec<u8>> {
        let digest = d.digest().as_ref();
        let size = d.size();
        validate_digest(digest).map_err(|e| ReadError::Malformed(format!("{what}: {e}")))?;
        if size > MAX_BLOB as u64 {
            return Err(ReadError::Unreadable(format!(
                "{what} {digest} is larger than {MAX_BLOB} bytes"
            )));
        }
        // What the descriptor says is what is counted and may be read: more is refused as
        // soon as it arrives.
        let at = format!("{what} {digest}");
        self.budget.charge(&at, size)?;
        let data = match &self.from {
            From::Registry { registry, .. } => {
                let cap = Cap::Descriptor(size);
                if is_manifest {
                    registry.manifest(&at, digest, cap).await?.ok_or_else(|| {
                        ReadError::Unreadable(format!("{at}: not in the registry"))
                    })?
                } else {
                    registry.blob(what, digest, cap).await?
                }
            }
            From::Layout { dir, .. } => {
                layout::read_blob(dir, what, digest, layout::Limit::Descriptor(size))?
            }
        };
        check_digest(what, digest, &data)?;
        if size != data.len() as u64 {
            return Err(ReadError::Integrity(format!(
                "{what} {digest} is {} bytes, its descriptor says {size}",
                data.len()
            )));
        }
        Ok(data)
    }

    /// The manifests that name `subject` as their subject: OCI 1.1 referrers (the API, then
    /// the `sha256-<hex>` tag); in a layout, manifests in index.json and in the blobs
    /// directory. The caller reads and checks each, so there may be no more than
    /// `MAX_REFERRERS`.
    pub async fn referrers(&self, subject: &str) -> Read<Vec<Descriptor>> {
        let what = format!("referrers of {subject}");
        let found = match &self.from {
            From::Registry { registry, .. } => {
                let cap = Cap::Manifest(self.budget.limits.manifest);
                match registry.referrers(&what, subject, cap).await? {
                    None => Vec::new(),
                    Some(data) => {
                        self.budget.charge(&what, data.len() as u64)?;
                        let index: ImageIndex = parse(&what, subject, &data, "an image index")?;
                        index.manifests().clone()
                    }
                }
            }
            From::Layout { dir, scanned } => {
                layout::referrers(dir, subject, scanned, &self.budget)?
            }
        };
        self.budget.referrers(subject, found.len())?;
        Ok(found)
    }
}

/// The root a registry reference names: its manifest or index, as large as a manifest may be.
async fn registry_root(
    registry: &Registry,
    reference: &oci_client::Reference,
    budget: &Budget,
) -> Read<ImageRoot> {
    let whole = reference.whole();
    let what = format!("the manifest of {whole}");
    let by = reference.digest().or(reference.tag()).unwrap_or("latest");
    let data = registry
        .manifest(&what, by, Cap::Manifest(budget.limits.manifest))
        .await?
        .ok_or_else(|| ReadError::Unreadable(format!("{whole}: not in the registry")))?;
    let digest = sha256_digest(&data);
    budget.charge(&what, data.len() as u64)?;
    if let Some(want) = reference.digest() {
        check_digest(&whole, want, &data)?;
    }
    let document = RootDocument::parse("manifest", &digest, &data)?;
    Ok(ImageRoot {
        digest,
        data,
        document,
        name: Some(format!(
            "{}/{}",
            reference.registry(),
            reference.repository()
        )),
        tag: reference.tag().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_specs() {
        assert_eq!(
            ImageSpec::parse("127.0.0.1:5000/a:1").unwrap(),
            ImageSpec::Registry("127.0.0.1:5000/a:1".into())
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            ImageSpec::parse(&format!("oci-layout:///tmp/x@{d}")).unwrap(),
            ImageSpec::Layout {
                dir: "/tmp/x".into(),
                tag: None,
                digest: Some(d)
            }
        );
        assert_eq!(
            ImageSpec::parse("oci-layout://out/img:v1").unwrap(),
            ImageSpec::Layout {
                dir: "out/img".into(),
                tag: Some("v1".into()),
                digest: None
            }
        );
        assert_eq!(
            ImageSpec::parse("oci-layout://./img").unwrap(),
            ImageSpec::Layout {
                dir: "./img".into(),
                tag: None,
                digest: None
            }
        );
        assert!(ImageSpec::parse("oci-layout://").is_err());
        assert!(ImageSpec::parse("oci-layout://x@sha256:12").is_err());
        assert!(ImageSpec::parse("docker-image://x").is_err());
    }
}
