mod cli;

use std::process::ExitCode;
use std::time::Instant;

use cli::Invocation;
use verified_frontend::frontend;
use verified_frontend::gateway::{Bridge, Options, connect_stdio};

fn main() -> ExitCode {
    let started = Instant::now();
    match cli::parse(std::env::args_os()) {
        Ok(Invocation::Frontend) => run_frontend(started),
        Ok(Invocation::Info(text)) => {
            verified_frontend::log::stdout(&text);
            ExitCode::SUCCESS
        }
        Ok(Invocation::VerifyBundle(args)) => ExitCode::from(cli::bundle::run(&args)),
        Ok(Invocation::Verify(args)) => ExitCode::from(verified_frontend::consumer::main(&args)),
        Ok(Invocation::Policy(cmd)) => ExitCode::from(cli::policy::run(&cmd)),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(cli::USAGE_ERROR)
        }
    }
}

fn run_frontend(started: Instant) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            verified_frontend::daemon_log!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = rt.block_on(async {
        let channel = match connect_stdio().await {
            Ok(c) => c,
            Err(e) => {
                verified_frontend::daemon_log!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let bridge = match Bridge::new(channel).await {
            Ok(b) => b,
            Err(e) => {
                verified_frontend::daemon_log!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let outcome = match Options::from_env() {
            Ok(opts) => frontend::build(&bridge, &opts, started).await,
            Err(e) => Err(e),
        };
        // Exactly one Return, then exit 0: buildkitd lets a non-zero exit override a
        // successful Return, and an error Return is how the user sees why.
        let returned = match &outcome {
            Ok(result) => bridge.return_result(result.clone()).await,
            Err(e) => {
                verified_frontend::daemon_log!("{e}");
                bridge.return_error(e).await
            }
        };
        match returned {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                verified_frontend::daemon_log!("{e}");
                ExitCode::FAILURE
            }
        }
    });
    // tokio's stdin reader blocks a thread that cannot be cancelled and buildkitd closes the
    // pipe only after we exit, so leave now instead of waiting for the runtime to drain.
    std::process::exit(match code {
        c if c == ExitCode::SUCCESS => 0,
        _ => 1,
    })
}
