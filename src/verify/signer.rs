//! Who signed a verified bundle, as Buildx's `AttestationSignature.signer` describes it (the
//! Fulcio certificate's issuer, identity and OIDC claims), and the kind of signer by
//! moby/policy-helpers' rules (`DetectKind`).

use serde_json::{Map, Value, json};
use sigstore_types::Bundle;
use sigstore_verify::VerificationResult;

pub const SIGSTORE_INTERMEDIATE: &str = "CN=sigstore-intermediate,O=sigstore.dev";
pub const GITHUB_OIDC: &str = "https://token.actions.githubusercontent.com";
const GITHUB_BUILDER_PREFIXES: [&str; 2] = [
    "https://github.com/docker/github-builder/.github/workflows/",
    "https://github.com/docker/github-builder-experimental/.github/workflows/",
];

/// The signer of a verified bundle: `certificateIssuer` from the bundle's leaf certificate
/// as signed, the identity and claims from what sigstore-verify checked (`result`).
pub fn claims(result: &VerificationResult, bundle: &Bundle) -> Result<Map<String, Value>, String> {
    let cert = result
        .certificate()
        .ok_or("the bundle is not signed with a certificate")?;
    let leaf = bundle
        .signing_certificate()
        .ok_or("the bundle holds no certificate")?;
    let certificate_issuer = {
        use x509_cert::der::Decode;
        x509_cert::Certificate::from_der(leaf.as_bytes())
            .map_err(|e| format!("certificate: {e}"))?
            .tbs_certificate
            .issuer
            .to_string()
    };
    let c = &cert.ci_claims;
    let mut signer = Map::new();
    signer.insert("certificateIssuer".into(), json!(certificate_issuer));
    signer.insert(
        "subjectAlternativeName".into(),
        json!(
            cert.identity
                .as_ref()
                .map(|i| i.to_string())
                .unwrap_or_default()
        ),
    );
    for (key, value) in [
        ("issuer", &cert.issuer),
        ("buildSignerURI", &c.build_signer_uri),
        ("buildSignerDigest", &c.build_signer_digest),
        ("runnerEnvironment", &c.runner_environment),
        ("sourceRepositoryURI", &c.source_repository_uri),
        ("sourceRepositoryDigest", &c.source_repository_digest),
        ("sourceRepositoryRef", &c.source_repository_ref),
        (
            "sourceRepositoryIdentifier",
            &c.source_repository_identifier,
        ),
        ("sourceRepositoryOwnerURI", &c.source_repository_owner_uri),
        (
            "sourceRepositoryOwnerIdentifier",
            &c.source_repository_owner_identifier,
        ),
        ("buildConfigURI", &c.build_config_uri),
        ("buildConfigDigest", &c.build_config_digest),
        ("buildTrigger", &c.build_trigger),
        ("runInvocationURI", &c.run_invocation_uri),
        (
            "sourceRepositoryVisibilityAtSigning",
            &c.source_repository_visibility_at_signing,
        ),
    ] {
        if let Some(v) = value {
            signer.insert(key.into(), json!(v));
        }
    }
    Ok(signer)
}

/// The kind of signer, by the rules of moby/policy-helpers (`DetectKind`).
pub fn kind(signer: &Map<String, Value>, has_timestamps: bool, sig_type: &str) -> &'static str {
    let get = |k: &str| signer.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let sigstore = get("certificateIssuer") == SIGSTORE_INTERMEDIATE;
    let github = get("issuer") == GITHUB_OIDC;
    let hosted = get("runnerEnvironment") == "github-hosted";
    let (san, build_signer, repo) = (
        get("subjectAlternativeName"),
        get("buildSignerURI"),
        get("sourceRepositoryURI"),
    );
    let by_builder = GITHUB_BUILDER_PREFIXES
        .iter()
        .any(|p| build_signer.starts_with(p) && san.starts_with(p));
    if sigstore
        && github
        && hosted
        && by_builder
        && repo.starts_with("https://github.com/")
        && has_timestamps
        && sig_type == "bundle-v0.3"
    {
        return "docker-github-builder";
    }
    let own_workflows = format!("{repo}/.github/workflows/");
    if sigstore
        && github
        && hosted
        && !repo.is_empty()
        && build_signer.starts_with(&own_workflows)
        && san.starts_with(&own_workflows)
    {
        return "self-signed-github-repo";
    }
    if sigstore {
        return "self-signed";
    }
    "untrusted"
}
