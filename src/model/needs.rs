//! Which metadata the policies can read, beyond what pinning resolves anyway. `policy`
//! computes it from the policies' text; `resolve` fetches what it says.

/// Metadata beyond what pinning resolves anyway (digest, commit, checksum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// `input.image.{labels,user,volumes,workingDir,env,createdTime}`: the image config.
    /// Resolving an image's digest fetches it anyway; this only matters for references
    /// that already carry a digest, which otherwise need no resolution at all.
    pub image_config: bool,
    /// `input.image.{hasProvenance,signatures}`: the attestation chain.
    pub image_attestations: bool,
    /// `input.image.provenance`: the chain plus the SLSA provenance blobs.
    pub image_provenance: bool,
    /// `input.git.{commit,tag}`: the raw commit and tag objects.
    pub git_objects: bool,
    /// `input.image.tag` of a `name:tag@digest` reference: check that the tag still names
    /// that digest, so a policy that trusts tags cannot be handed another digest.
    pub image_tag: bool,
}

impl Needs {
    pub fn all() -> Self {
        Needs {
            image_config: true,
            image_attestations: true,
            image_provenance: true,
            git_objects: true,
            image_tag: true,
        }
    }

    pub fn union(self, o: Needs) -> Needs {
        Needs {
            image_config: self.image_config || o.image_config,
            image_attestations: self.image_attestations || o.image_attestations,
            image_provenance: self.image_provenance || o.image_provenance,
            git_objects: self.git_objects || o.git_objects,
            image_tag: self.image_tag || o.image_tag,
        }
    }
}

/// The metadata one of Buildx's evaluations of a source has: what BuildKit returned for the
/// requests its partial evaluation made (`policy/validate.go`, `AddUnknowns`). A document
/// holds only these groups, whatever the frontend fetched to decide other evaluations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fetched {
    /// `Image{NoConfig: false}`: the digest and the config (labels, user, volumes,
    /// workingDir, env, and with them createdTime).
    pub image_config: bool,
    /// `Image{AttestationChain: true}`: the digest, hasProvenance and signatures.
    pub image_attestations: bool,
    /// The chain with the SLSA statements (`ResolveAttestations`): provenance too.
    pub image_provenance: bool,
    /// `Git{}`: ref, checksum, commitChecksum, isAnnotatedTag.
    pub git: bool,
    /// `Git{ReturnObject: true}`: the commit and tag objects too.
    pub git_objects: bool,
    /// Any request for an http source: BuildKit resolves its checksum.
    pub http_checksum: bool,
}

impl Fetched {
    /// Everything there is, as a document of the frontend's own (reports, `verify`) shows.
    pub fn all() -> Self {
        Fetched {
            image_config: true,
            image_attestations: true,
            image_provenance: true,
            git: true,
            git_objects: true,
            http_checksum: true,
        }
    }

    /// Whether any image metadata was asked for: BuildKit then returns the digest.
    pub fn any_image(self) -> bool {
        self.image_config || self.image_attestations || self.image_provenance
    }

    /// Whether the attestation chain was asked for (with or without the statements).
    pub fn chain(self) -> bool {
        self.image_attestations || self.image_provenance
    }

    /// Whether git metadata was asked for (objects come with the rest).
    pub fn any_git(self) -> bool {
        self.git || self.git_objects
    }

    pub fn union(self, o: Fetched) -> Fetched {
        Fetched {
            image_config: self.image_config || o.image_config,
            image_attestations: self.image_attestations || o.image_attestations,
            image_provenance: self.image_provenance || o.image_provenance,
            git: self.git || o.git,
            git_objects: self.git_objects || o.git_objects,
            http_checksum: self.http_checksum || o.http_checksum,
        }
    }
}
