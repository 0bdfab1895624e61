//! `sprintf` as OPA runs it: Go's `fmt.Sprintf` over the arguments OPA hands it (an
//! integer as int64 or *big.Int, any other number as float64, a string as itself, anything
//! else as its OPA text), with Go's verbs, flags and error notes (`%!d(float64=1.5)`,
//! `%!v(MISSING)`, `%!(EXTRA …)`).

use regorus::Value;

use super::value::{Num, go_quote, go_quote_rune, is_print, number, opa_string};
use super::{operand_error, string_arg};

/// A `fmt` argument, as the Go type OPA gives it.
#[derive(Debug, Clone)]
enum Arg {
    Int(i64),
    /// An integer beyond int64, in digits.
    Big(String),
    Float(f64),
    Str(String),
}

impl Arg {
    fn of(v: &Value) -> Arg {
        match (v, number(v)) {
            (_, Some(Num::Int(i))) => Arg::Int(i),
            (_, Some(Num::Big(s))) => Arg::Big(s),
            (_, Some(Num::Float(f))) => Arg::Float(f),
            (Value::String(s), _) => Arg::Str(s.to_string()),
            (other, _) => Arg::Str(opa_string(other)),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Arg::Int(_) => "int64",
            Arg::Big(_) => "*big.Int",
            Arg::Float(_) => "float64",
            Arg::Str(_) => "string",
        }
    }
}

pub fn sprintf(args: &[Value]) -> anyhow::Result<Value> {
    let format = string_arg(args, 0)?;
    let list = match args.get(1) {
        Some(Value::Array(a)) => a.iter().map(Arg::of).collect::<Vec<_>>(),
        Some(other) => return Err(operand_error(1, other, "array")),
        None => anyhow::bail!("missing operand 2"),
    };
    Ok(Value::from(go_sprintf(format, &list)))
}

/// Flags, width and precision of one verb.
#[derive(Debug, Clone, Default)]
struct Spec {
    sharp: bool,
    zero: bool,
    plus: bool,
    minus: bool,
    space: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// Go's limit on widths and precisions (`fmt.tooLarge`).
const TOO_LARGE: usize = 1_000_000;

struct Printer<'a> {
    out: String,
    args: &'a [Arg],
    arg: usize,
    reordered: bool,
    good_arg: bool,
}

fn go_sprintf(format: &str, args: &[Arg]) -> String {
    let mut p = Printer {
        out: String::new(),
        args,
        arg: 0,
        reordered: false,
        good_arg: true,
    };
    let bytes = format.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i] != b'%' {
            i += 1;
        }
        p.out.push_str(&format[start..i]);
        if i >= bytes.len() {
            break;
        }
        i = p.verb(format, i + 1);
    }
    p.extra();
    p.out
}

impl Printer<'_> {
    /// One `%…verb` starting after the `%`; returns where the format goes on.
    fn verb(&mut self, format: &str, i: usize) -> usize {
        let end = format.len();
        self.good_arg = true;
        let (mut s, i) = flags(format.as_bytes(), i);
        let mut i = self.width_and_precision(format, i, &mut s);
        if s.minus {
            s.zero = false;
        }
        let Some(verb) = format[i.min(end)..].chars().next() else {
            self.out.push_str("%!(NOVERB)");
            return end;
        };
        i += verb.len_utf8();
        match verb {
            '%' => self.out.push('%'),
            _ if !self.good_arg => self.out.push_str(&format!("%!{verb}(BADINDEX)")),
            _ if self.arg >= self.args.len() => self.out.push_str(&format!("%!{verb}(MISSING)")),
            _ => {
                if verb == 'v' {
                    s.sharp_v = s.sharp;
                    s.sharp = false;
                    s.plus = false;
                }
                let arg = self.args[self.arg].clone();
                self.arg += 1;
                let text = print_arg(&arg, verb, &s);
                self.out.push_str(&text);
            }
        }
        i
    }

    /// `[n]`, width (`*` an argument) and `.precision`, as Go reads them; returns where the
    /// verb is.
    fn width_and_precision(&mut self, format: &str, i: usize, s: &mut Spec) -> usize {
        let b = format.as_bytes();
        let end = b.len();
        let (mut i, mut after_index) = self.arg_number(format, i);
        if i < end && b[i] == b'*' {
            i += 1;
            match self.int_arg() {
                Some(w) if w < 0 => {
                    s.wid = Some(w.unsigned_abs() as usize);
                    s.minus = true;
                }
                Some(w) => s.wid = Some(w as usize),
                None => self.out.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (n, ni) = parse_num(b, i);
            s.wid = n;
            i = ni;
            if after_index && s.wid.is_some() {
                self.good_arg = false;
            }
        }
        if i + 1 < end && b[i] == b'.' {
            i += 1;
            if after_index {
                self.good_arg = false;
            }
            (i, after_index) = self.arg_number(format, i);
            if i < end && b[i] == b'*' {
                i += 1;
                match self.int_arg() {
                    Some(p) if p >= 0 => s.prec = Some(p as usize),
                    Some(_) => {}
                    None => self.out.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                let (n, ni) = parse_num(b, i);
                s.prec = Some(n.unwrap_or(0));
                i = ni;
            }
        }
        if !after_index {
            (i, _) = self.arg_number(format, i);
        }
        i
    }

    /// `[n]`: the next argument is the n-th.
    fn arg_number(&mut self, format: &str, i: usize) -> (usize, bool) {
        let b = format.as_bytes();
        if i >= b.len() || b[i] != b'[' {
            return (i, false);
        }
        self.reordered = true;
        let Some(close) = b[i..].iter().position(|c| *c == b']') else {
            self.good_arg = false;
            return (i + 1, false);
        };
        let inner = &format[i + 1..i + close];
        match inner.parse::<usize>() {
            Ok(n) if n >= 1 && n <= self.args.len() && !inner.starts_with('+') => {
                self.arg = n - 1;
                (i + close + 1, true)
            }
            Ok(_) => {
                self.good_arg = false;
                (i + close + 1, true)
            }
            Err(_) => {
                self.good_arg = false;
                (i + close + 1, false)
            }
        }
    }

    /// A `*` width or precision: the next argument, which must be an int.
    fn int_arg(&mut self) -> Option<i64> {
        let a = self.args.get(self.arg)?;
        self.arg += 1;
        match a {
            Arg::Int(n) if n.unsigned_abs() as usize <= TOO_LARGE => Some(*n),
            _ => None,
        }
    }

    fn extra(&mut self) {
        if self.reordered || self.arg >= self.args.len() {
            return;
        }
        let spec = Spec::default();
        let rest: Vec<String> = self.args[self.arg..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), print_arg(a, 'v', &spec)))
            .collect();
        self.out.push_str(&format!("%!(EXTRA {})", rest.join(", ")));
    }
}

/// The flags `#0+- ` after a `%`.
fn flags(b: &[u8], mut i: usize) -> (Spec, usize) {
    let mut s = Spec::default();
    while i < b.len() {
        match b[i] {
            b'#' => s.sharp = true,
            b'0' => s.zero = true,
            b'+' => s.plus = true,
            b'-' => s.minus = true,
            b' ' => s.space = true,
            _ => break,
        }
        i += 1;
    }
    (s, i)
}

fn parse_num(b: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let mut n: Option<usize> = None;
    while i < b.len() && b[i].is_ascii_digit() {
        let v = n.unwrap_or(0);
        if v > TOO_LARGE {
            return (None, b.len());
        }
        n = Some(v * 10 + usize::from(b[i] - b'0'));
        i += 1;
    }
    (n, i)
}

fn print_arg(arg: &Arg, verb: char, s: &Spec) -> String {
    if verb == 'T' {
        return pad(arg.type_name(), s);
    }
    let done = match arg {
        Arg::Int(i) => integer(i128::from(*i), verb, s),
        Arg::Big(digits) => match digits.parse::<i128>() {
            Ok(i) => big_integer(i, verb, s),
            Err(_) => big_digits(digits, verb, s),
        },
        Arg::Float(f) => float(*f, verb, s),
        Arg::Str(t) => string(t, verb, s),
    };
    done.unwrap_or_else(|| {
        let inner = print_arg(arg, 'v', s);
        format!("%!{verb}({}={inner})", arg.type_name())
    })
}

fn integer(v: i128, verb: char, s: &Spec) -> Option<String> {
    let text = match verb {
        'v' | 'd' => fmt_integer(v, 10, verb, s, false),
        'b' => fmt_integer(v, 2, verb, s, false),
        'o' | 'O' => fmt_integer(v, 8, verb, s, false),
        'x' => fmt_integer(v, 16, verb, s, false),
        'X' => fmt_integer(v, 16, verb, s, true),
        'c' => pad(&char_of(v).to_string(), s),
        'q' => pad(&go_quote_rune(char_of(v), s.plus), s),
        'U' => fmt_unicode(v, s),
        _ => return None,
    };
    Some(text)
}

/// *big.Int formats itself: decimal for `%s` and `%v` too, nothing for `%c`, `%q`, `%U`.
fn big_integer(v: i128, verb: char, s: &Spec) -> Option<String> {
    match verb {
        's' => integer(v, 'd', s),
        'c' | 'q' | 'U' => None,
        _ => integer(v, verb, s),
    }
}

fn big_digits(digits: &str, verb: char, s: &Spec) -> Option<String> {
    matches!(verb, 'd' | 's' | 'v').then(|| {
        let (neg, abs) = match digits.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, digits),
        };
        let sign = sign_of(neg, s);
        pad_number(sign, abs, s)
    })
}

fn char_of(v: i128) -> char {
    u32::try_from(v)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

fn sign_of(neg: bool, s: &Spec) -> &'static str {
    if neg {
        "-"
    } else if s.plus {
        "+"
    } else if s.space {
        " "
    } else {
        ""
    }
}

/// Go's `fmt.fmtInteger`: precision as minimum digits, `0` padding after the sign,
/// `#` prefixes.
fn fmt_integer(v: i128, base: u32, verb: char, s: &Spec, upper: bool) -> String {
    let neg = v < 0;
    let u = v.unsigned_abs();
    if s.prec == Some(0) && u == 0 {
        return " ".repeat(s.wid.unwrap_or(0));
    }
    let mut digits = match base {
        2 => format!("{u:b}"),
        8 => format!("{u:o}"),
        16 if upper => format!("{u:X}"),
        16 => format!("{u:x}"),
        _ => u.to_string(),
    };
    let min = match (s.prec, s.wid) {
        (Some(p), _) => p,
        (None, Some(w)) if s.zero && !s.minus => {
            w.saturating_sub(usize::from(neg || s.plus || s.space))
        }
        _ => 0,
    };
    if digits.len() < min {
        digits = format!("{}{digits}", "0".repeat(min - digits.len()));
    }
    let mut prefix = String::new();
    if s.sharp {
        match base {
            2 => prefix.push_str("0b"),
            8 if !digits.starts_with('0') => prefix.push('0'),
            16 if upper => prefix.push_str("0X"),
            16 => prefix.push_str("0x"),
            _ => {}
        }
    }
    if verb == 'O' {
        prefix.insert_str(0, "0o");
    }
    let text = format!("{}{prefix}{digits}", sign_of(neg, s));
    pad(
        &text,
        &Spec {
            zero: false,
            ..s.clone()
        },
    )
}

fn pad_number(sign: &str, digits: &str, s: &Spec) -> String {
    let body = format!("{sign}{digits}");
    match s.wid {
        Some(w) if s.zero && !s.minus && w > body.chars().count() => {
            format!("{sign}{}{digits}", "0".repeat(w - body.chars().count()))
        }
        _ => pad(
            &body,
            &Spec {
                zero: false,
                ..s.clone()
            },
        ),
    }
}

fn fmt_unicode(v: i128, s: &Spec) -> String {
    let prec = s.prec.filter(|p| *p > 4).unwrap_or(4);
    let mut text = format!("U+{:0prec$X}", v.max(0), prec = prec);
    if let Some(c) = u32::try_from(v).ok().and_then(char::from_u32)
        && s.sharp
        && is_print(c)
    {
        text.push_str(&format!(" '{c}'"));
    }
    pad(
        &text,
        &Spec {
            zero: false,
            ..s.clone()
        },
    )
}

/// Width padding with spaces (or zeros with `0`), counted in characters.
fn pad(text: &str, s: &Spec) -> String {
    let n = text.chars().count();
    let Some(w) = s.wid.filter(|w| *w > n) else {
        return text.to_string();
    };
    let fill = if s.zero && !s.minus { "0" } else { " " }.repeat(w - n);
    if s.minus {
        format!("{text}{fill}")
    } else {
        format!("{fill}{text}")
    }
}

fn string(t: &str, verb: char, s: &Spec) -> Option<String> {
    let text = match verb {
        'v' if s.sharp_v => quoted(t, s),
        'v' | 's' => pad(truncate(t, s.prec), s),
        'x' => hex_string(t, s, false),
        'X' => hex_string(t, s, true),
        'q' => quoted(t, s),
        _ => return None,
    };
    Some(text)
}

fn truncate(t: &str, prec: Option<usize>) -> &str {
    match prec.and_then(|p| t.char_indices().nth(p)) {
        Some((i, _)) => &t[..i],
        None => t,
    }
}

fn quoted(t: &str, s: &Spec) -> String {
    let t = truncate(t, s.prec);
    if s.sharp && !t.contains(['`', '\n', '\r']) && t.chars().all(|c| c == '\t' || !c.is_control())
    {
        return pad(&format!("`{t}`"), s);
    }
    pad(&go_quote(t, s.plus), s)
}

/// Go's `fmtSbx` for a string: two hex digits a byte, `#` and ` ` as Go places them.
fn hex_string(t: &str, s: &Spec, upper: bool) -> String {
    let bytes = &t.as_bytes()[..s.prec.unwrap_or(usize::MAX).min(t.len())];
    if bytes.is_empty() {
        return " ".repeat(s.wid.unwrap_or(0));
    }
    let x = if upper { "0X" } else { "0x" };
    let mut out = String::new();
    if s.sharp {
        out.push_str(x);
    }
    for (i, b) in bytes.iter().enumerate() {
        if s.space && i > 0 {
            out.push(' ');
            if s.sharp {
                out.push_str(x);
            }
        }
        out.push_str(&if upper {
            format!("{b:02X}")
        } else {
            format!("{b:02x}")
        });
    }
    pad(
        &out,
        &Spec {
            zero: false,
            ..s.clone()
        },
    )
}

fn float(f: f64, verb: char, s: &Spec) -> Option<String> {
    let (conv, default_prec) = match verb {
        'v' => ('g', None),
        'b' | 'g' | 'G' | 'x' | 'X' => (verb, None),
        'f' | 'e' | 'E' => (verb, Some(6)),
        'F' => ('f', Some(6)),
        _ => return None,
    };
    let prec = s.prec.or(default_prec);
    let num = super::fmt_float::format(f, conv, prec);
    Some(finish_float(num, verb, prec, s))
}

/// Go's `fmt.fmtFloat` after `strconv`: sign, `#`, and padding.
fn finish_float(num: String, verb: char, prec: Option<usize>, s: &Spec) -> String {
    let (mut sign, mut body) = match num.strip_prefix('-') {
        Some(rest) => ('-', rest.to_string()),
        None => ('+', num.clone()),
    };
    if s.space && sign == '+' && !s.plus {
        sign = ' ';
    }
    if s.sharp && verb != 'b' {
        body = sharp_float(&body, verb, prec);
    }
    if s.plus || sign != '+' {
        let with_sign = format!("{sign}{body}");
        return match s.wid {
            Some(w) if s.zero && !s.minus && w > with_sign.len() => {
                format!("{sign}{}{body}", "0".repeat(w - with_sign.len()))
            }
            _ => pad(&with_sign, s),
        };
    }
    match s.wid {
        Some(w) if s.zero && !s.minus && w > body.len() => {
            format!("{}{body}", "0".repeat(w - body.len()))
        }
        _ => pad(&body, s),
    }
}

/// `#` on a float: a decimal point always, and `%g`'s trailing zeros kept.
fn sharp_float(body: &str, verb: char, prec: Option<usize>) -> String {
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => prec.map_or(6, |p| p as i64),
        _ => 0,
    };
    let split = body
        .find(|c: char| {
            (c == 'e' || c == 'E') && verb != 'x' && verb != 'X' || c == 'p' || c == 'P'
        })
        .unwrap_or(body.len());
    let (mut num, tail) = (body[..split].to_string(), &body[split..]);
    let mut seen_nonzero = false;
    for c in num.chars() {
        if c == '.' {
            continue;
        }
        if c != '0' {
            seen_nonzero = true;
        }
        if seen_nonzero {
            digits -= 1;
        }
    }
    if !num.contains('.') {
        if num == "0" {
            digits -= 1;
        }
        num.push('.');
    }
    while digits > 0 {
        num.push('0');
        digits -= 1;
    }
    format!("{num}{tail}")
}
