//! Where the image is read from: a registry (OCI distribution API, anonymous or
//! token-challenge auth, plain HTTP only for loopback hosts) or an OCI image layout directory.
//! Every manifest and blob read is checked against its digest here, whatever the source says.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::sources::image_ref::validate_digest;

/// Manifests and statements are small; a larger blob is refused rather than read into memory.
const MAX_BLOB: usize = 16 << 20;
/// In an OCI layout, files up to this size are looked at when searching for referrers.
const MAX_REFERRER_SCAN: u64 = 1 << 20;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MANIFEST_TYPES: [&str; 4] = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Why something could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Not there, or not reachable: bad input.
    Unreadable(String),
    /// The bytes are not what their digest says: a verification failure.
    Integrity(String),
    /// Not JSON, or not the shape a manifest has: bad input.
    Malformed(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Unreadable(m) | ReadError::Integrity(m) | ReadError::Malformed(m) => {
                f.write_str(m)
            }
        }
    }
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

pub fn parse_json(what: &str, digest: &str, data: &[u8]) -> Read<Value> {
    let v: Value = serde_json::from_slice(data)
        .map_err(|e| ReadError::Malformed(format!("{what} {digest} is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(ReadError::Malformed(format!(
            "{what} {digest} is not a JSON object"
        )));
    }
    Ok(v)
}

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

/// The root of the image: the manifest or index the reference names.
pub struct Root {
    pub digest: String,
    pub data: Vec<u8>,
    pub json: Value,
    /// The image's name for the policy input (`registry/repo[:tag]`), when known.
    pub name: Option<String>,
    pub tag: Option<String>,
}

pub enum Store {
    Registry {
        client: Box<oci_client::Client>,
        reference: oci_client::Reference,
    },
    Layout {
        dir: PathBuf,
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

impl Store {
    pub fn open(spec: &ImageSpec) -> Read<Store> {
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
                Ok(Store::Registry {
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
                Ok(Store::Layout { dir: dir.clone() })
            }
        }
    }

    /// Reads the image's root manifest or index (checked against the digest the reference
    /// names, if any).
    pub async fn root(&self, spec: &ImageSpec) -> Read<Root> {
        match (self, spec) {
            (Store::Registry { client, reference }, _) => {
                let auth = oci_client::secrets::RegistryAuth::Anonymous;
                let (data, _) = client
                    .pull_manifest_raw(reference, &auth, &MANIFEST_TYPES)
                    .await
                    .map_err(|e| oci_err("cannot read the manifest", e))?;
                let data = data.to_vec();
                let digest = sha256_digest(&data);
                if let Some(want) = reference.digest() {
                    check_digest(&reference.whole(), want, &data)?;
                }
                let json = parse_json("manifest", &digest, &data)?;
                Ok(Root {
                    digest,
                    data,
                    json,
                    name: Some(format!(
                        "{}/{}",
                        reference.registry(),
                        reference.repository()
                    )),
                    tag: reference.tag().map(str::to_string),
                })
            }
            (Store::Layout { dir }, ImageSpec::Layout { tag, digest, .. }) => {
                layout_root(dir, tag.as_deref(), digest.as_deref())
            }
            (Store::Layout { .. }, ImageSpec::Registry(_)) => Err(ReadError::Unreadable(
                "an OCI layout store opened for a registry reference".into(),
            )),
        }
    }

    /// A manifest (or index) by digest, checked. `size`, when known from the descriptor,
    /// must match too.
    pub async fn manifest(&self, what: &str, digest: &str, size: Option<i64>) -> Read<Vec<u8>> {
        self.fetch(true, what, digest, size).await
    }

    /// A blob (config, statement, bundle) by digest, checked, as `manifest`.
    pub async fn blob(&self, what: &str, digest: &str, size: Option<i64>) -> Read<Vec<u8>> {
        self.fetch(false, what, digest, size).await
    }

    async fn fetch(
        &self,
        is_manifest: bool,
        what: &str,
        digest: &str,
        size: Option<i64>,
    ) -> Read<Vec<u8>> {
        validate_digest(digest).map_err(|e| ReadError::Malformed(format!("{what}: {e}")))?;
        if size.is_some_and(|s| s < 0 || s as usize > MAX_BLOB) {
            return Err(ReadError::Unreadable(format!(
                "{what} {digest} is larger than {MAX_BLOB} bytes"
            )));
        }
        let data = match self {
            Store::Registry { client, reference } => {
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
                    pull_blob(client, &at, digest, what).await?
                }
            }
            Store::Layout { dir } => read_layout_blob(dir, what, digest)?,
        };
        check_digest(what, digest, &data)?;
        if let Some(s) = size
            && s as usize != data.len()
        {
            return Err(ReadError::Integrity(format!(
                "{what} {digest} is {} bytes, its descriptor says {s}",
                data.len()
            )));
        }
        Ok(data)
    }

    /// Digests (and sizes) of the manifests that name `subject` as their subject: OCI 1.1
    /// referrers (the API, then the `sha256-<hex>` tag); in a layout, manifests in index.json
    /// and in the blobs directory. The caller reads and checks each.
    pub async fn referrers(&self, subject: &str) -> Read<Vec<(String, Option<i64>)>> {
        match self {
            Store::Registry { client, reference } => {
                let at = reference.clone_with_digest(subject.to_string());
                let index = client
                    .pull_referrers(&at, None)
                    .await
                    .map_err(|e| oci_err(&format!("referrers of {subject}"), e))?;
                Ok(index
                    .manifests
                    .into_iter()
                    .map(|m| (m.digest, Some(m.size)))
                    .collect())
            }
            Store::Layout { dir } => layout_referrers(dir, subject),
        }
    }
}

async fn pull_blob(
    client: &oci_client::Client,
    at: &oci_client::Reference,
    digest: &str,
    what: &str,
) -> Read<Vec<u8>> {
    use futures::StreamExt;
    let mut stream = client
        .pull_blob_stream(at, digest)
        .await
        .map_err(|e| oci_err(&format!("{what} {digest}"), e))?;
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ReadError::Unreadable(format!("{what} {digest}: {e}")))?;
        if data.len() + chunk.len() > MAX_BLOB {
            return Err(ReadError::Unreadable(format!(
                "{what} {digest} is larger than {MAX_BLOB} bytes"
            )));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

fn blob_path(dir: &Path, digest: &str) -> Read<PathBuf> {
    validate_digest(digest).map_err(ReadError::Malformed)?;
    let (algo, hex) = digest.split_once(':').unwrap_or_default();
    Ok(dir.join("blobs").join(algo).join(hex))
}

fn read_layout_blob(dir: &Path, what: &str, digest: &str) -> Read<Vec<u8>> {
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

fn layout_index(dir: &Path) -> Read<Value> {
    let path = dir.join("index.json");
    let data = std::fs::read(&path)
        .map_err(|e| ReadError::Unreadable(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&data)
        .map_err(|e| ReadError::Malformed(format!("{}: not JSON: {e}", path.display())))
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

fn layout_root(dir: &Path, tag: Option<&str>, digest: Option<&str>) -> Read<Root> {
    let index = layout_index(dir)?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let names = |e: &Value| -> (Option<String>, Option<String>) {
        (
            e["annotations"][REF_NAME].as_str().map(str::to_string),
            e["annotations"][CONTAINERD_NAME]
                .as_str()
                .map(str::to_string),
        )
    };
    let matches_tag = |e: &Value, t: &str| {
        let (r, c) = names(e);
        r.as_deref() == Some(t)
            || c.as_deref()
                .is_some_and(|c| c == t || c.rsplit_once(':').is_some_and(|(_, ct)| ct == t))
    };
    // Referrer manifests and tag-schema indexes may sit in index.json too: they are not
    // the image.
    let images: Vec<&Value> = entries
        .iter()
        .filter(|e| e.get("subject").is_none())
        .filter(|e| {
            names(e)
                .0
                .is_none_or(|n| !(n.starts_with("sha256-") && n.len() == 71))
        })
        .collect();
    let chosen: Vec<&Value> = match (tag, digest) {
        (_, Some(d)) => entries.iter().filter(|e| e["digest"] == d).collect(),
        (Some(t), None) => images
            .iter()
            .copied()
            .filter(|e| matches_tag(e, t))
            .collect(),
        (None, None) => images.clone(),
    };
    let direct;
    let entry = match chosen.as_slice() {
        [one] => *one,
        // A digest index.json does not list (a nested index, say) is read by digest.
        [] if digest.is_some() => {
            direct = serde_json::json!({ "digest": digest });
            &direct
        }
        [] => {
            return Err(ReadError::Unreadable(match tag {
                Some(t) => format!("{}: index.json has no image tagged {t}", dir.display()),
                _ => format!("{}: index.json lists no image", dir.display()),
            }));
        }
        many => {
            let tags: Vec<String> = many
                .iter()
                .map(|e| names(e).0.unwrap_or_else(|| e["digest"].to_string()))
                .collect();
            return Err(ReadError::Unreadable(format!(
                "{}: index.json lists {} images ({}): name one with :tag or @digest",
                dir.display(),
                many.len(),
                tags.join(", ")
            )));
        }
    };
    let d = entry["digest"]
        .as_str()
        .ok_or_else(|| ReadError::Malformed("index.json: an entry has no digest".into()))?;
    let data = read_layout_blob(dir, "image index", d)?;
    check_digest("image index", d, &data)?;
    let json = parse_json("image index", d, &data)?;
    let (ref_name, full) = names(entry);
    // The name BuildKit's exporter recorded (`name=` of the output), for the policy input.
    let (name, tag) = match full.as_deref().map(crate::sources::ImageRef::normalize) {
        Some(Ok(r)) => (Some(r.name), r.tag.or(ref_name)),
        _ => (None, ref_name),
    };
    // Named by digest, the image is that digest, whatever tag the layout gives it (as for
    // a registry reference by digest).
    let tag = tag.filter(|_| digest.is_none());
    Ok(Root {
        digest: d.to_string(),
        data,
        json,
        name,
        tag,
    })
}

fn layout_referrers(dir: &Path, subject: &str) -> Read<Vec<(String, Option<i64>)>> {
    let mut out: Vec<(String, Option<i64>)> = Vec::new();
    let mut add = |d: &str, size: Option<i64>| {
        if !out.iter().any(|(x, _)| x == d) {
            out.push((d.to_string(), size));
        }
    };
    let index = layout_index(dir)?;
    let tag = subject.replace(':', "-");
    for e in index["manifests"].as_array().into_iter().flatten() {
        let Some(d) = e["digest"].as_str() else {
            continue;
        };
        if e["subject"]["digest"] == subject {
            add(d, e["size"].as_i64());
        }
        // The referrers tag schema, kept in the layout as a tagged index.
        if e["annotations"][REF_NAME] == tag.as_str()
            && let Ok(data) = read_layout_blob(dir, "referrers index", d)
            && check_digest("referrers index", d, &data).is_ok()
            && let Ok(list) = serde_json::from_slice::<Value>(&data)
        {
            for m in list["manifests"].as_array().into_iter().flatten() {
                if let Some(md) = m["digest"].as_str() {
                    add(md, m["size"].as_i64());
                }
            }
        }
    }
    // Manifests anywhere in the blobs whose subject is the attestation manifest.
    let blobs = dir.join("blobs/sha256");
    if let Ok(rd) = std::fs::read_dir(&blobs) {
        let mut names: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let small =
                std::fs::metadata(&p).is_ok_and(|m| m.is_file() && m.len() <= MAX_REFERRER_SCAN);
            let Some(hex) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !small {
                continue;
            }
            let Ok(data) = std::fs::read(&p) else {
                continue;
            };
            if data.first() != Some(&b'{') {
                continue;
            }
            if let Ok(m) = serde_json::from_slice::<Value>(&data)
                && m["subject"]["digest"] == subject
            {
                add(&format!("sha256:{hex}"), Some(data.len() as i64));
            }
        }
    }
    Ok(out)
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
}
