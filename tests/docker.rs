//! `docker build` through Debian's Docker 20.10 (its embedded BuildKit is old: no
//! `source.metaresolver`), from the rig started by scripts/test.sh.

mod common;

use common::{Outcome, Rig, rig, serial};
use sha2::Digest;

fn docker_build(rig: &Rig, example: &str, tag: Option<&str>) -> Outcome {
    docker_build_dir(rig, &rig.example(example), tag)
}

/// `docker build` of a directory through Docker 20.10's embedded BuildKit.
fn docker_build_dir(rig: &Rig, dir: &std::path::Path, tag: Option<&str>) -> Outcome {
    docker_build_with(rig, dir, tag, &[])
}

/// Docker 20.10's own Dockerfile frontend reads `ADD git://…` as a path in the context; BuildKit's
/// current one (the rig's image of it, through the `dockerfile-frontend` option) makes it a
/// git source.
const CURRENT_DOCKERFILE: &str =
    "VERIFIED_FRONTEND_DOCKERFILE_FRONTEND=127.0.0.1:5000/dockerfile:local";

fn docker_build_with(
    rig: &Rig,
    dir: &std::path::Path,
    tag: Option<&str>,
    build_args: &[&str],
) -> Outcome {
    pull_frontend(rig);
    let mut args = vec!["build".to_string(), "--progress".into(), "plain".into()];
    for a in build_args {
        args.extend(["--build-arg".into(), a.to_string()]);
    }
    if let Some(t) = tag {
        args.extend(["-t".into(), t.to_string()]);
    }
    args.push(dir.display().to_string());
    rig.run_logged_in(
        &rig.dockerd_log,
        "/usr/bin/docker",
        &args,
        &[("DOCKER_HOST", &rig.docker_host), ("DOCKER_BUILDKIT", "1")],
    )
}

/// Docker 20.10 runs a `# syntax=` image it has locally without asking the registry
/// (moby's default resolve mode prefers local images), so the frontend image the registry
/// has now is pulled first: the tests run the frontend just built, not an older copy.
fn pull_frontend(rig: &Rig) {
    static PULLED: std::sync::Once = std::sync::Once::new();
    PULLED.call_once(|| {
        let out = std::process::Command::new("/usr/bin/docker")
            .args(["pull", "--quiet", &rig.frontend])
            .env("DOCKER_HOST", &rig.docker_host)
            .output()
            .expect("docker pull");
        assert!(
            out.status.success(),
            "docker pull {}: {}",
            rig.frontend,
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

#[test]
fn docker_20_10_build_pins_an_unpinned_image_with_resolve_image_config() {
    let _serial = serial();
    let rig = rig();
    let out = docker_build(&rig, "multistage", Some("vf-e2e/multistage:docker"));
    assert!(out.ok, "{}", out.output);

    // Docker 20.10's Dockerfile frontend leaves `COPY --from=<image>` as a tag; the
    // verified frontend pinned it to the digest the registry serves for that tag.
    let index = rig.get("tools/manifests/1", common::OCI_INDEX);
    let want = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&index)));
    let r = out.report();
    let tools = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["original"] == "docker-image://127.0.0.1:5000/tools:1")
        .unwrap_or_else(|| panic!("no unpinned tools:1 source in {r}"));
    assert_eq!(tools["resolved"], want.as_str());
    assert_eq!(
        tools["pinned"],
        format!("docker-image://127.0.0.1:5000/tools:1@{want}").as_str()
    );
    // Without a policy nothing is attested, so there is nothing to say about attestations.
    let note = "the daemon cannot attach attestations (no reference.attestations cap)";
    assert_eq!(
        out.frontend_log.matches(note).count(),
        0,
        "{}",
        out.frontend_log
    );

    // With a policy, BuildKit before v0.11 takes no attestations from a frontend: the report
    // stays in the result metadata, and the frontend says so once.
    let dir = tempfile::tempdir().unwrap();
    for f in ["Dockerfile", "app.txt"] {
        std::fs::copy(rig.example("multistage").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("Dockerfile.rego"),
        "package docker\n\ndecision := {\"allow\": true}\n",
    )
    .unwrap();
    let out = docker_build_dir(&rig, dir.path(), None);
    assert!(out.ok, "{}", out.output);
    assert_eq!(
        out.frontend_log.matches(note).count(),
        1,
        "{}",
        out.frontend_log
    );
}

/// The sources of a build's report of one kind.
fn of_kind(out: &Outcome, kind: &str) -> Vec<serde_json::Value> {
    let r = out.report();
    r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn docker_20_10_pins_http_sources_to_the_checksum_of_their_content() {
    let _serial = serial();
    let rig = rig();
    let out = docker_build(&rig, "add-http", None);
    assert!(out.ok, "{}", out.output);
    let body = std::fs::read(
        std::path::Path::new(&std::env::var("VF_RIG").unwrap()).join("http/hello.txt"),
    )
    .unwrap();
    let want = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)));
    let http = of_kind(&out, "http");
    assert_eq!(http.len(), 1, "{http:?}");
    assert_eq!(http[0]["resolved"], want.as_str(), "{}", http[0]);
    // BuildKit's own checksum attribute: the daemon refuses any other content.
    assert_eq!(
        http[0]["pin_attrs"]["http.checksum"],
        want.as_str(),
        "{}",
        http[0]
    );
}

#[test]
fn docker_20_10_pins_git_tags_and_branches_to_their_commits() {
    let _serial = serial();
    let rig = rig();
    let out = docker_build_with(&rig, &rig.example("add-git"), None, &[CURRENT_DOCKERFILE]);
    assert!(out.ok, "{}", out.output);
    let rev = |r: &str| {
        let out = std::process::Command::new("git")
            .args([
                "-C",
                &std::path::Path::new(&std::env::var("VF_RIG").unwrap())
                    .join("git/hello.git")
                    .display()
                    .to_string(),
            ])
            .args(["rev-parse", r])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let git = of_kind(&out, "git");
    assert_eq!(git.len(), 2, "{git:?}");
    for s in git {
        let original = s["original"].as_str().unwrap();
        let (name, spec) = original.rsplit_once('#').unwrap();
        // `v1` is an annotated tag: the pin is the commit it points at.
        let commit = rev(&format!("{spec}^{{commit}}"));
        assert_eq!(commit.len(), 40, "{spec}");
        assert_eq!(s["resolved"], commit.as_str(), "{s}");
        assert_eq!(s["pinned"], format!("{name}#{commit}").as_str(), "{s}");
    }
}

/// The flip server hands out new content on every download: the build gets exactly the
/// content whose checksum the frontend pinned, or fails on the checksum; never other bytes.
#[test]
fn docker_20_10_builds_only_the_download_it_checked() {
    let _serial = serial();
    let rig = rig();
    pull_frontend(&rig);
    let dest = tempfile::tempdir().unwrap();
    let dir = rig.root.join("testdata/policy/moved");
    let args: Vec<String> = ["build", "--progress", "plain", "--no-cache", "--output"]
        .iter()
        .map(|s| s.to_string())
        .chain([
            format!("type=local,dest={}", dest.path().display()),
            dir.display().to_string(),
        ])
        .collect();
    let env = [
        ("DOCKER_HOST", rig.docker_host.as_str()),
        ("DOCKER_BUILDKIT", "1"),
    ];
    let out = rig.run_logged_in(&rig.dockerd_log, "/usr/bin/docker", &args, &env);
    let http = of_kind(&out, "http");
    let checked = http[0]["resolved"].as_str().unwrap().to_string();
    assert_eq!(http[0]["pin_attrs"]["http.checksum"], checked.as_str());
    if out.ok {
        let built = std::fs::read(dest.path().join("flip.txt")).unwrap();
        let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&built)));
        assert_eq!(got, checked, "the build used content nobody checked");
    } else {
        assert!(
            out.output.contains(&checked),
            "failed for another reason:\n{}",
            out.output
        );
    }
}

/// What the old daemon cannot hand over (the raw commit and tag objects) fails the source
/// with the missing capability, as image attestations do, instead of deciding without it.
#[test]
fn docker_20_10_refuses_a_policy_reading_git_objects_naming_the_missing_capability() {
    let _serial = serial();
    let rig = rig();
    let case = rig.root.join("testdata/policy/git");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(case.join("v1.Dockerfile"), dir.path().join("Dockerfile")).unwrap();
    std::fs::copy(case.join("git.rego"), dir.path().join("Dockerfile.rego")).unwrap();
    let out = docker_build_with(&rig, dir.path(), None, &[CURRENT_DOCKERFILE]);
    assert!(!out.ok, "{}", out.output);
    let last = out.last_line();
    assert!(
        last.ends_with(
            "cannot pin source git://127.0.0.1:9418/hello.git#v1 (Dockerfile:3): the buildkit daemon lacks capability source.metaresolver, needed to read the git commit and tag objects (and their signatures) the policy inspects"
        ),
        "{last}"
    );
}

#[test]
fn docker_20_10_build_enforces_dockerfile_rego() {
    let _serial = serial();
    let rig = rig();
    let dir = rig.root.join("testdata/policy/allow-registry");
    let out = docker_build_dir(&rig, &dir, None);
    assert!(!out.ok, "{}", out.output);
    // The denial on a line of its own, what the policy saw after it.
    // (Docker 20.10 writes its own prefix before it: `… rpc error: code = Unknown desc = `.)
    let head = " desc = source docker-image://127.0.0.1:5000/tools:1 (Dockerfile:3) denied by policy Dockerfile.rego: image 127.0.0.1:5000/tools is not from an allowed repository\n";
    assert!(out.output.contains(head), "{}", out.output);
    let last = out.last_line();
    assert!(
        last.starts_with("what the policy saw of docker-image://127.0.0.1:5000/tools:1: facts: {"),
        "{last}"
    );
}
