//! Policy loading with imports and data files (src/policy/load.rs) and compiling
//! (PolicySet::compile, regorus): a policy is loaded and compiled or refused with an error,
//! never a panic; a compiled one evaluates a source, and its caps pass, to a decision or an
//! error.
//!
//! Segment 0 is `Dockerfile.rego`; every further segment is a file, its first line the
//! path, the rest its bytes (imported modules, `load_json` data, keys).
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use verified_frontend::policy::PolicySet;
use verified_frontend::policy::load::read_policy;
use verified_frontend_fuzz::{MemDir, block_on, segments};

fuzz_target!(|data: &[u8]| {
    let segs = segments(data);
    let mut files = HashMap::from([("Dockerfile.rego".to_string(), segs[0].to_vec())]);
    for s in &segs[1..] {
        let (path, body) = match s.iter().position(|&b| b == b'\n') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (&s[..], &[][..]),
        };
        files.insert(String::from_utf8_lossy(path).into_owned(), body.to_vec());
    }
    let dir = MemDir(files);
    let Ok(Some(src)) = block_on(read_policy(
        &dir,
        "Dockerfile.rego",
        "Dockerfile.rego".into(),
    )) else {
        return;
    };
    assert!(
        !src.modules.is_empty(),
        "a loaded policy has its main module"
    );
    let Ok(mut set) = PolicySet::compile(vec![src]) else {
        return;
    };
    let _ = set.needs();
    let env = json!({"filename": "Dockerfile", "depth": 0});
    let _ = set.caps(&env);
    let input = json!({"env": env, "image": {
        "ref": "docker.io/library/alpine:3.20", "host": "docker.io", "repo": "alpine",
        "fullRepo": "docker.io/library/alpine", "tag": "3.20", "platform": "linux/amd64",
        "os": "linux", "arch": "amd64", "isCanonical": false, "hasProvenance": false,
        "signatures": []}});
    if let Ok(d) = set.evaluate(&input) {
        assert!(d.allow || !d.policy.is_empty(), "a denial names its policy");
    }
});
