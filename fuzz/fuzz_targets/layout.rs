//! The `verify` subcommand over an arbitrary OCI image layout (src/consumer/layout.rs,
//! store.rs, and the checks behind them): rows or a one-line error, never a panic; and an
//! image passes only when every check ran for each of its platforms.
//!
//! A chain template: blob 0 is the layout's index.json, the others are written among its
//! blobs under their digests. The header's first word names the image: `:tag`, `@N`
//! (blob N's digest) or nothing; the word `strict` requires a verified signature.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use verified_frontend::consumer::checks::Checker;
use verified_frontend::consumer::store::{ImageSpec, Store};
use verified_frontend::consumer::table;
use verified_frontend::verify::image::ImageVerifier;
use verified_frontend_fuzz::{Template, block_on, kit_roots};

const CHECKS: [&str; 5] = ["attestation", "vsa", "report", "provenance", "signature"];

fn scratch() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    // In memory where there is a tmpfs: every input is a layout written anew.
    let shm = std::path::Path::new("/dev/shm");
    DIR.get_or_init(|| {
        let b = tempfile::Builder::new();
        let dir = if shm.is_dir() {
            b.tempdir_in(shm)
        } else {
            b.tempdir()
        };
        dir.expect("a scratch directory")
    })
    .path()
    .join("layout")
}

/// Writes the layout; the image argument naming it as the header says.
fn write(t: &Template) -> std::io::Result<String> {
    let dir = scratch();
    let _ = std::fs::remove_dir_all(&dir);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    std::fs::write(
        dir.join("index.json"),
        t.blobs.first().map_or(&[][..], |b| b),
    )?;
    for b in t.blobs.iter().skip(1) {
        let hex = &verified_frontend_fuzz::sha256(b)["sha256:".len()..];
        std::fs::write(blobs.join(hex), b)?;
    }
    let name = t.header.split_whitespace().next().unwrap_or_default();
    let suffix = match name.strip_prefix('@') {
        Some(n) => format!("@{}", t.word(n)),
        None if name.starts_with(':') => name.to_string(),
        None => String::new(),
    };
    Ok(format!("oci-layout://{}{suffix}", dir.display()))
}

fuzz_target!(|data: &[u8]| {
    let t = Template::parse(data);
    let Ok(image) = write(&t) else {
        return;
    };
    let Ok(spec) = ImageSpec::parse(&image) else {
        return;
    };
    let Ok(store) = Store::open(&spec) else {
        return;
    };
    let mut checker = Checker {
        policy: None,
        verifier: ImageVerifier::new(kit_roots()),
        require_signature: t.header.split_whitespace().any(|w| w == "strict"),
        platform: None,
    };
    let Ok(rows) = block_on(checker.run(&store, &spec)) else {
        return;
    };
    let _ = table(&rows);
    if !rows.is_empty() && rows.iter().all(|r| r.ok) {
        for r in &rows {
            let ran: Vec<&str> = rows
                .iter()
                .filter(|o| o.platform == r.platform)
                .map(|o| o.check)
                .collect();
            assert!(
                CHECKS.iter().all(|c| ran.contains(c)),
                "{} passed with {ran:?}",
                r.platform
            );
        }
    }
});
