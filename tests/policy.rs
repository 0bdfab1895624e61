//! Policies enforced by the verified frontend through the real BuildKit: decisions made
//! before any step runs, Buildx's semantics, and every route a source could take to get
//! past the policy.

mod common;

use std::path::{Path, PathBuf};

use common::{Mode, Outcome, Rig, rig, serial};
use sha2::Digest;

fn case(rig: &Rig, name: &str) -> PathBuf {
    rig.root.join("testdata/policy").join(name)
}

fn build_with(rig: &Rig, dir: &Path, opts: &[&str]) -> Outcome {
    let mut extra = Vec::new();
    for o in opts {
        extra.push("--opt");
        extra.push(*o);
    }
    rig.build(dir, Mode::Syntax, &extra, None)
}

#[test]
fn denied_image_fails_naming_source_line_rule_and_facts_before_any_step() {
    let _s = serial();
    let rig = rig();
    let out = build_with(&rig, &case(&rig, "allow-registry"), &[]);
    assert!(!out.ok, "{}", out.output);
    let tools = rig.digest_of("tools", "1");
    let line = out.error();
    assert!(
        line.starts_with(&format!(
            "source docker-image://127.0.0.1:5000/tools:1@{tools} (Dockerfile:3) denied by policy Dockerfile.rego: image 127.0.0.1:5000/tools is not from an allowed repository\nwhat the policy saw of "
        )),
        "{line}"
    );
    assert!(line.contains(": facts: {"), "{line}");
    // Denied as Buildx denies it: the tag the Dockerfile frontend resolves, before the
    // graph names its digest; a policy reading only names fetches nothing.
    assert!(
        line.contains("\"ref\":\"127.0.0.1:5000/tools:1\"") && !line.contains("checksum"),
        "{line}"
    );
    assert!(line.contains("\"repo\":\"127.0.0.1:5000/tools\""), "{line}");
    // no step of the build ran (the Dockerfile snippet BuildKit prints is not a step)
    let steps = out
        .output
        .lines()
        .filter(|l| l.starts_with('#') && l.contains("] COPY"));
    assert_eq!(steps.count(), 0, "{}", out.output);
}

#[test]
fn warn_mode_builds_and_reports_the_denial() {
    let _s = serial();
    let rig = rig();
    let out = build_with(&rig, &case(&rig, "allow-registry"), &["policy-mode=warn"]);
    assert!(out.ok, "{}", out.output);
    let r = out.report();
    let tools = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["original"].as_str().unwrap().contains("/tools:1"))
        .unwrap()
        .clone();
    assert_eq!(tools["decision"], "deny");
    assert_eq!(
        tools["deny_msg"][0],
        "image 127.0.0.1:5000/tools is not from an allowed repository"
    );
    assert!(
        out.frontend_log
            .contains("verified-frontend: warning: source docker-image://127.0.0.1:5000/tools:1")
    );
}

#[test]
fn off_mode_and_no_policy_allow_everything_and_say_so() {
    let _s = serial();
    let rig = rig();
    let out = build_with(&rig, &case(&rig, "allow-registry"), &["policy-mode=off"]);
    assert!(out.ok, "{}", out.output);
    let r = out.report();
    assert_eq!(r["policies"], serde_json::json!([]));
    assert!(
        r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["decision"] == "none")
    );
    let out = build_with(&rig, &rig.example("multistage"), &[]);
    assert!(out.ok, "{}", out.output);
    assert_eq!(out.report()["policies"], serde_json::json!([]));
}

#[test]
fn allowed_build_records_every_decision_including_the_frontend_image() {
    let _s = serial();
    let rig = rig();
    let dir = case(&rig, "sneak");
    let out = build_with(
        &rig,
        &dir,
        &["filename=allowed.Dockerfile", "policy=policy.rego"],
    );
    assert!(out.ok, "{}", out.output);
    let r = out.report();
    assert_eq!(r["policies"], serde_json::json!(["policy.rego"]));
    let sources = r["sources"].as_array().unwrap();
    assert!(sources.iter().all(|s| s["decision"] == "allow"), "{r}");
    let frontend = sources
        .iter()
        .find(|s| s["role"] == "frontend")
        .expect("frontend image decided");
    assert!(
        frontend["pinned"]
            .as_str()
            .unwrap()
            .starts_with("docker-image://127.0.0.1:5000/verified-frontend:latest@sha256:")
    );
    let kinds: Vec<&str> = sources
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"local") && kinds.contains(&"image"),
        "{kinds:?}"
    );
}

/// Every route into a build: each is denied, and the error names the source that tried.
#[test]
fn no_source_gets_past_the_policy_by_any_route() {
    let _s = serial();
    let rig = rig();
    let dir = case(&rig, "sneak");
    let named = "context:base=docker-image://127.0.0.1:5000/tools:1";
    let routes: [(&str, &[&str], &str); 6] = [
        (
            "copy-from.Dockerfile",
            &[],
            "docker-image://127.0.0.1:5000/tools:1@sha256:",
        ),
        (
            "run-mount.Dockerfile",
            &[],
            "docker-image://127.0.0.1:5000/tools:1@sha256:",
        ),
        // the Dockerfile frontend leaves a named context's image unpinned, so the frontend
        // pins it before the Dockerfile frontend reads its config; it is decided like any other
        (
            "named-context.Dockerfile",
            &[named],
            "docker-image://127.0.0.1:5000/tools:1@sha256:",
        ),
        (
            "onbuild.Dockerfile",
            &[],
            "docker-image://127.0.0.1:5000/tools:1@sha256:",
        ),
        (
            "add-http.Dockerfile",
            &[],
            "http://127.0.0.1:8777/hello.txt",
        ),
        (
            "add-git.Dockerfile",
            &[],
            "git://127.0.0.1:9418/hello.git#v1",
        ),
    ];
    for (dockerfile, more, culprit) in routes {
        let filename = format!("filename={dockerfile}");
        let mut opts = vec![filename.as_str(), "policy=policy.rego"];
        opts.extend_from_slice(more);
        let out = build_with(&rig, &dir, &opts);
        assert!(!out.ok, "{dockerfile} was not denied:\n{}", out.output);
        let line = out.error();
        assert!(
            line.starts_with(&format!("source {culprit}")),
            "{dockerfile}: {line}"
        );
        assert!(
            line.contains("denied by policy policy.rego: only the local context and allowed images may be used"),
            "{dockerfile}: {line}"
        );
    }
}

#[test]
fn a_tag_that_names_another_digest_cannot_satisfy_a_tag_policy() {
    let _s = serial();
    let rig = rig();
    let dir = common::scratch_copy(&case(&rig, "tag-trust"));
    let df = |from: &str| {
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!("# syntax=127.0.0.1:5000/verified-frontend\nFROM {from}\n"),
        )
        .unwrap()
    };
    df("127.0.0.1:5000/busybox:latest");
    let out = build_with(&rig, dir.path(), &[]);
    assert!(out.ok, "the tag itself is allowed:\n{}", out.output);

    let old = rig.digest_of("busybox", "old");
    assert_ne!(old, rig.digest_of("busybox", "latest"));
    df(&format!("127.0.0.1:5000/busybox:latest@{old}"));
    let out = build_with(&rig, dir.path(), &[]);
    assert!(
        !out.ok,
        "busybox:latest@<old digest> passed a latest-only policy:\n{}",
        out.output
    );
    let line = out.error();
    assert!(
        line.contains(&format!(
            "source docker-image://127.0.0.1:5000/busybox:latest@{old}"
        )),
        "{line}"
    );
    assert!(
        !line.contains("\"tag\""),
        "the unproven tag is not among the facts: {line}"
    );
}

#[test]
fn git_policy_reads_resolved_refs_and_the_tag_and_commit_objects() {
    let _s = serial();
    let rig = rig();
    // BuildKit's parser (and so Buildx) gives the message without its last newline; the
    // fixture still expects one.
    let scratch = common::scratch_copy(&case(&rig, "git"));
    let dir = scratch.path().to_path_buf();
    let rego = dir.join("git.rego");
    let text = std::fs::read_to_string(&rego).unwrap();
    std::fs::write(&rego, text.replace("== \"v1\\n\"", "== \"v1\"")).unwrap();
    let out = build_with(&rig, &dir, &["filename=v1.Dockerfile", "policy=git.rego"]);
    assert!(out.ok, "{}", out.output);
    let out = build_with(&rig, &dir, &["filename=main.Dockerfile", "policy=git.rego"]);
    assert!(!out.ok);
    assert!(
        out.error().contains(
            "denied by policy git.rego: git git://127.0.0.1:9418/hello.git at refs/heads/main is not the signed-off release tag v1"
        ),
        "{}",
        out.error()
    );
}

#[test]
fn pin_image_rewrites_the_source_and_the_build_uses_the_pinned_image() {
    let _s = serial();
    let rig = rig();
    let dir = common::scratch_copy(&case(&rig, "pin"));
    let tools2 = rig.digest_of("tools", "2");
    std::fs::write(
        dir.path().join("pins.json"),
        format!("{{\"tools\": \"{tools2}\"}}"),
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let dest = format!("type=local,dest={}", out_dir.path().display());
    let out = rig.build(dir.path(), Mode::Syntax, &["--output", &dest], None);
    assert!(out.ok, "{}", out.output);
    // tools:1 was asked for, tools:2's content was built
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("tool.txt")).unwrap(),
        "tool v2\n"
    );
    let r = out.report();
    let tools = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["original"].as_str().unwrap().contains("/tools:1"))
        .unwrap()
        .clone();
    assert_eq!(
        tools["pinned"],
        format!("docker-image://127.0.0.1:5000/tools:1@{tools2}").as_str()
    );
    assert_eq!(tools["decision"], "allow");
}

#[test]
fn the_frontend_image_itself_is_decided() {
    let _s = serial();
    let rig = rig();
    let out = build_with(&rig, &case(&rig, "frontend-denied"), &[]);
    assert!(!out.ok, "{}", out.output);
    let line = out.error();
    assert!(
        line.starts_with("source docker-image://127.0.0.1:5000/verified-frontend:latest (frontend image 127.0.0.1:5000/verified-frontend) denied by policy Dockerfile.rego: no rule allowed it"),
        "{line}"
    );
}

#[test]
fn a_broken_policy_fails_with_file_and_line() {
    let _s = serial();
    let rig = rig();
    let out = build_with(&rig, &case(&rig, "bad-policy"), &[]);
    assert!(!out.ok);
    assert!(
        out.output.contains("policy Dockerfile.rego:"),
        "{}",
        out.output
    );
    assert!(out.output.contains("Dockerfile.rego:"), "{}", out.output);
    let out = build_with(
        &rig,
        &case(&rig, "allow-registry"),
        &["policy=missing.rego"],
    );
    assert!(!out.ok);
    assert!(
        out.error()
            .ends_with("frontend option policy: missing.rego not found in the build context"),
        "{}",
        out.error()
    );
}

/// A file replaced between the check and the use: the build gets exactly the content whose
/// checksum the policy saw, or fails; never the replacement.
#[test]
fn content_replaced_after_the_check_is_never_built() {
    let _s = serial();
    let rig = rig();
    for attempt in 0..3 {
        let out_dir = tempfile::tempdir().unwrap();
        let dest = format!("type=local,dest={}", out_dir.path().display());
        let out = rig.build(
            &case(&rig, "moved"),
            Mode::Syntax,
            &["--output", &dest, "--no-cache"],
            None,
        );
        let r = out.report();
        let flip = r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "http")
            .unwrap()
            .clone();
        let checked = flip["resolved"].as_str().unwrap().to_string();
        assert_eq!(flip["pin_attrs"]["http.checksum"], checked.as_str());
        if out.ok {
            let built = std::fs::read(out_dir.path().join("flip.txt")).unwrap();
            let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&built)));
            assert_eq!(
                got, checked,
                "attempt {attempt}: the build used content nobody checked"
            );
        } else {
            assert!(
                out.output.contains("checksum"),
                "attempt {attempt}: failed for another reason:\n{}",
                out.output
            );
        }
    }
}

#[test]
fn provenance_is_read_from_the_image_and_decides() {
    let _s = serial();
    let rig = rig();
    let dir = case(&rig, "provenance");
    let out = build_with(
        &rig,
        &dir,
        &["filename=attested.Dockerfile", "policy=policy.rego"],
    );
    assert!(out.ok, "{}", out.output);
    let out = build_with(
        &rig,
        &dir,
        &["filename=unattested.Dockerfile", "policy=policy.rego"],
    );
    assert!(!out.ok);
    let line = out.error();
    // As in Buildx, the tag is decided first, when the Dockerfile frontend resolves it:
    // `ref` has no digest yet, and `false` is not written (omitempty).
    assert!(
        line.contains(
            "denied by policy policy.rego: 127.0.0.1:5000/busybox:latest has no acceptable provenance"
        ),
        "{line}"
    );
    assert!(
        line.contains("\"checksum\":\"sha256:") && !line.contains("hasProvenance"),
        "busybox:latest has none: {line}"
    );
}

#[test]
fn git_tags_must_be_signed_by_the_policys_key() {
    let _s = serial();
    let rig = rig();
    let dir = common::scratch_copy(&case(&rig, "git-signed"));
    let keys = PathBuf::from(std::env::var("VF_RIG").unwrap()).join("keys");
    for k in ["signer.asc", "signer.pub"] {
        std::fs::copy(keys.join(k), dir.path().join(k)).unwrap();
    }
    for (tag, ok) in [
        ("v2-pgp", true),
        ("v2-ssh", true),
        ("v2-other", false),
        ("v1", false),
    ] {
        let filename = format!("filename={tag}.Dockerfile");
        let out = build_with(&rig, dir.path(), &[&filename, "policy=policy.rego"]);
        assert_eq!(out.ok, ok, "{tag}:\n{}", out.output);
        if !ok {
            let line = out.error();
            assert!(
                line.contains(&format!(
                    "refs/tags/{tag} is not a tag signed by the release key"
                )),
                "{tag}: {line}"
            );
        }
    }
}

#[test]
fn downloads_must_carry_a_detached_signature_by_the_policys_key() {
    let _s = serial();
    let rig = rig();
    let keys = PathBuf::from(std::env::var("VF_RIG").unwrap()).join("keys");
    for (sig, ok) in [
        ("hello.txt.asc", true),
        ("hello.txt.other.asc", false),
        ("other-content.asc", false),
    ] {
        let dir = common::scratch_copy(&case(&rig, "http-pgp"));
        std::fs::copy(keys.join("signer.asc"), dir.path().join("signer.asc")).unwrap();
        std::fs::copy(keys.join(sig), dir.path().join("hello.txt.asc")).unwrap();
        let out = build_with(&rig, dir.path(), &["policy=policy.rego"]);
        assert_eq!(out.ok, ok, "{sig}:\n{}", out.output);
        if ok {
            let report = out.report();
            let src = report["sources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["kind"] == "http")
                .unwrap_or_else(|| panic!("no http source: {report}"));
            assert_eq!(src["decision"], "allow", "{src}");
        } else {
            let line = out.error();
            assert!(
                line.contains("http://127.0.0.1:8777/hello.txt is not signed by the release key"),
                "{sig}: {line}"
            );
        }
    }
}

/// A scratch case whose Dockerfile builds on `signed:<tag>`, with the rig's throwaway
/// Sigstore root beside the policy.
fn signed_case(rig: &Rig, tag: &str) -> tempfile::TempDir {
    rig.signed_case(&format!(
        "# syntax=127.0.0.1:5000/verified-frontend\nFROM 127.0.0.1:5000/signed:{tag}\nLABEL checked=yes\n"
    ))
}

#[test]
fn only_images_signed_by_the_expected_builder_for_the_release_tag_build() {
    let _s = serial();
    let rig = rig();
    let opts = ["policy=policy.rego", "trusted-root=trusted_root.json"];
    for tag in ["good", "tlog-only"] {
        let dir = signed_case(&rig, tag);
        let out = build_with(&rig, dir.path(), &opts);
        assert!(out.ok, "{tag}:\n{}", out.output);
        let report = out.report();
        let base = report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["original"].as_str().unwrap().contains("signed:"))
            .unwrap_or_else(|| panic!("{report}"));
        assert_eq!(base["decision"], "allow", "{base}");
        assert!(
            base["attestation_manifest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
    }
    // (tag, what the denial must say besides the policy's message)
    for (tag, why) in [
        // Verified, but the facts do not match the policy.
        (
            "wrong-identity",
            "https://github.com/example/app/.github/workflows/release.yml@refs/tags/v1",
        ),
        ("wrong-ref", "refs/heads/dev"),
        // Not verified: named among the signatures not accepted.
        ("other-digest", "artifact hash does not match"),
        ("tampered", "does not verify"),
        ("expired", "does not verify"),
        ("unsigned", "verified signatures: []"),
        ("moved", "verified signatures: []"),
    ] {
        let dir = signed_case(&rig, tag);
        let out = build_with(&rig, dir.path(), &opts);
        assert!(!out.ok, "{tag} built:\n{}", out.output);
        let line = out.error();
        assert!(
            line.contains(&format!("127.0.0.1:5000/signed:{tag}@sha256:"))
                && line.contains("is not a signed release of example/app v1"),
            "{tag}: {line}"
        );
        assert!(line.contains(why), "{tag}: want {why:?} in {line}");
        if ["other-digest", "tampered", "expired"].contains(&tag) {
            assert!(line.contains("signatures not accepted"), "{tag}: {line}");
        }
    }
}

#[test]
fn signatures_verify_only_under_the_trust_root_given() {
    let _s = serial();
    let rig = rig();
    // Without trusted-root, the embedded public-good and GitHub roots apply: the rig's
    // throwaway CA is neither.
    let dir = signed_case(&rig, "good");
    let out = build_with(&rig, dir.path(), &["policy=policy.rego"]);
    assert!(!out.ok, "{}", out.output);
    let line = out.error();
    assert!(line.contains("signatures not accepted"), "{line}");
    assert!(
        line.contains("public-good:") && line.contains("github:"),
        "{line}"
    );
    // A missing or broken root is an error naming the option.
    let out = build_with(
        &rig,
        dir.path(),
        &["policy=policy.rego", "trusted-root=nope.json"],
    );
    assert!(!out.ok);
    assert!(
        out.error().contains("trusted-root") && out.error().contains("nope.json"),
        "{}",
        out.error()
    );
    std::fs::write(dir.path().join("broken.json"), "{\"mediaType\": 1}").unwrap();
    let out = build_with(
        &rig,
        dir.path(),
        &["policy=policy.rego", "trusted-root=broken.json"],
    );
    assert!(!out.ok);
    assert!(out.error().contains("broken.json"), "{}", out.error());
}

/// `signed_case` with the policy of testdata/policy/signed-legacy.
fn signed_legacy_case(rig: &Rig, tag: &str) -> tempfile::TempDir {
    let dir = signed_case(rig, tag);
    std::fs::copy(
        case(rig, "signed-legacy").join("policy.rego"),
        dir.path().join("policy.rego"),
    )
    .unwrap();
    dir
}

#[test]
fn images_signed_in_cosigns_legacy_format_by_the_release_build() {
    let _s = serial();
    let rig = rig();
    let opts = ["policy=policy.rego", "trusted-root=trusted_root.json"];
    let dir = signed_legacy_case(&rig, "legacy");
    let out = build_with(&rig, dir.path(), &opts);
    assert!(out.ok, "legacy:\n{}", out.output);
    let report = out.report();
    let base = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["original"].as_str().unwrap().contains("signed:legacy"))
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(base["decision"], "allow", "{base}");

    // The signature annotation altered after signing: found, not accepted.
    let dir = signed_legacy_case(&rig, "legacy-tampered");
    let out = build_with(&rig, dir.path(), &opts);
    assert!(!out.ok, "legacy-tampered built:\n{}", out.output);
    let line = out.error();
    assert!(
        line.contains("127.0.0.1:5000/signed:legacy-tampered@sha256:")
            && line.contains("is not a signed release of example/app v1"),
        "{line}"
    );
    assert!(
        line.contains("signatures not accepted") && line.contains("does not verify"),
        "{line}"
    );

    // Buildx's docker_github_builder_tag wants a v0.3 bundle: the builder's identity in a
    // legacy signature makes it only self-signed (Docker's rules).
    let dir = signed_case(&rig, "legacy");
    let out = build_with(&rig, dir.path(), &opts);
    assert!(
        !out.ok,
        "legacy under the bundle policy built:\n{}",
        out.output
    );
    let line = out.error();
    assert!(
        line.contains(
            "verified signatures: [self-signed by https://github.com/docker/github-builder/"
        ),
        "{line}"
    );
}

#[test]
fn the_trust_root_may_come_from_a_named_context() {
    let _s = serial();
    let rig = rig();
    let dir = signed_case(&rig, "good");
    // The root lives only in its own directory, not in the build context.
    let roots = tempfile::tempdir().unwrap();
    std::fs::rename(
        dir.path().join("trusted_root.json"),
        roots.path().join("trusted_root.json"),
    )
    .unwrap();
    let local = format!("roots={}", roots.path().display());
    let base = [
        "--opt",
        "policy=policy.rego",
        "--opt",
        "trusted-root=trusted_root.json",
        "--local",
        &local,
    ];
    // buildctl: the local directory by its name.
    let mut args = base.to_vec();
    args.extend(["--opt", "trusted-root-context=roots"]);
    let out = rig.build(dir.path(), Mode::Syntax, &args, None);
    assert!(out.ok, "{}", out.output);
    // Buildx's form of `--build-context sigstore=<dir>`.
    let mut args = base.to_vec();
    args.extend([
        "--opt",
        "context:sigstore=local:roots",
        "--opt",
        "trusted-root-context=sigstore",
    ]);
    let out = rig.build(dir.path(), Mode::Syntax, &args, None);
    assert!(out.ok, "{}", out.output);
    // Not in the build context: a clear error, as is a named context that is an image.
    let out = build_with(
        &rig,
        dir.path(),
        &["policy=policy.rego", "trusted-root=trusted_root.json"],
    );
    assert!(!out.ok);
    assert!(
        out.error()
            .contains("trusted_root.json not found in the build context"),
        "{}",
        out.error()
    );
    let out = build_with(
        &rig,
        dir.path(),
        &[
            "policy=policy.rego",
            "trusted-root=trusted_root.json",
            "trusted-root-context=sigstore",
            "context:sigstore=docker-image://127.0.0.1:5000/busybox:latest",
        ],
    );
    assert!(!out.ok);
    assert!(
        out.error()
            .contains("named context sigstore is docker-image://"),
        "{}",
        out.error()
    );
}

/// A build context of `Dockerfile` (after the syntax line) and `Dockerfile.rego` (after
/// rules allowing the frontend image).
fn scratch_case(dockerfile: &str, rules: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("# syntax=127.0.0.1:5000/verified-frontend\n{dockerfile}"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("Dockerfile.rego"),
        format!(
            "package docker\ndefault allow := false\nallow if input.image.repo == \"127.0.0.1:5000/verified-frontend\"\n{rules}\ndeny_msg contains sprintf(\"%v: denied\", [object.get(input, [\"image\", \"ref\"], object.get(input, [\"local\", \"name\"], \"?\"))]) if not allow\ndecision := {{\"allow\": allow, \"deny_msg\": deny_msg}}\n"
        ),
    )
    .unwrap();
    dir
}

/// As Buildx decides: the tag first (BuildKit asks when the Dockerfile frontend resolves
/// it), then the graph's `name:tag@digest`; the Dockerfile read and the build context read
/// (its `.dockerignore`) as sources of their own; and only what Buildx would fetch.
#[test]
fn sources_are_decided_when_and_as_buildx_decides_them() {
    let _s = serial();
    let rig = rig();
    let busybox = rig.digest_of("busybox", "latest");
    let pinned_only = "allow if input.local\nallow if input.image.isCanonical";
    // The tag is not canonical: denied before the digest is seen.
    let dir = scratch_case("FROM 127.0.0.1:5000/busybox:latest\n", pinned_only);
    let out = build_with(&rig, dir.path(), &[]);
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.error().contains(
            "denied by policy Dockerfile.rego: 127.0.0.1:5000/busybox:latest: denied\nwhat the policy saw of "
        ) && out.error().contains(": facts: {"),
        "{}",
        out.error()
    );
    // Written with its digest, the reference is decided as written only.
    let dir = scratch_case(
        &format!("FROM 127.0.0.1:5000/busybox:latest@{busybox}\n"),
        pinned_only,
    );
    let out = build_with(&rig, dir.path(), &[]);
    assert!(out.ok, "{}", out.output);
    // The Dockerfile's directory is read before anything else is decided.
    let dir = scratch_case(
        "FROM 127.0.0.1:5000/busybox:latest\n",
        "allow if input.image\nallow if input.local.name == \"context\"",
    );
    let out = build_with(&rig, dir.path(), &[]);
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.error()
            .starts_with("source local://dockerfile (Dockerfile) denied by policy Dockerfile.rego: dockerfile: denied"),
        "{}",
        out.error()
    );
    // Buildx never fetches the config for createdTime alone, nor for a whole object: the
    // first is absent, the second has no config fields.
    let dir = scratch_case(
        "FROM 127.0.0.1:5000/busybox:latest\n",
        "allow if input.local\nallow if input.image.createdTime",
    );
    assert!(!build_with(&rig, dir.path(), &[]).ok);
    let dir = scratch_case(
        "FROM 127.0.0.1:5000/busybox:latest\n",
        "allow if input.local\nallow if object.get(input.image, \"workingDir\", \"unset\") == \"unset\"",
    );
    let out = build_with(&rig, dir.path(), &[]);
    assert!(out.ok, "{}", out.output);
    // Read by name, the config is fetched, its empty fields absent (omitempty).
    let dir = scratch_case(
        "FROM 127.0.0.1:5000/busybox:latest\n",
        "allow if input.local\nallow if { input.image.workingDir == \"/\"; not input.image.user; not input.image.labels }",
    );
    let out = build_with(&rig, dir.path(), &[]);
    assert!(out.ok, "{}", out.output);
}
