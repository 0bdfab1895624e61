//! Build contexts that are not a local directory (a git repository, an http(s) tarball or
//! single Dockerfile, a client's tar upload, a Dockerfile given as a frontend input) and the
//! Dockerfile's `# syntax=` line, through the real BuildKit: the context is pinned, its own
//! policy read from the pinned content decides it before anything runs, and the build uses
//! exactly that content. Fixtures: scripts/fixtures-contexts.sh, testdata/contexts.

mod common;

use std::path::{Path, PathBuf};

use common::{Outcome, Rig, rig, serial};
use serde_json::Value;
use sha2::Digest;

const GIT_CONTEXT: &str = "git://127.0.0.1:9418/ctx.git";
const TAR_CONTEXT: &str = "http://127.0.0.1:8777/contexts/ctx.tar";

/// buildctl with `--frontend <frontend>` and no local directories, exporting to `dest`.
fn build_remote(rig: &Rig, frontend: &str, opts: &[&str], dest: &Path) -> Outcome {
    let mut args: Vec<String> = ["build", "--progress", "plain", "--frontend", frontend]
        .map(String::from)
        .into();
    if frontend == "gateway.v0" {
        args.extend(["--opt".into(), format!("source={}", rig.frontend)]);
    }
    for o in opts {
        args.extend(["--opt".into(), o.to_string()]);
    }
    args.extend([
        "--output".into(),
        format!("type=local,dest={}", dest.display()),
    ]);
    rig.run_logged("buildctl", &args, &[])
}

fn commit_of(branch: &str) -> String {
    let repo = PathBuf::from(std::env::var("VF_RIG").unwrap()).join("git/ctx.git");
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(["rev-parse", branch])
        .output()
        .expect("git");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn records<'a>(report: &'a Value, role: &str) -> Vec<&'a Value> {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["role"] == role)
        .collect()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn sha256_file(path: &Path) -> String {
    let data = std::fs::read(path).unwrap();
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&data)))
}

#[test]
fn a_git_context_is_pinned_decided_by_its_own_policy_and_built_at_that_commit() {
    let _s = serial();
    let rig = rig();
    let main = commit_of("main");
    let context = format!("context={GIT_CONTEXT}#main");
    // Started directly, and as users do (dockerfile.v0 follows the `# syntax=` line).
    for frontend in ["gateway.v0", "dockerfile.v0"] {
        let dest = tempfile::tempdir().unwrap();
        let out = build_remote(&rig, frontend, &[&context], dest.path());
        assert!(out.ok, "{frontend}: {}", out.output);
        assert_eq!(
            read(dest.path(), "hello.txt"),
            "hello from the git context\n"
        );
        let r = out.report();
        let ctx = records(&r, "context");
        assert_eq!(ctx.len(), 1, "{r}");
        let c = ctx[0];
        assert_eq!(c["kind"], "git");
        assert_eq!(c["original"], format!("{GIT_CONTEXT}#main"));
        assert_eq!(c["resolved"], main.as_str());
        assert_eq!(c["pin_attrs"]["git.checksum"], main.as_str());
        assert_eq!(c["decision"], "allow");
        assert_eq!(c["policy"], "Dockerfile.rego");
        assert_eq!(c["location"], "build context");
        // The build graph's own source for the context is the pinned commit.
        let build: Vec<&Value> = records(&r, "build")
            .into_iter()
            .filter(|s| s["kind"] == "git")
            .collect();
        assert_eq!(build.len(), 1, "{r}");
        assert_eq!(build[0]["resolved"], main.as_str());
        assert_eq!(build[0]["decision"], "allow");
    }
}

#[test]
fn a_git_context_its_own_policy_denies_fails_before_any_step() {
    let _s = serial();
    let rig = rig();
    let dest = tempfile::tempdir().unwrap();
    let context = format!("context={GIT_CONTEXT}#deny");
    let out = build_remote(&rig, "gateway.v0", &[&context], dest.path());
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.error().starts_with(&format!(
            "source {GIT_CONTEXT}#deny (build context) denied by policy Dockerfile.rego: refs/heads/deny is not allowed by the context's own policy\nwhat the policy saw of "
        )) && out.error().contains(": facts: {"),
        "{}",
        out.error()
    );
    assert!(
        out.error()
            .contains(&format!("\"commitChecksum\":\"{}\"", commit_of("deny"))),
        "{}",
        out.error()
    );
    assert!(!out.output.contains("] COPY"), "{}", out.output);
    assert!(!dest.path().join("hello.txt").exists());
}

#[test]
fn a_git_subdirectory_context_reads_the_policy_beside_its_dockerfile() {
    let _s = serial();
    let rig = rig();
    // The fragment form and the query-string form name the same context.
    for context in [
        format!("context={GIT_CONTEXT}#main:sub"),
        format!("context={GIT_CONTEXT}?ref=main&subdir=sub"),
    ] {
        let dest = tempfile::tempdir().unwrap();
        let out = build_remote(&rig, "gateway.v0", &[&context], dest.path());
        // tools:1 is allowed by sub/Dockerfile.rego only, not by the root's policy.
        assert!(out.ok, "{context}: {}", out.output);
        assert_eq!(
            read(dest.path(), "hello.txt"),
            "hello from the sub directory\n"
        );
        assert_eq!(read(dest.path(), "tool.txt"), "tool v1\n");
        let r = out.report();
        let c = records(&r, "context");
        assert_eq!(c.len(), 1, "{r}");
        assert_eq!(c[0]["original"], format!("{GIT_CONTEXT}#main:sub"));
        assert_eq!(c[0]["resolved"], commit_of("main").as_str());
        assert_eq!(c[0]["decision"], "allow");
    }
}

#[test]
fn an_http_tarball_context_is_pinned_to_its_checksum_and_unpacked() {
    let _s = serial();
    let rig = rig();
    let rig_dir = PathBuf::from(std::env::var("VF_RIG").unwrap());
    let checksum = sha256_file(&rig_dir.join("http/contexts/ctx.tar"));
    let dest = tempfile::tempdir().unwrap();
    let context = format!("context={TAR_CONTEXT}");
    let out = build_remote(&rig, "gateway.v0", &[&context], dest.path());
    assert!(out.ok, "{}", out.output);
    assert_eq!(read(dest.path(), "hello.txt"), "hello from the tarball\n");
    let r = out.report();
    let c = records(&r, "context");
    assert_eq!(c.len(), 1, "{r}");
    assert_eq!(c[0]["kind"], "http");
    assert_eq!(c[0]["original"], TAR_CONTEXT);
    assert_eq!(c[0]["resolved"], checksum.as_str());
    assert_eq!(c[0]["pin_attrs"]["http.checksum"], checksum.as_str());
    assert_eq!(c[0]["decision"], "allow");
    // The build's own copy of the context is the pinned download.
    let build: Vec<&Value> = records(&r, "build")
        .into_iter()
        .filter(|s| s["kind"] == "http")
        .collect();
    assert_eq!(build.len(), 1, "{r}");
    assert_eq!(build[0]["resolved"], checksum.as_str());
}

#[test]
fn a_single_dockerfile_over_http_is_the_dockerfile() {
    let _s = serial();
    let rig = rig();
    let url = "http://127.0.0.1:8777/contexts/Dockerfile";
    let checksum = sha256_file(
        &PathBuf::from(std::env::var("VF_RIG").unwrap()).join("http/contexts/Dockerfile"),
    );
    let dest = tempfile::tempdir().unwrap();
    let context = format!("context={url}");
    let out = build_remote(&rig, "gateway.v0", &[&context], dest.path());
    assert!(out.ok, "{}", out.output);
    assert_eq!(read(dest.path(), "opt/tool.txt"), "tool v1\n");
    let r = out.report();
    let c = records(&r, "context");
    assert_eq!(c.len(), 1, "{r}");
    assert_eq!(c[0]["resolved"], checksum.as_str());
    // Nothing can stand beside a single file: no policy, and the output says where it looked.
    assert_eq!(c[0]["decision"], "none");
    assert!(
        out.output.contains(&format!(
            "no policy found (looked for Dockerfile.rego in {url})"
        )),
        "{}",
        out.output
    );
}

/// The BUILDX_CONFIG of a remote-driver builder `vf-e2e` on the rig's buildkitd, created
/// when missing.
fn buildx_config(rig: &Rig) -> String {
    let config = format!("{}/buildx", std::env::var("VF_RIG").unwrap());
    let env = [("BUILDX_CONFIG", config.as_str())];
    let host = std::env::var("VF_BUILDKIT_HOST").unwrap();
    let strings = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if !rig
        .run_logged("buildx", &strings(&["inspect", "vf-e2e"]), &env)
        .ok
    {
        let create = ["create", "--name", "vf-e2e", "--driver", "remote", &host];
        let created = rig.run_logged("buildx", &strings(&create), &env);
        assert!(created.ok, "{}", created.output);
    }
    config
}

/// `buildx --builder vf-e2e <args>` in a shell (for a redirected stdin), with `env`.
fn buildx(rig: &Rig, args: &str, env: &[(&str, &str)]) -> Outcome {
    let config = buildx_config(rig);
    let mut all_env = vec![("BUILDX_CONFIG", config.as_str())];
    all_env.extend(env);
    let shell = format!("exec buildx --builder vf-e2e {args}");
    rig.run_logged("sh", &["-c".to_string(), shell], &all_env)
}

#[test]
fn a_tarball_the_client_uploads_is_a_pinned_context() {
    let _s = serial();
    let rig = rig();
    let tar = PathBuf::from(std::env::var("VF_RIG").unwrap()).join("http/contexts/ctx.tar");
    let dest = tempfile::tempdir().unwrap();
    // buildx reads the tarball from stdin and sends it over the session
    // (http://buildkit-session/<id>), where it can be read once.
    let args = format!(
        "build --progress plain --output type=local,dest={} - < {}",
        dest.path().display(),
        tar.display()
    );
    let out = buildx(&rig, &args, &[]);
    assert!(out.ok, "{}", out.output);
    assert_eq!(read(dest.path(), "hello.txt"), "hello from the tarball\n");
    let r = out.report();
    let c = records(&r, "context");
    assert_eq!(c.len(), 1, "{r}");
    assert!(
        c[0]["original"]
            .as_str()
            .unwrap()
            .starts_with("http://buildkit-session/"),
        "{r}"
    );
    assert_eq!(c[0]["resolved"], sha256_file(&tar).as_str());
    assert_eq!(c[0]["decision"], "allow");
}

#[test]
fn a_dockerfile_given_as_a_frontend_input_is_pinned_and_its_policy_read_from_it() {
    let _s = serial();
    let rig = rig();
    let dest = tempfile::tempdir().unwrap();
    let output = format!("type=local,dest={}", dest.path().display());
    let context = format!("{GIT_CONTEXT}?ref=main");
    // Buildx then sends the git context as the frontend inputs `context` and `dockerfile`.
    let args = format!("build --progress plain --output {output} '{context}'");
    let out = buildx(&rig, &args, &[("BUILDX_SEND_GIT_QUERY_AS_INPUT", "true")]);
    assert!(out.ok, "{}", out.output);
    assert_eq!(
        read(dest.path(), "hello.txt"),
        "hello from the git context\n"
    );
    let r = out.report();
    let d = records(&r, "dockerfile");
    assert_eq!(d.len(), 1, "{r}");
    assert_eq!(d[0]["kind"], "git");
    assert_eq!(d[0]["location"], "dockerfile input");
    assert_eq!(d[0]["resolved"], commit_of("main").as_str());
    assert_eq!(
        d[0]["pin_attrs"]["git.checksum"],
        commit_of("main").as_str()
    );
    assert_eq!(d[0]["decision"], "allow");
    assert_eq!(d[0]["policy"], "Dockerfile.rego");
}

fn build_local(rig: &Rig, dir: &Path, opts: &[&str], dest: &Path) -> Outcome {
    let mut all = vec![
        format!("context={}", dir.display()),
        format!("dockerfile={}", dir.display()),
    ];
    let mut args: Vec<String> = vec!["build".into(), "--progress".into(), "plain".into()];
    args.extend(["--frontend", "gateway.v0", "--opt"].map(String::from));
    args.push(format!("source={}", rig.frontend));
    for l in all.drain(..) {
        args.extend(["--local".into(), l]);
    }
    for o in opts {
        args.extend(["--opt".into(), o.to_string()]);
    }
    args.extend([
        "--output".into(),
        format!("type=local,dest={}", dest.display()),
    ]);
    rig.run_logged("buildctl", &args, &[])
}

#[test]
fn a_syntax_line_naming_another_frontend_is_followed_decided_and_pinned() {
    let _s = serial();
    let rig = rig();
    let dir = rig.root.join("testdata/contexts/syntax-other");
    let dest = tempfile::tempdir().unwrap();
    let out = build_local(&rig, &dir, &[], dest.path());
    assert!(out.ok, "{}", out.output);
    assert_eq!(
        read(dest.path(), "hello.txt"),
        "built by the frontend the syntax line names\n"
    );
    let r = out.report();
    let df: Vec<&Value> = records(&r, "frontend")
        .into_iter()
        .filter(|s| s["original"] == "docker-image://127.0.0.1:5000/dockerfile:local")
        .collect();
    assert_eq!(df.len(), 1, "{r}");
    assert!(
        df[0]["pinned"]
            .as_str()
            .unwrap()
            .starts_with("docker-image://127.0.0.1:5000/dockerfile:local@sha256:"),
        "{r}"
    );
    assert_eq!(df[0]["decision"], "allow");

    let dest = tempfile::tempdir().unwrap();
    let out = build_local(&rig, &dir, &["policy=deny-dockerfile.rego"], dest.path());
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.error()
            .contains("denied by policy deny-dockerfile.rego: the Dockerfile frontend the syntax line names is not trusted"),
        "{}",
        out.error()
    );
    assert!(!dest.path().join("hello.txt").exists());
}

#[test]
fn an_invalid_syntax_line_fails_at_its_line() {
    let _s = serial();
    let rig = rig();
    let dir = rig.root.join("testdata/contexts/syntax-invalid");
    let dest = tempfile::tempdir().unwrap();
    let out = build_local(&rig, &dir, &[], dest.path());
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.error().contains("docker.io/library/foobar"),
        "{}",
        out.output
    );
    // The client prints the Dockerfile's line, as for the stock frontend.
    assert!(out.output.contains(">>> #syntax=foobar"), "{}", out.output);
}

/// `SOURCE_DATE_EPOCH=context` over an http context is the download's `Last-Modified` time,
/// as with the stock frontend, though the Dockerfile frontend reads the pinned content
/// (for which BuildKit reports no `Last-Modified`; the archive's newest file would win).
#[test]
fn source_date_epoch_from_an_http_context_is_its_last_modified_time() {
    let _s = serial();
    let rig = rig();
    let tar = PathBuf::from(std::env::var("VF_RIG").unwrap()).join("http/contexts/ctx.tar");
    let mtime = std::fs::metadata(&tar)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // scripts/fixtures-contexts.sh writes the archive's files at this time.
    let archive_time = "2026-01-02T00:00:00Z".parse::<jiff::Timestamp>().unwrap();
    assert_ne!(mtime, archive_time.as_second(), "the test needs them apart");
    let repo = "vf-contexts/epoch";
    let args: Vec<String> = [
        "build",
        "--progress",
        "plain",
        "--frontend",
        "gateway.v0",
        "--opt",
        &format!("source={}", rig.frontend),
        "--opt",
        &format!("context={TAR_CONTEXT}"),
        "--opt",
        "build-arg:SOURCE_DATE_EPOCH=context",
        "--output",
        &format!("type=image,name={}/{repo}:http,push=true", rig.registry),
    ]
    .map(String::from)
    .into();
    let out = rig.run_logged("buildctl", &args, &[]);
    assert!(out.ok, "{}", out.output);
    let img = rig.image(repo, "http");
    let created = img.images[0].config["created"].as_str().unwrap();
    let created = created.parse::<jiff::Timestamp>().unwrap();
    assert_eq!(created.as_second(), mtime, "{}", img.images[0].config);
    // Still the pinned content.
    let c = records(&out.report(), "context")[0].clone();
    assert_eq!(c["resolved"], sha256_file(&tar).as_str());
}

/// A fresh repository `<name>.git` under the rig's git daemon with a Dockerfile and a tag
/// `v1`; removed when the guard drops. Fresh, so that its first checkout is this build's.
struct TempRepo(PathBuf);

impl Drop for TempRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_repo(name: &str) -> (TempRepo, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("{name}-{}-{nanos}.git", std::process::id());
    let bare = PathBuf::from(std::env::var("VF_RIG").unwrap())
        .join("git")
        .join(&name);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /\n",
    )
    .unwrap();
    std::fs::write(work.path().join("hello.txt"), format!("{name}\n")).unwrap();
    let git = |dir: &Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "user.name=Tester",
                "-c",
                "user.email=tester@example.com",
            ])
            .args(args)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(work.path(), &["init", "-q", "-b", "main"]);
    git(work.path(), &["add", "-A"]);
    git(work.path(), &["commit", "-qm", "advice"]);
    git(work.path(), &["tag", "v1"]);
    git(
        work.path(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    git(
        work.path(),
        &["push", "-q", bare.to_str().unwrap(), "main", "v1"],
    );
    (TempRepo(bare), format!("git://127.0.0.1:9418/{name}"))
}

/// `BUILDKIT_GIT_ADVICE=1` shows git's advice (a detached HEAD) while a git context is
/// checked out, and only when asked for; the first checkout is this frontend's own, before the
/// Dockerfile frontend runs.
#[test]
fn git_advice_for_a_git_context_is_shown_when_asked_for() {
    let _s = serial();
    let rig = rig();
    for (arg, shown) in [
        (None, false),
        (Some("build-arg:BUILDKIT_GIT_ADVICE=1"), true),
    ] {
        let (_repo, url) = temp_repo("vf-advice");
        // Git checks out a work tree, and may advise on it, only when `.git` is kept.
        let context = format!("context={url}?tag=v1&keep-git-dir=true");
        let mut opts = vec![context.as_str()];
        opts.extend(arg);
        let dest = tempfile::tempdir().unwrap();
        let out = build_remote(&rig, "gateway.v0", &opts, dest.path());
        assert!(out.ok, "{}", out.output);
        assert!(read(dest.path(), "hello.txt").starts_with("vf-advice-"));
        assert_eq!(
            out.output.contains("detached HEAD"),
            shown,
            "{arg:?}: {}",
            out.output
        );
    }
}

/// A named context naming an image that does not exist fails a build only when the build
/// uses it, as with the stock frontend; used, it fails with the Dockerfile frontend's own
/// error and nothing runs.
#[test]
fn a_named_context_naming_a_missing_image_fails_only_the_builds_that_use_it() {
    let _s = serial();
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
    let missing = format!(
        "context:base=docker-image://{}/vf-contexts/missing:1",
        rig.registry
    );
    let unused = "FROM base AS unused\nFROM scratch\nCOPY hello.txt /hello.txt\n";
    std::fs::write(dir.path().join("Dockerfile"), unused).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = build_local(&rig, dir.path(), &[&missing], dest.path());
    assert!(out.ok, "{}", out.output);
    assert_eq!(read(dest.path(), "hello.txt"), "hello\n");
    assert!(
        out.frontend_log
            .contains("named context base not pinned yet"),
        "{}",
        out.frontend_log
    );

    let used =
        "FROM base AS used\nFROM scratch\nCOPY --from=used /x /x\nCOPY hello.txt /hello.txt\n";
    std::fs::write(dir.path().join("Dockerfile"), used).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = build_local(&rig, dir.path(), &[&missing], dest.path());
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.error().contains("vf-contexts/missing:1") && out.error().contains("not found"),
        "{}",
        out.error()
    );
    assert!(!dest.path().join("hello.txt").exists());
}
