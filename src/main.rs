//! The `cs-pulse` binary: parse the command line, run, map the result to an exit code
//! (0 ok, 1 problems found or a failure, 2 a wrong argument).

use std::process::ExitCode;

use clap::Parser;
use cs_pulse::cli::{self, ArgError, Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CS_PULSE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Not locked for the whole run: the service's tasks print from other threads.
    let mut stdout = std::io::stdout();
    match runtime.block_on(cli::run(cli, chrono::Utc::now(), &mut stdout)) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(e) if e.is::<ArgError>() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
