//! `verified-frontend verify`, the consumer's check, end to end: images built through the
//! verified frontend on the real BuildKit (pushed to the rig registry and exported as OCI
//! layouts), checked as they are, tampered with, and signed with the rig's throwaway
//! Sigstore root.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{OCI_INDEX, OCI_MANIFEST, Rig, rig, serial};
use serde_json::Value;
use sha2::Digest;

const VSA: &str = "https://slsa.dev/verification_summary/v1";

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/verify")
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// An image built through the verified frontend under testdata/verify/build/policy.rego.
struct Built {
    /// The build context: Dockerfile, policy.rego, trusted_root.json.
    ctx: tempfile::TempDir,
    repo: String,
    tag: String,
    /// The OCI layout exported by the same build, untarred.
    layout: tempfile::TempDir,
}

impl Built {
    fn policy(&self) -> String {
        self.ctx.path().join("policy.rego").display().to_string()
    }

    fn reference(&self) -> String {
        format!("127.0.0.1:5000/{}:{}", self.repo, self.tag)
    }

    fn layout_ref(&self) -> String {
        format!("oci-layout://{}", self.layout.path().display())
    }
}

/// Builds testdata/verify/build with SLSA provenance, pushes it as `repo:1` and exports the
/// same result as an OCI layout.
fn build(rig: &Rig, repo: &str) -> Built {
    let ctx = tempfile::tempdir().unwrap();
    for f in ["Dockerfile", "policy.rego"] {
        std::fs::copy(testdata().join("build").join(f), ctx.path().join(f)).unwrap();
    }
    std::fs::copy(rig.trusted_root(), ctx.path().join("trusted_root.json")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let tar = out.path().join("image.tar");
    let name = format!("{}/{repo}:1", rig.registry);
    let args: Vec<String> = [
        "build",
        "--progress",
        "plain",
        "--frontend",
        "dockerfile.v0",
        "--local",
        &format!("context={}", ctx.path().display()),
        "--local",
        &format!("dockerfile={}", ctx.path().display()),
        "--opt",
        "policy=policy.rego",
        "--opt",
        "trusted-root=trusted_root.json",
        "--opt",
        "attest:provenance=mode=max",
        "--output",
        &format!("type=image,name={name},push=true,oci-mediatypes=true"),
        "--output",
        &format!("type=oci,dest={},name={name}", tar.display()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = rig.run_logged("buildctl", &args, &[]);
    assert!(o.ok, "build failed:\n{}", o.output);
    let layout = tempfile::tempdir().unwrap();
    let st = Command::new("tar")
        .arg("-C")
        .arg(layout.path())
        .arg("-xf")
        .arg(&tar)
        .status()
        .unwrap();
    assert!(st.success());
    Built {
        ctx,
        repo: repo.to_string(),
        tag: "1".into(),
        layout,
    }
}

struct Verified {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Verified {
    /// (platform, check, result, detail) of each table row.
    fn rows(&self) -> Vec<(String, String, String, String)> {
        let mut lines = self.stdout.lines();
        let header = lines.next().unwrap_or_default();
        assert!(header.starts_with("PLATFORM"), "{}", self.stdout);
        lines
            .map(|l| {
                // the columns are padded with spaces; DETAIL has its whitespace collapsed
                let mut f = l.split_whitespace();
                let mut next = || f.next().unwrap_or_default().to_string();
                let (platform, check, result) = (next(), next(), next());
                (platform, check, result, f.collect::<Vec<_>>().join(" "))
            })
            .collect()
    }

    /// The row of `check` (the only platform built is linux/amd64).
    fn row(&self, check: &str) -> (String, String) {
        let rows = self.rows();
        let r = rows
            .iter()
            .find(|r| r.1 == check)
            .unwrap_or_else(|| panic!("no {check} row:\n{}{}", self.stdout, self.stderr));
        (r.2.clone(), r.3.clone())
    }

    fn assert_ok(&self, check: &str) {
        let (result, detail) = self.row(check);
        assert_eq!(
            result, "ok",
            "{check}: {detail}\n{}{}",
            self.stdout, self.stderr
        );
    }

    fn assert_fail(&self, check: &str, want: &str) {
        let (result, detail) = self.row(check);
        assert_eq!(result, "FAIL", "{check}: {detail}\n{}", self.stdout);
        assert!(detail.contains(want), "{check}: want {want:?} in {detail}");
    }
}

fn verify(args: &[&str]) -> Verified {
    let out = Command::new(env!("CARGO_BIN_EXE_verified-frontend"))
        .arg("verify")
        .args(args)
        .output()
        .expect("run verified-frontend verify");
    Verified {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(args).output().expect("curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Uploads a blob to the rig registry; returns its digest.
fn put_blob(rig: &Rig, repo: &str, data: &[u8]) -> String {
    let digest = sha256(data);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), data).unwrap();
    let headers = curl(&[
        "-sS",
        "-f",
        "-X",
        "POST",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("http://{}/v2/{repo}/blobs/uploads/", rig.registry),
    ]);
    let location = headers
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("location")
                .then(|| v.trim().to_string())
        })
        .expect("upload location");
    let location = if location.starts_with('/') {
        format!("http://{}{location}", rig.registry)
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    curl(&[
        "-sS",
        "-f",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", file.path().display()),
        &format!("{location}{sep}digest={}", digest.replace(':', "%3A")),
    ]);
    digest
}

fn put_manifest(rig: &Rig, repo: &str, reference: &str, data: &[u8], media_type: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), data).unwrap();
    curl(&[
        "-sS",
        "-f",
        "-X",
        "PUT",
        "-H",
        &format!("Content-Type: {media_type}"),
        "--data-binary",
        &format!("@{}", file.path().display()),
        &format!("http://{}/v2/{repo}/manifests/{reference}", rig.registry),
    ]);
}

/// Pushes `repo:new_tag`: the image of `repo:tag` with its VSA statement edited, the
/// attestation manifest and index re-serialized with the new digests.
fn tampered_copy(rig: &Rig, b: &Built, new_tag: &str, edit: impl Fn(&mut Value, &str)) {
    let repo = &b.repo;
    let mut index = rig.json(&format!("{repo}/manifests/{}", b.tag), OCI_INDEX);
    let entries = index["manifests"].as_array_mut().unwrap();
    let att_entry = entries
        .iter_mut()
        .find(|e| e["annotations"]["vnd.docker.reference.type"] == "attestation-manifest")
        .expect("an attestation manifest");
    let image = att_entry["annotations"]["vnd.docker.reference.digest"]
        .as_str()
        .unwrap()
        .to_string();
    let att_digest = att_entry["digest"].as_str().unwrap().to_string();
    let mut att = rig.json(&format!("{repo}/manifests/{att_digest}"), OCI_MANIFEST);
    let layer = att["layers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|l| l["annotations"]["in-toto.io/predicate-type"] == VSA)
        .expect("a VSA layer");
    let mut stmt = rig.json(
        &format!("{repo}/blobs/{}", layer["digest"].as_str().unwrap()),
        "*/*",
    );
    edit(&mut stmt, &image);
    let stmt = serde_json::to_vec(&stmt).unwrap();
    layer["digest"] = put_blob(rig, repo, &stmt).into();
    layer["size"] = stmt.len().into();
    let att = serde_json::to_vec(&att).unwrap();
    let att_digest = sha256(&att);
    put_manifest(rig, repo, &att_digest, &att, OCI_MANIFEST);
    att_entry["digest"] = att_digest.into();
    att_entry["size"] = att.len().into();
    put_manifest(
        rig,
        repo,
        new_tag,
        &serde_json::to_vec(&index).unwrap(),
        OCI_INDEX,
    );
}

/// Runs bash with scripts/sigkit.sh sourced.
fn sigkit(rig: &Rig, script: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; source scripts/sigkit.sh; sigkit=$(sigkit_build); {script}"
        ))
        .current_dir(&rig.root)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{script}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Signs the attestation manifest of `repo:1` (linux/amd64) with the rig's throwaway root,
/// as docker/github-builder would, and attaches the bundle as an OCI 1.1 referrer; returns
/// the referrer manifest's digest.
fn sign(rig: &Rig, repo: &str) -> String {
    let work = tempfile::tempdir().unwrap();
    let reg = &rig.registry;
    sigkit(
        rig,
        &format!(
            r#"read -r -a att <<<"$(attestation_manifest {reg} {repo} 1 linux/amd64)"
"$sigkit" sign --root "$VF_RIG/sigstore" --digest "${{att[0]}}" --subject-name {reg}/{repo} \
  --timestamp --out {work}/bundle.json >/dev/null
attach_bundle {reg} {repo} "${{att[0]}}" "${{att[1]}}" "${{att[2]}}" {work}/bundle.json"#,
            work = work.path().display()
        ),
    )
    .trim()
    .to_string()
}

#[test]
fn a_verified_build_passes_from_the_registry_and_as_an_oci_layout() {
    let _s = serial();
    let rig = rig();
    let b = build(&rig, "verify-built");
    let policy = b.policy();
    let index: Value =
        serde_json::from_slice(&std::fs::read(b.layout.path().join("index.json")).unwrap())
            .unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    for image in [
        b.reference(),
        format!("127.0.0.1:5000/{}@{digest}", b.repo),
        b.layout_ref(),
        format!("{}:1", b.layout_ref()),
        format!("{}@{digest}", b.layout_ref()),
    ] {
        let v = verify(&["--policy", &policy, &image]);
        assert_eq!(v.code, 0, "{image}:\n{}{}", v.stdout, v.stderr);
        for check in [
            "attestation",
            "vsa",
            "report",
            "provenance",
            "policy-digest",
            "policy",
            "signature",
        ] {
            v.assert_ok(check);
        }
        assert!(
            v.rows().iter().all(|r| r.0 == "linux/amd64"),
            "{}",
            v.stdout
        );
        let (_, vsa) = v.row("vsa");
        assert!(vsa.starts_with("PASSED by verified-frontend"), "{vsa}");
        let (_, report) = v.row("report");
        assert!(report.contains("all allowed"), "{report}");
        let (_, prov) = v.row("provenance");
        assert!(prov.starts_with("https://slsa.dev/provenance/"), "{prov}");
        let (_, decided) = v.row("policy");
        let tag = if image.contains('@') { "" } else { ":1" };
        assert!(
            decided.contains(&format!("allows 127.0.0.1:5000/verify-built{tag}@{digest}")),
            "{image}: {decided}"
        );
        let (_, sig) = v.row("signature");
        assert!(sig.contains("not required"), "{sig}");
        assert!(v.stderr.contains("all 7 checks passed"), "{}", v.stderr);
    }
    // Without a policy the attestation checks alone; --platform selects.
    let v = verify(&["--platform", "linux/amd64", &b.layout_ref()]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert_eq!(v.rows().len(), 5, "{}", v.stdout);
    let v = verify(&["--platform", "linux/arm64", &b.layout_ref()]);
    assert_eq!(v.code, 2);
    assert!(
        v.stderr
            .contains("the image has no platform linux/arm64 (it has: linux/amd64)"),
        "{}",
        v.stderr
    );
}

#[test]
fn tampered_attestations_fail_naming_the_problem() {
    let _s = serial();
    let rig = rig();
    let b = build(&rig, "verify-tampered");
    let policy = b.policy();
    let image_of = |tag: &str| format!("127.0.0.1:5000/{}:{tag}", b.repo);

    tampered_copy(&rig, &b, "vsa-failed", |s, _| {
        s["predicate"]["verificationResult"] = "FAILED".into();
    });
    let v = verify(&["--policy", &policy, &image_of("vsa-failed")]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    v.assert_fail("vsa", "verificationResult is \"FAILED\"");
    v.assert_fail("report", "disagrees with the VSA's \"FAILED\"");
    v.assert_ok("attestation");

    tampered_copy(&rig, &b, "other-subject", |s, _| {
        s["subject"][0]["digest"]["sha256"] = "0".repeat(64).into();
    });
    let v = verify(&["--policy", &policy, &image_of("other-subject")]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    v.assert_fail(
        "vsa",
        &format!(
            "subject names sha256:{}, not the image manifest",
            "0".repeat(64)
        ),
    );
    // without a VSA about the image there is nothing the policy's digest can match
    v.assert_fail("policy-digest", "no VSA about this image");

    tampered_copy(&rig, &b, "other-verifier", |s, _| {
        s["predicate"]["verifier"]["id"] = "https://example.com/lenient-verifier".into();
    });
    let v = verify(&[&image_of("other-verifier")]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    v.assert_fail(
        "vsa",
        "verifier.id is \"https://example.com/lenient-verifier\"",
    );

    // The untouched image under a policy it was not verified under.
    let other = testdata().join("other.rego");
    let v = verify(&["--policy", &other.display().to_string(), &b.reference()]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    v.assert_fail("policy-digest", "the VSA names sha256:");
    v.assert_ok("vsa");
}

/// The layout's VSA blob and attestation manifest, found through its index.
fn layout_blobs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let read = |p: &Path| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let top = read(&dir.join("index.json"));
    let root_path = blob(top["manifests"][0]["digest"].as_str().unwrap());
    let root = read(&root_path);
    let att = root["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["vnd.docker.reference.type"] == "attestation-manifest")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let att_path = blob(&att);
    let vsa = read(&att_path)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["annotations"]["in-toto.io/predicate-type"] == VSA)
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    (root_path, att_path, blob(&vsa))
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn an_oci_layout_with_edited_blobs_fails_and_bad_input_exits_2() {
    let _s = serial();
    let rig = rig();
    let b = build(&rig, "verify-layout");
    let policy = b.policy();

    // The VSA's blob edited in place: its bytes no longer match its digest.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(b.layout.path(), copy.path());
    let (_, _, vsa) = layout_blobs(copy.path());
    let text = std::fs::read_to_string(&vsa).unwrap();
    assert!(text.contains("\"PASSED\""));
    std::fs::write(&vsa, text.replace("\"PASSED\"", "\"FAILED\"")).unwrap();
    let layout = format!("oci-layout://{}", copy.path().display());
    let v = verify(&["--policy", &policy, &layout]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    v.assert_fail("vsa", "hashes to sha256:");
    v.assert_ok("provenance");

    // The attestation manifest edited: nothing it lists can be trusted. One byte more than
    // its descriptor says is not read at all.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(b.layout.path(), copy.path());
    let (_, att, _) = layout_blobs(copy.path());
    let mut data = std::fs::read(&att).unwrap();
    data.push(b'\n');
    std::fs::write(&att, data).unwrap();
    let v = verify(&[&format!("oci-layout://{}", copy.path().display())]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    v.assert_fail("attestation", "bytes its descriptor says");

    // The root index edited: not even the platforms are known.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(b.layout.path(), copy.path());
    let (root, _, _) = layout_blobs(copy.path());
    let mut data = std::fs::read(&root).unwrap();
    data.push(b' ');
    std::fs::write(&root, data).unwrap();
    let v = verify(&[&format!("oci-layout://{}", copy.path().display())]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    let rows = v.rows();
    assert_eq!(rows.len(), 1, "{}", v.stdout);
    assert_eq!((rows[0].1.as_str(), rows[0].2.as_str()), ("image", "FAIL"));
    assert!(rows[0].3.contains("hashes to"), "{}", rows[0].3);

    // Bad input: a malformed index.json, a missing layout, a missing policy, an unknown
    // tag, a registry image that does not exist. One line on stderr, exit 2, no table.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(b.layout.path(), copy.path());
    std::fs::write(copy.path().join("index.json"), "{not json").unwrap();
    let missing = copy.path().join("nope");
    for (args, want) in [
        (
            vec![format!("oci-layout://{}", copy.path().display())],
            "index.json: not JSON".to_string(),
        ),
        (
            vec![format!("oci-layout://{}", missing.display())],
            "not an OCI image layout".to_string(),
        ),
        (
            vec![
                "--policy".into(),
                missing.join("policy.rego").display().to_string(),
                b.layout_ref(),
            ],
            "No such file".to_string(),
        ),
        (
            vec![format!("{}:2", b.layout_ref())],
            "index.json has no image tagged 2".to_string(),
        ),
        (
            vec!["127.0.0.1:5000/verify-layout:no-such-tag".into()],
            "127.0.0.1:5000/verify-layout:no-such-tag: not in the registry".to_string(),
        ),
        (vec![], "no IMAGE given".to_string()),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v = verify(&args);
        assert_eq!(v.code, 2, "{args:?}:\n{}{}", v.stdout, v.stderr);
        assert!(v.stdout.is_empty(), "{args:?}: {}", v.stdout);
        assert!(
            v.stderr.contains(&want),
            "{args:?}: want {want:?} in {}",
            v.stderr
        );
        assert!(v.stderr.starts_with("verify: "), "{}", v.stderr);
    }
}

#[test]
fn signatures_over_the_attestation_manifest_verify_under_the_trusted_root_given() {
    let _s = serial();
    let rig = rig();
    let root = rig.trusted_root().display().to_string();

    // Unsigned: with --trusted-root a verified signature is required.
    let b = build(&rig, "verify-unsigned");
    let v = verify(&[
        "--trusted-root",
        &root,
        "--policy",
        &b.policy(),
        &b.reference(),
    ]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    v.assert_fail(
        "signature",
        "no verified signature (--trusted-root requires one)",
    );
    v.assert_ok("policy");

    // Signed by the kit as docker/github-builder signs: verified under the rig's root.
    let b = build(&rig, "verify-signed");
    let referrer = sign(&rig, &b.repo);
    let v = verify(&[
        "--trusted-root",
        &root,
        "--policy",
        &b.policy(),
        &b.reference(),
    ]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    v.assert_ok("signature");
    let (_, sig) = v.row("signature");
    assert!(
        sig.starts_with(
            "verified: docker-github-builder signature by https://github.com/docker/github-builder/"
        ),
        "{sig}"
    );
    // The same build as an OCI layout, offline: unsigned until the referrer manifest and
    // its bundle are put among the layout's blobs, where the manifest's subject finds it.
    let layout = b.layout_ref();
    let v = verify(&["--trusted-root", &root, &layout]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    v.assert_fail("signature", "no verified signature");
    let manifest = rig.get(&format!("{}/manifests/{referrer}", b.repo), OCI_MANIFEST);
    let m: Value = serde_json::from_slice(&manifest).unwrap();
    let bundle = m["layers"][0]["digest"].as_str().unwrap().to_string();
    let blobs = b.layout.path().join("blobs/sha256");
    std::fs::write(
        blobs.join(referrer.trim_start_matches("sha256:")),
        &manifest,
    )
    .unwrap();
    std::fs::write(
        blobs.join(bundle.trim_start_matches("sha256:")),
        rig.get(&format!("{}/blobs/{bundle}", b.repo), "*/*"),
    )
    .unwrap();
    let v = verify(&["--trusted-root", &root, "--policy", &b.policy(), &layout]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let (_, sig) = v.row("signature");
    assert!(
        sig.starts_with("verified: docker-github-builder signature"),
        "{sig}"
    );

    // Under the embedded public-good and GitHub roots (the default) the throwaway CA does
    // not verify: a signature that is there and does not verify fails the image, as a
    // tampered one would.
    let v = verify(&[&b.reference()]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    let (result, sig) = v.row("signature");
    assert_eq!(result, "FAIL");
    assert!(
        sig.contains("no verified signature; not accepted:")
            && sig.contains("does not verify")
            && sig.contains("signatures are present and none verifies"),
        "{sig}"
    );
}
