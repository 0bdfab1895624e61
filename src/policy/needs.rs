//! Which metadata the policies can read, decided once from their text before any source is
//! resolved. regorus has no partial evaluation, so instead of asking "what is unknown in
//! this evaluation" this reads every `input...` path the modules mention. It errs on the
//! side of fetching: a whole-object reference (`input.image` passed to a function, `input`
//! itself, `import input.image as img`) needs every field below it. Comments are ignored.

use crate::model::Needs;

/// What one referenced path (components after `input`) requires.
fn of_path(path: &[&str]) -> Needs {
    let image_all = Needs {
        git_objects: false,
        ..Needs::all()
    };
    match path {
        [] => Needs::all(),
        ["image"] => image_all,
        ["image", f, ..] => match *f {
            "labels" | "user" | "volumes" | "workingDir" | "env" | "createdTime" => Needs {
                image_config: true,
                ..Default::default()
            },
            "hasProvenance" | "signatures" => Needs {
                image_attestations: true,
                ..Default::default()
            },
            "provenance" => Needs {
                image_attestations: true,
                image_provenance: true,
                ..Default::default()
            },
            "tag" => Needs {
                image_tag: true,
                ..Default::default()
            },
            _ => Needs::default(),
        },
        ["git"] | ["git", "commit" | "tag", ..] => Needs {
            git_objects: true,
            ..Default::default()
        },
        _ => Needs::default(),
    }
}

/// Needs of one Rego module's text.
pub fn of_module(text: &str) -> Needs {
    let mut needs = Needs::default();
    for line in text.lines() {
        let code = strip_comment(line);
        let bytes = code.as_bytes();
        let mut from = 0;
        while let Some(pos) = code[from..].find("input") {
            let start = from + pos;
            let end = start + "input".len();
            from = end;
            let word_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
            if (start > 0 && (word_char(bytes[start - 1]) || bytes[start - 1] == b'.'))
                || (end < bytes.len() && word_char(bytes[end]))
            {
                continue;
            }
            let mut path = Vec::new();
            let mut rest = &code[end..];
            while let Some(after_dot) = rest.strip_prefix('.') {
                let len = after_dot.bytes().take_while(|b| word_char(*b)).count();
                if len == 0 {
                    break;
                }
                path.push(&after_dot[..len]);
                rest = &after_dot[len..];
            }
            // `input.image` as a statement of its own only asks which kind of source
            // this is; it reads no field, so it needs nothing fetched.
            let kind_test = path.len() == 1 && is_statement(&code[..start], rest);
            if !kind_test {
                needs = needs.union(of_path(&path));
            }
        }
    }
    needs
}

/// Whether an expression between `before` and `after` stands alone as a rule-body statement
/// (`input.image`, `not input.git`, `allow if input.image`), rather than being an operand,
/// an argument or the value of an assignment.
fn is_statement(before: &str, after: &str) -> bool {
    let after = after.trim_start();
    let ends = after.is_empty() || after.starts_with(['}', ';']);
    let before = before.trim_end();
    let starts = before.is_empty()
        || before.ends_with(['{', ';'])
        || before.ends_with(" if")
        || before == "if"
        || before.ends_with(" not")
        || before == "not";
    ends && starts
}

/// The line without a trailing `# comment` (a `#` inside a string does not start one).
fn strip_comment(line: &str) -> &str {
    let mut in_str: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match in_str {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    in_str = None;
                }
            }
            None => match c {
                '"' | '`' => in_str = Some(c),
                '#' => return &line[..i],
                _ => {}
            },
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Needs {
        of_module(text)
    }

    #[test]
    fn plain_fields_need_nothing_extra() {
        let p = "package docker\nallow if input.image.repo == \"alpine\"\nallow if input.git.tagName == \"v1\"\nallow if input.local";
        assert_eq!(n(p), Needs::default());
    }

    #[test]
    fn config_and_attestation_fields() {
        assert!(n("allow if input.image.labels[\"x\"] == \"y\"").image_config);
        assert!(n("allow if input.image.hasProvenance").image_attestations);
        assert!(n("allow if input.image.tag == \"latest\"").image_tag);
        let p = n("allow if input.image.provenance.builderID == \"x\"");
        assert!(p.image_provenance && p.image_attestations && !p.image_config);
        assert!(n("allow if startswith(input.git.commit.message, \"Merge\")").git_objects);
        assert!(n("verify_git_signature(input.git.tag, \"k.asc\")").git_objects);
    }

    #[test]
    fn whole_objects_need_everything_below_them() {
        let p = n("allow if docker_github_builder(input.image, \"org/repo\")");
        assert!(p.image_config && p.image_attestations && p.image_provenance && !p.git_objects);
        assert_eq!(n("x := json.marshal(input)"), Needs::all());
        assert_eq!(n("x := object.get(input, [\"image\"], null)"), Needs::all());
        assert!(n("import input.image as img\nallow if img.labels.x").image_config);
        assert!(n("allow if verify_git_signature_any(input.git, \"k\")").git_objects);
    }

    #[test]
    fn kind_tests_need_nothing() {
        assert_eq!(
            n("allow if {\n  input.image\n  input.image.repo == \"alpine\"\n}"),
            Needs::default()
        );
        assert_eq!(n("allow if not input.image"), Needs::default());
        assert_eq!(
            n("allow if { input.git; input.git.tagName == \"v1\" }"),
            Needs::default()
        );
        // but a value use of the same object needs everything
        assert!(n("x := input.image").image_attestations);
        assert!(n("allow if input.image == {}").image_config);
        // a bare `input` statement is still a whole use
        assert_eq!(n("allow if input"), Needs::all());
    }

    #[test]
    fn comments_and_lookalike_names_are_ignored() {
        assert_eq!(
            n("# uses input.image.signatures later\nallow if input.local"),
            Needs::default()
        );
        assert_eq!(
            n("inputs := 1\nmy_input := 2\nx := data.input"),
            Needs::default()
        );
        // a '#' inside a string does not start a comment
        assert!(n("allow if { input.image.tag == \"#1\"; input.image.labels.x }").image_config);
    }
}
