//! Rego policies compatible with Docker Buildx build policies, evaluated in-process with
//! regorus: `package docker`, query `data.docker.decision`, decision `{allow, deny_msg}`.
//!
//! Each policy (the automatic `<Dockerfile>.rego`, each `policy=` file) is a separate
//! compilation that must allow every source; the first that denies decides, as in Buildx.

pub mod caps;
mod extensions;
pub mod gitobj;
mod image_names;
pub mod input;
pub mod load;
pub mod needs;
pub mod provenance;
pub mod reference;
pub mod schema;
pub mod tester;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use regorus::{Engine, Value};

use crate::error::{Error, Result};
use crate::model::{Needs, PolicyDigest};
pub use caps::Caps;
pub use extensions::RawObjects;
use extensions::{EvalState, Shared};
pub use load::{Loaded, load_all};

const BUILTINS: &str = include_str!("builtins.rego");
const QUERY: &str = "data.docker.decision";

/// One policy's source: the main module, modules it imports, and data files for load_json.
#[derive(Debug, Clone, Default)]
pub struct PolicySource {
    /// Where it was read, for messages (e.g. `Dockerfile.rego`).
    pub name: String,
    /// (path, text) of every Rego module, the main one first.
    pub modules: Vec<(String, String)>,
    /// Files `load_json` may read, by path relative to the policy.
    pub files: BTreeMap<String, Vec<u8>>,
}

struct Policy {
    name: String,
    engine: Engine,
    state: Shared,
    digest: PolicyDigest,
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// What one policy, or all of them, decided for a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allow: bool,
    pub deny_msg: Vec<String>,
    /// Digest the policy pinned the image to (`pin_image`).
    pub pin: Option<String>,
    /// The policy that decided: the first to deny, or the last to allow.
    pub policy: String,
    /// `print` output, prefixed by policy name.
    pub prints: Vec<String>,
    /// A denial that may turn once BuildKit answers this checksum request
    /// (`verify_http_pgp_signature`): fetch it and evaluate again.
    pub wanted_checksum: Option<crate::verify::pgp::ChecksumRequest>,
}

pub struct PolicySet {
    policies: Vec<Policy>,
    needs: Needs,
}

impl PolicySet {
    /// Compiles every policy before any metadata is fetched, so a broken policy fails the
    /// build at once with its file and line.
    pub fn compile(sources: Vec<PolicySource>) -> Result<Self> {
        let mut policies = Vec::with_capacity(sources.len());
        let mut needs = Needs::default();
        for src in sources {
            let policy_err = |message: String| Error::Policy {
                file: src.name.clone(),
                message,
            };
            let mut engine = Engine::new();
            // Builtins that fail (e.g. an unsupported verifier) must fail the decision, not
            // quietly make a rule undefined.
            engine.set_strict_builtin_errors(true);
            engine.set_gather_prints(true);
            engine
                .add_policy("builtin/verified_frontend.rego".into(), BUILTINS.into())
                .map_err(|e| policy_err(format!("builtin module: {e}")))?;
            needs = needs.union(needs::of_module(BUILTINS));
            for (path, text) in &src.modules {
                let package = engine
                    .add_policy(path.clone(), text.clone())
                    .map_err(|e| policy_err(e.to_string()))?;
                if path == &src.modules[0].0 && package != "data.docker" {
                    return Err(policy_err(format!(
                        "the policy must be in package docker, not {}",
                        package.trim_start_matches("data.")
                    )));
                }
                needs = needs.union(needs::of_module(text));
            }
            let state: Shared = Arc::new(Mutex::new(EvalState::default()));
            extensions::register(&mut engine, &state, &src.files)
                .map_err(|e| policy_err(e.to_string()))?;
            // Evaluate once on an empty input: regorus resolves names only when it
            // evaluates, so this is what makes a missing decision rule, or an unguarded call
            // of an unknown function, fail before any source is resolved. It also leaves
            // the engine prepared for reuse.
            engine.set_input(Value::new_object());
            engine.eval_rule(QUERY.into()).map_err(|e| {
                let m = e.to_string();
                policy_err(if m.contains("not a valid rule path") {
                    format!("the policy defines no decision ({QUERY}): {m}")
                } else {
                    m
                })
            })?;
            let _ = engine.take_prints();
            let mut files: BTreeMap<String, String> = src
                .modules
                .iter()
                .map(|(p, t)| (p.clone(), sha256_hex(t.as_bytes())))
                .collect();
            files.extend(src.files.iter().map(|(p, d)| (p.clone(), sha256_hex(d))));
            let digest = PolicyDigest {
                name: src.name.clone(),
                sha256: src
                    .modules
                    .first()
                    .map(|(_, t)| sha256_hex(t.as_bytes()))
                    .unwrap_or_default(),
                files,
            };
            policies.push(Policy {
                name: src.name,
                engine,
                state,
                digest,
            });
        }
        Ok(PolicySet { policies, needs })
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn names(&self) -> Vec<&str> {
        self.policies.iter().map(|p| p.name.as_str()).collect()
    }

    /// The trust roots the build was given: `artifact_attestation` then verifies against
    /// them instead of the embedded roots, as image signatures do.
    pub fn set_trust_roots(&mut self, roots: std::sync::Arc<[crate::verify::trust::SigstoreRoot]>) {
        for p in &self.policies {
            if let Ok(mut st) = p.state.lock() {
                st.trust_roots = Some(roots.clone());
            }
        }
    }

    pub fn digests(&self) -> Vec<PolicyDigest> {
        self.policies.iter().map(|p| p.digest.clone()).collect()
    }

    /// Metadata the policies can read, for resolving each source once.
    pub fn needs(&self) -> Needs {
        self.needs
    }

    /// Evaluates every policy on one input document. The first denial (or pin) decides.
    pub fn evaluate(&mut self, input: &serde_json::Value) -> Result<Decision> {
        self.evaluate_with(input, &RawObjects::default())
    }

    /// As `evaluate`, with the raw objects signature builtins verify.
    pub fn evaluate_with(
        &mut self,
        input: &serde_json::Value,
        raw: &RawObjects,
    ) -> Result<Decision> {
        let mut prints = Vec::new();
        let mut last = String::new();
        for p in &mut self.policies {
            let d = p.evaluate(input, raw)?;
            prints.extend(d.prints.iter().cloned());
            last = d.policy.clone();
            if !d.allow || d.pin.is_some() {
                return Ok(Decision { prints, ..d });
            }
        }
        Ok(Decision {
            allow: true,
            deny_msg: vec![],
            pin: None,
            policy: last,
            prints,
            wanted_checksum: None,
        })
    }

    /// The caps pre-pass (Buildx's `CheckCaps`): each policy evaluated once with
    /// `input.env.capsRequest: true` and no source, `env` being the build's `input.env`.
    /// Any policy asking for `exec.proxy` turns it on. Nothing is recorded as a decision.
    pub fn caps(&mut self, env: &serde_json::Value) -> Result<Caps> {
        let input = caps::request_input(env);
        let mut out = Caps::default();
        for p in &mut self.policies {
            let (exec_proxy, prints) = p.caps(&input)?;
            if exec_proxy {
                out.exec_proxy = true;
                out.exec_proxy_by.push(p.name.clone());
            }
            out.prints.extend(prints);
        }
        Ok(out)
    }
}

/// One evaluation's raw outcome, before it is read as a source decision or as caps.
struct Evaluated {
    decision: serde_json::Map<String, serde_json::Value>,
    prints: Vec<String>,
    pins: Vec<String>,
    wanted_checksum: Option<crate::verify::pgp::ChecksumRequest>,
}

impl Policy {
    fn error(&self, message: String) -> Error {
        Error::Policy {
            file: self.name.clone(),
            message,
        }
    }

    /// Runs the query on `input`; builtins see `raw`. Nothing of an earlier evaluation
    /// (pins, wanted checksums, prints) carries over.
    fn run(&mut self, input: &serde_json::Value, raw: &RawObjects) -> Result<Evaluated> {
        {
            let mut st = self
                .state
                .lock()
                .map_err(|_| self.error("policy state poisoned".into()))?;
            st.input = input.clone();
            st.pins.clear();
            st.raw = raw.clone();
            st.wanted_checksum = None;
        }
        let value =
            Value::from_json_str(&input.to_string()).map_err(|e| self.error(e.to_string()))?;
        self.engine.set_input(value);
        let result = self.engine.eval_rule(QUERY.into());
        let prints: Vec<String> = self
            .engine
            .take_prints()
            .unwrap_or_default()
            .into_iter()
            .map(|l| format!("{}: {l}", self.name))
            .collect();
        let decision = result.map_err(|e| self.error(e.to_string()))?;
        let decision = decision_object(&decision).map_err(|m| self.error(m))?;
        let mut st = self
            .state
            .lock()
            .map_err(|_| self.error("policy state poisoned".into()))?;
        Ok(Evaluated {
            decision,
            prints,
            pins: std::mem::take(&mut st.pins),
            wanted_checksum: st.wanted_checksum.take(),
        })
    }

    fn evaluate(&mut self, input: &serde_json::Value, raw: &RawObjects) -> Result<Decision> {
        let ev = self.run(input, raw)?;
        let (allow, deny_msg) = parse_decision(&ev.decision).map_err(|m| self.error(m))?;
        let pin = match ev.pins.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            many => {
                return Err(self.error(format!(
                    "pin_image was called {} times for one source; it may pin once",
                    many.len()
                )));
            }
        };
        Ok(Decision {
            allow,
            deny_msg,
            pin: if allow { pin } else { None },
            policy: self.name.clone(),
            prints: ev.prints,
            wanted_checksum: if allow { None } else { ev.wanted_checksum },
        })
    }

    /// The caps pre-pass: only `caps` is read; `allow`, `deny_msg` and pins say nothing
    /// about any source here and are dropped, as in Buildx's `CheckCaps`.
    fn caps(&mut self, input: &serde_json::Value) -> Result<(bool, Vec<String>)> {
        let prefix = "evaluating caps (input.env.capsRequest=true)";
        let ev = self
            .run(input, &RawObjects::default())
            .map_err(|e| match e {
                Error::Policy { file, message } => Error::Policy {
                    file,
                    message: format!("{prefix}: {message}"),
                },
                other => other,
            })?;
        let asks = caps::asks_exec_proxy(&ev.decision)
            .map_err(|m| self.error(format!("{prefix}: {m}")))?;
        let prints = ev
            .prints
            .into_iter()
            .map(|l| format!("{l} (caps pre-pass)"))
            .collect();
        Ok((asks, prints))
    }
}

/// `data.docker.decision` as JSON; Buildx requires an object, and an undefined decision is
/// an error, not a denial.
fn decision_object(
    v: &Value,
) -> std::result::Result<serde_json::Map<String, serde_json::Value>, String> {
    if *v == Value::Undefined {
        return Err(format!(
            "{QUERY} is undefined: the policy must define decision"
        ));
    }
    let json: serde_json::Value =
        serde_json::from_str(&v.to_json_str().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    match json {
        serde_json::Value::Object(obj) => Ok(obj),
        other => Err(format!("{QUERY} must be an object, got {other}")),
    }
}

/// Buildx's reading of a source decision: `allow` must be `true` to allow (absent means
/// deny, a non-boolean is an error); `deny_msg` an array or set of strings (other entries,
/// and an object, are ignored); `caps` is checked as in the pre-pass (an unknown cap is an
/// error here too) but decides nothing for a source.
fn parse_decision(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<(bool, Vec<String>), String> {
    let allow = match obj.get("allow") {
        None => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(other) => return Err(format!("decision.allow must be a boolean, got {other}")),
    };
    let deny_msg = match obj.get("deny_msg") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    };
    caps::asks_exec_proxy(obj)?;
    Ok((allow, deny_msg))
}

#[cfg(test)]
mod tests;
