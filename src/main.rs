//! The `cs-pulse` binary: parse the command line, set up the logs, run, map the result to an
//! exit code (0 ok, 1 problems found or a failure, 2 a wrong argument).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use cs_pulse::cli::{self, ArgError, Cli, LogFormat, Outcome};
use tracing_subscriber::EnvFilter;

/// The variable holding the log filter (`warn`, `info`, `cs_pulse=debug,reqwest=info`, ...).
const LOG_ENV: &str = "CS_PULSE_LOG";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log_format;
    init_logging(format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            report(format, &format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    // Not locked for the whole run: the service's tasks print from other threads.
    let mut stdout = std::io::stdout();
    match runtime.block_on(cli::run(cli, chrono::Utc::now(), &mut stdout)) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(e) if e.is::<ArgError>() => {
            report(format, &e.to_string());
            ExitCode::from(2)
        }
        Err(e) => {
            report(format, &format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

/// The error that ends the command: `error: ...` for a person, or a JSON line shaped like the
/// logs' (written whatever `CS_PULSE_LOG` filters out).
fn report(format: LogFormat, error: &str) {
    match format {
        LogFormat::Text => eprintln!("error: {error}"),
        LogFormat::Json => {
            // Written by hand to keep the logs' key order.
            let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let text = |s: &str| serde_json::Value::from(s).to_string();
            let line = format!(
                r#"{{"timestamp":{},"level":"ERROR","fields":{{"message":{}}},"target":"cs_pulse"}}"#,
                text(&at),
                text(error)
            );
            eprintln!("{line}");
        }
    }
}

/// Log lines go to stderr, filtered by `CS_PULSE_LOG` (default `warn`), as text (coloured only
/// on a terminal without NO_COLOR) or as one JSON object per line.
fn init_logging(format: LogFormat) {
    let filter = match std::env::var(LOG_ENV) {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: {LOG_ENV} is not a valid log filter ({e}); logging warnings");
            EnvFilter::new("warn")
        }),
        _ => EnvFilter::new("warn"),
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            logs.with_ansi(colour).init();
        }
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
}
