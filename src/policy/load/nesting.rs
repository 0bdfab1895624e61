//! A bound on how deeply a module nests `[` and `{` before regorus parses it. regorus reads
//! each `[…]` and `{…}` first as a comprehension and, when that fails, parses its contents
//! again as a collection, so the work doubles with every level: 28 nested brackets (found
//! by fuzzing) kept it busy for hours, 16 for half a second. OPA parses them in linear time;
//! no policy written for Buildx nests anywhere near this deep.

use crate::error::{Error, Result};

/// Bracket parses a module may cost: the bracket at nesting level `d` (1 outermost) is
/// parsed `2^(d-1)` times. 12 levels cost 2^12 in all, about 30 ms; a common policy a few
/// hundred.
const MAX_BRACKET_PARSES: u64 = 1 << 13;

/// Refuses a module regorus could not parse in bounded time, naming the line where the
/// bound is passed.
pub fn check(path: &str, text: &str) -> Result<()> {
    let mut depth: u32 = 0;
    let mut cost: u64 = 0;
    let mut line = 1;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            // a comment, to the end of the line
            '#' => line += usize::from(chars.by_ref().any(|c| c == '\n')),
            '"' => line += skip_string(&mut chars),
            '`' => {
                line += chars
                    .by_ref()
                    .take_while(|&c| c != '`')
                    .filter(|&c| c == '\n')
                    .count()
            }
            '[' | '{' => {
                depth += 1;
                cost = cost.saturating_add(1u64 << (depth - 1).min(63));
                if cost > MAX_BRACKET_PARSES {
                    return Err(Error::Policy {
                        file: path.to_string(),
                        message: format!(
                            "line {line}: `[` and `{{` nest too deeply ({depth} levels here) for the Rego parser, whose work doubles with each level"
                        ),
                    });
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Skips a `"…"` string after its opening quote; the newlines it held (none in valid Rego).
fn skip_string(chars: &mut std::str::Chars<'_>) -> usize {
    let mut lines = 0;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => break,
            '\n' => lines += 1,
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!(
            "package docker\n\nx := {}1{}\n",
            open.repeat(n),
            close.repeat(n)
        )
    }

    #[test]
    fn deep_nesting_is_refused_before_regorus_parses_it() {
        // Found by fuzzing: `allow if input.local[[[[…` (28 levels) did not finish parsing.
        let text = format!("package docker\n\nallow if input.local{}\n", "[".repeat(28));
        let e = check("Dockerfile.rego", &text).unwrap_err().to_string();
        assert!(
            e.starts_with("policy Dockerfile.rego: line 3: `[` and `{` nest too deeply"),
            "{e}"
        );
        assert!(check("p.rego", &nested("{\"a\": ", "}", 20)).is_err());
        assert!(check("p.rego", &nested("[", "]", 12)).is_ok());
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let deep = "[".repeat(40);
        let text = format!(
            "package docker\n# {deep}\nx := \"{deep}\\\"{deep}\"\ny := `{deep}\n`\nallow := true\n"
        );
        assert!(check("p.rego", &text).is_ok());
        let policy = include_str!("../../../testdata/policy/signed/policy.rego");
        assert!(check("policy.rego", policy).is_ok());
    }

    #[test]
    fn a_policy_parses_quickly_under_the_bound() {
        // The deepest nesting the bound lets through, parsed by regorus in bounded time.
        let text = nested("[", "]", 13);
        assert!(check("p.rego", &text).is_ok());
        let start = std::time::Instant::now();
        let mut engine = regorus::Engine::new();
        engine.add_policy("p.rego".into(), text).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
