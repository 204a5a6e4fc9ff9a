//! The durable outbox: every message is stored (see [`crate::store::OutboxStore`]) before it
//! is sent, and marked when the platform confirms it. A [`Deliverer`] sends what is due, in
//! order per channel, retrying 429s after their Retry-After and 5xx/timeouts with exponential
//! backoff and jitter; a message still unsent after its attempts stays in the outbox as
//! `failed`, is retried at the next start, and can be listed, retried or dropped by
//! `cs-pulse outbox`.
//!
//! Nothing is posted twice: a message is identified by its `dedup` (an alert event of one
//! evaluation, a scorecard of one period) so it is stored once, and each row carries a random
//! key the platform uses to recognise a resend after a crash (Discord's nonce with
//! `enforce_nonce`; the webhook's `X-CS-Pulse-Delivery` header).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::{ActionKind, Message, SendError, Sink, Tone};
use crate::alerts::Event;
use crate::report::format;
use crate::store::{OutboxStore, StoreError};

/// A message to store for delivery to one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub channel: String,
    /// What the message is; storing the same `dedup` twice stores it once.
    pub dedup: String,
    pub message: Message,
    /// For alert messages: what they announce, so that resolutions can edit them.
    pub alert: Option<AlertPost>,
}

/// What an alert message announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertPost {
    pub rule: String,
    pub event: Event,
    /// Every subject of the message; the first `lined` have a line each in the first section
    /// (in order), the rest are counted in its last line ("… and N more").
    pub subjects: Vec<String>,
    pub lined: usize,
    /// Whether the channel can edit posted messages (then a resolution edits the original).
    pub can_edit: bool,
}

/// Post a new message, or edit the one posted by row `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Post,
    Edit { target: i64 },
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Post => "post",
            Op::Edit { .. } => "edit",
        }
    }
}

/// Where a row is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Waiting to be sent (possibly for a retry time).
    Pending,
    /// Confirmed by the platform.
    Sent,
    /// Out of attempts, or refused for good; retried at the next start or by `outbox retry`.
    Failed,
    /// Dropped by an operator; never sent.
    Dropped,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Pending,
        Status::Sent,
        Status::Failed,
        Status::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    /// The idempotency key given to the platform.
    pub key: String,
    pub dedup: String,
    pub channel: String,
    pub op: Op,
    pub message: Message,
    /// For an edit: what to post instead when the original cannot be edited.
    pub fallback: Option<Message>,
    pub status: Status,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The platform's ids of what was posted.
    pub delivery_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Shown before a resolved line and title.
const RESOLVED_MARK: &str = "✅";

/// The original alert message with `lines` (indices into its first section) marked resolved,
/// and, when `all` its subjects are resolved, its title and color too. Its buttons go: they
/// belong to alerts about one subject, which has now resolved and can no longer be
/// acknowledged or snoozed.
pub fn mark_resolved(original: &Message, lines: &[usize], all: bool) -> Message {
    let mut m = original.clone();
    m.actions.clear();
    if let Some(section) = m.sections.first_mut() {
        for &i in lines {
            if let Some(line) = section.lines.get_mut(i) {
                if !line.starts_with(RESOLVED_MARK) {
                    *line = format!("{RESOLVED_MARK} resolved · {line}");
                }
            }
        }
    }
    if all && !m.title.starts_with(RESOLVED_MARK) {
        // Titles start with the severity icon: "🔴 CRITICAL · Health is red — 3 accounts".
        let rest = m.title.split_once(' ').map_or(m.title.as_str(), |(_, r)| r);
        m.title = format!("{RESOLVED_MARK} {rest} · all resolved");
        m.tone = Tone::Good;
    }
    m
}

/// The alert message cut down to `keep` of its subjects: their lines, a recount of those beyond
/// the lines, the count in the title, and only the buttons about them (a resolved notice has
/// none at all).
pub fn restrict(message: &Message, alert: &AlertPost, keep: &[String]) -> Message {
    let mut m = message.clone();
    if alert.event == Event::Resolved {
        m.actions.clear();
    }
    if keep.len() == alert.subjects.len() {
        return m;
    }
    let keep: HashSet<&str> = keep.iter().map(String::as_str).collect();
    m.actions.retain(|a| {
        let subject = match a.kind {
            ActionKind::Open => a.target.as_str(),
            ActionKind::Ack | ActionKind::Snooze => a
                .target
                .strip_prefix(alert.rule.as_str())
                .and_then(|rest| rest.strip_prefix(':'))
                .unwrap_or(""),
        };
        keep.contains(subject)
    });
    if let Some(section) = m.sections.first_mut() {
        let mut lines: Vec<String> = alert
            .subjects
            .iter()
            .zip(&section.lines)
            .take(alert.lined)
            .filter(|(s, _)| keep.contains(s.as_str()))
            .map(|(_, l)| l.clone())
            .collect();
        let beyond = alert
            .subjects
            .iter()
            .skip(alert.lined)
            .filter(|s| keep.contains(s.as_str()))
            .count();
        if beyond > 0 {
            lines.push(more_line(beyond));
        }
        section.lines = lines;
    }
    let n = alert
        .subjects
        .iter()
        .filter(|s| keep.contains(s.as_str()))
        .count();
    if let Some((head, what)) = m.title.rsplit_once(" — ") {
        if what.ends_with("account") || what.ends_with("accounts") {
            m.title = format!("{head} — {}", format::accounts(n));
        }
    }
    m
}

/// The last line of a capped list.
pub fn more_line(n: usize) -> String {
    format!("… and {n} more")
}

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per message before it is marked failed.
    pub attempts: u32,
    /// The first backoff; doubled per attempt, with ±20% jitter.
    pub base: Duration,
    /// The longest backoff (and the longest Retry-After honoured before giving up the pass).
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 8,
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max);
        let jitter = rand::thread_rng().gen_range(0.8..=1.2);
        capped.mul_f64(jitter).min(self.max)
    }
}

/// What one delivery pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub sent: usize,
    pub edited: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Pending rows left, and the earliest time one of them can be sent (a row waits for the
    /// rows before it on its channel).
    pub pending: usize,
    pub next_due: Option<DateTime<Utc>>,
    /// Per channel: (sent, retried, failed) in this pass.
    pub per_channel: BTreeMap<String, (usize, usize, usize)>,
}

/// Sends due outbox rows through the configured sinks.
pub struct Deliverer {
    store: Arc<dyn OutboxStore>,
    sinks: BTreeMap<String, Arc<dyn Sink>>,
    policy: RetryPolicy,
}

/// How a row was settled in a pass.
enum Settled {
    Sent,
    Edited,
    Retry,
    Failed,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn OutboxStore>,
        sinks: BTreeMap<String, Arc<dyn Sink>>,
        policy: RetryPolicy,
    ) -> Deliverer {
        Deliverer {
            store,
            sinks,
            policy,
        }
    }

    /// Whether the channel named `name` can edit its posted messages.
    pub fn can_edit(&self, name: &str) -> bool {
        self.sinks.get(name).is_some_and(|s| s.can_edit())
    }

    /// Sends every pending row that is due at `clock()`, oldest first. A channel whose row must
    /// wait (a retry time) holds its later rows too, so each channel gets messages in order.
    pub async fn deliver_due(
        &self,
        clock: &(dyn Fn() -> DateTime<Utc> + Sync),
    ) -> Result<PassReport, StoreError> {
        let mut report = PassReport::default();
        let mut held: HashSet<String> = HashSet::new();
        for row in self.store.pending().await? {
            if held.contains(&row.channel) {
                continue;
            }
            if row.next_attempt_at > clock() {
                held.insert(row.channel.clone());
                continue;
            }
            let settled = self.send(&row, clock).await?;
            let c = report.per_channel.entry(row.channel.clone()).or_default();
            match settled {
                Settled::Sent => {
                    report.sent += 1;
                    c.0 += 1;
                }
                Settled::Edited => {
                    report.edited += 1;
                    c.0 += 1;
                }
                Settled::Retry => {
                    report.retrying += 1;
                    c.1 += 1;
                    held.insert(row.channel.clone());
                }
                Settled::Failed => {
                    report.failed += 1;
                    c.2 += 1;
                }
            }
        }
        let left = self.store.pending().await?;
        report.pending = left.len();
        // A channel's later rows wait for its first one, so only first rows say when the next
        // send can happen (a later row's past due time would make `drain` spin).
        let mut heads: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        for r in &left {
            heads.entry(r.channel.as_str()).or_insert(r.next_attempt_at);
        }
        report.next_due = heads.into_values().min();
        Ok(report)
    }

    /// Sends one row and records the outcome.
    async fn send(
        &self,
        row: &OutboxRow,
        clock: &(dyn Fn() -> DateTime<Utc> + Sync),
    ) -> Result<Settled, StoreError> {
        let Some(sink) = self.sinks.get(&row.channel) else {
            let error = format!(
                "no channel named `{}` in the configuration (add it, then `cs-pulse outbox retry {}`)",
                row.channel, row.id
            );
            self.store.mark_attempt(row.id, &error, None).await?;
            tracing::warn!(id = row.id, channel = %row.channel, "{error}");
            return Ok(Settled::Failed);
        };
        let result = match row.op {
            Op::Post => sink.post(&row.message, &row.key).await.map(Some),
            Op::Edit { target } => {
                let original = self.store.outbox_row(target).await?;
                match original {
                    Some(o)
                        if o.status == Status::Sent
                            && !o.delivery_ids.is_empty()
                            && sink.can_edit() =>
                    {
                        sink.edit(&o.delivery_ids, &row.message)
                            .await
                            .map(|()| None)
                    }
                    // The original never arrived: say it as a new message instead.
                    _ => {
                        let notice = row.fallback.as_ref().unwrap_or(&row.message);
                        sink.post(notice, &row.key).await.map(Some)
                    }
                }
            }
        };
        match result {
            Ok(ids) => {
                let edited = ids.is_none();
                self.store
                    .mark_sent(row.id, &ids.unwrap_or_default(), clock())
                    .await?;
                tracing::info!(id = row.id, channel = %row.channel, op = row.op.as_str(), "delivered");
                Ok(if edited {
                    Settled::Edited
                } else {
                    Settled::Sent
                })
            }
            Err(err) => {
                let attempt = row.attempts + 1;
                let wait = match &err {
                    SendError::RateLimited { retry_after } => Some(*retry_after),
                    SendError::Transient(_) => Some(self.policy.backoff(attempt)),
                    SendError::Permanent(_) => None,
                };
                let retry_at = wait.filter(|_| attempt < self.policy.attempts).map(|w| {
                    clock() + chrono::Duration::from_std(w).unwrap_or(chrono::Duration::MAX)
                });
                let error = err.to_string();
                self.store.mark_attempt(row.id, &error, retry_at).await?;
                match retry_at {
                    Some(at) => {
                        tracing::warn!(id = row.id, channel = %row.channel, attempt, retry_at = %at, "send failed: {error}");
                        Ok(Settled::Retry)
                    }
                    None => {
                        tracing::error!(id = row.id, channel = %row.channel, attempt, "gave up: {error}");
                        Ok(Settled::Failed)
                    }
                }
            }
        }
    }

    /// Delivers until nothing is pending or the next retry is more than `patience` away
    /// (one-shot commands: `eval`, `scorecard`). Rows still waiting stay in the outbox.
    pub async fn drain(
        &self,
        clock: &(dyn Fn() -> DateTime<Utc> + Sync),
        patience: Duration,
    ) -> Result<PassReport, StoreError> {
        let deadline =
            clock() + chrono::Duration::from_std(patience).unwrap_or(chrono::Duration::MAX);
        let mut total = PassReport::default();
        loop {
            let pass = self.deliver_due(clock).await?;
            total.sent += pass.sent;
            total.edited += pass.edited;
            total.retrying += pass.retrying;
            total.failed += pass.failed;
            for (ch, (s, r, f)) in pass.per_channel {
                let t = total.per_channel.entry(ch).or_default();
                t.0 += s;
                t.1 += r;
                t.2 += f;
            }
            total.pending = pass.pending;
            total.next_due = pass.next_due;
            match pass.next_due {
                Some(due) if due <= deadline => {
                    let wait = (due - clock()).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait).await;
                }
                _ => return Ok(total),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Action, Section};

    fn post(event: Event, subjects: &[&str]) -> AlertPost {
        AlertPost {
            rule: "r".to_string(),
            event,
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            lined: subjects.len(),
            can_edit: true,
        }
    }

    fn message(subjects: &[&str], actions: Vec<Action>) -> Message {
        Message {
            title: format!("🔴 CRITICAL · R — {}", format::accounts(subjects.len())),
            sections: vec![Section {
                heading: None,
                lines: subjects.iter().map(|s| format!("{s}: red")).collect(),
                fields: vec![],
            }],
            actions,
            ..Message::default()
        }
    }

    #[test]
    fn restrict_keeps_only_the_buttons_about_kept_subjects() {
        let buttons = Action::for_alert("r", "a:1", Some("a:1"));
        let m = message(&["a:1", "b"], buttons.clone());
        let fired = post(Event::Fired, &["a:1", "b"]);
        assert_eq!(restrict(&m, &fired, &["a:1".into()]).actions, buttons);
        assert_eq!(restrict(&m, &fired, &["b".into()]).actions, vec![]);
        assert_eq!(
            restrict(&m, &fired, &["a:1".into(), "b".into()]).actions,
            buttons
        );
        // A resolved notice never has buttons.
        let resolved = post(Event::Resolved, &["a:1", "b"]);
        assert_eq!(restrict(&m, &resolved, &["a:1".into()]).actions, vec![]);
        assert_eq!(
            restrict(&m, &resolved, &["a:1".into(), "b".into()]).actions,
            vec![]
        );
    }

    #[test]
    fn a_message_marked_resolved_loses_its_buttons() {
        let m = message(&["a"], Action::for_alert("r", "a", Some("a")));
        assert_eq!(mark_resolved(&m, &[0], true).actions, vec![]);
        assert_eq!(mark_resolved(&m, &[], false).actions, vec![]);
    }
}
