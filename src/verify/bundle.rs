//! Sigstore bundle verification with sigstore-verify, offline against a trusted root: the
//! trusted roots (`Root`), verification of image and download signatures under them, and
//! the kind of signer by moby/policy-helpers' rules. The `verify-bundle` subcommand's driver
//! (sigstore-conformance protocol) is the binary's `cli::bundle`.

use std::path::Path;

use sigstore_trust_root::{SigstoreInstance, TrustedRoot};
use sigstore_types::{Bundle, Sha256Hash};
use sigstore_verify::{VerificationPolicy, VerificationResult, Verifier};

use crate::verify::image::SLSA_PREFIX;

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The trusted root: the given file, or the embedded public-good (or staging) root.
pub fn trusted_root(file: Option<&Path>, staging: bool) -> Result<TrustedRoot, String> {
    match file {
        Some(f) => TrustedRoot::from_json(&read(f)?).map_err(|e| format!("{}: {e}", f.display())),
        None => {
            let instance = if staging {
                SigstoreInstance::Staging
            } else {
                SigstoreInstance::PublicGood
            };
            TrustedRoot::from_embedded(instance).map_err(|e| format!("embedded trusted root: {e}"))
        }
    }
}

/// The Sigstore instance BuildKit users' signatures come from (docker/github-builder signs
/// with the public-good instance).
pub fn public_good_root() -> Result<TrustedRoot, String> {
    trusted_root(None, false)
}

const SIGSTORE_INTERMEDIATE: &str = "CN=sigstore-intermediate,O=sigstore.dev";
const GITHUB_OIDC: &str = "https://token.actions.githubusercontent.com";
const GITHUB_BUILDER_PREFIXES: [&str; 2] = [
    "https://github.com/docker/github-builder/.github/workflows/",
    "https://github.com/docker/github-builder-experimental/.github/workflows/",
];

/// A trusted root, the checks a bundle signed under it must pass, and the service URIs
/// its timestamps are reported with.
#[derive(Debug)]
pub struct Root {
    pub name: String,
    root: TrustedRoot,
    /// Log key id (base64) -> log base URL, for the `uri` of transparency-log timestamps.
    tlog_urls: std::collections::BTreeMap<String, String>,
    tsa_uri: String,
    /// GitHub's instance has no public log and no CT log: its bundles prove their time
    /// with TSA timestamps only.
    timestamps_only: bool,
}

impl Root {
    pub fn from_json(name: &str, text: &str) -> Result<Self, String> {
        let root = TrustedRoot::from_json(text).map_err(|e| format!("{name}: {e}"))?;
        let raw: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        let tlog_urls = raw["tlogs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some((
                    t["logId"]["keyId"].as_str()?.to_string(),
                    t["baseUrl"].as_str()?.to_string(),
                ))
            })
            .collect();
        let tsa_uri = raw["timestampAuthorities"][0]["uri"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok(Root {
            name: name.to_string(),
            root,
            tlog_urls,
            tsa_uri,
            timestamps_only: false,
        })
    }

    /// The roots signatures are checked against unless the build names its own: Sigstore's
    /// public-good instance and GitHub's (private repositories' attestations).
    pub fn embedded() -> Result<Vec<Root>, String> {
        use sigstore_trust_root::{SIGSTORE_GITHUB_TRUSTED_ROOT, SIGSTORE_PRODUCTION_TRUSTED_ROOT};
        let public = Root::from_json("public-good", SIGSTORE_PRODUCTION_TRUSTED_ROOT)?;
        let mut github = Root::from_json("github", SIGSTORE_GITHUB_TRUSTED_ROOT)?;
        github.timestamps_only = true;
        Ok(vec![public, github])
    }

    fn policy(&self) -> VerificationPolicy {
        let p = VerificationPolicy::any_identity();
        if self.timestamps_only {
            p.skip_sct().skip_tlog_unsafe()
        } else {
            p
        }
    }
}

/// Verifies a bundle over an artifact digest against the first root it verifies under (any
/// signer: who signed is for the policy to judge). The error names each root's reason.
fn verify_under<'r>(
    bundle: &Bundle,
    digest: Sha256Hash,
    roots: &'r [Root],
) -> Result<(VerificationResult, &'r Root), String> {
    let mut why = Vec::new();
    for root in roots {
        let verified = Verifier::new(&root.root)
            .map_err(|e| format!("trusted root {}: {e}", root.name))
            .and_then(|v| {
                v.verify(digest, bundle, &root.policy())
                    .map_err(|e| e.to_string())
            })
            .and_then(|r| {
                // As Docker's verifier: at least one observer timestamp (log or TSA), so the
                // certificate's short validity is checked against a time someone vouched for.
                if r.verified_timestamps().is_empty() {
                    Err("no verified timestamp".to_string())
                } else {
                    Ok(r)
                }
            });
        match verified {
            Ok(r) => return Ok((r, root)),
            Err(e) => why.push(format!("{}: {e}", root.name)),
        }
    }
    Err(why.join("; "))
}

/// Verifies a bundle over an artifact digest (any signer: who signed is for the policy to
/// judge) and describes it as Buildx's `AttestationSignature`: `{kind, type, timestamps,
/// signer{certificateIssuer, subjectAlternativeName, issuer, buildSignerURI, …}}`. The bundle
/// must carry SLSA provenance about the artifact (`artifact_attestation`).
pub fn attestation_signature(
    bundle_json: &[u8],
    artifact_sha256: &str,
    roots: &[Root],
) -> Result<serde_json::Value, String> {
    signature(bundle_json, artifact_sha256, roots, true)
}

/// As `attestation_signature`, for any in-toto statement when `want_slsa` is false (an
/// image's attestation manifest is signed with cosign's `sign/v1` statement).
pub fn signature(
    bundle_json: &[u8],
    artifact_sha256: &str,
    roots: &[Root],
    want_slsa: bool,
) -> Result<serde_json::Value, String> {
    use sigstore_types::SignatureContent;

    let bundle: Bundle =
        serde_json::from_slice(bundle_json).map_err(|e| format!("not a Sigstore bundle: {e}"))?;
    let media = bundle.media_type().as_str();
    let sig_type = if media.contains("v0.3") || media.ends_with("version=0.3") {
        "bundle-v0.3"
    } else {
        media
    };
    let sig = verified_signature(&bundle, artifact_sha256, roots, sig_type)?;
    let payload = match &bundle.content {
        SignatureContent::DsseEnvelope(e) => {
            serde_json::from_slice::<serde_json::Value>(e.payload.as_bytes()).ok()
        }
        _ => None,
    }
    .ok_or("the bundle holds no in-toto statement")?;
    let predicate = payload["predicateType"].as_str().unwrap_or_default();
    if want_slsa && !predicate.starts_with(SLSA_PREFIX) {
        return Err(format!(
            "the bundle's statement is {predicate:?}, not SLSA provenance"
        ));
    }
    Ok(sig)
}

/// Verifies a parsed bundle over an artifact digest against the roots (any signer: who
/// signed is for the policy to judge) and describes it as Buildx's `AttestationSignature`:
/// `{kind, type, timestamps, signer{certificateIssuer, subjectAlternativeName, issuer,
/// buildSignerURI, …}}`, `type` being `sig_type` (`bundle-v0.3`, or `simplesigning-v1` for
/// a bundle built from cosign's legacy signature, see `verify::legacy`).
pub fn verified_signature(
    bundle: &Bundle,
    artifact_sha256: &str,
    roots: &[Root],
    sig_type: &str,
) -> Result<serde_json::Value, String> {
    use serde_json::json;

    let digest =
        Sha256Hash::from_hex(artifact_sha256).map_err(|e| format!("{artifact_sha256}: {e}"))?;
    let (result, root) = verify_under(bundle, digest, roots)?;

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
    let mut signer = serde_json::Map::new();
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
    // Only verified times; the log's integrated time is a transparency-log timestamp, the
    // others come from timestamp authorities.
    let material = &bundle.verification_material;
    let log_uri = material
        .tlog_entries
        .first()
        .and_then(|e| root.tlog_urls.get(&e.log_id.key_id.to_base64()))
        .cloned()
        .unwrap_or_default();
    // sigstore-verify lists the TSA times (all of the bundle's, each verified) before the
    // log's integrated times; times alone cannot tell them apart (they may be equal).
    let tsa_count = material
        .timestamp_verification_data
        .rfc3161_timestamps
        .len();
    let timestamps: Vec<serde_json::Value> = result
        .verified_timestamps()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (kind, uri) = if i < tsa_count {
                ("TimestampAuthority", &root.tsa_uri)
            } else {
                ("Tlog", &log_uri)
            };
            json!({"type": kind, "uri": uri, "timestamp": t.to_string()})
        })
        .collect();
    let kind = signature_kind(&signer, !timestamps.is_empty(), sig_type);
    Ok(json!({"kind": kind, "type": sig_type, "timestamps": timestamps, "signer": signer}))
}

/// The kind of signer, by the rules of moby/policy-helpers (`DetectKind`).
fn signature_kind(
    signer: &serde_json::Map<String, serde_json::Value>,
    has_timestamps: bool,
    sig_type: &str,
) -> &'static str {
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

#[cfg(test)]
mod attestation_tests {
    use super::*;

    fn binfmt_bundle() -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "testdata/vectors/buildx-rego-examples/binfmt_linux-amd64.provenance.sigstore.json",
        ))
        .unwrap()
    }

    const BINFMT: &str = "2bb181d540633bca67a3a8c852df3e99981fec346e07f827d3caf4bd203c2a5e";

    /// The real docker/github-builder bundle: its claims are those of the certificate
    /// (research notes, sigstore.md), and it is the github builder's kind of signature.
    #[test]
    fn real_github_builder_bundle_yields_its_claims() {
        let sig =
            attestation_signature(&binfmt_bundle(), BINFMT, &Root::embedded().unwrap()).unwrap();
        assert_eq!(sig["kind"], "docker-github-builder");
        assert_eq!(sig["type"], "bundle-v0.3");
        let s = &sig["signer"];
        assert_eq!(s["certificateIssuer"], SIGSTORE_INTERMEDIATE);
        assert_eq!(
            s["subjectAlternativeName"],
            "https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1"
        );
        assert_eq!(s["issuer"], GITHUB_OIDC);
        assert_eq!(
            s["buildSignerURI"],
            "https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1"
        );
        assert_eq!(
            s["buildSignerDigest"],
            "c767551a26459c30e1f683df73a12fdb918f7068"
        );
        assert_eq!(s["runnerEnvironment"], "github-hosted");
        assert_eq!(
            s["sourceRepositoryURI"],
            "https://github.com/tonistiigi/binfmt"
        );
        assert_eq!(
            s["sourceRepositoryDigest"],
            "3a63696139848ce36a0032a3352bbcac81627472"
        );
        assert_eq!(s["sourceRepositoryRef"], "refs/heads/master");
        assert_eq!(s["sourceRepositoryIdentifier"], "243668393");
        assert_eq!(
            s["sourceRepositoryOwnerURI"],
            "https://github.com/tonistiigi"
        );
        assert_eq!(s["buildTrigger"], "workflow_dispatch");
        assert_eq!(s["sourceRepositoryVisibilityAtSigning"], "public");
        let ts = sig["timestamps"].as_array().unwrap();
        assert!(
            ts.iter()
                .any(|t| t["type"] == "Tlog" && t["uri"] == "https://rekor.sigstore.dev"),
            "{ts:?}"
        );
        assert!(
            ts.iter()
                .all(|t| t["timestamp"].as_str().unwrap().starts_with("2026-02-19T")),
            "{ts:?}"
        );
    }

    #[test]
    fn another_artifact_or_a_tampered_bundle_does_not_verify() {
        let root = Root::embedded().unwrap();
        assert!(attestation_signature(&binfmt_bundle(), &"0".repeat(64), &root).is_err());
        let mut tampered: serde_json::Value = serde_json::from_slice(&binfmt_bundle()).unwrap();
        let sig = tampered["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap()
            .to_string();
        // change the first base64 character of the signature
        let first = if sig.starts_with('A') { 'B' } else { 'A' };
        let flipped = format!("{first}{}", &sig[first.len_utf8()..]);
        tampered["dsseEnvelope"]["signatures"][0]["sig"] = serde_json::json!(flipped);
        let bytes = serde_json::to_vec(&tampered).unwrap();
        assert!(attestation_signature(&bytes, BINFMT, &root).is_err());
        assert!(
            attestation_signature(b"{", BINFMT, &root)
                .unwrap_err()
                .contains("not a Sigstore bundle")
        );
    }
}
