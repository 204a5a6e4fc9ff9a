//! `cs-pulse run`: the long-running service. The scheduler runs the configured jobs (sync,
//! evaluate, scorecard) at their cron times; a delivery loop sends what the outbox holds,
//! waking when a job queues messages or a retry falls due; with `[chat]` it answers commands
//! and with `[server]` it serves `/healthz`, `/readyz` and `/metrics` ([`super::chat_service`]). On SIGINT or SIGTERM it stops answering, stops starting jobs, lets
//! running ones finish, settles in-flight sends, and exits.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{watch, Notify};

use super::chat_service::ChatService;
use super::delivery::{deliverer, MAX_NAP};
use super::rules_commands::rules_or_report;
use super::scorecard_command::definitions_of;
use super::service_jobs::ServiceJobs;
use super::{load_config, wall_clock, Outcome};
use crate::config::JobKind;
use crate::notify::console::ConsoleSink;
use crate::notify::outbox::Deliverer;
use crate::scheduler::Scheduler;
use crate::store::{OutboxStore, SqliteStore};

pub async fn run_command(path: &Path, out: &mut dyn Write) -> Result<Outcome> {
    // Listening from the start: a SIGTERM once jobs run (or right after the banner) stops the
    // service gracefully instead of killing it.
    let stop_signal = shutdown_signal();
    let config = load_config(path)?;
    let Some(rules) = rules_or_report(&config, out)? else {
        return Ok(Outcome::Problems);
    };
    let scorecards = definitions_of(&config, None)?;
    unknown_scorecards(&config, &scorecards).map_err(|e| anyhow::anyhow!(e))?;
    let store = SqliteStore::open(&config.store_path)
        .await
        .with_context(|| format!("cannot open the store {}", config.store_path.display()))?;
    let deliverer = Arc::new(deliverer(&config, &store, Arc::new(ConsoleSink::stdout()))?);

    // Messages that ran out of attempts before this start get another chance.
    let retried = store.retry_failed(&[], wall_clock()).await?;
    if retried > 0 {
        tracing::info!(retried, "failed messages queued again at start");
    }

    // The service's counters for `/metrics` (served with `[server]` only, so recorded only then);
    // one-shot commands record nothing.
    let metrics = config
        .server
        .as_ref()
        .and_then(|_| crate::telemetry::install());
    let chat = ChatService::start(
        &config,
        &store,
        rules.clone(),
        scorecards.clone(),
        metrics,
        out,
    )
    .await?;

    let wake = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let delivery = tokio::spawn(delivery_loop(deliverer.clone(), wake.clone(), stop_rx));
    let jobs = config.jobs.clone();
    let executor = Arc::new(ServiceJobs {
        config,
        rules,
        scorecards,
        store: store.clone(),
        deliverer,
        wake: wake.clone(),
    });
    let scheduler = Scheduler::start(&jobs, executor, Arc::new(store.clone())).await?;
    if jobs.is_empty() {
        writeln!(
            out,
            "No [jobs] configured: only the messages already in the outbox will be delivered."
        )?;
    }
    for (name, stats) in scheduler.stats() {
        let next = stats.next_run.map_or("never".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        });
        writeln!(out, "job {name:<20} next run {next}")?;
    }
    writeln!(out, "cs-pulse is running; stop it with Ctrl-C or SIGTERM.")?;
    out.flush()?;

    let signal = stop_signal.await;
    writeln!(
        out,
        "{signal}: stopping (waiting for running jobs and sends)…"
    )?;
    out.flush()?;
    chat.stop().await;
    scheduler.shutdown().await;
    // Jobs are done; the loop makes a last pass for what they queued, then returns.
    let _ = stop_tx.send(true);
    wake.notify_one();
    delivery.await.context("the delivery loop failed")?;
    writeln!(out, "stopped")?;
    Ok(Outcome::Ok)
}

/// A scorecard job naming a scorecard that is not defined, as an error message.
pub(crate) fn unknown_scorecards(
    config: &crate::config::Config,
    scorecards: &[crate::scorecard::ScorecardDef],
) -> Result<(), String> {
    for job in &config.jobs {
        if let JobKind::Scorecard {
            scorecard: Some(id),
        } = &job.kind
        {
            if !scorecards.iter().any(|d| &d.id == id) {
                let ids: Vec<&str> = scorecards.iter().map(|d| d.id.as_str()).collect();
                return Err(format!(
                    "job `{}` posts scorecard `{id}`, which is not defined (scorecards: {})",
                    job.name,
                    ids.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Sends what is due, then sleeps until the next retry, a wake-up or [`MAX_NAP`]; after a stop
/// it makes one last pass (a send in progress always completes) and returns.
async fn delivery_loop(
    deliverer: Arc<Deliverer>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopping = *stop.borrow();
        let nap = match deliverer.deliver_due(&wall_clock).await {
            Ok(report) => {
                crate::telemetry::record_delivery(&report.per_channel, report.pending);
                report
                    .next_due
                    .map(|t| (t - wall_clock()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(MAX_NAP)
                    .min(MAX_NAP)
            }
            Err(e) => {
                tracing::error!("cannot read the outbox: {e}");
                MAX_NAP
            }
        };
        if stopping {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
}

/// Starts listening for SIGINT (Ctrl-C) and, on Unix, SIGTERM at once (a signal arriving
/// before the future is awaited is not lost); the future gives the first one's name.
fn shutdown_signal() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                },
                (Ok(mut term), Err(_)) => tokio::select! {
                    _ = tokio::signal::ctrl_c() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                },
                (Err(_), _) => {
                    let _ = tokio::signal::ctrl_c().await;
                    "SIGINT"
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
