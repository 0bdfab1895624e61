use serde::Serialize;

use crate::error::{Error, Result};

/// How policy decisions are applied (the `policy-mode` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A denied source fails the build.
    #[default]
    Enforce,
    /// Denials are reported; the build goes on.
    Warn,
    /// Policies are not evaluated at all.
    Off,
    /// Decisions are only recorded in the report and attestations: no failure, no warning.
    ReportOnly,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Off => "off",
            Mode::ReportOnly => "report-only",
        }
    }

    pub fn parse(s: &str) -> Result<Mode> {
        match s {
            "enforce" => Ok(Mode::Enforce),
            "warn" => Ok(Mode::Warn),
            "off" => Ok(Mode::Off),
            "report-only" => Ok(Mode::ReportOnly),
            other => Err(Error::option(
                "policy-mode",
                format!("{other:?} is not one of enforce, warn, report-only, off"),
            )),
        }
    }

    /// Whether sources are decided at all, and a denial shows (fails, or warns).
    pub fn decides(self) -> bool {
        matches!(self, Mode::Enforce | Mode::Warn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_option_spells_it() {
        for m in [Mode::Enforce, Mode::Warn, Mode::Off, Mode::ReportOnly] {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
            assert_eq!(Mode::parse(m.as_str()).unwrap(), m);
        }
    }
}
