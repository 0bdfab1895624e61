//! Values written as OPA writes them: numbers as Go formats them, composites as OPA's
//! `Value.String()` (used by `sprintf` for non-scalar arguments, template strings, `print`).

use regorus::Value;

use super::Halt;

/// OPA's type names, as its operand errors and `type_name` give them.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::Object(_) => "object",
        Value::Undefined => "undefined",
    }
}

/// A number as OPA writes it: an integer in digits, a fraction as a policy's literal is
/// usually written (`0.5`, `1234567.5`), with an exponent only when very large or small
/// (OPA keeps a literal's own text, which regorus does not).
pub fn number_text(v: &Value) -> String {
    match number(v) {
        Some(Num::Int(i)) => i.to_string(),
        // An integral float beyond int64 comes from a float64 (`load_json`), which OPA
        // writes as Go does.
        Some(Num::Float(f)) if f.fract() == 0.0 => go_g_shortest(f),
        Some(Num::Float(f)) => decimal_text(f),
        Some(Num::Big(s)) => s,
        None => String::new(),
    }
}

/// A number, as the Go type OPA hands to `fmt` (`sprintf`): int64, *big.Int or float64.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    Int(i64),
    Big(String),
    Float(f64),
}

pub fn number(v: &Value) -> Option<Num> {
    if !matches!(v, Value::Number(_)) {
        return None;
    }
    if let Ok(i) = v.as_i64() {
        return Some(Num::Int(i));
    }
    if let Ok(f) = v.as_f64() {
        return Some(Num::Float(f));
    }
    let big = v.as_number().ok()?.as_big()?;
    Some(Num::Big(big.to_string()))
}

/// The shortest digits of `f`, without an exponent from 1e-6 to 1e21 (as JSON encoders
/// write numbers), else as Go's `%g`.
fn decimal_text(f: f64) -> String {
    let (neg, digits, exp) = shortest_digits(f);
    if !(-7..21).contains(&exp) {
        return go_g_shortest(f);
    }
    format!(
        "{}{}",
        if neg { "-" } else { "" },
        place_point(&digits, exp)
    )
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_g_shortest(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (neg, digits, exp) = shortest_digits(f);
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    format!("{sign}{}", place_point(&digits, exp))
}

/// The shortest digits that read back as `f`, and the decimal exponent of the first.
pub fn shortest_digits(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (f < 0.0, digits, exp.parse().unwrap_or(0))
}

/// `digits` (d.ddd × 10^exp) written without an exponent.
fn place_point(digits: &str, exp: i32) -> String {
    let n = digits.len() as i32;
    if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else if exp + 1 >= n {
        format!("{digits}{}", "0".repeat((exp + 1 - n) as usize))
    } else {
        let (int, frac) = digits.split_at((exp + 1) as usize);
        format!("{int}.{frac}")
    }
}

/// OPA's `Value.String()`: strings quoted as Go quotes them, sets in braces (`set()` when
/// empty), objects as `{"k": v}`, sorted.
pub fn opa_string(v: &Value) -> String {
    let mut out = String::new();
    write_opa(v, &mut out);
    out
}

fn write_opa(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => out.push_str(&number_text(v)),
        Value::String(s) => out.push_str(&go_quote(s, false)),
        Value::Array(a) => {
            out.push('[');
            join(a.iter(), out);
            out.push(']');
        }
        Value::Set(s) if s.is_empty() => out.push_str("set()"),
        Value::Set(s) => {
            out.push('{');
            join(s.iter_sorted(), out);
            out.push('}');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, v)) in o.iter_sorted().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_opa(k, out);
                out.push_str(": ");
                write_opa(v, out);
            }
            out.push('}');
        }
        Value::Undefined => out.push_str("<undefined>"),
    }
}

fn join<'a>(items: impl Iterator<Item = &'a Value>, out: &mut String) {
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_opa(v, out);
    }
}

/// Go's `strconv.Quote` (or `QuoteToASCII` with `ascii`).
pub fn go_quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(c, '"', ascii, &mut out);
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`.
pub fn go_quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    push_escaped(c, '\'', ascii, &mut out);
    out.push('\'');
    out
}

fn push_escaped(c: char, quote: char, ascii: bool, out: &mut String) {
    match c {
        _ if c == quote || c == '\\' => {
            out.push('\\');
            out.push(c);
        }
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        _ if is_print(c) && (!ascii || c.is_ascii()) => out.push(c),
        _ if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        _ if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        _ => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `strconv.IsPrint`, close enough: graphic characters and the ASCII space; not
/// controls, other spaces, format characters, private use or non-characters.
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    const NOT_PRINT: &[(u32, u32)] = &[
        (0xAD, 0xAD),
        (0x600, 0x605),
        (0x61C, 0x61C),
        (0x6DD, 0x6DD),
        (0x70F, 0x70F),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x206F),
        (0xD800, 0xF8FF),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0xFFFE, 0xFFFF),
        (0xE0000, 0xE0FFF),
        (0xF0000, 0x10FFFF),
    ];
    !NOT_PRINT.iter().any(|(lo, hi)| (*lo..=*hi).contains(&u))
}

/// `negation::DEFINED`: 0 for any argument; regorus never calls it with an undefined one.
pub fn defined(_args: &[Value]) -> anyhow::Result<Value> {
    Ok(Value::from(0u64))
}

/// `internal.template_string`: the parts of `$"…"`, literal strings and the set of values
/// each `{expr}` has; an undefined expression writes `<undefined>`, several values halt.
pub fn template_string(args: &[Value]) -> anyhow::Result<Value> {
    let Some(Value::Array(parts)) = args.first() else {
        anyhow::bail!("template string parts must be an array");
    };
    let mut out = String::new();
    for part in parts.iter() {
        match part {
            Value::String(s) => out.push_str(s),
            Value::Set(values) if values.is_empty() => out.push_str("<undefined>"),
            Value::Set(values) if values.len() == 1 => match values.iter().next() {
                Some(Value::String(s)) => out.push_str(s),
                Some(v) => out.push_str(&opa_string(v)),
                None => {}
            },
            Value::Set(_) => {
                return Err(
                    Halt("template-strings must not produce multiple outputs".into()).into(),
                );
            }
            other => out.push_str(&opa_string(other)),
        }
    }
    Ok(Value::from(out))
}
