//! One policy compiled (its modules, Buildx's builtins, the whole-policy checks) and its
//! evaluations, as OPA evaluates it in Buildx: without strict builtin errors.
//!
//! An evaluation runs first on an engine that stops at the first builtin error, so the
//! common case costs one pass; only when a builtin errs is it repeated on a lenient copy of
//! the engine, where, as in OPA, the erring call is undefined and evaluation goes on. The
//! first pass's error is kept as a warning.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use regorus::{Engine, Value};

use super::extensions::{self, EvalState, RawObjects, Shared};
use super::{BUILTINS, PolicySource, QUERY, check, negation, opa, template};
use crate::error::{Error, Result};
use crate::model::PolicyDigest;

pub(super) struct Policy {
    pub name: String,
    /// Stops at the first builtin error.
    pub(super) engine: Engine,
    /// The same engine with builtin errors made undefined; made on the first one.
    lenient: Option<Engine>,
    pub state: Shared,
    warnings: opa::Warnings,
    pub digest: PolicyDigest,
}

/// One evaluation's raw outcome, before it is read as a source decision or as caps.
pub(super) struct Evaluated {
    pub value: Value,
    pub prints: Vec<String>,
    pub warnings: Vec<String>,
    /// Distinct digests `pin_image` asked for.
    pub pins: BTreeSet<String>,
    pub wanted_checksum: Option<crate::verify::pgp::ChecksumRequest>,
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

impl Policy {
    pub fn error(&self, message: String) -> Error {
        Error::Policy {
            file: self.name.clone(),
            message,
        }
    }

    /// Parses, checks and prepares one policy, so a broken policy fails the build before
    /// any source is decided, with its file and line.
    pub fn compile(src: PolicySource) -> Result<Policy> {
        let err = |message: String| Error::Policy {
            file: src.name.clone(),
            message,
        };
        let mut engine = Engine::new();
        super::limits::bound(&mut engine, super::limits::EVAL_TIME);
        engine.set_strict_builtin_errors(true);
        engine.set_gather_prints(true);
        add_modules(&mut engine, &src).map_err(err)?;
        let state: Shared = Arc::new(Mutex::new(EvalState::default()));
        let warnings = opa::Warnings::default();
        let literal = super::load::literal_paths(&src.modules);
        extensions::register(&mut engine, &state, &src.files, literal, &warnings)
            .map_err(|e| err(e.to_string()))?;
        opa::register(&mut engine, &warnings).map_err(|e| err(e.to_string()))?;
        let defined: Vec<(&str, usize)> = extensions::NAMES
            .iter()
            .copied()
            .chain(opa::names())
            .collect();
        check::check(engine.get_modules(), &defined).map_err(|e| err(e.to_string()))?;
        let mut policy = Policy {
            name: src.name.clone(),
            engine,
            lenient: None,
            state,
            warnings,
            digest: digest_of(&src),
        };
        // Evaluating once on an empty input finds a missing decision rule before any
        // source is resolved, and leaves the engine prepared for reuse.
        policy
            .run(&serde_json::json!({}), &RawObjects::default())
            .map_err(|e| match e {
                Error::Policy { file, message } if message.contains("not a valid rule path") => {
                    Error::Policy {
                        file,
                        message: format!("the policy defines no decision ({QUERY}): {message}"),
                    }
                }
                other => other,
            })?;
        Ok(policy)
    }

    /// Runs the query on `input`; builtins see `raw`. Nothing of an earlier evaluation
    /// (pins, wanted checksums, prints, warnings) carries over.
    pub fn run(&mut self, input: &serde_json::Value, raw: &RawObjects) -> Result<Evaluated> {
        let value =
            Value::from_json_str(&input.to_string()).map_err(|e| self.error(e.to_string()))?;
        self.reset(input, raw)?;
        self.engine.set_input(value.clone());
        let strict = self.engine.eval_rule(QUERY.into());
        let prints = self.engine.take_prints().unwrap_or_default();
        let first_error = match strict {
            Ok(v) => return self.outcome(v, prints, None),
            // Past a bound the lenient pass would only spend it again.
            Err(e) => match super::limits::exceeded(&e) {
                Some(bound) => return Err(self.error(bound)),
                None => one_line(&e.to_string()),
            },
        };
        self.reset(input, raw)?;
        let lenient = self.lenient();
        lenient.set_input(value);
        let result = lenient.eval_rule(QUERY.into());
        let prints = lenient.take_prints().unwrap_or_default();
        let v =
            result.map_err(|e| self.error(super::limits::exceeded(&e).unwrap_or(e.to_string())))?;
        self.outcome(v, prints, Some(first_error))
    }

    /// The engine that makes a builtin error undefined, made on first use. `policy test`
    /// evaluates with it alone: Buildx's tester reports a failing test, not an error.
    pub(super) fn lenient(&mut self) -> &mut Engine {
        self.lenient.get_or_insert_with(|| {
            let mut e = self.engine.clone();
            e.set_strict_builtin_errors(false);
            e
        })
    }

    fn reset(&mut self, input: &serde_json::Value, raw: &RawObjects) -> Result<()> {
        let _ = self.warnings.take();
        let mut st = self
            .state
            .lock()
            .map_err(|_| self.error("policy state poisoned".into()))?;
        st.input = input.clone();
        st.pins.clear();
        st.raw = raw.clone();
        st.wanted_checksum = None;
        Ok(())
    }

    fn outcome(
        &mut self,
        value: Value,
        prints: Vec<String>,
        first_error: Option<String>,
    ) -> Result<Evaluated> {
        let mut warnings: Vec<String> = first_error.into_iter().collect();
        warnings.extend(self.warnings.take());
        let name = &self.name;
        let mut st = self
            .state
            .lock()
            .map_err(|_| self.error("policy state poisoned".into()))?;
        Ok(Evaluated {
            value,
            prints: prints.into_iter().map(|l| format!("{name}: {l}")).collect(),
            warnings: warnings
                .into_iter()
                .map(|w| format!("{name}: {w}"))
                .collect(),
            pins: std::mem::take(&mut st.pins).into_iter().collect(),
            wanted_checksum: st.wanted_checksum.take(),
        })
    }
}

/// The builtin helpers, then the policy's modules with template strings rewritten.
fn add_modules(engine: &mut Engine, src: &PolicySource) -> std::result::Result<(), String> {
    engine
        .add_policy("builtin/verified_frontend.rego".into(), BUILTINS.into())
        .map_err(|e| format!("builtin module: {e}"))?;
    for (i, (path, text)) in src.modules.iter().enumerate() {
        let text = template::desugar(text).map_err(|e| format!("{path}: {e}"))?;
        let text = negation::rewrite(path, &text);
        let package = engine
            .add_policy(path.clone(), text)
            .map_err(|e| e.to_string())?;
        if i == 0 && package != "data.docker" {
            return Err(format!(
                "the policy must be in package docker, not {}",
                package.trim_start_matches("data.")
            ));
        }
    }
    Ok(())
}

fn digest_of(src: &PolicySource) -> PolicyDigest {
    let mut files: BTreeMap<String, String> = src
        .modules
        .iter()
        .map(|(p, t)| (p.clone(), sha256_hex(t.as_bytes())))
        .collect();
    files.extend(src.files.iter().map(|(p, d)| (p.clone(), sha256_hex(d))));
    PolicyDigest {
        name: src.name.clone(),
        sha256: src
            .modules
            .first()
            .map(|(_, t)| sha256_hex(t.as_bytes()))
            .unwrap_or_default(),
        files,
    }
}

/// A regorus error (`--> file:line:col`, the source line, `error: what`) as one line.
fn one_line(err: &str) -> String {
    let at = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("--> "))
        .map(str::trim);
    let what = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::trim);
    match (at, what) {
        (Some(at), Some(what)) => format!("{at}: {what}"),
        _ => err.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_read_as_one_line() {
        let e = "\n--> Dockerfile.rego:13:12\n  |\n13 | v := 1 / 0\n  |        ^\nerror: divide by zero";
        assert_eq!(super::one_line(e), "Dockerfile.rego:13:12: divide by zero");
        assert_eq!(super::one_line("a\n b"), "a b");
    }
}
