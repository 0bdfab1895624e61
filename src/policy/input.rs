//! The policy input document, field for field as Docker Buildx builds it (`policy/types.go`,
//! `sourceToInput` in `policy/validate.go`), so a policy written for
//! `docker buildx build --policy` reads the same facts here. Buildx marshals its structs
//! with `omitempty`: `false`, `""`, `{}` and `[]` are absent, and so they are here.
//!
//! Buildx evaluates a source first without metadata and fetches only what its partial
//! evaluation leaves unknown; `document_with` builds the document of one such evaluation
//! from what the frontend resolved, keeping only the metadata groups that evaluation has.
//! Where Buildx's docs and code differ, this follows the code (research notes, policy.md).

mod git;
mod http;
mod image;
mod material;
mod platform;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::provenance::Material;
use crate::model::{Facts, Fetched};
use crate::proto::pb;
use crate::sources::{ImageRef, Source};

/// `input.env`: facts about the build invocation, the same for every source.
pub fn env(opts: &BTreeMap<String, String>) -> Value {
    let prefixed = |prefix: &str| -> Map<String, Value> {
        opts.iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|n| (n.to_string(), json!(v))))
            .collect()
    };
    let filename = opts
        .get("filename")
        .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "Dockerfile".to_string());
    let mut env = Map::new();
    let args = prefixed("build-arg:");
    if !args.is_empty() {
        env.insert("args".into(), Value::Object(args));
    }
    let labels = prefixed("label:");
    if !labels.is_empty() {
        env.insert("labels".into(), Value::Object(labels));
    }
    env.insert("filename".into(), json!(filename));
    if let Some(t) = opts.get("target").filter(|t| !t.is_empty()) {
        env.insert("target".into(), json!(t));
    }
    // `depth` is the one field Buildx serializes without omitempty.
    env.insert("depth".into(), json!(0));
    Value::Object(env)
}

/// `env` as a provenance material at `depth` sees it: Buildx gives every material the
/// build's whole environment, one level deeper.
pub fn env_at_depth(env: &Value, depth: u64) -> Value {
    let mut e = env.clone();
    if let Some(o) = e.as_object_mut() {
        o.insert("depth".into(), json!(depth));
    }
    e
}

/// The whole input for one source, with every metadata group the frontend resolved: what
/// the report, the attestations and `verify` show.
pub fn document(
    env: &Value,
    source: &Source,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    facts: Option<&Facts>,
) -> Result<Value, String> {
    document_with(env, source, op, platform, facts, Fetched::all())
}

/// The input of one of Buildx's evaluations of the source: `{env, <kind>: {...}}` with
/// only the metadata `fetched` names.
pub fn document_with(
    env: &Value,
    source: &Source,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    facts: Option<&Facts>,
    fetched: Fetched,
) -> Result<Value, String> {
    let (key, mut value, materials) = object(source, op, platform, facts, fetched)?;
    let materials = material::inputs(&materials, env, platform)?;
    if !materials.is_empty()
        && let Some(p) = value.get_mut("provenance").and_then(Value::as_object_mut)
    {
        p.insert("materials".into(), Value::Array(materials));
    }
    let mut doc = Map::new();
    doc.insert("env".into(), env.clone());
    doc.insert(key.into(), value);
    Ok(Value::Object(doc))
}

/// The input object of one source (`image`, `git`, `http`, `local`), without `env`, and
/// the provenance materials an image names (made input objects by the caller).
fn object(
    source: &Source,
    op: &pb::SourceOp,
    platform: Option<&pb::Platform>,
    facts: Option<&Facts>,
    fetched: Fetched,
) -> Result<(&'static str, Value, Vec<Material>), String> {
    let plain = |key, v| Ok((key, v, Vec::new()));
    match source {
        // Buildx has no oci-layout input yet; an OCI layout image is still an image.
        Source::Image(r) | Source::OciLayout(r) => {
            let (v, m) = image::image(r, platform, facts, fetched)?;
            Ok(("image", v, m))
        }
        Source::Blob { reference, .. } => {
            let (v, m) = image::image(&ImageRef::parse(reference)?, platform, facts, fetched)?;
            Ok(("image", v, m))
        }
        Source::Local { name } => plain("local", local(name)),
        Source::Http { url } => plain("http", http::http(url, op, facts, fetched)?),
        Source::Git {
            remote,
            reference,
            subdir,
        } => {
            let written = git::Written {
                remote,
                reference: reference.as_deref(),
                subdir: subdir.as_deref(),
            };
            plain("git", git::git(&written, op, facts, fetched)?)
        }
    }
}

fn local(name: &str) -> Value {
    let mut m = Map::new();
    put_str(&mut m, "name", name);
    Value::Object(m)
}

/// Inserts a string unless it is empty (Go's `omitempty`).
fn put_str(m: &mut Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

/// Inserts `true`; `false` is omitted.
fn put_true(m: &mut Map<String, Value>, key: &str, v: bool) {
    if v {
        m.insert(key.into(), json!(true));
    }
}

/// Inserts an array or object unless it is empty.
fn put_nonempty(m: &mut Map<String, Value>, key: &str, v: Value) {
    let empty = match &v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Null => true,
        _ => false,
    };
    if !empty {
        m.insert(key.into(), v);
    }
}

/// `v` without the members Go's `omitempty` drops (`""`, `0`, `false`, `null`, `{}`, `[]`),
/// one level deep: for small structs such as a signature summary.
fn without_empty(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, x)| match x {
                    Value::String(s) => !s.is_empty(),
                    Value::Number(n) => n.as_f64() != Some(0.0),
                    Value::Bool(b) => *b,
                    Value::Null => false,
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests;
