//! Rule evaluation benchmark (docs/performance.md): `cargo bench --bench rules`.
//!
//! Evaluates 50 rules over the demo data (100,000 accounts by default) and reports the median
//! time of the evaluation itself — signals from the value table, the lifecycle, the
//! notifications — given the metrics: the value table is computed once, outside the timing,
//! and its own time is reported separately.
//!
//! Knobs (environment): `BENCH_ACCOUNTS` (default 100000), `BENCH_RUNS` (default 7).

#[allow(dead_code)] // only env_or, median and the fifty rules are used
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use cs_pulse::alerts::run::advance_all;
use cs_pulse::alerts::{AlertKey, AlertState};
use cs_pulse::metrics::health::HealthModels;
use cs_pulse::metrics::{Engine, MetricsConfig};
use cs_pulse::rules::eval::ValueTable;
use cs_pulse::rules::load::parse_rules;
use cs_pulse::sources::demo::{demo_fx, generate, DemoParams, FEATURES_AVAILABLE};

use common::{env_or, fifty_rules_toml, median};

fn main() -> anyhow::Result<()> {
    let accounts: u32 = env_or("BENCH_ACCOUNTS", 100_000)?;
    let runs: usize = env_or("BENCH_RUNS", 7)?;
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
    let rules = parse_rules(
        &fifty_rules_toml()?,
        Path::new("rules50.toml"),
        &["console".to_string()],
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;

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
    let m = median(&times);
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
        median(&steady) * 1e3
    );
    Ok(())
}
