//! `sign-legacy`: what `cosign sign` (without `--new-bundle-format`) makes for an image
//! digest against the kit instance: the simplesigning payload, signed directly (ECDSA over
//! its sha256) with a Fulcio leaf's ephemeral key, logged as a Rekor v1 `hashedrekord`
//! 0.0.1 entry whose SET goes into the `dev.sigstore.cosign/bundle` annotation. Out come
//! the payload (the signature layer) and that layer's annotations.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use crate::pki;
use crate::root;
use crate::sign::{self, SignOptions, Signer};

pub const PAYLOAD_FILE: &str = "payload.json";
pub const ANNOTATIONS_FILE: &str = "annotations.json";
const PAYLOAD_TYPE: &str = "cosign container image signature";
/// Where the entry sits in the log (Rekor v1's global index).
const LOG_INDEX: u64 = sign::EARLIER_SHARDS_SIZE + 42;

pub struct LegacyOptions {
    /// `--digest` is the signed image (the attestation manifest); `out` is the directory.
    pub sign: SignOptions,
    pub docker_reference: String,
}

impl LegacyOptions {
    pub fn out_dir(&self) -> PathBuf {
        self.sign.out.clone()
    }
}

/// cosign's payload for an image, fields in the order cosign writes them; `optional` is
/// null when no `-a` annotations are given.
pub fn payload(docker_reference: &str, digest_hex: &str) -> String {
    json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": format!("sha256:{digest_hex}")},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    })
    .to_string()
}

pub fn sign_legacy(opts: &LegacyOptions) -> Result<()> {
    let layout = sign::layout(&opts.sign)?;
    let rekor_key = pki::load_key(&layout.path(root::REKOR_KEY))?;
    let now = pki::now_secs()?;
    let Signer { key, leaf_pem, .. } = sign::signing_certificate(&opts.sign, &layout, now)?;

    let payload = payload(&opts.docker_reference, &opts.sign.digest_hex);
    let signature = pki::sign_der(&key, payload.as_bytes());

    // Rekor's canonical form of a hashedrekord 0.0.1 entry: sorted keys, no whitespace.
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {
                "algorithm": "sha256",
                "value": pki::hex(pki::sha256(payload.as_bytes())),
            }},
            "signature": {
                "content": pki::b64(&signature),
                "publicKey": {"content": pki::b64(leaf_pem.as_bytes())},
            },
        },
    })
    .to_string();
    let (log_id, set) = sign::signed_entry_timestamp(&rekor_key, &body, now, LOG_INDEX)?;

    let mut annotated = signature;
    if opts.sign.tamper {
        // As for `sign`: the low bit of the last byte is inside the DER INTEGER s, so the
        // signature still parses and fails only cryptographically. The log keeps the
        // original.
        if let Some(last) = annotated.last_mut() {
            *last ^= 1;
        }
    }
    let chain = [root::FULCIO_INTERMEDIATE_CRT, root::FULCIO_ROOT_CRT]
        .iter()
        .map(|name| {
            let path = layout.path(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        })
        .collect::<Result<Vec<_>>>()?
        .concat();
    // cosign's RekorBundle: {SignedEntryTimestamp, Payload{body, integratedTime, logIndex, logID}}.
    let rekor_bundle = json!({
        "SignedEntryTimestamp": pki::b64(&set),
        "Payload": {
            "body": pki::b64(body.as_bytes()),
            "integratedTime": now,
            "logIndex": LOG_INDEX,
            "logID": pki::hex(log_id),
        },
    })
    .to_string();
    let annotations = json!({
        "dev.cosignproject.cosign/signature": pki::b64(&annotated),
        "dev.sigstore.cosign/certificate": leaf_pem,
        "dev.sigstore.cosign/chain": chain,
        "dev.sigstore.cosign/bundle": rekor_bundle,
    });
    let dir = opts.out_dir();
    sign::write_output(&dir.join(PAYLOAD_FILE), &payload)?;
    sign::write_output(
        &dir.join(ANNOTATIONS_FILE),
        &(serde_json::to_string_pretty(&annotations)? + "\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_cosigns() {
        let p: serde_json::Value = serde_json::from_str(&payload("r/app", "ab")).unwrap();
        assert_eq!(
            p["critical"]["image"]["docker-manifest-digest"],
            "sha256:ab"
        );
        assert_eq!(p["critical"]["identity"]["docker-reference"], "r/app");
        assert_eq!(p["critical"]["type"], PAYLOAD_TYPE);
        assert!(p["optional"].is_null());
    }
}
