//! Alert messages: the notifications of one evaluation, grouped per rule and event so that a
//! bad day is one message listing the accounts (capped, with "and N more"), not a storm; each
//! account's line is the rule's minijinja template rendered with its values.
//!
//! Messages here are grouped alert events (a title, lines, a footer, the subjects);
//! `notify::alert` turns them into the channel-neutral messages every channel renders.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use minijinja::Environment;
use serde::Serialize;

use super::Event;
use crate::metrics::{Engine, MetricRef, Subject};
use crate::model::AccountIx;
use crate::report::format;
use crate::rules::{Rule, RuleScope, Severity, Test};

/// Accounts listed in one message before "and N more".
pub const GROUP_CAP: usize = 10;

/// One notification of an evaluation: a rule's event for one subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub rule: String,
    /// An account id or `portfolio`.
    pub subject: String,
    pub account: Option<AccountIx>,
    pub event: Event,
}

/// One channel-neutral message: a rule's notifications of one kind from one evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertMessage {
    pub rule: String,
    pub rule_name: String,
    pub severity: Severity,
    pub event: Event,
    pub route: Vec<String>,
    pub title: String,
    /// One rendered line per subject, at most [`GROUP_CAP`].
    pub lines: Vec<String>,
    /// Subjects beyond the cap.
    pub more: usize,
    /// The subjects, all of them (for delivery bookkeeping); the first `lines.len()` have a
    /// line each, in order.
    pub subjects: Vec<String>,
    /// The distinct owners of the accounts concerned, in order of first appearance (mentioned
    /// by the channels that know them).
    pub owners: Vec<String>,
    pub footer: String,
}

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn icon(severity: Severity, event: Event) -> &'static str {
    match (event, severity) {
        (Event::Resolved, _) => "✅",
        (_, Severity::Critical) => "🔴",
        (_, Severity::Warning) => "🟠",
        (_, Severity::Info) => "🔵",
    }
}

/// What templates see for one subject.
#[derive(Serialize)]
struct Context<'a> {
    rule: RuleCtx<'a>,
    account: Option<AccountCtx<'a>>,
    /// Formatted current values by metric reference (`values["dau.change_pct"]`).
    values: BTreeMap<String, String>,
    /// Unformatted numbers (null where undefined).
    raw: BTreeMap<String, Option<f64>>,
    /// Formatted values of the previous period.
    previous: BTreeMap<String, String>,
    /// The first threshold of the rule, formatted.
    threshold: Option<String>,
    health: Option<HealthCtx>,
    window: String,
    period: PeriodCtx,
}

#[derive(Serialize)]
struct RuleCtx<'a> {
    id: &'a str,
    name: &'a str,
    severity: &'static str,
}

#[derive(Serialize)]
struct AccountCtx<'a> {
    id: &'a str,
    name: &'a str,
    owner: &'a str,
    segment: &'a str,
    plan: &'a str,
    custom: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct HealthCtx {
    score: Option<String>,
    band: Option<String>,
    measures: Vec<MeasureCtx>,
}

#[derive(Serialize)]
struct MeasureCtx {
    metric: String,
    value: String,
    score: Option<String>,
    weight: String,
}

#[derive(Serialize)]
struct PeriodCtx {
    start: String,
    end: String,
}

/// Renders notifications into grouped messages, reading template values from the engine as
/// of `day`.
pub struct Renderer<'e, 'd> {
    engine: &'e Engine<'d>,
    day: NaiveDate,
    env: Environment<'static>,
}

impl<'e, 'd> Renderer<'e, 'd> {
    /// Compiles the templates of `rules` (already syntax-checked when the rules were loaded).
    pub fn new(engine: &'e Engine<'d>, rules: &[Rule], day: NaiveDate) -> Self {
        let mut env = Environment::new();
        for r in rules {
            // A template that does not compile renders as its error text, below.
            let _ = env.add_template_owned(format!("{}.message", r.id), r.message.clone());
            if let Some(m) = &r.resolved_message {
                let _ = env.add_template_owned(format!("{}.resolved", r.id), m.clone());
            }
        }
        Renderer { engine, day, env }
    }

    fn context<'r>(&'r self, rule: &'r Rule, account: Option<AccountIx>) -> Context<'r> {
        let e = self.engine;
        let cur = e.config().fx.reporting();
        let window = rule.conditions.first().map(|c| c.window);
        let period = window.map(|w| w.period(self.day));
        let subject_filter = rule.filter.as_portfolio_filter();
        let subject = match account {
            Some(a) => Subject::Account(a),
            None => Subject::Portfolio(&subject_filter),
        };
        let (mut values, mut raw, mut previous) =
            (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        // Each metric as the rule reads it, and the metric itself with its previous value
        // (`values['dau.change_pct']`, `values.dau`, `previous.dau`).
        for (metric, w) in rule.metrics() {
            let p = w.period(self.day);
            let base = MetricRef::value(metric.metric);
            for r in [metric, base] {
                let v = e.value(r, subject, &p);
                values.insert(r.to_string(), format::reference(&r, v, cur));
                raw.insert(r.to_string(), v.and_then(|d| d.to_string().parse().ok()));
            }
            let prev = e.value(base, subject, &p.previous());
            previous.insert(base.to_string(), format::reference(&base, prev, cur));
        }
        let threshold = rule.conditions.first().map(|c| match &c.test {
            Test::Threshold {
                metric, threshold, ..
            } => format::reference(metric, Some(*threshold), cur),
            Test::Band { bands } => bands.join(" or "),
        });
        let health = match (account, period) {
            (Some(a), Some(p)) => e.health(a, &p).map(|h| HealthCtx {
                score: h.score.map(|s| format::group_thousands(s, 1)),
                band: h.band.clone(),
                measures: h
                    .measures
                    .iter()
                    .map(|m| MeasureCtx {
                        metric: m.metric.to_string(),
                        value: format::reference(&m.metric, m.value, cur),
                        score: m.score.map(|s| format::group_thousands(s, 0)),
                        weight: m.effective_weight.round_dp(2).to_string(),
                    })
                    .collect(),
            }),
            _ => None,
        };
        let acc = account.map(|a| e.dataset().account(a)).map(|a| AccountCtx {
            id: &a.id,
            name: &a.name,
            owner: a.owner.as_deref().unwrap_or("unassigned"),
            segment: a.segment.as_deref().unwrap_or("no segment"),
            plan: a.plan.as_deref().unwrap_or("no plan"),
            custom: &a.custom,
        });
        Context {
            rule: RuleCtx {
                id: &rule.id,
                name: &rule.name,
                severity: rule.severity.as_str(),
            },
            account: acc,
            values,
            raw,
            previous,
            threshold,
            health,
            window: window.map(|w| w.to_string()).unwrap_or_default(),
            period: PeriodCtx {
                start: period.map(|p| p.start().to_string()).unwrap_or_default(),
                end: period.map(|p| p.last_day().to_string()).unwrap_or_default(),
            },
        }
    }

    fn line(&self, rule: &Rule, n: &Notification) -> String {
        // Alerts cleared because the evaluation no longer saw them carry only the account id.
        let ds = self.engine.dataset();
        let account = n.account.or_else(|| ds.account_ix(&n.subject));
        let name = match n.event {
            Event::Resolved
                if rule.resolved_message.is_some()
                    && account.is_some() == (rule.scope == RuleScope::Account) =>
            {
                format!("{}.resolved", rule.id)
            }
            Event::Resolved => {
                let who = match (account, rule.scope) {
                    (Some(a), _) => ds.account(a).name.clone(),
                    (None, RuleScope::Portfolio) => "the portfolio".to_string(),
                    (None, RuleScope::Account) => n.subject.clone(),
                };
                return format!("{who}: resolved");
            }
            _ => format!("{}.message", rule.id),
        };
        let rendered = self.env.get_template(&name).and_then(|t| {
            t.render(minijinja::Value::from(minijinja::value::Serde(
                self.context(rule, account),
            )))
        });
        match rendered {
            Ok(text) => text.trim().to_string(),
            Err(err) => format!("{} (template error: {err})", n.subject),
        }
    }

    fn owners(&self, group: &[&Notification]) -> Vec<String> {
        let ds = self.engine.dataset();
        let mut owners: Vec<String> = vec![];
        for n in group {
            let account = n.account.or_else(|| ds.account_ix(&n.subject));
            if let Some(owner) = account.and_then(|a| ds.account(a).owner.as_ref()) {
                if !owners.contains(owner) {
                    owners.push(owner.clone());
                }
            }
        }
        owners
    }

    /// Groups `notifications` per rule and event (in rule order) and renders them.
    pub fn messages(&self, rules: &[Rule], notifications: &[Notification]) -> Vec<AlertMessage> {
        let mut out = vec![];
        for rule in rules {
            for event in [Event::Fired, Event::Reminder, Event::Resolved] {
                let group: Vec<&Notification> = notifications
                    .iter()
                    .filter(|n| n.rule == rule.id && n.event == event)
                    .collect();
                if group.is_empty() {
                    continue;
                }
                let count = group.len();
                let what = match (event, rule.scope) {
                    (_, RuleScope::Portfolio) => "portfolio".to_string(),
                    _ => format::accounts(count),
                };
                let verb = match event {
                    Event::Fired => "",
                    Event::Reminder => "still firing · ",
                    Event::Resolved => "resolved · ",
                };
                out.push(AlertMessage {
                    rule: rule.id.clone(),
                    rule_name: rule.name.clone(),
                    severity: rule.severity,
                    event,
                    route: rule.route.clone(),
                    title: format!(
                        "{} {} · {}{} — {}",
                        icon(rule.severity, event),
                        rule.severity.as_str().to_uppercase(),
                        verb,
                        rule.name,
                        what
                    ),
                    lines: group
                        .iter()
                        .take(GROUP_CAP)
                        .map(|n| self.line(rule, n))
                        .collect(),
                    more: count.saturating_sub(GROUP_CAP),
                    subjects: group.iter().map(|n| n.subject.clone()).collect(),
                    owners: self.owners(&group),
                    footer: format!("rule {} · data as of {}", rule.id, self.day),
                });
            }
        }
        out
    }
}
