//! `fetches` against what Buildx v0.38.2 asks BuildKit for (each vector checked with
//! Buildx's own `Policy.CheckPolicy`).

use serde_json::json;

use super::*;
use crate::model::Facts;
use crate::policy::input;
use crate::proto::pb;
use crate::sources::Source;

const DIGEST: &str = "sha256:077247e9b87b25893ec7156d36b80a5d88172e93c71d31091f2fc90341231252";

fn image_fetches(policy: &str, id: &str) -> Result<Fetches, String> {
    let mut models = vec![FetchModel::new(&[("p.rego".into(), policy.into())])];
    let facts = Facts::Image {
        digest: DIGEST.into(),
        config: Some(br#"{"created":"2026-12-01T20:36:55.41Z","config":{"Env":["PATH=/bin"],"WorkingDir":"/"}}"#.to_vec()),
        chain: Some(Default::default()),
        tag_digest: None,
    };
    let op = pb::SourceOp {
        identifier: id.into(),
        attrs: Default::default(),
    };
    let src = Source::parse(&op).unwrap();
    let platform = pb::Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        ..Default::default()
    };
    let env = json!({"filename": "Dockerfile", "depth": 0});
    fetches(&mut models, "image", &mut |f| {
        input::document_with(&env, &src, &op, Some(&platform), Some(&facts), f)
    })
}

/// `c`, `a`, `p`: config, attestations, provenance, as a short string.
fn short(f: Fetched) -> String {
    let mut s = String::new();
    if f.image_config {
        s.push('c');
    }
    if f.image_provenance {
        s.push('p');
    } else if f.image_attestations {
        s.push('a');
    }
    s
}

/// A policy of `rules` (with `default allow := false` and the usual decision).
fn policy(rules: &str) -> String {
    format!("package docker\ndefault allow := false\n{rules}\ndecision := {{\"allow\": allow}}\n")
}

fn primary(policy: &str, id: &str) -> String {
    let f = image_fetches(policy, id).unwrap();
    assert!(f.alternatives.is_empty(), "{policy}: {f:?}");
    short(f.primary)
}

const TAG: &str = "docker-image://127.0.0.1:5000/busybox:latest";

/// Each vector is what Buildx v0.38.2's `CheckPolicy` requested for the same policy.
#[test]
fn fetched_as_buildx_fetches() {
    let vectors = [
        // A field in a rule with a default is fetched; a whole object or a field that is
        // not unknown (createdTime) is not.
        ("allow if not input.image.user", "c"),
        ("allow if input.image.createdTime", ""),
        (
            "allow if object.get(input.image, \"user\", \"root\") == \"root\"",
            "",
        ),
        ("allow if count(object.keys(input.image)) >= 10", ""),
        (
            "allow if object.get(input.image.labels, \"flavor\", \"\") != \"release\"",
            "c",
        ),
        // Inlined helpers, functions, aliases and iteration are followed.
        ("ok if input.image.labels.x == \"y\"\nallow if ok", "c"),
        (
            "g(img) if img.labels.x == \"y\"\nallow if g(input.image)",
            "c",
        ),
        ("allow if { x := input.image; x.labels.y == \"z\" }", "c"),
        (
            "allow if { some k, v in input.image.labels; k == \"x\" }",
            "c",
        ),
        (
            "allow if { some m in input.image.provenance.materials; m.image.labels }",
            "p",
        ),
        // A body whose known part fails is dropped, wherever the known part stands.
        (
            "allow if { input.image.repo == \"nope\"; input.image.labels.x }",
            "",
        ),
        (
            "allow if { input.image.labels.x; input.image.repo == \"nope\" }",
            "",
        ),
        (
            "allow if { input.image.createdTime; input.image.labels.x }",
            "",
        ),
        (
            "allow if { input.image.repo == \"127.0.0.1:5000/busybox\"; input.image.hasProvenance }\nallow if { input.image.repo == \"other\"; input.image.labels.x }",
            "a",
        ),
        (
            "ours(r) if startswith(r, \"127.0.0.1:5000/\")\nallow if { ours(input.image.repo); input.image.labels.x == \"y\" }",
            "c",
        ),
    ];
    for (rules, want) in vectors {
        let p = policy(rules);
        assert_eq!(primary(&p, TAG), want, "{rules}");
    }
    // The tag form lacks isCanonical, so a statement reading it fails before the fetch.
    let value = "package docker\ndefault deny_msg := []\ndeny_msg := [json.marshal(v)] if {\n\tinput.image\n\tv := [input.image.ref, input.image.isCanonical, input.image.checksum]\n}\ndecision := {\"allow\": false, \"deny_msg\": deny_msg}";
    assert_eq!(primary(value, TAG), "");
    // A set rule is saved; a rule the decision uses only inside a comprehension is not
    // evaluated, and may have been either way here.
    let set = "package docker\ndefault allow := true\ndeny_msg contains \"m\" if input.image.user == \"root\"\ndecision := {\"allow\": allow, \"deny_msg\": deny_msg}";
    assert_eq!(primary(set, TAG), "c");
    let compr = set.replace(
        "\"deny_msg\": deny_msg}",
        "\"deny_msg\": [m | some m in deny_msg]}",
    );
    let f = image_fetches(&compr, TAG).unwrap();
    assert_eq!(
        (
            short(f.primary),
            f.alternatives.iter().map(|a| short(*a)).collect::<Vec<_>>()
        ),
        ("".into(), vec!["c".to_string()])
    );
    // The probe reads everything by its full path.
    let probe = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/buildx-diff/probe.rego"
    ))
    .unwrap();
    assert_eq!(primary(&probe, TAG), "cp");
}

#[test]
fn a_read_of_a_materials_own_metadata_is_refused() {
    let p = policy("allow if input.image.provenance.materials[0].image.labels.x");
    let err = image_fetches(&p, TAG).unwrap_err();
    assert!(err.contains("provenance material"), "{err}");
}

#[test]
fn policies_whose_requests_drop_each_others_metadata_fail_as_in_buildkit() {
    let a = policy("allow if input.image.labels.x");
    let b = policy("allow if input.image.hasProvenance");
    let mut models = vec![
        FetchModel::new(&[("a.rego".into(), a)]),
        FetchModel::new(&[("b.rego".into(), b)]),
    ];
    let doc = json!({"env": {}, "image": {"repo": "x", "ref": "x:1", "tag": "1"}});
    let err = fetches(&mut models, "image", &mut |_| Ok(doc.clone())).unwrap_err();
    assert!(err.contains("too many policy requests"), "{err}");
}

#[test]
fn probe_evaluates_known_statements() {
    let all = vec![
        ("builtin.rego".to_string(), BUILTINS.to_string()),
        (
            "p.rego".to_string(),
            policy("allow if verify_git_signature(input.git.commit, \"k\")"),
        ),
    ];
    let mut p = known::Probe::new(&all)
        .expect("the modules load with stand-ins for the frontend's builtins");
    p.set_input(&json!({"image": {"repo": "a"}}));
    use partial::Known;
    let h = "package docker\n";
    assert_eq!(
        p.holds(h, &["input.image.repo == \"a\"".into()]),
        Some(true)
    );
    assert_eq!(
        p.holds(h, &["input.image.repo == \"b\"".into()]),
        Some(false)
    );
    assert_eq!(
        p.holds(h, &["pin_image(input.image, \"sha256:00\")".into()]),
        None
    );
}

/// The document `fetches` hands back is the primary one, whatever rounds came before it, so
/// the decision is made on it without building it again.
#[test]
fn the_document_returned_holds_the_primary_fetch() {
    let p = policy("allow if input.image.labels.x == \"y\"");
    let mut models = vec![FetchModel::new(&[("p.rego".into(), p)])];
    let mut built = Vec::new();
    let f = fetches(&mut models, "image", &mut |f| {
        built.push(f);
        Ok(json!({"image": {"fetched": short(f)}}))
    })
    .unwrap();
    assert_eq!(short(f.primary), "c");
    assert_eq!(built.first().map(|f| short(*f)).as_deref(), Some(""));
    assert_eq!(built.last(), Some(&f.primary));
    assert_eq!(f.doc, json!({"image": {"fetched": "c"}}));
}
