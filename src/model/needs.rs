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
