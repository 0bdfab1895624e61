//! Docker's reference grammar (distribution's `reference.ReferenceRegexp`) read into an
//! `oci_client::Reference`, as oci-spec's `Reference::from_str` reads it but with Go's ASCII
//! `\w` in the tag. oci-spec compiles the grammar with Unicode `\w{0,127}`, which takes
//! about 110 ms of CPU on the first parse; every build is a new frontend process, so that
//! was paid on each build's critical path. The ASCII grammar compiles in well under a
//! millisecond, and a Unicode tag, which Docker refuses, is refused here too.

use std::sync::OnceLock;

use oci_client::{ParseError, Reference};
use oci_spec::image::DigestAlgorithm;
use regex::Regex;

pub const DOCKER_HUB: &str = "docker.io";
pub const OFFICIAL_PREFIX: &str = "library/";
/// oci-spec's limit on the repository path alone (`NAME_TOTAL_LENGTH_MAX`).
const REPOSITORY_MAX: usize = 255;

/// `name[:tag][@digest]`, anchored; groups: name, tag, digest. Built from the grammar's
/// productions: a domain (components joined by `.`, optional port) then `/`, path
/// components of lowercase alphanumerics joined by `.`, `_`, `__` or dashes, a tag of
/// 1..=128 word characters, dots and dashes starting with a word character, and a digest
/// `algorithm:hex` of at least 32 hex digits.
fn grammar() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let domain_component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let domain = format!(r"{domain_component}(?:\.{domain_component})*(?::[0-9]+)?");
        let path_component = r"[a-z0-9]+(?:(?:[._]|__|-*)[a-z0-9]+)*";
        let name = format!(r"(?:{domain}/)?{path_component}(?:/{path_component})*");
        let tag = r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
        let digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
        Regex::new(&format!(r"^({name})(?::({tag}))?(?:@({digest}))?$"))
            .expect("the reference grammar is a valid regex")
    })
}

/// `s` as a reference: registry split off (`docker.io` when the first component is not a
/// host), `library/` for Docker Hub's official images, `latest` when neither tag nor
/// digest is written; a name over 255 characters or a digest of a known algorithm with the
/// wrong length is refused.
pub fn parse(s: &str) -> Result<Reference, ParseError> {
    if s.is_empty() {
        return Err(ParseError::NameEmpty);
    }
    let caps = grammar()
        .captures(s)
        .ok_or(ParseError::ReferenceInvalidFormat)?;
    let (registry, repository) = split_domain(&caps[1]);
    if repository.len() > REPOSITORY_MAX {
        return Err(ParseError::NameTooLong);
    }
    let tag = caps.get(2).map(|m| m.as_str().to_string());
    let Some(digest) = caps.get(3).map(|m| m.as_str().to_string()) else {
        let tag = tag.unwrap_or_else(|| "latest".into());
        return Ok(Reference::with_tag(registry, repository, tag));
    };
    check_digest_length(&digest)?;
    Ok(match tag {
        Some(tag) => Reference::with_tag_and_digest(registry, repository, tag, digest),
        None => Reference::with_digest(registry, repository, digest),
    })
}

fn check_digest_length(digest: &str) -> Result<(), ParseError> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or(ParseError::DigestInvalidFormat)?;
    let want = DigestAlgorithm::from(algorithm)
        .digest_hexlen()
        .ok_or(ParseError::DigestUnsupported)?;
    if hex.len() == want as usize {
        Ok(())
    } else {
        Err(ParseError::DigestInvalidLength)
    }
}

/// Docker's `splitDockerDomain`: the first component is a registry host when it holds a
/// `.` or `:` or is `localhost`.
fn split_domain(name: &str) -> (String, String) {
    let (domain, rest) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first, rest.to_string())
        }
        _ => (DOCKER_HUB, name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DOCKER_HUB
    } else {
        domain
    };
    let rest = if domain == DOCKER_HUB && !rest.contains('/') {
        format!("{OFFICIAL_PREFIX}{rest}")
    } else {
        rest
    };
    (domain.to_string(), rest)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const HEX: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    /// oci-spec's own reading is the oracle for every ASCII reference: the same fields, or
    /// the same refusal.
    #[test]
    fn reads_ascii_references_as_oci_spec_does() {
        let cases = [
            "busybox".to_string(),
            "test.com:tag".into(),
            "test.com:5000".into(),
            "test:5000/repo".into(),
            format!("test:5000/repo:tag@sha256:{HEX}"),
            format!("test:5000/repo@sha256:{HEX}"),
            format!("repo@sha512:{HEX}{HEX}"),
            format!("repo@sha384:{}", &HEX[..32].repeat(3)),
            format!("repo@sha256:{}", &HEX[..40]),
            format!("repo@md5:{}", &HEX[..32]),
            format!("repo@sha256:{}", &HEX[..31]),
            "lowercase:Uppercase".into(),
            "Uppercase:tag".into(),
            "localhost/x".into(),
            "localhost:5000/x:1".into(),
            "index.docker.io/x".into(),
            "index.docker.io/library/x:1".into(),
            "docker.io/org/x".into(),
            "org/x:__".into(),
            "org/x:_a".into(),
            "org/x:.a".into(),
            "org/x:-a".into(),
            format!("x:{}", "a".repeat(128)),
            format!("x:{}", "a".repeat(129)),
            "a__b/c--d/e.f_g".into(),
            "a___b".into(),
            "a..b".into(),
            "-a/b".into(),
            "a-/b".into(),
            "host-/b".into(),
            "h.-a/b".into(),
            "xn--n3h.com/myimage:xn--n3h.com".into(),
            "foo_bar.com:8080".into(),
            "a/b/c/d/e:f".into(),
            "a//b".into(),
            "a/".into(),
            "/a".into(),
            "a:".into(),
            "a@".into(),
            "a:b:c".into(),
            "[::1]/x".into(),
            "127.0.0.1:5000/perf/busybox:s1".into(),
            "a".repeat(256),
            format!("h.io/{}", "a".repeat(251)),
            format!("h.io/{}", "a".repeat(256)),
            "".into(),
            " a".into(),
            "a\n".into(),
        ];
        for s in &cases {
            assert_eq!(parse(s), Reference::from_str(s), "{s:?}");
        }
    }

    /// Go's `\w` is ASCII: Docker refuses a Unicode tag, which oci-spec's Unicode `\w`
    /// would read.
    #[test]
    fn refuses_unicode_tags() {
        assert!(Reference::from_str("x:tagé").is_ok());
        assert_eq!(parse("x:tagé"), Err(ParseError::ReferenceInvalidFormat));
        assert_eq!(parse("é/x"), Err(ParseError::ReferenceInvalidFormat));
    }
}
