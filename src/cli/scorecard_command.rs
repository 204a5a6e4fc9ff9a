//! `cs-pulse scorecard`: computes the configured scorecards for a period from the store's data,
//! prints them (`--dry-run`), writes their charts (`--out DIR`), and queues and sends them.
//!
//! Without `--dry-run` the scorecards enter the durable outbox, keyed by scorecard, owner,
//! period and channel, so running the command twice for a period posts each scorecard once.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::delivery::{scorecard_items, Channels};
use super::{
    engine_for, load_config, load_data_from, open_synced_store, today_in, ArgError, Outcome,
};
use crate::config::Config;
use crate::model::{Period, PeriodKind};
use crate::scorecard::{self, ScorecardData, ScorecardDef};
use crate::store::SqliteStore;

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

    let store = open_synced_store(&config).await?;
    let data = load_data_from(&store, &config).await?;
    let engine = engine_for(&config, &data)?;
    let synced_at = last_sync(&store).await;
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
    if args.dry_run {
        for card in &cards {
            writeln!(out, "→ {}", card.route.join(", "))?;
            writeln!(out, "{}", scorecard::to_text(card))?;
        }
        return Ok(Outcome::Ok);
    }
    // Each scorecard is queued once per period and channel, then sent.
    let channels = Channels::open(&config, &store)?;
    let items: Vec<_> = cards
        .iter()
        .flat_map(|c| scorecard_items(&c.key(), &c.route, &scorecard::to_message(c)))
        .collect();
    let (_, report) = channels.deliver(&store, &[], &items, now, out).await?;
    Ok(if report.failed > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
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
pub(crate) async fn last_sync(store: &SqliteStore) -> Option<DateTime<Utc>> {
    crate::store::last_good_sync(store).await
}

/// The default period of a definition as of `today`: the last complete week or month.
pub fn default_period(def: &ScorecardDef, today: NaiveDate) -> Period {
    Period::last_complete(def.period, today)
}
