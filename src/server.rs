//! The HTTP server of `cs-pulse run`: the chat platforms' signed callbacks (Discord's
//! interactions endpoint, Slack's `/cs` command and interactivity) mounted only for the platforms
//! configured, on one axum [`Router`]. It also holds what those endpoints share: the clock and the
//! answer deadline (parameters, so that tests pass time and force the deferred path), the
//! timestamp window of signed requests and the guard against replayed signatures.
//!
//! Beside them, the operations endpoints ([`ops_routes`]), served whenever `[server]` is set:
//! `/healthz` (the process answers), `/readyz` (the store answers and every source's last good
//! sync is within `[data_quality] max_age`; the text says which source is not and why, from the
//! pure [`readiness`]) and `/metrics` (Prometheus text format, [`crate::telemetry`]).

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::chat::discord;
use crate::chat::slack;
use crate::chat::Desk;
use crate::config::duration::format_duration;
use crate::config::{ChatConfig, Config, DiscordMode};
use crate::scheduler::{Clock, SystemClock};
use crate::store::Store;

/// How long a command may take before the platform is told "working on it" (both Discord and
/// Slack give up after 3 seconds; the rest is for the network).
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2500);
/// A signed request older than this (seconds) is refused.
pub const MAX_AGE_SECS: i64 = 5 * 60;
/// A Discord request dated further ahead than this (seconds; clock skew) is refused.
pub const MAX_AHEAD_SECS: i64 = 60;
/// How many recent signatures the replay guard remembers at most.
pub const REPLAY_MEMORY: usize = 65_536;

/// What the chat endpoints share.
#[derive(Clone)]
pub struct Context {
    pub desk: Arc<Desk>,
    /// Where "now" comes from, for signature windows and answers.
    pub clock: Arc<dyn Clock>,
    /// Answers slower than this are deferred and delivered later; zero always defers.
    pub answer_within: Duration,
    /// The client for Discord's webhooks and Slack's `response_url`s.
    pub http: reqwest::Client,
}

/// How the server is run; [`ServerOptions::default`] is production's.
#[derive(Clone)]
pub struct ServerOptions {
    pub clock: Arc<dyn Clock>,
    pub answer_within: Duration,
    pub http: reqwest::Client,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            clock: Arc::new(SystemClock),
            answer_within: ANSWER_WITHIN,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
        }
    }
}

/// The router of the chat endpoints configured in `chat`: `/discord/interactions` when Discord
/// is in `http` mode, `/slack/commands` and `/slack/interactions` when Slack is configured.
/// Fails when a credential is missing (an unset signing secret, a bad public key).
pub fn router(
    desk: Arc<Desk>,
    chat: &ChatConfig,
    options: ServerOptions,
) -> anyhow::Result<Router> {
    let context = Context {
        desk,
        clock: options.clock,
        answer_within: options.answer_within,
        http: options.http,
    };
    let mut router = Router::new();
    if let Some(d) = chat
        .discord
        .as_ref()
        .filter(|d| d.mode == DiscordMode::Http)
    {
        router = router.merge(
            discord::http::routes(context.clone(), d)
                .context("the Discord interactions endpoint")?,
        );
    }
    if let Some(s) = &chat.slack {
        router = router.merge(slack::routes(context.clone(), s).context("the Slack endpoints")?);
    }
    Ok(router)
}

/// The content type of `/metrics`: Prometheus's text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the operations endpoints read.
#[derive(Clone)]
pub struct Ops {
    /// The service's store: asked for its sync history.
    pub store: Arc<dyn Store>,
    /// The configured sources, in configuration order.
    pub sources: Vec<String>,
    /// How old a source's last good sync may be (`[data_quality] max_age`).
    pub max_age: chrono::Duration,
    /// Where "now" comes from, for sync ages.
    pub clock: Arc<dyn Clock>,
    /// Renders `/metrics`; without it, `/metrics` is not served.
    pub metrics: Option<PrometheusHandle>,
}

impl Ops {
    /// The endpoints of `config`'s sources and bound over `store`, on the system clock.
    pub fn new(config: &Config, store: Arc<dyn Store>, metrics: Option<PrometheusHandle>) -> Ops {
        Ops {
            store,
            sources: config.sources.iter().map(|s| s.name.clone()).collect(),
            max_age: config.data_quality.max_age,
            clock: Arc::new(SystemClock),
            metrics,
        }
    }
}

/// `/healthz`, `/readyz` and (with a metrics handle) `/metrics`.
pub fn ops_routes(ops: Ops) -> Router {
    let mut router = Router::new().route("/healthz", get(|| async { "ok\n" }));
    if let Some(handle) = ops.metrics.clone() {
        router = router.route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move { ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], handle.render()) }
            }),
        );
    }
    router.merge(Router::new().route("/readyz", get(readyz)).with_state(ops))
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let now = ops.clock.now();
    let mut last_good = Vec::with_capacity(ops.sources.len());
    // A cheap query first, so that a store without sources is checked too.
    let mut reachable = ops.store.sync_runs(None, 1).await.map(|_| ());
    for source in &ops.sources {
        if reachable.is_err() {
            break;
        }
        match ops.store.last_good_run(source, false).await {
            Ok(run) => last_good.push((source.clone(), run.map(|r| r.finished_at))),
            Err(e) => reachable = Err(e),
        }
    }
    let report = match reachable {
        Ok(()) => readiness(&last_good, now, ops.max_age),
        Err(e) => {
            // The error may name paths: the log has it, the answer does not.
            tracing::warn!("/readyz: the store is not reachable: {e}");
            Readiness {
                ready: false,
                text: "not ready\nstore: not reachable (the error is in the log)\n".to_string(),
            }
        }
    };
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, report.text).into_response()
}

/// Whether the service is ready, and the text `/readyz` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    pub text: String,
}

/// Readiness from each source's last good sync (`None`: never synced) at `now`, the store having
/// answered: ready when every source has a good sync at most `max_age` old. The text has a first
/// line `ready` or `not ready`, then one line for the store and one per source.
pub fn readiness(
    last_good: &[(String, Option<DateTime<Utc>>)],
    now: DateTime<Utc>,
    max_age: chrono::Duration,
) -> Readiness {
    let mut ready = true;
    let mut lines = vec!["store: reachable".to_string()];
    if last_good.is_empty() {
        lines.push("no sources configured".to_string());
    }
    for (source, at) in last_good {
        let line = match at {
            None => {
                ready = false;
                format!("source {source}: never synced successfully")
            }
            Some(at) => {
                let age = (now - *at).max(chrono::Duration::zero());
                if age > max_age {
                    ready = false;
                    format!(
                        "source {source}: last good sync {} ago, older than its bound of {}",
                        age_text(age),
                        format_duration(max_age)
                    )
                } else {
                    format!(
                        "source {source}: last good sync {} ago (bound {})",
                        age_text(age),
                        format_duration(max_age)
                    )
                }
            }
        };
        lines.push(line);
    }
    let head = if ready { "ready" } else { "not ready" };
    Readiness {
        ready,
        text: format!("{head}\n{}\n", lines.join("\n")),
    }
}

/// An age in the config's duration syntax, to the second (`0s` rather than `0`).
fn age_text(age: chrono::Duration) -> String {
    if age.num_seconds() == 0 {
        "0s".to_string()
    } else {
        format_duration(age)
    }
}

/// Serves `router` on `listener` until `shutdown` completes (then finishes the requests under way).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Whether a signed request's timestamp (Unix seconds) is at most [`MAX_AGE_SECS`] old and at
/// most `max_ahead` seconds in the future of `now` ([`MAX_AHEAD_SECS`] for Discord; Slack's
/// documented window is symmetric, [`MAX_AGE_SECS`] both ways).
pub fn timestamp_fresh(timestamp: i64, now: DateTime<Utc>, max_ahead: i64) -> bool {
    let now = now.timestamp();
    timestamp >= now - MAX_AGE_SECS && timestamp <= now + max_ahead
}

/// Remembers the signatures of recently accepted requests, so that a captured request sent
/// again within the timestamp window is refused. Bounded: entries older than the window are
/// forgotten (their timestamps are refused anyway), and at most [`REPLAY_MEMORY`] are kept.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    keys: HashSet<String>,
    order: VecDeque<(i64, String)>,
}

impl ReplayGuard {
    pub fn new() -> ReplayGuard {
        ReplayGuard::default()
    }

    /// Records `signature` (of a request dated `timestamp`); false when it was seen already.
    pub fn first_time(&self, signature: &str, timestamp: i64, now: DateTime<Utc>) -> bool {
        let oldest = now.timestamp() - MAX_AGE_SECS;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let Seen { keys, order } = &mut *seen;
        while let Some((ts, key)) = order.front() {
            if *ts < oldest || order.len() >= REPLAY_MEMORY {
                keys.remove(key);
                order.pop_front();
            } else {
                break;
            }
        }
        if keys.contains(signature) {
            return false;
        }
        keys.insert(signature.to_string());
        order.push_back((timestamp, signature.to_string()));
        true
    }
}

/// A refused request: the status and a short reason for whoever sent it.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: String,
}

impl Refusal {
    /// 401: the request is not provably from the platform (or is a replay, or stale).
    pub fn unauthorized(reason: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            reason: reason.into(),
        }
    }

    /// 400: signed, but not something cs-pulse can read.
    pub fn bad_request(reason: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, self.reason).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).expect("time")
    }

    #[test]
    fn ready_only_when_every_source_is_fresh() {
        let now = at(1_000_000);
        let max_age = chrono::Duration::hours(36);
        let fresh = Some(at(1_000_000 - 7_200));
        let stale = Some(at(1_000_000 - 3 * 86_400));
        let r = readiness(&[("crm".into(), fresh)], now, max_age);
        assert!(r.ready, "{}", r.text);
        assert!(r.text.starts_with("ready\n"), "{}", r.text);
        for sources in [
            vec![("crm".to_string(), fresh), ("billing".to_string(), None)],
            vec![("crm".to_string(), stale)],
        ] {
            let r = readiness(&sources, now, max_age);
            assert!(!r.ready && r.text.starts_with("not ready\n"), "{}", r.text);
        }
        // A sync dated in the future (clock skew) counts as just now.
        let ahead = readiness(&[("crm".into(), Some(at(1_000_100)))], now, max_age);
        assert!(
            ahead.ready && ahead.text.contains("0s ago"),
            "{}",
            ahead.text
        );
        assert!(readiness(&[], now, max_age).ready);
    }

    #[test]
    fn window_is_five_minutes_back_and_as_asked_ahead() {
        let now = at(1_000_000);
        let fresh = |ts| timestamp_fresh(ts, now, MAX_AHEAD_SECS);
        assert!(fresh(1_000_000));
        assert!(fresh(1_000_000 - 300));
        assert!(!fresh(1_000_000 - 301));
        assert!(fresh(1_000_000 + 60));
        assert!(!fresh(1_000_000 + 61));
        assert!(timestamp_fresh(1_000_000 + 300, now, MAX_AGE_SECS));
        assert!(!timestamp_fresh(1_000_000 + 301, now, MAX_AGE_SECS));
    }

    #[test]
    fn replay_guard_refuses_a_signature_twice_and_forgets_old_ones() {
        let guard = ReplayGuard::new();
        assert!(guard.first_time("a", 1_000, at(1_000)));
        assert!(!guard.first_time("a", 1_000, at(1_010)));
        assert!(guard.first_time("b", 1_010, at(1_010)));
        // After the window, "a" is forgotten (its timestamp would be refused as stale anyway).
        assert!(guard.first_time("c", 1_400, at(1_400)));
        assert_eq!(
            guard.seen.lock().unwrap().keys.len(),
            1,
            "a and b were pruned"
        );
    }
}
