//! What several stages share, and nothing that talks to BuildKit: the facts resolving
//! establishes about a source, the metadata the policies need fetched, how decisions are
//! applied, and the per-source record with its vocabulary (decision, role, kind) as enums
//! that serialize to the words the report and the attestations have always used.
//!
//! Every other module may import this one; it imports only `proto` (the wire types the
//! facts carry) and `error`.

mod attested;
mod facts;
mod mode;
mod needs;
mod platform;
mod record;
mod vocabulary;

pub use attested::{PolicyDigest, REPORT_PREDICATE, TrustRootRecord, VERIFIER_ID, VSA_PREDICATE};
pub use facts::Facts;
pub use mode::Mode;
pub use needs::{Fetched, Needs};
pub use platform::platform_string;
pub use record::SourceRecord;
pub use vocabulary::{Role, SourceKind, Verdict};
