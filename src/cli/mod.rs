//! The command line. BuildKit starts the frontend with no arguments (it then serves the
//! gateway API on stdin/stdout); the subcommands are for people and test suites. Parsing is
//! clap's (`--help`, `--version`, `--flag value` and `--flag=value` everywhere); what a
//! subcommand's arguments must satisfy together is checked here, with the same one-line
//! messages for clap's errors and ours, and exit code 2 for both.

pub mod bundle;
mod error;
pub mod policy;
pub mod verify;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{NonEmptyStringValueParser, TypedValueParser};
use clap::{Parser, Subcommand};

pub use error::{ArgError, CliError};

/// The binary's name in usage lines and errors without a subcommand.
const BIN: &str = "verified-frontend";

/// The exit code of a bad command line, clap's and ours (`verify` documents it as "bad input").
pub const USAGE_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = BIN,
    version,
    propagate_version = true,
    about = "A BuildKit frontend that verifies every build input before the build may use it.",
    long_about = "A BuildKit frontend that verifies every build input before the build may use \
it.\n\nBuildKit starts it with no arguments: it then serves the gateway API on stdin/stdout. \
The subcommands check signatures and verified images from the command line."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    VerifyBundle(bundle::BundleCommand),
    Verify(verify::VerifyCommand),
    Policy(policy::PolicyCommand),
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// No arguments: run as BuildKit's gateway frontend.
    Frontend,
    /// `--help` or `--version` (of the binary or a subcommand): print this on stdout, exit 0.
    Info(String),
    VerifyBundle(bundle::VerifyBundleArgs),
    Verify(verified_frontend::consumer::VerifyArgs),
    Policy(policy::PolicyCommand),
}

/// Parses the whole command line, program name first (as `std::env::args_os()`).
pub fn parse<I, T>(argv: I) -> Result<Invocation, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let subcommand = argv.get(1).and_then(|a| a.to_str()).map(str::to_string);
    let fail = |error: ArgError| CliError::new(subcommand.as_deref(), error);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) if e.exit_code() == 0 => return Ok(Invocation::Info(e.render().to_string())),
        Err(e) => return Err(fail(ArgError::from_clap(&e))),
    };
    match cli.command {
        None => Ok(Invocation::Frontend),
        Some(Command::VerifyBundle(c)) => c.validate().map(Invocation::VerifyBundle).map_err(fail),
        Some(Command::Verify(c)) => c.validate().map(Invocation::Verify).map_err(fail),
        Some(Command::Policy(c)) => Ok(Invocation::Policy(c)),
    }
}

/// A path argument: an empty value is a missing one.
fn path() -> impl TypedValueParser<Value = PathBuf> {
    NonEmptyStringValueParser::new().map(PathBuf::from)
}

/// The usage lines of a subcommand (of the binary when `name` is none or not a subcommand).
fn usage(name: Option<&str>) -> String {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let usage = match name.and_then(|n| cmd.find_subcommand_mut(n)) {
        Some(sub) => sub.render_usage(),
        None => cmd.render_usage(),
    };
    usage.to_string()
}

#[cfg(test)]
mod tests;
