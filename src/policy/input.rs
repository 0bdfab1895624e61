//! The policy input document, field for field as Docker Buildx builds it (`policy/types.go`),
//! so a policy written for `docker buildx build --policy` reads the same facts here.
//! Where Buildx's docs and code differ, this follows the code (research notes, policy.md §1.2).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::gitobj;
use super::image_names::image_names;
use crate::model::{Facts, platform_string};
use crate::proto::pb;
use crate::sources::{ImageRef, Source};
use crate::verify::git as git_sig;

/// `input.env`: facts about the build invocation, the same for every source.
pub fn env(opts: &BTreeMap<String, String>) -> Value {
    let prefixed = |prefix: &str| -> Map<String, Value> {
        opts.iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|n| (n.to_string(), json!(v))))
            .collect()
    };
    let filename = opts
        .get("filename")
        .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "Dockerfile".to_string());
    let mut env = Map::new();
    let args = prefixed("build-arg:");
    if !args.is_empty() {
        env.insert("args".into(), Value::Object(args));
    }
    let labels = prefixed("label:");
    if !labels.is_empty() {
        env.insert("labels".into(), Value::Object(labels));
    }
    env.insert("filename".into(), json!(filename));
    if let Some(t) = opts.get("target").filter(|t| !t.is_empty()) {
        env.insert("target".into(), json!(t));
    }
    // Buildx always serializes depth: 0 for a build's own sources.
    env.insert("depth".into(), json!(0));
    Value::Object(env)
}

/// The whole input for one source: `{env, <kind>: {...}}`.
pub fn document(
    env: &Value,
    source: &Source,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    facts: Option<&Facts>,
) -> Result<Value, String> {
    let (key, value) = match source {
        Source::Image(r) => ("image", image(r, platform, facts)?),
        // Buildx has no oci-layout input yet; an OCI layout image is still an image.
        Source::OciLayout(r) => ("image", image(r, platform, facts)?),
        Source::Blob { reference, .. } => {
            let r = ImageRef::parse(reference)?;
            ("image", image(&r, platform, facts)?)
        }
        Source::Local { name } => ("local", json!({ "name": name })),
        Source::Http { url } => ("http", http(url, op, facts)?),
        Source::Git {
            remote,
            reference,
            subdir,
        } => (
            "git",
            git(remote, reference.as_deref(), subdir.as_deref(), op, facts)?,
        ),
    };
    let mut doc = Map::new();
    doc.insert("env".into(), env.clone());
    doc.insert(key.into(), value);
    Ok(Value::Object(doc))
}

fn image(
    r: &ImageRef,
    platform: Option<&pb::Platform>,
    facts: Option<&Facts>,
) -> Result<Value, String> {
    let p = platform.ok_or("platform required for image source")?;
    let mut m = image_names(r)?;
    // A tag is a claim about the digest; with both written, BuildKit uses the digest. When
    // the tag was checked and names another digest now, the policy does not get the tag.
    let tag_holds = match facts {
        Some(Facts::Image {
            tag_digest: Some(t),
            ..
        }) => r.digest.as_deref() == Some(t.as_str()),
        _ => true,
    };
    if let Some(t) = r.tag.as_ref().filter(|_| tag_holds) {
        m.insert("tag".into(), json!(t));
    }
    m.insert("platform".into(), json!(platform_string(p)));
    m.insert("os".into(), json!(p.os));
    m.insert("arch".into(), json!(p.architecture));
    if !p.variant.is_empty() {
        m.insert("variant".into(), json!(p.variant));
    }
    m.insert("isCanonical".into(), json!(r.digest.is_some()));
    let resolved = match facts {
        Some(Facts::Image { digest, .. }) | Some(Facts::Blob { digest }) => Some(digest.as_str()),
        _ => None,
    };
    if let Some(d) = r.digest.as_deref().or(resolved) {
        m.insert("checksum".into(), json!(d));
    }
    if let Some(Facts::Image {
        config: Some(cfg), ..
    }) = facts
    {
        image_config(&mut m, cfg)?;
    }
    if let Some(Facts::Image {
        chain: Some(chain), ..
    }) = facts
    {
        let provenance = super::provenance::from_chain(chain)?;
        m.insert(
            "hasProvenance".into(),
            json!(!chain.attestation_manifest.is_empty() || provenance.is_some()),
        );
        if let Some(p) = provenance {
            m.insert("provenance".into(), p);
        }
        // Only verified signatures may ever appear here: the frontend replaces this with
        // what `verify::image` proved; without that, no signature is claimed.
        m.insert("signatures".into(), json!([]));
    }
    Ok(Value::Object(m))
}

/// What the policy reads of an image config. Its runtime part is oci-spec's `Config`; the
/// rest is not required, as Buildx's decoder (Go's) does not require `architecture`, `os`
/// or `rootfs`, which oci-spec's `ImageConfiguration` does.
#[derive(Deserialize)]
struct ImageConfig {
    created: Option<String>,
    config: Option<oci_spec::image::Config>,
}

fn image_config(m: &mut Map<String, Value>, raw: &[u8]) -> Result<(), String> {
    let cfg: ImageConfig =
        serde_json::from_slice(raw).map_err(|e| format!("image config is malformed: {e}"))?;
    if let Some(created) = cfg.created {
        m.insert("createdTime".into(), json!(created));
    }
    let c = cfg.config.unwrap_or_default();
    m.insert("env".into(), json!(c.env().clone().unwrap_or_default()));
    m.insert(
        "labels".into(),
        json!(c.labels().clone().unwrap_or_default()),
    );
    m.insert(
        "user".into(),
        json!(c.user().as_deref().unwrap_or_default()),
    );
    // oci-spec reads the volume set through a hash map; JSON objects here are sorted.
    let mut volumes = c.volumes().clone().unwrap_or_default();
    volumes.sort();
    m.insert("volumes".into(), json!(volumes));
    m.insert(
        "workingDir".into(),
        json!(c.working_dir().as_deref().unwrap_or_default()),
    );
    Ok(())
}

fn http(url: &str, op: &pb::SourceOp, facts: Option<&Facts>) -> Result<Value, String> {
    let u = url::Url::parse(url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in u.query_pairs() {
        query
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    let host = match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    };
    let mut m = Map::new();
    m.insert("url".into(), json!(url));
    m.insert("schema".into(), json!(u.scheme()));
    m.insert("host".into(), json!(host));
    m.insert("path".into(), json!(u.path()));
    m.insert("query".into(), json!(query));
    if op.attrs.contains_key("http.authheadersecret") {
        m.insert("hasAuth".into(), json!(true));
    }
    if let Some(Facts::Http { checksum, .. }) = facts {
        m.insert("checksum".into(), json!(checksum));
    }
    Ok(Value::Object(m))
}

fn is_commit_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn git(
    remote: &str,
    reference: Option<&str>,
    subdir: Option<&str>,
    op: &pb::SourceOp,
    facts: Option<&Facts>,
) -> Result<Value, String> {
    let full_url = op.attrs.get("git.fullurl").filter(|u| !u.is_empty());
    // Without a full URL BuildKit fetches over https, and Buildx reports it so.
    let remote_url = full_url
        .cloned()
        .unwrap_or_else(|| format!("https://{remote}"));
    let (schema, host) = git_url_parts(&remote_url)?;
    let mut m = Map::new();
    m.insert("schema".into(), json!(schema));
    m.insert("host".into(), json!(host));
    m.insert("remote".into(), json!(remote_url));
    if let Some(u) = full_url {
        m.insert("fullURL".into(), json!(u));
    }
    if let Some(s) = subdir.filter(|s| !matches!(*s, "" | "/" | ".")) {
        m.insert("subDir".into(), json!(s));
    }
    let set_ref = |m: &mut Map<String, Value>, r: &str| {
        m.insert("ref".into(), json!(r));
        if let Some(t) = r.strip_prefix("refs/tags/") {
            m.insert("tagName".into(), json!(t));
        } else if let Some(b) = r.strip_prefix("refs/heads/") {
            m.insert("branch".into(), json!(b));
        }
    };
    let mut checksums: Option<(String, String)> = None;
    if let Some(r) = reference {
        if is_commit_sha(r) {
            m.insert("isCommitRef".into(), json!(true));
            checksums = Some((r.to_string(), r.to_string()));
        } else if r.starts_with("refs/") {
            set_ref(&mut m, r);
        }
    }
    if let Some(Facts::Git {
        checksum,
        commit,
        reference: resolved_ref,
        commit_object,
        tag_object,
    }) = facts
    {
        if !resolved_ref.is_empty() {
            set_ref(&mut m, resolved_ref);
        }
        checksums = Some((checksum.clone(), commit.clone()));
        if let Some(raw) = commit_object {
            gitobj::verify_id("commit", raw, commit)?;
            let mut c = gitobj::commit(raw)?;
            add_signature_summary(&mut c, git_sig::split_commit(raw));
            m.insert("commit".into(), c);
        }
        if let Some(raw) = tag_object {
            gitobj::verify_id("tag", raw, checksum)?;
            let mut t = gitobj::tag(raw)?;
            add_signature_summary(&mut t, git_sig::split_tag(raw));
            m.insert("tag".into(), t);
        }
    }
    if let Some((checksum, commit)) = checksums {
        m.insert("isSHA256".into(), json!(checksum.len() == 64));
        m.insert("isAnnotatedTag".into(), json!(checksum != commit));
        m.insert("checksum".into(), json!(checksum));
        m.insert("commitChecksum".into(), json!(commit));
    }
    Ok(Value::Object(m))
}

/// Buildx's `pgpSignature` / `sshSignature` of a commit or tag: who signed (key id or key
/// fingerprint), not whether the signature is good; `verify_git_signature` checks that.
fn add_signature_summary(obj: &mut Value, signed: git_sig::Signed) {
    if let (Some((key, summary)), Some(o)) = (
        signed.signature.as_ref().and_then(git_sig::summary),
        obj.as_object_mut(),
    ) {
        o.insert(key.into(), summary);
    }
}

/// Scheme and host of a git remote: URLs, and scp-like `user@host:path` (ssh).
fn git_url_parts(remote: &str) -> Result<(String, String), String> {
    if let Ok(u) = url::Url::parse(remote)
        && u.has_host()
    {
        let host = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_string(),
        };
        return Ok((u.scheme().to_string(), host));
    }
    if let Some((user_host, _)) = remote.split_once(':') {
        let host = user_host.rsplit('@').next().unwrap_or(user_host);
        if !host.is_empty() && !host.contains('/') {
            return Ok(("ssh".into(), host.to_string()));
        }
    }
    Err(format!("cannot parse git remote {remote:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str, attrs: &[(&str, &str)]) -> pb::SourceOp {
        pb::SourceOp {
            identifier: id.into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn amd64() -> pb::Platform {
        pb::Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            ..Default::default()
        }
    }

    fn doc(
        id: &str,
        attrs: &[(&str, &str)],
        platform: Option<&pb::Platform>,
        facts: Option<&Facts>,
    ) -> Value {
        let op = op(id, attrs);
        let src = Source::parse(&op).unwrap();
        document(&json!({}), &src, &op, platform, facts).unwrap()
    }

    // The vectors below are Buildx's own (policy/validate_test.go TestSourceToInputSingleSource).

    #[test]
    fn http_with_auth_and_checksum() {
        let facts = Facts::Http {
            checksum: "sha256:0123".into(),
            filename: "foo.tar.gz".into(),
        };
        let d = doc(
            "https://example.com/foo.tar.gz?download=1",
            &[("http.authheadersecret", "s")],
            None,
            Some(&facts),
        );
        assert_eq!(
            d["http"],
            json!({"url":"https://example.com/foo.tar.gz?download=1","schema":"https","host":"example.com",
                   "path":"/foo.tar.gz","query":{"download":["1"]},"hasAuth":true,"checksum":"sha256:0123"})
        );
    }

    #[test]
    fn http_without_metadata_and_repeated_query() {
        let d = doc("http://example.com/archive.tgz", &[], None, None);
        assert_eq!(
            d["http"],
            json!({"url":"http://example.com/archive.tgz","schema":"http","host":"example.com","path":"/archive.tgz","query":{}})
        );
        let d = doc(
            "https://example.com/a/b.tar.gz?x=1&x=2#frag",
            &[],
            None,
            None,
        );
        assert_eq!(d["http"]["path"], "/a/b.tar.gz");
        assert_eq!(d["http"]["query"], json!({"x":["1","2"]}));
    }

    #[test]
    fn local() {
        assert_eq!(
            doc("local://context", &[], None, None)["local"],
            json!({"name":"context"})
        );
    }

    #[test]
    fn image_requires_platform() {
        let op = op("docker-image://docker.io/library/alpine:latest", &[]);
        let src = Source::parse(&op).unwrap();
        let err = document(&json!({}), &src, &op, None, None).unwrap_err();
        assert_eq!(err, "platform required for image source");
    }

    #[test]
    fn image_without_metadata() {
        let d = doc(
            "docker-image://docker.io/library/alpine:latest",
            &[],
            Some(&amd64()),
            None,
        );
        assert_eq!(
            d["image"],
            json!({"ref":"docker.io/library/alpine:latest","host":"docker.io","repo":"alpine",
                   "fullRepo":"docker.io/library/alpine","tag":"latest","platform":"linux/amd64",
                   "os":"linux","arch":"amd64","isCanonical":false})
        );
    }

    #[test]
    fn image_canonical_with_config() {
        let dgst = format!("sha256:{}", "c".repeat(64));
        let cfg = br#"{"created":"2024-01-02T03:04:05Z","config":{"Labels":{"a":"b"},"Env":["A=B"],"User":"root","Volumes":{"/data":{}},"WorkingDir":"/work"}}"#;
        let facts = Facts::Image {
            digest: dgst.clone(),
            config: Some(cfg.to_vec()),
            chain: None,
            tag_digest: None,
        };
        let d = doc(
            &format!("docker-image://docker.io/library/alpine@{dgst}"),
            &[],
            Some(&amd64()),
            Some(&facts),
        );
        let i = &d["image"];
        assert_eq!(i["isCanonical"], true);
        assert_eq!(i["checksum"], dgst.as_str());
        assert!(i.get("tag").is_none());
        assert_eq!(i["createdTime"], "2024-01-02T03:04:05Z");
        assert_eq!(i["labels"], json!({"a":"b"}));
        assert_eq!(i["env"], json!(["A=B"]));
        assert_eq!(i["user"], "root");
        assert_eq!(i["volumes"], json!(["/data"]));
        assert_eq!(i["workingDir"], "/work");
    }

    #[test]
    fn image_config_is_read_as_an_oci_config() {
        let facts = |cfg: &str| Facts::Image {
            digest: format!("sha256:{}", "c".repeat(64)),
            config: Some(cfg.as_bytes().to_vec()),
            chain: None,
            tag_digest: None,
        };
        let id = "docker-image://docker.io/library/alpine:latest";
        let op = op(id, &[]);
        let src = Source::parse(&op).unwrap();
        let input = |cfg: &str| document(&json!({}), &src, &op, Some(&amd64()), Some(&facts(cfg)));
        let d = input(r#"{"config":{"Volumes":{"/z":{},"/a":{},"/m":{}}}}"#).unwrap();
        assert_eq!(d["image"]["volumes"], json!(["/a", "/m", "/z"]));
        assert_eq!(d["image"]["env"], json!([]));
        assert_eq!(d["image"]["user"], "");
        // Shapes an OCI config cannot have are refused, not read as empty.
        for bad in [
            r#"{"config":{"Env":"A=B"}}"#,
            r#"{"config":{"Labels":["a"]}}"#,
            r#"{"config":{"User":1}}"#,
            r#"{"created":5}"#,
            "[]",
        ] {
            let err = input(bad).unwrap_err();
            assert!(err.contains("image config is malformed"), "{bad}: {err}");
        }
    }

    #[test]
    fn image_familiar_names() {
        let repo = |id: &str| doc(id, &[], Some(&amd64()), None)["image"]["repo"].clone();
        assert_eq!(repo("docker-image://docker.io/org/app:1"), "org/app");
        assert_eq!(
            repo("docker-image://127.0.0.1:5000/busybox:latest"),
            "127.0.0.1:5000/busybox"
        );
        let d = doc("docker-image://ghcr.io/o/x:1", &[], Some(&amd64()), None);
        assert_eq!(d["image"]["host"], "ghcr.io");
        assert_eq!(d["image"]["fullRepo"], "ghcr.io/o/x");
    }

    #[test]
    fn image_attestation_chain_sets_has_provenance() {
        use sha2::{Digest, Sha256};
        // An attestation manifest BuildKit returned with the chain (an SBOM only, no SLSA).
        let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/spdx+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1,"annotations":{"in-toto.io/predicate-type":"https://spdx.dev/Document"}}]}"#.to_vec();
        let att = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
        let chain = |att: &str, blobs: bool| Facts::Image {
            digest: format!("sha256:{}", "a".repeat(64)),
            config: None,
            chain: Some(crate::proto::gw::AttestationChain {
                attestation_manifest: att.into(),
                blobs: if blobs {
                    [(
                        att.to_string(),
                        crate::proto::gw::Blob {
                            descriptor: None,
                            data: manifest.clone(),
                        },
                    )]
                    .into()
                } else {
                    Default::default()
                },
                ..Default::default()
            }),
            tag_digest: None,
        };
        let id = "docker-image://docker.io/library/alpine:latest";
        let d = doc(id, &[], Some(&amd64()), Some(&chain(&att, true)));
        assert_eq!(d["image"]["hasProvenance"], true);
        assert!(d["image"].get("provenance").is_none());
        let d = doc(id, &[], Some(&amd64()), Some(&chain("", false)));
        assert_eq!(d["image"]["hasProvenance"], false);
        assert_eq!(d["image"]["signatures"], json!([]));
        // A chain that names an attestation manifest it does not carry is malformed.
        let op = op(id, &[]);
        let err = document(
            &json!({}),
            &Source::parse(&op).unwrap(),
            &op,
            Some(&amd64()),
            Some(&chain(&att, false)),
        )
        .unwrap_err();
        assert!(err.contains("lacks blob"), "{err}");
    }

    #[test]
    fn a_tag_that_names_another_digest_is_not_given_to_the_policy() {
        let used = format!("sha256:{}", "a".repeat(64));
        let facts = |tag_digest: &str| Facts::Image {
            digest: used.clone(),
            config: None,
            chain: None,
            tag_digest: Some(tag_digest.into()),
        };
        let id = format!("docker-image://docker.io/library/alpine:latest@{used}");
        let d = doc(&id, &[], Some(&amd64()), Some(&facts(&used)));
        assert_eq!(d["image"]["tag"], "latest");
        let d = doc(
            &id,
            &[],
            Some(&amd64()),
            Some(&facts(&format!("sha256:{}", "b".repeat(64)))),
        );
        assert!(d["image"].get("tag").is_none(), "{d}");
        assert_eq!(d["image"]["checksum"], used.as_str());
        let d = doc(&id, &[], Some(&amd64()), Some(&facts("")));
        assert!(
            d["image"].get("tag").is_none(),
            "a vanished tag is not claimed either"
        );
    }

    #[test]
    fn git_without_metadata() {
        let d = doc("git://github.com/docker/buildx.git", &[], None, None);
        assert_eq!(
            d["git"],
            json!({"schema":"https","host":"github.com","remote":"https://github.com/docker/buildx.git"})
        );
    }

    #[test]
    fn git_full_url_scp_like() {
        let d = doc(
            "git://github.com/docker/buildx.git",
            &[("git.fullurl", "git@github.com:docker/buildx.git")],
            None,
            None,
        );
        assert_eq!(d["git"]["schema"], "ssh");
        assert_eq!(d["git"]["remote"], "git@github.com:docker/buildx.git");
        assert_eq!(d["git"]["fullURL"], "git@github.com:docker/buildx.git");
    }

    fn git_facts(checksum: &str, commit: &str, r: &str) -> Facts {
        Facts::Git {
            checksum: checksum.into(),
            commit: commit.into(),
            reference: r.into(),
            commit_object: None,
            tag_object: None,
        }
    }

    #[test]
    fn git_branch_annotated_tag_and_sha256() {
        let one = "1".repeat(40);
        let d = doc(
            "git://github.com/docker/buildx.git#main",
            &[],
            None,
            Some(&git_facts(&one, &one, "refs/heads/main")),
        );
        let g = &d["git"];
        assert_eq!(
            (g["ref"].as_str(), g["branch"].as_str()),
            (Some("refs/heads/main"), Some("main"))
        );
        assert_eq!(g["checksum"], one.as_str());
        assert_eq!(g["commitChecksum"], one.as_str());
        assert_eq!(g["isAnnotatedTag"], false);
        assert_eq!(g["isSHA256"], false);

        let d = doc(
            "git://h/r.git#v1",
            &[],
            None,
            Some(&git_facts(&"4".repeat(40), &"5".repeat(40), "refs/tags/v1")),
        );
        assert_eq!(d["git"]["isAnnotatedTag"], true);
        assert_eq!(d["git"]["tagName"], "v1");

        let d = doc(
            "git://h/r.git#main",
            &[],
            None,
            Some(&git_facts(&"6".repeat(64), &"6".repeat(64), "")),
        );
        assert_eq!(d["git"]["isSHA256"], true);

        let d = doc(&format!("git://h/r.git#{one}"), &[], None, None);
        assert_eq!(d["git"]["isCommitRef"], true);
        assert_eq!(d["git"]["checksum"], one.as_str());
    }

    #[test]
    fn git_objects_are_checked_against_their_ids() {
        let raw = b"tree 0123456789abcdef0123456789abcdef01234567\nauthor Alice <alice@example.com> 1700000000 +0000\ncommitter Bob <bob@example.com> 1700000000 +0000\n\nhello from commit\n".to_vec();
        let id = gitobj::object_id("commit", &raw);
        let facts = Facts::Git {
            checksum: id.clone(),
            commit: id.clone(),
            reference: "refs/heads/main".into(),
            commit_object: Some(raw.clone()),
            tag_object: None,
        };
        let d = doc("git://h/r.git#main", &[], None, Some(&facts));
        assert_eq!(d["git"]["commit"]["message"], "hello from commit\n");
        assert_eq!(d["git"]["commit"]["author"]["name"], "Alice");

        let forged = Facts::Git {
            checksum: id.clone(),
            commit: id.clone(),
            reference: "refs/heads/main".into(),
            commit_object: Some(b"tree 1\n\nforged".to_vec()),
            tag_object: None,
        };
        let op = op("git://h/r.git#main", &[]);
        let err = document(
            &json!({}),
            &Source::parse(&op).unwrap(),
            &op,
            None,
            Some(&forged),
        )
        .unwrap_err();
        assert!(err.contains("expected"), "{err}");
    }

    #[test]
    fn env_from_options() {
        let opts: BTreeMap<String, String> = [
            ("build-arg:release", "1"),
            ("label:team", "x"),
            ("filename", "sub/app.Dockerfile"),
            ("target", "final"),
            ("platform", "linux/amd64"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            env(&opts),
            json!({"args":{"release":"1"},"labels":{"team":"x"},"filename":"app.Dockerfile","target":"final","depth":0})
        );
        assert_eq!(
            env(&BTreeMap::new()),
            json!({"filename":"Dockerfile","depth":0})
        );
    }
}
