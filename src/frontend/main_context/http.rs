//! An http(s) build context as the Dockerfile frontend reads it (dockerui's
//! `DetectHTTPContext`): the download saved as `context`, unpacked when it is an archive,
//! else taken as the Dockerfile itself.

use std::collections::BTreeMap;

use prost::Message;

use crate::graph::digest_of;
use crate::proto::{gw, pb};

/// The name the download is saved under, and the Dockerfile's name when it is no archive.
pub const FILENAME: &str = "context";
/// How much of the download tells whether it is an archive (what dockerui reads).
pub const HEAD_LEN: i64 = 1024;

/// The build argument whose value `context` asks for the main context's time.
pub const SOURCE_DATE_EPOCH_ARG: &str = "build-arg:SOURCE_DATE_EPOCH";
pub const EPOCH_FROM_CONTEXT: &str = "context";

/// The `Last-Modified` time BuildKit saw for the download, in Unix seconds, or `None` when
/// the server sent none. An answer about other content than `checksum` (the pin) is refused:
/// the time must be that of the content the build gets.
pub fn last_modified(
    meta: &gw::ResolveSourceHttpResponse,
    checksum: &str,
) -> Result<Option<i64>, String> {
    if meta.checksum != checksum {
        return Err(format!(
            "resolved to {} when its Last-Modified time was read, after it was pinned at {checksum}",
            meta.checksum
        ));
    }
    Ok(meta.last_modified.as_ref().map(|t| t.seconds))
}

pub fn is_http(value: &str) -> bool {
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The source op LLB's `HTTP(url, Filename("context"))` makes.
pub fn source_op(url: &str) -> pb::SourceOp {
    pb::SourceOp {
        identifier: url.to_string(),
        attrs: BTreeMap::from([("http.filename".to_string(), FILENAME.to_string())]),
    }
}

/// Whether the first bytes are a gzip, bzip2, xz or zstd stream or a tar header, as
/// BuildKit's `archiveutil.IsArchive` decides (BuildKit unpacks exactly those).
pub fn is_archive(head: &[u8]) -> bool {
    const MAGIC: [&[u8]; 4] = [
        &[0x42, 0x5a, 0x68],
        &[0x1f, 0x8b, 0x08],
        &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ];
    MAGIC.iter().any(|m| head.starts_with(m)) || zstd_skippable(head) || tar_header(head)
}

fn zstd_skippable(head: &[u8]) -> bool {
    head.len() >= 8
        && u32::from_le_bytes([head[0], head[1], head[2], head[3]]) & 0xFFFF_FFF0 == 0x184D_2A50
}

/// A tar header block: its checksum field matches the sum of its bytes (the field counted
/// as spaces), signed or unsigned as Go's reader accepts. An all-zero block is the end of
/// an empty archive, which Go's reader reports as no entry: not an archive.
fn tar_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..512) else {
        return false;
    };
    if block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = &block[148..156];
    let text: String = field
        .iter()
        .map(|b| *b as char)
        .filter(|c| !matches!(c, '\0' | ' '))
        .collect();
    let Ok(want) = i64::from_str_radix(&text, 8) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    want == unsigned || want == signed
}

/// Ops that unpack the archive `source` (marshalled) saved as `context` into an empty
/// directory, as `llb.Copy(..., AttemptUnpack)` does: the FileOp and its marshalled form.
pub fn unpack_op(source: &[u8]) -> Vec<u8> {
    let copy = pb::FileActionCopy {
        src: format!("/{FILENAME}"),
        dest: "/".into(),
        mode: -1,
        timestamp: -1,
        attempt_unpack_docker_compatibility: true,
        ..Default::default()
    };
    pb::Op {
        inputs: vec![pb::Input {
            digest: digest_of(source),
            index: 0,
        }],
        op: Some(pb::op::Op::File(pb::FileOp {
            actions: vec![pb::FileAction {
                input: -1,
                secondary_input: 0,
                output: 0,
                action: Some(pb::file_action::Action::Copy(copy)),
            }],
        })),
        ..Default::default()
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h.extend_from_slice(data);
        h.resize(1024, 0);
        h
    }

    #[test]
    fn archives_are_told_by_their_first_bytes() {
        assert!(is_archive(&tar_of("Dockerfile", b"FROM scratch\n")));
        assert!(is_archive(&[0x1f, 0x8b, 0x08, 0, 0]));
        assert!(is_archive(b"BZh91AY"));
        assert!(is_archive(&[0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]));
        assert!(!is_archive(b"FROM scratch\nCOPY foo /\n"));
        assert!(!is_archive(&[0u8; 1024]));
        let mut broken = tar_of("Dockerfile", b"x");
        broken[0] ^= 1;
        assert!(!is_archive(&broken), "a wrong checksum is no tar header");
    }

    #[test]
    fn last_modified_only_for_the_pinned_content() {
        let meta = |checksum: &str, secs: Option<i64>| gw::ResolveSourceHttpResponse {
            checksum: checksum.into(),
            last_modified: secs.map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
            ..Default::default()
        };
        assert_eq!(
            last_modified(&meta("sha256:a", Some(1_700_000_201)), "sha256:a"),
            Ok(Some(1_700_000_201))
        );
        assert_eq!(last_modified(&meta("sha256:a", None), "sha256:a"), Ok(None));
        let err = last_modified(&meta("sha256:b", Some(1)), "sha256:a").unwrap_err();
        assert!(err.contains("pinned at sha256:a"), "{err}");
    }

    #[test]
    fn http_context_detection_and_op() {
        assert!(is_http("https://host/ctx.tar") && is_http("HTTP://h/x"));
        assert!(!is_http("git://h/r.git") && !is_http("context"));
        let op = source_op("http://127.0.0.1:8777/ctx.tar");
        assert_eq!(op.attrs["http.filename"], "context");
    }
}
