//! The durable outbox end to end: messages stored (with their alert states, in one transaction)
//! before anything is sent, delivered in id order per channel, retried after Retry-After and
//! with backoff, failed after their attempts, resent after a restart with the same idempotency
//! key (Discord's nonce, against a local Discord REST fake that de-duplicates as Discord does),
//! stored once per identity, and alert resolutions shown by editing the original message.
//!
//! Time is a controllable clock passed to the deliverer; nothing sleeps.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use cs_pulse::alerts::message::AlertMessage;
use cs_pulse::alerts::{AlertState, Event, Phase};
use cs_pulse::notify::alert::outgoing;
use cs_pulse::notify::discord_bot::DiscordBotSink;
use cs_pulse::notify::outbox::{Deliverer, Op, OutboxRow, Outgoing, RetryPolicy, Status};
use cs_pulse::notify::sink::DeliveryIds;
use cs_pulse::notify::{Action, Message, Section, SendError, Sink, Tone};
use cs_pulse::rules::Severity;
use cs_pulse::store::{AlertKey, AlertStore, Enqueued, OutboxStore, SqliteStore};

// ---------------------------------------------------------------------------------------------
// Helpers: a clock, a recording sink, alert messages, stores in a temporary directory

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .expect("a valid time")
}

fn secs(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

/// A clock the test moves by hand.
struct Clock(Mutex<DateTime<Utc>>);

impl Clock {
    fn at(t: DateTime<Utc>) -> Clock {
        Clock(Mutex::new(t))
    }

    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }

    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("clock") += by;
    }
}

/// One call a [`Recorder`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Post { key: String, message: Message },
    Edit { ids: Vec<String>, message: Message },
}

impl Call {
    fn title(&self) -> &str {
        match self {
            Call::Post { message, .. } | Call::Edit { message, .. } => &message.title,
        }
    }
}

/// A sink that records every call and answers each from a script (success when the script is
/// empty). Successful posts get ids `{name}-1`, `{name}-2`, ...
struct Recorder {
    name: &'static str,
    editable: bool,
    script: Mutex<VecDeque<SendError>>,
    calls: Mutex<Vec<(Call, bool)>>,
    posted: Mutex<u32>,
}

impl Recorder {
    fn new(name: &'static str, editable: bool) -> Arc<Recorder> {
        Arc::new(Recorder {
            name,
            editable,
            script: Mutex::new(VecDeque::new()),
            calls: Mutex::new(vec![]),
            posted: Mutex::new(0),
        })
    }

    /// The next call fails with `err`.
    fn fail_next(&self, err: SendError) {
        self.script.lock().expect("script").push_back(err);
    }

    /// Every call, successful or not.
    fn attempts(&self) -> Vec<Call> {
        let calls = self.calls.lock().expect("calls");
        calls.iter().map(|(c, _)| c.clone()).collect()
    }

    /// The calls that succeeded.
    fn delivered(&self) -> Vec<Call> {
        let calls = self.calls.lock().expect("calls");
        calls
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(c, _)| c.clone())
            .collect()
    }

    fn answer(&self, call: Call) -> Result<(), SendError> {
        let outcome = self.script.lock().expect("script").pop_front();
        self.calls
            .lock()
            .expect("calls")
            .push((call, outcome.is_none()));
        outcome.map_or(Ok(()), Err)
    }
}

#[async_trait]
impl Sink for Recorder {
    async fn post(&self, message: &Message, key: &str) -> Result<DeliveryIds, SendError> {
        self.answer(Call::Post {
            key: key.to_string(),
            message: message.clone(),
        })?;
        let mut n = self.posted.lock().expect("posted");
        *n += 1;
        Ok(vec![format!("{}-{n}", self.name)])
    }

    fn can_edit(&self) -> bool {
        self.editable
    }

    async fn edit(&self, ids: &[String], message: &Message) -> Result<(), SendError> {
        if !self.editable {
            return Err(SendError::Permanent("cannot edit".to_string()));
        }
        self.answer(Call::Edit {
            ids: ids.to_vec(),
            message: message.clone(),
        })
    }
}

fn deliverer(
    store: &SqliteStore,
    sinks: &[(&str, Arc<dyn Sink>)],
    policy: RetryPolicy,
) -> Deliverer {
    let store: Arc<dyn OutboxStore> = Arc::new(store.clone());
    let sinks: BTreeMap<String, Arc<dyn Sink>> = sinks
        .iter()
        .map(|(name, sink)| (name.to_string(), sink.clone()))
        .collect();
    Deliverer::new(store, sinks, policy)
}

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base: Duration::from_secs(10),
        max: Duration::from_secs(600),
    }
}

/// A store file in a fresh temporary directory (kept alive by the returned guard).
async fn store_file() -> (tempfile::TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("pulse.db");
    let store = SqliteStore::open(&file).await.expect("the store opens");
    (dir, file, store)
}

/// "Restarts": closes `store` and opens the same file again.
async fn reopen(store: SqliteStore, file: &Path) -> SqliteStore {
    store.close().await;
    SqliteStore::open(file).await.expect("the store reopens")
}

/// Runs SQL on the store file directly, outside the store (a crash's aftermath, an old bug).
async fn sql(file: &Path, statement: &str) {
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .connect()
        .await
        .expect("a direct connection");
    sqlx::query(statement)
        .execute(&mut conn)
        .await
        .expect("the statement runs");
    conn.close().await.expect("closed");
}

const RULE: &str = "health_red";
const NAME: &str = "Health is red";

/// An alert message as the renderer groups it: one line per subject.
fn alert_message(event: Event, subjects: &[&str], route: &[&str]) -> AlertMessage {
    let n = subjects.len();
    let what = if n == 1 {
        "1 account".to_string()
    } else {
        format!("{n} accounts")
    };
    let (icon, verb) = match event {
        Event::Fired => ("🔴", ""),
        Event::Reminder => ("🔴", "still firing · "),
        Event::Resolved => ("✅", "resolved · "),
    };
    AlertMessage {
        rule: RULE.to_string(),
        rule_name: NAME.to_string(),
        severity: Severity::Critical,
        event,
        route: route.iter().map(|s| s.to_string()).collect(),
        title: format!("{icon} CRITICAL · {verb}{NAME} — {what}"),
        lines: subjects
            .iter()
            .map(|s| format!("{s}: health 38 (red), owner Ana Ruiz"))
            .collect(),
        more: 0,
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        owners: vec!["Ana Ruiz".to_string()],
        footer: format!("rule {RULE} · data as of 2026-11-23"),
    }
}

fn key(subject: &str) -> AlertKey {
    AlertKey {
        rule: RULE.to_string(),
        subject: subject.to_string(),
    }
}

fn firing(at: DateTime<Utc>) -> AlertState {
    AlertState {
        phase: Phase::Firing,
        active_since: Some(at),
        fired_at: Some(at),
        notified_at: Some(at),
        ..AlertState::default()
    }
}

fn resolved(fired: DateTime<Utc>, at: DateTime<Utc>) -> AlertState {
    AlertState {
        phase: Phase::Resolved,
        active_since: None,
        fired_at: Some(fired),
        notified_at: Some(fired),
        resolved_at: Some(at),
        ack: None,
    }
}

/// A plain (non-alert) message, like a scorecard.
fn note(channel: &str, dedup: &str, title: &str) -> Outgoing {
    Outgoing {
        channel: channel.to_string(),
        dedup: dedup.to_string(),
        message: Message {
            title: title.to_string(),
            tone: Tone::Info,
            sections: vec![Section {
                heading: None,
                lines: vec![format!("{title} body")],
                fields: vec![],
            }],
            footer: "test".to_string(),
            mentions: vec![],
            image: None,
            actions: vec![],
        },
        alert: None,
    }
}

async fn rows(store: &SqliteStore) -> Vec<OutboxRow> {
    store.outbox_rows(&[]).await.expect("rows")
}

async fn row(store: &SqliteStore, id: i64) -> OutboxRow {
    store
        .outbox_row(id)
        .await
        .expect("readable")
        .unwrap_or_else(|| panic!("no row {id}"))
}

// ---------------------------------------------------------------------------------------------
// 1. Stored before sent; sent in id order; marked sent with the platform's ids

#[tokio::test]
async fn every_message_is_stored_before_it_is_sent_then_sent_in_order() {
    let (_dir, file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", false);

    let fired = alert_message(Event::Fired, &["acme", "globex"], &["ops"]);
    let mut items = outgoing(&fired, t0(), &|_| false);
    items.push(note(
        "ops",
        "scorecard|leadership|2026-W47|ops",
        "Weekly scorecard",
    ));
    items.push(note("ops", "note|3", "Third"));
    let queued = store.enqueue(&[], &items, t0()).await.expect("enqueued");
    assert_eq!(
        queued,
        Enqueued {
            queued: 3,
            duplicates: 0,
            folded: 0
        }
    );

    // Stored, and nothing sent yet: every row pending, due now, with its own key.
    let stored = rows(&store).await;
    assert_eq!(stored.len(), 3);
    assert!(sink.attempts().is_empty());
    for r in &stored {
        assert_eq!(r.status, Status::Pending, "{r:?}");
        assert_eq!(r.op, Op::Post);
        assert_eq!(r.attempts, 0);
        assert_eq!(r.next_attempt_at, t0());
        assert_eq!(r.created_at, t0());
        assert!(r.delivery_ids.is_empty() && r.sent_at.is_none());
        assert_eq!(r.key.len(), 16, "{}", r.key);
    }
    assert_eq!(
        stored[0].dedup,
        "alert|health_red|fired|2026-11-23T09:00:00Z|ops"
    );
    assert_eq!(
        stored[0].message,
        cs_pulse::notify::alert::to_message(&fired)
    );
    let mut keys: Vec<&str> = stored.iter().map(|r| r.key.as_str()).collect();
    keys.dedup();
    assert_eq!(keys.len(), 3, "distinct keys");
    // A restart before delivery loses nothing.
    let store = reopen(store, &file).await;
    assert_eq!(store.pending().await.expect("pending"), stored);

    clock.advance(secs(5));
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    let report = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((report.sent, report.retrying, report.failed), (3, 0, 0));
    assert_eq!(report.pending, 0);
    assert_eq!(report.next_due, None);
    assert_eq!(report.per_channel["ops"], (3, 0, 0));

    // Sent in id order, each with its row's key.
    let calls = sink.delivered();
    let expected: Vec<Call> = stored
        .iter()
        .map(|r| Call::Post {
            key: r.key.clone(),
            message: r.message.clone(),
        })
        .collect();
    assert_eq!(calls, expected);

    // Marked sent with the ids the sink returned.
    let after = rows(&store).await;
    for (i, r) in after.iter().enumerate() {
        assert_eq!(r.status, Status::Sent);
        assert_eq!(r.delivery_ids, [format!("ops-{}", i + 1)]);
        assert_eq!(r.sent_at, Some(t0() + secs(5)));
        assert_eq!(r.attempts, 1);
        assert_eq!(r.last_error, None);
    }
    assert!(store.pending().await.expect("pending").is_empty());

    // A second pass has nothing to do.
    let again = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!(again.sent, 0);
    assert_eq!(sink.attempts().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// 2. Retry-After, backoff, attempts, permanent failures; order per channel

#[tokio::test]
async fn a_429_waits_its_retry_after_and_holds_only_its_own_channel() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let ops = Recorder::new("ops", false);
    let sales = Recorder::new("sales", false);
    let items = [
        note("ops", "o1", "ops 1"),
        note("sales", "s1", "sales 1"),
        note("ops", "o2", "ops 2"),
        note("sales", "s2", "sales 2"),
    ];
    store.enqueue(&[], &items, t0()).await.expect("enqueued");
    let d = deliverer(
        &store,
        &[("ops", ops.clone()), ("sales", sales.clone())],
        policy(3),
    );

    ops.fail_next(SendError::RateLimited {
        retry_after: Duration::from_secs(1),
    });
    let first = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((first.sent, first.retrying, first.failed), (2, 1, 0));
    assert_eq!(first.per_channel["ops"], (0, 1, 0));
    assert_eq!(first.per_channel["sales"], (2, 0, 0));
    assert_eq!(first.pending, 2);
    assert_eq!(first.next_due, Some(t0() + secs(1)));

    // The limited row waits exactly Retry-After; the later ops row is held behind it.
    let o1 = row(&store, 1).await;
    assert_eq!(o1.status, Status::Pending);
    assert_eq!(o1.next_attempt_at, t0() + secs(1));
    assert_eq!(o1.attempts, 1);
    assert_eq!(
        o1.last_error.as_deref(),
        Some("rate limited; retry after 1s")
    );
    let o2 = row(&store, 3).await;
    assert_eq!((o2.status, o2.attempts), (Status::Pending, 0));
    let ops_titles: Vec<String> = ops.attempts().iter().map(|c| c.title().into()).collect();
    assert_eq!(ops_titles, ["ops 1"], "ops 2 was not tried before ops 1");
    let sales_titles: Vec<String> = sales.delivered().iter().map(|c| c.title().into()).collect();
    assert_eq!(sales_titles, ["sales 1", "sales 2"]);

    // Not yet due: nothing moves half a second later.
    clock.advance(chrono::Duration::milliseconds(500));
    let early = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((early.sent, early.retrying), (0, 0));
    assert_eq!(ops.attempts().len(), 1);

    // Due at now + 1 s: sent, in order.
    clock.advance(chrono::Duration::milliseconds(500));
    let second = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((second.sent, second.retrying, second.pending), (2, 0, 0));
    let ops_titles: Vec<String> = ops.attempts().iter().map(|c| c.title().into()).collect();
    assert_eq!(ops_titles, ["ops 1", "ops 1", "ops 2"]);
    let o1 = row(&store, 1).await;
    assert_eq!((o1.status, o1.attempts), (Status::Sent, 2));
    assert_eq!(o1.last_error, None);
    assert_eq!(o1.sent_at, Some(t0() + secs(1)));
    assert_eq!(o1.delivery_ids, ["ops-1"]);
    // The same key on the retry: the platform can tell it is the same message.
    let keys: Vec<String> = ops
        .attempts()
        .iter()
        .map(|c| match c {
            Call::Post { key, .. } => key.clone(),
            Call::Edit { .. } => panic!("no edits here"),
        })
        .collect();
    assert_eq!(keys[0], keys[1]);
    assert_ne!(keys[1], keys[2]);
}

#[tokio::test]
async fn transient_errors_back_off_and_fail_after_the_attempts() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", false);
    store
        .enqueue(
            &[],
            &[note("ops", "n1", "one"), note("ops", "n2", "two")],
            t0(),
        )
        .await
        .expect("enqueued");
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    for _ in 0..3 {
        sink.fail_next(SendError::Transient("HTTP 502 from the gateway".into()));
    }

    // Attempt 1: backoff of base (10 s) ± 20%; attempt 2: 20 s ± 20%.
    for (attempt, base) in [(1u32, 10.0f64), (2, 20.0)] {
        let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
        assert_eq!((pass.sent, pass.retrying, pass.failed), (0, 1, 0));
        let r = row(&store, 1).await;
        assert_eq!(r.status, Status::Pending);
        assert_eq!(r.attempts, attempt);
        assert_eq!(r.last_error.as_deref(), Some("HTTP 502 from the gateway"));
        let wait = (r.next_attempt_at - clock.now()).num_milliseconds() as f64 / 1000.0;
        assert!(
            (base * 0.8..=base * 1.2).contains(&wait),
            "attempt {attempt}: waits {wait} s"
        );
        assert_eq!(pass.next_due, Some(r.next_attempt_at));
        // Row 2 is held behind row 1.
        assert_eq!(row(&store, 2).await.attempts, 0);
        clock.advance(r.next_attempt_at - clock.now());
    }

    // Attempt 3 of 3: failed for good; the channel moves on to row 2.
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.retrying, pass.failed), (1, 0, 1));
    let r = row(&store, 1).await;
    assert_eq!((r.status, r.attempts), (Status::Failed, 3));
    assert_eq!(r.last_error.as_deref(), Some("HTTP 502 from the gateway"));
    assert!(r.delivery_ids.is_empty());
    assert_eq!(row(&store, 2).await.status, Status::Sent);
    assert_eq!(
        store
            .outbox_rows(&[Status::Failed])
            .await
            .expect("rows")
            .len(),
        1
    );
    assert_eq!(pass.pending, 0);

    // Failed rows are not retried by later passes.
    clock.advance(secs(3600));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!(pass, Default::default());
    assert_eq!(sink.attempts().len(), 4);
}

#[tokio::test]
async fn a_permanent_error_fails_at_once_and_later_rows_go_on() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", false);
    store
        .enqueue(
            &[],
            &[note("ops", "n1", "one"), note("ops", "n2", "two")],
            t0(),
        )
        .await
        .expect("enqueued");
    let d = deliverer(&store, &[("ops", sink.clone())], policy(5));
    sink.fail_next(SendError::Permanent(
        "Discord refused the message (HTTP 403): Missing Access (code 50001)".into(),
    ));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.retrying, pass.failed), (1, 0, 1));
    assert_eq!(pass.per_channel["ops"], (1, 0, 1));
    let r = row(&store, 1).await;
    assert_eq!((r.status, r.attempts), (Status::Failed, 1));
    assert_eq!(
        r.last_error.as_deref(),
        Some("Discord refused the message (HTTP 403): Missing Access (code 50001)")
    );
    assert_eq!(r.next_attempt_at, t0(), "no retry time for a refusal");
    assert_eq!(row(&store, 2).await.status, Status::Sent);
}

#[tokio::test]
async fn a_row_for_an_unknown_channel_fails_with_a_hint() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", false);
    store
        .enqueue(
            &[],
            &[note("gone", "n1", "one"), note("ops", "n2", "two")],
            t0(),
        )
        .await
        .expect("enqueued");
    let d = deliverer(&store, &[("ops", sink.clone())], policy(5));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.failed), (1, 1));
    let r = row(&store, 1).await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(
        r.last_error.as_deref(),
        Some(
            "no channel named `gone` in the configuration (add it, then `cs-pulse outbox retry 1`)"
        )
    );
}

#[tokio::test]
async fn drain_waits_for_a_short_retry_after_and_leaves_long_waits_in_the_outbox() {
    let (_dir, _file, store) = store_file().await;
    let sink = Recorder::new("ops", false);
    store
        .enqueue(
            &[],
            &[note("ops", "n1", "one"), note("ops", "n2", "two")],
            t0(),
        )
        .await
        .expect("enqueued");
    let d = deliverer(&store, &[("ops", sink.clone())], policy(5));
    let clock = Utc::now;

    // A 5 ms Retry-After within 1 s of patience: drain waits it out and sends both.
    sink.fail_next(SendError::RateLimited {
        retry_after: Duration::from_millis(5),
    });
    let report = d
        .drain(&clock, Duration::from_secs(1))
        .await
        .expect("drained");
    assert_eq!((report.sent, report.retrying, report.pending), (2, 1, 0));
    assert_eq!(sink.delivered().len(), 2);

    // A 1 h Retry-After beyond the patience: drain returns, the row stays pending.
    store
        .enqueue(&[], &[note("ops", "n3", "three")], Utc::now())
        .await
        .expect("enqueued");
    sink.fail_next(SendError::RateLimited {
        retry_after: Duration::from_secs(3600),
    });
    let report = d
        .drain(&clock, Duration::from_millis(10))
        .await
        .expect("drained");
    assert_eq!((report.sent, report.retrying, report.pending), (0, 1, 1));
    assert!(report.next_due.is_some_and(|t| t > Utc::now() + secs(3000)));
    assert_eq!(row(&store, 3).await.status, Status::Pending);
}

#[tokio::test]
async fn drain_returns_when_a_channel_waits_behind_a_long_retry_after() {
    let (_dir, _file, store) = store_file().await;
    let sink = Recorder::new("ops", false);
    let now = Utc::now();
    store
        .enqueue(
            &[],
            &[note("ops", "n1", "one"), note("ops", "n2", "two")],
            now,
        )
        .await
        .expect("enqueued");
    let d = deliverer(&store, &[("ops", sink.clone())], policy(5));
    sink.fail_next(SendError::RateLimited {
        retry_after: Duration::from_secs(3600),
    });
    // Row 2 is due but held behind row 1, which waits an hour: the next send is in an hour,
    // beyond the patience, so drain returns at once instead of polling.
    let report = tokio::time::timeout(
        Duration::from_secs(5),
        d.drain(&Utc::now, Duration::from_secs(1)),
    )
    .await
    .expect("drain returns")
    .expect("drained");
    assert_eq!((report.sent, report.retrying, report.pending), (0, 1, 2));
    let due = report.next_due.expect("a next time");
    assert_eq!(due, row(&store, 1).await.next_attempt_at);
    assert!(due > now + secs(3000), "{due}");
    assert_eq!(sink.attempts().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 3. Restart: resent with the same nonce, nothing posted twice (a local Discord)

const TOKEN: &str = "MTAx.test-bot-token.s3cr3t";
const CHANNEL: u64 = 1_100_000_000_000_000_123;
const MESSAGES: &str = "/api/v10/channels/1100000000000000123/messages";

/// What the fake Discord saw and did.
#[derive(Default)]
struct Discord {
    next_id: u64,
    /// Messages created, by nonce (Discord's de-duplication with `enforce_nonce`).
    by_nonce: HashMap<String, String>,
    /// Create requests per nonce, and whether each asked to enforce it.
    requests: BTreeMap<String, Vec<bool>>,
    /// Creates without a nonce.
    anonymous: usize,
    /// The next N creates create the message and then answer 500 (the answer is lost).
    accept_then_500: usize,
    /// The next N creates answer 500 without creating anything.
    refuse_500: usize,
}

impl Discord {
    fn created(&self) -> usize {
        self.by_nonce.len() + self.anonymous
    }
}

/// Answers create-message as Discord does: a message object with a new snowflake, or, for a
/// nonce seen within the window with `enforce_nonce`, the message already created.
#[derive(Clone)]
struct FakeDiscord(Arc<Mutex<Discord>>);

impl FakeDiscord {
    fn state(&self) -> std::sync::MutexGuard<'_, Discord> {
        self.0.lock().expect("fake discord")
    }
}

fn server_error() -> ResponseTemplate {
    ResponseTemplate::new(500)
        .set_body_json(json!({"message": "500: Internal Server Error", "code": 0}))
}

impl Respond for FakeDiscord {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let mut s = self.state();
        let nonce = body["nonce"].as_str().map(str::to_owned);
        let enforce = body["enforce_nonce"] == json!(true);
        if let Some(n) = &nonce {
            s.requests.entry(n.clone()).or_default().push(enforce);
        }
        if s.refuse_500 > 0 {
            s.refuse_500 -= 1;
            return server_error();
        }
        let existing = nonce
            .as_ref()
            .filter(|_| enforce)
            .and_then(|n| s.by_nonce.get(n).cloned());
        let id = match existing {
            Some(id) => id,
            None => {
                s.next_id += 1;
                let id = (1_100_000_000_000_000_500 + s.next_id).to_string();
                match &nonce {
                    Some(n) => {
                        s.by_nonce.insert(n.clone(), id.clone());
                    }
                    None => s.anonymous += 1,
                }
                id
            }
        };
        if s.accept_then_500 > 0 {
            s.accept_then_500 -= 1;
            return server_error();
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id,
            "type": 0,
            "channel_id": CHANNEL.to_string(),
            "author": {"id": "1100000000000000999", "username": "cs-pulse", "bot": true},
            "content": body.get("content").cloned().unwrap_or(json!("")),
            "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
            "nonce": body.get("nonce").cloned().unwrap_or(Value::Null),
            "timestamp": "2026-11-23T09:00:00.000000+00:00",
            "edited_timestamp": null,
            "flags": 0
        }))
    }
}

async fn fake_discord() -> (MockServer, FakeDiscord) {
    let server = MockServer::start().await;
    let fake = FakeDiscord(Arc::new(Mutex::new(Discord::default())));
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn discord_sink(server: &MockServer) -> Arc<dyn Sink> {
    Arc::new(
        DiscordBotSink::new(
            CHANNEL,
            TOKEN.to_string(),
            Some(server.uri()),
            BTreeMap::new(),
        )
        .expect("a valid sink"),
    )
}

fn fired_on_discord() -> Vec<Outgoing> {
    outgoing(
        &alert_message(Event::Fired, &["acme", "globex"], &["discord"]),
        t0(),
        &|_| true,
    )
}

#[tokio::test]
async fn a_message_accepted_before_a_crash_is_resent_with_the_same_nonce_and_not_duplicated() {
    let (_dir, file, store) = store_file().await;
    let (server, fake) = fake_discord().await;
    let clock = Clock::at(t0());
    store
        .enqueue(&[], &fired_on_discord(), t0())
        .await
        .expect("enqueued");
    let key = row(&store, 1).await.key;

    // Discord accepts the message, then the process dies before `mark_sent`: the row is still
    // pending in the file (undo what mark_sent wrote, from outside the store).
    let d = deliverer(&store, &[("discord", discord_sink(&server))], policy(5));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!(pass.sent, 1);
    let first_ids = row(&store, 1).await.delivery_ids;
    drop(d);
    store.close().await;
    sql(
        &file,
        "UPDATE outbox SET status = 'pending', delivery_ids = NULL, sent_at = NULL, attempts = 0",
    )
    .await;

    // Restart: a new store on the same file, a new deliverer.
    let store = SqliteStore::open(&file).await.expect("reopened");
    assert_eq!(row(&store, 1).await.status, Status::Pending);
    clock.advance(secs(30));
    let d = deliverer(&store, &[("discord", discord_sink(&server))], policy(5));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!(pass.sent, 1);

    let r = row(&store, 1).await;
    assert_eq!(r.status, Status::Sent);
    assert_eq!(
        r.delivery_ids, first_ids,
        "Discord answered the same message"
    );
    let nonce = format!("{key}.0");
    let state = fake.state();
    assert_eq!(
        state.requests,
        BTreeMap::from([(nonce, vec![true, true])]),
        "the same nonce twice, enforced both times"
    );
    assert_eq!(state.created(), 1, "one message in the channel");
}

#[tokio::test]
async fn a_500_is_retried_after_a_restart_with_the_same_nonce() {
    let (_dir, file, store) = store_file().await;
    let (server, fake) = fake_discord().await;
    let clock = Clock::at(t0());
    store
        .enqueue(&[], &fired_on_discord(), t0())
        .await
        .expect("enqueued");
    let key = row(&store, 1).await.key;

    // Discord creates the message but the answer is a 500: the outbox must retry.
    fake.state().accept_then_500 = 1;
    let d = deliverer(&store, &[("discord", discord_sink(&server))], policy(5));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.retrying), (0, 1));
    let r = row(&store, 1).await;
    assert_eq!((r.status, r.attempts), (Status::Pending, 1));
    assert!(
        r.last_error.as_deref().is_some_and(|e| e.contains("500")),
        "{:?}",
        r.last_error
    );
    let due = r.next_attempt_at;
    drop(d);

    // Restart, then deliver when due.
    let store = reopen(store, &file).await;
    clock.advance(due - clock.now());
    let d = deliverer(&store, &[("discord", discord_sink(&server))], policy(5));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.retrying, pass.pending), (1, 0, 0));
    let r = row(&store, 1).await;
    assert_eq!((r.status, r.attempts), (Status::Sent, 2));
    assert_eq!(r.delivery_ids, ["1100000000000000501"]);

    {
        let state = fake.state();
        assert_eq!(
            state.requests,
            BTreeMap::from([(format!("{key}.0"), vec![true, true])])
        );
        assert_eq!(state.created(), 1);
    }
    // Nothing more goes out on later passes.
    d.deliver_due(&|| clock.now() + secs(3600))
        .await
        .expect("a pass");
    assert_eq!(fake.state().requests.values().flatten().count(), 2);
}

#[tokio::test]
async fn a_row_failed_before_a_restart_is_retried_at_start_and_sent_once() {
    let (_dir, file, store) = store_file().await;
    let (server, fake) = fake_discord().await;
    let clock = Clock::at(t0());
    store
        .enqueue(&[], &fired_on_discord(), t0())
        .await
        .expect("enqueued");
    fake.state().refuse_500 = 1;
    let d = deliverer(&store, &[("discord", discord_sink(&server))], policy(1));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!(pass.failed, 1);
    assert_eq!(row(&store, 1).await.status, Status::Failed);
    drop(d);

    // Restart: `cs-pulse run` makes failed rows pending again, then delivers.
    let store = reopen(store, &file).await;
    clock.advance(secs(600));
    assert_eq!(
        store.retry_failed(&[], clock.now()).await.expect("retry"),
        1
    );
    let r = row(&store, 1).await;
    assert_eq!((r.status, r.attempts), (Status::Pending, 0));
    assert_eq!(r.next_attempt_at, clock.now());
    assert_eq!(
        store.retry_failed(&[], clock.now()).await.expect("retry"),
        0
    );

    let d = deliverer(&store, &[("discord", discord_sink(&server))], policy(1));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!(pass.sent, 1);
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!(pass.sent, 0);
    let r = row(&store, 1).await;
    assert_eq!(r.status, Status::Sent);
    let state = fake.state();
    assert_eq!(
        state.requests,
        BTreeMap::from([(format!("{}.0", r.key), vec![true, true])])
    );
    assert_eq!(state.created(), 1);
}

#[tokio::test]
async fn retry_failed_and_drop_row_touch_only_the_rows_named() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", false);
    store
        .enqueue(
            &[],
            &[
                note("ops", "n1", "one"),
                note("ops", "n2", "two"),
                note("ops", "n3", "three"),
            ],
            t0(),
        )
        .await
        .expect("enqueued");
    for _ in 0..2 {
        sink.fail_next(SendError::Permanent("refused".into()));
    }
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    d.deliver_due(&|| clock.now()).await.expect("a pass");
    let statuses: Vec<Status> = rows(&store).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Status::Failed, Status::Failed, Status::Sent]);

    assert_eq!(store.retry_failed(&[2, 3], t0()).await.expect("retry"), 1);
    assert!(store.drop_row(1).await.expect("drop"));
    assert!(!store.drop_row(1).await.expect("drop"), "already dropped");
    assert!(!store.drop_row(3).await.expect("drop"), "already sent");
    assert!(!store.drop_row(99).await.expect("drop"), "no such row");
    assert_eq!(store.retry_failed(&[], t0()).await.expect("retry"), 0);

    d.deliver_due(&|| clock.now()).await.expect("a pass");
    let statuses: Vec<Status> = rows(&store).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Status::Dropped, Status::Sent, Status::Sent]);
    let sent: Vec<String> = sink.delivered().iter().map(|c| c.title().into()).collect();
    assert_eq!(sent, ["three", "two"], "the dropped row is never sent");
}

// ---------------------------------------------------------------------------------------------
// 4. Exactly once by identity

#[tokio::test]
async fn the_same_dedup_is_stored_once_even_across_a_restart_and_posted_once() {
    let (_dir, file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("console", false);
    let scorecard = note(
        "console",
        "scorecard|leadership|2026-W47|console",
        "Weekly scorecard: 2026-W47",
    );

    let first = store
        .enqueue(&[], std::slice::from_ref(&scorecard), t0())
        .await
        .expect("enqueued");
    assert_eq!((first.queued, first.duplicates), (1, 0));
    let second = store
        .enqueue(&[], std::slice::from_ref(&scorecard), t0() + secs(60))
        .await
        .expect("enqueued");
    assert_eq!(
        second,
        Enqueued {
            queued: 0,
            duplicates: 1,
            folded: 0
        }
    );

    // The service restarts and posts the scorecard again (late catch-up, say).
    let store = reopen(store, &file).await;
    let third = store
        .enqueue(
            &[],
            &[scorecard.clone(), scorecard.clone()],
            t0() + secs(120),
        )
        .await
        .expect("enqueued");
    assert_eq!((third.queued, third.duplicates), (0, 2));
    let all = rows(&store).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].created_at, t0(), "the first one is kept");

    let d = deliverer(&store, &[("console", sink.clone())], policy(3));
    d.deliver_due(&|| clock.now()).await.expect("a pass");
    // Once sent, asking again still stores nothing and posts nothing.
    let fourth = store
        .enqueue(&[], &[scorecard], t0() + secs(180))
        .await
        .expect("enqueued");
    assert_eq!(fourth.duplicates, 1);
    d.deliver_due(&|| clock.now()).await.expect("a pass");
    let posts: Vec<String> = sink.attempts().iter().map(|c| c.title().into()).collect();
    assert_eq!(posts, ["Weekly scorecard: 2026-W47"]);

    // The same alert event of the same evaluation is one message too.
    let fired = alert_message(Event::Fired, &["acme"], &["console"]);
    let a = store
        .enqueue(&[], &outgoing(&fired, t0(), &|_| false), t0())
        .await
        .expect("enqueued");
    let b = store
        .enqueue(&[], &outgoing(&fired, t0(), &|_| false), t0())
        .await
        .expect("enqueued");
    assert_eq!((a.queued, b.queued, b.duplicates), (1, 0, 1));
    assert_eq!(rows(&store).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 5. Resolutions edit the original message

const SUBJECTS: [&str; 3] = ["acme", "globex", "initech"];

/// Fires the alert for [`SUBJECTS`] on channel `ops` and delivers it.
async fn fired_and_posted(store: &SqliteStore, d: &Deliverer, clock: &Clock) {
    let fired = alert_message(Event::Fired, &SUBJECTS, &["ops"]);
    let states: Vec<_> = SUBJECTS.iter().map(|s| (key(s), firing(t0()))).collect();
    let q = store
        .enqueue(&states, &outgoing(&fired, t0(), &|c| d.can_edit(c)), t0())
        .await
        .expect("enqueued");
    assert_eq!(q.queued, 1);
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!(pass.sent, 1);
}

async fn resolve(
    store: &SqliteStore,
    d: &Deliverer,
    subjects: &[&str],
    at: DateTime<Utc>,
) -> Enqueued {
    let m = alert_message(Event::Resolved, subjects, &["ops"]);
    let states: Vec<_> = subjects
        .iter()
        .map(|s| (key(s), resolved(t0(), at)))
        .collect();
    store
        .enqueue(&states, &outgoing(&m, at, &|c| d.can_edit(c)), at)
        .await
        .expect("enqueued")
}

#[tokio::test]
async fn resolutions_edit_the_original_message_until_all_are_resolved() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", true);
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    fired_and_posted(&store, &d, &clock).await;
    let original = row(&store, 1).await;
    assert_eq!(original.delivery_ids, ["ops-1"]);

    // Two of three resolve: an edit of the original, nothing new to post.
    clock.advance(secs(3600));
    let q = resolve(&store, &d, &["acme", "initech"], clock.now()).await;
    assert_eq!(
        q,
        Enqueued {
            queued: 1,
            duplicates: 0,
            folded: 0
        }
    );
    let edit = row(&store, 2).await;
    assert_eq!(edit.op, Op::Edit { target: 1 });
    assert_eq!(edit.status, Status::Pending);
    assert_eq!(edit.channel, "ops");
    assert_eq!(edit.message.tone, Tone::Critical, "still firing for one");
    assert_eq!(edit.message.title, original.message.title);
    let lines = &edit.message.sections[0].lines;
    assert!(lines[0].starts_with("✅ resolved · acme"), "{lines:?}");
    assert!(lines[1].starts_with("globex"), "{lines:?}");
    assert!(lines[2].starts_with("✅ resolved · initech"), "{lines:?}");
    insta::assert_snapshot!("edit_two_of_three_resolved", edit.message.to_text());
    // Its fallback, should the original not be editable, is the resolved notice of those two.
    let fallback = edit.fallback.clone().expect("a fallback");
    assert_eq!(
        fallback.title,
        "✅ CRITICAL · resolved · Health is red — 2 accounts"
    );
    assert_eq!(fallback.tone, Tone::Good);

    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.edited), (0, 1));
    assert_eq!(
        sink.attempts().last(),
        Some(&Call::Edit {
            ids: vec!["ops-1".to_string()],
            message: edit.message.clone(),
        })
    );
    let edit = row(&store, 2).await;
    assert_eq!(edit.status, Status::Sent);
    assert!(edit.delivery_ids.is_empty(), "an edit creates no message");

    // The last one resolves: the whole message reads resolved.
    clock.advance(secs(3600));
    let q = resolve(&store, &d, &["globex"], clock.now()).await;
    assert_eq!((q.queued, q.folded), (1, 0));
    let last = row(&store, 3).await;
    assert_eq!(last.op, Op::Edit { target: 1 });
    assert_eq!(
        last.message.title,
        "✅ CRITICAL · Health is red — 3 accounts · all resolved"
    );
    assert_eq!(last.message.tone, Tone::Good);
    assert!(
        last.message.sections[0]
            .lines
            .iter()
            .all(|l| l.starts_with("✅ resolved · ")),
        "every line stays marked: {:?}",
        last.message.sections[0].lines
    );
    insta::assert_snapshot!("edit_all_resolved", last.message.to_text());

    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.edited), (0, 1));
    let calls = sink.delivered();
    assert_eq!(calls.len(), 3);
    assert!(matches!(&calls[0], Call::Post { .. }));
    for c in &calls[1..] {
        assert!(
            matches!(c, Call::Edit { ids, .. } if ids == &["ops-1".to_string()]),
            "{c:?}"
        );
    }
    assert_eq!(rows(&store).await.len(), 3, "no new post");
}

#[tokio::test]
async fn on_a_channel_that_cannot_edit_a_resolution_posts_a_notice() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", false);
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    fired_and_posted(&store, &d, &clock).await;

    clock.advance(secs(60));
    let q = resolve(&store, &d, &["acme", "initech"], clock.now()).await;
    assert_eq!((q.queued, q.folded), (1, 0));
    let notice = row(&store, 2).await;
    assert_eq!(notice.op, Op::Post);
    assert_eq!(
        notice.message.title,
        "✅ CRITICAL · resolved · Health is red — 2 accounts"
    );
    assert_eq!(notice.message.tone, Tone::Good);
    d.deliver_due(&|| clock.now()).await.expect("a pass");
    let calls = sink.delivered();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| matches!(c, Call::Post { .. })));
    assert_eq!(calls[1].title(), notice.message.title);
}

#[tokio::test]
async fn a_resolution_before_the_original_is_sent_changes_it_in_place() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", true);
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    let fired = alert_message(Event::Fired, &SUBJECTS, &["ops"]);
    store
        .enqueue(&[], &outgoing(&fired, t0(), &|_| true), t0())
        .await
        .expect("enqueued");

    // Resolved before delivery (the channel was down): folded into the pending original.
    let q = resolve(&store, &d, &["globex"], t0() + secs(60)).await;
    assert_eq!(
        q,
        Enqueued {
            queued: 0,
            duplicates: 0,
            folded: 1
        }
    );
    let all = rows(&store).await;
    assert_eq!(all.len(), 1, "no edit row");
    let lines = &all[0].message.sections[0].lines;
    assert!(lines[1].starts_with("✅ resolved · globex"), "{lines:?}");
    assert!(!lines[0].starts_with("✅") && !lines[2].starts_with("✅"));

    // The rest resolve too, still before delivery: posted once, already all resolved.
    let q = resolve(&store, &d, &["acme", "initech"], t0() + secs(120)).await;
    assert_eq!((q.queued, q.folded), (0, 1));
    let all = rows(&store).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].message.title,
        "✅ CRITICAL · Health is red — 3 accounts · all resolved"
    );
    insta::assert_snapshot!("folded_all_resolved", all[0].message.to_text());

    clock.advance(secs(300));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.edited), (1, 0));
    assert_eq!(
        sink.delivered(),
        [Call::Post {
            key: all[0].key.clone(),
            message: all[0].message.clone()
        }]
    );
}

#[tokio::test]
async fn a_resolution_of_subjects_never_announced_posts_a_notice_for_them_only() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", true);
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    fired_and_posted(&store, &d, &clock).await;

    clock.advance(secs(60));
    let q = resolve(&store, &d, &["acme", "hooli"], clock.now()).await;
    assert_eq!((q.queued, q.folded), (2, 0));
    let all = rows(&store).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].op, Op::Edit { target: 1 });
    assert_eq!(all[2].op, Op::Post);
    assert_eq!(
        all[2].message.title,
        "✅ CRITICAL · resolved · Health is red — 1 account"
    );
    assert_eq!(
        all[2].message.sections[0].lines,
        ["hooli: health 38 (red), owner Ana Ruiz"]
    );
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.edited), (1, 1));
}

#[tokio::test]
async fn an_edit_whose_original_cannot_be_edited_posts_its_fallback_notice() {
    let (_dir, file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", true);
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    fired_and_posted(&store, &d, &clock).await;
    clock.advance(secs(60));
    resolve(&store, &d, &["acme"], clock.now()).await;
    resolve(&store, &d, &["globex"], clock.now() + secs(1)).await;
    let edits = store.pending().await.expect("pending");
    assert_eq!(edits.len(), 2);
    assert!(edits.iter().all(|e| e.op == Op::Edit { target: 1 }));

    // The original is no longer a sent message (marked failed from outside, as an older
    // version or an operator's SQL might): each edit posts its own notice instead, with its
    // own key.
    sql(&file, "UPDATE outbox SET status = 'failed' WHERE id = 1").await;
    clock.advance(secs(1));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.edited), (2, 0));
    let calls = sink.delivered();
    assert_eq!(calls.len(), 3);
    for (call, edit) in calls[1..].iter().zip(&edits) {
        assert_eq!(
            call,
            &Call::Post {
                key: edit.key.clone(),
                message: edit.fallback.clone().expect("a fallback"),
            }
        );
    }
    assert_eq!(
        calls[1].title(),
        "✅ CRITICAL · resolved · Health is red — 1 account"
    );
    let after = rows(&store).await;
    assert_eq!(after[1].status, Status::Sent);
    assert_eq!(after[1].delivery_ids, ["ops-2"]);

    // The same on a channel reconfigured as one that cannot edit.
    let (_dir2, _file2, store2) = store_file().await;
    let editable = Recorder::new("ops", true);
    let d = deliverer(&store2, &[("ops", editable.clone())], policy(3));
    fired_and_posted(&store2, &d, &clock).await;
    resolve(&store2, &d, &["initech"], clock.now()).await;
    let plain = Recorder::new("plain", false);
    let d = deliverer(&store2, &[("ops", plain.clone())], policy(3));
    let pass = d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert_eq!((pass.sent, pass.edited), (1, 0));
    assert_eq!(
        plain
            .delivered()
            .iter()
            .map(Call::title)
            .collect::<Vec<_>>(),
        ["✅ CRITICAL · resolved · Health is red — 1 account"]
    );
}

#[tokio::test]
async fn a_resolution_of_a_dropped_original_is_posted_as_a_notice() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", true);
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    let fired = alert_message(Event::Fired, &SUBJECTS, &["ops"]);
    store
        .enqueue(&[], &outgoing(&fired, t0(), &|_| true), t0())
        .await
        .expect("enqueued");
    assert!(store.drop_row(1).await.expect("dropped"));

    // The fired message will never be sent: the resolution cannot hide in it.
    let q = resolve(&store, &d, &["acme"], t0() + secs(60)).await;
    assert_eq!((q.queued, q.folded), (1, 0));
    d.deliver_due(&|| clock.now() + secs(60))
        .await
        .expect("a pass");
    assert_eq!(
        sink.delivered().iter().map(Call::title).collect::<Vec<_>>(),
        ["✅ CRITICAL · resolved · Health is red — 1 account"]
    );
    assert_eq!(row(&store, 1).await.status, Status::Dropped);
}

// ---------------------------------------------------------------------------------------------
// 6. Alert states and messages in one transaction

#[tokio::test]
async fn alert_states_are_written_with_the_messages() {
    let (_dir, file, store) = store_file().await;
    let fired = alert_message(Event::Fired, &["acme", "globex"], &["ops"]);
    let states = vec![(key("acme"), firing(t0())), (key("globex"), firing(t0()))];
    store
        .enqueue(&states, &outgoing(&fired, t0(), &|_| true), t0())
        .await
        .expect("enqueued");
    let stored = store.alert_states().await.expect("states");
    assert_eq!(stored, states.iter().cloned().collect::<BTreeMap<_, _>>());

    // States only (nothing to say) are saved too.
    let later = t0() + secs(60);
    store
        .enqueue(&[(key("globex"), resolved(t0(), later))], &[], later)
        .await
        .expect("enqueued");
    let stored = store.alert_states().await.expect("states");
    assert_eq!(stored[&key("globex")].phase, Phase::Resolved);
    assert_eq!(stored[&key("acme")].phase, Phase::Firing);

    // When storing a message fails, its states are not written either.
    let store = reopen(store, &file).await;
    sql(
        &file,
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON outbox WHEN NEW.dedup = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    .await;
    let err = store
        .enqueue(
            &[(key("acme"), resolved(t0(), later))],
            &[note("ops", "fine", "fine"), note("ops", "boom", "boom")],
            later,
        )
        .await;
    assert!(err.is_err(), "{err:?}");
    let stored = store.alert_states().await.expect("states");
    assert_eq!(stored[&key("acme")].phase, Phase::Firing, "not advanced");
    assert_eq!(
        rows(&store).await.len(),
        1,
        "no message of the failed batch"
    );
}

#[tokio::test]
async fn the_buttons_of_a_one_account_alert_go_when_it_resolves() {
    let (_dir, _file, store) = store_file().await;
    let clock = Clock::at(t0());
    let sink = Recorder::new("ops", true);
    let d = deliverer(&store, &[("ops", sink.clone())], policy(3));
    let fired = alert_message(Event::Fired, &["acme"], &["ops"]);
    store
        .enqueue(
            &[(key("acme"), firing(t0()))],
            &outgoing(&fired, t0(), &|c| d.can_edit(c)),
            t0(),
        )
        .await
        .expect("enqueued");
    d.deliver_due(&|| clock.now()).await.expect("a pass");
    let buttons = Action::for_alert(RULE, "acme", Some("acme"));
    assert_eq!(buttons.len(), 3);
    assert_eq!(row(&store, 1).await.message.actions, buttons);

    // Resolved after it was posted: the edit, and its fallback notice, have no buttons.
    clock.advance(secs(3600));
    resolve(&store, &d, &["acme"], clock.now()).await;
    let edit = row(&store, 2).await;
    assert_eq!(edit.op, Op::Edit { target: 1 });
    assert_eq!(edit.message.actions, vec![]);
    assert_eq!(edit.fallback.expect("a fallback").actions, vec![]);
    d.deliver_due(&|| clock.now()).await.expect("a pass");
    assert!(matches!(
        sink.delivered().last(),
        Some(Call::Edit { message, .. }) if message.actions.is_empty()
    ));

    // Resolved before it was posted: it is posted resolved, without buttons.
    let later = clock.now() + secs(3600);
    let fired = alert_message(Event::Fired, &["globex"], &["ops"]);
    store
        .enqueue(
            &[(key("globex"), firing(later))],
            &outgoing(&fired, later, &|c| d.can_edit(c)),
            later,
        )
        .await
        .expect("enqueued");
    let q = resolve(&store, &d, &["globex"], later + secs(60)).await;
    assert_eq!(q.folded, 1);
    let pending = rows(&store).await.pop().expect("the original");
    assert_eq!(pending.status, Status::Pending);
    assert_eq!(pending.message.actions, vec![]);
}
