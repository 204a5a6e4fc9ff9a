//! Advancing alerts: applies one evaluation's observations to the stored alert states through
//! the lifecycle, and says which notifications are due. Pure: states in, states and
//! notifications out, with the time passed in.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::lifecycle::{step, AlertState, Phase, Signal, Timing};
use super::message::Notification;
use super::silence::{is_muted, Silence};
use crate::rules::eval::Observation;
use crate::rules::Rule;

/// One alert's identity: a rule and a subject (an account id or `portfolio`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlertKey {
    pub rule: String,
    pub subject: String,
}

/// The result of advancing one rule.
#[derive(Debug, Default)]
pub struct Advance {
    /// States that changed (to be saved).
    pub changed: Vec<(AlertKey, AlertState)>,
    pub notifications: Vec<Notification>,
}

/// Advances every alert of `rule` to `now`: each observed subject by its signal, each stored
/// subject the rule no longer observes (filtered out, deleted) as cleared. With `hold` (stale
/// data) nothing changes.
pub fn advance(
    rule: &Rule,
    observations: &[Observation],
    states: &BTreeMap<AlertKey, AlertState>,
    now: DateTime<Utc>,
    silences: &[Silence],
    hold: bool,
) -> Advance {
    let timing = Timing {
        for_: rule.for_,
        repeat: rule.repeat,
    };
    let mut out = Advance::default();
    let inactive = AlertState::default();
    let mut seen = BTreeSet::new();
    let mut apply = |subject: &str, account, signal: Signal| {
        let key = AlertKey {
            rule: rule.id.clone(),
            subject: subject.to_string(),
        };
        let state = states.get(&key).unwrap_or(&inactive);
        let signal = if hold { Signal::Hold } else { signal };
        let muted = is_muted(silences, &rule.id, subject, now);
        let (next, event) = step(state, signal, now, timing, muted);
        if let Some(event) = event {
            out.notifications.push(Notification {
                rule: rule.id.clone(),
                subject: subject.to_string(),
                account,
                event,
            });
        }
        if &next != state {
            out.changed.push((key, next));
        }
    };
    for o in observations {
        seen.insert(o.subject.as_str());
        apply(&o.subject, o.account, o.signal);
    }
    let gone: Vec<&AlertKey> = states
        .keys()
        .filter(|k| k.rule == rule.id && !seen.contains(k.subject.as_str()))
        .filter(|k| matches!(states[*k].phase, Phase::Pending | Phase::Firing))
        .collect();
    for key in gone {
        apply(&key.subject, None, Signal::Clear);
    }
    out
}
