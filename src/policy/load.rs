//! Finding and reading policies, the way Buildx does: `<Dockerfile name>.rego` beside the
//! Dockerfile (optional), plus every file named by the `policy` option (resolved in the build
//! context; each must exist). A module's `import data.a.b` loads `a/b.rego` from the same
//! directory, and `load_json("x.json")` files are read with it.
//!
//! Nothing here knows where the files are: the frontend hands in each place as a
//! `Directory` (a client's local directory or a solved ref, read through the gateway), the
//! `verify` subcommand and the tests a directory on this machine (`FsDir`).

use std::collections::{BTreeMap, BTreeSet};

use super::PolicySource;
use crate::error::{Error, Result};
use crate::model::Mode;

mod nesting;

/// Imports are followed this deep; a deeper chain is most likely a cycle.
const MAX_IMPORT_DEPTH: usize = 16;

/// Where a policy and its imports are read from. (Only this crate implements it, so the
/// futures need no Send bound.)
#[allow(async_fn_in_trait)]
pub trait Reader {
    /// The file at `path`, `None` if it does not exist.
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>>;
}

/// A directory on this machine (used by tests and the `verify` tooling).
pub struct FsDir(pub std::path::PathBuf);

impl Reader for FsDir {
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match std::fs::read(self.0.join(path)) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Policy {
                file: path.to_string(),
                message: e.to_string(),
            }),
        }
    }
}

/// A directory of the build that policies are read from, as the frontend reaches it.
/// Opening names the files wanted, so a client's local directory sends only those.
#[allow(async_fn_in_trait)]
pub trait Directory {
    type Files: Reader;
    /// The files matching `patterns` (BuildKit include patterns, or exact paths); `what`
    /// names them in the client's progress.
    async fn open(&self, patterns: &[String], what: &str) -> Result<Self::Files>;
    /// The progress vertex warnings about policies read through `files` attach to.
    fn vertex(&self, files: &Self::Files) -> String;
    /// `path` as the user would look for it (`Dockerfile.rego in git://…#main`).
    fn describe(&self, path: &str) -> String;
}

/// What the build asks of the policies, from its options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadRequest {
    /// The `filename` option (the Dockerfile's path), if given: the automatic policy is
    /// named after it.
    pub filename: Option<String>,
    /// The `policy` option's files, in the build context, in order.
    pub policies: Vec<String>,
    pub mode: Mode,
    /// `policy-strict`: a build that decides sources must find a policy.
    pub strict: bool,
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `import data.a.b[.c]` lines of a module, as package paths (`a.b`).
fn imports(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("import "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|p| p.strip_prefix("data."))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Builtins whose string arguments name files beside the policy (data, keys, bundles).
const FILE_BUILTINS: [&str; 5] = [
    "load_json(",
    "verify_git_signature(",
    "verify_http_pgp_signature(",
    "artifact_attestation(",
    "docker_github_builder_bundle(",
];

/// String literals passed to file-reading builtins in a module: the files to read with it.
fn referenced_files(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in FILE_BUILTINS {
        let mut rest = text;
        while let Some(i) = rest.find(name) {
            rest = &rest[i + name.len()..];
            // the call's arguments, up to its closing parenthesis
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let args = &rest[..end];
            let mut parts = args.split('"');
            parts.next();
            while let Some(lit) = parts.next() {
                out.push(lit.to_string());
                parts.next();
            }
        }
    }
    out
}

/// Buildx loads an imported module under the package its import names, whatever the file
/// declares; do the same by rewriting its package line.
fn set_package(text: &str, package: &str) -> String {
    let mut done = false;
    text.lines()
        .map(|l| {
            if !done && l.trim_start().starts_with("package ") {
                done = true;
                format!("package {package}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A module's text, refused when it is not UTF-8 or nests too deeply to parse (`nesting`).
fn utf8(path: &str, data: Vec<u8>) -> Result<String> {
    let text = String::from_utf8(data).map_err(|_| Error::Policy {
        file: path.to_string(),
        message: "not UTF-8 text".into(),
    })?;
    nesting::check(path, &text)?;
    Ok(text)
}

/// Rego modules, wherever they are below a policy's directory.
fn rego_patterns() -> Vec<String> {
    vec!["*.rego".into(), "**/*.rego".into()]
}

/// Reads one policy, its imports and the files its builtins name, all from `dir`.
pub async fn read_policy(
    dir: &impl Reader,
    path: &str,
    label: String,
) -> Result<Option<PolicySource>> {
    let Some((mut src, wanted)) = read_modules(dir, path, label).await? else {
        return Ok(None);
    };
    read_files(dir, &mut src, &wanted).await?;
    Ok(Some(src))
}

/// A file a builtin names: its name in the policy, and its path in the directory.
type Wanted = (String, String);

/// Reads one policy and the modules it imports; returns it with the files its builtins
/// name (key files, bundles, data), which may have any name and are read separately.
async fn read_modules(
    dir: &impl Reader,
    path: &str,
    label: String,
) -> Result<Option<(PolicySource, Vec<Wanted>)>> {
    let Some(main) = dir.read(path).await? else {
        return Ok(None);
    };
    let base = dir_of(path).to_string();
    let mut src = PolicySource {
        name: label.clone(),
        modules: vec![(path.to_string(), utf8(path, main)?)],
        files: BTreeMap::new(),
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<(String, usize)> = imports(&src.modules[0].1)
        .into_iter()
        .map(|p| (p, 1))
        .collect();
    let mut wanted: Vec<Wanted> = Vec::new();
    wanted.extend(
        referenced_files(&src.modules[0].1)
            .iter()
            .filter_map(|f| wanted_file(&base, f)),
    );
    while let Some((package, depth)) = queue.pop() {
        if !seen.insert(package.clone()) {
            continue;
        }
        if depth > MAX_IMPORT_DEPTH {
            return Err(Error::Policy {
                file: label,
                message: format!(
                    "imports nest deeper than {MAX_IMPORT_DEPTH} levels at data.{package}"
                ),
            });
        }
        let file = join(&base, &format!("{}.rego", package.replace('.', "/")));
        let text = match dir.read(&file).await? {
            Some(t) => utf8(&file, t)?,
            None => {
                return Err(Error::Policy {
                    file: label,
                    message: format!("import data.{package}: {file} not found beside the policy"),
                });
            }
        };
        queue.extend(imports(&text).into_iter().map(|p| (p, depth + 1)));
        wanted.extend(
            referenced_files(&text)
                .iter()
                .filter_map(|f| wanted_file(&base, f)),
        );
        src.modules.push((file, set_package(&text, &package)));
    }
    wanted.sort();
    wanted.dedup();
    Ok(Some((src, wanted)))
}

/// Only files beside the policy are read; a builtin naming another (`../x`, `/etc/x`)
/// finds nothing, as Buildx's policy file system has nothing outside its root.
fn wanted_file(base: &str, rel: &str) -> Option<Wanted> {
    let rel = rel.trim_start_matches("./");
    if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return None;
    }
    Some((rel.to_string(), join(base, rel)))
}

/// Every path the modules name literally in a file-reading builtin (as its key in
/// `PolicySource::files`): each was looked for, so one missing is known to be missing.
pub(super) fn literal_paths(modules: &[(String, String)]) -> BTreeSet<String> {
    modules
        .iter()
        .flat_map(|(_, text)| referenced_files(text))
        .map(|p| p.trim_start_matches("./").to_string())
        .collect()
}

/// Reads the wanted files that exist; a builtin asking for a missing one fails when called.
async fn read_files(dir: &impl Reader, src: &mut PolicySource, wanted: &[Wanted]) -> Result<()> {
    for (rel, path) in wanted {
        if let Some(data) = dir.read(path).await? {
            src.files.insert(rel.clone(), data);
        }
    }
    Ok(())
}

/// Reads a policy: modules first, then exactly the files they name.
async fn load_one<D: Directory>(
    place: &D,
    modules: &D::Files,
    path: &str,
    label: String,
) -> Result<Option<PolicySource>> {
    let Some((mut src, wanted)) = read_modules(modules, path, label).await? else {
        return Ok(None);
    };
    if !wanted.is_empty() {
        let paths: Vec<String> = wanted.iter().map(|(_, p)| p.clone()).collect();
        let files = place.open(&paths, "policy files").await?;
        read_files(&files, &mut src, &wanted).await?;
    }
    Ok(Some(src))
}

/// The policies of a build, and what was looked for, so a build without any can say so.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Every policy the build must pass, in order: the automatic one, then the `policy`
    /// option's.
    pub sources: Vec<PolicySource>,
    /// The vertex that read them, for warnings.
    pub vertex: String,
    /// Whether any policy was found.
    pub found: bool,
    /// The optional policy files looked for (`<Dockerfile name>.rego`, as a path in the
    /// Dockerfile's directory); `policy=` files are required and fail the load instead.
    pub looked_for: Vec<String>,
}

impl Loaded {
    fn looked_for_list(&self) -> String {
        self.looked_for.join(", ")
    }

    /// `policy-strict`: a build that decides sources (`enforce`, `warn`) must have found a
    /// policy, so a misnamed or forgotten file fails the build instead of letting every
    /// source through. `report-only` never fails a build, and `off` loads nothing.
    pub fn require_strict(&self, req: &LoadRequest) -> Result<()> {
        if self.found || !req.strict || !req.mode.decides() {
            return Ok(());
        }
        Err(Error::Other(format!(
            "no policy found: looked for {} (policy-strict=true)",
            self.looked_for_list()
        )))
    }

    /// The line the build output shows when no policy was found (none when one was):
    /// sources are still pinned, but nothing decides them.
    pub fn notice(&self) -> Option<String> {
        (!self.found).then(|| {
            format!(
                "[verified-frontend] no policy found (looked for {}): sources are pinned but not verified",
                self.looked_for_list()
            )
        })
    }
}

/// The automatic policy's path in the Dockerfile's directory, as Buildx names it:
/// `<Dockerfile name>.rego` (`foo.Dockerfile` → `foo.Dockerfile.rego`), beside the
/// Dockerfile even when `filename` has directories.
fn auto_policy_path(req: &LoadRequest) -> String {
    let filename = req
        .filename
        .as_deref()
        .filter(|f| !f.is_empty())
        .unwrap_or("Dockerfile");
    format!("{filename}.rego")
}

/// Every policy this build must pass, in order: the automatic one, then the `policy` option's,
/// with whether any was found. Both are read where the Dockerfile frontend reads the
/// Dockerfile (`dockerfile`) and the build context (`context`).
pub async fn load_all<D: Directory>(
    req: &LoadRequest,
    dockerfile: &D,
    context: &D,
) -> Result<Loaded> {
    let auto = auto_policy_path(req);
    let label = auto.rsplit('/').next().unwrap_or(&auto).to_string();
    let (found, vertex) = load_from(dockerfile, &[(auto.clone(), label)]).await?;
    let mut out: Vec<PolicySource> = found.into_iter().flatten().collect();
    if !req.policies.is_empty() {
        let wanted: Vec<(String, String)> = req
            .policies
            .iter()
            .map(|p| (p.clone(), p.clone()))
            .collect();
        let (found, _) = load_from(context, &wanted).await?;
        for (p, (path, _)) in found.into_iter().zip(&wanted) {
            let p = p.ok_or_else(|| {
                let what = context.describe("the build context");
                Error::option("policy", format!("{path} not found in {what}"))
            })?;
            out.push(p);
        }
    }
    Ok(Loaded {
        found: !out.is_empty(),
        sources: out,
        vertex,
        looked_for: vec![dockerfile.describe(&auto)],
    })
}

/// Reads the policies `(path, label)` from one place (`None` for a missing one), and the
/// vertex warnings about them attach to.
async fn load_from<D: Directory>(
    place: &D,
    wanted: &[(String, String)],
) -> Result<(Vec<Option<PolicySource>>, String)> {
    let dir = place.open(&rego_patterns(), "policies").await?;
    let mut out = Vec::new();
    for (path, label) in wanted {
        out.push(load_one(place, &dir, path, label.clone()).await?);
    }
    Ok((out, place.vertex(&dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_imports_and_json_files() {
        let text = "package docker\nimport data.hack.xx\nimport data.hack.utils as u\n  import rego.v1\nx := load_json(\"releases.json\")\ny := load_json( \"./d/a.json\")";
        assert_eq!(imports(text), ["hack.xx", "hack.utils"]);
        assert_eq!(referenced_files(text), ["releases.json", "./d/a.json"]);
        let text = "allow if verify_git_signature(input.git.tag, \"keys/t.asc\")\nx := artifact_attestation(input.http, sprintf(\"%s\", [\"b.json\"]))";
        assert_eq!(referenced_files(text), ["keys/t.asc", "%s", "b.json"]);
    }

    #[test]
    fn rewrites_only_the_package_line() {
        let t = set_package("# c\npackage utils\n\nx := \"package y\"", "hack.utils");
        assert_eq!(t, "# c\npackage hack.utils\n\nx := \"package y\"");
    }

    #[test]
    fn automatic_policy_is_named_after_the_dockerfile() {
        let opts = |f: Option<&str>| LoadRequest {
            filename: f.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(auto_policy_path(&opts(None)), "Dockerfile.rego");
        assert_eq!(auto_policy_path(&opts(Some(""))), "Dockerfile.rego");
        assert_eq!(
            auto_policy_path(&opts(Some("foo.Dockerfile"))),
            "foo.Dockerfile.rego"
        );
        assert_eq!(
            auto_policy_path(&opts(Some("sub/app.Dockerfile"))),
            "sub/app.Dockerfile.rego"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(dir_of("a/b/Dockerfile.rego"), "a/b");
        assert_eq!(join("", "x.rego"), "x.rego");
        assert_eq!(join("a", "hack/xx.rego"), "a/hack/xx.rego");
    }
}
