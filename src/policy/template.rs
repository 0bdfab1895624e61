//! Template strings (`$"tag {input.image.tag}"`, raw `` $`…` ``), which OPA v1 parses and
//! regorus 0.14 does not, rewritten before parsing into what OPA's compiler makes of them: a
//! call of `internal.template_string` (here `opa::TEMPLATE_STRING`) on the literal parts
//! and, per `{expr}`, the set of values `expr` has (`{v | v := expr}`), so that an
//! undefined expression writes `<undefined>` and several values stop the evaluation.
//!
//! The rewrite keeps every newline where it was, so the line numbers of errors and prints
//! stay those of the file. Strings, raw strings and comments are copied as they are.

use super::opa::TEMPLATE_STRING;

/// A template string that does not end, or a bad escape in one.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct TemplateError {
    pub line: usize,
    pub what: String,
}

/// `text` with every template string rewritten.
pub fn desugar(text: &str) -> Result<String, TemplateError> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut r = Rewriter {
        src: text.chars().collect(),
        i: 0,
        line: 1,
        vars: 0,
    };
    let end = r.src.len();
    r.code(end, false)
}

struct Rewriter {
    src: Vec<char>,
    i: usize,
    line: usize,
    /// Comprehension variables made so far (`__vf_ts<n>`).
    vars: usize,
}

impl Rewriter {
    fn err(&self, what: &str) -> TemplateError {
        TemplateError {
            line: self.line,
            what: what.into(),
        }
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.src.get(self.i + k).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.src.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Rego code up to `end`, or (`in_expr`) up to the `}` closing a template expression,
    /// which is consumed.
    fn code(&mut self, end: usize, in_expr: bool) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut depth = 0usize;
        while self.i < end {
            let c = self.src[self.i];
            match c {
                '$' if matches!(self.peek(1), Some('"') | Some('`')) => {
                    self.i += 1;
                    let raw = self.bump() == Some('`');
                    out.push_str(&self.template(raw)?);
                }
                '"' | '`' => out.push_str(&self.string(c)?),
                '#' => {
                    while let Some(ch) = self.peek(0).filter(|ch| *ch != '\n') {
                        out.push(ch);
                        self.i += 1;
                    }
                }
                '(' | '[' | '{' => {
                    depth += 1;
                    out.push(c);
                    self.bump();
                }
                '}' if in_expr && depth == 0 => {
                    self.bump();
                    return Ok(out);
                }
                ')' | ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    out.push(c);
                    self.bump();
                }
                _ => {
                    out.push(c);
                    self.bump();
                }
            }
        }
        if in_expr {
            return Err(self.err("template string expression without its closing }"));
        }
        Ok(out)
    }

    /// A string or raw string literal, copied.
    fn string(&mut self, quote: char) -> Result<String, TemplateError> {
        let mut out = String::new();
        out.push(quote);
        self.bump();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.err("string without its closing quote"));
            };
            out.push(c);
            if c == '\\' && quote == '"' {
                if let Some(n) = self.bump() {
                    out.push(n);
                }
            } else if c == quote {
                return Ok(out);
            }
        }
    }

    /// A template string after its `$"` (or `` $` ``), as the call it means.
    fn template(&mut self, raw: bool) -> Result<String, TemplateError> {
        let close = if raw { '`' } else { '"' };
        let start = self.line;
        let unterminated = TemplateError {
            line: start,
            what: "template string without its closing quote".into(),
        };
        let mut parts: Vec<String> = Vec::new();
        let mut lit = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(unterminated);
            };
            match c {
                _ if c == close => break,
                '\n' if !raw => return Err(unterminated),
                '\n' => {
                    // A newline stays a newline in the source, between the parts.
                    lit.push('\n');
                    parts.push(format!("{}\n", self.literal(&lit, raw)?));
                    lit.clear();
                }
                '\\' if self.peek(0) == Some('{') => {
                    self.bump();
                    lit.push('{');
                }
                '\\' if !raw => {
                    lit.push('\\');
                    if let Some(n) = self.bump() {
                        lit.push(n);
                    }
                }
                '{' => {
                    if !lit.is_empty() {
                        parts.push(self.literal(&lit, raw)?);
                        lit.clear();
                    }
                    let end = self.src.len();
                    let expr = self.code(end, true)?;
                    self.vars += 1;
                    let v = format!("__vf_ts{}", self.vars);
                    parts.push(format!("{{{v} | {v} := ({expr})}}"));
                }
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(self.literal(&lit, raw)?);
        }
        Ok(format!("{TEMPLATE_STRING}([{}])", parts.join(", ")))
    }

    /// A literal part as a Rego string: a template string's escapes are JSON's.
    fn literal(&self, text: &str, raw: bool) -> Result<String, TemplateError> {
        let value = if raw {
            text.to_string()
        } else {
            serde_json::from_str::<String>(&format!("\"{text}\""))
                .map_err(|_| self.err("illegal escape in template string"))?
        };
        serde_json::to_string(&value).map_err(|e| self.err(&e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_parts_and_keeps_lines() {
        let out = desugar("x := $\"tag {input.tag} of {f(\"}\")}!\"\ny := 1").unwrap();
        assert_eq!(
            out,
            "x := __vf_template_string([\"tag \", {__vf_ts1 | __vf_ts1 := (input.tag)}, \" of \", {__vf_ts2 | __vf_ts2 := (f(\"}\"))}, \"!\"])\ny := 1"
        );
        let raw = desugar("x := $`a\n\\{b}{1}`\nz").unwrap();
        assert_eq!(raw.lines().count(), 3);
        assert!(raw.contains("\"a\\n\"\n"));
        assert!(raw.contains("\"{b}\""));
    }

    #[test]
    fn leaves_strings_and_comments_alone() {
        let text = "a := \"cost $\\\"{x}\" # $\"no\"\nb := `$\"raw\"`";
        assert_eq!(desugar(text).unwrap(), text);
    }

    #[test]
    fn unterminated_is_an_error() {
        assert_eq!(desugar("x := $\"abc\ny").unwrap_err().line, 1);
        assert!(desugar("x := $\"{a\"").is_err());
    }
}
