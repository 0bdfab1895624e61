//! Raw git commit and tag objects (as `ResolveSourceMeta` returns them with `ReturnObject`),
//! parsed into the fields Buildx exposes as `input.git.commit` and `input.git.tag`.

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

/// Checks that `raw` is the git object `kind` whose id is `expected` (sha1 hex): the bytes
/// came from the daemon, and a policy must only ever see the object the build will use.
pub fn verify_id(kind: &str, raw: &[u8], expected: &str) -> Result<(), String> {
    let got = object_id(kind, raw);
    if got.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(format!(
            "{kind} object hashes to {got}, expected {expected}"
        ))
    }
}

/// The id git gives an object: sha1 of `<kind> <len>\0<bytes>`.
pub fn object_id(kind: &str, raw: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("{kind} {}\0", raw.len()).as_bytes());
    h.update(raw);
    hex::encode(h.finalize())
}

/// Headers (with continuation lines folded back) and the message of a commit or tag.
struct GitObject<'a> {
    headers: Vec<(&'a str, String)>,
    message: String,
}

fn split(raw: &[u8]) -> Result<GitObject<'_>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "git object is not UTF-8".to_string())?;
    let (head, message) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut headers: Vec<(&str, String)> = Vec::new();
    for line in head.lines() {
        if let Some(cont) = line.strip_prefix(' ') {
            let last = headers
                .last_mut()
                .ok_or_else(|| "git object starts with a continuation line".to_string())?;
            last.1.push('\n');
            last.1.push_str(cont);
        } else {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            headers.push((k, v.to_string()));
        }
    }
    Ok(GitObject {
        headers,
        message: message.to_string(),
    })
}

/// `Name <email> 1700000000 +0000` -> {name, email, when (RFC3339)}.
fn actor(v: &str) -> Value {
    let (name, rest) = v.split_once(" <").unwrap_or((v, ""));
    let (email, rest) = rest
        .split_once("> ")
        .unwrap_or((rest.trim_end_matches('>'), ""));
    let mut parts = rest.split_whitespace();
    let when = match (
        parts.next().and_then(|s| s.parse::<i64>().ok()),
        parts.next(),
    ) {
        (Some(ts), Some(tz)) => rfc3339(ts, tz),
        _ => None,
    };
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("email".into(), json!(email));
    if let Some(w) = when {
        m.insert("when".into(), json!(w));
    }
    Value::Object(m)
}

/// Unix seconds and a `+hhmm` zone as RFC3339 in that zone, as Go's time.Time marshals
/// (`Z` for UTC).
fn rfc3339(ts: i64, tz: &str) -> Option<String> {
    let sign: i32 = match tz.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h: i32 = tz.get(1..3)?.parse().ok()?;
    let m: i32 = tz.get(3..5)?.parse().ok()?;
    let offset = jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()?;
    let t = jiff::Timestamp::from_second(ts).ok()?;
    Some(if offset == jiff::tz::Offset::UTC {
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.to_zoned(offset.to_time_zone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    })
}

/// `input.git.commit` (without the signature summary, which `verify::git` adds).
pub fn commit(raw: &[u8]) -> Result<Value, String> {
    let p = split(raw)?;
    let mut m = Map::new();
    let mut parents = Vec::new();
    for (k, v) in &p.headers {
        match *k {
            "tree" => {
                m.insert("tree".into(), json!(v));
            }
            "parent" => parents.push(json!(v)),
            "author" | "committer" => {
                m.insert((*k).to_string(), actor(v));
            }
            _ => {}
        }
    }
    if !m.contains_key("tree") {
        return Err("commit object has no tree".into());
    }
    m.insert("parents".into(), Value::Array(parents));
    m.insert("message".into(), json!(p.message));
    Ok(Value::Object(m))
}

/// `input.git.tag`; an annotated tag carries its signature at the end of the message, which
/// is not part of `message`.
pub fn tag(raw: &[u8]) -> Result<Value, String> {
    let p = split(raw)?;
    let mut m = Map::new();
    for (k, v) in &p.headers {
        match *k {
            "object" | "type" | "tag" => {
                m.insert((*k).to_string(), json!(v));
            }
            "tagger" => {
                m.insert("tagger".into(), actor(v));
            }
            _ => {}
        }
    }
    if !m.contains_key("object") {
        return Err("tag object has no object header".into());
    }
    let message = [
        "-----BEGIN PGP SIGNATURE-----",
        "-----BEGIN SSH SIGNATURE-----",
    ]
    .iter()
    .filter_map(|marker| p.message.find(marker))
    .min()
    .map_or(p.message.as_str(), |i| &p.message[..i]);
    m.insert("message".into(), json!(message));
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "tree 0123456789abcdef0123456789abcdef01234567\nparent 89abcdef0123456789abcdef0123456789abcdef\nauthor Alice <alice@example.com> 1700000000 +0000\ncommitter Bob <bob@example.com> 1700000000 +0200\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\nhello from commit\n";

    #[test]
    fn parses_commit_like_buildx() {
        let c = commit(COMMIT.as_bytes()).unwrap();
        assert_eq!(c["tree"], "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(c["parents"][0], "89abcdef0123456789abcdef0123456789abcdef");
        assert_eq!(c["author"]["name"], "Alice");
        assert_eq!(c["author"]["email"], "alice@example.com");
        assert_eq!(c["author"]["when"], "2023-11-14T22:13:20Z");
        assert_eq!(c["committer"]["when"], "2023-11-15T00:13:20+02:00");
        assert_eq!(c["message"], "hello from commit\n");
    }

    #[test]
    fn parses_signed_tag() {
        let raw = "object 0123456789abcdef0123456789abcdef01234567\ntype commit\ntag v1.2.3\ntagger Carol <carol@example.com> 1700000000 +0000\n\nrelease v1.2.3\n-----BEGIN SSH SIGNATURE-----\nxyz\n-----END SSH SIGNATURE-----\n";
        let t = tag(raw.as_bytes()).unwrap();
        assert_eq!(t["tag"], "v1.2.3");
        assert_eq!(t["type"], "commit");
        assert_eq!(t["tagger"]["name"], "Carol");
        assert_eq!(t["message"], "release v1.2.3\n");
    }

    #[test]
    fn object_id_is_checked() {
        let raw = COMMIT.as_bytes();
        // `git hash-object -t commit --literally` of COMMIT
        let id = "fdde738a4b6c30319b8788bffe6355e7c2138ad1";
        assert_eq!(object_id("commit", raw), id);
        assert!(verify_id("commit", raw, id).is_ok());
        assert!(verify_id("commit", raw, "0000000000000000000000000000000000000000").is_err());
    }

    #[test]
    fn malformed_objects_are_errors() {
        assert!(commit(b"author x\n\nmsg").is_err());
        assert!(commit(b" continuation first").is_err());
        assert!(tag(b"type commit\n\n").is_err());
        assert!(commit(&[0xff, 0xfe]).is_err());
    }
}
