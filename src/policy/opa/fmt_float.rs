//! Go's `strconv.FormatFloat(f, fmt, prec, 64)` for the formats `fmt` uses: `e`, `E`, `f`,
//! `g`, `G` (shortest with `prec` `None`), `b` and `x`/`X` (hexadecimal mantissa).
//!
//! Digits come from Rust's formatter, which like Go's rounds the exact binary value
//! correctly (ties to even); only the layout is Go's.

use super::value::shortest_digits;

/// Decimal digits `d[0].d[1]… × 10^(dp-1)`, without trailing zeros (`nd == 0` is zero).
struct Digits {
    neg: bool,
    d: Vec<u8>,
    dp: i32,
}

impl Digits {
    fn shortest(f: f64) -> Digits {
        if f == 0.0 {
            return Digits {
                neg: f.is_sign_negative(),
                d: vec![],
                dp: 0,
            };
        }
        let (neg, digits, exp) = shortest_digits(f);
        Digits::trimmed(neg, digits.into_bytes(), exp + 1)
    }

    /// Rounded to `n` significant digits.
    fn significant(f: f64, n: usize) -> Digits {
        let s = format!("{:.*e}", n.saturating_sub(1), f.abs());
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let digits: Vec<u8> = mant.bytes().filter(|c| *c != b'.').collect();
        let exp: i32 = exp.parse().unwrap_or(0);
        Digits::trimmed(f.is_sign_negative() && f != 0.0, digits, exp + 1)
    }

    /// Rounded to `n` digits after the point.
    fn fixed(f: f64, n: usize) -> Digits {
        let s = format!("{:.*}", n, f.abs());
        let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
        let all: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
        let lead = all.iter().take_while(|c| **c == b'0').count();
        let dp = int.len() as i32 - lead as i32;
        Digits::trimmed(f.is_sign_negative() && f != 0.0, all[lead..].to_vec(), dp)
    }

    fn trimmed(neg: bool, mut d: Vec<u8>, dp: i32) -> Digits {
        while d.last() == Some(&b'0') {
            d.pop();
        }
        let dp = if d.is_empty() { 0 } else { dp };
        Digits { neg, d, dp }
    }

    fn nd(&self) -> i32 {
        self.d.len() as i32
    }

    fn at(&self, i: i32) -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.d.get(i))
            .map_or('0', |c| char::from(*c))
    }
}

pub fn format(f: f64, conv: char, prec: Option<usize>) -> String {
    match conv {
        'b' => binary(f),
        'x' | 'X' => hex(f, conv, prec),
        'e' | 'E' => {
            let d = prec.map_or_else(|| Digits::shortest(f), |p| Digits::significant(f, p + 1));
            let p = prec.map_or((d.nd() - 1).max(0), |p| p as i32);
            fmt_e(&d, p, conv)
        }
        'f' => {
            let d = prec.map_or_else(|| Digits::shortest(f), |p| Digits::fixed(f, p));
            let p = prec.map_or((d.nd() - d.dp).max(0), |p| p as i32);
            fmt_f(&d, p)
        }
        _ => general(f, conv, prec),
    }
}

/// `%g`: `%e` for exponents below -4 or from the precision on (6 when shortest), else `%f`.
fn general(f: f64, conv: char, prec: Option<usize>) -> String {
    let shortest = prec.is_none();
    let (d, mut p) = match prec {
        None => {
            let d = Digits::shortest(f);
            let n = d.nd();
            (d, n)
        }
        Some(p) => {
            let p = p.max(1);
            (Digits::significant(f, p), p as i32)
        }
    };
    let mut eprec = p;
    if eprec > d.nd() && d.nd() >= d.dp {
        eprec = d.nd();
    }
    if shortest {
        eprec = 6;
    }
    let exp = d.dp - 1;
    if exp < -4 || exp >= eprec {
        if p > d.nd() {
            p = d.nd();
        }
        return fmt_e(&d, p - 1, if conv == 'G' { 'E' } else { 'e' });
    }
    if p > d.dp {
        p = d.nd();
    }
    fmt_f(&d, (p - d.dp).max(0))
}

fn fmt_e(d: &Digits, prec: i32, e: char) -> String {
    let mut out = String::new();
    if d.neg {
        out.push('-');
    }
    out.push(d.at(0));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.at(i));
        }
    }
    let exp = if d.nd() == 0 { 0 } else { d.dp - 1 };
    out.push(e);
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.abs()));
    out
}

fn fmt_f(d: &Digits, prec: i32) -> String {
    let mut out = String::new();
    if d.neg {
        out.push('-');
    }
    if d.dp > 0 {
        for i in 0..d.dp {
            out.push(d.at(i));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.at(d.dp + i - 1));
        }
    }
    out
}

/// The IEEE parts: sign, mantissa with its implicit bit, and the exponent of its unit.
fn parts(f: f64) -> (bool, u64, i32) {
    let bits = f.to_bits();
    let neg = bits >> 63 == 1;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    if biased == 0 {
        (neg, frac, -1074)
    } else {
        (neg, frac | (1 << 52), biased - 1075)
    }
}

/// `%b`: decimal mantissa, `p`, binary exponent.
fn binary(f: f64) -> String {
    let (neg, mant, exp) = parts(f);
    let sign = if neg { "-" } else { "" };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{mant}p{esign}{}", exp.abs())
}

/// `%x`: `0x1.8p+01`, the mantissa rounded to `prec` hexadecimal digits when given.
fn hex(f: f64, conv: char, prec: Option<usize>) -> String {
    let (neg, mut mant, unit) = parts(f);
    // Leading bit at 1<<60, so that the value is mant/2^60 × 2^exp.
    let mut exp = unit + 52;
    if mant == 0 {
        exp = 0;
    }
    mant <<= 8;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec.filter(|p| *p < 15) {
        let shift = (p * 4) as u32;
        let rest = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if rest | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let upper = conv == 'X';
    let digit = |v: u64| {
        let c = char::from_digit((v & 15) as u32, 16).unwrap_or('0');
        if upper { c.to_ascii_uppercase() } else { c }
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push('0');
    out.push(conv);
    out.push(digit((mant >> 60) & 1));
    mant <<= 4;
    let count = match prec {
        None if mant != 0 => None,
        None => Some(0),
        Some(p) => Some(p),
    };
    match count {
        None => {
            out.push('.');
            while mant != 0 {
                out.push(digit(mant >> 60));
                mant <<= 4;
            }
        }
        Some(0) => {}
        Some(p) => {
            out.push('.');
            for _ in 0..p {
                out.push(digit(mant >> 60));
                mant <<= 4;
            }
        }
    }
    out.push(if upper { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.abs()));
    out
}
