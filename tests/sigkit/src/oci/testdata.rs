//! Documents as BuildKit v0.34 pushed them to the rig's registry (`signed:good`), byte for
//! byte, for the tests.

/// The image index: the linux/amd64 image and its attestation manifest.
pub const BUILDKIT_INDEX: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:dc5424b53ea3fbf8e61d6427ce157b9024e75fd74bc1cce7ed0ea38899ae631b",
      "size": 480,
      "platform": {
        "architecture": "amd64",
        "os": "linux"
      }
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:53fd27057457fc0bac1e6e5387745fe67a09daccaf94f0b600495f56bcdf696a",
      "size": 836,
      "annotations": {
        "vnd.docker.reference.digest": "sha256:dc5424b53ea3fbf8e61d6427ce157b9024e75fd74bc1cce7ed0ea38899ae631b",
        "vnd.docker.reference.type": "attestation-manifest"
      },
      "platform": {
        "architecture": "unknown",
        "os": "unknown"
      }
    }
  ]
}"#;

/// The attestation manifest BUILDKIT_INDEX lists.
pub const BUILDKIT_ATTESTATION: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/vnd.docker.attestation.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "size": 2,
    "data": "e30="
  },
  "layers": [
    {
      "mediaType": "application/vnd.in-toto+json",
      "digest": "sha256:ab7a90579399531498363b920a989f0b8a37aeb6660433d979c4b5ecc4c80d92",
      "size": 2693,
      "annotations": {
        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"
      }
    }
  ],
  "subject": {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:dc5424b53ea3fbf8e61d6427ce157b9024e75fd74bc1cce7ed0ea38899ae631b",
    "size": 480
  }
}"#;

pub const IMAGE_DIGEST: &str =
    "sha256:dc5424b53ea3fbf8e61d6427ce157b9024e75fd74bc1cce7ed0ea38899ae631b";
pub const ATTESTATION_DIGEST: &str =
    "sha256:53fd27057457fc0bac1e6e5387745fe67a09daccaf94f0b600495f56bcdf696a";
