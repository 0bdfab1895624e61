//! `verify`'s arguments (the check itself is `consumer`'s).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::NonEmptyStringValueParser;

use super::ArgError;
use verified_frontend::consumer::VerifyArgs;

#[derive(Debug, Args)]
#[command(
    about = "Check an image's verification attestations and signatures",
    long_about = "Check, per platform, that an image built through the verified frontend carries \
a PASSED verification summary and report about exactly its manifest; with --policy, that it was \
verified under that policy and that the policy allows it; and that signatures over its \
attestation manifest verify offline.",
    override_usage = "verified-frontend verify [--policy FILE.rego] [--trusted-root trusted_root.json] \
[--platform os/arch[/variant]] [--timeout 5m] IMAGE",
    after_help = "Exit status: 0 every check passed, 1 a check failed, 2 bad input (arguments, \
files, an unreadable image or a malformed manifest)."
)]
pub struct VerifyCommand {
    /// The policy the image must have been verified under, and must be allowed by
    #[arg(long, value_name = "FILE.rego", value_parser = super::path())]
    policy: Option<PathBuf>,
    /// Verify signatures under this trusted_root.json (and require one) instead of the
    /// embedded public-good and GitHub roots
    #[arg(long, value_name = "FILE", value_parser = super::path())]
    trusted_root: Option<PathBuf>,
    /// Check only this platform of the image
    #[arg(long, value_name = "os/arch[/variant]", value_parser = NonEmptyStringValueParser::new())]
    platform: Option<String>,
    /// End the whole verify within this (e.g. 90s, 5m, 1h); each registry response also
    /// gets 60 s to answer and must bring 64 KiB a minute
    // The default is cosign's (`--timeout`, 3 minutes) with room for the several manifests,
    // statements and signatures a verified image has per platform.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration)]
    timeout: Duration,
    /// name[:tag][@sha256:…] in a registry (plain HTTP for localhost/127.0.0.1), or
    /// oci-layout://DIR[:tag|@sha256:…]
    #[arg(value_name = "IMAGE")]
    image: Option<String>,
    /// More than one IMAGE: refused by `validate` with a message naming them.
    #[arg(hide = true)]
    more: Vec<String>,
}

impl VerifyCommand {
    pub(super) fn validate(self) -> Result<VerifyArgs, ArgError> {
        let image = match (self.image, self.more.is_empty()) {
            (None, _) => return Err(ArgError::NoImage),
            (Some(one), true) => one,
            (Some(first), false) => {
                return Err(ArgError::Images(format!("{first} {}", self.more.join(" "))));
            }
        };
        if let Some(p) = &self.platform {
            let parts: Vec<&str> = p.split('/').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|s| s.is_empty()) {
                return Err(ArgError::Platform(p.clone()));
            }
        }
        Ok(VerifyArgs {
            policy: self.policy,
            trusted_root: self.trusted_root,
            platform: self.platform,
            image,
            timeout: self.timeout,
        })
    }
}

/// A positive duration in jiff's friendly form (`90s`, `5m`, `1h 30m`).
fn duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = s
        .parse()
        .map_err(|e| format!("{s:?} is not a duration such as 90s or 5m: {e}"))?;
    Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?}: a timeout must be more than zero"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn timeouts_are_friendly_durations() {
        use std::time::Duration;
        assert_eq!(super::duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(super::duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(super::duration("2s"), Ok(Duration::from_secs(2)));
        assert!(
            super::duration("0s")
                .unwrap_err()
                .contains("more than zero")
        );
        assert!(super::duration("-5s").is_err());
        assert!(
            super::duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }
}
