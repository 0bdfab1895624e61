//! `strings.render_template(template, vars)`: the part of Go's `text/template` policies use,
//! with Go's output: `{{.a.b}}`, `{{.}}`, `{{$}}`, literals, `if`/`else if`/`else`,
//! `range` (arrays and objects, `.` the element), `with`, comments and `{{-`/`-}}` trimming.
//! A value prints as Go's `fmt.Print` prints it (`map[a:1]`, `[1 x]`); a missing key prints
//! `<undefined>` (Go's `<no value>`, which OPA renames). Anything else (functions,
//! variables, pipelines) is an error, so the call is undefined.

use regorus::Value;

use super::value::number_text;
use super::{operand_error, string_arg};

pub fn render(args: &[Value]) -> anyhow::Result<Value> {
    let text = string_arg(args, 0)?;
    let vars = match args.get(1) {
        Some(v @ Value::Object(_)) => v,
        Some(other) => return Err(operand_error(1, other, "object")),
        None => anyhow::bail!("missing operand 2"),
    };
    if has_set(vars) {
        anyhow::bail!("template variables cannot hold sets");
    }
    let nodes = parse(text)?;
    let mut out = String::new();
    exec(&nodes, vars, vars, &mut out)?;
    Ok(Value::from(out))
}

#[derive(Debug)]
enum Node {
    Text(String),
    Print(Operand),
    If(Operand, Vec<Node>, Vec<Node>),
    Range(Operand, Vec<Node>, Vec<Node>),
    With(Operand, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
enum Operand {
    /// `.a.b` (empty path: `.`), from the dot or (`$`) from the root.
    Field {
        root: bool,
        path: Vec<String>,
    },
    Literal(Value),
}

/// The template split into text and actions, with `{{-`/`-}}` trimming applied.
fn lex(text: &str) -> anyhow::Result<Vec<(bool, String)>> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut before = &rest[..open];
        if trim_next {
            before = before.trim_start();
        }
        let after = &rest[open + 2..];
        let (trim_left, after) = match after.strip_prefix("- ") {
            Some(a) => (true, a),
            None => (false, after),
        };
        if trim_left {
            before = before.trim_end();
        }
        out.push((false, before.to_string()));
        let close = after
            .find("}}")
            .ok_or_else(|| anyhow::anyhow!("template: unclosed action"))?;
        let mut action = &after[..close];
        trim_next = action.ends_with(" -");
        if trim_next {
            action = &action[..action.len() - 2];
        }
        out.push((true, action.trim().to_string()));
        rest = &after[close + 2..];
    }
    out.push((
        false,
        if trim_next { rest.trim_start() } else { rest }.to_string(),
    ));
    Ok(out)
}

fn parse(text: &str) -> anyhow::Result<Vec<Node>> {
    let items = lex(text)?;
    let mut it = items.into_iter().peekable();
    let (nodes, end) = block(&mut it)?;
    if let Some(end) = end {
        anyhow::bail!("template: unexpected {{{{{end}}}}}");
    }
    Ok(nodes)
}

type Items = std::iter::Peekable<std::vec::IntoIter<(bool, String)>>;

/// Nodes up to an `else…` or `end`, which is returned.
fn block(it: &mut Items) -> anyhow::Result<(Vec<Node>, Option<String>)> {
    let mut nodes = Vec::new();
    while let Some((is_action, s)) = it.next() {
        if !is_action {
            if !s.is_empty() {
                nodes.push(Node::Text(s));
            }
            continue;
        }
        if s.starts_with("/*") && s.ends_with("*/") {
            continue;
        }
        let (word, rest) = s.split_once(' ').unwrap_or((&s, ""));
        match word {
            "end" | "else" => return Ok((nodes, Some(s.clone()))),
            "if" | "range" | "with" => nodes.push(control(word, rest, it)?),
            _ => nodes.push(Node::Print(operand(&s)?)),
        }
    }
    Ok((nodes, None))
}

/// `if`, `range` or `with`: its body, an optional `else` (or `else if …`) and `end`.
fn control(word: &str, arg: &str, it: &mut Items) -> anyhow::Result<Node> {
    let op = operand(arg)?;
    let (body, end) = block(it)?;
    let otherwise = match end.as_deref() {
        Some("end") => vec![],
        Some("else") => match block(it)? {
            (nodes, Some(e)) if e == "end" => nodes,
            _ => anyhow::bail!("template: {word} without end"),
        },
        Some(e) if word == "if" && e.starts_with("else if ") => {
            vec![control("if", &e["else if ".len()..], it)?]
        }
        _ => anyhow::bail!("template: {word} without end"),
    };
    Ok(match word {
        "if" => Node::If(op, body, otherwise),
        "range" => Node::Range(op, body, otherwise),
        _ => Node::With(op, body, otherwise),
    })
}

fn operand(s: &str) -> anyhow::Result<Operand> {
    let s = s.trim();
    let field = |root: bool, p: &str| Operand::Field {
        root,
        path: p
            .split('.')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
    };
    let valid = |p: &str| {
        p.split('.')
            .skip(1)
            .all(|x| !x.is_empty() && x.chars().all(|c| c.is_alphanumeric() || c == '_'))
    };
    Ok(match s {
        "true" => Operand::Literal(Value::from(true)),
        "false" => Operand::Literal(Value::from(false)),
        _ if s.starts_with('"') => Operand::Literal(Value::from(
            serde_json::from_str::<String>(s)
                .map_err(|_| anyhow::anyhow!("template: bad string {s}"))?,
        )),
        _ if s.starts_with('.') && (s == "." || valid(s)) => field(false, s),
        _ if s == "$" || (s.starts_with("$.") && valid(&s[1..])) => field(true, &s[1..]),
        _ if s.parse::<f64>().is_ok() => Operand::Literal(Value::from_json_str(s)?),
        _ => anyhow::bail!(
            "template: {s:?} is not supported (fields, literals, if, range and with are)"
        ),
    })
}

fn has_set(v: &Value) -> bool {
    match v {
        Value::Set(_) => true,
        Value::Array(a) => a.iter().any(has_set),
        Value::Object(o) => o.iter().any(|(k, v)| has_set(k) || has_set(v)),
        _ => false,
    }
}

/// The operand's value; `None` for a missing key (Go's "no value"), also below it.
fn resolve(op: &Operand, dot: &Value, root: &Value) -> anyhow::Result<Option<Value>> {
    let (start, path) = match op {
        Operand::Literal(v) => return Ok(Some(v.clone())),
        Operand::Field { root: true, path } => (root, path),
        Operand::Field { root: false, path } => (dot, path),
    };
    let mut cur = Some(start.clone());
    for name in path {
        cur = match cur {
            Some(Value::Object(o)) => o.get(&Value::from(name.as_str())).cloned(),
            None => None,
            Some(Value::Null) => {
                anyhow::bail!("template: nil pointer evaluating interface {{}}.{name}")
            }
            Some(other) => anyhow::bail!(
                "template: can't evaluate field {name} in type {}",
                go_type(&other)
            ),
        };
    }
    Ok(cur)
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "json.Number",
        Value::Bool(_) => "bool",
        Value::Array(_) | Value::Set(_) => "[]interface {}",
        _ => "interface {}",
    }
}

/// Go's truth for `if` and `with`: not false, nil or empty. Numbers reach the template as
/// `json.Number`, a string, so every number is true.
fn truthy(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) | Some(Value::Undefined) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Set(s)) => !s.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Number(_)) | Some(Value::Bool(true)) => true,
    }
}

fn exec(nodes: &[Node], dot: &Value, root: &Value, out: &mut String) -> anyhow::Result<()> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Print(op) => match resolve(op, dot, root)? {
                Some(Value::Null) | None => out.push_str("<undefined>"),
                Some(v) => print(&v, out),
            },
            Node::If(op, yes, no) => {
                let v = resolve(op, dot, root)?;
                exec(if truthy(&v) { yes } else { no }, dot, root, out)?;
            }
            Node::With(op, yes, no) => match resolve(op, dot, root)? {
                v @ Some(_) if truthy(&v) => exec(yes, &v.unwrap_or(Value::Null), root, out)?,
                _ => exec(no, dot, root, out)?,
            },
            Node::Range(op, body, empty) => {
                let items: Vec<Value> = match resolve(op, dot, root)? {
                    Some(Value::Array(a)) => a.iter().cloned().collect(),
                    Some(Value::Set(s)) => s.iter_sorted().cloned().collect(),
                    Some(Value::Object(o)) => o.iter_sorted().map(|(_, v)| v.clone()).collect(),
                    None | Some(Value::Null) => vec![],
                    Some(other) => {
                        anyhow::bail!("template: range can't iterate over {}", go_type(&other))
                    }
                };
                if items.is_empty() {
                    exec(empty, dot, root, out)?;
                }
                for item in &items {
                    exec(body, item, root, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Go's `fmt.Print` of the value OPA converted: `map[k:v …]`, `[a b]`, `<nil>`.
fn print(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Number(_) => out.push_str(&number_text(v)),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null | Value::Undefined => out.push_str("<nil>"),
        Value::Array(a) => list(a.iter(), out),
        Value::Set(s) => list(s.iter_sorted(), out),
        Value::Object(o) => {
            out.push_str("map[");
            for (i, (k, v)) in o.iter_sorted().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print(k, out);
                out.push(':');
                print(v, out);
            }
            out.push(']');
        }
    }
}

fn list<'a>(items: impl Iterator<Item = &'a Value>, out: &mut String) {
    out.push('[');
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print(v, out);
    }
    out.push(']');
}
