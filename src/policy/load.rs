//! Finding and reading policies, the way Buildx does: `<Dockerfile name>.rego` beside the
//! Dockerfile (optional), plus every file named by the `policy` option (resolved in the build
//! context; each must exist). A module's `import data.a.b` loads `a/b.rego` from the same
//! directory, and `load_json("x.json")` files are read with it.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

use super::PolicySource;
use crate::error::{Error, Result};
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

/// A local directory of the client, solved so its files can be read.
struct LocalDir<'a> {
    bridge: &'a Bridge,
    ref_id: String,
}

impl<'a> LocalDir<'a> {
    /// Transfers only Rego and JSON files: policies, their imports and their data.
    async fn open(bridge: &'a Bridge, opts: &Options, name: &str) -> Result<LocalDir<'a>> {
        let session = opts
            .all
            .get(&format!("local-sessionid:{name}"))
            .cloned()
            .or_else(|| std::env::var("BUILDKIT_SESSION_ID").ok())
            .unwrap_or_default();
        let patterns =
            serde_json::json!(["*.rego", "**/*.rego", "*.json", "**/*.json"]).to_string();
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
                        format!("[verified-frontend] load policies from {name}"),
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
            def: vec![source, terminal],
            source: None,
        };
        let r = bridge.solve_definition(def.encode_to_vec()).await?;
        Ok(LocalDir {
            bridge,
            ref_id: r.id,
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

/// Literal paths passed to `load_json` in a module.
fn json_files(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("load_json(") {
        rest = &rest[i + "load_json(".len()..];
        let arg = rest.trim_start();
        if let Some(s) = arg.strip_prefix('"')
            && let Some(end) = s.find('"')
        {
            out.push(s[..end].to_string());
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

/// Reads one policy and everything it imports or loads from `dir`.
pub async fn read_policy(
    dir: &impl Reader,
    path: &str,
    label: String,
) -> Result<Option<PolicySource>> {
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
    for f in json_files(&src.modules[0].1) {
        read_json(dir, &base, &f, &mut src).await?;
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
        for f in json_files(&text) {
            read_json(dir, &base, &f, &mut src).await?;
        }
        src.modules.push((file, set_package(&text, &package)));
    }
    Ok(Some(src))
}

async fn read_json(dir: &impl Reader, base: &str, rel: &str, src: &mut PolicySource) -> Result<()> {
    let rel = rel.trim_start_matches("./");
    if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return Err(Error::Policy {
            file: src.name.clone(),
            message: format!("load_json({rel:?}): only files beside the policy can be read"),
        });
    }
    let path = join(base, rel);
    if let Some(data) = dir.read(&path).await? {
        src.files.insert(rel.to_string(), data);
    }
    Ok(())
}

/// Every policy this build must pass, in order: the automatic one, then the `policy` option's.
pub async fn load(bridge: &Bridge, opts: &Options) -> Result<Vec<PolicySource>> {
    let mut out = Vec::new();
    if let Some(remote) = opts.all.get("context").filter(|c| c.contains("://")) {
        return Err(Error::option(
            "context",
            format!(
                "the build context is remote ({remote}); reading policies from it is not supported yet. \
                 Build from a local context, or set policy-mode=off to build without a policy"
            ),
        ));
    }
    let filename = opts
        .all
        .get("filename")
        .map_or("Dockerfile", String::as_str);
    let df_local = opts
        .all
        .get("dockerfilekey")
        .map_or("dockerfile", String::as_str);
    let dir = LocalDir::open(bridge, opts, df_local).await?;
    let auto = format!("{filename}.rego");
    let label = auto.rsplit('/').next().unwrap_or(&auto).to_string();
    if let Some(p) = read_policy(&dir, &auto, label).await? {
        out.push(p);
    }
    if !opts.policies.is_empty() {
        let ctx_local = opts.all.get("contextkey").map_or("context", String::as_str);
        let ctx = LocalDir::open(bridge, opts, ctx_local).await?;
        for path in &opts.policies {
            let p = read_policy(&ctx, path, path.clone())
                .await?
                .ok_or_else(|| {
                    Error::option("policy", format!("{path} not found in the build context"))
                })?;
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_imports_and_json_files() {
        let text = "package docker\nimport data.hack.xx\nimport data.hack.utils as u\n  import rego.v1\nx := load_json(\"releases.json\")\ny := load_json( \"./d/a.json\")";
        assert_eq!(imports(text), ["hack.xx", "hack.utils"]);
        assert_eq!(json_files(text), ["releases.json", "./d/a.json"]);
    }

    #[test]
    fn rewrites_only_the_package_line() {
        let t = set_package("# c\npackage utils\n\nx := \"package y\"", "hack.utils");
        assert_eq!(t, "# c\npackage hack.utils\n\nx := \"package y\"");
    }

    #[test]
    fn paths() {
        assert_eq!(dir_of("a/b/Dockerfile.rego"), "a/b");
        assert_eq!(join("", "x.rego"), "x.rego");
        assert_eq!(join("a", "hack/xx.rego"), "a/hack/xx.rego");
    }
}
