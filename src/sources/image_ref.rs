//! Image references, by Docker's distribution reference grammar read into an
//! `oci_client::Reference` (oci-spec's `distribution::Reference`; `reference_grammar` says
//! why it is read here and not by that crate): one grammar for source identifiers, names
//! users write, provenance materials and the `verify` subcommand. What the grammar leaves to
//! Go's packages is added here: lowercase-hex digests of a known algorithm (go-digest), the
//! 255-character name limit on the whole name and no 64-hex repository names
//! (`ParseNormalizedNamed`).

use std::fmt;
use std::str::FromStr;

use oci_client::{ParseError, Reference};

use super::reference_grammar::{self, DOCKER_HUB, OFFICIAL_PREFIX};

/// Docker's limit on a name, registry host included (`NameTotalLengthMax`).
const NAME_MAX: usize = 255;
/// A registry host oci-spec's grammar accepts, standing in for an IPv6 one while the rest
/// of a reference is read.
const IPV6_STAND_IN: &str = "ipv6.invalid";

/// An image reference as written: `<name>[:<tag>][@<algo>:<hex>]`. From `parse` the name is
/// kept exactly as the identifier wrote it (BuildKit's Dockerfile frontend writes it
/// normalized); `normalize` makes it so.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// A reference as a source identifier writes it, checked against Docker's grammar and
    /// taken as written: nothing is added (no registry, no `latest`), so it prints back the
    /// same.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parsed = grammar(s)?;
        let (name, tag, digest) = written(s, &parsed);
        Ok(ImageRef {
            name: name.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// A reference as users write it (`alpine`, `org/app:1`, `host:5000/x`), normalized as
    /// Docker does (`ParseNormalizedNamed`, then `TagNameOnly`) and BuildKit writes source
    /// identifiers: registry explicit, `library/` for Docker Hub's official images, `latest`
    /// when neither tag nor digest is given.
    pub fn normalize(s: &str) -> Result<Self, String> {
        if is_digest_hex(s) {
            return Err(format!(
                "image reference {s:?} is a 64-character hex string, not a repository name"
            ));
        }
        let parsed = grammar(s)?;
        let name = format!("{}/{}", parsed.registry(), parsed.repository());
        // The limit holds for the name as normalized (`docker.io/library/` included), or a
        // normalized name would be refused when read again.
        if name.len() > NAME_MAX {
            return Err(format!(
                "image reference {s:?}: normalized, the name is longer than {NAME_MAX} characters"
            ));
        }
        Ok(ImageRef {
            name,
            tag: parsed.tag().map(str::to_string),
            digest: parsed.digest().map(str::to_string),
        })
    }

    /// The same reference pinned to `digest`, keeping the tag for readers.
    pub fn with_digest(&self, digest: &str) -> Self {
        ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The same reference without its digest: what its tag names.
    pub fn without_digest(&self) -> Self {
        ImageRef {
            digest: None,
            ..self.clone()
        }
    }

    /// The registry and repository path the name stands for, by Docker's normalization
    /// (`docker.io`, `library/x`), whatever form the name was written in.
    pub fn domain_and_path(&self) -> Result<(String, String), String> {
        let parsed = grammar(&self.name)?;
        Ok((
            parsed.registry().to_string(),
            parsed.repository().to_string(),
        ))
    }
}

/// The familiar form of a normalized repository (`reference.FamiliarName`): Docker Hub's
/// registry dropped, and `library/` for its official images.
pub fn familiar_name(domain: &str, path: &str) -> String {
    if domain != DOCKER_HUB {
        return format!("{domain}/{path}");
    }
    path.strip_prefix(OFFICIAL_PREFIX)
        .filter(|p| !p.contains('/'))
        .unwrap_or(path)
        .to_string()
}

/// `s` by Docker's reference grammar, with the checks the grammar leaves to Go's packages.
fn grammar(s: &str) -> Result<Reference, String> {
    let parsed = reference(s).map_err(|e| format!("image reference {s:?}: {e}"))?;
    let (name, _, digest) = written(s, &parsed);
    // Docker's normalization reads a first component without `.`, `:` or `localhost` as
    // part of the path, which its grammar allowed in uppercase as a host.
    if parsed.repository().chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "image reference {s:?}: repository name must be lowercase"
        ));
    }
    if let Some(d) = digest {
        validate_digest(d).map_err(|e| format!("image reference {s:?}: {e}"))?;
    }
    if name.len() > NAME_MAX {
        return Err(format!(
            "image reference {s:?}: the name is longer than {NAME_MAX} characters"
        ));
    }
    Ok(parsed)
}

/// Docker's grammar allows an IPv6 address in brackets as the registry host, the one read
/// here does not: the rest is read with a stand-in host, and the address put back.
fn reference(s: &str) -> Result<Reference, ParseError> {
    let Some((host, rest)) = ipv6_host(s) else {
        return reference_grammar::parse(s);
    };
    let p = reference_grammar::parse(&format!("{IPV6_STAND_IN}/{rest}"))?;
    let (registry, repository) = (host.to_string(), p.repository().to_string());
    Ok(match (p.tag(), p.digest()) {
        (Some(t), Some(d)) => {
            Reference::with_tag_and_digest(registry, repository, t.into(), d.into())
        }
        (None, Some(d)) => Reference::with_digest(registry, repository, d.into()),
        (t, None) => Reference::with_tag(registry, repository, t.unwrap_or("latest").into()),
    })
}

/// `[<hex and colons>][:<port>]` before the first `/`, and what follows it.
fn ipv6_host(s: &str) -> Option<(&str, &str)> {
    let (host, rest) = s.split_once('/')?;
    let (addr, port) = host.strip_prefix('[')?.split_once(']')?;
    let addr_ok = !addr.is_empty() && addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    (addr_ok && port_ok).then_some((host, rest))
}

/// Name, tag and digest of `s` as written, by the crate's reading of it. The crate adds
/// `latest` to a bare name; only a tag that was written is returned.
fn written<'a>(s: &'a str, parsed: &Reference) -> (&'a str, Option<&'a str>, Option<&'a str>) {
    // The grammar is anchored: a digest or tag the crate found ends the string.
    let (rest, digest) = match parsed.digest() {
        Some(d) => (&s[..s.len() - d.len() - 1], Some(&s[s.len() - d.len()..])),
        None => (s, None),
    };
    match parsed.tag() {
        Some(t) if rest.strip_suffix(t).is_some_and(|r| r.ends_with(':')) => {
            let at = rest.len() - t.len();
            (&rest[..at - 1], Some(&rest[at..]), digest)
        }
        _ => (rest, None, digest),
    }
}

fn is_digest_hex(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// A content digest as go-digest accepts it: `sha256`, `sha384` or `sha512`, lowercase hex
/// of the algorithm's length (checked by oci-spec's `Digest`).
pub fn validate_digest(d: &str) -> Result<(), String> {
    use oci_spec::image::{Digest, DigestAlgorithm};
    let parsed = Digest::from_str(d).map_err(|e| format!("digest {d:?} is malformed: {e}"))?;
    match parsed.algorithm() {
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512 => Ok(()),
        _ => Err(format!("digest {d:?} uses an unsupported algorithm")),
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:1081373f7b51f22c5712fc7d859f2949d3672214fe41383ecf960db12ab999b3";

    fn n(s: &str) -> String {
        ImageRef::normalize(s).unwrap().to_string()
    }

    #[test]
    fn host_port_is_not_a_tag() {
        let r = ImageRef::parse("127.0.0.1:5000/busybox:latest").unwrap();
        assert_eq!(
            (r.name.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000/busybox", Some("latest"))
        );
        let r = ImageRef::parse("127.0.0.1:5000/busybox").unwrap();
        assert_eq!(r.tag, None);
    }

    #[test]
    fn tag_and_digest() {
        let r = ImageRef::parse(&format!("docker.io/library/alpine:3.20@{D}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("3.20"));
        assert_eq!(r.digest.as_deref(), Some(D));
        let p = ImageRef::parse("docker.io/library/alpine:3.20")
            .unwrap()
            .with_digest(D);
        assert_eq!(p.to_string(), format!("docker.io/library/alpine:3.20@{D}"));
        assert_eq!(
            p.without_digest().to_string(),
            "docker.io/library/alpine:3.20"
        );
    }

    #[test]
    fn parse_takes_the_reference_as_written() {
        for s in [
            "abc",
            "a/latest",
            "docker.io/busybox",
            "index.docker.io/library/x:1",
            &format!("abc@{D}"),
            &format!("127.0.0.1:5000/x:1@{D}"),
        ] {
            assert_eq!(ImageRef::parse(s).unwrap().to_string(), s);
        }
        let r = ImageRef::parse(&format!("127.0.0.1:5000/x:1@{D}")).unwrap();
        assert_eq!(
            (r.name.as_str(), r.tag.as_deref(), r.digest.as_deref()),
            ("127.0.0.1:5000/x", Some("1"), Some(D))
        );
        // A repository named like the default tag has no tag.
        assert_eq!(ImageRef::parse("a/latest").unwrap().tag, None);
    }

    #[test]
    fn normalizes_familiar_references() {
        assert_eq!(n("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("org/app:1"), "docker.io/org/app:1");
        assert_eq!(
            n("127.0.0.1:5000/verified-frontend"),
            "127.0.0.1:5000/verified-frontend:latest"
        );
        assert_eq!(
            n(&format!("alpine@{D}")),
            format!("docker.io/library/alpine@{D}")
        );
        assert!(ImageRef::normalize("UPPER").is_err());
    }

    /// Docker's rules (distribution/reference normalize_test.go, reference_test.go).
    #[test]
    fn normalizes_as_docker_does() {
        assert_eq!(n("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(n("localhost/x"), "localhost/x:latest");
        assert_eq!(
            n(&format!("127.0.0.1:5000/x:1@{D}")),
            format!("127.0.0.1:5000/x:1@{D}")
        );
        assert_eq!(n("index.docker.io/x"), "docker.io/library/x:latest");
        assert_eq!(n("docker.io/busybox"), "docker.io/library/busybox:latest");
        // No dot, colon or `localhost` before the first slash: not a registry.
        assert_eq!(n("test.com:5000"), "docker.io/library/test.com:5000");
        assert_eq!(n("foo/foo_bar.com:8080"), "docker.io/foo/foo_bar.com:8080");
        assert_eq!(n("Example.com/x"), "Example.com/x:latest");
        assert_eq!(n("a/b__c/d-e.f"), "docker.io/a/b__c/d-e.f:latest");
    }

    #[test]
    fn ipv6_registry_hosts_as_docker_reads_them() {
        assert_eq!(n("[::1]:5000/x:1"), "[::1]:5000/x:1");
        assert_eq!(n("[fe80::1]/a/b"), "[fe80::1]/a/b:latest");
        assert_eq!(n(&format!("[::1]/x@{D}")), format!("[::1]/x@{D}"));
        let r = ImageRef::parse("[::1]:5000/x").unwrap();
        assert_eq!((r.name.as_str(), r.tag.as_deref()), ("[::1]:5000/x", None));
        assert_eq!(
            r.domain_and_path().unwrap(),
            ("[::1]:5000".into(), "x".into())
        );
        for s in [
            "[::1",
            "[zz]/x",
            "[::1]:5000",
            "[]/x",
            "[::1]:p/x",
            "[::1]/X",
        ] {
            assert!(ImageRef::normalize(s).is_err(), "{s}");
        }
    }

    #[test]
    fn refuses_what_docker_refuses() {
        let long_tag = "t".repeat(129);
        let long_name = format!("h.io/{}", "a".repeat(251));
        let hex = "a".repeat(64);
        for s in [
            "a//b",
            "a/B",
            "UPPER/case",
            "a:-x",
            "a:.x",
            "a/b:",
            ":tag",
            "a/b/",
            "-a/b",
            "a_/b",
            "h:port/x",
            "a:é",
            &format!("a:{long_tag}"),
            &long_name,
            &hex,
        ] {
            assert!(ImageRef::normalize(s).is_err(), "normalize {s:?}");
        }
        assert!(ImageRef::normalize(&format!("a:{}", "t".repeat(128))).is_ok());
        assert!(ImageRef::normalize(&format!("h.io/{}", "a".repeat(250))).is_ok());
        // Found by fuzzing: Docker Hub's prefix counts, or the normalized name would not
        // normalize again.
        let hub = format!("{}/b", "a".repeat(250));
        assert!(ImageRef::parse(&hub).is_ok());
        let e = ImageRef::normalize(&hub).unwrap_err();
        assert!(e.contains("normalized, the name is longer than 255"), "{e}");
        assert!(ImageRef::normalize(&format!("{}/b", "a".repeat(243))).is_ok());
        // As written, a 64-hex name is a name (BuildKit's identifiers never have one).
        assert!(ImageRef::parse(&hex).is_ok());
        assert!(ImageRef::parse("a//b").is_err());
        assert!(ImageRef::parse("a:-x").is_err());
    }

    #[test]
    fn digests_are_checked_as_go_digest_does() {
        let upper = D.to_uppercase().replace("SHA256", "sha256");
        for d in [
            "sha256:xyz",
            "md5:00",
            "sha256:0123",
            upper.as_str(),
            &format!("sha512:{}", &D[7..]),
            &format!("sha256:{}0", &D[7..]),
        ] {
            assert!(ImageRef::parse(&format!("a/b@{d}")).is_err(), "{d}");
            assert!(validate_digest(d).is_err(), "{d}");
        }
        let md5ish = format!("blake3:{}", &D[7..]);
        assert!(
            validate_digest(&md5ish)
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(validate_digest("nocolon").is_err());
        validate_digest(D).unwrap();
        validate_digest(&format!("sha512:{}", "0".repeat(128))).unwrap();
    }

    #[test]
    fn domain_path_and_familiar_name() {
        let dp = |s: &str| ImageRef::parse(s).unwrap().domain_and_path().unwrap();
        assert_eq!(
            dp("docker.io/library/alpine:1"),
            ("docker.io".into(), "library/alpine".into())
        );
        assert_eq!(dp("alpine"), ("docker.io".into(), "library/alpine".into()));
        assert_eq!(
            dp("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000".into(), "a/b".into())
        );
        assert_eq!(familiar_name("docker.io", "library/alpine"), "alpine");
        assert_eq!(familiar_name("docker.io", "org/app"), "org/app");
        assert_eq!(familiar_name("docker.io", "library/a/b"), "library/a/b");
        assert_eq!(familiar_name("ghcr.io", "o/x"), "ghcr.io/o/x");
    }

    #[test]
    fn malformed() {
        assert!(ImageRef::parse("a/b@sha256:xyz").is_err());
        assert!(ImageRef::parse("a/b@md5:00").is_err());
        assert!(ImageRef::parse("a/b:").is_err());
        assert!(ImageRef::parse(":tag").is_err());
        assert!(ImageRef::parse("a/B").is_err());
    }
}
