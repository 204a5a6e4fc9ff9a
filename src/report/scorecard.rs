//! The terminal scorecard `cs-pulse demo` prints: headline KPIs of the last complete week and
//! month with their change, the MRR movement breakdown, the accounts in the lowest health band,
//! and the renewals due in the next 60 days. Computed first (pure data), then rendered.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use super::format;
use super::table::{self, right_align};
use crate::metrics::{
    Engine, Filter, HealthResult, MetricId, MetricRef, Movements, Subject, Variant,
};
use crate::model::{AccountIx, Period, PeriodKind};

/// The KPIs of the headline table, in order.
pub const HEADLINE: &[MetricId] = &[
    MetricId::Mrr,
    MetricId::Arr,
    MetricId::NetNewMrr,
    MetricId::Customers,
    MetricId::Nrr,
    MetricId::Grr,
    MetricId::LogoChurnRate,
    MetricId::Arpa,
    MetricId::Ltv,
    MetricId::RenewalRate,
    MetricId::TrialConversionRate,
    MetricId::Nps,
    MetricId::Csat,
    MetricId::Ces,
    MetricId::FirstContactResolution,
    MetricId::Dau,
    MetricId::SeatUtilization,
    MetricId::TimeToFirstValue,
    MetricId::RetentionCost,
];

/// How far ahead renewals are listed (overdue ones are always listed).
pub const RENEWAL_HORIZON_DAYS: u64 = 60;
/// Rows shown per list before "and N more".
pub const LIST_CAP: usize = 15;

pub struct KpiLine {
    pub metric: MetricId,
    pub week: Option<Decimal>,
    pub week_change: Option<Decimal>,
    pub month: Option<Decimal>,
    pub month_change: Option<Decimal>,
}

pub struct AtRisk {
    pub account: AccountIx,
    pub mrr: Decimal,
    pub health: HealthResult,
}

pub struct RenewalDue {
    pub account: AccountIx,
    pub date: NaiveDate,
    pub days: i64,
    pub mrr: Decimal,
    pub band: Option<String>,
}

pub struct Scorecard {
    pub as_of: NaiveDate,
    pub week: Period,
    pub month: Period,
    pub kpis: Vec<KpiLine>,
    pub week_movements: Movements,
    pub month_movements: Movements,
    /// Paying accounts in the lowest band of their health model over the month, worst first.
    pub at_risk: Vec<AtRisk>,
    pub renewals: Vec<RenewalDue>,
}

impl Scorecard {
    /// The scorecard as of `today`: the last complete ISO week and calendar month before it.
    pub fn compute(engine: &Engine, today: NaiveDate) -> Scorecard {
        let all = Filter::default();
        let portfolio = Subject::Portfolio(&all);
        let week = Period::last_complete(PeriodKind::Week, today);
        let month = Period::last_complete(PeriodKind::Month, today);
        let change = |m: MetricId| MetricRef {
            metric: m,
            variant: Variant::Change,
        };
        let kpis = HEADLINE
            .iter()
            .map(|&m| KpiLine {
                metric: m,
                week: engine.metric(m, portfolio, &week),
                week_change: engine.value(change(m), portfolio, &week),
                month: engine.metric(m, portfolio, &month),
                month_change: engine.value(change(m), portfolio, &month),
            })
            .collect();

        let lowest_band = |h: &HealthResult| {
            let models = engine.health_models()?;
            let model = models.models.iter().find(|m| m.name == h.model)?;
            model.bands.first().map(|b| b.name.clone())
        };
        let mut at_risk: Vec<AtRisk> = engine
            .accounts(&all)
            .filter_map(|a| {
                let mrr = engine.index().mrr_on(a, month.last_day());
                if mrr <= Decimal::ZERO {
                    return None;
                }
                let health = engine.health(a, &month)?;
                (health.band.is_some() && health.band == lowest_band(&health)).then_some(AtRisk {
                    account: a,
                    mrr,
                    health,
                })
            })
            .collect();
        at_risk.sort_by(|x, y| {
            x.health
                .score
                .cmp(&y.health.score)
                .then(y.mrr.cmp(&x.mrr))
                .then(x.account.cmp(&y.account))
        });

        let horizon = today + Days::new(RENEWAL_HORIZON_DAYS);
        let mut renewals: Vec<RenewalDue> = engine
            .accounts(&all)
            .filter_map(|a| {
                let date = engine.dataset().account(a).renewal_date?;
                (date <= horizon).then(|| RenewalDue {
                    account: a,
                    date,
                    days: (date - today).num_days(),
                    mrr: engine.index().mrr_on(a, today),
                    band: engine.health(a, &month).and_then(|h| h.band),
                })
            })
            .collect();
        renewals.sort_by(|x, y| {
            x.date
                .cmp(&y.date)
                .then(y.mrr.cmp(&x.mrr))
                .then(x.account.cmp(&y.account))
        });

        Scorecard {
            as_of: today,
            week,
            month,
            kpis,
            week_movements: engine.movements(portfolio, &week),
            month_movements: engine.movements(portfolio, &month),
            at_risk,
            renewals,
        }
    }

    /// The scorecard as text for a terminal.
    pub fn render(&self, engine: &Engine) -> String {
        let cur = engine.config().fx.reporting();
        let ds = engine.dataset();
        let mut out = format!(
            "cs-pulse scorecard as of {} · week {} ({} to {}) · month {} · {}\n\n",
            self.as_of,
            self.week,
            self.week.start(),
            self.week.last_day(),
            self.month,
            cur
        );

        let mut kpi = table::with_header(&[
            "KPI",
            &format!("week {}", self.week),
            "vs prev week",
            &format!("month {}", self.month),
            "vs prev month",
        ]);
        for line in &self.kpis {
            let r = MetricRef::value(line.metric);
            let unit = line.metric.def().unit;
            let ch =
                |c: Option<Decimal>| c.map_or("–".to_string(), |c| format::change(c, unit, cur));
            kpi.add_row(vec![
                line.metric.name().to_string(),
                format::reference(&r, line.week, cur),
                ch(line.week_change),
                format::reference(&r, line.month, cur),
                ch(line.month_change),
            ]);
        }
        right_align(&mut kpi, 1..5);
        out += &format!("Headline KPIs\n{kpi}\n\n");

        let mut mv = table::with_header(&[
            "MRR movement",
            &format!("week {}", self.week),
            &format!("month {}", self.month),
        ]);
        type Movement = fn(&Movements) -> Decimal;
        let rows: [(&str, Movement); 6] = [
            ("new", |m| m.new),
            ("expansion", |m| m.expansion),
            ("reactivation", |m| m.reactivation),
            ("contraction", |m| -m.contraction),
            ("churn", |m| -m.churn),
            ("net new MRR", Movements::net),
        ];
        for (name, get) in rows {
            mv.add_row(vec![
                name.to_string(),
                format::change(get(&self.week_movements), crate::metrics::Unit::Money, cur),
                format::change(get(&self.month_movements), crate::metrics::Unit::Money, cur),
            ]);
        }
        right_align(&mut mv, 1..3);
        out += &format!("MRR movements\n{mv}\n\n");

        out += &format!(
            "At risk: {} account(s) in the lowest health band ({})\n",
            self.at_risk.len(),
            self.month
        );
        if !self.at_risk.is_empty() {
            let mut t = table::with_header(&[
                "account",
                "owner",
                "segment",
                "MRR",
                "health",
                "weakest measures",
            ]);
            for r in self.at_risk.iter().take(LIST_CAP) {
                let acc = ds.account(r.account);
                t.add_row(vec![
                    format!("{} ({})", acc.name, acc.id),
                    acc.owner.clone().unwrap_or_default(),
                    acc.segment.clone().unwrap_or_default(),
                    format::money(r.mrr, cur),
                    r.health
                        .score
                        .map_or("–".into(), |s| format::group_thousands(s, 1)),
                    weakest(&r.health, cur),
                ]);
            }
            right_align(&mut t, 3..5);
            out += &format!("{t}\n");
            if self.at_risk.len() > LIST_CAP {
                out += &format!("… and {} more\n", self.at_risk.len() - LIST_CAP);
            }
        }
        out += "\n";

        out += &format!(
            "Renewals overdue or due in the next {RENEWAL_HORIZON_DAYS} days: {}\n",
            self.renewals.len()
        );
        if !self.renewals.is_empty() {
            let mut t = table::with_header(&["due", "in", "account", "owner", "MRR", "health"]);
            for r in self.renewals.iter().take(LIST_CAP) {
                let acc = ds.account(r.account);
                t.add_row(vec![
                    r.date.to_string(),
                    if r.days < 0 {
                        format!("{} d overdue", -r.days)
                    } else {
                        format!("{} d", r.days)
                    },
                    format!("{} ({})", acc.name, acc.id),
                    acc.owner.clone().unwrap_or_default(),
                    format::money(r.mrr, cur),
                    r.band.clone().unwrap_or_else(|| "–".into()),
                ]);
            }
            right_align(&mut t, 1..2);
            right_align(&mut t, 4..5);
            out += &format!("{t}\n");
            if self.renewals.len() > LIST_CAP {
                out += &format!("… and {} more\n", self.renewals.len() - LIST_CAP);
            }
        }
        out
    }
}

/// The two measures with the lowest scores: `nps -20 (0 pts)`.
fn weakest(h: &HealthResult, cur: crate::model::Currency) -> String {
    let mut scored: Vec<_> = h.measures.iter().filter(|m| m.score.is_some()).collect();
    scored.sort_by_key(|m| m.score);
    scored
        .iter()
        .take(2)
        .map(|m| {
            format!(
                "{} {} ({} pts)",
                m.metric,
                format::reference(&m.metric, m.value, cur),
                m.score
                    .map_or("–".into(), |s| format::group_thousands(s, 0))
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
