//! `advance`: observed signals and vanished subjects move stored alerts the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cs_pulse::alerts::{advance, AlertKey, AlertState, Event, Phase, Signal};
use cs_pulse::rules::eval::Observation;
use cs_pulse::rules::load::parse_rules;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn clear_signals_and_vanished_subjects_resolve_firing_alerts() {
    let rule = parse_rules(
        "[[rule]]\nid = \"r\"\nname = \"R\"\nroute = [\"console\"]\nmessage = \"x\"\n[[rule.condition]]\nmetric = \"health\"\nbelow = 40\n",
        "r.toml".as_ref(),
        &["console".to_string()],
    )
    .unwrap()
    .remove(0);
    let firing = AlertState {
        phase: Phase::Firing,
        active_since: Some(at("2025-03-01T00:00:00Z")),
        fired_at: Some(at("2025-03-01T00:00:00Z")),
        notified_at: Some(at("2025-03-01T00:00:00Z")),
        ..AlertState::default()
    };
    let key = |s: &str| AlertKey {
        rule: "r".into(),
        subject: s.into(),
    };
    let states: BTreeMap<AlertKey, AlertState> = [
        (key("a"), firing.clone()),
        (key("b"), firing.clone()),
        (key("gone"), firing.clone()),
        (key("c"), firing.clone()),
    ]
    .into();
    let obs = |subject, account, signal| Observation {
        subject,
        account: Some(account),
        signal,
    };
    let observations = [
        obs("a", 0, Signal::Clear),   // resolves
        obs("b", 1, Signal::Between), // stays firing
        obs("c", 2, Signal::Fire),    // stays firing
        obs("d", 3, Signal::Clear),   // no state: nothing
        obs("e", 4, Signal::Fire),    // new: fires at once (no `for`)
    ];
    let now = at("2025-03-02T00:00:00Z");
    let out = advance(&rule, &observations, &states, now, &[], false);
    let mut events: Vec<(String, Event)> = out
        .notifications
        .iter()
        .map(|n| (n.subject.clone(), n.event))
        .collect();
    events.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        events,
        [
            ("a".into(), Event::Resolved),
            ("e".into(), Event::Fired),
            ("gone".into(), Event::Resolved)
        ]
    );
    let changed: BTreeMap<String, Phase> = out
        .changed
        .into_iter()
        .map(|(k, s)| (k.subject, s.phase))
        .collect();
    assert_eq!(
        changed,
        [
            ("a".to_string(), Phase::Resolved),
            ("e".to_string(), Phase::Firing),
            ("gone".to_string(), Phase::Resolved)
        ]
        .into()
    );
    // Stale data: nothing moves.
    let held = advance(&rule, &observations, &states, now, &[], true);
    assert!(held.changed.is_empty() && held.notifications.is_empty());
}
