//! `mint-dhi-key` and `sign-dhi`: what Docker does to a Docker Hardened Image's attestation,
//! with a throwaway key in place of Docker's: a cosign simplesigning payload naming the
//! attestation manifest, signed directly with the DHI key (no certificate), logged as a
//! Rekor v1 `hashedrekord` 0.0.1 entry whose verifier is that public key (unless
//! `--no-log`). Out come the payload and the signature layer's annotations, as for
//! `sign-legacy`, which `scripts/sigkit.sh`'s `attach_legacy` pushes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::json;

use crate::legacy::{ANNOTATIONS_FILE, PAYLOAD_FILE, payload};
use crate::pki;
use crate::root::{self, Layout};
use crate::sign;

pub const KEY_FILE: &str = "dhi.key.pem";
pub const PUBLIC_KEY_FILE: &str = "dhi.pub";
/// Where the entry sits in the log (Rekor v1's global index).
const LOG_INDEX: u64 = sign::EARLIER_SHARDS_SIZE + 77;

pub struct DhiOptions {
    /// The kit root whose Rekor key logs the signature.
    pub root: PathBuf,
    pub key: PathBuf,
    pub digest_hex: String,
    pub docker_reference: String,
    pub out_dir: PathBuf,
    pub log: bool,
    pub tamper: bool,
}

/// Writes DIR/dhi.key.pem (PKCS#8) and DIR/dhi.pub (SPKI PEM, the form policy-helpers
/// embeds Docker's key in).
pub fn mint_key(dir: &Path) -> Result<()> {
    let key = pki::new_key();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    pki::save_key(&dir.join(KEY_FILE), &key)?;
    sign::write_output(&dir.join(PUBLIC_KEY_FILE), &public_pem(&key)?)
}

fn public_pem(key: &p256::ecdsa::SigningKey) -> Result<String> {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow!("encoding a public key: {e}"))
}

pub fn sign_dhi(opts: &DhiOptions) -> Result<()> {
    let key = pki::load_key(&opts.key)?;
    let payload = payload(&opts.docker_reference, &opts.digest_hex);
    let signature = pki::sign_der(&key, payload.as_bytes());
    let mut annotated = signature.clone();
    if opts.tamper {
        // The low bit of the last byte is inside the DER INTEGER s: it still parses.
        if let Some(last) = annotated.last_mut() {
            *last ^= 1;
        }
    }
    let mut annotations = json!({"dev.cosignproject.cosign/signature": pki::b64(&annotated)});
    if opts.log {
        let layout = Layout::new(&opts.root);
        let rekor_key = pki::load_key(&layout.path(root::REKOR_KEY))?;
        let now = pki::now_secs()?;
        // Rekor's canonical hashedrekord 0.0.1 body; a key-signed entry's verifier is the
        // PEM public key.
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
                    "publicKey": {"content": pki::b64(public_pem(&key)?.as_bytes())},
                },
            },
        })
        .to_string();
        let (log_id, set) = sign::signed_entry_timestamp(&rekor_key, &body, now, LOG_INDEX)?;
        annotations["dev.sigstore.cosign/bundle"] = json!(
            json!({
                "SignedEntryTimestamp": pki::b64(&set),
                "Payload": {
                    "body": pki::b64(body.as_bytes()),
                    "integratedTime": now,
                    "logIndex": LOG_INDEX,
                    "logID": pki::hex(log_id),
                },
            })
            .to_string()
        );
    }
    sign::write_output(&opts.out_dir.join(PAYLOAD_FILE), &payload)?;
    sign::write_output(
        &opts.out_dir.join(ANNOTATIONS_FILE),
        &(serde_json::to_string_pretty(&annotations)? + "\n"),
    )
}
