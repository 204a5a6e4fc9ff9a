//! A computed scorecard as people read it: the channel-neutral [`Message`] posted to chat (KPI
//! fields with on/off-track markers, movements, at-risk accounts, renewals, the chart as its
//! image) and the text printed in a terminal. Pure; numbers go through `report::format` so the
//! scorecard reads like every other cs-pulse output.

use rust_decimal::Decimal;

use super::chart;
use super::compute::{KpiValue, ScorecardData, Status};
use super::config::Target;
use crate::metrics::{MetricId, Movements, Unit};
use crate::model::{Currency, PeriodKind};
use crate::notify::{Field, Image, Message, Section, Tone};
use crate::report::format;
use crate::report::table::{self, right_align};

/// Renewals listed in a message before "… and N more".
pub const RENEWALS_SHOWN: usize = 10;

/// `Weekly` or `Monthly`.
fn cadence(data: &ScorecardData) -> &'static str {
    match data.period.kind() {
        PeriodKind::Month => "Monthly",
        _ => "Weekly",
    }
}

/// The headline: `📊 Weekly scorecard — Leadership · 2025-W24`.
pub fn title(data: &ScorecardData) -> String {
    let mut t = format!("📊 {} scorecard — {}", cadence(data), data.name);
    if let Some(o) = &data.owner {
        t += &format!(" · {o}");
    }
    t + &format!(" · {}", data.period)
}

/// The name of a metric for people: `nrr` -> `NRR`, `logo_churn_rate` -> `Logo churn rate`.
pub fn label(metric: MetricId) -> String {
    const ACRONYMS: [&str; 10] = [
        "mrr", "arr", "nrr", "grr", "nps", "csat", "ces", "arpa", "ltv", "dau",
    ];
    let words: Vec<String> = metric
        .name()
        .split('_')
        .map(|w| {
            if ACRONYMS.contains(&w) {
                w.to_uppercase()
            } else {
                w.to_string()
            }
        })
        .collect();
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

/// `≥ 105.0%`: a target in its metric's unit.
pub fn target_text(t: &Target, unit: Unit, currency: Currency) -> String {
    format!(
        "{} {}",
        t.cmp.symbol(),
        format::value(t.value, unit, currency)
    )
}

/// `▲ +1.2 pp vs 2025-W23`, `▼ -$300.00 (-2.1%) vs 2025-W23`, `= unchanged vs 2025-W23`.
fn change_text(k: &KpiValue, unit: Unit, currency: Currency, previous: &str) -> String {
    match change(k.metric, unit, k.change, k.change_pct, k.previous, currency) {
        Some(text) => format!("{text} vs {previous}"),
        None => format!("no value for {previous}"),
    }
}

/// `▲ +1.2 pp`, `▼ -$300.00 (-2.1%)`, `= unchanged`: a metric's change from `previous`, as
/// scorecards and `/kpi` write it; `None` without a change.
pub fn change(
    metric: MetricId,
    unit: Unit,
    change: Option<Decimal>,
    change_pct: Option<Decimal>,
    previous: Option<Decimal>,
    currency: Currency,
) -> Option<String> {
    let ch = change?;
    if ch.is_zero() {
        return Some("= unchanged".to_string());
    }
    let arrow = if ch > Decimal::ZERO { "▲" } else { "▼" };
    // A relative change says something only for levels measured from a positive base (MRR,
    // customers); on scores, ratios and flows (net new MRR) it is noise.
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
    let pct = match (change_pct, previous) {
        (Some(p), Some(prev)) if level && prev > Decimal::ZERO => {
            format!(" ({})", format::change_pct(p))
        }
        _ => String::new(),
    };
    Some(format!(
        "{arrow} {}{pct}",
        format::change(ch, unit, currency)
    ))
}

/// A KPI's value line: `104.2% · target ≥ 105.0% · ▲ +1.2 pp vs 2025-W23`.
pub fn kpi_value(k: &KpiValue, data: &ScorecardData) -> String {
    let unit = k.metric.def().unit;
    let cur = data.currency;
    let mut parts = vec![match k.value {
        Some(v) => format::value(v, unit, cur),
        None => "no data".to_string(),
    }];
    if let Some(t) = &k.target {
        parts.push(format!("target {}", target_text(t, unit, cur)));
    }
    if k.value.is_some() {
        parts.push(change_text(k, unit, cur, &data.previous.to_string()));
    }
    parts.join(" · ")
}

/// The color of the message: good when every target is met, a warning for one miss, critical
/// when more than half of the targeted KPIs miss.
pub fn tone(data: &ScorecardData) -> Tone {
    let targeted = data
        .kpis
        .iter()
        .filter(|k| matches!(k.status, Status::OnTrack | Status::OffTrack))
        .count();
    let off = data.off_track();
    if targeted == 0 {
        Tone::Neutral
    } else if off == 0 {
        Tone::Good
    } else if off * 2 > targeted {
        Tone::Critical
    } else {
        Tone::Warning
    }
}

type Movement = fn(&Movements) -> Decimal;

const MOVEMENTS: [(&str, Movement); 6] = [
    ("New", |m| m.new),
    ("Expansion", |m| m.expansion),
    ("Reactivation", |m| m.reactivation),
    ("Contraction", |m| -m.contraction),
    ("Churned", |m| -m.churn),
    ("Net new", Movements::net),
];

fn scope_line(data: &ScorecardData) -> String {
    let targeted = data
        .kpis
        .iter()
        .filter(|k| matches!(k.status, Status::OnTrack | Status::OffTrack))
        .count();
    let on = data
        .kpis
        .iter()
        .filter(|k| k.status == Status::OnTrack)
        .count();
    let mut whose = match (&data.owner, &data.segment) {
        (Some(o), Some(s)) => format!("{o}'s {s} book"),
        (Some(o), None) => format!("{o}'s book"),
        (None, Some(s)) => format!("segment {s}"),
        (None, None) => "all accounts".to_string(),
    };
    whose += &format!(
        " ({} account{})",
        data.accounts,
        if data.accounts == 1 { "" } else { "s" }
    );
    format!(
        "{} to {} · {whose} · {on} of {targeted} targets met",
        data.period.start(),
        data.period.last_day()
    )
}

fn health_text(score: Option<Decimal>, band: Option<&str>) -> String {
    match (score, band) {
        (Some(s), Some(b)) => format!("health {} {b}", format::group_thousands(s, 1)),
        (Some(s), None) => format!("health {}", format::group_thousands(s, 1)),
        (None, Some(b)) => format!("health {b}"),
        (None, None) => "health –".to_string(),
    }
}

fn owner_text(owner: &Option<String>) -> String {
    owner
        .as_deref()
        .map_or("no owner".to_string(), |o| format!("owner {o}"))
}

fn due_text(days: i64) -> String {
    match days {
        d if d < 0 => format!("{} d overdue", -d),
        0 => "today".to_string(),
        d => format!("in {d} d"),
    }
}

fn footer(data: &ScorecardData) -> String {
    let fresh = match data.synced_at {
        Some(t) => format!("data synced {}", t.format("%Y-%m-%d %H:%M UTC")),
        None => format!("data as of {}", data.today),
    };
    format!(
        "{fresh} · previous period {} · cs-pulse scorecard {}",
        data.previous, data.id
    )
}

/// The scorecard as a chat message; the chart is its image (left out if it cannot be drawn).
pub fn to_message(data: &ScorecardData) -> Message {
    let cur = data.currency;
    let mut sections = vec![Section {
        heading: None,
        lines: vec![scope_line(data)],
        fields: vec![],
    }];
    sections.push(Section {
        heading: Some("KPIs".to_string()),
        lines: vec![],
        fields: data
            .kpis
            .iter()
            .map(|k| Field {
                label: match k.status.marker() {
                    "" => label(k.metric),
                    m => format!("{} {m}", label(k.metric)),
                },
                value: kpi_value(k, data),
            })
            .collect(),
    });
    sections.push(Section {
        heading: Some(format!("MRR movements · {}", data.period)),
        lines: vec![],
        fields: MOVEMENTS
            .iter()
            .map(|(name, get)| Field {
                label: name.to_string(),
                value: format::change(get(&data.movements), Unit::Money, cur),
            })
            .collect(),
    });
    if data.at_risk_limit > 0 {
        let heading = if data.at_risk_total == 0 {
            "At risk".to_string()
        } else {
            let shown = if data.at_risk.len() < data.at_risk_total {
                format!("top {} of {}", data.at_risk.len(), data.at_risk_total)
            } else {
                format::accounts(data.at_risk_total)
            };
            format!(
                "At risk · {shown} in the lowest health band ({} MRR)",
                format::money(data.at_risk_mrr, cur)
            )
        };
        let lines = if data.at_risk.is_empty() {
            vec!["No paying account is in the lowest health band.".to_string()]
        } else {
            data.at_risk
                .iter()
                .map(|r| {
                    format!(
                        "{} ({}) · {} MRR · {} · {}",
                        r.name,
                        r.id,
                        format::money(r.mrr, cur),
                        health_text(r.score, r.band.as_deref()),
                        owner_text(&r.owner)
                    )
                })
                .collect()
        };
        sections.push(Section {
            heading: Some(heading),
            lines,
            fields: vec![],
        });
    }
    if data.renewal_days > 0 {
        let mut lines: Vec<String> = data
            .renewals
            .iter()
            .take(RENEWALS_SHOWN)
            .map(|r| {
                format!(
                    "{} ({}) · {} ({}) · {} MRR · {} · {}",
                    r.date,
                    due_text(r.days),
                    r.name,
                    r.id,
                    format::money(r.mrr, cur),
                    health_text(None, r.band.as_deref()),
                    owner_text(&r.owner)
                )
            })
            .collect();
        if data.renewals.len() > RENEWALS_SHOWN {
            lines.push(format!(
                "… and {} more",
                data.renewals.len() - RENEWALS_SHOWN
            ));
        }
        if lines.is_empty() {
            lines.push("None.".to_string());
        }
        sections.push(Section {
            heading: Some(format!(
                "Renewals due in the next {} days ({})",
                data.renewal_days,
                data.renewals.len()
            )),
            lines,
            fields: vec![],
        });
    }
    let image = chart::render(data).ok().map(|c| Image {
        filename: format!("{}.png", data.key()),
        alt: c.alt,
        png: c.png,
    });
    Message {
        title: title(data),
        tone: tone(data),
        sections,
        footer: footer(data),
        mentions: data.owner.iter().cloned().collect(),
        image,
        actions: vec![],
    }
}

/// The scorecard as text for a terminal (`cs-pulse scorecard --dry-run`).
pub fn to_text(data: &ScorecardData) -> String {
    let cur = data.currency;
    let mut out = format!("{}\n{}\n\n", title(data), scope_line(data));

    let mut kpis = table::with_header(&[
        "KPI",
        "",
        &data.period.to_string(),
        "target",
        &data.previous.to_string(),
        "change",
    ]);
    for k in &data.kpis {
        let unit = k.metric.def().unit;
        let show =
            |v: Option<Decimal>| v.map_or("–".to_string(), |v| format::value(v, unit, cur));
        let change = match (k.change, k.change_pct, unit) {
            (None, _, _) => "–".to_string(),
            (Some(c), Some(p), u) if u != Unit::Ratio && !c.is_zero() => format!(
                "{} ({})",
                format::change(c, unit, cur),
                format::change_pct(p)
            ),
            (Some(c), _, _) => format::change(c, unit, cur),
        };
        kpis.add_row(vec![
            label(k.metric),
            k.status.marker().to_string(),
            show(k.value),
            k.target
                .as_ref()
                .map_or(String::new(), |t| target_text(t, unit, cur)),
            show(k.previous),
            change,
        ]);
    }
    right_align(&mut kpis, 2..6);
    out += &format!("{kpis}\n\n");

    let mut mv = table::with_header(&["MRR movement", &data.period.to_string()]);
    for (name, get) in MOVEMENTS {
        mv.add_row(vec![
            name.to_string(),
            format::change(get(&data.movements), Unit::Money, cur),
        ]);
    }
    right_align(&mut mv, 1..2);
    out += &format!("{mv}\n\n");

    if data.at_risk_limit > 0 {
        out += &format!(
            "At risk: {} account{} in the lowest health band, {} MRR{}\n",
            data.at_risk_total,
            if data.at_risk_total == 1 { "" } else { "s" },
            format::money(data.at_risk_mrr, cur),
            if data.at_risk.len() < data.at_risk_total {
                format!(" (top {} by MRR)", data.at_risk.len())
            } else {
                String::new()
            }
        );
        if !data.at_risk.is_empty() {
            let mut t = table::with_header(&["account", "owner", "MRR", "health", "band"]);
            for r in &data.at_risk {
                t.add_row(vec![
                    format!("{} ({})", r.name, r.id),
                    r.owner.clone().unwrap_or_default(),
                    format::money(r.mrr, cur),
                    r.score
                        .map_or("–".to_string(), |s| format::group_thousands(s, 1)),
                    r.band.clone().unwrap_or_else(|| "–".to_string()),
                ]);
            }
            right_align(&mut t, 2..4);
            out += &format!("{t}\n");
        }
        out += "\n";
    }

    if data.renewal_days > 0 {
        out += &format!(
            "Renewals due in the next {} days: {}\n",
            data.renewal_days,
            data.renewals.len()
        );
        if !data.renewals.is_empty() {
            let mut t = table::with_header(&["due", "in", "account", "owner", "MRR", "health"]);
            for r in data.renewals.iter().take(RENEWALS_SHOWN) {
                t.add_row(vec![
                    r.date.to_string(),
                    due_text(r.days),
                    format!("{} ({})", r.name, r.id),
                    r.owner.clone().unwrap_or_default(),
                    format::money(r.mrr, cur),
                    r.band.clone().unwrap_or_else(|| "–".to_string()),
                ]);
            }
            right_align(&mut t, 1..2);
            right_align(&mut t, 4..5);
            out += &format!("{t}\n");
            if data.renewals.len() > RENEWALS_SHOWN {
                out += &format!("… and {} more\n", data.renewals.len() - RENEWALS_SHOWN);
            }
        }
        out += "\n";
    }

    for t in &data.trend {
        let unit = t.metric.def().unit;
        let values: Vec<String> = t
            .points
            .iter()
            .map(|(_, v)| v.map_or("–".to_string(), |v| format::value(v, unit, cur)))
            .collect();
        out += &format!(
            "Trend of {} ({} to {}): {}\n",
            label(t.metric),
            t.points.first().map_or(String::new(), |p| p.0.to_string()),
            t.points.last().map_or(String::new(), |p| p.0.to_string()),
            values.join(", ")
        );
    }
    if let Some(o) = &data.owner {
        out += &format!("Mentions: {o}\n");
    }
    out += &format!("{}\n", footer(data));
    out
}
