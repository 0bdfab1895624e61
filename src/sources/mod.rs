//! What a source op brings into the build, read from its identifier and attributes.
//!
//! Every scheme BuildKit knows is listed; anything else is refused, because a source this
//! frontend cannot classify is a source it cannot verify.

use std::fmt;

use crate::error::{Error, Result};
use crate::model::SourceKind;
use crate::proto::pb;

pub mod image_ref;
pub mod reference_grammar;

pub use image_ref::ImageRef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `docker-image://<ref>`
    Image(ImageRef),
    /// `oci-layout://<store-ref>`: an image from an OCI layout the client provides.
    OciLayout(ImageRef),
    /// `docker-image+blob://` / `oci-layout+blob://<repo>@<digest>`: one blob, addressed by
    /// content, so it is pinned by construction.
    Blob { scheme: String, reference: String },
    /// `git://<remote>[#<ref>[:<subdir>]]`
    Git {
        remote: String,
        reference: Option<String>,
        subdir: Option<String>,
    },
    /// `http://` or `https://` URL.
    Http { url: String },
    /// `local://<name>`: a directory the client sends (build context, Dockerfile, named context).
    Local { name: String },
}

impl Source {
    pub fn parse(op: &pb::SourceOp) -> Result<Self> {
        let id = op.identifier.as_str();
        let (scheme, rest) = id
            .split_once("://")
            .ok_or_else(|| Error::source(id, "identifier has no scheme"))?;
        if rest.is_empty() {
            return Err(Error::source(id, "identifier is empty after the scheme"));
        }
        Ok(match scheme {
            "docker-image" => {
                Source::Image(ImageRef::parse(rest).map_err(|e| Error::source(id, e))?)
            }
            "oci-layout" => {
                Source::OciLayout(ImageRef::parse(rest).map_err(|e| Error::source(id, e))?)
            }
            "docker-image+blob" | "oci-layout+blob" => {
                let r = ImageRef::parse(rest).map_err(|e| Error::source(id, e))?;
                if r.digest.is_none() {
                    return Err(Error::source(id, "a blob source must name its digest"));
                }
                Source::Blob {
                    scheme: scheme.to_string(),
                    reference: rest.to_string(),
                }
            }
            "git" => {
                let (remote, frag) = match rest.split_once('#') {
                    Some((r, f)) => (r, Some(f)),
                    None => (rest, None),
                };
                let (reference, subdir) = match frag {
                    Some(f) => match f.split_once(':') {
                        Some((r, s)) => (r, Some(s.to_string())),
                        None => (f, None),
                    },
                    None => ("", None),
                };
                Source::Git {
                    remote: remote.to_string(),
                    reference: (!reference.is_empty()).then(|| reference.to_string()),
                    subdir,
                }
            }
            "http" | "https" => Source::Http {
                url: id.to_string(),
            },
            "local" => Source::Local {
                name: rest.to_string(),
            },
            other => {
                return Err(Error::source(
                    id,
                    format!(
                        "unknown source type {other:?}; refusing a source that cannot be verified"
                    ),
                ));
            }
        })
    }

    pub fn kind(&self) -> SourceKind {
        match self {
            Source::Image(_) => SourceKind::Image,
            Source::OciLayout(_) => SourceKind::OciLayout,
            Source::Blob { .. } => SourceKind::Blob,
            Source::Git { .. } => SourceKind::Git,
            Source::Http { .. } => SourceKind::Http,
            Source::Local { .. } => SourceKind::Local,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Image(r) => write!(f, "docker-image://{r}"),
            Source::OciLayout(r) => write!(f, "oci-layout://{r}"),
            Source::Blob { scheme, reference } => write!(f, "{scheme}://{reference}"),
            Source::Git {
                remote,
                reference,
                subdir,
            } => {
                write!(f, "git://{remote}")?;
                if reference.is_some() || subdir.is_some() {
                    write!(f, "#{}", reference.as_deref().unwrap_or(""))?;
                }
                if let Some(s) = subdir {
                    write!(f, ":{s}")?;
                }
                Ok(())
            }
            Source::Http { url } => f.write_str(url),
            Source::Local { name } => write!(f, "local://{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(id: &str) -> Result<Source> {
        Source::parse(&pb::SourceOp {
            identifier: id.into(),
            attrs: Default::default(),
        })
    }

    #[test]
    fn classifies_every_buildkit_scheme() {
        let cases = [
            ("docker-image://docker.io/library/alpine:3.20", "image"),
            (
                "oci-layout://abc@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "oci-layout",
            ),
            (
                "docker-image+blob://docker.io/library/alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "blob",
            ),
            ("git://127.0.0.1:9418/repo.git#v1:sub", "git"),
            ("https://example.com/a.tar.gz", "http"),
            ("http://127.0.0.1:8000/a", "http"),
            ("local://context", "local"),
        ];
        for (id, kind) in cases {
            let s = parse(id).unwrap();
            assert_eq!(s.kind().as_str(), kind, "{id}");
            assert_eq!(s.to_string(), id, "round trip of {id}");
        }
    }

    #[test]
    fn git_fragment_is_ref_and_subdir() {
        let Source::Git {
            remote,
            reference,
            subdir,
        } = parse("git://h/r.git#main:a/b").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (remote.as_str(), reference.as_deref(), subdir.as_deref()),
            ("h/r.git", Some("main"), Some("a/b"))
        );
        let Source::Git {
            reference, subdir, ..
        } = parse("git://h/r.git").unwrap()
        else {
            panic!()
        };
        assert_eq!((reference, subdir), (None, None));
    }

    #[test]
    fn refuses_unknown_and_malformed() {
        assert!(
            parse("ftp://x/y")
                .unwrap_err()
                .to_string()
                .contains("unknown source type")
        );
        assert!(parse("no-scheme").is_err());
        assert!(parse("local://").is_err());
        assert!(
            parse("docker-image+blob://a/b:c")
                .unwrap_err()
                .to_string()
                .contains("digest")
        );
        assert!(parse("docker-image://UPPER/case").is_err());
    }
}
