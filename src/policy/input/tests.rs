use super::*;
use crate::policy::gitobj;

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
        json!({"url":"http://example.com/archive.tgz","schema":"http","host":"example.com","path":"/archive.tgz"})
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
               "os":"linux","arch":"amd64"})
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
    // Empty values are absent, as Buildx's omitempty leaves them.
    assert!(d["image"].get("env").is_none(), "{d}");
    assert!(d["image"].get("user").is_none(), "{d}");
    assert!(d["image"].get("labels").is_none(), "{d}");
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
    assert!(d["image"].get("hasProvenance").is_none(), "{d}");
    assert!(d["image"].get("signatures").is_none(), "{d}");
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
    assert!(
        g.get("isAnnotatedTag").is_none() && g.get("isSHA256").is_none(),
        "{g}"
    );

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
    assert_eq!(d["git"]["commit"]["message"], "hello from commit");
    assert!(
        d["git"]["commit"].get("parents").is_none(),
        "a root commit has none"
    );
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

fn config_facts(cfg: &str) -> Facts {
    Facts::Image {
        digest: format!("sha256:{}", "c".repeat(64)),
        config: Some(cfg.as_bytes().to_vec()),
        chain: Some(crate::proto::gw::AttestationChain::default()),
        tag_digest: None,
    }
}

fn doc_with(id: &str, facts: &Facts, fetched: Fetched) -> Value {
    let op = op(id, &[]);
    let src = Source::parse(&op).unwrap();
    document_with(&json!({}), &src, &op, Some(&amd64()), Some(facts), fetched).unwrap()
}

#[test]
fn a_tag_before_its_metadata_is_fetched_has_no_checksum_and_no_config() {
    let facts = config_facts(r#"{"created":"2024-01-02T03:04:05Z","config":{"User":"root"}}"#);
    let id = "docker-image://docker.io/library/alpine:3";
    let d = doc_with(id, &facts, Fetched::default());
    assert_eq!(
        d["image"],
        json!({"ref":"docker.io/library/alpine:3","host":"docker.io","repo":"alpine",
               "fullRepo":"docker.io/library/alpine","tag":"3","platform":"linux/amd64",
               "os":"linux","arch":"amd64"})
    );
    // The config request brings the digest and the config, createdTime with it.
    let config = Fetched {
        image_config: true,
        ..Default::default()
    };
    let d = doc_with(id, &facts, config);
    assert_eq!(d["image"]["checksum"], format!("sha256:{}", "c".repeat(64)));
    assert_eq!(d["image"]["user"], "root");
    assert_eq!(d["image"]["createdTime"], "2024-01-02T03:04:05Z");
    assert!(d["image"].get("isCanonical").is_none(), "{d}");
    // The attestation chain alone brings the digest (its root), not the config.
    let chain = Fetched {
        image_attestations: true,
        ..Default::default()
    };
    let d = doc_with(id, &facts, chain);
    assert!(d["image"]["checksum"].is_string() && d["image"].get("user").is_none());
    // A pinned reference knows its digest without any request.
    let pinned = format!(
        "docker-image://docker.io/library/alpine:3@sha256:{}",
        "c".repeat(64)
    );
    let d = doc_with(&pinned, &facts, Fetched::default());
    assert_eq!(d["image"]["isCanonical"], true);
    assert!(d["image"]["checksum"].is_string() && d["image"].get("createdTime").is_none());
}

#[test]
fn created_time_is_written_as_go_formats_rfc3339() {
    let created = |c: &str| {
        let facts = config_facts(&format!(r#"{{"created":"{c}"}}"#));
        doc_with(
            "docker-image://docker.io/library/alpine:3",
            &facts,
            Fetched::all(),
        )["image"]["createdTime"]
            .clone()
    };
    assert_eq!(
        created("2026-12-01T20:36:55.410680771Z"),
        "2026-12-01T20:36:55Z"
    );
    assert_eq!(
        created("2026-12-01T20:36:55.5+02:00"),
        "2026-12-01T20:36:55+02:00"
    );
    assert_eq!(created("2026-12-01T20:36:55+00:00"), "2026-12-01T20:36:55Z");
    let op = op("docker-image://docker.io/library/alpine:3", &[]);
    let src = Source::parse(&op).unwrap();
    let facts = config_facts(r#"{"created":"yesterday"}"#);
    let err = document(&json!({}), &src, &op, Some(&amd64()), Some(&facts)).unwrap_err();
    assert!(err.contains("created \"yesterday\""), "{err}");
}

#[test]
fn materials_are_input_objects_one_level_deeper() {
    use crate::policy::provenance::Material;
    let mat = |uri: &str, digest: &[(&str, &str)]| Material {
        uri: uri.into(),
        digest: digest
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let hex = "7".repeat(64);
    let materials = [
        mat(
            "pkg:docker/127.0.0.1%3A5000/busybox@latest?platform=linux%2Farm64",
            &[("sha256", &hex)],
        ),
        mat("pkg:docker/alpine@3.20", &[("sha256", &hex)]),
        mat(
            "https://github.com/moby/buildkit.git#refs/tags/v0.26.1",
            &[("sha1", "2450dcbab66bbd1074964147c326b560461663a0")],
        ),
        mat("https://example.com/a.tar.gz?x=1", &[("sha256", "ab")]),
        mat("docker-image://not-a-material", &[]),
    ];
    let env = json!({"filename": "Dockerfile", "args": {"A": "1"}, "depth": 0});
    let m = material::inputs(&materials, &env, Some(&amd64())).unwrap();
    assert_eq!(m.len(), 4, "the unsupported URI is left out: {m:?}");
    assert_eq!(
        m[0],
        json!({"env": {"filename": "Dockerfile", "args": {"A": "1"}, "depth": 1},
               "image": {"ref": format!("127.0.0.1:5000/busybox:latest@sha256:{hex}"),
                         "host": "127.0.0.1:5000", "repo": "127.0.0.1:5000/busybox",
                         "fullRepo": "127.0.0.1:5000/busybox", "tag": "latest",
                         "platform": "linux/arm64", "os": "linux", "arch": "arm64",
                         "isCanonical": true, "checksum": format!("sha256:{hex}")}})
    );
    // Without a platform in its URL a material has the image's own.
    assert_eq!(m[1]["image"]["platform"], "linux/amd64");
    assert_eq!(
        m[2]["git"],
        json!({"schema": "https", "host": "github.com",
               "remote": "https://github.com/moby/buildkit.git",
               "fullURL": "https://github.com/moby/buildkit.git#refs/tags/v0.26.1",
               "tagName": "v0.26.1", "ref": "refs/tags/v0.26.1"})
    );
    // Buildx resolves nothing for a material: no checksum for a download.
    assert_eq!(
        m[3]["http"],
        json!({"url": "https://example.com/a.tar.gz?x=1", "schema": "https",
               "host": "example.com", "path": "/a.tar.gz", "query": {"x": ["1"]}})
    );
}

#[test]
fn git_refs_and_subdirs_as_buildx_reads_them_before_fetching() {
    let one = "1".repeat(40);
    let d = doc(&format!("git://h/r.git#{one}:./sub/dir/"), &[], None, None);
    assert_eq!(
        d["git"],
        json!({"schema": "https", "host": "h", "remote": "https://h/r.git", "subDir": "sub/dir",
               "isCommitRef": true, "ref": one, "checksum": one, "commitChecksum": one})
    );
    let d = doc("git://h/r.git#refs/heads/main:/", &[], None, None);
    assert_eq!(d["git"]["branch"], "main");
    assert_eq!(d["git"]["ref"], "refs/heads/main");
    assert!(d["git"].get("subDir").is_none(), "{d}");
    // A short ref is not known before it is resolved.
    let d = doc("git://h/r.git#main", &[], None, None);
    assert!(d["git"].get("ref").is_none() && d["git"].get("branch").is_none());
    // Metadata not fetched stays out even when the frontend has it.
    let facts = git_facts(&one, &one, "refs/heads/main");
    let op = op("git://h/r.git#main", &[]);
    let src = Source::parse(&op).unwrap();
    let d = document_with(
        &json!({}),
        &src,
        &op,
        None,
        Some(&facts),
        Fetched::default(),
    )
    .unwrap();
    assert!(d["git"].get("checksum").is_none(), "{d}");
}

#[test]
fn http_paths_and_hosts_as_go_reads_them() {
    let d = doc("https://Example.COM.:443/a%20b/c?x=1+2", &[], None, None);
    assert_eq!(d["http"]["host"], "example.com");
    assert_eq!(d["http"]["path"], "/a b/c");
    assert_eq!(d["http"]["query"], json!({"x": ["1 2"]}));
    let d = doc("http://[::1]:8080/x", &[], None, None);
    assert_eq!(d["http"]["host"], "[::1]:8080");
}
