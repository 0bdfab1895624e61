//! `input.image.provenance.materials`: each dependency the provenance names, made a source
//! (Buildx's `ParseSLSAMaterial`) and then an input object of its own with the build's
//! environment one level deeper (`sourceToInputRecursive`). A material is not resolved:
//! its object holds what the provenance states.

use serde_json::{Map, Value};

use super::{env_at_depth, object};
use crate::model::Fetched;
use crate::policy::provenance::Material;
use crate::proto::pb;
use crate::sources::{ImageRef, Source, image_ref::validate_digest};

/// BuildKit's attribute with the remote as the provenance wrote it.
const ATTR_FULL_URL: &str = "git.fullurl";

/// The materials as input objects. A material Buildx cannot read as a source is left out,
/// as Buildx leaves it out (with a warning); one it reads but cannot make an input of fails
/// the document, as it fails Buildx's.
pub(super) fn inputs(
    materials: &[Material],
    env: &Value,
    parent: Option<&pb::Platform>,
) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for m in materials {
        let Some((op, platform)) = source_of(m) else {
            continue;
        };
        let source = Source::parse(&op)
            .map_err(|e| format!("failed to build material input for {:?}: {e}", m.uri))?;
        let platform = platform.as_ref().or(parent);
        let (key, value, _) = object(&source, &op, platform, None, Fetched::default())
            .map_err(|e| format!("failed to build material input for {:?}: {e}", m.uri))?;
        let mut input = Map::new();
        input.insert("env".into(), env_at_depth(env, 1));
        input.insert(key.into(), value);
        out.push(Value::Object(input));
    }
    Ok(out)
}

/// The source a material stands for, with the platform its package URL names.
fn source_of(m: &Material) -> Option<(pb::SourceOp, Option<pb::Platform>)> {
    let op = |identifier: String| pb::SourceOp {
        identifier,
        attrs: Default::default(),
    };
    if let Some(purl) = m.uri.strip_prefix("pkg:docker/") {
        let (r, platform) = docker_material(purl, m.digest.get("sha256"))?;
        return Some((op(format!("docker-image://{r}")), platform));
    }
    if let Ok(u) = super::git::parse_url(&m.uri) {
        let web = u.scheme == "http" || u.scheme == "https";
        if u.path.to_ascii_lowercase().ends_with(".git") || !web {
            let mut id = format!("git://{}/{}", u.host, super::git::clean_path(&u.path));
            if !u.reference.is_empty() || !u.subdir.is_empty() {
                id.push('#');
                id.push_str(&u.reference);
                if !u.subdir.is_empty() {
                    id.push(':');
                    id.push_str(&u.subdir);
                }
            }
            let mut git = op(id);
            git.attrs.insert(ATTR_FULL_URL.into(), m.uri.clone());
            return Some((git, None));
        }
    }
    if m.uri.starts_with("http://") || m.uri.starts_with("https://") {
        return Some((op(m.uri.clone()), None));
    }
    None
}

/// `pkg:docker/<namespace>/<name>@<version>?platform=…`, as BuildKit's `PURLToRef` reads
/// it, pinned to the material's sha256 (which must agree with a digest the URL names).
fn docker_material(
    purl: &str,
    sha256: Option<&String>,
) -> Option<(ImageRef, Option<pb::Platform>)> {
    let purl = purl.split('#').next().unwrap_or_default();
    let (path, qualifiers) = purl.split_once('?').unwrap_or((purl, ""));
    let (name, version) = match path.rfind('@') {
        Some(i) => (&path[..i], decode(&path[i + 1..])),
        None => (path, String::new()),
    };
    let name: Vec<String> = name.split('/').map(decode).collect();
    let mut r = ImageRef::normalize(&name.join("/")).ok()?;
    r.tag = None;
    let mut platform = None;
    if validate_digest(&version).is_ok() {
        r.digest = Some(version);
    } else if !version.is_empty() {
        r.tag = Some(version);
    }
    for q in qualifiers.split('&') {
        let (k, v) = q.split_once('=').unwrap_or((q, ""));
        match k {
            "platform" => platform = Some(super::platform::parse(&decode(v))?),
            "digest" if r.digest.is_none() => {
                let d = decode(v);
                validate_digest(&d).ok()?;
                r.digest = Some(d);
            }
            _ => {}
        }
    }
    if let Some(hex) = sha256.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let d = if hex.contains(':') {
            hex.to_string()
        } else {
            format!("sha256:{hex}")
        };
        validate_digest(&d).ok()?;
        match &r.digest {
            Some(written) if *written != d => return None,
            _ => r.digest = Some(d),
        }
    }
    // The name must stand as a reference of its own, with whatever tag and digest it got.
    ImageRef::parse(&r.to_string()).ok()?;
    Some((r, platform))
}

/// `%XX` decoded, as package URLs escape their parts.
fn decode(s: &str) -> String {
    super::http::percent_decoded(s)
}
