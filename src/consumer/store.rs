//! Where the image is read from: a registry (OCI distribution API, anonymous or
//! token-challenge auth, plain HTTP only for loopback hosts) or an OCI image layout directory.
//! Every manifest and blob read is checked against its digest here, whatever the source says.
//!
//! What it reads is bounded (`limits`); oci-client reads a manifest response whole, so from a
//! registry a manifest is refused before the request when its descriptor says it is too large, and after it when it is.

use std::path::PathBuf;

use oci_spec::image::{Descriptor, MediaType};

use super::document::{
    ImageRoot, MANIFEST_TYPES, MAX_BLOB, Read, ReadError, RootDocument, check_digest, sha256_digest,
};
use super::layout;
use super::limits::Budget;
pub use super::limits::{Limits, MAX_ENTRIES, MAX_MANIFEST, MAX_REFERRERS, MAX_TOTAL};
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
        client: Box<oci_client::Client>,
        reference: oci_client::Reference,
    },
    Layout {
        dir: PathBuf,
        /// The blobs that name a subject, scanned once for all platforms.
        scanned: layout::Scanned,
    },
}

fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => registry.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An error with its causes (reqwest's own message omits why a request failed).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cause = c.source();
    }
    s
}

fn oci_err(what: &str, e: oci_client::errors::OciDistributionError) -> ReadError {
    use oci_client::errors::OciDistributionError as E;
    let m = with_causes(&e);
    match e {
        E::DigestError(_) => ReadError::Integrity(format!("{what}: {m}")),
        E::ManifestParsingError(_) | E::VersionedParsingError(_) => {
            ReadError::Malformed(format!("{what}: {m}"))
        }
        _ => ReadError::Unreadable(format!("{what}: {m}")),
    }
}

impl From {
    fn open(spec: &ImageSpec) -> Read<From> {
        match spec {
            ImageSpec::Registry(r) => {
                let reference: oci_client::Reference = r
                    .parse()
                    .map_err(|e| ReadError::Unreadable(format!("{r}: {e}")))?;
                let mut insecure = Vec::new();
                if is_loopback(reference.registry()) {
                    insecure.push(reference.registry().to_string());
                }
                let config = oci_client::client::ClientConfig {
                    protocol: oci_client::client::ClientProtocol::HttpsExcept(insecure),
                    connect_timeout: Some(std::time::Duration::from_secs(10)),
                    read_timeout: Some(std::time::Duration::from_secs(60)),
                    ..Default::default()
                };
                let client = oci_client::Client::try_from(config)
                    .map_err(|e| ReadError::Unreadable(format!("HTTP client: {e}")))?;
                Ok(From::Registry {
                    client: Box::new(client),
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
    pub fn open(spec: &ImageSpec) -> Read<Store> {
        Ok(Store {
            from: From::open(spec)?,
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
            (From::Registry { client, reference }, _) => {
                registry_root(client, reference, &self.budget).await?
            }
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
        // What the descriptor says is what is counted and may be read: a blob is refused as
        // soon as more arrives, a manifest (read whole by oci-client) once it has.
        self.budget.charge(&format!("{what} {digest}"), size)?;
        let data = match &self.from {
            From::Registry { client, reference } => {
                let at = reference.clone_with_digest(digest.to_string());
                if is_manifest {
                    let auth = oci_client::secrets::RegistryAuth::Anonymous;
                    client
                        .pull_manifest_raw(&at, &auth, &MANIFEST_TYPES)
                        .await
                        .map_err(|e| oci_err(&format!("{what} {digest}"), e))?
                        .0
                        .to_vec()
                } else {
                    pull_blob(client, &at, digest, what, size).await?
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
            From::Registry { client, reference } => {
                let at = reference.clone_with_digest(subject.to_string());
                let index = client
                    .pull_referrers(&at, None)
                    .await
                    .map_err(|e| oci_err(&what, e))?;
                index
                    .manifests
                    .into_iter()
                    .map(|m| descriptor(&what, &m.media_type, &m.digest, m.size))
                    .collect::<Read<Vec<_>>>()?
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
    client: &oci_client::Client,
    reference: &oci_client::Reference,
    budget: &Budget,
) -> Read<ImageRoot> {
    let auth = oci_client::secrets::RegistryAuth::Anonymous;
    let (data, _) = client
        .pull_manifest_raw(reference, &auth, &MANIFEST_TYPES)
        .await
        .map_err(|e| oci_err("cannot read the manifest", e))?;
    let data = data.to_vec();
    let digest = sha256_digest(&data);
    let what = format!("the manifest of {}", reference.whole());
    budget.manifest_size(&what, data.len() as u64)?;
    budget.charge(&what, data.len() as u64)?;
    if let Some(want) = reference.digest() {
        check_digest(&reference.whole(), want, &data)?;
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

/// A descriptor oci-client read, as the OCI type (its digest validated).
fn descriptor(what: &str, media_type: &str, digest: &str, size: i64) -> Read<Descriptor> {
    let d = oci_spec::image::Digest::try_from(digest)
        .map_err(|e| ReadError::Malformed(format!("{what}: digest {digest:?}: {e}")))?;
    let size = u64::try_from(size)
        .map_err(|_| ReadError::Malformed(format!("{what}: {digest} has size {size}")))?;
    Ok(Descriptor::new(MediaType::from(media_type), size, d))
}

/// A blob's bytes, no more than its descriptor's `size`.
async fn pull_blob(
    client: &oci_client::Client,
    at: &oci_client::Reference,
    digest: &str,
    what: &str,
    size: u64,
) -> Read<Vec<u8>> {
    use futures::StreamExt;
    let mut stream = client
        .pull_blob_stream(at, digest)
        .await
        .map_err(|e| oci_err(&format!("{what} {digest}"), e))?;
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ReadError::Unreadable(format!("{what} {digest}: {e}")))?;
        if (data.len() + chunk.len()) as u64 > size {
            return Err(ReadError::Integrity(format!(
                "{what} {digest} is larger than the {size} bytes its descriptor says"
            )));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
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

    #[test]
    fn loopback_hosts_get_plain_http() {
        for h in [
            "127.0.0.1:5000",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "docker.io",
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
