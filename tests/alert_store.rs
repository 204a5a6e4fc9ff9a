//! Alert states, silences and acknowledgements in the SQLite store: what is saved comes back,
//! an evaluation is saved all or nothing, damaged rows are reported, and a restart in the middle
//! of a timeline neither re-fires, nor forgets, nor misses a resolution.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use cs_pulse::alerts::lifecycle::{self, Ack, AlertState, Event, Phase, Signal, Timing};
use cs_pulse::alerts::{is_muted, Silence};
use cs_pulse::store::{AlertKey, AlertStore, SqliteStore, StoreError};

/// Day `day` of March 2025 at `hour`:00 UTC.
fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0).unwrap()
}

fn key(rule: &str, subject: &str) -> AlertKey {
    AlertKey {
        rule: rule.into(),
        subject: subject.into(),
    }
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).await.expect("open store")
}

/// A second, raw connection to the store's file, to tamper with it.
async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .expect("raw connection")
}

async fn exec(conn: &mut SqliteConnection, sql: &str) {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn pending(since: DateTime<Utc>) -> AlertState {
    AlertState {
        phase: Phase::Pending,
        active_since: Some(since),
        ..AlertState::default()
    }
}

fn firing(since: DateTime<Utc>, fired: DateTime<Utc>) -> AlertState {
    AlertState {
        phase: Phase::Firing,
        active_since: Some(since),
        fired_at: Some(fired),
        notified_at: Some(fired),
        ..AlertState::default()
    }
}

/// A state of every phase, with and without an acknowledgement, an unannounced firing, odd
/// subjects and sub-second timestamps.
fn every_phase() -> Vec<(AlertKey, AlertState)> {
    let acked = AlertState {
        notified_at: Some(t(4, 9)),
        ack: Some(Ack {
            by: "priya@example.com".into(),
            at: t(4, 10) + Duration::nanoseconds(123_456_789),
        }),
        ..firing(t(2, 9), t(3, 9))
    };
    let unannounced = AlertState {
        notified_at: None,
        ..firing(t(1, 9), t(1, 9))
    };
    let resolved = AlertState {
        phase: Phase::Resolved,
        resolved_at: Some(t(6, 9) + Duration::milliseconds(250)),
        ..firing(t(1, 9), t(2, 9))
    };
    // Not a state the lifecycle produces, but a valid value: inactive with some history.
    let inactive_with_history = AlertState {
        phase: Phase::Inactive,
        resolved_at: Some(t(5, 9)),
        ..AlertState::default()
    };
    vec![
        (key("health-red", "acme"), pending(t(1, 9))),
        (key("health-red", "globex"), firing(t(1, 9), t(2, 9))),
        (key("usage-drop", "acme"), acked),
        (key("usage-drop", "ünïcode 'quoted' \"id\""), unannounced),
        (key("nrr-low", "portfolio"), resolved),
        (key("renewal-risk", "initech"), inactive_with_history),
    ]
}

fn as_map(states: &[(AlertKey, AlertState)]) -> BTreeMap<AlertKey, AlertState> {
    states.iter().cloned().collect()
}

#[tokio::test]
async fn states_of_every_phase_round_trip() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    assert!(store.alert_states().await.unwrap().is_empty());
    let mut states = every_phase();
    // The default state is not stored.
    states.push((key("ticket-spike", "acme"), AlertState::default()));
    store.save_alert_states(&states).await.unwrap();
    states.pop();
    assert_eq!(store.alert_states().await.unwrap(), as_map(&states));
    // Saving nothing changes nothing.
    store.save_alert_states(&[]).await.unwrap();
    assert_eq!(store.alert_states().await.unwrap(), as_map(&states));
}

#[tokio::test]
async fn an_update_replaces_and_back_to_default_deletes() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let a = key("health-red", "acme");
    let b = key("health-red", "globex");
    store
        .save_alert_states(&[(a.clone(), pending(t(1, 9))), (b.clone(), pending(t(1, 9)))])
        .await
        .unwrap();

    let resolved = AlertState {
        phase: Phase::Resolved,
        resolved_at: Some(t(3, 9)),
        ..firing(t(1, 9), t(2, 9))
    };
    store
        .save_alert_states(&[
            (a.clone(), firing(t(1, 9), t(2, 9))),
            (b.clone(), AlertState::default()),
            // The last state of a key wins.
            (a.clone(), resolved.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.alert_states().await.unwrap(),
        BTreeMap::from([(a, resolved)])
    );
}

#[tokio::test]
async fn a_failing_save_leaves_every_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = open(&path).await;
    let before = every_phase();
    store.save_alert_states(&before).await.unwrap();

    // A row that the database refuses, after the other rows of the evaluation were written.
    let mut conn = raw(&path).await;
    exec(
        &mut conn,
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON alert_states WHEN NEW.rule = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'boom is refused'); END",
    )
    .await;

    let evaluation = vec![
        // Back to the default: deleted in the same transaction, before the upserts.
        (before[0].0.clone(), AlertState::default()),
        (
            before[1].0.clone(),
            AlertState {
                phase: Phase::Resolved,
                resolved_at: Some(t(7, 9)),
                ..before[1].1.clone()
            },
        ),
        (key("aaa-first", "acme"), pending(t(7, 9))),
        (key("boom", "acme"), pending(t(7, 9))),
        (key("zzz-last", "acme"), pending(t(7, 9))),
    ];
    let err = store.save_alert_states(&evaluation).await.unwrap_err();
    assert!(matches!(err, StoreError::Db(_)), "{err}");
    assert!(err.to_string().contains("boom is refused"), "{err}");
    assert_eq!(store.alert_states().await.unwrap(), as_map(&before));

    // Without the trigger the same evaluation is saved whole.
    exec(&mut conn, "DROP TRIGGER refuse_boom").await;
    store.save_alert_states(&evaluation).await.unwrap();
    let mut after = as_map(&before);
    for (k, s) in evaluation {
        if s == AlertState::default() {
            after.remove(&k);
        } else {
            after.insert(k, s);
        }
    }
    assert_eq!(store.alert_states().await.unwrap(), after);
}

#[tokio::test]
async fn states_and_silences_persist_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("store.db");
    let store = open(&path).await;
    store.save_alert_states(&every_phase()).await.unwrap();
    let silence = store
        .add_silence(&silence(Some("health-red"), None, t(10, 0)))
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let store = open(&path).await;
    assert_eq!(store.alert_states().await.unwrap(), as_map(&every_phase()));
    assert_eq!(store.silences(t(1, 0), false).await.unwrap(), [silence]);
}

fn silence(rule: Option<&str>, subject: Option<&str>, until: DateTime<Utc>) -> Silence {
    Silence {
        id: 0,
        rule: rule.map(str::to_string),
        subject: subject.map(str::to_string),
        until,
        created_by: "dana".into(),
        reason: "migration weekend".into(),
        created_at: t(1, 8),
    }
}

#[tokio::test]
async fn silences_are_added_listed_by_time_and_removed() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let rule = store
        .add_silence(&silence(Some("usage-drop"), None, t(3, 9)))
        .await
        .unwrap();
    let account = store
        .add_silence(&silence(None, Some("acme"), t(5, 9)))
        .await
        .unwrap();
    let both = Silence {
        id: 42, // ignored: the store assigns ids
        until: t(5, 9) + Duration::microseconds(1),
        ..silence(Some("health-red"), Some("globex"), t(5, 9))
    };
    let both = store.add_silence(&both).await.unwrap();
    let ids = [rule.id, account.id, both.id];
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(rule.rule.as_deref(), Some("usage-drop"));

    let active = |now| {
        let store = &store;
        async move { store.silences(now, false).await.unwrap() }
    };
    assert_eq!(
        active(t(2, 9)).await,
        [rule.clone(), account.clone(), both.clone()]
    );
    // A silence ends at `until` (as `Silence::mutes`).
    assert_eq!(active(t(3, 9)).await, [account.clone(), both.clone()]);
    assert_eq!(active(t(5, 9)).await, std::slice::from_ref(&both));
    assert_eq!(active(t(6, 9)).await, []);
    assert_eq!(
        store.silences(t(6, 9), true).await.unwrap(),
        [rule.clone(), account.clone(), both.clone()]
    );
    // What is listed mutes what it should.
    let listed = active(t(4, 9)).await;
    assert!(is_muted(&listed, "health-red", "acme", t(4, 9)));
    assert!(is_muted(&listed, "health-red", "globex", t(4, 9)));
    assert!(!is_muted(&listed, "usage-drop", "globex", t(4, 9)));

    assert!(store.remove_silence(account.id).await.unwrap());
    assert!(!store.remove_silence(account.id).await.unwrap());
    assert!(!store.remove_silence(9_999).await.unwrap());
    assert_eq!(
        store.silences(t(1, 9), true).await.unwrap(),
        [rule.clone(), both.clone()]
    );

    // Ids are never reused, even the highest one's after it is removed.
    assert!(store.remove_silence(both.id).await.unwrap());
    let next = store
        .add_silence(&silence(Some("x"), None, t(9, 9)))
        .await
        .unwrap();
    assert!(next.id > both.id);

    // A silence must name a rule, a subject or both.
    let err = store
        .add_silence(&silence(None, None, t(9, 9)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn only_a_firing_alert_can_be_acknowledged() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let (p, f, r) = (
        key("health-red", "pending"),
        key("health-red", "firing"),
        key("health-red", "resolved"),
    );
    let resolved = AlertState {
        phase: Phase::Resolved,
        resolved_at: Some(t(3, 9)),
        ..firing(t(1, 9), t(2, 9))
    };
    store
        .save_alert_states(&[
            (p.clone(), pending(t(1, 9))),
            (f.clone(), firing(t(1, 9), t(2, 9))),
            (r.clone(), resolved.clone()),
        ])
        .await
        .unwrap();

    assert!(!store
        .acknowledge(&key("health-red", "unknown"), "priya", t(4, 9))
        .await
        .unwrap());
    assert!(!store.acknowledge(&p, "priya", t(4, 9)).await.unwrap());
    assert!(!store.acknowledge(&r, "priya", t(4, 9)).await.unwrap());
    assert!(store.acknowledge(&f, "priya", t(4, 9)).await.unwrap());

    let states = store.alert_states().await.unwrap();
    assert_eq!(states.len(), 3, "acknowledging creates no state");
    assert_eq!(states[&p], pending(t(1, 9)));
    assert_eq!(states[&r], resolved);
    assert_eq!(
        states[&f],
        AlertState {
            ack: Some(Ack {
                by: "priya".into(),
                at: t(4, 9)
            }),
            ..firing(t(1, 9), t(2, 9))
        }
    );
    // A second acknowledgement replaces the first (as `lifecycle::acknowledge`).
    assert!(store.acknowledge(&f, "sam", t(4, 11)).await.unwrap());
    let ack = store.alert_states().await.unwrap()[&f].ack.clone();
    assert_eq!(
        ack,
        Some(Ack {
            by: "sam".into(),
            at: t(4, 11)
        })
    );
}

/// An acknowledgement that arrives between an evaluation's load and its save is not lost; it
/// ends with the firing it acknowledged.
#[tokio::test]
async fn an_acknowledgement_during_an_evaluation_is_kept() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let k = key("usage-drop", "acme");
    let timing = Timing {
        for_: Duration::zero(),
        repeat: Some(Duration::days(2)),
    };
    store
        .save_alert_states(&[(k.clone(), firing(t(1, 9), t(1, 9)))])
        .await
        .unwrap();

    // The evaluation loads, a person acknowledges from chat, the evaluation saves.
    let loaded = store.alert_states().await.unwrap()[&k].clone();
    assert!(store.acknowledge(&k, "priya", t(3, 8)).await.unwrap());
    let (next, event) = lifecycle::step(&loaded, Signal::Fire, t(3, 9), timing, false);
    assert_eq!((next.phase, event), (Phase::Firing, Some(Event::Reminder)));
    store.save_alert_states(&[(k.clone(), next)]).await.unwrap();
    let stored = store.alert_states().await.unwrap()[&k].clone();
    assert_eq!(stored.notified_at, Some(t(3, 9)));
    assert_eq!(stored.ack.as_ref().map(|a| a.by.as_str()), Some("priya"));

    // So the next evaluation sends no reminder...
    let (next, event) = lifecycle::step(&stored, Signal::Fire, t(5, 9), timing, false);
    assert_eq!(event, None);
    store.save_alert_states(&[(k.clone(), next)]).await.unwrap();
    // ...and when the alert resolves, the acknowledgement goes with it.
    let loaded = store.alert_states().await.unwrap()[&k].clone();
    let (next, event) = lifecycle::step(&loaded, Signal::Clear, t(6, 9), timing, false);
    assert_eq!(event, Some(Event::Resolved));
    store.save_alert_states(&[(k.clone(), next)]).await.unwrap();
    let stored = store.alert_states().await.unwrap()[&k].clone();
    assert_eq!((stored.phase, stored.ack), (Phase::Resolved, None));
}

#[tokio::test]
async fn damaged_rows_are_reported_with_their_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = open(&path).await;
    let mut conn = raw(&path).await;

    let expect_corrupt = |err: StoreError, wants: &[&str]| {
        let StoreError::Corrupt(msg) = &err else {
            panic!("expected corrupt data, got {err}");
        };
        for w in wants {
            assert!(msg.contains(w), "{msg:?} should mention {w:?}");
        }
    };

    exec(
        &mut conn,
        "INSERT INTO alert_states (rule, subject, phase, fired_at) \
         VALUES ('health-red', 'acme', 'firing', 'last tuesday')",
    )
    .await;
    let err = store.alert_states().await.unwrap_err();
    expect_corrupt(err, &["health-red", "acme", "fired_at", "last tuesday"]);
    let err = store
        .acknowledge(&key("health-red", "acme"), "priya", t(1, 9))
        .await
        .unwrap_err();
    expect_corrupt(err, &["health-red", "acme", "fired_at"]);
    exec(&mut conn, "DELETE FROM alert_states").await;

    // Values the schema's CHECKs refuse, written with the checks off.
    exec(&mut conn, "PRAGMA ignore_check_constraints = ON").await;
    exec(
        &mut conn,
        "INSERT INTO alert_states (rule, subject, phase) VALUES ('health-red', 'acme', 'exploded')",
    )
    .await;
    let err = store.alert_states().await.unwrap_err();
    expect_corrupt(err, &["health-red", "acme", "exploded"]);
    exec(&mut conn, "DELETE FROM alert_states").await;
    exec(
        &mut conn,
        "INSERT INTO alert_states (rule, subject, phase, ack_by) \
         VALUES ('usage-drop', 'globex', 'firing', 'priya')",
    )
    .await;
    let err = store.alert_states().await.unwrap_err();
    expect_corrupt(err, &["usage-drop", "globex", "ack_at"]);
    exec(&mut conn, "DELETE FROM alert_states").await;

    exec(
        &mut conn,
        "INSERT INTO silences (id, rule, until, created_by, reason, created_at) \
         VALUES (7, 'health-red', '2025-13-01T00:00:00Z', 'dana', 'why', '2025-03-01T00:00:00Z')",
    )
    .await;
    let err = store.silences(t(1, 9), true).await.unwrap_err();
    expect_corrupt(err, &["silences", "id 7", "until", "2025-13-01"]);
}

// ---------------------------------------------------------------------------------------------
// A restart in the middle of a timeline

/// What the rules say at one evaluation, per alert.
struct Tick {
    at: DateTime<Utc>,
    signals: Vec<(AlertKey, Signal)>,
    /// Acknowledged from chat after this evaluation: (alert, by, at).
    ack: Option<(AlertKey, &'static str, DateTime<Utc>)>,
}

const TIMING: Timing = Timing {
    for_: Duration::days(1),
    repeat: Some(Duration::days(2)),
};

/// Two alerts over eleven days: an account alert that goes pending, fires, reminds, is
/// acknowledged, holds through a hysteresis band and resolves; a portfolio alert that fires
/// during a silence, is announced when the silence ends, is held by stale data and resolves.
fn timeline() -> Vec<Tick> {
    use Signal::*;
    let acme = key("health-red", "acme");
    let portfolio = key("nrr-low", "portfolio");
    let signals = [
        // day: (acme, portfolio)
        (Fire, Fire),     // 1: both pending
        (Fire, Fire),     // 2: acme fires; portfolio fires silently
        (Between, Fire),  // 3: acme stays firing; portfolio still silenced
        (Fire, Fire),     // 4: acme reminder; portfolio announced (silence over)
        (Fire, Hold),     // 5: acme acknowledged after this
        (Between, Hold),  // 6: no reminder (acknowledged)
        (Fire, Fire),     // 7: portfolio reminded (2 days after its announcement)
        (Clear, Between), // 8: acme resolves
        (Clear, Clear),   // 9: portfolio resolves
        (Fire, Clear),    // 10: acme pending again
        (Fire, Clear),    // 11: acme fires again
    ];
    signals
        .into_iter()
        .enumerate()
        .map(|(i, (a, p))| {
            let day = i as u32 + 1;
            Tick {
                at: t(day, 9),
                signals: vec![(acme.clone(), a), (portfolio.clone(), p)],
                ack: (day == 5).then(|| (acme.clone(), "priya", t(5, 15))),
            }
        })
        .collect()
}

/// The portfolio rule is silenced until day 3 at noon.
fn timeline_silence() -> Silence {
    Silence {
        rule: Some("nrr-low".into()),
        ..silence(None, None, t(3, 12))
    }
}

type Sent = Vec<(DateTime<Utc>, AlertKey, Event)>;

/// The timeline with no store at all: the lifecycle on in-memory states.
fn run_in_memory() -> (Sent, BTreeMap<AlertKey, AlertState>) {
    let silences = [timeline_silence()];
    let mut states: BTreeMap<AlertKey, AlertState> = BTreeMap::new();
    let mut sent = Sent::new();
    for tick in timeline() {
        for (k, signal) in &tick.signals {
            let state = states.get(k).cloned().unwrap_or_default();
            let muted = is_muted(&silences, &k.rule, &k.subject, tick.at);
            let (next, event) = lifecycle::step(&state, *signal, tick.at, TIMING, muted);
            if let Some(e) = event {
                sent.push((tick.at, k.clone(), e));
            }
            states.insert(k.clone(), next);
        }
        if let Some((k, by, at)) = &tick.ack {
            assert!(lifecycle::acknowledge(states.get_mut(k).unwrap(), by, *at));
        }
    }
    states.retain(|_, s| *s != AlertState::default());
    (sent, states)
}

/// The timeline as the program runs it: each evaluation loads the states and silences from the
/// store, steps every alert and saves what changed; acknowledgements go through the store. The
/// store is closed and reopened from its file before the evaluations listed in `restarts`.
async fn run_with_store(path: &Path, restarts: &[usize]) -> (Sent, BTreeMap<AlertKey, AlertState>) {
    run_with_store_forgetting(path, restarts, false).await
}

/// [`run_with_store`], and with `forget` every restart also wipes the stored states.
async fn run_with_store_forgetting(
    path: &Path,
    restarts: &[usize],
    forget: bool,
) -> (Sent, BTreeMap<AlertKey, AlertState>) {
    let mut store = open(path).await;
    store.add_silence(&timeline_silence()).await.unwrap();
    let mut sent = Sent::new();
    for (i, tick) in timeline().into_iter().enumerate() {
        if restarts.contains(&i) {
            store.close().await;
            drop(store);
            if forget {
                exec(&mut raw(path).await, "DELETE FROM alert_states").await;
            }
            store = open(path).await;
        }
        let states = store.alert_states().await.unwrap();
        let silences = store.silences(tick.at, false).await.unwrap();
        let mut changed = Vec::new();
        for (k, signal) in &tick.signals {
            let state = states.get(k).cloned().unwrap_or_default();
            let muted = is_muted(&silences, &k.rule, &k.subject, tick.at);
            let (next, event) = lifecycle::step(&state, *signal, tick.at, TIMING, muted);
            if let Some(e) = event {
                sent.push((tick.at, k.clone(), e));
            }
            if next != state {
                changed.push((k.clone(), next));
            }
        }
        store.save_alert_states(&changed).await.unwrap();
        if let Some((k, by, at)) = &tick.ack {
            assert!(store.acknowledge(k, by, *at).await.unwrap());
        }
    }
    let states = store.alert_states().await.unwrap();
    store.close().await;
    (sent, states)
}

#[tokio::test]
async fn the_timeline_sends_what_it_should() {
    use Event::*;
    let acme = key("health-red", "acme");
    let portfolio = key("nrr-low", "portfolio");
    let (sent, states) = run_in_memory();
    assert_eq!(
        sent,
        [
            (t(2, 9), acme.clone(), Fired),
            (t(4, 9), acme.clone(), Reminder),
            (t(4, 9), portfolio.clone(), Fired),
            (t(7, 9), portfolio.clone(), Reminder),
            (t(8, 9), acme.clone(), Resolved),
            (t(9, 9), portfolio.clone(), Resolved),
            (t(11, 9), acme.clone(), Fired),
        ]
    );
    assert_eq!(states[&acme].phase, Phase::Firing);
    assert_eq!(states[&portfolio].phase, Phase::Resolved);

    // The same through the store without a restart.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        run_with_store(&dir.path().join("store.db"), &[]).await,
        (sent, states)
    );
}

#[tokio::test]
async fn a_restart_neither_refires_nor_forgets_nor_misses_a_resolution() {
    use Event::*;
    let acme = key("health-red", "acme");
    let portfolio = key("nrr-low", "portfolio");
    let expected = run_in_memory();

    // Restarting before day 5: both alerts are firing (acme reminded, portfolio just
    // announced), acme is about to be acknowledged and both resolve after the restart.
    let dir = tempfile::tempdir().unwrap();
    let (sent, states) = run_with_store(&dir.path().join("store.db"), &[4]).await;
    let after_restart: Vec<_> = sent.iter().filter(|(at, ..)| *at >= t(5, 9)).collect();
    // Not re-fired: no Fired of either alert after the restart until acme fires anew on day 11.
    assert!(
        !after_restart
            .iter()
            .any(|(at, _, e)| *e == Fired && *at < t(11, 9)),
        "{after_restart:?}"
    );
    // Not forgotten (the portfolio alert is still firing: its reminder is due on day 7, counted
    // from its announcement before the restart), resolution not missed: both resolve, once.
    assert_eq!(
        after_restart,
        [
            &(t(7, 9), portfolio.clone(), Reminder),
            &(t(8, 9), acme.clone(), Resolved),
            &(t(9, 9), portfolio.clone(), Resolved),
            &(t(11, 9), acme.clone(), Fired),
        ]
    );
    assert_eq!((sent, states), expected);

    // A restart before any evaluation, and before every one: always the same as no restart.
    for restart in 0..timeline().len() {
        let dir = tempfile::tempdir().unwrap();
        let got = run_with_store(&dir.path().join("store.db"), &[restart]).await;
        assert_eq!(got, expected, "restart before evaluation {restart}");
    }
    let dir = tempfile::tempdir().unwrap();
    let every: Vec<usize> = (0..timeline().len()).collect();
    assert_eq!(
        run_with_store(&dir.path().join("store.db"), &every).await,
        expected
    );
}

/// The test above is not vacuous: a restart that lost the states re-fires what never stopped.
#[tokio::test]
async fn a_restart_that_lost_the_states_would_refire() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let (sent, _) = run_with_store_forgetting(&path, &[2], true).await;
    let fired: Vec<_> = sent
        .iter()
        .filter(|(at, k, e)| *e == Event::Fired && *at < t(11, 9) && k.rule == "health-red")
        .collect();
    assert_eq!(fired.len(), 2, "{sent:?}");
    assert_ne!(sent, run_in_memory().0);
}
