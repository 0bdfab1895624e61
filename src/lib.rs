//! verified-frontend: a BuildKit frontend that verifies every build input before the build
//! may use it. See README.md for the architecture.

pub mod attest;
pub mod consumer;
pub mod error;
pub mod frontend;
pub mod gateway;
pub mod graph;
pub mod policy;
pub mod proto;
pub mod resolve;
pub mod sources;
pub mod verify;
