//! `verified-frontend policy test|eval` against Buildx v0.38.2's `buildx policy test|eval`
//! (the rig's buildx): the same policy directories (tests/policy-tool/*), the same output
//! and exit status. Buildx is the reference.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(program: &Path, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Run {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn frontend() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_verified-frontend"))
}

/// Buildx with its own configuration and a remote builder on the rig's buildkitd
/// (`policy eval` asks a builder for the platform even when it resolves nothing).
struct Buildx {
    bin: PathBuf,
    config: tempfile::TempDir,
}

impl Buildx {
    fn new() -> Self {
        let _ = common::rig();
        let bin = PathBuf::from(std::env::var("VF_RIG").unwrap()).join("bin/buildx");
        let bx = Buildx {
            bin,
            config: tempfile::tempdir().unwrap(),
        };
        let host = std::env::var("VF_BUILDKIT_HOST").unwrap();
        let created = bx.run(
            &["create", "--name", "vf-tool", "--driver", "remote", &host],
            Path::new("."),
        );
        assert_eq!(created.code, Some(0), "{}", created.stderr);
        bx
    }

    fn run(&self, args: &[&str], dir: &Path) -> Run {
        let config = self.config.path().display().to_string();
        run(&self.bin, args, dir, &[("BUILDX_CONFIG", &config)])
    }
}

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/policy-tool")
        .join(name)
}

#[test]
fn policy_test_prints_and_exits_as_buildx_does() {
    let bx = Buildx::new();
    let runs: [(&str, &[&str]); 5] = [
        ("local-git", &["policy", "test", "."]),
        ("local-git", &["policy", "test", "--run", "git", "."]),
        ("local-git", &["policy", "test", "more_test.rego"]),
        ("decisions", &["policy", "test", "."]),
        ("imports", &["policy", "test", "."]),
    ];
    for (dir, args) in runs {
        let want = bx.run(args, &case(dir));
        let got = run(&frontend(), args, &case(dir), &[]);
        assert_eq!(
            (got.code, &got.stdout),
            (want.code, &want.stdout),
            "{dir}: {args:?}\nbuildx stderr: {}\nfrontend stderr: {}",
            want.stderr,
            got.stderr
        );
    }
}

#[test]
fn policy_test_refuses_what_buildx_refuses() {
    let bx = Buildx::new();
    // A file that is not a test module, and a filter that leaves nothing.
    let runs: [(&str, &[&str], &str); 2] = [
        (
            "local-git",
            &["policy", "test", "Dockerfile.rego"],
            "test file must have _test.rego suffix",
        ),
        (
            "local-git",
            &["policy", "test", "--run", "nothing", "."],
            "no tests found",
        ),
    ];
    for (dir, args, says) in runs {
        let want = bx.run(args, &case(dir));
        let got = run(&frontend(), args, &case(dir), &[]);
        assert_ne!(want.code, Some(0), "buildx: {}", want.stdout);
        assert_ne!(got.code, Some(0), "frontend: {}", got.stdout);
        assert!(want.stderr.contains(says), "buildx: {}", want.stderr);
        assert!(got.stderr.contains(says), "frontend: {}", got.stderr);
    }
}

#[test]
fn policy_eval_decides_and_prints_as_buildx_does() {
    let bx = Buildx::new();
    let dir = case("denied-eval");
    let eval = ["--builder", "vf-tool", "policy", "eval", "."];
    let want = bx.run(&eval, &dir);
    let got = run(&frontend(), &eval[2..], &dir, &[]);
    assert_eq!(want.code, Some(1), "{}", want.stderr);
    assert_eq!(got.code, Some(1), "{}", got.stderr);
    let message = "policy denied: local context is not allowed";
    assert!(want.stderr.contains(message), "buildx: {}", want.stderr);
    assert_eq!(got.stderr.trim(), message);

    let print = ["--builder", "vf-tool", "policy", "eval", "--print", "."];
    let want = bx.run(&print, &dir);
    let got = run(&frontend(), &print[2..], &dir, &[]);
    assert_eq!(want.code, Some(0), "{}", want.stderr);
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(parse(&got.stdout), parse(&want.stdout));
}

#[test]
fn policy_test_runs_from_the_frontend_image() {
    // As the README shows it: `docker run --rm -v "$PWD:/w" -w /w <image> policy test .`.
    let rig = common::rig();
    let dir = case("imports");
    let volume = format!("{}:/w:ro", dir.display());
    let args = [
        "run",
        "--rm",
        "-v",
        &volume,
        "-w",
        "/w",
        &rig.frontend,
        "policy",
        "test",
        ".",
    ];
    let got = run(
        Path::new("/usr/bin/docker"),
        &args,
        Path::new("."),
        &[("DOCKER_HOST", &rig.docker_host)],
    );
    let local = run(&frontend(), &["policy", "test", "."], &dir, &[]);
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    assert_eq!(got.stdout, local.stdout);
}
