//! OPA's recursion check: a rule (or function) that depends on itself through other rules is
//! a compile error in every rule, reached or not; regorus fails only when it evaluates one.
//!
//! A rule depends on the rules its references and calls name: `data.…` paths, import
//! aliases, and bare names of rules of its package. A name the rule may bind itself (an
//! argument, `:=`, either side of `=`, `some`, `every`, an index) is taken as its own
//! variable, so an unusual binding can hide a cycle but never invent one.

use std::collections::{BTreeMap, BTreeSet};

use regorus::unstable::{AssignOp, Expr, Literal, Module, Query, Ref, Rule, RuleHead};

use super::{Problem, imports, package_path, ref_path};
use crate::policy::ast::{self, Part};

/// Every rule path with where it is defined and the rule paths it depends on.
#[derive(Default)]
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    at: BTreeMap<String, (String, u32)>,
}

pub fn check(modules: &[Ref<Module>], rules: &BTreeSet<String>) -> Vec<Problem> {
    let mut g = Graph::default();
    for m in modules {
        let package = package_path(m);
        let imports = imports(m);
        for rule in &m.policy {
            let Some(path) = rule_path(&package, rule) else {
                continue;
            };
            let mut locals = BTreeSet::new();
            visit_rule(rule, &mut |seen| bound(seen, &mut locals));
            let mut deps = BTreeSet::new();
            visit_rule(rule, &mut |seen| {
                if let Seen::Expr(e) = seen
                    && let Some(dep) = reference(e, &package, &imports, &locals, rules)
                {
                    deps.insert(dep);
                }
            });
            let span = rule.span();
            g.at.entry(path.clone())
                .or_insert_with(|| (span.source.file().to_string(), span.line));
            g.edges.entry(path).or_default().extend(deps);
        }
    }
    g.cycles()
}

fn rule_path(package: &str, rule: &Rule) -> Option<String> {
    let (path, _) = ref_path(ast::head_ref(rule))?;
    Some(format!("{package}.{}", path.join(".")))
}

/// The rule a reference or call names, if any: the longest rule path it starts with.
fn reference(
    e: &Expr,
    package: &str,
    imports: &BTreeMap<String, Vec<String>>,
    locals: &BTreeSet<String>,
    rules: &BTreeSet<String>,
) -> Option<String> {
    let target = match e {
        Expr::Call { fcn, .. } => fcn,
        Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. } => e,
        _ => return None,
    };
    let (mut path, _) = ref_path(target)?;
    let first = path.first()?.clone();
    if let Some(import) = imports.get(&first) {
        path.splice(0..1, import.iter().cloned());
    } else if first != "data" {
        if locals.contains(&first) {
            return None;
        }
        let mut full = vec![package.to_string()];
        full.extend(path);
        path = full;
    }
    let joined = path.join(".");
    let mut candidate = joined.as_str();
    loop {
        if rules.contains(candidate) {
            return Some(candidate.to_string());
        }
        candidate = &candidate[..candidate.rfind('.')?];
    }
}

/// What a walk over a rule meets.
enum Seen<'a> {
    Expr(&'a Expr),
    /// A pattern that declares variables (an argument, `some … in`).
    Declares(&'a Expr),
    /// A declared variable (`some x`, `every k, v`).
    Name(&'a str),
}

/// Names the rule may bind.
fn bound(seen: Seen<'_>, locals: &mut BTreeSet<String>) {
    match seen {
        Seen::Expr(Expr::AssignExpr { op, lhs, rhs, .. }) => {
            vars(lhs, locals);
            if matches!(op, AssignOp::Eq) {
                vars(rhs, locals);
            }
        }
        Seen::Expr(Expr::RefBrack { index, .. }) => vars(index, locals),
        Seen::Declares(pattern) => vars(pattern, locals),
        Seen::Name(name) => {
            locals.insert(name.to_string());
        }
        Seen::Expr(_) => {}
    }
}

/// Every variable in a pattern.
fn vars(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::Var { span, .. } => {
            out.insert(span.text().to_string());
        }
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            for i in items {
                vars(i, out);
            }
        }
        Expr::Object { fields, .. } => {
            for (_, k, v) in fields {
                vars(k, out);
                vars(v, out);
            }
        }
        _ => {}
    }
}

type Visitor<'v> = dyn FnMut(Seen<'_>) + 'v;

/// Calls `f` on every expression of the rule and every variable it declares. The rule's
/// own name in its head is no reference.
fn visit_rule(rule: &Rule, f: &mut Visitor<'_>) {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { refr, assign, .. } => {
                    visit_head(refr, f);
                    if let Some(a) = assign {
                        visit(&a.value, f);
                    }
                }
                RuleHead::Set { refr, key, .. } => {
                    visit_head(refr, f);
                    if let Some(k) = key {
                        visit(k, f);
                    }
                }
                RuleHead::Func { args, assign, .. } => {
                    for a in args {
                        f(Seen::Declares(a));
                    }
                    if let Some(a) = assign {
                        visit(&a.value, f);
                    }
                }
            }
            for b in bodies {
                if let Some(a) = &b.assign {
                    visit(&a.value, f);
                }
                query(&b.query, f);
            }
        }
        Rule::Default { value, .. } => visit(value, f),
    }
}

fn query(q: &Query, f: &mut Visitor<'_>) {
    for stmt in &q.stmts {
        for w in &stmt.with_mods {
            visit(&w.r#as, f);
        }
        match &stmt.literal {
            Literal::SomeVars { vars, .. } => {
                for v in vars {
                    f(Seen::Name(v.text()));
                }
            }
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    f(Seen::Declares(k));
                }
                f(Seen::Declares(value));
                visit(collection, f);
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => visit(expr, f),
            Literal::Every {
                key,
                value,
                domain,
                query: body,
                ..
            } => {
                for v in key.iter().chain(std::iter::once(value)) {
                    f(Seen::Name(v.text()));
                }
                visit(domain, f);
                query(body, f);
            }
        }
    }
}

fn visit(e: &Expr, f: &mut Visitor<'_>) {
    f(Seen::Expr(e));
    match e {
        // The reference itself was given to `f`; only an index is another expression.
        Expr::RefDot { refr, .. } => visit_ref_base(refr, f),
        Expr::RefBrack { refr, index, .. } => {
            visit_ref_base(refr, f);
            visit(index, f);
        }
        _ => {
            for part in ast::parts(e) {
                match part {
                    Part::Expr(x) => visit(x, f),
                    Part::Query(q) => query(q, f),
                }
            }
        }
    }
}

/// The indexes of a rule head's reference (`p[x]`), which names the rule itself.
fn visit_head(e: &Expr, f: &mut Visitor<'_>) {
    match e {
        Expr::RefDot { refr, .. } => visit_head(refr, f),
        Expr::RefBrack { refr, index, .. } => {
            visit_head(refr, f);
            visit(index, f);
        }
        _ => {}
    }
}

/// Inside a reference chain only the indexes (and a base that is no name) are expressions
/// of their own.
fn visit_ref_base(e: &Expr, f: &mut Visitor<'_>) {
    match e {
        Expr::RefDot { refr, .. } => visit_ref_base(refr, f),
        Expr::RefBrack { refr, index, .. } => {
            visit_ref_base(refr, f);
            f(Seen::Expr(e));
            visit(index, f);
        }
        Expr::Var { .. } => {}
        other => visit(other, f),
    }
}

impl Graph {
    /// One problem per rule on a cycle, with the cycle as OPA writes it.
    fn cycles(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for start in self.edges.keys() {
            if let Some(path) = self.cycle_from(start) {
                let (file, line) = self.at.get(start).cloned().unwrap_or_default();
                out.push(Problem {
                    file,
                    line,
                    message: format!(
                        "rego_recursion_error: rule {start} is recursive: {}",
                        path.join(" -> ")
                    ),
                });
            }
        }
        out
    }

    /// A shortest way from `start` back to itself.
    fn cycle_from(&self, start: &str) -> Option<Vec<String>> {
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for next in self.edges.get(n).into_iter().flatten() {
                if next == start {
                    let mut path = vec![start.to_string()];
                    let mut cur = n;
                    let mut back = vec![];
                    while cur != start {
                        back.push(cur.to_string());
                        cur = prev.get(cur)?;
                    }
                    path.extend(back.into_iter().rev());
                    path.push(start.to_string());
                    return Some(path);
                }
                if next != start && !prev.contains_key(next.as_str()) {
                    prev.insert(next, n);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}
