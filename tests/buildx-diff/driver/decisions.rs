//! (b) Decisions: every case built through Buildx and through the frontend, outcomes and
//! deny messages compared.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::allow::{self, AllowList};
use super::compare::{Direction, direction};
use super::corpus::{self, Case, Kind};
use super::outcome::{Verdict, buildx_verdict, frontend_verdict};
use super::run::{Runner, out_dir};
use super::workspace::{self, Placeholders};
use crate::common::Rig;

#[derive(Serialize)]
pub struct CaseResult {
    pub name: String,
    pub kind: String,
    pub expect: String,
    /// The body, on one line (what a value or condition case evaluates).
    pub shown: String,
    pub buildx: Verdict,
    pub frontend: Verdict,
    pub direction: Option<Direction>,
    pub excused_by: Option<String>,
}

impl CaseResult {
    fn failed(&self) -> bool {
        self.direction.is_some() && self.excused_by.is_none()
    }

    fn corpus_error(&self) -> bool {
        self.buildx.class() != self.expect
    }
}

pub struct Report {
    pub results: Vec<CaseResult>,
    pub seconds: f64,
    /// Seconds in builds: Buildx's side, the frontend's.
    pub spent: (f64, f64),
    /// Problems with the corpus or the allow-list itself.
    pub problems: Vec<String>,
}

pub fn run(rig: &Rig) -> Report {
    let started = Instant::now();
    let corpus_dir = corpus::corpus_dir(&rig.root);
    let allow = allow::load(&corpus_dir);
    let kinds: BTreeMap<String, Kind> = corpus::kinds(&rig.root)
        .into_iter()
        .map(|k| (k.name.clone(), k))
        .collect();
    let cases: Vec<Case> = corpus::cases(&rig.root)
        .into_iter()
        .filter(|c| super::selected(&[&c.name, &c.kind]))
        .collect();
    let mut problems = stale_entries(&allow, &cases);
    let runner = Runner::new(rig);
    let mut ph = Placeholders::new(rig);
    let out = out_dir(&rig.root, "cases");
    if !super::filtered() {
        // a full run starts clean, so no case left from an earlier corpus lingers
        let _ = std::fs::remove_dir_all(&out);
    }
    let mut results = Vec::new();
    for batch in cases.chunks(super::batch_size()) {
        let _held = runner.lock();
        for case in batch {
            let Some(kind) = kinds.get(&case.kind) else {
                problems.push(format!("case {}: no kind {}", case.name, case.kind));
                continue;
            };
            let text = corpus::policy(case, &kind.target) + &files_text(case);
            if let Some(r) = kind.unsafe_read(&text) {
                problems.push(format!(
                    "case {}: kind {} must not read {r}",
                    case.name, kind.name
                ));
                continue;
            }
            results.push(one(&runner, &mut ph, &allow, kind, case, &out));
        }
    }
    Report {
        results,
        seconds: started.elapsed().as_secs_f64(),
        spent: runner.spent(),
        problems,
    }
}

fn one(
    runner: &Runner,
    ph: &mut Placeholders,
    allow: &AllowList,
    kind: &Kind,
    case: &Case,
    out: &Path,
) -> CaseResult {
    let dir = out.join(dir_name(&case.name));
    let w = workspace::write(ph, kind, case, &dir);
    let (bx, vf) = runner.both(&w.buildx, &w.frontend);
    let (buildx, frontend) = (buildx_verdict(&bx), frontend_verdict(&vf));
    let direction = direction(&buildx, &frontend);
    let excused_by = direction
        .and_then(|d| allow.excuses(&case.name, d))
        .map(String::from);
    CaseResult {
        name: case.name.clone(),
        kind: case.kind.clone(),
        expect: case.expect.clone(),
        shown: shown(&case.body),
        buildx,
        frontend,
        direction,
        excused_by,
    }
}

/// The body without comments, on one line.
fn shown(body: &str) -> String {
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    super::outcome::cut(&lines.join(" "), 200)
}

fn dir_name(case: &str) -> String {
    case.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '@' => c,
            _ => '_',
        })
        .collect()
}

fn files_text(case: &Case) -> String {
    case.files.values().map(String::as_str).collect()
}

/// Allow-list entries naming cases that do not exist (only checked on a full run).
fn stale_entries(allow: &AllowList, cases: &[Case]) -> Vec<String> {
    if super::filtered() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in &allow.entries {
        for p in &e.cases {
            let prefix = p.strip_suffix('*');
            let hit = cases.iter().any(|c| match prefix {
                Some(pre) => c.name.starts_with(pre),
                None => &c.name == p,
            });
            if !hit {
                out.push(format!("allow.json entry {}: no case matches {p}", e.id));
            }
        }
    }
    out
}

impl Report {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "cases": self.results,
            "problems": self.problems,
            "seconds": self.seconds,
        })
    }

    pub fn failures(&self) -> usize {
        self.results.iter().filter(|r| r.failed()).count()
            + self.results.iter().filter(|r| r.corpus_error()).count()
            + self.problems.len()
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        for r in self.results.iter().filter(|r| r.direction.is_some()) {
            let tag = match (&r.excused_by, r.direction) {
                (Some(id), _) => format!("excused by {id}"),
                (None, Some(d)) => format!("{d:?}"),
                (None, None) => unreachable!(),
            };
            s.push_str(&format!(
                "DIFF {} [{}] {tag}\n  case:     {}\n  buildx:   {}\n  frontend: {}\n",
                r.name,
                r.kind,
                r.shown,
                r.buildx.brief(),
                r.frontend.brief()
            ));
        }
        for r in self.results.iter().filter(|r| r.corpus_error()) {
            s.push_str(&format!(
                "CORPUS {}: expected Buildx to {}, it did: {}\n",
                r.name,
                r.expect,
                r.buildx.brief()
            ));
        }
        for p in &self.problems {
            s.push_str(&format!("PROBLEM {p}\n"));
        }
        s.push_str(&self.summary());
        s
    }

    pub fn summary(&self) -> String {
        let n = self.results.len();
        let count = |d: Direction| {
            self.results
                .iter()
                .filter(|r| r.direction == Some(d) && r.excused_by.is_none())
                .count()
        };
        let agree = self
            .results
            .iter()
            .filter(|r| r.direction.is_none())
            .count();
        let excused = self
            .results
            .iter()
            .filter(|r| r.excused_by.is_some())
            .count();
        format!(
            "decisions: {n} cases, {agree} agree, {excused} excused by the allow-list, \
             {} frontend stricter, {} frontend looser, {} other deny messages, \
             {} deny where the other errs; \
             {} corpus errors; {:.0} s (builds: Buildx {:.0} s, frontend {:.0} s)\n",
            count(Direction::FrontendStricter),
            count(Direction::FrontendLooser),
            count(Direction::MessagesDiffer),
            count(Direction::DenyVersusError),
            self.results.iter().filter(|r| r.corpus_error()).count(),
            self.seconds,
            self.spent.0,
            self.spent.1
        )
    }
}
