//! The Dockerfile's `# syntax=` line (or `BUILDKIT_SYNTAX`) when this frontend was started
//! directly (`gateway.v0`, no `cmdline`): BuildKit's Dockerfile frontend would follow it to
//! another frontend image, so this one follows it as the `dockerfile-frontend` choice,
//! decided by the policy and pinned. A line naming this frontend is how users reach it and
//! is not followed again.

use prost::Message;

use super::places::{self, Place};
use crate::error::{Error, Result};
use crate::gateway::Options;
use crate::gateway::options::{OPT_CMDLINE, OPT_SOURCE};
use crate::proto::pb;
use crate::sources::ImageRef;

const SYNTAX_ARG: &str = "build-arg:BUILDKIT_SYNTAX";
/// `# key = value` directives (BuildKit's parser).
const DIRECTIVE: &str = r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$";
const DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];
/// BuildKit's `errdefs.Source`: where in a file an error is, which clients print as a
/// snippet of the Dockerfile.
const SOURCE_DETAIL: &str = "type.googleapis.com/errdefs.Source";

/// Another frontend the Dockerfile asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Syntax {
    pub image: String,
    /// The whole directive, as BuildKit passes it on.
    pub cmdline: String,
    /// Where it was written; `None` for `BUILDKIT_SYNTAX`.
    at: Option<(pb::SourceInfo, Vec<pb::Range>)>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ErrSource {
    #[prost(message, optional, tag = "1")]
    info: Option<pb::SourceInfo>,
    #[prost(message, repeated, tag = "2")]
    ranges: Vec<pb::Range>,
}

/// The frontend to follow, if any: only when nobody set `cmdline` (a Dockerfile frontend
/// that followed a syntax line here sets it) and no `dockerfile-frontend` option chose one.
pub async fn detect(
    bridge: &crate::gateway::Bridge,
    opts: &Options,
    dockerfile: &Place,
) -> Result<Option<Syntax>> {
    if opts.all.contains_key(OPT_CMDLINE) || opts.dockerfile_frontend.is_some() {
        return Ok(None);
    }
    let found = match opts.all.get(SYNTAX_ARG).filter(|v| !v.trim().is_empty()) {
        Some(v) => Some(Syntax {
            image: v.split_whitespace().next().unwrap_or_default().to_string(),
            cmdline: v.trim().to_string(),
            at: None,
        }),
        None => read(bridge, opts, dockerfile).await?,
    };
    Ok(found.filter(|s| !names_this_frontend(&s.image, opts.all.get(OPT_SOURCE))))
}

/// The Dockerfile as the Dockerfile frontend finds it (`filename`, or `dockerfile` for a
/// missing `Dockerfile`) and its syntax directive.
async fn read(
    bridge: &crate::gateway::Bridge,
    opts: &Options,
    dockerfile: &Place,
) -> Result<Option<Syntax>> {
    let filename = opts
        .all
        .get("filename")
        .filter(|f| !f.is_empty())
        .map_or("Dockerfile", String::as_str);
    let mut found = places::read_at_with_definition(bridge, opts, dockerfile, filename).await?;
    let mut name = filename.to_string();
    if found.is_none() && filename.rsplit('/').next() == Some("Dockerfile") {
        name = format!(
            "{}dockerfile",
            filename.strip_suffix("Dockerfile").unwrap_or("")
        );
        found = places::read_at_with_definition(bridge, opts, dockerfile, &name).await?;
    }
    // No Dockerfile: the Dockerfile frontend reports it.
    let Some((data, definition)) = found else {
        return Ok(None);
    };
    Ok(directive(&data).map(|(image, cmdline, line)| {
        let info = pb::SourceInfo {
            filename: name,
            data,
            definition: Some(definition),
            language: "Dockerfile".into(),
        };
        let pos = pb::Position { line, character: 0 };
        let range = pb::Range {
            start: Some(pos),
            end: Some(pos),
        };
        Syntax {
            image,
            cmdline,
            at: Some((info, vec![range])),
        }
    }))
}

/// `image`, the whole value and its line, from `# syntax=`, `// syntax=` or a JSON
/// `{"syntax": …}` file, as BuildKit's `DetectSyntax` reads them.
fn directive(data: &[u8]) -> Option<(String, String, i32)> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let text = String::from_utf8_lossy(data);
    let (text, skipped) = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("#!") => (rest.to_string(), 1),
        _ => (text.to_string(), 0),
    };
    for comment in ["#", "//"] {
        if let Some((value, line)) = comment_directive(&text, comment) {
            let image = value.split(' ').next().unwrap_or_default().to_string();
            return Some((image, value, line + skipped));
        }
    }
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let v = json.get("syntax")?.as_str()?.to_string();
    Some((v.clone(), v, skipped))
}

/// The `syntax` directive among the leading comment lines: directives end at the first
/// line that is not one.
fn comment_directive(text: &str, comment: &str) -> Option<(String, i32)> {
    let re = regex::Regex::new(DIRECTIVE).expect("valid regex");
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let rest = line.strip_prefix(comment)?.trim_start();
        let m = re.captures(rest)?;
        let key = m[1].to_ascii_lowercase();
        if !DIRECTIVES.contains(&key.as_str()) {
            return None;
        }
        if key == "syntax" {
            return Some((m[2].to_string(), i as i32 + 1));
        }
    }
    None
}

/// Whether `image` is this frontend's own image (`source`, as BuildKit started it): the
/// same repository, whatever tag or digest the line writes.
fn names_this_frontend(image: &str, source: Option<&String>) -> bool {
    let name = |s: &str| ImageRef::normalize(s).ok().map(|r| r.name);
    match (name(image), source.and_then(|s| name(s))) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

impl Syntax {
    /// The options with the frontend chosen, and `cmdline` as BuildKit's forwarding sets
    /// it, so the chosen frontend does not follow the line again.
    pub fn options(&self, opts: &Options) -> Options {
        let mut out = opts.clone();
        out.dockerfile_frontend = Some(self.image.clone());
        out.all.insert(OPT_CMDLINE.into(), self.cmdline.clone());
        out
    }

    /// An error about the chosen frontend, located at the line, as BuildKit reports a
    /// frontend its syntax line cannot start.
    pub fn locate(&self, err: Error) -> Error {
        let Some((info, ranges)) = &self.at else {
            return Error::Other(format!(
                "failed with {SYNTAX_ARG} = {}: {err}",
                self.cmdline
            ));
        };
        let detail = prost_types::Any {
            type_url: SOURCE_DETAIL.into(),
            value: ErrSource {
                info: Some(info.clone()),
                ranges: ranges.clone(),
            }
            .encode_to_vec(),
        };
        let status = crate::proto::google::rpc::Status {
            code: tonic::Code::Unknown as i32,
            message: err.to_string(),
            details: vec![detail],
        };
        Error::SubFrontend {
            status: Box::new(tonic::Status::with_details(
                tonic::Code::Unknown,
                err.to_string(),
                status.encode_to_vec().into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_syntax_directive_as_buildkit_does() {
        let d = |s: &str| directive(s.as_bytes());
        assert_eq!(
            d("# syntax=reg/df:1\nFROM scratch\n"),
            Some(("reg/df:1".into(), "reg/df:1".into(), 1))
        );
        assert_eq!(
            d("#!/usr/bin/env x\n# escape=`\n#  SYNTAX = reg/df --flag \r\nFROM a"),
            Some(("reg/df".into(), "reg/df --flag".into(), 3))
        );
        assert_eq!(
            d("// syntax=reg/c\n"),
            Some(("reg/c".into(), "reg/c".into(), 1))
        );
        assert_eq!(
            d("{\"syntax\": \"reg/j\"}"),
            Some(("reg/j".into(), "reg/j".into(), 0))
        );
        assert_eq!(d("FROM a\n# syntax=reg/late\n"), None);
        assert_eq!(d("# hello\n# syntax=reg/after-comment\n"), None);
        assert_eq!(d("# other=1\n# syntax=reg/x\n"), None);
    }

    #[test]
    fn a_line_naming_this_frontend_is_not_followed() {
        let src = "127.0.0.1:5000/verified-frontend:latest".to_string();
        assert!(names_this_frontend(
            "127.0.0.1:5000/verified-frontend",
            Some(&src)
        ));
        assert!(names_this_frontend(
            "127.0.0.1:5000/verified-frontend:2@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            Some(&src)
        ));
        assert!(!names_this_frontend("docker/dockerfile:1", Some(&src)));
        assert!(!names_this_frontend("docker/dockerfile:1", None));
    }

    #[test]
    fn following_sets_the_choice_and_cmdline() {
        let s = Syntax {
            image: "reg/df:1".into(),
            cmdline: "reg/df:1 --x".into(),
            at: None,
        };
        let o = s.options(&Options::default());
        assert_eq!(o.dockerfile_frontend.as_deref(), Some("reg/df:1"));
        assert_eq!(o.forwarded()["cmdline"], "reg/df:1 --x");
        assert_eq!(o.forwarded()["source"], "reg/df:1");
    }
}
