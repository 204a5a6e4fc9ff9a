//! Chat answer benchmark (docs/performance.md): `cargo bench --bench chat`.
//!
//! Discord wants the first response to an interaction within 3 seconds, and cs-pulse defers
//! (shows "thinking…") after 2 s; this measures how long answers take at scale. A workspace
//! with a `demo` source (100,000 accounts by default), the shipped rules and health model is
//! synced and evaluated with the release binary (`cs-pulse sync`, `cs-pulse eval`) so that
//! alerts are firing; then, in-process, for every command: a fresh desk is opened
//! (`cli::open_desk`), its first answer is timed (cold: the desk loads the dataset from SQLite)
//! and then a second one (warm: the dataset is cached). Medians over the runs, in ms and in µs
//! per account.
//!
//! The `demo` source has no as-of knob: it generates data up to today, so the workspace records
//! the day it was synced and is synced again on another day; the answers use the current time.
//!
//! Knobs (environment): `BENCH_ACCOUNTS` (default 100000), `BENCH_RUNS` (default 5),
//! `BENCH_SEED` (default 42). The workspace lives in `target/bench-data/chat-<accounts>-<seed>/`
//! and is reused (same day).

#[allow(dead_code)] // the chat benchmark evaluates the shipped rules, not the fifty
mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use common::{median, Knobs};
use cs_pulse::chat::{parse, Caller, Command as ChatCommand, Desk, ParamKind, Syntax};
use cs_pulse::config::{Access, Config};
use cs_pulse::store::AlertStore;

const BIN: &str = env!("CARGO_BIN_EXE_cs-pulse");
const MARKER: &str = ".bench-synced";
/// cs-pulse defers a chat answer (Discord's "thinking…") when it takes longer than this.
const DEFER_SECS: f64 = 2.0;

fn fmt_ms(secs: f64) -> String {
    let ms = secs * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn fmt_per_account(secs: f64, accounts: u64) -> String {
    format!("{:.2} µs", secs * 1e6 / accounts as f64)
}

/// Writes the workspace's config.toml: the demo source, the shipped rules and health model.
fn write_config(dir: &Path, accounts: u32, seed: u64) -> Result<PathBuf> {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let path = dir.join("config.toml");
    fs::write(
        &path,
        format!(
            "# Written by benches/chat.rs.\n\
             timezone = \"UTC\"\n\
             reporting_currency = \"USD\"\n\n\
             [fx]\n\
             EUR = 1.08\n\n\
             [store]\n\
             path = \"{}\"\n\n\
             [rules]\n\
             paths = [\"{rules}\"]\n\n\
             [health]\n\
             model = \"{rules}/health.toml\"\n\n\
             [data_quality]\n\
             enabled = false\n\n\
             [sources.sample]\n\
             kind = \"demo\"\n\
             accounts = {accounts}\n\
             seed = {seed}\n",
            dir.join("cs-pulse.db").display()
        ),
    )?;
    Ok(path)
}

fn run(dir: &Path, config: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(BIN)
        .current_dir(dir)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .with_context(|| format!("cannot run cs-pulse {args:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "cs-pulse {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// Syncs and evaluates the workspace unless it was done today (the demo data ends today).
fn ensure_workspace(dir: &Path, accounts: u32, seed: u64) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let config = write_config(dir, accounts, seed)?;
    let today = Utc::now().date_naive().to_string();
    let marker = dir.join(MARKER);
    if fs::read_to_string(&marker).is_ok_and(|t| t.trim() == today) {
        eprintln!(
            "reusing the workspace in {} (synced {today})",
            dir.display()
        );
        return Ok(config);
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = fs::remove_file(dir.join(format!("cs-pulse.db{suffix}")));
    }
    eprintln!(
        "syncing {accounts} demo accounts (seed {seed}) into {} ...",
        dir.display()
    );
    let start = Instant::now();
    let out = run(dir, &config, &["sync"])?;
    eprint!("{out}");
    eprintln!("  sync took {:.1} s", start.elapsed().as_secs_f64());
    let start = Instant::now();
    let out = run(dir, &config, &["eval"])?;
    eprint!("{out}");
    eprintln!("  eval took {:.1} s", start.elapsed().as_secs_f64());
    fs::write(&marker, format!("{today}\n"))?;
    Ok(config)
}

/// One timed question: a command, or an autocomplete.
enum Question {
    Answer(ChatCommand),
    Complete(ParamKind, String),
}

struct Case {
    label: String,
    question: Question,
    cold: Vec<f64>,
    warm: Vec<f64>,
}

fn command(name: &str, options: &[(&str, &str)]) -> Result<ChatCommand> {
    let options = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(name, &options).map_err(|e| anyhow::anyhow!("/{name}: {e:?}"))
}

/// Asks `question`, returning the seconds it took; fails when the answer is an error.
async fn ask(desk: &Desk, caller: &Caller, question: &Question, now: DateTime<Utc>) -> Result<f64> {
    let start = Instant::now();
    match question {
        Question::Answer(cmd) => {
            let reply = desk.answer(caller, cmd, now).await;
            let secs = start.elapsed().as_secs_f64();
            let title = &reply.message.title;
            if title.starts_with("Couldn't answer") || title.ends_with("not allowed") {
                bail!("/{}: {title}: {:?}", cmd.name(), reply.message.sections);
            }
            Ok(secs)
        }
        Question::Complete(kind, typed) => {
            let choices = desk.complete(*kind, typed, now).await;
            let secs = start.elapsed().as_secs_f64();
            if choices.is_empty() {
                bail!("autocomplete of {typed:?} suggested nothing");
            }
            Ok(secs)
        }
    }
}

fn main() -> Result<()> {
    let knobs = Knobs::from_env()?;
    let (accounts, runs, seed) = (knobs.accounts, knobs.runs, knobs.seed);
    let dir = knobs.data_dir(BIN, "chat-")?;
    let config_path = ensure_workspace(&dir, accounts, seed)?;
    let config = Arc::new(Config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let caller = Caller::new("100", "Lea", Syntax::Discord, &Access::default(), &[]);
    let now = Utc::now();

    // A real account and segment: the account in the middle of the data, and its segment.
    let (account_id, account_name, segment, firing) = rt.block_on(async {
        let desk = cs_pulse::cli::open_desk(config.clone()).await?;
        let snapshot = desk.data.get().await?;
        let all = snapshot.data.accounts();
        let a = all
            .iter()
            .skip(all.len() / 2)
            .find(|a| a.segment.is_some())
            .context("no account has a segment")?;
        let firing = desk.store.alert_states().await.map(|s| s.len()).ok();
        anyhow::Ok((
            a.id.clone(),
            a.name.clone(),
            a.segment.clone().unwrap_or_default(),
            firing,
        ))
    })?;
    let id_prefix: String = account_id
        .chars()
        .take(account_id.len().saturating_sub(2))
        .collect();
    let name_prefix: String = account_name.chars().take(3).collect();

    let mut cases = vec![
        (
            "/kpi nrr".to_string(),
            Question::Answer(command("kpi", &[("metric", "nrr")])?),
        ),
        (
            format!("/kpi mrr segment={segment}"),
            Question::Answer(command("kpi", &[("metric", "mrr"), ("segment", &segment)])?),
        ),
        (
            format!("/account {account_id}"),
            Question::Answer(command("account", &[("account", &account_id)])?),
        ),
        (
            "/at-risk".to_string(),
            Question::Answer(command("at-risk", &[])?),
        ),
        (
            "/renewals".to_string(),
            Question::Answer(command("renewals", &[])?),
        ),
        (
            "/alerts".to_string(),
            Question::Answer(command("alerts", &[])?),
        ),
        (
            "/scorecard".to_string(),
            Question::Answer(command("scorecard", &[])?),
        ),
        (
            format!("autocomplete account {id_prefix:?}"),
            Question::Complete(ParamKind::Account, id_prefix.clone()),
        ),
        (
            format!("autocomplete account {name_prefix:?}"),
            Question::Complete(ParamKind::Account, name_prefix.clone()),
        ),
    ]
    .into_iter()
    .map(|(label, question)| Case {
        label,
        question,
        cold: Vec::new(),
        warm: Vec::new(),
    })
    .collect::<Vec<_>>();

    let mut open = Vec::new();
    eprintln!("timing {} questions ({runs} runs) ...", cases.len());
    for r in 1..=runs {
        for case in cases.iter_mut() {
            rt.block_on(async {
                let start = Instant::now();
                let desk = cs_pulse::cli::open_desk(config.clone()).await?;
                open.push(start.elapsed().as_secs_f64());
                let cold = ask(&desk, &caller, &case.question, now).await?;
                let warm = ask(&desk, &caller, &case.question, now).await?;
                case.cold.push(cold);
                case.warm.push(warm);
                anyhow::Ok(())
            })?;
        }
        eprintln!(
            "  run {r}/{runs}: {}",
            cases
                .iter()
                .map(|c| format!(
                    "{} {}/{}",
                    c.label,
                    fmt_ms(c.cold[r - 1]),
                    fmt_ms(c.warm[r - 1])
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let n = u64::from(accounts);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ncs-pulse chat answers: {accounts} accounts (demo, seed {seed}), {runs} runs, {cores} \
         cores, {} stored alert states\nworkspace: {}\n\
         cold = the first answer of a freshly opened desk (loads the dataset from SQLite); \
         warm = the next one (cached dataset). Medians.",
        firing.map_or("?".to_string(), |n| n.to_string()),
        dir.display()
    );
    let _ = writeln!(
        out,
        "{:<42} {:>10} {:>13} {:>10} {:>13}  > 2 s defer?",
        "question", "cold", "cold/account", "warm", "warm/account"
    );
    let _ = writeln!(out, "{}", "-".repeat(108));
    let _ = writeln!(
        out,
        "{:<42} {:>10} {:>13} {:>10} {:>13}",
        "open_desk (config, rules, health, store)",
        fmt_ms(median(&open)),
        fmt_per_account(median(&open), n),
        "-",
        "-",
    );
    for c in &cases {
        let (cold, warm) = (median(&c.cold), median(&c.warm));
        let verdict = match (cold > DEFER_SECS, warm > DEFER_SECS) {
            (false, false) => "no",
            (true, false) => "cold only",
            (_, true) => "YES",
        };
        let _ = writeln!(
            out,
            "{:<42} {:>10} {:>13} {:>10} {:>13}  {verdict}",
            c.label,
            fmt_ms(cold),
            fmt_per_account(cold, n),
            fmt_ms(warm),
            fmt_per_account(warm, n),
        );
    }
    print!("{out}");
    Ok(())
}
