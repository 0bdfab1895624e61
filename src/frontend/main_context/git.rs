//! A git build context as the Dockerfile frontend reads it (dockerui's `DetectGitContext`,
//! dfgitutil's `ParseGitRef`): which strings are git URLs, the source op BuildKit's LLB
//! makes of one, and the same URL with its commit pinned (`checksum=` in the query), which
//! the Dockerfile frontend turns into `git.checksum` and BuildKit enforces.

use std::collections::BTreeMap;

use url::Url;

use crate::error::{Error, Result};
use crate::proto::pb;

/// `user@host:path[?query][#fragment]`, as sshutil reads an implicit SSH transport.
const SCP_STYLE: &str = r"^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$";
const KEEP_GIT_DIR_ARG: &str = "build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR";
const SOURCE_DATE_EPOCH_ARG: &str = "build-arg:SOURCE_DATE_EPOCH";
const GIT_ADVICE_ARG: &str = "build-arg:BUILDKIT_GIT_ADVICE";

/// A git context: the source op the Dockerfile frontend will load it with, and the string
/// the user gave, to hand back pinned.
#[derive(Debug, Clone, PartialEq)]
pub struct GitContext {
    pub op: pb::SourceOp,
    written: String,
    /// The query already names the commit (`checksum=` or `commit=`).
    has_checksum: bool,
}

/// The parts of a git URL the source op is made from.
struct Parts {
    scheme: String,
    host: String,
    path: String,
    remote: String,
    fragment: Option<String>,
    query: Vec<(String, String)>,
}

impl GitContext {
    /// `Ok(None)` when `value` is not a git URL (a local name, an http(s) URL that does not
    /// end in `.git`, an unknown scheme), as the Dockerfile frontend decides.
    pub fn parse(value: &str, opts: &BTreeMap<String, String>) -> Result<Option<Self>> {
        let Some(parts) = parts(value)? else {
            return Ok(None);
        };
        let bad = |m: String| Error::option("context", format!("{value}: {m}"));
        let mut q = Query::default();
        if let Some(f) = &parts.fragment {
            let (r, s) = f.split_once(':').unwrap_or((f, ""));
            q.reference = r.to_string();
            q.subdir = clean_path(s);
        }
        for (k, v) in &parts.query {
            q.apply(k, v).map_err(bad)?;
        }
        q.finish().map_err(bad)?;
        let op = q.source_op(&parts, opts);
        Ok(Some(GitContext {
            op,
            written: value.to_string(),
            has_checksum: q.checksum.is_some(),
        }))
    }

    /// The context string with `checksum` (the commit, or the tag object the ref names) in
    /// its query; the user's own `checksum=` is kept, BuildKit checks it.
    pub fn pinned(&self, checksum: &str) -> String {
        if self.has_checksum {
            return self.written.clone();
        }
        let (base, fragment) = match self.written.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (self.written.as_str(), None),
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        let mut out = format!("{base}{sep}checksum={checksum}");
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        out
    }
}

fn parts(value: &str) -> Result<Option<Parts>> {
    if value.starts_with("./") || value.starts_with("../") || value.is_empty() {
        return Ok(None);
    }
    // Deprecated, but the Dockerfile frontend still takes it for build contexts.
    let github = value.starts_with("github.com/");
    let value = if github {
        format!("https://{value}")
    } else {
        value.to_string()
    };
    if let Some((scheme, _)) = value.split_once("://")
        && !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric())
    {
        let scheme = scheme.to_ascii_lowercase();
        if !["http", "https", "ssh", "git"].contains(&scheme.as_str()) {
            return Ok(None);
        }
        let Ok(u) = Url::parse(&value) else {
            return Ok(None);
        };
        // An http(s) URL is a git repository only with the `.git` suffix.
        if scheme.starts_with("http") && !github && !u.path().ends_with(".git") {
            return Ok(None);
        }
        let host = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_string(),
        };
        let mut remote = u.clone();
        remote.set_fragment(None);
        remote.set_query(None);
        return Ok(Some(Parts {
            scheme,
            host,
            path: u.path().to_string(),
            remote: remote.to_string(),
            fragment: u.fragment().map(str::to_string),
            query: u.query_pairs().map(|(k, v)| (k.into(), v.into())).collect(),
        }));
    }
    let re = regex::Regex::new(SCP_STYLE).expect("valid regex");
    let Some(m) = re.captures(&value) else {
        return Ok(None);
    };
    let group = |i: usize| m.get(i).map_or("", |g| g.as_str());
    let query = url::form_urlencoded::parse(group(4).as_bytes())
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    Ok(Some(Parts {
        scheme: "ssh".into(),
        host: group(2).to_string(),
        path: group(3).to_string(),
        remote: format!("{}@{}:{}", group(1), group(2), group(3)),
        fragment: m.get(5).map(|g| g.as_str().to_string()),
        query,
    }))
}

/// Go's `path.Join("/", p)` without the leading slash.
fn clean_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

/// What the URL's fragment and query ask for (dfgitutil's `loadQuery`).
#[derive(Default)]
struct Query {
    reference: String,
    subdir: String,
    tag: String,
    branch: String,
    checksum: Option<String>,
    keep_git_dir: Option<bool>,
    submodules: Option<bool>,
    mtime: Option<String>,
    fetch_by_commit: bool,
}

impl Query {
    fn apply(&mut self, k: &str, v: &str) -> std::result::Result<(), String> {
        let flag = |v: &str| match v {
            "" => Ok(true),
            v => parse_bool(v).ok_or_else(|| format!("invalid {k} value: {v:?}")),
        };
        if v.is_empty() && !["submodules", "keep-git-dir", "fetch-by-commit"].contains(&k) {
            return Err(format!("query {k:?} has no value"));
        }
        match k {
            "ref" => set_once(&mut self.reference, v, "ref")?,
            "subdir" => set_once(&mut self.subdir, v, "subdir")?,
            "tag" => self.tag = v.to_string(),
            "branch" => self.branch = v.to_string(),
            "checksum" | "commit" => self.checksum = Some(v.to_string()),
            "keep-git-dir" => self.keep_git_dir = Some(flag(v)?),
            "submodules" => self.submodules = Some(flag(v)?),
            "fetch-by-commit" => self.fetch_by_commit = flag(v)?,
            "mtime" if v == "checkout" || v == "commit" => self.mtime = Some(v.to_string()),
            "mtime" => return Err(format!("invalid mtime value: {v:?}")),
            other => return Err(format!("unexpected query {other:?}")),
        }
        Ok(())
    }

    fn finish(&mut self) -> std::result::Result<(), String> {
        if !self.tag.is_empty() && !self.branch.is_empty() {
            return Err("branch conflicts with tag".into());
        }
        for (name, prefix) in [
            (self.tag.clone(), "refs/tags/"),
            (self.branch.clone(), "refs/heads/"),
        ] {
            if name.is_empty() {
                continue;
            }
            let full = if name.starts_with(prefix) {
                name
            } else {
                format!("{prefix}{name}")
            };
            set_once(&mut self.reference, &full, "ref")?;
        }
        Ok(())
    }

    /// The op LLB's `Git` makes: identifier `git://<host>/<path>[#ref[:subdir]]`, the full
    /// remote and the options as attributes.
    fn source_op(&self, p: &Parts, opts: &BTreeMap<String, String>) -> pb::SourceOp {
        let mut id = format!("git://{}/{}", p.host, clean_path(&p.path));
        if !self.reference.is_empty() || !self.subdir.is_empty() {
            id.push('#');
            id.push_str(&self.reference);
            if !self.subdir.is_empty() {
                id.push(':');
                id.push_str(&self.subdir);
            }
        }
        let mut attrs: BTreeMap<String, String> = [
            ("git.fullurl", p.remote.as_str()),
            ("git.authtokensecret", "GIT_AUTH_TOKEN"),
            ("git.authheadersecret", "GIT_AUTH_HEADER"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let keep_arg = opts.get(KEEP_GIT_DIR_ARG).and_then(|v| parse_bool(v));
        if self.keep_git_dir == Some(true) || keep_arg == Some(true) {
            attrs.insert("git.keepgitdir".into(), "true".into());
        }
        if p.scheme == "ssh" {
            attrs.insert("git.mountsshsock".into(), "default".into());
        }
        if let Some(c) = &self.checksum {
            attrs.insert("git.checksum".into(), c.clone());
        }
        if self.submodules == Some(false) {
            attrs.insert("git.skipsubmodules".into(), "true".into());
        }
        let epoch = opts
            .get(SOURCE_DATE_EPOCH_ARG)
            .is_some_and(|v| !v.is_empty());
        if let Some(m) = self.mtime.clone().or(epoch.then(|| "commit".to_string())) {
            attrs.insert("git.mtime".into(), m);
        }
        if self.fetch_by_commit {
            attrs.insert("git.fetchbycommit".into(), "true".into());
        }
        // Git prints its advice (e.g. on a detached HEAD) only during the first checkout,
        // which is this frontend's, so the op must ask for it as dockerui's does.
        if opts.get(GIT_ADVICE_ARG).and_then(|v| parse_bool(v)) == Some(true) {
            attrs.insert("git.advice".into(), "true".into());
        }
        pb::SourceOp {
            identifier: id,
            attrs,
        }
    }
}

fn set_once(slot: &mut String, v: &str, what: &str) -> std::result::Result<(), String> {
    if !slot.is_empty() && slot != v {
        return Err(format!("{what} conflicts: {slot:?} vs {v:?}"));
    }
    *slot = v.to_string();
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(v: &str) -> Option<GitContext> {
        GitContext::parse(v, &BTreeMap::new()).unwrap()
    }

    #[test]
    fn tells_git_urls_from_other_contexts() {
        for not_git in [
            "",
            "./dir",
            "context",
            "https://host/ctx.tar",
            "http://host/Dockerfile",
            "ftp://host/x.git",
        ] {
            assert_eq!(git(not_git), None, "{not_git}");
        }
        for is_git in [
            "git://127.0.0.1:9418/hello.git",
            "https://github.com/a/b.git#main",
            "git@github.com:a/b.git",
            "ssh://git@host/a/b.git",
            "github.com/a/b",
        ] {
            assert!(git(is_git).is_some(), "{is_git}");
        }
    }

    #[test]
    fn makes_the_op_llb_makes() {
        let g = git("git://127.0.0.1:9418/ctx.git#main:sub/./dir").unwrap();
        assert_eq!(g.op.identifier, "git://127.0.0.1:9418/ctx.git#main:sub/dir");
        assert_eq!(g.op.attrs["git.fullurl"], "git://127.0.0.1:9418/ctx.git");
        assert_eq!(g.op.attrs["git.authtokensecret"], "GIT_AUTH_TOKEN");
        let q = git("git://127.0.0.1:9418/ctx.git?ref=main&subdir=sub/dir").unwrap();
        assert_eq!(q.op, g.op);
        let t = git("https://host/a/b.git?tag=v1&keep-git-dir=true").unwrap();
        assert_eq!(t.op.identifier, "git://host/a/b.git#refs/tags/v1");
        assert_eq!(t.op.attrs["git.keepgitdir"], "true");
        let s = git("git@github.com:a/b.git#v2").unwrap();
        assert_eq!(s.op.identifier, "git://github.com/a/b.git#v2");
        assert_eq!(s.op.attrs["git.fullurl"], "git@github.com:a/b.git");
        assert_eq!(s.op.attrs["git.mountsshsock"], "default");
        let opts = BTreeMap::from([(KEEP_GIT_DIR_ARG.to_string(), "1".to_string())]);
        let k = GitContext::parse("git://h/r.git", &opts).unwrap().unwrap();
        assert_eq!(k.op.attrs["git.keepgitdir"], "true");
        assert!(!k.op.attrs.contains_key("git.advice"));
        let opts = BTreeMap::from([(GIT_ADVICE_ARG.to_string(), "true".to_string())]);
        let a = GitContext::parse("git://h/r.git", &opts).unwrap().unwrap();
        assert_eq!(a.op.attrs["git.advice"], "true");
    }

    #[test]
    fn bad_queries_are_refused_as_the_dockerfile_frontend_does() {
        for (bad, why) in [
            ("git://h/r.git?foo=1", "unexpected query \"foo\""),
            ("git://h/r.git?tag=a&branch=b", "branch conflicts with tag"),
            ("git://h/r.git?ref=a&tag=b", "ref conflicts"),
            ("git://h/r.git?mtime=now", "invalid mtime value"),
        ] {
            match GitContext::parse(bad, &BTreeMap::new()) {
                Err(e) => assert!(e.to_string().contains(why), "{bad}: {e}"),
                Ok(g) => assert!(why.is_empty(), "{bad}: {g:?}"),
            }
        }
    }

    #[test]
    fn pins_the_commit_in_the_query() {
        let c = "0123456789abcdef0123456789abcdef01234567";
        let p = |v: &str| git(v).unwrap().pinned(c);
        assert_eq!(
            p("git://127.0.0.1:9418/ctx.git#main:sub"),
            format!("git://127.0.0.1:9418/ctx.git?checksum={c}#main:sub")
        );
        assert_eq!(
            p("git://127.0.0.1:9418/ctx.git?ref=main"),
            format!("git://127.0.0.1:9418/ctx.git?ref=main&checksum={c}")
        );
        assert_eq!(
            p("git://127.0.0.1:9418/ctx.git?commit=abc"),
            "git://127.0.0.1:9418/ctx.git?commit=abc"
        );
        let pinned = p("git://127.0.0.1:9418/ctx.git#main");
        assert_eq!(git(&pinned).unwrap().op.attrs["git.checksum"], c);
    }
}
