//! Buildx's policy caps: `decision.caps`, what a policy asks of the build as a whole rather
//! than of one source. Buildx evaluates each policy once before the build with
//! `input.env.capsRequest: true` and no source (`CheckCaps`); the only cap it knows is
//! `exec.proxy`, which routes every RUN step's network through BuildKit's proxy.

use serde_json::{Map, Value, json};

/// The one cap Buildx knows (`policy.CapExecProxy`).
pub const CAP_EXEC_PROXY: &str = "exec.proxy";

/// What the policies asked of the build in the caps pre-pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    /// Some policy asked for `exec.proxy`: RUN steps may reach the network only through a
    /// proxy that decides each request with the policy.
    pub exec_proxy: bool,
    /// The policies that asked for it, so a refusal can name them.
    pub exec_proxy_by: Vec<String>,
    /// `print` output of the pre-pass, prefixed by policy name; Buildx logs it like the
    /// output of any other evaluation, so it is kept apart from the per-source prints.
    pub prints: Vec<String>,
    /// Builtin errors of the pre-pass, prefixed by policy name (each made its call
    /// undefined, as in Buildx), for the build's warnings.
    pub warnings: Vec<String>,
}

/// The pre-pass input, as Buildx's `CheckCaps` builds it: the build's env with
/// `capsRequest: true` at depth 0, and no source.
pub fn request_input(env: &Value) -> Value {
    let mut env = env.as_object().cloned().unwrap_or_default();
    env.insert("capsRequest".into(), Value::Bool(true));
    env.insert("depth".into(), json!(0));
    json!({ "env": env })
}

/// Whether a decision asks for `exec.proxy`, read as Buildx's `parsePolicyDecision` reads
/// `caps` (with its wording): absent means no caps, an unknown cap or a non-boolean value
/// is an error, so a policy written for a newer Buildx never loses what it asked for.
pub fn asks_exec_proxy(decision: &Map<String, Value>) -> Result<bool, String> {
    let Some(caps) = decision.get("caps") else {
        return Ok(false);
    };
    let Value::Object(caps) = caps else {
        return Err(format!(
            "invalid caps property type {}, expecting object",
            go_type(caps)
        ));
    };
    let mut exec_proxy = false;
    for (name, value) in caps {
        if name != CAP_EXEC_PROXY {
            return Err(format!("unknown policy cap {name:?}"));
        }
        exec_proxy = value.as_bool().ok_or_else(|| {
            format!(
                "invalid caps.{name} property type {}, expecting bool",
                go_type(value)
            )
        })?;
    }
    Ok(exec_proxy)
}

/// The Go type OPA's result conversion gives a JSON value, as Buildx's `%T` prints it.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}
