//! The policy modules as the partial-evaluation model reads them: rules by path, each body
//! a list of statements, and in each statement the references it makes (to `input`, to
//! rules, to local variables) and the user functions it calls, with names resolved the way
//! OPA resolves them (the module's package, its imports).

use std::collections::{BTreeMap, BTreeSet};

use regorus::unstable::{Expr, Literal, LiteralStmt, Module, Query, Rule, RuleBody, RuleHead};

/// One component of a reference after its root: `.name` / `["name"]`, or an index that is
/// not a string literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comp {
    Field(String),
    Dynamic,
}

/// What a reference starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    Input,
    /// A rule (or function), by its path below `data` (`docker.allow`).
    Rule(String),
    Local(String),
}

/// A reference made in a statement or a rule head.
#[derive(Debug, Clone)]
pub struct RefUse {
    pub root: Root,
    pub comps: Vec<Comp>,
    /// Inside a comprehension: partial evaluation saves the comprehension whole.
    pub in_compr: bool,
}

/// A call of a user function, with each argument as a reference when it is one.
#[derive(Debug, Clone)]
pub struct CallUse {
    pub function: String,
    pub args: Vec<Option<RefUse>>,
    pub in_compr: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Stmt {
    /// The statement's source text, to evaluate it when all it reads is known.
    pub text: String,
    pub refs: Vec<RefUse>,
    pub calls: Vec<CallUse>,
    pub negated: bool,
    pub with: bool,
    /// Local variables the statement assigns (`:=`, `=`, `some … in`, `some`).
    pub assigned: BTreeSet<String>,
    /// `x := <reference>`: partial evaluation reads `x.f` as that reference's `f`.
    pub alias: Option<(String, RefUse)>,
}

impl Stmt {
    /// `input.<kind>` (or `not input.<kind>`) standing alone: a test of the source's kind.
    pub fn kind_test(&self) -> Option<&str> {
        match (&self.refs[..], &self.calls[..]) {
            ([r], []) if r.root == Root::Input => match &r.comps[..] {
                [Comp::Field(k)]
                    if self.text.trim_start_matches("not ").trim() == format!("input.{k}") =>
                {
                    Some(k)
                }
                _ => None,
            },
            _ => None,
        }
    }

    pub fn locals(&self) -> impl Iterator<Item = &str> {
        self.refs.iter().filter_map(|r| match &r.root {
            Root::Local(v) => Some(v.as_str()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Body {
    pub stmts: Vec<Stmt>,
    /// References in the rule's head (its key and value), evaluated when the body holds.
    pub head: Vec<RefUse>,
    pub head_calls: Vec<CallUse>,
    /// The module it was written in (`Program::headers`).
    pub module: usize,
}

#[derive(Debug, Clone, Default)]
pub struct RuleDef {
    pub bodies: Vec<Body>,
    pub has_default: bool,
    /// A partial set or object (`contains`, `x[k] := v`).
    pub multi: bool,
    pub has_else: bool,
    /// Parameter names, for a function.
    pub params: Option<Vec<String>>,
}

#[derive(Debug, Default)]
pub struct Program {
    pub rules: BTreeMap<String, RuleDef>,
    /// Per module, its `package` and `import` lines: what a statement of it means.
    pub headers: Vec<String>,
}

impl Program {
    /// Reads the parsed modules; `None` when something is beyond what the model reads.
    pub fn new(modules: &[&Module]) -> Option<Program> {
        let mut p = Program::default();
        // Rule paths first: a name in a body is a rule when its package has one by that name.
        for m in modules {
            let pkg = package(m)?;
            for r in &m.policy {
                let (path, _) = head_path(&pkg, r)?;
                p.rules.entry(path).or_default();
            }
        }
        for (index, m) in modules.iter().enumerate() {
            let pkg = package(m)?;
            let mut header = format!("package {pkg}\n");
            for i in &m.imports {
                header.push_str(i.span.text());
                header.push('\n');
            }
            p.headers.push(header);
            let scope = Scope::new(&pkg, m, &p.rules, index);
            let mut defs: Vec<(String, RuleDef)> = Vec::new();
            for r in &m.policy {
                defs.push(scope.rule(r)?);
            }
            for (path, d) in defs {
                let e = p.rules.entry(path).or_default();
                e.bodies.extend(d.bodies);
                e.has_default |= d.has_default;
                e.multi |= d.multi;
                e.has_else |= d.has_else;
                if d.params.is_some() {
                    e.params = d.params;
                }
            }
        }
        Some(p)
    }
}

fn package(m: &Module) -> Option<String> {
    let t = m.package.refr.span().text();
    Some(t.strip_prefix("data.").unwrap_or(t).to_string())
}

/// The rule's path and whether it is a default.
fn head_path(pkg: &str, r: &Rule) -> Option<(String, bool)> {
    let refr = match r {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. }
            | RuleHead::Set { refr, .. }
            | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    };
    let (name, _) = name_of(refr)?;
    Some((format!("{pkg}.{name}"), matches!(r, Rule::Default { .. })))
}

/// A head's dotted name, and whether a bracket follows it (a partial object).
fn name_of(e: &Expr) -> Option<(String, bool)> {
    match e {
        Expr::Var { span, .. } => Some((span.text().to_string(), false)),
        Expr::RefDot { refr, field, .. } => {
            let (n, b) = name_of(refr)?;
            Some((format!("{n}.{}", field.0.text()), b))
        }
        Expr::RefBrack { refr, .. } => Some((name_of(refr)?.0, true)),
        _ => None,
    }
}

/// Name resolution in one module.
struct Scope<'a> {
    pkg: &'a str,
    module: usize,
    /// Import alias to what it stands for (`Root::Input` with components, or a rule path).
    imports: BTreeMap<String, (Root, Vec<Comp>)>,
    rules: &'a BTreeMap<String, RuleDef>,
}

impl<'a> Scope<'a> {
    fn new(pkg: &'a str, m: &Module, rules: &'a BTreeMap<String, RuleDef>, module: usize) -> Self {
        let mut imports = BTreeMap::new();
        for i in &m.imports {
            let mut comps = Vec::new();
            let Some(root) = chain(&i.refr, &mut comps) else {
                continue;
            };
            let alias = match (&i.r#as, comps.last()) {
                (Some(a), _) => a.text().to_string(),
                (None, Some(Comp::Field(f))) => f.clone(),
                _ => continue,
            };
            match root.as_str() {
                "input" => {
                    imports.insert(alias, (Root::Input, comps));
                }
                "data" => {
                    let path: Vec<String> = comps
                        .iter()
                        .filter_map(|c| match c {
                            Comp::Field(f) => Some(f.clone()),
                            Comp::Dynamic => None,
                        })
                        .collect();
                    imports.insert(alias, (Root::Rule(path.join(".")), Vec::new()));
                }
                _ => {}
            }
        }
        Scope {
            pkg,
            module,
            imports,
            rules,
        }
    }

    fn rule(&self, r: &Rule) -> Option<(String, RuleDef)> {
        let (path, is_default) = head_path(self.pkg, r)?;
        let mut d = RuleDef {
            has_default: is_default,
            ..Default::default()
        };
        let Rule::Spec { head, bodies, .. } = r else {
            return Some((path, d));
        };
        let mut head_exprs: Vec<&Expr> = Vec::new();
        match head {
            RuleHead::Compr { refr, assign, .. } => {
                d.multi = name_of(refr)?.1;
                if let Expr::RefBrack { index, .. } = refr.as_ref() {
                    head_exprs.push(index);
                }
                head_exprs.extend(assign.iter().map(|a| a.value.as_ref()));
            }
            RuleHead::Set { key, .. } => {
                d.multi = true;
                head_exprs.extend(key.iter().map(|k| k.as_ref()));
            }
            RuleHead::Func { args, assign, .. } => {
                let mut params = Vec::new();
                for a in args {
                    match a.as_ref() {
                        Expr::Var { span, .. } => params.push(span.text().to_string()),
                        // Pattern parameters: beyond the model.
                        _ => return None,
                    }
                }
                d.params = Some(params);
                head_exprs.extend(assign.iter().map(|a| a.value.as_ref()));
            }
        }
        for b in bodies {
            d.has_else |= b.is_else;
            d.bodies.push(self.body(b, &head_exprs)?);
        }
        if bodies.is_empty() {
            // `x := value` with no body: the value alone.
            d.bodies.push(self.body_of(None, &head_exprs)?);
        }
        Some((path, d))
    }

    fn body(&self, b: &RuleBody, head: &[&Expr]) -> Option<Body> {
        let mut head: Vec<&Expr> = head.to_vec();
        if let Some(a) = &b.assign {
            head.push(&a.value);
        }
        self.body_of(Some(&b.query), &head)
    }

    fn body_of(&self, q: Option<&Query>, head: &[&Expr]) -> Option<Body> {
        let mut body = Body {
            module: self.module,
            ..Default::default()
        };
        for s in q.map(|q| q.stmts.as_slice()).unwrap_or_default() {
            body.stmts.push(self.stmt(s)?);
        }
        let mut w = Walk::new(self);
        for e in head {
            w.expr(e, false)?;
        }
        body.head = w.refs;
        body.head_calls = w.calls;
        Some(body)
    }

    fn stmt(&self, s: &LiteralStmt) -> Option<Stmt> {
        let mut w = Walk::new(self);
        let mut st = Stmt {
            text: statement_text(s.span.source.get_contents(), s.span.start as usize),
            with: !s.with_mods.is_empty(),
            ..Default::default()
        };
        for m in &s.with_mods {
            w.expr(&m.refr, false)?;
            w.expr(&m.r#as, false)?;
        }
        match &s.literal {
            Literal::SomeVars { vars, .. } => {
                st.assigned
                    .extend(vars.iter().map(|v| v.text().to_string()));
            }
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                for e in key.iter().chain(std::iter::once(value)) {
                    w.expr(e, false)?;
                    st.assigned.extend(local_vars(e));
                }
                w.expr(collection, false)?;
            }
            Literal::Expr { expr, .. } => {
                if let Expr::AssignExpr { op, lhs, rhs, .. } = expr.as_ref() {
                    st.assigned.extend(local_vars(lhs));
                    if matches!(op, regorus::unstable::AssignOp::Eq) {
                        st.assigned.extend(local_vars(rhs));
                    }
                    if let (Expr::Var { span, .. }, Some(r)) =
                        (lhs.as_ref(), w.reference(rhs, false)?)
                    {
                        st.alias = Some((span.text().to_string(), r));
                    }
                }
                w.expr(expr, false)?;
            }
            Literal::NotExpr { expr, .. } => {
                st.negated = true;
                w.expr(expr, false)?;
            }
            Literal::Every { domain, query, .. } => {
                w.expr(domain, false)?;
                w.query(query)?;
            }
        }
        st.refs = w.refs;
        st.calls = w.calls;
        Some(st)
    }

    /// What a root name stands for here.
    fn resolve(&self, name: &str) -> (Root, Vec<Comp>) {
        if name == "input" {
            return (Root::Input, Vec::new());
        }
        if let Some(x) = self.imports.get(name) {
            return x.clone();
        }
        let path = format!("{}.{name}", self.pkg);
        if self.rules.contains_key(&path) {
            return (Root::Rule(path), Vec::new());
        }
        (Root::Local(name.to_string()), Vec::new())
    }
}

/// The statement starting at `start` of `source`: up to a `;`, a newline or the body's
/// closing brace outside brackets and strings. (regorus's statement spans end before a
/// closing quote.)
fn statement_text(source: &str, start: usize) -> String {
    let rest = source.get(start..).unwrap_or_default();
    let mut depth = 0i32;
    let mut in_str: Option<char> = None;
    let mut escaped = false;
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = in_str {
            match (c, escaped) {
                (_, true) => escaped = false,
                ('\\', false) if q == '"' => escaped = true,
                (c, false) if c == q => in_str = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '`' => in_str = Some(c),
            '#' => {
                while chars.peek().is_some_and(|(_, c)| *c != '\n') {
                    chars.next();
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth -= 1,
            '}' if depth == 0 => return rest[..i].trim().to_string(),
            '}' => depth -= 1,
            ';' | '\n' if depth == 0 => return rest[..i].trim().to_string(),
            _ => {}
        }
    }
    rest.trim().to_string()
}

/// The variables an assignment target names.
fn local_vars(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Var { span, .. } if span.text() != "_" => out.push(span.text().to_string()),
            Expr::Array { items, .. } => stack.extend(items.iter().map(|i| i.as_ref())),
            Expr::Object { fields, .. } => stack.extend(fields.iter().map(|(_, _, v)| v.as_ref())),
            _ => {}
        }
    }
    out
}

/// A reference chain's root variable and its components.
fn chain(e: &Expr, comps: &mut Vec<Comp>) -> Option<String> {
    match e {
        Expr::Var { span, .. } => Some(span.text().to_string()),
        Expr::RefDot { refr, field, .. } => {
            let root = chain(refr, comps)?;
            comps.push(Comp::Field(field.0.text().to_string()));
            Some(root)
        }
        Expr::RefBrack { refr, index, .. } => {
            let root = chain(refr, comps)?;
            comps.push(match index.as_ref() {
                Expr::String { value, .. } | Expr::RawString { value, .. } => value
                    .as_string()
                    .map(|s| Comp::Field(s.to_string()))
                    .unwrap_or(Comp::Dynamic),
                // An array index, as partial evaluation's keys write it (`materials[0]`).
                Expr::Number { span, .. } => Comp::Field(span.text().to_string()),
                _ => Comp::Dynamic,
            });
            Some(root)
        }
        _ => None,
    }
}

/// Collects the references and calls of expressions.
struct Walk<'s, 'a> {
    scope: &'s Scope<'a>,
    refs: Vec<RefUse>,
    calls: Vec<CallUse>,
}

impl<'s, 'a> Walk<'s, 'a> {
    fn new(scope: &'s Scope<'a>) -> Self {
        Walk {
            scope,
            refs: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// A reference chain as a `RefUse` (its dynamic indexes walked too).
    fn reference(&mut self, e: &Expr, in_compr: bool) -> Option<Option<RefUse>> {
        let mut comps = Vec::new();
        let Some(root) = chain(e, &mut comps) else {
            return Some(None);
        };
        self.indexes(e, in_compr)?;
        let (root, mut prefix) = self.scope.resolve(&root);
        // A `data` path that is no rule is a (known, absent) value like any local.
        let root = match root {
            Root::Local(v) if v == "data" => {
                self.rule_path(&[], &mut comps).unwrap_or(Root::Local(v))
            }
            Root::Rule(p) => {
                let base: Vec<String> = p.split('.').map(str::to_string).collect();
                self.rule_path(&base, &mut comps).unwrap_or(Root::Local(p))
            }
            other => other,
        };
        prefix.extend(comps);
        Some(Some(RefUse {
            root,
            comps: prefix,
            in_compr,
        }))
    }

    /// The longest rule path `base` and the leading fields of `comps` name (those fields
    /// then taken off `comps`); `None` when none does.
    fn rule_path(&self, base: &[String], comps: &mut Vec<Comp>) -> Option<Root> {
        let mut names: Vec<String> = base.to_vec();
        names.extend(comps.iter().map_while(|c| match c {
            Comp::Field(f) => Some(f.clone()),
            Comp::Dynamic => None,
        }));
        let n = (base.len().max(1)..=names.len())
            .rev()
            .find(|n| self.scope.rules.contains_key(&names[..*n].join(".")))?;
        comps.drain(..n - base.len());
        Some(Root::Rule(names[..n].join(".")))
    }

    /// The index expressions inside a reference chain.
    fn indexes(&mut self, e: &Expr, in_compr: bool) -> Option<()> {
        match e {
            Expr::RefDot { refr, .. } => self.indexes(refr, in_compr),
            Expr::RefBrack { refr, index, .. } => {
                self.indexes(refr, in_compr)?;
                if !matches!(
                    index.as_ref(),
                    Expr::String { .. } | Expr::RawString { .. } | Expr::Number { .. }
                ) {
                    self.expr(index, in_compr)?;
                }
                Some(())
            }
            _ => Some(()),
        }
    }

    fn query(&mut self, q: &Query) -> Option<()> {
        for s in &q.stmts {
            let st = self.scope.stmt(s)?;
            self.refs.extend(st.refs.into_iter().map(|mut r| {
                r.in_compr = true;
                r
            }));
            self.calls.extend(st.calls.into_iter().map(|mut c| {
                c.in_compr = true;
                c
            }));
        }
        Some(())
    }

    fn expr(&mut self, e: &Expr, in_compr: bool) -> Option<()> {
        match e {
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. } => Some(()),
            Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. } => {
                match self.reference(e, in_compr)? {
                    Some(r) => self.refs.push(r),
                    // A call's result indexed (`f(x).y`): its parts.
                    None => self.parts(e, in_compr)?,
                }
                Some(())
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().try_for_each(|i| self.expr(i, in_compr))
            }
            Expr::Object { fields, .. } => fields.iter().try_for_each(|(_, k, v)| {
                self.expr(k, in_compr)?;
                self.expr(v, in_compr)
            }),
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                self.expr(term, true)?;
                self.query(query)
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                self.expr(key, true)?;
                self.expr(value, true)?;
                self.query(query)
            }
            Expr::Call { fcn, params, .. } => self.call(fcn, params, in_compr),
            Expr::UnaryExpr { expr, .. } => self.expr(expr, in_compr),
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                self.expr(lhs, in_compr)?;
                self.expr(rhs, in_compr)
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    self.expr(k, in_compr)?;
                }
                self.expr(value, in_compr)?;
                self.expr(collection, in_compr)
            }
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// A chain whose root is not a variable (`f(x).y`, `[1][0]`).
    fn parts(&mut self, e: &Expr, in_compr: bool) -> Option<()> {
        match e {
            Expr::RefDot { refr, .. } => self.expr(refr, in_compr),
            Expr::RefBrack { refr, index, .. } => {
                self.expr(refr, in_compr)?;
                self.expr(index, in_compr)
            }
            other => self.expr(other, in_compr),
        }
    }

    fn call(
        &mut self,
        fcn: &Expr,
        params: &[regorus::unstable::Ref<Expr>],
        in_compr: bool,
    ) -> Option<()> {
        let mut comps = Vec::new();
        let user = chain(fcn, &mut comps).and_then(|root| {
            let base: Vec<String> = match self.scope.resolve(&root).0 {
                Root::Rule(p) => p.split('.').map(str::to_string).collect(),
                Root::Local(v) if v == "data" => Vec::new(),
                _ => return None,
            };
            match self.rule_path(&base, &mut comps)? {
                Root::Rule(p) if comps.is_empty() => Some(p),
                _ => None,
            }
        });
        let mut args = Vec::new();
        for p in params {
            let whole = matches!(
                p.as_ref(),
                Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. }
            );
            match self.reference(p, in_compr)?.filter(|_| whole) {
                Some(r) => {
                    self.refs.push(r.clone());
                    args.push(Some(r));
                }
                None => {
                    self.expr(p, in_compr)?;
                    args.push(None);
                }
            }
        }
        if let Some(function) = user {
            self.calls.push(CallUse {
                function,
                args,
                in_compr,
            });
        }
        Some(())
    }
}
