//! The provenance reader (src/policy/provenance.rs) over arbitrary attestation chains and
//! statements: never a panic, provenance is only read from a statement whose subject is
//! the chain's image manifest, and what it yields names its predicate type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verified_frontend::policy::provenance::{from_chain, normalize};
use verified_frontend::verify::chain::{self, Statement};
use verified_frontend_fuzz::Template;

fuzz_target!(|data: &[u8]| {
    let t = Template::parse(data);
    let chain = t.chain();
    if let Ok(Some(p)) = from_chain(&chain) {
        let m = chain::attestation_manifest(&chain).expect("read once, reads again");
        let layer = chain::slsa_layer(&m).expect("provenance came from a SLSA layer");
        let data = chain::blob(&chain, layer.digest().as_ref()).expect("statement is there");
        let s: Statement = serde_json::from_slice(data).expect("statement parses");
        assert!(
            s.names(&chain.image_manifest),
            "provenance of another image accepted"
        );
        assert!(p.fields.contains_key("predicateType"), "{p:?}");
    }
    for b in &t.blobs {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(b) {
            assert!(normalize(&v).is_object());
        }
    }
});
