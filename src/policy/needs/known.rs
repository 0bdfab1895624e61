//! Evaluating the known statements of a rule body on the document before a fetch, as
//! partial evaluation evaluates them: a probe rule of those statements in the body's
//! package, beside the policy's own modules, with no custom builtins (a statement that
//! calls one cannot be evaluated here, which counts as unsure).

use std::collections::HashMap;

use regorus::{Engine, Value};

use super::partial::Known;

/// A probed body: its module's header and its known statements.
type Body = (String, Vec<String>);

pub struct Probe {
    base: Engine,
    input: Value,
    cache: HashMap<Body, Option<bool>>,
    /// The base engine with one probe rule added (and the path to query it), per probed
    /// body: a body is probed for every source, and compiling its rule anew each time cost
    /// most of a decision. `None`: the rule does not compile (unsure).
    compiled: HashMap<Body, Option<(Engine, String)>>,
}

/// Probe rules kept compiled; a policy has a few dozen bodies, and past this many each is
/// compiled per probe again rather than held.
const MAX_COMPILED: usize = 256;

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
            compiled: HashMap::new(),
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

impl Probe {
    /// The base engine with the body's probe rule, and the rule's path.
    fn compile(&self, header: &str, stmts: &[String]) -> Option<(Engine, String)> {
        let package = header
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("package "))
            .unwrap_or("docker")
            .trim()
            .to_string();
        let text = format!("{header}\n{PROBE} if {{\n{}\n}}\n", stmts.join("\n"));
        let mut e = self.base.clone();
        e.add_policy(format!("{PROBE}.rego"), text).ok()?;
        Some((e, format!("data.{package}.{PROBE}")))
    }
}

impl Known for Probe {
    fn holds(&mut self, header: &str, stmts: &[String]) -> Option<bool> {
        let key = (header.to_string(), stmts.to_vec());
        if let Some(v) = self.cache.get(&key) {
            return *v;
        }
        if !self.compiled.contains_key(&key) && self.compiled.len() < MAX_COMPILED {
            let c = self.compile(header, stmts);
            self.compiled.insert(key.clone(), c);
        }
        let mut fresh;
        let compiled = match self.compiled.get_mut(&key) {
            Some(c) => c.as_mut(),
            None => {
                fresh = self.compile(header, stmts);
                fresh.as_mut()
            }
        };
        let result = compiled.and_then(|(e, rule)| {
            e.set_input(self.input.clone());
            e.eval_rule(rule.clone()).ok()
        });
        let result = result.map(|v| v == Value::from(true));
        self.cache.insert(key, result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body's probe rule is compiled once and answers for each source's document, not
    /// for the one it was compiled on.
    #[test]
    fn a_compiled_probe_answers_for_each_input() {
        let modules = [("p.rego".to_string(), "package docker\n".to_string())];
        let mut probe = Probe::new(&modules).unwrap();
        let stmts = ["input.image.tag == \"s1\"".to_string()];
        let answers: Vec<Option<bool>> = ["s1", "s2", "s1"]
            .iter()
            .map(|tag| {
                probe.set_input(&serde_json::json!({"image": {"tag": tag}}));
                probe.holds("package docker\n", &stmts)
            })
            .collect();
        assert_eq!(answers, [Some(true), Some(false), Some(true)]);
        assert_eq!(probe.compiled.len(), 1);
        // A body that does not compile is unsure, every time.
        probe.set_input(&serde_json::json!({}));
        assert_eq!(probe.holds("package docker\n", &["x :=".to_string()]), None);
        assert_eq!(probe.holds("package docker\n", &["x :=".to_string()]), None);
    }
}
