//! The kit-signed attestation chain of testdata/signed-chain (and its cosign legacy twin in
//! testdata/signed-chain-legacy), as BuildKit would return it. Shared by integration tests
//! and benchmarks (`#[path]`), which cannot reach the library's own unit-test helpers.

use std::path::Path;

use verified_frontend::proto::gw;
use verified_frontend::verify::chain::add_blob;
use verified_frontend::verify::trust::SigstoreRoot;

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The index and attestation manifest, no signature yet.
pub fn unsigned_chain() -> gw::AttestationChain {
    let mut chain = gw::AttestationChain::default();
    chain.root = add_blob(&mut chain, read("testdata/signed-chain/index.json"));
    chain.attestation_manifest =
        add_blob(&mut chain, read("testdata/signed-chain/attestation.json"));
    add_blob(&mut chain, read("testdata/signed-chain/provenance.json"));
    chain.image_manifest = String::from_utf8(read("testdata/signed-chain/image-digest"))
        .unwrap()
        .trim()
        .to_string();
    chain
}

/// With the cosign v3 bundle referrer.
pub fn signed_chain() -> gw::AttestationChain {
    let mut chain = unsigned_chain();
    add_blob(&mut chain, read("testdata/signed-chain/bundle.json"));
    let sig = add_blob(
        &mut chain,
        read("testdata/signed-chain/signature-manifest.json"),
    );
    chain.signature_manifests = vec![sig];
    chain
}

/// The kit root a vector directory was signed under (its keys were discarded).
pub fn kit_roots(dir: &str) -> Vec<SigstoreRoot> {
    let text = String::from_utf8(read(&format!("{dir}/trusted_root.json"))).unwrap();
    vec![SigstoreRoot::from_json("kit", &text).unwrap()]
}
