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

/// A denied `# syntax=` image is fixed on that line, not with a `FROM`: the frontend tells
/// the policy which repository the directive names (pins.json), as the input cannot.
#[test]
fn the_fix_of_the_syntax_image_names_the_syntax_line() {
    let pins = WrittenPins::scan("# syntax=127.0.0.1:5000/vf:latest\nFROM 127.0.0.1:5000/app:1\n");
    let policy = source(&pins, &Settings::default(), BTreeMap::new()).unwrap();
    let tests = r#"package docker

img(repo, tag) := {"host": "127.0.0.1:5000", "fullRepo": concat("/", ["127.0.0.1:5000", repo]), "repo": concat("/", ["127.0.0.1:5000", repo]), "tag": tag, "checksum": "sha256:ab", "platform": "linux/amd64"}

case_syntax := {"image": img("vf", "latest")}

case_from := {"image": img("app", "1")}

test_the_syntax_image if {
	msgs := decision.deny_msg with input as data.docker.case_syntax
	some m in msgs
	startswith(m, "fix: # syntax=127.0.0.1:5000/vf:latest@sha256:ab (name it by digest)")
}

test_a_from_image if {
	msgs := decision.deny_msg with input as data.docker.case_from
	some m in msgs
	startswith(m, "fix: FROM 127.0.0.1:5000/app:1@sha256:ab (name it by digest)")
}
"#;
    let results = tester::run_tests(
        policy,
        vec![("syntax_test.rego".into(), tests.into())],
        None,
    )
    .unwrap();
    assert_eq!(results.len(), 2);
    for r in &results {
        assert!(r.passed, "{}\n{}", r.line(), r.detail());
    }
}
