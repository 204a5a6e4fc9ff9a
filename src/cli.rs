//! The command line: parses arguments (clap), runs one command, and says how it went.
//!
//! Every command reads the clock once, here at the edge (`now` is passed in), and writes what a
//! person reads to `out`; progress bars and per-source summaries go to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::config::{Config, ConfigError};
use crate::metrics::{Engine, Filter, HealthModels, MetricRef, MetricsConfig};
use crate::model::{Dataset, Period};
use crate::report::metrics_report::{self, MetricsReport, Target};
use crate::report::scorecard::Scorecard;
use crate::sources;
use crate::sources::demo::{self, DemoParams, DemoSource};
use crate::store::{SqliteStore, Store};
use crate::sync::{self, SyncOptions};

pub use chat_desk::open_desk;

mod alert_commands;
mod chat_desk;
mod chat_service;
mod delivery;
mod outbox_command;
mod reload;
mod rules_commands;
mod run_command;
mod scorecard_command;
mod service_jobs;

#[derive(Parser, Debug)]
#[command(
    name = "cs-pulse",
    version,
    about = "Customer-success KPIs, health scores and alerts from your CRM, billing and usage data.",
    long_about = "Customer-success KPIs, health scores and alerts from your CRM, billing and usage data.\n\n\
        Try `cs-pulse demo` first: it needs no configuration."
)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        global = true,
        default_value = "config.toml",
        env = "CS_PULSE_CONFIG"
    )]
    pub config: PathBuf,

    /// How log lines are written to stderr: `text` (for a person; coloured on a terminal
    /// unless NO_COLOR is set) or `json` (one object per line). `CS_PULSE_LOG` sets the level,
    /// `warn` by default.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = LogFormat::Text,
        env = "CS_PULSE_LOG_FORMAT",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// The format of the log lines (`--log-format`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: timestamp, level, target, fields (with the message), spans.
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate a realistic demo customer base and print its scorecard (no config needed).
    Demo(DemoArgs),
    /// Validate the config, health-model, rule, rule-test and scorecard files; print every problem.
    Check,
    /// Pull the configured sources into the store.
    Sync(SyncArgs),
    /// Compute metrics for a period: the portfolio, a filtered part of it, or accounts.
    Metrics(MetricsArgs),
    /// Evaluate every rule as of a day, store the alerts and send their messages to their channels.
    Eval(EvalArgs),
    /// Replay history day by day: how often each rule would have fired, and for whom.
    Backtest(BacktestArgs),
    /// Run the rule tests (`*.test.toml` beside the rule files); exit 1 on a failure.
    Test(TestArgs),
    /// Mute alerts of a rule, an account or both until a time; list and lift silences.
    #[command(subcommand)]
    Silence(alert_commands::SilenceCommand),
    /// Acknowledge a firing alert: no more reminders until it resolves.
    Ack(alert_commands::AckArgs),
    /// Compute the KPI scorecards for a period; print them, write their charts, queue them.
    Scorecard(scorecard_command::ScorecardArgs),
    /// Run as a service: the scheduled jobs ([jobs]) and the delivery of their messages.
    Run,
    /// Messages not yet delivered: list them, retry failed ones, drop one.
    Outbox {
        #[command(subcommand)]
        command: Option<outbox_command::OutboxCommand>,
    },
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Evaluate as of this day (YYYY-MM-DD), as if it had just ended. Default: yesterday,
    /// advanced to now.
    #[arg(long, value_name = "DATE")]
    pub at: Option<NaiveDate>,
    /// Print the messages instead: save nothing, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// First day to evaluate (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: NaiveDate,
    /// Last day to evaluate (YYYY-MM-DD), inclusive.
    #[arg(long, value_name = "DATE")]
    pub to: NaiveDate,
    /// Only this rule.
    #[arg(long, value_name = "ID")]
    pub rule: Option<String>,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// Rule directories or files (default: the configured rule paths, `rules/`).
    pub paths: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Number of accounts to generate.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=5_000_000))]
    pub accounts: u32,
    /// Random seed: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Months of history to generate.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(2..=120))]
    pub months: u32,
    /// Pretend today is this day (YYYY-MM-DD); the data ends the day before.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// Write the data as CSV files in the `files` source format into DIR instead.
    #[arg(long, value_name = "DIR")]
    pub write_data: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Sync only this source (a key of [sources] in the config).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Fetch everything, even from sources whose next sync would fetch only what changed.
    #[arg(long)]
    pub full: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// 2025-W07, 2025-03, 2025-Q1, 2025 or 2025-01-01..2025-02-15 (end excluded).
    #[arg(long, short, value_name = "PERIOD", required_unless_present = "list")]
    pub period: Option<Period>,
    /// Metrics to show (repeat or separate with commas); `nrr.change`, `mrr.change_pct` work
    /// too. Default: every metric that exists for the target.
    #[arg(long, short, value_name = "NAME", value_delimiter = ',')]
    pub metric: Vec<String>,
    /// One account, by id.
    #[arg(long, value_name = "ID", conflicts_with = "per_account")]
    pub account: Option<String>,
    /// One row per account.
    #[arg(long)]
    pub per_account: bool,
    /// Only accounts of this segment.
    #[arg(long, conflicts_with = "account")]
    pub segment: Option<String>,
    /// Only accounts of this owner.
    #[arg(long, conflicts_with = "account")]
    pub owner: Option<String>,
    /// Only accounts on this plan.
    #[arg(long, conflicts_with = "account")]
    pub plan: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// List every metric with its unit, scope and description.
    #[arg(long)]
    pub list: bool,
}

/// How a command ended, when it did not fail outright.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The command ran but found problems (invalid files, a failed sync): exit code 1.
    Problems,
}

/// A wrong command-line argument, reported like clap's own (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ArgError(pub String);

pub async fn run(cli: Cli, now: DateTime<Utc>, out: &mut dyn Write) -> Result<Outcome> {
    match cli.command {
        Command::Demo(args) => demo_command(args, now, out).await,
        Command::Check => check_command(&cli.config, out),
        Command::Sync(args) => sync_command(&cli.config, args, now, out).await,
        Command::Metrics(args) => metrics_command(&cli.config, args, out).await,
        Command::Eval(args) => {
            rules_commands::eval_command(&cli.config, args.at, args.dry_run, now, out).await
        }
        Command::Backtest(args) => {
            rules_commands::backtest_command(&cli.config, args.from, args.to, args.rule, out).await
        }
        Command::Test(args) => rules_commands::test_command(&cli.config, &args.paths, out),
        Command::Silence(cmd) => alert_commands::silence_command(&cli.config, cmd, now, out).await,
        Command::Ack(args) => alert_commands::ack_command(&cli.config, args, now, out).await,
        Command::Scorecard(args) => {
            scorecard_command::scorecard_command(&cli.config, args, now, out).await
        }
        Command::Run => run_command::run_command(&cli.config, out).await,
        Command::Outbox { command } => {
            outbox_command::outbox_command(&cli.config, command, now, out).await
        }
    }
}

fn today_in(config_tz: chrono_tz::Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&config_tz).date_naive()
}

/// A bar for sources that know their size (files: bytes), a counter of objects for those that
/// learn it as they page through an API.
fn progress_bar_for(sc: &crate::config::SourceConfig) -> ProgressBar {
    use crate::config::SourceKind;
    match sc.kind {
        SourceKind::Files { .. } | SourceKind::Demo { .. } => progress_bar(&sc.name),
        SourceKind::Stripe(_) | SourceKind::Hubspot(_) | SourceKind::HttpJson(_) => {
            let pb = ProgressBar::new_spinner();
            let style =
                ProgressStyle::with_template("{prefix:>12} {spinner} {human_pos} objects {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
            pb.set_style(style);
            pb.set_prefix(sc.name.clone());
            pb.enable_steady_tick(std::time::Duration::from_millis(120));
            pb
        }
    }
}

fn progress_bar(prefix: &str) -> ProgressBar {
    let pb = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {percent:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    pb.set_style(style);
    pb.set_prefix(prefix.to_string());
    pb
}

fn wall_clock() -> DateTime<Utc> {
    Utc::now()
}

async fn demo_command(args: DemoArgs, now: DateTime<Utc>, out: &mut dyn Write) -> Result<Outcome> {
    let dir =
        tempfile::tempdir().context("cannot create a temporary directory for the demo store")?;
    let config = Config::demo(dir.path().join("demo.db"));
    let params = DemoParams {
        accounts: args.accounts,
        seed: args.seed,
        months: args.months,
        as_of: args.as_of.unwrap_or_else(|| today_in(config.timezone, now)),
    };
    if let Some(dir) = &args.write_data {
        let data = tokio::task::spawn_blocking(move || demo::generate(&params)).await?;
        let summary = crate::sources::csv_format::write_dataset(dir, &data)
            .with_context(|| format!("cannot write the demo data into {}", dir.display()))?;
        writeln!(
            out,
            "Wrote {} records ({} accounts) as CSV into {}:",
            summary.total_rows(),
            data.accounts().len(),
            dir.display()
        )?;
        for f in &summary.files {
            writeln!(out, "  {:<22} {:>12} rows", f.file_name, f.rows)?;
        }
        return Ok(Outcome::Ok);
    }

    let store = SqliteStore::open(&config.store_path).await?;
    let source = DemoSource::new("demo", params.clone());
    let pb = progress_bar("demo");
    let run = sync::sync_source(&source, &store, &wall_clock, &pb, SyncOptions::default()).await?;
    pb.finish_and_clear();
    eprintln!("{}", sync::summary_line(&run));
    let data = store.load().await?;
    let engine = Engine::new(&data, config.metrics.clone())?.with_health(HealthModels::builtin());
    out.write_all(
        Scorecard::compute(&engine, params.as_of)
            .render(&engine)
            .as_bytes(),
    )?;
    demo_alerts(&config, &engine, params.as_of, out)?;
    Ok(Outcome::Ok)
}

/// Days of history the demo replays so that rules with `for` durations can fire.
const DEMO_REPLAY_DAYS: u64 = 21;

/// The shipped rules on the demo data: replayed over the last weeks before `as_of`, then the
/// alerts still firing, as they would read in chat.
fn demo_alerts(
    config: &Config,
    engine: &Engine,
    as_of: NaiveDate,
    out: &mut dyn Write,
) -> Result<()> {
    let channels: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
    let rules = crate::rules::shipped_rules(&channels)
        .map_err(|d| anyhow::anyhow!("the built-in rules are invalid:\n{d}"))?;
    let to = as_of.pred_opt().unwrap_or(as_of);
    let from = to - chrono::Days::new(DEMO_REPLAY_DAYS - 1);
    let report = crate::alerts::backtest::backtest(
        engine,
        &rules,
        from,
        to,
        |d| rules_commands::end_of_day(config, d),
        None,
    );
    let messages = crate::alerts::backtest::firing_messages(engine, &rules, &report, to);
    writeln!(
        out,
        "\nAlerts firing as of {to}: {} rule{} of {} (the shipped rules, replayed daily from {from})\n",
        messages.len(),
        if messages.len() == 1 { "" } else { "s" },
        rules.len()
    )?;
    for m in &messages {
        writeln!(out, "{}", crate::notify::alert::to_message(m).to_text())?;
    }
    Ok(())
}

/// Loads the configured health model; when the configured file is the default path and does not
/// exist, the built-in default model is used, so a config.toml alone is enough.
fn load_health(config: &Config) -> Result<HealthModels, anyhow::Error> {
    if !config.health_model.exists() && config.health_model_is_default {
        return Ok(HealthModels::builtin());
    }
    HealthModels::load(&config.health_model).map_err(|e| anyhow::anyhow!("{e}"))
}

fn load_config(path: &Path) -> Result<Config> {
    Config::load(path).map_err(|e| match e {
        ConfigError::Invalid(d) => anyhow::anyhow!("{d}"),
        other => anyhow::anyhow!("{other}"),
    })
}

fn check_command(path: &Path, out: &mut dyn Write) -> Result<Outcome> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(ConfigError::Invalid(d)) => {
            write!(out, "{d}")?;
            return Ok(Outcome::Problems);
        }
        Err(e) => bail!(e),
    };
    // Every file is checked, and every problem of every file printed, before giving up.
    let mut problems = false;
    let models = match load_health(&config) {
        Ok(m) => m.models.len(),
        Err(e) => {
            writeln!(out, "{e}")?;
            problems = true;
            0
        }
    };
    let rules = match rules_commands::load_rules_of(&config) {
        Ok(r) => r.len(),
        Err(d) => {
            write!(out, "{d}")?;
            problems = true;
            0
        }
    };
    if let Err(d) = crate::rules::testing::load_tests(&config.rules_paths) {
        write!(out, "{d}")?;
        problems = true;
    }
    let scorecards = match scorecard_command::definitions_of(&config, None) {
        Ok(defs) => {
            if let Err(e) = run_command::unknown_scorecards(&config, &defs) {
                writeln!(out, "error: {e}")?;
                problems = true;
            }
            defs.len()
        }
        Err(e) => {
            writeln!(out, "{e}")?;
            problems = true;
            0
        }
    };
    if problems {
        return Ok(Outcome::Problems);
    }
    // Channels that cannot be set up here (an unset secret: the service's environment may
    // differ from this shell's) are warnings, but `run` refuses to start without them.
    let console: std::sync::Arc<dyn crate::notify::Sink> =
        std::sync::Arc::new(crate::notify::console::ConsoleSink::stdout());
    if let Err(errors) = crate::notify::channels::build_sinks(&config, console) {
        for e in errors.0 {
            writeln!(out, "warning: {e}; `cs-pulse run` needs it")?;
        }
    }
    for e in config.chat.missing_secrets() {
        writeln!(out, "warning: {e}; `cs-pulse run` needs it")?;
    }
    for sc in &config.sources {
        let what = format!("secret of source `{}`", sc.name);
        if let Some(Err(e)) = sc.kind.secret().map(|s| s.resolve(&what)) {
            writeln!(out, "warning: {e}; `cs-pulse sync` needs it")?;
        }
    }
    for w in button_warnings(&config) {
        writeln!(out, "warning: {w}")?;
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    writeln!(
        out,
        "ok: {} ({} source{}, {} channel{}, {} job{}), {} health model{}, {} rule{}, {} scorecard{}",
        path.display(),
        config.sources.len(),
        plural(config.sources.len()),
        config.channels.len(),
        plural(config.channels.len()),
        config.jobs.len(),
        plural(config.jobs.len()),
        models,
        plural(models),
        rules,
        plural(rules),
        scorecards,
        plural(scorecards),
    )?;
    Ok(Outcome::Ok)
}

/// Discord sends a button press to the application whose bot posted the message: buttons of a
/// `discord` channel posting with another token than `[chat.discord]`'s reach no one.
fn button_warnings(config: &Config) -> Vec<String> {
    let Some(chat) = &config.chat.discord else {
        return vec![];
    };
    config
        .channels
        .iter()
        .filter_map(|c| match &c.settings {
            crate::config::ChannelSettings::Discord(s) if s.token.var() != chat.token.var() => {
                Some(format!(
                    "channel `{}` posts with ${{{}}} but [chat.discord] answers with ${{{}}}: \
                     if they are different bots, its alert buttons will not reach cs-pulse",
                    c.name,
                    s.token.var(),
                    chat.token.var()
                ))
            }
            _ => None,
        })
        .collect()
}

async fn sync_command(
    path: &Path,
    args: SyncArgs,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let config = load_config(path)?;
    let selected: Vec<_> = match &args.source {
        None => config.sources.iter().collect(),
        Some(name) => {
            let Some(s) = config.sources.iter().find(|s| &s.name == name) else {
                let names: Vec<_> = config.sources.iter().map(|s| s.name.as_str()).collect();
                return Err(ArgError(format!(
                    "--source: no source named \"{name}\" in {} (configured: {})",
                    path.display(),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
                .into());
            };
            vec![s]
        }
    };
    if selected.is_empty() {
        writeln!(
            out,
            "no sources configured in {}: add a [sources.NAME] table",
            path.display()
        )?;
        return Ok(Outcome::Problems);
    }
    let store = SqliteStore::open(&config.store_path)
        .await
        .with_context(|| format!("cannot open the store {}", config.store_path.display()))?;
    let ctx = config.source_context();
    let today = today_in(config.timezone, now);
    let options = SyncOptions {
        force_full: args.full,
    };
    // Sources sync at once, each with its own progress bar; the store serialises their writes.
    let bars = MultiProgress::new();
    let runs = futures_util::future::join_all(selected.iter().map(|sc| {
        let pb = bars.add(progress_bar_for(sc));
        let (ctx, store) = (&ctx, &store);
        async move {
            let result = match sources::from_config(sc, ctx, today) {
                Ok(source) => {
                    Ok(sync::sync_source(source.as_ref(), store, &wall_clock, &pb, options).await)
                }
                Err(e) => Err(e),
            };
            pb.finish_and_clear();
            result
        }
    }))
    .await;
    let mut outcome = Outcome::Ok;
    for (sc, result) in selected.iter().zip(runs) {
        match result {
            Ok(Ok(run)) => writeln!(out, "{}", sync::summary_line(&run))?,
            Ok(Err(e)) => {
                outcome = Outcome::Problems;
                match e.run() {
                    Some(run) => writeln!(out, "{}", sync::summary_line(run))?,
                    None => writeln!(out, "{}: FAILED", sc.name)?,
                }
                writeln!(out, "{e}")?;
            }
            Err(e) => {
                outcome = Outcome::Problems;
                writeln!(out, "{}: FAILED: {e}", sc.name)?;
            }
        }
    }
    Ok(outcome)
}

/// Loads the store's data for commands that compute.
async fn load_data(config: &Config) -> Result<Dataset> {
    load_data_from(&open_synced_store(config).await?, config).await
}

/// Opens the store of commands that read synced data, without creating it when it is missing.
async fn open_synced_store(config: &Config) -> Result<SqliteStore> {
    if !config.store_path.exists() {
        bail!(
            "the store {} does not exist yet: run `cs-pulse sync` first",
            config.store_path.display()
        );
    }
    Ok(SqliteStore::open(&config.store_path).await?)
}

/// Loads the data of a store already open (`config` names it in errors).
async fn load_data_from(store: &SqliteStore, config: &Config) -> Result<Dataset> {
    let data = store.load().await?;
    if data.accounts().is_empty() {
        bail!(
            "the store {} holds no accounts: run `cs-pulse sync` first",
            config.store_path.display()
        );
    }
    Ok(data)
}

/// Parses `--metric` values and checks each exists for the target.
pub fn parse_metrics(names: &[String], target: &Target) -> Result<Vec<MetricRef>, ArgError> {
    if names.is_empty() {
        return Ok(metrics_report::default_metrics(target));
    }
    let mut refs = Vec::with_capacity(names.len());
    for name in names {
        let r: MetricRef = name.trim().parse().map_err(|e| {
            ArgError(format!(
                "--metric: {e}; `cs-pulse metrics --list` shows every metric"
            ))
        })?;
        let scope = r.metric.def().scope;
        match target {
            Target::Portfolio(_) if !scope.portfolio() => {
                return Err(ArgError(format!(
                    "--metric: `{}` exists per account only; add --account ID or --per-account",
                    r.metric
                )))
            }
            Target::Account(_) | Target::PerAccount(_) if !scope.account() => {
                return Err(ArgError(format!(
                    "--metric: `{}` exists for the portfolio only; drop --account/--per-account",
                    r.metric
                )))
            }
            _ => refs.push(r),
        }
    }
    Ok(refs)
}

async fn metrics_command(path: &Path, args: MetricsArgs, out: &mut dyn Write) -> Result<Outcome> {
    if args.list {
        out.write_all(metrics_report::registry_table().as_bytes())?;
        return Ok(Outcome::Ok);
    }
    let Some(period) = args.period else {
        return Err(ArgError("--period is required (e.g. --period 2025-Q1)".into()).into());
    };
    let config = load_config(path)?;
    let data = load_data(&config).await?;
    let target = match &args.account {
        Some(id) => Target::Account(
            data.account_ix(id.trim())
                .ok_or_else(|| unknown_account(&data, id))?,
        ),
        None => {
            let filter = Filter {
                segment: args.segment.clone(),
                owner: args.owner.clone(),
                plan: args.plan.clone(),
            };
            if args.per_account {
                Target::PerAccount(filter)
            } else {
                Target::Portfolio(filter)
            }
        }
    };
    let metrics = parse_metrics(&args.metric, &target)?;
    let engine = engine_for(&config, &data)?;
    let report = MetricsReport::compute(&engine, period, metrics, target);
    match args.format {
        Format::Table => out.write_all(report.to_table(&engine).as_bytes())?,
        Format::Json => report.write_json(&engine, out)?,
    }
    Ok(Outcome::Ok)
}

fn engine_for<'d>(config: &Config, data: &'d Dataset) -> Result<Engine<'d>> {
    let cfg: MetricsConfig = config.metrics.clone();
    Ok(Engine::new(data, cfg)?.with_health(load_health(config)?))
}

fn unknown_account(data: &Dataset, id: &str) -> anyhow::Error {
    let close: Vec<&str> = {
        let mut scored: Vec<(f64, &str)> = data
            .accounts()
            .iter()
            .map(|a| (strsim::jaro_winkler(id, &a.id), a.id.as_str()))
            .filter(|(s, _)| *s > 0.85)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(3).map(|(_, id)| id).collect()
    };
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(
            " (did you mean {}?)",
            close
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    ArgError(format!(
        "--account: no account with id \"{id}\"{hint}; ids are case-sensitive"
    ))
    .into()
}
