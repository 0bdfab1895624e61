//! The built-in policy's own `policy test` suite (verified_test.rego), run through the
//! policy tester with the pins and settings the tests are written against.

use std::collections::BTreeMap;

use super::*;
use crate::policy::tester;

const TESTS: &str = include_str!("verified_test.rego");

fn unit_source() -> PolicySource {
    let pins = WrittenPins::scan(include_str!("../../testdata/knob/unit/Dockerfile"));
    let settings = Settings::parse(
        "Dockerfile.verified.json",
        include_bytes!("../../testdata/knob/unit/Dockerfile.verified.json"),
    )
    .unwrap();
    source(&pins, &settings, BTreeMap::new()).unwrap()
}

#[test]
fn the_builtin_policy_passes_its_policy_tests() {
    let results = tester::run_tests(
        unit_source(),
        vec![("verified_test.rego".into(), TESTS.into())],
        None,
    )
    .unwrap();
    assert!(results.len() >= 20, "{} tests", results.len());
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{}\n{}", r.line(), r.detail()))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn the_policy_is_named_and_digested_as_the_attestations_record_it() {
    let set = crate::policy::PolicySet::compile(vec![unit_source()]).unwrap();
    let d = &set.digests()[0];
    assert_eq!(d.name, NAME);
    assert_eq!(d.sha256, digest());
    assert_eq!(digest().len(), 64);
    assert!(d.files.contains_key(PINS_JSON) && d.files.contains_key(SETTINGS_JSON));
}

/// Buildx's partial evaluation decides what is fetched; the fix line must be able to name
/// what the ref resolved to, so deciding a git source must fetch it.
#[test]
fn deciding_a_git_source_fetches_what_the_fix_line_names() {
    use crate::policy::needs::{FetchModel, fetches};
    let mut models = vec![FetchModel::new(&unit_source().modules)];
    let mut doc_of = |f: crate::model::Fetched| {
        let mut git = serde_json::json!({"schema": "git", "host": "h", "remote": "git://h/r.git"});
        if f.git {
            git["checksum"] = "3333333333333333333333333333333333333333".into();
            git["ref"] = "refs/tags/v2".into();
            git["tagName"] = "v2".into();
        }
        Ok(serde_json::json!({"env": {"depth": 0}, "git": git}))
    };
    let f = fetches(&mut models, "git", &mut doc_of).unwrap();
    assert!(f.primary.git, "{:?}", f.primary);
}
