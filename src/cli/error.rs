//! Bad command lines: clap's errors and the subcommands' own checks, each one line naming
//! the argument, printed with the usage of the subcommand it was for.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArgError {
    #[error("unknown option {0}")]
    UnknownOption(String),
    #[error("{0} needs a value")]
    NeedsValue(String),
    /// Any other error clap found, as its first line says it.
    #[error("{0}")]
    Syntax(String),
    #[error("expected exactly one FILE_OR_DIGEST")]
    Artifact,
    #[error("give either --certificate-identity and --certificate-oidc-issuer, or --key")]
    Signer,
    #[error("--bundle is required")]
    NoBundle,
    #[error("no IMAGE given")]
    NoImage,
    #[error("expected one IMAGE, got {0}")]
    Images(String),
    #[error("--platform {0}: expected os/arch[/variant]")]
    Platform(String),
}

impl ArgError {
    pub fn from_clap(e: &clap::Error) -> ArgError {
        let context = |kind| match e.get(kind) {
            Some(ContextValue::String(s)) => Some(s.as_str()),
            _ => None,
        };
        // clap names an option with its value placeholder (`--policy <FILE>`).
        let flag = context(ContextKind::InvalidArg)
            .map(|a| a.split_whitespace().next().unwrap_or(a).to_string());
        match (e.kind(), flag) {
            (ErrorKind::UnknownArgument, Some(f)) => ArgError::UnknownOption(f),
            (ErrorKind::InvalidValue, Some(f))
                if context(ContextKind::InvalidValue).is_some_and(str::is_empty) =>
            {
                ArgError::NeedsValue(f)
            }
            (ErrorKind::NoEquals, Some(f)) => ArgError::NeedsValue(f),
            _ => ArgError::Syntax(first_line(&e.render().to_string())),
        }
    }
}

fn first_line(rendered: &str) -> String {
    let line = rendered.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// A bad command line: `<subcommand>: <what>`, then the usage.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{command}: {error}\n{usage}")]
pub struct CliError {
    pub command: String,
    pub error: ArgError,
    pub usage: String,
}

impl CliError {
    /// `subcommand` is the first argument, when it names one.
    pub(super) fn new(subcommand: Option<&str>, error: ArgError) -> CliError {
        use clap::CommandFactory;
        let known = subcommand.filter(|s| super::Cli::command().find_subcommand(s).is_some());
        let invocation = match known {
            Some(k) => format!("{} {k}", super::BIN),
            None => super::BIN.to_string(),
        };
        CliError {
            command: known.unwrap_or(super::BIN).to_string(),
            usage: format!(
                "{}\nFor more information, try '{invocation} --help'.",
                super::usage(known).trim_end()
            ),
            error,
        }
    }
}
