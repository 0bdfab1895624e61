//! The two output streams. Lines for buildkitd's log: the frontend's stderr is the daemon's log: Docker's embedded
//! BuildKit shares one stream with dockerd's own logging. `eprintln!` writes a line in
//! several unbuffered pieces (a JSON value token by token), and another writer's line can
//! land between two of them, so each line is formatted first and written in one call.

use std::io::Write;

/// Writes `verified-frontend: <line>` to stderr in one write.
pub fn line(line: std::fmt::Arguments<'_>) {
    let text = format!("verified-frontend: {line}\n");
    // Nothing to do if the daemon closed our stderr: the build goes on without its log line.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Writes a subcommand's output to stdout. A reader that stops early (`… | head`) ends the
/// command quietly, as it ends any shell tool, where `print!` would panic.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("cannot write to standard output: {e}");
            std::process::exit(1)
        }
    }
}

/// `log::line` with `format!` arguments.
#[macro_export]
macro_rules! daemon_log {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_line_is_formatted_before_it_is_written() {
        // Formatting errors would surface here, not half-way through a write.
        super::line(format_args!("report {}", serde_json::json!({"a": [1, 2]})));
    }
}
