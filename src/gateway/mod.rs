//! Talking to BuildKit: the stdio transport, frontend options, and a typed client for the
//! LLBBridge calls this frontend makes.

mod client;
pub mod options;
mod transport;

pub use client::{Bridge, CallSummary, Caps, KindStats, SourceStats, SubResult};
pub use options::Options;
pub use transport::{MAX_MESSAGE_SIZE, connect_stdio};
