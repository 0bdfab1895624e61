//! `glob.match` and `glob.quote_meta` with the syntax and meaning of the Go glob library
//! OPA uses: `*` and `?` stop at the delimiters (`.` when the list is empty, none when it
//! is null), `**` does not, `[a-z]`, `[!abc]`, `{a,b}` alternatives, `\` escapes. A pattern
//! is translated to an anchored regular expression.

use regorus::Value;

use super::{operand_error, string_arg};

/// Characters with a meaning in a glob (`QuoteMeta` escapes them).
const SPECIAL: &[char] = &['*', '?', '\\', '[', ']', '{', '}'];

pub fn quote_meta(args: &[Value]) -> anyhow::Result<Value> {
    let s = string_arg(args, 0)?;
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(Value::from(out))
}

pub fn matches(args: &[Value]) -> anyhow::Result<Value> {
    let pattern = string_arg(args, 0)?;
    let delimiters: Vec<char> = match args.get(1) {
        Some(Value::Null) => vec![],
        Some(Value::Array(list)) if list.is_empty() => vec!['.'],
        Some(Value::Array(list)) => list
            .iter()
            .map(|d| {
                let mut chars = match d {
                    Value::String(s) => s.chars(),
                    other => return Err(operand_error(1, other, "string")),
                };
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(c),
                    _ => Err(anyhow::anyhow!(
                        "operand 2: delimiters must be single characters"
                    )),
                }
            })
            .collect::<anyhow::Result<_>>()?,
        Some(other) => return Err(operand_error(1, other, "array or null")),
        None => anyhow::bail!("missing operand 2"),
    };
    let subject = string_arg(args, 2)?;
    let re = compile(pattern, &delimiters)?;
    Ok(Value::from(re.is_match(subject)))
}

/// The glob as a regular expression matching whole strings.
pub fn compile(pattern: &str, delimiters: &[char]) -> anyhow::Result<regex::Regex> {
    let not_delim = if delimiters.is_empty() {
        "(?s:.)".to_string()
    } else {
        let set: String = delimiters.iter().map(|c| class_char(*c)).collect();
        format!("[^{set}]")
    };
    let mut p = Translator {
        chars: pattern.chars().collect(),
        i: 0,
        out: String::from(r"\A(?:"),
        not_delim,
        depth: 0,
    };
    p.run()?;
    for _ in 0..p.depth {
        p.out.push(')');
    }
    p.out.push_str(r")\z");
    regex::Regex::new(&p.out).map_err(|e| anyhow::anyhow!("glob {pattern:?}: {e}"))
}

struct Translator {
    chars: Vec<char>,
    i: usize,
    out: String,
    not_delim: String,
    /// Open `{` alternatives.
    depth: usize,
}

impl Translator {
    fn run(&mut self) -> anyhow::Result<()> {
        while let Some(&c) = self.chars.get(self.i) {
            self.i += 1;
            match c {
                '*' if self.chars.get(self.i) == Some(&'*') => {
                    self.i += 1;
                    self.out.push_str("(?s:.*)");
                }
                '*' => self.out.push_str(&format!("{}*", self.not_delim)),
                '?' => self.out.push_str(&self.not_delim.clone()),
                '[' => self.range()?,
                '{' => {
                    self.depth += 1;
                    self.out.push_str("(?:");
                }
                ',' if self.depth > 0 => self.out.push('|'),
                '}' if self.depth > 0 => {
                    self.depth -= 1;
                    self.out.push(')');
                }
                _ => {
                    self.i -= 1;
                    self.text();
                }
            }
        }
        Ok(())
    }

    /// Literal text up to the next special character; `\` takes the next one as it is.
    fn text(&mut self) {
        let mut breakers = vec!['?', '*', '[', '{'];
        if self.depth > 0 {
            breakers.extend(['}', ',']);
        }
        let mut escaped = false;
        while let Some(&c) = self.chars.get(self.i) {
            if !escaped && c == '\\' {
                escaped = true;
                self.i += 1;
                continue;
            }
            if !escaped && breakers.contains(&c) {
                break;
            }
            escaped = false;
            self.out.push_str(&regex::escape(&c.to_string()));
            self.i += 1;
        }
    }

    /// `[abc]`, `[!abc]`, `[a-z]`, `[!a-z]`: one character.
    fn range(&mut self) -> anyhow::Result<()> {
        let not = self.chars.get(self.i) == Some(&'!');
        if not {
            self.i += 1;
        }
        let lo = self.chars.get(self.i).copied();
        let set = if self.chars.get(self.i + 1) == Some(&'-') && lo.is_some() {
            let hi = self
                .chars
                .get(self.i + 2)
                .copied()
                .ok_or_else(|| anyhow::anyhow!("unexpected end of input"))?;
            let lo = lo.unwrap_or_default();
            if hi < lo {
                anyhow::bail!("hi character '{hi}' should be greater than lo '{lo}'");
            }
            self.i += 3;
            format!("{}-{}", class_char(lo), class_char(hi))
        } else {
            let mut chars = String::new();
            let mut escaped = false;
            while let Some(&c) = self.chars.get(self.i) {
                if !escaped && c == '\\' {
                    escaped = true;
                    self.i += 1;
                    continue;
                }
                if !escaped && c == ']' {
                    break;
                }
                escaped = false;
                chars.push_str(&class_char(c));
                self.i += 1;
            }
            if chars.is_empty() {
                anyhow::bail!("could not parse range");
            }
            chars
        };
        if self.chars.get(self.i) != Some(&']') {
            anyhow::bail!("expected close range character");
        }
        self.i += 1;
        let neg = if not { "^" } else { "" };
        self.out.push_str(&format!("[{neg}{set}]"));
        Ok(())
    }
}

/// A character inside a regex class.
fn class_char(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!("\\x{{{:x}}}", c as u32)
    }
}
