//! `verified-frontend verify`: the consumer's side. Reads an image built through the
//! verified frontend (from a registry or an OCI layout), checks per platform that it carries
//! a PASSED verification summary and report about exactly its manifest, optionally that it
//! was verified under a given policy and that this policy allows it, and that signatures
//! over its attestation manifest verify offline. Prints one table row per platform and check.
//!
//! ```text
//! verified-frontend verify [--policy FILE.rego] [--trusted-root trusted_root.json]
//!                          [--platform os/arch[/variant]] IMAGE
//! ```
//! Exit 0: every check passed; 1: a check failed; 2: bad input (arguments, files, an
//! unreadable image or a malformed manifest).

pub mod checks;
pub mod store;

use std::path::{Path, PathBuf};

use checks::{Checker, GivenPolicy, Row};
use store::{ImageSpec, Store};

use crate::verify::bundle::Root;
use crate::verify::image::ImageVerifier;

pub const USAGE: &str = "verified-frontend verify [--policy FILE.rego] [--trusted-root trusted_root.json] [--platform os/arch[/variant]] IMAGE
  IMAGE: name[:tag][@sha256:…] in a registry (plain HTTP for localhost/127.0.0.1), or oci-layout://DIR[:tag|@sha256:…]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyArgs {
    pub policy: Option<PathBuf>,
    pub trusted_root: Option<PathBuf>,
    pub platform: Option<String>,
    pub image: String,
}

impl VerifyArgs {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let (mut policy, mut root, mut platform) = (None, None, None);
        let mut rest = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (a.as_str(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag {
                "--policy" => policy = Some(PathBuf::from(value("--policy")?)),
                "--trusted-root" => root = Some(PathBuf::from(value("--trusted-root")?)),
                "--platform" => platform = Some(value("--platform")?),
                s if s.starts_with("--") => return Err(format!("unknown option {s}")),
                s => rest.push(s.to_string()),
            }
        }
        let image = match rest.as_slice() {
            [one] => one.clone(),
            [] => return Err("no IMAGE given".into()),
            _ => return Err(format!("expected one IMAGE, got {}", rest.join(" "))),
        };
        if let Some(p) = &platform {
            let parts: Vec<&str> = p.split('/').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|s| s.is_empty()) {
                return Err(format!("--platform {p}: expected os/arch[/variant]"));
            }
        }
        Ok(VerifyArgs {
            policy,
            trusted_root: root,
            platform,
            image,
        })
    }
}

/// Runs the subcommand: the table on stdout, a summary or error on stderr; the exit code.
pub fn main(args: &[String]) -> u8 {
    let parsed = match VerifyArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("verify: {e}\nusage: {USAGE}");
            return 2;
        }
    };
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
    match rt.block_on(run(&parsed)) {
        Ok(rows) => {
            print!("{}", table(&rows));
            let failed = rows.iter().filter(|r| !r.ok).count();
            if failed == 0 {
                eprintln!("verify: {}: all {} checks passed", parsed.image, rows.len());
                0
            } else {
                eprintln!(
                    "verify: {}: {failed} of {} checks failed",
                    parsed.image,
                    rows.len()
                );
                1
            }
        }
        Err(e) => {
            eprintln!("verify: {}: {}", parsed.image, one_line(&e));
            2
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
            vec![Root::from_json(&p.display().to_string(), &text)?]
        }
        None => Root::embedded()?,
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
        sha256: store::sha256_digest(&bytes)
            .trim_start_matches("sha256:")
            .to_string(),
        set,
    })
}

/// The table: PLATFORM, CHECK, RESULT, DETAIL, columns aligned.
pub fn table(rows: &[Row]) -> String {
    let header = ["PLATFORM", "CHECK", "RESULT"];
    let cells: Vec<[&str; 3]> = rows
        .iter()
        .map(|r| {
            [
                r.platform.as_str(),
                r.check,
                if r.ok { "ok" } else { "FAIL" },
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for c in &cells {
        for i in 0..3 {
            width[i] = width[i].max(c[i].len());
        }
    }
    let line = |c: [&str; 3], detail: &str| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            c[0],
            c[1],
            c[2],
            one_line(detail),
            w0 = width[0],
            w1 = width[1],
            w2 = width[2]
        )
    };
    let mut out = line(header, "DETAIL");
    for (c, r) in cells.into_iter().zip(rows) {
        out.push_str(&line(c, &r.detail));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_options_in_both_forms() {
        let a = VerifyArgs::parse(&args(
            "--policy p.rego --trusted-root=r.json --platform linux/arm64/v8 127.0.0.1:5000/x:1",
        ))
        .unwrap();
        assert_eq!(a.policy.as_deref(), Some(Path::new("p.rego")));
        assert_eq!(a.trusted_root.as_deref(), Some(Path::new("r.json")));
        assert_eq!(a.platform.as_deref(), Some("linux/arm64/v8"));
        assert_eq!(a.image, "127.0.0.1:5000/x:1");
        for (line, want) in [
            ("", "no IMAGE"),
            ("a b", "expected one IMAGE"),
            ("--policy", "needs a value"),
            ("--frob x", "unknown option"),
            ("--platform linux x", "os/arch"),
        ] {
            let e = VerifyArgs::parse(&args(line)).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            Row {
                platform: "linux/amd64".into(),
                check: "vsa",
                ok: true,
                detail: "PASSED".into(),
            },
            Row {
                platform: "linux/arm64".into(),
                check: "signature",
                ok: false,
                detail: "none\nverified".into(),
            },
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "PLATFORM     CHECK      RESULT  DETAIL");
        assert_eq!(lines[1], "linux/amd64  vsa        ok      PASSED");
        assert_eq!(lines[2], "linux/arm64  signature  FAIL    none verified");
    }
}
