//! Which metadata the policies can read, and which of it Buildx would fetch.
//!
//! `of_module` decides once, from the policies' text, what the frontend resolves for every
//! source: every `input...` path the modules mention, erring on the side of fetching (a
//! whole-object reference such as `input.image` passed to a function, `input` itself or
//! `import input.image as img` needs every field below it; comments are ignored).
//!
//! `fetches` decides, per evaluation of a source, which of that metadata the document holds:
//! what Buildx's partial evaluation would have asked BuildKit for (`partial`), so that a
//! rule reading a field Buildx never fetches sees it absent here too.

mod known;
mod partial;
mod program;

use serde_json::Value;

use crate::model::{Fetched, Needs};
pub use partial::Group;
use partial::{Plan, Question};

/// The helper functions Buildx's policies can call (`docker_github_builder`, …), which
/// partial evaluation inlines like the policy's own.
const BUILTINS: &str = include_str!("builtins.rego");
/// BuildKit stops asking the policy after this many requests for one source.
const MAX_REQUESTS: usize = 10;

/// One policy, as what Buildx's partial evaluation makes it fetch.
pub struct FetchModel {
    program: Option<program::Program>,
    probe: Option<known::Probe>,
}

impl FetchModel {
    /// From the policy's modules (the main one first). A policy beyond the model (e.g. a
    /// syntax the parser here does not read) is answered with the widest bounds.
    pub fn new(modules: &[(String, String)]) -> Self {
        let mut all: Vec<(String, String)> =
            vec![("builtin/verified_frontend.rego".into(), BUILTINS.into())];
        all.extend(modules.iter().cloned());
        let mut engine = regorus::Engine::new();
        let parsed = all
            .iter()
            .all(|(path, text)| engine.add_policy(path.clone(), text.clone()).is_ok());
        let program = parsed
            .then(|| {
                let modules: Vec<&regorus::unstable::Module> =
                    engine.get_modules().iter().map(|m| &**m).collect();
                program::Program::new(&modules)
            })
            .flatten();
        FetchModel {
            probe: program.as_ref().and_then(|_| known::Probe::new(&all)),
            program,
        }
    }

    fn plan(&mut self, kind: &str, s: Fetched, doc: &Value) -> Plan {
        let (unknown, passive) = unknown_fields(kind, s, doc);
        let Some(program) = &self.program else {
            let all: std::collections::BTreeSet<Group> = unknown.values().copied().collect();
            return Plan {
                best: all.clone(),
                upper: all,
                risky: true,
                ..Default::default()
            };
        };
        let q = Question {
            kind,
            unknown: &unknown,
            passive: &passive,
            material_unknown: &material_unknown,
            doc,
        };
        match &mut self.probe {
            Some(p) => {
                p.set_input(doc);
                partial::plan(program, &q, p)
            }
            None => partial::plan(program, &q, &mut NoProbe),
        }
    }
}

/// No statement can be evaluated: every body with known statements is unsure.
struct NoProbe;

impl partial::Known for NoProbe {
    fn holds(&mut self, _: &str, _: &[String]) -> Option<bool> {
        None
    }
}

/// The documents to decide one evaluation of a source on: Buildx's (`primary`), and those
/// it might have had instead where the model cannot tell (each must allow as well).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetches {
    pub primary: Fetched,
    pub alternatives: Vec<Fetched>,
    /// The document holding `primary`: the last one `doc_of` built.
    pub doc: Value,
}

/// Buildx's rounds for one source, `kind` its input object (`image`, `git`, ...): each
/// policy in order is evaluated on what was fetched so far; the first that lacks a field
/// makes a request, whose answer (only what it asked for) replaces what was fetched, and
/// all start again. `doc_of` builds the document holding what was fetched; its last call
/// is for `primary`.
pub fn fetches(
    models: &mut [FetchModel],
    kind: &str,
    doc_of: &mut dyn FnMut(Fetched) -> Result<Value, String>,
) -> Result<Fetches, String> {
    let mut s = Fetched::default();
    let mut first: Option<Vec<Plan>> = None;
    for _ in 0..MAX_REQUESTS {
        let doc = doc_of(s)?;
        let mut plans = Vec::new();
        let mut request = None;
        for m in models.iter_mut() {
            let plan = m.plan(kind, s, &doc);
            if let Some(why) = &plan.unsupported {
                return Err(why.clone());
            }
            let asks = !plan.best.is_empty();
            if asks {
                request = Some(to_fetched(&plan.best));
            }
            plans.push(plan);
            if asks {
                break;
            }
        }
        first.get_or_insert(plans);
        match request {
            None => {
                let alternatives = alternatives(first.as_deref().unwrap_or_default(), s);
                return Ok(Fetches {
                    primary: s,
                    alternatives,
                    doc,
                });
            }
            Some(next) => s = next,
        }
    }
    Err("too many policy requests: the policies keep asking for metadata another one's request drops (BuildKit gives up after 10)".into())
}

/// The fetched groups between what the first round surely asks for and what it may, when
/// a read could tell them apart.
fn alternatives(plans: &[Plan], primary: Fetched) -> Vec<Fetched> {
    if !plans.iter().any(|p| p.risky) {
        return Vec::new();
    }
    let lower: Vec<Group> = plans.iter().flat_map(|p| p.lower.iter().copied()).collect();
    let open: Vec<Group> = plans
        .iter()
        .flat_map(|p| p.upper.iter().copied())
        .filter(|g| !lower.contains(g))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out: Vec<Fetched> = Vec::new();
    for mask in 0..(1u32 << open.len().min(6)) {
        let mut groups: std::collections::BTreeSet<Group> = lower.iter().copied().collect();
        groups.extend(
            open.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, g)| *g),
        );
        let f = to_fetched(&groups);
        if f != primary && !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

fn to_fetched(groups: &std::collections::BTreeSet<Group>) -> Fetched {
    let mut f = Fetched::default();
    for g in groups {
        match g {
            Group::ImageConfig => f.image_config = true,
            Group::ImageAttestations => f.image_attestations = true,
            Group::ImageProvenance => {
                f.image_attestations = true;
                f.image_provenance = true;
            }
            Group::Git => f.git = true,
            Group::GitObjects => {
                f.git = true;
                f.git_objects = true;
            }
            Group::Http => f.http_checksum = true,
        }
    }
    f
}

type Fields = std::collections::BTreeMap<&'static str, Group>;

/// The fields of `kind` Buildx marks unknown when it has fetched `s` (`sourceToInput`),
/// and those that come with a fetch without being unknown (`createdTime`).
fn unknown_fields(kind: &str, s: Fetched, doc: &Value) -> (Fields, Fields) {
    let mut unknown = Fields::new();
    let mut passive = Fields::new();
    let has = |field: &str| doc[kind].get(field).is_some();
    let mut put = |fields: &[&'static str], g: Group| {
        for f in fields {
            unknown.insert(f, g);
        }
    };
    match kind {
        "image" => {
            if !s.image_config {
                put(
                    &["labels", "user", "volumes", "workingDir", "env"],
                    Group::ImageConfig,
                );
                passive.insert("createdTime", Group::ImageConfig);
            }
            if !has("checksum") {
                put(&["checksum"], Group::ImageConfig);
            }
            if !s.chain() {
                put(&["hasProvenance", "signatures"], Group::ImageAttestations);
                put(&["provenance"], Group::ImageProvenance);
            }
        }
        "git" => {
            if !s.any_git() && !has("ref") {
                put(&["tagName", "branch", "ref"], Group::Git);
            }
            if !s.any_git() && !has("checksum") {
                put(
                    &["checksum", "isAnnotatedTag", "commitChecksum", "isSHA256"],
                    Group::Git,
                );
            }
            if !s.git_objects {
                put(&["commit", "tag"], Group::GitObjects);
            }
        }
        "http" if !s.http_checksum => put(&["checksum"], Group::Http),
        _ => {}
    }
    (unknown, passive)
}

/// Whether a provenance material of `kind` lacks `field` until Buildx fetches it.
fn material_unknown(kind: &str, field: &str) -> bool {
    match kind {
        "image" => [
            "labels",
            "user",
            "volumes",
            "workingDir",
            "env",
            "hasProvenance",
            "provenance",
            "signatures",
        ]
        .contains(&field),
        "git" => [
            "checksum",
            "isAnnotatedTag",
            "commitChecksum",
            "isSHA256",
            "commit",
            "tag",
        ]
        .contains(&field),
        "http" => field == "checksum",
        _ => false,
    }
}

/// What one referenced path (components after `input`) requires.
fn of_path(path: &[&str]) -> Needs {
    let image_all = Needs {
        git_objects: false,
        ..Needs::all()
    };
    match path {
        [] => Needs::all(),
        ["image"] => image_all,
        ["image", f, ..] => match *f {
            "labels" | "user" | "volumes" | "workingDir" | "env" | "createdTime" => Needs {
                image_config: true,
                ..Default::default()
            },
            "hasProvenance" | "signatures" => Needs {
                image_attestations: true,
                ..Default::default()
            },
            "provenance" => Needs {
                image_attestations: true,
                image_provenance: true,
                ..Default::default()
            },
            "tag" => Needs {
                image_tag: true,
                ..Default::default()
            },
            _ => Needs::default(),
        },
        ["git"] | ["git", "commit" | "tag", ..] => Needs {
            git_objects: true,
            ..Default::default()
        },
        _ => Needs::default(),
    }
}

/// Needs of one Rego module's text.
pub fn of_module(text: &str) -> Needs {
    let mut needs = Needs::default();
    for line in text.lines() {
        let code = strip_comment(line);
        let bytes = code.as_bytes();
        let mut from = 0;
        while let Some(pos) = code[from..].find("input") {
            let start = from + pos;
            let end = start + "input".len();
            from = end;
            let word_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
            if (start > 0 && (word_char(bytes[start - 1]) || bytes[start - 1] == b'.'))
                || (end < bytes.len() && word_char(bytes[end]))
            {
                continue;
            }
            let mut path = Vec::new();
            let mut rest = &code[end..];
            while let Some(after_dot) = rest.strip_prefix('.') {
                let len = after_dot.bytes().take_while(|b| word_char(*b)).count();
                if len == 0 {
                    break;
                }
                path.push(&after_dot[..len]);
                rest = &after_dot[len..];
            }
            // `input.image` as a statement of its own only asks which kind of source
            // this is; it reads no field, so it needs nothing fetched.
            let kind_test = path.len() == 1 && is_statement(&code[..start], rest);
            if !kind_test {
                needs = needs.union(of_path(&path));
            }
        }
    }
    needs
}

/// Whether an expression between `before` and `after` stands alone as a rule-body statement
/// (`input.image`, `not input.git`, `allow if input.image`), rather than being an operand,
/// an argument or the value of an assignment.
fn is_statement(before: &str, after: &str) -> bool {
    let after = after.trim_start();
    let ends = after.is_empty() || after.starts_with(['}', ';']);
    let before = before.trim_end();
    let starts = before.is_empty()
        || before.ends_with(['{', ';'])
        || before.ends_with(" if")
        || before == "if"
        || before.ends_with(" not")
        || before == "not";
    ends && starts
}

/// The line without a trailing `# comment` (a `#` inside a string does not start one).
fn strip_comment(line: &str) -> &str {
    let mut in_str: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match in_str {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    in_str = None;
                }
            }
            None => match c {
                '"' | '`' => in_str = Some(c),
                '#' => return &line[..i],
                _ => {}
            },
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Needs {
        of_module(text)
    }

    #[test]
    fn plain_fields_need_nothing_extra() {
        let p = "package docker\nallow if input.image.repo == \"alpine\"\nallow if input.git.tagName == \"v1\"\nallow if input.local";
        assert_eq!(n(p), Needs::default());
    }

    #[test]
    fn config_and_attestation_fields() {
        assert!(n("allow if input.image.labels[\"x\"] == \"y\"").image_config);
        assert!(n("allow if input.image.hasProvenance").image_attestations);
        assert!(n("allow if input.image.tag == \"latest\"").image_tag);
        let p = n("allow if input.image.provenance.builderID == \"x\"");
        assert!(p.image_provenance && p.image_attestations && !p.image_config);
        assert!(n("allow if startswith(input.git.commit.message, \"Merge\")").git_objects);
        assert!(n("verify_git_signature(input.git.tag, \"k.asc\")").git_objects);
    }

    #[test]
    fn whole_objects_need_everything_below_them() {
        let p = n("allow if docker_github_builder(input.image, \"org/repo\")");
        assert!(p.image_config && p.image_attestations && p.image_provenance && !p.git_objects);
        assert_eq!(n("x := json.marshal(input)"), Needs::all());
        assert_eq!(n("x := object.get(input, [\"image\"], null)"), Needs::all());
        assert!(n("import input.image as img\nallow if img.labels.x").image_config);
        assert!(n("allow if verify_git_signature_any(input.git, \"k\")").git_objects);
    }

    #[test]
    fn kind_tests_need_nothing() {
        assert_eq!(
            n("allow if {\n  input.image\n  input.image.repo == \"alpine\"\n}"),
            Needs::default()
        );
        assert_eq!(n("allow if not input.image"), Needs::default());
        assert_eq!(
            n("allow if { input.git; input.git.tagName == \"v1\" }"),
            Needs::default()
        );
        // but a value use of the same object needs everything
        assert!(n("x := input.image").image_attestations);
        assert!(n("allow if input.image == {}").image_config);
        // a bare `input` statement is still a whole use
        assert_eq!(n("allow if input"), Needs::all());
    }

    #[test]
    fn comments_and_lookalike_names_are_ignored() {
        assert_eq!(
            n("# uses input.image.signatures later\nallow if input.local"),
            Needs::default()
        );
        assert_eq!(
            n("inputs := 1\nmy_input := 2\nx := data.input"),
            Needs::default()
        );
        // a '#' inside a string does not start a comment
        assert!(n("allow if { input.image.tag == \"#1\"; input.image.labels.x }").image_config);
    }
}

#[cfg(test)]
mod fetch_tests;
