//! verified-frontend: a BuildKit frontend that verifies every build input before the build
//! may use it. See docs/architecture.md for the data flow and the module map.

pub mod attest;
pub mod consumer;
pub mod error;
pub mod frontend;
pub mod gateway;
pub mod graph;
pub mod knob;
pub mod log;
pub mod model;
pub mod policy;
pub mod proto;
pub mod resolve;
pub mod sources;
pub mod verify;
