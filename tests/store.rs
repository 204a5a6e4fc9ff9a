//! The SQLite store: what goes in comes out, replacing is all or nothing, sources merge by id,
//! and damaged data is reported, never a panic.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal_macros::dec;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use cs_pulse::model::{
    Account, Cost, Currency, Dataset, Renewal, RenewalOutcome, Subscription, SurveyKind,
    SurveyResponse, Ticket, Usage, YearMonth,
};
use cs_pulse::store::{SqliteStore, Store, StoreError, SyncOutcome};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

fn account(id: &str, name: &str) -> Account {
    Account {
        id: id.into(),
        name: name.into(),
        ..Account::default()
    }
}

fn usage(account: u32, date: &str, users: u32, features: Option<u32>) -> Usage {
    Usage {
        account,
        date: d(date),
        active_users: users,
        sessions: users * 3,
        minutes: dec!(12.25) * rust_decimal::Decimal::from(users),
        features_used: features,
    }
}

/// A data set with every record kind, in the order `load` returns (accounts by id, children by
/// account then date then id).
fn sample() -> Dataset {
    let mut acme = account("acme", "Acme Corp");
    acme.owner = Some("dana".into());
    acme.segment = Some("enterprise".into());
    acme.plan = Some("pro".into());
    acme.created_at = Some(d("2023-01-15"));
    acme.renewal_date = Some(d("2025-07-01"));
    acme.licensed_seats = Some(250);
    acme.first_value_at = Some(d("2023-02-01"));
    acme.trial_started_at = Some(d("2022-12-01"));
    acme.trial_ended_at = Some(d("2022-12-31"));
    acme.converted_at = Some(d("2023-01-15"));
    acme.custom = BTreeMap::from([
        ("region".to_string(), "EMEA".to_string()),
        (
            "note".to_string(),
            "quotes \" and \\ and ünïcödé".to_string(),
        ),
    ]);
    let globex = account("globex", "Globex");
    let mut initech = account("initech", "Initech");
    initech.segment = Some("smb".into());

    let mut ds = Dataset::new(vec![acme, globex, initech]).unwrap();
    ds.subscriptions = vec![
        Subscription {
            id: "sub-1".into(),
            account: 0,
            mrr: dec!(1000.00),
            currency: Currency::USD,
            start_date: d("2023-01-15"),
            end_date: Some(d("2024-01-15")),
        },
        Subscription {
            id: "sub-2".into(),
            account: 0,
            mrr: dec!(1200.50),
            currency: Currency::USD,
            start_date: d("2024-01-15"),
            end_date: None,
        },
        Subscription {
            id: "sub-3".into(),
            account: 2,
            mrr: dec!(99.99),
            currency: Currency::EUR,
            start_date: d("2024-06-01"),
            end_date: None,
        },
    ];
    ds.usage = vec![
        usage(0, "2025-02-01", 10, Some(4)),
        usage(0, "2025-02-02", 0, None),
        usage(0, "2025-02-02", 3, Some(1)),
        usage(0, "2025-02-03", 7, Some(0)),
        usage(2, "2025-02-01", 1, None),
    ];
    ds.survey_responses = vec![
        SurveyResponse {
            id: "s-1".into(),
            account: 0,
            kind: SurveyKind::Nps,
            score: 9,
            submitted_at: d("2025-02-10"),
            comment: Some("great, thanks".into()),
        },
        SurveyResponse {
            id: "s-2".into(),
            account: 1,
            kind: SurveyKind::Csat,
            score: 2,
            submitted_at: d("2025-02-11"),
            comment: None,
        },
    ];
    ds.tickets = vec![
        Ticket {
            id: "t-1".into(),
            account: 0,
            opened_at: d("2025-02-01"),
            resolved_at: Some(d("2025-02-02")),
            first_response_at: Some(d("2025-02-01")),
            contacts: Some(1),
        },
        Ticket {
            id: "t-2".into(),
            account: 1,
            opened_at: d("2025-02-05"),
            resolved_at: None,
            first_response_at: None,
            contacts: None,
        },
    ];
    ds.renewals = vec![
        Renewal {
            id: "r-1".into(),
            account: 0,
            due_date: d("2025-07-01"),
            outcome: RenewalOutcome::Pending,
            amount: Some(dec!(14406.00)),
        },
        Renewal {
            id: "r-2".into(),
            account: 2,
            due_date: d("2025-01-01"),
            outcome: RenewalOutcome::Churned,
            amount: None,
        },
    ];
    let month = |s: &str| s.parse::<YearMonth>().unwrap();
    ds.costs = vec![
        Cost {
            month: month("2025-01"),
            amount: dec!(5000),
        },
        Cost {
            month: month("2025-01"),
            amount: dec!(250.75),
        },
        Cost {
            month: month("2025-02"),
            amount: dec!(5100),
        },
    ];
    ds
}

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

#[tokio::test]
async fn round_trip_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    // The parent directory does not exist yet: open creates it.
    let store = SqliteStore::open(&dir.path().join("data/nested/store.db"))
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap(), Dataset::default());

    let data = sample();
    let run = store
        .replace_source("crm", &data, t(0), t(2), true)
        .await
        .unwrap();
    assert_eq!(run.rows, data.record_count() as u64);
    assert_eq!(run.accounts, 3);
    assert_eq!(run.outcome, SyncOutcome::Ok);
    assert_eq!((run.started_at, run.finished_at), (t(0), t(2)));

    let loaded = store.load().await.unwrap();
    assert_eq!(loaded, data);
    // Exact decimals keep their scale.
    assert_eq!(loaded.subscriptions[1].mrr.to_string(), "1200.50");
}

#[tokio::test]
async fn unsorted_input_comes_back_in_canonical_order() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let expected = sample();
    let mut shuffled = expected.clone();
    shuffled.usage.reverse();
    // Reversing swaps the two rows of 2025-02-02; equal days keep their input order.
    shuffled.usage.swap(2, 3);
    shuffled.subscriptions.reverse();
    shuffled.tickets.reverse();
    store
        .replace_source("crm", &shuffled, t(0), t(1), true)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap(), expected);
}

#[tokio::test]
async fn replace_removes_what_the_source_no_longer_has() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    store
        .replace_source("crm", &sample(), t(0), t(1), true)
        .await
        .unwrap();

    // The next sync has only acme, with one subscription and no usage at all.
    let mut next = Dataset::new(vec![sample().accounts()[0].clone()]).unwrap();
    next.subscriptions = vec![sample().subscriptions[1].clone()];
    store
        .replace_source("crm", &next, t(10), t(11), true)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap(), next);

    store
        .replace_source("crm", &Dataset::default(), t(20), t(21), true)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap(), Dataset::default());
}

#[tokio::test]
async fn sources_are_merged_by_account_id() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    // "billing" sorts before "crm": its non-empty fields win; crm fills the gaps.
    let mut billing_acme = account("acme", "ACME (billing)");
    billing_acme.plan = Some("pro-annual".into());
    billing_acme.custom = BTreeMap::from([("stripe_id".to_string(), "cus_1".to_string())]);
    let mut billing = Dataset::new(vec![billing_acme, account("zeta", "Zeta")]).unwrap();
    billing.subscriptions = vec![Subscription {
        id: "sub_9".into(),
        account: 1,
        mrr: dec!(10),
        currency: Currency::USD,
        start_date: d("2025-01-01"),
        end_date: None,
    }];
    billing.usage = vec![
        usage(0, "2025-02-02", 50, None),
        usage(1, "2025-02-01", 5, None),
    ];

    let crm = sample();
    store
        .replace_source("crm", &crm, t(0), t(1), true)
        .await
        .unwrap();
    store
        .replace_source("billing", &billing, t(2), t(3), true)
        .await
        .unwrap();
    let merged = store.load().await.unwrap();

    let ids: Vec<&str> = merged.accounts().iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["acme", "globex", "initech", "zeta"]);
    let acme = &merged.accounts()[0];
    assert_eq!(acme.name, "ACME (billing)");
    assert_eq!(acme.plan.as_deref(), Some("pro-annual"));
    assert_eq!(acme.owner.as_deref(), Some("dana"));
    assert_eq!(acme.licensed_seats, Some(250));
    assert_eq!(acme.custom.len(), 3);
    assert_eq!(acme.custom["stripe_id"], "cus_1");
    assert_eq!(acme.custom["region"], "EMEA");

    // Children of both sources point at the merged accounts.
    assert_eq!(merged.subscriptions.len(), 4);
    let sub9 = merged
        .subscriptions
        .iter()
        .find(|s| s.id == "sub_9")
        .unwrap();
    assert_eq!(merged.account(sub9.account).id, "zeta");
    assert_eq!(merged.costs.len(), 3);

    // Usage of both sources, sorted by (account, date); billing's row of 2025-02-02 comes
    // before crm's two rows of that day (source name order).
    let acme_usage: Vec<(String, u32)> = merged
        .usage
        .iter()
        .filter(|u| u.account == 0)
        .map(|u| (u.date.to_string(), u.active_users))
        .collect();
    assert_eq!(
        acme_usage,
        [
            ("2025-02-01".to_string(), 10),
            ("2025-02-02".to_string(), 50),
            ("2025-02-02".to_string(), 0),
            ("2025-02-02".to_string(), 3),
            ("2025-02-03".to_string(), 7),
        ]
    );
    assert_eq!(merged.usage.len(), 7);
    assert_eq!(merged.account(merged.usage[6].account).id, "zeta");

    // Replacing one source leaves the other alone.
    store
        .replace_source("billing", &Dataset::default(), t(4), t(5), true)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap(), crm);
}

#[tokio::test]
async fn reopening_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .replace_source("crm", &sample(), t(0), t(1), true)
            .await
            .unwrap();
        store.close().await;
    }
    for _ in 0..2 {
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.load().await.unwrap(), sample());
        assert_eq!(store.sync_runs(None, 10).await.unwrap().len(), 1);
        store.close().await;
    }
}

#[tokio::test]
async fn a_failing_replace_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .replace_source("crm", &sample(), t(0), t(1), true)
        .await
        .unwrap();

    // A trigger makes the insert of one ticket fail, after the old rows were deleted and the
    // accounts and other records of the new data were inserted.
    let mut conn = raw(&path).await;
    sqlx::query(
        "CREATE TRIGGER boom BEFORE INSERT ON tickets WHEN NEW.id = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'boom'); END",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let mut bad = Dataset::new(vec![account("other", "Other")]).unwrap();
    bad.tickets = vec![Ticket {
        id: "boom".into(),
        account: 0,
        opened_at: d("2025-02-01"),
        resolved_at: None,
        first_response_at: None,
        contacts: None,
    }];
    let err = store
        .replace_source("crm", &bad, t(10), t(11), true)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Db(_)), "{err}");
    assert!(err.to_string().contains("boom"), "{err}");

    assert_eq!(store.load().await.unwrap(), sample());
    let runs = store.sync_runs(None, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "no run recorded for the failed replace");

    // And the store still works afterwards.
    sqlx::query("DROP TRIGGER boom")
        .execute(&mut conn)
        .await
        .unwrap();
    store
        .replace_source("crm", &bad, t(20), t(21), true)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap(), bad);
}

#[tokio::test]
async fn data_with_a_dangling_account_index_is_refused() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    store
        .replace_source("crm", &sample(), t(0), t(1), true)
        .await
        .unwrap();
    let mut bad = sample();
    bad.renewals[0].account = 99;
    let err = store
        .replace_source("crm", &bad, t(2), t(3), true)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("index 99"), "{err}");
    assert_eq!(store.load().await.unwrap(), sample());
}

#[tokio::test]
async fn sync_runs_are_recorded_newest_first() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let ok = store
        .replace_source("crm", &sample(), t(0), t(1), true)
        .await
        .unwrap();
    let failed = store
        .record_failure(
            "billing",
            t(2),
            t(3),
            true,
            "HTTP 503 from api.example.com\nretry later",
        )
        .await
        .unwrap();
    assert_eq!(failed.rows, 0);
    assert_eq!(failed.accounts, 0);
    assert_eq!(
        failed.outcome,
        SyncOutcome::Failed("HTTP 503 from api.example.com\nretry later".into())
    );
    let third = store
        .replace_source("crm", &Dataset::default(), t(4), t(5), true)
        .await
        .unwrap();

    assert_eq!(
        store.sync_runs(None, 10).await.unwrap(),
        [third.clone(), failed.clone(), ok.clone()]
    );
    assert_eq!(
        store.sync_runs(None, 1).await.unwrap(),
        std::slice::from_ref(&third)
    );
    assert_eq!(store.sync_runs(Some("crm"), 10).await.unwrap(), [third, ok]);
    assert_eq!(
        store.sync_runs(Some("billing"), 10).await.unwrap(),
        [failed]
    );
    assert!(store.sync_runs(Some("nope"), 10).await.unwrap().is_empty());
    // A failure keeps the source's data.
    assert_eq!(store.load().await.unwrap(), Dataset::default());
}

#[tokio::test]
async fn sub_second_timestamps_round_trip() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let start = t(0) + chrono::Duration::nanoseconds(123_456_789);
    let end = t(1) + chrono::Duration::microseconds(5);
    let run = store
        .record_failure("crm", start, end, true, "x")
        .await
        .unwrap();
    assert_eq!(store.sync_runs(None, 1).await.unwrap(), [run]);
}

async fn corrupted(sql: &str) -> StoreError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .replace_source("crm", &sample(), t(0), t(1), true)
        .await
        .unwrap();
    let mut conn = raw(&path).await;
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    store.load().await.unwrap_err()
}

#[tokio::test]
async fn corrupt_usage_is_reported() {
    // One chunk holds the usage of acme then initech: 0x04 "acme" <blob length> <blob>...
    for (sql, needle) in [
        ("UPDATE usage_chunks SET data = x'0102'", "truncated"),
        (
            "UPDATE usage_chunks SET data = substr(data, 1, length(data) - 1)",
            "truncated",
        ),
        (
            "UPDATE usage_chunks SET data = CAST(data || x'00' AS BLOB)",
            "truncated",
        ),
        (
            "UPDATE usage_chunks SET data = CAST(substr(data, 1, 6) || x'07' || substr(data, 8) AS BLOB)",
            "acme\": unknown usage blob version 7",
        ),
        (
            "UPDATE usage_chunks SET data = CAST(substr(data, 1, 9) || x'00' || substr(data, 11) AS BLOB)",
            "acme",
        ),
        (
            "UPDATE usage_chunks SET data = CAST(x'04' || 'acmx' || substr(data, 6) AS BLOB)",
            "acmx",
        ),
        ("UPDATE usage_chunks SET days = 99", "99"),
        ("UPDATE usage_chunks SET accounts = 1", "not 1 and 5"),
    ] {
        let err = corrupted(sql).await;
        assert!(matches!(err, StoreError::Corrupt(_)), "{sql}: {err}");
        assert!(err.to_string().contains(needle), "{sql}: {err}");
    }
}

/// A schema 1 blob: per row date (days since 1970) i32, active users u32, sessions u32, minutes
/// as `Decimal::serialize()`, features used u32 (u32::MAX for none), little-endian.
fn v1_blob(rows: &[Usage]) -> Vec<u8> {
    let mut blob = vec![1u8];
    let epoch = d("1970-01-01");
    for u in rows {
        blob.extend_from_slice(&((u.date - epoch).num_days() as i32).to_le_bytes());
        blob.extend_from_slice(&u.active_users.to_le_bytes());
        blob.extend_from_slice(&u.sessions.to_le_bytes());
        blob.extend_from_slice(&u.minutes.serialize());
        blob.extend_from_slice(&u.features_used.unwrap_or(u32::MAX).to_le_bytes());
    }
    blob
}

#[tokio::test]
async fn usage_written_by_schema_1_still_loads_until_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut data = sample();
    let old_usage = std::mem::take(&mut data.usage);
    store
        .replace_source("crm", &data, t(0), t(1), true)
        .await
        .unwrap();
    // What an older build wrote: one row per account in usage_blobs.
    let mut conn = raw(&path).await;
    for (account, rows) in [("acme", &old_usage[..4]), ("initech", &old_usage[4..])] {
        sqlx::query(
            "INSERT INTO usage_blobs (source, account_id, days, data) VALUES ('crm', ?1, ?2, ?3)",
        )
        .bind(account)
        .bind(rows.len() as i64)
        .bind(v1_blob(rows))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    data.usage = old_usage;
    assert_eq!(store.load().await.unwrap(), data);

    sqlx::query("UPDATE usage_blobs SET days = 5 WHERE account_id = 'acme'")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = store.load().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("acme"), "{err}");

    // The next sync of the source replaces them.
    store
        .replace_source("crm", &data, t(2), t(3), true)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap(), data);
    let (old_rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM usage_blobs")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(old_rows, 0);
}

#[tokio::test]
async fn dangling_and_malformed_rows_are_reported() {
    for (sql, needle) in [
        ("DELETE FROM accounts WHERE id = 'globex'", "globex"),
        (
            "UPDATE subscriptions SET mrr = '12,5' WHERE id = 'sub-1'",
            "12,5",
        ),
        (
            "UPDATE tickets SET opened_at = '2025-02-30' WHERE id = 't-1'",
            "2025-02-30",
        ),
        (
            "UPDATE accounts SET custom = '[1' WHERE id = 'acme'",
            "acme",
        ),
        (
            "UPDATE subscriptions SET currency = 'EURO' WHERE id = 'sub-1'",
            "EURO",
        ),
    ] {
        let err = corrupted(sql).await;
        assert!(matches!(err, StoreError::Corrupt(_)), "{sql}: {err}");
        assert!(err.to_string().contains(needle), "{sql}: {err}");
    }
}
