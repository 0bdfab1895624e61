//! Raw git commit and tag objects (src/policy/gitobj.rs) and their signatures
//! (src/verify/git.rs): parsed or refused, never a panic. Segment 0 is the object, segment
//! 1 a key file (OpenPGP or SSH) to verify its signature with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verified_frontend::policy::gitobj;
use verified_frontend::verify::git;
use verified_frontend_fuzz::segments;

fuzz_target!(|data: &[u8]| {
    let segs = segments(data);
    let (object, keys) = (segs[0], segs.get(1).copied().unwrap_or_default());
    let id = gitobj::object_id("commit", object);
    assert!(gitobj::verify_id("commit", object, &id).is_ok());
    assert!(
        gitobj::verify_id("tag", object, &id).is_err(),
        "kinds hash apart"
    );
    let _ = gitobj::commit(object);
    let _ = gitobj::tag(object);
    for signed in [git::split_commit(object), git::split_tag(object)] {
        if let Some(sig) = &signed.signature {
            let _ = git::summary(sig);
        }
        if !keys.is_empty() && git::verify(&signed, keys) == Ok(true) {
            assert!(signed.signature.is_some(), "verified without a signature");
        }
    }
});
