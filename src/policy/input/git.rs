//! `input.git`: a git source's remote and ref as written, and (once fetched) what the ref
//! resolved to and its commit and tag objects, as Buildx's `sourceToInput` fills `Git`.

use serde_json::{Map, Value, json};

use super::{put_str, put_true, without_empty};
use crate::model::{Facts, Fetched};
use crate::policy::gitobj;
use crate::proto::pb;
use crate::verify::git as git_sig;

/// BuildKit's attribute with the remote as the user wrote it.
const ATTR_FULL_URL: &str = "git.fullurl";

/// A git identifier's parts (`git://<remote>#<ref>:<subdir>`).
pub(crate) struct Written<'a> {
    pub remote: &'a str,
    pub reference: Option<&'a str>,
    pub subdir: Option<&'a str>,
}

pub(crate) fn git(
    w: &Written,
    op: &pb::SourceOp,
    facts: Option<&Facts>,
    fetched: Fetched,
) -> Result<Value, String> {
    let mut url = parse_url(&with_transport(w.remote))?;
    let full_url = op
        .attrs
        .get(ATTR_FULL_URL)
        .filter(|u| !u.is_empty())
        .map(|u| with_transport(u));
    if let Some(u) = &full_url {
        url = parse_url(u)?;
    }
    let mut m = Map::new();
    put_str(&mut m, "schema", &url.scheme);
    put_str(&mut m, "host", &url.host);
    put_str(&mut m, "remote", &url.remote);
    put_str(&mut m, "fullURL", full_url.as_deref().unwrap_or_default());
    put_str(&mut m, "subDir", &clean_path(w.subdir.unwrap_or_default()));
    let written = w.reference.unwrap_or_default();
    names(&mut m, written);
    let commit_ref = is_commit_sha(written);
    let mut checksum = String::new();
    if commit_ref {
        m.insert("isCommitRef".into(), json!(true));
        checksum = written.to_string();
        put_str(&mut m, "commitChecksum", written);
    }
    match facts {
        Some(Facts::Git {
            checksum: resolved,
            commit,
            reference,
            commit_object,
            tag_object,
        }) if fetched.any_git() => {
            set_ref(&mut m, reference);
            checksum = resolved.clone();
            put_true(&mut m, "isAnnotatedTag", resolved != commit);
            put_str(&mut m, "commitChecksum", commit);
            if fetched.git_objects {
                objects(
                    &mut m,
                    commit_object.as_deref(),
                    tag_object.as_deref(),
                    resolved,
                    commit,
                )?;
            }
        }
        // Before anything is fetched Buildx knows a full ref (or a commit) as written.
        _ if commit_ref || names(&mut Map::new(), written) => put_str(&mut m, "ref", written),
        _ => {}
    }
    put_true(&mut m, "isSHA256", checksum.len() == 64);
    put_str(&mut m, "checksum", &checksum);
    Ok(Value::Object(m))
}

/// `ref`, and `tagName` or `branch` when it is a full tag or branch ref.
fn set_ref(m: &mut Map<String, Value>, r: &str) {
    put_str(m, "ref", r);
    names(m, r);
}

/// `tagName` or `branch` of a full tag or branch ref; whether it is one.
fn names(m: &mut Map<String, Value>, r: &str) -> bool {
    if let Some(t) = r.strip_prefix("refs/tags/") {
        put_str(m, "tagName", t);
        true
    } else if let Some(b) = r.strip_prefix("refs/heads/") {
        put_str(m, "branch", b);
        true
    } else {
        false
    }
}

/// `commit` and `tag`, each checked against its id: the bytes came from the daemon, and a
/// policy must only ever see the objects the build will use. (BuildKit returns the tag
/// object of an annotated tag together with its commit.)
fn objects(
    m: &mut Map<String, Value>,
    commit_raw: Option<&[u8]>,
    tag_raw: Option<&[u8]>,
    checksum: &str,
    commit: &str,
) -> Result<(), String> {
    if let Some(raw) = commit_raw {
        gitobj::verify_id("commit", raw, commit)?;
        let mut c = gitobj::commit(raw)?;
        add_signature_summary(&mut c, git_sig::split_commit(raw));
        m.insert("commit".into(), c);
    }
    if let Some(raw) = tag_raw {
        gitobj::verify_id("tag", raw, checksum)?;
        let mut t = gitobj::tag(raw)?;
        add_signature_summary(&mut t, git_sig::split_tag(raw));
        m.insert("tag".into(), t);
    }
    Ok(())
}

/// Buildx's `pgpSignature` / `sshSignature` of a commit or tag: who signed (key id or key
/// fingerprint), not whether the signature is good; `verify_git_signature` checks that.
fn add_signature_summary(obj: &mut Value, signed: git_sig::Signed) {
    if let (Some((key, summary)), Some(o)) = (
        signed.signature.as_ref().and_then(git_sig::summary),
        obj.as_object_mut(),
    ) {
        o.insert(key.into(), without_empty(summary));
    }
}

fn is_commit_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// A subdirectory as BuildKit's `parseOpts` cleans it: `path.Join("/", s)` without the
/// leading slash, so `/`, `.` and `` are the root (absent).
pub(crate) fn clean_path(s: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in s.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// A remote as Buildx reads it (`gitutil.IsGitTransport`): one without a git transport is
/// fetched over https.
pub(crate) fn with_transport(remote: &str) -> String {
    if protocol(remote).is_some() || scp_like(remote).is_some() {
        remote.to_string()
    } else {
        format!("https://{remote}")
    }
}

/// What Buildx's `gitutil.ParseURL` gives: the scheme, the host (with port) and the
/// remote without query and fragment.
pub(crate) struct GitUrl {
    pub scheme: String,
    pub host: String,
    pub remote: String,
    /// The fragment's ref and subdirectory (`#ref:subdir`).
    pub reference: String,
    pub subdir: String,
    pub path: String,
}

pub(crate) fn parse_url(remote: &str) -> Result<GitUrl, String> {
    let bad = |why: &str| format!("cannot parse git remote {remote:?}: {why}");
    let (without_fragment, fragment) = remote.split_once('#').unwrap_or((remote, ""));
    let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
    let without_query = without_fragment.split('?').next().unwrap_or_default();
    let (scheme, host, path) = if let Some(scheme) = protocol(remote) {
        if !["http", "https", "ssh", "git"].contains(&scheme.as_str()) {
            return Err(bad("unsupported protocol"));
        }
        let after = &without_query[scheme.len() + 3..];
        let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        (scheme, host.to_string(), path.to_string())
    } else if let Some((host, path)) = scp_like(without_query) {
        ("ssh".to_string(), host.to_string(), path.to_string())
    } else {
        return Err(bad("unknown protocol"));
    };
    Ok(GitUrl {
        scheme,
        host,
        remote: without_query.to_string(),
        reference: reference.to_string(),
        subdir: clean_path(subdir),
        path,
    })
}

/// The lowercase scheme of `scheme://…`, BuildKit's `^[a-zA-Z0-9]+://`.
fn protocol(remote: &str) -> Option<String> {
    let (scheme, _) = remote.split_once("://")?;
    (!scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| scheme.to_ascii_lowercase())
}

/// `user@host:path` (BuildKit's `gitSSHRegex`): the host and the path.
fn scp_like(remote: &str) -> Option<(&str, &str)> {
    let (user, rest) = remote.split_once('@')?;
    let (host, path) = rest.split_once(':')?;
    let user_ok = !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (user_ok && host_ok).then_some((host, path))
}
