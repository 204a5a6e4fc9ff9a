//! The alert lifecycle: a pure state machine, with time passed in, that turns what a rule's
//! conditions say at each evaluation into alert states and the notifications they call for.
//!
//! inactive → pending (conditions hold, waiting out `for`) → firing → resolved, with hysteresis
//! (a firing alert resolves only when the conditions clearly clear), reminders every `repeat`
//! while firing and not acknowledged, silences that mute notifications without stopping the
//! state machine, and a hold (stale data) that changes nothing. Like Prometheus's alerting rules,
//! nothing here reads the clock or sleeps, so tests replay any timeline.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where an alert is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Inactive,
    Pending,
    Firing,
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Inactive => "inactive",
            Phase::Pending => "pending",
            Phase::Firing => "firing",
            Phase::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        [
            Phase::Inactive,
            Phase::Pending,
            Phase::Firing,
            Phase::Resolved,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// What the rule's conditions say at one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The conditions hold: fire (after `for`).
    Fire,
    /// Neither holds nor clearly clears (between a threshold and its hysteresis bound): a firing
    /// alert stays firing, a pending one goes back to inactive.
    Between,
    /// The conditions clearly do not hold: a firing alert resolves.
    Clear,
    /// The data the rule depends on is stale or failed to sync: change nothing.
    Hold,
}

/// Who acknowledged a firing alert, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The persisted state of one alert (one rule and one subject).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    pub phase: Phase,
    /// When the conditions started to hold (pending and firing).
    pub active_since: Option<DateTime<Utc>>,
    /// When it fired.
    pub fired_at: Option<DateTime<Utc>>,
    /// When it was last announced (fired or reminded); `None` while firing means the firing
    /// has not been announced yet (it fired during a silence).
    pub notified_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub ack: Option<Ack>,
}

impl Default for AlertState {
    fn default() -> Self {
        AlertState {
            phase: Phase::Inactive,
            active_since: None,
            fired_at: None,
            notified_at: None,
            resolved_at: None,
            ack: None,
        }
    }
}

/// A notification the transition calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// The alert fired (or, after a silence, is announced for the first time).
    Fired,
    /// A reminder: still firing after `repeat`.
    Reminder,
    /// The alert resolved.
    Resolved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Fired => "fired",
            Event::Reminder => "reminder",
            Event::Resolved => "resolved",
        }
    }
}

/// What a rule says about timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How long the conditions must hold before firing.
    pub for_: Duration,
    /// Remind this often while firing and not acknowledged.
    pub repeat: Option<Duration>,
}

/// Advances one alert to `now` given what its conditions say. `silenced` mutes notifications
/// (the state still advances; an unannounced firing is announced once the silence ends).
/// Returns the new state and the notification to send, if any.
pub fn step(
    state: &AlertState,
    signal: Signal,
    now: DateTime<Utc>,
    timing: Timing,
    silenced: bool,
) -> (AlertState, Option<Event>) {
    let mut s = state.clone();
    let mut event = None;
    match (state.phase, signal) {
        (_, Signal::Hold) => return (s, None),
        (Phase::Inactive | Phase::Resolved, Signal::Fire) => {
            s.active_since = Some(now);
            s.fired_at = None;
            s.notified_at = None;
            s.resolved_at = None;
            s.ack = None;
            if timing.for_ <= Duration::zero() {
                s.phase = Phase::Firing;
                s.fired_at = Some(now);
                if !silenced {
                    s.notified_at = Some(now);
                    event = Some(Event::Fired);
                }
            } else {
                s.phase = Phase::Pending;
            }
        }
        (Phase::Inactive | Phase::Resolved, _) => {}
        (Phase::Pending, Signal::Fire) => {
            let since = state.active_since.unwrap_or(now);
            if now - since >= timing.for_ {
                s.phase = Phase::Firing;
                s.fired_at = Some(now);
                if !silenced {
                    s.notified_at = Some(now);
                    event = Some(Event::Fired);
                }
            }
        }
        (Phase::Pending, _) => {
            s.phase = Phase::Inactive;
            s.active_since = None;
        }
        (Phase::Firing, Signal::Fire | Signal::Between) => {
            if silenced {
                // Muted: nothing is sent now; what is due is sent after the silence.
            } else if state.notified_at.is_none() {
                s.notified_at = Some(now);
                event = Some(Event::Fired);
            } else if let (Some(repeat), Some(last), None) =
                (timing.repeat, state.notified_at, &state.ack)
            {
                if now - last >= repeat {
                    s.notified_at = Some(now);
                    event = Some(Event::Reminder);
                }
            }
        }
        (Phase::Firing, Signal::Clear) => {
            s.phase = Phase::Resolved;
            s.resolved_at = Some(now);
            s.ack = None;
            // A firing nobody was told about resolves quietly.
            if state.notified_at.is_some() && !silenced {
                event = Some(Event::Resolved);
            }
        }
    }
    (s, event)
}

/// Records an acknowledgement: no reminders until the alert resolves. Only a firing alert can
/// be acknowledged; returns whether it was.
pub fn acknowledge(state: &mut AlertState, by: &str, at: DateTime<Utc>) -> bool {
    if state.phase != Phase::Firing {
        return false;
    }
    state.ack = Some(Ack {
        by: by.to_string(),
        at,
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(day: u32, hour: u32) -> DateTime<Utc> {
        format!("2025-03-{day:02}T{hour:02}:00:00Z")
            .parse()
            .expect("time")
    }

    const DAY: fn() -> Duration = || Duration::days(1);

    /// Runs a timeline of (time, signal, silenced) and returns (phase, event) after each step.
    fn run(timing: Timing, steps: &[(DateTime<Utc>, Signal, bool)]) -> Vec<(Phase, Option<Event>)> {
        let mut s = AlertState::default();
        steps
            .iter()
            .map(|&(now, sig, silenced)| {
                let (next, ev) = step(&s, sig, now, timing, silenced);
                s = next;
                (s.phase, ev)
            })
            .collect()
    }

    use Event::{Fired, Reminder};
    use Phase::*;
    use Signal::*;

    #[test]
    fn fires_after_for_and_resolves() {
        let timing = Timing {
            for_: DAY() * 2,
            repeat: None,
        };
        let got = run(
            timing,
            &[
                (t(1, 9), Fire, false),
                (t(2, 9), Fire, false),
                (t(3, 8), Fire, false), // 47 h: not yet
                (t(3, 9), Fire, false), // 48 h: fires
                (t(4, 9), Fire, false),
                (t(5, 9), Clear, false),
                (t(6, 9), Clear, false),
            ],
        );
        assert_eq!(
            got,
            [
                (Pending, None),
                (Pending, None),
                (Pending, None),
                (Firing, Some(Fired)),
                (Firing, None),
                (Resolved, Some(Event::Resolved)),
                (Resolved, None),
            ]
        );
    }

    #[test]
    fn pending_that_stops_holding_goes_back_to_inactive() {
        let timing = Timing {
            for_: DAY(),
            repeat: None,
        };
        let got = run(
            timing,
            &[
                (t(1, 9), Fire, false),
                (t(1, 20), Between, false),
                (t(2, 9), Fire, false),
                (t(3, 9), Fire, false),
            ],
        );
        assert_eq!(
            got,
            [
                (Pending, None),
                (Inactive, None),
                (Pending, None),
                (Firing, Some(Fired))
            ]
        );
    }

    #[test]
    fn hysteresis_keeps_firing_between_the_bounds() {
        let timing = Timing {
            for_: Duration::zero(),
            repeat: None,
        };
        let got = run(
            timing,
            &[
                (t(1, 9), Fire, false),
                (t(2, 9), Between, false),
                (t(3, 9), Between, false),
                (t(4, 9), Clear, false),
            ],
        );
        assert_eq!(
            got,
            [
                (Firing, Some(Fired)),
                (Firing, None),
                (Firing, None),
                (Resolved, Some(Event::Resolved))
            ]
        );
    }

    #[test]
    fn reminds_every_repeat_until_acknowledged() {
        let timing = Timing {
            for_: Duration::zero(),
            repeat: Some(DAY() * 2),
        };
        let mut s = AlertState::default();
        let mut events = vec![];
        for (i, day) in (1..=7).enumerate() {
            if i == 4 {
                assert!(acknowledge(&mut s, "priya", t(day, 8)));
            }
            let (next, ev) = step(&s, Fire, t(day, 9), timing, false);
            s = next;
            events.push(ev);
        }
        // Fired on the 1st, reminded on the 3rd; acknowledged on the 5th, so no reminder then.
        assert_eq!(
            events,
            [Some(Fired), None, Some(Reminder), None, None, None, None]
        );
        let (s, ev) = step(&s, Clear, t(8, 9), timing, false);
        assert_eq!(
            (s.phase, ev, s.ack),
            (Resolved, Some(Event::Resolved), None)
        );
    }

    #[test]
    fn silence_mutes_but_the_state_advances() {
        let timing = Timing {
            for_: Duration::zero(),
            repeat: None,
        };
        // Fires during a silence: nothing is sent; announced once the silence is over.
        let got = run(
            timing,
            &[
                (t(1, 9), Fire, true),
                (t(2, 9), Fire, true),
                (t(3, 9), Fire, false),
                (t(4, 9), Clear, false),
            ],
        );
        assert_eq!(
            got,
            [
                (Firing, None),
                (Firing, None),
                (Firing, Some(Fired)),
                (Resolved, Some(Event::Resolved))
            ]
        );
        // Fires and resolves within a silence: nobody hears of it.
        let got = run(
            timing,
            &[
                (t(1, 9), Fire, true),
                (t(2, 9), Clear, true),
                (t(3, 9), Clear, false),
            ],
        );
        assert_eq!(got, [(Firing, None), (Resolved, None), (Resolved, None)]);
    }

    #[test]
    fn hold_changes_nothing() {
        let timing = Timing {
            for_: DAY(),
            repeat: Some(DAY()),
        };
        let got = run(
            timing,
            &[
                (t(1, 9), Fire, false),
                (t(2, 9), Hold, false),
                (t(3, 9), Fire, false),
                (t(4, 9), Hold, false),
                (t(6, 9), Hold, false),
                (t(7, 9), Clear, false),
            ],
        );
        // A hold neither fires a pending alert, nor reminds, nor resolves a firing one.
        assert_eq!(
            got,
            [
                (Pending, None),
                (Pending, None),
                (Firing, Some(Fired)),
                (Firing, None),
                (Firing, None),
                (Resolved, Some(Event::Resolved))
            ]
        );
    }

    #[test]
    fn refires_after_resolution_and_only_firing_alerts_can_be_acknowledged() {
        let timing = Timing {
            for_: Duration::zero(),
            repeat: None,
        };
        let mut s = AlertState::default();
        assert!(!acknowledge(&mut s, "x", t(1, 9)));
        let got = run(
            timing,
            &[
                (t(1, 9), Fire, false),
                (t(2, 9), Clear, false),
                (t(3, 9), Fire, false),
            ],
        );
        assert_eq!(
            got,
            [
                (Firing, Some(Fired)),
                (Resolved, Some(Event::Resolved)),
                (Firing, Some(Fired))
            ]
        );
    }
}
