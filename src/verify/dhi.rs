//! Docker Hardened Images (DHI), as Docker signs them and moby/policy-helpers verifies
//! them: an image index titled `dhi/…` whose every manifest carries a DHI build id; its SLSA
//! provenance an OCI 1.1 referrer of the image manifest (not an attestation manifest in the
//! index); that referrer signed with cosign's simplesigning payload by Docker's DHI key
//! directly (no certificate), with or without a Rekor v1 entry. BuildKit's attestation
//! chain carries such a chain as any other (policy-helpers' `ResolveSignatureChain`
//! follows the referrer), so the frontend sees the referrer as the attestation manifest.
//!
//! Buildx's signature object for it is policy-helpers' `SignatureInfo` for a key-signed
//! DHI: `{kind, type: simplesigning-v1, timestamps (the log's, if logged), dockerReference,
//! isDHI: true}` and no signer; its kind is `docker-hardened-image` when the payload names
//! a docker reference, `untrusted` otherwise.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde_json::{Map, Value, json};
use sigstore_types::{DerPublicKey, Sha256Hash, SignatureBytes};
use sigstore_verify::crypto::VerificationKey;

use crate::proto::gw;
use crate::verify::chain::SLSA_PREDICATE_TYPES;
use crate::verify::legacy::{self, ANNOTATION_BUNDLE, SIGNATURE_TYPE};
use crate::verify::trust::SigstoreRoot;

/// Docker's public key for DHI signatures (moby/policy-helpers `roots/dhi/dhi.pub`).
pub const DOCKER_KEY_PEM: &str = include_str!("dhi.pub");
/// Signatures by the DHI key count from this time on (policy-helpers' `dhiEpoch`,
/// 2025-04-02): a log time before it is refused.
pub const KEY_EPOCH: i64 = 1_743_595_200;
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
pub const BUILD_ID_ANNOTATION: &str = "com.docker.dhi.build.id";
pub const TITLE_PREFIX: &str = "dhi/";
/// The artifact type of a DHI's attestation referrers.
pub const IN_TOTO_ARTIFACT_TYPE: &str = "application/vnd.in-toto+json";
const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";
pub const KIND: &str = "docker-hardened-image";

/// Whether the index is a DHI's, by policy-helpers' rule (`isDHIIndex`).
pub fn is_dhi_index(index: &ImageIndex) -> bool {
    let build_id = |d: &Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(BUILD_ID_ANNOTATION))
            .is_some_and(|id| !id.is_empty())
    };
    index.manifests().iter().all(build_id)
        && index
            .annotations()
            .as_ref()
            .and_then(|a| a.get(TITLE_ANNOTATION))
            .is_some_and(|t| t.starts_with(TITLE_PREFIX))
}

/// Why the chain's attestation manifest is not a DHI's SLSA referrer: BuildKit picked it
/// from the registry's referrers list by artifact type and predicate type annotation, and
/// the manifest itself (content-addressed, unlike that list) must say the same.
pub fn not_a_provenance_referrer(m: &ImageManifest) -> Option<String> {
    let artifact = m
        .artifact_type()
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    if artifact != IN_TOTO_ARTIFACT_TYPE {
        return Some(format!(
            "has artifact type {artifact:?}, not a DHI attestation's {IN_TOTO_ARTIFACT_TYPE:?}"
        ));
    }
    let predicate = m
        .annotations()
        .as_ref()
        .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
        .map_or("", String::as_str);
    if !SLSA_PREDICATE_TYPES.contains(&predicate) {
        return Some(format!(
            "is annotated with predicate type {predicate:?}, not SLSA provenance"
        ));
    }
    None
}

/// The keys DHI signatures are checked against: the ones the build's own trusted root
/// names, else Docker's.
fn keys(roots: &[SigstoreRoot]) -> Result<Vec<DerPublicKey>, String> {
    let named: Vec<DerPublicKey> = roots.iter().flat_map(|r| r.dhi_keys.clone()).collect();
    if !named.is_empty() {
        return Ok(named);
    }
    DerPublicKey::from_pem(DOCKER_KEY_PEM)
        .map(|k| vec![k])
        .map_err(|e| format!("the embedded DHI key: {e}"))
}

/// Verifies the simplesigning signature whose layer is `layer` (of a signature manifest
/// already checked to refer to the chain's attestation manifest) as a DHI signature.
///
/// The outer error is malformed chain data (the payload blob missing or not matching its
/// digest); the inner one says why the signature is not accepted, worded to follow
/// "signature <digest>".
pub fn verify(
    chain: &gw::AttestationChain,
    layer: &Descriptor,
    roots: &[SigstoreRoot],
) -> Result<Result<Value, String>, String> {
    let l = legacy::SignedLayer::read(chain, layer)?;
    let keys = keys(roots)?;
    Ok(check(
        l.payload,
        &l.digest,
        &l.annotations,
        &chain.attestation_manifest,
        roots,
        &keys,
    ))
}

fn check(
    payload: &[u8],
    payload_digest: &str,
    annotations: &HashMap<String, String>,
    attestation_manifest: &str,
    roots: &[SigstoreRoot],
    keys: &[DerPublicKey],
) -> Result<Value, String> {
    let reference = legacy::signed_payload(payload, attestation_manifest)?;
    let signature = SignatureBytes::new(
        legacy::signature(annotations)
            .map_err(|e| format!("is not a verifiable DHI signature: {e}"))?,
    );
    let key = keys
        .iter()
        .find(|k| {
            VerificationKey::from_spki(k).is_ok_and(|v| v.verify(payload, &signature).is_ok())
        })
        .ok_or("does not verify: it is not signed by the Docker Hardened Images key")?;
    // As policy-helpers: a logged signature must have its log entry verify (and the log's
    // time falls within the key's validity); one without proves no time.
    let timestamps = if annotations.contains_key(ANNOTATION_BUNDLE) {
        vec![logged(payload_digest, annotations, roots, key)?]
    } else {
        vec![]
    };
    Ok(signature_object(reference, timestamps))
}

/// The Rekor entry of the annotations, verified under the first root whose log signed it:
/// the timestamp it proves, with the log's URL.
fn logged(
    payload_digest: &str,
    annotations: &HashMap<String, String>,
    roots: &[SigstoreRoot],
    key: &DerPublicKey,
) -> Result<Value, String> {
    let hex = legacy::sha256_hex(payload_digest)?;
    let bundle = legacy::hashedrekord_bundle(hex, annotations, json!({"publicKey": {"hint": ""}}))
        .map_err(|e| format!("is not a verifiable DHI signature: {e}"))?;
    let digest = Sha256Hash::from_hex(hex).map_err(|e| format!("{payload_digest}: {e}"))?;
    let mut why = Vec::new();
    for root in roots {
        match root.verify_with_key(&bundle, digest, key) {
            Ok(r) => {
                let Some(time) = r.integrated_time() else {
                    why.push(format!("{}: the log entry proves no time", root.name));
                    continue;
                };
                if time.as_second() < KEY_EPOCH {
                    return Err(format!(
                        "was logged at {time}, before the DHI key is valid (2025-04-02)"
                    ));
                }
                let uri = bundle
                    .verification_material
                    .tlog_entries
                    .first()
                    .map_or("", |e| root.tlog_url(&e.log_id.key_id.to_base64()));
                return Ok(json!({"type": "Tlog", "uri": uri, "timestamp": time.to_string()}));
            }
            Err(e) => why.push(format!("{}: {e}", root.name)),
        }
    }
    Err(format!("does not verify: {}", why.join("; ")))
}

/// Buildx's `AttestationSignature` of a verified DHI signature, fields as it writes them
/// (empty ones left out).
fn signature_object(reference: Option<String>, timestamps: Vec<Value>) -> Value {
    let mut sig = Map::new();
    let kind = if reference.is_some() {
        KIND
    } else {
        "untrusted"
    };
    sig.insert("kind".into(), json!(kind));
    sig.insert("type".into(), json!(SIGNATURE_TYPE));
    if !timestamps.is_empty() {
        sig.insert("timestamps".into(), Value::Array(timestamps));
    }
    if let Some(r) = reference {
        sig.insert("dockerReference".into(), json!(r));
    }
    sig.insert("isDHI".into(), json!(true));
    Value::Object(sig)
}
