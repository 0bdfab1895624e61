//! Small builtins whose results differ in regorus: case mapping as Go's `strings.ToUpper`
//! (one character for one, no final sigma), `urlquery.decode` refusing bad escapes,
//! `semver` accepting a `v` prefix, and `array.flatten`, which regorus lacks.

use regorus::Value;

use super::{operand_error, string_arg};

pub fn upper(args: &[Value]) -> anyhow::Result<Value> {
    let s = string_arg(args, 0)?;
    Ok(Value::from(s.chars().map(upper_char).collect::<String>()))
}

pub fn lower(args: &[Value]) -> anyhow::Result<Value> {
    let s = string_arg(args, 0)?;
    Ok(Value::from(s.chars().map(lower_char).collect::<String>()))
}

/// Go maps each character by Unicode's simple mapping; Rust's full mapping may give several
/// characters (`ß` → `SS`), where the simple mapping keeps the character or, for Greek with
/// iota subscript, gives its titlecase form.
fn upper_char(c: char) -> char {
    let mut m = c.to_uppercase();
    match (m.next(), m.next()) {
        (Some(u), None) => u,
        _ => match c as u32 {
            0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => shift(c, 8),
            0x1FB3 | 0x1FC3 | 0x1FF3 => shift(c, 9),
            _ => c,
        },
    }
}

fn lower_char(c: char) -> char {
    let mut m = c.to_lowercase();
    match (m.next(), m.next()) {
        (Some(l), None) => l,
        // U+0130 (İ): the simple mapping is a plain i.
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

fn shift(c: char, by: u32) -> char {
    char::from_u32(c as u32 + by).unwrap_or(c)
}

/// Go's `url.QueryUnescape`: `+` is a space, `%` must start two hexadecimal digits.
pub fn urlquery_decode(args: &[Value]) -> anyhow::Result<Value> {
    let s = string_arg(args, 0)?;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = byte else {
                    let bad: String = s[i..].chars().take(3).collect();
                    anyhow::bail!("invalid URL escape {bad:?}");
                };
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(Value::from(String::from_utf8_lossy(&out).into_owned()))
}

/// A version as OPA's semver parses it.
#[derive(Debug, PartialEq)]
struct Version {
    major: i64,
    minor: i64,
    patch: i64,
    pre: String,
}

fn parse_version(v: &str) -> anyhow::Result<Version> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (v, meta) = v.split_once('+').unwrap_or((v, ""));
    if !meta.is_empty() && !identifiers(meta) {
        anyhow::bail!("invalid metadata identifier: {meta}");
    }
    let (v, pre) = v.split_once('-').unwrap_or((v, ""));
    if !pre.is_empty() && !identifiers(pre) {
        anyhow::bail!("invalid pre-release identifier: {pre}");
    }
    let parts: Vec<&str> = v.split('.').collect();
    let [major, minor, patch] = parts.as_slice() else {
        anyhow::bail!("{v} should contain major, minor, and patch versions");
    };
    Ok(Version {
        major: go_parse_int(major)?,
        minor: go_parse_int(minor)?,
        patch: go_parse_int(patch)?,
        pre: pre.to_string(),
    })
}

/// `[0-9A-Za-z-]+` identifiers separated by dots.
fn identifiers(s: &str) -> bool {
    s.split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign, then decimal digits.
fn go_parse_int(s: &str) -> anyhow::Result<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        anyhow::bail!("strconv.ParseInt: parsing {s:?}: invalid syntax");
    }
    s.trim_start_matches('+')
        .parse()
        .map_err(|_| anyhow::anyhow!("strconv.ParseInt: parsing {s:?}: value out of range"))
}

fn compare(a: &Version, b: &Version) -> i64 {
    use std::cmp::Ordering::*;
    let by_number = (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch));
    if by_number != Equal {
        return if by_number == Greater { 1 } else { -1 };
    }
    match (a.pre.is_empty(), b.pre.is_empty()) {
        (true, true) => return 0,
        (true, false) => return 1,
        (false, true) => return -1,
        _ if a.pre == b.pre => return 0,
        _ => {}
    }
    let (mut x, mut y) = (a.pre.split('.'), b.pre.split('.'));
    loop {
        let ord = match (x.next(), y.next()) {
            (None, None) => return 0,
            (None, Some(_)) => Less,
            (Some(_), None) => Greater,
            (Some(p), Some(q)) => identifier_order(p, q),
        };
        match ord {
            Equal => continue,
            Greater => return 1,
            Less => return -1,
        }
    }
}

/// Numeric identifiers below others, numerically; others by bytes.
fn identifier_order(p: &str, q: &str) -> std::cmp::Ordering {
    let num = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match (num(p), num(q)) {
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (true, true) => {
            let (a, b) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }
        _ => p.cmp(q),
    }
}

pub fn semver_is_valid(args: &[Value]) -> anyhow::Result<Value> {
    let ok = match args.first() {
        Some(Value::String(s)) => parse_version(s).is_ok(),
        _ => false,
    };
    Ok(Value::from(ok))
}

pub fn semver_compare(args: &[Value]) -> anyhow::Result<Value> {
    let a = string_arg(args, 0)?;
    let b = string_arg(args, 1)?;
    let va = parse_version(a)
        .map_err(|_| anyhow::anyhow!("operand 1: string {a} is not a valid SemVer"))?;
    let vb = parse_version(b)
        .map_err(|_| anyhow::anyhow!("operand 2: string {b} is not a valid SemVer"))?;
    Ok(Value::from(compare(&va, &vb)))
}

/// One level: the elements of nested arrays take their place.
pub fn array_flatten(args: &[Value]) -> anyhow::Result<Value> {
    let arr = match args.first() {
        Some(Value::Array(a)) => a,
        Some(other) => return Err(operand_error(0, other, "array")),
        None => anyhow::bail!("missing operand 1"),
    };
    let mut out = Vec::with_capacity(arr.len());
    for v in arr.iter() {
        match v {
            Value::Array(inner) => out.extend(inner.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    Ok(Value::from(out))
}
