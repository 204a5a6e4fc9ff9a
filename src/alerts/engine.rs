//! Advancing alerts: applies one evaluation's observations to the stored alert states through
//! the lifecycle, and says which notifications are due. Pure: states in, states and
//! notifications out, with the time passed in.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

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
/// subject the rule no longer observes (filtered out, deleted) as cleared. Notifications of
/// cleared alerts may carry no account index; [`super::message::Renderer`] finds it by id. With `hold` (stale
/// data) nothing changes. Subjects with no stored state that do not fire stay inactive without
/// any work, so that a rule over 100,000 quiet accounts costs next to nothing.
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
    if hold {
        return out;
    }
    // This rule's stored states, by subject.
    let first = AlertKey {
        rule: rule.id.clone(),
        subject: String::new(),
    };
    // A fast non-cryptographic hash: one lookup per account per rule dominates otherwise.
    let mut mine: FxHashMap<&str, (&AlertState, bool)> = states
        .range(first..)
        .take_while(|(k, _)| k.rule == rule.id)
        .map(|(k, s)| (k.subject.as_str(), (s, false)))
        .collect();
    let inactive = AlertState::default();
    let mut apply = |subject: &str, account, signal: Signal, state: &AlertState| {
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
            let key = AlertKey {
                rule: rule.id.clone(),
                subject: subject.to_string(),
            };
            out.changed.push((key, next));
        }
    };
    for o in observations {
        // A clear signal changes only pending and firing alerts, and those are cleared below
        // with every stored alert the evaluation did not see: no lookup needed here.
        if o.signal == Signal::Clear {
            continue;
        }
        let state = match mine.get_mut(o.subject) {
            Some((state, seen)) => {
                *seen = true;
                *state
            }
            None if o.signal == Signal::Fire => &inactive,
            None => continue,
        };
        apply(o.subject, o.account, o.signal, state);
    }
    let mut gone: Vec<(&str, &AlertState)> = mine
        .into_iter()
        .filter(|(_, (s, seen))| !seen && matches!(s.phase, Phase::Pending | Phase::Firing))
        .map(|(subject, (s, _))| (subject, s))
        .collect();
    gone.sort_by_key(|(subject, _)| *subject);
    for (subject, state) in gone {
        apply(subject, None, Signal::Clear, state);
    }
    out
}
