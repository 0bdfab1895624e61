//! The corpus as data: source kinds (a Dockerfile and its build flags per directory under
//! `kinds/`) and policy cases (`cases/*.cases`), written out as two build contexts per case:
//! one Buildx evaluates client side, one the frontend evaluates (`# syntax=` line added).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The frontend image the `# syntax=` line names; every template allows it, since the
/// frontend decides its own image and Buildx never sees it.
pub const FRONTEND: &str = "127.0.0.1:5000/verified-frontend";

/// The `# syntax=` reference: `FRONTEND` at the tag `VF_DIFF_FRONTEND_TAG` names, so that a
/// run can use a copy of the image that nobody else rebuilds while it runs (the rig's
/// `latest` is rebuilt by every `frontend/build.sh`); `latest` when unset.
pub fn frontend_ref() -> String {
    match std::env::var("VF_DIFF_FRONTEND_TAG") {
        Ok(tag) if !tag.is_empty() => format!("{FRONTEND}:{tag}"),
        _ => FRONTEND.to_string(),
    }
}

pub struct Kind {
    pub name: String,
    /// `image`, `git`, `http` or `local`: the input object the cases are about.
    pub target: String,
    pub dir: PathBuf,
    /// The Dockerfile's name in the kind's directory (`Dockerfile` unless the kind is about
    /// `input.env.filename`).
    pub dockerfile: String,
    pub flags: Vec<String>,
    /// Input paths no policy may read on this kind (`unsafe-reads`): BuildKit v0.34.2
    /// dereferences nil in `ResolveImageMetadata` (source.go:295) when Buildx asks for the
    /// attestation chain of an image that is not an index, and the shared daemon dies.
    pub unsafe_reads: Vec<String>,
}

impl Kind {
    /// The first unsafe path `policy` reads, if any.
    pub fn unsafe_read<'p>(&'p self, policy: &str) -> Option<&'p str> {
        self.unsafe_reads
            .iter()
            .find(|r| policy.contains(r.as_str()))
            .map(String::as_str)
    }
}

/// Files in a kind's directory that describe it rather than belong in its context.
pub const KIND_META: [&str; 2] = ["flags", "unsafe-reads"];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Template {
    /// The body is a condition: the target source is allowed iff it holds.
    Cond,
    /// The body is an expression: the target is denied with its value as the message, a
    /// string as it is (so JSON escaping cannot hide or fake a difference), anything else
    /// through `json.marshal`.
    Value,
    /// As `Value`, and the value must be a string.
    Str,
    /// The body is the whole policy.
    Full,
}

#[derive(Clone)]
pub struct Case {
    pub name: String,
    pub kind: String,
    pub template: Template,
    pub body: String,
    /// What Buildx is expected to do (`allow`, `deny`, `error`): keeps each case honest
    /// about what it tests. Cond cases default to `allow`, value cases to `deny`.
    pub expect: String,
    /// Extra files beside the policy (imports, JSON data, more policies).
    pub files: BTreeMap<String, String>,
    /// Extra policies among `files`, in order (Buildx `--policy filename=`, frontend `policy=`).
    pub policies: Vec<String>,
    /// Files copied from the rig's key directory (`$VF_RIG/keys`).
    pub copies: Vec<String>,
    /// More build flags, for both paths.
    pub flags: Vec<String>,
}

pub fn corpus_dir(root: &Path) -> PathBuf {
    root.join("tests/buildx-diff")
}

pub fn kinds(root: &Path) -> Vec<Kind> {
    let mut out = Vec::new();
    let dir = corpus_dir(root).join("kinds");
    for entry in std::fs::read_dir(&dir).expect("tests/buildx-diff/kinds") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let dockerfile = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .find(|f| f.ends_with("Dockerfile"))
            .unwrap_or_else(|| panic!("kind {name} has no Dockerfile"));
        let flags = lines(&path.join("flags"));
        let unsafe_reads = lines(&path.join("unsafe-reads"));
        let target = name.split('-').next().unwrap().to_string();
        assert!(
            ["image", "git", "http", "local"].contains(&target.as_str()),
            "kind {name}: the name must start with image-, git-, http- or local-"
        );
        out.push(Kind {
            name,
            target,
            dir: path,
            dockerfile,
            flags,
            unsafe_reads,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The non-empty, non-comment lines of an optional file.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

pub fn cases(root: &Path) -> Vec<Case> {
    let dir = corpus_dir(root).join("cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/buildx-diff/cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cases"))
        .collect();
    files.sort();
    let mut out: Vec<Case> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed = parse_cases(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        out.extend(parsed);
    }
    let mut names: Vec<&str> = out.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("case {} is defined twice", w[0]);
    }
    out
}

/// `=== name key=value...` starts a case; the lines after it are its body, up to a
/// `--- file` line (whose lines are that file) or the next case. `#` lines outside bodies
/// are comments. `each=a,b` makes one case per value (`$each` in the case replaced by it),
/// `each=lines` one per line of the body (the line is the body, `$each` in the name its
/// number), `kinds=k1,k2` one per kind (the name gets `@k1`; `expect@k1=deny` is that
/// kind's expectation).
pub fn parse_cases(text: &str) -> Result<Vec<Case>, String> {
    let mut out: Vec<Case> = Vec::new();
    let mut file: Option<String> = None;
    for (n, line) in expand(text).lines().enumerate() {
        if let Some(header) = line.strip_prefix("=== ") {
            out.push(header_case(header).map_err(|e| format!("line {}: {e}", n + 1))?);
            file = None;
            continue;
        }
        let Some(case) = out.last_mut() else {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            return Err(format!("line {}: text before the first case", n + 1));
        };
        if let Some(name) = line.strip_prefix("--- ") {
            file = Some(name.trim().to_string());
            case.files.insert(name.trim().to_string(), String::new());
            continue;
        }
        let buf = match &file {
            Some(f) => case.files.get_mut(f).unwrap(),
            None => &mut case.body,
        };
        buf.push_str(line);
        buf.push('\n');
    }
    for case in &mut out {
        case.body = case.body.trim_end().to_string() + "\n";
        if let Some(p) = case.policies.iter().find(|p| !case.files.contains_key(*p)) {
            return Err(format!("case {}: policy {p} has no --- section", case.name));
        }
    }
    Ok(out)
}

/// Writes out the `each=` and `kinds=` products, block by block.
fn expand(text: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("=== ") || blocks.is_empty() {
            blocks.push(String::new());
        }
        let b = blocks.last_mut().unwrap();
        b.push_str(line);
        b.push('\n');
    }
    blocks
        .iter()
        .map(|block| {
            let (header, rest) = block.split_once('\n').unwrap_or((block, ""));
            match header.strip_prefix("=== ") {
                Some(words) => expand_case(words, rest),
                None => block.clone(),
            }
        })
        .collect()
}

/// One case's header words and the text after the header, as the cases it stands for.
fn expand_case(words: &str, rest: &str) -> String {
    let list = |key: &str| -> Vec<String> {
        words
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(|v| v.split(',').map(String::from).collect())
            .unwrap_or_default()
    };
    let (each, kinds) = (list("each="), list("kinds="));
    let kept: Vec<&str> = words
        .split_whitespace()
        .filter(|w| {
            !["each=", "kinds=", "expect@"]
                .iter()
                .any(|p| w.starts_with(p))
        })
        .collect();
    let per_kind = |k: &str| {
        let key = format!("expect@{k}=");
        words
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key.as_str()))
            .map(|v| format!(" expect={v}"))
            .unwrap_or_default()
    };
    let mut out = String::new();
    for (label, body) in each_items(&each, rest) {
        let one = |k: Option<&String>| {
            let name = match k {
                Some(k) => format!("{}@{k}", kept[0]),
                None => kept[0].to_string(),
            }
            .replace("$each", &label);
            let kind = k
                .map(|k| format!(" kind={k}{}", per_kind(k)))
                .unwrap_or_default();
            format!("=== {name} {}{kind}\n{body}", kept[1..].join(" "))
        };
        if kinds.is_empty() {
            out.push_str(&one(None));
        }
        for k in &kinds {
            out.push_str(&one(Some(k)));
        }
    }
    out
}

/// (what `$each` becomes in the name, the body) per item of `each=`.
fn each_items(each: &[String], rest: &str) -> Vec<(String, String)> {
    if each == ["lines"] {
        return rest
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .enumerate()
            .map(|(i, l)| ((i + 1).to_string(), format!("{l}\n")))
            .collect();
    }
    if each.is_empty() {
        return vec![(String::new(), rest.to_string())];
    }
    each.iter()
        .map(|e| (e.clone(), rest.replace("$each", e)))
        .collect()
}

fn header_case(header: &str) -> Result<Case, String> {
    let mut words = header.split_whitespace();
    let name = words.next().ok_or("a case needs a name")?.to_string();
    let mut case = Case {
        name,
        kind: "image-busybox".into(),
        template: Template::Cond,
        body: String::new(),
        expect: String::new(),
        files: BTreeMap::new(),
        policies: Vec::new(),
        copies: Vec::new(),
        flags: Vec::new(),
    };
    for word in words {
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| format!("{}: {word} is not key=value", case.name))?;
        match k {
            "kind" => case.kind = v.into(),
            "tpl" => case.template = template(v)?,
            "expect" if ["allow", "deny", "error"].contains(&v) => case.expect = v.into(),
            "policy" => case.policies.push(v.into()),
            "copy" => case.copies.push(v.into()),
            "flag" => case.flags.push(v.into()),
            _ => return Err(format!("{}: unknown attribute {word}", case.name)),
        }
    }
    if case.expect.is_empty() {
        case.expect = match case.template {
            Template::Cond => "allow",
            Template::Value | Template::Str => "deny",
            Template::Full => return Err(format!("{}: a full policy needs expect=", case.name)),
        }
        .into();
    }
    Ok(case)
}

fn template(v: &str) -> Result<Template, String> {
    Ok(match v {
        "cond" => Template::Cond,
        "value" => Template::Value,
        "str" => Template::Str,
        "full" => Template::Full,
        _ => return Err(format!("unknown template {v}")),
    })
}

/// The rule every template has (and `{FRONTEND}` stands for): the frontend image is allowed.
pub fn frontend_rule() -> String {
    format!("allow if input.image.repo == \"{FRONTEND}\"")
}

/// The policy text of a case for a source kind whose input object is `target`.
pub fn policy(case: &Case, target: &str) -> String {
    let frontend = frontend_rule();
    let body = indent(&case.body);
    let head = format!(
        "package docker\n\ndefault allow := false\n\nallow if not input.{target}\n\n{frontend}\n\n"
    );
    match case.template {
        Template::Full => case.body.replace("{FRONTEND}", &frontend),
        Template::Cond => format!(
            "{head}allow if {{\n\tinput.{target}\n{body}}}\n\n\
             deny_msg contains \"{name}: denied\" if not allow\n\n\
             decision := {{\"allow\": allow, \"deny_msg\": deny_msg}}\n",
            name = case.name
        ),
        Template::Value => format!(
            "{head}default deny_msg := []\n\n\
             deny_msg := [v] if {{\n\tinput.{target}\n\tv := {expr}\n\tis_string(v)\n}}\n\n\
             deny_msg := [json.marshal(v)] if {{\n\tinput.{target}\n\tv := {expr}\n\tnot is_string(v)\n}}\n\n\
             decision := {{\"allow\": allow, \"deny_msg\": deny_msg}}\n",
            expr = body.trim()
        ),
        Template::Str => format!(
            "{head}default deny_msg := []\n\n\
             deny_msg := [v] if {{\n\tinput.{target}\n\tv := {expr}\n}}\n\n\
             decision := {{\"allow\": allow, \"deny_msg\": deny_msg}}\n",
            expr = body.trim()
        ),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("\t{l}\n")).collect()
}
