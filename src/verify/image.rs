//! Sigstore signatures on an image, found through BuildKit's attestation chain and verified
//! offline. As docker/github-builder signs and Docker's verifier checks: the signed artifact
//! is the image's attestation manifest, which must name the platform manifest being built
//! (its `subject`) and carry SLSA provenance whose statement names it too (`binding`); the
//! signature is a Sigstore v0.3 bundle in an OCI 1.1 referrer of that attestation manifest,
//! or cosign's legacy simplesigning signature in one (`verify::legacy`). A Docker Hardened
//! Image's attestation is a referrer of the image manifest instead, signed by Docker's DHI
//! key (`verify::dhi`).

mod binding;
#[cfg(test)]
mod dhi_tests;
#[cfg(test)]
mod legacy_tests;

use std::collections::HashMap;

use serde_json::Value;

use crate::proto::gw;
use crate::verify::chain::blob;
use crate::verify::trust::SigstoreRoot;

/// Signature manifests verified per attestation manifest. BuildKit returns one (Docker's
/// verifier checks one, preferring a bundle); the `verify` subcommand lists every referrer,
/// which anyone who can push to the repository can add to. Past the bound the rest are not
/// verified and are named among the rejected, so they never count; the first ones, in the
/// order the chain lists them, still do. cosign refuses more than 100.
pub const MAX_SIGNATURE_MANIFESTS: usize = 16;

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
    roots: std::sync::Arc<[SigstoreRoot]>,
    cache: HashMap<String, Checked>,
    /// Signature verifications attempted (bundles and legacy signatures; not served from
    /// the cache).
    pub verifications: usize,
}

impl ImageVerifier {
    pub fn new(roots: impl Into<std::sync::Arc<[SigstoreRoot]>>) -> Self {
        ImageVerifier {
            roots: roots.into(),
            cache: HashMap::new(),
            verifications: 0,
        }
    }

    /// The verified signatures of the image the chain was resolved for. Malformed chain
    /// data is an error (the source is refused); a signature that does not verify, or is
    /// not bound to the image, is only left out, with its reason, so the policy decides on
    /// what is proven.
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
        let att = binding::attestation(chain)?;
        let mut out = Checked::default();
        let mut sigs: Vec<&str> = Vec::new();
        for s in &chain.signature_manifests {
            if !sigs.contains(&s.as_str()) {
                sigs.push(s);
            }
        }
        if sigs.is_empty() {
            return Ok(out);
        }
        let beyond = sigs.split_off(sigs.len().min(MAX_SIGNATURE_MANIFESTS));
        // The attestation manifest's binding to the image is the same for every signature:
        // when it fails, none of them can vouch for the image, and none is verified.
        let unbound = binding::binds(chain, &att)?.err();
        for sig in sigs {
            match &unbound {
                Some(why) => out.rejected.push(format!(
                    "signature {sig} signs attestation manifest {}, which {why}",
                    att.digest
                )),
                None => self.verify_one(chain, &att, sig, &mut out)?,
            }
        }
        if !beyond.is_empty() {
            out.rejected.push(not_verified(&att.digest, &beyond));
        }
        Ok(out)
    }

    /// One signature manifest of a bound attestation manifest: its own binding, then the
    /// signature itself.
    fn verify_one(
        &mut self,
        chain: &gw::AttestationChain,
        att: &binding::Attestation,
        sig: &str,
        out: &mut Checked,
    ) -> Result<(), String> {
        let format = match binding::signature_manifest(chain, att, sig)? {
            Ok(f) => f,
            Err(why) => {
                out.rejected.push(format!("signature {sig} {why}"));
                return Ok(());
            }
        };
        self.verifications += 1;
        let verdict = match format {
            binding::Format::Legacy(layer) if att.dhi => {
                crate::verify::dhi::verify(chain, &layer, &self.roots)?
            }
            binding::Format::Legacy(layer) => {
                crate::verify::legacy::verify(chain, &layer, &self.roots)?
            }
            // policy-helpers verifies a DHI's signatures with the DHI key only, which signs
            // cosign signatures; a bundle there is not one.
            binding::Format::Bundle(_) if att.dhi => Err(
                "is a Sigstore bundle, but a Docker Hardened Image's signature is a cosign signature by the DHI key".to_string(),
            ),
            binding::Format::Bundle(layer) => {
                let bundle = blob(chain, layer.digest().as_ref())?;
                let hex = att.digest.strip_prefix("sha256:").unwrap_or(&att.digest);
                crate::verify::bundle::signature(bundle, hex, &self.roots, false)
                    .map_err(|e| format!("does not verify: {e}"))
            }
        };
        match verdict {
            Ok(s) => out.signatures.push(s),
            Err(e) => out.rejected.push(format!("signature {sig} {e}")),
        }
        Ok(())
    }
}

/// The rejection naming signature manifests past `MAX_SIGNATURE_MANIFESTS`: they are not
/// verified, and so never count, but the policy's denial says they were there.
fn not_verified(att: &str, beyond: &[&str]) -> String {
    let shown = beyond.len().min(3);
    let more = match beyond.len() - shown {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!(
        "signature {}{more} not verified: attestation manifest {att} has more than {MAX_SIGNATURE_MANIFESTS} signature manifests, and only the first {MAX_SIGNATURE_MANIFESTS} are verified",
        beyond[..shown].join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::chain::{
        ATTESTATION_REFERENCE_DIGEST, ATTESTATION_REFERENCE_TYPE, BUNDLE_ARTIFACT_TYPE,
        COSIGN_ARTIFACT_TYPE, PREDICATE_TYPE_ANNOTATION, SIMPLESIGNING_MEDIA_TYPE, add_blob,
    };
    use serde_json::json;
    use sha2::{Digest, Sha256};

    const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    const EMPTY: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn digest(data: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(data)))
    }

    fn empty_config() -> Value {
        json!({"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2})
    }

    /// A chain as BuildKit returns it: index -> image manifest, attestation manifest with
    /// its provenance statement, and the signature manifests given (with their layers).
    struct Chain {
        chain: gw::AttestationChain,
        /// The attestation manifest's size, as a signature manifest's subject gives it.
        att_size: usize,
    }

    impl Chain {
        fn new(slsa: bool) -> Chain {
            Chain::shaped(slsa, |_| {}, |_| {})
        }

        /// `att` and `statement` edit the attestation manifest and its SLSA statement
        /// before they are hashed into the index.
        fn shaped(
            slsa: bool,
            att: impl FnOnce(&mut Value),
            statement: impl FnOnce(&mut Value),
        ) -> Chain {
            let image = digest(b"image manifest");
            let predicate = if slsa {
                "https://slsa.dev/provenance/v1"
            } else {
                "https://spdx.dev/Document"
            };
            let mut st = json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "registry.example/app", "digest": {"sha256": image["sha256:".len()..]}}],
                "predicateType": predicate,
                "predicate": {}
            });
            statement(&mut st);
            let st = serde_json::to_vec(&st).unwrap();
            let mut a = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.docker.attestation.manifest.v1+json",
                "config": empty_config(),
                "layers": [{
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": digest(&st),
                    "size": st.len(),
                    "annotations": {PREDICATE_TYPE_ANNOTATION: predicate}
                }],
                "subject": {"mediaType": OCI_MANIFEST, "digest": image, "size": 14}
            });
            att(&mut a);
            let a = serde_json::to_vec(&a).unwrap();
            let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": image, "size": 14,
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": OCI_MANIFEST, "digest": digest(&a), "size": a.len(), "annotations": {
                    ATTESTATION_REFERENCE_TYPE: "attestation-manifest",
                    ATTESTATION_REFERENCE_DIGEST: image}}
            ]});
            let index = serde_json::to_vec(&index).unwrap();
            let mut c = Chain {
                chain: gw::AttestationChain {
                    root: digest(&index),
                    image_manifest: image,
                    attestation_manifest: digest(&a),
                    ..Default::default()
                },
                att_size: a.len(),
            };
            c.add(&index);
            c.add(&a);
            c.add(&st);
            c
        }

        fn add(&mut self, data: &[u8]) -> String {
            add_blob(&mut self.chain, data.to_vec())
        }

        fn sign(&mut self, artifact_type: &str, subject: &str, bundle: &[u8]) -> String {
            let subject = subject.to_string();
            self.sign_shaped(bundle, |m| {
                m["artifactType"] = json!(artifact_type);
                m["subject"]["digest"] = json!(subject);
            })
        }

        /// A bundle referrer of the attestation manifest, edited by `shape` before it is
        /// hashed.
        fn sign_shaped(&mut self, bundle: &[u8], shape: impl FnOnce(&mut Value)) -> String {
            let layer = self.add(bundle);
            let mut m = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": BUNDLE_ARTIFACT_TYPE,
                "config": empty_config(),
                "layers": [{"mediaType": BUNDLE_ARTIFACT_TYPE, "digest": layer, "size": bundle.len()}],
                "subject": {"mediaType": OCI_MANIFEST, "digest": self.chain.attestation_manifest, "size": self.att_size}
            });
            shape(&mut m);
            self.push_signature(&m)
        }

        fn push_signature(&mut self, m: &Value) -> String {
            let d = self.add(&serde_json::to_vec(m).unwrap());
            self.chain.signature_manifests.push(d.clone());
            d
        }

        /// A cosign legacy signature referrer whose simplesigning layer is `payload`.
        fn sign_legacy(&mut self, subject: &str, payload: &[u8]) -> String {
            let layer = self.add(payload);
            let m = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": COSIGN_ARTIFACT_TYPE,
                "config": empty_config(),
                "layers": [{"mediaType": SIMPLESIGNING_MEDIA_TYPE,
                            "digest": layer, "size": payload.len()}],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": self.att_size}
            });
            self.push_signature(&m)
        }
    }

    fn vector(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/testdata/signed-chain/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// The kit-signed chain of testdata/signed-chain, and the roots it verifies under;
    /// `signature` edits the signature manifest (which nothing signs) first.
    fn signed_chain_with(
        signature: impl FnOnce(&mut Value),
    ) -> (gw::AttestationChain, Vec<SigstoreRoot>) {
        let mut c = Chain {
            chain: gw::AttestationChain::default(),
            att_size: 0,
        };
        c.chain.root = c.add(&vector("index.json"));
        c.chain.attestation_manifest = c.add(&vector("attestation.json"));
        c.add(&vector("provenance.json"));
        c.add(&vector("bundle.json"));
        let mut m: Value = serde_json::from_slice(&vector("signature-manifest.json")).unwrap();
        signature(&mut m);
        c.push_signature(&m);
        c.chain.image_manifest = String::from_utf8(vector("image-digest"))
            .unwrap()
            .trim()
            .to_string();
        let root = String::from_utf8(vector("trusted_root.json")).unwrap();
        (
            c.chain,
            vec![SigstoreRoot::from_json("kit", &root).unwrap()],
        )
    }

    fn signed_chain() -> (gw::AttestationChain, Vec<SigstoreRoot>) {
        signed_chain_with(|_| {})
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
        ImageVerifier::new(SigstoreRoot::embedded().unwrap())
    }

    #[test]
    fn an_unsigned_image_has_no_signatures() {
        let c = Chain::new(true);
        assert_eq!(verifier().check(&c.chain), Ok(Checked::default()));
        // Nothing is signed, so an attestation manifest that binds nothing harms nothing.
        let c = Chain::shaped(
            true,
            |a| {
                a.as_object_mut()
                    .unwrap()
                    .remove("subject")
                    .map(drop)
                    .unwrap()
            },
            |_| {},
        );
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
        c.sign("application/vnd.example", &att, b"{}");
        let mut v = verifier();
        let got = v.check(&c.chain).unwrap();
        assert!(got.signatures.is_empty());
        let r = &got.rejected;
        assert_eq!(r.len(), 4, "{r:?}");
        assert!(r[0].contains("not the attestation manifest"), "{}", r[0]);
        assert!(r[1].contains("not of the attestation manifest"), "{}", r[1]);
        assert!(r[2].contains("does not verify"), "{}", r[2]);
        assert!(
            r[3].contains("has artifact type \"application/vnd.example\""),
            "{}",
            r[3]
        );
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

    /// An edit of a manifest (or statement) before it is hashed.
    type Edit = fn(&mut Value);

    /// The one rejection of a chain signed once (with a bundle that would not verify
    /// anyway), and how many signatures were verified to get it.
    fn rejection(mut c: Chain) -> (String, usize) {
        let att = c.chain.attestation_manifest.clone();
        c.sign(BUNDLE_ARTIFACT_TYPE, &att, b"{}");
        let mut v = verifier();
        let got = v.check(&c.chain).unwrap();
        assert!(got.signatures.is_empty());
        assert_eq!(got.rejected.len(), 1, "{:?}", got.rejected);
        (got.rejected[0].clone(), v.verifications)
    }

    #[test]
    fn the_attestation_manifest_must_name_the_image_by_digest_media_type_and_size() {
        let edits: [(Edit, &str); 5] = [
            (
                |a| drop(a.as_object_mut().unwrap().remove("subject")),
                "which has no subject",
            ),
            (
                |a| a["subject"]["digest"] = json!(format!("sha256:{}", "0".repeat(64))),
                "which has subject sha256:0000",
            ),
            (
                |a| a["subject"]["mediaType"] = json!("application/vnd.oci.image.config.v1+json"),
                "which has subject media type \"application/vnd.oci.image.config.v1+json\", not an OCI image manifest or index",
            ),
            (
                |a| a["subject"]["mediaType"] = json!("application/vnd.oci.image.index.v1+json"),
                "but the image index lists the image manifest as \"application/vnd.oci.image.manifest.v1+json\"",
            ),
            (
                |a| a["subject"]["size"] = json!(15),
                "which has subject size 15, but the image manifest is 14 bytes",
            ),
        ];
        for (edit, want) in edits {
            let (why, verified) = rejection(Chain::shaped(true, edit, |_| {}));
            assert!(
                why.starts_with("signature sha256:") && why.contains(want),
                "want {want:?} in {why}"
            );
            // Nothing is verified over an attestation manifest that does not bind.
            assert_eq!(verified, 0, "{why}");
        }
    }

    #[test]
    fn the_provenance_statement_must_name_the_image() {
        let (why, verified) = rejection(Chain::shaped(
            true,
            |_| {},
            |st| {
                st["subject"][0]["digest"]["sha256"] = json!("0".repeat(64));
            },
        ));
        assert!(
            why.contains("whose statement's subject does not name the image manifest sha256:"),
            "{why}"
        );
        assert_eq!(verified, 0);
        let (why, _) = rejection(Chain::shaped(true, |_| {}, |st| st["subject"] = json!([])));
        assert!(why.contains("does not name the image manifest"), "{why}");
        let (why, _) = rejection(Chain::shaped(
            true,
            |_| {},
            |st| {
                st["predicateType"] = json!("https://slsa.dev/provenance/v0.2");
            },
        ));
        assert!(
            why.contains("but its statement says \"https://slsa.dev/provenance/v0.2\""),
            "{why}"
        );
        let (why, _) = rejection(Chain::shaped(true, |_| {}, |st| *st = json!("a string")));
        assert!(why.contains("which is not an in-toto statement"), "{why}");
        // Only exactly the SLSA types Docker's verifier knows count as provenance.
        let (why, _) = rejection(Chain::shaped(
            true,
            |a| {
                a["layers"][0]["annotations"][PREDICATE_TYPE_ANNOTATION] =
                    json!("https://slsa.dev/provenance/v9");
            },
            |_| {},
        ));
        assert!(why.contains("holds no SLSA provenance"), "{why}");

        // The kit-signed chain without its statement (a daemon that did not return it):
        // the signature itself verifies, and still does not count.
        let (mut chain, roots) = signed_chain();
        let provenance = digest(&vector("provenance.json"));
        chain.blobs.remove(&provenance);
        let got = ImageVerifier::new(roots).check(&chain).unwrap();
        assert!(got.signatures.is_empty());
        assert!(
            got.rejected[0].contains(&format!(
                "names SLSA provenance {provenance}, which the attestation chain lacks"
            )),
            "{:?}",
            got.rejected
        );
    }

    #[test]
    fn the_signature_manifest_must_name_the_attestation_manifest_and_hold_one_layer() {
        let edits: [(Edit, &str); 6] = [
            (
                |m| drop(m.as_object_mut().unwrap().remove("subject")),
                "has no subject",
            ),
            (
                |m| m["subject"]["mediaType"] = json!("application/vnd.oci.image.index.v1+json"),
                "but the image index lists the attestation manifest as \"application/vnd.oci.image.manifest.v1+json\"",
            ),
            (
                |m| {
                    m["subject"]["mediaType"] =
                        json!("application/vnd.docker.distribution.manifest.v2+json")
                },
                "not an OCI image manifest or index",
            ),
            (
                |m| m["subject"]["size"] = json!(1),
                "has subject size 1, but the attestation manifest sha256:",
            ),
            (
                |m| {
                    let layer = m["layers"][0].clone();
                    m["layers"] = json!([layer, {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2}]);
                },
                "has 2 layers, not exactly one",
            ),
            (|m| m["layers"] = json!([]), "has 0 layers, not exactly one"),
        ];
        for (edit, want) in edits {
            // The kit's genuine signature, in a referrer that does not bind it.
            let (chain, roots) = signed_chain_with(edit);
            let mut v = ImageVerifier::new(roots);
            let got = v.check(&chain).unwrap();
            assert!(got.signatures.is_empty(), "{want}: {got:?}");
            let why = &got.rejected[0];
            assert!(
                why.starts_with("signature sha256:") && why.contains(want),
                "want {want:?} in {why}"
            );
            assert_eq!(v.verifications, 0, "{why}");
        }
        let mut c = Chain::new(true);
        c.push_signature(&json!({"schemaVersion": 2, "layers": "none"}));
        let got = verifier().check(&c.chain).unwrap();
        assert!(
            got.rejected[0].contains("is not an OCI image manifest"),
            "{got:?}"
        );
    }

    #[test]
    fn at_most_the_bound_of_signature_manifests_is_verified_and_the_rest_are_named() {
        let mut c = Chain::new(true);
        let att = c.chain.attestation_manifest.clone();
        let sigs: Vec<String> = (0..MAX_SIGNATURE_MANIFESTS + 4)
            .map(|i| {
                c.sign(
                    BUNDLE_ARTIFACT_TYPE,
                    &att,
                    format!("{{\"n\": {i}}}").as_bytes(),
                )
            })
            .collect();
        // The same referrer listed twice is one signature manifest.
        c.chain.signature_manifests.push(sigs[0].clone());
        let mut v = verifier();
        let got = v.check(&c.chain).unwrap();
        assert!(got.signatures.is_empty());
        assert_eq!(v.verifications, MAX_SIGNATURE_MANIFESTS);
        assert_eq!(
            got.rejected.len(),
            MAX_SIGNATURE_MANIFESTS + 1,
            "{:?}",
            got.rejected
        );
        let last = got.rejected.last().unwrap();
        let beyond = &sigs[MAX_SIGNATURE_MANIFESTS..];
        assert!(
            last.starts_with(&format!(
                "signature {}, {}, {} and 1 more not verified",
                beyond[0], beyond[1], beyond[2]
            )) && last.contains(&format!(
                "has more than {MAX_SIGNATURE_MANIFESTS} signature manifests"
            )),
            "{last}"
        );
        assert!(!last.contains(&beyond[3]), "{last}");
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

        // The index lists the attestation manifest with a size its blob does not have.
        let mut c = Chain::new(true);
        let root = c.chain.root.clone();
        let mut index: Value = serde_json::from_slice(&c.chain.blobs[&root].data).unwrap();
        index["manifests"][1]["size"] = json!(c.att_size + 1);
        c.chain.blobs.remove(&root);
        c.chain.root = c.add(&serde_json::to_vec(&index).unwrap());
        let err = verifier().check(&c.chain).unwrap_err();
        assert!(err.contains("with size"), "{err}");

        let mut c = Chain::shaped(true, |a| *a = json!({"layers": 1}), |_| {});
        let att = c.chain.attestation_manifest.clone();
        c.sign(BUNDLE_ARTIFACT_TYPE, &att, b"{}");
        let err = verifier().check(&c.chain).unwrap_err();
        assert!(
            err.contains(&format!(
                "attestation manifest {att} is not an OCI image manifest"
            )),
            "{err}"
        );
    }
}
