//! (a) Input documents: per source kind, the probe policy (allows everything, reads every
//! field so both sides fetch all the metadata there is, prints the input) built through
//! both; Buildx's `policy input:` dumps compared field by field with what the frontend's
//! policy printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use super::allow::{self, AllowList};
use super::compare::{FieldDiff, by_source, diff_docs};
use super::corpus::{self, Case, Kind, Template};
use super::outcome::{buildx_inputs, buildx_verdict, frontend_inputs, frontend_verdict};
use super::run::{Runner, out_dir};
use super::workspace::{self, Placeholders};
use crate::common::Rig;

#[derive(Serialize, Default)]
pub struct KindResult {
    pub kind: String,
    /// Builds that did not succeed (the probe allows everything).
    pub build_errors: Vec<String>,
    pub only_buildx: Vec<String>,
    pub only_frontend: Vec<String>,
    pub excused_sources: Vec<(String, String)>,
    /// Per source both decided: the fields that differ.
    pub fields: BTreeMap<String, Vec<FieldDiff>>,
    pub compared: usize,
}

impl KindResult {
    fn failures(&self) -> usize {
        self.build_errors.len()
            + self.only_buildx.len()
            + self.only_frontend.len()
            + self.fields.values().map(Vec::len).sum::<usize>()
    }
}

pub struct Report {
    pub kinds: Vec<KindResult>,
    pub seconds: f64,
    /// Seconds in builds: Buildx's side, the frontend's.
    pub spent: (f64, f64),
}

pub fn run(rig: &Rig) -> Report {
    let started = Instant::now();
    let corpus_dir = corpus::corpus_dir(&rig.root);
    let allow = allow::load(&corpus_dir);
    let probe = Case {
        name: "probe".into(),
        kind: String::new(),
        template: Template::Full,
        body: std::fs::read_to_string(corpus_dir.join("probe.rego")).unwrap(),
        expect: "allow".into(),
        files: Default::default(),
        policies: Vec::new(),
        copies: Vec::new(),
        flags: Vec::new(),
    };
    let kinds: Vec<Kind> = corpus::kinds(&rig.root)
        .into_iter()
        .filter(|k| super::selected(&[&k.name]))
        .collect();
    let runner = Runner::new(rig);
    let mut ph = Placeholders::new(rig);
    let out = out_dir(&rig.root, "inputs");
    if !super::filtered() {
        // a full run starts clean, so no case left from an earlier corpus lingers
        let _ = std::fs::remove_dir_all(&out);
    }
    let mut results = Vec::new();
    for batch in kinds.chunks(super::batch_size()) {
        let _held = runner.lock();
        for kind in batch {
            results.push(one_kind(&runner, &mut ph, &allow, kind, &probe, &out));
        }
    }
    Report {
        kinds: results,
        seconds: started.elapsed().as_secs_f64(),
        spent: runner.spent(),
    }
}

fn one_kind(
    runner: &Runner,
    ph: &mut Placeholders,
    allow: &AllowList,
    kind: &Kind,
    probe: &Case,
    out: &Path,
) -> KindResult {
    let dir = out.join(&kind.name);
    let body = without_unsafe_rules(&probe.body, kind);
    let probe = Case {
        body,
        ..probe.clone()
    };
    let w = workspace::write(ph, kind, &probe, &dir);
    let (bx, vf) = runner.both(&w.buildx, &w.frontend);
    let (bdocs, fdocs) = (
        by_source(buildx_inputs(&bx)),
        by_source(frontend_inputs(&vf)),
    );
    for (name, docs) in [("buildx.json", &bdocs), ("frontend.json", &fdocs)] {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(docs).unwrap()).unwrap();
    }
    let mut r = compare(kind, allow, &bdocs, &fdocs);
    for (side, o, v) in [
        ("buildx", &bx, buildx_verdict(&bx)),
        ("frontend", &vf, frontend_verdict(&vf)),
    ] {
        if !o.ok {
            r.build_errors.push(format!("{side}: {}", v.brief()));
        }
    }
    r
}

/// The probe without the rules that read what the kind must not: whole rules (a line at the
/// margin and the indented lines and closing brace after it), so none is left half.
fn without_unsafe_rules(probe: &str, kind: &Kind) -> String {
    let mut rules: Vec<String> = Vec::new();
    for line in probe.lines() {
        let starts = !line.starts_with([' ', '\t', '}']);
        if starts || rules.is_empty() {
            rules.push(String::new());
        }
        let r = rules.last_mut().unwrap();
        r.push_str(line);
        r.push('\n');
    }
    rules.retain(|r| kind.unsafe_read(r).is_none());
    rules.concat()
}

fn compare(
    kind: &Kind,
    allow: &AllowList,
    bx: &BTreeMap<String, Value>,
    vf: &BTreeMap<String, Value>,
) -> KindResult {
    let mut r = KindResult {
        kind: kind.name.clone(),
        ..Default::default()
    };
    for (key, doc) in bx {
        match vf.get(key) {
            None => r.only_buildx.push(key.clone()),
            Some(other) => {
                r.compared += 1;
                let diffs = diff_docs(doc, other);
                if !diffs.is_empty() {
                    r.fields.insert(key.clone(), diffs);
                }
            }
        }
    }
    for key in vf.keys().filter(|k| !bx.contains_key(*k)) {
        match allow.excuses_frontend_source(key) {
            Some(id) => r.excused_sources.push((key.clone(), id.to_string())),
            None => r.only_frontend.push(key.clone()),
        }
    }
    r
}

impl Report {
    pub fn failures(&self) -> usize {
        self.kinds.iter().map(KindResult::failures).sum()
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        for k in &self.kinds {
            for e in &k.build_errors {
                s.push_str(&format!("BUILD [{}] {e}\n", k.kind));
            }
            for key in &k.only_buildx {
                s.push_str(&format!("SOURCE [{}] only Buildx decides {key}\n", k.kind));
            }
            for key in &k.only_frontend {
                s.push_str(&format!(
                    "SOURCE [{}] only the frontend decides {key}\n",
                    k.kind
                ));
            }
            for (key, diffs) in &k.fields {
                s.push_str(&format!("FIELDS [{}] {key}\n", k.kind));
                for d in diffs {
                    s.push_str(&format!("  {} ({})\n", d.line(), d.category()));
                }
            }
        }
        s.push_str(&self.by_field());
        s.push_str(&self.summary());
        s
    }

    /// The differences grouped by field (array indexes folded), with how many sources show
    /// each and one example: the to-do list.
    fn by_field(&self) -> String {
        let mut groups: BTreeMap<(String, &'static str), (usize, String)> = BTreeMap::new();
        for k in &self.kinds {
            for diffs in k.fields.values() {
                for d in diffs {
                    let path = fold_indexes(&d.path);
                    let g = groups
                        .entry((path, d.category()))
                        .or_insert((0, format!("[{}] {}", k.kind, d.line())));
                    g.0 += 1;
                }
            }
        }
        let mut s = String::from("\nfields that differ (sources affected, one example):\n");
        for ((path, cat), (n, example)) in &groups {
            s.push_str(&format!("  {path} — {cat} — {n}×, e.g. {example}\n"));
        }
        s
    }

    pub fn summary(&self) -> String {
        let sum = |f: fn(&KindResult) -> usize| self.kinds.iter().map(f).sum::<usize>();
        let compared = sum(|k| k.compared);
        let excused = sum(|k| k.excused_sources.len());
        format!(
            "inputs: {} kinds, {compared} sources decided by both ({} identical), \
             {} only by Buildx, {} only by the frontend ({excused} excused), {} build errors, \
             {} field differences; {:.0} s (builds: Buildx {:.0} s, frontend {:.0} s)\n",
            self.kinds.len(),
            compared - sum(|k| k.fields.len()),
            sum(|k| k.only_buildx.len()),
            sum(|k| k.only_frontend.len()) + excused,
            sum(|k| k.build_errors.len()),
            sum(|k| k.fields.values().map(Vec::len).sum()),
            self.seconds,
            self.spent.0,
            self.spent.1
        )
    }

    pub fn json(&self) -> Value {
        json!({ "kinds": self.kinds, "seconds": self.seconds })
    }
}

fn fold_indexes(path: &str) -> String {
    let mut out = String::new();
    let mut skip = false;
    for c in path.chars() {
        match c {
            '[' => {
                skip = true;
                out.push_str("[]");
            }
            ']' => skip = false,
            _ if skip => {}
            _ => out.push(c),
        }
    }
    out
}
