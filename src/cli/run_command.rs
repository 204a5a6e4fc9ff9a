//! `cs-pulse run`: the long-running service. The scheduler runs the configured jobs (sync,
//! evaluate, scorecard) at their cron times; a delivery loop sends what the outbox holds,
//! waking when a job queues messages or a retry falls due; with `[chat]` it answers commands
//! and with `[server]` it serves `/healthz`, `/readyz` and `/metrics` ([`super::chat_service`]).
//! On SIGHUP or a change of its files ([`super::reload`]) it validates the new files first and
//! either replaces the running parts with a new generation on the same store (alert state is in
//! the store, so it is kept) or refuses the change and keeps running. A valid change that cannot
//! start (a new `[server] listen` address in use…) is not applied either: a new address is bound
//! before the running server stops, and whatever else fails brings the previous config back. On
//! SIGINT or SIGTERM it stops answering, stops starting jobs, lets running ones finish, settles
//! in-flight sends, and exits.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{watch, Notify};

use super::chat_service::ChatService;
use super::delivery::{deliverer, MAX_NAP};
use super::reload::{watched_paths, Trigger, Watch};
use super::rules_commands::{load_rules_of, rules_or_report};
use super::scorecard_command::definitions_of;
use super::service_jobs::ServiceJobs;
use super::{load_config, wall_clock, Outcome};
use crate::config::{Config, ConfigError, JobKind};
use crate::notify::console::ConsoleSink;
use crate::notify::message::{Message, Section, Tone};
use crate::notify::outbox::Deliverer;
use crate::notify::outbox::Outgoing;
use crate::rules::Rule;
use crate::scheduler::Scheduler;
use crate::scorecard::ScorecardDef;
use crate::store::{OutboxStore, SqliteStore};
use metrics_exporter_prometheus::PrometheusHandle;

pub async fn run_command(path: &Path, out: &mut dyn Write) -> Result<Outcome> {
    // Listening from the start: a SIGTERM once jobs run (or right after the banner) stops the
    // service gracefully instead of killing it; a SIGHUP reloads instead of killing it.
    let stop_signal = shutdown_signal();
    let config = load_config(path)?;
    let mut watch = Watch::new(watched_paths(path, &config));
    let Some(rules) = rules_or_report(&config, out)? else {
        return Ok(Outcome::Problems);
    };
    let scorecards = definitions_of(&config, None)?;
    unknown_scorecards(&config, &scorecards).map_err(|e| anyhow::anyhow!(e))?;
    let store = SqliteStore::open(&config.store_path)
        .await
        .with_context(|| format!("cannot open the store {}", config.store_path.display()))?;
    let deliverer = deliverer(&config, &store, Arc::new(ConsoleSink::stdout()))?;

    // Messages that ran out of attempts before this start get another chance.
    let retried = store.retry_failed(&[], wall_clock()).await?;
    if retried > 0 {
        tracing::info!(retried, "failed messages queued again at start");
    }

    let metrics = service_metrics(&config);
    let loaded = Loaded {
        config,
        rules,
        scorecards,
        deliverer,
    };
    let mut current = Generation::start(loaded, &store, metrics.clone(), None, out).await?;
    if current.loaded_config.jobs.is_empty() {
        writeln!(
            out,
            "No [jobs] configured: only the messages already in the outbox will be delivered."
        )?;
    }
    writeln!(out, "cs-pulse is running; stop it with Ctrl-C or SIGTERM.")?;
    out.flush()?;

    let mut stop_signal = std::pin::pin!(stop_signal);
    let signal = loop {
        tokio::select! {
            signal = &mut stop_signal => break signal,
            trigger = watch.next() => {
                current = reload(path, trigger, current, &store, &mut watch, out).await?;
            }
        }
    };
    writeln!(
        out,
        "{signal}: stopping (waiting for running jobs and sends)…"
    )?;
    out.flush()?;
    current.stop().await?;
    writeln!(out, "stopped")?;
    Ok(Outcome::Ok)
}

/// A config with its rules, scorecards and channels, validated and ready to run.
struct Loaded {
    config: Config,
    rules: Vec<Rule>,
    scorecards: Vec<ScorecardDef>,
    deliverer: Deliverer,
}

/// Loads and validates everything a generation runs on, as at start (the config, the rules,
/// the scorecards, the channels and their secrets), without printing: every problem is
/// returned, one entry each (a rule file's diagnostics rendered together, counted one by one).
fn load_all(path: &Path, store: &SqliteStore, running: &Config) -> Result<Loaded, Refusal> {
    let config = Config::load(path).map_err(|e| match e {
        ConfigError::Invalid(d) => Refusal::invalid(d.len(), d.to_string()),
        other => Refusal::one(other.to_string()),
    })?;
    if config.store_path != running.store_path {
        return Err(Refusal::one(format!(
            "[store] path changed from {} to {}: the store cannot change while cs-pulse runs; restart it to use the new store",
            running.store_path.display(),
            config.store_path.display()
        )));
    }
    let rules = load_rules_of(&config).map_err(|d| Refusal::invalid(d.len(), d.to_string()))?;
    super::load_health(&config).map_err(|e| Refusal::one(format!("{e:#}")))?;
    let scorecards = definitions_of(&config, None).map_err(|e| Refusal::one(format!("{e:#}")))?;
    unknown_scorecards(&config, &scorecards).map_err(Refusal::one)?;
    let deliverer = deliverer(&config, store, Arc::new(ConsoleSink::stdout()))
        .map_err(|e| Refusal::one(format!("{e:#}")))?;
    Ok(Loaded {
        config,
        rules,
        scorecards,
        deliverer,
    })
}

/// Why a change was not applied: the problems, rendered, and how many there are.
#[derive(Debug)]
struct Refusal {
    count: usize,
    text: String,
    /// The new files were valid, but what they describe could not start.
    cannot_start: bool,
}

impl Refusal {
    /// `count` problems in the new files (at least one), rendered together in `text`.
    fn invalid(count: usize, text: String) -> Refusal {
        Refusal {
            count: count.max(1),
            text,
            cannot_start: false,
        }
    }

    /// One problem in the new files.
    fn one(text: String) -> Refusal {
        Refusal::invalid(1, text)
    }

    /// Valid new files whose start failed with `error`.
    fn cannot_start(error: &anyhow::Error) -> Refusal {
        Refusal {
            count: 1,
            text: format!("{error:#}"),
            cannot_start: true,
        }
    }
}

/// Applies a change: validates the new files first; a valid change replaces the running
/// generation (stopped gracefully, the new one started on the same store, so alert state is
/// kept); an invalid one is logged and announced, and the running generation stays. So is a
/// valid one that cannot start: a new listen address in use is found before the running
/// generation stops (it keeps serving); any other failure to start starts the previous config
/// again.
async fn reload(
    path: &Path,
    trigger: Trigger,
    current: Generation,
    store: &SqliteStore,
    watch: &mut Watch,
    out: &mut dyn Write,
) -> Result<Generation> {
    tracing::info!(%trigger, "reloading the config");
    let (loaded, listener) = match prepare(path, store, &current.loaded_config).await {
        Ok(prepared) => prepared,
        Err(refusal) => {
            // The files as they are now were judged: the next poll does not refuse them again.
            watch.rebase(watched_paths(path, &current.loaded_config));
            refuse(&current, store, trigger, &refusal).await;
            return Ok(current);
        }
    };
    watch.rebase(watched_paths(path, &loaded.config));
    let metrics = current.metrics.clone();
    let previous = current.stop().await?;
    // The new server listens on `listener` (a new address, bound above) or on the address the
    // old server has just let go.
    let metrics = metrics.or_else(|| service_metrics(&loaded.config));
    match Generation::start(loaded, store, metrics.clone(), listener, out).await {
        Ok(next) => {
            let (rules, jobs) = (next.rules.len(), next.loaded_config.jobs.len());
            let line = format!(
                "reloaded ({trigger}): {rules} rule{}, {jobs} job{}",
                if rules == 1 { "" } else { "s" },
                if jobs == 1 { "" } else { "s" }
            );
            tracing::info!("{line}");
            writeln!(out, "{line}")?;
            out.flush()?;
            Ok(next)
        }
        Err(e) => {
            // The new config validated but could not start (a secret unset…): back to the old.
            let refusal = Refusal::cannot_start(&e);
            let (config, rules, scorecards) = previous;
            let deliverer = deliverer(&config, store, Arc::new(ConsoleSink::stdout()))?;
            let previous = Loaded {
                config,
                rules,
                scorecards,
                deliverer,
            };
            let old = Generation::start(previous, store, metrics, None, out)
                .await
                .context("cannot start the previous config again after a failed reload")?;
            watch.rebase(watched_paths(path, &old.loaded_config));
            refuse(&old, store, trigger, &refusal).await;
            Ok(old)
        }
    }
}

/// The service's counters for `/metrics`: installed only when `config` has a `[server]` to
/// serve them (one-shot commands record nothing).
fn service_metrics(config: &Config) -> Option<PrometheusHandle> {
    config
        .server
        .as_ref()
        .and_then(|_| crate::telemetry::install())
}

/// Everything a change needs before the running generation stops: the new files, validated
/// ([`load_all`]), and a new listen address, bound ([`bind_new_listen`]).
async fn prepare(
    path: &Path,
    store: &SqliteStore,
    running: &Config,
) -> Result<(Loaded, Option<tokio::net::TcpListener>), Refusal> {
    let loaded = load_all(path, store, running)?;
    let listener = bind_new_listen(running, &loaded.config)
        .await
        .map_err(|e| Refusal::cannot_start(&e))?;
    Ok((loaded, listener))
}

/// Binds `next`'s `[server] listen` now when the running server does not hold that address
/// (a changed port, or another interface), so that an address in use refuses the change while
/// the running generation keeps serving. The same address is bound by the new generation once
/// the running one has let it go.
async fn bind_new_listen(
    running: &Config,
    next: &Config,
) -> Result<Option<tokio::net::TcpListener>> {
    let Some(server) = &next.server else {
        return Ok(None);
    };
    if running
        .server
        .as_ref()
        .is_some_and(|old| holds(old.listen, server.listen))
    {
        return Ok(None);
    }
    super::chat_service::bind(server.listen).await.map(Some)
}

/// Whether a server listening on `old` keeps `new` from being bound beside it: the same port
/// (not 0, which picks a free one) on the same address, or with either on every address.
fn holds(old: SocketAddr, new: SocketAddr) -> bool {
    old.port() == new.port()
        && old.port() != 0
        && (old.ip() == new.ip() || old.ip().is_unspecified() || new.ip().is_unspecified())
}

/// Reports a refused change: every problem in the log, and one operator message on the
/// running config's `console` channel (in the log only when it has none).
async fn refuse(current: &Generation, store: &SqliteStore, trigger: Trigger, refusal: &Refusal) {
    if refusal.cannot_start {
        tracing::error!(
            "config change not applied ({trigger}): the new config is valid but cannot start; the running config stays:\n{}",
            refusal.text.trim_end()
        );
    } else {
        tracing::error!(
            "config change refused ({trigger}): {} problem{}; the running config stays:\n{}",
            refusal.count,
            if refusal.count == 1 { "" } else { "s" },
            refusal.text.trim_end()
        );
    }
    let console = crate::config::DEFAULT_CHANNEL;
    if !current
        .loaded_config
        .channels
        .iter()
        .any(|c| c.name == console)
    {
        return;
    }
    let now = wall_clock();
    let item = Outgoing {
        channel: console.to_string(),
        dedup: format!("reload-refused|{}|{console}", now.to_rfc3339()),
        message: refusal_message(trigger, refusal),
        alert: None,
    };
    match store.enqueue(&[], &[item], now).await {
        Ok(_) => current.wake.notify_one(),
        Err(e) => tracing::error!("cannot queue the refused-reload message: {e}"),
    }
}

/// The operator message of a refused change: how many problems the new files have (each is in
/// the log), or why valid new files could not start (errors never hold a secret's value).
fn refusal_message(trigger: Trigger, refusal: &Refusal) -> Message {
    let (title, lines) = if refusal.cannot_start {
        (
            "⚠️ Config change not applied",
            vec![
                format!(
                    "The new files are valid, but they could not start: {}",
                    refusal.text.trim_end()
                ),
                "cs-pulse keeps running with the config it had; fix the cause and reload again."
                    .to_string(),
            ],
        )
    } else {
        (
            "⚠️ Config change refused",
            vec![
                format!(
                    "{} problem{} in the new files; cs-pulse keeps running with the config it had.",
                    refusal.count,
                    if refusal.count == 1 { "" } else { "s" }
                ),
                "Every problem is in the log; `cs-pulse check` shows them too.".to_string(),
            ],
        )
    };
    Message {
        title: title.to_string(),
        tone: Tone::Warning,
        sections: vec![Section {
            lines,
            ..Section::default()
        }],
        footer: format!("reload on {trigger}"),
        ..Message::default()
    }
}

/// The running parts of one config: chat and server, scheduler and delivery loop. A reload
/// stops one generation and starts the next on the same store.
struct Generation {
    chat: ChatService,
    scheduler: Scheduler,
    stop_tx: watch::Sender<bool>,
    wake: Arc<Notify>,
    delivery: tokio::task::JoinHandle<()>,
    metrics: Option<PrometheusHandle>,
    loaded_config: Config,
    /// What to start again if the next generation cannot start.
    rules: Vec<Rule>,
    scorecards: Vec<ScorecardDef>,
}

impl Generation {
    /// Starts everything `loaded` describes; `listener`, when given, is its `[server] listen`
    /// address, already bound.
    async fn start(
        loaded: Loaded,
        store: &SqliteStore,
        metrics: Option<PrometheusHandle>,
        listener: Option<tokio::net::TcpListener>,
        out: &mut dyn Write,
    ) -> Result<Generation> {
        let Loaded {
            config,
            rules,
            scorecards,
            deliverer,
        } = loaded;
        let deliverer = Arc::new(deliverer);
        let chat = ChatService::start(
            &config,
            store,
            rules.clone(),
            scorecards.clone(),
            metrics.clone(),
            listener,
            out,
        )
        .await?;
        let wake = Arc::new(Notify::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let delivery = tokio::spawn(delivery_loop(deliverer.clone(), wake.clone(), stop_rx));
        let jobs = config.jobs.clone();
        let executor = Arc::new(ServiceJobs {
            config: config.clone(),
            rules: rules.clone(),
            scorecards: scorecards.clone(),
            store: store.clone(),
            deliverer: deliverer.clone(),
            wake: wake.clone(),
        });
        let scheduler = match Scheduler::start(&jobs, executor, Arc::new(store.clone())).await {
            Ok(s) => s,
            Err(e) => {
                chat.stop().await;
                let _ = stop_tx.send(true);
                wake.notify_one();
                let _ = delivery.await;
                return Err(e.into());
            }
        };
        for (name, stats) in scheduler.stats() {
            let next = stats.next_run.map_or("never".to_string(), |t| {
                t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            });
            writeln!(out, "job {name:<20} next run {next}")?;
        }
        Ok(Generation {
            chat,
            scheduler,
            stop_tx,
            wake,
            delivery,
            metrics,
            loaded_config: config,
            rules,
            scorecards,
        })
    }

    /// Stops answering, stops starting jobs, lets running ones finish, and settles in-flight
    /// sends (the loop makes a last pass for what the jobs queued); gives back the config and
    /// rules it ran.
    async fn stop(self) -> Result<(Config, Vec<Rule>, Vec<ScorecardDef>)> {
        self.chat.stop().await;
        self.scheduler.shutdown().await;
        let _ = self.stop_tx.send(true);
        self.wake.notify_one();
        self.delivery.await.context("the delivery loop failed")?;
        Ok((self.loaded_config, self.rules, self.scorecards))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_address_is_bound_beside_the_running_server_unless_it_holds_it() {
        let at = |s: &str| s.parse::<SocketAddr>().expect("an address");
        assert!(holds(at("127.0.0.1:8080"), at("127.0.0.1:8080")));
        assert!(holds(at("0.0.0.0:8080"), at("127.0.0.1:8080")));
        assert!(holds(at("127.0.0.1:8080"), at("[::]:8080")));
        assert!(!holds(at("127.0.0.1:8080"), at("127.0.0.1:8081")));
        assert!(!holds(at("127.0.0.1:8080"), at("10.0.0.5:8080")));
        assert!(!holds(at("127.0.0.1:0"), at("127.0.0.1:0")));
    }

    #[test]
    fn a_refused_change_tells_how_many_problems_and_where_they_are() {
        let refusal = Refusal::invalid(2, "rules/broken.toml:3:1: …".to_string());
        insta::assert_snapshot!(refusal_message(Trigger::Hangup, &refusal).to_text());
    }

    #[test]
    fn a_valid_change_that_cannot_start_tells_why() {
        let error = anyhow::anyhow!("Address already in use (os error 98)")
            .context("cannot listen on 127.0.0.1:8080 ([server] listen)");
        let refusal = Refusal::cannot_start(&error);
        assert_eq!(refusal.count, 1);
        insta::assert_snapshot!(refusal_message(Trigger::FilesChanged, &refusal).to_text());
    }
}
