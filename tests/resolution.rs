//! What the frontend asks BuildKit while it resolves a build's sources (issue #16), through
//! the real BuildKit: what the build already established is not asked again, and what it
//! cannot vouch for still is. The report's `timings.calls.sources` lists every call about a
//! source, by the identifier it was asked for.

mod common;

use std::path::Path;

use common::{Mode, Outcome, Rig, rig, serial};
use serde_json::Value;

/// Trusts tags, as the bench's policy does: `busybox:latest` by repository and tag.
const POLICY: &str = r#"package docker

default allow := false

allow if input.local

allow if input.image.repo in {"127.0.0.1:5000/verified-frontend", "127.0.0.1:5000/dockerfile"}

allow if {
	input.image.repo == "127.0.0.1:5000/busybox"
	input.image.tag == "latest"
}

decision := {"allow": allow}
"#;

fn case(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile.rego"), POLICY).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    dir
}

fn build(rig: &Rig, dir: &Path, extra: &[&str]) -> Outcome {
    rig.build(dir, Mode::Syntax, extra, None)
}

/// The identifiers the frontend asked BuildKit about that name `repo`.
fn asked_about(report: &Value, repo: &str) -> Vec<String> {
    let sources = &report["timings"]["calls"]["sources"];
    sources
        .as_object()
        .map(|m| m.keys().filter(|k| k.contains(repo)).cloned().collect())
        .unwrap_or_default()
}

fn busybox_record(report: &Value) -> Value {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["original"]
                .as_str()
                .unwrap_or_default()
                .contains("/busybox:")
        })
        .unwrap_or_else(|| panic!("no busybox source: {report}"))
        .clone()
}

#[test]
fn a_tag_the_builtin_dockerfile_frontend_resolved_is_not_resolved_again() {
    let _s = serial();
    let rig = rig();
    let latest = rig.digest_of("busybox", "latest");
    let dir = case(
        "# syntax=127.0.0.1:5000/verified-frontend\nFROM 127.0.0.1:5000/busybox:latest\nCOPY --from=127.0.0.1:5000/busybox:latest /bin/true /t\n",
    );
    let out = build(&rig, dir.path(), &[]);
    assert!(out.ok, "{}", out.output);
    let r = out.report();
    let rec = busybox_record(&r);
    assert_eq!(rec["decision"], "allow", "{rec}");
    assert_eq!(
        rec["original"],
        format!("docker-image://127.0.0.1:5000/busybox:latest@{latest}"),
        "{rec}"
    );
    // BuildKit resolved the tag once, for the Dockerfile frontend; the policy read only
    // the repository and the tag, which the graph names: nothing was asked about busybox.
    assert_eq!(asked_about(&r, "/busybox"), Vec::<String>::new(), "{r}");
}

#[test]
fn a_digest_the_user_wrote_beside_a_tag_is_still_checked_against_the_tag() {
    let _s = serial();
    let rig = rig();
    let latest = rig.digest_of("busybox", "latest");
    let dir = case(&format!(
        "# syntax=127.0.0.1:5000/verified-frontend\nFROM 127.0.0.1:5000/busybox:latest@{latest}\n"
    ));
    let out = build(&rig, dir.path(), &[]);
    assert!(out.ok, "{}", out.output);
    let r = out.report();
    assert_eq!(busybox_record(&r)["decision"], "allow");
    assert_eq!(
        asked_about(&r, "/busybox"),
        ["docker-image://127.0.0.1:5000/busybox:latest"],
        "the tag is asked what it names now: {r}"
    );
}

#[test]
fn tags_a_dockerfile_frontend_image_resolved_are_checked() {
    let _s = serial();
    let rig = rig();
    let dir =
        case("# syntax=127.0.0.1:5000/verified-frontend\nFROM 127.0.0.1:5000/busybox:latest\n");
    let opt = format!("dockerfile-frontend={}/dockerfile:local", rig.registry);
    let out = build(&rig, dir.path(), &["--opt", &opt]);
    assert!(out.ok, "{}", out.output);
    let r = out.report();
    assert_eq!(busybox_record(&r)["decision"], "allow");
    // That image only claims the digest it added: the tag is resolved again, once.
    let asked = asked_about(&r, "/busybox");
    assert_eq!(
        asked,
        ["docker-image://127.0.0.1:5000/busybox:latest"],
        "{r}"
    );
    assert_eq!(
        r["timings"]["calls"]["sources"][&asked[0]]["count"], 1,
        "{r}"
    );
}
