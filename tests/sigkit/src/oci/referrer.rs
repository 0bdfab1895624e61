//! The referrer manifests the kit pushes, shaped as cosign v3 writes them with
//! `--registry-referrers-mode oci-1-1`: a Sigstore bundle as the one layer of an artifact
//! manifest whose config is the OCI empty blob, and a legacy signature as cosign's
//! signature image (simplesigning layer, cosign's config) with `artifactType` and `subject`
//! added, which is what policy-helpers and BuildKit look for among referrers.

use std::collections::HashMap;

use anyhow::{Context, Result};
use base64::Engine;
use oci_spec::image::{
    Arch, Config, Descriptor, DescriptorBuilder, HistoryBuilder, ImageConfigurationBuilder,
    ImageManifest, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use serde::Deserialize;

use super::{descriptor_of, digest_of, to_json};

pub const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const COSIGN_SIG_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
pub const SIMPLESIGNING_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// What cosign records when a bundle's statement names no predicate type.
const DEFAULT_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// cosign's signature-image config dates everything at Go's zero time.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A referrer ready to push: its manifest and the config blob the manifest names.
#[derive(Debug)]
pub struct Referrer {
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
}

/// The parts of a Sigstore bundle the referrer's annotations describe.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    /// Required, not read: every bundle version names its media type.
    #[serde(rename = "mediaType")]
    _media_type: String,
    dsse_envelope: Option<Envelope>,
}

#[derive(Deserialize)]
struct Envelope {
    payload: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statement {
    predicate_type: Option<String>,
}

/// `dev.sigstore.bundle.content` and `dev.sigstore.bundle.predicateType` of BUNDLE.
fn bundle_content(bundle: &[u8]) -> Result<(&'static str, String)> {
    let bundle: Bundle = serde_json::from_slice(bundle).context("not a Sigstore bundle")?;
    let Some(envelope) = bundle.dsse_envelope else {
        return Ok(("message-signature", DEFAULT_PREDICATE.into()));
    };
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .context("the bundle's DSSE payload is not base64")?;
    let statement: Statement =
        serde_json::from_slice(&payload).context("the bundle's DSSE payload is not a statement")?;
    let predicate = statement.predicate_type.unwrap_or(DEFAULT_PREDICATE.into());
    Ok(("dsse-envelope", predicate))
}

/// The referrer of SUBJECT carrying BUNDLE, created at CREATED (RFC 3339).
pub fn bundle_referrer(bundle: &[u8], subject: Descriptor, created: &str) -> Result<Referrer> {
    let (content, predicate) = bundle_content(bundle)?;
    let config = b"{}".to_vec();
    let annotations = HashMap::from([
        (
            "dev.sigstore.bundle.content".to_string(),
            content.to_string(),
        ),
        ("dev.sigstore.bundle.predicateType".to_string(), predicate),
        (
            "org.opencontainers.image.created".to_string(),
            created.to_string(),
        ),
    ]);
    let manifest = artifact(
        MediaType::Other(BUNDLE_TYPE.into()),
        descriptor_of(MediaType::EmptyJSON, &config)?,
        descriptor_of(MediaType::Other(BUNDLE_TYPE.into()), bundle)?,
        subject,
    )
    .annotations(annotations)
    .build()?;
    Ok(Referrer {
        manifest: to_json(&manifest)?,
        config,
    })
}

fn artifact(
    artifact_type: MediaType,
    config: Descriptor,
    layer: Descriptor,
    subject: Descriptor,
) -> oci_spec::image::ImageManifestBuilder {
    ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(artifact_type)
        .config(config)
        .layers(vec![layer])
        .subject(subject)
}

/// The part of cosign's simplesigning payload that makes it one.
#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "critical")]
    _critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    /// Required, not read: what every simplesigning payload has.
    #[serde(rename = "type")]
    _type: String,
}

/// The referrer of SUBJECT carrying the legacy signature `sigkit sign-legacy` wrote: PAYLOAD
/// as the simplesigning layer, annotated with ANNOTATIONS (a JSON object of strings).
pub fn legacy_signature(
    payload: &[u8],
    annotations: &[u8],
    subject: Descriptor,
) -> Result<Referrer> {
    serde_json::from_slice::<Payload>(payload).context("not a simplesigning payload")?;
    let annotations: HashMap<String, String> = serde_json::from_slice(annotations)
        .context("the annotations are not an object of strings")?;
    let config = to_json(&signature_config(payload)?)?;
    let layer = DescriptorBuilder::default()
        .media_type(MediaType::Other(SIMPLESIGNING_TYPE.into()))
        .digest(digest_of(payload)?)
        .size(super::len(payload))
        .annotations(annotations)
        .build()?;
    let manifest: ImageManifest = artifact(
        MediaType::Other(COSIGN_SIG_TYPE.into()),
        descriptor_of(MediaType::ImageConfig, &config)?,
        layer,
        subject,
    )
    .build()?;
    Ok(Referrer {
        manifest: to_json(&manifest)?,
        config,
    })
}

/// cosign's config for a signature image: one "layer", the payload.
fn signature_config(payload: &[u8]) -> Result<oci_spec::image::ImageConfiguration> {
    Ok(ImageConfigurationBuilder::default()
        .created(ZERO_TIME)
        .architecture(Arch::Other(String::new()))
        .os(Os::Other(String::new()))
        .history(vec![HistoryBuilder::default().created(ZERO_TIME).build()?])
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![digest_of(payload)?.to_string()])
                .build()?,
        )
        .config(Config::default())
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{descriptor_from_parts, parse_exact};
    use oci_spec::image::ImageConfiguration;
    use serde_json::json;

    const SUBJECT: &str = "sha256:53fd27057457fc0bac1e6e5387745fe67a09daccaf94f0b600495f56bcdf696a";

    fn subject() -> Descriptor {
        descriptor_from_parts(SUBJECT, "application/vnd.oci.image.manifest.v1+json", "836").unwrap()
    }

    fn dsse_bundle(statement: &str) -> Vec<u8> {
        let payload = crate::pki::b64(statement);
        json!({"mediaType": BUNDLE_TYPE, "dsseEnvelope": {"payload": payload, "signatures": []}})
            .to_string()
            .into_bytes()
    }

    fn annotation<'m>(m: &'m ImageManifest, key: &str) -> &'m str {
        m.annotations().as_ref().unwrap()[key].as_str()
    }

    #[test]
    fn a_bundle_referrer_is_cosign_v3s_and_reads_back_whole() {
        let bundle = dsse_bundle(r#"{"predicateType":"https://slsa.dev/provenance/v1"}"#);
        let r = bundle_referrer(&bundle, subject(), "2026-01-02T03:04:05Z").unwrap();
        let m: ImageManifest = parse_exact(&r.manifest, "image manifest").unwrap();
        assert_eq!(m.schema_version(), 2);
        assert_eq!(m.media_type(), &Some(MediaType::ImageManifest));
        assert_eq!(
            m.artifact_type(),
            &Some(MediaType::Other(BUNDLE_TYPE.into()))
        );
        assert_eq!(r.config, b"{}");
        assert_eq!(
            m.config(),
            &descriptor_of(MediaType::EmptyJSON, b"{}").unwrap()
        );
        let layer = descriptor_of(MediaType::Other(BUNDLE_TYPE.into()), &bundle).unwrap();
        assert_eq!(m.layers(), &vec![layer]);
        assert_eq!(m.subject(), &Some(subject()));
        assert_eq!(
            annotation(&m, "dev.sigstore.bundle.content"),
            "dsse-envelope"
        );
        assert_eq!(
            annotation(&m, "dev.sigstore.bundle.predicateType"),
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(
            annotation(&m, "org.opencontainers.image.created"),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(m.annotations().as_ref().unwrap().len(), 3);
    }

    #[test]
    fn bundle_content_and_predicate_default_as_cosign_does() {
        let message = json!({"mediaType": BUNDLE_TYPE, "messageSignature": {}}).to_string();
        assert_eq!(
            bundle_content(message.as_bytes()).unwrap(),
            ("message-signature", DEFAULT_PREDICATE.to_string())
        );
        let no_predicate = dsse_bundle(r#"{"_type":"https://in-toto.io/Statement/v1"}"#);
        assert_eq!(
            bundle_content(&no_predicate).unwrap(),
            ("dsse-envelope", DEFAULT_PREDICATE.to_string())
        );
    }

    #[test]
    fn what_is_not_a_bundle_is_refused() {
        assert!(bundle_referrer(b"{}", subject(), "t").is_err());
        assert!(bundle_referrer(b"not json", subject(), "t").is_err());
        let bad_payload =
            json!({"mediaType": BUNDLE_TYPE, "dsseEnvelope": {"payload": "!!"}}).to_string();
        let err = bundle_referrer(bad_payload.as_bytes(), subject(), "t").unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
    }

    const PAYLOAD: &str = r#"{"critical":{"identity":{"docker-reference":"r/app"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":null}"#;

    #[test]
    fn a_legacy_signature_is_cosigns_signature_image_as_a_referrer() {
        let annotations = r#"{"dev.cosignproject.cosign/signature":"MEUC","dev.sigstore.cosign/certificate":"PEM"}"#;
        let r = legacy_signature(PAYLOAD.as_bytes(), annotations.as_bytes(), subject()).unwrap();
        let m: ImageManifest = parse_exact(&r.manifest, "image manifest").unwrap();
        assert_eq!(m.media_type(), &Some(MediaType::ImageManifest));
        assert_eq!(
            m.artifact_type(),
            &Some(MediaType::Other(COSIGN_SIG_TYPE.into()))
        );
        assert_eq!(
            m.config(),
            &descriptor_of(MediaType::ImageConfig, &r.config).unwrap()
        );
        assert_eq!(m.subject(), &Some(subject()));
        assert_eq!(m.annotations(), &None);
        let [layer] = m.layers().as_slice() else {
            panic!("{:?}", m.layers())
        };
        assert_eq!(
            layer.media_type(),
            &MediaType::Other(SIMPLESIGNING_TYPE.into())
        );
        assert_eq!(layer.digest(), &digest_of(PAYLOAD.as_bytes()).unwrap());
        assert_eq!(layer.size(), PAYLOAD.len() as u64);
        let want: HashMap<String, String> = serde_json::from_str(annotations).unwrap();
        assert_eq!(layer.annotations(), &Some(want));

        // The config says what cosign's does, field for field.
        parse_exact::<ImageConfiguration>(&r.config, "image configuration").unwrap();
        let config: serde_json::Value = serde_json::from_slice(&r.config).unwrap();
        let payload_digest = digest_of(PAYLOAD.as_bytes()).unwrap().to_string();
        assert_eq!(
            config,
            json!({
                "architecture": "", "created": ZERO_TIME, "history": [{"created": ZERO_TIME}],
                "os": "", "rootfs": {"type": "layers", "diff_ids": [payload_digest]}, "config": {}
            })
        );
    }

    #[test]
    fn a_legacy_signature_needs_a_payload_and_string_annotations() {
        let err = legacy_signature(b"{}", b"{}", subject()).unwrap_err();
        assert!(err.to_string().contains("simplesigning"), "{err}");
        let err = legacy_signature(PAYLOAD.as_bytes(), br#"{"a":1}"#, subject()).unwrap_err();
        assert!(err.to_string().contains("object of strings"), "{err}");
    }
}
