//! Rego policies compatible with Docker Buildx build policies, evaluated in-process with
//! regorus: `package docker`, query `data.docker.decision`, decision `{allow, deny_msg}`.
//!
//! Each policy (the automatic `<Dockerfile>.rego`, each `policy=` file) is a separate
//! compilation that must allow every source; the first that denies decides, as in Buildx.
//! `compiled` evaluates one as OPA does in Buildx (a builtin error makes its call undefined);
//! `check` makes OPA's whole-policy checks; `opa` holds OPA's builtins where regorus differs.

mod ast;
pub mod caps;
mod check;
mod compiled;
mod extensions;
pub mod gitobj;
mod image_names;
pub mod input;
mod limits;
pub mod load;
pub mod needs;
mod negation;
mod opa;
pub mod provenance;
pub mod reference;
pub mod schema;
mod signatures;
mod template;
pub mod tester;

use std::collections::BTreeMap;

use regorus::Value;

use crate::error::{Error, Result};
use crate::model::{Needs, PolicyDigest};
pub use caps::Caps;
use compiled::{Evaluated, Policy};
pub use extensions::RawObjects;
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
    /// Builtin errors, prefixed by policy name: as in Buildx each made its call undefined
    /// and the evaluation went on; the build output shows them as warnings.
    pub warnings: Vec<String>,
    /// A denial that may turn once BuildKit answers this checksum request
    /// (`verify_http_pgp_signature`): fetch it and evaluate again.
    pub wanted_checksum: Option<crate::verify::pgp::ChecksumRequest>,
}

pub struct PolicySet {
    policies: Vec<Policy>,
    needs: Needs,
}

impl PolicySet {
    /// Compiles and checks every policy before any metadata is fetched, so a broken policy
    /// fails the build at once with its file and line.
    pub fn compile(sources: Vec<PolicySource>) -> Result<Self> {
        let mut policies = Vec::with_capacity(sources.len());
        let mut needs = Needs::default();
        for src in sources {
            needs = needs.union(needs::of_module(BUILTINS));
            for (_, text) in &src.modules {
                needs = needs.union(needs::of_module(text));
            }
            policies.push(Policy::compile(src)?);
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
        let mut warnings = Vec::new();
        let mut last = String::new();
        for p in &mut self.policies {
            let d = decide(p, input, raw)?;
            prints.extend(d.prints.iter().cloned());
            warnings.extend(d.warnings.iter().cloned());
            last = d.policy.clone();
            if !d.allow || d.pin.is_some() {
                return Ok(Decision {
                    prints,
                    warnings,
                    ..d
                });
            }
        }
        Ok(Decision {
            allow: true,
            deny_msg: vec![],
            pin: None,
            policy: last,
            prints,
            warnings,
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
            let ev = caps_of(p, &input)?;
            if caps::asks_exec_proxy(&ev.1).map_err(|m| p.error(format!("{CAPS_PASS}: {m}")))? {
                out.exec_proxy = true;
                out.exec_proxy_by.push(p.name.clone());
            }
            let suffix = |l: String| format!("{l} (caps pre-pass)");
            out.prints.extend(ev.0.prints.into_iter().map(suffix));
            out.warnings.extend(ev.0.warnings.into_iter().map(suffix));
        }
        Ok(out)
    }
}

const CAPS_PASS: &str = "evaluating caps (input.env.capsRequest=true)";

/// One policy's decision for a source.
fn decide(p: &mut Policy, input: &serde_json::Value, raw: &RawObjects) -> Result<Decision> {
    let ev = p.run(input, raw)?;
    let decision = decision_object(&ev.value).map_err(|m| p.error(m))?;
    let (allow, deny_msg) = parse_decision(&decision).map_err(|m| p.error(m))?;
    let pin = pin_of(p, &ev, allow)?;
    Ok(Decision {
        allow,
        deny_msg,
        pin,
        policy: p.name.clone(),
        prints: ev.prints,
        warnings: ev.warnings,
        wanted_checksum: if allow { None } else { ev.wanted_checksum },
    })
}

/// The digest an allowing evaluation pinned the image to; Buildx refuses two different ones.
fn pin_of(p: &Policy, ev: &Evaluated, allow: bool) -> Result<Option<String>> {
    if !allow {
        return Ok(None);
    }
    match ev.pins.len() {
        0 => Ok(None),
        1 => Ok(ev.pins.iter().next().cloned()),
        n => Err(p.error(format!(
            "pin_image was called with {n} different digests for one source; it may pin once"
        ))),
    }
}

/// The caps pre-pass of one policy: only `caps` is read; `allow`, `deny_msg` and pins say
/// nothing about any source here and are dropped, as in Buildx's `CheckCaps`.
fn caps_of(
    p: &mut Policy,
    input: &serde_json::Value,
) -> Result<(Evaluated, serde_json::Map<String, serde_json::Value>)> {
    let prefixed = |e: Error| match e {
        Error::Policy { file, message } => Error::Policy {
            file,
            message: format!("{CAPS_PASS}: {message}"),
        },
        other => other,
    };
    let ev = p.run(input, &RawObjects::default()).map_err(prefixed)?;
    let decision = decision_object(&ev.value).map_err(|m| prefixed(p.error(m)))?;
    Ok((ev, decision))
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
