//! What the build tells: the SLSA verification summary and the per-source report attached
//! to the exported image, read back from the registry; the summary lines in the build
//! output; report-only and no-policy builds.

mod common;

use std::path::Path;

use common::{Mode, Rig, rig, serial, warnings};
use serde_json::Value;
use sha2::Digest;

const VSA: &str = "https://slsa.dev/verification_summary/v1";
const REPORT: &str = "https://github.com/verified-frontend/verified-frontend/report/v1";

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

fn opts<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--opt",
        "policy=policy.rego",
        "--opt",
        "trusted-root=trusted_root.json",
    ];
    v.extend(extra);
    v
}

/// The registry's digest of the attestation manifest of `repo:tag`'s only image.
fn attestation_of(rig: &Rig, repo: &str, tag: &str) -> String {
    let index = rig.json(&format!("{repo}/manifests/{tag}"), common::OCI_INDEX);
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_image_carries_a_verification_summary_and_the_full_report() {
    let _s = serial();
    let rig = rig();
    let dir = rig.signed_case(
        "# syntax=127.0.0.1:5000/verified-frontend\nFROM 127.0.0.1:5000/signed:good\nLABEL checked=yes\n",
    );
    let out = rig.build(
        dir.path(),
        Mode::Syntax,
        &opts(&["--opt", "attest:provenance=mode=max"]),
        Some("report/summary:1"),
    );
    assert!(out.ok, "{}", out.output);
    let img = rig.image("report/summary", "1");
    assert_eq!(img.images.len(), 1);
    let platform_manifest = &img.images[0].digest;
    let base = rig.digest_of("signed", "good");
    let base_pinned = format!("docker-image://127.0.0.1:5000/signed:good@{base}");
    let base_attestation = attestation_of(&rig, "signed", "good");
    let policy_sha = sha256_hex(&std::fs::read(dir.path().join("policy.rego")).unwrap());

    let vsas = rig.statements(&img, VSA);
    assert_eq!(vsas.len(), 1, "one summary per platform");
    let (described, vsa) = &vsas[0];
    assert_eq!(described, platform_manifest);
    assert_eq!(vsa["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        vsa["subject"][0]["digest"]["sha256"],
        platform_manifest.trim_start_matches("sha256:")
    );
    let p = &vsa["predicate"];
    assert_eq!(
        p["verifier"]["id"],
        "https://github.com/verified-frontend/verified-frontend"
    );
    assert_eq!(
        p["verifier"]["version"]["verified-frontend"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(p["verificationResult"], "PASSED");
    assert_eq!(p["policy"]["uri"], "policy.rego");
    assert_eq!(p["policy"]["digest"]["sha256"], policy_sha.as_str());
    assert_eq!(p["policyMode"], "enforce");
    let root_sha = sha256_hex(&std::fs::read(dir.path().join("trusted_root.json")).unwrap());
    assert_eq!(p["trustRoot"]["uri"], "context:trusted_root.json");
    assert_eq!(p["trustRoot"]["digest"]["sha256"], root_sha.as_str());
    assert_eq!(p["slsaVersion"], "1.0");
    assert!(
        p["timeVerified"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok(),
        "{}",
        p["timeVerified"]
    );
    assert_eq!(p["resourceUri"], "dockerfile:Dockerfile#linux/amd64");
    let inputs = p["inputAttestations"].as_array().unwrap();
    assert!(
        inputs.iter().any(|a| a["uri"] == base_pinned.as_str()
            && a["digest"]["sha256"] == base_attestation.trim_start_matches("sha256:")),
        "{inputs:?}"
    );
    let deps = p["resolvedDependencies"].as_array().unwrap();
    assert!(
        deps.iter().any(|d| d["uri"] == base_pinned.as_str()
            && d["digest"]["sha256"] == base.trim_start_matches("sha256:")),
        "{deps:?}"
    );
    assert!(
        deps.iter().any(|d| d["uri"]
            .as_str()
            .unwrap()
            .starts_with("docker-image://127.0.0.1:5000/verified-frontend:latest@sha256:")),
        "the frontend image itself: {deps:?}"
    );

    let reports = rig.statements(&img, REPORT);
    assert_eq!(reports.len(), 1);
    assert_eq!(&reports[0].0, platform_manifest);
    let r = &reports[0].1["predicate"];
    assert_eq!(r["verificationResult"], "PASSED");
    assert_eq!(r["platform"], "linux/amd64");
    assert_eq!(r["policies"][0]["name"], "policy.rego");
    assert_eq!(r["policies"][0]["sha256"], policy_sha.as_str());
    let src = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["pinned"] == base_pinned.as_str())
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(src["decision"], "allow");
    assert_eq!(src["kind"], "image");
    assert_eq!(src["location"], "Dockerfile:2");
    assert_eq!(src["resolved"], base.as_str());
    assert_eq!(src["attestation_manifest"], base_attestation.as_str());
    // The facts the policy saw, signer claims included.
    let sig = &src["facts"]["signatures"][0];
    assert_eq!(sig["kind"], "docker-github-builder");
    assert_eq!(
        sig["signer"]["sourceRepositoryURI"],
        "https://github.com/example/app"
    );
    assert_eq!(sig["signer"]["sourceRepositoryRef"], "refs/tags/v1");
    assert_eq!(
        sig["timestamps"][0]["uri"].as_str().map(|u| !u.is_empty()),
        Some(true)
    );
    assert_eq!(src["facts"]["hasProvenance"], true);

    // BuildKit's own provenance names the pinned base, by digest.
    let prov = rig.provenance(&img);
    assert_eq!(prov.len(), 1);
    let deps = prov[0]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert!(
        deps.iter()
            .any(|d| d["uri"].as_str().unwrap().contains("signed")
                && d["digest"]["sha256"] == base.trim_start_matches("sha256:")),
        "{deps:?}"
    );
}

/// The multi-platform example with a policy allowing each of its sources.
const MULTI_POLICY: &str = r#"package docker

default allow := false

allow if input.local
allow if input.http
allow if input.image.repo == "127.0.0.1:5000/verified-frontend"
allow if input.image.repo == "127.0.0.1:5000/busybox"
allow if input.image.repo == "127.0.0.1:5000/tools"

deny_msg contains "not allowed" if not allow

decision := {"allow": allow, "deny_msg": deny_msg}
"#;

#[test]
fn each_platform_gets_its_own_summary() {
    let _s = serial();
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    let example = rig.example("multi-platform");
    std::fs::copy(example.join("Dockerfile"), dir.path().join("Dockerfile")).unwrap();
    std::fs::write(dir.path().join("Dockerfile.rego"), MULTI_POLICY).unwrap();
    let platforms = ["--opt", "platform=linux/amd64,linux/arm64"];
    let out = rig.build(dir.path(), Mode::Syntax, &platforms, Some("report/multi:1"));
    assert!(out.ok, "{}", out.output);
    let img = rig.image("report/multi", "1");
    assert_eq!(img.images.len(), 2);
    let vsas = rig.statements(&img, VSA);
    let reports = rig.statements(&img, REPORT);
    assert_eq!((vsas.len(), reports.len()), (2, 2));
    for pi in &img.images {
        for (kind, statements) in [("summary", &vsas), ("report", &reports)] {
            let (_, stmt) = statements
                .iter()
                .find(|(d, _)| d == &pi.digest)
                .unwrap_or_else(|| panic!("no {kind} for {}", pi.platform));
            assert_eq!(
                stmt["subject"][0]["digest"]["sha256"],
                pi.digest.trim_start_matches("sha256:")
            );
        }
        let (_, vsa) = vsas.iter().find(|(d, _)| d == &pi.digest).unwrap();
        assert_eq!(
            vsa["predicate"]["resourceUri"],
            format!("dockerfile:Dockerfile#{}", pi.platform).as_str()
        );
        let (_, stmt) = reports.iter().find(|(d, _)| d == &pi.digest).unwrap();
        let p = &stmt["predicate"];
        assert_eq!(p["platform"], pi.platform.as_str());
        assert_eq!(p["policies"][0]["name"], "Dockerfile.rego");
        for s in p["sources"].as_array().unwrap() {
            assert_eq!(s["decision"], "allow", "{s}");
            let platforms = s["platforms"].as_array().unwrap();
            assert!(
                platforms.is_empty() || platforms.iter().any(|x| x == pi.platform.as_str()),
                "{s}"
            );
        }
    }

    // Without a policy nothing was verified: no statements of this frontend at all (issue
    // 10: the output is then the stock frontend's).
    let out = rig.build(
        &example,
        Mode::Syntax,
        &platforms,
        Some("report/multi:none"),
    );
    assert!(out.ok, "{}", out.output);
    let img = rig.image("report/multi", "none");
    assert_eq!(img.images.len(), 2);
    assert!(rig.statements(&img, VSA).is_empty());
    assert!(rig.statements(&img, REPORT).is_empty());
}

fn build_raw(rig: &Rig, dir: &Path, extra: &[&str], push: &str) -> common::Outcome {
    let mut args: Vec<String> = [
        "build",
        "--progress",
        "rawjson",
        "--frontend",
        "dockerfile.v0",
    ]
    .map(String::from)
    .to_vec();
    args.extend([
        "--local".into(),
        format!("context={}", dir.display()),
        "--local".into(),
        format!("dockerfile={}", dir.display()),
        "--output".into(),
        format!(
            "type=image,name={}/{push},push=true,oci-mediatypes=true",
            rig.registry
        ),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    rig.run_logged("buildctl", &args, &[])
}

#[test]
fn warn_mode_summarises_every_source_at_its_line_and_the_summary_fails() {
    let _s = serial();
    let rig = rig();
    let dir = rig.signed_case(
        "# syntax=127.0.0.1:5000/verified-frontend\nFROM 127.0.0.1:5000/signed:good AS base\n\nFROM 127.0.0.1:5000/signed:wrong-ref\nCOPY --from=base /bin/busybox /busybox\n",
    );
    let out = build_raw(
        &rig,
        dir.path(),
        &opts(&["--opt", "policy-mode=warn"]),
        "report/warn:1",
    );
    assert!(out.ok, "{}", out.output);
    let w = warnings(&out.output);
    // An allowed source is a line of the verified step, not a warning; only the denial
    // that warn mode lets through warns.
    assert!(
        out.output
            .contains("[verified-frontend]   allow docker-image://127.0.0.1:5000/signed:good"),
        "{}",
        out.output
    );
    assert!(!w.iter().any(|(t, _, _)| t.contains(" allow ")), "{w:?}");
    assert!(
        w.iter().any(|(t, f, l)| t.starts_with(
            "verified-frontend: DENIED (policy-mode=warn) docker-image://127.0.0.1:5000/signed:wrong-ref"
        ) && f == "Dockerfile"
            && *l == 4),
        "{w:?}"
    );
    let img = rig.image("report/warn", "1");
    let vsa = &rig.statements(&img, VSA)[0].1["predicate"];
    assert_eq!(vsa["verificationResult"], "FAILED");
    assert_eq!(vsa["policyMode"], "warn");
    let report = &rig.statements(&img, REPORT)[0].1["predicate"];
    let denied: Vec<&Value> = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["decision"] == "deny")
        .collect();
    assert_eq!(denied.len(), 1, "{report}");
    assert!(
        denied[0]["original"]
            .as_str()
            .unwrap()
            .contains("signed:wrong-ref")
    );
    assert!(
        denied[0]["deny_msg"][0]
            .as_str()
            .unwrap()
            .contains("is not a signed release of example/app v1")
    );

    // report-only: the same build, silent, and the same verdict in the attestations.
    let out = build_raw(
        &rig,
        dir.path(),
        &opts(&["--opt", "policy-mode=report-only"]),
        "report/report-only:1",
    );
    assert!(out.ok, "{}", out.output);
    assert!(
        warnings(&out.output)
            .iter()
            .all(|(t, _, _)| !t.starts_with("verified-frontend:")),
        "report-only prints nothing"
    );
    let img = rig.image("report/report-only", "1");
    let vsa = &rig.statements(&img, VSA)[0].1["predicate"];
    assert_eq!(vsa["verificationResult"], "FAILED");
    assert_eq!(vsa["policyMode"], "report-only");
}
