//! `json.marshal` as Go's `encoding/json` writes OPA's values: keys sorted, sets as sorted
//! arrays, `<`, `>`, `&`, U+2028 and U+2029 escaped, numbers in OPA's text.

use regorus::Value;

use super::value::number_text;

pub fn marshal(args: &[Value]) -> anyhow::Result<Value> {
    let v = args
        .first()
        .ok_or_else(|| anyhow::anyhow!("missing operand 1"))?;
    let mut out = String::new();
    write(v, &mut out)?;
    Ok(Value::from(out))
}

fn write(v: &Value, out: &mut String) -> anyhow::Result<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => out.push_str(&number_text(v)),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => write_list(a.iter(), out)?,
        Value::Set(s) => write_list(s.iter_sorted(), out)?,
        Value::Object(o) => {
            // A key that is not a string becomes its JSON text, as OPA converts it.
            let mut fields: Vec<(String, &Value)> = Vec::with_capacity(o.len());
            for (k, v) in o.iter() {
                let key = match k {
                    Value::String(k) => k.to_string(),
                    other => {
                        let mut text = String::new();
                        write(other, &mut text)?;
                        text
                    }
                };
                fields.push((key, v));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(&k, out);
                out.push(':');
                write(v, out)?;
            }
            out.push('}');
        }
        Value::Undefined => anyhow::bail!("cannot marshal an undefined value"),
    }
    Ok(())
}

fn write_list<'a>(items: impl Iterator<Item = &'a Value>, out: &mut String) -> anyhow::Result<()> {
    out.push('[');
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(v, out)?;
    }
    out.push(']');
    Ok(())
}

/// Go's JSON string escaping with `escapeHTML`.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
