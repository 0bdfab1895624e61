//! The image signature checks over arbitrary attestation chains (src/verify/image.rs,
//! image/binding.rs, chain.rs, legacy.rs, bundle.rs), as a registry could shape one: never a
//! panic, and a signature is only ever accepted for an attestation manifest that the chain's
//! index lists as the attestation of the image manifest and whose subject is that manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_spec::image::{ImageIndex, ImageManifest};
use verified_frontend::proto::gw;
use verified_frontend::verify::chain::{self, ATTESTATION_REFERENCE_DIGEST};
use verified_frontend::verify::image::{ImageVerifier, MAX_SIGNATURE_MANIFESTS};
use verified_frontend_fuzz::{Template, kit_roots};

fuzz_target!(|data: &[u8]| {
    let chain = Template::parse(data).chain();
    let Ok(checked) = ImageVerifier::new(kit_roots()).check(&chain) else {
        return;
    };
    assert!(checked.signatures.len() <= MAX_SIGNATURE_MANIFESTS);
    if !checked.signatures.is_empty() {
        bound_to_image(&chain);
    }
    let _ = chain::attestation_manifest(&chain);
});

/// What an accepted signature implies about the chain, checked apart from the verifier.
fn bound_to_image(chain: &gw::AttestationChain) {
    let blob = |d: &str| chain::blob(chain, d).expect("an accepted chain's blob is there");
    let index: ImageIndex = serde_json::from_slice(blob(&chain.root)).expect("root is an index");
    let listed = index.manifests().iter().any(|d| {
        d.digest().as_ref() == chain.attestation_manifest
            && d.annotations()
                .as_ref()
                .and_then(|a| a.get(ATTESTATION_REFERENCE_DIGEST))
                == Some(&chain.image_manifest)
    });
    assert!(
        listed,
        "signature accepted for an attestation the index does not list"
    );
    let att: ImageManifest =
        serde_json::from_slice(blob(&chain.attestation_manifest)).expect("attestation parses");
    let subject = att
        .subject()
        .as_ref()
        .expect("accepted attestation has a subject");
    assert_eq!(subject.digest().as_ref(), chain.image_manifest);
}
