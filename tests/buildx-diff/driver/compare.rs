//! Comparing the two sides: input documents field by field (per source), decisions by
//! outcome and deny messages, each difference with the direction it errs in.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::outcome::Verdict;

/// A source's identity as both input documents spell it, to pair them up.
pub fn source_key(doc: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    if doc["env"]["capsRequest"] == Value::Bool(true) {
        return "caps pre-pass".into();
    }
    if let Some(i) = doc.get("image") {
        return format!("image {} ({})", s(&i["ref"]), s(&i["platform"]));
    }
    if let Some(g) = doc.get("git") {
        let r = [&g["ref"], &g["tagName"], &g["branch"], &g["checksum"]]
            .into_iter()
            .map(s)
            .find(|r| !r.is_empty())
            .unwrap_or_default();
        return format!("git {}#{}:{}", s(&g["remote"]), r, s(&g["subDir"]));
    }
    if let Some(h) = doc.get("http") {
        return format!("http {}", s(&h["url"]));
    }
    if let Some(l) = doc.get("local") {
        return format!("local {}", s(&l["name"]));
    }
    "unknown source".into()
}

/// The last document per source: each evaluation after a metadata fetch sees more. A
/// document another one extends is an earlier round of the same check (Buildx's first
/// round for `#v1` does not know the ref yet, so it cannot be keyed by it) and is dropped.
pub fn by_source(docs: Vec<Value>) -> BTreeMap<String, Value> {
    let leaves: Vec<BTreeMap<String, Value>> = docs
        .iter()
        .map(|d| {
            let mut m = BTreeMap::new();
            flatten("", d, &mut m);
            m
        })
        .collect();
    let extended = |i: usize| {
        leaves.iter().enumerate().any(|(j, other)| {
            j != i
                && other.len() > leaves[i].len()
                && leaves[i].iter().all(|(k, v)| other.get(k) == Some(v))
        })
    };
    let keep: Vec<bool> = (0..docs.len()).map(|i| !extended(i)).collect();
    docs.into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(d, _)| (source_key(&d), d))
        .collect()
}

#[derive(Debug, Serialize)]
pub struct FieldDiff {
    pub path: String,
    pub buildx: Option<Value>,
    pub frontend: Option<Value>,
}

impl FieldDiff {
    pub fn category(&self) -> &'static str {
        match (&self.buildx, &self.frontend) {
            (None, Some(_)) => "only in the frontend",
            (Some(_), None) => "missing in the frontend",
            _ => "value differs",
        }
    }

    pub fn line(&self) -> String {
        let show = |v: &Option<Value>| match v {
            Some(v) => super::outcome::cut(&v.to_string(), 160),
            None => "(absent)".into(),
        };
        format!(
            "{}: buildx {} | frontend {}",
            self.path,
            show(&self.buildx),
            show(&self.frontend)
        )
    }
}

/// Every leaf (scalars, and empty objects and arrays, which `omitempty` drops) that is
/// absent on one side or has another value.
pub fn diff_docs(buildx: &Value, frontend: &Value) -> Vec<FieldDiff> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &sorted_volumes(buildx), &mut a);
    flatten("", &sorted_volumes(frontend), &mut b);
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| a.get(*p) != b.get(*p))
        .map(|p| FieldDiff {
            path: p.clone(),
            buildx: a.get(p).cloned(),
            frontend: b.get(p).cloned(),
        })
        .collect()
}

/// `image.volumes` in order: Buildx lists them in Go map order, which changes from run to
/// run, so only the set is comparable.
fn sorted_volumes(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(Value::Array(v)) = doc.pointer_mut("/image/volumes") {
        v.sort_by_key(|x| x.to_string());
    }
    doc
}

fn flatten(path: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) if !m.is_empty() => m.iter().for_each(|(k, v)| flatten(&join(k), v, out)),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(&format!("{path}[{i}]"), v, out)),
        _ => {
            out.insert(path.to_string(), v.clone());
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The frontend denies or fails where Buildx allows.
    FrontendStricter,
    /// The frontend allows where Buildx denies or fails: never acceptable.
    FrontendLooser,
    /// Both deny, with other messages.
    MessagesDiffer,
    /// One denies where the other fails with an error.
    DenyVersusError,
}

pub fn direction(buildx: &Verdict, frontend: &Verdict) -> Option<Direction> {
    if buildx.agrees(frontend) {
        return None;
    }
    Some(match (buildx, frontend) {
        (Verdict::Allow, _) => Direction::FrontendStricter,
        (_, Verdict::Allow) => Direction::FrontendLooser,
        (Verdict::Deny { .. }, Verdict::Deny { .. }) => Direction::MessagesDiffer,
        _ => Direction::DenyVersusError,
    })
}
