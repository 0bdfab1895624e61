//! These builtins against OPA itself: `oracle.txt` holds expressions with the value OPA
//! v1.19.0 (Buildx v0.38.2's) gives them, one `expression<TAB>JSON` a line, written by
//! evaluating each with OPA's Go API; `undefined` where OPA's call is undefined.

use regorus::{Engine, Value};

use super::{Warnings, register};

fn eval(expr: &str) -> (Value, Vec<String>) {
    let mut e = Engine::new();
    e.set_strict_builtin_errors(false);
    let w = Warnings::default();
    register(&mut e, &w).unwrap();
    e.add_policy("t.rego".into(), format!("package t\nx := {expr}\n"))
        .unwrap();
    let v = e.eval_rule("data.t.x".into()).unwrap();
    (v, w.take())
}

fn canonical(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .map(|v| v.to_string())
        .unwrap_or_else(|e| panic!("{json}: {e}"))
}

#[test]
fn results_are_opas() {
    let mut wrong = Vec::new();
    for line in include_str!("oracle.txt").lines() {
        let (expr, want) = line.split_once('\t').unwrap();
        let (got, _) = eval(expr);
        let got = match got {
            Value::Undefined => "undefined".to_string(),
            v => canonical(&v.to_json_str().unwrap()),
        };
        let want = if want == "undefined" {
            want.to_string()
        } else {
            canonical(want)
        };
        if got != want {
            wrong.push(format!("{expr}: OPA {want}, here {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_error_is_undefined_and_reported() {
    let (v, w) = eval(r#"urlquery.decode("%zz")"#);
    assert_eq!(v, Value::Undefined);
    assert_eq!(w, [r#"urlquery.decode: invalid URL escape "%zz""#]);
    let (v, w) = eval(r#"semver.compare("x", "1.0.0")"#);
    assert_eq!(v, Value::Undefined);
    assert!(w[0].contains("not a valid SemVer"), "{w:?}");
}

#[test]
fn several_values_in_a_template_string_halt() {
    let mut e = Engine::new();
    e.set_strict_builtin_errors(false);
    register(&mut e, &Warnings::default()).unwrap();
    let text = format!(
        "package t\nx := {}([{{v | v := [1, 2][_]}}])\n",
        super::TEMPLATE_STRING
    );
    e.add_policy("t.rego".into(), text).unwrap();
    let err = e.eval_rule("data.t.x".into()).unwrap_err().to_string();
    assert!(err.contains("must not produce multiple outputs"), "{err}");
}
