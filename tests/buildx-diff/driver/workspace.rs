//! Writes a case out as two build contexts, `bx/` (Buildx evaluates the policy) and `vf/`
//! (the same files, the Dockerfile behind a `# syntax=` line naming the frontend), with the
//! rig's digests, commits and checksums filled in for `<<...>>` placeholders.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use super::corpus::{Case, Kind};
use crate::common::Rig;

/// One side's build: its context directory and what to pass to `buildx build`.
pub struct Side {
    pub dir: PathBuf,
    pub dockerfile: String,
    pub flags: Vec<String>,
    pub policies: Vec<String>,
}

pub struct Written {
    pub buildx: Side,
    pub frontend: Side,
}

/// `<<digest repo:tag>>`, `<<commit repo.git ref>>`, `<<rev repo.git ref>>`,
/// `<<sha256 path-under-rig>>`, `<<dir>>` (the side's context), `<<keys>>`.
pub struct Placeholders<'a> {
    rig: &'a Rig,
    rig_dir: PathBuf,
    cache: HashMap<String, String>,
}

impl<'a> Placeholders<'a> {
    pub fn new(rig: &'a Rig) -> Self {
        let rig_dir = PathBuf::from(std::env::var("VF_RIG").expect("VF_RIG"));
        Placeholders {
            rig,
            rig_dir,
            cache: HashMap::new(),
        }
    }

    pub fn keys(&self) -> PathBuf {
        self.rig_dir.join("keys")
    }

    pub fn fill(&mut self, text: &str, dir: &Path) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("<<") {
            let end = rest[start..]
                .find(">>")
                .unwrap_or_else(|| panic!("unclosed << in {text}"));
            out.push_str(&rest[..start]);
            let key = rest[start + 2..start + end].trim();
            out.push_str(&match key {
                "dir" => dir.display().to_string(),
                "keys" => self.keys().display().to_string(),
                _ => self.lookup(key),
            });
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn lookup(&mut self, key: &str) -> String {
        if let Some(v) = self.cache.get(key) {
            return v.clone();
        }
        let words: Vec<&str> = key.split_whitespace().collect();
        let value = match words.as_slice() {
            ["digest", image] => self.digest(image),
            ["commit", repo, rev] => self.git(repo, &format!("{rev}^{{commit}}")),
            ["rev", repo, rev] => self.git(repo, rev),
            ["sha256", path] => {
                let data = std::fs::read(self.rig_dir.join(path))
                    .unwrap_or_else(|e| panic!("<<sha256 {path}>>: {e}"));
                format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
            }
            _ => panic!("unknown placeholder <<{key}>>"),
        };
        self.cache.insert(key.to_string(), value.clone());
        value
    }

    /// The digest the registry serves for `repo:tag`: the index, or the bare manifest.
    fn digest(&self, image: &str) -> String {
        let (repo, tag) = image.rsplit_once(':').expect("repo:tag");
        let accept = format!(
            "{}, {}",
            crate::common::OCI_INDEX,
            crate::common::OCI_MANIFEST
        );
        let body = self.rig.get(&format!("{repo}/manifests/{tag}"), &accept);
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)))
    }

    fn git(&self, repo: &str, rev: &str) -> String {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(self.rig_dir.join("git").join(repo))
            .args(["rev-parse", rev])
            .output()
            .expect("git");
        assert!(out.status.success(), "git rev-parse {rev} in {repo}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

/// Writes both sides of `case` on `kind` under `out` (emptied first).
pub fn write(ph: &mut Placeholders, kind: &Kind, case: &Case, out: &Path) -> Written {
    let _ = std::fs::remove_dir_all(out);
    let policy = super::corpus::policy(case, &kind.target);
    let side = |ph: &mut Placeholders, name: &str, syntax: bool| {
        let dir = out.join(name);
        copy_dir(&kind.dir, &dir);
        for meta in super::corpus::KIND_META {
            let _ = std::fs::remove_file(dir.join(meta));
        }
        let dockerfile = ph.fill(
            &std::fs::read_to_string(kind.dir.join(&kind.dockerfile)).unwrap(),
            &dir,
        );
        let dockerfile = if syntax {
            format!("# syntax={}\n{dockerfile}", super::corpus::frontend_ref())
        } else {
            dockerfile
        };
        std::fs::write(dir.join(&kind.dockerfile), dockerfile).unwrap();
        let rego = format!("{}.rego", kind.dockerfile);
        std::fs::write(dir.join(rego), ph.fill(&policy, &dir)).unwrap();
        for (file, text) in &case.files {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let text = text.replace("{FRONTEND}", &super::corpus::frontend_rule());
            std::fs::write(path, ph.fill(&text, &dir)).unwrap();
        }
        for file in &case.copies {
            std::fs::copy(ph.keys().join(file), dir.join(file))
                .unwrap_or_else(|e| panic!("{}: copy={file}: {e}", case.name));
        }
        let flags = kind.flags.iter().chain(&case.flags);
        Side {
            flags: flags.map(|f| ph.fill(f, &dir)).collect(),
            dir,
            dockerfile: kind.dockerfile.clone(),
            policies: case.policies.clone(),
        }
    };
    Written {
        buildx: side(ph, "bx", false),
        frontend: side(ph, "vf", true),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}
