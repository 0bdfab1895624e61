//! The whole-policy checks OPA's compiler makes before Buildx decides any source, over every
//! rule of every module whether an evaluation reaches it or not (regorus resolves names only
//! when it evaluates them, and lets the first of two `default` rules win):
//!
//! - a call of a function no module defines and Buildx does not allow (`trace`, `http.send`,
//!   a typo), or with the wrong number of arguments;
//! - a literal argument of the wrong type (`count(5)`, `"a" + 1`);
//! - two `default` rules for one rule;
//! - rules of one name that cannot be one document: a value and a set (`contains`), a
//!   function and a value, functions of different arity, a value and rules below it;
//! - a rule that depends on itself (`recursion`).
//!
//! Messages name the file and line and read as OPA's (`rego_type_error: undefined function
//! trace`).

use std::collections::{BTreeMap, BTreeSet};

use regorus::unstable::{ArithOp, BinOp, Expr, Literal, Module, Query, Ref, Rule, RuleHead};

use super::ast::{self, Part};
use super::signatures::{self, Ty, fits};

mod recursion;

/// What OPA's compiler would refuse, in source order.
#[derive(Debug, thiserror::Error)]
#[error("{}", summary(.0))]
pub struct CheckErrors(pub Vec<Problem>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u32,
    pub message: String,
}

fn summary(problems: &[Problem]) -> String {
    let n = problems.len();
    let list: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.file, p.line, p.message))
        .collect();
    let head = if n == 1 {
        "1 error occurred".to_string()
    } else {
        format!("{n} errors occurred")
    };
    format!("{head}: {}", list.join("; "))
}

/// Checks every module; `extensions` are the functions registered besides OPA's builtins.
pub fn check(modules: &[Ref<Module>], extensions: &[(&str, usize)]) -> Result<(), CheckErrors> {
    let rules = Rules::of(modules);
    let mut problems = rules.conflicts();
    problems.extend(recursion::check(
        modules,
        &rules.0.keys().cloned().collect(),
    ));
    for m in modules {
        let mut w = Walker {
            rules: &rules,
            extensions,
            package: package_path(m),
            imports: imports(m),
            problems: &mut problems,
        };
        for rule in &m.policy {
            w.rule(rule);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CheckErrors(problems))
    }
}

/// Path components of a reference (`a.b["c"]`), and whether it goes on with a non-literal
/// index (`p[x]`).
fn ref_path(e: &Expr) -> Option<(Vec<String>, bool)> {
    match e {
        Expr::Var { span, .. } => Some((vec![span.text().to_string()], false)),
        Expr::RefDot { refr, field, .. } => {
            let (mut p, dynamic) = ref_path(refr)?;
            if !dynamic {
                p.push(field.0.text().to_string());
            }
            Some((p, dynamic))
        }
        Expr::RefBrack { refr, index, .. } => {
            let (mut p, dynamic) = ref_path(refr)?;
            match (dynamic, index.as_ref()) {
                (false, Expr::String { value, .. }) => {
                    p.push(value.as_string().ok()?.to_string());
                    Some((p, false))
                }
                _ => Some((p, true)),
            }
        }
        _ => None,
    }
}

fn package_path(m: &Module) -> String {
    let comps = ref_path(&m.package.refr)
        .map(|(p, _)| p)
        .unwrap_or_default();
    format!("data.{}", comps.join("."))
}

/// `import data.a.b [as c]`: alias → path.
fn imports(m: &Module) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for imp in &m.imports {
        let Some((path, false)) = ref_path(&imp.refr) else {
            continue;
        };
        if !matches!(path.first().map(String::as_str), Some("data" | "input")) {
            continue;
        }
        let alias = match &imp.r#as {
            Some(span) => span.text().to_string(),
            None => path.last().cloned().unwrap_or_default(),
        };
        out.insert(alias, path);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// One value (`p := v`, `p if …`, `default p := v`).
    Value,
    /// A set (`p contains x`).
    Set,
    /// Keys of an object (`p[k] := v`).
    Object,
    Function(usize),
}

struct Def {
    kind: Kind,
    default: bool,
    file: String,
    line: u32,
}

/// Every rule of the policy, by path.
struct Rules(BTreeMap<String, Vec<Def>>);

impl Rules {
    fn of(modules: &[Ref<Module>]) -> Rules {
        let mut map: BTreeMap<String, Vec<Def>> = BTreeMap::new();
        for m in modules {
            let package = package_path(m);
            for rule in &m.policy {
                let (refr, kind, default) = match rule.as_ref() {
                    Rule::Spec { head, .. } => match head {
                        RuleHead::Compr { refr, .. } => (refr, Kind::Value, false),
                        RuleHead::Set { refr, .. } => (refr, Kind::Set, false),
                        RuleHead::Func { refr, args, .. } => {
                            (refr, Kind::Function(args.len()), false)
                        }
                    },
                    Rule::Default { refr, args, .. } if args.is_empty() => {
                        (refr, Kind::Value, true)
                    }
                    Rule::Default { refr, args, .. } => (refr, Kind::Function(args.len()), true),
                };
                let Some((path, dynamic)) = ref_path(refr) else {
                    continue;
                };
                let kind = if dynamic && kind == Kind::Value {
                    Kind::Object
                } else {
                    kind
                };
                let span = rule.span();
                map.entry(format!("{package}.{}", path.join(".")))
                    .or_default()
                    .push(Def {
                        kind,
                        default,
                        file: span.source.file().to_string(),
                        line: span.line,
                    });
            }
        }
        Rules(map)
    }

    fn arities(&self, path: &str) -> Option<BTreeSet<usize>> {
        let defs = self.0.get(path)?;
        Some(
            defs.iter()
                .map(|d| match d.kind {
                    Kind::Function(n) => n,
                    _ => 0,
                })
                .collect(),
        )
    }

    fn conflicts(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (path, defs) in &self.0 {
            let defaults: Vec<&Def> = defs.iter().filter(|d| d.default).collect();
            if defaults.len() > 1 {
                let at: Vec<String> = defaults
                    .iter()
                    .map(|d| format!("{}:{}", d.file, d.line))
                    .collect();
                out.push(problem(
                    defaults[1],
                    format!("multiple default rules {path} found at {}", at.join(", ")),
                ));
            }
            let kinds: BTreeSet<Kind> = defs.iter().map(|d| d.kind).collect();
            if kinds.len() > 1 {
                out.push(problem(&defs[1], format!("conflicting rules {path} found")));
            }
            // A value, set or function is the whole document: nothing may be defined below it.
            if defs.iter().any(|d| d.kind != Kind::Object) {
                let below = format!("{path}.");
                if let Some((inner, d)) = self
                    .0
                    .range(below.clone()..)
                    .next()
                    .filter(|(p, _)| p.starts_with(&below))
                {
                    let whole = &defs[0];
                    out.push(problem(
                        whole,
                        format!(
                            "rule {path} conflicts with rule {inner} at {}:{}",
                            d[0].file, d[0].line
                        ),
                    ));
                }
            }
        }
        out
    }
}

fn problem(d: &Def, message: String) -> Problem {
    Problem {
        file: d.file.clone(),
        line: d.line,
        message: format!("rego_type_error: {message}"),
    }
}

struct Walker<'a> {
    rules: &'a Rules,
    extensions: &'a [(&'a str, usize)],
    package: String,
    imports: BTreeMap<String, Vec<String>>,
    problems: &'a mut Vec<Problem>,
}

impl Walker<'_> {
    fn report(&mut self, at: &Expr, message: String) {
        let span = at.span();
        self.problems.push(Problem {
            file: span.source.file().to_string(),
            line: span.line,
            message: format!("rego_type_error: {message}"),
        });
    }

    fn rule(&mut self, rule: &Rule) {
        match rule {
            Rule::Spec { head, bodies, .. } => {
                match head {
                    RuleHead::Compr { refr, assign, .. } => {
                        self.expr(refr, false);
                        if let Some(a) = assign {
                            self.expr(&a.value, false);
                        }
                    }
                    RuleHead::Set { refr, key, .. } => {
                        self.expr(refr, false);
                        if let Some(k) = key {
                            self.expr(k, false);
                        }
                    }
                    RuleHead::Func { args, assign, .. } => {
                        for a in args {
                            self.expr(a, false);
                        }
                        if let Some(a) = assign {
                            self.expr(&a.value, false);
                        }
                    }
                }
                for body in bodies {
                    if let Some(a) = &body.assign {
                        self.expr(&a.value, false);
                    }
                    self.query(&body.query);
                }
            }
            Rule::Default { value, .. } => self.expr(value, false),
        }
    }

    fn query(&mut self, q: &Query) {
        for stmt in &q.stmts {
            for w in &stmt.with_mods {
                self.expr(&w.r#as, false);
            }
            match &stmt.literal {
                Literal::SomeVars { .. } => {}
                Literal::SomeIn {
                    key,
                    value,
                    collection,
                    ..
                } => {
                    if let Some(k) = key {
                        self.expr(k, false);
                    }
                    self.expr(value, false);
                    self.expr(collection, false);
                }
                // A call standing alone may bind its output to an extra argument.
                Literal::Expr { expr, .. } => self.expr(expr, true),
                Literal::NotExpr { expr, .. } => self.expr(expr, false),
                Literal::Every { domain, query, .. } => {
                    self.expr(domain, false);
                    self.query(query);
                }
            }
        }
    }

    fn expr(&mut self, e: &Expr, statement: bool) {
        match e {
            Expr::Call { fcn, params, .. } => self.call(e, fcn, params, statement),
            Expr::BinExpr { op, lhs, rhs, .. } => {
                let name = match op {
                    BinOp::Union => "or",
                    BinOp::Intersection => "and",
                };
                self.types(e, name, &[lhs, rhs]);
            }
            Expr::ArithExpr { op, lhs, rhs, .. } => {
                let name = match op {
                    ArithOp::Add => "plus",
                    ArithOp::Sub => "minus",
                    ArithOp::Mul => "mul",
                    ArithOp::Div => "div",
                    ArithOp::Mod => "rem",
                };
                self.types(e, name, &[lhs, rhs]);
            }
            _ => {}
        }
        for part in ast::parts(e) {
            match part {
                Part::Expr(x) => self.expr(x, false),
                Part::Query(q) => self.query(q),
            }
        }
    }

    fn call(&mut self, at: &Expr, fcn: &Expr, params: &[Ref<Expr>], statement: bool) {
        let Some((mut path, false)) = ref_path(fcn) else {
            return;
        };
        if path == ["print"] {
            return;
        }
        if let Some(target) = self.imports.get(&path[0]) {
            path.splice(0..1, target.iter().cloned());
        }
        let n = params.len();
        let fits_arity = |a: usize| n == a || (statement && n == a + 1);
        let local = if path[0] == "data" {
            path.join(".")
        } else {
            format!("{}.{}", self.package, path.join("."))
        };
        if let Some(arities) = self.rules.arities(&local) {
            if !arities.iter().any(|a| fits_arity(*a)) {
                let a = arities.iter().next().copied().unwrap_or(0);
                let s = if n == 1 { "" } else { "s" };
                self.report(
                    at,
                    format!("function {local} has arity {a}, got {n} argument{s}"),
                );
            }
            return;
        }
        let name = path.join(".");
        if path[0] == "data" {
            self.report(at, format!("undefined function {name}"));
            return;
        }
        let args: Vec<&Expr> = params.iter().map(|p| p.as_ref()).collect();
        if let Some(want) = signatures::args_of(&name) {
            if !fits_arity(want.len()) {
                let have: Vec<String> = args.iter().map(|a| literal_type(a).to_string()).collect();
                self.report(
                    at,
                    format!(
                        "{name}: arity mismatch: have ({}), want ({})",
                        have.join(", "),
                        list(&want)
                    ),
                );
                return;
            }
            self.types(at, &name, &args);
            return;
        }
        match self.extensions.iter().find(|(e, _)| *e == name) {
            Some((_, a)) if fits_arity(*a) => {}
            Some((_, a)) => self.report(
                at,
                format!("{name}: arity mismatch: have {n} arguments, want {a}"),
            ),
            None => self.report(at, format!("undefined function {name}")),
        }
    }

    /// Literal arguments checked against the builtin's declared types.
    fn types(&mut self, at: &Expr, name: &str, args: &[&Expr]) {
        let Some(want) = signatures::args_of(name) else {
            return;
        };
        let have: Vec<Ty> = args.iter().map(|a| literal_type(a)).collect();
        if have.iter().zip(&want).all(|(h, w)| fits(h, w)) {
            return;
        }
        self.report(
            at,
            format!(
                "{name}: invalid argument(s): have ({}), want ({})",
                list(&have),
                list(&want)
            ),
        );
    }
}

fn list(types: &[Ty]) -> String {
    types
        .iter()
        .map(Ty::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The type of a literal (with literal parts); `Any` for what only evaluation knows.
fn literal_type(e: &Expr) -> Ty {
    match e {
        Expr::String { .. } | Expr::RawString { .. } => Ty::Str,
        Expr::Number { .. } => Ty::Num,
        Expr::Bool { .. } => Ty::Bool,
        Expr::Null { .. } => Ty::Null,
        Expr::Array { items, .. } => Ty::Tuple(items.iter().map(|i| literal_type(i)).collect()),
        Expr::Set { items, .. } => Ty::Set(Box::new(union(items.iter().map(|i| literal_type(i))))),
        Expr::Object { fields, .. } => Ty::Object(
            Box::new(union(fields.iter().map(|(_, k, _)| literal_type(k)))),
            Box::new(union(fields.iter().map(|(_, _, v)| literal_type(v)))),
        ),
        Expr::ArrayCompr { .. } => Ty::Array(Box::new(Ty::Any)),
        Expr::SetCompr { .. } => Ty::Set(Box::new(Ty::Any)),
        Expr::ObjectCompr { .. } => Ty::Object(Box::new(Ty::Any), Box::new(Ty::Any)),
        Expr::UnaryExpr { expr, .. } if matches!(expr.as_ref(), Expr::Number { .. }) => Ty::Num,
        _ => Ty::Any,
    }
}

/// The union of element types; `Any` when empty or when one is unknown.
fn union(types: impl Iterator<Item = Ty>) -> Ty {
    let mut out: Vec<Ty> = Vec::new();
    for t in types {
        if t == Ty::Any {
            return Ty::Any;
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    match out.len() {
        0 => Ty::Any,
        1 => out.remove(0),
        _ => Ty::Union(out),
    }
}
