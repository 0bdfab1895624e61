//! Sigstore signatures on an image, found through BuildKit's attestation chain and verified
//! offline. As docker/github-builder signs and Docker's verifier checks: the signed artifact
//! is the image's attestation manifest, which must name the platform manifest being built
//! and carry SLSA provenance; the signature is a Sigstore v0.3 bundle in an OCI 1.1 referrer
//! of that attestation manifest, or cosign's legacy simplesigning signature in one
//! (`verify::legacy`).

use std::collections::HashMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::proto::gw;
use crate::verify::bundle::Root;

/// Index annotations BuildKit marks an attestation manifest and the image it describes with.
pub const ATTESTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
pub const ATTESTATION_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// Layer annotation naming an attestation's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";
pub const SLSA_PREFIX: &str = "https://slsa.dev/provenance/";
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const COSIGN_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// A blob of the chain, checked against its digest: the registry's word is not taken.
pub fn blob<'a>(chain: &'a gw::AttestationChain, digest: &str) -> Result<&'a [u8], String> {
    let b = chain
        .blobs
        .get(digest)
        .ok_or_else(|| format!("the attestation chain lacks blob {digest}"))?;
    let got = format!("sha256:{}", hex::encode(Sha256::digest(&b.data)));
    if got != digest {
        return Err(format!("attestation blob {digest} hashes to {got}"));
    }
    Ok(&b.data)
}

/// Adds `data` to the chain's blobs under its sha256 digest, which it returns: how a chain
/// is assembled outside BuildKit (the `verify` subcommand, tests, benchmarks).
pub fn add_blob(chain: &mut gw::AttestationChain, data: Vec<u8>) -> String {
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
    chain.blobs.insert(
        digest.clone(),
        gw::Blob {
            descriptor: None,
            data,
        },
    );
    digest
}

/// The attestation manifest's layer holding SLSA provenance, if any.
pub fn slsa_layer(attestation_manifest: &Value) -> Option<&Value> {
    attestation_manifest["layers"].as_array()?.iter().find(|l| {
        l["annotations"][PREDICATE_TYPE_ANNOTATION]
            .as_str()
            .is_some_and(|t| t.starts_with(SLSA_PREFIX))
    })
}

fn json_blob(chain: &gw::AttestationChain, digest: &str, what: &str) -> Result<Value, String> {
    serde_json::from_slice(blob(chain, digest)?)
        .map_err(|e| format!("{what} {digest} is not JSON: {e}"))
}

/// What checking an image's signatures established.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    /// Buildx's `AttestationSignature` objects, verified ones only.
    pub signatures: Vec<Value>,
    /// Why each signature found was not accepted.
    pub rejected: Vec<String>,
}

/// Verifies image signatures for one build, each attestation manifest's once.
pub struct ImageVerifier {
    roots: std::sync::Arc<[Root]>,
    cache: HashMap<String, Checked>,
    /// Signature verifications attempted (bundles and legacy signatures; not served from
    /// the cache).
    pub verifications: usize,
}

impl ImageVerifier {
    pub fn new(roots: impl Into<std::sync::Arc<[Root]>>) -> Self {
        ImageVerifier {
            roots: roots.into(),
            cache: HashMap::new(),
            verifications: 0,
        }
    }

    /// The verified signatures of the image the chain was resolved for. Malformed chain
    /// data is an error (the source is refused); a signature that does not verify is only
    /// left out, with its reason, so the policy decides on what is proven.
    pub fn check(&mut self, chain: &gw::AttestationChain) -> Result<Checked, String> {
        if chain.attestation_manifest.is_empty() {
            return Ok(Checked::default());
        }
        let mut sigs = chain.signature_manifests.clone();
        sigs.sort();
        let key = format!(
            "{}|{}|{}",
            chain.image_manifest,
            chain.attestation_manifest,
            sigs.join(",")
        );
        if let Some(c) = self.cache.get(&key) {
            return Ok(c.clone());
        }
        let checked = self.verify(chain)?;
        self.cache.insert(key, checked.clone());
        Ok(checked)
    }

    fn verify(&mut self, chain: &gw::AttestationChain) -> Result<Checked, String> {
        let att = chain.attestation_manifest.as_str();
        let image = chain.image_manifest.as_str();
        attestation_names_image(chain)?;
        let manifest = json_blob(chain, att, "attestation manifest")?;
        if let Some(subject) = manifest["subject"]["digest"].as_str()
            && subject != image
        {
            return Err(format!(
                "attestation manifest {att} is about {subject}, not the image manifest {image}"
            ));
        }
        let mut out = Checked::default();
        if chain.signature_manifests.is_empty() {
            return Ok(out);
        }
        // A signature over an attestation manifest vouches for what it attests; without
        // provenance there is nothing it vouches for (Docker's verifier requires it too).
        let has_slsa = slsa_layer(&manifest).is_some();
        for sig_digest in &chain.signature_manifests {
            let m = json_blob(chain, sig_digest, "signature manifest")?;
            let artifact_type = m["artifactType"]
                .as_str()
                .or_else(|| m["config"]["mediaType"].as_str())
                .unwrap_or_default();
            let subject = m["subject"]["digest"].as_str().unwrap_or_default();
            if subject != att {
                out.rejected.push(format!(
                    "signature {sig_digest} refers to {subject:?}, not the attestation manifest {att}"
                ));
                continue;
            }
            if artifact_type != BUNDLE_ARTIFACT_TYPE && artifact_type != COSIGN_ARTIFACT_TYPE {
                out.rejected.push(format!(
                    "signature {sig_digest} has artifact type {artifact_type:?}"
                ));
                continue;
            }
            if !has_slsa {
                out.rejected.push(format!(
                    "signature {sig_digest} signs attestation manifest {att}, which holds no SLSA provenance"
                ));
                continue;
            }
            if artifact_type == COSIGN_ARTIFACT_TYPE {
                self.verifications += 1;
                match crate::verify::legacy::verify(chain, sig_digest, &m, &self.roots)? {
                    Ok(sig) => out.signatures.push(sig),
                    Err(e) => out.rejected.push(format!("signature {sig_digest} {e}")),
                }
                continue;
            }
            let layer = m["layers"]
                .as_array()
                .and_then(|ls| ls.iter().find(|l| l["mediaType"] == BUNDLE_ARTIFACT_TYPE))
                .and_then(|l| l["digest"].as_str())
                .ok_or_else(|| format!("signature manifest {sig_digest} has no bundle layer"))?;
            let bundle = blob(chain, layer)?;
            self.verifications += 1;
            let hex = att.strip_prefix("sha256:").unwrap_or(att);
            match crate::verify::bundle::signature(bundle, hex, &self.roots, false) {
                Ok(sig) => out.signatures.push(sig),
                Err(e) => out
                    .rejected
                    .push(format!("signature {sig_digest} does not verify: {e}")),
            }
        }
        Ok(out)
    }
}

/// The root index must list the attestation manifest as the attestation of exactly the
/// image manifest being built, as BuildKit stores it.
fn attestation_names_image(chain: &gw::AttestationChain) -> Result<(), String> {
    if chain.root.is_empty() || !chain.blobs.contains_key(&chain.root) {
        return Err("the attestation chain lacks its root index".into());
    }
    let index = json_blob(chain, &chain.root, "image index")?;
    let listed = index["manifests"].as_array().is_some_and(|ms| {
        ms.iter().any(|m| {
            m["digest"] == chain.attestation_manifest.as_str()
                && m["annotations"][ATTESTATION_REFERENCE_TYPE] == "attestation-manifest"
                && m["annotations"][ATTESTATION_REFERENCE_DIGEST] == chain.image_manifest.as_str()
        })
    });
    if listed {
        Ok(())
    } else {
        Err(format!(
            "the image index does not list {} as the attestation of {}",
            chain.attestation_manifest, chain.image_manifest
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn digest(data: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(data)))
    }

    /// A chain as BuildKit returns it: index -> image manifest, attestation manifest, and
    /// the signature manifests given (with their bundle layers).
    struct Chain {
        chain: gw::AttestationChain,
    }

    impl Chain {
        fn new(slsa: bool) -> Chain {
            let image = digest(b"image manifest");
            let att = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/vnd.docker.attestation.manifest.v1+json",
                "layers": [{
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": digest(b"statement"),
                    "size": 9,
                    "annotations": {PREDICATE_TYPE_ANNOTATION: if slsa { "https://slsa.dev/provenance/v1" } else { "https://spdx.dev/Document" }}
                }],
                "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image, "size": 14}
            });
            let att = serde_json::to_vec(&att).unwrap();
            let index = json!({"schemaVersion": 2, "manifests": [
                {"digest": image, "platform": {"os": "linux", "architecture": "amd64"}},
                {"digest": digest(&att), "annotations": {
                    ATTESTATION_REFERENCE_TYPE: "attestation-manifest",
                    ATTESTATION_REFERENCE_DIGEST: image}}
            ]});
            let index = serde_json::to_vec(&index).unwrap();
            let mut c = Chain {
                chain: gw::AttestationChain {
                    root: digest(&index),
                    image_manifest: image,
                    attestation_manifest: digest(&att),
                    ..Default::default()
                },
            };
            c.add(&index);
            c.add(&att);
            c
        }

        fn add(&mut self, data: &[u8]) -> String {
            add_blob(&mut self.chain, data.to_vec())
        }

        fn sign(&mut self, artifact_type: &str, subject: &str, bundle: &[u8]) -> String {
            let layer = self.add(bundle);
            let m = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": artifact_type,
                "layers": [{"mediaType": BUNDLE_ARTIFACT_TYPE, "digest": layer, "size": bundle.len()}],
                "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": 1}
            });
            let d = self.add(&serde_json::to_vec(&m).unwrap());
            self.chain.signature_manifests.push(d.clone());
            d
        }
    }

    impl Chain {
        /// A cosign legacy signature referrer whose simplesigning layer is `payload`.
        fn sign_legacy(&mut self, subject: &str, payload: &[u8]) -> String {
            let layer = self.add(payload);
            let m = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": COSIGN_ARTIFACT_TYPE,
                "layers": [{"mediaType": crate::verify::legacy::SIMPLESIGNING_MEDIA_TYPE,
                            "digest": layer, "size": payload.len()}],
                "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": 1}
            });
            let d = self.add(&serde_json::to_vec(&m).unwrap());
            self.chain.signature_manifests.push(d.clone());
            d
        }
    }

    fn vector(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/testdata/signed-chain/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// The kit-signed chain of testdata/signed-chain, and the roots it verifies under.
    fn signed_chain() -> (gw::AttestationChain, Vec<Root>) {
        let mut c = Chain {
            chain: gw::AttestationChain::default(),
        };
        let index = vector("index.json");
        c.chain.root = c.add(&index);
        c.chain.attestation_manifest = c.add(&vector("attestation.json"));
        c.add(&vector("bundle.json"));
        let sig = c.add(&vector("signature-manifest.json"));
        c.chain.signature_manifests.push(sig);
        c.chain.image_manifest = String::from_utf8(vector("image-digest"))
            .unwrap()
            .trim()
            .to_string();
        let root = String::from_utf8(vector("trusted_root.json")).unwrap();
        (c.chain, vec![Root::from_json("kit", &root).unwrap()])
    }

    #[test]
    fn a_kit_signed_chain_yields_the_signers_claims() {
        let (chain, roots) = signed_chain();
        let got = ImageVerifier::new(roots).check(&chain).unwrap();
        assert!(got.rejected.is_empty(), "{:?}", got.rejected);
        let sig = &got.signatures[0];
        assert_eq!(sig["kind"], "docker-github-builder");
        assert_eq!(sig["type"], "bundle-v0.3");
        assert_eq!(
            sig["signer"]["sourceRepositoryURI"],
            "https://github.com/example/app"
        );
        assert_eq!(sig["signer"]["sourceRepositoryRef"], "refs/tags/v1");
        let kinds: Vec<&str> = sig["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["type"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"Tlog") && kinds.contains(&"TimestampAuthority"),
            "{kinds:?}"
        );
        // The same chain under the embedded roots: found, not accepted.
        let got = verifier().check(&chain).unwrap();
        assert!(got.signatures.is_empty());
        assert!(
            got.rejected[0].contains("public-good:"),
            "{:?}",
            got.rejected
        );
    }

    fn verifier() -> ImageVerifier {
        ImageVerifier::new(Root::embedded().unwrap())
    }

    #[test]
    fn an_unsigned_image_has_no_signatures() {
        let c = Chain::new(true);
        assert_eq!(verifier().check(&c.chain), Ok(Checked::default()));
        // A single-manifest image has no chain at all.
        assert_eq!(
            verifier().check(&gw::AttestationChain::default()),
            Ok(Checked::default())
        );
    }

    #[test]
    fn signatures_that_cannot_count_are_rejected_with_their_reason() {
        let mut c = Chain::new(true);
        let att = c.chain.attestation_manifest.clone();
        c.sign(BUNDLE_ARTIFACT_TYPE, &digest(b"another manifest"), b"{}");
        c.sign_legacy(
            &att,
            br#"{"critical": {"image": {"docker-manifest-digest": "sha256:0"}}}"#,
        );
        c.sign(BUNDLE_ARTIFACT_TYPE, &att, b"{\"not\": \"a bundle\"}");
        let mut v = verifier();
        let got = v.check(&c.chain).unwrap();
        assert!(got.signatures.is_empty());
        let r = &got.rejected;
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(r[0].contains("not the attestation manifest"), "{}", r[0]);
        assert!(r[1].contains("not of the attestation manifest"), "{}", r[1]);
        assert!(r[2].contains("does not verify"), "{}", r[2]);
        // The second check of the same chain is served from the cache.
        assert_eq!(v.verifications, 2);
        assert_eq!(v.check(&c.chain).unwrap(), got);
        assert_eq!(v.verifications, 2);

        let mut c = Chain::new(false);
        let att = c.chain.attestation_manifest.clone();
        c.sign(BUNDLE_ARTIFACT_TYPE, &att, b"{}");
        let got = verifier().check(&c.chain).unwrap();
        assert!(got.rejected[0].contains("no SLSA provenance"), "{got:?}");
    }

    #[test]
    fn a_chain_that_does_not_hold_together_is_an_error() {
        let mut c = Chain::new(true);
        c.chain.image_manifest = digest(b"some other image");
        let err = verifier().check(&c.chain).unwrap_err();
        assert!(err.contains("does not list"), "{err}");

        let mut c = Chain::new(true);
        let att = c.chain.attestation_manifest.clone();
        c.chain.blobs.get_mut(&att).unwrap().data.push(b' ');
        let err = verifier().check(&c.chain).unwrap_err();
        assert!(err.contains("hashes to"), "{err}");

        let mut c = Chain::new(true);
        let root = c.chain.root.clone();
        c.chain.blobs.remove(&root);
        let err = verifier().check(&c.chain).unwrap_err();
        assert!(err.contains("root index"), "{err}");
    }
}
