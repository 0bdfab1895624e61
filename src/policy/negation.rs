//! Negated calls as OPA compiles them. Before evaluating, OPA's compiler moves some terms of
//! an expression in front of it: nested calls (`rewriteExprTerms`) and the reference
//! arguments of a call (`rewriteDynamicTerms`, which leaves the plain operands of `==`
//! alone). For a negated expression that changes the result: in OPA (and so in Buildx)
//! `not startswith(input.image.user, "x")` with no `user` is undefined, since the moved
//! reference is, while regorus makes it true. Such a literal here becomes
//! `count({1 | E}) == __vf_defined(T) + …`, which is `not E` when every moved term `T` is
//! defined and undefined otherwise, as in OPA.
//!
//! Only the literal's own line is touched and E's text is kept, so line numbers stay.

use regorus::Engine;
use regorus::unstable::{BoolOp, Expr, Literal, Query, Rule, RuleHead};

use super::ast::{self, Part};

/// The builtin that is `0` for any defined argument (and, as every call, undefined for an
/// undefined one).
pub const DEFINED: &str = "__vf_defined";

/// `text` with each negated literal that OPA would evaluate differently rewritten; the
/// text as it is when it does not parse (compiling it reports why).
pub fn rewrite(path: &str, text: &str) -> String {
    if !text.contains("not") {
        return text.to_string();
    }
    let mut scratch = Engine::new();
    if scratch.add_policy(path.into(), text.into()).is_err() {
        return text.to_string();
    }
    let mut edits = Vec::new();
    for module in scratch.get_modules() {
        for rule in &module.policy {
            rule_edits(rule, &mut edits);
        }
    }
    apply(text, edits)
}

/// `not E` at bytes `start..end`: `E` at `body`, the terms OPA moves out at `moved`.
struct Edit {
    start: usize,
    end: usize,
    body: (usize, usize),
    moved: Vec<(usize, usize)>,
}

fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(text.len() + edits.len() * 32);
    let mut at = 0;
    let slice = |(a, b): (usize, usize)| text.get(a..b);
    for e in edits {
        // A negation inside an edited one is rewritten with it or not at all.
        let moved: Option<Vec<String>> = e
            .moved
            .iter()
            .map(|&r| slice(r).map(|t| format!("{DEFINED}({t})")))
            .collect();
        let (Some(body), Some(moved), Some(before)) = (slice(e.body), moved, text.get(at..e.start))
        else {
            continue;
        };
        if e.start < at {
            continue;
        }
        out.push_str(before);
        out.push_str(&format!("count({{1 | {body}}}) == {}", moved.join(" + ")));
        at = e.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Bytes of `e` in the source: regorus's span of some expressions (`x in xs`) starts past
/// their first operand, so the widest span of the subtree counts.
fn range(e: &Expr) -> (usize, usize) {
    let s = e.span();
    if let Expr::String { .. } | Expr::RawString { .. } = e {
        // A string's span is its content, without the quotes.
        return ((s.start as usize).saturating_sub(1), s.end as usize + 1);
    }
    ast::sub_exprs(e)
        .into_iter()
        .map(range)
        .fold((s.start as usize, s.end as usize), |(a, b), (c, d)| {
            (a.min(c), b.max(d))
        })
}

fn rule_edits(rule: &Rule, edits: &mut Vec<Edit>) {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            let assign = match head {
                RuleHead::Compr { assign, .. } | RuleHead::Func { assign, .. } => assign.as_ref(),
                RuleHead::Set { key, .. } => {
                    if let Some(k) = key {
                        expr_edits(k, edits);
                    }
                    None
                }
            };
            if let Some(a) = assign {
                expr_edits(&a.value, edits);
            }
            for b in bodies {
                if let Some(a) = &b.assign {
                    expr_edits(&a.value, edits);
                }
                query_edits(&b.query, edits);
            }
        }
        Rule::Default { value, .. } => expr_edits(value, edits),
    }
}

fn query_edits(q: &Query, edits: &mut Vec<Edit>) {
    for stmt in &q.stmts {
        match &stmt.literal {
            Literal::NotExpr { span, expr } => {
                if stmt.with_mods.is_empty()
                    && let Some(e) = negation(span.start as usize, expr)
                {
                    edits.push(e);
                }
                expr_edits(expr, edits);
            }
            Literal::Expr { expr, .. } => expr_edits(expr, edits),
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                for e in key.iter().chain([value, collection]) {
                    expr_edits(e, edits);
                }
            }
            Literal::Every { domain, query, .. } => {
                expr_edits(domain, edits);
                query_edits(query, edits);
            }
            Literal::SomeVars { .. } => {}
        }
    }
}

/// Finds the queries inside an expression (comprehensions) and rewrites their negations.
fn expr_edits(e: &Expr, edits: &mut Vec<Edit>) {
    for part in ast::parts(e) {
        match part {
            Part::Expr(x) => expr_edits(x, edits),
            Part::Query(q) => query_edits(q, edits),
        }
    }
}

/// The rewrite of `not E` starting at `start`, when OPA moves terms out of `E`.
fn negation(start: usize, e: &Expr) -> Option<Edit> {
    let moved = moved_terms(e);
    if moved.is_empty() || moved.iter().any(|t| has_wildcard(t)) {
        return None;
    }
    let body = range(e);
    Some(Edit {
        start,
        end: body.1,
        body,
        moved: moved.into_iter().map(range).collect(),
    })
}

/// The terms of `E` that OPA evaluates before `not E`.
fn moved_terms(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BoolExpr {
            op: BoolOp::Eq,
            lhs,
            rhs,
            ..
        } => [lhs, rhs]
            .into_iter()
            .flat_map(|o| match &**o {
                Expr::RefDot { .. } | Expr::RefBrack { .. } | Expr::Var { .. } => vec![],
                other => operand(other),
            })
            .collect(),
        Expr::Call { params, .. } => params.iter().flat_map(|p| operand(p)).collect(),
        Expr::BoolExpr { .. }
        | Expr::ArithExpr { .. }
        | Expr::BinExpr { .. }
        | Expr::Membership { .. } => ast::sub_exprs(e).into_iter().flat_map(operand).collect(),
        _ => vec![],
    }
}

/// What OPA moves out of one operand of a call: the operand itself when it is a reference
/// or a call, the references and calls in it when it is a collection literal.
fn operand(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::RefDot { .. }
        | Expr::RefBrack { .. }
        | Expr::Call { .. }
        | Expr::BoolExpr { .. }
        | Expr::ArithExpr { .. }
        | Expr::BinExpr { .. }
        | Expr::Membership { .. } => vec![e],
        Expr::Var { span, .. } if span.text() != "_" => vec![e],
        Expr::Array { .. } | Expr::Set { .. } | Expr::Object { .. } => {
            ast::sub_exprs(e).into_iter().flat_map(operand).collect()
        }
        _ => vec![],
    }
}

fn has_wildcard(e: &Expr) -> bool {
    match e {
        Expr::Var { span, .. } => span.text() == "_",
        Expr::ArrayCompr { .. } | Expr::SetCompr { .. } | Expr::ObjectCompr { .. } => false,
        _ => ast::sub_exprs(e).into_iter().any(has_wildcard),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(rule: &str) -> String {
        let text = format!("package x\n\n{rule}\n");
        rewrite("x.rego", &text)
            .strip_prefix("package x\n\n")
            .unwrap()
            .trim_end()
            .to_string()
    }

    #[test]
    fn moves_what_opa_moves_out_of_a_negation() {
        assert_eq!(
            body(r#"a if not startswith(input.u, "x")"#),
            r#"a if count({1 | startswith(input.u, "x")}) == __vf_defined(input.u)"#
        );
        assert_eq!(
            body(r#"b if not input.s == upper(input.u)"#),
            r#"b if count({1 | input.s == upper(input.u)}) == __vf_defined(upper(input.u))"#
        );
        assert_eq!(
            body(r#"s if not contains(concat("", ["a", input.u]), "b")"#),
            r#"s if count({1 | contains(concat("", ["a", input.u]), "b")}) == __vf_defined(concat("", ["a", input.u]))"#
        );
        assert_eq!(
            body(r#"g if not [input.u, 1] == [1, 1]"#),
            r#"g if count({1 | [input.u, 1] == [1, 1]}) == __vf_defined(input.u)"#
        );
        assert_eq!(
            body(r#"m if { not "a" in input.l }"#),
            r#"m if { count({1 | "a" in input.l}) == __vf_defined(input.l) }"#
        );
    }

    #[test]
    fn a_moved_term_that_is_always_defined_changes_nothing() {
        // OPA moves `count(…)` out too; a comprehension is always defined.
        assert_eq!(
            body("j if not count([x | x := input.u]) == 1"),
            "j if count({1 | count([x | x := input.u]) == 1}) == __vf_defined(count([x | x := input.u]))"
        );
    }

    #[test]
    fn leaves_what_opa_leaves() {
        for rule in [
            r#"d if not input.u == input.s"#,
            r#"e if not input.u.x"#,
            r#"w if not startswith(input.l[_], "x")"#,
            r#"t if { not allow with input as {} }"#,
            "allow if true",
        ] {
            assert_eq!(body(rule), rule);
        }
    }

    #[test]
    fn rewrites_inside_comprehensions_and_keeps_lines() {
        let text =
            "package x\n\nxs := [x |\n  some x in input.l\n  not startswith(x, input.p)\n]\n";
        let out = rewrite("x.rego", text);
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(
            out.contains(
                "count({1 | startswith(x, input.p)}) == __vf_defined(x) + __vf_defined(input.p)"
            ),
            "{out}"
        );
    }
}
