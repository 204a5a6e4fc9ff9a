//! `cs-pulse outbox`: what is waiting to be delivered and what failed, and the two things an
//! operator does about it: retry (after fixing a token or a channel) or drop a message for good.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use super::{load_config, ArgError, Outcome};
use crate::notify::outbox::{Op, OutboxRow, Status};
use crate::notify::text::truncate;
use crate::store::{OutboxStore, SqliteStore};

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// List unsent messages (pending and failed); with --all, sent and dropped ones too.
    List {
        #[arg(long)]
        all: bool,
    },
    /// Send failed messages again: the ones given by id, or every failed one.
    Retry {
        /// Outbox ids (from `outbox list`).
        ids: Vec<i64>,
        /// Every failed message.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Never send this message (it stays listed as dropped).
    Drop { id: i64 },
}

pub async fn outbox_command(
    path: &Path,
    cmd: Option<OutboxCommand>,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let config = load_config(path)?;
    let store = SqliteStore::open(&config.store_path).await?;
    match cmd.unwrap_or(OutboxCommand::List { all: false }) {
        OutboxCommand::List { all } => {
            let statuses: &[Status] = if all {
                &[]
            } else {
                &[Status::Pending, Status::Failed]
            };
            let rows = store.outbox_rows(statuses).await?;
            if rows.is_empty() {
                writeln!(
                    out,
                    "The outbox is empty{}.",
                    if all {
                        ""
                    } else {
                        ": every message was delivered"
                    }
                )?;
            } else {
                writeln!(out, "{}", table(&rows))?;
            }
        }
        OutboxCommand::Retry { ids, all } => {
            if ids.is_empty() && !all {
                return Err(ArgError(
                    "give outbox ids (`cs-pulse outbox list` shows them) or --all".into(),
                )
                .into());
            }
            let n = store.retry_failed(&ids, now).await?;
            writeln!(
                out,
                "{n} message{} queued again; `cs-pulse run` (or the next `eval`) sends {}.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "them" }
            )?;
            if n == 0 {
                return Ok(Outcome::Problems);
            }
        }
        OutboxCommand::Drop { id } => {
            if store.drop_row(id).await? {
                writeln!(out, "Message {id} dropped: it will not be sent.")?;
            } else {
                return Err(ArgError(format!(
                    "no unsent message with id {id} (`cs-pulse outbox list` shows them)"
                ))
                .into());
            }
        }
    }
    Ok(Outcome::Ok)
}

fn table(rows: &[OutboxRow]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "id",
        "channel",
        "status",
        "tries",
        "created",
        "what",
        "last error",
    ]);
    for r in rows {
        let what = match r.op {
            Op::Post => r.message.title.clone(),
            Op::Edit { target } => format!("edit of {target}: {}", r.message.title),
        };
        let status = match r.status {
            Status::Pending if r.attempts > 0 => {
                format!("retry at {}", r.next_attempt_at.format("%H:%M:%S"))
            }
            s => s.as_str().to_string(),
        };
        t.add_row([
            r.id.to_string(),
            r.channel.clone(),
            status,
            r.attempts.to_string(),
            r.created_at.format("%Y-%m-%d %H:%M").to_string(),
            truncate(&what, 60),
            truncate(r.last_error.as_deref().unwrap_or(""), 60),
        ]);
    }
    t
}
