//! Image references (src/sources/image_ref.rs), source identifiers (src/sources) and the
//! `verify` subcommand's image argument (src/consumer/store.rs): parsed or refused, never a
//! panic; a parsed reference prints back as written, and normalizing is idempotent. Docker's
//! grammar as the frontend compiles it reads every ASCII string as oci-spec's does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verified_frontend::consumer::store::ImageSpec;
use verified_frontend::proto::pb;
use verified_frontend::sources::image_ref::{familiar_name, validate_digest};
use verified_frontend::sources::reference_grammar;
use verified_frontend::sources::{ImageRef, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if s.is_ascii() {
        let theirs = <oci_spec::distribution::Reference as std::str::FromStr>::from_str(s);
        assert_eq!(
            reference_grammar::parse(s),
            theirs,
            "{s:?} is read otherwise"
        );
    }
    if let Ok(r) = ImageRef::parse(s) {
        assert_eq!(r.to_string(), s, "{r:?} prints back otherwise");
        if let Some(d) = &r.digest {
            assert!(validate_digest(d).is_ok(), "{d} accepted as a digest");
        }
        if let Ok((domain, path)) = r.domain_and_path() {
            let _ = familiar_name(&domain, &path);
        }
        let _ = r.without_digest().to_string();
    }
    if let Ok(n) = ImageRef::normalize(s) {
        let again = ImageRef::normalize(&n.to_string())
            .unwrap_or_else(|e| panic!("normalized {n} does not normalize again: {e}"));
        assert_eq!(again, n, "normalizing {s:?} twice differs");
        ImageRef::parse(&n.to_string())
            .unwrap_or_else(|e| panic!("normalized {n} does not parse: {e}"));
    }
    let _ = validate_digest(s);
    let _ = ImageSpec::parse(s);
    for scheme in [
        "docker-image://",
        "oci-layout+blob://",
        "git://",
        "https://",
        "",
    ] {
        let op = pb::SourceOp {
            identifier: format!("{scheme}{s}"),
            attrs: Default::default(),
        };
        if let Ok(src) = Source::parse(&op) {
            let _ = src.kind();
            let _ = src.to_string();
        }
    }
});
