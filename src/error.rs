//! The error type every layer returns. Each variant reads as one line for the user; the
//! `detail` fields carry what an operator needs to dig further.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("frontend option {key}: {reason}")]
    Option { key: String, reason: String },

    #[error("buildkit gateway: {call} failed: {status}")]
    Gateway {
        call: &'static str,
        status: Box<tonic::Status>,
    },

    #[error("cannot connect to the buildkit gateway on stdin/stdout: {0}")]
    Connect(String),

    #[error("the buildkit daemon lacks capability {cap}, needed to {why}")]
    MissingCap { cap: String, why: String },

    #[error("invalid build graph: {0}")]
    Graph(String),

    #[error("source {source_id}: {reason}")]
    Source { source_id: String, reason: String },

    #[error("cannot pin source {source_id}: {reason}")]
    Pin { source_id: String, reason: String },

    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn gateway(call: &'static str, status: tonic::Status) -> Self {
        Error::Gateway {
            call,
            status: Box::new(status),
        }
    }

    pub fn option(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Option {
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub fn graph(reason: impl Into<String>) -> Self {
        Error::Graph(reason.into())
    }

    pub fn source(source_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Source {
            source_id: source_id.into(),
            reason: reason.into(),
        }
    }

    pub fn pin(source_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Pin {
            source_id: source_id.into(),
            reason: reason.into(),
        }
    }

    /// gRPC code BuildKit should see: a policy or graph problem is the user's input, not a
    /// daemon fault, so it maps to InvalidArgument / FailedPrecondition.
    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            Error::Option { .. } | Error::Graph(_) | Error::Source { .. } => {
                tonic::Code::InvalidArgument
            }
            Error::MissingCap { .. } => tonic::Code::Unimplemented,
            Error::Pin { .. } => tonic::Code::FailedPrecondition,
            Error::Gateway { status, .. } => status.code(),
            Error::Connect(_) | Error::Other(_) => tonic::Code::Unknown,
        }
    }
}
