use std::process::ExitCode;
use std::time::Instant;

use verified_frontend::frontend;
use verified_frontend::gateway::{Bridge, Options, connect_stdio};

const USAGE: &str = "verified-frontend: a BuildKit frontend; BuildKit starts it with no arguments.
usage: verified-frontend            run as a BuildKit gateway frontend (gRPC on stdin/stdout)
       verified-frontend verify-bundle [--staging] --bundle FILE
           (--certificate-identity ID --certificate-oidc-issuer URL | --key PEM)
           [--trusted-root FILE] FILE_OR_DIGEST
                                    verify a Sigstore bundle offline (sigstore-conformance protocol)
       verified-frontend verify [--policy FILE.rego] [--trusted-root FILE] [--platform P] IMAGE
                                    check an image's verification attestations and signatures
       verified-frontend --version  print the version";

fn main() -> ExitCode {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => run_frontend(started),
        Some("verify-bundle") => verify_bundle(&args[1..]),
        Some("verify") => ExitCode::from(verified_frontend::consumer::main(&args[1..])),
        Some("--version") => {
            println!("verified-frontend {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(_) => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn verify_bundle(args: &[String]) -> ExitCode {
    use verified_frontend::verify::bundle::{VerifyBundleArgs, verify_bundle};
    let parsed = match VerifyBundleArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("verify-bundle: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match verify_bundle(&parsed) {
        Ok(r) => {
            match (r.identity(), r.issuer()) {
                (Some(id), Some(iss)) => eprintln!("verify-bundle: OK: signed by {id:?} ({iss})"),
                _ => eprintln!("verify-bundle: OK: signed by the managed key"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verify-bundle: FAILED: {e}");
            ExitCode::FAILURE
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
            eprintln!("verified-frontend: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = rt.block_on(async {
        let channel = match connect_stdio().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("verified-frontend: {e}");
                return ExitCode::FAILURE;
            }
        };
        let bridge = match Bridge::new(channel).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("verified-frontend: {e}");
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
                eprintln!("verified-frontend: {e}");
                bridge.return_error(e).await
            }
        };
        match returned {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("verified-frontend: {e}");
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
