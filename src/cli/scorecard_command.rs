//! `cs-pulse scorecard`: computes the configured scorecards for a period from the store's data,
//! prints them (`--dry-run`), writes their charts (`--out DIR`), and hands them to delivery.
//!
//! Delivery goes through one function, [`deliver`], the hook where scorecards enter the durable
//! outbox (`notify::outbox`); until the outbox exists it delivers nothing and the command
//! behaves like `--dry-run`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::{engine_for, load_config, load_data, today_in, ArgError, Outcome};
use crate::config::Config;
use crate::model::{Period, PeriodKind};
use crate::notify::Message;
use crate::scorecard::{self, ScorecardData, ScorecardDef};
use crate::store::{SqliteStore, Store, SyncOutcome};

#[derive(Args, Debug)]
pub struct ScorecardArgs {
    /// Only the scorecard with this id.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// The period: an ISO week (2025-W24) for weekly scorecards, a month (2025-06) for monthly
    /// ones; only the scorecards of that kind are made. Renewals are then counted from the day
    /// after it. Default: the last complete week or month in the config's timezone.
    #[arg(long, value_name = "PERIOD")]
    pub period: Option<Period>,
    /// The scorecard definitions. Default: `scorecard.toml` in the rules directories, else the
    /// built-in ones (rules/scorecard.toml as shipped).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print the scorecards instead of sending them.
    #[arg(long)]
    pub dry_run: bool,
    /// Write each scorecard's chart as DIR/<id>[-<owner>]-<period>.png.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The scorecard definitions of a config: `file` when given, else the first `scorecard.toml`
/// of the rules paths, else the shipped ones (routed to `console`, or to the first configured
/// channel when there is no `console`). Errors are the rendered diagnostics.
pub fn definitions_of(config: &Config, file: Option<&Path>) -> Result<Vec<ScorecardDef>> {
    let channels = config.channel_names();
    let found = file.map(Path::to_path_buf).or_else(|| {
        config.rules_paths.iter().find_map(|p| {
            let candidate = if p.is_dir() {
                p.join(scorecard::FILE_NAME)
            } else {
                p.clone()
            };
            (candidate.is_file()
                && candidate.file_name() == Some(std::ffi::OsStr::new(scorecard::FILE_NAME)))
            .then_some(candidate)
        })
    });
    match found {
        Some(path) => {
            scorecard::load_scorecards(&path, &channels).map_err(|e| anyhow::anyhow!("{e}"))
        }
        None => {
            // The shipped scorecards go to `console`; a config without that channel gets them
            // on its first channel instead.
            let console = vec![crate::config::DEFAULT_CHANNEL.to_string()];
            let mut defs = scorecard::shipped_scorecards(&console)
                .map_err(|d| anyhow::anyhow!("the built-in scorecards are invalid:\n{d}"))?;
            if !channels.contains(&console[0]) {
                if let Some(first) = channels.first() {
                    for d in &mut defs {
                        d.route = vec![first.clone()];
                    }
                }
            }
            Ok(defs)
        }
    }
}

/// One scorecard ready to go: its posting key, channels and message.
#[allow(dead_code)] // Read by `deliver` once it is wired to the outbox.
pub struct Outgoing {
    /// `<id>[-<owner>]-<period>` ([`ScorecardData::key`]): with the channel, what the outbox
    /// deduplicates on, so that each period's scorecard is posted once.
    pub key: String,
    pub route: Vec<String>,
    pub message: Message,
}

/// What became of the scorecards handed to [`deliver`].
#[derive(Debug, PartialEq, Eq)]
#[allow(dead_code)] // `Queued` is what `deliver` returns once it is wired to the outbox.
pub enum Delivery {
    /// Stored in the outbox (and sent as far as the channels allowed); `deliver` said so in
    /// `out`.
    Queued,
    /// Nothing delivers yet: the command prints the scorecards instead.
    Unavailable,
}

/// OUTBOX HOOK: the single place where `cs-pulse scorecard` (without `--dry-run`) hands its
/// scorecards to delivery. To wire the durable outbox in: open the store and the channels
/// (`super::delivery::Channels::open`), turn each [`Outgoing`] into one outbox item per
/// channel of its route, deduplicated on its `key` and the channel
/// (`super::delivery::scorecard_items(&o.key, &o.route, &o.message)`), store and deliver them
/// (`Channels::deliver(&store, &[], &items, now, out)`), and return [`Delivery::Queued`].
/// Until then nothing is queued and the command prints the scorecards like `--dry-run`.
pub async fn deliver(
    config: &Config,
    cards: &[Outgoing],
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<Delivery> {
    let _ = (config, cards, now, out);
    Ok(Delivery::Unavailable)
}

/// `cs-pulse scorecard [--id ID] [--period P] [--file FILE] [--dry-run] [--out DIR]`.
pub async fn scorecard_command(
    path: &Path,
    args: ScorecardArgs,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let config = load_config(path)?;
    let mut defs = definitions_of(&config, args.file.as_deref())?;
    if let Some(id) = &args.id {
        let ids: Vec<String> = defs.iter().map(|d| d.id.clone()).collect();
        defs.retain(|d| &d.id == id);
        if defs.is_empty() {
            return Err(ArgError(format!(
                "--id: no scorecard \"{id}\" (scorecards: {})",
                ids.join(", ")
            ))
            .into());
        }
    }
    if let Some(p) = &args.period {
        let kind = p.kind();
        if !matches!(kind, PeriodKind::Week | PeriodKind::Month) {
            return Err(ArgError(format!(
                "--period {p}: scorecards cover a week (like 2025-W24) or a month (like 2025-06)"
            ))
            .into());
        }
        let all = defs.len();
        defs.retain(|d| d.period == kind);
        if defs.is_empty() {
            let what = if kind == PeriodKind::Week {
                "weekly"
            } else {
                "monthly"
            };
            let hint = if all == 1 {
                " (that scorecard is made for a different kind of period)"
            } else {
                ""
            };
            return Err(
                ArgError(format!("--period {p}: no {what} scorecard to make{hint}")).into(),
            );
        }
    }

    let data = load_data(&config).await?;
    let engine = engine_for(&config, &data)?;
    let synced_at = last_sync(&config).await;
    let today = today_in(config.timezone, now);
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }

    let mut cards: Vec<ScorecardData> = Vec::new();
    for def in &defs {
        let (period, day) = match args.period {
            // A past period reads as of the day after it, when it would have been posted.
            Some(p) => (p, p.end()),
            None => (default_period(def, today), today),
        };
        let made = scorecard::compute(&engine, def, period, day);
        if made.is_empty() {
            writeln!(
                out,
                "{}: no account in scope has an owner: no scorecard made\n",
                def.id
            )?;
        }
        for mut card in made {
            card.synced_at = synced_at;
            write_chart(args.out.as_deref(), &card, out)?;
            cards.push(card);
        }
    }
    let delivered = if args.dry_run {
        Delivery::Unavailable
    } else {
        let outgoing: Vec<Outgoing> = cards
            .iter()
            .map(|c| Outgoing {
                key: c.key(),
                route: c.route.clone(),
                message: scorecard::to_message(c),
            })
            .collect();
        deliver(&config, &outgoing, now, out).await?
    };
    if delivered == Delivery::Unavailable {
        for card in &cards {
            writeln!(out, "→ {}", card.route.join(", "))?;
            writeln!(out, "{}", scorecard::to_text(card))?;
        }
        if !args.dry_run {
            writeln!(out, "delivery: see `cs-pulse run`")?;
        }
    }
    Ok(Outcome::Ok)
}

/// Writes the card's chart into `dir` when asked, saying where.
fn write_chart(dir: Option<&Path>, card: &ScorecardData, out: &mut dyn Write) -> Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    let file = dir.join(format!("{}.png", card.key()));
    match scorecard::chart::render(card) {
        Ok(chart) => {
            std::fs::write(&file, &chart.png)
                .with_context(|| format!("cannot write {}", file.display()))?;
            writeln!(out, "chart: {}", file.display())?;
        }
        Err(e) => writeln!(out, "chart of {}: {e}", card.key())?,
    }
    Ok(())
}

/// When the store last synced successfully, for the scorecards' footer.
async fn last_sync(config: &Config) -> Option<DateTime<Utc>> {
    let store = SqliteStore::open(&config.store_path).await.ok()?;
    let runs = store.sync_runs(None, 50).await.ok()?;
    runs.into_iter()
        .find(|r| r.outcome == SyncOutcome::Ok)
        .map(|r| r.finished_at)
}

/// The default period of a definition as of `today`: the last complete week or month.
pub fn default_period(def: &ScorecardDef, today: NaiveDate) -> Period {
    Period::last_complete(def.period, today)
}
