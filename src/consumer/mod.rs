//! `verified-frontend verify`: the consumer's side. Reads an image built through the
//! verified frontend (from a registry or an OCI layout), checks per platform that it carries
//! a PASSED verification summary and report about exactly its manifest, optionally that it
//! was verified under a given policy and that this policy allows it, and that signatures
//! over its attestation manifest verify offline. Prints one table row per platform and check.
//!
//! ```text
//! verified-frontend verify [--policy FILE.rego] [--trusted-root trusted_root.json]
//!                          [--platform os/arch[/variant]] [--timeout 5m] IMAGE
//! ```
//! The whole run ends within `--timeout`; each registry response within its own bounds of
//! size and pace (`registry`).
//! Exit 0: every check passed; 1: a check failed; 2: bad input (arguments, files, an
//! unreadable image or a malformed manifest).

pub mod checks;
pub mod credentials;
mod decide;
mod document;
mod layout;
#[cfg(test)]
mod layout_tests;
mod limits;
mod registry;
mod rows;
mod signatures;
mod statements;
pub mod store;

use std::path::{Path, PathBuf};
use std::time::Duration;

use checks::Checker;
pub use decide::GivenPolicy;
pub use rows::{Row, table};
use store::{ImageSpec, Store};

use crate::verify::image::ImageVerifier;
use crate::verify::trust::SigstoreRoot;

/// What to check (the `verify` subcommand's arguments, validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyArgs {
    pub policy: Option<PathBuf>,
    pub trusted_root: Option<PathBuf>,
    pub platform: Option<String>,
    pub image: String,
    /// The whole run, reads, checks and policy included, ends within this.
    pub timeout: Duration,
}

/// Runs the check: the table on stdout, a summary or error on stderr; the exit code.
pub fn main(args: &VerifyArgs) -> u8 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("verify: cannot start the async runtime: {e}");
            return 2;
        }
    };
    let outcome = rt.block_on(async {
        tokio::time::timeout(args.timeout, run(args))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "did not finish within {:?} (--timeout, the bound on the whole verify)",
                    args.timeout
                ))
            })
    });
    // A credential helper that hangs must not keep the process after the deadline.
    rt.shutdown_background();
    match outcome {
        Ok(rows) => {
            crate::log::stdout(&table(&rows));
            let failed = rows.iter().filter(|r| !r.ok).count();
            if failed == 0 {
                eprintln!("verify: {}: all {} checks passed", args.image, rows.len());
                0
            } else {
                eprintln!(
                    "verify: {}: {failed} of {} checks failed",
                    args.image,
                    rows.len()
                );
                1
            }
        }
        Err(e) => {
            eprintln!("verify: {}: {}", args.image, rows::one_line(&e));
            2
        }
    }
}

/// Every check's row, or the bad input that stopped them.
pub async fn run(a: &VerifyArgs) -> Result<Vec<Row>, String> {
    let spec = ImageSpec::parse(&a.image)?;
    let policy = match &a.policy {
        Some(p) => Some(load_policy(p).await?),
        None => None,
    };
    let roots = match &a.trusted_root {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            vec![SigstoreRoot::from_json(&p.display().to_string(), &text)?]
        }
        None => SigstoreRoot::embedded()?,
    };
    let store = Store::open(&spec).map_err(|e| e.to_string())?;
    let mut checker = Checker {
        policy,
        verifier: ImageVerifier::new(roots),
        require_signature: a.trusted_root.is_some(),
        platform: a.platform.clone(),
    };
    checker.run(&store, &spec).await
}

/// Reads and compiles the policy as the frontend does (imports and data files beside it).
async fn load_policy(path: &Path) -> Result<GivenPolicy, String> {
    use crate::policy::load::{FsDir, read_policy};
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let src = read_policy(&FsDir(dir.to_path_buf()), file, file.to_string())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: not found", path.display()))?;
    let set = crate::policy::PolicySet::compile(vec![src]).map_err(|e| e.to_string())?;
    Ok(GivenPolicy {
        path: path.display().to_string(),
        sha256: document::sha256_digest(&bytes)
            .trim_start_matches("sha256:")
            .to_string(),
        set,
    })
}
