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
    pull_frontend(rig);
    let mut args = vec!["build".to_string(), "--progress".into(), "plain".into()];
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

#[test]
fn docker_20_10_refuses_http_sources_naming_the_missing_capability() {
    let _serial = serial();
    let rig = rig();
    let out = docker_build(&rig, "add-http", None);
    assert!(!out.ok, "{}", out.output);
    let last = out.error();
    assert!(
        last.ends_with(
            "cannot pin source http://127.0.0.1:8777/hello.txt (Dockerfile:3): the buildkit daemon lacks capability source.metaresolver, needed to resolve http sources to pin them"
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
