//! The allow-list of deliberate differences (`tests/buildx-diff/allow.json`). An entry may
//! only ever excuse the frontend refusing more than Buildx: a decision where the frontend
//! denies or fails and Buildx allows (or refuses otherwise), or a source only the frontend
//! decides. A listed case where the frontend allows what Buildx refuses still fails.

use std::path::Path;

use serde::Deserialize;

use super::compare::Direction;

#[derive(Deserialize)]
pub struct AllowList {
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    /// Must be `frontend-denies-more`: the only direction a difference may be excused in.
    pub direction: String,
    pub reason: String,
    /// Decision cases (exact names, or a prefix ending in `*`).
    #[serde(default)]
    pub cases: Vec<String>,
    /// Input-document source keys (prefixes) only the frontend decides.
    #[serde(default)]
    pub frontend_only_sources: Vec<String>,
}

pub fn load(corpus: &Path) -> AllowList {
    let path = corpus.join("allow.json");
    let text = std::fs::read_to_string(&path).expect("tests/buildx-diff/allow.json");
    let list: AllowList =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for e in &list.entries {
        assert_eq!(
            e.direction, "frontend-denies-more",
            "allow.json entry {}: a difference may only make the frontend deny more",
            e.id
        );
        assert!(
            !e.reason.trim().is_empty(),
            "allow.json entry {}: no reason",
            e.id
        );
    }
    list
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl AllowList {
    /// The entry listing this case, whatever the difference.
    pub fn entry_for_case(&self, case: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.cases.iter().any(|p| matches(p, case)))
    }

    /// Whether a decision difference in `direction` is excused for `case`.
    pub fn excuses(&self, case: &str, direction: Direction) -> Option<&str> {
        let entry = self.entry_for_case(case)?;
        (direction != Direction::FrontendLooser).then_some(entry.id.as_str())
    }

    /// Whether a source only the frontend decided is excused.
    pub fn excuses_frontend_source(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.frontend_only_sources.iter().any(|p| key.starts_with(p)))
            .map(|e| e.id.as_str())
    }
}
