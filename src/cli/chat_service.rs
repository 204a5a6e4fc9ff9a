//! The chat side of `cs-pulse run`: with `[chat]` configured, one desk answers the Discord
//! gateway (poise) and the HTTP server's signed endpoints (Discord interactions, Slack `/cs`),
//! started with the service and stopped before it exits.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
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

/// The running chat tasks and their stop switch.
pub struct ChatService {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ChatService {
    /// Starts what `config` asks for: nothing without `[chat]` and `[server]`. Answers read
    /// the service's open `store` and the `rules` and `scorecards` it already loaded. Fails
    /// before starting anything on an unset secret, an invalid key or an address in use.
    pub async fn start(
        config: &Config,
        store: &SqliteStore,
        rules: Vec<Rule>,
        scorecards: Vec<ScorecardDef>,
        out: &mut dyn Write,
    ) -> Result<ChatService> {
        let (stop, stopped) = watch::channel(false);
        let mut service = ChatService {
            stop,
            tasks: vec![],
        };
        let chat = &config.chat;
        if chat.discord.is_none() && chat.slack.is_none() && config.server.is_none() {
            return Ok(service);
        }
        let desk = Arc::new(Desk::new(
            Arc::new(config.clone()),
            store.clone(),
            load_health(config)?,
            rules,
            scorecards,
        ));
        service.tasks.push(tokio::spawn(keep_warm(
            desk.clone(),
            until(stopped.clone()),
        )));

        if let Some(server) = &config.server {
            let options = ServerOptions::default();
            let http = options.http.clone();
            let router = server::router(desk.clone(), chat, options)?;
            let listener = tokio::net::TcpListener::bind(server.listen)
                .await
                .with_context(|| format!("cannot listen on {} ([server] listen)", server.listen))?;
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

        if let Some(d) = chat
            .discord
            .clone()
            .filter(|d| d.mode == DiscordMode::Gateway)
        {
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

/// Completes when the switch turns on (or its sender is gone).
async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}
