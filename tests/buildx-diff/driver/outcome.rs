//! What each side decided and saw, read from the build's output: Buildx's progress log
//! (`policy input:` dumps at log-level=debug, `Policy:` lines for deny messages) and the
//! frontend's log in buildkitd's (`print` lines, the denial line).

use serde::Serialize;
use serde_json::Value;

use crate::common::Outcome;

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    /// `messages` joined with "; ", as the frontend prints them.
    Deny {
        source: String,
        messages: String,
    },
    Error {
        text: String,
    },
}

impl Verdict {
    pub fn class(&self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny { .. } => "deny",
            Verdict::Error { .. } => "error",
        }
    }

    /// Same outcome, and for denials the same messages; error texts and the spelling of the
    /// denied source differ between the two by design.
    pub fn agrees(&self, other: &Verdict) -> bool {
        match (self, other) {
            (Verdict::Deny { messages: a, .. }, Verdict::Deny { messages: b, .. }) => a == b,
            _ => self.class() == other.class(),
        }
    }

    pub fn brief(&self) -> String {
        match self {
            Verdict::Allow => "allow".into(),
            Verdict::Deny { source, messages } => format!("deny [{messages}] ({source})"),
            Verdict::Error { text } => format!("error: {}", cut(text, 300)),
        }
    }
}

pub fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The client's error: from the last `ERROR:` line to the end, on one line.
fn error_text(out: &Outcome) -> String {
    let lines: Vec<&str> = out.output.lines().collect();
    let start = lines.iter().rposition(|l| l.starts_with("ERROR: "));
    let text = match start {
        Some(i) => lines[i..].join(" "),
        None => lines.last().copied().unwrap_or_default().to_string(),
    };
    let text = text.strip_prefix("ERROR: ").unwrap_or(&text);
    let text = text.strip_prefix("failed to build: ").unwrap_or(text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn buildx_verdict(out: &Outcome) -> Verdict {
    if out.ok {
        return Verdict::Allow;
    }
    let text = error_text(out);
    let Some(source) = between(&text, "source \"", "\" not allowed by policy") else {
        return Verdict::Error { text };
    };
    Verdict::Deny {
        source: source.to_string(),
        messages: one_line(&buildx_deny_messages(out, source).join("; ")),
    }
}

/// The messages Buildx logged under its DENY decision for `source`: ` - first line`, then
/// the message's further lines, up to the next log entry of its own.
fn buildx_deny_messages(out: &Outcome, source: &str) -> Vec<String> {
    let decision = format!("policy decision for source {source}");
    let mut messages: Vec<String> = Vec::new();
    let mut vertex: Option<&str> = None;
    for line in out.output.lines() {
        let Some((v, msg)) = vertex_message(line) else {
            if vertex.is_some() && !messages.is_empty() {
                break;
            }
            continue;
        };
        match vertex {
            None if msg.starts_with(&decision) && msg.ends_with(": DENY") => vertex = Some(v),
            Some(d) if d == v => {
                if let Some(m) = msg.strip_prefix(" - ") {
                    messages.push(m.to_string());
                } else if LOG_ENTRIES.iter().any(|e| msg.starts_with(e)) {
                    break;
                } else if let Some(last) = messages.last_mut() {
                    last.push('\n');
                    last.push_str(msg);
                }
            }
            _ => {}
        }
    }
    messages
}

/// How Buildx's policy log entries start; anything else under a DENY continues a message.
const LOG_ENTRIES: [&str; 6] = [
    "checking policy for source",
    "policy decision for source",
    "policy input:",
    "unknowns for policy",
    "collected unknowns",
    "policy response:",
];

/// Messages compared with their whitespace collapsed: the frontend's error is one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn frontend_verdict(out: &Outcome) -> Verdict {
    if out.ok {
        return Verdict::Allow;
    }
    let text = error_text(out);
    // The first denial's own line: each denied source has one, and what the policy saw of
    // them follows on lines of their own.
    let Some(head) = denial_line(out) else {
        return Verdict::Error { text };
    };
    let head = one_line(&head);
    let at = head.find(" denied by policy ").unwrap_or_default();
    let source = head[..at]
        .rsplit_once("source ")
        .map(|(_, s)| s)
        .unwrap_or_default();
    let source = source.split(" (").next().unwrap_or(source).to_string();
    let rest = &head[at + " denied by policy ".len()..];
    let rest = rest.split_once(": ").map(|(_, r)| r).unwrap_or("");
    let end = [
        "; verified signatures: ",
        "; signatures not accepted: ",
        "; facts: ",
    ]
    .iter()
    .filter_map(|m| rest.find(m))
    .min()
    .unwrap_or(rest.len());
    let messages = match &rest[..end] {
        "no rule allowed it" => String::new(),
        m => one_line(m),
    };
    Verdict::Deny { source, messages }
}

/// The first line of the client's output, from its last `ERROR: ` on, that names a denial;
/// a deny message that spans lines is read up to the next denial or what the policy saw.
fn denial_line(out: &Outcome) -> Option<String> {
    let lines: Vec<&str> = out.output.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("ERROR: "))
        .unwrap_or(0);
    let tail = &lines[start..];
    let i = tail.iter().position(|l| l.contains(" denied by policy "))?;
    let mut head = tail[i].to_string();
    for l in &tail[i + 1..] {
        if l.starts_with("source ") || l.starts_with("what the policy saw of ") {
            break;
        }
        head.push(' ');
        head.push_str(l);
    }
    Some(head)
}

fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let i = text.find(start)? + start.len();
    let j = text[i..].find(end)? + i;
    Some(&text[i..j])
}

/// Buildx's `policy input:` dumps (pretty JSON, one per evaluation) from the progress log.
pub fn buildx_inputs(out: &Outcome) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut current: Option<String> = None;
    for line in out.output.lines() {
        let Some(msg) = log_message(line) else {
            continue;
        };
        if let Some(buf) = current.as_mut() {
            buf.push_str(msg);
            buf.push('\n');
            if msg == "}" {
                let text = current.take().unwrap();
                docs.push(serde_json::from_str(&text).unwrap_or_else(|e| {
                    panic!("Buildx's policy input is not JSON ({e}):\n{text}")
                }));
            }
        } else if let Some(first) = msg.strip_prefix("policy input: ") {
            if first == "{}" {
                docs.push(Value::Object(Default::default()));
            } else {
                current = Some(format!("{first}\n"));
            }
        }
    }
    docs
}

/// `#12 0.034 message` → `message` (plain progress output of a vertex's log).
fn log_message(line: &str) -> Option<&str> {
    vertex_message(line).map(|(_, m)| m)
}

/// `#12 0.034 message` → (`12`, `message`).
fn vertex_message(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?;
    let (num, rest) = rest.split_once(' ')?;
    num.parse::<u32>().ok()?;
    let (time, msg) = rest.split_once(' ').unwrap_or((rest, ""));
    time.parse::<f64>().ok()?;
    Some((num, msg))
}

/// The documents the frontend printed: the probe policy prints `json.marshal(input)`.
pub fn frontend_inputs(out: &Outcome) -> Vec<Value> {
    out.frontend_log
        .lines()
        .filter_map(|l| l.strip_prefix("verified-frontend: print "))
        .filter_map(|l| {
            // `<file>: <file>:<line>: {...}`, and ` (caps pre-pass)` after the pre-pass's
            let json = &l[l.find(": {")? + 2..];
            serde_json::Deserializer::from_str(json)
                .into_iter::<Value>()
                .next()?
                .ok()
        })
        .collect()
}
