//! The policy input reference (docs/input-reference.md) is generated from what the input
//! builder produces for fully populated sources, so it cannot drift from the code: every
//! field the builder emits must be described in `policy::reference`, every description
//! must name a field the builder emits, and the committed file must equal the generated
//! one. `VF_UPDATE_REFERENCE=1 cargo test --test reference` rewrites the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use sha2::Digest;
use verified_frontend::model::Facts;
use verified_frontend::policy::{input, reference};
use verified_frontend::proto::{gw, pb};
use verified_frontend::sources::Source;
use verified_frontend::verify::chain::add_blob;
use verified_frontend::verify::image::ImageVerifier;

#[path = "common/vectors.rs"]
mod vectors;
use vectors::{kit_roots, read, signed_chain, unsigned_chain};

fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

fn doc(id: &str, attrs: &[(&str, &str)], facts: Facts) -> Value {
    let op = pb::SourceOp {
        identifier: id.into(),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let platform = pb::Platform {
        os: "linux".into(),
        architecture: "arm64".into(),
        variant: "v8".into(),
        ..Default::default()
    };
    let opts: BTreeMap<String, String> = [
        ("build-arg:VERSION", "1.2"),
        ("label:team", "core"),
        ("filename", "Dockerfile"),
        ("target", "release"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    input::document(
        &input::env(&opts),
        &Source::parse(&op).unwrap(),
        &op,
        Some(&platform),
        Some(&facts),
    )
    .unwrap()
}

/// An image with config, BuildKit provenance (a real v1 statement) and a verified signature
/// (the kit-signed vector), as the frontend gives it to a policy.
fn image_doc(provenance: &str) -> Value {
    let mut statement: Value =
        serde_json::from_slice(&read(&format!("testdata/provenance/{provenance}"))).unwrap();
    // Fields BuildKit fills only in some builds (a builder id, a remote build context).
    if statement["predicateType"] == "https://slsa.dev/provenance/v1" {
        statement["predicate"]["runDetails"]["builder"]["id"] = json!("https://ci.example/runner");
        statement["predicate"]["buildDefinition"]["externalParameters"]["configSource"] = json!({
            "uri": "https://github.com/example/app.git#refs/tags/v1",
            "digest": {"sha1": "3a63696139848ce36a0032a3352bbcac81627472"},
            "path": "Dockerfile"
        });
    }
    let statement = serde_json::to_vec(&statement).unwrap();
    let layer = digest(&statement);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": layer, "size": statement.len(),
                    "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}]
    }))
    .unwrap();
    let att = digest(&manifest);
    let blob = |data: Vec<u8>| gw::Blob {
        descriptor: None,
        data,
    };
    let chain = gw::AttestationChain {
        root: "sha256:root".into(),
        // The image manifest the provenance vector is about.
        image_manifest: "sha256:0e742de7fa50e182c83dce14360d0333712bbb938d97428e92c6e53c339fb426"
            .into(),
        attestation_manifest: att.clone(),
        signature_manifests: vec![],
        blobs: [(att, blob(manifest)), (layer, blob(statement))].into(),
    };
    let config = json!({
        "created": "2026-11-01T10:00:00Z",
        "config": {"Env": ["PATH=/bin"], "Labels": {"org.opencontainers.image.source": "https://github.com/example/app"},
                   "User": "app", "WorkingDir": "/app", "Volumes": {"/data": {}}}
    });
    let digest_ = format!("sha256:{}", "ab".repeat(32));
    let mut d = doc(
        &format!("docker-image://docker.io/library/alpine:3.20@{digest_}"),
        &[],
        Facts::Image {
            digest: digest_.clone(),
            config: Some(serde_json::to_vec(&config).unwrap()),
            chain: Some(chain),
            tag_digest: None,
        },
    );
    d["image"]["signatures"] = json!([signature(), legacy_signature()]);
    d
}

fn signature() -> Value {
    let mut v = ImageVerifier::new(kit_roots("testdata/signed-chain"));
    v.check(&signed_chain()).unwrap().signatures.remove(0)
}

/// The same attestation manifest signed the cosign legacy way (testdata/signed-chain-legacy):
/// a simplesigning payload layer carrying the signature, certificate and Rekor entry.
fn legacy_signature() -> Value {
    let mut chain = unsigned_chain();
    let att = chain.attestation_manifest.clone();
    let payload = read("testdata/signed-chain-legacy/payload.json");
    let annotations: Value =
        serde_json::from_slice(&read("testdata/signed-chain-legacy/annotations.json")).unwrap();
    let size = payload.len();
    let layer = add_blob(&mut chain, payload);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": layer, "size": size, "annotations": annotations}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": att, "size": 686}
    });
    let sig = add_blob(&mut chain, serde_json::to_vec(&manifest).unwrap());
    chain.signature_manifests = vec![sig];
    let mut v = ImageVerifier::new(kit_roots("testdata/signed-chain-legacy"));
    let checked = v.check(&chain).unwrap();
    assert!(checked.rejected.is_empty(), "{:?}", checked.rejected);
    checked.signatures[0].clone()
}

fn git_object_id(kind: &str, raw: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("{kind} {}\0", raw.len()));
    h.update(raw);
    hex::encode(h.finalize())
}

/// A branch with a subdirectory, its commit signed with OpenPGP and not fetched as a tag.
fn git_branch_doc() -> Value {
    let commit = read("testdata/git-signatures/commit-pgp");
    let commit_id = git_object_id("commit", &commit);
    doc(
        "git://github.com/example/app.git#main:docs",
        &[],
        Facts::Git {
            checksum: commit_id.clone(),
            commit: commit_id,
            reference: "refs/heads/main".into(),
            commit_object: Some(commit),
            tag_object: None,
        },
    )
}

/// A commit named by its id, over SSH with an scp-like remote.
fn git_commit_doc() -> Value {
    let commit = read("testdata/git-signatures/commit-unsigned");
    let commit_id = git_object_id("commit", &commit);
    doc(
        &format!("git://github.com/example/app.git#{commit_id}"),
        &[("git.fullurl", "git@github.com:example/app.git")],
        Facts::Git {
            checksum: commit_id.clone(),
            commit: commit_id.clone(),
            reference: commit_id,
            commit_object: Some(commit),
            tag_object: None,
        },
    )
}

fn git_doc(tag_file: &str) -> Value {
    let commit = read("testdata/git-signatures/commit-ssh");
    let tag = read(&format!("testdata/git-signatures/{tag_file}"));
    let id = |kind: &str, raw: &[u8]| {
        let mut h = sha1::Sha1::new();
        h.update(format!("{kind} {}\0", raw.len()));
        h.update(raw);
        hex::encode(h.finalize())
    };
    let tag_id = id("tag", &tag);
    let commit_id = id("commit", &commit);
    doc(
        "git://github.com/example/app.git#v1",
        &[],
        Facts::Git {
            checksum: tag_id,
            commit: commit_id,
            reference: "refs/tags/v1".into(),
            commit_object: Some(commit),
            tag_object: Some(tag),
        },
    )
}

fn http_doc() -> Value {
    doc(
        "https://user:secret@example.com/releases/app.tar.gz?arch=arm64",
        &[
            ("http.checksum", &format!("sha256:{}", "cd".repeat(32))),
            ("http.authheadersecret", "token"),
        ],
        Facts::Http {
            checksum: format!("sha256:{}", "cd".repeat(32)),
            filename: "app.tar.gz".into(),
        },
    )
}

fn local_doc() -> Value {
    doc(
        "local://context",
        &[],
        Facts::Local {
            name: "context".into(),
        },
    )
}

#[test]
fn the_input_reference_is_generated_from_the_builder() {
    let mut fields = BTreeMap::new();
    for d in [
        image_doc("buildkit-v1.json"),
        image_doc("buildkit-v0.2.json"),
        git_doc("tag-pgp"),
        git_doc("tag-ssh"),
        git_branch_doc(),
        git_commit_doc(),
        http_doc(),
        local_doc(),
    ] {
        reference::collect("", &d, &mut fields);
    }
    let described: BTreeMap<&str, &str> = reference::FIELDS.iter().copied().collect();
    let undocumented: Vec<&String> = fields
        .keys()
        .filter(|p| !described.contains_key(p.as_str()))
        .collect();
    let stale: Vec<&&str> = described
        .keys()
        .filter(|p| !fields.contains_key(**p))
        .collect();
    let generated = reference::markdown(&fields);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/input-reference.md");
    if std::env::var("VF_UPDATE_REFERENCE").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    assert!(
        undocumented.is_empty(),
        "fields without a description in policy::reference: {undocumented:#?}"
    );
    assert!(
        stale.is_empty(),
        "described fields the builder never emits: {stale:#?}"
    );
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/input-reference.md is out of date: run VF_UPDATE_REFERENCE=1 cargo test --test reference"
    );

    // `policy schema` prints docs/input-schema.json: the same fields, as a JSON Schema.
    let schema = format!(
        "{}\n",
        serde_json::to_string_pretty(&verified_frontend::policy::schema::json_schema(&fields))
            .unwrap()
    );
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/input-schema.json");
    if std::env::var("VF_UPDATE_REFERENCE").is_ok() {
        std::fs::write(&schema_path, &schema).unwrap();
    }
    assert!(
        std::fs::read_to_string(&schema_path).unwrap_or_default() == schema,
        "docs/input-schema.json is out of date: run VF_UPDATE_REFERENCE=1 cargo test --test reference"
    );
}
