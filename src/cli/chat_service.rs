//! The chat side of `cs-pulse run`: with `[chat]` configured, one desk answers the Discord
//! gateway (poise) and the HTTP server's signed endpoints (Discord interactions, Slack `/cs`),
//! started with the service and stopped before it exits. With `[server]` the HTTP server also
//! serves the operations endpoints (`/healthz`, `/readyz`, `/metrics`), chat or not.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::load_health;
use crate::chat::discord;
use crate::chat::Desk;
use crate::config::{Config, DiscordMode};
use crate::rules::Rule;
use crate::scorecard::ScorecardDef;
use crate::server::{self, ServerOptions};
use crate::store::SqliteStore;

/// How long the chat tasks get to finish what they are answering after a stop.
const SETTLE: Duration = Duration::from_secs(10);
/// How often the desk's data is checked for a newer sync (and reloaded then), so that a
/// question does not pay the load (seconds at 100,000 accounts; docs/performance.md).
const REFRESH: Duration = Duration::from_secs(30);
/// How often the metrics recorder's histograms are drained when nobody scrapes `/metrics`.
const UPKEEP: Duration = Duration::from_secs(60);

/// The running chat tasks and their stop switch.
pub struct ChatService {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ChatService {
    /// Starts what `config` asks for: nothing without `[chat]` and `[server]`. Answers read
    /// the service's open `store` and the `rules` and `scorecards` it already loaded; `/metrics`
    /// renders `metrics` (not served without it). Fails before starting anything on an unset
    /// secret, an invalid key or an address in use. `bound` is a listener already bound to
    /// `[server] listen` (a reload binds a new address before stopping the running server).
    pub async fn start(
        config: &Config,
        store: &SqliteStore,
        rules: Vec<Rule>,
        scorecards: Vec<ScorecardDef>,
        metrics: Option<PrometheusHandle>,
        bound: Option<tokio::net::TcpListener>,
        out: &mut dyn Write,
    ) -> Result<ChatService> {
        let (stop, stopped) = watch::channel(false);
        let mut service = ChatService {
            stop,
            tasks: vec![],
        };
        let chat = &config.chat;
        let has_chat = chat.discord.is_some() || chat.slack.is_some();
        if !has_chat && config.server.is_none() {
            return Ok(service);
        }
        let desk = if has_chat {
            Some(Arc::new(Desk::new(
                Arc::new(config.clone()),
                store.clone(),
                load_health(config)?,
                rules,
                scorecards,
            )))
        } else {
            None
        };
        if let Some(desk) = &desk {
            service.tasks.push(tokio::spawn(keep_warm(
                desk.clone(),
                until(stopped.clone()),
            )));
        }

        if let Some(server) = &config.server {
            let options = ServerOptions::default();
            let http = options.http.clone();
            let ops = server::Ops::new(config, Arc::new(store.clone()), metrics.clone());
            let mut router = server::ops_routes(ops);
            if let Some(desk) = &desk {
                router = router.merge(server::router(desk.clone(), chat, options)?);
            }
            if let Some(handle) = metrics {
                service
                    .tasks
                    .push(tokio::spawn(upkeep(handle, until(stopped.clone()))));
            }
            let listener = match bound {
                Some(listener) => listener,
                None => bind(server.listen).await?,
            };
            let addr = listener.local_addr()?;
            writeln!(out, "listening on http://{addr}")?;
            if let Some(d) = chat
                .discord
                .as_ref()
                .filter(|d| d.mode == DiscordMode::Http)
            {
                // Registration failing (Discord down, a wrong guild) must not stop alerts.
                match discord::http::register_commands(d, &http).await {
                    Ok(n) => writeln!(
                        out,
                        "registered {n} Discord commands in guild {}",
                        d.guild_id
                    )?,
                    Err(e) => tracing::error!("{e:#}"),
                }
            }
            let stop = until(stopped.clone());
            service.tasks.push(tokio::spawn(async move {
                if let Err(e) = server::serve(listener, router, stop).await {
                    tracing::error!("the HTTP server stopped: {e}");
                }
            }));
        }

        if let (Some(d), Some(desk)) = (
            chat.discord
                .clone()
                .filter(|d| d.mode == DiscordMode::Gateway),
            &desk,
        ) {
            // An unset token is reported now, not from a background task.
            d.token.resolve("Discord bot token of [chat.discord]")?;
            let stop = until(stopped.clone());
            let desk = desk.clone();
            writeln!(
                out,
                "answering Discord commands in guild {} (gateway)",
                d.guild_id
            )?;
            service.tasks.push(tokio::spawn(async move {
                if let Err(e) = discord::gateway::run(desk, &d, stop).await {
                    tracing::error!("Discord gateway: {e:#}");
                }
            }));
        }
        Ok(service)
    }

    /// Stops answering and waits (a bounded time) for the answers under way.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let all = futures_util::future::join_all(self.tasks);
        if tokio::time::timeout(SETTLE, all).await.is_err() {
            tracing::warn!("chat tasks did not stop within {SETTLE:?}");
        }
    }
}

/// A listener on `[server] listen`.
pub async fn bind(listen: std::net::SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([server] listen)"))
}

/// Loads the desk's data now and again after each sync, until `stop`.
async fn keep_warm(desk: Arc<Desk>, stop: impl std::future::Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    loop {
        if let Err(e) = desk.data.get().await {
            tracing::debug!("chat data not loaded: {e}");
        }
        tokio::select! {
            () = tokio::time::sleep(REFRESH) => {}
            () = &mut stop => return,
        }
    }
}

/// Drains the metrics recorder's histograms now and then, until `stop`.
async fn upkeep(handle: PrometheusHandle, stop: impl std::future::Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            () = tokio::time::sleep(UPKEEP) => handle.run_upkeep(),
            () = &mut stop => return,
        }
    }
}

/// Completes when the switch turns on (or its sender is gone).
async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}
