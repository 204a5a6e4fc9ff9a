//! Revenue metrics (METRICS.md "Revenue"): MRR and its movements, retention of the opening
//! cohort, customers, ARPA, LTV, renewals, trials and retention cost.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::index::dated_range;
use super::{Engine, Filter, MetricId, Subject};
use crate::model::{AccountIx, Period, PeriodKind, RenewalOutcome};

/// MRR movement totals over a period, each a positive amount.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Movements {
    pub new: Decimal,
    pub expansion: Decimal,
    pub reactivation: Decimal,
    pub contraction: Decimal,
    pub churn: Decimal,
}

impl Movements {
    /// new + expansion + reactivation − contraction − churn (= closing − opening).
    pub fn net(&self) -> Decimal {
        self.new + self.expansion + self.reactivation - self.contraction - self.churn
    }

    fn add(&mut self, o: &Movements) {
        self.new += o.new;
        self.expansion += o.expansion;
        self.reactivation += o.reactivation;
        self.contraction += o.contraction;
        self.churn += o.churn;
    }
}

/// Divides, or `None` when the divisor is zero (every ratio of METRICS.md is null then).
pub(super) fn ratio(num: Decimal, den: Decimal) -> Option<Decimal> {
    if den.is_zero() {
        None
    } else {
        num.checked_div(den)
    }
}

fn account_movements(e: &Engine, a: AccountIx, p: &Period) -> Movements {
    let steps = e.index().steps.of(a);
    let range = dated_range(steps, |s| s.date, p.start(), p.end());
    let mut m = Movements::default();
    for i in range {
        let prev = if i == 0 {
            Decimal::ZERO
        } else {
            steps[i - 1].mrr
        };
        let step = &steps[i];
        let next = step.mrr;
        if prev.is_zero() && next > Decimal::ZERO {
            if step.paid_before {
                m.reactivation += next;
            } else {
                m.new += next;
            }
        } else if prev > Decimal::ZERO && next.is_zero() {
            m.churn += prev;
        } else if next > prev {
            m.expansion += next - prev;
        } else if next < prev {
            m.contraction += prev - next;
        }
    }
    m
}

pub(super) fn movements(e: &Engine, s: Subject, p: &Period) -> Movements {
    let mut total = Movements::default();
    for a in e.subject_accounts(s) {
        total.add(&account_movements(e, a, p));
    }
    total
}

/// Opening and closing MRR of each account of the subject.
fn open_close<'e>(
    e: &'e Engine,
    s: Subject<'e>,
    p: &Period,
) -> impl Iterator<Item = (Decimal, Decimal)> + 'e {
    let (before, last) = (p.day_before(), p.last_day());
    e.subject_accounts(s)
        .map(move |a| (e.index().mrr_on(a, before), e.index().mrr_on(a, last)))
}

/// Sums over the cohort C (accounts paying on s-1).
#[derive(Default)]
struct Cohort {
    size: u64,
    churned: u64,
    opening: Decimal,
    closing: Decimal,
    kept: Decimal,
}

fn cohort(e: &Engine, s: Subject, p: &Period) -> Cohort {
    let mut c = Cohort::default();
    for (open, close) in open_close(e, s, p).filter(|(o, _)| *o > Decimal::ZERO) {
        c.size += 1;
        c.churned += u64::from(close.is_zero());
        c.opening += open;
        c.closing += close;
        c.kept += open.min(close);
    }
    c
}

fn logo_churn_rate(e: &Engine, s: Subject, p: &Period) -> Option<Decimal> {
    let c = cohort(e, s, p);
    ratio(c.churned.into(), c.size.into())
}

fn closing_mrr(e: &Engine, s: Subject, p: &Period) -> Decimal {
    open_close(e, s, p).map(|(_, c)| c).sum()
}

fn customers(e: &Engine, s: Subject, p: &Period) -> u64 {
    open_close(e, s, p)
        .filter(|(_, c)| *c > Decimal::ZERO)
        .count() as u64
}

fn arpa(e: &Engine, s: Subject, p: &Period) -> Option<Decimal> {
    ratio(closing_mrr(e, s, p), customers(e, s, p).into())
}

/// The last calendar month that ends on or before `day`.
fn last_month_ending_by(day: NaiveDate) -> Period {
    let month = Period::containing(PeriodKind::Month, day);
    if month.last_day() == day {
        month
    } else {
        month.previous()
    }
}

fn ltv(e: &Engine, s: Subject, p: &Period) -> Option<Decimal> {
    let arpa = arpa(e, s, p)?;
    let mut month = last_month_ending_by(p.last_day());
    let (mut sum, mut count) = (Decimal::ZERO, 0u32);
    for _ in 0..e.config().ltv_months {
        if let Some(rate) = logo_churn_rate(e, s, &month) {
            sum += rate;
            count += 1;
        }
        month = month.previous();
    }
    let mean = ratio(sum, count.into())?;
    ratio(arpa * e.config().gross_margin, mean)
}

fn renewal_rate(e: &Engine, s: Subject, p: &Period) -> Option<Decimal> {
    let (mut renewed, mut decided) = (0u64, 0u64);
    for a in e.subject_accounts(s) {
        let due = e.index().renewals.of(a);
        for r in &due[dated_range(due, |r| r.date, p.start(), p.end())] {
            match r.outcome {
                RenewalOutcome::Renewed => {
                    renewed += 1;
                    decided += 1;
                }
                RenewalOutcome::Churned => decided += 1,
                RenewalOutcome::Pending => {}
            }
        }
    }
    ratio(renewed.into(), decided.into())
}

fn trial_conversion_rate(e: &Engine, f: &Filter, p: &Period) -> Option<Decimal> {
    let (mut ended, mut converted) = (0u64, 0u64);
    for a in e.accounts(f) {
        let acc = e.dataset().account(a);
        if acc.trial_ended_at.is_some_and(|d| p.contains(d)) {
            ended += 1;
            converted += u64::from(acc.converted_at.is_some());
        }
    }
    ratio(converted.into(), ended.into())
}

/// Costs are company-wide, not attributable to a segment, owner or plan: the metric exists for
/// the whole portfolio only (null under a filter), rather than dividing all spend by a part.
fn retention_cost(e: &Engine, f: &Filter, p: &Period) -> Option<Decimal> {
    if !f.is_empty() {
        return None;
    }
    let mut spend = Decimal::ZERO;
    for month in p.months() {
        let key = crate::model::YearMonth {
            year: month.start().year(),
            month: month.start().month(),
        };
        if let Some(amount) = e.index().costs.get(&key) {
            spend += *amount * Decimal::from(p.overlap_days(&month)) / Decimal::from(month.days());
        }
    }
    let retained = open_close(e, Subject::Portfolio(f), p)
        .filter(|(o, c)| *o > Decimal::ZERO && *c > Decimal::ZERO)
        .count() as u64;
    ratio(spend, retained.into())
}

pub(super) fn metric(e: &Engine, id: MetricId, s: Subject, p: &Period) -> Option<Decimal> {
    use MetricId::*;
    let value = match id {
        Mrr => closing_mrr(e, s, p),
        OpeningMrr => open_close(e, s, p).map(|(o, _)| o).sum(),
        Arr => closing_mrr(e, s, p) * Decimal::from(12),
        NewMrr => movements(e, s, p).new,
        ExpansionMrr | ExpansionRevenue => movements(e, s, p).expansion,
        ReactivationMrr => movements(e, s, p).reactivation,
        ContractionMrr => movements(e, s, p).contraction,
        ChurnedMrr => movements(e, s, p).churn,
        NetNewMrr => open_close(e, s, p).map(|(o, c)| c - o).sum(),
        QuickRatio => {
            let m = movements(e, s, p);
            return ratio(
                m.new + m.expansion + m.reactivation,
                m.contraction + m.churn,
            );
        }
        Nrr | NetRevenueChurnRate => {
            let c = cohort(e, s, p);
            let nrr = ratio(c.closing, c.opening)?;
            return Some(if id == Nrr { nrr } else { Decimal::ONE - nrr });
        }
        Grr | RevenueChurnRate => {
            let c = cohort(e, s, p);
            let grr = ratio(c.kept, c.opening)?;
            return Some(if id == Grr { grr } else { Decimal::ONE - grr });
        }
        Customers => customers(e, s, p).into(),
        LogoChurnRate => return logo_churn_rate(e, s, p),
        RetentionRate => return logo_churn_rate(e, s, p).map(|r| Decimal::ONE - r),
        Arpa => return arpa(e, s, p),
        Ltv => return ltv(e, s, p),
        RenewalRate => return renewal_rate(e, s, p),
        TrialConversionRate | RetentionCost => {
            let Subject::Portfolio(f) = s else {
                return None;
            };
            return if id == TrialConversionRate {
                trial_conversion_rate(e, f, p)
            } else {
                retention_cost(e, f, p)
            };
        }
        _ => return None,
    };
    Some(value)
}
