//! The operations endpoints of `cs-pulse run`: `/healthz`, `/readyz` and `/metrics`, served by
//! the real router over a real SQLite store on 127.0.0.1 and driven with reqwest; syncs go
//! through the real sync engine with a scripted source. Time is passed in (a clock the test
//! sets), so the readiness texts are exact and snapshotted. Last, the real binary: `cs-pulse
//! run` with `[server]` and no chat serves all three, its jobs' counters included.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use indicatif::ProgressBar;
use reqwest::StatusCode;

use cs_pulse::model::{Account, Dataset};
use cs_pulse::scheduler::Clock;
use cs_pulse::server::{self, Ops};
use cs_pulse::sources::{FetchRequest, Fetched, Source, SourceError};
use cs_pulse::store::SqliteStore;
use cs_pulse::sync::{sync_source, SyncOptions};
use cs_pulse::telemetry;

/// A clock the test moves.
struct SetClock(Mutex<DateTime<Utc>>);

impl SetClock {
    fn at(t: DateTime<Utc>) -> Arc<SetClock> {
        Arc::new(SetClock(Mutex::new(t)))
    }
    fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().expect("clock") = t;
    }
}

impl Clock for SetClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

/// A source that answers with `accounts` accounts, or fails when `accounts` is `None`.
struct Scripted {
    name: String,
    accounts: Option<usize>,
}

#[async_trait]
impl Source for Scripted {
    fn name(&self) -> &str {
        &self.name
    }
    async fn fetch(
        &self,
        _request: &FetchRequest<'_>,
        _progress: &ProgressBar,
    ) -> Result<Fetched, SourceError> {
        let Some(n) = self.accounts else {
            return Err(SourceError::Io {
                path: "data/accounts.csv".into(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file"),
            });
        };
        let accounts = (0..n)
            .map(|i| Account {
                id: format!("a{i}"),
                name: format!("Account {i}"),
                ..Account::default()
            })
            .collect();
        Ok(Fetched::full(Dataset::new(accounts).expect("distinct ids")))
    }
}

/// Syncs a scripted source named `name` into `store` at `at` (both times of the run).
async fn sync(store: &SqliteStore, name: &str, accounts: Option<usize>, at: DateTime<Utc>) {
    let source = Scripted {
        name: name.to_string(),
        accounts,
    };
    let clock = move || at;
    let result = sync_source(
        &source,
        store,
        &clock,
        &ProgressBar::hidden(),
        SyncOptions::default(),
    )
    .await;
    assert_eq!(result.is_ok(), accounts.is_some(), "{result:?}");
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 6, 0, 0).unwrap()
}

/// The operations routes over `store` served on 127.0.0.1; returns the base URL.
async fn serve(ops: Ops) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(server::serve(
        listener,
        server::ops_routes(ops),
        std::future::pending(),
    ));
    base
}

fn ops(store: &SqliteStore, sources: &[&str], clock: Arc<SetClock>) -> Ops {
    Ops {
        store: Arc::new(store.clone()),
        sources: sources.iter().map(|s| s.to_string()).collect(),
        max_age: chrono::Duration::hours(36),
        clock,
        metrics: telemetry::install(),
    }
}

async fn get(base: &str, path: &str) -> (StatusCode, String, String) {
    let response = reqwest::get(format!("{base}{path}")).await.expect("GET");
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.text().await.expect("body"))
}

#[tokio::test]
async fn healthz_says_ok() {
    let store = SqliteStore::open_in_memory().await.expect("store");
    let base = serve(ops(&store, &["crm"], SetClock::at(t0()))).await;
    let (status, _, body) = get(&base, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn readyz_needs_every_source_synced_within_its_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("pulse.db"))
        .await
        .expect("store");
    let clock = SetClock::at(t0());
    let base = serve(ops(&store, &["crm", "billing"], clock.clone())).await;

    let (status, _, never) = get(&base, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    insta::assert_snapshot!("readyz_never_synced", never);

    // crm synced; billing's only sync failed: still not ready, because of billing alone.
    sync(&store, "crm", Some(3), t0() - chrono::Duration::hours(2)).await;
    sync(&store, "billing", None, t0() - chrono::Duration::hours(1)).await;
    let (status, _, one) = get(&base, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    insta::assert_snapshot!("readyz_one_source_never_synced", one);

    sync(
        &store,
        "billing",
        Some(2),
        t0() - chrono::Duration::minutes(30),
    )
    .await;
    let (status, _, ready) = get(&base, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    insta::assert_snapshot!("readyz_ready", ready);

    // Two days later without a sync: both are older than the 36 h bound.
    clock.set(t0() + chrono::Duration::days(2));
    let (status, _, stale) = get(&base, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    insta::assert_snapshot!("readyz_stale", stale);
}

#[tokio::test]
async fn readyz_says_when_the_store_does_not_answer() {
    let store = SqliteStore::open_in_memory().await.expect("store");
    sync(&store, "crm", Some(1), t0()).await;
    let base = serve(ops(&store, &["crm"], SetClock::at(t0()))).await;
    assert_eq!(get(&base, "/readyz").await.0, StatusCode::OK);
    store.close().await;
    let (status, _, body) = get(&base, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    insta::assert_snapshot!("readyz_store_unreachable", body);
}

/// The samples of a Prometheus text page: `name{labels}` → value (comments skipped).
fn samples(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample of `name` whose labels are exactly `labels` (in any order).
fn sample(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut want: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    want.sort();
    samples.iter().find_map(|(series, value)| {
        let (n, rest) = series.split_once('{').unwrap_or((series.as_str(), "}"));
        let mut got: Vec<String> = rest
            .strip_suffix('}')?
            .split(',')
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        got.sort();
        (n == name && got == want).then_some(*value)
    })
}

#[tokio::test]
async fn metrics_count_syncs_per_source_and_outcome() {
    let store = SqliteStore::open_in_memory().await.expect("store");
    // A source name no other test of this process syncs (the recorder is process-wide).
    let name = "metrics_crm";
    let base = serve(ops(&store, &[name], SetClock::at(t0()))).await;
    sync(&store, name, Some(4), t0()).await;
    sync(&store, name, None, t0() + chrono::Duration::hours(1)).await;
    sync(&store, name, Some(5), t0() + chrono::Duration::hours(2)).await;

    let (status, content_type, page) = get(&base, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let s = samples(&page);
    let runs = |outcome| {
        sample(
            &s,
            telemetry::SYNC_RUNS,
            &[("source", name), ("outcome", outcome)],
        )
    };
    assert_eq!(runs("ok"), Some(2.0), "{page}");
    assert_eq!(runs("failed"), Some(1.0), "{page}");
    // Five accounts, one record each: what the last good sync stored.
    assert_eq!(
        sample(&s, telemetry::SYNC_ROWS, &[("source", name)]),
        Some(5.0),
        "{page}"
    );
    let durations = format!("{}_count", telemetry::SYNC_DURATION);
    assert_eq!(
        sample(&s, &durations, &[("source", name)]),
        Some(3.0),
        "{page}"
    );
    assert!(
        page.contains(&format!("# TYPE {} histogram", telemetry::SYNC_DURATION)),
        "{page}"
    );
}

// --- The real binary --------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn cs_pulse_run_serves_health_readiness_and_metrics_without_chat() {
    use common::service::{http_get, poll, Service};

    // `GET path` on the service at `addr`: the status code and the body.
    let get = |addr: &str, path: &str| http_get(addr, path).expect("connect to the service");

    let repo = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            r#"timezone = "UTC"
reporting_currency = "USD"
[fx]
EUR = 1.08
[metrics]
features_available = 12
[rules]
paths = ["{repo}/rules"]
[health]
model = "{repo}/rules/health.toml"
[sources.sample]
kind = "demo"
accounts = 60
seed = 3
[server]
listen = "127.0.0.1:0"
[jobs.sync]
kind = "sync"
cron = "* * * * * *"
[jobs.eval]
kind = "evaluate"
cron = "* * * * * *"
"#
        ),
    )
    .expect("write config");
    let service = Service::spawn(dir.path(), |cmd| {
        cmd.env("CS_PULSE_LOG", "warn");
    });
    let addr = poll("the listening address", || {
        service.addresses().into_iter().next()
    });

    assert_eq!(get(&addr, "/healthz"), (200, "ok\n".to_string()));
    // Ready once the sync job has run (the demo source is never synced before).
    let ready = poll("/readyz to answer 200", || {
        let (code, body) = get(&addr, "/readyz");
        (code == 200).then_some(body)
    });
    assert!(
        ready.starts_with("ready\nstore: reachable\nsource sample: last good sync "),
        "{ready}"
    );
    // Every kind of counter, once the jobs and the delivery loop have run.
    let page = poll("the jobs' metrics", || {
        let (_, page) = get(&addr, "/metrics");
        let s = samples(&page);
        let has = |name: &str, labels: &[(&str, &str)]| sample(&s, name, labels).is_some();
        (has(
            telemetry::SYNC_RUNS,
            &[("source", "sample"), ("outcome", "ok")],
        ) && has(telemetry::SYNC_ROWS, &[("source", "sample")])
            && has(telemetry::RULE_EVALUATIONS, &[])
            && has(telemetry::OUTBOX_DEPTH, &[])
            && has(telemetry::SCHEDULER_LAG, &[("job", "sync")])
            && has(telemetry::SCHEDULER_LAG, &[("job", "eval")])
            && has(
                telemetry::MESSAGES,
                &[("channel", "console"), ("outcome", "sent")],
            )
            && page.contains(&format!("{}{{rule=", telemetry::ALERTS)))
        .then_some(page)
    });
    assert!(page.contains("# HELP cs_pulse_sync_runs_total"), "{page}");

    let stopped = service.stop_with(libc::SIGTERM);
    assert!(stopped.status.success(), "{}", stopped.status);
}
