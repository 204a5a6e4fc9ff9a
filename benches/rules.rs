//! Rule evaluation benchmark (docs/performance.md): `cargo bench --bench rules`.
//!
//! Evaluates 50 rules over the demo data (100,000 accounts by default) and reports the median
//! time of the evaluation itself — signals from the value table, the lifecycle, the
//! notifications — given the metrics: the value table is computed once, outside the timing,
//! and its own time is reported separately.
//!
//! Knobs (environment): `BENCH_ACCOUNTS` (default 100000), `BENCH_RUNS` (default 7).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use cs_pulse::alerts::run::advance_all;
use cs_pulse::alerts::{AlertKey, AlertState};
use cs_pulse::metrics::health::HealthModels;
use cs_pulse::metrics::{Engine, MetricsConfig};
use cs_pulse::rules::eval::ValueTable;
use cs_pulse::rules::{shipped_rules, Rule};
use cs_pulse::sources::demo::{demo_fx, generate, DemoParams, FEATURES_AVAILABLE};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// 50 rules: the shipped ones, then variants of them with other thresholds and ids.
fn fifty_rules() -> Vec<Rule> {
    let shipped = shipped_rules(&["console".to_string()]).expect("shipped rules are valid");
    let mut rules = shipped.clone();
    let mut k = 0;
    while rules.len() < 50 {
        let mut r = shipped[k % shipped.len()].clone();
        r.id = format!("{}-variant-{k}", r.id);
        rules.push(r);
        k += 1;
    }
    rules
}

fn main() {
    let accounts = env_or("BENCH_ACCOUNTS", 100_000) as u32;
    let runs = env_or("BENCH_RUNS", 7);
    let as_of: NaiveDate = "2025-06-18".parse().expect("date");
    let day = as_of.pred_opt().expect("day");
    let t = Instant::now();
    let data = generate(&DemoParams {
        accounts,
        ..DemoParams::new(as_of)
    });
    eprintln!(
        "generated {accounts} accounts in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let cfg = MetricsConfig {
        fx: demo_fx(),
        features_available: Some(FEATURES_AVAILABLE),
        ..MetricsConfig::default()
    };
    let engine = Engine::new(&data, cfg)
        .expect("engine")
        .with_health(HealthModels::builtin());
    let rules = fifty_rules();

    let t = Instant::now();
    let table = ValueTable::compute(&engine, &rules, day);
    let table_secs = t.elapsed().as_secs_f64();

    let now = Utc::now();
    let empty: BTreeMap<AlertKey, AlertState> = BTreeMap::new();
    let mut times = vec![];
    let mut fired = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let results = advance_all(&rules, data.accounts(), &table, &empty, now, &[], false);
        let notifications: usize = results.iter().map(|a| a.notifications.len()).sum();
        times.push(t.elapsed().as_secs_f64());
        fired = notifications;
    }
    // The steady state of a daily run: the states of the first evaluation are stored, so the
    // firing alerts are known and only changes are written.
    let first = advance_all(&rules, data.accounts(), &table, &empty, now, &[], false);
    let states: BTreeMap<AlertKey, AlertState> =
        first.into_iter().flat_map(|a| a.changed).collect();
    let later = now + chrono::Duration::hours(1);
    let mut steady = vec![];
    for _ in 0..runs {
        let t = Instant::now();
        let results = advance_all(&rules, data.accounts(), &table, &states, later, &[], false);
        std::hint::black_box(&results);
        steady.push(t.elapsed().as_secs_f64());
    }
    let m = median(times.clone());
    println!(
        "rule evaluation: {} rules x {accounts} accounts, {runs} runs",
        rules.len()
    );
    println!("  value table (the metrics, computed once): {table_secs:.2} s");
    println!(
        "  evaluation given the metrics: median {:.1} ms (min {:.1}, max {:.1}), {:.0} ns per rule-account, {fired} notifications",
        m * 1e3,
        times.iter().copied().fold(f64::MAX, f64::min) * 1e3,
        times.iter().copied().fold(0.0, f64::max) * 1e3,
        m * 1e9 / (rules.len() as f64 * f64::from(accounts)),
    );
    println!(
        "  the next evaluation, {} alert states stored: median {:.1} ms",
        states.len(),
        median(steady) * 1e3
    );
}
