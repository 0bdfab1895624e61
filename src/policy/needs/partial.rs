//! What Buildx's partial evaluation asks BuildKit to fetch for one evaluation of a source.
//!
//! Buildx runs OPA's partial evaluation with the fields it lacks marked unknown and fetches
//! a field only when a reference to it is left in the *support* rules of the result
//! (`collectUnknowns(pq.Support, …)`): rules with a default or with several values (sets,
//! objects) are saved there, with the rules and functions they use inlined; rules the query
//! uses directly are inlined into the query, whose references are not looked at. A body
//! whose known part fails is dropped; a whole object (`object.get(input.image, …)`) or a
//! dynamic key is never fetched for.
//!
//! regorus has no partial evaluation, so this walks the rules the same way and answers with
//! bounds: groups surely fetched (`lower`), the best guess (`best`), groups possibly
//! fetched (`upper`), and whether any read could see the difference (`risky`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::program::{Body, CallUse, Comp, Program, RefUse, Root, RuleDef, Stmt};

/// A metadata request Buildx makes, by what BuildKit then returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    ImageConfig,
    ImageAttestations,
    ImageProvenance,
    Git,
    GitObjects,
    Http,
}

/// What one evaluation fetches, as bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub lower: BTreeSet<Group>,
    pub best: BTreeSet<Group>,
    pub upper: BTreeSet<Group>,
    /// Whether the outcome may depend on which groups between `lower` and `upper` are
    /// fetched: some read of them is not one that decides the fetch.
    pub risky: bool,
    /// A read of metadata Buildx would fetch that the frontend cannot give (a provenance
    /// material's own metadata): the evaluation must fail rather than guess.
    pub unsupported: Option<String>,
}

/// Whether known statements hold on the document before the fetch: `Some(false)` when
/// they surely fail, `None` when they cannot be evaluated alone.
pub trait Known {
    /// `header`: the `package` and `import` lines the statements were written under.
    fn holds(&mut self, header: &str, stmts: &[String]) -> Option<bool>;
}

/// Where a rule's residual would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ctx {
    Support,
    Query,
    /// Saved whole without being evaluated (inside a comprehension, an `else` chain).
    Unreached,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Binding {
    Input(Vec<CompKey>),
    Unknown,
    Known,
}

/// A component as a hashable key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CompKey {
    Field(String),
    Dynamic,
}

impl From<&Comp> for CompKey {
    fn from(c: &Comp) -> Self {
        match c {
            Comp::Field(f) => CompKey::Field(f.clone()),
            Comp::Dynamic => CompKey::Dynamic,
        }
    }
}

type Bindings = BTreeMap<String, Binding>;

/// A rule walked in a context, surely reached or not, with its parameters' bindings.
type Visit = (String, Ctx, bool, Vec<(String, Binding)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Survival {
    Surely,
    Unsure,
    Pruned,
}

/// One evaluation's question: the source's kind and which of its fields are unknown.
pub struct Question<'a> {
    pub kind: &'a str,
    pub unknown: &'a BTreeMap<&'static str, Group>,
    /// Fields of the kind that come with a fetch without being unknown (`createdTime`).
    pub passive: &'a BTreeMap<&'static str, Group>,
    /// Fields a provenance material lacks until Buildx fetches them, by material kind.
    pub material_unknown: &'a dyn Fn(&str, &str) -> bool,
    /// The document before the fetch.
    pub doc: &'a serde_json::Value,
}

pub fn plan(p: &Program, q: &Question, known: &mut dyn Known) -> Plan {
    let mut a = Analyzer {
        p,
        q,
        known,
        acc: Acc::default(),
        visited: HashSet::new(),
        holding: Vec::new(),
    };
    const DECISION: &str = "docker.decision";
    match p.rules.get(DECISION) {
        Some(d) => {
            let ctx = if d.has_default || d.multi {
                Ctx::Support
            } else {
                Ctx::Query
            };
            a.rule(DECISION, ctx, true, &Bindings::new());
        }
        None => a.acc.risky_all = true,
    }
    a.acc.finish()
}

#[derive(Default)]
struct Acc {
    lower: BTreeSet<Group>,
    best: BTreeSet<Group>,
    upper: BTreeSet<Group>,
    risky: BTreeSet<Group>,
    risky_all: bool,
    unsupported: Option<String>,
}

impl Acc {
    fn finish(self) -> Plan {
        let open: BTreeSet<Group> = self.upper.difference(&self.lower).copied().collect();
        let risky =
            !open.is_empty() && (self.risky_all || self.risky.iter().any(|g| open.contains(g)));
        Plan {
            best: self.best.union(&self.lower).copied().collect(),
            lower: self.lower,
            upper: self.upper,
            risky,
            unsupported: self.unsupported,
        }
    }
}

struct Analyzer<'p, 'q, 'k> {
    p: &'p Program,
    q: &'q Question<'q>,
    known: &'k mut dyn Known,
    acc: Acc,
    visited: HashSet<Visit>,
    /// Rules being asked whether they surely hold (recursion guard).
    holding: Vec<String>,
}

impl Analyzer<'_, '_, '_> {
    fn rule(&mut self, path: &str, ctx: Ctx, sure: bool, b: &Bindings) {
        let Some(rule) = self.p.rules.get(path) else {
            return;
        };
        let key = (
            path.to_string(),
            ctx,
            sure,
            b.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
        if !self.visited.insert(key) {
            return;
        }
        let ctx = if rule.has_else { Ctx::Unreached } else { ctx };
        for body in &rule.bodies {
            let b = &self.with_aliases(body, b);
            let surv = self.survival(body, b);
            if surv == Survival::Pruned {
                continue;
            }
            let body_sure = sure && surv == Survival::Surely;
            for s in &body.stmts {
                let kind_test = s.kind_test().is_some();
                self.uses(&s.refs, &s.calls, ctx, body_sure, kind_test, b);
            }
            self.uses(&body.head, &body.head_calls, ctx, body_sure, false, b);
        }
    }

    /// The reads, rule references and calls of one statement (or head).
    fn uses(
        &mut self,
        refs: &[RefUse],
        calls: &[CallUse],
        ctx: Ctx,
        sure: bool,
        kind_test: bool,
        b: &Bindings,
    ) {
        for r in refs {
            match &r.root {
                Root::Rule(path) => {
                    // A comprehension is saved whole: the rules in it are not evaluated.
                    let c = if r.in_compr { Ctx::Unreached } else { ctx };
                    let target = self.p.rules.get(path);
                    let sub = match (c, target) {
                        (Ctx::Unreached, _) => Ctx::Unreached,
                        (_, Some(t)) if t.has_default || t.multi => Ctx::Support,
                        _ => c,
                    };
                    if target.is_some_and(|t| t.params.is_none()) {
                        self.rule(path, sub, sure, &Bindings::new());
                    }
                }
                // Its input references are in the saved comprehension, where they count.
                _ => self.read(r, ctx, sure, kind_test, b),
            }
        }
        for call in calls {
            let c = if call.in_compr { Ctx::Unreached } else { ctx };
            let Some(f) = self.p.rules.get(&call.function) else {
                continue;
            };
            let Some(params) = &f.params else {
                continue;
            };
            let mut inner = Bindings::new();
            for (i, name) in params.iter().enumerate() {
                let arg = call.args.get(i).cloned().flatten();
                inner.insert(name.clone(), self.binding(arg.as_ref(), b));
            }
            self.rule(&call.function, c, sure, &inner);
        }
    }

    /// `b` with the body's `x := <input reference>` aliases.
    fn with_aliases(&self, body: &Body, b: &Bindings) -> Bindings {
        let mut out = b.clone();
        for s in &body.stmts {
            if let Some((name, r)) = &s.alias
                && let Binding::Input(p) = self.binding(Some(r), &out)
            {
                out.insert(name.clone(), Binding::Input(p));
            }
        }
        out
    }

    fn binding(&self, arg: Option<&RefUse>, b: &Bindings) -> Binding {
        match arg.map(|a| (&a.root, a)) {
            Some((Root::Input, a)) => Binding::Input(a.comps.iter().map(CompKey::from).collect()),
            Some((Root::Local(v), a)) => match b.get(v) {
                Some(Binding::Input(p)) => {
                    let mut p = p.clone();
                    p.extend(a.comps.iter().map(CompKey::from));
                    Binding::Input(p)
                }
                Some(other) => other.clone(),
                None => Binding::Known,
            },
            // A value built from other terms: what it holds is not followed.
            None => Binding::Unknown,
            Some(_) => Binding::Known,
        }
    }

    /// The input path a reference reads (through a parameter bound to input), if any.
    fn input_path(&mut self, r: &RefUse, b: &Bindings) -> Option<Vec<CompKey>> {
        let tail = r.comps.iter().map(CompKey::from);
        match &r.root {
            Root::Input => Some(tail.collect()),
            Root::Local(v) => match b.get(v) {
                Some(Binding::Input(p)) => Some(p.iter().cloned().chain(tail).collect()),
                Some(Binding::Unknown) => {
                    self.acc.risky_all = true;
                    None
                }
                _ => None,
            },
            Root::Rule(_) => None,
        }
    }

    fn read(&mut self, r: &RefUse, ctx: Ctx, sure: bool, kind_test: bool, b: &Bindings) {
        let Some(path) = self.input_path(r, b) else {
            return;
        };
        let kind = match path.first() {
            None => {
                self.acc.risky_all |= !kind_test;
                return;
            }
            Some(CompKey::Dynamic) => {
                self.acc.risky_all = true;
                return;
            }
            Some(CompKey::Field(k)) => k.as_str(),
        };
        if kind != self.q.kind {
            return;
        }
        let field = match path.get(1) {
            None => {
                self.acc.risky_all |= !kind_test;
                return;
            }
            Some(CompKey::Dynamic) => {
                self.acc.risky_all = true;
                return;
            }
            Some(CompKey::Field(f)) => f.as_str(),
        };
        if let Some(g) = self.q.passive.get(field) {
            self.acc.risky.insert(*g);
            return;
        }
        let Some(g) = self.q.unknown.get(field).copied() else {
            return;
        };
        self.material(&path);
        self.acc.upper.insert(g);
        match ctx {
            Ctx::Support => {
                self.acc.best.insert(g);
                if sure {
                    self.acc.lower.insert(g);
                }
            }
            Ctx::Query | Ctx::Unreached => {
                self.acc.risky.insert(g);
            }
        }
    }

    /// `input.image.provenance.materials[<n>].<kind>.<field>`: Buildx fetches a material's
    /// own metadata for such a read; the frontend does not.
    fn material(&mut self, path: &[CompKey]) {
        let field = |i: usize| match path.get(i) {
            Some(CompKey::Field(f)) => Some(f.as_str()),
            _ => None,
        };
        if field(1) != Some("provenance") || field(2) != Some("materials") {
            return;
        }
        let indexed = matches!(path.get(3), Some(CompKey::Field(n)) if n.parse::<usize>().is_ok());
        if let (true, Some(kind), Some(f)) = (indexed, field(4), field(5))
            && (self.q.material_unknown)(kind, f)
        {
            self.acc.unsupported = Some(format!(
                "the policy reads input.image.provenance.materials[…].{kind}.{f}, metadata Buildx fetches for a provenance material and the frontend does not"
            ));
        }
    }

    /// Whether partial evaluation keeps the body: `Pruned` when its known statements fail.
    fn survival(&mut self, body: &Body, b: &Bindings) -> Survival {
        let saved = self.saved(body, b);
        let absent = body
            .stmts
            .iter()
            .zip(&saved)
            .any(|(s, saved)| *saved && !s.negated && !s.with && self.reads_absent(s, b));
        if absent {
            return Survival::Pruned;
        }
        let mut unsure = false;
        let mut known: Vec<String> = b
            .iter()
            .filter_map(|(name, bind)| match bind {
                Binding::Input(p) => Some(format!("{name} := {}", input_text(p)?)),
                _ => None,
            })
            .collect();
        let prefix = known.len();
        for (s, saved) in body.stmts.iter().zip(&saved) {
            if *saved {
                continue;
            }
            match self.rule_stmt(s) {
                Some(true) => {}
                Some(false) => unsure = true,
                None => known.push(s.text.clone()),
            }
        }
        if known.len() > prefix {
            let header = self
                .p
                .headers
                .get(body.module)
                .map_or("package docker\n", String::as_str);
            match self.known.holds(header, &known) {
                Some(true) => {}
                Some(false) => return Survival::Pruned,
                None => unsure = true,
            }
        }
        if unsure {
            Survival::Unsure
        } else {
            Survival::Surely
        }
    }

    /// Whether a saved statement also reads a known field that is absent: partial
    /// evaluation evaluates that reference, and the statement fails on it.
    fn reads_absent(&self, s: &Stmt, b: &Bindings) -> bool {
        let doc = self.q.doc;
        s.refs.iter().filter(|r| !r.in_compr).any(|r| {
            if self.related(r, b) {
                return false;
            }
            let path: Option<Vec<CompKey>> = match &r.root {
                Root::Input => Some(r.comps.iter().map(CompKey::from).collect()),
                Root::Local(v) => match b.get(v) {
                    Some(Binding::Input(p)) => Some(
                        p.iter()
                            .cloned()
                            .chain(r.comps.iter().map(CompKey::from))
                            .collect(),
                    ),
                    _ => None,
                },
                Root::Rule(_) => None,
            };
            let Some(path) = path else {
                return false;
            };
            let mut v = doc;
            for c in &path {
                match (c, v) {
                    (CompKey::Field(f), serde_json::Value::Object(o)) => match o.get(f) {
                        Some(x) => v = x,
                        None => return true,
                    },
                    (CompKey::Field(_), serde_json::Value::Array(_)) | (CompKey::Dynamic, _) => {
                        return false;
                    }
                    (CompKey::Field(_), _) => return true,
                }
            }
            false
        })
    }

    /// For a statement that uses rules whose value may depend on the unknowns: whether it
    /// surely holds (`Some(true)`: negated, or such a rule surely holds), is unsure
    /// (`Some(false)`); `None` when it uses none and can be evaluated as it is.
    fn rule_stmt(&mut self, s: &Stmt) -> Option<bool> {
        let impure: Vec<&str> = s
            .refs
            .iter()
            .filter_map(|r| match &r.root {
                Root::Rule(p) if self.touches_input(p) => Some(p.as_str()),
                _ => None,
            })
            .chain(
                s.calls
                    .iter()
                    .filter(|c| self.touches_input(&c.function))
                    .map(|c| c.function.as_str()),
            )
            .collect();
        if impure.is_empty() {
            return None;
        }
        if s.negated {
            return Some(true);
        }
        let calls = s
            .calls
            .iter()
            .any(|c| impure.contains(&c.function.as_str()));
        Some(!calls && impure.iter().all(|p| self.surely_holds(p)))
    }

    /// Whether a complete rule surely has a value: some body surely kept.
    fn surely_holds(&mut self, path: &str) -> bool {
        if self.holding.iter().any(|h| h == path) || self.holding.len() > 8 {
            return false;
        }
        let Some(rule) = self.p.rules.get(path) else {
            return false;
        };
        self.holding.push(path.to_string());
        let holds = rule
            .bodies
            .iter()
            .any(|body| self.survival(body, &Bindings::new()) == Survival::Surely);
        self.holding.pop();
        holds
    }

    /// Which statements partial evaluation saves: those reading an unknown (or a whole
    /// object of the source), using a `with`, or using a variable such a statement binds.
    fn saved(&self, body: &Body, b: &Bindings) -> Vec<bool> {
        let mut saved = vec![false; body.stmts.len()];
        let mut taint: BTreeSet<String> = BTreeSet::new();
        loop {
            let mut changed = false;
            for (i, s) in body.stmts.iter().enumerate() {
                if saved[i] {
                    continue;
                }
                let uses_taint = s.locals().any(|v| taint.contains(v));
                if s.with || uses_taint || s.refs.iter().any(|r| self.related(r, b)) {
                    saved[i] = true;
                    changed = true;
                    taint.extend(s.assigned.iter().cloned());
                    // Output variables of a saved reference (`labels[k]`) are bound by it.
                    taint.extend(
                        s.locals()
                            .filter(|v| !bound_before(body, i, v))
                            .map(str::to_string),
                    );
                }
            }
            if !changed {
                return saved;
            }
        }
    }

    /// Whether a reference is related to an unknown field (a prefix of one, or under one).
    fn related(&self, r: &RefUse, b: &Bindings) -> bool {
        let path: Vec<CompKey> = match &r.root {
            Root::Input => r.comps.iter().map(CompKey::from).collect(),
            Root::Local(v) => match b.get(v) {
                Some(Binding::Input(p)) => p
                    .iter()
                    .cloned()
                    .chain(r.comps.iter().map(CompKey::from))
                    .collect(),
                Some(Binding::Unknown) => return true,
                _ => return false,
            },
            Root::Rule(_) => return false,
        };
        match (path.first(), path.get(1)) {
            (None, _) | (Some(CompKey::Dynamic), _) => true,
            (Some(CompKey::Field(k)), _) if k != self.q.kind => false,
            (Some(_), None) | (Some(_), Some(CompKey::Dynamic)) => !self.q.unknown.is_empty(),
            (Some(_), Some(CompKey::Field(f))) => self.q.unknown.contains_key(f.as_str()),
        }
    }

    /// Whether a rule (or function) reads `input`, itself or through what it uses.
    fn touches_input(&self, path: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if !seen.insert(p.clone()) {
                continue;
            }
            let Some(rule) = self.p.rules.get(&p) else {
                continue;
            };
            if reads_input(rule) {
                return true;
            }
            stack.extend(used_rules(rule));
        }
        false
    }
}

fn reads_input(rule: &RuleDef) -> bool {
    let refs = |body: &Body| {
        body.stmts
            .iter()
            .flat_map(|s| s.refs.iter())
            .chain(body.head.iter())
            .any(|r| r.root == Root::Input)
    };
    rule.bodies.iter().any(refs)
}

fn used_rules(rule: &RuleDef) -> Vec<String> {
    let mut out = Vec::new();
    for body in &rule.bodies {
        for s in &body.stmts {
            out.extend(s.refs.iter().filter_map(|r| match &r.root {
                Root::Rule(p) => Some(p.clone()),
                _ => None,
            }));
            out.extend(s.calls.iter().map(|c| c.function.clone()));
        }
        out.extend(body.head_calls.iter().map(|c| c.function.clone()));
    }
    out
}

/// Whether `v` is assigned by a statement before the `i`th.
fn bound_before(body: &Body, i: usize, v: &str) -> bool {
    body.stmts[..i].iter().any(|s| s.assigned.contains(v))
}

/// `input.a.b` for a path of fields; `None` with a dynamic component.
fn input_text(p: &[CompKey]) -> Option<String> {
    let mut s = String::from("input");
    for c in p {
        match c {
            CompKey::Field(f) => s.push_str(&format!("[{}]", serde_json::to_string(f).ok()?)),
            CompKey::Dynamic => return None,
        }
    }
    Some(s)
}
