use std::fmt;

/// A normalized image reference as BuildKit writes it in source identifiers:
/// `<name>[:<tag>][@<algo>:<hex>]`, where `name` already carries its registry host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                validate_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(format!("image reference {s:?} has no name"));
        }
        let path = name.split_once('/').map_or(name, |(host, path)| {
            if host.contains(['.', ':']) || host == "localhost" {
                path
            } else {
                name
            }
        });
        if !path
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        {
            return Err(format!(
                "image name {name:?} is not a valid repository name"
            ));
        }
        if let Some(t) = tag
            && (t.is_empty()
                || t.len() > 128
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        {
            return Err(format!("image tag {t:?} is not valid"));
        }
        Ok(ImageRef {
            name: name.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// A reference as users write it (`alpine`, `org/app:1`, `host:5000/x`), normalized as
    /// BuildKit writes source identifiers: registry host explicit, `latest` if untagged.
    pub fn normalize(s: &str) -> Result<Self, String> {
        let first = s.split('/').next().unwrap_or_default();
        let has_host = s.contains('/') && (first.contains(['.', ':']) || first == "localhost");
        let full = if has_host {
            s.to_string()
        } else if s.contains('/') {
            format!("docker.io/{s}")
        } else {
            format!("docker.io/library/{s}")
        };
        let mut r = ImageRef::parse(&full)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".into());
        }
        Ok(r)
    }

    /// The same reference pinned to `digest`, keeping the tag for readers.
    pub fn with_digest(&self, digest: &str) -> Self {
        ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

pub fn validate_digest(d: &str) -> Result<(), String> {
    let (algo, hex) = d
        .split_once(':')
        .ok_or_else(|| format!("digest {d:?} has no algorithm"))?;
    let len = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(format!("digest {d:?} uses an unsupported algorithm")),
    };
    if hex.len() != len
        || !hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(format!("digest {d:?} is malformed"));
    }
    Ok(())
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
    }

    #[test]
    fn normalizes_familiar_references() {
        let n = |s| ImageRef::normalize(s).unwrap().to_string();
        assert_eq!(n("alpine"), "docker.io/library/alpine:latest");
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

    #[test]
    fn malformed() {
        assert!(ImageRef::parse("a/b@sha256:xyz").is_err());
        assert!(ImageRef::parse("a/b@md5:00").is_err());
        assert!(ImageRef::parse("a/b:").is_err());
        assert!(ImageRef::parse(":tag").is_err());
        assert!(ImageRef::parse("a/B").is_err());
    }
}
