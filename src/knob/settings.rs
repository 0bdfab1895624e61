//! The settings file beside the Dockerfile (`Dockerfile.verified.json`): the few real
//! choices the built-in policy leaves open, validated before any source is decided so a
//! typo fails the build with the file, the field and what is wrong, instead of silently
//! trusting less (or more) than meant.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sources::ImageRef;

/// The settings as the policy reads them (`settings.json`), normalized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Reusable workflows trusted beside docker/github-builder, as
    /// `https://github.com/<owner>/<repo>/.github/workflows/<file>` (any ref).
    pub builders: Vec<String>,
    /// Image repository (`docker.io/acme/app`, as `input.image.fullRepo`) → the GitHub
    /// repositories (`owner/name`) its releases are built from; replaces the default mapping.
    pub repositories: BTreeMap<String, Vec<String>>,
    /// Downloads verified by a Sigstore bundle beside the Dockerfile.
    pub downloads: Vec<Download>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Download {
    pub url: String,
    /// The bundle's path beside the Dockerfile.
    pub bundle: String,
    /// The GitHub repository docker/github-builder built it from.
    pub repo: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    #[serde(default)]
    builders: Vec<String>,
    #[serde(default)]
    repositories: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    downloads: Vec<Download>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Settings {
    /// Parses and checks the file `path` (named in every error).
    pub fn parse(path: &str, data: &[u8]) -> Result<Self> {
        let err = |message: String| Error::Policy {
            file: path.to_string(),
            message,
        };
        let w: Written = serde_json::from_slice(data).map_err(|e| err(e.to_string()))?;
        let mut out = Settings::default();
        for b in w.builders {
            out.builders
                .push(builder(&b).map_err(|m| err(format!("builders: {m}")))?);
        }
        for (image, repos) in w.repositories {
            let full = full_repo(&image).map_err(|m| err(format!("repositories: {m}")))?;
            let repos = match repos {
                OneOrMany::One(r) => vec![r],
                OneOrMany::Many(v) => v,
            };
            if repos.is_empty() {
                return Err(err(format!(
                    "repositories: {image:?} maps to no GitHub repository"
                )));
            }
            for r in &repos {
                github_repo(r).map_err(|m| err(format!("repositories: {image:?}: {m}")))?;
            }
            out.repositories.insert(full, repos);
        }
        for d in w.downloads {
            download(&d).map_err(|m| err(format!("downloads: {m}")))?;
            out.downloads.push(d);
        }
        Ok(out)
    }

    /// The bundle files the settings name, to be read beside the Dockerfile.
    pub fn bundles(&self) -> Vec<&str> {
        self.downloads.iter().map(|d| d.bundle.as_str()).collect()
    }
}

const GITHUB: &str = "https://github.com/";

fn builder(b: &str) -> Result<String, String> {
    let want = "want https://github.com/<owner>/<repo>/.github/workflows/<file>, without @ref";
    let rest = b
        .strip_prefix(GITHUB)
        .ok_or_else(|| format!("{b:?}: {want}"))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let ok = parts.len() == 5
        && parts[2] == ".github"
        && parts[3] == "workflows"
        && github_repo(&format!("{}/{}", parts[0], parts[1])).is_ok()
        && (parts[4].ends_with(".yml") || parts[4].ends_with(".yaml"))
        && !b.contains('@');
    if ok {
        Ok(b.to_string())
    } else {
        Err(format!("{b:?}: {want}"))
    }
}

/// A GitHub `owner/name`.
fn github_repo(r: &str) -> Result<(), String> {
    let name_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    };
    match r.split_once('/') {
        Some((o, n)) if name_ok(o) && name_ok(n) => Ok(()),
        _ => Err(format!("{r:?} is not a GitHub repository (owner/name)")),
    }
}

/// An image repository as the policy input's `fullRepo` names it.
fn full_repo(image: &str) -> Result<String, String> {
    let r = ImageRef::normalize(image).map_err(|e| format!("{image:?}: {e}"))?;
    if r.digest.is_some() || image.rsplit('/').next().is_some_and(|l| l.contains(':')) {
        return Err(format!(
            "{image:?} names a tag or digest; name the repository only"
        ));
    }
    Ok(r.name)
}

fn download(d: &Download) -> Result<(), String> {
    if !(d.url.starts_with("https://") || d.url.starts_with("http://")) {
        return Err(format!("url {:?} is not an http(s) URL", d.url));
    }
    let b = &d.bundle;
    if b.is_empty() || b.starts_with('/') || b.split('/').any(|c| c == "..") {
        return Err(format!("bundle {b:?} must be a path beside the Dockerfile"));
    }
    github_repo(&d.repo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_what_it_accepts() {
        let s = Settings::parse(
            "Dockerfile.verified.json",
            br#"{"builders": ["https://github.com/acme/ci/.github/workflows/release.yml"],
                "repositories": {"acme/app": "acme/app-src", "127.0.0.1:5000/vf": ["o/vf", "o/vf2"]},
                "downloads": [{"url": "https://h/t.tgz", "bundle": "t.sigstore.json", "repo": "acme/t"}]}"#,
        )
        .unwrap();
        assert_eq!(s.repositories["docker.io/acme/app"], ["acme/app-src"]);
        assert_eq!(s.repositories["127.0.0.1:5000/vf"], ["o/vf", "o/vf2"]);
        assert_eq!(s.bundles(), ["t.sigstore.json"]);
        assert_eq!(s.builders.len(), 1);
        assert_eq!(Settings::parse("f", b"{}").unwrap(), Settings::default());
    }

    #[test]
    fn bad_settings_are_one_clear_line() {
        for (text, want) in [
            (r#"{"builder": []}"#, "unknown field `builder`"),
            (
                r#"{"builders": ["docker/github-builder"]}"#,
                "builders: \"docker/github-builder\"",
            ),
            (
                r#"{"builders": ["https://github.com/a/b/.github/workflows/r.yml@refs/heads/main"]}"#,
                "without @ref",
            ),
            (
                r#"{"repositories": {"acme/app:1": "acme/app"}}"#,
                "names a tag or digest",
            ),
            (
                r#"{"repositories": {"acme/app": "app"}}"#,
                "not a GitHub repository",
            ),
            (
                r#"{"repositories": {"acme/app": []}}"#,
                "maps to no GitHub repository",
            ),
            (
                r#"{"repositories": {"Acme/App": "a/b"}}"#,
                "repositories: \"Acme/App\"",
            ),
            (
                r#"{"downloads": [{"url": "https://h/x", "bundle": "../x.json", "repo": "a/b"}]}"#,
                "beside the Dockerfile",
            ),
            ("{", "EOF"),
        ] {
            let e = Settings::parse("Dockerfile.verified.json", text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("policy Dockerfile.verified.json: ") && e.contains(want),
                "{text}: {e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
