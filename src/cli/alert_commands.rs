//! The alert commands people use between evaluations: silence a rule, an account or both until
//! a time (with who and why), list and lift silences, and acknowledge a firing alert so that its
//! reminders stop. Everything is stored, so the next `eval` (or `run`) honours it.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};

use super::rules_commands::end_of_day;
use super::{load_config, ArgError, Outcome};
use crate::alerts::{AlertKey, Silence};
use crate::config::duration::parse_duration;
use crate::store::{AlertStore, SqliteStore};

#[derive(Subcommand, Debug)]
pub enum SilenceCommand {
    /// Mute a rule, an account, or one rule for one account, until a time.
    Add(SilenceAddArgs),
    /// List the silences in force (with --all, expired ones too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Lift a silence by its id.
    Remove { id: i64 },
}

#[derive(Args, Debug)]
pub struct SilenceAddArgs {
    /// The rule id to mute (every rule of the account when left out).
    #[arg(long, value_name = "ID")]
    pub rule: Option<String>,
    /// The account id to mute, or `portfolio` (every account when left out).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Until when: a duration from now (`7d`, `12h`) or a day (YYYY-MM-DD, its end).
    #[arg(long, value_name = "WHEN")]
    pub until: String,
    /// Why (shown with the silence).
    #[arg(long)]
    pub reason: String,
    /// Who asks (default: $USER).
    #[arg(long, env = "USER", default_value = "someone")]
    pub by: String,
}

#[derive(Args, Debug)]
pub struct AckArgs {
    /// The rule id of the firing alert.
    pub rule: String,
    /// The account id of the firing alert, or `portfolio`.
    pub subject: String,
    /// Who acknowledges (default: $USER).
    #[arg(long, env = "USER", default_value = "someone")]
    pub by: String,
}

fn parse_until(
    config: &crate::config::Config,
    text: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ArgError> {
    if let Ok(day) = text.parse::<NaiveDate>() {
        return Ok(end_of_day(config, day));
    }
    match parse_duration(text) {
        Ok(d) if d > chrono::Duration::zero() => Ok(now + d),
        _ => Err(ArgError(format!(
            "--until: \"{text}\" is neither a duration (7d, 12h, 2w) nor a day (2025-03-31)"
        ))),
    }
}

pub async fn silence_command(
    path: &Path,
    cmd: SilenceCommand,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let config = load_config(path)?;
    let store = SqliteStore::open(&config.store_path).await?;
    match cmd {
        SilenceCommand::Add(a) => {
            if a.rule.is_none() && a.account.is_none() {
                return Err(ArgError("give --rule, --account or both: a silence of everything would hide every alert".into()).into());
            }
            if a.reason.trim().is_empty() {
                return Err(ArgError(
                    "--reason: say why, so that others know when to lift it".into(),
                )
                .into());
            }
            let until = parse_until(&config, &a.until, now)?;
            let s = store
                .add_silence(&Silence {
                    id: 0,
                    rule: a.rule,
                    subject: a.account,
                    until,
                    created_by: a.by,
                    reason: a.reason,
                    created_at: now,
                })
                .await?;
            writeln!(out, "silence {} added: {}", s.id, describe(&s))?;
            if s.until <= now {
                writeln!(out, "note: that time has passed; the silence only affects evaluations of earlier days (eval --at)")?;
            }
        }
        SilenceCommand::List { all } => {
            let list = store.silences(now, all).await?;
            if list.is_empty() {
                writeln!(out, "no silences{}", if all { "" } else { " in force" })?;
            }
            for s in list {
                writeln!(out, "{:>4}  {}", s.id, describe(&s))?;
            }
        }
        SilenceCommand::Remove { id } => {
            if store.remove_silence(id).await? {
                writeln!(out, "silence {id} lifted")?;
            } else {
                return Err(ArgError(format!(
                    "no silence with id {id} (`cs-pulse silence list --all` shows them)"
                ))
                .into());
            }
        }
    }
    Ok(Outcome::Ok)
}

fn describe(s: &Silence) -> String {
    format!(
        "{} for {} until {} — {} (by {}, {})",
        s.rule
            .as_deref()
            .map_or("every rule".to_string(), |r| format!("rule {r}")),
        s.subject.as_deref().unwrap_or("every account"),
        s.until.format("%Y-%m-%d %H:%M UTC"),
        s.reason,
        s.created_by,
        s.created_at.format("%Y-%m-%d"),
    )
}

pub async fn ack_command(
    path: &Path,
    a: AckArgs,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let config = load_config(path)?;
    let store = SqliteStore::open(&config.store_path).await?;
    let key = AlertKey {
        rule: a.rule,
        subject: a.subject,
    };
    if store.acknowledge(&key, &a.by, now).await? {
        writeln!(
            out,
            "acknowledged {} for {}: no more reminders until it resolves",
            key.rule, key.subject
        )?;
        Ok(Outcome::Ok)
    } else {
        Err(ArgError(format!(
            "no firing alert of rule \"{}\" for \"{}\" (only firing alerts can be acknowledged)",
            key.rule, key.subject
        ))
        .into())
    }
}
