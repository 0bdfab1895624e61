//! Buildx's Go builtins, as regorus extensions. Each call sees only its arguments, so the
//! state of the evaluation in progress (the current input, pins made) is shared through
//! `EvalState`. As Buildx's functions are run by OPA, an error makes the call undefined
//! and goes to the warnings; only what the frontend cannot answer as Buildx would (a file
//! the policy computes the path of, api.github.com) fails the evaluation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, bail};
use regorus::{Engine, Value};

use super::opa::{Halt, Warnings, soft};

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

/// The builtins registered here, with their arity.
pub const NAMES: &[(&str, usize)] = &[
    ("pin_image", 2),
    ("load_json", 1),
    ("verify_git_signature", 2),
    ("artifact_attestation", 2),
    ("verify_http_pgp_signature", 3),
    ("github_attestation", 2),
];

fn json(v: &Value) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_str(&v.to_json_str()?)?)
}

fn string_arg(name: &str, what: &str, v: &Value) -> anyhow::Result<String> {
    match v {
        Value::String(s) => Ok(s.to_string()),
        other => bail!("{name}: expected string {what}, got {}", kind(other)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
        Value::Undefined => "undefined",
    }
}

/// An error that must fail the evaluation: the frontend cannot know what Buildx would
/// answer, so going on could allow what Buildx denies.
fn hard(message: String) -> anyhow::Error {
    Halt(message).into()
}

/// Buildx requires the object argument to be the input's own object, so a policy cannot
/// pin or verify something other than the source being decided.
fn must_be_input(name: &str, what: &str, arg: &Value, state: &Shared) -> anyhow::Result<()> {
    if !matches!(arg, Value::Object(_)) {
        bail!("{name}: expected object, got {}", kind(arg));
    }
    let arg = json(arg)?;
    let st = state.lock().map_err(|_| poisoned(name))?;
    if st.input.get(what) != Some(&arg) {
        bail!("{name}: first argument is not the same as input {what}");
    }
    Ok(())
}

/// Whether the input being decided has this object (`image`, `git`, `http`).
fn input_has(state: &Shared, name: &str, what: &str) -> anyhow::Result<bool> {
    let st = state.lock().map_err(|_| poisoned(name))?;
    Ok(st.input.get(what).is_some_and(|v| !v.is_null()))
}

/// The files read with the policy (data, keys, bundles), shared by the builtins, and the
/// literal paths its modules name (read if they exist).
#[derive(Clone)]
struct PolicyFiles {
    files: Arc<BTreeMap<String, Vec<u8>>>,
    literal: Arc<BTreeSet<String>>,
}

impl PolicyFiles {
    /// The file a builtin names. A literal path that was looked for and is not there is an
    /// error (undefined, as in Buildx); a path the policy computes was never read, so what
    /// Buildx would find is unknown and the evaluation stops.
    fn get(&self, builtin: &str, what: &str, path: &str) -> anyhow::Result<&[u8]> {
        let key = path.trim_start_matches("./");
        if let Some(data) = self.files.get(key) {
            return Ok(data);
        }
        if self.literal.contains(key) {
            bail!("{builtin}: failed opening {what} {path:?}: not found beside the policy");
        }
        Err(hard(format!(
            "{builtin}: {what} {path:?} is not among the files read with the policy (a literal path beside the policy is required)"
        )))
    }
}

/// Registers Buildx's builtins on `engine`, reading `state` and the policy's `files`; `warn`
/// gets the errors that make a call undefined.
pub fn register(
    engine: &mut Engine,
    state: &Shared,
    files: &BTreeMap<String, Vec<u8>>,
    literal: BTreeSet<String>,
    warn: &Warnings,
) -> anyhow::Result<()> {
    let files = PolicyFiles {
        files: Arc::new(files.clone()),
        literal: Arc::new(literal),
    };
    add(engine, warn, "pin_image", 2, pin_image(state))?;
    add(engine, warn, "load_json", 1, load_json(&files))?;
    add(
        engine,
        warn,
        "verify_git_signature",
        2,
        verify_git_signature(state, &files),
    )?;
    add(
        engine,
        warn,
        "artifact_attestation",
        2,
        artifact_attestation(state, &files),
    )?;
    add(
        engine,
        warn,
        "verify_http_pgp_signature",
        3,
        verify_http_pgp_signature(state, &files),
    )?;
    add(
        engine,
        warn,
        "github_attestation",
        2,
        github_attestation(state),
    )
}

type Builtin = Arc<dyn Fn(&[Value]) -> anyhow::Result<Value> + Send + Sync>;

/// As OPA runs Buildx's functions: an error makes the call undefined and is reported,
/// unless it is `hard`.
fn add(
    engine: &mut Engine,
    warn: &Warnings,
    name: &'static str,
    nargs: u8,
    f: Builtin,
) -> anyhow::Result<()> {
    let warn = warn.clone();
    engine.add_extension(
        name.into(),
        nargs,
        Box::new(move |args: Vec<Value>| soft(&warn, name, f(&args))),
    )
}

fn poisoned(name: &str) -> anyhow::Error {
    hard(format!("{name}: policy state poisoned"))
}

/// `pin_image(input.image, digest)`: the build uses the image at `digest` instead.
fn pin_image(state: &Shared) -> Builtin {
    const NAME: &str = "pin_image";
    let st = state.clone();
    Arc::new(move |args: &[Value]| {
        if !input_has(&st, NAME, "image")? {
            return Ok(Value::from(false));
        }
        must_be_input(NAME, "image", &args[0], &st)?;
        let digest = string_arg(NAME, "digest", &args[1])?;
        validate_digest(&digest).map_err(|e| anyhow!("{NAME}: invalid digest: {e}"))?;
        let mut st = st.lock().map_err(|_| poisoned(NAME))?;
        // Pinning to the digest the image already has changes nothing.
        if st.input["image"]["checksum"].as_str() != Some(digest.as_str()) {
            st.pins.push(digest);
        }
        Ok(Value::from(true))
    })
}

/// `load_json(path)`: a JSON file read with the policy, its numbers as Go's float64 (Buildx
/// decodes into `any`).
fn load_json(files: &PolicyFiles) -> Builtin {
    const NAME: &str = "load_json";
    let files = files.clone();
    Arc::new(move |args: &[Value]| {
        let path = string_arg(NAME, "path", &args[0])?;
        let data = files.get(NAME, "file", &path)?;
        let data = &data[..data.len().min(4 << 20)];
        let doc: serde_json::Value = serde_json::from_slice(data)
            .map_err(|e| anyhow!("{NAME}: invalid JSON in {path:?}: {e}"))?;
        Ok(with_floats(&doc))
    })
}

/// A JSON document as a value, every number the nearest float64.
fn with_floats(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::from(*b),
        J::Number(n) => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => Value::from(a.iter().map(with_floats).collect::<Vec<_>>()),
        J::Object(o) => Value::from(
            o.iter()
                .map(|(k, v)| (Value::from(k.as_str()), with_floats(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// `verify_git_signature(input.git.commit | input.git.tag, keyfile)`: whether the raw git
/// object is signed by a key of the file; a signature that does not verify is an error, so
/// the call is undefined, as in Buildx.
fn verify_git_signature(state: &Shared, files: &PolicyFiles) -> Builtin {
    const NAME: &str = "verify_git_signature";
    let st = state.clone();
    let files = files.clone();
    Arc::new(move |args: &[Value]| {
        if !input_has(&st, NAME, "git")? {
            return Ok(Value::from(false));
        }
        if !matches!(args[0], Value::Object(_)) {
            bail!("{NAME}: expected object, got {}", kind(&args[0]));
        }
        let obj = json(&args[0])?;
        let signed = {
            let st = st.lock().map_err(|_| poisoned(NAME))?;
            let git = &st.input["git"];
            let (raw, split): (_, fn(&[u8]) -> git_sig::Signed) = if git.get("commit") == Some(&obj)
            {
                (&st.raw.git_commit, git_sig::split_commit)
            } else if git.get("tag") == Some(&obj) {
                (&st.raw.git_tag, git_sig::split_tag)
            } else {
                bail!("{NAME}: object is neither commit nor tag");
            };
            raw.as_deref()
                .map(split)
                .ok_or_else(|| hard(format!("{NAME}: the git object was not fetched")))?
        };
        let keyfile = string_arg(NAME, "path", &args[1])?;
        let key = files.get(NAME, "key file", &keyfile)?;
        match git_sig::verify(&signed, key) {
            Ok(true) => Ok(Value::from(true)),
            Ok(false) => bail!("{NAME}: verification failed: no signature by a key of {keyfile}"),
            Err(e) => bail!("{NAME}: verification failed: {keyfile}: {e}"),
        }
    })
}

/// `artifact_attestation(input.http, bundle)`: the verified Sigstore bundle's signature
/// over the download, under the build's trust roots (else the embedded ones).
fn artifact_attestation(state: &Shared, files: &PolicyFiles) -> Builtin {
    const NAME: &str = "artifact_attestation";
    let st = state.clone();
    let files = files.clone();
    let embedded: Arc<OnceLock<Result<Vec<SigstoreRoot>, String>>> = Arc::default();
    Arc::new(move |args: &[Value]| {
        if !input_has(&st, NAME, "http")? {
            return Ok(Value::Undefined);
        }
        must_be_input(NAME, "http", &args[0], &st)?;
        let file = string_arg(NAME, "path", &args[1])?;
        let (checksum, given) = {
            let mut st = st.lock().map_err(|_| poisoned(NAME))?;
            let plain = plain_sha256();
            let checksum = st.input["http"]["checksum"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    st.raw
                        .http_checksums
                        .iter()
                        .find(|(r, _)| *r == plain)
                        .map(|(_, d)| d.clone())
                });
            // As in Buildx: without the download's checksum the call is undefined and the
            // evaluation is repeated once BuildKit has hashed the download.
            if checksum.is_none() {
                st.wanted_checksum = Some(plain);
                return Ok(Value::Undefined);
            }
            (checksum, st.trust_roots.clone())
        };
        let hex = checksum
            .as_deref()
            .and_then(|c| c.strip_prefix("sha256:"))
            .ok_or_else(|| anyhow!("{NAME}: invalid checksum {checksum:?}"))?;
        let bundle = files.get(NAME, "bundle", &file)?;
        let roots: &[SigstoreRoot] = match &given {
            Some(r) => r,
            None => embedded
                .get_or_init(SigstoreRoot::embedded)
                .as_ref()
                .map_err(|e| hard(format!("{NAME}: {e}")))?,
        };
        // As in Buildx: a bundle that does not verify makes the call undefined (the rule
        // does not hold) without an error.
        match attestation_signature(bundle, hex, roots) {
            Ok(sig) => Value::from_json_str(&sig.to_string()).map_err(|e| anyhow!("{NAME}: {e}")),
            Err(e) => {
                crate::daemon_log!("{NAME}({file}): not verified: {e}");
                Ok(Value::Undefined)
            }
        }
    })
}

/// The download's own sha256, as BuildKit answers a checksum request without a suffix.
fn plain_sha256() -> ChecksumRequest {
    ChecksumRequest {
        algo: 0,
        algo_name: "sha256",
        suffix: vec![],
    }
}

/// `verify_http_pgp_signature(input.http, sigfile, keyfile)`: whether the detached OpenPGP
/// signature over the download verifies with a key of the file.
fn verify_http_pgp_signature(state: &Shared, files: &PolicyFiles) -> Builtin {
    const NAME: &str = "verify_http_pgp_signature";
    let st = state.clone();
    let files = files.clone();
    Arc::new(move |args: &[Value]| {
        if !input_has(&st, NAME, "http")? {
            return Ok(Value::from(false));
        }
        must_be_input(NAME, "http", &args[0], &st)?;
        let sigfile = string_arg(NAME, "signature path", &args[1])?;
        let keyfile = string_arg(NAME, "pubkey path", &args[2])?;
        let sig = files.get(NAME, "signature", &sigfile)?;
        let key = files.get(NAME, "key file", &keyfile)?;
        let detached = Detached::parse(sig)
            .map_err(|e| anyhow!("{NAME}: failed to parse detached signature {sigfile}: {e}"))?;
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
            // A signature that does not verify is false; a key file that cannot be read
            // is an error.
            Some(digest) => detached
                .verify_digest(key, &digest)
                .map(Value::from)
                .map_err(|e| anyhow!("{NAME}: {sigfile}, {keyfile}: {e}")),
        }
    })
}

/// github_attestation asks api.github.com, which a frontend running without network can
/// never reach. Where Buildx would answer without it (no download being decided) the call
/// is undefined as there; otherwise the evaluation fails: an undefined result could allow
/// (`not github_attestation(…)`) what Buildx, finding the attestation, denies.
fn github_attestation(state: &Shared) -> Builtin {
    const NAME: &str = "github_attestation";
    let st = state.clone();
    Arc::new(move |_: &[Value]| {
        if !input_has(&st, NAME, "http")? {
            return Ok(Value::Undefined);
        }
        Err(hard(format!(
            "{NAME} needs api.github.com, which a frontend without network cannot reach; the source is refused"
        )))
    })
}
