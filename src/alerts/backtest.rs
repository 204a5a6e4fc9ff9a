//! Backtests: replaying history day by day with fresh alert states, to see how often each rule
//! would have fired and for whom before turning it on. Also how `demo` finds the alerts firing
//! at the end of its data. Nothing is stored.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::engine::AlertKey;
use super::lifecycle::{AlertState, Event, Phase};
use super::message::{AlertMessage, Notification, Renderer};
use super::run::Evaluation;
use crate::metrics::Engine;
use crate::rules::Rule;

/// What a backtest found for one rule.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RuleBacktest {
    pub fired: usize,
    pub resolved: usize,
    /// Subjects that fired at least once, with how many times.
    pub subjects: BTreeMap<String, usize>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct BacktestReport {
    pub days: usize,
    /// The alert states after the last day.
    pub states: BTreeMap<AlertKey, AlertState>,
    pub rules: Vec<(String, RuleBacktest)>,
}

/// Replays `from..=to` day by day with fresh alert states (nothing is stored), as if every
/// evaluation ran when its day ended.
pub fn backtest(
    engine: &Engine,
    rules: &[Rule],
    from: NaiveDate,
    to: NaiveDate,
    end_of_day: impl Fn(NaiveDate) -> DateTime<Utc>,
    progress: Option<&indicatif::ProgressBar>,
) -> BacktestReport {
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    if let Some(pb) = progress {
        pb.set_length(days.len() as u64);
    }
    let mut states: BTreeMap<AlertKey, AlertState> = BTreeMap::new();
    let mut per_rule: BTreeMap<String, RuleBacktest> = rules
        .iter()
        .map(|r| (r.id.clone(), RuleBacktest::default()))
        .collect();
    for day in &days {
        let evaluation = Evaluation {
            rules,
            day: *day,
            now: end_of_day(*day),
            silences: &[],
            sources: &[],
            issues: &[],
            warning_route: &[],
        };
        let outcome = evaluation.run(engine, &states, false);
        for n in &outcome.notifications {
            let r = per_rule.entry(n.rule.clone()).or_default();
            match n.event {
                Event::Fired => {
                    r.fired += 1;
                    *r.subjects.entry(n.subject.clone()).or_default() += 1;
                }
                Event::Resolved => r.resolved += 1,
                Event::Reminder => {}
            }
        }
        states.extend(outcome.changed);
        if let Some(pb) = progress {
            pb.inc(1);
        }
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    BacktestReport {
        days: days.len(),
        states,
        rules: rules
            .iter()
            .map(|r| (r.id.clone(), per_rule.remove(&r.id).unwrap_or_default()))
            .collect(),
    }
}

impl BacktestReport {
    pub fn render(&self, engine: &Engine, from: NaiveDate, to: NaiveDate) -> String {
        let ds = engine.dataset();
        let mut out = format!(
            "Backtest {from} to {to} ({} days, evaluated daily)\n\n",
            self.days
        );
        for (id, r) in &self.rules {
            out += &format!(
                "{id}: fired {} time{} for {} subject{}, resolved {} time{}\n",
                r.fired,
                if r.fired == 1 { "" } else { "s" },
                r.subjects.len(),
                if r.subjects.len() == 1 { "" } else { "s" },
                r.resolved,
                if r.resolved == 1 { "" } else { "s" },
            );
            let mut top: Vec<(&String, &usize)> = r.subjects.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (subject, n) in top.iter().take(10) {
                let name = ds
                    .account_ix(subject)
                    .map(|a| ds.account(a).name.as_str())
                    .unwrap_or("");
                out += &format!("    {subject:<12} {name:<32} fired {n}×\n");
            }
            if top.len() > 10 {
                out += &format!("    … and {} more\n", top.len() - 10);
            }
        }
        out
    }
}

/// The alerts firing after a replay, one message per rule listing its subjects, as of `day`.
pub fn firing_messages(
    engine: &Engine,
    rules: &[Rule],
    report: &BacktestReport,
    day: NaiveDate,
) -> Vec<AlertMessage> {
    let ds = engine.dataset();
    let notifications: Vec<Notification> = report
        .states
        .iter()
        .filter(|(_, s)| s.phase == Phase::Firing)
        .map(|(k, _)| Notification {
            rule: k.rule.clone(),
            subject: k.subject.clone(),
            account: ds.account_ix(&k.subject),
            event: Event::Fired,
        })
        .collect();
    Renderer::new(engine, rules, day).messages(rules, &notifications)
}
