//! OPA's builtins as Buildx runs them, where regorus 0.14 differs or lacks them: each is an
//! extension, which regorus looks up before its own builtin of the same name.
//!
//! Buildx evaluates without `StrictBuiltinErrors`, so an error in a builtin makes its call
//! undefined and evaluation goes on; the error is kept in `Warnings` for the build output.
//! Only what OPA raises as a halt (a template string with several values) stops evaluation.

mod fmt;
mod fmt_float;
mod glob;
mod globs;
mod gotemplate;
mod json;
mod text;
mod value;

use std::sync::{Arc, Mutex};

use regorus::{Engine, Value};

/// Name of the builtin template strings are rewritten to (`template::desugar`).
pub const TEMPLATE_STRING: &str = "__vf_template_string";

/// Builtin errors of one evaluation, in the order they happened.
#[derive(Clone, Default, Debug)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn push(&self, line: String) {
        if let Ok(mut w) = self.0.lock() {
            w.push(line);
        }
    }

    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }
}

/// An error OPA raises as a halt: it fails the evaluation even without strict builtin errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Halt(pub String);

/// OPA's rule for a builtin error: the call is undefined and the error is reported, unless
/// it halts.
pub fn soft(warn: &Warnings, name: &str, r: anyhow::Result<Value>) -> anyhow::Result<Value> {
    match r {
        Ok(v) => Ok(v),
        Err(e) if e.downcast_ref::<Halt>().is_some() => Err(e),
        Err(e) => {
            warn.push(format!("{name}: {e}"));
            Ok(Value::Undefined)
        }
    }
}

type Builtin = fn(&[Value]) -> anyhow::Result<Value>;

/// Every builtin here, with its arity.
const BUILTINS: &[(&str, u8, Builtin)] = &[
    ("sprintf", 2, fmt::sprintf),
    ("glob.match", 3, glob::matches),
    ("glob.quote_meta", 1, glob::quote_meta),
    ("regex.globs_match", 2, globs::intersect),
    ("upper", 1, text::upper),
    ("lower", 1, text::lower),
    ("urlquery.decode", 1, text::urlquery_decode),
    ("semver.is_valid", 1, text::semver_is_valid),
    ("semver.compare", 2, text::semver_compare),
    ("array.flatten", 1, text::array_flatten),
    ("strings.render_template", 2, gotemplate::render),
    ("json.marshal", 1, json::marshal),
    (TEMPLATE_STRING, 1, value::template_string),
    (super::negation::DEFINED, 1, value::defined),
];

/// Names and arities this module defines, for the whole-policy check.
pub fn names() -> impl Iterator<Item = (&'static str, usize)> {
    BUILTINS.iter().map(|(n, a, _)| (*n, usize::from(*a)))
}

/// Registers every builtin on `engine`; their errors go to `warn`.
pub fn register(engine: &mut Engine, warn: &Warnings) -> anyhow::Result<()> {
    for &(name, nargs, f) in BUILTINS {
        let warn = warn.clone();
        engine.add_extension(
            name.into(),
            nargs,
            Box::new(move |args: Vec<Value>| soft(&warn, name, f(&args))),
        )?;
    }
    Ok(())
}

/// The string argument `i` (1-based in messages, as OPA's operand errors are).
fn string_arg(args: &[Value], i: usize) -> anyhow::Result<&str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(operand_error(i, other, "string")),
        None => anyhow::bail!("missing operand {}", i + 1),
    }
}

/// OPA's wording for an operand of the wrong type.
fn operand_error(i: usize, got: &Value, want: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "operand {} must be {want} but got {}",
        i + 1,
        value::type_name(got)
    )
}

#[cfg(test)]
mod tests;
