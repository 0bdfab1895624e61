//! A signature counts only when what it signs binds it to the platform manifest being built
//! (README, "Stricter than Buildx"): end to end through BuildKit, on the kit-signed fixtures
//! of scripts/fixtures-binding.sh, whose signatures verify but whose attestation or signature
//! manifests do not bind them, under testdata/policy/signed's policy (Buildx's
//! docker_github_builder_tag).

mod common;

use common::{Mode, Outcome, Rig, rig, serial};

/// Builds `FROM signed:<tag>` under the signed policy and the rig's kit root.
fn build_on(rig: &Rig, tag: &str) -> Outcome {
    let dir = rig.signed_case(&format!(
        "# syntax=127.0.0.1:5000/verified-frontend\nFROM 127.0.0.1:5000/signed:{tag}\nLABEL checked=yes\n"
    ));
    let opts = [
        "--opt",
        "policy=policy.rego",
        "--opt",
        "trusted-root=trusted_root.json",
    ];
    rig.build(dir.path(), Mode::Syntax, &opts, None)
}

#[test]
fn images_whose_signature_binds_the_image_build() {
    let _s = serial();
    let rig = rig();
    // binding-control went through the same rewriting and re-signing as the cases below,
    // with a harmless change: what they are denied for is the binding, not the rewriting.
    for tag in ["good", "binding-control"] {
        let out = build_on(&rig, tag);
        assert!(out.ok, "{tag}:\n{}", out.output);
        let report = out.report();
        let base = report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["original"].as_str().unwrap().contains("signed:"))
            .unwrap_or_else(|| panic!("{report}"));
        assert_eq!(base["decision"], "allow", "{tag}: {base}");
    }
}

#[test]
fn a_genuine_signature_that_does_not_bind_the_image_is_not_accepted() {
    let _s = serial();
    let rig = rig();
    let media = "application/vnd.oci.image.index.v1+json";
    for (tag, why) in [
        (
            "binding-no-subject",
            "which has no subject, so nothing signed names the image manifest".to_string(),
        ),
        (
            "binding-subject-size",
            "which has subject size ".to_string(),
        ),
        (
            "binding-subject-type",
            format!("which has subject media type {media:?}, but the image index lists"),
        ),
        (
            "binding-two-layers",
            "has 2 layers, not exactly one".to_string(),
        ),
    ] {
        let out = build_on(&rig, tag);
        assert!(!out.ok, "{tag} built:\n{}", out.output);
        let line = out.error();
        assert!(
            line.contains(&format!("127.0.0.1:5000/signed:{tag}@sha256:"))
                && line.contains("is not a signed release of example/app v1")
                && line.contains("verified signatures: []"),
            "{tag}: {line}"
        );
        assert!(
            line.contains("signatures not accepted: signature sha256:") && line.contains(&why),
            "{tag}: want {why:?} in {line}"
        );
    }
}
