//! What one `verify` may read, and what it has read against that: the bounds shared by the
//! registry reader (`store`) and the OCI layout reader (`layout`), kept apart from both so
//! that neither imports the other for them.
//!
//! Whoever can push to the repository can make the image, its index and its referrers as
//! large as they like (cosign's CVE-2023-46737, CVE-2024-29902/-29903), so each bound has
//! cosign's default as its reference; past one the read fails with one line naming it.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::document::{Read, ReadError};

/// A manifest or index larger than this is refused: the size the OCI distribution spec asks
/// every registry to accept, and the most Docker's distribution registry accepts
/// (`maxManifestBodySize`).
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Entries an index (the image's, index.json, a referrers list) and layers a manifest may
/// have: cosign's bound on a signature manifest's descriptors (GHSA-95pr-fxf5-86gv).
pub const MAX_ENTRIES: usize = 1000;
/// Referrers of one attestation manifest, each read as a possible signature manifest:
/// cosign's bound on the signatures and attestations it fetches (`maxAllowedSigsOrAtts`,
/// GHSA-vfp6-jrw2-99g9). The verifier checks the first 16 of them
/// (`verify::image::MAX_SIGNATURE_MANIFESTS`).
pub const MAX_REFERRERS: usize = 100;
/// Bytes one `verify` reads in all, every manifest, blob and scanned layout file counted:
/// cosign's default bound on one attachment (`COSIGN_MAX_ATTACHMENT_SIZE`), here for the
/// whole image.
pub const MAX_TOTAL: u64 = 128 << 20;

/// The bounds on what one `verify` reads (the constants above unless a test shrinks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub manifest: u64,
    pub entries: usize,
    pub referrers: usize,
    pub total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            manifest: MAX_MANIFEST,
            entries: MAX_ENTRIES,
            referrers: MAX_REFERRERS,
            total: MAX_TOTAL,
        }
    }
}

/// The bounds and what has been read against them.
#[derive(Debug)]
pub(super) struct Budget {
    pub limits: Limits,
    used: AtomicU64,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            used: AtomicU64::new(0),
        }
    }

    /// Bytes counted so far.
    #[cfg(test)]
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Counts `n` more bytes read for `what`; past the total the read fails.
    pub fn charge(&self, what: &str, n: u64) -> Read<()> {
        let before = self.used.fetch_add(n, Ordering::Relaxed);
        let total = self.limits.total;
        if before.saturating_add(n) > total {
            return Err(ReadError::Unreadable(format!(
                "{what} ({n} bytes) would take this verify past {total} bytes read, the bound \
                 on all it reads (manifests, blobs, scanned layout files)"
            )));
        }
        Ok(())
    }

    /// A manifest (or index) of `size` bytes may be read.
    pub fn manifest_size(&self, what: &str, size: u64) -> Read<()> {
        let max = self.limits.manifest;
        if size > max {
            return Err(ReadError::Unreadable(format!(
                "{what} is {size} bytes, more than the {max} a manifest may have"
            )));
        }
        Ok(())
    }

    /// A list of `n` entries (`kind`: manifests, layers, referrers) may be read.
    pub fn entries(&self, what: &str, kind: &str, n: usize) -> Read<()> {
        let max = self.limits.entries;
        if n > max {
            return Err(ReadError::Unreadable(format!(
                "{what} lists {n} {kind}, more than the {max} an index or manifest may list"
            )));
        }
        Ok(())
    }

    /// The entries of a manifest or index as JSON, counted without reading them (a
    /// document that is not JSON is left to the parser that reads it to say so).
    pub fn document_entries(&self, what: &str, data: &[u8]) -> Read<()> {
        #[derive(Deserialize)]
        struct Lists {
            manifests: Option<Vec<IgnoredAny>>,
            layers: Option<Vec<IgnoredAny>>,
        }
        let Ok(l) = serde_json::from_slice::<Lists>(data) else {
            return Ok(());
        };
        self.entries(what, "manifests", l.manifests.map_or(0, |m| m.len()))?;
        self.entries(what, "layers", l.layers.map_or(0, |m| m.len()))
    }

    /// The referrers of `subject` (an attestation manifest), every one of which is read.
    pub fn referrers(&self, subject: &str, n: usize) -> Read<()> {
        self.entries(subject, "referrers", n)?;
        let max = self.limits.referrers;
        if n > max {
            return Err(ReadError::Unreadable(format!(
                "{subject} has {n} referrers, more than the {max} read as signature manifests"
            )));
        }
        Ok(())
    }
}
