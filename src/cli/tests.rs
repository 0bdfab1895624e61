use std::path::Path;

use super::bundle::{Signer, VerifyBundleArgs};
use super::*;
use verified_frontend::consumer::VerifyArgs;

fn argv(line: &str) -> Vec<String> {
    std::iter::once(BIN)
        .chain(line.split_whitespace())
        .map(String::from)
        .collect()
}

fn bundle_args(line: &str) -> Result<VerifyBundleArgs, String> {
    match parse(argv(&format!("verify-bundle {line}"))) {
        Ok(Invocation::VerifyBundle(a)) => Ok(a),
        Ok(other) => panic!("{line}: {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

fn verify_args(line: &str) -> Result<VerifyArgs, String> {
    match parse(argv(&format!("verify {line}"))) {
        Ok(Invocation::Verify(a)) => Ok(a),
        Ok(other) => panic!("{line}: {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

fn info(line: &str) -> String {
    match parse(argv(line)) {
        Ok(Invocation::Info(text)) => text,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn no_arguments_is_the_frontend() {
    assert!(matches!(parse([BIN]), Ok(Invocation::Frontend)));
}

#[test]
fn parses_both_forms_of_the_protocol() {
    let a = bundle_args(
        "--bundle b.json --certificate-identity id --certificate-oidc-issuer iss --trusted-root r.json a.txt",
    )
    .unwrap();
    assert_eq!(
        a.signer,
        Signer::Identity {
            identity: "id".into(),
            issuer: "iss".into()
        }
    );
    assert_eq!(a.trusted_root.as_deref(), Some(Path::new("r.json")));
    assert_eq!(a.artifact, "a.txt");
    let a = bundle_args("--staging --bundle b.json --key k.pub sha256:ab").unwrap();
    assert!(a.staging);
    assert_eq!(a.signer, Signer::Key("k.pub".into()));
}

#[test]
fn bad_arguments_are_clear_errors() {
    for (line, want) in [
        ("--bundle b a", "--certificate-identity"),
        ("--bundle b --key k --certificate-identity i a", "either"),
        (
            "--certificate-identity i --certificate-oidc-issuer x a",
            "--bundle is required",
        ),
        ("--bundle b --key k", "exactly one"),
        ("--bundle b --key k --frobnicate a", "unknown option"),
        ("--bundle", "needs a value"),
    ] {
        let err = bundle_args(line).unwrap_err();
        assert!(err.contains(want), "{line}: {err}");
    }
}

#[test]
fn parses_options_in_both_forms() {
    let a = verify_args(
        "--policy p.rego --trusted-root=r.json --platform linux/arm64/v8 127.0.0.1:5000/x:1",
    )
    .unwrap();
    assert_eq!(a.policy.as_deref(), Some(Path::new("p.rego")));
    assert_eq!(a.trusted_root.as_deref(), Some(Path::new("r.json")));
    assert_eq!(a.platform.as_deref(), Some("linux/arm64/v8"));
    assert_eq!(a.image, "127.0.0.1:5000/x:1");
    for (line, want) in [
        ("", "no IMAGE"),
        ("a b", "expected one IMAGE"),
        ("--policy", "needs a value"),
        ("--frob x", "unknown option"),
        ("--platform linux x", "os/arch"),
    ] {
        let e = verify_args(line).unwrap_err();
        assert!(e.contains(want), "{line}: {e}");
    }
}

/// The old parsers took `--flag=value` for `verify` only; now every subcommand takes both,
/// and an empty value is a missing one.
#[test]
fn every_flag_takes_its_value_inline_or_next() {
    let spaced =
        bundle_args("--bundle b.json --key k.pub --trusted-root r.json sha256:ab").unwrap();
    let inline =
        bundle_args("--bundle=b.json --key=k.pub --trusted-root=r.json sha256:ab").unwrap();
    assert_eq!(spaced, inline);
    let spaced = verify_args("--policy p.rego --platform linux/amd64 img").unwrap();
    let inline = verify_args("--policy=p.rego --platform=linux/amd64 img").unwrap();
    assert_eq!(spaced, inline);
    for (line, want) in [
        ("verify --policy= img", "verify: --policy needs a value"),
        (
            "verify-bundle --bundle= --key k a",
            "verify-bundle: --bundle needs a value",
        ),
    ] {
        let e = parse(argv(line)).unwrap_err().to_string();
        assert!(e.starts_with(want), "{line}: {e}");
    }
}

#[test]
fn help_and_version_are_answered_for_the_binary_and_each_subcommand() {
    let top = info("--help");
    assert!(
        top.contains("verify-bundle") && top.contains("verify") && top.contains("no arguments"),
        "{top}"
    );
    assert_eq!(info("help"), top);
    assert!(info("-h").contains("Usage: verified-frontend [COMMAND]"));
    let v = info("verify --help");
    assert!(
        v.contains("--trusted-root") && v.contains("oci-layout://") && v.contains("2 bad input"),
        "{v}"
    );
    assert!(info("verify -h").contains("Usage: verified-frontend verify [--policy"));
    let b = info("verify-bundle --help");
    assert!(
        b.contains("--certificate-oidc-issuer") && b.contains("FILE_OR_DIGEST"),
        "{b}"
    );
    let version = format!("{BIN} {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(info("--version"), version);
    assert!(info("verify --version").ends_with(&format!("{}\n", env!("CARGO_PKG_VERSION"))));
    assert!(info("verify-bundle -V").ends_with(&format!("{}\n", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn usage_errors_name_the_subcommand_and_show_its_usage() {
    let e = parse(argv("verify --frob x")).unwrap_err();
    assert_eq!(e.command, "verify");
    assert_eq!(e.error, ArgError::UnknownOption("--frob".into()));
    assert!(
        e.usage.contains("verified-frontend verify [--policy"),
        "{}",
        e.usage
    );
    let e = parse(argv("frobnicate")).unwrap_err();
    assert_eq!(e.command, BIN);
    assert!(e.to_string().contains("frobnicate"), "{e}");
    let e = parse(argv("--frob")).unwrap_err();
    assert_eq!(e.error, ArgError::UnknownOption("--frob".into()));
}
