//! The rig as the tests see it: buildctl and buildx against the real buildkitd, and the
//! registry read back over HTTP. `scripts/test.sh` starts the rig and exports its addresses.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

/// Builds run one at a time: the machine has two cores, and a test that reads the
/// frontend's log must know the lines it finds are its own build's.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Rig {
    pub root: PathBuf,
    pub registry: String,
    pub frontend: String,
    pub buildkitd_log: PathBuf,
    pub dockerd_log: PathBuf,
    pub docker_host: String,
}

pub fn rig() -> Rig {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: run the end-to-end tests through scripts/test.sh, which starts the rig")
        })
    };
    let rig_dir = PathBuf::from(var("VF_RIG"));
    Rig {
        root: PathBuf::from(var("VF_ROOT")),
        registry: var("VF_REGISTRY"),
        frontend: var("VF_FRONTEND_IMAGE"),
        buildkitd_log: rig_dir.join("run/buildkitd.log"),
        dockerd_log: rig_dir.join("run/dockerd.log"),
        docker_host: var("VF_DOCKER_HOST"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// BuildKit's Dockerfile frontend alone: `cmdline` set, so the `# syntax=` line is not followed.
    Plain,
    /// What users do: dockerfile.v0 follows `# syntax=` to the verified frontend.
    Syntax,
    /// `--frontend gateway.v0 --opt source=<verified-frontend>`.
    Gateway,
}

pub struct Outcome {
    pub ok: bool,
    pub output: String,
    /// What the frontend wrote to buildkitd's log during this build.
    pub frontend_log: String,
}

impl Outcome {
    /// The frontend's report for the (last) build in this outcome.
    pub fn report(&self) -> Value {
        let line = self
            .frontend_log
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("verified-frontend: report "))
            .unwrap_or_else(|| {
                panic!(
                    "the verified frontend did not run; output:\n{}\nlog:\n{}",
                    self.output, self.frontend_log
                )
            });
        serde_json::from_str(line).expect("report is JSON")
    }

    /// The client's last line: where BuildKit prints the error.
    pub fn last_line(&self) -> &str {
        self.output.lines().last().unwrap_or_default()
    }

    /// The build's error message, without the client's prefix (buildctl says "failed to
    /// solve" or "failed to run Build function" depending on where it saw the failure): from
    /// there to the end of the output, so a denial's first line (what and why) and the
    /// lines after it (what the policy saw) are both in it.
    pub fn error(&self) -> &str {
        let at = ["failed to solve: ", "failed to run Build function: "]
            .iter()
            .filter_map(|p| self.output.rfind(p).map(|i| i + p.len()))
            .max();
        match at {
            Some(i) => self.output[i..].trim_end(),
            None => {
                let line = self.last_line();
                line.strip_prefix("error: ").unwrap_or(line)
            }
        }
    }
}

impl Rig {
    /// The throwaway Sigstore trust root the fixtures signed images under.
    pub fn trusted_root(&self) -> PathBuf {
        PathBuf::from(std::env::var("VF_RIG").expect("VF_RIG")).join("sigstore/trusted_root.json")
    }

    /// A scratch build context: testdata/policy/signed's policy, the rig's trust root beside
    /// it, and `dockerfile` (which typically builds on one of the `signed:<tag>` fixtures).
    pub fn signed_case(&self, dockerfile: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let policy = self.root.join("testdata/policy/signed/policy.rego");
        std::fs::copy(policy, dir.path().join("policy.rego")).unwrap();
        std::fs::copy(self.trusted_root(), dir.path().join("trusted_root.json")).unwrap();
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        dir
    }

    pub fn example(&self, name: &str) -> PathBuf {
        self.root.join("testdata/examples").join(name)
    }

    /// Builds `dir` and, when `push` names a repository:tag, pushes it to the rig registry.
    pub fn build(
        &self,
        dir: &std::path::Path,
        mode: Mode,
        extra: &[&str],
        push: Option<&str>,
    ) -> Outcome {
        let ctx = format!("context={}", dir.display());
        let df = format!("dockerfile={}", dir.display());
        let mut args: Vec<String> = vec!["build".into(), "--progress".into(), "plain".into()];
        match mode {
            Mode::Plain => args.extend(
                ["--frontend", "dockerfile.v0", "--opt", "cmdline=plain"].map(String::from),
            ),
            Mode::Syntax => args.extend(["--frontend", "dockerfile.v0"].map(String::from)),
            Mode::Gateway => {
                args.extend(["--frontend", "gateway.v0", "--opt"].map(String::from));
                args.push(format!("source={}", self.frontend));
            }
        }
        args.extend(["--local".into(), ctx, "--local".into(), df]);
        args.extend(extra.iter().map(|s| s.to_string()));
        if let Some(name) = push {
            args.push("--output".into());
            args.push(format!(
                "type=image,name={}/{name},push=true,oci-mediatypes=true",
                self.registry
            ));
        }
        self.run_logged("buildctl", &args, &[])
    }

    /// Runs a client of buildkitd and collects what the frontend logged meanwhile.
    pub fn run_logged(&self, program: &str, args: &[String], env: &[(&str, &str)]) -> Outcome {
        self.run_logged_in(&self.buildkitd_log, program, args, env)
    }

    /// Runs a build client; `log` is the log of the daemon that runs the frontend.
    pub fn run_logged_in(
        &self,
        log: &std::path::Path,
        program: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Outcome {
        let before = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        let out = Command::new(program)
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let log = std::fs::read(log).unwrap_or_default();
        let new = String::from_utf8_lossy(&log[(before as usize).min(log.len())..]).to_string();
        Outcome {
            ok: out.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            frontend_log: new
                .lines()
                .filter(|l| l.starts_with("verified-frontend:"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    pub fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let url = format!("http://{}/v2/{path}", self.registry);
        let out = Command::new("curl")
            .args(["-fsS", "-H", &format!("Accept: {accept}"), &url])
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "GET {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    pub fn json(&self, path: &str, accept: &str) -> Value {
        serde_json::from_slice(&self.get(path, accept)).expect("registry returned JSON")
    }

    /// The image index pushed as `repo:tag`: (platform, manifest) per image, attestation
    /// manifests excluded, and the attestation manifests keyed by the image they describe.
    pub fn image(&self, repo: &str, tag: &str) -> Image {
        let top = self.json(
            &format!("{repo}/manifests/{tag}"),
            &format!("{OCI_INDEX}, {OCI_MANIFEST}"),
        );
        let mut images = Vec::new();
        let mut attestations = Vec::new();
        if top["mediaType"] == OCI_MANIFEST {
            // A single-platform build without attestations is pushed as a bare manifest.
            let config = self.json(
                &format!("{repo}/blobs/{}", top["config"]["digest"].as_str().unwrap()),
                "*/*",
            );
            images.push(PlatformImage {
                platform: format!(
                    "{}/{}",
                    config["os"].as_str().unwrap(),
                    config["architecture"].as_str().unwrap()
                ),
                digest: String::new(),
                manifest: top,
                config,
            });
            return Image {
                repo: repo.to_string(),
                images,
                attestations,
            };
        }
        for m in top["manifests"].as_array().expect("an index") {
            let digest = m["digest"].as_str().unwrap().to_string();
            let manifest = self.json(&format!("{repo}/manifests/{digest}"), OCI_MANIFEST);
            if m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest" {
                attestations.push((
                    m["annotations"]["vnd.docker.reference.digest"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    manifest,
                ));
            } else {
                let p = &m["platform"];
                let platform = format!(
                    "{}/{}",
                    p["os"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap()
                );
                let config = self.json(
                    &format!(
                        "{repo}/blobs/{}",
                        manifest["config"]["digest"].as_str().unwrap()
                    ),
                    "*/*",
                );
                images.push(PlatformImage {
                    platform,
                    digest,
                    manifest,
                    config,
                });
            }
        }
        images.sort_by(|a, b| a.platform.cmp(&b.platform));
        Image {
            repo: repo.to_string(),
            images,
            attestations,
        }
    }

    /// SLSA provenance predicates attached to the image, one per platform.
    pub fn provenance(&self, img: &Image) -> Vec<Value> {
        let mut out = Vec::new();
        for (_, att) in &img.attestations {
            for layer in att["layers"].as_array().unwrap() {
                let pt = layer["annotations"]["in-toto.io/predicate-type"]
                    .as_str()
                    .unwrap_or("");
                if pt.starts_with("https://slsa.dev/provenance/") {
                    let stmt = self.json(
                        &format!("{}/blobs/{}", img.repo, layer["digest"].as_str().unwrap()),
                        "*/*",
                    );
                    out.push(stmt["predicate"].clone());
                }
            }
        }
        out
    }
}

impl Rig {
    /// In-toto statements of `predicate_type` attached to the image: (image manifest the
    /// attestation manifest describes, statement).
    pub fn statements(&self, img: &Image, predicate_type: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for (image, att) in &img.attestations {
            for layer in att["layers"].as_array().unwrap() {
                if layer["annotations"]["in-toto.io/predicate-type"] == predicate_type {
                    let stmt = self.json(
                        &format!("{}/blobs/{}", img.repo, layer["digest"].as_str().unwrap()),
                        "*/*",
                    );
                    out.push((image.clone(), stmt));
                }
            }
        }
        out
    }
}

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

pub struct PlatformImage {
    pub platform: String,
    pub digest: String,
    pub manifest: Value,
    pub config: Value,
}

pub struct Image {
    pub repo: String,
    pub images: Vec<PlatformImage>,
    pub attestations: Vec<(String, Value)>,
}

impl PlatformImage {
    pub fn layers(&self) -> Vec<String> {
        self.manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A copy of a case directory the test may add files to.
pub fn scratch_copy(src: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

impl Rig {
    /// The digest the registry serves for repo:tag (the index).
    pub fn digest_of(&self, repo: &str, tag: &str) -> String {
        use sha2::Digest;
        let body = self.get(&format!("{repo}/manifests/{tag}"), OCI_INDEX);
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)))
    }
}

/// Warnings in the progress stream (what `docker buildx build` prints as "N warnings
/// found"): (text, file, first line).
pub fn warnings(raw: &str) -> Vec<(String, String, i64)> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for line in raw.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for w in v["warnings"].as_array().into_iter().flatten() {
            let text =
                String::from_utf8(b64.decode(w["short"].as_str().unwrap()).unwrap()).unwrap();
            let file = w["sourceInfo"]["filename"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let line = w["range"][0]["start"]["line"].as_i64().unwrap_or(0);
            out.push((text, file, line));
        }
    }
    out
}
