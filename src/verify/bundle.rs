//! Sigstore bundle verification with sigstore-verify, offline against a trusted root, and the
//! `verify-bundle` subcommand in the sigstore-conformance CLI protocol:
//!
//! ```text
//! verify-bundle [--staging] --bundle FILE --certificate-identity ID --certificate-oidc-issuer URL
//!               [--trusted-root FILE] FILE_OR_DIGEST
//! verify-bundle [--staging] --bundle FILE --key PEM [--trusted-root FILE] FILE_OR_DIGEST
//! ```
//! `FILE_OR_DIGEST` is `sha256:<hex>` when that is not an existing path. Exit 0 = verified.

use std::path::{Path, PathBuf};

use sigstore_trust_root::{SigstoreInstance, TrustedRoot};
use sigstore_types::{Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{
    PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult, Verifier,
};

/// Who must have signed: a Fulcio identity, or a managed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    Identity { identity: String, issuer: String },
    Key(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyBundleArgs {
    pub staging: bool,
    pub bundle: PathBuf,
    pub signer: Signer,
    pub trusted_root: Option<PathBuf>,
    pub artifact: String,
}

impl VerifyBundleArgs {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut staging = false;
        let (mut bundle, mut identity, mut issuer, mut key, mut root) =
            (None, None, None, None, None);
        let mut rest = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match a.as_str() {
                "--staging" => staging = true,
                "--bundle" => bundle = Some(PathBuf::from(value("--bundle")?)),
                "--certificate-identity" => identity = Some(value("--certificate-identity")?),
                "--certificate-oidc-issuer" => issuer = Some(value("--certificate-oidc-issuer")?),
                "--key" => key = Some(PathBuf::from(value("--key")?)),
                "--trusted-root" => root = Some(PathBuf::from(value("--trusted-root")?)),
                s if s.starts_with("--") => return Err(format!("unknown option {s}")),
                s => rest.push(s.to_string()),
            }
        }
        let artifact = match rest.as_slice() {
            [one] => one.clone(),
            _ => return Err("expected exactly one FILE_OR_DIGEST".into()),
        };
        let signer = match (identity, issuer, key) {
            (Some(identity), Some(issuer), None) => Signer::Identity { identity, issuer },
            (None, None, Some(k)) => Signer::Key(k),
            _ => {
                return Err(
                    "give either --certificate-identity and --certificate-oidc-issuer, or --key"
                        .into(),
                );
            }
        };
        Ok(VerifyBundleArgs {
            staging,
            bundle: bundle.ok_or("--bundle is required")?,
            signer,
            trusted_root: root,
            artifact,
        })
    }
}

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

/// Verifies a bundle as the arguments say; the error says which check failed.
pub fn verify_bundle(a: &VerifyBundleArgs) -> Result<VerificationResult, String> {
    let root = trusted_root(a.trusted_root.as_deref(), a.staging)?;
    let bundle: Bundle = serde_json::from_str(&read(&a.bundle)?)
        .map_err(|e| format!("{}: not a Sigstore bundle: {e}", a.bundle.display()))?;
    let verifier = Verifier::new(&root).map_err(|e| format!("trusted root: {e}"))?;
    let digest_arg = a
        .artifact
        .strip_prefix("sha256:")
        .filter(|_| !Path::new(&a.artifact).exists());
    let data;
    let artifact: sigstore_types::Artifact<'_> = match digest_arg {
        Some(hex) => Sha256Hash::from_hex(hex)
            .map_err(|e| format!("{}: {e}", a.artifact))?
            .into(),
        None => {
            data = std::fs::read(&a.artifact).map_err(|e| format!("{}: {e}", a.artifact))?;
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
            let key = DerPublicKey::from_pem(&read(path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            verifier.verify(artifact, &bundle, &PublicKeyVerificationPolicy::new(key))
        }
    };
    result.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_both_forms_of_the_protocol() {
        let a = VerifyBundleArgs::parse(&args(
            "--bundle b.json --certificate-identity id --certificate-oidc-issuer iss --trusted-root r.json a.txt",
        ))
        .unwrap();
        assert_eq!(
            a.signer,
            Signer::Identity {
                identity: "id".into(),
                issuer: "iss".into()
            }
        );
        assert_eq!(a.trusted_root.as_deref(), Some(Path::new("r.json")));
        assert_eq!(a.artifact, "a.txt");
        let a = VerifyBundleArgs::parse(&args("--staging --bundle b.json --key k.pub sha256:ab"))
            .unwrap();
        assert!(a.staging);
        assert_eq!(a.signer, Signer::Key("k.pub".into()));
    }

    #[test]
    fn bad_arguments_are_clear_errors() {
        for (line, want) in [
            ("--bundle b a", "--certificate-identity"),
            ("--bundle b --key k --certificate-identity i a", "either"),
            (
                "--certificate-identity i --certificate-oidc-issuer x a",
                "--bundle is required",
            ),
            ("--bundle b --key k", "exactly one"),
            ("--bundle b --key k --frobnicate a", "unknown option"),
            ("--bundle", "needs a value"),
        ] {
            let err = VerifyBundleArgs::parse(&args(line)).unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
    }
}
