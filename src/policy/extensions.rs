//! Buildx's Go builtins, as regorus extensions. Each call sees only its arguments, so the
//! state of the evaluation in progress (the current input, pins made) is shared through
//! `EvalState`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, bail};
use regorus::{Engine, Value};

use crate::sources::image_ref::validate_digest;
use crate::verify::bundle::attestation_signature;
use crate::verify::git as git_sig;
use crate::verify::pgp::{ChecksumRequest, Detached};
use crate::verify::trust::SigstoreRoot;

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
    pub trust_roots: Option<Arc<[SigstoreRoot]>>,
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
    let st = state.lock().map_err(|_| poisoned(name))?;
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

/// Registers Buildx's builtins on `engine`, reading `state` and the policy's `files`.
pub fn register(
    engine: &mut Engine,
    state: &Shared,
    files: &BTreeMap<String, Vec<u8>>,
) -> anyhow::Result<()> {
    let files = PolicyFiles(Arc::new(files.clone()));
    pin_image(engine, state)?;
    load_json(engine, &files)?;
    verify_git_signature(engine, state, &files)?;
    artifact_attestation(engine, state, &files)?;
    verify_http_pgp_signature(engine, state, &files)?;
    github_attestation(engine)
}

fn poisoned(name: &str) -> anyhow::Error {
    anyhow!("{name}: policy state poisoned")
}

/// `pin_image(input.image, digest)`: the build uses the image at `digest` instead.
fn pin_image(engine: &mut Engine, state: &Shared) -> anyhow::Result<()> {
    const NAME: &str = "pin_image";
    let st = state.clone();
    engine.add_extension(
        NAME.into(),
        2,
        Box::new(move |args: Vec<Value>| {
            must_be_input(NAME, "image", &args[0], &st)?;
            let digest = string_arg(NAME, &args[1])?;
            validate_digest(&digest).map_err(|e| anyhow!("{NAME}: {e}"))?;
            st.lock().map_err(|_| poisoned(NAME))?.pins.push(digest);
            Ok(Value::from(true))
        }),
    )
}

/// `load_json(path)`: a JSON file read with the policy.
fn load_json(engine: &mut Engine, files: &PolicyFiles) -> anyhow::Result<()> {
    const NAME: &str = "load_json";
    let files = files.clone();
    engine.add_extension(
        NAME.into(),
        1,
        Box::new(move |args: Vec<Value>| {
            let path = string_arg(NAME, &args[0])?;
            let data = files.get(NAME, "file", &path)?;
            if data.len() > 4 << 20 {
                bail!("{NAME}: {path} is larger than 4 MiB");
            }
            let text =
                std::str::from_utf8(data).map_err(|_| anyhow!("{NAME}: {path} is not UTF-8"))?;
            Value::from_json_str(text).map_err(|e| anyhow!("{NAME}: {path}: {e}"))
        }),
    )
}

/// `verify_git_signature(input.git.commit | input.git.tag, keyfile)`: whether the raw git
/// object is signed by a key of the file.
fn verify_git_signature(
    engine: &mut Engine,
    state: &Shared,
    files: &PolicyFiles,
) -> anyhow::Result<()> {
    const NAME: &str = "verify_git_signature";
    let st = state.clone();
    let files = files.clone();
    engine.add_extension(
        NAME.into(),
        2,
        Box::new(move |args: Vec<Value>| {
            let obj = json(&args[0])?;
            let keyfile = string_arg(NAME, &args[1])?;
            let key = files.get(NAME, "key file", &keyfile)?;
            let st = st.lock().map_err(|_| poisoned(NAME))?;
            let git = &st.input["git"];
            let signed = if git.get("commit") == Some(&obj) {
                st.raw.git_commit.as_deref().map(git_sig::split_commit)
            } else if git.get("tag") == Some(&obj) {
                st.raw.git_tag.as_deref().map(git_sig::split_tag)
            } else {
                bail!("{NAME}: the first argument must be input.git.commit or input.git.tag");
            };
            let signed = signed.ok_or_else(|| anyhow!("{NAME}: the git object was not fetched"))?;
            let ok =
                git_sig::verify(&signed, key).map_err(|e| anyhow!("{NAME}: {keyfile}: {e}"))?;
            Ok(Value::from(ok))
        }),
    )
}

/// `artifact_attestation(input.http, bundle)`: the verified Sigstore bundle's signature
/// over the download, under the build's trust roots (else the embedded ones).
fn artifact_attestation(
    engine: &mut Engine,
    state: &Shared,
    files: &PolicyFiles,
) -> anyhow::Result<()> {
    const NAME: &str = "artifact_attestation";
    let st = state.clone();
    let files = files.clone();
    let embedded: Arc<OnceLock<Result<Vec<SigstoreRoot>, String>>> = Arc::default();
    engine.add_extension(
        NAME.into(),
        2,
        Box::new(move |args: Vec<Value>| {
            must_be_input(NAME, "http", &args[0], &st)?;
            let file = string_arg(NAME, &args[1])?;
            let bundle = files.get(NAME, "bundle", &file)?;
            let (checksum, given) = {
                let st = st.lock().map_err(|_| poisoned(NAME))?;
                (
                    st.input["http"]["checksum"].as_str().map(str::to_string),
                    st.trust_roots.clone(),
                )
            };
            let hex = checksum
                .as_deref()
                .and_then(|c| c.strip_prefix("sha256:"))
                .ok_or_else(|| anyhow!("{NAME}: the download has no sha256 checksum"))?;
            let roots: &[SigstoreRoot] = match &given {
                Some(r) => r,
                None => embedded
                    .get_or_init(SigstoreRoot::embedded)
                    .as_ref()
                    .map_err(|e| anyhow!("{NAME}: {e}"))?,
            };
            // As in Buildx: a bundle that does not verify makes the call undefined (the rule
            // does not hold); only unreadable inputs are errors.
            match attestation_signature(bundle, hex, roots) {
                Ok(sig) => {
                    Value::from_json_str(&sig.to_string()).map_err(|e| anyhow!("{NAME}: {e}"))
                }
                Err(e) => {
                    crate::daemon_log!("{NAME}({file}): not verified: {e}");
                    Ok(Value::Undefined)
                }
            }
        }),
    )
}

/// `verify_http_pgp_signature(input.http, sigfile, keyfile)`: whether the detached OpenPGP
/// signature over the download verifies with a key of the file.
fn verify_http_pgp_signature(
    engine: &mut Engine,
    state: &Shared,
    files: &PolicyFiles,
) -> anyhow::Result<()> {
    const NAME: &str = "verify_http_pgp_signature";
    let st = state.clone();
    let files = files.clone();
    engine.add_extension(
        NAME.into(),
        3,
        Box::new(move |args: Vec<Value>| {
            must_be_input(NAME, "http", &args[0], &st)?;
            let sigfile = string_arg(NAME, &args[1])?;
            let keyfile = string_arg(NAME, &args[2])?;
            let sig = files.get(NAME, "signature", &sigfile)?;
            let key = files.get(NAME, "key file", &keyfile)?;
            let detached = Detached::parse(sig).map_err(|e| anyhow!("{NAME}: {sigfile}: {e}"))?;
            let mut st = st.lock().map_err(|_| poisoned(NAME))?;
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
    )
}

/// github_attestation asks api.github.com, which a frontend running without network can
/// never reach: it fails the evaluation, so a policy relying on it never allows.
fn github_attestation(engine: &mut Engine) -> anyhow::Result<()> {
    engine.add_extension(
        "github_attestation".into(),
        2,
        Box::new(move |_: Vec<Value>| {
            Err(anyhow!(
                "github_attestation needs api.github.com, which a frontend without network cannot reach; the source is refused"
            ))
        }),
    )
}
