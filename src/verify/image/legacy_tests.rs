//! The image verifier over cosign's legacy signatures (`verify::legacy`): kit-signed
//! simplesigning referrers of testdata/signed-chain, whole and tampered, checked from the
//! chain as a build checks them.

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ImageVerifier;
use crate::proto::gw;
use crate::verify::chain::{COSIGN_ARTIFACT_TYPE, SIMPLESIGNING_MEDIA_TYPE, add_blob};
use crate::verify::legacy::{ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_SIGNATURE};
use crate::verify::trust::SigstoreRoot;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// testdata/signed-chain's image and attestation manifest, signed the legacy way with
/// `payload` and layer `annotations` (testdata/signed-chain-legacy, made with
/// `sigkit sign-legacy`), in a referrer shaped as `manifest` then says.
fn chain_with(
    payload: Vec<u8>,
    annotations: Value,
    manifest: impl FnOnce(&mut Value),
) -> gw::AttestationChain {
    let mut chain = gw::AttestationChain::default();
    chain.root = add_blob(&mut chain, read("signed-chain/index.json"));
    chain.attestation_manifest = add_blob(&mut chain, read("signed-chain/attestation.json"));
    add_blob(&mut chain, read("signed-chain/provenance.json"));
    chain.image_manifest = String::from_utf8(read("signed-chain/image-digest"))
        .unwrap()
        .trim()
        .to_string();
    let size = payload.len();
    let layer = add_blob(&mut chain, payload);
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": COSIGN_ARTIFACT_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [{"mediaType": SIMPLESIGNING_MEDIA_TYPE, "digest": layer, "size": size,
                    "annotations": annotations}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": chain.attestation_manifest, "size": 686}
    });
    manifest(&mut m);
    let sig = add_blob(&mut chain, serde_json::to_vec(&m).unwrap());
    chain.signature_manifests.push(sig);
    chain
}

fn vector(prefix: &str) -> (Vec<u8>, Value) {
    (
        read(&format!("signed-chain-legacy/{prefix}payload.json")),
        serde_json::from_slice(&read(&format!(
            "signed-chain-legacy/{prefix}annotations.json"
        )))
        .unwrap(),
    )
}

fn kit_roots() -> Vec<SigstoreRoot> {
    let text = String::from_utf8(read("signed-chain-legacy/trusted_root.json")).unwrap();
    vec![SigstoreRoot::from_json("kit", &text).unwrap()]
}

/// The one signature's verdict: verified object, or the reason it was not accepted.
fn verdict(chain: &gw::AttestationChain) -> Result<Value, String> {
    let got = ImageVerifier::new(kit_roots()).check(chain).unwrap();
    assert_eq!(got.signatures.len() + got.rejected.len(), 1, "{got:?}");
    match got.signatures.first() {
        Some(s) => Ok(s.clone()),
        None => Err(got.rejected[0].clone()),
    }
}

fn rejected(payload: Vec<u8>, annotations: Value) -> String {
    verdict(&chain_with(payload, annotations, |_| {})).unwrap_err()
}

#[test]
fn a_kit_signed_legacy_signature_yields_the_signers_claims() {
    let (payload, annotations) = vector("");
    let chain = chain_with(payload, annotations, |_| {});
    let sig = verdict(&chain).unwrap();
    assert_eq!(sig["type"], "simplesigning-v1");
    // Signed by the builder's identity, but Docker's rules keep docker-github-builder
    // for v0.3 bundles.
    assert_eq!(sig["kind"], "self-signed");
    assert_eq!(sig["dockerReference"], "registry.example/app");
    let s = &sig["signer"];
    assert_eq!(s["sourceRepositoryURI"], "https://github.com/example/app");
    assert_eq!(s["sourceRepositoryRef"], "refs/tags/v1");
    assert_eq!(s["issuer"], "https://token.actions.githubusercontent.com");
    assert_eq!(
        s["certificateIssuer"],
        "CN=sigstore-intermediate,O=sigstore.dev"
    );
    assert_eq!(
        s["subjectAlternativeName"],
        "https://github.com/docker/github-builder/.github/workflows/build.yml@refs/tags/v1"
    );
    // The log's SET-signed integrated time is the one verified time.
    let ts = sig["timestamps"].as_array().unwrap();
    assert_eq!(ts.len(), 1, "{ts:?}");
    assert_eq!(ts[0]["type"], "Tlog");
    assert_eq!(ts[0]["uri"], "https://rekor.sigkit.test");

    // A referrer without artifactType whose config says it (policy-helpers reads both).
    let (payload, annotations) = vector("");
    let chain = chain_with(payload, annotations, |m| {
        m.as_object_mut().unwrap().remove("artifactType");
        m["config"]["mediaType"] = json!(COSIGN_ARTIFACT_TYPE);
    });
    assert_eq!(verdict(&chain).unwrap()["type"], "simplesigning-v1");

    // The embedded roots do not know the kit's CA or log.
    let got = ImageVerifier::new(SigstoreRoot::embedded().unwrap())
        .check(&chain)
        .unwrap();
    assert!(got.signatures.is_empty());
    assert!(
        got.rejected[0].contains("does not verify") && got.rejected[0].contains("public-good:"),
        "{:?}",
        got.rejected
    );
}

#[test]
fn a_genuine_signature_of_another_digest_is_not_accepted() {
    let (payload, annotations) = vector("other-digest-");
    let why = rejected(payload, annotations);
    assert!(
        why.contains("is a cosign signature of \"sha256:2287")
            && why.contains("not of the attestation manifest sha256:d49d"),
        "{why}"
    );
}

#[test]
fn the_payload_must_be_a_cosign_image_signature_and_what_was_signed() {
    let (payload, annotations) = vector("");
    let mut p: Value = serde_json::from_slice(&payload).unwrap();
    p["critical"]["type"] = json!("atomic container signature");
    let why = rejected(serde_json::to_vec(&p).unwrap(), annotations.clone());
    assert!(
        why.contains("has payload type \"atomic container signature\""),
        "{why}"
    );

    // Same claims, other bytes: the signature and the log entry are over the original.
    let mut p: Value = serde_json::from_slice(&payload).unwrap();
    p["optional"] = json!({"note": "added later"});
    let why = rejected(serde_json::to_vec(&p).unwrap(), annotations.clone());
    assert!(why.contains("does not verify"), "{why}");

    let why = rejected(b"not json".to_vec(), annotations);
    assert!(why.contains("payload is not JSON"), "{why}");
}

#[test]
fn a_tampered_signature_or_a_borrowed_certificate_does_not_verify() {
    let (payload, mut annotations) = vector("");
    let sig = annotations[ANNOTATION_SIGNATURE]
        .as_str()
        .unwrap()
        .to_string();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64.decode(&sig).unwrap();
    *raw.last_mut().unwrap() ^= 1;
    annotations[ANNOTATION_SIGNATURE] = json!(b64.encode(&raw));
    let why = rejected(payload.clone(), annotations);
    assert!(why.contains("does not verify"), "{why}");

    // The other vector's certificate (same CA) or log entry, with this signature.
    let (_, good) = vector("");
    let (_, other) = vector("other-digest-");
    for key in [ANNOTATION_CERTIFICATE, ANNOTATION_BUNDLE] {
        let mut a = good.clone();
        a[key] = other[key].clone();
        let why = rejected(payload.clone(), a);
        assert!(why.contains("does not verify"), "{key}: {why}");
    }
}

#[test]
fn missing_or_garbage_annotations_are_rejected_with_the_reason() {
    let (payload, good) = vector("");
    for key in [
        ANNOTATION_SIGNATURE,
        ANNOTATION_CERTIFICATE,
        ANNOTATION_BUNDLE,
    ] {
        let mut a = good.clone();
        a.as_object_mut().unwrap().remove(key);
        let why = rejected(payload.clone(), a);
        assert!(
            why.contains("is not a verifiable cosign signature")
                && why.contains(&format!("has no {key} annotation")),
            "{key}: {why}"
        );
    }
    let why = rejected(payload.clone(), Value::Null);
    assert!(why.contains("has no"), "{why}");

    let set = || {
        let b: Value = serde_json::from_str(good[ANNOTATION_BUNDLE].as_str().unwrap()).unwrap();
        b
    };
    let mut no_log_id = set();
    no_log_id["Payload"]["logID"] = json!("not hex");
    let mut no_time = set();
    no_time["Payload"]
        .as_object_mut()
        .unwrap()
        .remove("integratedTime");
    let mut moved_time = set();
    moved_time["Payload"]["integratedTime"] =
        json!(moved_time["Payload"]["integratedTime"].as_i64().unwrap() - 1);
    for (value, want) in [
        (json!("garbage"), "is not JSON"),
        (json!("{}"), "no base64 SignedEntryTimestamp"),
        (json!("[1, 2]"), "no base64 SignedEntryTimestamp"),
        (json!(no_log_id.to_string()), "no hex logID"),
        (json!(no_time.to_string()), "no integratedTime"),
        // The SET covers the integrated time.
        (json!(moved_time.to_string()), "does not verify"),
        // OCI annotations are strings: a referrer with another value is no manifest.
        (json!(42), "is not an OCI image manifest"),
    ] {
        let mut a = good.clone();
        a[ANNOTATION_BUNDLE] = value.clone();
        let why = rejected(payload.clone(), a);
        assert!(why.contains(want), "{value}: want {want:?} in {why}");
    }
    for (key, value, want) in [
        (ANNOTATION_SIGNATURE, "%%%", "is not base64"),
        (
            ANNOTATION_CERTIFICATE,
            "not a PEM",
            "dev.sigstore.cosign/certificate:",
        ),
        (
            ANNOTATION_CERTIFICATE,
            "-----BEGIN CERTIFICATE-----\nYWJjZA==\n-----END CERTIFICATE-----\n",
            "does not verify",
        ),
    ] {
        let mut a = good.clone();
        a[key] = json!(value);
        let why = rejected(payload.clone(), a);
        assert!(why.contains(want), "{key}={value}: want {want:?} in {why}");
    }
}

#[test]
fn a_legacy_referrer_must_hold_its_payload_as_its_one_layer() {
    let (payload, annotations) = vector("");
    let chain = chain_with(payload.clone(), annotations.clone(), |m| {
        m["layers"][0]["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v0.3+json");
    });
    let why = verdict(&chain).unwrap_err();
    assert!(
        why.contains("neither a Sigstore bundle nor a cosign signature"),
        "{why}"
    );
    // The genuine payload, followed by a layer nobody signed.
    let chain = chain_with(payload, annotations, |m| {
        let extra = json!({"mediaType": SIMPLESIGNING_MEDIA_TYPE,
                           "digest": m["config"]["digest"], "size": 2});
        m["layers"].as_array_mut().unwrap().push(extra);
    });
    let why = verdict(&chain).unwrap_err();
    assert!(why.contains("has 2 layers, not exactly one"), "{why}");
}

#[test]
fn a_legacy_referrer_that_does_not_hold_together_is_an_error() {
    let (payload, annotations) = vector("");
    let mut chain = chain_with(payload.clone(), annotations.clone(), |_| {});
    let layer = format!("sha256:{}", hex::encode(Sha256::digest(&payload)));
    chain.blobs.remove(&layer);
    let err = ImageVerifier::new(kit_roots()).check(&chain).unwrap_err();
    assert!(err.contains("lacks blob"), "{err}");

    let mut chain = chain_with(payload.clone(), annotations, |_| {});
    chain.blobs.get_mut(&layer).unwrap().data.push(b' ');
    let err = ImageVerifier::new(kit_roots()).check(&chain).unwrap_err();
    assert!(err.contains("hashes to"), "{err}");
}

#[test]
fn no_shape_of_annotations_panics() {
    let (payload, good) = vector("");
    let shapes = [
        json!(null),
        json!(1),
        json!(""),
        json!([]),
        json!({}),
        json!("{\"SignedEntryTimestamp\": 1, \"Payload\": []}"),
        json!(
            "{\"SignedEntryTimestamp\": \"AA==\", \"Payload\": {\"body\": \"AA==\", \"logID\": \"00\", \"integratedTime\": \"x\", \"logIndex\": -1}}"
        ),
    ];
    for key in [
        ANNOTATION_SIGNATURE,
        ANNOTATION_CERTIFICATE,
        ANNOTATION_BUNDLE,
    ] {
        for shape in &shapes {
            let mut a = good.clone();
            a[key] = shape.clone();
            assert!(rejected(payload.clone(), a).starts_with("signature sha256:"));
        }
    }
    for shape in &shapes {
        let p = serde_json::to_vec(&json!({"critical": shape})).unwrap();
        assert!(rejected(p, good.clone()).contains("not of the attestation manifest"));
    }
}
