//! The differential harness against Docker Buildx v0.38.2 (issue #11): the same Dockerfiles
//! and `Dockerfile.rego` policies built through the rig's BuildKit once with Buildx
//! evaluating the policy client side (`--policy strict=true`, no `# syntax=` line) and once
//! through the frontend (`--policy disabled=true`, `# syntax=<frontend>`). Buildx is the
//! reference: (a) the input documents must match field by field, (b) every case of the corpus
//! (`tests/buildx-diff/cases`) must decide the same, with the same deny messages, unless
//! `tests/buildx-diff/allow.json` lists it as a deliberate difference where the frontend
//! denies more.
//!
//! `VF_DIFF_FILTER=glob.match,image-config` runs only cases and kinds whose names contain one
//! of those; `VF_DIFF_LOCK=/tmp/vf-e2e.lock` takes the shared lock per batch of
//! `VF_DIFF_BATCH` (10) cases. Reports and both sides' build contexts (with the command that
//! built each, in `cmd`) are left in `target/buildx-diff/`.

mod common;
#[path = "buildx-diff/driver/mod.rs"]
mod driver;

use std::path::Path;

use common::{rig, serial};

/// The corpus without the rig: every case parses and names a kind that exists, no case reads
/// what would crash the daemon, the allow-list is well formed, and there are enough cases.
#[test]
fn the_corpus_is_well_formed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let kinds = driver::corpus::kinds(root);
    let cases = driver::corpus::cases(root);
    for case in &cases {
        let kind = kinds
            .iter()
            .find(|k| k.name == case.kind)
            .unwrap_or_else(|| panic!("case {}: no kind {}", case.name, case.kind));
        let policy = driver::corpus::policy(case, &kind.target);
        assert!(
            kind.unsafe_read(&policy).is_none(),
            "case {} reads what kind {} must not",
            case.name,
            kind.name
        );
    }
    driver::allow::load(&driver::corpus::corpus_dir(root));
    println!("{} cases on {} kinds", cases.len(), kinds.len());
    assert!(cases.len() >= 200, "only {} cases", cases.len());
}

// Both run in the default `cargo test` against the rig (about 8 minutes together);
// `scripts/buildx-diff.sh` runs them against a copy of the frontend image that a
// concurrent `frontend/build.sh` cannot replace.
#[test]
fn input_documents_match_buildx() {
    let _s = serial();
    let rig = rig();
    let report = driver::inputs::run(&rig);
    let dir = driver::run::out_dir(&rig.root, "");
    driver::write_report(&dir, "inputs", &report.text(), &report.json());
    assert!(
        report.failures() == 0,
        "{}the input documents differ from Buildx's; see {}",
        report.summary(),
        dir.join("inputs.txt").display()
    );
}

#[test]
fn decisions_match_buildx() {
    let _s = serial();
    let rig = rig();
    let report = driver::decisions::run(&rig);
    let dir = driver::run::out_dir(&rig.root, "");
    driver::write_report(&dir, "decisions", &report.text(), &report.json());
    assert!(
        report.failures() == 0,
        "{}decisions differ from Buildx's; see {}",
        report.summary(),
        dir.join("decisions.txt").display()
    );
}
