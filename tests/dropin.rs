//! The frontend as a drop-in for BuildKit's Dockerfile frontend (issue 10): without a policy
//! a build gives exactly what the stock frontend gives; with one, the attestations are
//! deterministic, stay out of local exports and leave BuildKit's provenance in place; empty
//! per-platform results do not crash the daemon; cache imports reach the pinned solve.

mod common;

use std::path::Path;

use common::{Mode, Rig, rig, serial};
use serde_json::Value;

const VSA: &str = "https://slsa.dev/verification_summary/v1";
const REPORT: &str = "https://github.com/verified-frontend/verified-frontend/report/v1";
/// BuildKit v0.34's default provenance (SLSA v1).
const PROVENANCE: &str = "https://slsa.dev/provenance/v1";
const EPOCH: &str = "build-arg:SOURCE_DATE_EPOCH=1700000000";

/// A build context: `Dockerfile` (behind the syntax line), a file to copy, and with
/// `policy` the allow-registry policy as `Dockerfile.rego`.
fn case(rig: &Rig, dockerfile: &str, policy: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let df = format!("# syntax={}\n{dockerfile}", rig.frontend);
    std::fs::write(dir.path().join("Dockerfile"), df).unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
    if policy {
        let rego = rig
            .root
            .join("testdata/policy/allow-registry/Dockerfile.rego");
        std::fs::copy(rego, dir.path().join("Dockerfile.rego")).unwrap();
    }
    dir
}

const COPY_BUILD: &str = "FROM 127.0.0.1:5000/busybox:latest\nCOPY hello.txt /hello.txt\n";

fn args<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}

fn built(out: common::Outcome, what: &str) -> common::Outcome {
    assert!(out.ok, "{what} failed:\n{}", out.output);
    out
}

/// The top manifest of `repo:tag` as the registry serves it.
fn top(rig: &Rig, repo: &str, tag: &str) -> Value {
    let accept = format!("{}, {}", common::OCI_INDEX, common::OCI_MANIFEST);
    serde_json::from_slice(&rig.get(&format!("{repo}/manifests/{tag}"), &accept)).unwrap()
}

/// Predicate types of the attestation manifest's layers, in order.
fn attestation_layers(rig: &Rig, repo: &str, tag: &str) -> Vec<String> {
    let img = rig.image(repo, tag);
    assert_eq!(img.attestations.len(), 1, "one attestation manifest");
    img.attestations[0].1["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["annotations"]["in-toto.io/predicate-type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Every file a local export wrote, relative to its root.
fn files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn local_export(
    rig: &Rig,
    dir: &Path,
    mode: Mode,
    extra: &[&str],
) -> (tempfile::TempDir, Vec<String>) {
    let dest = tempfile::tempdir().unwrap();
    let output = format!("type=local,dest={}", dest.path().display());
    let out = rig.build(dir, mode, &args(extra, &["--output", &output]), None);
    built(out, &format!("local export ({mode:?})"));
    let list = files(dest.path());
    (dest, list)
}

#[test]
fn without_a_policy_the_output_is_the_stock_frontends() {
    let _s = serial();
    let rig = rig();
    let dir = case(&rig, COPY_BUILD, false);
    let push = |mode: Mode, extra: &[&str], tag: &str| {
        built(
            rig.build(dir.path(), mode, &args(&["--opt", EPOCH], extra), Some(tag)),
            tag,
        )
    };

    // A single-platform image stays a bare manifest, byte for byte the stock one.
    push(Mode::Plain, &[], "dropin/nopolicy:plain");
    let v = push(Mode::Syntax, &[], "dropin/nopolicy:verified");
    v.report(); // the verified frontend did run
    let plain = top(&rig, "dropin/nopolicy", "plain");
    let verified = top(&rig, "dropin/nopolicy", "verified");
    assert_eq!(verified["mediaType"], common::OCI_MANIFEST, "{verified}");
    assert_eq!(plain, verified);

    // With provenance: the same index shape, BuildKit's provenance the only statement.
    let prov = ["--opt", "attest:provenance=mode=min"];
    push(Mode::Plain, &prov, "dropin/nopolicy:plain-prov");
    push(Mode::Syntax, &prov, "dropin/nopolicy:verified-prov");
    let count = |tag: &str| {
        top(&rig, "dropin/nopolicy", tag)["manifests"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("verified-prov"), count("plain-prov"));
    assert_eq!(
        attestation_layers(&rig, "dropin/nopolicy", "verified-prov"),
        [PROVENANCE]
    );

    // A local export writes the same files.
    let (_p, plain_files) = local_export(&rig, dir.path(), Mode::Plain, &prov);
    let (_v, verified_files) = local_export(&rig, dir.path(), Mode::Syntax, &prov);
    assert!(
        plain_files.contains(&"provenance.json".to_string()),
        "{plain_files:?}"
    );
    assert_eq!(verified_files, plain_files);
}

/// The predicates of `predicate_type` statements attached to `repo:tag`.
fn predicates(rig: &Rig, repo: &str, tag: &str, predicate_type: &str) -> Vec<Value> {
    let img = rig.image(repo, tag);
    rig.statements(&img, predicate_type)
        .into_iter()
        .map(|(_, s)| s["predicate"].clone())
        .collect()
}

#[test]
fn with_a_policy_attestations_are_deterministic_keep_provenance_and_are_not_files() {
    let _s = serial();
    let rig = rig();
    let dir = case(&rig, COPY_BUILD, true);
    let prov = ["--opt", "attest:provenance=mode=min"];
    for tag in ["a", "b"] {
        let out = rig.build(
            dir.path(),
            Mode::Syntax,
            &prov,
            Some(&format!("dropin/policy:{tag}")),
        );
        built(out, tag);
    }
    // Two builds of the same inputs say the same; the time is the base image's newest.
    let (a, b) = (
        predicates(&rig, "dropin/policy", "a", REPORT),
        predicates(&rig, "dropin/policy", "b", REPORT),
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a, b, "reports of identical builds differ");
    assert_eq!(a[0]["timeVerifiedFrom"], "image-history", "{}", a[0]);
    assert_eq!(
        predicates(&rig, "dropin/policy", "a", VSA),
        predicates(&rig, "dropin/policy", "b", VSA)
    );
    // BuildKit's provenance is still there, once, beside the frontend's two statements.
    let layers = attestation_layers(&rig, "dropin/policy", "a");
    let mut sorted = layers.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "https://github.com/verified-frontend/verified-frontend/report/v1",
            PROVENANCE,
            VSA
        ],
        "{layers:?}"
    );

    // SOURCE_DATE_EPOCH is the verification time.
    let out = rig.build(
        dir.path(),
        Mode::Syntax,
        &["--opt", EPOCH],
        Some("dropin/policy:epoch"),
    );
    built(out, "epoch");
    for t in [REPORT, VSA] {
        let p = predicates(&rig, "dropin/policy", "epoch", t);
        assert_eq!(p[0]["timeVerified"], "2023-11-14T22:13:20Z", "{t}");
    }

    // A local export has the stock files only: the statements live in images, not files.
    let (_d, verified_files) = local_export(&rig, dir.path(), Mode::Syntax, &prov);
    std::fs::remove_file(dir.path().join("Dockerfile.rego")).unwrap();
    let (_p, plain_files) = local_export(&rig, dir.path(), Mode::Plain, &prov);
    assert_eq!(verified_files, plain_files);
}

#[test]
fn two_platforms_of_an_empty_stage_build_and_the_daemon_stays_up() {
    let _s = serial();
    let rig = rig();
    let platforms = ["--opt", "platform=linux/amd64,linux/arm64"];
    for policy in [false, true] {
        let dir = case(&rig, "FROM scratch\nLABEL empty=yes\n", policy);
        let tag = format!("dropin/scratch:{policy}");
        let out = rig.build(dir.path(), Mode::Syntax, &platforms, Some(&tag));
        let daemon = std::process::Command::new("buildctl")
            .args(["debug", "workers"])
            .output()
            .unwrap();
        assert!(
            daemon.status.success(),
            "buildkitd is down after the build:\n{}",
            out.output
        );
        built(out, &tag);
        let img = rig.image("dropin/scratch", &policy.to_string());
        let got: Vec<(&str, &str)> = img
            .images
            .iter()
            .map(|i| {
                (
                    i.platform.as_str(),
                    i.config["config"]["Labels"]["empty"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, [("linux/amd64", "yes"), ("linux/arm64", "yes")]);
        // No filesystem change: no layers (Go writes `"layers": null`).
        assert!(
            img.images
                .iter()
                .all(|i| i.manifest["layers"].as_array().is_none_or(Vec::is_empty))
        );
    }
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}")
}

fn layers(rig: &Rig, repo: &str, tag: &str) -> Vec<String> {
    rig.image(repo, tag).images[0].layers()
}

/// Prunes this test's own cache records only: the rig's cache is shared.
fn prune_matching(token: &str) {
    let out = std::process::Command::new("buildctl")
        .args(["prune", "--filter", &format!("description~={token}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cache_imports_reach_the_pinned_solve() {
    let _s = serial();
    let rig = rig();
    let token = unique();
    // The RUN writes a random file: a second run would give another layer.
    let dockerfile = format!(
        "FROM 127.0.0.1:5000/busybox:latest\nRUN echo {token} > /token && cat /proc/sys/kernel/random/uuid > /random\n"
    );
    let dir = case(&rig, &dockerfile, false);
    let cache = format!("type=registry,ref={}/dropin/cache:{token}", rig.registry);
    let export = format!("{cache},mode=max");
    let first = rig.build(
        dir.path(),
        Mode::Syntax,
        &["--export-cache", &export],
        Some("dropin/cached:1"),
    );
    built(first, "first build");
    prune_matching(&token);

    let import = ["--import-cache", cache.as_str()];
    let second = built(
        rig.build(dir.path(), Mode::Syntax, &import, Some("dropin/cached:2")),
        "second build",
    );
    assert!(
        second.output.contains(&format!(
            "importing cache manifest from {}/dropin/cache:{token}",
            rig.registry
        )),
        "{}",
        second.output
    );
    assert_eq!(
        layers(&rig, "dropin/cached", "1"),
        layers(&rig, "dropin/cached", "2"),
        "the RUN ran again instead of coming from the imported cache:\n{}",
        second.output
    );
}
