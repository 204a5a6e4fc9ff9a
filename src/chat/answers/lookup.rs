//! Answers that read the data: `/kpi`, `/account` (and the Open account button), `/at-risk`,
//! `/renewals`, `/scorecard`. They exist so that a CSM can ask cs-pulse in chat what the
//! terminal's `cs-pulse metrics` and `cs-pulse scorecard` would tell them, with the same numbers
//! (the metrics engine, METRICS.md) written the same way (`report::format`), in messages short
//! enough to read on one screen.
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

/// `/kpi <metric> [period] [segment] [owner]`: one metric of the portfolio (or a segment or an
/// owner's book) over a period (default: the last complete month), against the previous one.
pub async fn kpi(
    desk: &Desk,
    caller: &Caller,
    metric: MetricId,
    period: Option<Period>,
    segment: Option<&str>,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let def = metric.def();
    if !def.scope.portfolio() {
        return Ok(per_account_only(metric, caller));
    }
    if def.group == Group::Revenue && !caller.revenue {
        return Ok(refusal(
            &format!("/kpi {}", def.name),
            "see revenue metrics",
        ));
    }
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let filter = match filter_of(&engine, "kpi", segment, owner) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let today = today(desk, now);
    let period = period.unwrap_or_else(|| Period::last_complete(PeriodKind::Month, today));
    let previous = period.previous();
    let subject = Subject::Portfolio(&filter);
    let value = engine.metric(metric, subject, &period);
    let prev = engine.metric(metric, subject, &previous);
    let cur = currency(&engine);
    let accounts = engine.accounts(&filter).count();

    let mut lines = vec![
        def.description.to_string(),
        format!(
            "{} to {} · {} ({})",
            period.start(),
            period.last_day(),
            scope_text(&filter),
            format::accounts(accounts)
        ),
    ];
    if period.end() > today {
        lines.push(format!(
            "{period} is not over: the days from {today} on have no data yet and count as empty."
        ));
    }
    if value.is_none() {
        lines.push(format!(
            "n/a: {}.",
            why_null(metric, &engine).unwrap_or("nothing to compute it from in the period")
        ));
    }
    let fields = vec![
        Field {
            label: period.to_string(),
            value: shown(value, def.unit, cur),
        },
        Field {
            label: format!("{previous} (previous)"),
            value: shown(prev, def.unit, cur),
        },
        Field {
            label: "Change".to_string(),
            value: change_text(metric, value, prev, cur),
        },
    ];
    let message = Message {
        title: format!("{} · {period} · {}", label(metric), scope_text(&filter)),
        tone: Tone::Info,
        sections: vec![Section {
            heading: None,
            lines,
            fields,
        }],
        footer: freshness(&snap, today),
        ..Message::default()
    };
    Ok(if def.group == Group::Revenue {
        Reply::private(message)
    } else {
        Reply::public(message)
    })
}

/// `/account <account>`: the account's health card.
pub async fn account(
    desk: &Desk,
    caller: &Caller,
    account: &str,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let Some(ix) = find_account(&engine, account) else {
        return Ok(no_such_account(&engine, account, caller));
    };
    let ds = engine.dataset();
    let acc = ds.account(ix);
    let today = today(desk, now);
    let window = live_window(today);
    let cur = currency(&engine);
    let health = engine.health(ix, &window);

    let mut about = vec![
        acc.segment.clone(),
        acc.plan.clone(),
        Some(owner_text(acc.owner.as_deref())),
    ];
    if let Some(seats) = acc.licensed_seats {
        about.push(Some(format!("{seats} seats")));
    }
    let mut sections = vec![Section {
        heading: None,
        lines: vec![about.into_iter().flatten().collect::<Vec<_>>().join(" · ")],
        fields: vec![],
    }];

    // Health and its explanation.
    let (tone, health_section) = match &health {
        Some(h) if h.score.is_some() => {
            let band = h.band.as_deref().unwrap_or("no band");
            let lines = h
                .measures
                .iter()
                .map(|m| {
                    let name = measure_label(&m.metric);
                    let hidden = m.metric.metric.def().group == Group::Revenue && !caller.revenue;
                    match m.score {
                        None => format!("{name}: no value (not counted)"),
                        Some(score) => {
                            let value = if hidden {
                                String::new()
                            } else {
                                format!(" {}", format::reference(&m.metric, m.value, cur))
                            };
                            format!(
                                "{name}{value} → {} × {}",
                                format::group_thousands(score, 1),
                                format::value(m.effective_weight, Unit::Ratio, cur)
                            )
                        }
                    }
                })
                .collect();
            (
                h.band.as_deref().map_or(Tone::Neutral, Tone::of_band),
                Section {
                    heading: Some(format!(
                        "Health {} · {band} · value → score × weight",
                        score_text(h.score.unwrap_or_default())
                    )),
                    lines,
                    fields: vec![],
                },
            )
        }
        Some(_) => (
            Tone::Neutral,
            Section {
                heading: Some("Health n/a".to_string()),
                lines: vec![format!(
                    "None of the health model's measures has a value over the last {HEALTH_WINDOW_DAYS} days."
                )],
                fields: vec![],
            },
        ),
        None => (
            Tone::Neutral,
            Section {
                heading: Some("Health n/a".to_string()),
                lines: vec!["No health model applies to this account.".to_string()],
                fields: vec![],
            },
        ),
    };
    sections.push(health_section);

    // MRR, usage and renewal, as label–value fields.
    let mut fields = Vec::new();
    if caller.revenue {
        let index = engine.index();
        let mrr = index.mrr_on(ix, today);
        let mut points: Vec<Option<Decimal>> = month_ends(today, MRR_TREND_MONTHS)
            .into_iter()
            .map(|d| Some(index.mrr_on(ix, d)))
            .collect();
        points.push(Some(mrr));
        fields.push(Field {
            label: "MRR".to_string(),
            value: format::money(mrr, cur),
        });
        fields.push(Field {
            label: format!("MRR, {MRR_TREND_MONTHS} months"),
            value: trend_text(&points, Unit::Money, cur),
        });
    }
    let dau = engine.metric(MetricId::Dau, Subject::Account(ix), &window);
    let utilization = engine.metric(MetricId::SeatUtilization, Subject::Account(ix), &window);
    let mut usage = shown(dau, Unit::Number, cur);
    if let Some(u) = utilization {
        usage += &format!(" · {} of seats", format::value(u, Unit::Ratio, cur));
    }
    fields.push(Field {
        label: format!("Active users a day, {HEALTH_WINDOW_DAYS} d"),
        value: usage,
    });
    let weekly: Vec<Option<Decimal>> = weeks(today, USAGE_TREND_WEEKS)
        .iter()
        .map(|w| engine.metric(MetricId::Dau, Subject::Account(ix), w))
        .collect();
    fields.push(Field {
        label: format!("Active users, {USAGE_TREND_WEEKS} weeks"),
        value: trend_text(&weekly, Unit::Number, cur),
    });
    fields.push(Field {
        label: "Renewal".to_string(),
        value: match acc.renewal_date {
            Some(d) => format!("{d} ({})", due_text((d - today).num_days())),
            None => "no renewal date".to_string(),
        },
    });
    sections.push(Section {
        heading: None,
        lines: if caller.revenue {
            vec![]
        } else {
            vec!["MRR is left out: your roles don't include revenue figures.".to_string()]
        },
        fields,
    });

    // Open alerts.
    let states = desk.store.alert_states().await?;
    let silences = desk.store.silences(now, false).await?;
    let open: Vec<String> = states
        .iter()
        .filter(|(k, s)| k.subject == acc.id && s.phase == Phase::Firing)
        .map(|(k, s)| alert_line(desk, &k.rule, &acc.id, s, &silences, now))
        .collect();
    sections.push(Section {
        heading: Some(if open.is_empty() {
            "Open alerts".to_string()
        } else {
            format!("Open alerts ({})", open.len())
        }),
        lines: if open.is_empty() {
            vec!["None.".to_string()]
        } else {
            open
        },
        fields: vec![],
    });

    let model = health
        .as_ref()
        .map(|h| format!(" · health model {}", h.model))
        .unwrap_or_default();
    let message = Message {
        title: format!("{} ({})", acc.name, acc.id),
        tone,
        sections,
        footer: format!(
            "health over {} to {}{model} · {}",
            window.start(),
            window.last_day(),
            freshness(&snap, today)
        ),
        ..Message::default()
    };
    Ok(if caller.revenue {
        Reply::private(message)
    } else {
        Reply::public(message)
    })
}

/// `/at-risk [segment] [owner]`: paying accounts in the lowest band of their health model, worst
/// score first.
pub async fn at_risk(
    desk: &Desk,
    caller: &Caller,
    segment: Option<&str>,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let filter = match filter_of(&engine, "at-risk", segment, owner) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let today = today(desk, now);
    let window = live_window(today);
    let cur = currency(&engine);
    let ds = engine.dataset();
    let models = engine.health_models();
    let lowest = |model: &str| {
        models
            .and_then(|ms| ms.models.iter().find(|m| m.name == model))
            .and_then(|m| m.bands.first())
            .map(|b| b.name.clone())
    };
    let mut rows: Vec<(Decimal, Decimal, AccountIx, String)> = Vec::new();
    for a in engine.accounts(&filter) {
        let mrr = engine.index().mrr_on(a, today);
        if mrr <= Decimal::ZERO {
            continue;
        }
        let Some(h) = engine.health(a, &window) else {
            continue;
        };
        let (Some(score), Some(band)) = (h.score, h.band) else {
            continue;
        };
        if Some(&band) == lowest(&h.model).as_ref() {
            rows.push((score, mrr, a, band));
        }
    }
    rows.sort_by(|x, y| {
        x.0.cmp(&y.0)
            .then(y.1.cmp(&x.1))
            .then(ds.account(x.2).id.cmp(&ds.account(y.2).id))
    });
    let mut lines: Vec<String> = rows
        .iter()
        .take(LIST_SHOWN)
        .map(|(score, mrr, a, band)| {
            let acc = ds.account(*a);
            let mut parts = vec![
                format!("{} ({})", acc.name, acc.id),
                format!("health {} {band}", score_text(*score)),
                owner_text(acc.owner.as_deref()),
            ];
            if caller.revenue {
                parts.push(format!("{} MRR", format::money(*mrr, cur)));
            }
            parts.push(renewal_text(acc.renewal_date, today));
            parts.join(" · ")
        })
        .collect();
    if rows.len() > LIST_SHOWN {
        lines.push(format!("… and {} more", rows.len() - LIST_SHOWN));
    }
    if lines.is_empty() {
        lines.push("No paying account is in the lowest health band.".to_string());
    }
    let title = format!(
        "At risk · {} · {}",
        format::accounts(rows.len()),
        scope_text(&filter)
    );
    let message = Message {
        title,
        tone: if rows.is_empty() {
            Tone::Good
        } else {
            Tone::Critical
        },
        sections: vec![Section {
            heading: None,
            lines,
            fields: vec![],
        }],
        footer: format!(
            "paying accounts in the lowest band of their health model, worst first · health over {} to {} · {}",
            window.start(),
            window.last_day(),
            freshness(&snap, today)
        ),
        ..Message::default()
    };
    Ok(if caller.revenue {
        Reply::private(message)
    } else {
        Reply::public(message)
    })
}

/// `/renewals [days]`: accounts whose renewal date falls within `days` from today (and paying
/// accounts whose renewal date has passed), soonest first.
pub async fn renewals(
    desk: &Desk,
    caller: &Caller,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let today = today(desk, now);
    let horizon = today
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(today);
    let window = live_window(today);
    let cur = currency(&engine);
    let ds = engine.dataset();
    let mut rows: Vec<(NaiveDate, Decimal, AccountIx)> = Vec::new();
    for (i, acc) in ds.accounts().iter().enumerate() {
        let a = i as AccountIx;
        let Some(date) = acc.renewal_date else {
            continue;
        };
        let mrr = engine.index().mrr_on(a, today);
        // A past renewal date of an account that stopped paying is history, not a renewal due.
        if date > horizon || (date < today && mrr <= Decimal::ZERO) {
            continue;
        }
        rows.push((date, mrr, a));
    }
    rows.sort_by(|x, y| {
        x.0.cmp(&y.0)
            .then(y.1.cmp(&x.1))
            .then(ds.account(x.2).id.cmp(&ds.account(y.2).id))
    });
    let mut lines: Vec<String> = rows
        .iter()
        .take(LIST_SHOWN)
        .map(|(date, mrr, a)| {
            let acc = ds.account(*a);
            let health = engine.health(*a, &window);
            let mut parts = vec![
                format!("{date} ({})", due_text((*date - today).num_days())),
                format!("{} ({})", acc.name, acc.id),
                health_text(
                    health.as_ref().and_then(|h| h.score),
                    health.and_then(|h| h.band),
                ),
            ];
            if caller.revenue {
                parts.push(format!("{} MRR", format::money(*mrr, cur)));
            }
            parts.push(owner_text(acc.owner.as_deref()));
            parts.join(" · ")
        })
        .collect();
    if rows.len() > LIST_SHOWN {
        lines.push(format!("… and {} more", rows.len() - LIST_SHOWN));
    }
    if lines.is_empty() {
        lines.push(format!("No renewal date falls in the next {days} days."));
    }
    let message = Message {
        title: format!(
            "Renewals in the next {days} days · {}",
            format::accounts(rows.len())
        ),
        tone: Tone::Info,
        sections: vec![Section {
            heading: None,
            lines,
            fields: vec![],
        }],
        footer: format!(
            "renewal dates up to {horizon}, overdue ones of paying accounts included · health over {} to {} · {}",
            window.start(),
            window.last_day(),
            freshness(&snap, today)
        ),
        ..Message::default()
    };
    Ok(if caller.revenue {
        Reply::private(message)
    } else {
        Reply::public(message)
    })
}

/// `/scorecard [period]`: the first configured scorecard of the period's kind (or the first one)
/// for the period (default: its last complete one), as the scheduled post reads without its
/// chart.
pub async fn scorecard(
    desk: &Desk,
    caller: &Caller,
    period: Option<Period>,
    now: DateTime<Utc>,
) -> Result<Reply> {
    if !caller.revenue {
        return Ok(refusal("/scorecard", "see revenue figures"));
    }
    let def = match period {
        None => desk.scorecards.first(),
        Some(p) => desk.scorecards.iter().find(|d| d.period == p.kind()),
    };
    let Some(def) = def else {
        let lines = if desk.scorecards.is_empty() {
            vec!["No scorecard is defined: add one to scorecard.toml beside the rules.".to_string()]
        } else {
            let mut kinds: Vec<&str> = Vec::new();
            for d in &desk.scorecards {
                let kind = match d.period {
                    PeriodKind::Month => "a month (like 2025-06)",
                    _ => "a week (like 2025-W24)",
                };
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            vec![
                format!(
                    "No scorecard is made for {}.",
                    period.map_or("that".to_string(), |p| p.to_string())
                ),
                format!("Scorecards cover {}.", kinds.join(" or ")),
            ]
        };
        return Ok(Reply::note("Couldn't run /scorecard", lines, Tone::Warning));
    };
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let today = today(desk, now);
    let (period, day) = match period {
        // A past period reads as of the day after it, when it would have been posted.
        Some(p) => (p, p.end()),
        None => (Period::last_complete(def.period, today), today),
    };
    let mut card = crate::scorecard::compute_for(&engine, def, period, day, None);
    card.synced_at = snap.synced_at;
    let mut message = crate::scorecard::to_message(&card);
    message.image = None;
    message.mentions.clear();
    if let Some(first) = message.sections.first_mut() {
        first
            .lines
            .push("The trend chart comes with the scheduled post.".to_string());
    }
    Ok(Reply::private(message))
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

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

/// `▲ +1.2 pp`, `▼ -$300.00 (-2.1%)`, `= unchanged`, like the scorecard's KPI lines: a relative
/// change only for levels (money, counts) from a positive base.
fn change_text(
    metric: MetricId,
    now: Option<Decimal>,
    prev: Option<Decimal>,
    cur: Currency,
) -> String {
    let unit = metric.def().unit;
    let Some(ch) = derive(Variant::Change, now, prev) else {
        return "n/a".to_string();
    };
    if ch.is_zero() {
        return "= unchanged".to_string();
    }
    let arrow = if ch > Decimal::ZERO { "▲" } else { "▼" };
    let flow = matches!(
        metric,
        MetricId::NewMrr
            | MetricId::ExpansionMrr
            | MetricId::ReactivationMrr
            | MetricId::ContractionMrr
            | MetricId::ChurnedMrr
            | MetricId::NetNewMrr
            | MetricId::ExpansionRevenue
    );
    let level = matches!(unit, Unit::Money | Unit::Count) && !flow;
    let pct = match (derive(Variant::ChangePct, now, prev), prev) {
        (Some(p), Some(prev)) if level && prev > Decimal::ZERO => {
            format!(" ({})", format::change_pct(p))
        }
        _ => String::new(),
    };
    format!("{arrow} {}{pct}", format::change(ch, unit, cur))
}

/// Why a portfolio metric is null, where that is cheap to say (METRICS.md "Nulls").
fn why_null(metric: MetricId, engine: &Engine) -> Option<&'static str> {
    use MetricId::*;
    Some(match metric {
        Nrr | Grr | RevenueChurnRate | NetRevenueChurnRate | LogoChurnRate | RetentionRate => {
            "no account was paying the day before the period"
        }
        Arpa => "no paying customer on the period's last day",
        QuickRatio => "no contraction or churn in the period",
        Ltv => "no logo churn in the months before the period's end",
        RenewalRate => "no renewal renewed or churned in the period",
        TrialConversionRate => "no trial ended in the period",
        RetentionCost => "no retained account in the period",
        Nps => "no NPS response in the period",
        Csat => "no CSAT response in the period",
        Ces => "no CES response in the period",
        FirstContactResolution => "no ticket resolved in the period",
        SeatUtilization => "no account has licensed seats",
        MinutesPerActiveUser => "no active users in the period",
        AdoptionRate if engine.config().features_available.is_none() => {
            "features_available is not configured ([metrics] in the config)"
        }
        AdoptionRate => "no usage row with features_used in the period",
        TimeToFirstValue => "no account reached first value in the period",
        _ => return None,
    })
}

/// The reply to `/kpi` with a metric that exists per account only.
fn per_account_only(metric: MetricId, caller: &Caller) -> Reply {
    let mut lines = vec![format!(
        "{} exists per account only, not for a portfolio, segment or owner.",
        metric.name()
    )];
    if let Some(account) = spec("account") {
        lines.push(format!(
            "Try {} for one account's card.",
            example(account, account.example, caller.syntax)
        ));
    }
    if metric == MetricId::Health {
        if let Some(at_risk) = spec("at-risk") {
            lines.push(format!(
                "Or {} for the accounts in the lowest health band.",
                example(at_risk, &[], caller.syntax)
            ));
        }
    }
    Reply::note(
        format!("/kpi {}: per account only", metric.name()),
        lines,
        Tone::Info,
    )
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

/// An account by exact id, else by case-insensitive name.
fn find_account(engine: &Engine, typed: &str) -> Option<AccountIx> {
    let ds = engine.dataset();
    let typed = typed.trim();
    ds.account_ix(typed).or_else(|| {
        let lowered = typed.to_lowercase();
        ds.accounts()
            .iter()
            .position(|a| a.name.to_lowercase() == lowered)
            .map(|i| i as AccountIx)
    })
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

/// A health measure's name: `Seat utilization`, `DAU change`.
fn measure_label(r: &MetricRef) -> String {
    match r.variant {
        Variant::Value => label(r.metric),
        Variant::Change | Variant::ChangePct => format!("{} change", label(r.metric)),
    }
}

/// One open alert of an account: `Health is red (health-red:acc-1) · critical · since … · …`.
fn alert_line(
    desk: &Desk,
    rule: &str,
    subject: &str,
    state: &AlertState,
    silences: &[Silence],
    now: DateTime<Utc>,
) -> String {
    let found = desk.rules.iter().find(|r| r.id == rule);
    let mut parts = vec![format!(
        "{} ({rule}:{subject})",
        found.map_or(rule, |r| r.name.as_str())
    )];
    if let Some(r) = found {
        parts.push(r.severity.to_string());
    }
    if let Some(t) = state.fired_at {
        parts.push(format!("since {}", t.format("%Y-%m-%d")));
    }
    if let Some(ack) = &state.ack {
        parts.push(format!("acknowledged by {}", ack.by));
    }
    if let Some(s) = silences.iter().find(|s| s.mutes(rule, subject, now)) {
        parts.push(format!(
            "snoozed until {}",
            s.until.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    parts.join(" · ")
}

/// The last days of the `n` complete months before today's, oldest first.
fn month_ends(today: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(n);
    let mut p = Period::last_complete(PeriodKind::Month, today);
    for _ in 0..n {
        out.push(p.last_day());
        p = p.previous();
    }
    out.reverse();
    out
}

/// The `n` complete ISO weeks before today's, oldest first.
fn weeks(today: NaiveDate, n: usize) -> Vec<Period> {
    let mut out = Vec::with_capacity(n);
    let mut p = Period::last_complete(PeriodKind::Week, today);
    for _ in 0..n {
        out.push(p);
        p = p.previous();
    }
    out.reverse();
    out
}

/// `▅▆▇▇▆▅▃▂ 12.40 → 8.10 (-34.7%)`: a sparkline of the points, the first and last value and
/// the relative change; a missing point is `·`.
fn trend_text(points: &[Option<Decimal>], unit: Unit, cur: Currency) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known: Vec<Decimal> = points.iter().flatten().copied().collect();
    let (Some(min), Some(max)) = (known.iter().min(), known.iter().max()) else {
        return "no data".to_string();
    };
    let span = *max - *min;
    let spark: String = points
        .iter()
        .map(|p| match p {
            None => '·',
            Some(_) if span.is_zero() => BARS[3],
            Some(v) => {
                let level = ((*v - *min) * Decimal::from(7))
                    .checked_div(span)
                    .unwrap_or_default()
                    .round();
                let i = level.to_usize().unwrap_or(0).min(7);
                BARS[i]
            }
        })
        .collect();
    let (first, last) = (known[0], known[known.len() - 1]);
    let mut text = format!(
        "{spark} {} → {}",
        format::value(first, unit, cur),
        format::value(last, unit, cur)
    );
    if first > Decimal::ZERO {
        if let Some(p) = derive(Variant::ChangePct, Some(last), Some(first)) {
            text += &format!(" ({})", format::change_pct(p));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn sparklines_scale_between_min_and_max() {
        let usd = Currency::USD;
        let t = trend_text(
            &[Some(dec!(10)), None, Some(dec!(17)), Some(dec!(5))],
            Unit::Number,
            usd,
        );
        assert_eq!(t, "▄·█▁ 10.00 → 5.00 (-50.0%)");
        assert_eq!(
            trend_text(&[Some(dec!(3)), Some(dec!(3))], Unit::Money, usd),
            "▄▄ $3.00 → $3.00 (0.0%)"
        );
        assert_eq!(trend_text(&[None, None], Unit::Number, usd), "no data");
    }

    #[test]
    fn closest_prefers_containing_then_similar() {
        let names = ["Acme Corp", "Acme Labs", "Beacon Bio", "Initech"];
        let close = closest("acme", names.iter().map(|n| (*n, n.to_string())));
        assert_eq!(close, vec!["Acme Corp", "Acme Labs"]);
        let close = closest("Inietch", names.iter().map(|n| (*n, n.to_string())));
        assert_eq!(close, vec!["Initech"]);
    }

    #[test]
    fn month_ends_and_weeks_are_complete_and_oldest_first() {
        let today: NaiveDate = "2025-06-18".parse().unwrap();
        let ends = month_ends(today, 3);
        assert_eq!(
            ends.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            ["2025-03-31", "2025-04-30", "2025-05-31"]
        );
        let w = weeks(today, 2);
        assert_eq!(w[1].to_string(), "2025-W24");
        assert_eq!(w[0].to_string(), "2025-W23");
        assert_eq!(live_window(today).to_string(), "2025-05-19..2025-06-18");
    }
}
