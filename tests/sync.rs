//! The sync engine: a good fetch replaces the source's data, a failing one is recorded and
//! changes nothing; times come from the clock it is given.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use indicatif::ProgressBar;

use cs_pulse::model::{Account, Dataset};
use cs_pulse::sources::{FetchRequest, Fetched, InputError, Source, SourceError};
use cs_pulse::store::{SqliteStore, Store, SyncOutcome};
use cs_pulse::sync::{summary_line, sync_source, SyncError, SyncOptions};

/// A source that answers each fetch with the next prepared result.
struct Scripted {
    name: String,
    results: Mutex<Vec<Result<Dataset, SourceError>>>,
}

impl Scripted {
    fn new(name: &str, mut results: Vec<Result<Dataset, SourceError>>) -> Self {
        results.reverse();
        Scripted {
            name: name.into(),
            results: Mutex::new(results),
        }
    }
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
        self.results
            .lock()
            .unwrap()
            .pop()
            .expect("fetched more often than scripted")
            .map(Fetched::full)
    }
}

fn accounts(ids: &[&str]) -> Dataset {
    Dataset::new(
        ids.iter()
            .map(|id| Account {
                id: id.to_string(),
                name: id.to_uppercase(),
                ..Account::default()
            })
            .collect(),
    )
    .unwrap()
}

/// A clock that advances 250 ms each time it is read.
struct Clock(AtomicI64);

impl Clock {
    fn new() -> Self {
        Clock(AtomicI64::new(0))
    }
    fn at(tick: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap() + Duration::milliseconds(250 * tick)
    }
    fn now(&self) -> DateTime<Utc> {
        Clock::at(self.0.fetch_add(1, Ordering::SeqCst))
    }
}

#[tokio::test]
async fn a_successful_sync_stores_the_data_and_the_run() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let source = Scripted::new("crm", vec![Ok(accounts(&["a", "b"]))]);
    let clock = Clock::new();
    let run = sync_source(
        &source,
        &store,
        &|| clock.now(),
        &ProgressBar::hidden(),
        SyncOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(run.source, "crm");
    assert_eq!(
        (run.started_at, run.finished_at),
        (Clock::at(0), Clock::at(1))
    );
    assert_eq!((run.rows, run.accounts), (2, 2));
    assert_eq!(run.outcome, SyncOutcome::Ok);
    assert_eq!(store.load().await.unwrap(), accounts(&["a", "b"]));
    assert_eq!(
        store.sync_runs(None, 10).await.unwrap(),
        std::slice::from_ref(&run)
    );
    assert_eq!(summary_line(&run), "crm: 2 records (2 accounts) in 0.25 s");
}

#[tokio::test]
async fn a_failing_fetch_is_recorded_and_keeps_the_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db"))
        .await
        .unwrap();
    let source = Scripted::new(
        "crm",
        vec![
            Ok(accounts(&["a", "b"])),
            Err(SourceError::Invalid {
                location: "/data/crm".into(),
                errors: vec![InputError {
                    file: "accounts.csv".into(),
                    line: 3,
                    column: Some("id".into()),
                    message: "duplicate id \"a\"".into(),
                }],
            }),
        ],
    );
    let clock = Clock::new();
    let pb = ProgressBar::hidden();
    sync_source(
        &source,
        &store,
        &|| clock.now(),
        &pb,
        SyncOptions::default(),
    )
    .await
    .unwrap();

    let err = sync_source(
        &source,
        &store,
        &|| clock.now(),
        &pb,
        SyncOptions::default(),
    )
    .await
    .unwrap_err();
    let SyncError::Fetch { run, error } = &err else {
        panic!("not a fetch error: {err}");
    };
    assert!(matches!(error, SourceError::Invalid { .. }));
    assert_eq!(
        (run.started_at, run.finished_at),
        (Clock::at(2), Clock::at(3))
    );
    assert_eq!((run.rows, run.accounts), (0, 0));
    let SyncOutcome::Failed(text) = &run.outcome else {
        panic!("not recorded as failed");
    };
    assert!(
        text.contains("accounts.csv:3: column id: duplicate id"),
        "{text}"
    );
    assert_eq!(err.run(), Some(run));
    assert_eq!(
        summary_line(run),
        "crm: FAILED after 0.25 s: 1 invalid value in /data/crm:"
    );

    // The data of the first sync is still there; both runs are in the history.
    assert_eq!(store.load().await.unwrap(), accounts(&["a", "b"]));
    let runs = store.sync_runs(Some("crm"), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(&runs[0], run);
    assert_eq!(runs[1].outcome, SyncOutcome::Ok);
}

#[tokio::test]
async fn amounts_too_large_for_the_metrics_fail_the_sync_whatever_the_source() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let mut bad = accounts(&["a"]);
    let subscription = |id: &str, mrr: &str| cs_pulse::model::Subscription {
        id: id.into(),
        account: 0,
        mrr: mrr.parse().unwrap(),
        currency: cs_pulse::model::Currency::USD,
        start_date: "2025-01-01".parse().unwrap(),
        end_date: None,
    };
    bad.subscriptions
        .push(subscription("fine", "1000000000000000"));
    bad.subscriptions
        .push(subscription("huge", "79228162514264337593543950335"));
    let source = Scripted::new("billing", vec![Ok(accounts(&["a"])), Ok(bad)]);
    let clock = Clock::new();
    let pb = ProgressBar::hidden();
    let now = || clock.now();
    let sync = || sync_source(&source, &store, &now, &pb, SyncOptions::default());
    sync().await.unwrap();
    let err = sync().await.unwrap_err();
    let SyncError::Fetch { run, .. } = &err else {
        panic!("not refused as input: {err}");
    };
    let SyncOutcome::Failed(text) = &run.outcome else {
        panic!("not recorded as failed");
    };
    assert_eq!(
        text,
        "1 invalid value in the data of source billing:\n  subscription huge: field mrr: \
         79228162514264337593543950335 is too large (at most 1000000000000000)"
    );
    assert_eq!(store.load().await.unwrap(), accounts(&["a"]));
}

#[tokio::test]
async fn data_the_store_refuses_is_recorded_as_a_failure() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let mut bad = accounts(&["a"]);
    bad.tickets.push(cs_pulse::model::Ticket {
        id: "t".into(),
        account: 7,
        opened_at: "2025-01-01".parse().unwrap(),
        resolved_at: None,
        first_response_at: None,
        contacts: None,
    });
    let source = Scripted::new("helpdesk", vec![Ok(bad)]);
    let clock = Clock::new();
    let err = sync_source(
        &source,
        &store,
        &|| clock.now(),
        &ProgressBar::hidden(),
        SyncOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SyncError::Store { .. }), "{err}");
    let run = err.run().expect("failure recorded");
    assert!(matches!(&run.outcome, SyncOutcome::Failed(e) if e.contains("index 7")));
    assert_eq!(store.load().await.unwrap(), Dataset::default());
    assert_eq!(
        store.sync_runs(None, 10).await.unwrap(),
        std::slice::from_ref(run)
    );
}

#[tokio::test]
async fn the_sync_future_can_be_spawned() {
    // `cs-pulse run` syncs on a schedule in a spawned task: the future must be Send.
    let store = SqliteStore::open_in_memory().await.unwrap();
    let handle = tokio::spawn(async move {
        let source = Scripted::new("crm", vec![Ok(accounts(&["a"]))]);
        sync_source(
            &source,
            &store,
            &Utc::now,
            &ProgressBar::hidden(),
            SyncOptions::default(),
        )
        .await
    });
    assert_eq!(handle.await.unwrap().unwrap().accounts, 1);
}

/// A source that can fetch changes only: it records what each fetch was given and adds the
/// next scripted account to the previous data (or starts from `a` on a full fetch).
/// What one fetch was given: the last good sync's start and its account ids, or nothing.
type Given = Option<(DateTime<Utc>, Vec<String>)>;

struct Incremental {
    seen: Mutex<Vec<Given>>,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Source for Incremental {
    fn name(&self) -> &str {
        "billing"
    }
    fn full_sync_every(&self) -> Option<Duration> {
        Some(Duration::days(1))
    }
    async fn fetch(
        &self,
        request: &FetchRequest<'_>,
        _progress: &ProgressBar,
    ) -> Result<Fetched, SourceError> {
        let ids = |d: &Dataset| {
            d.accounts()
                .iter()
                .map(|a| a.id.clone())
                .collect::<Vec<_>>()
        };
        self.seen
            .lock()
            .unwrap()
            .push(request.previous.map(|p| (p.started_at, ids(p.data))));
        if self.fail.load(Ordering::SeqCst) {
            return Err(SourceError::Other("HTTP 500 from api.example.com".into()));
        }
        Ok(match request.previous {
            None => Fetched::full(accounts(&["a"])),
            Some(p) => {
                let mut next = ids(p.data);
                next.push(format!("n{}", next.len()));
                let next: Vec<&str> = next.iter().map(String::as_str).collect();
                Fetched {
                    data: accounts(&next),
                    full: false,
                }
            }
        })
    }
}

#[tokio::test]
async fn changes_apply_to_the_last_good_sync_until_a_full_sync_is_due() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let source = Incremental {
        seen: Mutex::new(vec![]),
        fail: false.into(),
    };
    let clock = Clock::new();
    let hidden = ProgressBar::hidden();
    let auto = SyncOptions::default();
    let now = || clock.now();
    let sync = |options| sync_source(&source, &store, &now, &hidden, options);

    let first = sync(auto).await.unwrap();
    assert!(first.full, "nothing stored yet: a full fetch");
    let second = sync(auto).await.unwrap();
    assert!(!second.full);
    assert_eq!(
        summary_line(&second),
        "billing: 2 records (2 accounts; changes only) in 0.25 s"
    );
    let third = sync(auto).await.unwrap();
    assert!(!third.full);
    {
        let seen = source.seen.lock().unwrap();
        assert_eq!(seen[0], None);
        // Each incremental fetch gets the start of the last good sync and what it stored.
        assert_eq!(seen[1], Some((first.started_at, vec!["a".to_string()])));
        assert_eq!(
            seen[2],
            Some((second.started_at, vec!["a".to_string(), "n1".to_string()]))
        );
    }

    // A failed incremental fetch changes nothing; the next one starts from the last good one.
    source.fail.store(true, Ordering::SeqCst);
    let err = sync(auto).await.unwrap_err();
    assert!(!err.run().unwrap().full);
    source.fail.store(false, Ordering::SeqCst);
    assert_eq!(store.load().await.unwrap().accounts().len(), 3);
    sync(auto).await.unwrap();
    assert_eq!(
        source.seen.lock().unwrap()[4].as_ref().map(|s| s.0),
        Some(third.started_at)
    );

    // `--full` fetches everything, and the data is what the full fetch returned.
    let forced = sync(SyncOptions { force_full: true }).await.unwrap();
    assert!(forced.full);
    assert_eq!(source.seen.lock().unwrap()[5], None);
    assert_eq!(store.load().await.unwrap().accounts().len(), 1);
}

#[tokio::test]
async fn a_full_sync_runs_when_the_last_one_is_older_than_the_sources_period() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let source = Incremental {
        seen: Mutex::new(vec![]),
        fail: false.into(),
    };
    let hidden = ProgressBar::hidden();
    let at = |h: i64| Clock::at(0) + Duration::hours(h);
    let opts = SyncOptions::default();
    let t = |h: i64| move || at(h);
    sync_source(&source, &store, &t(0), &hidden, opts)
        .await
        .unwrap();
    let run = sync_source(&source, &store, &t(23), &hidden, opts)
        .await
        .unwrap();
    assert!(!run.full, "23 h after the full sync: changes only");
    let run = sync_source(&source, &store, &t(25), &hidden, opts)
        .await
        .unwrap();
    assert!(run.full, "25 h after the full sync: a full one is due");
    // Only one source's records are given to it, though the store holds others.
    let other = Scripted::new("crm", vec![Ok(accounts(&["x", "y"]))]);
    sync_source(&other, &store, &t(26), &hidden, opts)
        .await
        .unwrap();
    sync_source(&source, &store, &t(27), &hidden, opts)
        .await
        .unwrap();
    assert_eq!(
        source
            .seen
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .as_ref()
            .map(|s| s.1.clone()),
        Some(vec!["a".to_string()])
    );
}
