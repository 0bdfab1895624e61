//! The OCI layout reader, alone and behind the store's bounds.

use std::path::Path;

use oci_spec::image::Descriptor;
use serde_json::json;

use super::document::{ImageRoot, Read, ReadError, RootDocument, sha256_digest};
use super::layout::*;
use super::limits::{Budget, Limits};
use super::store::{ImageSpec, Store};

fn root_of(dir: &Path, tag: Option<&str>, digest: Option<&str>) -> Read<ImageRoot> {
    root(dir, tag, digest, &Budget::new(Limits::default()))
}

fn referrers_of(dir: &Path, subject: &str) -> Read<Vec<Descriptor>> {
    let budget = Budget::new(Limits::default());
    referrers(dir, subject, &Scanned::default(), &budget)
}

/// Writes `data` among the layout's blobs; its descriptor as JSON.
fn put(dir: &Path, media_type: &str, data: &[u8]) -> serde_json::Value {
    let digest = sha256_digest(data);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), data).unwrap();
    json!({"mediaType": media_type, "digest": digest, "size": data.len()})
}

fn manifest(subject: Option<&serde_json::Value>) -> Vec<u8> {
    let config = json!({"mediaType": "application/vnd.oci.empty.v1+json",
        "digest": sha256_digest(b"{}"), "size": 2});
    let mut m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": []});
    if let Some(s) = subject {
        m["subject"] = s.clone();
    }
    serde_json::to_vec(&m).unwrap()
}

/// A layout with an image index tagged v1, and two referrers of its first manifest:
/// one listed in index.json with its subject, one only among the blobs.
fn layout() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let image = put(
        d,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest(None),
    );
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [image]})).unwrap();
    let mut root = put(d, "application/vnd.oci.image.index.v1+json", &index);
    root["annotations"] = json!({REF_NAME: "v1"});
    let listed = put(
        d,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest(Some(&image)),
    );
    let mut listed_entry = listed.clone();
    listed_entry["subject"] = image.clone();
    put(
        d,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest(Some(&json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": image["digest"], "size": image["size"], "annotations": {"x": "scanned"}}))),
    );
    let top = json!({"schemaVersion": 2, "manifests": [root, listed_entry]});
    std::fs::write(d.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    let digest = |v: &serde_json::Value| v["digest"].as_str().unwrap().to_string();
    (dir, digest(&root), digest(&image))
}

#[test]
fn the_image_is_found_by_tag_or_alone_and_referrers_are_not_images() {
    let (dir, root_digest, _) = layout();
    for tag in [Some("v1"), None] {
        let r = root_of(dir.path(), tag, None).unwrap();
        assert_eq!(r.digest, root_digest);
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert!(matches!(r.document, RootDocument::Index(_)));
    }
    let by_digest = root_of(dir.path(), None, Some(&root_digest)).unwrap();
    assert_eq!(
        by_digest.tag, None,
        "named by digest, the tag does not count"
    );
    let e = root_of(dir.path(), Some("v2"), None).err().unwrap();
    assert!(
        e.to_string().contains("index.json has no image tagged v2"),
        "{e}"
    );
}

#[test]
fn referrers_come_from_index_json_and_the_blobs_once_each() {
    let (dir, _, image) = layout();
    let found = referrers_of(dir.path(), &image).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|d| d.size() > 0));
    assert!(
        referrers_of(dir.path(), &sha256_digest(b"other"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_malformed_index_json_is_bad_input_naming_why() {
    let (dir, ..) = layout();
    let index_json = dir.path().join("index.json");
    std::fs::write(&index_json, "{not json").unwrap();
    let e = root_of(dir.path(), None, None).err().unwrap();
    assert!(
        matches!(&e, ReadError::Malformed(m) if m.contains("index.json: not JSON")),
        "{e}"
    );
    // A descriptor without its size is not a descriptor.
    std::fs::write(
        &index_json,
        format!(
            r#"{{"manifests": [{{"mediaType": "x", "digest": "{}"}}]}}"#,
            sha256_digest(b"x")
        ),
    )
    .unwrap();
    let e = root_of(dir.path(), None, None).err().unwrap();
    assert!(
        matches!(&e, ReadError::Malformed(m) if m.contains("not an image index") && m.contains("size")),
        "{e}"
    );
}

/// The layout as `verify` opens it, under `limits`.
fn store(dir: &Path, limits: Limits) -> Store {
    let spec = ImageSpec::Layout {
        dir: dir.to_path_buf(),
        tag: None,
        digest: None,
    };
    Store::open(&spec).unwrap().with_limits(limits)
}

fn descriptor(v: &serde_json::Value) -> Descriptor {
    serde_json::from_value(v.clone()).unwrap()
}

fn spec(dir: &Path) -> ImageSpec {
    ImageSpec::Layout {
        dir: dir.to_path_buf(),
        tag: Some("v1".into()),
        digest: None,
    }
}

fn unreadable<T>(r: Read<T>) -> String {
    match r {
        Err(ReadError::Unreadable(m)) => m,
        Err(e) => panic!("not refused as unreadable: {e:?}"),
        Ok(_) => panic!("not refused"),
    }
}

#[test]
fn a_manifest_past_the_size_bound_is_refused_naming_the_bound() {
    let (dir, ..) = layout();
    let d = dir.path();
    let big = put(
        d,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest(None),
    );
    let size = big["size"].as_u64().unwrap();
    let limits = Limits {
        manifest: size - 1,
        ..Limits::default()
    };
    let s = store(d, limits);
    let m = unreadable(futures::executor::block_on(
        s.manifest("signature manifest", &descriptor(&big)),
    ));
    assert!(
        m.contains(&format!(
            "is {size} bytes, more than the {} a manifest may have",
            size - 1
        )),
        "{m}"
    );
    assert_eq!(s.budget().used(), 0, "refused before it was read");
    // index.json is held to the same bound.
    let m = unreadable(futures::executor::block_on(
        store(
            d,
            Limits {
                manifest: 10,
                ..Limits::default()
            },
        )
        .root(&spec(d)),
    ));
    assert!(
        m.ends_with("index.json is larger than the 10 bytes a manifest may have"),
        "{m}"
    );
}

#[test]
fn lists_past_the_entry_bound_are_refused_naming_the_bound() {
    let (dir, _, image) = layout();
    let d = dir.path();
    let limits = Limits {
        entries: 1,
        ..Limits::default()
    };
    let m = unreadable(futures::executor::block_on(store(d, limits).root(&spec(d))));
    assert!(
        m.ends_with("index.json lists 2 manifests, more than the 1 an index or manifest may list"),
        "{m}"
    );
    // A manifest's layers count as entries too.
    let layer =
        json!({"mediaType": "application/octet-stream", "digest": sha256_digest(b""), "size": 0});
    let mut m2: serde_json::Value = serde_json::from_slice(&manifest(None)).unwrap();
    m2["layers"] = json!([layer, layer]);
    let two = put(
        d,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&m2).unwrap(),
    );
    let limits = Limits {
        entries: 1,
        ..Limits::default()
    };
    let m = unreadable(futures::executor::block_on(
        store(d, limits).manifest("attestation manifest", &descriptor(&two)),
    ));
    assert!(m.contains("lists 2 layers, more than the 1"), "{m}");
    let referrers = futures::executor::block_on(store(d, Limits::default()).referrers(&image));
    assert_eq!(referrers.unwrap().len(), 2);
}

#[test]
fn referrers_past_the_signature_manifest_bound_are_refused_naming_the_bound() {
    let (dir, _, image) = layout();
    let limits = Limits {
        referrers: 1,
        ..Limits::default()
    };
    let m = unreadable(futures::executor::block_on(
        store(dir.path(), limits).referrers(&image),
    ));
    assert_eq!(
        m,
        format!("{image} has 2 referrers, more than the 1 read as signature manifests")
    );
}

#[test]
fn every_read_counts_against_one_budget_and_the_blobs_are_scanned_once() {
    let (dir, _, image) = layout();
    let d = dir.path();
    let s = store(d, Limits::default());
    futures::executor::block_on(s.root(&spec(d))).unwrap();
    let index_json = std::fs::metadata(d.join("index.json")).unwrap().len();
    let after_root = s.budget().used();
    assert!(after_root > index_json, "index.json and the root index");
    futures::executor::block_on(s.referrers(&image)).unwrap();
    let after_scan = s.budget().used();
    futures::executor::block_on(s.referrers(&image)).unwrap();
    assert_eq!(
        s.budget().used() - after_scan,
        index_json,
        "the second platform reads index.json again, not every blob"
    );
    // The same reads under a budget that ends during the scan.
    let s = store(
        d,
        Limits {
            total: after_scan - 1,
            ..Limits::default()
        },
    );
    futures::executor::block_on(s.root(&spec(d))).unwrap();
    let m = unreadable(futures::executor::block_on(s.referrers(&image)));
    assert!(
        m.contains(&format!(
            "would take this verify past {} bytes read, the bound on all it reads",
            after_scan - 1
        )),
        "{m}"
    );
}

#[test]
fn a_layout_blob_larger_than_its_descriptor_is_an_integrity_failure() {
    let (dir, ..) = layout();
    let d = dir.path();
    let mut desc = put(d, "application/octet-stream", b"0123456789");
    desc["size"] = json!(4);
    let e = futures::executor::block_on(
        store(d, Limits::default()).blob("statement", &descriptor(&desc)),
    )
    .unwrap_err();
    assert!(
        matches!(&e, ReadError::Integrity(m) if m.ends_with("is larger than the 4 bytes its descriptor says")),
        "{e}"
    );
}
