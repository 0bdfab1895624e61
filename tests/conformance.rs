//! The sigstore-conformance bundle-verify cases (testdata/vectors, suite commit a73de49),
//! run through `verified-frontend verify-bundle` exactly as the suite's harness would: each
//! case once with the artifact as a path and once as its digest; `_fail` cases must fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/vectors/sigstore-conformance-bundle-verify")
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

#[test]
fn all_bundle_verify_cases_decide_as_the_suite_expects() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(suite())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("bundle.sigstore.json").exists())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70, "the suite has 70 cases");
    let mut wrong = Vec::new();
    let mut ran = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            suite().join("a.txt")
        };
        let digest = format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(std::fs::read(&artifact).unwrap()))
        );
        for (mode, subject) in [("PATH", artifact.display().to_string()), ("DIGEST", digest)] {
            let mut args: Vec<String> = vec!["verify-bundle".into(), "--bundle".into()];
            args.push(case.join("bundle.sigstore.json").display().to_string());
            if case.join("key.pub").exists() {
                args.extend(["--key".into(), case.join("key.pub").display().to_string()]);
            } else {
                let identity =
                    read_trimmed(&case.join("identity")).unwrap_or(DEFAULT_IDENTITY.into());
                let issuer = read_trimmed(&case.join("issuer")).unwrap_or(DEFAULT_ISSUER.into());
                args.extend([
                    "--certificate-identity".into(),
                    identity,
                    "--certificate-oidc-issuer".into(),
                    issuer,
                ]);
            }
            if case.join("trusted_root.json").exists() {
                args.extend([
                    "--trusted-root".into(),
                    case.join("trusted_root.json").display().to_string(),
                ]);
            }
            args.push(subject);
            let out = Command::new(env!("CARGO_BIN_EXE_verified-frontend"))
                .args(&args)
                .output()
                .unwrap();
            ran += 1;
            let expect_ok = !name.ends_with("_fail");
            if out.status.success() != expect_ok {
                wrong.push(format!(
                    "{mode}-{name}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    assert_eq!(ran, 140);
    assert!(
        wrong.is_empty(),
        "{} of 140 cases decided wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn malformed_input_is_a_clear_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.json");
    std::fs::write(&bundle, "{not json").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_verified-frontend"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "verify-bundle",
        "--bundle",
        bundle.to_str().unwrap(),
        "--key",
        "k.pem",
        "sha256:00",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAILED"));
    let out = run(&[
        "verify-bundle",
        "--bundle",
        bundle.to_str().unwrap(),
        "a.txt",
    ]);
    assert_eq!(out.status.code(), Some(2), "usage error");
}
