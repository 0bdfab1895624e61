//! The differential harness against Buildx: the corpus, how each side is built, what is
//! read from each, and how the two are compared. `tests/buildx_diff.rs` runs it.

pub mod allow;
pub mod compare;
pub mod corpus;
pub mod decisions;
pub mod inputs;
pub mod outcome;
pub mod run;
pub mod workspace;

use std::path::Path;

/// `VF_DIFF_FILTER=a,b`: only cases (or kinds) whose name contains one of these.
pub fn selected(names: &[&str]) -> bool {
    match std::env::var("VF_DIFF_FILTER") {
        Ok(f) if !f.trim().is_empty() => f
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .any(|s| names.iter().any(|n| n.contains(s))),
        _ => true,
    }
}

pub fn filtered() -> bool {
    std::env::var("VF_DIFF_FILTER").is_ok_and(|f| !f.trim().is_empty())
}

/// Cases per turn of the shared lock (`VF_DIFF_LOCK`), so other runs get theirs in between.
pub fn batch_size() -> usize {
    std::env::var("VF_DIFF_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(10)
}

/// Writes the human report and the JSON results beside the cases, and prints the report.
pub fn write_report(dir: &Path, name: &str, text: &str, json: &serde_json::Value) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{name}.txt")), text).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(json).unwrap(),
    )
    .unwrap();
    println!("{text}");
}
