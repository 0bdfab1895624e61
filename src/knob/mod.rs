//! The single knob (`--opt verified=enforce|warn`): a built-in policy, written in Rego with
//! the builtins every policy has, that must allow every source beside the build's own
//! policies. Nothing here does I/O: the frontend reads the Dockerfile and the settings file
//! beside it and hands their bytes in; this module turns them into one more policy.

mod pins;
mod settings;

use std::collections::BTreeMap;

use sha2::Digest;

use crate::error::{Error, Result};
use crate::policy::PolicySource;
pub use pins::{GitPin, WrittenPins};
pub use settings::{Download, Settings};

/// The policy's text, as `verified-frontend policy builtin` prints it.
pub const POLICY: &str = include_str!("verified.rego");
/// How messages, the report and the VSA name it.
pub const NAME: &str = "builtin:verified.rego";
/// Its module path inside the policy (what `policy test` and error locations show).
pub const MODULE: &str = "verified.rego";
/// The files the policy reads with `load_json`.
pub const SETTINGS_JSON: &str = "settings.json";
pub const PINS_JSON: &str = "pins.json";

/// sha256 of the policy text: the digest the VSA records for it.
pub fn digest() -> String {
    hex::encode(sha2::Sha256::digest(POLICY.as_bytes()))
}

/// The settings file beside a Dockerfile, named after it as its automatic policy is
/// (`Dockerfile` → `Dockerfile.verified.json`).
pub fn settings_path(dockerfile: &str) -> String {
    format!("{dockerfile}.verified.json")
}

/// The built-in policy as one policy of the build: the Rego text, the Dockerfile's own pins
/// and the settings as the files it reads, and the bundles the settings name (`bundles`,
/// by the name the settings give them).
pub fn source(
    pins: &WrittenPins,
    settings: &Settings,
    bundles: BTreeMap<String, Vec<u8>>,
) -> Result<PolicySource> {
    let json = |what: &str, v: serde_json::Result<Vec<u8>>| {
        v.map_err(|e| Error::Policy {
            file: NAME.into(),
            message: format!("{what}: {e}"),
        })
    };
    let mut files = bundles;
    files.insert(
        SETTINGS_JSON.into(),
        json(SETTINGS_JSON, serde_json::to_vec(settings))?,
    );
    files.insert(PINS_JSON.into(), json(PINS_JSON, serde_json::to_vec(pins))?);
    Ok(PolicySource {
        name: NAME.into(),
        modules: vec![(MODULE.into(), POLICY.into())],
        files,
    })
}

#[cfg(test)]
mod tests;
