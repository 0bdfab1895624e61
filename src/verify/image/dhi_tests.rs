//! The image verifier over Docker Hardened Image chains (`verify::dhi`) as BuildKit returns
//! them: a DHI-shaped index, the SLSA referrer of the image manifest standing for the
//! attestation manifest, a simplesigning referrer of it signed with a throwaway key.

use base64::Engine;
use serde_json::{Value, json};
use sigstore_verify::crypto::KeyPair;

use super::ImageVerifier;
use crate::proto::gw;
use crate::verify::chain::{
    BUNDLE_ARTIFACT_TYPE, COSIGN_ARTIFACT_TYPE, SIMPLESIGNING_MEDIA_TYPE, add_blob,
};
use crate::verify::legacy::ANNOTATION_SIGNATURE;
use crate::verify::trust::SigstoreRoot;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const EMPTY: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const SLSA: &str = "https://slsa.dev/provenance/v1";

fn empty() -> Value {
    json!({"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2})
}

/// The parts of a DHI chain a test changes before it is assembled.
struct Shape {
    title: &'static str,
    artifact_type: &'static str,
    reference: Option<&'static str>,
    signature_format: (&'static str, &'static str),
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            title: "dhi/python",
            artifact_type: "application/vnd.in-toto+json",
            reference: Some("dhi.io/python"),
            signature_format: (COSIGN_ARTIFACT_TYPE, SIMPLESIGNING_MEDIA_TYPE),
        }
    }
}

/// A DHI chain of `shape`, its attestation signed by `key`.
fn chain(shape: Shape, key: &KeyPair) -> gw::AttestationChain {
    let mut c = gw::AttestationChain::default();
    let image_bytes = br#"{"schemaVersion":2,"layers":[]}"#.to_vec();
    let image_size = image_bytes.len();
    c.image_manifest = add_blob(&mut c, image_bytes);
    let image = json!({"mediaType": OCI_MANIFEST, "digest": c.image_manifest, "size": image_size});
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": c.image_manifest, "size": image_size,
            "platform": {"os": "linux", "architecture": "amd64"},
            "annotations": {"com.docker.dhi.build.id": "b1"}}],
        "annotations": {"org.opencontainers.image.title": shape.title}});
    c.root = add_blob(&mut c, serde_json::to_vec(&index).unwrap());
    let hex = &c.image_manifest["sha256:".len()..];
    let statement = json!({"_type": "https://in-toto.io/Statement/v1", "predicateType": SLSA,
        "subject": [{"name": "dhi/python", "digest": {"sha256": hex}}], "predicate": {}});
    let statement = serde_json::to_vec(&statement).unwrap();
    let statement_size = statement.len();
    let layer = add_blob(&mut c, statement);
    let referrer = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": shape.artifact_type, "config": empty(),
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": layer,
                    "size": statement_size, "annotations": {"in-toto.io/predicate-type": SLSA}}],
        "subject": image, "annotations": {"in-toto.io/predicate-type": SLSA}});
    let referrer = serde_json::to_vec(&referrer).unwrap();
    let referrer_size = referrer.len();
    c.attestation_manifest = add_blob(&mut c, referrer);
    let mut critical = json!({"image": {"docker-manifest-digest": c.attestation_manifest},
        "type": "cosign container image signature"});
    if let Some(r) = shape.reference {
        critical["identity"] = json!({"docker-reference": r});
    }
    let payload = serde_json::to_vec(&json!({"critical": critical, "optional": null})).unwrap();
    let signature = key.sign(&payload).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload_size = payload.len();
    let payload = add_blob(&mut c, payload);
    let (artifact, media) = shape.signature_format;
    let sig = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact,
        "config": empty(),
        "layers": [{"mediaType": media, "digest": payload, "size": payload_size,
            "annotations": {ANNOTATION_SIGNATURE: b64.encode(signature.as_bytes())}}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": c.attestation_manifest, "size": referrer_size}});
    let sig = add_blob(&mut c, serde_json::to_vec(&sig).unwrap());
    c.signature_manifests.push(sig);
    c
}

/// The embedded roots, trusting `key` for DHI signatures as a build's own root may.
fn roots_trusting(key: &KeyPair) -> Vec<SigstoreRoot> {
    let mut roots = SigstoreRoot::embedded().unwrap();
    roots[0].dhi_keys = vec![key.public_key_der().unwrap()];
    roots
}

fn verdict(chain: &gw::AttestationChain, roots: Vec<SigstoreRoot>) -> Result<Value, String> {
    let got = ImageVerifier::new(roots).check(chain).unwrap();
    assert_eq!(got.signatures.len() + got.rejected.len(), 1, "{got:?}");
    match got.signatures.first() {
        Some(s) => Ok(s.clone()),
        None => Err(got.rejected[0].clone()),
    }
}

#[test]
fn a_dhi_signed_by_the_trusted_key_is_a_hardened_image_signature_as_buildx_writes_it() {
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let sig = verdict(&chain(Shape::default(), &key), roots_trusting(&key)).unwrap();
    // policy-helpers' SignatureInfo for a key-signed, unlogged DHI signature: no signer,
    // no timestamps.
    assert_eq!(
        sig,
        json!({"kind": "docker-hardened-image", "type": "simplesigning-v1",
               "dockerReference": "dhi.io/python", "isDHI": true})
    );
    // Without a docker reference it is still a DHI's, but of no trusted kind.
    let shape = Shape {
        reference: None,
        ..Shape::default()
    };
    let sig = verdict(&chain(shape, &key), roots_trusting(&key)).unwrap();
    assert_eq!(
        sig,
        json!({"kind": "untrusted", "type": "simplesigning-v1", "isDHI": true})
    );
}

#[test]
fn only_the_dhi_key_counts() {
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let c = chain(Shape::default(), &key);
    // Docker's key (the embedded roots name none of their own) did not sign it.
    let why = verdict(&c, SigstoreRoot::embedded().unwrap()).unwrap_err();
    assert!(
        why.ends_with("does not verify: it is not signed by the Docker Hardened Images key"),
        "{why}"
    );
    let other = KeyPair::generate_ecdsa_p256().unwrap();
    let why = verdict(&c, roots_trusting(&other)).unwrap_err();
    assert!(
        why.contains("not signed by the Docker Hardened Images key"),
        "{why}"
    );
}

#[test]
fn an_index_that_is_not_dhi_shaped_is_judged_as_any_other() {
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let shape = Shape {
        title: "python",
        ..Shape::default()
    };
    // Its attestation must then be listed in the index, as BuildKit stores one.
    let err = ImageVerifier::new(roots_trusting(&key))
        .check(&chain(shape, &key))
        .unwrap_err();
    assert!(err.contains("does not list"), "{err}");
}

#[test]
fn a_referrer_that_is_not_slsa_provenance_or_a_bundle_does_not_count() {
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let shape = Shape {
        artifact_type: "application/spdx+json",
        ..Shape::default()
    };
    let why = verdict(&chain(shape, &key), roots_trusting(&key)).unwrap_err();
    assert!(
        why.contains("has artifact type \"application/spdx+json\", not a DHI attestation's"),
        "{why}"
    );
    let shape = Shape {
        signature_format: (BUNDLE_ARTIFACT_TYPE, BUNDLE_ARTIFACT_TYPE),
        ..Shape::default()
    };
    let why = verdict(&chain(shape, &key), roots_trusting(&key)).unwrap_err();
    assert!(
        why.contains("is a Sigstore bundle, but a Docker Hardened Image's signature"),
        "{why}"
    );
}

#[test]
fn a_trusted_root_names_dhi_keys_in_pem_or_fails_with_one_line() {
    let base = sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT;
    let mut root: Value = serde_json::from_str(base).unwrap();
    root["verifiedFrontendDhiKeys"] = json!([crate::verify::dhi::DOCKER_KEY_PEM]);
    let r = SigstoreRoot::from_json("root.json", &root.to_string()).unwrap();
    assert_eq!(r.dhi_keys.len(), 1);
    root["verifiedFrontendDhiKeys"] = json!(["not a key"]);
    let e = SigstoreRoot::from_json("root.json", &root.to_string()).unwrap_err();
    assert!(
        e.starts_with("root.json: verifiedFrontendDhiKeys[0]: ") && !e.contains('\n'),
        "{e}"
    );
}
