//! Answers that read the data: `/kpi`, `/account` (and the Open account button), `/at-risk`,
//! `/renewals`, `/scorecard`. They exist so that a CSM can ask cs-pulse in chat what the
//! terminal's `cs-pulse metrics` and `cs-pulse scorecard` would tell them, with the same numbers
//! (the metrics engine, METRICS.md) written the same way (`report::format`), in messages short
//! enough to read on one screen. One file per command ([`kpi`], [`account`], [`lists`] for
//! `/at-risk` and `/renewals`, [`scorecard`]); what they share is here.
//!
//! Conventions shared by every answer here:
//! - "today" is `now`'s date in the configured timezone; live health is computed over the
//!   [`HEALTH_WINDOW_DAYS`] days ending yesterday (the last complete day of data), like the
//!   scorecard's health, and MRR is read on today.
//! - A reply with revenue figures (MRR, ARR, NRR, ...) is private; callers without the revenue
//!   permission get the same answer without them (or a polite refusal when revenue is all the
//!   answer is).
//! - A wrong input (an unknown account, segment or owner) is a short private note with the
//!   closest valid choices, never an error.

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::alerts::{AlertState, Phase, Silence};
use crate::chat::command::{example, spec};
use crate::chat::data::{DataError, Snapshot};
use crate::chat::desk::refusal;
use crate::chat::{Caller, Desk, Reply};
use crate::metrics::registry::Group;
use crate::metrics::{derive, Engine, Filter, MetricId, MetricRef, Subject, Unit, Variant};
use crate::model::{AccountIx, Currency, Period, PeriodKind};
use crate::notify::{Field, Message, Section, Tone};
use crate::report::format;
use crate::scorecard::compute::{health_window, HEALTH_WINDOW_DAYS};
use crate::scorecard::message::label;
use crate::store::AlertStore;

/// Accounts listed by `/at-risk` and `/renewals` before "… and N more".
pub const LIST_SHOWN: usize = 15;
/// Valid segments or owners listed in full after a wrong one; past this, the closest few.
const CHOICES_LISTED: usize = 10;
/// Close matches offered after a wrong account, segment or owner.
const CLOSEST: usize = 3;
/// Complete months in `/account`'s MRR trend (today's MRR is added as the last point).
const MRR_TREND_MONTHS: usize = 6;
/// Complete weeks in `/account`'s usage trend.
const USAGE_TREND_WEEKS: usize = 8;

mod account;
mod kpi;
mod lists;
mod scorecard;

pub use account::account;
pub use kpi::kpi;
pub use lists::{at_risk, renewals};
pub use scorecard::scorecard;

/// The cached data, or the note that there is none yet.
async fn snapshot(desk: &Desk) -> Result<Result<Snapshot, Reply>> {
    match desk.data.get().await {
        Ok(s) => Ok(Ok(s)),
        Err(e @ DataError::Empty) => Ok(Err(Reply::note(
            "No data yet",
            vec![format!("{e}.")],
            Tone::Warning,
        ))),
        Err(e) => Err(e.into()),
    }
}

fn engine_of<'d>(desk: &Desk, snap: &'d Snapshot) -> Result<Engine<'d>> {
    Ok(Engine::new(&snap.data, desk.config.metrics.clone())?.with_health(desk.health.clone()))
}

fn currency(engine: &Engine) -> Currency {
    engine.config().fx.reporting()
}

fn today(desk: &Desk, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&desk.config.timezone).date_naive()
}

fn yesterday(today: NaiveDate) -> NaiveDate {
    today.pred_opt().unwrap_or(today)
}

/// The days live health is computed over: [`HEALTH_WINDOW_DAYS`] ending yesterday.
fn live_window(today: NaiveDate) -> Period {
    health_window(&Period::containing(PeriodKind::Range, yesterday(today)))
}

/// The footer's freshness: when the data was synced.
/// The small print of answers built on live health: `health over A to B · data synced …`.
fn health_footer(window: &Period, snap: &Snapshot, today: NaiveDate) -> String {
    format!(
        "health over {} to {} · {}",
        window.start(),
        window.last_day(),
        freshness(snap, today)
    )
}

fn freshness(snap: &Snapshot, today: NaiveDate) -> String {
    match snap.synced_at {
        Some(t) => format!("data synced {}", t.format("%Y-%m-%d %H:%M UTC")),
        None => format!("data as of {today}"),
    }
}

/// `all accounts`, `segment SMB`, `Ana's book`, `Ana's SMB accounts`.
fn scope_text(filter: &Filter) -> String {
    match (&filter.segment, &filter.owner) {
        (None, None) => "all accounts".to_string(),
        (Some(s), None) => format!("segment {s}"),
        (None, Some(o)) => format!("{o}'s book"),
        (Some(s), Some(o)) => format!("{o}'s {s} accounts"),
    }
}

/// A value, or `n/a` for null.
fn shown(v: Option<Decimal>, unit: Unit, cur: Currency) -> String {
    v.map_or("n/a".to_string(), |v| format::value(v, unit, cur))
}

fn score_text(score: Decimal) -> String {
    format::group_thousands(score, 1)
}

fn owner_text(owner: Option<&str>) -> String {
    owner
        .filter(|o| !o.trim().is_empty())
        .map_or("no owner".to_string(), |o| format!("owner {o}"))
}

fn health_text(score: Option<Decimal>, band: Option<String>) -> String {
    match (score, band) {
        (Some(s), Some(b)) => format!("health {} {b}", score_text(s)),
        (Some(s), None) => format!("health {}", score_text(s)),
        _ => "health n/a".to_string(),
    }
}

fn due_text(days: i64) -> String {
    match days {
        d if d < 0 => format!("{} d overdue", -d),
        0 => "today".to_string(),
        d => format!("in {d} d"),
    }
}

fn renewal_text(date: Option<NaiveDate>, today: NaiveDate) -> String {
    match date {
        Some(d) => format!("renews {d} ({})", due_text((d - today).num_days())),
        None => "no renewal date".to_string(),
    }
}

/// The filter for `segment` and `owner` as typed (exact, else case-insensitive), or the note
/// naming the valid ones.
fn filter_of(
    engine: &Engine,
    command: &str,
    segment: Option<&str>,
    owner: Option<&str>,
) -> Result<Filter, Box<Reply>> {
    let accounts = engine.dataset().accounts();
    let segment = segment
        .map(|s| {
            let all = accounts.iter().filter_map(|a| a.segment.clone());
            resolve(command, "segment", "segments", s, all)
        })
        .transpose()?;
    let owner = owner
        .map(|o| {
            let all = accounts.iter().filter_map(|a| a.owner.clone());
            resolve(command, "owner", "owners", o, all)
        })
        .transpose()?;
    Ok(Filter {
        segment,
        owner,
        plan: None,
    })
}

fn resolve(
    command: &str,
    what: &str,
    plural: &str,
    typed: &str,
    values: impl Iterator<Item = String>,
) -> Result<String, Box<Reply>> {
    let typed = typed.trim();
    let values: BTreeSet<String> = values.filter(|v| !v.trim().is_empty()).collect();
    if let Some(v) = values.get(typed) {
        return Ok(v.clone());
    }
    if let Some(v) = values.iter().find(|v| v.eq_ignore_ascii_case(typed)) {
        return Ok(v.clone());
    }
    let mut lines = vec![format!("No account has the {what} \"{typed}\".")];
    let close = closest(typed, values.iter().map(|v| (v.as_str(), v.clone())));
    if values.is_empty() {
        lines.push(format!("The data has no {plural}."));
    } else if values.len() <= CHOICES_LISTED {
        if !close.is_empty() {
            lines.push(format!("Did you mean: {}?", close.join(", ")));
        }
        let all: Vec<&str> = values.iter().map(String::as_str).collect();
        lines.push(format!("Valid {plural}: {}.", all.join(", ")));
    } else {
        if close.is_empty() {
            lines.push(format!(
                "There are {} {plural}; none is close.",
                values.len()
            ));
        } else {
            lines.push(format!("Closest {plural}: {}.", close.join(", ")));
        }
    }
    Err(Box::new(Reply::note(
        format!("Couldn't run /{command}"),
        lines,
        Tone::Warning,
    )))
}

/// The up to [`CLOSEST`] shown texts whose key is closest to `typed` (containing it counts as
/// closest), best first.
fn closest<'k>(typed: &str, candidates: impl Iterator<Item = (&'k str, String)>) -> Vec<String> {
    let typed = typed.to_lowercase();
    let mut scored: Vec<(f64, String)> = candidates
        .map(|(key, shown)| {
            let key = key.to_lowercase();
            let score = if !typed.is_empty() && key.contains(&typed) {
                1.0 + strsim::jaro_winkler(&typed, &key)
            } else {
                strsim::jaro_winkler(&typed, &key)
            };
            (score, shown)
        })
        .filter(|(s, _)| *s > 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(CLOSEST).map(|(_, s)| s).collect()
}

/// An account by id or name, as every chat answer finds it ([`super::alerts::find_account`]).
fn find_account(engine: &Engine, typed: &str) -> Option<AccountIx> {
    let ds = engine.dataset();
    super::alerts::find_account(ds, typed).and_then(|a| ds.account_ix(&a.id))
}

fn no_such_account(engine: &Engine, typed: &str, caller: &Caller) -> Reply {
    let typed = typed.trim();
    let accounts = engine.dataset().accounts();
    let by_name = closest(
        typed,
        accounts
            .iter()
            .map(|a| (a.name.as_str(), format!("{} ({})", a.name, a.id))),
    );
    let close = if by_name.is_empty() {
        closest(
            typed,
            accounts
                .iter()
                .map(|a| (a.id.as_str(), format!("{} ({})", a.name, a.id))),
        )
    } else {
        by_name
    };
    let mut lines = vec![format!(
        "No account has the id or name \"{typed}\" (ids are case-sensitive)."
    )];
    if close.is_empty() {
        if let Some(account) = spec("account") {
            lines.push(format!(
                "Write the whole name or the id, like {}.",
                example(account, account.example, caller.syntax)
            ));
        }
    } else {
        lines.push(format!("Did you mean: {}?", close.join(", ")));
    }
    Reply::note("No such account", lines, Tone::Warning)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_prefers_containing_then_similar() {
        let names = ["Acme Corp", "Acme Labs", "Beacon Bio", "Initech"];
        let close = closest("acme", names.iter().map(|n| (*n, n.to_string())));
        assert_eq!(close, vec!["Acme Corp", "Acme Labs"]);
        let close = closest("Inietch", names.iter().map(|n| (*n, n.to_string())));
        assert_eq!(close, vec!["Initech"]);
    }
}
