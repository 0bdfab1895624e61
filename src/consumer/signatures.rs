//! Signatures over the attestation manifest: its referrers read into an attestation chain
//! as BuildKit would hand it to the frontend, checked by the frontend's own verifier.

use oci_spec::image::Descriptor;
use serde_json::Value;

use super::document::{ImageRoot, parse_manifest};
use super::rows::PlatformRows;
use super::store::Store;
use crate::proto::gw;
use crate::verify::chain::{BUNDLE_ARTIFACT_TYPE, SIMPLESIGNING_MEDIA_TYPE, add_blob};
use crate::verify::image::Checked;

/// What the chain is built from: the platform's image and attestation manifests, and the
/// statement blobs read (each checked against its digest when read).
pub(super) struct Attested<'a> {
    pub image: &'a str,
    pub attestation: &'a str,
    pub attestation_data: &'a [u8],
    pub statements: Vec<&'a [u8]>,
}

/// The attestation chain with every signature manifest found among the referrers, and
/// why the others could not be read.
pub(super) async fn chain(
    store: &Store,
    root: &ImageRoot,
    a: &Attested<'_>,
) -> (gw::AttestationChain, Vec<String>) {
    let mut chain = gw::AttestationChain {
        root: root.digest.clone(),
        image_manifest: a.image.to_string(),
        attestation_manifest: a.attestation.to_string(),
        signature_manifests: vec![],
        blobs: Default::default(),
    };
    add_blob(&mut chain, root.data.clone());
    add_blob(&mut chain, a.attestation_data.to_vec());
    for s in &a.statements {
        add_blob(&mut chain, s.to_vec());
    }
    let mut unreadable = Vec::new();
    match store.referrers(a.attestation).await {
        Ok(found) => {
            for d in found {
                match signature_manifest(store, &d).await {
                    Ok(blobs) => {
                        chain.signature_manifests.push(d.digest().to_string());
                        for data in blobs {
                            add_blob(&mut chain, data);
                        }
                    }
                    Err(Some(why)) => unreadable.push(why),
                    Err(None) => {}
                }
            }
        }
        Err(e) => unreadable.push(format!(
            "cannot list the referrers of {}: {e}",
            a.attestation
        )),
    }
    (chain, unreadable)
}

/// A referrer: its manifest and bundle (or simplesigning payload) layers, checked.
/// `Err(None)`: not a signature (another kind of artifact); `Err(Some(why))`: a
/// signature that cannot be read.
async fn signature_manifest(store: &Store, d: &Descriptor) -> Result<Vec<Vec<u8>>, Option<String>> {
    let digest = d.digest().as_ref();
    let data = store
        .manifest("signature manifest", d)
        .await
        .map_err(|e| Some(e.to_string()))?;
    let m = parse_manifest("signature manifest", digest, &data).map_err(|e| Some(e.to_string()))?;
    let kind = match m.artifact_type() {
        Some(t) => t.to_string(),
        None => m.config().media_type().to_string(),
    };
    if !kind.contains("sigstore") && !kind.contains("cosign") {
        return Err(None);
    }
    let media_type = |l: &Descriptor| l.media_type().to_string();
    let bundles = m
        .layers()
        .iter()
        .filter(|l| media_type(l) == BUNDLE_ARTIFACT_TYPE)
        .count();
    if kind == BUNDLE_ARTIFACT_TYPE && bundles == 0 {
        return Err(Some(format!(
            "signature manifest {digest} has no bundle layer"
        )));
    }
    let mut out = vec![data.clone()];
    // The bundle layers, or a legacy cosign signature's simplesigning payload.
    for l in m.layers() {
        let what = match media_type(l).as_str() {
            BUNDLE_ARTIFACT_TYPE => "signature bundle",
            SIMPLESIGNING_MEDIA_TYPE => "signature payload",
            _ => continue,
        };
        let b = store
            .blob(what, l)
            .await
            .map_err(|e| Some(format!("signature {digest}: {e}")))?;
        out.push(b);
    }
    Ok(out)
}

/// The signature row: the verified signatures, and why the others were not accepted.
pub(super) fn signature_row(
    checked: Result<Checked, String>,
    unreadable: Vec<String>,
    required: bool,
    out: &mut PlatformRows,
) {
    let c = match checked {
        Ok(c) => c,
        Err(e) => return out.fail("signature", e),
    };
    let mut rejected = unreadable;
    rejected.extend(c.rejected);
    let verified: Vec<String> = c.signatures.iter().map(describe).collect();
    let mut detail = if verified.is_empty() {
        "no verified signature".to_string()
    } else {
        format!("verified: {}", verified.join("; "))
    };
    if !rejected.is_empty() {
        detail.push_str(&format!("; not accepted: {}", rejected.join("; ")));
    }
    if verified.is_empty() {
        if required {
            detail.push_str(" (--trusted-root requires one)");
            return out.fail("signature", detail);
        }
        // An unsigned image may pass; one whose signatures are there but none verifies was
        // tampered with or signed by someone the roots do not know, and never passes.
        if !rejected.is_empty() {
            detail.push_str(" (signatures are present and none verifies)");
            return out.fail("signature", detail);
        }
        detail.push_str(" (not required without --trusted-root)");
    }
    out.ok("signature", detail);
}

/// A verified signature (Buildx's `AttestationSignature`): its kind and signer.
fn describe(s: &Value) -> String {
    let signer = &s["signer"];
    format!(
        "{} signature by {} ({})",
        s["kind"].as_str().unwrap_or("?"),
        signer["subjectAlternativeName"].as_str().unwrap_or("?"),
        signer["issuer"].as_str().unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> PlatformRows {
        PlatformRows::new("linux/amd64".into())
    }

    #[test]
    fn signatures_are_required_only_with_a_trusted_root() {
        let none = || Ok(Checked::default());
        let mut out = rows();
        signature_row(none(), vec![], false, &mut out);
        signature_row(none(), vec![], true, &mut out);
        signature_row(Err("chain broken".into()), vec![], false, &mut out);
        let ok: Vec<bool> = out.rows.iter().map(|r| r.ok).collect();
        assert_eq!(ok, [true, false, false]);
        assert!(out.rows[1].detail.contains("requires one"));
    }

    #[test]
    fn a_signature_that_does_not_verify_fails_even_without_a_trusted_root() {
        let mut out = rows();
        let rejected = || {
            Ok(Checked {
                rejected: vec!["sha256:aa: does not verify".into()],
                ..Checked::default()
            })
        };
        signature_row(rejected(), vec![], false, &mut out);
        signature_row(
            Ok(Checked::default()),
            vec!["cannot read sha256:bb".into()],
            false,
            &mut out,
        );
        assert!(out.rows.iter().all(|r| !r.ok), "{:?}", out.rows);
        assert!(
            out.rows[0]
                .detail
                .contains("signatures are present and none verifies")
        );
    }
}
