//! The quick start (scripts/example.sh, testdata/examples/verified) as a user runs it: the
//! build with its Dockerfile.rego decides and pins every source, the unreviewed variant is
//! denied with the policy's message, and `verified-frontend verify --policy` passes on the
//! pushed image.

mod common;

use std::process::Command;

use common::{Mode, rig, serial};

#[test]
fn the_quick_start_allows_denies_and_verifies() {
    let _serial = serial();
    let rig = rig();
    let dir = rig.example("verified");

    let built = rig.build(
        &dir,
        Mode::Syntax,
        &["--opt", "attest:provenance=mode=max"],
        Some("examples/verified:test"),
    );
    assert!(built.ok, "{}", built.output);
    let report = built.report();
    assert_eq!(report["policies"], serde_json::json!(["Dockerfile.rego"]));
    let sources = report["sources"].as_array().unwrap();
    let kinds: Vec<&str> = sources.iter().filter_map(|s| s["kind"].as_str()).collect();
    for kind in ["git", "http", "image", "local"] {
        assert!(kinds.contains(&kind), "no {kind} source in {report}");
    }
    assert!(
        sources.iter().all(|s| s["decision"] == "allow"),
        "every source is allowed: {report}"
    );

    let denied = rig.build(
        &dir,
        Mode::Syntax,
        &[
            "--opt",
            "filename=unreviewed.Dockerfile",
            "--opt",
            "policy=Dockerfile.rego",
        ],
        None,
    );
    assert!(!denied.ok, "{}", denied.output);
    // The denial is the error's first line, and says what and why without the facts.
    let error = denied
        .output
        .lines()
        .find_map(|l| l.strip_prefix("error: failed to solve: "))
        .unwrap_or_else(|| panic!("no error in\n{}", denied.output));
    assert!(
        error.starts_with("source docker-image://127.0.0.1:5000/tools:1@sha256:")
            && error.contains("(unreviewed.Dockerfile:4) denied by policy Dockerfile.rego: ")
            && error.ends_with("is not a reviewed base image (allowed: 127.0.0.1:5000/busybox)"),
        "{error}"
    );
    assert!(denied.last_line().contains("facts: {"), "{}", denied.output);

    let image = format!("{}/examples/verified:test", rig.registry);
    let policy = dir.join("Dockerfile.rego");
    let out = Command::new(env!("CARGO_BIN_EXE_verified-frontend"))
        .args(["verify", "--policy"])
        .arg(&policy)
        .arg(&image)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("all 7 checks passed"), "{text}");
}
