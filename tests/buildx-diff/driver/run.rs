//! Runs one side of a case through `buildx build` against the rig's buildkitd: Buildx
//! evaluating the policy client side (`--policy strict=true,log-level=debug`), or the
//! frontend evaluating it (`--policy disabled=true`, the `# syntax=` line).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use super::workspace::Side;
use crate::common::{Outcome, Rig};

const BUILDER: &str = "vf-diff";
/// A build that takes longer has hung (a builtin waiting on a network this rig lacks).
const TIMEOUT_SECS: &str = "180";

pub struct Runner<'a> {
    rig: &'a Rig,
    /// Buildx's own configuration directory, so no global builder or setting changes.
    config: String,
    /// `VF_DIFF_LOCK`: the shared e2e lock, taken per batch of cases when set.
    lock: Option<PathBuf>,
    /// Seconds spent in builds: Buildx's, the frontend's.
    spent: Mutex<(f64, f64)>,
}

#[derive(Clone, Copy)]
pub enum Via {
    Buildx,
    Frontend,
}

impl<'a> Runner<'a> {
    pub fn new(rig: &'a Rig) -> Self {
        let config = format!("{}/buildx-diff", std::env::var("VF_RIG").unwrap());
        let runner = Runner {
            rig,
            config,
            lock: std::env::var_os("VF_DIFF_LOCK")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            spent: Mutex::new((0.0, 0.0)),
        };
        let _held = runner.lock();
        let inspect = runner.buildx_cmd(&["inspect", BUILDER]);
        if !inspect.ok {
            let host = std::env::var("VF_BUILDKIT_HOST").unwrap();
            let create = ["create", "--name", BUILDER, "--driver", "remote", &host];
            let created = runner.buildx_cmd(&create);
            assert!(created.ok, "{}", created.output);
        }
        runner
    }

    /// Holds the shared lock (if configured) until the guard is dropped.
    pub fn lock(&self) -> Option<File> {
        let path = self.lock.as_ref()?;
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("VF_DIFF_LOCK {}: {e}", path.display()));
        file.lock().expect("flock");
        Some(file)
    }

    fn buildx_cmd(&self, args: &[&str]) -> Outcome {
        let env = [("BUILDX_CONFIG", self.config.as_str())];
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.rig.run_logged("buildx", &args, &env)
    }

    pub fn build(&self, side: &Side, via: Via) -> Outcome {
        let args = self.args(side, via);
        std::fs::write(side.dir.join("cmd"), self.shell_line(&args)).unwrap();
        let env = [("BUILDX_CONFIG", self.config.as_str())];
        let mut all = vec![TIMEOUT_SECS.to_string(), "buildx".to_string()];
        all.extend(args);
        let started = Instant::now();
        let out = self.rig.run_logged("timeout", &all, &env);
        let secs = started.elapsed().as_secs_f64();
        let mut spent = self.spent.lock().unwrap();
        match via {
            Via::Buildx => spent.0 += secs,
            Via::Frontend => spent.1 += secs,
        }
        out
    }

    /// Seconds spent building so far: Buildx's side, the frontend's.
    pub fn spent(&self) -> (f64, f64) {
        *self.spent.lock().unwrap()
    }

    /// Both sides of a case at once: Buildx evaluates in its client, the frontend in the
    /// daemon, so they overlap on two cores; only the frontend writes to buildkitd's log
    /// lines that are read back.
    pub fn both(&self, buildx: &Side, frontend: &Side) -> (Outcome, Outcome) {
        std::thread::scope(|s| {
            let bx = s.spawn(|| self.build(buildx, Via::Buildx));
            let vf = self.build(frontend, Via::Frontend);
            (bx.join().expect("the Buildx build thread"), vf)
        })
    }

    fn args(&self, side: &Side, via: Via) -> Vec<String> {
        let mut args: Vec<String> = ["--builder", BUILDER, "build", "--progress", "plain"]
            .map(String::from)
            .to_vec();
        match via {
            Via::Buildx => {
                args.push("--policy".into());
                args.push("strict=true,log-level=debug".into());
                for p in &side.policies {
                    args.push("--policy".into());
                    args.push(format!("filename={p},strict=true,log-level=debug"));
                }
            }
            Via::Frontend => {
                args.push("--policy".into());
                args.push("disabled=true".into());
                if !side.policies.is_empty() {
                    args.push("--build-arg".into());
                    args.push(format!(
                        "VERIFIED_FRONTEND_POLICY={}",
                        side.policies.join(",")
                    ));
                }
            }
        }
        args.extend(side.flags.iter().cloned());
        if side.dockerfile != "Dockerfile" {
            args.push("--file".into());
            args.push(side.dir.join(&side.dockerfile).display().to_string());
        }
        args.push(side.dir.display().to_string());
        args
    }

    /// The command, to rerun one side by hand.
    fn shell_line(&self, args: &[String]) -> String {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        format!(
            "BUILDX_CONFIG={} buildx {}\n",
            self.config,
            quoted.join(" ")
        )
    }
}

/// Where a run's files go: `target/buildx-diff/<what>/`.
pub fn out_dir(root: &Path, what: &str) -> PathBuf {
    root.join("target/buildx-diff").join(what)
}
