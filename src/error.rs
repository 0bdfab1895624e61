//! The error type every layer returns. Each variant reads as one line for the user; the
//! `detail` fields carry what an operator needs to dig further.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("frontend option {key}: {reason}")]
    Option { key: String, reason: String },

    #[error("buildkit gateway: {call} failed: {}", status.message())]
    Gateway {
        call: &'static str,
        status: Box<tonic::Status>,
    },

    /// The Dockerfile frontend's own error (a parse error, a missing stage...): shown as it
    /// is, with its code and details, as if no frontend stood in between.
    #[error("{}", status.message())]
    SubFrontend { status: Box<tonic::Status> },

    #[error("cannot connect to the buildkit gateway on stdin/stdout: {0}")]
    Connect(String),

    #[error("the buildkit daemon lacks capability {cap}, needed to {why}")]
    MissingCap { cap: String, why: String },

    /// One line per denied source.
    #[error("{0}")]
    Denied(String),

    #[error("policy {file}: {message}")]
    Policy { file: String, message: String },

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

    /// Names where in the user's files the failing source was written.
    pub fn at(self, location: Option<&String>) -> Self {
        let Some(loc) = location else { return self };
        match self {
            Error::Source { source_id, reason } => Error::Source {
                source_id: format!("{source_id} ({loc})"),
                reason,
            },
            Error::Pin { source_id, reason } => Error::Pin {
                source_id: format!("{source_id} ({loc})"),
                reason,
            },
            other => other,
        }
    }

    /// The error details BuildKit attached (source ranges, vertex), to hand back unchanged.
    pub fn status_details(&self) -> Vec<prost_types::Any> {
        use prost::Message;
        match self {
            Error::SubFrontend { status } | Error::Gateway { status, .. } => {
                crate::proto::google::rpc::Status::decode(status.details())
                    .map(|s| s.details)
                    .unwrap_or_default()
            }
            _ => vec![],
        }
    }

    /// gRPC code BuildKit should see. Our own errors use Unknown, which BuildKit prints
    /// without a code prefix, so the user reads one plain sentence; the Dockerfile
    /// frontend's errors keep their code.
    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            Error::Gateway { status, .. } | Error::SubFrontend { status } => status.code(),
            _ => tonic::Code::Unknown,
        }
    }
}
