//! Delivery from the one-shot commands (`eval`, `scorecard`): store the messages in the outbox
//! (with the alert states, in one transaction), send them through the configured channels,
//! wait a little for retries, and say what happened. `cs-pulse run` delivers continuously.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::wall_clock;
use crate::alerts::message::AlertMessage;
use crate::alerts::AlertState;
use crate::config::Config;
use crate::notify::alert;
use crate::notify::channels::build_sinks;
use crate::notify::console::ConsoleSink;
use crate::notify::outbox::{Deliverer, Outgoing, PassReport, RetryPolicy};
use crate::notify::{Message, Sink};
use crate::store::{AlertKey, Enqueued, OutboxStore, SqliteStore};

/// How long a one-shot command waits for retries before leaving messages to `cs-pulse run`.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The configured sinks, `console` channels writing into a buffer the command prints.
pub struct Channels {
    pub deliverer: Deliverer,
    console: Arc<Mutex<Vec<u8>>>,
}

/// The configured channels as a [`Deliverer`] of `store`'s outbox, `console` channels
/// writing to `console`.
pub fn deliverer(
    config: &Config,
    store: &SqliteStore,
    console: Arc<dyn Sink>,
) -> Result<Deliverer> {
    let sinks = build_sinks(config, console).context("cannot set up the channels")?;
    let store: Arc<dyn OutboxStore> = Arc::new(store.clone());
    Ok(Deliverer::new(store, sinks, RetryPolicy::default()))
}

/// The outbox items of an evaluation's alert messages, one per routed channel.
pub fn alert_items(
    deliverer: &Deliverer,
    messages: &[AlertMessage],
    now: DateTime<Utc>,
) -> Vec<Outgoing> {
    let can_edit = |name: &str| deliverer.can_edit(name);
    messages
        .iter()
        .flat_map(|m| alert::outgoing(m, now, &can_edit))
        .collect()
}

impl Channels {
    pub fn open(config: &Config, store: &SqliteStore) -> Result<Channels> {
        let console = Arc::new(Mutex::new(Vec::new()));
        let sink: Arc<dyn Sink> = Arc::new(ConsoleSink::to(console.clone()));
        Ok(Channels {
            deliverer: deliverer(config, store, sink)?,
            console,
        })
    }

    /// Stores `items` (and `states`) and delivers everything due; prints the console channel's
    /// messages and a summary to `out`.
    pub async fn deliver(
        &self,
        store: &SqliteStore,
        states: &[(AlertKey, AlertState)],
        items: &[Outgoing],
        now: DateTime<Utc>,
        out: &mut dyn Write,
    ) -> Result<(Enqueued, PassReport)> {
        let queued = store
            .enqueue(states, items, now)
            .await
            .context("cannot store the messages in the outbox")?;
        let report = self
            .deliverer
            .drain(&wall_clock, PATIENCE)
            .await
            .context("cannot update the outbox")?;
        let printed = std::mem::take(
            &mut *self
                .console
                .lock()
                .map_err(|_| anyhow::anyhow!("the console buffer is unusable"))?,
        );
        out.write_all(&printed)?;
        summarize(&queued, &report, out)?;
        Ok((queued, report))
    }
}

fn summarize(queued: &Enqueued, report: &PassReport, out: &mut dyn Write) -> Result<()> {
    let mut line = format!(
        "Outbox: {} queued, {} sent, {} edited",
        queued.queued, report.sent, report.edited
    );
    if queued.duplicates > 0 {
        line += &format!(
            ", {} already in the outbox before (never sent twice)",
            queued.duplicates
        );
    }
    if report.failed > 0 {
        line += &format!(", {} failed", report.failed);
    }
    if report.pending > 0 {
        line += &format!(", {} waiting for a retry", report.pending);
    }
    writeln!(out, "{line}")?;
    for (name, (sent, retried, failed)) in &report.per_channel {
        writeln!(
            out,
            "  {name:<20} {sent} sent, {retried} retried, {failed} failed"
        )?;
    }
    if report.failed > 0 || report.pending > 0 {
        writeln!(
            out,
            "Unsent messages stay in the outbox: `cs-pulse outbox` lists them, `cs-pulse run` retries them."
        )?;
    }
    Ok(())
}

/// A scorecard for each channel of its route, identified by its key (id, owner, period), so
/// that it is queued once per period and channel.
pub fn scorecard_items(key: &str, route: &[String], message: &Message) -> Vec<Outgoing> {
    route
        .iter()
        .map(|channel| Outgoing {
            channel: channel.clone(),
            dedup: format!("scorecard|{key}|{channel}"),
            message: message.clone(),
            alert: None,
        })
        .collect()
}

/// The longest the service's delivery loop sleeps between looks at the outbox.
pub const MAX_NAP: Duration = Duration::from_secs(30);
