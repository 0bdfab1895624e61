//! `docker build` on Docker Engine 29 (the moby/moby/v2 module, built by scripts/setup.sh):
//! the v29 CLI with Buildx as its plugin, default builder = the Engine's embedded BuildKit
//! (moby's own worker), on both image stores; scripts/rig.sh runs one daemon per store.

mod common;

use std::path::{Path, PathBuf};

use common::{Outcome, Rig, rig, serial};
use serde_json::Value;

const VSA: &str = "https://slsa.dev/verification_summary/v1";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Store {
    /// The graphdriver (overlay2) store: no attestations, no multi-platform images.
    Classic,
    /// The containerd image store, the default of a new Engine 29 install.
    Containerd,
}

const STORES: [Store; 2] = [Store::Classic, Store::Containerd];

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run through scripts/test.sh"))
}

impl Store {
    fn host(self) -> String {
        match self {
            Store::Classic => var("VF_DOCKER29_HOST"),
            Store::Containerd => var("VF_DOCKER29_CONTAINERD_HOST"),
        }
    }

    /// The daemon's log, where the frontend's stderr lands.
    fn log(self) -> PathBuf {
        let name = match self {
            Store::Classic => "docker29.log",
            Store::Containerd => "docker29c.log",
        };
        PathBuf::from(var("VF_RIG")).join("run").join(name)
    }

    fn tag(self) -> &'static str {
        match self {
            Store::Classic => "classic",
            Store::Containerd => "containerd",
        }
    }
}

/// Runs the v29 CLI against `store`'s daemon, Buildx found as a plugin in the rig's config.
fn docker(rig: &Rig, store: Store, args: &[&str]) -> Outcome {
    let host = store.host();
    let socket = host.trim_start_matches("unix://");
    assert!(
        Path::new(socket).exists(),
        "Docker 29 ({}) is not running at {host}: scripts/setup.sh builds it, scripts/rig.sh start starts it",
        store.tag()
    );
    let cli = format!("{}/docker", var("VF_DOCKER29_BIN"));
    let config = var("VF_DOCKER29_CONFIG");
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    rig.run_logged_in(
        &store.log(),
        &cli,
        &args,
        &[("DOCKER_HOST", &host), ("DOCKER_CONFIG", &config)],
    )
}

/// `docker build --progress plain <extra> <dir>`.
fn build(rig: &Rig, store: Store, dir: &Path, extra: &[&str]) -> Outcome {
    let dir = dir.display().to_string();
    let mut args = vec!["build", "--progress", "plain"];
    args.extend(extra);
    args.push(&dir);
    docker(rig, store, &args)
}

/// The build's error as Buildx prints it last, without its prefixes.
fn error(out: &Outcome) -> &str {
    let line = out.last_line();
    let line = line.strip_prefix("ERROR: ").unwrap_or(line);
    let line = line.strip_prefix("failed to build: ").unwrap_or(line);
    line.strip_prefix("failed to solve: ").unwrap_or(line)
}

fn sources(report: &Value) -> Vec<&Value> {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["role"] == "build")
        .collect()
}

fn is_sha256(d: &str) -> bool {
    d.len() == 71 && d.starts_with("sha256:") && d[7..].chars().all(|c| c.is_ascii_hexdigit())
}

/// Every source of the build pinned to content, as through buildkitd (tests/e2e.rs).
fn assert_pinned(what: &str, report: &Value) {
    let srcs = sources(report);
    assert!(!srcs.is_empty(), "{what}: no sources in {report}");
    for s in srcs {
        let pinned = s["pinned"].as_str().unwrap();
        let resolved = s["resolved"].as_str().unwrap();
        match s["kind"].as_str().unwrap() {
            "image" => assert!(
                is_sha256(resolved) && pinned.ends_with(&format!("@{resolved}")),
                "{what}: image not pinned by digest: {s}"
            ),
            "git" => assert!(
                resolved.len() == 40
                    && s["pin_attrs"]["git.checksum"].as_str().map(str::len) == Some(40),
                "{what}: git not pinned by checksum: {s}"
            ),
            "http" => assert!(
                is_sha256(resolved) && s["pin_attrs"]["http.checksum"].as_str() == Some(resolved),
                "{what}: http not pinned by checksum: {s}"
            ),
            "local" => assert_eq!(resolved, "", "{what}: {s}"),
            other => panic!("{what}: unexpected source kind {other}: {s}"),
        }
    }
}

/// Build arguments an example needs (tests/e2e.rs passes the same as --opt).
fn example_args(name: &str) -> Vec<&'static str> {
    match name {
        "build-args" => vec![
            "--build-arg",
            "BASE=127.0.0.1:5000/busybox:stable",
            "--build-arg",
            "GREETING=hi",
        ],
        _ => vec![],
    }
}

fn examples(rig: &Rig) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(rig.root.join("testdata/examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The containerd store pushes the image with its attestations: BuildKit's provenance
/// names every dependency by digest and the verified frontend among them.
fn assert_provenance_pinned(rig: &Rig, name: &str, repo: &str) {
    let img = rig.image(repo, "containerd");
    let provs = rig.provenance(&img);
    assert_eq!(
        provs.len(),
        img.images.len(),
        "{name}: one provenance per platform"
    );
    for prov in &provs {
        let deps = prov["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no resolvedDependencies in {prov}"));
        for d in deps {
            let digest = d["digest"].as_object().filter(|m| !m.is_empty());
            assert!(
                digest.is_some(),
                "{name}: dependency not pinned in provenance: {d}"
            );
        }
        assert!(
            deps.iter().any(|d| d["uri"]
                .as_str()
                .unwrap_or("")
                .contains("/verified-frontend@")),
            "{name}: the verified frontend is not in the provenance: {deps:?}"
        );
    }
}

#[test]
fn every_example_builds_and_is_pinned_on_both_image_stores() {
    let _s = serial();
    let rig = rig();
    for name in examples(&rig) {
        for store in STORES {
            let what = format!("{name} ({} store)", store.tag());
            let repo = format!("docker29/{name}");
            let tag = format!("{}/{repo}:{}", rig.registry, store.tag());
            let mut extra = example_args(&name);
            extra.extend(["-t", &tag]);
            if store == Store::Containerd {
                extra.extend(["--push", "--provenance", "mode=max"]);
            }
            let out = build(&rig, store, &rig.example(&name), &extra);
            assert!(out.ok, "{what} failed:\n{}", out.output);
            let report = out.report();
            assert_pinned(&what, &report);
            if store == Store::Containerd {
                assert_provenance_pinned(&rig, &name, &repo);
            }
        }
    }
}

#[test]
fn multi_platform_builds_on_the_containerd_store_and_buildx_refuses_it_on_the_classic_one() {
    let _s = serial();
    let rig = rig();
    // With a policy, so that the frontend attests each platform's image.
    let dir = common::scratch_copy(&rig.example("multi-platform"));
    std::fs::write(
        dir.path().join("Dockerfile.rego"),
        "package docker\n\ndecision := {\"allow\": true}\n",
    )
    .unwrap();
    let dir = dir.path();
    let tag = format!("{}/docker29/multi-platform:containerd", rig.registry);
    let platforms = ["--platform", "linux/amd64,linux/arm64"];
    let mut extra = platforms.to_vec();
    extra.extend(["-t", &tag, "--push"]);
    let out = build(&rig, Store::Containerd, dir, &extra);
    assert!(out.ok, "{}", out.output);
    let report = out.report();
    assert_pinned("multi-platform", &report);
    for s in sources(&report)
        .into_iter()
        .filter(|s| s["kind"] == "image")
    {
        let mut p: Vec<&str> = s["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        p.sort();
        assert_eq!(p, ["linux/amd64", "linux/arm64"], "{s}");
    }
    let img = rig.image("docker29/multi-platform", "containerd");
    let got: Vec<&str> = img.images.iter().map(|i| i.platform.as_str()).collect();
    assert_eq!(got, ["linux/amd64", "linux/arm64"]);
    // The frontend's verification summary for each platform's image.
    let mut attested: Vec<String> = rig
        .statements(&img, VSA)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    attested.sort();
    let mut manifests: Vec<String> = img.images.iter().map(|i| i.digest.clone()).collect();
    manifests.sort();
    assert_eq!(attested, manifests, "one VSA per platform's image");

    // The classic store keeps one platform per image: Buildx says so before building.
    let out = build(&rig, Store::Classic, dir, &platforms);
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.output
            .contains("Multi-platform build is not supported for the docker driver."),
        "{}",
        out.output
    );
}

#[test]
fn call_check_is_answered_through_the_frontend_on_both_image_stores() {
    let _s = serial();
    let rig = rig();
    let dir = rig.example("build-args");
    for store in STORES {
        let out = build(&rig, store, &dir, &["--call", "check"]);
        assert!(
            out.ok && out.output.contains("Check complete, no warnings found."),
            "{}:\n{}",
            store.tag(),
            out.output
        );
        // The subrequest went through the verified frontend, and it built nothing.
        assert!(
            out.output.contains("127.0.0.1:5000/verified-frontend"),
            "{}:\n{}",
            store.tag(),
            out.output
        );
        assert!(!out.output.contains("exporting"), "{}", out.output);
    }
}

#[test]
fn a_policy_denial_fails_the_build_with_the_policys_message_on_both_image_stores() {
    let _s = serial();
    let rig = rig();
    let case = rig.root.join("testdata/policy/allow-registry");
    let tools = rig.digest_of("tools", "1");
    let msg = "image 127.0.0.1:5000/tools is not from an allowed repository";
    for store in STORES {
        // Buildx loads Dockerfile.rego itself and decides each source the Dockerfile
        // frontend resolves (a session source policy) before the verified frontend does:
        // the denial is Buildx's, with the policy's message.
        let out = build(&rig, store, &case, &[]);
        assert!(!out.ok, "{}:\n{}", store.tag(), out.output);
        assert!(
            out.output.contains(&format!("Policy: {msg}"))
                && error(&out).ends_with(
                    "could not resolve image due to policy: source \"docker-image://127.0.0.1:5000/tools:1\" not allowed by policy: action DENY"
                ),
            "{}:\n{}",
            store.tag(),
            out.output
        );
        // A policy Buildx does not load is the frontend's to decide, with the source, its
        // line and the facts.
        let dir = common::scratch_copy(&case);
        std::fs::rename(
            dir.path().join("Dockerfile.rego"),
            dir.path().join("policy.rego"),
        )
        .unwrap();
        let args = ["--build-arg", "VERIFIED_FRONTEND_POLICY=policy.rego"];
        let out = build(&rig, store, dir.path(), &args);
        assert!(!out.ok, "{}:\n{}", store.tag(), out.output);
        // The denial first, on a line of its own; what the policy saw after it.
        let head = format!(
            "failed to solve: source docker-image://127.0.0.1:5000/tools:1@{tools} (Dockerfile:3) denied by policy policy.rego: {msg}\n"
        );
        assert!(
            out.output.contains(&head),
            "{}:\n{}",
            store.tag(),
            out.output
        );
        let line = error(&out);
        assert!(
            line.starts_with(&format!(
                "what the policy saw of docker-image://127.0.0.1:5000/tools:1@{tools}: facts: {{"
            )),
            "{}: {line}",
            store.tag()
        );
    }
}

/// A build context on `signed:<tag>` with testdata/policy/signed's policy and the rig's
/// throwaway trust root, both passed as the frontend's build arguments.
fn signed_build(rig: &Rig, store: Store, tag: &str) -> Outcome {
    let dir = rig.signed_case(&format!(
        "# syntax=127.0.0.1:5000/verified-frontend\nFROM 127.0.0.1:5000/signed:{tag}\nLABEL checked=yes\n"
    ));
    let args = [
        "--build-arg",
        "VERIFIED_FRONTEND_POLICY=policy.rego",
        "--build-arg",
        "VERIFIED_FRONTEND_TRUSTED_ROOT=trusted_root.json",
    ];
    build(rig, store, dir.path(), &args)
}

#[test]
fn signed_images_verify_on_the_containerd_store() {
    let _s = serial();
    let rig = rig();
    let out = signed_build(&rig, Store::Containerd, "good");
    assert!(out.ok, "{}", out.output);
    let report = out.report();
    let base = sources(&report)
        .into_iter()
        .find(|s| s["original"].as_str().unwrap().contains("signed:good"))
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(base["decision"], "allow", "{base}");
    assert!(
        base["attestation_manifest"].as_str().is_some_and(is_sha256),
        "{base}"
    );
    // Found and not accepted, and not there at all: denied alike, as through buildkitd.
    for (tag, why) in [("tampered", "does not verify"), ("unsigned", "")] {
        let out = signed_build(&rig, Store::Containerd, tag);
        assert!(!out.ok, "{tag} built:\n{}", out.output);
        // The denial's line says what and why; the one after it what was not accepted.
        let head = out
            .output
            .lines()
            .find(|l| l.contains("failed to solve: source "))
            .unwrap_or_else(|| panic!("{tag}: no denial in\n{}", out.output));
        assert!(
            head.contains(&format!("127.0.0.1:5000/signed:{tag}@sha256:"))
                && head.ends_with("is not a signed release of example/app v1"),
            "{tag}: {head}"
        );
        let detail = error(&out);
        assert!(
            detail.starts_with("what the policy saw of ") && detail.contains(why),
            "{tag}: {detail}"
        );
    }
}

#[test]
fn the_classic_store_gives_no_attestation_chain_and_the_build_names_the_missing_piece() {
    let _s = serial();
    let rig = rig();
    let out = signed_build(&rig, Store::Classic, "good");
    assert!(!out.ok, "{}", out.output);
    let digest = rig.digest_of("signed", "good");
    assert_eq!(
        error(&out),
        format!(
            "cannot pin source docker-image://127.0.0.1:5000/signed:good@{digest} (Dockerfile:2): resolving image attestation chain requires containerd image store support in dockerd"
        )
    );
}

/// testdata/policy/`case` copied with the rig's signing keys beside its policy.
fn keyed_case(rig: &Rig, case: &str) -> tempfile::TempDir {
    let dir = common::scratch_copy(&rig.root.join("testdata/policy").join(case));
    let keys = PathBuf::from(var("VF_RIG")).join("keys");
    for k in ["signer.asc", "signer.pub"] {
        std::fs::copy(keys.join(k), dir.path().join(k)).unwrap();
    }
    dir
}

#[test]
fn git_and_http_signatures_are_checked_on_both_image_stores() {
    let _s = serial();
    let rig = rig();
    let policy = ["--build-arg", "VERIFIED_FRONTEND_POLICY=policy.rego"];
    let git = keyed_case(&rig, "git-signed");
    let keys = PathBuf::from(var("VF_RIG")).join("keys");
    for store in STORES {
        // The tag and commit objects the moby worker returns are checked as buildkitd's.
        for (tag, ok) in [("v2-pgp", true), ("v2-ssh", true), ("v2-other", false)] {
            let file = git.path().join(format!("{tag}.Dockerfile"));
            let mut extra = vec!["-f", file.to_str().unwrap()];
            extra.extend(policy);
            let out = build(&rig, store, git.path(), &extra);
            assert_eq!(out.ok, ok, "{tag} ({}):\n{}", store.tag(), out.output);
            if !ok {
                let want = format!("refs/tags/{tag} is not a tag signed by the release key");
                assert!(out.output.contains(&want), "{}", out.output);
            }
        }
        // The daemon hashes the download with the signature's trailer (ChecksumRequest).
        for (sig, ok) in [("hello.txt.asc", true), ("other-content.asc", false)] {
            let http = keyed_case(&rig, "http-pgp");
            std::fs::copy(keys.join(sig), http.path().join("hello.txt.asc")).unwrap();
            let out = build(&rig, store, http.path(), &policy);
            assert_eq!(out.ok, ok, "{sig} ({}):\n{}", store.tag(), out.output);
            if !ok {
                let want = "http://127.0.0.1:8777/hello.txt is not signed by the release key";
                assert!(out.output.contains(want), "{}", out.output);
            }
        }
    }
}

#[test]
fn attestations_are_attached_on_the_containerd_store_and_verify_reads_them_back() {
    let _s = serial();
    let rig = rig();
    let ctx = common::scratch_copy(&rig.root.join("testdata/verify/build"));
    std::fs::copy(rig.trusted_root(), ctx.path().join("trusted_root.json")).unwrap();
    let policy = ctx.path().join("policy.rego").display().to_string();
    let args = [
        "--build-arg",
        "VERIFIED_FRONTEND_POLICY=policy.rego",
        "--build-arg",
        "VERIFIED_FRONTEND_TRUSTED_ROOT=trusted_root.json",
        "--provenance",
        "mode=max",
        "--push",
        "-t",
    ];
    let image = format!("{}/verify-docker29:1", rig.registry);
    let mut extra = args.to_vec();
    extra.push(&image);
    let out = build(&rig, Store::Containerd, ctx.path(), &extra);
    assert!(out.ok, "{}", out.output);
    let v = verify(&["--policy", &policy, &image]);
    assert!(
        v.status.success() && String::from_utf8_lossy(&v.stderr).contains("all 7 checks passed"),
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    let table = String::from_utf8_lossy(&v.stdout);
    for want in [
        "PASSED by verified-frontend",
        "all allowed",
        "https://slsa.dev/provenance/v1",
    ] {
        assert!(table.contains(want), "want {want:?} in\n{table}");
    }
}

#[test]
fn the_classic_store_drops_the_frontends_attestations_and_the_build_says_so() {
    let _s = serial();
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    for f in ["Dockerfile", "app.txt"] {
        std::fs::copy(rig.example("multistage").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("Dockerfile.rego"),
        "package docker\n\ndecision := {\"allow\": true}\n",
    )
    .unwrap();
    let image = format!("{}/docker29/attested:classic", rig.registry);
    let out = build(&rig, Store::Classic, dir.path(), &["--push", "-t", &image]);
    assert!(out.ok, "{}", out.output);
    // ... and the build says so, once: the one warning of a build whose sources all passed.
    let dropped = "[verified-frontend] this Docker Engine uses the classic image store, whose exporter drops attestations: the image gets no verification summary (VSA)";
    assert_eq!(out.output.matches(dropped).count(), 1, "{}", out.output);
    assert!(out.output.contains("1 warning found"), "{}", out.output);
    // The frontend decided and returned its attestations ...
    let report = out.report();
    let decided = sources(&report);
    assert_eq!(decided.len(), 3, "{report}");
    assert!(decided.iter().all(|s| s["decision"] == "allow"), "{report}");
    // ... but the graphdriver store's exporter pushes a bare manifest without them, and
    // Buildx refuses `--provenance` there ("Attestation is not supported").
    let v = verify(&[&image]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("it carries no attestations"),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    let out = build(
        &rig,
        Store::Classic,
        dir.path(),
        &["--provenance", "mode=max"],
    );
    assert!(!out.ok);
    assert!(
        out.output
            .contains("Attestation is not supported for the docker driver."),
        "{}",
        out.output
    );
}

fn verify(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_verified-frontend"))
        .arg("verify")
        .args(args)
        .output()
        .expect("run verified-frontend verify")
}

#[test]
fn an_oci_layout_context_builds_on_the_containerd_store_and_the_classic_store_has_no_such_source() {
    let _s = serial();
    let rig = rig();
    // The layout comes from the containerd store's OCI exporter (the classic store has none).
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("Dockerfile"), "FROM scratch\nCOPY f /f\n").unwrap();
    std::fs::write(src.path().join("f"), "from a layout\n").unwrap();
    let layout = tempfile::tempdir().unwrap();
    let dest = format!("type=oci,dest={},tar=false", layout.path().display());
    let out = build(&rig, Store::Containerd, src.path(), &["--output", &dest]);
    assert!(out.ok, "{}", out.output);
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.path().join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();

    let context = format!("layout=oci-layout://{}@{digest}", layout.path().display());
    let dir = rig.root.join("testdata/routes/oci-layout");
    let args = [
        "--build-context",
        &context,
        "--build-arg",
        "VERIFIED_FRONTEND_POLICY=no-signatures.rego",
    ];
    let out = build(&rig, Store::Containerd, &dir, &args);
    assert!(out.ok, "{}", out.output);
    let report = out.report();
    let from_layout = sources(&report)
        .into_iter()
        .find(|s| s["original"].as_str().unwrap().starts_with("oci-layout://"))
        .unwrap_or_else(|| panic!("no oci-layout source in {report}"))
        .clone();
    assert_eq!(from_layout["decision"], "allow", "{from_layout}");
    assert_eq!(from_layout["resolved"], digest, "{from_layout}");

    // moby's graphdriver worker registers no oci-layout source: the Dockerfile frontend's
    // metadata request for the named context fails with the daemon's own words.
    let out = build(&rig, Store::Classic, &dir, &args);
    assert!(!out.ok, "{}", out.output);
    assert!(
        error(&out).ends_with("unknown scheme oci-layout: not found"),
        "{}",
        error(&out)
    );
}

#[test]
fn a_passing_verified_build_shows_one_step_and_no_warning_on_both_image_stores() {
    let _s = serial();
    let rig = rig();
    for store in STORES {
        let out = build(&rig, store, &rig.example("verified"), &[]);
        assert!(out.ok, "{}:\n{}", store.tag(), out.output);
        let trouble: Vec<&str> = out
            .output
            .lines()
            .filter(|l| {
                let step = l.split_once(' ').map_or("", |(_, rest)| rest);
                step.starts_with("ERROR") || step.starts_with("WARN") || l.contains("warning")
            })
            .collect();
        // The classic store's one warning is about the image, not the sources.
        let expected: Vec<&str> = match store {
            Store::Classic => trouble
                .iter()
                .copied()
                .filter(|l| l.contains("classic image store") || l.contains("1 warning found"))
                .collect(),
            Store::Containerd => vec![],
        };
        assert_eq!(trouble, expected, "{}:\n{}", store.tag(), out.output);
        let n = out.report()["sources"].as_array().unwrap().len();
        let head = format!("[verified-frontend] verified {n} sources against Dockerfile.rego");
        assert!(
            out.output.contains(&head),
            "{}:\n{}",
            store.tag(),
            out.output
        );
        assert!(
            out.output
                .contains("[verified-frontend]   allow http://127.0.0.1:8777/hello.txt (Dockerfile:6) -> sha256:"),
            "{}:\n{}",
            store.tag(),
            out.output
        );
    }
}
