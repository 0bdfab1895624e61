//! What resolving one source established: written by `resolve`, read by the policy input,
//! the decision loop and the consumer check.

use crate::proto::gw;

/// What resolving one source established.
#[derive(Debug, Clone, PartialEq)]
pub enum Facts {
    Image {
        digest: String,
        config: Option<Vec<u8>>,
        /// Index, attestation manifest, signature manifests and their blobs.
        chain: Option<gw::AttestationChain>,
        /// For `name:tag@digest`: what the tag resolves to now, when a policy reads tags.
        tag_digest: Option<String>,
    },
    Git {
        /// The object the ref names: the tag object for an annotated tag, else the commit.
        checksum: String,
        commit: String,
        reference: String,
        commit_object: Option<Vec<u8>>,
        tag_object: Option<Vec<u8>>,
    },
    Http {
        checksum: String,
        filename: String,
    },
    Local {
        name: String,
    },
    Blob {
        digest: String,
    },
}

impl Facts {
    /// The content identity the source was pinned to.
    pub fn resolved(&self) -> &str {
        match self {
            Facts::Image { digest, .. } | Facts::Blob { digest } => digest,
            Facts::Git { commit, .. } => commit,
            Facts::Http { checksum, .. } => checksum,
            Facts::Local { .. } => "",
        }
    }
}
