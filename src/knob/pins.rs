//! What a Dockerfile pins itself: the `ADD --checksum=<value> <source>` lines. BuildKit's
//! graph carries the checksum too, but the policy input (Buildx's) does not say whether the
//! Dockerfile wrote it or the frontend resolved it, and only a written one keeps the next
//! build on the same bytes. A line this scan cannot read for certain (a `$` variable, the
//! JSON form, a heredoc) pins nothing here: the source is then denied with its fix line,
//! never let through.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::sources::ImageRef;

/// The Dockerfile's own pins, as the built-in policy reads them (`pins.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WrittenPins {
    /// URL as written → the checksum written for it.
    pub http: BTreeMap<String, String>,
    pub git: Vec<GitPin>,
    /// The repository of the `# syntax=` image, normalized as `input.image.fullRepo`: a
    /// denial of that image must say which line to change, and the input does not tell a
    /// frontend image from a `FROM` one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syntax: Option<String>,
}

/// A git source written with `ADD --checksum=<commit>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitPin {
    /// The URL before its `#ref` or `?query`.
    pub remote: String,
    pub checksum: String,
}

impl WrittenPins {
    /// The pins of a Dockerfile's text.
    pub fn scan(dockerfile: &str) -> Self {
        let mut out = WrittenPins::default();
        for line in logical_lines(dockerfile) {
            let Some((checksum, sources)) = add_with_checksum(&line) else {
                continue;
            };
            for s in sources {
                out.add(&checksum, s);
            }
        }
        out.git
            .sort_by(|a, b| (&a.remote, &a.checksum).cmp(&(&b.remote, &b.checksum)));
        out.git.dedup();
        out.syntax = directive(dockerfile, "syntax")
            .and_then(|s| ImageRef::normalize(s).ok())
            .map(|r| r.name);
        out
    }

    /// One source of a pinned `ADD`: a URL is both an http and (BuildKit decides which by
    /// its form) a git candidate; the policy matches each against its own kind's checksum.
    fn add(&mut self, checksum: &str, source: &str) {
        let is_url = ["http://", "https://", "git://", "ssh://", "git@"]
            .iter()
            .any(|p| source.starts_with(p));
        if !is_url {
            return;
        }
        if source.starts_with("http://") || source.starts_with("https://") {
            self.http.insert(source.to_string(), checksum.to_string());
        }
        let remote = source.split(['#', '?']).next().unwrap_or(source);
        self.git.push(GitPin {
            remote: remote.to_string(),
            checksum: checksum.to_string(),
        });
    }
}

/// The escape character a `# escape=` parser directive sets (`\` by default).
fn escape_char(text: &str) -> char {
    match directive(text, "escape") {
        Some("`") => '`',
        _ => '\\',
    }
}

/// The value of parser directive `name` (`# name=value`), read as BuildKit does: only in
/// the comment lines that open the file, up to the first one that is not a directive.
fn directive<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    for line in text.lines() {
        let d = line.trim().strip_prefix('#')?.trim();
        let (key, value) = d.split_once('=')?;
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(value.trim()).filter(|v| !v.is_empty());
        }
    }
    None
}

/// Instructions joined across their line continuations, comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let escape = escape_char(text);
    let mut out = Vec::new();
    let mut cur = String::new();
    for raw in text.lines() {
        let l = raw.trim();
        if l.starts_with('#') || (l.is_empty() && !cur.is_empty()) {
            continue;
        }
        match l.strip_suffix(escape) {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(l);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `ADD [--flag=…]… --checksum=<value> [--flag=…]… <src>… <dest>`: the checksum and the
/// sources, when the line can be read for certain.
fn add_with_checksum(line: &str) -> Option<(String, Vec<&str>)> {
    let mut words = line.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("ADD") {
        return None;
    }
    let words: Vec<&str> = words.collect();
    let args_at = words.iter().position(|w| !w.starts_with("--"))?;
    let checksum = words[..args_at]
        .iter()
        .find_map(|f| f.strip_prefix("--checksum="))?;
    let args = &words[args_at..];
    let unsure = |w: &&str| w.contains('$') || w.starts_with('[') || w.starts_with("<<");
    if args.len() < 2 || checksum.is_empty() || checksum.contains('$') || args.iter().any(unsure) {
        return None;
    }
    Some((checksum.to_string(), args[..args.len() - 1].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_checksums_a_dockerfile_writes() {
        let df = "# syntax=x\nFROM a\nADD --checksum=sha256:aa https://h/f.txt /f\n\
                  add --chmod=644 \\\n  --checksum=sha256:bb \\\n  http://h:8777/g.txt /g\n\
                  ADD --checksum=0123abcd git://h:9418/r.git#v1 /src\n\
                  ADD https://h/unpinned.txt /u\n";
        let p = WrittenPins::scan(df);
        assert_eq!(p.http["https://h/f.txt"], "sha256:aa");
        assert_eq!(p.http["http://h:8777/g.txt"], "sha256:bb");
        assert!(!p.http.contains_key("https://h/unpinned.txt"));
        assert!(p.git.contains(&GitPin {
            remote: "git://h:9418/r.git".into(),
            checksum: "0123abcd".into()
        }));
        assert_eq!(p.http.len(), 2, "{p:?}");
    }

    #[test]
    fn what_it_cannot_read_for_certain_pins_nothing() {
        for df in [
            "ARG S\nADD --checksum=$S https://h/f /f\n",
            "ARG U\nADD --checksum=sha256:aa ${U} /f\n",
            "ADD --checksum=sha256:aa [\"https://h/f\", \"/f\"]\n",
            "ADD --checksum=sha256:aa ./local /f\n",
            "RUN echo ADD --checksum=sha256:aa https://h/f /f\n",
            "ADD --checksum= https://h/f /f\n",
        ] {
            assert_eq!(WrittenPins::scan(df), WrittenPins::default(), "{df}");
        }
    }

    #[test]
    fn names_the_repository_of_the_syntax_directive() {
        let df = "# check=skip=all\n#Syntax = 127.0.0.1:5000/vf:latest\nFROM a\n";
        assert_eq!(
            WrittenPins::scan(df).syntax.as_deref(),
            Some("127.0.0.1:5000/vf")
        );
        let df = format!(
            "# syntax=docker/dockerfile:1.20@sha256:{}\nFROM a\n",
            "ab".repeat(32)
        );
        assert_eq!(
            WrittenPins::scan(&df).syntax.as_deref(),
            Some("docker.io/docker/dockerfile")
        );
        // A directive after the first comment or instruction is only a comment.
        for df in [
            "FROM a\n# syntax=x/y\n",
            "# a comment\n# syntax=x/y\nFROM a\n",
        ] {
            assert_eq!(WrittenPins::scan(df).syntax, None, "{df}");
        }
    }

    #[test]
    fn follows_the_escape_directive() {
        let df = "# escape=`\nFROM a\nADD `\n --checksum=sha256:cc `\n https://h/x /x\n";
        assert_eq!(WrittenPins::scan(df).http["https://h/x"], "sha256:cc");
    }
}
