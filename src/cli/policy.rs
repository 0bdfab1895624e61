//! `policy test|eval|schema`: Buildx's policy tooling (`docker buildx policy …`) on the
//! frontend's own engine, without a build. Paths are read relative to the working directory,
//! as Buildx does: the policy is `<--filename>.rego`, its imports and data files beside it.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::Value;

use verified_frontend::policy::load::{FsDir, read_policy};
use verified_frontend::policy::{PolicySet, PolicySource, input, schema, tester};
use verified_frontend::proto::pb;
use verified_frontend::sources::{ImageRef, Source};
use verified_frontend::{knob, log};

#[derive(Debug, Args)]
#[command(about = "Develop and test build policies without building (as `docker buildx policy`)")]
pub struct PolicyCommand {
    #[command(subcommand)]
    command: PolicySub,
}

#[derive(Debug, Subcommand)]
enum PolicySub {
    Test(TestArgs),
    Eval(EvalArgs),
    Schema(SchemaArgs),
    Builtin(BuiltinArgs),
}

/// Which policy a subcommand reads: `<FILENAME>.rego` in the working directory.
#[derive(Debug, Args)]
pub struct PolicyFile {
    /// The Dockerfile whose policy (`<FILENAME>.rego`) is read
    #[arg(
        long,
        short = 'f',
        value_name = "FILENAME",
        default_value = "Dockerfile"
    )]
    filename: String,
}

#[derive(Debug, Args)]
#[command(
    about = "Run policy tests: the test_* rules of *_test.rego files",
    after_help = "Prints `name: PASS|FAIL (allow=…, deny_msg=…)` per test, and the input and \
decision of each failed one. Exit status: 0 all passed, 1 a test failed, 2 bad input. Inputs are \
used as the tests write them: nothing is resolved from a registry or builder."
)]
pub struct TestArgs {
    /// Run only tests whose name contains this substring
    #[arg(long, value_name = "SUBSTR")]
    run: Option<String>,
    #[command(flatten)]
    policy: PolicyFile,
    /// A *_test.rego file, or a directory of them
    #[arg(value_name = "PATH", value_parser = super::path())]
    path: PathBuf,
}

#[derive(Debug, Args)]
#[command(
    about = "Decide one source (or a whole input document) with a policy",
    after_help = "SOURCE is docker-image://REF, git://…, http(s)://URL or a local path (the \
build context), as for `docker buildx policy eval`. Only what the source itself says is known \
(nothing is fetched); give a full document with --input to decide with metadata. Exit status: \
0 allowed, 1 denied, 2 bad input."
)]
pub struct EvalArgs {
    #[command(flatten)]
    policy: PolicyFile,
    /// Print the input document instead of deciding
    #[arg(long)]
    print: bool,
    /// Decide this input document (JSON) instead of one built from SOURCE
    #[arg(long, value_name = "FILE.json", value_parser = super::path(), conflicts_with = "source")]
    input: Option<PathBuf>,
    /// The platform an image source is decided for (default linux/amd64)
    #[arg(long, value_name = "os/arch[/variant]")]
    platform: Option<String>,
    #[arg(value_name = "SOURCE", required_unless_present = "input")]
    source: Option<String>,
}

#[derive(Debug, Args)]
#[command(about = "Print the JSON Schema of the policy input document")]
pub struct SchemaArgs {}

#[derive(Debug, Args)]
#[command(
    about = "Print the built-in policy of the `verified` option (the single knob)",
    after_help = "To test it: `verified-frontend policy builtin > verified.rego`, write \
settings.json (the settings, repositories by full name and each mapped to a list) and pins.json beside it if the tests need them, then \
`verified-frontend policy test -f verified my_test.rego`. docs/knob.md explains the rules."
)]
pub struct BuiltinArgs {
    /// Print its sha256 (as the attestations record it) instead of the text
    #[arg(long)]
    digest: bool,
}

/// Runs a `policy` subcommand; returns the exit code.
pub fn run(cmd: &PolicyCommand) -> u8 {
    let outcome = match &cmd.command {
        PolicySub::Test(a) => run_test(a),
        PolicySub::Eval(a) => run_eval(a),
        PolicySub::Schema(_) => {
            log::stdout(schema::COMMITTED);
            Ok(0)
        }
        PolicySub::Builtin(a) => {
            match a.digest {
                true => log::stdout(&format!("sha256:{}\n", knob::digest())),
                false => log::stdout(knob::POLICY),
            }
            Ok(0)
        }
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("policy: {e}");
        super::USAGE_ERROR
    })
}

/// `<filename>.rego` in the working directory, with its imports and data files.
fn load(filename: &str) -> Result<PolicySource, String> {
    let file = format!("{filename}.rego");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(read_policy(&FsDir(PathBuf::from(".")), &file, file.clone()))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{file}: not found"))
}

/// The test modules at `path`: the file itself, or the directory's `*_test.rego` files.
fn test_modules(path: &Path) -> Result<Vec<(String, String)>, String> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.to_string_lossy().ends_with("_test.rego"))
            .collect();
        v.sort();
        v
    } else if path.to_string_lossy().ends_with("_test.rego") {
        vec![path.to_path_buf()]
    } else {
        return Err(format!(
            "test file must have _test.rego suffix: {}",
            path.display()
        ));
    };
    if files.is_empty() {
        return Err("no policy tests found".into());
    }
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            let name = f.to_string_lossy().trim_start_matches("./").to_string();
            Ok((name, text))
        })
        .collect()
}

fn run_test(a: &TestArgs) -> Result<u8, String> {
    let policy = load(&a.policy.filename)?;
    let modules = test_modules(&a.path)?;
    let results =
        tester::run_tests(policy, modules, a.run.as_deref()).map_err(|e| e.to_string())?;
    let mut failed = false;
    for r in &results {
        log::stdout(&format!("{}\n", r.line()));
        if !r.passed {
            failed = true;
            log::stdout(&r.detail());
        }
    }
    Ok(u8::from(failed))
}

fn run_eval(a: &EvalArgs) -> Result<u8, String> {
    let doc = match (&a.input, &a.source) {
        (Some(path), _) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str::<Value>(&text)
                .map_err(|e| format!("{}: not a JSON document: {e}", path.display()))?
        }
        (None, Some(source)) => source_document(source, &a.policy.filename, a.platform.as_deref())?,
        (None, None) => return Err("give a SOURCE or --input".into()),
    };
    if a.print {
        // As Buildx prints it: the source's own document; `env` is the build's, not the source's.
        let mut doc = doc.clone();
        if let (None, Some(m)) = (&a.input, doc.as_object_mut()) {
            m.remove("env");
        }
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        log::stdout(&format!("{text}\n"));
        return Ok(0);
    }
    let mut set = PolicySet::compile(vec![load(&a.policy.filename)?]).map_err(|e| e.to_string())?;
    let outcome = tester::evaluate(&mut set, &doc).map_err(|e| e.to_string())?;
    for p in &outcome.prints {
        eprintln!("{p}");
    }
    if outcome.allow {
        return Ok(0);
    }
    if outcome.deny_msg.is_empty() {
        eprintln!("policy denied");
    } else {
        eprintln!("policy denied: {}", outcome.deny_msg.join("; "));
    }
    Ok(1)
}

/// The input document for a source named as `buildx policy eval` takes it.
fn source_document(source: &str, filename: &str, platform: Option<&str>) -> Result<Value, String> {
    let identifier = source_identifier(source)?;
    let op = pb::SourceOp {
        identifier,
        attrs: Default::default(),
    };
    let parsed = Source::parse(&op).map_err(|e| e.to_string())?;
    let platform = platform_of(platform.unwrap_or("linux/amd64"))?;
    let opts = [("filename".to_string(), filename.to_string())].into();
    input::document(&input::env(&opts), &parsed, &op, Some(&platform), None)
}

fn source_identifier(source: &str) -> Result<String, String> {
    if let Some(r) = source.strip_prefix("docker-image://") {
        let r = ImageRef::normalize(r).map_err(|e| format!("image source {r:?}: {e}"))?;
        return Ok(format!("docker-image://{r}"));
    }
    if source.starts_with("git://")
        || source.starts_with("http://")
        || source.starts_with("https://")
    {
        return Ok(source.to_string());
    }
    if Path::new(source).exists() {
        return Ok("local://context".into());
    }
    Err(format!("invalid local path {source}"))
}

fn platform_of(p: &str) -> Result<pb::Platform, String> {
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(pb::Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: parts.get(2).map(|v| v.to_string()).unwrap_or_default(),
            ..Default::default()
        }),
        _ => Err(format!("invalid platform {p:?}: want os/arch[/variant]")),
    }
}
