//! `policy test` and `policy eval`: Buildx's policy tooling (`docker buildx policy test|eval`)
//! on the same engine the frontend decides with, so a policy is developed and tested without
//! building.
//!
//! A test is a rule named `test_*` with no arguments in a `*_test.rego` module; it passes
//! when it evaluates to `true`. As Buildx does, the input a test gives with `with input as …`
//! is also used to evaluate the package's `decision`, whose `allow` and `deny_msg` the report
//! shows. Unlike Buildx (which asks its builder), nothing is resolved: a test's input is
//! used as written.

use regorus::Value as RegoValue;
use regorus::unstable::{Expr, Module, Parser, Rule, RuleBody, RuleHead, Source};
use serde_json::Value;

use super::{PolicySet, PolicySource};
use crate::error::{Error, Result};

/// One `test_*` rule found in a test module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDef {
    pub name: String,
    /// `data.<package>`, where the test and the decision it reads are evaluated.
    pub package: String,
    /// The expression given as `with input as …`, as written, if any.
    pub input_expr: Option<String>,
}

/// What one test gave.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub name: String,
    pub passed: bool,
    /// `decision.allow` on the test's input; `None` when the decision is undefined or not
    /// a boolean ("n/a" in the report).
    pub allow: Option<bool>,
    pub deny_msg: Vec<String>,
    pub input: Option<Value>,
    pub decision: Option<Value>,
    /// Input fields the policy reads that the test's input lacks (`image.labels`), sorted.
    pub missing_input: Vec<String>,
}

impl TestResult {
    /// The report line, as `docker buildx policy test` prints it.
    pub fn line(&self) -> String {
        let status = if self.passed { "PASS" } else { "FAIL" };
        let allow = self.allow.map_or("n/a".to_string(), |a| a.to_string());
        if self.deny_msg.is_empty() {
            format!("{}: {status} (allow={allow})", self.name)
        } else {
            let msgs = self.deny_msg.join("; ");
            format!("{}: {status} (allow={allow}, deny_msg={msgs})", self.name)
        }
    }

    /// The detail under a failed test: its input and decision, pretty-printed.
    pub fn detail(&self) -> String {
        let show = |label: &str, v: &Option<Value>| match v {
            Some(v) => format!(
                "{label}:\n{}\n",
                serde_json::to_string_pretty(v).unwrap_or_default()
            ),
            None => format!("{label}: <nil>\n"),
        };
        let mut out = format!(
            "{}{}",
            show("input", &self.input),
            show("decision", &self.decision)
        );
        if !self.missing_input.is_empty() {
            let keys: Vec<String> = self
                .missing_input
                .iter()
                .map(|k| format!("input.{k}"))
                .collect();
            out.push_str(&format!("missing_input: {}\n", keys.join(", ")));
        }
        let needed = metadata_needed(&self.missing_input);
        if !needed.is_empty() {
            out.push_str(&format!("metadata_resolve: {}\n", needed.join(", ")));
        }
        out
    }
}

fn test_error(file: &str, message: impl Into<String>) -> Error {
    Error::Policy {
        file: file.to_string(),
        message: message.into(),
    }
}

/// The `test_*` rules of one test module, in file order, as Buildx finds them: complete
/// rules without arguments whose value, if written, is a boolean.
pub fn find_tests(path: &str, text: &str) -> Result<Vec<TestDef>> {
    let source = Source::from_contents(path.to_string(), text.to_string())
        .map_err(|e| test_error(path, e.to_string()))?;
    // Buildx parses test modules as Rego v1, as the engine does policies.
    let module: Module = Parser::new(&source)
        .and_then(|mut p| {
            p.enable_rego_v1()?;
            p.parse()
        })
        .map_err(|e| test_error(path, e.to_string()))?;
    let package = module.package.refr.span().text().to_string();
    let mut out: Vec<TestDef> = Vec::new();
    for rule in &module.policy {
        let Rule::Spec { head, bodies, .. } = rule.as_ref() else {
            continue;
        };
        let RuleHead::Compr { refr, assign, .. } = head else {
            continue;
        };
        let name = refr.span().text().to_string();
        if !name.starts_with("test_") || !assign.as_ref().is_none_or(|a| is_boolean(&a.value)) {
            continue;
        }
        let input_expr = input_override(path, &name, bodies)?;
        match out.iter_mut().find(|t| t.name == name) {
            // More bodies of one test (`test_x if {…}` written twice) are one test.
            Some(t) => {
                if t.input_expr.is_some() && input_expr.is_some() && t.input_expr != input_expr {
                    return Err(test_error(
                        path,
                        format!("multiple input overrides for {name}"),
                    ));
                }
                t.input_expr = t.input_expr.take().or(input_expr);
            }
            None => out.push(TestDef {
                name,
                package: format!("data.{package}"),
                input_expr,
            }),
        }
    }
    Ok(out)
}

fn is_boolean(e: &Expr) -> bool {
    matches!(e, Expr::Bool { .. })
}

/// The one `with input as …` expression of a test's bodies.
fn input_override(path: &str, name: &str, bodies: &[RuleBody]) -> Result<Option<String>> {
    let mut found: Option<String> = None;
    for body in bodies {
        for stmt in &body.query.stmts {
            for w in &stmt.with_mods {
                if w.refr.span().text() != "input" {
                    continue;
                }
                let text = w.r#as.span().text().to_string();
                if found.as_ref().is_some_and(|f| *f != text) {
                    return Err(test_error(
                        path,
                        format!("multiple input overrides for {name}"),
                    ));
                }
                found = Some(text);
            }
        }
    }
    Ok(found)
}

/// Compiles the policy with the test modules beside it and runs each test.
pub fn run_tests(
    mut policy: PolicySource,
    test_modules: Vec<(String, String)>,
    filter: Option<&str>,
) -> Result<Vec<TestResult>> {
    let mut tests: Vec<TestDef> = Vec::new();
    let test_paths: Vec<String> = test_modules.iter().map(|(p, _)| p.clone()).collect();
    for (path, text) in &test_modules {
        tests.extend(find_tests(path, text)?);
    }
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    tests.dedup_by(|a, b| a.name == b.name);
    if let Some(f) = filter {
        tests.retain(|t| t.name.contains(f));
    }
    if tests.is_empty() {
        return Err(test_error(&policy.name, "no tests found"));
    }
    for m in test_modules {
        if !policy.modules.iter().any(|(p, _)| *p == m.0) {
            policy.modules.push(m);
        }
    }
    let name = policy.name.clone();
    let refs = policy_input_refs(&policy, &test_paths);
    let mut set = PolicySet::compile(vec![policy])?;
    tests
        .iter()
        .map(|t| {
            let mut r = run_one(&mut set, &name, t)?;
            r.missing_input = missing(&refs, r.input.as_ref());
            Ok(r)
        })
        .collect()
}

/// The `input` references (as Buildx's `trimKey` shortens them) of the policy's own modules,
/// not the tests'.
fn policy_input_refs(policy: &PolicySource, test_paths: &[String]) -> Vec<String> {
    let mut refs: Vec<String> = Vec::new();
    for (path, text) in &policy.modules {
        if test_paths.contains(path) {
            continue;
        }
        for r in input_refs(text) {
            if !refs.contains(&r) {
                refs.push(r);
            }
        }
    }
    refs
}

/// The keys of `refs` that `input` does not have, sorted.
fn missing(refs: &[String], input: Option<&Value>) -> Vec<String> {
    let has = |key: &str| {
        let mut cur = match input {
            Some(v) => v,
            None => return false,
        };
        for part in key.split('.') {
            match cur.get(part) {
                Some(next) => cur = next,
                None => return false,
            }
        }
        true
    };
    let mut out: Vec<String> = refs.iter().filter(|k| !has(k)).cloned().collect();
    out.sort();
    out.dedup();
    out
}

/// Which metadata Buildx would resolve for the missing keys (its `AddUnknowns`); nothing
/// when a key is one it does not handle, as Buildx then prints no line.
fn metadata_needed(missing: &[String]) -> Vec<&'static str> {
    let (mut image, mut git) = (false, false);
    for k in missing {
        match k.as_str() {
            "image" | "git" | "http" | "local" | "http.checksum" => {}
            k if k == "image.provenance" || k.starts_with("image.provenance.") => image = true,
            "image.checksum"
            | "image.labels"
            | "image.user"
            | "image.volumes"
            | "image.workingDir"
            | "image.env"
            | "image.hasProvenance"
            | "image.signatures" => image = true,
            "git.ref" | "git.checksum" | "git.commitChecksum" | "git.isAnnotatedTag"
            | "git.isSHA256" | "git.tagName" | "git.branch" | "git.commit" | "git.tag" => {
                git = true
            }
            _ => return vec![],
        }
    }
    let mut out = Vec::new();
    if image {
        out.push("image");
    }
    if git {
        out.push("git");
    }
    out
}

/// `input…` references in Rego text, outside comments and strings, shortened to two
/// components as Buildx's `trimKey` does (`input.image.labels.x` → `image.labels`; a bare
/// `input` stays `input`).
pub fn input_refs(text: &str) -> Vec<String> {
    let code = strip_comments_and_strings(text);
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(off) = code[i..].find("input") {
        let start = i + off;
        let end = start + "input".len();
        i = end;
        let before = start.checked_sub(1).map(|j| bytes[j]);
        if before.is_some_and(|b| ident(b) || b == b'.')
            || bytes.get(end).is_some_and(|b| ident(*b))
        {
            continue;
        }
        let mut parts: Vec<&str> = Vec::new();
        let mut j = end;
        while bytes.get(j) == Some(&b'.') {
            let k = j + 1 + code[j + 1..].bytes().take_while(|b| ident(*b)).count();
            if k == j + 1 {
                break;
            }
            parts.push(&code[j + 1..k]);
            j = k;
        }
        let key = match parts.as_slice() {
            [] => "input".to_string(),
            [one] => one.to_string(),
            [a, b, ..]
                if format!("{a}.{b}") == "image.provenance" && bytes.get(j) == Some(&b'[') =>
            {
                parts.join(".")
            }
            [a, b, ..] => format!("{a}.{b}"),
        };
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// The text with `#` comments and string literals blanked (lengths kept).
fn strip_comments_and_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                out.push(' ');
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                    out.push(' ');
                }
            }
            '"' => {
                out.push(' ');
                while let Some(n) = chars.next() {
                    out.push(' ');
                    if n == '\\' {
                        chars.next();
                        out.push(' ');
                    } else if n == '"' {
                        break;
                    }
                }
            }
            '`' => {
                out.push(' ');
                for n in chars.by_ref() {
                    out.push(if n == '\n' { '\n' } else { ' ' });
                    if n == '`' {
                        break;
                    }
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn run_one(set: &mut PolicySet, file: &str, t: &TestDef) -> Result<TestResult> {
    let p = set
        .policies
        .first_mut()
        .ok_or_else(|| test_error(file, "no policy compiled"))?;
    // OPA without strict builtin errors, as Buildx runs tests: a builtin error is undefined.
    let engine = p.lenient();
    engine.set_input(RegoValue::new_object());
    let passed = engine
        .eval_rule(format!("{}.{}", t.package, t.name))
        .map_err(|e| test_error(file, format!("{}: {e}", t.name)))?
        == RegoValue::from(true);
    let _ = engine.take_prints();
    let input = match &t.input_expr {
        Some(expr) => Some(as_buildx_decodes(
            &eval_expr(engine, file, &t.name, expr)?,
            "",
        )),
        None => None,
    };
    let rego_input = match &input {
        Some(v) => {
            RegoValue::from_json_str(&v.to_string()).map_err(|e| test_error(file, e.to_string()))?
        }
        // No input at all, as Buildx evaluates such a test's decision: `input` is undefined.
        None => RegoValue::Undefined,
    };
    if let Ok(mut st) = p.state.lock() {
        st.input = input.clone().unwrap_or_else(|| serde_json::json!({}));
        st.pins.clear();
    }
    let engine = p.lenient();
    engine.set_input(rego_input);
    // Buildx shows no decision when evaluating it fails; the test's own result stands.
    let decision = engine
        .eval_rule(format!("{}.decision", t.package))
        .ok()
        .filter(|v| *v != RegoValue::Undefined)
        .and_then(|v| v.to_json_str().ok())
        .and_then(|s| serde_json::from_str::<Value>(&s).ok());
    let _ = engine.take_prints();
    let allow = decision
        .as_ref()
        .and_then(|d| d.get("allow"))
        .and_then(Value::as_bool);
    let deny_msg = decision.as_ref().map(deny_messages).unwrap_or_default();
    Ok(TestResult {
        name: t.name.clone(),
        passed,
        allow,
        deny_msg,
        input,
        decision,
        missing_input: vec![],
    })
}

/// A test's input as Buildx reads it back before deciding: decoded into its input structs,
/// whose fields are all `omitempty` (but `env.depth`), so `false`, `0`, `""`, `{}` and `[]`
/// fields are dropped; entries of maps (`image.labels`, `env.args`, …) are data and stay.
fn as_buildx_decodes(v: &Value, path: &str) -> Value {
    match v {
        Value::Object(m) if super::reference::MAPS.contains(&path) => Value::Object(m.clone()),
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, child)| {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let child = as_buildx_decodes(child, &p);
                    (p == "env.depth" || !is_empty_value(&child)).then_some((k.clone(), child))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| as_buildx_decodes(i, &format!("{path}[]")))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// `deny_msg` as Buildx's test runner reads it: a string or the strings of an array.
fn deny_messages(decision: &Value) -> Vec<String> {
    match decision.get("deny_msg") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// The value of a test's `with input as <expr>`, evaluated in the compiled policy.
fn eval_expr(engine: &mut regorus::Engine, file: &str, test: &str, expr: &str) -> Result<Value> {
    let fail = |m: String| {
        test_error(
            file,
            format!("{test}: the input given with `with input as`: {m}"),
        )
    };
    let results = engine
        .eval_query(expr.to_string(), false)
        .map_err(|e| fail(e.to_string()))?;
    let value = results
        .result
        .first()
        .and_then(|r| r.expressions.first())
        .map(|e| e.value.clone())
        .ok_or_else(|| fail("undefined".into()))?;
    let json = value.to_json_str().map_err(|e| fail(e.to_string()))?;
    serde_json::from_str(&json).map_err(|e| fail(e.to_string()))
}

/// What `policy eval` decided for one input document.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOutcome {
    pub allow: bool,
    pub deny_msg: Vec<String>,
    pub policy: String,
    pub prints: Vec<String>,
}

/// Decides one input document with every policy, as a build would.
pub fn evaluate(set: &mut PolicySet, input: &Value) -> Result<EvalOutcome> {
    let d = set.evaluate(input)?;
    Ok(EvalOutcome {
        allow: d.allow,
        deny_msg: d.deny_msg,
        policy: d.policy,
        prints: d.prints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "package docker\n\ndefault allow := false\n\nallow if input.image.repo == \"alpine\"\n\ndeny_msg contains \"only alpine\" if not allow\n\ndecision := {\"allow\": allow, \"deny_msg\": deny_msg}\n";

    fn policy() -> PolicySource {
        PolicySource {
            name: "Dockerfile.rego".into(),
            modules: vec![("Dockerfile.rego".into(), POLICY.into())],
            files: Default::default(),
        }
    }

    const TESTS: &str = r#"package docker

test_alpine_allowed if {
    decision.allow with input as {"image": {"repo": "alpine"}}
}

test_busybox_denied if {
    not decision.allow with input as {"image": {"repo": "busybox"}}
}

test_wrong if {
    decision.allow with input as {"image": {"repo": "busybox"}}
}

helper(x) := x

not_a_test if true
"#;

    #[test]
    fn finds_test_rules_and_their_inputs() {
        let tests = find_tests("Dockerfile_test.rego", TESTS).unwrap();
        let names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["test_alpine_allowed", "test_busybox_denied", "test_wrong"]
        );
        assert_eq!(tests[0].package, "data.docker");
        assert_eq!(
            tests[0].input_expr.as_deref(),
            Some(r#"{"image": {"repo": "alpine"}}"#)
        );
    }

    #[test]
    fn runs_tests_and_reports_as_buildx_does() {
        let results = run_tests(
            policy(),
            vec![("Dockerfile_test.rego".into(), TESTS.into())],
            None,
        )
        .unwrap();
        let lines: Vec<String> = results.iter().map(TestResult::line).collect();
        assert_eq!(
            lines,
            [
                "test_alpine_allowed: PASS (allow=true)",
                "test_busybox_denied: PASS (allow=false, deny_msg=only alpine)",
                "test_wrong: FAIL (allow=false, deny_msg=only alpine)",
            ]
        );
        assert!(results[2].detail().contains("\"repo\": \"busybox\""));
    }

    #[test]
    fn run_filters_by_substring_and_none_left_is_an_error() {
        let tests = vec![("Dockerfile_test.rego".to_string(), TESTS.to_string())];
        let r = run_tests(policy(), tests.clone(), Some("busybox")).unwrap();
        assert_eq!(r.len(), 1);
        let e = run_tests(policy(), tests, Some("nothing")).unwrap_err();
        assert!(e.to_string().contains("no tests found"), "{e}");
    }

    #[test]
    fn a_builtin_error_is_undefined_in_tests_and_decisions_as_in_buildx() {
        let policy = PolicySource {
            name: "Dockerfile.rego".into(),
            modules: vec![(
                "Dockerfile.rego".into(),
                "package docker\n\ndefault allow := false\n\nallow if to_number(input.v) > 1\n\n\
                 decision := {\"allow\": allow}\n"
                    .into(),
            )],
            files: Default::default(),
        };
        let tests = "package docker\n\ntest_number if {\n  decision.allow with input as {\"v\": \"2\"}\n}\n\n\
                     test_not_a_number if {\n  not decision.allow with input as {\"v\": \"x\"}\n}\n\n\
                     test_error_is_undefined if {\n  not to_number(\"x\")\n}\n";
        let r = run_tests(
            policy,
            vec![("Dockerfile_test.rego".into(), tests.into())],
            None,
        )
        .unwrap();
        let lines: Vec<String> = r.iter().map(TestResult::line).collect();
        assert_eq!(
            lines,
            [
                "test_error_is_undefined: PASS (allow=false)",
                "test_not_a_number: PASS (allow=false)",
                "test_number: PASS (allow=true)",
            ]
        );
    }

    #[test]
    fn two_different_input_overrides_in_one_test_are_refused() {
        let text = "package docker\n\ntest_x if {\n  decision.allow with input as {\"a\": 1}\n  decision.allow with input as {\"a\": 2}\n}\n";
        let e = find_tests("x_test.rego", text).unwrap_err();
        assert!(
            e.to_string()
                .contains("multiple input overrides for test_x"),
            "{e}"
        );
    }
}
