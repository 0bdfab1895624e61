//! The words of the per-source record, as enums: compared as values in the code, written
//! as the same strings as ever in the report, the attestations and the build output.

use std::fmt;

use serde::Serialize;

/// What the policies made of a source. The order (allow, deny, none) is the order records
/// of one source are listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Verdict {
    #[serde(rename = "allow")]
    Allow,
    #[serde(rename = "deny")]
    Deny,
    /// No policy was loaded, so nothing decided it (it is still pinned).
    #[serde(rename = "none")]
    NoPolicy,
}

/// Why the build reads a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A source of the build graph.
    Build,
    /// A frontend image: this one, or the Dockerfile frontend it calls.
    Frontend,
    /// The remote build context the Dockerfile and the policies are read from.
    Context,
    /// A source of a Dockerfile given as a frontend input.
    Dockerfile,
}

/// What kind of source it is, by its identifier's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Image,
    OciLayout,
    Blob,
    Git,
    Http,
    Local,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::NoPolicy => "none",
        }
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Build => "build",
            Role::Frontend => "frontend",
            Role::Context => "context",
            Role::Dockerfile => "dockerfile",
        }
    }
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Image => "image",
            SourceKind::OciLayout => "oci-layout",
            SourceKind::Blob => "blob",
            SourceKind::Git => "git",
            SourceKind::Http => "http",
            SourceKind::Local => "local",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON string `v` serializes to, which its Display must agree with.
    fn word<T: Serialize + fmt::Display>(v: T) -> String {
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            json.as_str(),
            Some(v.to_string().as_str()),
            "Display agrees"
        );
        v.to_string()
    }

    #[test]
    fn serialized_as_the_strings_the_report_has_always_had() {
        let verdicts = [Verdict::Allow, Verdict::Deny, Verdict::NoPolicy].map(word);
        assert_eq!(verdicts, ["allow", "deny", "none"]);
        let roles = [Role::Build, Role::Frontend, Role::Context, Role::Dockerfile].map(word);
        assert_eq!(roles, ["build", "frontend", "context", "dockerfile"]);
        let kinds = [
            SourceKind::Image,
            SourceKind::OciLayout,
            SourceKind::Blob,
            SourceKind::Git,
            SourceKind::Http,
            SourceKind::Local,
        ]
        .map(word);
        assert_eq!(
            kinds,
            ["image", "oci-layout", "blob", "git", "http", "local"]
        );
        // Records of one source are merged and listed in this order.
        assert!(Verdict::Allow < Verdict::Deny && Verdict::Deny < Verdict::NoPolicy);
    }
}
