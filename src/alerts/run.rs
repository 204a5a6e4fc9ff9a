//! One evaluation of every rule as of a day: metric values from the engine, signals from the
//! rules, states through the lifecycle, the data-quality guard, and the grouped messages to
//! send. Pure given its inputs (time passed in); the CLI and the scheduler do the I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::data_quality::SourceIssue;
use super::engine::{advance, Advance, AlertKey};
use super::lifecycle::{step, AlertState, Event, Phase, Signal, Timing};
use super::message::{AlertMessage, Notification, Renderer};
use super::silence::{is_muted, Silence};
use crate::metrics::Engine;
use crate::model::Account;
use crate::rules::eval::{evaluate, ValueTable};
use crate::rules::{Rule, Severity};

/// The rule id of the built-in data-quality warnings (one alert per source).
pub const DATA_QUALITY_RULE: &str = "data-quality";

/// What one evaluation did.
#[derive(Debug, Default)]
pub struct EvalOutcome {
    /// States that changed, to be saved in one transaction.
    pub changed: Vec<(AlertKey, AlertState)>,
    /// The messages to send, grouped per rule and event.
    pub messages: Vec<AlertMessage>,
    /// Every notification (for counting and backtests).
    pub notifications: Vec<Notification>,
    /// Per rule id: (pending, firing) subjects after the evaluation.
    pub counts: BTreeMap<String, (usize, usize)>,
    /// Whether the rules held their state because of data-quality issues.
    pub held: bool,
}

/// Evaluates and advances every rule, the rules spread over the machine's cores (each rule is
/// independent of the others). Results come back in rule order.
pub fn advance_all(
    rules: &[Rule],
    accounts: &[Account],
    table: &ValueTable,
    states: &BTreeMap<AlertKey, AlertState>,
    now: DateTime<Utc>,
    silences: &[Silence],
    hold: bool,
) -> Vec<Advance> {
    let one = |rule: &Rule| {
        advance(
            rule,
            &evaluate(rule, accounts, table),
            states,
            now,
            silences,
            hold,
        )
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(rules.len());
    if threads <= 1 {
        return rules.iter().map(one).collect();
    }
    let chunk = rules.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = rules
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            // A panic in a worker is a bug; re-raise it rather than lose a rule's result.
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Inputs that stay the same across the rules of one evaluation.
pub struct Evaluation<'a> {
    pub rules: &'a [Rule],
    /// The last day of data the rules look at.
    pub day: NaiveDate,
    /// The time the lifecycle advances to.
    pub now: DateTime<Utc>,
    pub silences: &'a [Silence],
    /// Configured source names, and the issues of those that can't be trusted now.
    pub sources: &'a [String],
    pub issues: &'a [SourceIssue],
    /// Where data-quality warnings go.
    pub warning_route: &'a [String],
}

impl Evaluation<'_> {
    /// Evaluates every rule against `engine`'s data and advances `states`. With `render`,
    /// messages are rendered (backtests skip it).
    pub fn run(
        &self,
        engine: &Engine,
        states: &BTreeMap<AlertKey, AlertState>,
        render: bool,
    ) -> EvalOutcome {
        let table = ValueTable::compute(engine, self.rules, self.day);
        let accounts = engine.dataset().accounts();
        let held = !self.issues.is_empty();
        let mut out = EvalOutcome {
            held,
            ..EvalOutcome::default()
        };
        for rule in self.rules {
            let observations = evaluate(rule, accounts, &table);
            let adv = advance(rule, &observations, states, self.now, self.silences, held);
            out.changed.extend(adv.changed);
            out.notifications.extend(adv.notifications);
        }
        let (dq_changed, dq_messages) = self.data_quality(states);
        out.changed.extend(dq_changed);
        if render {
            out.messages = Renderer::new(engine, self.rules, self.day)
                .messages(self.rules, &out.notifications);
        }
        out.messages.extend(dq_messages);

        let mut after = states.clone();
        after.extend(out.changed.iter().cloned());
        for (key, state) in &after {
            let c = out.counts.entry(key.rule.clone()).or_default();
            match state.phase {
                Phase::Pending => c.0 += 1,
                Phase::Firing => c.1 += 1,
                _ => {}
            }
        }
        out
    }

    /// One warning alert per untrustworthy source (fires at once, reminds daily, resolves when
    /// the source is healthy again).
    fn data_quality(
        &self,
        states: &BTreeMap<AlertKey, AlertState>,
    ) -> (Vec<(AlertKey, AlertState)>, Vec<AlertMessage>) {
        let timing = Timing {
            for_: Duration::zero(),
            repeat: Some(Duration::days(1)),
        };
        let inactive = AlertState::default();
        let (mut changed, mut messages) = (vec![], vec![]);
        for source in self.sources {
            let key = AlertKey {
                rule: DATA_QUALITY_RULE.to_string(),
                subject: source.clone(),
            };
            let state = states.get(&key).unwrap_or(&inactive);
            let issue = self.issues.iter().find(|i| &i.source == source);
            let signal = if issue.is_some() {
                Signal::Fire
            } else {
                Signal::Clear
            };
            let muted = is_muted(self.silences, DATA_QUALITY_RULE, source, self.now);
            let (next, event) = step(state, signal, self.now, timing, muted);
            if let Some(event) = event {
                let line = match (event, issue) {
                    (Event::Resolved, _) | (_, None) => format!("{source}: the data is fresh again; rules evaluate normally."),
                    (_, Some(i)) => format!(
                        "{source}: {}. Rules that read its data hold their state (no new alerts, no resolutions) until a good sync.",
                        i.reason
                    ),
                };
                let verb = match event {
                    Event::Resolved => "resolved · ",
                    Event::Reminder => "still stale · ",
                    Event::Fired => "",
                };
                messages.push(AlertMessage {
                    rule: DATA_QUALITY_RULE.to_string(),
                    rule_name: "Source data is stale".to_string(),
                    severity: Severity::Warning,
                    event,
                    route: self.warning_route.to_vec(),
                    title: format!(
                        "{} WARNING · {verb}Source data is stale — {source}",
                        if event == Event::Resolved {
                            "✅"
                        } else {
                            "🟠"
                        }
                    ),
                    lines: vec![line],
                    more: 0,
                    subjects: vec![source.clone()],
                    owners: vec![],
                    footer: format!("data quality · as of {}", self.day),
                });
            }
            if &next != state {
                changed.push((key, next));
            }
        }
        (changed, messages)
    }
}
