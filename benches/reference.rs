//! The first image reference a process parses: Docker's grammar as this crate compiles it
//! (ASCII `\w`, `src/sources/reference_grammar.rs`) against oci-spec's `Reference::from_str`
//! (Unicode `\w{0,127}`), which the frontend used before. Each build is a new frontend
//! process, so the first parse is what every build pays. Each measurement runs in a fresh
//! child process; the two alternate, medians of 7.
//!
//!     cargo bench --bench reference

use std::process::Command;
use std::str::FromStr;
use std::time::Instant;

use verified_frontend::sources::ImageRef;

const REF: &str = "127.0.0.1:5000/perf/busybox:s1";
const ROUNDS: usize = 7;

fn main() {
    match std::env::var("VF_BENCH_REFERENCE").as_deref() {
        Ok("ours") => once(|| ImageRef::normalize(REF).is_ok()),
        Ok("oci-spec") => once(|| oci_client::Reference::from_str(REF).is_ok()),
        _ => compare(),
    }
}

/// Prints the first parse's time in µs.
fn once(parse: impl Fn() -> bool) {
    let t = Instant::now();
    assert!(parse());
    println!("{}", t.elapsed().as_secs_f64() * 1e6);
}

fn compare() {
    let exe = std::env::current_exe().expect("the bench's own path");
    let run = |which: &str| -> f64 {
        let out = Command::new(&exe)
            .env("VF_BENCH_REFERENCE", which)
            .output()
            .expect("the bench runs itself");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a time in µs")
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(run("ours"));
        theirs.push(run("oci-spec"));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (o, t) = (median(ours), median(theirs));
    println!("first image reference parsed in a process, medians of {ROUNDS} processes each:");
    println!("  Docker's grammar, ASCII (this crate)   {:>10.1} µs", o);
    println!("  oci-spec Reference::from_str (Unicode) {:>10.1} µs", t);
    println!("  ratio                                  {:>10.0}x", t / o);
}
