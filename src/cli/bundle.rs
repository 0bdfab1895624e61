//! `verify-bundle`: verifies a Sigstore bundle offline, in the sigstore-conformance CLI
//! protocol (the suite passes the arguments in this order, each flag with a separate value):
//!
//! ```text
//! verify-bundle [--staging] --bundle FILE --certificate-identity ID --certificate-oidc-issuer URL
//!               [--trusted-root FILE] FILE_OR_DIGEST
//! verify-bundle [--staging] --bundle FILE --key PEM [--trusted-root FILE] FILE_OR_DIGEST
//! ```
//! `FILE_OR_DIGEST` is `sha256:<hex>` when that is not an existing path. Exit 0 = verified,
//! 1 = not verified, 2 = bad arguments.

use std::path::{Path, PathBuf};

use clap::Args;
use clap::builder::NonEmptyStringValueParser;
use sigstore_types::{Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{
    PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult, Verifier,
};
use thiserror::Error;

use super::ArgError;

/// The flags as the conformance suite passes them; which combinations are valid is
/// `validate`'s to say (the suite's usage lines, not clap's groups, are the contract).
#[derive(Debug, Args)]
#[command(
    about = "Verify a Sigstore bundle offline (sigstore-conformance CLI protocol)",
    override_usage = "verified-frontend verify-bundle [--staging] --bundle FILE \
--certificate-identity ID --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST\n       \
verified-frontend verify-bundle [--staging] --bundle FILE --key PEM [--trusted-root FILE] FILE_OR_DIGEST",
    after_help = "Exit status: 0 verified, 1 not verified, 2 bad arguments."
)]
pub struct BundleCommand {
    /// Use the embedded Sigstore staging root instead of the public-good one
    #[arg(long)]
    staging: bool,
    /// The Sigstore bundle (JSON)
    #[arg(long, value_name = "FILE", value_parser = super::path())]
    bundle: Option<PathBuf>,
    /// The identity (certificate SAN) that must have signed
    #[arg(long, value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    certificate_identity: Option<String>,
    /// The OIDC issuer of that identity
    #[arg(long, value_name = "URL", value_parser = NonEmptyStringValueParser::new())]
    certificate_oidc_issuer: Option<String>,
    /// A PEM public key that must have signed (managed-key bundles)
    #[arg(long, value_name = "PEM", value_parser = super::path())]
    key: Option<PathBuf>,
    /// A trusted_root.json to verify under instead of the embedded root
    #[arg(long, value_name = "FILE", value_parser = super::path())]
    trusted_root: Option<PathBuf>,
    /// The signed file, or its sha256:<hex> digest
    #[arg(value_name = "FILE_OR_DIGEST")]
    artifact: Option<String>,
    /// More than one FILE_OR_DIGEST: refused by `validate`.
    #[arg(hide = true)]
    more: Vec<String>,
}

/// Who must have signed: a Fulcio identity, or a managed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    Identity { identity: String, issuer: String },
    Key(PathBuf),
}

/// A valid `verify-bundle` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyBundleArgs {
    pub staging: bool,
    pub bundle: PathBuf,
    pub signer: Signer,
    pub trusted_root: Option<PathBuf>,
    pub artifact: String,
}

impl BundleCommand {
    pub(super) fn validate(self) -> Result<VerifyBundleArgs, ArgError> {
        let artifact = match self.artifact {
            Some(one) if self.more.is_empty() => one,
            _ => return Err(ArgError::Artifact),
        };
        let signer = match (
            self.certificate_identity,
            self.certificate_oidc_issuer,
            self.key,
        ) {
            (Some(identity), Some(issuer), None) => Signer::Identity { identity, issuer },
            (None, None, Some(k)) => Signer::Key(k),
            _ => return Err(ArgError::Signer),
        };
        Ok(VerifyBundleArgs {
            staging: self.staging,
            bundle: self.bundle.ok_or(ArgError::NoBundle)?,
            signer,
            trusted_root: self.trusted_root,
            artifact,
        })
    }
}

/// Why a bundle did not verify (or could not be checked); one line.
#[derive(Debug, Error)]
pub enum BundleError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a Sigstore bundle: {source}", path.display())]
    NotABundle {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The trusted root could not be loaded (the message names the file or the embedded root).
    #[error("{0}")]
    TrustedRoot(String),
    #[error("trusted root: {0}")]
    Verifier(String),
    #[error("{artifact}: {reason}")]
    Artifact { artifact: String, reason: String },
    #[error("{}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("{0}")]
    Verification(String),
}

fn read(path: &Path) -> Result<String, BundleError> {
    std::fs::read_to_string(path).map_err(|source| BundleError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Verifies a bundle as the arguments say; the error says which check failed.
pub fn verify_bundle(a: &VerifyBundleArgs) -> Result<VerificationResult, BundleError> {
    let root = verified_frontend::verify::trust::trusted_root(a.trusted_root.as_deref(), a.staging)
        .map_err(BundleError::TrustedRoot)?;
    let bundle: Bundle =
        serde_json::from_str(&read(&a.bundle)?).map_err(|source| BundleError::NotABundle {
            path: a.bundle.clone(),
            source,
        })?;
    let verifier = Verifier::new(&root).map_err(|e| BundleError::Verifier(e.to_string()))?;
    let artifact_error = |reason: String| BundleError::Artifact {
        artifact: a.artifact.clone(),
        reason,
    };
    let digest_arg = a
        .artifact
        .strip_prefix("sha256:")
        .filter(|_| !Path::new(&a.artifact).exists());
    let data;
    let artifact: sigstore_types::Artifact<'_> = match digest_arg {
        Some(hex) => Sha256Hash::from_hex(hex)
            .map_err(|e| artifact_error(e.to_string()))?
            .into(),
        None => {
            data = std::fs::read(&a.artifact).map_err(|e| artifact_error(e.to_string()))?;
            data.as_slice().into()
        }
    };
    let result = match &a.signer {
        Signer::Identity { identity, issuer } => verifier.verify(
            artifact,
            &bundle,
            &VerificationPolicy::new(identity.as_str(), issuer.clone()),
        ),
        Signer::Key(path) => {
            let key = DerPublicKey::from_pem(&read(path)?).map_err(|e| BundleError::Key {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            verifier.verify(artifact, &bundle, &PublicKeyVerificationPolicy::new(key))
        }
    };
    result.map_err(|e| BundleError::Verification(e.to_string()))
}

/// Runs the subcommand: the outcome on stderr (the suite reads only the exit code).
pub fn run(a: &VerifyBundleArgs) -> u8 {
    match verify_bundle(a) {
        Ok(r) => {
            match (r.identity(), r.issuer()) {
                (Some(id), Some(iss)) => eprintln!("verify-bundle: OK: signed by {id:?} ({iss})"),
                _ => eprintln!("verify-bundle: OK: signed by the managed key"),
            }
            0
        }
        Err(e) => {
            eprintln!("verify-bundle: FAILED: {e}");
            1
        }
    }
}
