//! The heap bound on policy evaluation (`policy::limits::EVAL_MEMORY`), in a test process of
//! its own: the bound counts the whole process's heap, so the gigabytes this reserves would
//! stop any evaluation another test ran beside it.

use verified_frontend::policy::{PolicySet, PolicySource};

/// `numbers.range` reserves its whole array at once: 400 million values, gigabytes.
const HUGE: &str = r#"package docker
default allow := false
allow if {
    input.huge
    count([i | some i in numbers.range(1, 400000000)]) > 0
}
decision := {"allow": allow}
"#;

#[test]
fn an_evaluation_past_the_memory_bound_stops_and_says_which() {
    let src = PolicySource {
        name: "Dockerfile.rego".into(),
        modules: vec![("Dockerfile.rego".into(), HUGE.into())],
        ..Default::default()
    };
    let mut set = PolicySet::compile(vec![src]).unwrap();
    let e = set
        .evaluate(&serde_json::json!({"huge": true}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Dockerfile.rego"), "{e}");
    assert!(
        e.contains(
            "the evaluation needed more than 1024 MiB of memory, the bound on the frontend's \
             heap while a policy runs; the source is refused"
        ),
        "{e}"
    );
    // The reservation was given back: the next decision runs.
    assert!(set.evaluate(&serde_json::json!({})).is_ok());
}
