//! The routes around the policy, through the real rig: SBOM generators, images a policy pins
//! to another digest (as a base image and as a named context), the exec proxy cap, and builds
//! that find no policy. Fixtures: scripts/fixtures-routes.sh, testdata/routes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Mode, Outcome, PlatformImage, Rig, rig, serial};
use serde_json::Value;
use sha2::Digest;

const SPDX: &str = "https://spdx.dev/Document";
const SCANNER: &str = "127.0.0.1:5000/scanner:1";

fn case(rig: &Rig, name: &str) -> PathBuf {
    rig.root.join("testdata/routes").join(name)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// Builds `dir` with each of `opts` as an `--opt`, pushing to `push` when given.
fn build(rig: &Rig, dir: &Path, mode: Mode, opts: &[&str], push: Option<&str>) -> Outcome {
    let extra: Vec<&str> = opts.iter().flat_map(|o| ["--opt", *o]).collect();
    rig.build(dir, mode, &extra, push)
}

fn amd64(img: &common::Image) -> &PlatformImage {
    img.images
        .iter()
        .find(|i| i.platform == "linux/amd64")
        .unwrap_or_else(|| panic!("{} has no linux/amd64 image", img.repo))
}

/// The report's record of the first source whose original identifier contains `needle`.
fn record(out: &Outcome, needle: &str) -> Value {
    let report = out.report();
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["original"].as_str().unwrap_or_default().contains(needle))
        .unwrap_or_else(|| panic!("no source {needle} in the report: {report}"))
        .clone()
}

/// The image's filesystem: its layers from the registry, unpacked in order.
fn unpack(rig: &Rig, repo: &str, image: &PlatformImage) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let blobs = tempfile::tempdir().unwrap();
    for layer in image.layers() {
        let file = blobs.path().join(layer.replace(':', "-"));
        std::fs::write(&file, rig.get(&format!("{repo}/blobs/{layer}"), "*/*")).unwrap();
        let status = Command::new("tar")
            .arg("-xf")
            .arg(&file)
            .arg("-C")
            .arg(root.path())
            .status()
            .expect("tar");
        assert!(status.success(), "cannot unpack layer {layer} of {repo}");
    }
    root
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path))
        .unwrap_or_else(|e| panic!("/{path} in the built image: {e}"))
}

fn history(image: &PlatformImage) -> Vec<Value> {
    image.config["history"]
        .as_array()
        .map(|h| h.iter().map(|e| e["created_by"].clone()).collect())
        .unwrap_or_default()
}

#[test]
fn a_denied_sbom_generator_fails_the_build_before_it_runs() {
    let _s = serial();
    let rig = rig();
    let dir = common::scratch_copy(&case(&rig, "sbom"));
    std::fs::write(dir.path().join("marker.txt"), "denied scanner\n").unwrap();
    let sbom = format!("attest:sbom=generator={SCANNER}");
    let out = build(
        &rig,
        dir.path(),
        Mode::Syntax,
        &["policy=busybox-only.rego", &sbom],
        Some("routes/sbom:denied"),
    );
    assert!(!out.ok, "a denied SBOM generator was used:\n{}", out.output);
    let line = out.error();
    assert!(
        line.contains(SCANNER) && line.contains("denied by policy busybox-only.rego"),
        "{line}"
    );
    assert!(
        !out.output.contains("generating sbom"),
        "the denied scanner ran:\n{}",
        out.output
    );
}

#[test]
fn an_allowed_sbom_generator_runs_pinned_and_scans_the_built_image() {
    let _s = serial();
    let rig = rig();
    let dir = common::scratch_copy(&case(&rig, "sbom"));
    // Unique per run, so the SBOM can only be of this build's filesystem.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let marker = format!("scanned marker {nanos}\n");
    std::fs::write(dir.path().join("marker.txt"), &marker).unwrap();
    let sbom = format!("attest:sbom=generator={SCANNER}");
    let out = build(
        &rig,
        dir.path(),
        Mode::Syntax,
        &["policy=with-scanner.rego", &sbom],
        Some("routes/sbom:allowed"),
    );
    assert!(out.ok, "{}", out.output);

    let img = rig.image("routes/sbom", "allowed");
    let built = amd64(&img);
    let statements = rig.statements(&img, SPDX);
    let (_, core) = statements
        .iter()
        .find(|(subject, s)| subject == &built.digest && s["predicate"]["name"] == "sbom")
        .unwrap_or_else(|| panic!("no SBOM of the built image: {statements:?}"));
    let doc = &core["predicate"];
    assert!(
        doc["creationInfo"]["creators"]
            .as_array()
            .unwrap()
            .contains(&Value::from("Tool: vf-scanner-1")),
        "not written by the fixture scanner: {doc}"
    );
    let file = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fileName"] == "/marker.txt")
        .unwrap_or_else(|| panic!("the SBOM does not list /marker.txt: {doc}"));
    let sha256 = file["checksums"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["algorithm"] == "SHA256")
        .unwrap();
    assert_eq!(
        sha256["checksumValue"],
        sha256_hex(marker.as_bytes()).as_str()
    );
    // BuildKit names the layer each listed file came from (SPDX JSON's "comment"): the
    // built image's last one.
    assert_eq!(
        file["comment"],
        format!("layerID: {}", built.layers().last().unwrap()).as_str()
    );

    let scanner = record(&out, "/scanner:1");
    assert_eq!(scanner["decision"], "allow", "{scanner}");
    assert_eq!(
        scanner["pinned"],
        format!("docker-image://{SCANNER}@{}", rig.digest_of("scanner", "1")).as_str(),
        "{scanner}"
    );
}

/// `got` (pushed as repo:got_tag) is adv/base:b whole, exactly as the plain build `plain_tag`
/// of the same Dockerfile on adv/base:b: b's config, b's ONBUILD trigger, b's files, and a RUN
/// that saw b's environment.
fn assert_is_adv_base_b(rig: &Rig, repo: &str, got_tag: &str, plain_tag: &str) {
    let (a_img, b_img) = (rig.image("adv/base", "a"), rig.image("adv/base", "b"));
    let (a, b) = (amd64(&a_img), amd64(&b_img));
    let (got_img, plain_img) = (rig.image(repo, got_tag), rig.image(repo, plain_tag));
    let (got, plain) = (amd64(&got_img), amd64(&plain_img));
    let field = |i: &PlatformImage, k: &str| i.config["config"][k].clone();
    for key in [
        "Env",
        "User",
        "WorkingDir",
        "Cmd",
        "Entrypoint",
        "Labels",
        "Healthcheck",
        "Shell",
        "StopSignal",
    ] {
        assert_ne!(field(a, key), field(b, key), "fixture: a and b share {key}");
        assert_eq!(field(got, key), field(b, key), "{key} is not adv/base:b's");
    }
    assert_eq!(got.config["config"], plain.config["config"]);
    assert_eq!(got.config["rootfs"], plain.config["rootfs"]);
    assert_eq!(history(got), history(plain));
    let base_layers = b.layers();
    assert_eq!(got.layers()[..base_layers.len()], base_layers[..]);
    assert_eq!(
        got.layers(),
        plain.layers(),
        "layers differ from a plain build"
    );

    let fs = unpack(rig, repo, got);
    assert_eq!(read(fs.path(), "which"), "b\n");
    assert_eq!(
        read(fs.path(), "out/onbuild.txt"),
        "b\n",
        "not adv/base:b's ONBUILD trigger"
    );
    let run = read(fs.path(), "out/run.txt");
    for want in ["WHICH=b", "B_ONLY=1", "uid=1002", "pwd=/work-b"] {
        assert!(
            run.lines().any(|l| l == want),
            "RUN did not see {want}:\n{run}"
        );
    }
    assert!(!run.contains("A_ONLY"), "RUN saw adv/base:a's ENV:\n{run}");
    let plain_fs = unpack(rig, repo, plain);
    assert_eq!(run, read(plain_fs.path(), "out/run.txt"));
}

/// A scratch copy of testdata/routes/pin whose pins.json pins adv/base to adv/base:b.
fn pin_case(rig: &Rig) -> (tempfile::TempDir, String) {
    let dir = common::scratch_copy(&case(rig, "pin"));
    let b = rig.digest_of("adv/base", "b");
    assert_ne!(b, rig.digest_of("adv/base", "a"));
    std::fs::write(
        dir.path().join("pins.json"),
        format!("{{\"base\": \"{b}\"}}"),
    )
    .unwrap();
    (dir, b)
}

#[test]
fn a_base_image_pinned_to_another_digest_is_that_image_whole() {
    let _s = serial();
    let rig = rig();
    let (dir, b) = pin_case(&rig);
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    std::fs::write(
        dir.path().join("plain.Dockerfile"),
        dockerfile.replace("/adv/base:a", "/adv/base:b"),
    )
    .unwrap();
    let plain = build(
        &rig,
        dir.path(),
        Mode::Plain,
        &["filename=plain.Dockerfile"],
        Some("routes/pin:plain"),
    );
    assert!(plain.ok, "{}", plain.output);
    let out = build(
        &rig,
        dir.path(),
        Mode::Syntax,
        &["policy=pin.rego"],
        Some("routes/pin:pinned"),
    );
    assert!(out.ok, "{}", out.output);
    let base = record(&out, "/adv/base:a");
    assert_eq!(base["decision"], "allow", "{base}");
    assert!(
        base["pinned"].as_str().unwrap().ends_with(&format!("@{b}")),
        "{base}"
    );
    assert_is_adv_base_b(&rig, "routes/pin", "pinned", "plain");
}

#[test]
fn a_named_context_pinned_to_another_digest_is_that_image_whole() {
    let _s = serial();
    let rig = rig();
    let (dir, b) = pin_case(&rig);
    let plain = build(
        &rig,
        dir.path(),
        Mode::Plain,
        &[
            "filename=named.Dockerfile",
            "context:base=docker-image://127.0.0.1:5000/adv/base:b",
        ],
        Some("routes/named:plain"),
    );
    assert!(plain.ok, "{}", plain.output);
    let out = build(
        &rig,
        dir.path(),
        Mode::Syntax,
        &[
            "filename=named.Dockerfile",
            "policy=pin.rego",
            "context:base=docker-image://127.0.0.1:5000/adv/base:a",
        ],
        Some("routes/named:pinned"),
    );
    assert!(out.ok, "{}", out.output);
    let base = record(&out, "/adv/base:a");
    assert_eq!(base["decision"], "allow", "{base}");
    assert!(
        base["pinned"].as_str().unwrap().ends_with(&format!("@{b}")),
        "{base}"
    );
    assert_is_adv_base_b(&rig, "routes/named", "pinned", "plain");
}

#[test]
fn a_policy_asking_for_the_exec_proxy_fails_builds_whose_run_steps_use_the_network() {
    let _s = serial();
    let rig = rig();
    let dir = case(&rig, "exec-proxy");
    let out = build(
        &rig,
        &dir,
        Mode::Syntax,
        &["filename=network.Dockerfile", "policy=proxy.rego"],
        None,
    );
    assert!(!out.ok, "RUN used the network unproxied:\n{}", out.output);
    assert!(out.error().contains("exec.proxy"), "{}", out.error());
    let ran = out
        .output
        .lines()
        .filter(|l| l.starts_with('#') && l.contains("] RUN wget"));
    assert_eq!(ran.count(), 0, "the RUN step ran:\n{}", out.output);

    // No RUN with network: nothing needs the proxy, so the same policy builds.
    let out_dir = tempfile::tempdir().unwrap();
    let dest = format!("type=local,dest={}", out_dir.path().display());
    let out = rig.build(
        &dir,
        Mode::Syntax,
        &[
            "--opt",
            "filename=offline.Dockerfile",
            "--opt",
            "policy=proxy.rego",
            "--output",
            &dest,
        ],
        None,
    );
    assert!(out.ok, "{}", out.output);
    assert_eq!(read(out_dir.path(), "offline.txt"), "offline\n");
    assert!(!out.output.contains("no policy found"), "{}", out.output);

    let out = build(
        &rig,
        &dir,
        Mode::Syntax,
        &["filename=offline.Dockerfile", "policy=unknown-cap.rego"],
        None,
    );
    assert!(!out.ok, "an unknown cap was ignored:\n{}", out.output);
    assert!(
        out.error().contains("unknown policy cap \"nope\""),
        "{}",
        out.error()
    );
}

#[test]
fn a_build_without_a_policy_says_so_and_policy_strict_refuses_it() {
    let _s = serial();
    let rig = rig();
    // misnamed/ has Dockerfile.Rego, a deny-all policy under a name that is not loaded.
    for name in ["no-policy", "misnamed"] {
        let dir = case(&rig, name);
        let out = build(&rig, &dir, Mode::Syntax, &[], None);
        assert!(out.ok, "{name}:\n{}", out.output);
        assert!(
            out.output.contains("no policy found"),
            "{name}:\n{}",
            out.output
        );
        let out = build(&rig, &dir, Mode::Syntax, &["policy-strict=true"], None);
        assert!(!out.ok, "{name} built without a policy:\n{}", out.output);
        assert!(
            out.error().contains("policy-strict"),
            "{name}: {}",
            out.error()
        );
    }
}

/// An OCI layout holding a one-file image, and the digest index.json names it by.
fn oci_layout(rig: &Rig) -> (tempfile::TempDir, String) {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("Dockerfile"), "FROM scratch\nCOPY f /f\n").unwrap();
    std::fs::write(src.path().join("f"), "from a layout\n").unwrap();
    let layout = tempfile::tempdir().unwrap();
    let tar = layout.path().join("image.tar");
    let out = rig.build(
        src.path(),
        Mode::Plain,
        &["--output", &format!("type=oci,dest={}", tar.display())],
        None,
    );
    assert!(out.ok, "{}", out.output);
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(layout.path())
        .status()
        .unwrap();
    assert!(status.success());
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.path().join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    (layout, digest)
}

#[test]
fn an_oci_layout_image_is_refused_when_the_policy_reads_what_buildkit_cannot_resolve_for_it() {
    let _s = serial();
    let rig = rig();
    let (layout, digest) = oci_layout(&rig);
    let store = format!("store={}", layout.path().display());
    let context = format!("context:layout=oci-layout://store@{digest}");
    // An image without verified signatures has none (Buildx's omitempty), so the policy
    // reading them allows every image by their absence.
    let scratch = common::scratch_copy(&case(&rig, "oci-layout"));
    let rego = scratch.path().join("signatures.rego");
    let text = std::fs::read_to_string(&rego).unwrap();
    std::fs::write(
        &rego,
        text.replace(
            "count(input.image.signatures) >= 0",
            "{ input.image; not input.image.signatures }",
        ),
    )
    .unwrap();
    let dir = scratch.path().to_path_buf();
    let with = |policy: &str| {
        let policy = format!("policy={policy}");
        rig.build(
            &dir,
            Mode::Syntax,
            &["--oci-layout", &store, "--opt", &context, "--opt", &policy],
            None,
        )
    };
    let out = with("no-signatures.rego");
    assert!(out.ok, "{}", out.output);
    assert_eq!(record(&out, "oci-layout://")["decision"], "allow");
    let out = with("signatures.rego");
    assert!(!out.ok, "{}", out.output);
    let line = out.error();
    assert!(line.contains("oci-layout://"), "{line}");
    assert!(
        line.contains("a policy reads image signatures or provenance, which BuildKit does not resolve for oci-layout sources"),
        "{line}"
    );
}
