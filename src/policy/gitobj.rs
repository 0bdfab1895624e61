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

/// A commit or tag split as BuildKit's `gitobject.Parse` splits it: headers (first lines up
/// to the empty one; a commit's `gpgsig` and its continuation lines are the signature) and
/// the message (a tag's ends where its signature block starts), one trailing newline off.
struct GitObject<'a> {
    headers: Vec<(&'a str, &'a str)>,
    message: String,
}

impl<'a> GitObject<'a> {
    fn first(&self, key: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

fn split(raw: &[u8], is_tag: bool) -> Result<GitObject<'_>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "git object is not UTF-8".to_string())?;
    let mut headers = Vec::new();
    let mut message: Vec<&str> = Vec::new();
    let (mut in_headers, mut in_sig, mut message_done) = (true, false, false);
    for line in text.split('\n') {
        if in_headers {
            let signature =
                !is_tag && (line.starts_with("gpgsig ") || line.starts_with("gpgsig-sha256 "));
            let continues = in_sig && line.starts_with(' ');
            in_sig = signature || continues;
            if line.is_empty() {
                in_headers = false;
            } else if !in_sig && let Some((k, v)) = line.split_once(' ') {
                headers.push((k, v));
            }
            continue;
        }
        message_done |= is_tag
            && (line == "-----BEGIN PGP SIGNATURE-----" || line == "-----BEGIN SSH SIGNATURE-----");
        if !message_done {
            message.push(line);
        }
    }
    let message = message.join("\n");
    let message = message.strip_suffix('\n').unwrap_or(&message).to_string();
    let obj = GitObject { headers, message };
    let (kind, required): (&str, &[&str]) = match is_tag {
        true => ("tag", &["object", "type", "tag", "tagger"]),
        false => ("commit", &["tree", "author", "committer"]),
    };
    if let Some(h) = required.iter().find(|h| obj.first(h).is_none()) {
        return Err(format!("invalid {kind} object: missing {h} header"));
    }
    Ok(obj)
}

/// `Name <email> 1700000000 +0000` as BuildKit's `parseActor` reads it: the last angle
/// brackets hold the email, then Unix seconds and a `±hhmm` zone; what does not parse is
/// left out. `None` when nothing is left (Buildx's `omitzero`).
fn actor(v: &str) -> Option<Value> {
    let s = v.trim();
    let mut m = Map::new();
    let put = |m: &mut Map<String, Value>, k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    match (s.rfind('<'), s.rfind('>')) {
        (Some(start), Some(end)) if end >= start => {
            put(&mut m, "name", s[..start].trim());
            put(&mut m, "email", s[start + 1..end].trim());
            if let Some(when) = when(s[end + 1..].trim()) {
                m.insert("when".into(), json!(when));
            }
        }
        _ => put(&mut m, "name", s),
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// `1700000000 +0200` as Go's JSON writes that time in that zone (`Z` for UTC).
fn when(rest: &str) -> Option<String> {
    let mut parts = rest.split_whitespace();
    let ts: i64 = parts.next()?.parse().ok()?;
    let tz = parts.next()?;
    let sign: i32 = match tz.as_bytes() {
        [b'+', _, _, _, _] => 1,
        [b'-', _, _, _, _] => -1,
        _ => return None,
    };
    // Go's Atoi errors are ignored there: a bad field counts as zero.
    let h: i32 = tz[1..3].parse().unwrap_or(0);
    let m: i32 = tz[3..5].parse().unwrap_or(0);
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

fn put_str(m: &mut Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

/// `input.git.commit` (without the signature summary, which `verify::git` adds).
pub fn commit(raw: &[u8]) -> Result<Value, String> {
    if raw.starts_with(b"object ") {
        return Err("not a commit object".into());
    }
    let p = split(raw, false)?;
    let mut m = Map::new();
    put_str(&mut m, "tree", p.first("tree").unwrap_or_default());
    let parents: Vec<&str> = p
        .headers
        .iter()
        .filter(|(k, _)| *k == "parent")
        .map(|(_, v)| *v)
        .collect();
    if !parents.is_empty() {
        m.insert("parents".into(), json!(parents));
    }
    for key in ["author", "committer"] {
        if let Some(a) = p.first(key).and_then(actor) {
            m.insert(key.into(), a);
        }
    }
    put_str(&mut m, "message", &p.message);
    Ok(Value::Object(m))
}

/// `input.git.tag`; an annotated tag carries its signature at the end of the message, which
/// is not part of `message`.
pub fn tag(raw: &[u8]) -> Result<Value, String> {
    if !raw.starts_with(b"object ") {
        return Err("not a tag object".into());
    }
    let p = split(raw, true)?;
    let mut m = Map::new();
    for key in ["object", "type", "tag"] {
        put_str(&mut m, key, p.first(key).unwrap_or_default());
    }
    if let Some(a) = p.first("tagger").and_then(actor) {
        m.insert("tagger".into(), a);
    }
    put_str(&mut m, "message", &p.message);
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
        // BuildKit's parser drops the message's trailing newline.
        assert_eq!(c["message"], "hello from commit");
    }

    #[test]
    fn parses_signed_tag() {
        let raw = "object 0123456789abcdef0123456789abcdef01234567\ntype commit\ntag v1.2.3\ntagger Carol <carol@example.com> 1700000000 +0000\n\nrelease v1.2.3\n-----BEGIN SSH SIGNATURE-----\nxyz\n-----END SSH SIGNATURE-----\n";
        let t = tag(raw.as_bytes()).unwrap();
        assert_eq!(t["tag"], "v1.2.3");
        assert_eq!(t["type"], "commit");
        assert_eq!(t["tagger"]["name"], "Carol");
        assert_eq!(t["message"], "release v1.2.3");
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
