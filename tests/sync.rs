//! The sync engine: a good fetch replaces the source's data, a failing one is recorded and
//! changes nothing; times come from the clock it is given.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use indicatif::ProgressBar;

use cs_pulse::model::{Account, Dataset};
use cs_pulse::sources::{InputError, Source, SourceError};
use cs_pulse::store::{SqliteStore, Store, SyncOutcome};
use cs_pulse::sync::{summary_line, sync_source, SyncError};

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
    async fn fetch(&self, _progress: &ProgressBar) -> Result<Dataset, SourceError> {
        self.results
            .lock()
            .unwrap()
            .pop()
            .expect("fetched more often than scripted")
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
    let run = sync_source(&source, &store, &|| clock.now(), &ProgressBar::hidden())
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
    sync_source(&source, &store, &|| clock.now(), &pb)
        .await
        .unwrap();

    let err = sync_source(&source, &store, &|| clock.now(), &pb)
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
    let err = sync_source(&source, &store, &|| clock.now(), &ProgressBar::hidden())
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
        sync_source(&source, &store, &Utc::now, &ProgressBar::hidden()).await
    });
    assert_eq!(handle.await.unwrap().unwrap().accounts, 1);
}
