//! 20 verified builds at once against the rig's one buildkitd: examples that pass and
//! variants the policy denies, mixed. Every build ends with the outcome it has alone, and
//! afterwards nothing is left behind: no frontend process, no extra mount, no cache record
//! still in use. The time per build is printed (`--nocapture`).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Mode, rig, serial};
use serde_json::Value;

const BUILDS: usize = 20;

/// (example, extra options, whether it must pass)
fn plan() -> Vec<(&'static str, Vec<&'static str>, bool)> {
    let kinds: [(&str, Vec<&str>, bool); 5] = [
        ("verified", vec![], true),
        (
            "verified",
            vec![
                "--opt",
                "filename=unreviewed.Dockerfile",
                "--opt",
                "policy=Dockerfile.rego",
            ],
            false,
        ),
        ("multistage", vec![], true),
        ("add-git", vec![], true),
        ("build-args", vec![], true),
    ];
    (0..BUILDS)
        .map(|i| kinds[i % kinds.len()].clone())
        .collect()
}

fn frontend_processes() -> usize {
    let out = Command::new("pgrep")
        .args(["-c", "-x", "verified-fronte"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn buildkit_mounts() -> usize {
    let root = format!("{}/buildkit", std::env::var("VF_RIG").unwrap());
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&root))
        .count()
}

fn records_in_use() -> usize {
    let out = Command::new("buildctl")
        .args(["du", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v.as_array()
        .map(|a| a.iter().filter(|r| r["inUse"] == true).count())
        .unwrap_or(0)
}

/// Waits up to `limit` for `f` to come back to `want` (buildkitd releases asynchronously).
fn settles(limit: Duration, want: usize, f: impl Fn() -> usize) -> usize {
    let started = Instant::now();
    loop {
        let now = f();
        if now <= want || started.elapsed() > limit {
            return now;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn twenty_builds_at_once_end_right_and_leave_nothing_behind() {
    let _s = serial();
    let rig = rig();
    let before = (frontend_processes(), buildkit_mounts(), records_in_use());
    let started = Instant::now();
    let results: Vec<(usize, bool, bool, Duration, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = plan()
            .into_iter()
            .enumerate()
            .map(|(i, (example, extra, pass))| {
                let rig = &rig;
                scope.spawn(move || {
                    let t = Instant::now();
                    let out = rig.build(&rig.example(example), Mode::Syntax, &extra, None);
                    (
                        i,
                        pass,
                        out.ok,
                        t.elapsed(),
                        format!("{example}: {}", out.error()),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let mut times: Vec<Duration> = results.iter().map(|r| r.3).collect();
    times.sort();
    eprintln!(
        "{BUILDS} builds at once: wall {:.1} s, per build median {:.1} s, max {:.1} s",
        wall.as_secs_f64(),
        times[times.len() / 2].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    );
    for (i, pass, ok, took, last) in &results {
        assert_eq!(pass, ok, "build {i} ({:.1} s): {last}", took.as_secs_f64());
        if !pass {
            assert!(last.contains("denied by policy"), "build {i}: {last}");
        }
    }
    let limit = Duration::from_secs(30);
    assert_eq!(
        settles(limit, before.0, frontend_processes),
        before.0,
        "frontend processes left running"
    );
    assert_eq!(
        settles(limit, before.1, buildkit_mounts),
        before.1,
        "mounts left behind"
    );
    assert_eq!(
        settles(limit, before.2, records_in_use),
        before.2,
        "cache records still in use"
    );
}
