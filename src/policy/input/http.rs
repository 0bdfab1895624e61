//! `input.http`: an http(s) source's URL in parts, and (once fetched) its checksum, as
//! Buildx's `sourceToInput` fills `HTTP`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{put_nonempty, put_str, put_true};
use crate::model::{Facts, Fetched};
use crate::proto::pb;

const ATTR_AUTH_HEADER_SECRET: &str = "http.authheadersecret";

pub(crate) fn http(
    url: &str,
    op: &pb::SourceOp,
    facts: Option<&Facts>,
    fetched: Fetched,
) -> Result<Value, String> {
    let mut m = parts(url)?;
    put_true(
        &mut m,
        "hasAuth",
        op.attrs.contains_key(ATTR_AUTH_HEADER_SECRET),
    );
    if let Some(Facts::Http { checksum, .. }) = facts.filter(|_| fetched.http_checksum) {
        put_str(&mut m, "checksum", checksum);
    }
    Ok(Value::Object(m))
}

/// `url`, `schema`, `host`, `path` and `query` of a URL, as Go's `url.Parse` reads them
/// (the path and the query decoded) and Buildx's `normalizeHTTPHost` writes the host.
pub(crate) fn parts(url: &str) -> Result<Map<String, Value>, String> {
    let u = url::Url::parse(url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in u.query_pairs() {
        query
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    let mut m = Map::new();
    put_str(&mut m, "url", url);
    put_str(&mut m, "schema", u.scheme());
    put_str(&mut m, "host", &host(&u));
    put_str(&mut m, "path", &percent_decoded(u.path()));
    put_nonempty(&mut m, "query", json!(query));
    Ok(m)
}

/// The lowercase (IDNA-encoded) host without a trailing dot, with a port unless it is the
/// scheme's default; `url` has done the rest of Go's normalization.
fn host(u: &url::Url) -> String {
    let name = match u.host() {
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_string(),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match u.port() {
        Some(p) => format!("{name}:{p}"),
        None => name,
    }
}

/// `%XX` escapes decoded, as Go's `URL.Path` holds the path; an invalid escape stays.
pub(crate) fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        let digit = |at: usize| b.get(at).and_then(|c| hex(*c));
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (digit(i + 1), digit(i + 2))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
