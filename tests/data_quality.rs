//! The data-quality guard end to end: a stale source holds every rule (nothing fires, nothing
//! resolves) and raises one warning naming the source and why, which resolves once the data is
//! fresh again.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cs_pulse::alerts::data_quality::SourceIssue;
use cs_pulse::alerts::run::{Evaluation, DATA_QUALITY_RULE};
use cs_pulse::alerts::{AlertKey, AlertState, Event, Phase};
use cs_pulse::metrics::{Engine, MetricsConfig};
use cs_pulse::model::{Account, Currency, Dataset, Subscription};
use cs_pulse::rules::load::parse_rules;
use rust_decimal_macros::dec;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn noon(day: &str) -> DateTime<Utc> {
    format!("{day}T12:00:00Z").parse().unwrap()
}

#[test]
fn stale_data_holds_rules_and_warns_once() {
    let mut ds = Dataset::new(vec![Account {
        id: "acme".into(),
        name: "Acme".into(),
        ..Account::default()
    }])
    .unwrap();
    ds.subscriptions.push(Subscription {
        id: "s1".into(),
        account: 0,
        mrr: dec!(100),
        currency: Currency::USD,
        start_date: d("2025-01-01"),
        end_date: Some(d("2025-03-10")),
    });
    let engine = Engine::new(&ds, MetricsConfig::default()).unwrap();
    let rules = parse_rules(
        "[[rule]]\nid = \"contraction\"\nname = \"Contraction\"\nroute = [\"console\"]\nwindow = \"month\"\nmessage = \"{{ account.name }}\"\n[[rule.condition]]\nmetric = \"mrr.change_pct\"\nbelow = -0.2\n",
        "r.toml".as_ref(),
        &["console".to_string()],
    )
    .unwrap();
    let sources = vec!["crm".to_string()];
    let route = vec!["console".to_string()];
    let stale = vec![SourceIssue {
        source: "crm".into(),
        reason: "its last sync failed at 2025-03-11 06:00 UTC: timeout".into(),
    }];
    let eval = |day: &str, issues: &[SourceIssue], states: &BTreeMap<AlertKey, AlertState>| {
        Evaluation {
            rules: &rules,
            day: d(day),
            now: noon(day),
            silences: &[],
            sources: &sources,
            issues,
            warning_route: &route,
        }
        .run(&engine, states, true)
    };
    let mut states = BTreeMap::new();

    // The churn on March 10 would fire, but the source is stale: the rule holds, one warning.
    let out = eval("2025-03-11", &stale, &states);
    assert!(out.held);
    assert!(out.notifications.is_empty());
    assert_eq!(out.messages.len(), 1);
    assert_eq!(out.messages[0].rule, DATA_QUALITY_RULE);
    assert_eq!(out.messages[0].event, Event::Fired);
    assert!(
        out.messages[0].lines[0].starts_with("crm: its last sync failed"),
        "{:?}",
        out.messages[0]
    );
    states.extend(out.changed);

    // Still stale the next day: no second warning (a reminder only after a day), still held.
    let out = eval("2025-03-11", &stale, &states);
    assert!(out.messages.is_empty());
    states.extend(out.changed);

    // Fresh again: the rule fires and the warning resolves.
    let out = eval("2025-03-12", &[], &states);
    assert!(!out.held);
    let events: Vec<(&str, Event)> = out
        .messages
        .iter()
        .map(|m| (m.rule.as_str(), m.event))
        .collect();
    assert_eq!(
        events,
        [
            ("contraction", Event::Fired),
            (DATA_QUALITY_RULE, Event::Resolved)
        ]
    );
    states.extend(out.changed);
    let key = AlertKey {
        rule: "contraction".into(),
        subject: "acme".into(),
    };
    assert_eq!(states[&key].phase, Phase::Firing);
}
