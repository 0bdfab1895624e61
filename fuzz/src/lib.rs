//! What the fuzz targets share: one text format for a set of content-addressed blobs, so a
//! mutated input still reaches the checks behind the digests (an attestation chain, an OCI
//! layout), and readers over it.
//!
//! An input is segments separated by lines `%%`: a header, then up to ten blobs. In any
//! segment `%dN`, `%hN` and `%sN` (N a digit) stand for blob N's `sha256:<hex>` digest, its
//! hex and its size, computed after blob N's own tokens are resolved. A reference that
//! would make a digest depend on itself stays as written. A fuzzer cannot forge a sha256;
//! with the tokens it does not have to, and the digest checks are still the real ones.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use verified_frontend::proto::gw;
use verified_frontend::verify::chain::add_blob;
use verified_frontend::verify::trust::SigstoreRoot;

pub const MAX_BLOBS: usize = 10;
const SEPARATOR: &[u8] = b"\n%%\n";

/// The segments of an input, split on `\n%%\n`.
pub fn segments(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = find(rest, SEPARATOR) {
        out.push(&rest[..i]);
        rest = &rest[i + SEPARATOR.len()..];
    }
    out.push(rest);
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A header and its blobs, every token resolved.
#[derive(Debug, Default)]
pub struct Template {
    pub header: String,
    pub blobs: Vec<Vec<u8>>,
}

impl Template {
    /// The first segment is the header, the next (at most ten) the blobs.
    pub fn parse(data: &[u8]) -> Template {
        let segs = segments(data);
        Self::from_segments(segs[0], &segs[1..])
    }

    pub fn from_segments(header: &[u8], blobs: &[&[u8]]) -> Template {
        let raw: Vec<&[u8]> = blobs.iter().take(MAX_BLOBS).copied().collect();
        let mut r = Resolver {
            raw: &raw,
            done: vec![None; raw.len()],
            busy: vec![false; raw.len()],
        };
        let blobs: Vec<Vec<u8>> = (0..raw.len()).map(|i| r.blob(i)).collect();
        let header = String::from_utf8_lossy(&r.substitute(header)).into_owned();
        Template { header, blobs }
    }

    pub fn digest(&self, i: usize) -> Option<String> {
        self.blobs.get(i).map(|b| sha256(b))
    }

    /// A header word: a digit names blob N's digest, anything else is itself.
    pub fn word(&self, w: &str) -> String {
        match w.parse::<usize>() {
            Ok(i) if w.len() == 1 => self.digest(i).unwrap_or_default(),
            _ => w.to_string(),
        }
    }

    /// An attestation chain: header words `root attestation image [signature…]`, every blob
    /// added under its digest (as BuildKit hands a chain to the frontend).
    pub fn chain(&self) -> gw::AttestationChain {
        let words: Vec<String> = self
            .header
            .split_whitespace()
            .map(|w| self.word(w))
            .collect();
        let at = |i: usize| words.get(i).cloned().unwrap_or_default();
        let mut chain = gw::AttestationChain {
            root: at(0),
            image_manifest: at(2),
            attestation_manifest: at(1),
            signature_manifests: words.iter().skip(3).cloned().collect(),
            blobs: Default::default(),
        };
        for b in &self.blobs {
            add_blob(&mut chain, b.clone());
        }
        chain
    }
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

struct Resolver<'a> {
    raw: &'a [&'a [u8]],
    done: Vec<Option<Vec<u8>>>,
    busy: Vec<bool>,
}

impl Resolver<'_> {
    fn blob(&mut self, i: usize) -> Vec<u8> {
        if let Some(b) = &self.done[i] {
            return b.clone();
        }
        self.busy[i] = true;
        let b = self.substitute(self.raw[i]);
        self.busy[i] = false;
        self.done[i] = Some(b.clone());
        b
    }

    fn substitute(&mut self, s: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            if let Some(v) = self.token(&s[i..]) {
                out.extend_from_slice(v.as_bytes());
                i += 3;
            } else {
                out.push(s[i]);
                i += 1;
            }
        }
        out
    }

    /// The value of the token at the start of `s`, if it is one that can be resolved.
    fn token(&mut self, s: &[u8]) -> Option<String> {
        let [b'%', kind @ (b'd' | b'h' | b's'), n @ b'0'..=b'9', ..] = *s else {
            return None;
        };
        let n = usize::from(n - b'0');
        if n >= self.raw.len() || self.busy[n] {
            return None;
        }
        let b = self.blob(n);
        let digest = sha256(&b);
        Some(match kind {
            b'd' => digest,
            b'h' => digest["sha256:".len()..].to_string(),
            _ => b.len().to_string(),
        })
    }
}

/// The test kits' throwaway Sigstore roots (testdata/signed-chain and its legacy twin), the
/// roots the seed chains were signed under, so mutations start from signatures that verify.
pub fn kit_roots() -> std::sync::Arc<[SigstoreRoot]> {
    static ROOTS: std::sync::OnceLock<std::sync::Arc<[SigstoreRoot]>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let root = |name: &str, text: &str| SigstoreRoot::from_json(name, text).expect(name);
            vec![
                root(
                    "kit",
                    include_str!("../../testdata/signed-chain/trusted_root.json"),
                ),
                root(
                    "kit-legacy",
                    include_str!("../../testdata/signed-chain-legacy/trusted_root.json"),
                ),
            ]
            .into()
        })
        .clone()
}

/// Files in memory for the policy loader: path -> bytes.
pub struct MemDir(pub HashMap<String, Vec<u8>>);

impl verified_frontend::policy::load::Reader for MemDir {
    async fn read(&self, path: &str) -> verified_frontend::error::Result<Option<Vec<u8>>> {
        Ok(self.0.get(path).cloned())
    }
}

/// Runs a future that never waits on anything outside it (in-memory readers, a layout on
/// disk read synchronously) to completion.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_other_blobs_and_cycles_stay_literal() {
        let t = Template::parse(b"0 %d1\n%%\nsee %d1 %s1\n%%\nab\n%%\nme %d2");
        let d1 = sha256(b"ab");
        assert_eq!(t.blobs[0], format!("see {d1} 2").into_bytes());
        assert_eq!(t.blobs[2], b"me %d2");
        assert_eq!(t.header, format!("0 {d1}"));
        let chain = t.chain();
        assert_eq!(chain.root, sha256(&t.blobs[0]));
        assert_eq!(chain.attestation_manifest, d1);
        assert_eq!(chain.blobs.len(), 3);
    }

    #[test]
    fn mutual_references_terminate() {
        let t = Template::parse(b"\n%%\n%d1\n%%\n%d0");
        assert_eq!(t.blobs.len(), 2);
        // blob 0 resolves blob 1 first, whose reference back to blob 0 stays literal
        assert_eq!(t.blobs[1], b"%d0");
        assert_eq!(t.blobs[0], sha256(b"%d0").into_bytes());
    }
}
