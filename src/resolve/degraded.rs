//! Git and http pins on a daemon without `source.metaresolver` (Docker 20.10's embedded
//! BuildKit), which cannot say what a ref or URL resolves to. The source is solved alone
//! and the pin read from what BuildKit fetched: the download's sha256, pinned with
//! `http.checksum` (the daemon refuses other content), or the commit the checkout names,
//! pinned as `#<commit>` (the daemon fetches exactly that object). What such a daemon
//! cannot give — the raw git objects a policy reads — fails the source with the missing
//! cap, never a decision without it.

use std::collections::BTreeMap;

use prost::Message;
use sha2::{Digest, Sha256};

use super::{ATTR_HTTP_CHECKSUM, checksum_update};
use crate::error::{Error, Result};
use crate::gateway::Bridge;
use crate::graph::{SourceUpdate, single_op};
use crate::model::{Facts, Needs};
use crate::proto::pb;
use crate::sources::Source;

const ATTR_KEEP_GIT_DIR: &str = "git.keepgitdir";
const ATTR_HTTP_FILENAME: &str = "http.filename";
/// The name the download is saved under when the op names none.
const DOWNLOAD: &str = "download";
/// The largest download read back to hash: one ReadFile answer must fit gRPC's 16 MiB.
pub const MAX_DOWNLOAD: i64 = 15 << 20;

/// A git source pinned to the commit its ref names now: the repository checked out alone
/// with its `.git`, whose `HEAD` BuildKit leaves detached at that commit.
pub async fn pin_git(
    bridge: &Bridge,
    op: &pb::SourceOp,
    needs: Needs,
) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    if needs.git_objects {
        return Err(Error::MissingCap {
            cap: "source.metaresolver".into(),
            why: "read the git commit and tag objects (and their signatures) the policy inspects"
                .into(),
        });
    }
    let Source::Git {
        remote,
        reference,
        subdir,
    } = Source::parse(op)?
    else {
        return Err(Error::pin(id, "not a git source"));
    };
    let written = reference.unwrap_or_default();
    let (checkout, reference) = checkout(bridge, op, &remote, &written).await?;
    let commit = checked_out(bridge, id, &checkout).await?;
    // FETCH_HEAD holds the object the ref named: a tag object for an annotated tag.
    let fetched = read_git(bridge, &checkout, "FETCH_HEAD")
        .await?
        .ok_or_else(|| Error::pin(id, "its checkout has no .git/FETCH_HEAD"))?;
    let checksum = fetch_head(&fetched).map_err(|e| Error::pin(id, e))?;
    written_checksum_agrees(op, &checksum, &commit).map_err(|e| Error::pin(id, e))?;
    let pinned = with_fragment(&remote, &commit, subdir.as_deref());
    let update = (pinned != id).then(|| SourceUpdate {
        identifier: pinned,
        attrs: BTreeMap::new(),
        caps: vec![],
    });
    let facts = Facts::Git {
        checksum,
        commit,
        reference,
        commit_object: None,
        tag_object: None,
    };
    Ok((facts, update))
}

/// `ADD --checksum=<commit>` of a current Dockerfile frontend (`git.checksum`), which a
/// daemon this old ignores: the object checked out must be the one it names (a prefix of
/// the tag object or the commit, as BuildKit compares), or the source is refused.
fn written_checksum_agrees(op: &pb::SourceOp, checksum: &str, commit: &str) -> Result<(), String> {
    match op.attrs.get(super::ATTR_GIT_CHECKSUM) {
        Some(w)
            if w.is_empty()
                || !(checksum.starts_with(w.as_str()) || commit.starts_with(w.as_str())) =>
        {
            Err(format!(
                "git.checksum {w} does not match the resolved {checksum}"
            ))
        }
        _ => Ok(()),
    }
}

/// The repository checked out alone at `written`, with its `.git`, and the full ref it
/// was checked out as when that is known.
///
/// BuildKit before v0.9 fetches a short name into a branch of the checkout, which git
/// refuses for an annotated tag's object, and a second try under the same commit would
/// get the first one's failure (its cache key is the object id). So a short name is asked
/// for as `refs/tags/<name>` first, and as written (a branch) when the remote has no such
/// tag; a full ref or a commit is asked for as written.
async fn checkout(
    bridge: &Bridge,
    op: &pb::SourceOp,
    remote: &str,
    written: &str,
) -> Result<(String, String)> {
    let probe = |reference: &str| {
        let mut probe = op.clone();
        probe.identifier = with_fragment(remote, reference, None);
        probe
            .attrs
            .insert(ATTR_KEEP_GIT_DIR.to_string(), "true".to_string());
        probe
    };
    if !written.is_empty() && known_ref(written).is_empty() {
        let tag = format!("refs/tags/{written}");
        if let Ok(checkout) = solve_alone(bridge, probe(&tag), "checkout").await {
            return Ok((checkout, tag));
        }
    }
    let checkout = solve_alone(bridge, probe(written), "checkout").await?;
    Ok((checkout, known_ref(written)))
}

/// The commit the checkout's `HEAD` names, directly or through a ref.
async fn checked_out(bridge: &Bridge, id: &str, checkout: &str) -> Result<String> {
    let head = read_git(bridge, checkout, "HEAD")
        .await?
        .ok_or_else(|| Error::pin(id, "its checkout has no .git/HEAD"))?;
    match head_target(&head).map_err(|e| Error::pin(id, e))? {
        Head::Detached(commit) => Ok(commit),
        Head::Symbolic(name) => {
            let loose = read_git(bridge, checkout, &name).await?;
            let packed = read_git(bridge, checkout, "packed-refs").await?;
            ref_target(&name, loose.as_deref(), packed.as_deref()).map_err(|e| Error::pin(id, e))
        }
    }
}

/// A file under the checkout's `.git`, as text; `None` when it is not there.
async fn read_git(bridge: &Bridge, checkout: &str, path: &str) -> Result<Option<String>> {
    let raw = bridge.read_file(checkout, &format!(".git/{path}")).await?;
    Ok(raw.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// An http source pinned to the sha256 of the content downloaded now.
pub async fn pin_http(bridge: &Bridge, op: &pb::SourceOp) -> Result<(Facts, Option<SourceUpdate>)> {
    let id = op.identifier.as_str();
    let filename = op.attrs.get(ATTR_HTTP_FILENAME).cloned();
    let name = filename.clone().unwrap_or_else(|| DOWNLOAD.to_string());
    let mut probe = op.clone();
    probe
        .attrs
        .insert(ATTR_HTTP_FILENAME.to_string(), name.clone());
    let download = solve_alone(bridge, probe, "download").await?;
    let body = bridge
        .read_file_range(&download, &name, Some(MAX_DOWNLOAD + 1))
        .await?
        .ok_or_else(|| Error::pin(id, format!("its download has no file {name}")))?;
    if body.len() as i64 > MAX_DOWNLOAD {
        return Err(Error::pin(
            id,
            format!(
                "it is larger than {} MiB, which a daemon without source.metaresolver cannot hash for the pin; name it with ADD --checksum",
                MAX_DOWNLOAD >> 20
            ),
        ));
    }
    let checksum = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let update = checksum_update(
        bridge,
        op,
        ATTR_HTTP_CHECKSUM,
        &checksum,
        "source.http.checksum",
    )?;
    let facts = Facts::Http {
        checksum,
        filename: filename.unwrap_or_default(),
    };
    Ok((facts, update))
}

/// Solves `op` now as a definition of its own (a step named in the client's progress), so
/// a failed fetch fails here, and returns the ref to read it from.
async fn solve_alone(bridge: &Bridge, op: pb::SourceOp, what: &str) -> Result<String> {
    let name = format!("[verified-frontend] {what} {} to pin it", op.identifier);
    let source = pb::Op {
        op: Some(pb::op::Op::Source(op)),
        ..Default::default()
    }
    .encode_to_vec();
    let def = single_op(
        source,
        pb::OpMetadata {
            description: BTreeMap::from([("llb.customname".to_string(), name)]),
            ..Default::default()
        },
    );
    Ok(bridge.evaluate_definition(def.encode_to_vec()).await?.id)
}

/// `git://<remote>#<ref>[:<subdir>]`, BuildKit's git identifier.
fn with_fragment(remote: &str, reference: &str, subdir: Option<&str>) -> String {
    let mut id = format!("git://{remote}");
    if !reference.is_empty() || subdir.is_some() {
        id.push('#');
        id.push_str(reference);
    }
    if let Some(s) = subdir {
        id.push(':');
        id.push_str(s);
    }
    id
}

/// A ref Buildx knows as written: a full ref or a commit; a short name is not known.
fn known_ref(written: &str) -> String {
    if written.starts_with("refs/") || object_id(written).is_some() {
        written.to_string()
    } else {
        String::new()
    }
}

#[derive(Debug, PartialEq)]
enum Head {
    Detached(String),
    Symbolic(String),
}

/// What `.git/HEAD` names: a commit, or a ref under `refs/`.
fn head_target(head: &str) -> Result<Head, String> {
    let head = head.trim_end_matches('\n');
    if let Some(id) = object_id(head) {
        return Ok(Head::Detached(id));
    }
    match head.strip_prefix("ref: ") {
        Some(name) if name.starts_with("refs/") && !name.contains("..") => {
            Ok(Head::Symbolic(name.to_string()))
        }
        _ => Err(format!(
            "its checkout's .git/HEAD names no commit ({:?})",
            head.chars().take(80).collect::<String>()
        )),
    }
}

/// The object `name` points at: its loose ref file, else its line in `packed-refs`.
fn ref_target(name: &str, loose: Option<&str>, packed: Option<&str>) -> Result<String, String> {
    if let Some(raw) = loose {
        return object_id(raw.trim_end_matches('\n'))
            .ok_or_else(|| format!("its checkout's .git/{name} names no commit"));
    }
    packed
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
        .find_map(|l| match l.split_once(' ') {
            Some((id, n)) if n == name => object_id(id),
            _ => None,
        })
        .ok_or_else(|| format!("its checkout's HEAD names {name}, which it does not have"))
}

/// The object the first line of `.git/FETCH_HEAD` (`<id>\t[not-for-merge]\t<what>`) names.
fn fetch_head(text: &str) -> Result<String, String> {
    text.lines()
        .next()
        .and_then(|l| l.split('\t').next())
        .and_then(object_id)
        .ok_or_else(|| "its checkout's .git/FETCH_HEAD names no object".to_string())
}

/// A full object id, SHA-1 or SHA-256, in lower-case hex.
fn object_id(s: &str) -> Option<String> {
    ((s.len() == 40 || s.len() == 64) && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "df9637aab6a8f575e6df37534b7b4ad6bbb9313d";
    const B: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn head_is_a_detached_commit_or_a_ref() {
        assert_eq!(head_target(&format!("{A}\n")), Ok(Head::Detached(A.into())));
        assert_eq!(
            head_target("ref: refs/heads/main\n"),
            Ok(Head::Symbolic("refs/heads/main".into()))
        );
        for bad in [
            "",
            "ref: HEAD",
            "ref: refs/../../etc",
            "DF9637AAB6A8F575E6DF37534B7B4AD6BBB9313D",
            &A[..39],
        ] {
            assert!(head_target(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_ref_is_read_loose_first_then_packed() {
        let packed = format!(
            "# pack-refs with: peeled fully-peeled sorted\n{B} refs/heads/dev\n{A} refs/heads/main\n^{B}\n"
        );
        assert_eq!(
            ref_target("refs/heads/main", None, Some(&packed)),
            Ok(A.into())
        );
        let loose = format!("{B}\n");
        assert_eq!(
            ref_target("refs/heads/main", Some(loose.as_str()), Some(&packed)),
            Ok(B.into())
        );
        assert!(ref_target("refs/heads/gone", None, Some(&packed)).is_err());
        assert!(ref_target("refs/heads/main", Some("ref: refs/heads/x\n"), None).is_err());
    }

    #[test]
    fn fetch_head_names_the_fetched_object() {
        let text = format!("{B}\t\ttag 'v1' of /var/lib/buildkit/git\n");
        assert_eq!(fetch_head(&text), Ok(B.into()));
        assert!(fetch_head("").is_err());
        assert!(fetch_head("not-an-id\t\tbranch 'main'\n").is_err());
    }

    #[test]
    fn a_written_git_checksum_must_name_the_checkout() {
        let op = |w: &str| pb::SourceOp {
            identifier: "git://127.0.0.1:9418/hello.git#main".into(),
            attrs: BTreeMap::from([("git.checksum".to_string(), w.to_string())]),
        };
        assert!(written_checksum_agrees(&op(&A[..12]), B, A).is_ok());
        assert!(written_checksum_agrees(&op(B), B, A).is_ok());
        assert!(written_checksum_agrees(&op(&B[..7]), A, A).is_err());
        assert!(written_checksum_agrees(&op(""), A, A).is_err());
        let none = pb::SourceOp::default();
        assert!(written_checksum_agrees(&none, A, A).is_ok());
    }

    #[test]
    fn the_pin_keeps_the_remote_and_subdirectory() {
        assert_eq!(
            with_fragment("127.0.0.1:9418/hello.git", A, Some("docs")),
            format!("git://127.0.0.1:9418/hello.git#{A}:docs")
        );
        assert_eq!(
            with_fragment("127.0.0.1:9418/hello.git", "", None),
            "git://127.0.0.1:9418/hello.git"
        );
        assert_eq!(known_ref("v1"), "");
        assert_eq!(known_ref("refs/tags/v1"), "refs/tags/v1");
        assert_eq!(known_ref(A), A);
    }
}
