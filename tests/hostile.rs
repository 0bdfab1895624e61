//! `verified-frontend verify` against a hostile registry: a small HTTP server in this test
//! serves a real verified image (built through the rig, copied out of its registry) and
//! misbehaves one way per test — a huge referrers list, an oversized or endless manifest,
//! an endless blob, a response that drips forever, redirects in a loop or to another host,
//! content that does not match its digest — or asks for credentials, which `verify` finds
//! as Docker clients do (a `DOCKER_CONFIG` and a credential helper on `PATH`). Every run
//! must end in bounded time and memory (the process runs under a 1 GiB address-space limit)
//! with one clear line.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{Mode, OCI_INDEX, OCI_MANIFEST, Outcome, rig, serial};
use serde_json::{Value, json};

/// The image every test serves: its documents by reference (tag or digest) and its blobs.
#[derive(Clone, Default)]
struct Snapshot {
    repo: String,
    tag: String,
    manifests: HashMap<String, (String, Vec<u8>)>,
    blobs: HashMap<String, Vec<u8>>,
    /// The attestation manifest's digest (signatures are its referrers).
    attestation: String,
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Builds the quick start once and copies it out of the rig registry.
fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let rig = rig();
        let built = rig.build(
            &rig.example("verified"),
            Mode::Syntax,
            &[],
            Some("hostile/base:1"),
        );
        assert!(built.ok, "{}", built.output);
        let mut s = Snapshot {
            repo: "hostile/base".into(),
            tag: "1".into(),
            ..Snapshot::default()
        };
        let index = rig.get("hostile/base/manifests/1", OCI_INDEX);
        let parsed: Value = serde_json::from_slice(&index).unwrap();
        s.manifests
            .insert("1".into(), (OCI_INDEX.into(), index.clone()));
        s.manifests
            .insert(sha256(&index), (OCI_INDEX.into(), index.clone()));
        for m in parsed["manifests"].as_array().unwrap() {
            let digest = m["digest"].as_str().unwrap();
            let data = rig.get(&format!("hostile/base/manifests/{digest}"), OCI_MANIFEST);
            if m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest" {
                s.attestation = digest.to_string();
            }
            let doc: Value = serde_json::from_slice(&data).unwrap();
            let blobs =
                std::iter::once(&doc["config"]).chain(doc["layers"].as_array().unwrap().iter());
            for b in blobs {
                let d = b["digest"].as_str().unwrap();
                s.blobs
                    .insert(d.into(), rig.get(&format!("hostile/base/blobs/{d}"), "*/*"));
            }
            s.manifests
                .insert(digest.into(), (OCI_MANIFEST.into(), data));
        }
        assert!(!s.attestation.is_empty(), "no attestation manifest");
        s
    })
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Reply {
    Full {
        status: u16,
        content_type: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A 200 whose body never ends (Content-Length absent, bytes as fast as they are read).
    Endless {
        content_type: String,
    },
    /// Headers promptly (no Content-Length: a larger one than the descriptor's is refused
    /// before any byte), then one byte of body every few seconds, forever.
    Drip {
        content_type: String,
    },
    Redirect(String),
}

type Hook = Arc<dyn Fn(&Request, &Snapshot, u16) -> Option<Reply> + Send + Sync>;

fn ok(content_type: &str, body: Vec<u8>) -> Reply {
    let digest = sha256(&body);
    Reply::Full {
        status: 200,
        content_type: content_type.into(),
        headers: vec![("Docker-Content-Digest".into(), digest)],
        body,
    }
}

fn not_found() -> Reply {
    Reply::Full {
        status: 404,
        content_type: "application/json".into(),
        headers: vec![],
        body: br#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#.to_vec(),
    }
}

/// What an honest registry answers.
fn honest(req: &Request, s: &Snapshot) -> Reply {
    let rest = req.path.trim_start_matches("/v2/");
    if rest.is_empty() {
        return ok("application/json", b"{}".to_vec());
    }
    let Some(rest) = rest.strip_prefix(&format!("{}/", s.repo)) else {
        return not_found();
    };
    if let Some(r) = rest.strip_prefix("manifests/") {
        return match s.manifests.get(r) {
            Some((t, d)) => ok(t, d.clone()),
            None => not_found(),
        };
    }
    if let Some(d) = rest.strip_prefix("blobs/") {
        return match s.blobs.get(d) {
            Some(b) => ok("application/octet-stream", b.clone()),
            None => not_found(),
        };
    }
    if rest.starts_with("referrers/") {
        let empty = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
        return ok(OCI_INDEX, serde_json::to_vec(&empty).unwrap());
    }
    not_found()
}

fn write_reply(mut stream: TcpStream, req: &Request, reply: Reply) {
    let head = |status: u16, ct: &str, extra: &str| {
        format!("HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\n{extra}Connection: close\r\n\r\n")
    };
    match reply {
        Reply::Full {
            status,
            content_type,
            headers,
            body,
        } => {
            let mut extra: String = headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}\r\n"))
                .collect();
            extra.push_str(&format!("Content-Length: {}\r\n", body.len()));
            let _ = stream.write_all(head(status, &content_type, &extra).as_bytes());
            if req.method != "HEAD" {
                let _ = stream.write_all(&body);
            }
        }
        Reply::Endless { content_type } => {
            let _ = stream.write_all(head(200, &content_type, "").as_bytes());
            let chunk = vec![b' '; 64 << 10];
            while stream.write_all(&chunk).is_ok() {}
        }
        Reply::Drip { content_type } => {
            let _ = stream.write_all(head(200, &content_type, "").as_bytes());
            loop {
                std::thread::sleep(Duration::from_secs(2));
                if stream.write_all(b" ").is_err() {
                    break;
                }
            }
        }
        Reply::Redirect(to) => {
            let extra = format!("Location: {to}\r\nContent-Length: 0\r\n");
            let _ = stream.write_all(head(307, "text/plain", &extra).as_bytes());
        }
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Some(Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers,
    })
}

/// Serves the snapshot on a loopback port, `hook` answering first; returns the port.
fn serve(hook: Hook) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let hook = hook.clone();
            std::thread::spawn(move || {
                let Some(req) = read_request(&stream) else {
                    return;
                };
                let s = snapshot();
                let reply = hook(&req, s, port).unwrap_or_else(|| honest(&req, s));
                write_reply(stream, &req, reply);
            });
        }
    });
    port
}

struct Verified {
    code: Option<i32>,
    output: String,
    took: Duration,
}

/// `verify` of the served image, under a memory limit and a deadline this test enforces.
fn verify(port: u16) -> Verified {
    verify_with(port, &[], &[])
}

/// `verify` with more arguments (before the image) and environment.
fn verify_with(port: u16, args: &[&str], env: &[(&str, String)]) -> Verified {
    let s = snapshot();
    let image = format!("127.0.0.1:{port}/{}:{}", s.repo, s.tag);
    let bin = env!("CARGO_BIN_EXE_verified-frontend");
    let started = Instant::now();
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -v 1048576 && exec \"$0\" verify \"$@\"", bin])
        .args(args)
        .arg(&image)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Duration::from_secs(300);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("verify of {image} did not end within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    Verified {
        code: out.status.code(),
        output: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        took: started.elapsed(),
    }
}

fn hook(f: impl Fn(&Request, &Snapshot, u16) -> Option<Reply> + Send + Sync + 'static) -> Hook {
    Arc::new(f)
}

/// The run failed (1: a check failed, 2: unreadable input), quickly, saying `what`.
fn assert_refused(v: &Verified, what: &[&str], within: Duration) {
    assert!(
        matches!(v.code, Some(1) | Some(2)),
        "exit {:?}:\n{}",
        v.code,
        v.output
    );
    for w in what {
        assert!(v.output.contains(w), "want {w:?} in:\n{}", v.output);
    }
    assert!(v.took < within, "took {:?}:\n{}", v.took, v.output);
}

#[test]
fn the_honest_copy_passes() {
    let _s = serial();
    let v = verify(serve(hook(|_, _, _| None)));
    assert_eq!(v.code, Some(0), "{}", v.output);
}

/// Serves, as the attestation manifest's referrers, an index of `n` signature entries.
fn referrers(n: usize) -> u16 {
    serve(hook(move |req, s, _| {
        let subject = req.path.rsplit('/').next()?;
        if !req.path.contains("/referrers/") || subject != s.attestation {
            return None;
        }
        let entry = json!({"mediaType": OCI_MANIFEST, "size": 100,
            "digest": format!("sha256:{}", "ab".repeat(32)),
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"});
        let manifests: Vec<Value> = (0..n).map(|_| entry.clone()).collect();
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        Some(ok(OCI_INDEX, serde_json::to_vec(&index).unwrap()))
    }))
}

#[test]
fn a_huge_referrers_list_is_refused_naming_the_bound() {
    let _s = serial();
    // Far past the manifest bound (about 40 MB): cut while it is read.
    let v = verify(referrers(200_000));
    assert_refused(
        &v,
        &[
            "referrers of",
            "more than the 4194304 bytes a manifest may have",
        ],
        Duration::from_secs(60),
    );
    // Small enough to read, but more referrers than are read as signature manifests.
    let v = verify(referrers(150));
    assert_refused(
        &v,
        &["has 150 referrers, more than the 100 read as signature manifests"],
        Duration::from_secs(60),
    );
}

#[test]
fn an_oversized_or_endless_manifest_is_refused() {
    let _s = serial();
    // Valid JSON far past any manifest bound, then a body that never ends.
    let port = serve(hook(|req, s, _| {
        (req.path.ends_with(&format!("/manifests/{}", s.tag))).then(|| {
            let mut big = br#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [], "annotations": {"x": ""#.to_vec();
            big.extend(std::iter::repeat_n(b'a', 64 << 20));
            big.extend(br#""}}"#);
            ok(OCI_INDEX, big)
        })
    }));
    let v = verify(port);
    assert_refused(
        &v,
        &["(Content-Length), more than the 4194304 bytes a manifest may have"],
        Duration::from_secs(120),
    );
    let port = serve(hook(|req, s, _| {
        (req.path.ends_with(&format!("/manifests/{}", s.tag))).then(|| Reply::Endless {
            content_type: OCI_INDEX.into(),
        })
    }));
    let v = verify(port);
    assert_refused(
        &v,
        &["goes on, more than the 4194304 bytes a manifest may have"],
        Duration::from_secs(120),
    );
}

#[test]
fn an_endless_blob_is_cut_at_the_blob_bound() {
    let _s = serial();
    let port = serve(hook(|req, s, _| {
        let blob = req.path.split("/blobs/").nth(1)?;
        // A statement blob of the attestation manifest.
        let (_, att) = s.manifests.get(&s.attestation)?;
        let doc: Value = serde_json::from_slice(att).ok()?;
        let is_statement = doc["layers"]
            .as_array()?
            .iter()
            .any(|l| l["digest"] == blob);
        is_statement.then(|| Reply::Endless {
            content_type: "application/vnd.in-toto+json".into(),
        })
    }));
    let v = verify(port);
    assert_refused(
        &v,
        &["goes on, more than the", "bytes its descriptor says"],
        Duration::from_secs(120),
    );
}

fn dripping_attestation() -> u16 {
    serve(hook(|req, s, _| {
        req.path
            .ends_with(&format!("/manifests/{}", s.attestation))
            .then(|| Reply::Drip {
                content_type: OCI_MANIFEST.into(),
            })
    }))
}

#[test]
fn a_response_that_drips_forever_ends_in_bounded_time() {
    let _s = serial();
    // The pace bound: a minute that brings less than 64 KiB ends the response.
    let v = verify(dripping_attestation());
    assert_refused(
        &v,
        &["bytes arrived in 60s, fewer than the 65536 bytes every 60s"],
        Duration::from_secs(90),
    );
    assert!(v.took >= Duration::from_secs(60), "{:?}", v.took);
    // The overall deadline, when it comes first.
    let v = verify_with(dripping_attestation(), &["--timeout", "5s"], &[]);
    assert_refused(
        &v,
        &["did not finish within 5s (--timeout"],
        Duration::from_secs(20),
    );
}

#[test]
fn redirect_loops_and_redirects_elsewhere_are_refused_or_checked() {
    let _s = serial();
    // A blob redirected to itself, forever.
    let port = serve(hook(|req, _, port| {
        req.path
            .contains("/blobs/")
            .then(|| Reply::Redirect(format!("http://127.0.0.1:{port}{}", req.path)))
    }));
    let v = verify(port);
    assert_refused(&v, &[], Duration::from_secs(60));
    // Blobs redirected to another host that serves other bytes: the digest check catches it.
    let elsewhere = serve(hook(|req, _, _| {
        req.path
            .contains("/blobs/")
            .then(|| ok("application/octet-stream", b"{\"not\": \"it\"}".to_vec()))
    }));
    let port = serve(hook(move |req, _, _| {
        req.path
            .contains("/blobs/")
            .then(|| Reply::Redirect(format!("http://127.0.0.1:{elsewhere}{}", req.path)))
    }));
    let v = verify(port);
    assert_refused(&v, &["sha256:"], Duration::from_secs(60));
}

#[test]
fn content_that_does_not_match_its_digest_is_refused() {
    let _s = serial();
    let port = serve(hook(|req, s, _| {
        let (t, data) = s.manifests.get(&s.attestation)?;
        req.path
            .ends_with(&format!("/manifests/{}", s.attestation))
            .then(|| {
                let mut doc: Value = serde_json::from_slice(data).unwrap();
                doc["annotations"] = json!({"tampered": "yes"});
                ok(t, serde_json::to_vec(&doc).unwrap())
            })
    }));
    let v = verify(port);
    assert_refused(&v, &[&snapshot().attestation], Duration::from_secs(60));
}

/// A `DOCKER_CONFIG` holding `config`, and `docker-credential-vftest` on the `PATH` it gives:
/// it answers `user`/`secret` for `key` and "not found" for any other.
fn docker_config(
    config: Value,
    key: &str,
    user: &str,
    secret: &str,
) -> (tempfile::TempDir, Vec<(&'static str, String)>) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let helper = dir.path().join("docker-credential-vftest");
    let answer = json!({"ServerURL": key, "Username": user, "Secret": secret});
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread key\n[ \"$1\" = get ] || exit 3\nif [ \"$key\" = '{key}' ]; then echo '{answer}'; else echo 'credentials not found in native keychain'; exit 1; fi\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let env = vec![
        ("DOCKER_CONFIG", dir.path().display().to_string()),
        ("PATH", path),
    ];
    (dir, env)
}

fn unauthorized(challenge: String) -> Reply {
    Reply::Full {
        status: 401,
        content_type: "application/json".into(),
        headers: vec![("WWW-Authenticate".into(), challenge)],
        body: br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_vec(),
    }
}

#[test]
fn credentials_come_from_the_docker_config_for_basic_auth() {
    let _s = serial();
    use base64::Engine as _;
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ann:pw")
    );
    let port = serve(hook(move |req, _, _| {
        (req.header("Authorization") != Some(good.as_str()))
            .then(|| unauthorized(r#"Basic realm="hostile""#.into()))
    }));
    let host = format!("127.0.0.1:{port}");
    let (_dir, env) = docker_config(
        json!({"auths": {&host: {"auth": base64::engine::general_purpose::STANDARD.encode("ann:pw")}}}),
        "unused",
        "",
        "",
    );
    let v = verify_with(port, &[], &env);
    assert_eq!(v.code, Some(0), "{}", v.output);
    // No credentials for this registry: one line saying so.
    let (_dir, env) = docker_config(json!({"auths": {}}), "unused", "", "");
    let v = verify_with(port, &[], &env);
    assert_refused(
        &v,
        &[
            "the registry asks for a user name and password",
            "config.json has none for it",
        ],
        Duration::from_secs(30),
    );
    // Wrong credentials: the registry's second 401 is the error.
    let (_dir, env) = docker_config(
        json!({"auths": {&host: {"auth": base64::engine::general_purpose::STANDARD.encode("ann:wrong")}}}),
        "unused",
        "",
        "",
    );
    let v = verify_with(port, &[], &env);
    assert_refused(
        &v,
        &["401", "(after authenticating)"],
        Duration::from_secs(30),
    );
}

#[test]
fn a_token_challenge_is_answered_with_a_credential_helpers_secret() {
    let _s = serial();
    use base64::Engine as _;
    let asked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = asked.clone();
    let helper_creds = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("helper-user:helper-secret")
    );
    // Blobs are redirected to storage on another host, which must never see the token.
    let leaked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let leaks = leaked.clone();
    let storage = serve(hook(move |req, _, _| {
        if let Some(a) = req.header("Authorization") {
            leaks.lock().unwrap().push(a.to_string());
        }
        None
    }));
    let port = serve(hook(move |req, _, port| {
        if req.path == "/token" {
            seen.lock().unwrap().push(req.query.clone());
            return Some(
                if req.header("Authorization") == Some(helper_creds.as_str()) {
                    ok("application/json", br#"{"token": "t0k"}"#.to_vec())
                } else {
                    unauthorized(r#"Basic realm="token""#.into())
                },
            );
        }
        if req.header("Authorization") != Some("Bearer t0k") {
            return Some(unauthorized(format!(
                r#"Bearer realm="http://127.0.0.1:{port}/token",service="hostile",scope="repository:hostile/base:pull""#
            )));
        }
        req.path
            .contains("/blobs/")
            .then(|| Reply::Redirect(format!("http://127.0.0.1:{storage}{}", req.path)))
    }));
    let host = format!("127.0.0.1:{port}");
    let (_dir, env) = docker_config(
        json!({"credHelpers": {&host: "vftest"}}),
        &host,
        "helper-user",
        "helper-secret",
    );
    let v = verify_with(port, &[], &env);
    assert_eq!(v.code, Some(0), "{}", v.output);
    assert_eq!(*leaked.lock().unwrap(), Vec::<String>::new());
    let asked = asked.lock().unwrap().clone();
    assert!(
        asked.iter().any(|q| q.contains("service=hostile")
            && q.contains("scope=repository%3Ahostile%2Fbase%3Apull")),
        "{asked:?}"
    );
    // The helper knows nothing of this registry: the token is asked for anonymously and refused.
    let (_dir, env) = docker_config(
        json!({"credHelpers": {&host: "vftest"}}),
        "other.example.com",
        "x",
        "y",
    );
    let v = verify_with(port, &[], &env);
    assert_refused(
        &v,
        &["token service", "asked anonymously"],
        Duration::from_secs(30),
    );
}

/// A build of `COPY Dockerfile /` whose policy allows the frontend image at once and, for
/// the build context, walks ten billion pairs: `walk` is the rule body that does it.
fn spinning_policy_build(walk: &str) -> (Outcome, Duration) {
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "# syntax=127.0.0.1:5000/verified-frontend\nFROM scratch\nCOPY Dockerfile /\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("n.json"), r#"{"n": 100000}"#).unwrap();
    let policy = format!(
        "package docker\ndefault allow := false\n\
         allow if input.image.repo == \"127.0.0.1:5000/verified-frontend\"\n\
         allow if {{\n    input.local\n{walk}\n}}\ndecision := {{\"allow\": allow}}\n"
    );
    std::fs::write(dir.path().join("Dockerfile.rego"), policy).unwrap();
    let started = Instant::now();
    let out = rig.build(dir.path(), Mode::Syntax, &[], None);
    (out, started.elapsed())
}

fn assert_bound_named(out: &Outcome, took: Duration) {
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.error()
            .contains("the evaluation took longer than 10s, the bound on one policy decision"),
        "{}",
        out.output
    );
    assert!(took < Duration::from_secs(90), "{took:?}");
}

#[test]
fn a_policy_that_never_ends_fails_the_build_naming_the_bound() {
    let _s = serial();
    // The range's end read through a builtin: only the decision itself evaluates the walk.
    let (out, took) = spinning_policy_build(
        "    n := load_json(\"n.json\").n\n    some i in numbers.range(1, n)\n    \
         some j in numbers.range(1, n)\n    i == j + n + 1",
    );
    assert_bound_named(&out, took);
}

#[test]
fn a_policy_that_never_ends_before_any_fetch_fails_the_build_naming_the_bound() {
    let _s = serial();
    let (out, took) = spinning_policy_build(
        "    some i in numbers.range(1, 100000)\n    some j in numbers.range(1, 100000)\n    \
         i == j + 100001",
    );
    assert_bound_named(&out, took);
}

/// A policy that asks for gigabytes in one builtin call (`numbers.range` reserves its whole
/// array at once), long before the clock is read again: refused at the heap bound, and the
/// frontend, which runs inside buildkitd's cgroup beside other builds, lives to say so.
#[test]
fn a_policy_that_asks_for_gigabytes_fails_the_build_naming_the_memory_bound() {
    let _s = serial();
    let (out, took) =
        spinning_policy_build("    count([i | some i in numbers.range(1, 400000000)]) > 0");
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.error().contains(
            "the evaluation needed more than 1024 MiB of memory, the bound on the frontend's \
             heap while a policy runs; the source is refused"
        ),
        "{}",
        out.output
    );
    assert!(took < Duration::from_secs(90), "{took:?}");
}
