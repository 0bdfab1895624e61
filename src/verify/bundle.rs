//! Sigstore bundle verification with sigstore-verify, offline against trusted roots
//! (`verify::trust`): image and download signatures described as Buildx's
//! `AttestationSignature`, the signer by `verify::signer`. The `verify-bundle` subcommand's
//! driver (sigstore-conformance protocol) is the binary's `cli::bundle`.

use serde_json::{Value, json};
use sigstore_types::{Bundle, Sha256Hash, SignatureContent};
use sigstore_verify::VerificationResult;

use crate::verify::chain::SLSA_PREFIX;
use crate::verify::signer;
use crate::verify::trust::SigstoreRoot;

/// Verifies a bundle over an artifact digest against the first root it verifies under (any
/// signer: who signed is for the policy to judge). The error names each root's reason.
fn verify_under<'r>(
    bundle: &Bundle,
    digest: Sha256Hash,
    roots: &'r [SigstoreRoot],
) -> Result<(VerificationResult, &'r SigstoreRoot), String> {
    let mut why = Vec::new();
    for root in roots {
        let verified = root.verify(bundle, digest).and_then(|r| {
            // As Docker's verifier: at least one observer timestamp (log or TSA), so the
            // certificate's short validity is checked against a time someone vouched for.
            if r.verified_timestamps().is_empty() {
                Err("no verified timestamp".to_string())
            } else {
                Ok(r)
            }
        });
        match verified {
            Ok(r) => return Ok((r, root)),
            Err(e) => why.push(format!("{}: {e}", root.name)),
        }
    }
    Err(why.join("; "))
}

/// Verifies a bundle over an artifact digest (any signer: who signed is for the policy to
/// judge) and describes it as Buildx's `AttestationSignature`: `{kind, type, timestamps,
/// signer{certificateIssuer, subjectAlternativeName, issuer, buildSignerURI, …}}`. The bundle
/// must carry SLSA provenance about the artifact (`artifact_attestation`).
pub fn attestation_signature(
    bundle_json: &[u8],
    artifact_sha256: &str,
    roots: &[SigstoreRoot],
) -> Result<Value, String> {
    signature(bundle_json, artifact_sha256, roots, true)
}

/// As `attestation_signature`, for any in-toto statement when `want_slsa` is false (an
/// image's attestation manifest is signed with cosign's `sign/v1` statement).
pub fn signature(
    bundle_json: &[u8],
    artifact_sha256: &str,
    roots: &[SigstoreRoot],
    want_slsa: bool,
) -> Result<Value, String> {
    let bundle: Bundle =
        serde_json::from_slice(bundle_json).map_err(|e| format!("not a Sigstore bundle: {e}"))?;
    let media = bundle.media_type().as_str();
    let sig_type = if media.contains("v0.3") || media.ends_with("version=0.3") {
        "bundle-v0.3"
    } else {
        media
    };
    let sig = verified_signature(&bundle, artifact_sha256, roots, sig_type)?;
    let payload = match &bundle.content {
        SignatureContent::DsseEnvelope(e) => {
            serde_json::from_slice::<Value>(e.payload.as_bytes()).ok()
        }
        _ => None,
    }
    .ok_or("the bundle holds no in-toto statement")?;
    let predicate = payload["predicateType"].as_str().unwrap_or_default();
    if want_slsa && !predicate.starts_with(SLSA_PREFIX) {
        return Err(format!(
            "the bundle's statement is {predicate:?}, not SLSA provenance"
        ));
    }
    Ok(sig)
}

/// Verifies a parsed bundle over an artifact digest against the roots (any signer: who
/// signed is for the policy to judge) and describes it as Buildx's `AttestationSignature`:
/// `{kind, type, timestamps, signer{certificateIssuer, subjectAlternativeName, issuer,
/// buildSignerURI, …}}`, `type` being `sig_type` (`bundle-v0.3`, or `simplesigning-v1` for
/// a bundle built from cosign's legacy signature, see `verify::legacy`).
pub fn verified_signature(
    bundle: &Bundle,
    artifact_sha256: &str,
    roots: &[SigstoreRoot],
    sig_type: &str,
) -> Result<Value, String> {
    let digest =
        Sha256Hash::from_hex(artifact_sha256).map_err(|e| format!("{artifact_sha256}: {e}"))?;
    let (result, root) = verify_under(bundle, digest, roots)?;
    let signer = signer::claims(&result, bundle)?;
    let timestamps = timestamps(bundle, &result, root);
    let kind = signer::kind(&signer, !timestamps.is_empty(), sig_type);
    Ok(json!({"kind": kind, "type": sig_type, "timestamps": timestamps, "signer": signer}))
}

/// The verified times only, each with the service that vouched for it: the log's
/// integrated time is a transparency-log timestamp, the others come from timestamp
/// authorities.
fn timestamps(bundle: &Bundle, result: &VerificationResult, root: &SigstoreRoot) -> Vec<Value> {
    let material = &bundle.verification_material;
    let log_uri = material
        .tlog_entries
        .first()
        .map_or("", |e| root.tlog_url(&e.log_id.key_id.to_base64()));
    // sigstore-verify lists the TSA times (all of the bundle's, each verified) before the
    // log's integrated times; times alone cannot tell them apart (they may be equal).
    let tsa_count = material
        .timestamp_verification_data
        .rfc3161_timestamps
        .len();
    result
        .verified_timestamps()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (kind, uri) = if i < tsa_count {
                ("TimestampAuthority", root.tsa_uri())
            } else {
                ("Tlog", log_uri)
            };
            json!({"type": kind, "uri": uri, "timestamp": t.to_string()})
        })
        .collect()
}

#[cfg(test)]
mod attestation_tests {
    use super::*;
    use crate::verify::signer::{GITHUB_OIDC, SIGSTORE_INTERMEDIATE};
    use std::path::Path;

    fn binfmt_bundle() -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "testdata/vectors/buildx-rego-examples/binfmt_linux-amd64.provenance.sigstore.json",
        ))
        .unwrap()
    }

    const BINFMT: &str = "2bb181d540633bca67a3a8c852df3e99981fec346e07f827d3caf4bd203c2a5e";

    /// The real docker/github-builder bundle: its claims are those of the certificate
    /// (research notes, sigstore.md), and it is the github builder's kind of signature.
    #[test]
    fn real_github_builder_bundle_yields_its_claims() {
        let sig =
            attestation_signature(&binfmt_bundle(), BINFMT, &SigstoreRoot::embedded().unwrap())
                .unwrap();
        assert_eq!(sig["kind"], "docker-github-builder");
        assert_eq!(sig["type"], "bundle-v0.3");
        let s = &sig["signer"];
        assert_eq!(s["certificateIssuer"], SIGSTORE_INTERMEDIATE);
        assert_eq!(
            s["subjectAlternativeName"],
            "https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1"
        );
        assert_eq!(s["issuer"], GITHUB_OIDC);
        assert_eq!(
            s["buildSignerURI"],
            "https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1"
        );
        assert_eq!(
            s["buildSignerDigest"],
            "c767551a26459c30e1f683df73a12fdb918f7068"
        );
        assert_eq!(s["runnerEnvironment"], "github-hosted");
        assert_eq!(
            s["sourceRepositoryURI"],
            "https://github.com/tonistiigi/binfmt"
        );
        assert_eq!(
            s["sourceRepositoryDigest"],
            "3a63696139848ce36a0032a3352bbcac81627472"
        );
        assert_eq!(s["sourceRepositoryRef"], "refs/heads/master");
        assert_eq!(s["sourceRepositoryIdentifier"], "243668393");
        assert_eq!(
            s["sourceRepositoryOwnerURI"],
            "https://github.com/tonistiigi"
        );
        assert_eq!(s["buildTrigger"], "workflow_dispatch");
        assert_eq!(s["sourceRepositoryVisibilityAtSigning"], "public");
        let ts = sig["timestamps"].as_array().unwrap();
        assert!(
            ts.iter()
                .any(|t| t["type"] == "Tlog" && t["uri"] == "https://rekor.sigstore.dev"),
            "{ts:?}"
        );
        assert!(
            ts.iter()
                .all(|t| t["timestamp"].as_str().unwrap().starts_with("2026-02-19T")),
            "{ts:?}"
        );
    }

    #[test]
    fn another_artifact_or_a_tampered_bundle_does_not_verify() {
        let root = SigstoreRoot::embedded().unwrap();
        assert!(attestation_signature(&binfmt_bundle(), &"0".repeat(64), &root).is_err());
        let mut tampered: serde_json::Value = serde_json::from_slice(&binfmt_bundle()).unwrap();
        let sig = tampered["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap()
            .to_string();
        // change the first base64 character of the signature
        let first = if sig.starts_with('A') { 'B' } else { 'A' };
        let flipped = format!("{first}{}", &sig[first.len_utf8()..]);
        tampered["dsseEnvelope"]["signatures"][0]["sig"] = serde_json::json!(flipped);
        let bytes = serde_json::to_vec(&tampered).unwrap();
        assert!(attestation_signature(&bytes, BINFMT, &root).is_err());
        assert!(
            attestation_signature(b"{", BINFMT, &root)
                .unwrap_err()
                .contains("not a Sigstore bundle")
        );
    }
}
