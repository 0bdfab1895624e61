//! The policy input builder (src/policy/input.rs) over arbitrary sources and resolve
//! responses (image configs, attestation chains, git objects): a document or an error,
//! never a panic, and never a claimed signature.
//!
//! Segment 0: the source op (identifier, then `key=value` attrs, `platform=os/arch` and
//! `opt:key=value` build options). Segment 1: the facts' kind (image, git, http, blob,
//! local or none) and `key=value` fields. Then, for an image, the config and a chain
//! template; for git, the commit and tag objects (ids computed unless given).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use verified_frontend::model::Facts;
use verified_frontend::policy::{gitobj, input};
use verified_frontend::proto::pb;
use verified_frontend::sources::Source;
use verified_frontend_fuzz::{Template, segments};

fn lines(seg: &[u8]) -> (String, BTreeMap<String, String>) {
    let text = String::from_utf8_lossy(seg);
    let mut it = text.lines();
    let first = it.next().unwrap_or_default().to_string();
    let kv = it
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (first, kv)
}

fn platform(p: &str) -> pb::Platform {
    let mut parts = p.split('/');
    pb::Platform {
        os: parts.next().unwrap_or_default().into(),
        architecture: parts.next().unwrap_or_default().into(),
        variant: parts.next().unwrap_or_default().into(),
        ..Default::default()
    }
}

fn facts(segs: &[&[u8]]) -> Option<Facts> {
    let (kind, f) = lines(segs.get(1)?);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let seg = |i: usize| segs.get(i).filter(|s| !s.is_empty()).map(|s| s.to_vec());
    Some(match kind.as_str() {
        "image" => Facts::Image {
            digest: get("digest"),
            config: seg(2),
            chain: segs
                .get(3)
                .map(|h| Template::from_segments(h, segs.get(4..).unwrap_or_default()).chain()),
            tag_digest: f.get("tag_digest").cloned(),
        },
        "git" => {
            let (commit_object, tag_object) = (seg(2), seg(3));
            let commit = f.get("commit").cloned().unwrap_or_else(|| {
                gitobj::object_id("commit", commit_object.as_deref().unwrap_or_default())
            });
            let checksum = f
                .get("checksum")
                .cloned()
                .unwrap_or_else(|| match &tag_object {
                    Some(t) => gitobj::object_id("tag", t),
                    None => commit.clone(),
                });
            Facts::Git {
                checksum,
                commit,
                reference: get("reference"),
                commit_object,
                tag_object,
            }
        }
        "http" => Facts::Http {
            checksum: get("checksum"),
            filename: get("filename"),
        },
        "blob" => Facts::Blob {
            digest: get("digest"),
        },
        "local" => Facts::Local { name: get("name") },
        _ => return None,
    })
}

fuzz_target!(|data: &[u8]| {
    let segs = segments(data);
    let (identifier, kv) = lines(segs[0]);
    let mut op = pb::SourceOp {
        identifier,
        attrs: Default::default(),
    };
    let mut opts = BTreeMap::new();
    let mut plat = None;
    for (k, v) in kv {
        if k == "platform" {
            plat = Some(platform(&v));
        } else if let Some(o) = k.strip_prefix("opt:") {
            opts.insert(o.to_string(), v);
        } else {
            op.attrs.insert(k, v);
        }
    }
    let Ok(source) = Source::parse(&op) else {
        return;
    };
    let env = input::env(&opts);
    let facts = facts(&segs);
    let Ok(doc) = input::document(&env, &source, &op, plat.as_ref(), facts.as_ref()) else {
        return;
    };
    assert_eq!(doc["env"], env);
    if let Some(sigs) = doc.get("image").and_then(|i| i.get("signatures")) {
        assert_eq!(
            sigs,
            &serde_json::json!([]),
            "signatures claimed without verification"
        );
    }
    let _ = serde_json::to_vec(&doc).expect("the document serializes");
});
