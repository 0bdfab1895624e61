//! Detached OpenPGP signatures over HTTP downloads, verified without the download: BuildKit
//! hashes the content followed by the signature's hash suffix (`ChecksumRequest`), which is
//! exactly the digest an OpenPGP signature signs, so the frontend never needs the bytes.

use std::sync::{Arc, Mutex};

use pgp::composed::{Deserializable, DetachedSignature};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureVersion};
use pgp::types::VerifyingKey;

/// What BuildKit must hash after the content for this signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumRequest {
    /// `gw::checksum_request::ChecksumAlgo` value.
    pub algo: i32,
    /// The algorithm name BuildKit answers with (`sha256:`...).
    pub algo_name: &'static str,
    pub suffix: Vec<u8>,
}

/// Collects the bytes rpgp would hash after the data, so they can be sent to BuildKit.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<u8>>>);

impl digest::DynDigest for Collect {
    fn update(&mut self, data: &[u8]) {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(data);
        }
    }
    fn finalize_into(self, _: &mut [u8]) -> Result<(), digest::InvalidBufferSize> {
        Err(digest::InvalidBufferSize)
    }
    fn finalize_into_reset(&mut self, _: &mut [u8]) -> Result<(), digest::InvalidBufferSize> {
        Err(digest::InvalidBufferSize)
    }
    fn reset(&mut self) {
        if let Ok(mut v) = self.0.lock() {
            v.clear();
        }
    }
    fn output_size(&self) -> usize {
        0
    }
    fn box_clone(&self) -> Box<dyn digest::DynDigest> {
        Box::new(self.clone())
    }
}

fn parse(armored: &[u8]) -> Result<Signature, String> {
    let text = std::str::from_utf8(armored).map_err(|_| "the signature is not text".to_string())?;
    let (sig, _) = DetachedSignature::from_string(text)
        .map_err(|e| format!("cannot parse the detached PGP signature: {e}"))?;
    Ok(sig.signature)
}

/// A parsed detached signature and the checksum BuildKit must compute to verify it.
pub struct Detached {
    sig: Signature,
    pub request: ChecksumRequest,
}

impl Detached {
    /// Only v4 signatures with SHA-256/384/512 qualify (as in Buildx): v6 signatures hash a
    /// salt before the content, which a suffix cannot express, and weaker hashes are refused.
    pub fn parse(armored: &[u8]) -> Result<Self, String> {
        let sig = parse(armored)?;
        if sig.version() != SignatureVersion::V4 {
            return Err(format!(
                "signature version {:?} is not supported (v4 only)",
                sig.version()
            ));
        }
        let (algo, algo_name) = match sig.hash_alg() {
            Some(HashAlgorithm::Sha256) => (0, "sha256"),
            Some(HashAlgorithm::Sha384) => (1, "sha384"),
            Some(HashAlgorithm::Sha512) => (2, "sha512"),
            other => return Err(format!("signature hash {other:?} is refused (SHA-2 only)")),
        };
        let config = sig
            .config()
            .ok_or_else(|| "the signature has no readable configuration".to_string())?;
        let collect = Collect::default();
        let mut hasher: Box<dyn digest::DynDigest + Send> = Box::new(collect.clone());
        let len = config
            .hash_signature_data(&mut hasher)
            .map_err(|e| format!("cannot serialize the signature: {e}"))?;
        let trailer = config
            .trailer(len)
            .map_err(|e| format!("cannot serialize the signature: {e}"))?;
        let mut suffix = collect
            .0
            .lock()
            .map_err(|_| "signature buffer poisoned".to_string())?
            .clone();
        suffix.extend_from_slice(&trailer);
        Ok(Detached {
            sig,
            request: ChecksumRequest {
                algo,
                algo_name,
                suffix,
            },
        })
    }

    /// Verifies the signature given BuildKit's digest of `content || suffix` (`algo:hex`).
    /// `Ok(false)` when no key in `keyfile` made the signature.
    pub fn verify_digest(&self, keyfile: &[u8], digest: &str) -> Result<bool, String> {
        let req = &self.request;
        let hex = digest
            .strip_prefix(req.algo_name)
            .and_then(|d| d.strip_prefix(':'))
            .ok_or_else(|| format!("checksum {digest} is not {}", req.algo_name))?;
        let hash = hex::decode(hex).map_err(|_| format!("checksum {digest} is not hex"))?;
        let size = match req.algo {
            0 => 32,
            1 => 48,
            _ => 64,
        };
        if hash.len() != size {
            return Err(format!(
                "checksum {digest} is not a {} digest",
                req.algo_name
            ));
        }
        let keys = crate::verify::git::pgp_keys(keyfile)?;
        let sig = &self.sig;
        let (Some(signed_prefix), Some(bytes), Some(alg)) =
            (sig.signed_hash_value(), sig.signature(), sig.hash_alg())
        else {
            return Err("the signature is incomplete".into());
        };
        // The two hash bytes stored in the signature are a cheap check that the digest is
        // the one signed; a mismatch means other content, not an error.
        if hash[..2] != signed_prefix {
            return Ok(false);
        }
        Ok(keys.iter().any(|k| {
            k.primary_key.verify(alg, &hash, bytes).is_ok()
                || k.public_subkeys
                    .iter()
                    .any(|sk| sk.key.verify(alg, &hash, bytes).is_ok())
        }))
    }
}

/// The checksum BuildKit must compute for `armored` to be verified.
pub fn checksum_request(armored: &[u8]) -> Result<ChecksumRequest, String> {
    Detached::parse(armored).map(|d| d.request)
}

/// Verifies `armored` given BuildKit's digest of `content || suffix` (`algo:hex`).
pub fn verify_digest(armored: &[u8], keyfile: &[u8], digest: &str) -> Result<bool, String> {
    Detached::parse(armored)?.verify_digest(keyfile, digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    fn v(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/testdata/http-pgp/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// What BuildKit answers to a `ChecksumRequest`: the digest of content then suffix.
    fn buildkit_checksum(content: &[u8], req: &ChecksumRequest) -> String {
        let data = [content, &req.suffix].concat();
        let hex = match req.algo_name {
            "sha256" => hex::encode(sha2::Sha256::digest(&data)),
            "sha384" => hex::encode(sha2::Sha384::digest(&data)),
            _ => hex::encode(sha2::Sha512::digest(&data)),
        };
        format!("{}:{hex}", req.algo_name)
    }

    #[test]
    fn gpg_detached_signatures_verify_from_buildkits_checksum_alone() {
        let content = v("release.txt");
        for (sig, algo) in [("release.txt.asc", 2), ("release.txt.sha256.asc", 0)] {
            let sig = v(sig);
            let req = checksum_request(&sig).unwrap();
            assert_eq!(req.algo, algo);
            // v4 suffix: version, type, algorithms, hashed area, then the 0x04 0xff trailer.
            assert_eq!(req.suffix[0], 4);
            assert_eq!(
                &req.suffix[req.suffix.len() - 6..req.suffix.len() - 4],
                &[4, 0xff]
            );
            let sum = buildkit_checksum(&content, &req);
            assert_eq!(verify_digest(&sig, &v("signer.asc"), &sum), Ok(true));
            assert_eq!(verify_digest(&sig, &v("other.asc"), &sum), Ok(false));
            let other = buildkit_checksum(b"other content", &req);
            assert_eq!(verify_digest(&sig, &v("signer.asc"), &other), Ok(false));
        }
        let by_other = v("release.txt.other.asc");
        let sum = buildkit_checksum(&content, &checksum_request(&by_other).unwrap());
        assert_eq!(verify_digest(&by_other, &v("other.asc"), &sum), Ok(true));
        assert_eq!(verify_digest(&by_other, &v("signer.asc"), &sum), Ok(false));
    }

    #[test]
    fn weak_hashes_wrong_algorithms_and_garbage_are_errors() {
        let err = checksum_request(&v("release.txt.sha1.asc")).unwrap_err();
        assert!(err.contains("SHA-2 only"), "{err}");
        assert!(checksum_request(b"not a signature").is_err());
        let sig = v("release.txt.asc");
        let err = verify_digest(
            &sig,
            &v("signer.asc"),
            &format!("sha256:{}", "0".repeat(64)),
        );
        assert!(err.unwrap_err().contains("is not sha512"));
        assert!(verify_digest(&sig, b"garbage", "sha512:00").is_err());
    }

    #[test]
    fn the_docker_release_signature_asks_for_sha512() {
        let sig = std::fs::read(format!(
            "{}/testdata/vectors/buildx-rego-examples/docker.release.gpg.sig",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let req = checksum_request(&sig).unwrap();
        assert_eq!((req.algo, req.algo_name), (2, "sha512"));
    }
}
