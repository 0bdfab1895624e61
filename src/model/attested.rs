//! What the attestations are and say, shared by the build that writes them (`attest`) and
//! the `verify` subcommand that reads them (`consumer`): their predicate types and
//! verifier, the policies by content, and the trust root signatures were checked against.

use std::collections::BTreeMap;

use serde::Serialize;

/// The predicate type of the SLSA Verification Summary Attestation the build attaches.
pub const VSA_PREDICATE: &str = "https://slsa.dev/verification_summary/v1";
/// The predicate type of the per-source report the build attaches.
pub const REPORT_PREDICATE: &str =
    "https://github.com/verified-frontend/verified-frontend/report/v1";
/// `verifier.id` of both statements: who vouches, for a consumer to check.
pub const VERIFIER_ID: &str = "https://github.com/verified-frontend/verified-frontend";

/// What a policy was, by content: the main module's sha256 (what a consumer recomputes
/// from the file) and every module and data file read with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDigest {
    pub name: String,
    pub sha256: String,
    /// path -> sha256 of each module and file read with the policy, the main one included.
    pub files: BTreeMap<String, String>,
}

/// How the attestations name the trust root signatures were verified under: the embedded
/// roots, or a file of the build by its digest (so a consumer can tell which root vouched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustRootRecord {
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<BTreeMap<String, String>>,
}

impl TrustRootRecord {
    pub fn embedded() -> Self {
        TrustRootRecord {
            uri: "embedded:sigstore-public-good,github".into(),
            digest: None,
        }
    }

    /// A file, `uri` saying where the build read it (`context:<path>`,
    /// `named-context:<name>:<path>`).
    pub fn file(uri: String, data: &[u8]) -> Self {
        use sha2::Digest;
        TrustRootRecord {
            uri,
            digest: Some(BTreeMap::from([(
                "sha256".to_string(),
                hex::encode(sha2::Sha256::digest(data)),
            )])),
        }
    }
}
