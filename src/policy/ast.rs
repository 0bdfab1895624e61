//! The shapes of regorus's AST that the passes over policy text (`check`, its recursion
//! check, `negation`) read alike, so that a new expression kind in regorus is a change in one
//! match here rather than in one per pass. What each pass does at a rule or a statement
//! differs (a head's reference names the rule; a standalone call may bind an output), so
//! rules and queries stay with the passes.

use regorus::unstable::{Expr, Query, Ref, Rule, RuleHead};

/// One direct part of an expression.
pub enum Part<'a> {
    Expr(&'a Expr),
    /// A comprehension's body.
    Query(&'a Query),
}

/// The direct parts of `e` in source order: its sub-expressions and, for a comprehension,
/// its term (or key and value) and then its body. Scalars and variables have none.
pub fn parts(e: &Expr) -> Vec<Part<'_>> {
    match e {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => vec![],
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            items.iter().map(|i| Part::Expr(i)).collect()
        }
        Expr::Object { fields, .. } => fields
            .iter()
            .flat_map(|(_, k, v)| [Part::Expr(k), Part::Expr(v)])
            .collect(),
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            vec![Part::Expr(term), Part::Query(query)]
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => vec![Part::Expr(key), Part::Expr(value), Part::Query(query)],
        Expr::Call { params, .. } => params.iter().map(|p| Part::Expr(p)).collect(),
        Expr::UnaryExpr { expr, .. } => vec![Part::Expr(expr)],
        Expr::RefDot { refr, .. } => vec![Part::Expr(refr)],
        Expr::RefBrack { refr, index, .. } => vec![Part::Expr(refr), Part::Expr(index)],
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => vec![Part::Expr(lhs), Part::Expr(rhs)],
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => key
            .iter()
            .chain([value, collection])
            .map(|x| Part::Expr(x))
            .collect(),
    }
}

/// The sub-expressions of `e` (`parts` without a comprehension's body).
pub fn sub_exprs(e: &Expr) -> Vec<&Expr> {
    parts(e)
        .into_iter()
        .filter_map(|p| match p {
            Part::Expr(x) => Some(x),
            Part::Query(_) => None,
        })
        .collect()
}

/// The reference a rule's head names it by (`p`, `a.b`, `p[x]`).
pub fn head_ref(rule: &Rule) -> &Ref<Expr> {
    match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. }
            | RuleHead::Set { refr, .. }
            | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regorus::Engine;

    fn first_body_expr(text: &str) -> Ref<Expr> {
        let mut engine = Engine::new();
        engine.add_policy("t.rego".into(), text.into()).unwrap();
        let module = engine.get_modules()[0].clone();
        let Rule::Spec { bodies, .. } = module.policy[0].as_ref() else {
            panic!("not a spec rule")
        };
        match &bodies[0].query.stmts[0].literal {
            regorus::unstable::Literal::Expr { expr, .. } => expr.clone(),
            _ => panic!("not an expression statement"),
        }
    }

    fn texts(parts: &[Part<'_>]) -> Vec<String> {
        parts
            .iter()
            .map(|p| match p {
                Part::Expr(e) => e.span().text().to_string(),
                Part::Query(q) => format!("query of {}", q.stmts.len()),
            })
            .collect()
    }

    #[test]
    fn parts_come_in_source_order_with_a_comprehensions_body_last() {
        let e = first_body_expr("package p\nr if { {k: v | some k, v in input.x} }\n");
        assert_eq!(texts(&parts(&e)), ["k", "v", "query of 1"]);
        assert_eq!(sub_exprs(&e).len(), 2);
        let e = first_body_expr("package p\nr if { x in input.a }\n");
        assert_eq!(texts(&parts(&e)), ["x", "input.a"]);
        let e = first_body_expr("package p\nr if { f(input.a[0], 1 + 2) }\n");
        assert_eq!(texts(&parts(&e)), ["input.a[0]", "1 + 2"]);
        assert!(parts(&first_body_expr("package p\nr if { true }\n")).is_empty());
    }

    #[test]
    fn a_heads_reference_names_the_rule() {
        let mut engine = Engine::new();
        let text = "package p\ndefault a := 1\nb[x] := 2 if { x := 1 }\nf(x) := x\n";
        engine.add_policy("t.rego".into(), text.into()).unwrap();
        let module = engine.get_modules()[0].clone();
        let names: Vec<_> = module
            .policy
            .iter()
            .map(|r| match head_ref(r).as_ref() {
                Expr::Var { span, .. } => span.text().to_string(),
                Expr::RefBrack { refr, .. } => format!("{}[…]", refr.span().text()),
                other => panic!("unexpected head {other:?}"),
            })
            .collect();
        assert_eq!(names, ["a", "b[…]", "f"]);
    }
}
