//! The per-source record: what was resolved, pinned and decided, and the facts the policy
//! saw. It feeds the build's report line, the denial messages and the attestations.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// What was decided about one source, for the report and for errors.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRecord {
    /// `build` for the build's own sources; `frontend` for frontend images.
    pub role: &'static str,
    pub kind: &'static str,
    pub original: String,
    pub pinned: String,
    /// Attributes the pin added (e.g. `git.checksum`, `http.checksum`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pin_attrs: BTreeMap<String, String>,
    /// Digest, commit or checksum the source resolved to; empty for local sources.
    pub resolved: String,
    pub platforms: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `allow`, `deny`, or `none` when no policy was loaded.
    pub decision: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub policy: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_msg: Vec<String>,
    /// Signatures found on the image that were not accepted, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures_rejected: Vec<String>,
    /// The image's attestation manifest, when its chain was read (signatures, provenance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_manifest: Option<String>,
    /// The input document's object for this source, as the policy saw it.
    #[serde(skip)]
    pub facts: Value,
}
