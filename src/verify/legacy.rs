//! Cosign's legacy image signatures ("simplesigning") attached as an OCI 1.1 referrer of the
//! attestation manifest, verified as Docker's policy-helpers does (`hashedrecordbundle.go`,
//! `verifier.go`).
//!
//! The signature manifest's first layer (`chain::SIMPLESIGNING_MEDIA_TYPE`,
//! `application/vnd.dev.cosign.simplesigning.v1+json`) is the signed payload
//! `{"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":…},
//! "type":"cosign container image signature"},"optional":…}`; its annotations carry the
//! signature over the payload, the Fulcio leaf certificate and the Rekor v1 entry with its
//! SET. From these a Sigstore v0.1 bundle is built (message signature over the payload's
//! sha256, one `hashedrekord` 0.0.1 log entry with its inclusion promise) and verified with
//! sigstore-verify like any bundle. The payload must name the attestation manifest.
//!
//! As in policy-helpers, the `dev.sigstore.cosign/chain` annotation is not used (the
//! intermediates come from the trust root only) and neither is an RFC 3161 timestamp
//! annotation: the log's SET-signed integrated time is the verified time.

use std::collections::HashMap;

use base64::Engine;
use oci_spec::image::Descriptor;
use serde_json::{Value, json};
use sigstore_types::{Bundle, DerCertificate};

use crate::proto::gw;
use crate::verify::bundle::verified_signature;
use crate::verify::chain::blob;
use crate::verify::trust::SigstoreRoot;

/// Buildx's `type` for these signatures.
pub const SIGNATURE_TYPE: &str = "simplesigning-v1";
const PAYLOAD_TYPE: &str = "cosign container image signature";
pub(super) const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
pub(super) const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
pub(super) const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";
const BUNDLE_V01: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";

/// Verifies the legacy signature whose simplesigning layer is `layer` (the one layer of a
/// signature manifest already checked to refer to the chain's attestation manifest, see
/// `verify::image`) over that attestation manifest.
///
/// The outer error is malformed chain data (the payload blob missing or not matching its
/// digest); the inner one says why the signature is not accepted, worded to follow
/// "signature <digest>".
pub fn verify(
    chain: &gw::AttestationChain,
    layer: &Descriptor,
    roots: &[SigstoreRoot],
) -> Result<Result<Value, String>, String> {
    let l = SignedLayer::read(chain, layer)?;
    Ok(check(
        l.payload,
        &l.digest,
        &l.annotations,
        &chain.attestation_manifest,
        roots,
    ))
}

/// A simplesigning layer of a signature manifest, as the chain holds it (cosign's and a
/// DHI's alike).
pub(super) struct SignedLayer<'a> {
    /// The signed payload.
    pub payload: &'a [u8],
    /// The layer's digest, which the payload was checked against.
    pub digest: String,
    /// The signature, certificate and log entry, by cosign's annotation names.
    pub annotations: HashMap<String, String>,
}

impl<'a> SignedLayer<'a> {
    /// The layer's payload from the chain (an error when it is missing or does not match
    /// the digest) with the layer's annotations.
    pub fn read(chain: &'a gw::AttestationChain, layer: &Descriptor) -> Result<Self, String> {
        let digest = layer.digest().to_string();
        // The chain's blobs are checked against their digests: the payload is what was signed.
        let payload = blob(chain, &digest)?;
        Ok(SignedLayer {
            payload,
            digest,
            annotations: layer.annotations().clone().unwrap_or_default(),
        })
    }
}

/// The payload must be a cosign image signature of the attestation manifest; then the
/// signature, certificate and log entry of the annotations must verify over the payload.
fn check(
    payload: &[u8],
    payload_digest: &str,
    annotations: &HashMap<String, String>,
    attestation_manifest: &str,
    roots: &[SigstoreRoot],
) -> Result<Value, String> {
    let reference = signed_payload(payload, attestation_manifest)?;
    let hex = sha256_hex(payload_digest)?;
    let bundle = signature(annotations)
        .and_then(|_| certificate(annotations))
        .and_then(|material| hashedrekord_bundle(hex, annotations, material))
        .map_err(|e| format!("is not a verifiable cosign signature: {e}"))?;
    let mut sig = verified_signature(&bundle, hex, roots, SIGNATURE_TYPE)
        .map_err(|e| format!("does not verify: {e}"))?;
    if let Some(reference) = reference {
        sig["dockerReference"] = json!(reference);
    }
    Ok(sig)
}

/// What a simplesigning payload must be, as policy-helpers checks it: a cosign image
/// signature of the attestation manifest. Its docker reference, when it names one.
pub(crate) fn signed_payload(
    payload: &[u8],
    attestation_manifest: &str,
) -> Result<Option<String>, String> {
    let p: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("is not a cosign image signature: its payload is not JSON: {e}"))?;
    let critical = &p["critical"];
    let signed = critical["image"]["docker-manifest-digest"]
        .as_str()
        .unwrap_or_default();
    if signed != attestation_manifest {
        return Err(format!(
            "is a cosign signature of {signed:?}, not of the attestation manifest {attestation_manifest}"
        ));
    }
    let kind = critical["type"].as_str().unwrap_or_default();
    if kind != PAYLOAD_TYPE {
        return Err(format!("has payload type {kind:?}, not {PAYLOAD_TYPE:?}"));
    }
    Ok(critical["identity"]["docker-reference"]
        .as_str()
        .filter(|r| !r.is_empty())
        .map(str::to_string))
}

pub(crate) fn sha256_hex(payload_digest: &str) -> Result<&str, String> {
    payload_digest
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("has payload digest {payload_digest}, not a sha256 one"))
}

/// The bundle's verification material for the Fulcio leaf of the annotations (the leaf
/// only: policy-helpers ignores the chain annotation too).
fn certificate(annotations: &HashMap<String, String>) -> Result<Value, String> {
    let certificate = DerCertificate::from_pem(annotation(annotations, ANNOTATION_CERTIFICATE)?)
        .map_err(|e| format!("{ANNOTATION_CERTIFICATE}: {e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(
        json!({"x509CertificateChain": {"certificates": [{"rawBytes": b64.encode(certificate.as_bytes())}]}}),
    )
}

pub(crate) fn annotation<'a>(
    annotations: &'a HashMap<String, String>,
    key: &str,
) -> Result<&'a str, String> {
    annotations
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("the layer has no {key} annotation"))
}

/// A JSON integer, or a string holding one (cosign writes numbers; policy-helpers takes
/// both).
fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

/// The signature over the payload the layer's annotations carry.
pub(crate) fn signature(annotations: &HashMap<String, String>) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(annotation(annotations, ANNOTATION_SIGNATURE)?)
        .map_err(|e| format!("{ANNOTATION_SIGNATURE} is not base64: {e}"))
}

/// The Sigstore v0.1 bundle equivalent to the layer's annotations, with `material` (the
/// certificate, or a key-signed signature's public key hint) as its verification material:
/// what policy-helpers' `hashedRecordSignedEntity` gives sigstore-go.
pub(crate) fn hashedrekord_bundle(
    payload_sha256: &str,
    annotations: &HashMap<String, String>,
    mut material: Value,
) -> Result<Bundle, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let signature = signature(annotations)?;

    // cosign's `{"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}`;
    // like policy-helpers, top-level logID/integratedTime/logIndex win when present.
    let rekor: Value = serde_json::from_str(annotation(annotations, ANNOTATION_BUNDLE)?)
        .map_err(|e| format!("{ANNOTATION_BUNDLE} is not JSON: {e}"))?;
    let field = |name: &str| {
        Some(&rekor[name])
            .filter(|v| !v.is_null())
            .unwrap_or(&rekor["Payload"][name])
    };
    let set = rekor["SignedEntryTimestamp"]
        .as_str()
        .and_then(|s| b64.decode(s).ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{ANNOTATION_BUNDLE} has no base64 SignedEntryTimestamp"))?;
    let body = rekor["Payload"]["body"]
        .as_str()
        .and_then(|s| b64.decode(s).ok())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| format!("{ANNOTATION_BUNDLE} has no base64 Payload.body"))?;
    let log_id = field("logID")
        .as_str()
        .and_then(|s| hex::decode(s).ok())
        .filter(|id| id.len() == 32)
        .ok_or_else(|| format!("{ANNOTATION_BUNDLE} has no hex logID"))?;
    let integrated_time = int(field("integratedTime"))
        .filter(|t| *t > 0)
        .ok_or_else(|| format!("{ANNOTATION_BUNDLE} has no integratedTime"))?;
    let log_index = int(field("logIndex"))
        .filter(|i| *i >= 0)
        .ok_or_else(|| format!("{ANNOTATION_BUNDLE} has no logIndex"))?;
    let digest = hex::decode(payload_sha256).map_err(|e| format!("payload digest: {e}"))?;

    material["tlogEntries"] = json!([{
                "logIndex": log_index.to_string(),
                "logId": {"keyId": b64.encode(&log_id)},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": integrated_time.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": b64.encode(&set)},
                "canonicalizedBody": b64.encode(&body),
    }]);
    let bundle = json!({
        "mediaType": BUNDLE_V01,
        "verificationMaterial": material,
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64.encode(&digest)},
            "signature": b64.encode(&signature),
        },
    });
    serde_json::from_value(bundle).map_err(|e| format!("not a Sigstore bundle: {e}"))
}
