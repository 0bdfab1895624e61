//! The gRPC channel to BuildKit over the process's own stdin/stdout.
//!
//! buildkitd serves the LLBBridge as plain HTTP/2 (prior knowledge, no TLS) on the two pipes it
//! gives the frontend process, so the frontend is the gRPC *client* and stdout belongs to the
//! protocol: nothing else may ever be printed there.

use std::sync::Mutex;

use hyper_util::rt::TokioIo;
use tokio::io::{Join, Stdin, Stdout};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::error::{Error, Result};

/// BuildKit's limit for both directions (containerd's DefaultMaxRecvMsgSize); tonic's default
/// of 4 MiB would reject large definitions and attestation chains.
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;

type Stdio = Join<Stdin, Stdout>;

/// Opens the one and only connection over stdio. tonic asks its connector for a new stream
/// on every reconnect; the pipes cannot be reopened, so a second request is an error rather
/// than a silent hang.
pub async fn connect_stdio() -> Result<Channel> {
    let stream = Mutex::new(Some(tokio::io::join(
        tokio::io::stdin(),
        tokio::io::stdout(),
    )));
    let connector = tower::service_fn(move |_: Uri| {
        let taken: Option<Stdio> = stream.lock().ok().and_then(|mut s| s.take());
        async move {
            taken.map(TokioIo::new).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the stdio connection to buildkitd was closed and cannot be reopened",
                )
            })
        }
    });
    Endpoint::from_static("http://buildkit.gateway")
        .connect_with_connector(connector)
        .await
        .map_err(|e| Error::Connect(e.to_string()))
}
