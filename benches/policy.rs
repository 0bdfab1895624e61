//! Policy evaluation cost per source: one engine compiled once and reused (what a build
//! does) against a fresh engine per evaluation, measured side by side in one run.
//!
//!     cargo bench --bench policy
//!
//! Prints µs per source for every example policy of testdata/vectors, and for 500 distinct
//! image sources through one policy.

use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use verified_frontend::model::Facts;
use verified_frontend::policy::load::{FsDir, read_policy};
use verified_frontend::policy::{PolicySet, PolicySource, input};
use verified_frontend::proto::pb;
use verified_frontend::sources::Source;

fn source(file: &str) -> PolicySource {
    let dir =
        FsDir(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors/buildx-rego-examples"));
    futures::executor::block_on(read_policy(&dir, file, file.into()))
        .unwrap()
        .unwrap()
}

fn image_doc(repo: &str, tag: &str, digest_byte: u8) -> Value {
    let digest = format!("sha256:{}", format!("{digest_byte:02x}").repeat(32));
    let op = pb::SourceOp {
        identifier: format!("docker-image://docker.io/{repo}:{tag}@{digest}"),
        attrs: Default::default(),
    };
    let platform = pb::Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        ..Default::default()
    };
    let facts = Facts::Image {
        digest,
        config: Some(br#"{"config":{"Env":["A=B"],"Labels":{"x":"y"},"WorkingDir":"/"}}"#.to_vec()),
        chain: None,
        tag_digest: None,
    };
    let env = input::env(&Default::default());
    input::document(
        &env,
        &Source::parse(&op).unwrap(),
        &op,
        Some(&platform),
        Some(&facts),
    )
    .unwrap()
}

/// µs per evaluation: (reused engine, fresh engine per evaluation), interleaved rounds.
fn measure(src: &PolicySource, inputs: &[Value], rounds: usize) -> Option<(f64, f64)> {
    let mut reused = PolicySet::compile(vec![src.clone()]).ok()?;
    // Policies whose verifiers are not available fail on these inputs; they are skipped.
    for i in inputs {
        reused.evaluate(i).ok()?;
    }
    let (mut r, mut f) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for i in inputs {
            std::hint::black_box(reused.evaluate(i).unwrap());
        }
        r.push(t.elapsed().as_secs_f64() * 1e6 / inputs.len() as f64);
        let t = Instant::now();
        for i in inputs {
            let mut fresh = PolicySet::compile(vec![src.clone()]).unwrap();
            std::hint::black_box(fresh.evaluate(i).unwrap());
        }
        f.push(t.elapsed().as_secs_f64() * 1e6 / inputs.len() as f64);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    Some((median(r), median(f)))
}

fn main() {
    let inputs = vec![
        image_doc("library/alpine", "3.22", 0xab),
        image_doc("tonistiigi/xx", "1.8.0", 0x12),
        serde_json::json!({"env": {"filename": "Dockerfile", "depth": 0}, "local": {"name": "context"}}),
    ];
    println!(
        "{:<44} {:>10} {:>10} {:>13}",
        "policy (3 sources each)", "reused µs", "fresh µs", "fresh/reused"
    );
    let mut names: Vec<String> = std::fs::read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors/buildx-rego-examples"),
    )
    .unwrap()
    .filter_map(|e| e.ok()?.file_name().into_string().ok())
    .filter(|n| n.ends_with(".Dockerfile.rego"))
    .collect();
    names.sort_by_key(|n| {
        n.split('-')
            .next()
            .and_then(|x| x.parse::<u32>().ok())
            .unwrap_or(0)
    });
    for name in names {
        match measure(&source(&name), &inputs, 15) {
            Some((r, f)) => println!("{name:<44} {r:>10.1} {f:>10.1} {:>13.1}", f / r),
            None => println!("{name:<44} {:>10}", "skipped (needs #4 verifiers)"),
        }
    }

    let many: Vec<Value> = (0..500u32)
        .map(|i| {
            let repo = if i % 5 == 0 {
                "tonistiigi/xx".to_string()
            } else {
                format!("org/app{i}")
            };
            image_doc(&repo, &format!("1.{}.0", i % 9), (i % 251) as u8)
        })
        .collect();
    let (r, f) = measure(&source("6-xx.Dockerfile.rego"), &many, 5).unwrap();
    println!();
    println!("500 image sources through 6-xx.Dockerfile.rego:");
    println!(
        "  reused engine: {r:.1} µs/source ({:.1} ms for all 500)",
        r * 500.0 / 1000.0
    );
    println!(
        "  fresh engine:  {f:.1} µs/source ({:.1} ms for all 500)",
        f * 500.0 / 1000.0
    );
    println!("  ratio fresh/reused: {:.1}", f / r);
}
