//! The binary's command line as a shell sees it: help and version exit 0 on stdout, bad
//! command lines exit 2 with one line naming the problem, then the usage. No rig needed.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verified-frontend"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["verify", "--help"],
        &["verify", "-h"],
        &["verify-bundle", "--help"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("Usage: verified-frontend"),
            "{args:?}: {stdout}"
        );
        assert!(out.stderr.is_empty(), "{args:?}");
    }
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("verified-frontend {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_command_lines_exit_2_naming_the_problem() {
    for (args, want) in [
        (
            &["verify", "--frob", "x"][..],
            "verify: unknown option --frob",
        ),
        (&["verify", "--policy"], "verify: --policy needs a value"),
        (&["verify"], "verify: no IMAGE given"),
        (
            &["verify-bundle", "--bundle", "b.json", "--key", "k.pem"],
            "verify-bundle: expected exactly one FILE_OR_DIGEST",
        ),
        (
            &["frobnicate"],
            "verified-frontend: unrecognized subcommand",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with(want), "{args:?}: {stderr}");
        assert!(
            stderr.contains("\nUsage: verified-frontend"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// A reader that stops early (`verified-frontend policy builtin | head`): the subcommand
/// ends quietly, exit 0, where `print!` panicked on the broken pipe.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    for args in [
        &["policy", "builtin"][..],
        &["policy", "schema"],
        &["--help"],
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_verified-frontend"))
            .args(args)
            .stdout(writer)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
