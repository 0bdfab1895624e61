//! The single knob (`verified=enforce|warn`) on the rig: the built-in policy decides every
//! source of a real build through BuildKit, with scripts/fixtures-knob.sh's images signed as
//! docker/github-builder signs a release of github.com/knob/app, the rig's git repository and
//! download, and a user's Dockerfile.rego beside it.

mod common;

use std::path::Path;

use common::{Outcome, Rig, rig, serial};

/// hello.git's annotated tag v1 (its own id: what a git checksum of the tag names).
const HELLO_TAG: &str = "df9637aab6a8f575e6df37534b7b4ad6bbb9313d";
const HELLO_SHA256: &str =
    "sha256:9347bf9e5b6f42fa181ab19631e9011b836363d3a08b05a8faf318868be5882e";
const BUILTIN: &str = "builtin:verified.rego";

/// A build context with `dockerfile` and the rig's trust root beside it.
fn case(rig: &Rig, dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::copy(rig.trusted_root(), dir.path().join("trusted_root.json")).unwrap();
    dir
}

/// The frontend named by digest (the knob decides it too), the knob on in `mode` (none when
/// empty: `extra` then turns it on, or not).
fn knob_build(rig: &Rig, dir: &Path, mode: &str, extra: &[&str]) -> Outcome {
    let frontend = format!(
        "source={}/verified-frontend@{}",
        rig.registry,
        manifest_digest(rig, "verified-frontend", "latest")
    );
    let mut args: Vec<String> = vec![
        "build".into(),
        "--progress".into(),
        "plain".into(),
        "--frontend".into(),
        "gateway.v0".into(),
        "--opt".into(),
        frontend,
        "--local".into(),
        format!("context={}", dir.display()),
        "--local".into(),
        format!("dockerfile={}", dir.display()),
        "--opt".into(),
        "trusted-root=trusted_root.json".into(),
    ];
    if !mode.is_empty() {
        args.extend(["--opt".into(), format!("verified={mode}")]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    rig.run_logged("buildctl", &args, &[])
}

/// The digest the registry serves for repo:tag, an index or (the frontend image) a manifest.
fn manifest_digest(rig: &Rig, repo: &str, tag: &str) -> String {
    use sha2::Digest;
    let accept = format!("{}, {}", common::OCI_INDEX, common::OCI_MANIFEST);
    let body = rig.get(&format!("{repo}/manifests/{tag}"), &accept);
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)))
}

fn source<'a>(report: &'a serde_json::Value, needle: &str) -> &'a serde_json::Value {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["original"].as_str().unwrap_or("").contains(needle))
        .unwrap_or_else(|| panic!("no source {needle} in {report}"))
}

#[test]
fn a_release_signed_for_its_own_repository_and_tag_builds() {
    let _serial = serial();
    let rig = rig();
    let dir = case(&rig, "FROM 127.0.0.1:5000/knob/app:v1.0.0\n");
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(out.ok, "{}", out.output);
    let report = out.report();
    assert_eq!(report["policies"], serde_json::json!([BUILTIN]), "{report}");
    let app = source(&report, "knob/app:v1.0.0");
    assert_eq!(app["decision"], "allow", "{app}");
    assert_eq!(app["policy"], BUILTIN, "{app}");
}

#[test]
fn other_tag_other_repository_unsigned_and_moved_are_denied_with_the_fix_line() {
    let _serial = serial();
    let rig = rig();
    for (repo, tag, why) in [
        (
            "knob/app",
            "v1.1.0",
            "its verified signatures: https://github.com/knob/app@refs/tags/v1.0.0 (docker-github-builder)",
        ),
        (
            "knob/other",
            "v1.0.0",
            "sign its release from github.com/knob/other at tag v1.0.0",
        ),
        ("knob/app", "v2.0.0", "it carries no verified signature"),
        ("knob/app", "moved", "it carries no verified signature"),
    ] {
        let image = format!("127.0.0.1:5000/{repo}:{tag}");
        let dir = case(&rig, &format!("FROM {image}\n"));
        let out = knob_build(&rig, dir.path(), "enforce", &[]);
        assert!(!out.ok, "{image}: {}", out.output);
        let fix = format!(
            "fix: FROM {image}@{} (name it by digest)",
            rig.digest_of(repo, tag)
        );
        let err = &out.output;
        assert!(err.contains(&fix), "{image}: want {fix}\n{err}");
        assert!(err.contains(why), "{image}: want {why}\n{err}");
        assert!(
            err.contains(&format!("denied by policy {BUILTIN}")),
            "{err}"
        );
    }
}

#[test]
fn an_image_the_dockerfile_names_by_digest_builds_and_a_tag_alone_does_not() {
    let _serial = serial();
    let rig = rig();
    let digest = rig.digest_of("busybox", "latest");
    let dir = case(
        &rig,
        &format!("FROM 127.0.0.1:5000/busybox:latest@{digest}\n"),
    );
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(out.ok, "{}", out.output);
    let dir = case(&rig, "FROM 127.0.0.1:5000/busybox:latest\n");
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(!out.ok, "{}", out.output);
    let want = format!("fix: FROM 127.0.0.1:5000/busybox:latest@{digest} (name it by digest)");
    assert!(out.output.contains(&want), "{}", out.output);
    assert!(
        out.output
            .contains("no GitHub repository maps to 127.0.0.1:5000/busybox"),
        "{}",
        out.output
    );
}

fn sources_dockerfile(git_pin: bool, http_pin: bool) -> String {
    let digest = rig().digest_of("busybox", "latest");
    let git = if git_pin {
        format!("--checksum={HELLO_TAG} ")
    } else {
        String::new()
    };
    let http = if http_pin {
        format!("--checksum={HELLO_SHA256} ")
    } else {
        String::new()
    };
    format!(
        "FROM 127.0.0.1:5000/busybox:latest@{digest}\n\
         ADD {git}git://127.0.0.1:9418/hello.git#v1 /git\n\
         ADD {http}http://127.0.0.1:8777/hello.txt /hello.txt\n"
    )
}

#[test]
fn git_and_http_build_only_when_the_dockerfile_pins_them() {
    let _serial = serial();
    let rig = rig();
    let dir = case(&rig, &sources_dockerfile(true, true));
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(out.ok, "{}", out.output);
    for (git, http, want) in [
        (
            false,
            true,
            format!("fix: ADD --checksum={HELLO_TAG} git://127.0.0.1:9418/hello.git#v1"),
        ),
        (
            true,
            false,
            format!("fix: ADD --checksum={HELLO_SHA256} http://127.0.0.1:8777/hello.txt"),
        ),
    ] {
        let dir = case(&rig, &sources_dockerfile(git, http));
        let out = knob_build(&rig, dir.path(), "enforce", &[]);
        assert!(!out.ok, "{}", out.output);
        assert!(out.output.contains(&want), "want {want}\n{}", out.output);
    }
}

#[test]
fn warn_mode_lists_every_fix_of_the_dockerfile_in_one_build() {
    let _serial = serial();
    let rig = rig();
    let dockerfile = "FROM 127.0.0.1:5000/knob/app:v2.0.0\n\
                      ADD git://127.0.0.1:9418/hello.git#v1 /git\n\
                      ADD http://127.0.0.1:8777/hello.txt /hello.txt\n";
    let dir = case(&rig, dockerfile);
    // rawjson: the build's warnings as the client receives them (buildctl's plain output
    // does not print them; Buildx lists them after "N warnings found").
    let out = knob_build(&rig, dir.path(), "warn", &["--progress", "rawjson"]);
    assert!(out.ok, "warn mode builds: {}", out.output);
    let shown: Vec<String> = common::warnings(&out.output)
        .into_iter()
        .map(|(text, _, _)| text)
        .collect();
    let fixes = [
        format!(
            "fix: FROM 127.0.0.1:5000/knob/app:v2.0.0@{}",
            rig.digest_of("knob/app", "v2.0.0")
        ),
        format!("fix: ADD --checksum={HELLO_TAG} git://127.0.0.1:9418/hello.git#v1"),
        format!("fix: ADD --checksum={HELLO_SHA256} http://127.0.0.1:8777/hello.txt"),
    ];
    let warnings: Vec<&str> = out
        .frontend_log
        .lines()
        .filter(|l| l.starts_with("verified-frontend: warning: "))
        .collect();
    for fix in &fixes {
        assert!(
            warnings.iter().any(|w| w.contains(fix.as_str())),
            "want {fix} among\n{}",
            warnings.join("\n")
        );
        // And where the user reads it: the build's warnings in the client's output.
        assert!(
            shown.iter().any(|w| w.contains(fix.as_str())),
            "want {fix} among the client's warnings\n{}",
            shown.join("\n")
        );
    }
    let report = out.report();
    assert_eq!(source(&report, "hello.txt")["decision"], "deny");
    assert_eq!(source(&report, "hello.txt")["policy"], BUILTIN);
}

#[test]
fn the_knob_and_the_users_policy_must_both_allow() {
    let _serial = serial();
    let rig = rig();
    // The user's policy denies downloads; the knob allows the pinned one.
    let user = "package docker\n\ndefault allow := false\n\nallow if not input.http\n\n\
                deny_msg contains \"no downloads here\" if input.http\n\n\
                decision := {\"allow\": allow, \"deny_msg\": deny_msg}\n";
    let dir = case(&rig, &sources_dockerfile(true, true));
    std::fs::write(dir.path().join("Dockerfile.rego"), user).unwrap();
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.output
            .contains("denied by policy Dockerfile.rego: no downloads here"),
        "{}",
        out.output
    );
    // The user's policy allows everything; the knob still denies the unpinned download.
    let allow_all = "package docker\n\ndecision := {\"allow\": true}\n";
    let dir = case(&rig, &sources_dockerfile(true, false));
    std::fs::write(dir.path().join("Dockerfile.rego"), allow_all).unwrap();
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.output.contains(&format!(
            "denied by policy {BUILTIN}: fix: ADD --checksum={HELLO_SHA256}"
        )),
        "{}",
        out.output
    );
    // Both allow: the build runs, and the report names both, the knob last.
    let dir = case(&rig, &sources_dockerfile(true, true));
    std::fs::write(dir.path().join("Dockerfile.rego"), allow_all).unwrap();
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(out.ok, "{}", out.output);
    assert_eq!(
        out.report()["policies"],
        serde_json::json!(["Dockerfile.rego", BUILTIN])
    );
}

#[test]
fn the_vsa_records_the_builtin_policy_by_its_digest() {
    let _serial = serial();
    let rig = rig();
    let dir = case(&rig, &sources_dockerfile(true, true));
    let out = knob_build(
        &rig,
        dir.path(),
        "enforce",
        &[
            "--output",
            "type=image,name=127.0.0.1:5000/knob/built:vsa,push=true,oci-mediatypes=true",
        ],
    );
    assert!(out.ok, "{}", out.output);
    let img = rig.image("knob/built", "vsa");
    let vsas = rig.statements(&img, "https://slsa.dev/verification_summary/v1");
    assert_eq!(vsas.len(), 1, "one platform, one summary");
    let p = &vsas[0].1["predicate"];
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_verified-frontend"))
        .args(["policy", "builtin"])
        .output()
        .expect("the CLI runs");
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&text.stdout));
    assert_eq!(p["policy"]["uri"], BUILTIN, "{p}");
    assert_eq!(p["policy"]["digest"]["sha256"], sha.as_str(), "{p}");
    assert_eq!(p["verificationResult"], "PASSED");
}

#[test]
fn settings_beside_the_dockerfile_map_a_repository_and_bad_ones_fail_clearly() {
    let _serial = serial();
    let rig = rig();
    // The release fixtures: 127.0.0.1:5000/verified-frontend:v0.1.0 is signed for
    // github.com/verified-frontend/verified-frontend at v0.1.0, which no default maps to.
    let dockerfile = "FROM 127.0.0.1:5000/verified-frontend:v0.1.0\n";
    let dir = case(&rig, dockerfile);
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.output.contains("no GitHub repository maps to"),
        "{}",
        out.output
    );
    let settings = r#"{"repositories": {"127.0.0.1:5000/verified-frontend": "verified-frontend/verified-frontend"}}"#;
    std::fs::write(dir.path().join("Dockerfile.verified.json"), settings).unwrap();
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(out.ok, "{}", out.output);
    std::fs::write(
        dir.path().join("Dockerfile.verified.json"),
        r#"{"repositories": {"127.0.0.1:5000/verified-frontend": "verified-frontend"}}"#,
    )
    .unwrap();
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.output.contains("policy Dockerfile.verified.json: repositories: \"127.0.0.1:5000/verified-frontend\": \"verified-frontend\" is not a GitHub repository (owner/name)"),
        "{}",
        out.output
    );
}

#[test]
fn the_build_arg_form_turns_it_on_as_docker_build_passes_it() {
    let _serial = serial();
    let rig = rig();
    let dir = case(&rig, "FROM 127.0.0.1:5000/knob/app:v2.0.0\n");
    let out = knob_build(&rig, dir.path(), "", &[]);
    assert!(out.ok, "without the knob nothing decides: {}", out.output);
    let arg = ["--opt", "build-arg:VERIFIED_FRONTEND_VERIFIED=enforce"];
    let out = knob_build(&rig, dir.path(), "", &arg);
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.output
            .contains("fix: FROM 127.0.0.1:5000/knob/app:v2.0.0@"),
        "{}",
        out.output
    );
}

#[test]
fn the_frontend_image_follows_the_same_rules() {
    let _serial = serial();
    let rig = rig();
    let digest = manifest_digest(&rig, "verified-frontend", "latest");
    let body = format!(
        "FROM 127.0.0.1:5000/busybox:latest@{}\n",
        rig.digest_of("busybox", "latest")
    );
    let syntax_build = |syntax: &str| {
        let dir = case(&rig, &format!("# syntax={syntax}\n{body}"));
        let args: Vec<String> = [
            "build",
            "--progress",
            "plain",
            "--frontend",
            "dockerfile.v0",
            "--opt",
            "build-arg:VERIFIED_FRONTEND_VERIFIED=enforce",
            "--opt",
            "build-arg:VERIFIED_FRONTEND_TRUSTED_ROOT=trusted_root.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            "--local".to_string(),
            format!("context={}", dir.path().display()),
            "--local".to_string(),
            format!("dockerfile={}", dir.path().display()),
        ])
        .collect();
        rig.run_logged("buildctl", &args, &[])
    };
    let out = syntax_build(&format!("127.0.0.1:5000/verified-frontend@{digest}"));
    assert!(out.ok, "{}", out.output);
    let out = syntax_build("127.0.0.1:5000/verified-frontend:latest");
    assert!(!out.ok, "{}", out.output);
    // The line to change is the syntax directive, not a FROM.
    let fix = format!("fix: # syntax=127.0.0.1:5000/verified-frontend:latest@{digest}");
    assert!(out.output.contains(&fix), "want {fix}\n{}", out.output);
}

/// The settings' `downloads`: an unpinned download with a Sigstore bundle beside the
/// Dockerfile (scripts/fixtures-knob.sh: SLSA provenance of hello.txt, signed as
/// docker/github-builder signs github.com/knob/app) builds when the settings name it with
/// its repository, and is denied with its fix line for another repository.
#[test]
fn a_download_the_settings_name_with_its_signed_bundle_builds() {
    let _serial = serial();
    let rig = rig();
    let dir = case(&rig, &sources_dockerfile(true, false));
    let rig_dir = std::path::PathBuf::from(std::env::var("VF_RIG").expect("VF_RIG"));
    std::fs::copy(
        rig_dir.join("knob/hello.sigstore.json"),
        dir.path().join("hello.sigstore.json"),
    )
    .expect("scripts/fixtures-knob.sh made the bundle");
    let settings = |repo: &str| {
        format!(
            r#"{{"downloads": [{{"url": "http://127.0.0.1:8777/hello.txt", "bundle": "hello.sigstore.json", "repo": "{repo}"}}]}}"#
        )
    };
    std::fs::write(
        dir.path().join("Dockerfile.verified.json"),
        settings("knob/app"),
    )
    .unwrap();
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(out.ok, "{}", out.output);
    let hello = source(&out.report(), "hello.txt").clone();
    assert_eq!(hello["decision"], "allow", "{hello}");
    assert_eq!(hello["policy"], BUILTIN, "{hello}");
    // The same bundle does not show a build of another repository.
    std::fs::write(
        dir.path().join("Dockerfile.verified.json"),
        settings("knob/other"),
    )
    .unwrap();
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(!out.ok, "{}", out.output);
    let fix = format!("fix: ADD --checksum={HELLO_SHA256} http://127.0.0.1:8777/hello.txt");
    assert!(out.output.contains(&fix), "want {fix}\n{}", out.output);
}

/// The build's trusted root (the rig's) naming scripts/fixtures-knob.sh's throwaway DHI key
/// ($VF_RIG/dhi/dhi.pub) in place of Docker's.
fn trust_dhi_key(dir: &Path, rig: &Rig) {
    let rig_dir = std::path::PathBuf::from(std::env::var("VF_RIG").expect("VF_RIG"));
    let pem = std::fs::read_to_string(rig_dir.join("dhi/dhi.pub"))
        .expect("scripts/fixtures-knob.sh made the DHI key");
    let mut root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rig.trusted_root()).unwrap()).unwrap();
    root["verifiedFrontendDhiKeys"] = serde_json::json!([pem]);
    std::fs::write(
        dir.join("trusted_root.json"),
        serde_json::to_vec(&root).unwrap(),
    )
    .unwrap();
}

/// A Docker Hardened Image through BuildKit v0.34.2: DHI-shaped (scripts/fixtures-knob.sh:
/// index titled dhi/…, build ids, the SLSA provenance a referrer of the image manifest),
/// that referrer signed with the DHI key the build's root names. BuildKit's attestation
/// chain would carry it, but the frontend cannot safely ask for the chain of an index that
/// lists no attestation manifest (docs/knob.md), so no signature is read: the knob denies it
/// with the fix line and says why, and by digest it builds. The BuildKit image it was made
/// from, whose own attestation manifest the DHI key signed, is no DHI: that signature does
/// not count either.
#[test]
fn a_hardened_image_is_denied_with_the_fix_line_and_why_and_builds_by_digest() {
    let _serial = serial();
    let rig = rig();
    let fix = |repo: &str, tag: &str| {
        format!(
            "fix: FROM 127.0.0.1:5000/{repo}:{tag}@{} (name it by digest)",
            rig.digest_of(repo, tag)
        )
    };
    let dir = case(&rig, "FROM 127.0.0.1:5000/knob/dhi:3.13\n");
    trust_dhi_key(dir.path(), &rig);
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(!out.ok, "{}", out.output);
    let err = out.error();
    let want = fix("knob/dhi", "3.13");
    assert!(err.contains(&want), "want {want}\n{err}");
    let why = "it has no attestation manifest in an image index, so no signature was read (a Docker Hardened Image's";
    assert!(err.contains(why), "want {why}\n{err}");

    let digest = rig.digest_of("knob/dhi", "3.13");
    let dir = case(
        &rig,
        &format!("FROM 127.0.0.1:5000/knob/dhi:3.13@{digest}\n"),
    );
    trust_dhi_key(dir.path(), &rig);
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(out.ok, "{}", out.output);

    let dir = case(&rig, "FROM 127.0.0.1:5000/knob/dhi:build-3.13\n");
    trust_dhi_key(dir.path(), &rig);
    let out = knob_build(&rig, dir.path(), "enforce", &[]);
    assert!(!out.ok, "{}", out.output);
    let want = fix("knob/dhi", "build-3.13");
    assert!(out.output.contains(&want), "want {want}\n{}", out.output);
    assert!(
        out.output.contains("it carries no verified signature"),
        "{}",
        out.output
    );
}

/// What BuildKit's attestation chain holds for the DHI-shaped fixture (policy-helpers'
/// `ResolveSignatureChain` over the registry, as BuildKit reads it: the index, the image
/// manifest's SLSA referrer, its signature manifest, the payload and the statement),
/// assembled from the registry, verifies as Buildx describes a DHI signature: logged in the
/// kit's Rekor, signed with the DHI key the root names; under Docker's key it does not.
#[test]
fn the_chain_buildkit_holds_for_a_hardened_image_verifies_as_buildx_describes_it() {
    use verified_frontend::proto::gw;
    use verified_frontend::verify::chain::add_blob;
    use verified_frontend::verify::image::ImageVerifier;
    use verified_frontend::verify::trust::SigstoreRoot;

    let rig = rig();
    let json = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
    let referrers = |digest: &str| {
        let tag = digest.replace(':', "-");
        let index = json(&rig.get(&format!("knob/dhi/manifests/{tag}"), common::OCI_INDEX));
        index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut chain = gw::AttestationChain::default();
    let index = rig.get("knob/dhi/manifests/3.13", common::OCI_INDEX);
    chain.image_manifest = json(&index)["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    chain.root = add_blob(&mut chain, index);
    let referrer = referrers(&chain.image_manifest);
    let att = rig.get(
        &format!("knob/dhi/manifests/{referrer}"),
        common::OCI_MANIFEST,
    );
    let statement = json(&att)["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    chain.attestation_manifest = add_blob(&mut chain, att);
    let signature = referrers(&chain.attestation_manifest);
    let sig = rig.get(
        &format!("knob/dhi/manifests/{signature}"),
        common::OCI_MANIFEST,
    );
    let payload = json(&sig)["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let sig = add_blob(&mut chain, sig);
    chain.signature_manifests.push(sig);
    for blob in [payload, statement] {
        add_blob(
            &mut chain,
            rig.get(&format!("knob/dhi/blobs/{blob}"), "*/*"),
        );
    }

    let dir = tempfile::tempdir().unwrap();
    trust_dhi_key(dir.path(), &rig);
    let root = std::fs::read_to_string(dir.path().join("trusted_root.json")).unwrap();
    let roots = vec![SigstoreRoot::from_json("trusted_root.json", &root).unwrap()];
    let got = ImageVerifier::new(roots).check(&chain).unwrap();
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    let sig = &got.signatures[0];
    assert_eq!(sig["kind"], "docker-hardened-image", "{sig}");
    assert_eq!(sig["type"], "simplesigning-v1", "{sig}");
    assert_eq!(sig["dockerReference"], "127.0.0.1:5000/knob/dhi", "{sig}");
    assert_eq!(sig["isDHI"], true, "{sig}");
    assert!(sig.get("signer").is_none(), "{sig}");
    let ts = sig["timestamps"].as_array().unwrap();
    assert_eq!(ts.len(), 1, "{sig}");
    assert_eq!(ts[0]["type"], "Tlog", "{sig}");
    assert_eq!(ts[0]["uri"], "https://rekor.sigkit.test", "{sig}");

    let got = ImageVerifier::new(SigstoreRoot::embedded().unwrap())
        .check(&chain)
        .unwrap();
    assert!(got.signatures.is_empty(), "{got:?}");
    assert!(
        got.rejected[0].contains("not signed by the Docker Hardened Images key"),
        "{got:?}"
    );
}
