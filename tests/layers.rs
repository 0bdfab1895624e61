//! Keeps the layering of `src/` as docs/architecture.md describes it: data flows one way,
//! so no module imports a module that (directly or through others) imports it back.
//!
//! Every `crate::`, `super::` and `self::` path in `src/` (in `use` trees, types,
//! expressions and macro bodies, test code included) is read with syn and resolved to the
//! module it names. Checked:
//! - no cycle among the modules of any one parent: the top-level modules, and the
//!   submodules of each (`policy::input` ↔ `policy::provenance` would be one);
//! - each top-level module imports only what the module map in docs/architecture.md allows
//!   (its "may import" column), and the map lists exactly the modules `src/` has;
//! - `policy` knows nothing of the gateway (nor of the stages that talk to it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The binary's modules (`main.rs`, `cli/`) stand under this name, beside the library's.
const BIN: &str = "<bin>";
/// Whom the decision layer must never reach: it compiles and evaluates, the frontend does
/// the I/O.
const POLICY_MUST_NOT_IMPORT: [&str; 5] = ["gateway", "resolve", "graph", "frontend", "attest"];

type ModPath = Vec<String>;

/// One path in the code: the module it was written in and the absolute path it names.
struct Reference {
    from: ModPath,
    to: ModPath,
    file: String,
}

struct Scan {
    modules: BTreeSet<ModPath>,
    references: Vec<Reference>,
}

/// The module a file of `src/` defines: `a/b.rs` and `a/b/mod.rs` are `a::b`.
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    match parts.first().map(String::as_str) {
        Some("main") if parts.len() == 1 => vec![BIN.into()],
        Some("cli") => std::iter::once(BIN.to_string()).chain(parts).collect(),
        _ => parts,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Resolves a path's leading `crate`/`super`/`self` (and, in the binary, the library's
/// name) against the module it is written in; `None` for paths that start elsewhere (a
/// local name, another crate, a child module by its bare name).
fn resolve(current: &[String], segments: &[String]) -> Option<ModPath> {
    let in_bin = current.first().is_some_and(|c| c == BIN);
    let first = segments.first()?;
    let (mut base, rest): (ModPath, &[String]) = match first.as_str() {
        "crate" if in_bin => (vec![BIN.into()], &segments[1..]),
        "crate" | "verified_frontend" => (vec![], &segments[1..]),
        "self" => (current.to_vec(), &segments[1..]),
        "super" => {
            let mut base = current.to_vec();
            let mut rest = segments;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            (base, rest)
        }
        _ => return None,
    };
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(base)
}

struct Visitor<'a> {
    file: String,
    stack: ModPath,
    scan: &'a mut Scan,
}

impl Visitor<'_> {
    fn record(&mut self, segments: &[String]) {
        if let Some(to) = resolve(&self.stack, segments) {
            self.scan.references.push(Reference {
                from: self.stack.clone(),
                to,
                file: self.file.clone(),
            });
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.record(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.record(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.record(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    /// Macro bodies are tokens to syn: `crate::a::b` sequences are found by hand.
    fn tokens(&mut self, tokens: TokenStream) {
        let flat = flatten(tokens);
        let mut i = 0;
        while i < flat.len() {
            let TokenTree::Ident(id) = &flat[i] else {
                i += 1;
                continue;
            };
            let head = id.to_string();
            if !matches!(head.as_str(), "crate" | "super" | "self") || !is_path_sep(&flat, i + 1) {
                i += 1;
                continue;
            }
            let mut segments = vec![head];
            let mut j = i + 1;
            while is_path_sep(&flat, j) {
                match flat.get(j + 2) {
                    Some(TokenTree::Ident(next)) => segments.push(next.to_string()),
                    _ => break,
                }
                j += 3;
            }
            self.record(&segments);
            i = j;
        }
    }
}

fn flatten(tokens: TokenStream) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for t in tokens {
        match t {
            TokenTree::Group(g) => out.extend(flatten(g.stream())),
            other => out.push(other),
        }
    }
    out
}

fn is_path_sep(flat: &[TokenTree], at: usize) -> bool {
    matches!(
        (flat.get(at), flat.get(at + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':'
    )
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.stack.push(m.ident.to_string());
        self.scan.modules.insert(self.stack.clone());
        syn::visit::visit_item_mod(self, m);
        self.stack.pop();
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }
}

fn scan(src: &Path) -> Scan {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut scan = Scan {
        modules: BTreeSet::new(),
        references: Vec::new(),
    };
    for path in files {
        let rel = path.strip_prefix(src).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let module = module_of(rel);
        scan.modules.insert(module.clone());
        let mut v = Visitor {
            file: format!("src/{}", rel.display()),
            stack: module,
            scan: &mut scan,
        };
        v.visit_file(&ast);
    }
    scan
}

/// Parent module -> (child, child it uses) -> files where it does. A child "uses" a sibling
/// when code anywhere below it names something below the sibling; what it takes from its
/// own ancestors (`super::Item`) is not an edge between siblings.
type Edges = BTreeMap<ModPath, BTreeMap<(String, String), BTreeSet<String>>>;

fn sibling_edges(scan: &Scan) -> Edges {
    let mut edges: Edges = BTreeMap::new();
    for r in &scan.references {
        let common = r.from.iter().zip(&r.to).take_while(|(a, b)| a == b).count();
        if common == r.from.len() || common == r.to.len() {
            continue;
        }
        let parent = r.from[..common].to_vec();
        let mut target = parent.clone();
        target.push(r.to[common].clone());
        if !scan.modules.contains(&target) {
            continue;
        }
        edges
            .entry(parent)
            .or_default()
            .entry((r.from[common].clone(), r.to[common].clone()))
            .or_default()
            .insert(r.file.clone());
    }
    edges
}

/// The cycles among `edges`, each as the modules along it (first = last), one per set of
/// modules: for every edge a -> b, the shortest way from b back to a.
fn find_cycles(edges: &BTreeMap<(String, String), BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        next.entry(a).or_default().push(b);
    }
    let mut seen: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    let mut cycles = Vec::new();
    for (a, b) in edges.keys() {
        // Breadth-first from b, remembering how each module was reached.
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([b.as_str()]);
        while let Some(n) = queue.pop_front() {
            if n == a {
                break;
            }
            for m in next.get(n).into_iter().flatten() {
                if *m != b && !came_from.contains_key(m) {
                    came_from.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        if !came_from.contains_key(a.as_str()) {
            continue;
        }
        let mut back = vec![a.to_string()];
        let mut at = a.as_str();
        while at != b {
            at = came_from[at];
            back.push(at.to_string());
        }
        back.push(a.to_string());
        back.reverse();
        let cycle: Vec<String> = back;
        if seen.insert(cycle.iter().cloned().collect()) {
            cycles.push(cycle);
        }
    }
    cycles
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The module map of docs/architecture.md: module -> the modules it may import. Rows are
/// `` | `name/` | what it holds | `a`, `b` | `` (a dash for nothing).
fn documented_map() -> BTreeMap<String, BTreeSet<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Module map"))
        .expect("docs/architecture.md has a \"## Module map\" section");
    let ticked = |cell: &str| -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(|n| n.trim_end_matches('/').to_string())
            .collect()
    };
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').collect();
            assert!(cells.len() >= 5, "module map row with 3 cells: {l}");
            let name = ticked(cells[1]).into_iter().next().unwrap();
            (name, ticked(cells[3]))
        })
        .collect()
}

fn show(list: &BTreeMap<(String, String), BTreeSet<String>>, a: &str, b: &str) -> String {
    let files: Vec<&str> = list
        .get(&(a.to_string(), b.to_string()))
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    format!("{a} -> {b} ({})", files.join(", "))
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let edges = sibling_edges(&scan(&src()));
    assert!(
        edges.get(&vec![]).is_some_and(|e| e.len() > 10),
        "the scan finds the top-level imports: {edges:?}"
    );
    let mut cycles = Vec::new();
    for (parent, list) in &edges {
        for cycle in find_cycles(list) {
            let steps: Vec<String> = cycle.windows(2).map(|w| show(list, &w[0], &w[1])).collect();
            let under = if parent.is_empty() {
                "the crate".to_string()
            } else {
                parent.join("::")
            };
            cycles.push(format!("under {under}: {}", steps.join("; ")));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn top_level_modules_import_only_what_the_module_map_allows() {
    let scan = scan(&src());
    let map = documented_map();
    let top: BTreeSet<String> = scan
        .modules
        .iter()
        .filter(|m| m.len() == 1 && m[0] != BIN)
        .map(|m| m[0].clone())
        .collect();
    let listed: BTreeSet<String> = map.keys().cloned().collect();
    assert_eq!(
        top, listed,
        "docs/architecture.md's module map lists exactly the modules of src/"
    );
    let edges = sibling_edges(&scan);
    let mut wrong = Vec::new();
    for ((a, b), files) in edges.get(&vec![]).into_iter().flatten() {
        if a != BIN && !map[a].contains(b) {
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            wrong.push(format!("{a} -> {b} ({})", files.join(", ")));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports the module map does not allow (change the code, or the map with a reason):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn policy_knows_nothing_of_the_gateway() {
    let edges = sibling_edges(&scan(&src()));
    let top = edges.get(&vec![]).cloned().unwrap_or_default();
    let reached: Vec<String> = POLICY_MUST_NOT_IMPORT
        .iter()
        .filter(|m| top.contains_key(&("policy".to_string(), m.to_string())))
        .map(|m| show(&top, "policy", m))
        .collect();
    assert!(reached.is_empty(), "policy imports: {}", reached.join("; "));
    assert!(
        top.contains_key(&("policy".to_string(), "model".to_string())),
        "the scan sees policy's own imports"
    );
}

#[test]
fn the_scan_resolves_paths_as_rust_does() {
    let at = |m: &str| -> ModPath { m.split("::").map(str::to_string).collect() };
    let seg = |p: &str| -> Vec<String> { p.split("::").map(str::to_string).collect() };
    assert_eq!(
        resolve(&at("policy::load"), &seg("super::Mode")),
        Some(at("policy::Mode"))
    );
    assert_eq!(
        resolve(&at("policy::load::tests"), &seg("super::super::input::env")),
        Some(at("policy::input::env"))
    );
    assert_eq!(
        resolve(&at("frontend"), &seg("crate::gateway::self")),
        Some(at("gateway"))
    );
    assert_eq!(resolve(&at("frontend"), &seg("gitobj::commit")), None);
    assert_eq!(
        resolve(
            &[BIN.to_string()],
            &seg("verified_frontend::gateway::Bridge")
        ),
        Some(at("gateway::Bridge"))
    );
    assert_eq!(
        module_of(Path::new("gateway/client/cache.rs")),
        at("gateway::client::cache")
    );
    assert_eq!(module_of(Path::new("policy/mod.rs")), at("policy"));
    let bin_module: ModPath = vec![BIN.into(), "cli".into(), "bundle".into()];
    assert_eq!(module_of(Path::new("cli/bundle.rs")), bin_module);
    // A cycle of two, found with the files that make it.
    let list: BTreeMap<(String, String), BTreeSet<String>> = [
        (
            ("a".into(), "b".into()),
            BTreeSet::from(["src/a.rs".to_string()]),
        ),
        (("b".into(), "c".into()), BTreeSet::new()),
        (("c".into(), "b".into()), BTreeSet::new()),
    ]
    .into();
    let b_c_b: Vec<String> = ["b", "c", "b"].map(String::from).into();
    assert_eq!(find_cycles(&list), [b_c_b]);
    list.get(&("a".into(), "b".into())).unwrap();
    assert_eq!(show(&list, "a", "b"), "a -> b (src/a.rs)");
}
