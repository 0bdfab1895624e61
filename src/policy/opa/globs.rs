//! `regex.globs_match(a, b)`: whether some string matches both regex-style globs, with the
//! syntax of the library OPA uses: `.` any character, `[abc]` and `[a-z]` sets, `+` and
//! `*` after a token, `\` escaping; both globs match whole strings. Decided on the product
//! of the two globs' automata. As the library does, only a non-empty common string counts,
//! except between two empty globs.

use std::collections::{BTreeSet, VecDeque};

use regorus::Value;

use super::string_arg;

pub fn intersect(args: &[Value]) -> anyhow::Result<Value> {
    let a = parse(string_arg(args, 0)?)?;
    let b = parse(string_arg(args, 1)?)?;
    let both_empty = a.is_empty() && b.is_empty();
    Ok(Value::from(both_empty || non_empty(&a, &b)))
}

#[derive(Debug, Clone, PartialEq)]
enum Set {
    Any,
    Chars(BTreeSet<char>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rep {
    One,
    Star,
    Plus,
}

type Token = (Set, Rep);

fn parse(glob: &str) -> anyhow::Result<Vec<Token>> {
    let chars: Vec<char> = glob.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (c, escaped) = next(&chars, &mut i, glob)?;
        let set = match c {
            '.' if !escaped => Set::Any,
            '[' if !escaped => Set::Chars(set(&chars, &mut i, glob)?),
            ']' if !escaped => anyhow::bail!("{glob:?}: set-close ']' with no preceding '['"),
            '+' | '*' if !escaped => {
                anyhow::bail!("{glob:?}: flag '{c}' must be preceded by a non-flag")
            }
            _ => Set::Chars(BTreeSet::from([c])),
        };
        let rep = match chars.get(i) {
            Some('+') => Rep::Plus,
            Some('*') => Rep::Star,
            _ => Rep::One,
        };
        if rep != Rep::One {
            i += 1;
        }
        out.push((set, rep));
    }
    Ok(out)
}

fn next(chars: &[char], i: &mut usize, glob: &str) -> anyhow::Result<(char, bool)> {
    let c = chars[*i];
    *i += 1;
    if c != '\\' {
        return Ok((c, false));
    }
    let e = *chars
        .get(*i)
        .ok_or_else(|| anyhow::anyhow!("{glob:?}: input ends with a \\ (escape) character"))?;
    *i += 1;
    Ok((e, true))
}

/// The characters of a `[…]` set, after its `[`.
fn set(chars: &[char], i: &mut usize, glob: &str) -> anyhow::Result<BTreeSet<char>> {
    let mut out = BTreeSet::new();
    let mut prev: Option<char> = None;
    while *i < chars.len() {
        let (c, escaped) = next(chars, i, glob)?;
        match c {
            ']' if !escaped => return Ok(out),
            '-' if !escaped => {
                let lo = prev.ok_or_else(|| {
                    anyhow::anyhow!(
                        "{glob:?}: range character '-' must be preceded by a Unicode character"
                    )
                })?;
                if *i >= chars.len() {
                    anyhow::bail!(
                        "{glob:?}: range character '-' must be followed by a Unicode character"
                    );
                }
                let (hi, esc) = next(chars, i, glob)?;
                if !esc && (hi == ']' || hi == '-') {
                    anyhow::bail!(
                        "{glob:?}: range character '-' cannot be followed by a special symbol"
                    );
                }
                if hi < lo {
                    anyhow::bail!("{glob:?}: range is out of order");
                }
                out.extend(lo..=hi);
                prev = None;
            }
            _ => {
                out.insert(c);
                prev = Some(c);
            }
        }
    }
    anyhow::bail!("{glob:?}: found [ without matching ]")
}

fn overlap(a: &Set, b: &Set) -> bool {
    match (a, b) {
        (Set::Any, Set::Any) => true,
        (Set::Any, Set::Chars(s)) | (Set::Chars(s), Set::Any) => !s.is_empty(),
        (Set::Chars(x), Set::Chars(y)) => x.intersection(y).next().is_some(),
    }
}

/// Positions reachable from `i` without reading (skipping `*` tokens).
fn closure(g: &[Token], mut i: usize) -> Vec<usize> {
    let mut out = vec![i];
    while i < g.len() && g[i].1 == Rep::Star {
        i += 1;
        out.push(i);
    }
    out
}

/// Where reading one character of token `i` may lead: past it, or (repeated) back to it.
fn steps(g: &[Token], i: usize) -> Vec<usize> {
    match g[i].1 {
        Rep::One => vec![i + 1],
        Rep::Star | Rep::Plus => vec![i, i + 1],
    }
}

/// Whether both globs match a common string of at least one character.
fn non_empty(a: &[Token], b: &[Token]) -> bool {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::new();
    for i in closure(a, 0) {
        for j in closure(b, 0) {
            queue.push_back((i, j, false));
        }
    }
    while let Some((i, j, read)) = queue.pop_front() {
        if !seen.insert((i, j, read)) {
            continue;
        }
        if i == a.len() && j == b.len() && read {
            return true;
        }
        if i == a.len() || j == b.len() || !overlap(&a[i].0, &b[j].0) {
            continue;
        }
        for ni in steps(a, i) {
            for nj in steps(b, j) {
                for ci in closure(a, ni) {
                    for cj in closure(b, nj) {
                        queue.push_back((ci, cj, true));
                    }
                }
            }
        }
    }
    false
}
