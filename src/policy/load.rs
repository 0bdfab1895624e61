//! Finding and reading policies, the way Buildx does: `<Dockerfile name>.rego` beside the
//! Dockerfile (optional), plus every file named by the `policy` option (resolved in the build
//! context; each must exist). A module's `import data.a.b` loads `a/b.rego` from the same
//! directory, and `load_json("x.json")` files are read with it.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

use super::{Mode, PolicySource};
use crate::error::{Error, Result};
use crate::gateway::options::OPT_POLICY_STRICT;
use crate::gateway::{Bridge, Options};
use crate::proto::pb;

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

/// Where a directory of the build is read from: a local directory of the client, or a
/// solved ref (a pinned remote context, or a frontend input) below `prefix`.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Local(String),
    Ref {
        ref_id: String,
        /// The op a warning about the policies attaches to.
        vertex: String,
        /// The directory inside the ref (`contextsubdir`), empty for its root.
        prefix: String,
        /// How the user names it, for messages (`git://…#main`).
        what: String,
        /// The definition the ref was solved from, which error locations name.
        definition: pb::Definition,
    },
}

/// Where the Dockerfile's directory (and the automatic policy) and the build context (the
/// `policy` option's files) are read from, as the Dockerfile frontend reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Places {
    pub dockerfile: Place,
    pub context: Place,
}

impl Places {
    /// The client's local directories named by `dockerfilekey` and `contextkey`.
    pub fn local(opts: &Options) -> Self {
        let name = |key: &str, default: &str| {
            Place::Local(
                opts.all
                    .get(key)
                    .map_or(default, String::as_str)
                    .to_string(),
            )
        };
        Places {
            dockerfile: name("dockerfilekey", "dockerfile"),
            context: name("contextkey", "context"),
        }
    }
}

impl Place {
    /// `path` as the user would look for it, with where it was looked for when not local.
    fn describe(&self, path: &str) -> String {
        match self {
            Place::Local(_) => path.to_string(),
            Place::Ref { what, .. } => format!("{path} in {what}"),
        }
    }
}

/// A solved ref's files below a directory.
struct RefDir<'a> {
    bridge: &'a Bridge,
    ref_id: &'a str,
    prefix: &'a str,
}

impl Reader for RefDir<'_> {
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let full = join(self.prefix.trim_matches('/'), path);
        self.bridge.read_file(self.ref_id, &full).await
    }
}

/// A local directory of the client, solved so its files can be read.
struct LocalDir<'a> {
    bridge: &'a Bridge,
    ref_id: String,
    /// The digest of the local source op: a vertex the client has seen, which warnings
    /// can be attached to (as the Dockerfile frontend does with its own load vertex).
    pub vertex: String,
    /// The definition it was solved from, which error locations name.
    pub definition: pb::Definition,
}

impl<'a> LocalDir<'a> {
    /// Transfers only the files matching `patterns` (BuildKit include patterns).
    async fn open(
        bridge: &'a Bridge,
        opts: &Options,
        name: &str,
        patterns: &[String],
        what: &str,
    ) -> Result<LocalDir<'a>> {
        let session = opts
            .all
            .get(&format!("local-sessionid:{name}"))
            .cloned()
            .or_else(|| std::env::var("BUILDKIT_SESSION_ID").ok())
            .unwrap_or_default();
        let patterns = serde_json::to_string(patterns).unwrap_or_default();
        let source = pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: format!("local://{name}"),
                attrs: [
                    ("local.session".to_string(), session),
                    ("local.sharedkeyhint".to_string(), format!("{name}-policy")),
                    ("local.includepattern".to_string(), patterns),
                ]
                .into(),
            })),
            ..Default::default()
        }
        .encode_to_vec();
        let terminal = pb::Op {
            inputs: vec![pb::Input {
                digest: crate::graph::digest_of(&source),
                index: 0,
            }],
            ..Default::default()
        }
        .encode_to_vec();
        let def = pb::Definition {
            metadata: [(
                crate::graph::digest_of(&source),
                pb::OpMetadata {
                    description: [(
                        "llb.customname".to_string(),
                        format!("[verified-frontend] load {what} from {name}"),
                    )]
                    .into(),
                    caps: [
                        ("source.local".to_string(), true),
                        ("source.local.includepatterns".to_string(), true),
                        ("source.local.sessionid".to_string(), true),
                        ("source.local.sharedkeyhint".to_string(), true),
                    ]
                    .into(),
                    ..Default::default()
                },
            )]
            .into(),
            def: vec![source.clone(), terminal],
            source: None,
        };
        let vertex = crate::graph::digest_of(&source);
        let r = bridge.solve_definition(def.encode_to_vec()).await?;
        Ok(LocalDir {
            bridge,
            ref_id: r.id,
            vertex,
            definition: def,
        })
    }
}

impl Reader for LocalDir<'_> {
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.bridge.read_file(&self.ref_id, path).await
    }
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

fn utf8(path: &str, data: Vec<u8>) -> Result<String> {
    String::from_utf8(data).map_err(|_| Error::Policy {
        file: path.to_string(),
        message: "not UTF-8 text".into(),
    })
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
    for f in referenced_files(&src.modules[0].1) {
        wanted.push(wanted_file(&base, &f, &src.name)?);
    }
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
        for f in referenced_files(&text) {
            wanted.push(wanted_file(&base, &f, &src.name)?);
        }
        src.modules.push((file, set_package(&text, &package)));
    }
    wanted.sort();
    wanted.dedup();
    Ok(Some((src, wanted)))
}

fn wanted_file(base: &str, rel: &str, policy: &str) -> Result<Wanted> {
    let rel = rel.trim_start_matches("./");
    if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return Err(Error::Policy {
            file: policy.to_string(),
            message: format!("{rel:?}: only files beside the policy can be read"),
        });
    }
    Ok((rel.to_string(), join(base, rel)))
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

/// Reads a policy through the gateway: modules first, then exactly the files they name.
async fn load_one(
    bridge: &Bridge,
    opts: &Options,
    local: &str,
    modules: &LocalDir<'_>,
    path: &str,
    label: String,
) -> Result<Option<PolicySource>> {
    let Some((mut src, wanted)) = read_modules(modules, path, label).await? else {
        return Ok(None);
    };
    if !wanted.is_empty() {
        let paths: Vec<String> = wanted.iter().map(|(_, p)| p.clone()).collect();
        let files = LocalDir::open(bridge, opts, local, &paths, "policy files").await?;
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
    pub fn require_strict(&self, opts: &Options) -> Result<()> {
        let decides = matches!(opts.policy_mode, Mode::Enforce | Mode::Warn);
        if self.found || !opts.policy_strict || !decides {
            return Ok(());
        }
        Err(Error::Other(format!(
            "no policy found: looked for {} ({OPT_POLICY_STRICT}=true)",
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
fn auto_policy_path(opts: &Options) -> String {
    let filename = opts
        .all
        .get("filename")
        .map(String::as_str)
        .filter(|f| !f.is_empty())
        .unwrap_or("Dockerfile");
    format!("{filename}.rego")
}

/// Every policy this build must pass, in order: the automatic one, then the `policy` option's,
/// with whether any was found. Both are read where the Dockerfile frontend reads the
/// Dockerfile and the build context (`places`).
pub async fn load_all(bridge: &Bridge, opts: &Options, places: &Places) -> Result<Loaded> {
    let auto = auto_policy_path(opts);
    let label = auto.rsplit('/').next().unwrap_or(&auto).to_string();
    let (found, vertex) =
        load_from(bridge, opts, &places.dockerfile, &[(auto.clone(), label)]).await?;
    let mut out: Vec<PolicySource> = found.into_iter().flatten().collect();
    if !opts.policies.is_empty() {
        let wanted: Vec<(String, String)> = opts
            .policies
            .iter()
            .map(|p| (p.clone(), p.clone()))
            .collect();
        let (found, _) = load_from(bridge, opts, &places.context, &wanted).await?;
        for (p, (path, _)) in found.into_iter().zip(&wanted) {
            let p = p.ok_or_else(|| {
                let what = places.context.describe("the build context");
                Error::option("policy", format!("{path} not found in {what}"))
            })?;
            out.push(p);
        }
    }
    Ok(Loaded {
        found: !out.is_empty(),
        sources: out,
        vertex,
        looked_for: vec![places.dockerfile.describe(&auto)],
    })
}

/// Reads the policies `(path, label)` from one place (`None` for a missing one), and the
/// vertex warnings about them attach to.
async fn load_from(
    bridge: &Bridge,
    opts: &Options,
    place: &Place,
    wanted: &[(String, String)],
) -> Result<(Vec<Option<PolicySource>>, String)> {
    let mut out = Vec::new();
    match place {
        Place::Local(name) => {
            let dir = LocalDir::open(bridge, opts, name, &rego_patterns(), "policies").await?;
            for (path, label) in wanted {
                out.push(load_one(bridge, opts, name, &dir, path, label.clone()).await?);
            }
            Ok((out, dir.vertex))
        }
        Place::Ref {
            ref_id,
            vertex,
            prefix,
            ..
        } => {
            let dir = RefDir {
                bridge,
                ref_id,
                prefix,
            };
            for (path, label) in wanted {
                out.push(read_policy(&dir, path, label.clone()).await?);
            }
            Ok((out, vertex.clone()))
        }
    }
}

/// A file the options name in the build context (`context`), or in the named context
/// `named` (e.g. `trusted-root`), read like policies.
pub async fn context_file(
    bridge: &Bridge,
    opts: &Options,
    context: &Place,
    path: &str,
    named: Option<&str>,
) -> Result<Vec<u8>> {
    let err = |m: String| Error::option("trusted-root", m);
    let (local, what) = match (named, context) {
        (None, Place::Ref { .. }) => {
            let data = read_at(bridge, opts, context, path).await?;
            let what = context.describe("the build context");
            return data.ok_or_else(|| err(format!("{path} not found in {what}")));
        }
        (None, Place::Local(name)) => (name.clone(), "the build context".to_string()),
        // Buildx sends `--build-context name=dir` as `context:name=local:<session dir>`;
        // buildctl users name the local directory itself (`--local name=dir`).
        (Some(name), _) => match opts.all.get(&format!("context:{name}")) {
            Some(v) => match v.strip_prefix("local:") {
                Some(l) => (l.to_string(), format!("named context {name}")),
                None => {
                    return Err(err(format!(
                        "named context {name} is {v}, not a local directory"
                    )));
                }
            },
            None => (name.to_string(), format!("local {name}")),
        },
    };
    read_at(bridge, opts, &Place::Local(local), path)
        .await?
        .ok_or_else(|| err(format!("{path} not found in {what}")))
}

/// One file of a place (for a local directory, only that file is transferred), with the
/// definition it was read from, which error locations name.
pub async fn read_at_with_definition(
    bridge: &Bridge,
    opts: &Options,
    place: &Place,
    path: &str,
) -> Result<Option<(Vec<u8>, pb::Definition)>> {
    match place {
        Place::Local(name) => {
            let dir = LocalDir::open(bridge, opts, name, &[path.to_string()], "file").await?;
            let data = dir.read(path).await?;
            Ok(data.map(|d| (d, dir.definition)))
        }
        Place::Ref {
            ref_id,
            prefix,
            definition,
            ..
        } => {
            let dir = RefDir {
                bridge,
                ref_id,
                prefix,
            };
            let data = dir.read(path).await?;
            Ok(data.map(|d| (d, definition.clone())))
        }
    }
}

async fn read_at(
    bridge: &Bridge,
    opts: &Options,
    place: &Place,
    path: &str,
) -> Result<Option<Vec<u8>>> {
    Ok(read_at_with_definition(bridge, opts, place, path)
        .await?
        .map(|(d, _)| d))
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
        let opts = |f: Option<&str>| Options {
            all: f
                .map(|f| ("filename".to_string(), f.to_string()))
                .into_iter()
                .collect(),
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
