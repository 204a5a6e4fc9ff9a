//! Backtest on a small hand-made data set with known answers.

use chrono::{DateTime, NaiveDate, Utc};
use cs_pulse::alerts::backtest::backtest;
use cs_pulse::metrics::{Engine, MetricsConfig};
use cs_pulse::model::{Account, Currency, Dataset, Subscription};
use cs_pulse::rules::load::parse_rules;
use rust_decimal_macros::dec;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    day.succ_opt()
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

#[test]
fn backtest_counts_what_would_have_fired() {
    let account = |id: &str| Account {
        id: id.into(),
        name: id.to_uppercase(),
        ..Account::default()
    };
    let mut ds = Dataset::new(vec![
        account("churner"),
        account("grower"),
        account("shrinker"),
    ])
    .unwrap();
    let sub = |id: &str, a: u32, mrr, start: &str, end: Option<&str>| Subscription {
        id: id.into(),
        account: a,
        mrr,
        currency: Currency::USD,
        start_date: d(start),
        end_date: end.map(d),
    };
    // churner: $100 from January, churns on March 10 (-100% this month).
    ds.subscriptions
        .push(sub("s1", 0, dec!(100), "2025-01-01", Some("2025-03-10")));
    // grower: $100, then $200 from March 15: never contracts.
    ds.subscriptions
        .push(sub("s2", 1, dec!(100), "2025-01-01", Some("2025-03-15")));
    ds.subscriptions
        .push(sub("s3", 1, dec!(200), "2025-03-15", None));
    // shrinker: $100, then $85 from March 5 (-15%: not enough), then $70 from March 20 (-30%).
    ds.subscriptions
        .push(sub("s4", 2, dec!(100), "2025-01-01", Some("2025-03-05")));
    ds.subscriptions
        .push(sub("s5", 2, dec!(85), "2025-03-05", Some("2025-03-20")));
    ds.subscriptions
        .push(sub("s6", 2, dec!(70), "2025-03-20", None));
    let engine = Engine::new(&ds, MetricsConfig::default()).unwrap();
    let rules = parse_rules(
        r#"
[[rule]]
id = "contraction"
name = "MRR contracted this month"
route = ["console"]
window = "month"
message = "{{ account.name }}"
[[rule.condition]]
metric = "mrr.change_pct"
below = -0.2
"#,
        "contraction.toml".as_ref(),
        &["console".to_string()],
    )
    .unwrap();
    let report = backtest(
        &engine,
        &rules,
        d("2025-03-01"),
        d("2025-04-05"),
        end_of_day,
        None,
    );
    assert_eq!(report.days, 36);
    let (id, r) = &report.rules[0];
    assert_eq!(id, "contraction");
    // churner fires on March 10 (0 against $100 at the end of February); shrinker on March 20
    // ($70 against $100). On April 1 the month-to-date window starts over: the change against
    // March 31 is null for churner (0 before) and 0% for shrinker, so both resolve.
    assert_eq!(r.fired, 2);
    assert_eq!(r.resolved, 2);
    assert_eq!(
        r.subjects
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [("churner", 1), ("shrinker", 1)]
    );
}
