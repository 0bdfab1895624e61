//! Sigstore trusted roots: the embedded public-good and GitHub roots or a build's own, each
//! with the checks a bundle signed under it must pass and the service URIs its timestamps
//! are reported with.

use std::collections::BTreeMap;
use std::path::Path;

use sigstore_trust_root::{SigstoreInstance, TrustedRoot};
use sigstore_types::{Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{
    PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult, Verifier,
};

/// The field of a build's own trusted root naming the keys Docker Hardened Image
/// signatures are checked against instead of Docker's (PEM public keys): how the test rig
/// signs DHI-shaped images with a throwaway key. A root that replaces Sigstore's trust
/// anchors may replace Docker's too; the attestations record the root by sha256.
pub const DHI_KEYS_FIELD: &str = "verifiedFrontendDhiKeys";

/// The trusted root: the given file, or the embedded public-good (or staging) root.
pub fn trusted_root(file: Option<&Path>, staging: bool) -> Result<TrustedRoot, String> {
    match file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            TrustedRoot::from_json(&text).map_err(|e| format!("{}: {e}", f.display()))
        }
        None => {
            let instance = if staging {
                SigstoreInstance::Staging
            } else {
                SigstoreInstance::PublicGood
            };
            TrustedRoot::from_embedded(instance).map_err(|e| format!("embedded trusted root: {e}"))
        }
    }
}

/// A Sigstore trusted root signatures are verified under, named for the reasons given when
/// a bundle does not verify.
#[derive(Debug)]
pub struct SigstoreRoot {
    pub name: String,
    root: TrustedRoot,
    /// Log key id (base64) -> log base URL, for the `uri` of transparency-log timestamps.
    tlog_urls: BTreeMap<String, String>,
    tsa_uri: String,
    /// GitHub's instance has no public log and no CT log: its bundles prove their time
    /// with TSA timestamps only.
    timestamps_only: bool,
    /// DHI keys the root names (`DHI_KEYS_FIELD`); none: Docker's (`verify::dhi`).
    pub dhi_keys: Vec<DerPublicKey>,
}

impl SigstoreRoot {
    pub fn from_json(name: &str, text: &str) -> Result<Self, String> {
        let root = TrustedRoot::from_json(text).map_err(|e| format!("{name}: {e}"))?;
        let raw: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        let tlog_urls = raw["tlogs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some((
                    t["logId"]["keyId"].as_str()?.to_string(),
                    t["baseUrl"].as_str()?.to_string(),
                ))
            })
            .collect();
        let tsa_uri = raw["timestampAuthorities"][0]["uri"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok(SigstoreRoot {
            name: name.to_string(),
            root,
            tlog_urls,
            tsa_uri,
            timestamps_only: false,
            dhi_keys: dhi_keys(name, &raw[DHI_KEYS_FIELD])?,
        })
    }

    /// The roots signatures are checked against unless the build names its own: Sigstore's
    /// public-good instance and GitHub's (private repositories' attestations).
    pub fn embedded() -> Result<Vec<SigstoreRoot>, String> {
        use sigstore_trust_root::{SIGSTORE_GITHUB_TRUSTED_ROOT, SIGSTORE_PRODUCTION_TRUSTED_ROOT};
        let public = SigstoreRoot::from_json("public-good", SIGSTORE_PRODUCTION_TRUSTED_ROOT)?;
        let mut github = SigstoreRoot::from_json("github", SIGSTORE_GITHUB_TRUSTED_ROOT)?;
        github.timestamps_only = true;
        Ok(vec![public, github])
    }

    fn policy(&self) -> VerificationPolicy {
        let p = VerificationPolicy::any_identity();
        if self.timestamps_only {
            p.skip_sct().skip_tlog_unsafe()
        } else {
            p
        }
    }

    /// Verifies a bundle over an artifact digest under this root (any signer: who signed is
    /// for the policy to judge).
    pub fn verify(
        &self,
        bundle: &Bundle,
        digest: Sha256Hash,
    ) -> Result<VerificationResult, String> {
        let verifier =
            Verifier::new(&self.root).map_err(|e| format!("trusted root {}: {e}", self.name))?;
        verifier
            .verify(digest, bundle, &self.policy())
            .map_err(|e| e.to_string())
    }

    /// Verifies a key-signed bundle (no certificate) over an artifact digest with `key`,
    /// its transparency-log entries against this root's logs.
    pub fn verify_with_key(
        &self,
        bundle: &Bundle,
        digest: Sha256Hash,
        key: &DerPublicKey,
    ) -> Result<VerificationResult, String> {
        let verifier =
            Verifier::new(&self.root).map_err(|e| format!("trusted root {}: {e}", self.name))?;
        verifier
            .verify(
                digest,
                bundle,
                &PublicKeyVerificationPolicy::new(key.clone()),
            )
            .map_err(|e| e.to_string())
    }

    /// The base URL of the transparency log with key id `key_id` (base64), `""` if unknown.
    pub fn tlog_url(&self, key_id: &str) -> &str {
        self.tlog_urls.get(key_id).map_or("", String::as_str)
    }

    /// The URI of the root's (first) timestamp authority, `""` if it has none.
    pub fn tsa_uri(&self) -> &str {
        &self.tsa_uri
    }
}

/// The DHI keys a trusted root names, if any: an array of PEM public keys.
fn dhi_keys(name: &str, field: &serde_json::Value) -> Result<Vec<DerPublicKey>, String> {
    if field.is_null() {
        return Ok(Vec::new());
    }
    let bad = |i: usize, why: String| format!("{name}: {DHI_KEYS_FIELD}[{i}]: {why}");
    let keys = field
        .as_array()
        .ok_or_else(|| format!("{name}: {DHI_KEYS_FIELD} is not an array of PEM public keys"))?;
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            let pem = k.as_str().ok_or_else(|| bad(i, "not a string".into()))?;
            DerPublicKey::from_pem(pem).map_err(|e| bad(i, e.to_string()))
        })
        .collect()
}
