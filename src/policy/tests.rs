//! Every example policy of testdata/vectors (tonistiigi/buildx-rego-examples and xx's own
//! policy) against the sources it is written for, deciding as its comments say.

use std::path::Path;

use futures::executor::block_on;
use serde_json::{Value, json};

use super::load::{FsDir, read_policy};
use super::*;
use crate::model::Facts;
use crate::proto::pb;
use crate::sources::Source;

fn vectors() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors")
}

fn source_of(dir: &str, file: &str) -> PolicySource {
    block_on(read_policy(
        &FsDir(vectors().join(dir)),
        file,
        file.to_string(),
    ))
    .unwrap()
    .unwrap_or_else(|| panic!("{file} not found"))
}

fn example(name: &str) -> PolicySet {
    PolicySet::compile(vec![source_of(
        "buildx-rego-examples",
        &format!("{name}.Dockerfile.rego"),
    )])
    .unwrap()
}

fn env_with(args: &[(&str, &str)], target: Option<&str>) -> Value {
    let mut opts: std::collections::BTreeMap<String, String> = args
        .iter()
        .map(|(k, v)| (format!("build-arg:{k}"), v.to_string()))
        .collect();
    if let Some(t) = target {
        opts.insert("target".into(), t.into());
    }
    input::env(&opts)
}

fn doc_for(
    env: &Value,
    id: &str,
    attrs: &[(&str, &str)],
    platform: &str,
    facts: Option<Facts>,
) -> Value {
    let op = pb::SourceOp {
        identifier: id.into(),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let mut parts = platform.split('/');
    let platform = pb::Platform {
        os: parts.next().unwrap_or_default().into(),
        architecture: parts.next().unwrap_or_default().into(),
        variant: parts.next().unwrap_or_default().into(),
        ..Default::default()
    };
    input::document(
        env,
        &Source::parse(&op).unwrap(),
        &op,
        Some(&platform),
        facts.as_ref(),
    )
    .unwrap()
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// An image as the Dockerfile frontend writes it (`name:tag@digest`), with optional config.
fn image(reference: &str, dgst: &str, platform: &str, config: Option<Value>) -> Value {
    let facts = Facts::Image {
        digest: dgst.into(),
        config: config.map(|c| c.to_string().into_bytes()),
        chain: None,
        tag_digest: None,
    };
    doc_for(
        &env_with(&[], None),
        &format!("docker-image://{reference}@{dgst}"),
        &[],
        platform,
        Some(facts),
    )
}

/// alpine:latest on linux/amd64, as the Dockerfile frontend pins it, without config.
fn alpine() -> Value {
    image(
        "docker.io/library/alpine:latest",
        &digest('a'),
        "linux/amd64",
        None,
    )
}

fn with_image_fields(mut doc: Value, fields: Value) -> Value {
    for (k, v) in fields.as_object().unwrap() {
        doc["image"][k] = v.clone();
    }
    doc
}

fn local(name: &str) -> Value {
    doc_for(
        &env_with(&[], None),
        &format!("local://{name}"),
        &[],
        "linux/amd64",
        None,
    )
}

fn git(
    remote_id: &str,
    full: &str,
    checksum: &str,
    commit: &str,
    r: &str,
    commit_obj: Option<Vec<u8>>,
) -> Value {
    let facts = Facts::Git {
        checksum: checksum.into(),
        commit: commit.into(),
        reference: r.into(),
        commit_object: commit_obj,
        tag_object: None,
    };
    doc_for(
        &env_with(&[], None),
        remote_id,
        &[("git.fullurl", full)],
        "linux/amd64",
        Some(facts),
    )
}

fn allows(set: &mut PolicySet, doc: &Value) -> bool {
    let d = set
        .evaluate(doc)
        .unwrap_or_else(|e| panic!("evaluation failed: {e}\ninput: {doc}"));
    d.allow
}

#[test]
fn ex1_only_locals() {
    let mut p = example("1-locals");
    assert!(allows(&mut p, &local("context")));
    assert!(!allows(&mut p, &alpine()));
}

#[test]
fn ex2_only_dockerfile_and_context_locals() {
    let mut p = example("2-locals");
    assert!(allows(&mut p, &local("context")));
    assert!(allows(&mut p, &local("dockerfile")));
    assert!(!allows(&mut p, &local("secrets")));
}

#[test]
fn ex3_no_locals_in_release_builds() {
    let mut p = example("3-locals");
    let release = doc_for(
        &env_with(&[("release", "1")], None),
        "local://context",
        &[],
        "linux/amd64",
        None,
    );
    assert!(!allows(&mut p, &release));
    assert!(allows(&mut p, &local("context")));
}

#[test]
fn ex4_alpine_by_checksum() {
    let mut p = example("4-alpine");
    let good = "sha256:865b95f46d98cf867a156fe4a135ad3fe50d2056aa3f25ed31662dff6da4eb62";
    assert!(allows(
        &mut p,
        &image("docker.io/library/alpine:latest", good, "linux/amd64", None)
    ));
    assert!(!allows(
        &mut p,
        &image(
            "docker.io/library/alpine:latest",
            &digest('b'),
            "linux/amd64",
            None
        )
    ));
    assert!(!allows(
        &mut p,
        &image(
            "docker.io/library/busybox:latest",
            good,
            "linux/amd64",
            None
        )
    ));
}

#[test]
fn ex5_platforms() {
    let mut p = example("5-alpine");
    assert!(allows(&mut p, &alpine()));
    assert!(allows(
        &mut p,
        &image(
            "docker.io/library/alpine:latest",
            &digest('a'),
            "linux/arm64",
            None
        )
    ));
    assert!(!allows(
        &mut p,
        &image(
            "docker.io/library/alpine:latest",
            &digest('a'),
            "linux/s390x",
            None
        )
    ));
}

const XX_180: &str = "sha256:add602d55daca18914838a78221f6bbe4284114b452c86a48f96d59aeb00f5c6";

/// Examples 6, 10 (imports data.hack.xx and data.hack.utils) and 11 (load_json) decide xx alike.
fn xx_cases(p: &mut PolicySet) {
    let xx = |tag: &str, d: &str| {
        image(
            &format!("docker.io/tonistiigi/xx:{tag}"),
            d,
            "linux/amd64",
            None,
        )
    };
    assert!(
        allows(p, &xx("1.8.0", XX_180)),
        "known release with its checksum"
    );
    assert!(
        !allows(p, &xx("1.8.0", &digest('e'))),
        "known release, other checksum"
    );
    assert!(
        !allows(p, &xx("1.1.0", &digest('e'))),
        "release marked denied"
    );
    assert!(
        allows(p, &xx("master", &digest('e'))),
        "mutable tags are allowed"
    );
    assert!(allows(p, &alpine()));
}

#[test]
fn ex6_xx_inline_releases() {
    xx_cases(&mut example("6-xx"));
}

#[test]
fn ex10_xx_through_imports() {
    let src = source_of("buildx-rego-examples", "10-xx-external.Dockerfile.rego");
    let modules: Vec<&str> = src.modules.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        modules.contains(&"hack/xx.rego") && modules.contains(&"hack/utils.rego"),
        "{modules:?}"
    );
    xx_cases(&mut PolicySet::compile(vec![src]).unwrap());
}

#[test]
fn ex11_xx_through_load_json() {
    let src = source_of("buildx-rego-examples", "11-xx-external.Dockerfile.rego");
    assert!(src.files.contains_key("xx_releases.json"));
    xx_cases(&mut PolicySet::compile(vec![src]).unwrap());
}

#[test]
fn ex7_golang_config() {
    let mut p = example("7-golang");
    let cfg = json!({"config": {"WorkingDir": "/go", "Env": ["PATH=/usr/bin", "GOLANG_VERSION=1.25.1", "GOTOOLCHAIN=local"]}});
    assert!(allows(
        &mut p,
        &image(
            "docker.io/library/golang:1.25-alpine",
            &digest('a'),
            "linux/amd64",
            Some(cfg)
        )
    ));
    let cfg = json!({"config": {"WorkingDir": "/go", "Env": ["GOLANG_VERSION=1.25.1"]}});
    assert!(!allows(
        &mut p,
        &image(
            "docker.io/library/golang:1.25-alpine",
            &digest('a'),
            "linux/amd64",
            Some(cfg)
        )
    ));
    // without the config fetched the policy cannot allow: it needs it, and says so
    assert!(p.needs().image_config);
}

#[test]
fn ex8_git_tags_of_buildkit() {
    let mut p = example("8-git");
    assert!(p.needs().git_objects);
    let commit = b"tree 0123456789abcdef0123456789abcdef01234567\nauthor A <a@example.com> 1700000000 +0000\ncommitter GitHub <noreply@github.com> 1700000000 +0000\n\nMerge pull request #1 from x/y\n".to_vec();
    let commit_id = gitobj::object_id("commit", &commit);
    let tag_sha = "2450dcbab66bbd1074964147c326b560461663a0";
    let id = "git://github.com/moby/buildkit.git#v0.26.1";
    let full = "https://github.com/moby/buildkit.git";
    let ok = git(
        id,
        full,
        tag_sha,
        &commit_id,
        "refs/tags/v0.26.1",
        Some(commit.clone()),
    );
    assert!(allows(&mut p, &ok));
    let wrong_sha = git(
        id,
        full,
        &"1".repeat(40),
        &commit_id,
        "refs/tags/v0.26.1",
        Some(commit),
    );
    assert!(!allows(&mut p, &wrong_sha));
    let other = git(
        "git://github.com/o/r.git#main",
        "https://github.com/o/r.git",
        &"1".repeat(40),
        &"1".repeat(40),
        "refs/heads/main",
        None,
    );
    assert!(allows(&mut p, &other));
}

#[test]
fn ex9_provenance_required() {
    let mut p = example("9-provenance");
    assert!(p.needs().image_attestations);
    let img = alpine();
    assert!(allows(
        &mut p,
        &with_image_fields(img.clone(), json!({"hasProvenance": true}))
    ));
    assert!(!allows(
        &mut p,
        &with_image_fields(img, json!({"hasProvenance": false}))
    ));
}

fn github_builder_sig(repo: &str, git_ref: &str, prefix: &str) -> Value {
    json!({
        "kind": "docker-github-builder",
        "type": "bundle-v0.3",
        "timestamps": [{"type": "Tlog", "uri": "https://rekor.sigstore.dev", "timestamp": "2026-02-19T00:00:00Z"}],
        "signer": {
            "certificateIssuer": "CN=sigstore-intermediate,O=sigstore.dev",
            "subjectAlternativeName": format!("https://github.com/docker/{prefix}/.github/workflows/build.yml@refs/tags/v1"),
            "issuer": "https://token.actions.githubusercontent.com",
            "buildSignerURI": format!("https://github.com/docker/{prefix}/.github/workflows/build.yml@refs/tags/v1"),
            "runnerEnvironment": "github-hosted",
            "sourceRepositoryURI": format!("https://github.com/{repo}"),
            "sourceRepositoryRef": git_ref,
            "sourceRepositoryDigest": "3a63696139848ce36a0032a3352bbcac81627472",
            "buildTrigger": "workflow_dispatch"
        }
    })
}

/// Signatures reach a policy only from the verifier (issue #4). Until then an image's
/// `signatures` is empty, and a signature policy denies: that is checked here, and the
/// policy's logic is checked on an input that carries a (verified) signature.
#[test]
fn ex13_image_signature() {
    let mut p = example("13-image-signature");
    let img = image(
        "public.ecr.aws/q3b5f1u4/test-docker-action",
        &digest('5'),
        "linux/amd64",
        None,
    );
    let unsigned = with_image_fields(
        img.clone(),
        json!({"hasProvenance": true, "signatures": []}),
    );
    assert!(!allows(&mut p, &unsigned));
    let sig = github_builder_sig("org/repo", "refs/heads/main", "github-builder-experimental");
    let signed = with_image_fields(
        img.clone(),
        json!({"hasProvenance": true, "signatures": [sig]}),
    );
    assert!(allows(&mut p, &signed));
    let mut manual =
        github_builder_sig("org/repo", "refs/heads/main", "github-builder-experimental");
    manual["signer"]["buildTrigger"] = json!("push");
    let signed = with_image_fields(img, json!({"hasProvenance": true, "signatures": [manual]}));
    assert!(!allows(&mut p, &signed));
}

#[test]
fn ex14_pin_image() {
    let mut p = example("14-alpine-pin");
    let d = p
        .evaluate(&image(
            "docker.io/library/alpine:3.22",
            &digest('a'),
            "linux/amd64",
            None,
        ))
        .unwrap();
    assert!(d.allow);
    assert_eq!(
        d.pin.as_deref(),
        Some("sha256:8a1f59ffb675680d47db6337b49d22281a139e9d709335b492be023728e11715")
    );
    assert_eq!(
        d.prints.len(),
        1,
        "print(input.image) is gathered: {:?}",
        d.prints
    );
}

#[test]
fn ex15_convert_old_digests() {
    let mut p = example("15-alpine-convert-digests");
    let old = "sha256:8a1f59ffb675680d47db6337b49d22281a139e9d709335b492be023728e11715";
    let new = "sha256:4b7ce07002c69e8f3d704a9c5d6fd3053be500b7f1c69fc0d80990c2ad8dd412";
    let d = p
        .evaluate(&image(
            "docker.io/library/alpine:3.22",
            old,
            "linux/amd64",
            None,
        ))
        .unwrap();
    assert!(d.allow);
    assert_eq!(d.pin.as_deref(), Some(new));
    let d = p
        .evaluate(&image(
            "docker.io/library/alpine:3.22",
            new,
            "linux/amd64",
            None,
        ))
        .unwrap();
    assert!(d.allow && d.pin.is_none());
}

#[test]
fn ex16_dockerfile_frontend_signed_by_buildkit() {
    let mut p = example("16-github-builder");
    let img = image(
        "docker.io/docker/dockerfile-upstream:1.21.0-rc1",
        &digest('d'),
        "linux/amd64",
        None,
    );
    let signed = |sigs: Value| {
        with_image_fields(
            img.clone(),
            json!({"hasProvenance": true, "signatures": sigs}),
        )
    };
    // The example builds the ref as "dockerfile" + tag, without a slash: taken literally it
    // wants refs/tags/dockerfile1.21.0-rc1, and BuildKit's real tag (dockerfile/1.21.0-rc1)
    // does not match. The helper is checked both ways.
    let cases = [
        (json!([]), false),
        (
            json!([github_builder_sig(
                "moby/buildkit",
                "refs/tags/dockerfile1.21.0-rc1",
                "github-builder"
            )]),
            true,
        ),
        (
            json!([github_builder_sig(
                "moby/buildkit",
                "refs/tags/dockerfile/1.21.0-rc1",
                "github-builder"
            )]),
            false,
        ),
        (
            json!([github_builder_sig(
                "evil/buildkit",
                "refs/tags/dockerfile1.21.0-rc1",
                "github-builder"
            )]),
            false,
        ),
    ];
    for (sigs, want) in cases {
        assert_eq!(allows(&mut p, &signed(sigs.clone())), want, "{sigs}");
    }
}

#[test]
fn ex17_labels() {
    let mut p = example("17-ubuntu-labels");
    let cfg = |name: &str| {
        Some(json!({"config": {"Labels": {"org.opencontainers.image.ref.name": name}}}))
    };
    assert!(!allows(
        &mut p,
        &image(
            "docker.io/library/ubuntu:latest",
            &digest('f'),
            "linux/amd64",
            cfg("ubuntu")
        )
    ));
    assert!(allows(
        &mut p,
        &image(
            "docker.io/library/ubuntu:latest",
            &digest('f'),
            "linux/amd64",
            cfg("ubuntu2")
        )
    ));
    assert!(allows(&mut p, &local("context")));
}

#[test]
fn ex18_deny_message() {
    let mut p = example("18-deny-msg");
    let d = p.evaluate(&local("context")).unwrap();
    assert!(!d.allow);
    assert_eq!(d.deny_msg, ["denied by important reason"]);
}

#[test]
fn ex19_provenance_properties() {
    let mut p = example("19-provenance-properties");
    assert!(p.needs().image_provenance);
    let prov = json!({"completeness": {"parameters": true, "materials": true},
                      "configSource": {"digest": {"sha1": "3a63696139848ce36a0032a3352bbcac81627472"}}});
    let img = image(
        "docker.io/tonistiigi/binfmt:master",
        &digest('b'),
        "linux/amd64",
        None,
    );
    let sig = github_builder_sig("tonistiigi/binfmt", "refs/heads/master", "github-builder");
    assert!(allows(
        &mut p,
        &with_image_fields(
            img.clone(),
            json!({"provenance": prov, "signatures": [sig]})
        )
    ));
    assert!(!allows(
        &mut p,
        &with_image_fields(img, json!({"provenance": prov, "signatures": []}))
    ));
}

#[test]
fn ex20_provenance_materials() {
    let mut p = example("20-provenance-materials");
    let m0 = json!({"image": {"repo": "tonistiigi/binfmt", "hasProvenance": true, "provenance": {"predicateType": "https://slsa.dev/provenance/v1"}}});
    let prov = json!({"completeness": {"parameters": true, "materials": true}, "materials": [m0]});
    let img = image(
        "docker.io/tonistiigi/binfmt:qemu-v10.2.1-65",
        &digest('b'),
        "linux/amd64",
        None,
    );
    assert!(allows(
        &mut p,
        &with_image_fields(img.clone(), json!({"provenance": prov}))
    ));
    assert!(!allows(&mut p, &img));
}

fn http_doc(url: &str) -> Value {
    let facts = Facts::Http {
        checksum: digest('c'),
        filename: "f".into(),
    };
    doc_for(&env_with(&[], None), url, &[], "linux/amd64", Some(facts))
}

/// github_attestation needs api.github.com; without network it must fail the decision,
/// never allow.
#[test]
fn github_attestation_fails_closed() {
    let mut p = example("21-github-attestation");
    let url = "https://github.com/cli/cli/releases/download/v2.87.3/gh_2.87.3_linux_amd64.tar.gz";
    let err = p.evaluate(&http_doc(url)).unwrap_err().to_string();
    assert!(
        err.contains("github_attestation") && err.contains("api.github.com"),
        "{err}"
    );
    assert!(allows(&mut p, &local("context")), "locals still allowed");
}

/// Example 23 as written: the detached signature of Docker's apt Release file, checked
/// against Docker's release key. The Release file itself is not in the vectors (it changes
/// with every apt publish), so the test checks the request the frontend makes to BuildKit
/// and that a checksum of other content is refused; tests/policy.rs verifies a signature
/// over served content end to end.
#[test]
fn http_pgp_example_asks_buildkit_for_the_signature_checksum() {
    let mut src = source_of("buildx-rego-examples", "23-http-pgp.Dockerfile.rego");
    // The example names the key "docker.release.gpg"; the vectors hold it as ".key".
    let key = std::fs::read(vectors().join("buildx-rego-examples/docker.release.gpg.key")).unwrap();
    src.files.insert("docker.release.gpg".into(), key);
    let mut p = PolicySet::compile(vec![src]).unwrap();
    let doc = http_doc("https://download.docker.com/linux/ubuntu/dists/noble/Release");
    let d = p.evaluate(&doc).unwrap();
    assert!(!d.allow);
    let req = d.wanted_checksum.expect("asks for the checksum");
    assert_eq!((req.algo, req.algo_name), (2, "sha512"));
    // BuildKit's answer for content that is not the signed Release file.
    let raw = RawObjects {
        http_checksums: vec![(req.clone(), format!("sha512:{}", "ab".repeat(64)))],
        ..Default::default()
    };
    let d = p.evaluate_with(&doc, &raw).unwrap();
    assert!(!d.allow && d.wanted_checksum.is_none());
    assert!(allows(&mut p, &local("context")), "locals still allowed");
}

/// A signature the policy's key made over the served bytes allows; other bytes do not.
#[test]
fn http_pgp_signature_over_the_content_allows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/http-pgp");
    let mut files = std::collections::BTreeMap::new();
    for f in ["release.txt.asc", "signer.asc", "other.asc"] {
        files.insert(f.to_string(), std::fs::read(dir.join(f)).unwrap());
    }
    let policy = |key: &str| {
        PolicySet::compile(vec![PolicySource {
            name: "p.rego".into(),
            modules: vec![(
                "p.rego".into(),
                format!(
                    "package docker\ndefault allow := false\nallow if verify_http_pgp_signature(input.http, \"release.txt.asc\", \"{key}\")\ndecision := {{\"allow\": allow}}\n"
                ),
            )],
            files: files.clone(),
        }])
        .unwrap()
    };
    let sig = std::fs::read(dir.join("release.txt.asc")).unwrap();
    let req = crate::verify::pgp::checksum_request(&sig).unwrap();
    let content = std::fs::read(dir.join("release.txt")).unwrap();
    use sha2::Digest;
    let sum = |c: &[u8]| {
        format!(
            "sha512:{}",
            hex::encode(sha2::Sha512::digest([c, &req.suffix].concat()))
        )
    };
    let doc = http_doc("https://example.test/release.txt");
    for (key, content, want) in [
        ("signer.asc", content.as_slice(), true),
        ("other.asc", content.as_slice(), false),
        ("signer.asc", b"tampered".as_slice(), false),
    ] {
        let mut p = policy(key);
        let raw = RawObjects {
            http_checksums: vec![(req.clone(), sum(content))],
            ..Default::default()
        };
        let d = p.evaluate_with(&doc, &raw).unwrap();
        assert_eq!(d.allow, want, "{key}");
    }
}

#[test]
fn xx_repository_policy() {
    let mut p = PolicySet::compile(vec![source_of("xx", "Dockerfile.rego")]).unwrap();
    assert!(allows(&mut p, &local("context")));
    let release = doc_for(
        &env_with(&[("release", "1")], None),
        "local://context",
        &[],
        "linux/amd64",
        None,
    );
    assert!(!allows(&mut p, &release));
    assert!(allows(
        &mut p,
        &image(
            "docker.io/library/alpine:3.21",
            &digest('a'),
            "linux/amd64",
            None
        )
    ));
    let deb = |target: Option<&str>| {
        let facts = Facts::Image {
            digest: digest('d'),
            config: None,
            chain: None,
            tag_digest: None,
        };
        doc_for(
            &env_with(&[], target),
            "docker-image://docker.io/library/debian:bookworm",
            &[],
            "linux/amd64",
            Some(facts),
        )
    };
    assert!(allows(&mut p, &deb(Some("test-debian"))));
    assert!(!allows(&mut p, &deb(Some("release"))));
    let bats = git(
        "git://github.com/bats-core/bats-core.git#v1.13.0",
        "https://github.com/bats-core/bats-core.git",
        "d6a46f2cc2d3025ee3ffb59991c6d93ef903e339",
        "d6a46f2cc2d3025ee3ffb59991c6d93ef903e339",
        "refs/tags/v1.13.0",
        None,
    );
    assert!(allows(&mut p, &bats));
    let http = |sum: &str| {
        let facts = Facts::Http {
            checksum: sum.into(),
            filename: "semver".into(),
        };
        doc_for(
            &env_with(&[], None),
            "https://raw.githubusercontent.com/fsaintjacques/semver-tool/3.4.0/src/semver",
            &[],
            "linux/amd64",
            Some(facts),
        )
    };
    assert!(allows(
        &mut p,
        &http("sha256:1ff4a97e4d1e389f6f034f7464ac4365f1be2d900e2dc2121e24a6dc239e8991")
    ));
    assert!(!allows(&mut p, &http(&digest('0'))));
}

#[test]
fn several_policies_all_must_allow_and_first_denial_decides() {
    let a = source_of("buildx-rego-examples", "2-locals.Dockerfile.rego");
    let b = source_of("buildx-rego-examples", "18-deny-msg.Dockerfile.rego");
    let mut p = PolicySet::compile(vec![a, b]).unwrap();
    let d = p.evaluate(&local("context")).unwrap();
    assert!(!d.allow);
    assert_eq!(d.policy, "18-deny-msg.Dockerfile.rego");
    let d = p.evaluate(&local("secrets")).unwrap();
    assert_eq!(d.policy, "2-locals.Dockerfile.rego");
}

fn inline(name: &str, text: &str) -> Result<PolicySet> {
    PolicySet::compile(vec![PolicySource {
        name: name.into(),
        modules: vec![(name.into(), text.into())],
        files: Default::default(),
    }])
}

#[test]
fn bad_policies_are_clear_errors() {
    let err = inline("Dockerfile.rego", "package docker\nallow if {\n")
        .err()
        .unwrap()
        .to_string();
    assert!(err.starts_with("policy Dockerfile.rego:"), "{err}");
    assert!(
        err.contains("Dockerfile.rego:3") || err.contains("Dockerfile.rego:2"),
        "names file and line: {err}"
    );

    let err = inline("p.rego", "package other\nallow := true")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("package docker"), "{err}");

    let err = inline(
        "p.rego",
        "package docker\nallow if unknown_fn(1)\ndecision := {\"allow\": allow}",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("unknown_fn"), "{err}");
}

#[test]
fn decision_shapes_follow_buildx() {
    let mut p = inline(
        "p.rego",
        "package docker\ndecision := {\"deny_msg\": [\"x\", 1]}",
    )
    .unwrap();
    let d = p.evaluate(&local("c")).unwrap();
    assert!(!d.allow, "absent allow denies");
    assert_eq!(d.deny_msg, ["x"], "non-strings are ignored");

    let mut p = inline("p.rego", "package docker\ndecision := {\"allow\": \"yes\"}").unwrap();
    assert!(
        p.evaluate(&local("c"))
            .unwrap_err()
            .to_string()
            .contains("boolean")
    );

    let err = inline("p.rego", "package docker\nallow := true")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("defines no decision"), "{err}");

    let mut p = inline(
        "p.rego",
        "package docker\ndecision := {\"allow\": true} if input.local",
    )
    .unwrap();
    assert!(p.evaluate(&local("c")).unwrap().allow);
    let img = alpine();
    assert!(
        p.evaluate(&img)
            .unwrap_err()
            .to_string()
            .contains("undefined"),
        "undefined for this input"
    );

    let mut p = inline(
        "p.rego",
        "package docker\ndefault allow := false\ndeny_msg contains \"set message\" if not allow\ndecision := {\"allow\": allow, \"deny_msg\": deny_msg}",
    )
    .unwrap();
    assert_eq!(
        p.evaluate(&local("c")).unwrap().deny_msg,
        ["set message"],
        "a set works like an array"
    );
}

#[test]
fn pin_image_only_pins_the_input_image() {
    // As in Buildx: another object is an error, so the call is undefined and nothing pinned.
    for arg in ["{\"repo\": \"x\"}", "object.union(input.image, {\"x\": 1})"] {
        let text = format!(
            "package docker\ndefault allow := false\nallow if {{ input.image; pin_image({arg}, \"sha256:{}\") }}\ndecision := {{\"allow\": allow}}",
            "a".repeat(64)
        );
        let mut p = inline("p.rego", &text).unwrap();
        let d = p.evaluate(&alpine()).unwrap();
        assert!(!d.allow && d.pin.is_none(), "{arg}");
        assert!(
            d.warnings[0].contains("first argument is not the same as input image"),
            "{:?}",
            d.warnings
        );
    }
}

#[test]
fn policies_without_fetches_need_nothing() {
    assert_eq!(example("1-locals").needs(), Needs::default());
    assert_eq!(example("4-alpine").needs(), Needs::default());
    // docker_github_builder(input.image, ...) reads everything about the image
    assert!(example("16-github-builder").needs().image_attestations);
}

fn sig_vector(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/git-signatures")
            .join(name),
    )
    .unwrap()
}

/// A git source whose tag (or commit) object is one of the signed vectors.
fn signed_git(kind: &str, object: &str) -> (Value, RawObjects) {
    let raw = sig_vector(object);
    let id = gitobj::object_id(kind, &raw);
    let (commit_object, tag_object, commit) = if kind == "tag" {
        (None, Some(raw.clone()), "1".repeat(40))
    } else {
        (Some(raw.clone()), None, id.clone())
    };
    let facts = Facts::Git {
        checksum: id,
        commit,
        reference: "refs/tags/v1".into(),
        commit_object: commit_object.clone(),
        tag_object: tag_object.clone(),
    };
    let doc = doc_for(
        &env_with(&[], None),
        "git://h/r.git#v1",
        &[],
        "linux/amd64",
        Some(facts),
    );
    (
        doc,
        RawObjects {
            git_commit: commit_object,
            git_tag: tag_object,
            ..Default::default()
        },
    )
}

fn signature_policy(object: &str, key: &str) -> PolicySet {
    let mut files = std::collections::BTreeMap::new();
    if let Ok(data) = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/git-signatures")
            .join(key),
    ) {
        files.insert(key.to_string(), data);
    }
    PolicySet::compile(vec![PolicySource {
        name: "sig.rego".into(),
        modules: vec![(
            "sig.rego".into(),
            format!("package docker\ndefault allow := false\nallow if verify_git_signature(input.git.{object}, \"{key}\")\ndecision := {{\"allow\": allow}}"),
        )],
        files,
    }])
    .unwrap()
}

#[test]
fn verify_git_signature_with_pgp_and_ssh_keys() {
    for (kind, object, signer, other) in [
        ("tag", "tag-pgp", "pgp-signer.asc", "pgp-other.asc"),
        ("tag", "tag-ssh", "ssh-signer.pub", "ssh-other.pub"),
        ("commit", "commit-pgp", "pgp-signer.asc", "pgp-other.asc"),
        ("commit", "commit-ssh", "ssh-signer.pub", "ssh-other.pub"),
    ] {
        let (doc, raw) = signed_git(kind, object);
        let d = signature_policy(kind, signer)
            .evaluate_with(&doc, &raw)
            .unwrap();
        assert!(d.allow, "{object} with {signer}");
        let d = signature_policy(kind, other)
            .evaluate_with(&doc, &raw)
            .unwrap();
        assert!(!d.allow, "{object} with {other}");
    }
    let (doc, raw) = signed_git("commit", "commit-unsigned");
    assert!(
        !signature_policy("commit", "pgp-signer.asc")
            .evaluate_with(&doc, &raw)
            .unwrap()
            .allow
    );
}

#[test]
fn signature_summaries_are_in_the_input() {
    let (doc, _) = signed_git("tag", "tag-pgp");
    let keyid = String::from_utf8(sig_vector("pgp-signer.keyid"))
        .unwrap()
        .trim()
        .to_lowercase();
    assert_eq!(
        doc["git"]["tag"]["pgpSignature"],
        json!({"version": 4, "keyID": keyid})
    );
    assert_eq!(doc["git"]["tag"]["message"], "pgp signed tag");
    let (doc, _) = signed_git("commit", "commit-ssh");
    let fp = String::from_utf8(sig_vector("ssh-signer.fingerprint"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        doc["git"]["commit"]["sshSignature"],
        json!({"version": 1, "pubKey": fp})
    );
    let (doc, _) = signed_git("commit", "commit-unsigned");
    assert!(doc["git"]["commit"].get("pgpSignature").is_none());
}

#[test]
fn verify_git_signature_only_checks_the_sources_own_objects() {
    let (doc, raw) = signed_git("tag", "tag-pgp");
    let mut files = std::collections::BTreeMap::new();
    files.insert("pgp-signer.asc".to_string(), sig_vector("pgp-signer.asc"));
    let mut p = PolicySet::compile(vec![PolicySource {
        name: "sig.rego".into(),
        modules: vec![(
            "sig.rego".into(),
            "package docker\ndefault allow := false\nallow if { input.git; verify_git_signature({\"message\": \"x\"}, \"pgp-signer.asc\") }\ndecision := {\"allow\": allow}".into(),
        )],
        files,
    }])
    .unwrap();
    // As in Buildx, another object, or a missing key file, is an error: the call is
    // undefined and the error a warning.
    let d = p.evaluate_with(&doc, &raw).unwrap();
    assert!(!d.allow);
    assert!(
        d.warnings[0].contains("object is neither commit nor tag"),
        "{:?}",
        d.warnings
    );
    let d = signature_policy("tag", "missing.asc")
        .evaluate_with(&doc, &raw)
        .unwrap();
    assert!(!d.allow);
    assert!(
        d.warnings[0].contains("not found beside the policy"),
        "{:?}",
        d.warnings
    );
}

/// Example 22 with the real docker/github-builder bundle beside it: the download whose
/// checksum the bundle's statement names is allowed; any other is not.
#[test]
fn ex22_artifact_attestation_with_the_real_bundle() {
    let mut p = example("22-artifact-attestation");
    let url = "https://github.com/tonistiigi/binfmt/releases/download/deploy%2Fv10.2.1-65/binfmt_linux-amd64.tar.gz";
    let http = |sum: &str| {
        let facts = Facts::Http {
            checksum: sum.into(),
            filename: "binfmt_linux-amd64.tar.gz".into(),
        };
        doc_for(&env_with(&[], None), url, &[], "linux/amd64", Some(facts))
    };
    let real = "sha256:2bb181d540633bca67a3a8c852df3e99981fec346e07f827d3caf4bd203c2a5e";
    assert!(allows(&mut p, &http(real)));
    assert!(!allows(&mut p, &http(&digest('0'))));
    // With the build's own trust root (`trusted-root`), the public-good bundle no longer
    // verifies: the option replaces the embedded roots for downloads as for images.
    let kit = std::fs::read_to_string(vectors().join("../signed-chain/trusted_root.json")).unwrap();
    let roots = vec![crate::verify::trust::SigstoreRoot::from_json("kit", &kit).unwrap()];
    p.set_trust_roots(roots.into());
    assert!(!allows(&mut p, &http(real)));
}

/// The README's worked examples (docs/examples), deciding as the guide says.
fn guide(name: &str, files: &[(&str, &str)]) -> PolicySet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
    let mut src = block_on(read_policy(&FsDir(dir), name, name.to_string()))
        .unwrap()
        .unwrap();
    for (as_name, vector) in files {
        let data = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(vector)).unwrap();
        src.files.insert(as_name.to_string(), data);
    }
    PolicySet::compile(vec![src]).unwrap()
}

/// A verified signature as the frontend gives it: docker/github-builder for `repo` at `git_ref`.
fn builder_signature(repo: &str, git_ref: &str) -> Value {
    json!({
        "kind": "docker-github-builder",
        "type": "bundle-v0.3",
        "timestamps": [{"type": "Tlog", "uri": "https://rekor.sigstore.dev", "timestamp": "2026-11-01T10:00:00Z"}],
        "signer": {
            "certificateIssuer": "CN=sigstore-intermediate,O=sigstore.dev",
            "subjectAlternativeName": "https://github.com/docker/github-builder/.github/workflows/build.yml@refs/tags/v1",
            "issuer": "https://token.actions.githubusercontent.com",
            "buildSignerURI": "https://github.com/docker/github-builder/.github/workflows/build.yml@refs/tags/v1",
            "sourceRepositoryURI": format!("https://github.com/{repo}"),
            "sourceRepositoryRef": git_ref,
            "runnerEnvironment": "github-hosted"
        }
    })
}

fn signed_image(reference: &str, sig: Option<Value>, env: &Value) -> Value {
    let mut d = doc_for(
        env,
        &format!("docker-image://{reference}@{}", digest('e')),
        &[],
        "linux/amd64",
        Some(Facts::Image {
            digest: digest('e'),
            config: None,
            chain: None,
            tag_digest: None,
        }),
    );
    d["image"]["hasProvenance"] = json!(true);
    d["image"]["signatures"] = json!(sig.into_iter().collect::<Vec<_>>());
    d
}

#[test]
fn guide_base_image_pins_alpine_and_requires_signed_releases() {
    let mut p = guide("base-image.rego", &[]);
    let d = p
        .evaluate(&image(
            "docker.io/library/alpine:3.20",
            &digest('a'),
            "linux/amd64",
            None,
        ))
        .unwrap();
    assert_eq!(
        d.pin.as_deref(),
        Some("sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a")
    );
    let env = env_with(&[], None);
    let app = "registry.example.com/app:1.4";
    let ok = signed_image(
        app,
        Some(builder_signature("example/app", "refs/tags/v2")),
        &env,
    );
    assert!(allows(&mut p, &ok));
    for sig in [
        None,
        Some(builder_signature("example/app", "refs/heads/main")),
        Some(builder_signature("example/other", "refs/tags/v1")),
    ] {
        let d = p.evaluate(&signed_image(app, sig, &env)).unwrap();
        assert!(!d.allow);
        assert!(
            d.deny_msg[0].contains("is neither the reviewed alpine"),
            "{:?}",
            d.deny_msg
        );
    }
    assert!(!allows(
        &mut p,
        &image(
            "docker.io/library/alpine:3.19",
            &digest('a'),
            "linux/amd64",
            None
        )
    ));
    assert!(allows(&mut p, &local("context")));
}

#[test]
fn guide_signed_git_tag_needs_a_release_key() {
    let files = [
        ("release-keys.asc", "testdata/git-signatures/pgp-signer.asc"),
        ("release-keys.pub", "testdata/git-signatures/ssh-signer.pub"),
    ];
    let mut p = guide("signed-git-tag.rego", &files);
    for object in ["tag-pgp", "tag-ssh"] {
        let (doc, raw) = signed_git("tag", object);
        assert!(p.evaluate_with(&doc, &raw).unwrap().allow, "{object}");
    }
    let others = [
        ("release-keys.asc", "testdata/git-signatures/pgp-other.asc"),
        ("release-keys.pub", "testdata/git-signatures/ssh-other.pub"),
    ];
    let mut p = guide("signed-git-tag.rego", &others);
    for object in ["tag-pgp", "tag-ssh"] {
        let (doc, raw) = signed_git("tag", object);
        let d = p.evaluate_with(&doc, &raw).unwrap();
        assert!(!d.allow, "{object}");
        assert!(d.deny_msg[0].contains("is not a tag signed by a release key"));
    }
    // A signed commit is not a signed tag.
    let (doc, raw) = signed_git("commit", "commit-pgp");
    assert!(!p.evaluate_with(&doc, &raw).unwrap().allow);
    assert!(allows(&mut p, &alpine()));
}

#[test]
fn guide_registries_allow_only_listed_origins() {
    let mut p = guide("registries.rego", &[]);
    let img = |r: &str| image(r, &digest('b'), "linux/amd64", None);
    assert!(allows(&mut p, &img("registry.example.com/team/app:1")));
    assert!(allows(&mut p, &img("docker.io/library/alpine:3.20")));
    let d = p.evaluate(&img("docker.io/someone/tool:1")).unwrap();
    assert!(!d.allow);
    assert!(
        d.deny_msg[0].contains("registry docker.io is not allowed"),
        "{:?}",
        d.deny_msg
    );
    assert!(!allows(&mut p, &img("ghcr.io/example/app:1")));
    let http = |url: &str| {
        let facts = Facts::Http {
            checksum: digest('c'),
            filename: "f".into(),
        };
        doc_for(&env_with(&[], None), url, &[], "linux/amd64", Some(facts))
    };
    assert!(allows(
        &mut p,
        &http("https://artifacts.example.com/tool.tar.gz")
    ));
    let d = p
        .evaluate(&http("http://artifacts.example.com/tool.tar.gz"))
        .unwrap();
    assert!(d.deny_msg[0].contains("downloads come from https://artifacts.example.com only"));
    assert!(allows(&mut p, &local("context")));
}

#[test]
fn guide_production_builds_need_signed_images() {
    let mut p = guide(
        "production.rego",
        &[
            ("vendor.tar.gz.asc", "testdata/http-pgp/release.txt.asc"),
            ("vendor-key.asc", "testdata/http-pgp/signer.asc"),
        ],
    );
    let dev = env_with(&[], None);
    let prod = env_with(&[("ENV", "production")], None);
    let unsigned = |env: &Value| signed_image("docker.io/library/alpine:3.20", None, env);
    assert!(allows(&mut p, &unsigned(&dev)));
    let d = p.evaluate(&unsigned(&prod)).unwrap();
    assert!(!d.allow);
    assert!(d.deny_msg[0].contains("production builds need a signed image"));
    let signed = signed_image(
        "registry.example.com/app:1",
        Some(builder_signature("example/app", "refs/tags/v1")),
        &prod,
    );
    assert!(allows(&mut p, &signed));
    // A download, in any build: BuildKit is asked for the signature's checksum first.
    let facts = Facts::Http {
        checksum: digest('c'),
        filename: "vendor.tar.gz".into(),
    };
    let dl = doc_for(
        &prod,
        "https://vendor.example/vendor.tar.gz",
        &[],
        "linux/amd64",
        Some(facts),
    );
    let d = p.evaluate(&dl).unwrap();
    assert!(!d.allow && d.wanted_checksum.is_some());
}

/// Buildx's `policyCapsProxyFile` (tests/policy_build.go), with its server's URL.
const CAPS_PROXY_POLICY: &str = r#"package docker
default allow = true
default deny_msg := []
default caps := {}
caps := {"exec.proxy": true} if input.env.capsRequest
allow := false if input.http.url == "http://127.0.0.1:8777/file"
deny_msg := ["exec proxy http source denied by policy"] if input.http.url == "http://127.0.0.1:8777/file"
decision := {"allow": allow, "deny_msg": deny_msg, "caps": caps}
"#;

#[test]
fn caps_pre_pass_reads_buildx_exec_proxy_vector() {
    let mut p = inline("Dockerfile.rego", CAPS_PROXY_POLICY).unwrap();
    let caps = p.caps(&env_with(&[], None)).unwrap();
    assert!(caps.exec_proxy);
    assert_eq!(caps.exec_proxy_by, ["Dockerfile.rego"]);
    // The source decisions are unchanged by the pre-pass: caps there is `{}`.
    let d = p.evaluate(&http_doc("http://127.0.0.1:8777/file")).unwrap();
    assert!(!d.allow);
    assert_eq!(d.deny_msg, ["exec proxy http source denied by policy"]);
    assert!(allows(&mut p, &http_doc("http://127.0.0.1:8777/other")));
    assert!(allows(&mut p, &local("context")));
}

#[test]
fn caps_pre_pass_sees_the_build_env_and_no_source() {
    let text = r#"package docker
default allow := false
caps := {"exec.proxy": true} if {
    input.env.capsRequest
    input.env.args.NET == "1"
    input.env.depth == 0
    count(object.keys(input)) == 1
}
default caps := {}
decision := {"allow": allow, "caps": caps}
"#;
    let mut p = inline("p.rego", text).unwrap();
    assert!(p.caps(&env_with(&[("NET", "1")], None)).unwrap().exec_proxy);
    assert!(!p.caps(&env_with(&[("NET", "0")], None)).unwrap().exec_proxy);
    // Only the pre-pass sets capsRequest: a source never sees it.
    assert!(!allows(&mut p, &local("context")));
}

#[test]
fn caps_absent_or_false_ask_for_nothing_and_policies_merge() {
    let none = "package docker\ndefault allow := false\ndecision := {\"allow\": allow}";
    let off = "package docker\ndecision := {\"allow\": true, \"caps\": {\"exec.proxy\": false}}";
    for text in [none, off] {
        let caps = inline("p.rego", text)
            .unwrap()
            .caps(&env_with(&[], None))
            .unwrap();
        assert_eq!(caps, Caps::default(), "{text}");
    }
    let src = |name: &str, text: &str| PolicySource {
        name: name.into(),
        modules: vec![(name.into(), text.into())],
        files: Default::default(),
    };
    let mut p = PolicySet::compile(vec![
        src("Dockerfile.rego", none),
        src("net.rego", CAPS_PROXY_POLICY),
        src("off.rego", off),
    ])
    .unwrap();
    let caps = p.caps(&env_with(&[], None)).unwrap();
    assert!(caps.exec_proxy, "any policy asking turns it on");
    assert_eq!(caps.exec_proxy_by, ["net.rego"]);
    assert!(
        PolicySet::compile(vec![])
            .unwrap()
            .caps(&Value::Null)
            .unwrap()
            == Caps::default()
    );
}

fn caps_error(text: &str) -> String {
    inline("p.rego", text)
        .unwrap()
        .caps(&env_with(&[], None))
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_caps_are_buildx_errors_naming_the_policy() {
    let decision = |caps: &str| {
        format!(
            "package docker\ndecision := {{\"allow\": true, \"caps\": {caps}}} if input.env.capsRequest\ndecision := {{\"allow\": true}} if not input.env.capsRequest"
        )
    };
    for (caps, want) in [
        (
            r#"{"exec.network": true}"#,
            r#"unknown policy cap "exec.network""#,
        ),
        (
            r#"{"exec.proxy": "true"}"#,
            "invalid caps.exec.proxy property type string, expecting bool",
        ),
        (
            r#"{"exec.proxy": 1}"#,
            "invalid caps.exec.proxy property type json.Number, expecting bool",
        ),
        (
            r#"["exec.proxy"]"#,
            "invalid caps property type []interface {}, expecting object",
        ),
    ] {
        let err = caps_error(&decision(caps));
        assert!(
            err.starts_with("policy p.rego: evaluating caps") && err.ends_with(want),
            "{caps}: {err}"
        );
    }
    let err = caps_error("package docker\ndecision := {\"allow\": true} if input.local");
    assert!(
        err.starts_with("policy p.rego: evaluating caps") && err.contains("undefined"),
        "an undefined decision is an error, as Buildx's zero result: {err}"
    );
}

#[test]
fn caps_in_a_source_decision_are_validated() {
    let text = r#"package docker
default allow := true
caps := {"exec.proxy": true} if input.env.capsRequest
caps := {"exec.unknown": true} if input.image
default caps := {}
decision := {"allow": allow, "caps": caps}
"#;
    let mut p = inline("p.rego", text).unwrap();
    assert!(p.caps(&env_with(&[], None)).unwrap().exec_proxy);
    assert!(allows(&mut p, &local("context")));
    let err = p.evaluate(&alpine()).unwrap_err().to_string();
    assert_eq!(err, r#"policy p.rego: unknown policy cap "exec.unknown""#);
    let mut p = inline(
        "p.rego",
        "package docker\ndecision := {\"allow\": true, \"caps\": {\"exec.proxy\": null}}",
    )
    .unwrap();
    let err = p.evaluate(&local("context")).unwrap_err().to_string();
    assert!(
        err.ends_with("invalid caps.exec.proxy property type <nil>, expecting bool"),
        "{err}"
    );
}

#[test]
fn caps_pre_pass_is_no_source_decision() {
    let text = r#"package docker
default allow := false
caps := {"exec.proxy": true} if {
    input.env.capsRequest
    print("caps asked")
}
default caps := {}
print_source if print("source", object.keys(input))
decision := {"allow": allow, "caps": caps, "deny_msg": ["denied"]} if print_source
"#;
    let mut p = inline("p.rego", text).unwrap();
    // The pre-pass's allow=false is no denial of anything.
    let caps = p.caps(&env_with(&[], None)).unwrap();
    assert!(caps.exec_proxy);
    assert!(
        caps.prints
            .iter()
            .any(|l| l.starts_with("p.rego: ") && l.ends_with("caps asked (caps pre-pass)")),
        "{:?}",
        caps.prints
    );
    let d = p.evaluate(&local("context")).unwrap();
    assert!(
        d.prints.iter().all(|l| !l.contains("caps")),
        "pre-pass prints are not repeated with a source: {:?}",
        d.prints
    );
    assert!(!d.prints.is_empty());
}

fn loaded(found: bool) -> Loaded {
    Loaded {
        found,
        looked_for: vec!["foo.Dockerfile.rego".into()],
        ..Default::default()
    }
}

#[test]
fn strict_fails_only_a_deciding_build_without_policy() {
    use super::load::LoadRequest;
    use crate::model::Mode;
    let opts = |mode: Mode, strict: bool| LoadRequest {
        mode,
        strict,
        ..Default::default()
    };
    let err = loaded(false)
        .require_strict(&opts(Mode::Enforce, true))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "no policy found: looked for foo.Dockerfile.rego (policy-strict=true)"
    );
    assert!(
        loaded(false)
            .require_strict(&opts(Mode::Warn, true))
            .is_err()
    );
    for (found, mode, strict) in [
        (false, Mode::Enforce, false),
        (false, Mode::ReportOnly, true),
        (true, Mode::Enforce, true),
        (true, Mode::Warn, true),
    ] {
        assert!(
            loaded(found).require_strict(&opts(mode, strict)).is_ok(),
            "{found} {mode:?} {strict}"
        );
    }
}

#[test]
fn no_policy_notice_names_what_was_looked_for() {
    assert_eq!(
        loaded(false).notice().as_deref(),
        Some(
            "[verified-frontend] no policy found (looked for foo.Dockerfile.rego): sources are pinned but not verified"
        )
    );
    assert_eq!(loaded(true).notice(), None);
}

/// A policy file beside which `files` lie.
fn with_files(text: &str, files: &[(&str, &str)]) -> Result<PolicySet> {
    PolicySet::compile(vec![PolicySource {
        name: "Dockerfile.rego".into(),
        modules: vec![("Dockerfile.rego".into(), text.into())],
        files: files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect(),
    }])
}

/// Issue #11 (7): as in Buildx, which runs OPA without strict builtin errors, a builtin
/// error makes its expression undefined and the evaluation goes on; each is a warning.
#[test]
fn a_builtin_error_is_undefined_and_a_warning() {
    let text = "package docker\ndefault allow := false\nallow if input.local\nallow if to_number(input.image.tag) > 0\ndecision := {\"allow\": allow, \"deny_msg\": [\"not a number tag\"]}\n";
    let mut p = inline("Dockerfile.rego", text).unwrap();
    let d = p.evaluate(&alpine()).unwrap();
    assert!(!d.allow);
    assert_eq!(d.deny_msg, ["not a number tag"]);
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(
        d.warnings[0].starts_with("Dockerfile.rego: Dockerfile.rego:4:"),
        "{:?}",
        d.warnings
    );
    // The same engine, used again, starts over: no warning without an error.
    assert!(p.evaluate(&local("context")).unwrap().warnings.is_empty());
    let tag1 = with_image_fields(alpine(), json!({"tag": "1"}));
    assert!(p.evaluate(&tag1).unwrap().allow);

    // `not` of an erring call holds, as in OPA; every erring builtin of the allow-list.
    for expr in [
        "1 / 0",
        "to_number(\"x\")",
        "regex.match(\"a(\", \"a\")",
        "json.unmarshal(\"x\")",
        "base64.decode(\"!!\")",
        "hex.decode(\"zz\")",
        "time.parse_rfc3339_ns(\"bad\")",
        "units.parse_bytes(\"x\")",
        "numbers.range(1.5, 3)",
        "semver.compare(\"x\", \"1.0.0\")",
        "urlquery.decode(\"%zz\")",
    ] {
        let text = format!(
            "package docker\ndefault allow := false\nallow if not {expr}\ndecision := {{\"allow\": allow}}\n"
        );
        let mut p = inline("p.rego", &text).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let d = p
            .evaluate(&local("c"))
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert!(d.allow, "{expr}");
        assert_eq!(d.warnings.len(), 1, "{expr}: {:?}", d.warnings);
    }
}

/// Issue #11 (8): what OPA's compiler refuses in any rule, reached or not, is refused before
/// any source is decided; two defaults no longer let the first win (one allowed everything).
#[test]
fn whole_policy_checks_cover_unreached_rules() {
    for (body, want) in [
        ("x := trace(\"x\")", "undefined function trace"),
        ("x := http.send({})", "undefined function http.send"),
        (
            "x := net.cidr_contains(\"a\", \"b\")",
            "undefined function net.cidr_contains",
        ),
        ("x := opa.runtime()", "undefined function opa.runtime"),
        (
            "x := no_such_function(1)",
            "undefined function no_such_function",
        ),
        ("x := any([true])", "undefined function any"),
        (
            "x := data.docker.nope(1)",
            "undefined function data.docker.nope",
        ),
        (
            "never if {\n\tinput.nothing\n\tcount(5) > 1\n}",
            "count: invalid argument(s)",
        ),
        ("x := concat(\",\", [1])", "concat: invalid argument(s)"),
        ("x := \"a\" + 1", "plus: invalid argument(s)"),
        ("x := split(\"a\", \",\", \"x\")", "split: arity mismatch"),
        (
            "f(a) := a\nx := f(1, 2)",
            "function data.docker.f has arity 1, got 2 arguments",
        ),
        (
            "default allow := false",
            "multiple default rules data.docker.allow found",
        ),
        (
            "allow contains 1",
            "conflicting rules data.docker.allow found",
        ),
        (
            "allow.sub := 1",
            "rule data.docker.allow conflicts with rule data.docker.allow.sub",
        ),
        (
            "x := y\ny := [x]",
            "rego_recursion_error: rule data.docker.x is recursive: data.docker.x -> data.docker.y -> data.docker.x",
        ),
        (
            "f(n) := f(n)",
            "rego_recursion_error: rule data.docker.f is recursive",
        ),
    ] {
        let text = format!(
            "package docker\ndefault allow := true\n{body}\ndecision := {{\"allow\": allow}}\n"
        );
        let err = match inline("Dockerfile.rego", &text) {
            Ok(_) => panic!("{body}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "{body}: {err}");
        assert!(
            err.contains("Dockerfile.rego:"),
            "names file and line: {err}"
        );
    }
    // What is allowed stays allowed: builtins, Buildx's functions, imports, output arguments.
    let ok = "package docker\nimport rego.v1\ndefault allow := false\nf(a) := upper(a)\nallow if {\n\tf(\"x\") == \"X\"\n\tsplit(\"a,b\", \",\", parts)\n\tcount(parts) == 2\n\tnot pin_image(input.image, \"sha256:x\")\n\tprint(\"a\", 1)\n\tx := $\"{1}\"\n}\ndecision := {\"allow\": allow}\n";
    assert!(
        inline("p.rego", ok).is_ok(),
        "{:?}",
        inline("p.rego", ok).err()
    );
    // Names a rule binds itself are its own, not references to rules of that name.
    let own = "package docker\ndefault allow := false\nx := count_x(1)\ncount_x(x) := x + 1\nallow if {\n\tsome z in [1]\n\tz == count_x(0)\n}\ndeny_msg[msg] := true if {\n\tnot allow\n\tmsg := \"no\"\n}\ndecision := {\"allow\": allow, \"deny_msg\": deny_msg}\n";
    assert!(
        inline("p.rego", own).is_ok(),
        "{:?}",
        inline("p.rego", own).err()
    );
}

/// Issue #11 (11): the allow-list's builtins regorus lacks, and template strings.
#[test]
fn missing_builtins_and_template_strings() {
    let text = "package docker\ndefault allow := false\nallow if {\n\tarray.flatten([1, [2, [3]], []]) == [1, 2, [3]]\n\tstrings.render_template(\"{{.name}} is {{.n}}\", {\"name\": \"x\", \"n\": 2}) == \"x is 2\"\n\tregex.globs_match(\"a.*\", \"a.b\")\n\tnot regex.globs_match(\"[a-z]+\", \"[0-9]*\")\n}\ndecision := {\"allow\": allow}\n";
    let mut p = inline("p.rego", text).unwrap();
    let d = p.evaluate(&alpine()).unwrap();
    assert!(d.allow && d.warnings.is_empty(), "{d:?}");
    let text = "package docker\nmsg := $\"tag {input.image.tag} of {input.image.repo}, {input.nothing}\"\ndecision := {\"allow\": false, \"deny_msg\": [msg]}\n";
    let mut p = inline("p.rego", text).unwrap();
    let d = p.evaluate(&local("c")).unwrap();
    assert_eq!(d.deny_msg, ["tag <undefined> of <undefined>, <undefined>"]);
    let mut img = alpine();
    img["image"]["tag"] = json!("3.20");
    let d = p.evaluate(&img).unwrap();
    assert!(
        d.deny_msg[0].starts_with("tag 3.20 of "),
        "{:?}",
        d.deny_msg
    );
    assert!(d.deny_msg[0].ends_with(", <undefined>"), "{:?}", d.deny_msg);
    // Line numbers after a template string are the file's.
    let err = inline("p.rego", "package docker\nx := $`a\nb`\ny := 1 / \"a\"\n")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("p.rego:4"), "{err}");
}

/// Issue #11 (12): OPA's results where regorus gives others.
#[test]
fn builtins_give_opas_results() {
    let text = "package docker\ndefault allow := false\nallow if {\n\tnot glob.match(\"a:*\", [\":\"], \"a:b:c\")\n\tglob.quote_meta(\"*.{a,b}?[x]\\\\\") == \"\\\\*.\\\\{a,b\\\\}\\\\?\\\\[x\\\\]\\\\\\\\\"\n\tsemver.is_valid(\"v1.2.3\")\n\tsemver.compare(\"v1.2.3\", \"1.2.3\") == 0\n\tupper(\"straße\") == \"STRAßE\"\n\tlower(\"ΣΑΣ\") == \"σασ\"\n\tsprintf(\"%-3d|%+d|%08.3f|%.1f\", [7, 3, 3.14159, 0.25]) == \"7  |+3|0003.142|0.2\"\n\tsprintf(\"%d %v %v\", [1.5, {1, 2}]) == \"%!d(float64=1.5) {1, 2} %!v(MISSING)\"\n\tjson.marshal(\"<&>\") == \"\\\"\\\\u003c\\\\u0026\\\\u003e\\\"\"\n}\ndecision := {\"allow\": allow}\n";
    let mut p = inline("p.rego", text).unwrap();
    let d = p.evaluate(&alpine()).unwrap();
    assert!(d.allow && d.warnings.is_empty(), "{d:?}");
}

/// Buildx's functions follow OPA's rule too: an error is undefined (and a warning), except
/// what the frontend cannot answer as Buildx would, which fails the evaluation.
#[test]
fn buildx_functions_err_as_in_buildx() {
    let value = |expr: &str, files: &[(&str, &str)]| {
        let text = format!(
            "package docker\ndefault allow := false\nallow if input.local\nv := {expr}\ndefault deny_msg := []\ndeny_msg := [json.marshal(v)]\ndecision := {{\"allow\": allow, \"deny_msg\": deny_msg}}\n"
        );
        with_files(&text, files)?.evaluate(&alpine())
    };
    for expr in [
        "load_json(\"nothere.json\")",
        "load_json(\"bad.json\")",
        "load_json(\"../Dockerfile\")",
        "load_json(\"/etc/passwd\")",
        "pin_image({\"repo\": \"x\"}, \"sha256:00\")",
        "pin_image(input.image, \"sha256:zz\")",
    ] {
        let d = value(expr, &[("bad.json", "{\"a\": 1,")]).unwrap();
        assert!(
            d.deny_msg.is_empty(),
            "{expr}: undefined, got {:?}",
            d.deny_msg
        );
        assert_eq!(d.warnings.len(), 1, "{expr}: {:?}", d.warnings);
    }
    let d = value(
        "load_json(\"n.json\")",
        &[("n.json", "{\"big\": 12345678901234567890, \"f\": 1.1}")],
    )
    .unwrap();
    assert_eq!(d.deny_msg, ["{\"big\":1.2345678901234567e+19,\"f\":1.1}"]);
    // A path the policy computes was never read: what Buildx finds is unknown.
    let err = value("load_json(sprintf(\"%s.json\", [\"data\"]))", &[]).unwrap_err();
    assert!(err.to_string().contains("literal path"), "{err}");
    let err = value("github_attestation(input.http, \"a/b\")", &[]);
    assert!(
        err.unwrap().deny_msg.is_empty(),
        "no download: undefined, as in Buildx"
    );
}

/// As Buildx marks the checksum unknown and evaluates again once it is fetched,
/// `artifact_attestation` on a download the document has no checksum for asks BuildKit for
/// it, then verifies against the answer.
#[test]
fn artifact_attestation_asks_for_a_missing_checksum() {
    let text = "package docker\ndefault allow := false\nallow if artifact_attestation(input.http, \"bundle.json\")\ndecision := {\"allow\": allow}\n";
    let mut p = with_files(text, &[("bundle.json", "{}")]).unwrap();
    let mut doc = http_doc("https://example.test/f");
    doc["http"].as_object_mut().unwrap().remove("checksum");
    let d = p.evaluate(&doc).unwrap();
    let req = d.wanted_checksum.expect("asks for the checksum");
    assert_eq!((req.algo_name, req.suffix.len()), ("sha256", 0));
    let raw = RawObjects {
        http_checksums: vec![(req, digest('c'))],
        ..Default::default()
    };
    let d = p.evaluate_with(&doc, &raw).unwrap();
    assert!(!d.allow && d.wanted_checksum.is_none(), "{d:?}");
}

/// Each rule's outcome as OPA v1.19 (Buildx's evaluator) gives it on `{"s": "S"}`: a call
/// in a negation whose argument is undefined makes the negation undefined (OPA moves the
/// argument in front of it), a plain operand of `==` does not.
#[test]
fn negated_calls_with_undefined_arguments_decide_as_in_opa() {
    let cases = [
        (r#"not startswith(input.nothing, "x")"#, false),
        (r#"not input.nothing == "x""#, true),
        (r#"not contains(input.nothing, "x")"#, false),
        ("not count(input.nothing)", false),
        (r#"not upper(input.nothing) == "X""#, false),
        ("not is_string(input.nothing)", false),
        ("not f(input.nothing)", false),
        ("not input.s == upper(input.nothing)", false),
        ("not startswith(input.s, input.nothing)", false),
        ("not input.nothing == input.s", true),
        ("not input.nothing.x", true),
        ("not [input.nothing] == [1]", false),
        (r#"not {"a": input.nothing} == {}"#, false),
        ("not input.nothing + 1 == 2", false),
        ("not count([x | x := input.nothing]) == 1", true),
        (r#"not startswith(input.s, "x")"#, true),
    ];
    for (body, opa) in cases {
        let text = format!(
            "package docker\n\nf(x) := true if x == 1\n\ndefault allow := false\n\n\
             allow if {{\n  {body}\n}}\n\ndecision := {{\"allow\": allow}}\n"
        );
        let mut p = inline("Dockerfile.rego", &text).unwrap();
        assert_eq!(allows(&mut p, &json!({"s": "S"})), opa, "{body}");
    }
}
