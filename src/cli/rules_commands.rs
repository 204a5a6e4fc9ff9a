//! The rule commands: `eval` (evaluate every rule as of a day and advance the stored alerts),
//! `backtest` (replay history day by day to see what rules would have fired) and `test` (run
//! rule tests). `check` validates rule files through [`load_rules_of`].

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};

use super::delivery::{alert_items, Channels};
use super::{
    engine_for, load_config, load_data, load_data_from, open_synced_store, progress_bar, today_in,
    Outcome,
};
use crate::alerts::backtest::backtest;
use crate::alerts::data_quality::assess;
use crate::alerts::run::{EvalOutcome, Evaluation};
use crate::config::Config;
use crate::diagnostics::Diagnostics;
use crate::rules::load::load_rules;
use crate::rules::testing::{load_tests, run_tests};
use crate::rules::Rule;
use crate::store::alerts::AlertStore;
use crate::store::{SqliteStore, Store};

/// The channel names rules may route to.
pub fn channel_names(config: &Config) -> Vec<String> {
    config.channels.iter().map(|c| c.name.clone()).collect()
}

/// Loads the configured rule files.
pub fn load_rules_of(config: &Config) -> Result<Vec<Rule>, Diagnostics> {
    load_rules(&config.rules_paths, &channel_names(config))
}

/// The moment a day of data is complete: midnight after it, in the business timezone.
pub fn end_of_day(config: &Config, day: NaiveDate) -> DateTime<Utc> {
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    config
        .timezone
        .from_local_datetime(&next.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| next.and_time(NaiveTime::MIN).and_utc())
}

pub(crate) fn rules_or_report(config: &Config, out: &mut dyn Write) -> Result<Option<Vec<Rule>>> {
    match load_rules_of(config) {
        Ok(r) => Ok(Some(r)),
        Err(d) => {
            write!(out, "{d}")?;
            Ok(None)
        }
    }
}

/// `cs-pulse eval [--at DATE] [--dry-run]`.
pub async fn eval_command(
    path: &Path,
    at: Option<NaiveDate>,
    dry_run: bool,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let config = load_config(path)?;
    let Some(rules) = rules_or_report(&config, out)? else {
        return Ok(Outcome::Problems);
    };
    // Without --at: the last complete day, advanced to now; with it: that day, as it ended.
    let (day, now) = match at {
        Some(day) => (day, end_of_day(&config, day)),
        None => (
            today_in(config.timezone, now)
                .pred_opt()
                .unwrap_or_default(),
            now,
        ),
    };
    let store = open_synced_store(&config).await?;
    let outcome = evaluate(&config, &rules, &store, day, now).await?;
    writeln!(
        out,
        "Evaluated {} rule{} as of {day}{}{}",
        rules.len(),
        if rules.len() == 1 { "" } else { "s" },
        if outcome.held {
            " · rules held: stale data"
        } else {
            ""
        },
        if dry_run {
            " (dry run: nothing saved or sent)"
        } else {
            ""
        },
    )?;
    for rule in &rules {
        let (pending, firing) = outcome.counts.get(&rule.id).copied().unwrap_or_default();
        writeln!(
            out,
            "  {:<28} {firing:>5} firing {pending:>5} pending",
            rule.id
        )?;
    }
    writeln!(out)?;
    if outcome.messages.is_empty() {
        writeln!(out, "No messages to send.")?;
    }
    if dry_run {
        for m in &outcome.messages {
            writeln!(out, "→ {}", m.route.join(", "))?;
            writeln!(out, "{}", crate::notify::alert::to_message(m).to_text())?;
        }
        return Ok(Outcome::Ok);
    }
    // The states and the messages are stored together, then sent.
    let channels = Channels::open(&config, &store)?;
    let items = alert_items(&channels.deliverer, &outcome.messages, now);
    let (_, report) = channels
        .deliver(&store, &outcome.changed, &items, now, out)
        .await?;
    Ok(if report.failed > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}

/// One evaluation of `rules` on the store's data as of `day`, advanced to `now`: the states and
/// silences from the store, the data-quality guard from its sync history. Nothing is saved.
pub(crate) async fn evaluate(
    config: &Config,
    rules: &[Rule],
    store: &SqliteStore,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<EvalOutcome> {
    let data = load_data_from(store, config).await?;
    let engine = engine_for(config, &data)?;
    let states = store.alert_states().await?;
    let silences = store.silences(now, false).await?;
    let runs = store.sync_runs(None, 1000).await?;
    let sources: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
    let issues = assess(&sources, &runs, now, &config.data_quality);
    // Data-quality warnings go to the first channel.
    let route: Vec<String> = config
        .channels
        .first()
        .map(|c| vec![c.name.clone()])
        .unwrap_or_default();
    let evaluation = Evaluation {
        rules,
        day,
        now,
        silences: &silences,
        sources: &sources,
        issues: &issues,
        warning_route: &route,
    };
    Ok(evaluation.run(&engine, &states, true))
}

/// `cs-pulse backtest --from DATE --to DATE [--rule ID]`.
pub async fn backtest_command(
    path: &Path,
    from: NaiveDate,
    to: NaiveDate,
    rule: Option<String>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    if to < from {
        return Err(super::ArgError(format!("--to {to} is before --from {from}")).into());
    }
    let config = load_config(path)?;
    let Some(mut rules) = rules_or_report(&config, out)? else {
        return Ok(Outcome::Problems);
    };
    if let Some(id) = &rule {
        let ids: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
        rules.retain(|r| &r.id == id);
        if rules.is_empty() {
            return Err(super::ArgError(format!(
                "--rule: no rule \"{id}\" (rules: {})",
                ids.join(", ")
            ))
            .into());
        }
    }
    let data = load_data(&config).await?;
    let engine = engine_for(&config, &data)?;
    let report = backtest(
        &engine,
        &rules,
        from,
        to,
        |day| end_of_day(&config, day),
        Some(&progress_bar("backtest")),
    );
    out.write_all(report.render(&engine, from, to).as_bytes())?;
    Ok(Outcome::Ok)
}

/// `cs-pulse test [PATH]...`: runs rule tests against the rules they name.
pub fn test_command(config_path: &Path, paths: &[PathBuf], out: &mut dyn Write) -> Result<Outcome> {
    // Rules come from the test paths themselves (rule files beside their tests); channel names
    // from the config when there is one, else the default channels (`console`).
    let config = if config_path.exists() {
        load_config(config_path)?
    } else {
        Config::default()
    };
    let dirs: Vec<PathBuf> = if paths.is_empty() {
        config.rules_paths.clone()
    } else {
        paths.to_vec()
    };
    let rules = match load_rules(&dirs, &channel_names(&config)) {
        Ok(r) => r,
        Err(d) => {
            write!(out, "{d}")?;
            return Ok(Outcome::Problems);
        }
    };
    let tests = match load_tests(&dirs) {
        Ok(t) => t,
        Err(d) => {
            write!(out, "{d}")?;
            return Ok(Outcome::Problems);
        }
    };
    let report = run_tests(&tests, &rules);
    writeln!(out, "{}", report.render())?;
    let untested: BTreeSet<&str> = rules
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !tests.iter().flat_map(|f| &f.tests).any(|t| t.rule == *id))
        .collect();
    if !untested.is_empty() {
        writeln!(
            out,
            "rules without tests: {}",
            untested.into_iter().collect::<Vec<_>>().join(", ")
        )?;
    }
    Ok(if report.failed() > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}
