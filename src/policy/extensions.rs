//! Buildx's Go builtins, as regorus extensions. Each call sees only its arguments, so the
//! state of the evaluation in progress (the current input, pins made) is shared through
//! `EvalState`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail};
use regorus::{Engine, Value};

use crate::verify::pgp::ChecksumRequest;

/// What the extensions may read and record during one evaluation.
#[derive(Debug, Default)]
pub struct EvalState {
    /// `input` of the evaluation in progress, as JSON.
    pub input: serde_json::Value,
    /// Digests `pin_image` asked for.
    pub pins: Vec<String>,
    /// Raw git objects of the source, for `verify_git_signature`.
    pub raw: RawObjects,
    /// A checksum `verify_http_pgp_signature` needs and does not have yet.
    pub wanted_checksum: Option<ChecksumRequest>,
    /// The trust roots the build was given (`trusted-root`), for `artifact_attestation`;
    /// unset, the embedded roots apply.
    pub trust_roots: Option<Arc<[crate::verify::bundle::Root]>>,
}

/// Source bytes a builtin needs that the input document does not carry.
#[derive(Debug, Default, Clone)]
pub struct RawObjects {
    pub git_commit: Option<Vec<u8>>,
    pub git_tag: Option<Vec<u8>>,
    /// BuildKit's checksums of the download followed by a suffix, with the request.
    pub http_checksums: Vec<(ChecksumRequest, String)>,
}

pub type Shared = Arc<Mutex<EvalState>>;

fn json(v: &Value) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_str(&v.to_json_str()?)?)
}

fn string_arg(name: &str, v: &Value) -> anyhow::Result<String> {
    match json(v)? {
        serde_json::Value::String(s) => Ok(s),
        other => bail!("{name}: expected a string, got {other}"),
    }
}

/// Buildx requires the object argument to be the input's own object, so a policy cannot
/// pin or verify something other than the source being decided.
fn must_be_input(name: &str, what: &str, arg: &Value, state: &Shared) -> anyhow::Result<()> {
    let arg = json(arg)?;
    let st = state
        .lock()
        .map_err(|_| anyhow!("{name}: policy state poisoned"))?;
    if st.input.get(what) != Some(&arg) {
        bail!("{name}: the first argument must be input.{what}");
    }
    Ok(())
}

/// The files read with the policy (data, keys, bundles), shared by the builtins.
#[derive(Clone)]
struct PolicyFiles(Arc<BTreeMap<String, Vec<u8>>>);

impl PolicyFiles {
    /// The file a builtin names; only files named by a literal path were read.
    fn get(&self, builtin: &str, what: &str, path: &str) -> anyhow::Result<&[u8]> {
        self.0
            .get(path.trim_start_matches("./"))
            .map(Vec::as_slice)
            .ok_or_else(|| {
                anyhow!("{builtin}: {what} {path:?} is not among the files read with the policy (a literal path beside the policy is required)")
            })
    }
}

pub fn register(
    engine: &mut Engine,
    state: &Shared,
    files: &BTreeMap<String, Vec<u8>>,
) -> anyhow::Result<()> {
    let st = state.clone();
    engine.add_extension(
        "pin_image".into(),
        2,
        Box::new(move |args: Vec<Value>| {
            must_be_input("pin_image", "image", &args[0], &st)?;
            let digest = string_arg("pin_image", &args[1])?;
            crate::sources::image_ref::validate_digest(&digest)
                .map_err(|e| anyhow!("pin_image: {e}"))?;
            st.lock()
                .map_err(|_| anyhow!("pin_image: policy state poisoned"))?
                .pins
                .push(digest);
            Ok(Value::from(true))
        }),
    )?;

    let files = PolicyFiles(Arc::new(files.clone()));
    let json_files = files.clone();
    engine.add_extension(
        "load_json".into(),
        1,
        Box::new(move |args: Vec<Value>| {
            let path = string_arg("load_json", &args[0])?;
            let data = json_files.get("load_json", "file", &path)?;
            if data.len() > 4 << 20 {
                bail!("load_json: {path} is larger than 4 MiB");
            }
            let text =
                std::str::from_utf8(data).map_err(|_| anyhow!("load_json: {path} is not UTF-8"))?;
            Value::from_json_str(text).map_err(|e| anyhow!("load_json: {path}: {e}"))
        }),
    )?;

    let st = state.clone();
    let key_files = files.clone();
    engine.add_extension(
        "verify_git_signature".into(),
        2,
        Box::new(move |args: Vec<Value>| {
            const NAME: &str = "verify_git_signature";
            let obj = json(&args[0])?;
            let keyfile = string_arg(NAME, &args[1])?;
            let key = key_files.get(NAME, "key file", &keyfile)?;
            let st = st
                .lock()
                .map_err(|_| anyhow!("{NAME}: policy state poisoned"))?;
            let git = &st.input["git"];
            let signed = if git.get("commit") == Some(&obj) {
                st.raw
                    .git_commit
                    .as_deref()
                    .map(crate::verify::git::split_commit)
            } else if git.get("tag") == Some(&obj) {
                st.raw.git_tag.as_deref().map(crate::verify::git::split_tag)
            } else {
                bail!("{NAME}: the first argument must be input.git.commit or input.git.tag");
            };
            let signed = signed.ok_or_else(|| anyhow!("{NAME}: the git object was not fetched"))?;
            let ok = crate::verify::git::verify(&signed, key)
                .map_err(|e| anyhow!("{NAME}: {keyfile}: {e}"))?;
            Ok(Value::from(ok))
        }),
    )?;

    let st = state.clone();
    let bundle_files = files.clone();
    let embedded: Arc<std::sync::OnceLock<Result<Vec<crate::verify::bundle::Root>, String>>> =
        Arc::default();
    engine.add_extension(
        "artifact_attestation".into(),
        2,
        Box::new(move |args: Vec<Value>| {
            const NAME: &str = "artifact_attestation";
            must_be_input(NAME, "http", &args[0], &st)?;
            let file = string_arg(NAME, &args[1])?;
            let bundle = bundle_files.get(NAME, "bundle", &file)?;
            let (checksum, given) = {
                let st = st
                    .lock()
                    .map_err(|_| anyhow!("{NAME}: policy state poisoned"))?;
                (
                    st.input["http"]["checksum"].as_str().map(str::to_string),
                    st.trust_roots.clone(),
                )
            };
            let hex = checksum
                .as_deref()
                .and_then(|c| c.strip_prefix("sha256:"))
                .ok_or_else(|| anyhow!("{NAME}: the download has no sha256 checksum"))?;
            let roots: &[crate::verify::bundle::Root] = match &given {
                Some(r) => r,
                None => embedded
                    .get_or_init(crate::verify::bundle::Root::embedded)
                    .as_ref()
                    .map_err(|e| anyhow!("{NAME}: {e}"))?,
            };
            // As in Buildx: a bundle that does not verify makes the call undefined (the rule
            // does not hold); only unreadable inputs are errors.
            match crate::verify::bundle::attestation_signature(bundle, hex, roots) {
                Ok(sig) => {
                    Value::from_json_str(&sig.to_string()).map_err(|e| anyhow!("{NAME}: {e}"))
                }
                Err(e) => {
                    eprintln!("verified-frontend: {NAME}({file}): not verified: {e}");
                    Ok(Value::Undefined)
                }
            }
        }),
    )?;

    let st = state.clone();
    let pgp_files = files;
    engine.add_extension(
        "verify_http_pgp_signature".into(),
        3,
        Box::new(move |args: Vec<Value>| {
            const NAME: &str = "verify_http_pgp_signature";
            must_be_input(NAME, "http", &args[0], &st)?;
            let sigfile = string_arg(NAME, &args[1])?;
            let keyfile = string_arg(NAME, &args[2])?;
            let sig = pgp_files.get(NAME, "signature", &sigfile)?;
            let key = pgp_files.get(NAME, "key file", &keyfile)?;
            let detached = crate::verify::pgp::Detached::parse(sig)
                .map_err(|e| anyhow!("{NAME}: {sigfile}: {e}"))?;
            let mut st = st
                .lock()
                .map_err(|_| anyhow!("{NAME}: policy state poisoned"))?;
            let known = st
                .raw
                .http_checksums
                .iter()
                .find(|(r, _)| *r == detached.request)
                .map(|(_, d)| d.clone());
            match known {
                // As in Buildx: the evaluation is repeated once BuildKit has hashed the
                // download with this suffix; until then the call does not hold.
                None => {
                    st.wanted_checksum = Some(detached.request);
                    Ok(Value::from(false))
                }
                Some(digest) => {
                    let ok = detached
                        .verify_digest(key, &digest)
                        .map_err(|e| anyhow!("{NAME}: {sigfile}, {keyfile}: {e}"))?;
                    Ok(Value::from(ok))
                }
            }
        }),
    )?;

    // github_attestation asks api.github.com, which a frontend running without network can
    // never reach: it fails the evaluation, so a policy relying on it never allows.
    engine.add_extension(
        "github_attestation".into(),
        2,
        Box::new(move |_: Vec<Value>| {
            Err(anyhow!(
                "github_attestation needs api.github.com, which a frontend without network cannot reach; the source is refused"
            ))
        }),
    )?;
    Ok(())
}
