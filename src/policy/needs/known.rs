//! Evaluating the known statements of a rule body on the document before a fetch, as
//! partial evaluation evaluates them: a probe rule of those statements in the body's
//! package, beside the policy's own modules, with no custom builtins (a statement that
//! calls one cannot be evaluated here, which counts as unsure).

use std::collections::HashMap;

use regorus::{Engine, Value};

use super::partial::Known;

pub struct Probe {
    base: Engine,
    input: Value,
    cache: HashMap<(String, Vec<String>), Option<bool>>,
}

/// The time one probed statement may take: a statement of a build policy takes microseconds.
const PROBE_TIME: std::time::Duration = std::time::Duration::from_secs(1);

impl Probe {
    /// `None` when the modules do not load without the frontend's extensions (then no
    /// statement is known to hold, and no body is known to be kept).
    pub fn new(modules: &[(String, String)]) -> Option<Probe> {
        let mut base = Engine::new();
        // A statement that errs cannot be said to fail: it is unsure. So is one that runs
        // past its bound (a policy's loop must not hold the build before any fetch); the
        // decision itself then meets the full bound and refuses the source.
        base.set_strict_builtin_errors(true);
        crate::policy::limits::bound(&mut base, PROBE_TIME);
        for (path, text) in modules {
            base.add_policy(path.clone(), text.clone()).ok()?;
        }
        for (name, args) in CUSTOM_BUILTINS {
            base.add_extension(
                name.to_string(),
                args,
                Box::new(|_| anyhow::bail!("not evaluated before the fetch")),
            )
            .ok()?;
        }
        Some(Probe {
            base,
            input: Value::new_object(),
            cache: HashMap::new(),
        })
    }

    pub fn set_input(&mut self, doc: &serde_json::Value) {
        self.input = Value::from_json_str(&doc.to_string()).unwrap_or_else(|_| Value::new_object());
        self.cache.clear();
    }
}

/// The frontend's builtins (Buildx's `funcs.go`), by arity: they read the source's raw
/// objects or files, so a statement calling one is never evaluated here.
const CUSTOM_BUILTINS: [(&str, u8); 6] = [
    ("pin_image", 2),
    ("load_json", 1),
    ("verify_git_signature", 2),
    ("artifact_attestation", 2),
    ("verify_http_pgp_signature", 3),
    ("github_attestation", 2),
];

/// The probe rule's name; no policy defines it.
const PROBE: &str = "__verified_frontend_probe";

impl Known for Probe {
    fn holds(&mut self, header: &str, stmts: &[String]) -> Option<bool> {
        let key = (header.to_string(), stmts.to_vec());
        if let Some(v) = self.cache.get(&key) {
            return *v;
        }
        let package = header
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("package "))
            .unwrap_or("docker")
            .trim()
            .to_string();
        let text = format!("{header}\n{PROBE} if {{\n{}\n}}\n", stmts.join("\n"));
        let mut e = self.base.clone();
        let result = e
            .add_policy(format!("{PROBE}.rego"), text)
            .ok()
            .and_then(|_| {
                e.set_input(self.input.clone());
                e.eval_rule(format!("data.{package}.{PROBE}")).ok()
            })
            .map(|v| v == Value::from(true));
        self.cache.insert(key, result);
        result
    }
}
