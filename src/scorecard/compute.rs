//! What a scorecard says, as plain data: each KPI against its target and the previous period,
//! the trend of the charted metrics, the MRR movements, the top at-risk accounts and the
//! renewals coming up. Pure: the engine, a definition, the period and today go in, nothing is
//! read from the clock or the disk, so tests pin every number (exact decimals throughout).

use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::config::{ScorecardDef, Target};
use crate::metrics::{derive, Engine, Filter, MetricId, Movements, Subject, Variant};
use crate::model::{AccountIx, Currency, Period};

/// How many periods the trend chart covers, the scorecard's own included.
pub const TREND_PERIODS: usize = 12;
/// Health for the at-risk list and the renewals is computed over this many days ending with the
/// period's last day, like the rules' default window, so that a weekly scorecard still sees a
/// month of usage and surveys.
pub const HEALTH_WINDOW_DAYS: u64 = 30;

/// Where a KPI stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    OnTrack,
    OffTrack,
    /// The KPI has a value but no target.
    NoTarget,
    /// The metric is null for the period (METRICS.md "Nulls").
    NoData,
}

impl Status {
    /// The marker shown beside the KPI's name.
    pub fn marker(self) -> &'static str {
        match self {
            Status::OnTrack => "✅",
            Status::OffTrack => "❌",
            Status::NoTarget => "",
            Status::NoData => "–",
        }
    }

    fn of(value: Option<Decimal>, target: Option<Target>) -> Status {
        match (value, target) {
            (None, _) => Status::NoData,
            (Some(_), None) => Status::NoTarget,
            (Some(v), Some(t)) if t.met_by(v) => Status::OnTrack,
            (Some(_), Some(_)) => Status::OffTrack,
        }
    }
}

/// One KPI of one period.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiValue {
    pub metric: MetricId,
    pub value: Option<Decimal>,
    /// The value over the previous period.
    pub previous: Option<Decimal>,
    /// value − previous.
    pub change: Option<Decimal>,
    /// (value − previous) / |previous|; null when previous is 0 or null.
    pub change_pct: Option<Decimal>,
    pub target: Option<Target>,
    pub status: Status,
}

/// The values of one charted metric over the last [`TREND_PERIODS`] periods, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Trend {
    pub metric: MetricId,
    pub target: Option<Target>,
    pub points: Vec<(Period, Option<Decimal>)>,
}

/// An account in the lowest band of its health model.
#[derive(Clone, Debug, PartialEq)]
pub struct AtRiskAccount {
    pub id: String,
    pub name: String,
    pub owner: Option<String>,
    /// MRR on the period's last day.
    pub mrr: Decimal,
    pub score: Option<Decimal>,
    pub band: Option<String>,
}

/// An account whose `renewal_date` falls within the horizon (or is already past).
#[derive(Clone, Debug, PartialEq)]
pub struct RenewalDue {
    pub id: String,
    pub name: String,
    pub owner: Option<String>,
    pub date: NaiveDate,
    /// Days from today; negative when overdue.
    pub days: i64,
    /// MRR on the period's last day.
    pub mrr: Decimal,
    pub band: Option<String>,
}

/// Everything one scorecard shows, ready to render.
#[derive(Clone, Debug, PartialEq)]
pub struct ScorecardData {
    /// The definition's id.
    pub id: String,
    pub name: String,
    pub route: Vec<String>,
    pub period: Period,
    pub previous: Period,
    /// The day the scorecard is computed on (renewal horizons count from it).
    pub today: NaiveDate,
    pub currency: Currency,
    /// The owner whose book of business this is (per-owner scorecards).
    pub owner: Option<String>,
    pub segment: Option<String>,
    /// Accounts in scope (the owner's book, the segment, or all).
    pub accounts: usize,
    pub kpis: Vec<KpiValue>,
    pub trend: Vec<Trend>,
    /// MRR movements over the period.
    pub movements: Movements,
    /// The top at-risk accounts, most MRR first.
    pub at_risk: Vec<AtRiskAccount>,
    /// How many accounts are at risk in all, and their MRR (the list shows the top ones).
    pub at_risk_total: usize,
    pub at_risk_mrr: Decimal,
    /// The `at_risk` setting (0 = the section is left out).
    pub at_risk_limit: usize,
    /// Renewals due within `renewal_days` of today, soonest first.
    pub renewals: Vec<RenewalDue>,
    pub renewal_days: u32,
    /// When the data was last synced, for the footer; set by the caller that knows the store.
    pub synced_at: Option<DateTime<Utc>>,
}

impl ScorecardData {
    /// How many KPIs miss their target.
    pub fn off_track(&self) -> usize {
        self.kpis
            .iter()
            .filter(|k| k.status == Status::OffTrack)
            .count()
    }

    /// `leadership-2025-W24` or `csm-book-ana-lopez-2025-W24`: names the chart file and keys the
    /// posting of this scorecard for this period.
    pub fn key(&self) -> String {
        match &self.owner {
            Some(o) => format!("{}-{}-{}", self.id, slug(o), self.period),
            None => format!("{}-{}", self.id, self.period),
        }
    }
}

/// `Ana López` -> `ana-l-pez`: lowercase ASCII letters and digits, other runs as one `-`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "owner".to_string()
    } else {
        out
    }
}

/// The owners of the accounts a filter selects, sorted, each once (accounts without an owner
/// are in no owner's book).
pub fn owners(engine: &Engine, filter: &Filter) -> Vec<String> {
    let mut owners: Vec<String> = engine
        .accounts(filter)
        .filter_map(|a| engine.dataset().account(a).owner.clone())
        .filter(|o| !o.trim().is_empty())
        .collect();
    owners.sort();
    owners.dedup();
    owners
}

/// Every scorecard a definition stands for over `period`: one, or one per owner when
/// `per_owner` is set (none when no account in scope has an owner).
pub fn compute(
    engine: &Engine,
    def: &ScorecardDef,
    period: Period,
    today: NaiveDate,
) -> Vec<ScorecardData> {
    let base = Filter {
        segment: def.segment.clone(),
        ..Filter::default()
    };
    if !def.per_owner {
        return vec![compute_for(engine, def, period, today, None)];
    }
    owners(engine, &base)
        .iter()
        .map(|o| compute_for(engine, def, period, today, Some(o)))
        .collect()
}

/// One scorecard: the portfolio (or the definition's segment), or one owner's book of it.
pub fn compute_for(
    engine: &Engine,
    def: &ScorecardDef,
    period: Period,
    today: NaiveDate,
    owner: Option<&str>,
) -> ScorecardData {
    let filter = Filter {
        segment: def.segment.clone(),
        owner: owner.map(str::to_string),
        plan: None,
    };
    let subject = Subject::Portfolio(&filter);
    let previous = period.previous();
    let kpis = def
        .kpis
        .iter()
        .map(|k| {
            let value = engine.metric(k.metric, subject, &period);
            let prev = engine.metric(k.metric, subject, &previous);
            KpiValue {
                metric: k.metric,
                value,
                previous: prev,
                change: derive(Variant::Change, value, prev),
                change_pct: derive(Variant::ChangePct, value, prev),
                target: k.target,
                status: Status::of(value, k.target),
            }
        })
        .collect();

    let mut periods = vec![period];
    while periods.len() < TREND_PERIODS {
        let Some(last) = periods.last() else { break };
        let p = last.previous();
        if p == *last {
            break;
        }
        periods.push(p);
    }
    periods.reverse();
    let trend = def
        .chart
        .iter()
        .map(|&m| Trend {
            metric: m,
            target: def.target_of(m),
            points: periods
                .iter()
                .map(|p| (*p, engine.metric(m, subject, p)))
                .collect(),
        })
        .collect();

    let window = health_window(&period);
    let last_day = period.last_day();
    let ds = engine.dataset();
    let lowest_band = |model: &str| {
        let models = engine.health_models()?;
        let m = models.models.iter().find(|m| m.name == model)?;
        m.bands.first().map(|b| b.name.clone())
    };
    let accounts: Vec<AccountIx> = engine.accounts(&filter).collect();
    let mut at_risk: Vec<AtRiskAccount> = Vec::new();
    if def.at_risk > 0 {
        for &a in &accounts {
            let mrr = engine.index().mrr_on(a, last_day);
            if mrr <= Decimal::ZERO {
                continue;
            }
            let Some(h) = engine.health(a, &window) else {
                continue;
            };
            if h.band.is_none() || h.band != lowest_band(&h.model) {
                continue;
            }
            let acc = ds.account(a);
            at_risk.push(AtRiskAccount {
                id: acc.id.clone(),
                name: acc.name.clone(),
                owner: acc.owner.clone(),
                mrr,
                score: h.score,
                band: h.band,
            });
        }
    }
    at_risk.sort_by(|x, y| {
        y.mrr
            .cmp(&x.mrr)
            .then(x.score.cmp(&y.score))
            .then(x.id.cmp(&y.id))
    });
    let at_risk_total = at_risk.len();
    let at_risk_mrr = at_risk.iter().map(|r| r.mrr).sum();
    at_risk.truncate(def.at_risk);

    let mut renewals: Vec<RenewalDue> = Vec::new();
    if def.renewal_days > 0 {
        let horizon = today
            .checked_add_days(Days::new(u64::from(def.renewal_days)))
            .unwrap_or(today);
        for &a in &accounts {
            let acc = ds.account(a);
            let Some(date) = acc.renewal_date else {
                continue;
            };
            if date > horizon {
                continue;
            }
            let mrr = engine.index().mrr_on(a, last_day);
            renewals.push(RenewalDue {
                id: acc.id.clone(),
                name: acc.name.clone(),
                owner: acc.owner.clone(),
                date,
                days: (date - today).num_days(),
                mrr,
                band: engine.health(a, &window).and_then(|h| h.band),
            });
        }
    }
    renewals.sort_by(|x, y| {
        x.date
            .cmp(&y.date)
            .then(y.mrr.cmp(&x.mrr))
            .then(x.id.cmp(&y.id))
    });

    ScorecardData {
        id: def.id.clone(),
        name: def.name.clone(),
        route: def.route.clone(),
        period,
        previous,
        today,
        currency: engine.config().fx.reporting(),
        owner: owner.map(str::to_string),
        segment: def.segment.clone(),
        accounts: accounts.len(),
        kpis,
        trend,
        movements: engine.movements(subject, &period),
        at_risk,
        at_risk_total,
        at_risk_mrr,
        at_risk_limit: def.at_risk,
        renewals,
        renewal_days: def.renewal_days,
        synced_at: None,
    }
}

/// The [`HEALTH_WINDOW_DAYS`] days ending with the period's last day.
pub fn health_window(period: &Period) -> Period {
    let end = period.end();
    end.checked_sub_days(Days::new(HEALTH_WINDOW_DAYS))
        .and_then(|start| Period::range(start, end).ok())
        .unwrap_or(*period)
}
