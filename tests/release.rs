//! The release as users get it (scripts/fixtures-release.sh makes release-shaped frontend
//! images, signed with the rig's throwaway Sigstore root as docker/github-builder signs one):
//! the shipped policy that verifies the frontend image itself, the release build going
//! through the frontend under the repository's own Dockerfile.rego, and that build
//! reproducible.

mod common;

use std::path::Path;

use common::{Mode, Outcome, Rig, rig, serial};

fn frontend_case(rig: &Rig, tag: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "# syntax=127.0.0.1:5000/verified-frontend:{tag}\nFROM 127.0.0.1:5000/busybox:latest\n"
        ),
    )
    .unwrap();
    std::fs::copy(
        rig.root.join("docs/examples/frontend-release.rego"),
        dir.path().join("Dockerfile.rego"),
    )
    .unwrap();
    std::fs::copy(rig.trusted_root(), dir.path().join("trusted_root.json")).unwrap();
    dir
}

#[test]
fn the_shipped_policy_runs_only_a_frontend_release_signed_for_its_tag() {
    let _serial = serial();
    let rig = rig();
    let opts = ["--opt", "trusted-root=trusted_root.json"];
    let dir = frontend_case(&rig, "v0.1.0");
    let out = rig.build(dir.path(), Mode::Syntax, &opts, None);
    assert!(out.ok, "{}", out.output);
    let report = out.report();
    let frontend = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["original"]
                .as_str()
                .unwrap_or("")
                .contains("verified-frontend:v0.1.0")
        })
        .unwrap_or_else(|| panic!("the frontend image is not among the sources: {report}"));
    assert_eq!(frontend["decision"], "allow", "{frontend}");

    // Not signed at all; signed, but for another tag than the one pulled.
    for tag in ["v0.1.1", "v0.2.0"] {
        let dir = frontend_case(&rig, tag);
        let out = rig.build(dir.path(), Mode::Syntax, &opts, None);
        assert!(!out.ok, "{tag}: {}", out.output);
        let want = "is not a release of github.com/verified-frontend/verified-frontend signed by docker/github-builder for its tag";
        assert!(out.error().contains(want), "{tag}: {}", out.error());
    }
}

/// The repository's Dockerfile (final stage, the binary a named context as frontend/build.sh
/// gives it) and Dockerfile.rego, built through the signed release frontend and pushed.
fn release_build(rig: &Rig, work: &Path, tag: &str, no_cache: bool) -> Outcome {
    let ctx = work.join("ctx");
    let bin = work.join("bin");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::create_dir_all(bin.join("out")).unwrap();
    for f in ["Dockerfile", "Dockerfile.rego"] {
        std::fs::copy(rig.root.join(f), ctx.join(f)).unwrap();
    }
    let binary = rig
        .root
        .join("target/x86_64-unknown-linux-gnu/release/verified-frontend");
    std::fs::copy(&binary, bin.join("out/verified-frontend")).unwrap();
    std::fs::copy(rig.trusted_root(), ctx.join("trusted_root.json")).unwrap();
    let args: Vec<String> = [
        "build",
        "--progress",
        "plain",
        "--frontend",
        "gateway.v0",
        "--opt",
        "source=127.0.0.1:5000/verified-frontend:v0.1.0",
        "--local",
        &format!("context={}", ctx.display()),
        "--local",
        &format!("dockerfile={}", ctx.display()),
        "--local",
        &format!("binary={}", bin.display()),
        "--opt",
        "context:binary=local:binary",
        "--opt",
        "target=image",
        "--opt",
        "platform=linux/amd64",
        "--opt",
        "trusted-root=trusted_root.json",
        "--opt",
        "build-arg:SOURCE_DATE_EPOCH=1700000000",
        "--output",
        &format!(
            "type=image,name={}/release-repro:{tag},push=true,oci-mediatypes=true,rewrite-timestamp=true",
            rig.registry
        ),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut args = args;
    if no_cache {
        args.push("--no-cache".into());
    }
    rig.run_logged("buildctl", &args, &[])
}

#[test]
fn the_release_build_goes_through_the_frontend_and_is_reproducible() {
    let _serial = serial();
    let rig = rig();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = release_build(&rig, one.path(), "repro", false);
    assert!(first.ok, "{}", first.output);
    let first_digest = rig.digest_of("release-repro", "repro");
    let report = first.report();
    assert_eq!(report["policies"], serde_json::json!(["Dockerfile.rego"]));
    assert!(
        report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["decision"] == "allow"),
        "{report}"
    );
    // Built again from the same files in other directories, without the cache of the first.
    let second = release_build(&rig, two.path(), "repro", true);
    assert!(second.ok, "{}", second.output);
    // The same name and tag: the attestations name the image they are about.
    assert_eq!(
        first_digest,
        rig.digest_of("release-repro", "repro"),
        "two release builds of the same commit differ"
    );
}
