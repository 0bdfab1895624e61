//! Signature verification cost, measured side by side in one run:
//!
//!     cargo bench --bench signatures
//!
//! - one image signature (kit-signed chain of testdata/signed-chain: chain checks, bundle
//!   parse, certificate chain, SCT, log inclusion proof, checkpoint, SET, TSA timestamp);
//! - the real docker/github-builder bundle of the vectors (public-good root);
//! - a build whose ten stages use the same signed image: verified once, then served from
//!   the per-build cache, against ten verifications without the cache;
//! - parsing the embedded trust roots (once per build that reads signatures).
//!
//! For comparison, the research notes cite about 1.3-2 s for one `cosign verify` (network
//! included; Kyverno and Connaisseur reports), 9.6 s in a slow case.

use std::time::Instant;

use verified_frontend::verify::bundle::attestation_signature;
use verified_frontend::verify::image::ImageVerifier;
use verified_frontend::verify::trust::SigstoreRoot;

#[path = "../tests/common/vectors.rs"]
mod vectors;
use vectors::{read, signed_chain};

fn kit_roots() -> Vec<SigstoreRoot> {
    vectors::kit_roots("testdata/signed-chain")
}

/// Median of `runs` timings of `f`, in ms.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[t.len() / 2]
}

fn main() {
    let chain = signed_chain();
    let runs = 101;

    // Warm-up, and a check that the benchmark measures a verification that succeeds.
    let ok = ImageVerifier::new(kit_roots()).check(&chain).unwrap();
    assert_eq!(ok.signatures.len(), 1, "{:?}", ok.rejected);

    let roots_ms = median_ms(21, || {
        SigstoreRoot::embedded().unwrap();
    });
    // A fresh verifier per run: no cache, each run verifies the bundle.
    let image_ms = median_ms(runs, || {
        let got = ImageVerifier::new(kit_roots()).check(&chain).unwrap();
        assert_eq!(got.signatures.len(), 1);
    });
    let root_parse_ms = median_ms(runs, || {
        let _ = kit_roots();
    });
    let embedded = SigstoreRoot::embedded().unwrap();
    let bundle =
        read("testdata/vectors/buildx-rego-examples/binfmt_linux-amd64.provenance.sigstore.json");
    let binfmt = "2bb181d540633bca67a3a8c852df3e99981fec346e07f827d3caf4bd203c2a5e";
    let real_ms = median_ms(runs, || {
        attestation_signature(&bundle, binfmt, &embedded).unwrap();
    });

    // Ten stages FROM the same signed image.
    let ten_cached_ms = median_ms(21, || {
        let mut v = ImageVerifier::new(kit_roots());
        for _ in 0..10 {
            v.check(&chain).unwrap();
        }
        assert_eq!(v.verifications, 1);
    });
    let ten_uncached_ms = median_ms(21, || {
        for _ in 0..10 {
            ImageVerifier::new(kit_roots()).check(&chain).unwrap();
        }
    });

    // The kit roots are parsed inside the per-image figure; subtract for the bundle alone.
    let bundle_only = image_ms - root_parse_ms;
    println!("signature verification (medians, one run, {runs} samples)");
    println!(
        "  image signature (chain + bundle, kit root)   {image_ms:8.3} ms   ({:.0}/s)",
        1e3 / image_ms
    );
    println!("    of which parsing the trusted root         {root_parse_ms:8.3} ms");
    println!(
        "    bundle verification alone                 {bundle_only:8.3} ms   ({:.0}/s)",
        1e3 / bundle_only
    );
    println!(
        "  real github-builder bundle (public-good)     {real_ms:8.3} ms   ({:.0}/s)",
        1e3 / real_ms
    );
    println!("  embedded roots parsed (once per build)       {roots_ms:8.3} ms");
    println!(
        "  10 stages, same image: cached {ten_cached_ms:.3} ms vs uncached {ten_uncached_ms:.3} ms ({:.1}x)",
        ten_uncached_ms / ten_cached_ms
    );
    println!(
        "  vs cosign verify ~2000 ms (research notes): {:.0}x less per signed image",
        2000.0 / image_ms
    );
}
