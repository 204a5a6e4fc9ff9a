//! Usage and adoption metrics (METRICS.md "Usage and adoption"): daily active users, seat
//! utilisation, minutes per active user, feature adoption, time to first value and days to
//! renewal. A day with no usage row counts as 0; every account counts, paying or not.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::revenue::ratio;
use super::{Engine, Filter, MetricId, Subject};
use crate::model::{AccountIx, Period};

/// Sums of one account's usage over a period.
#[derive(Default)]
struct Sums {
    active_users: u64,
    minutes: Decimal,
    /// Sum over account-days with a known `features_used` of that day's features used.
    features: u64,
    /// Account-days with a known `features_used`.
    feature_days: u64,
}

fn sums(e: &Engine, a: AccountIx, p: &Period) -> Sums {
    let mut s = Sums::default();
    let mut day: Option<NaiveDate> = None;
    let mut day_features: Option<u64> = None;
    let close_day = |s: &mut Sums, f: Option<u64>| {
        if let Some(f) = f {
            s.features += f;
            s.feature_days += 1;
        }
    };
    for u in e.index().usage(e.dataset(), a, p.start(), p.end()) {
        if day != Some(u.date) {
            close_day(&mut s, day_features.take());
            day = Some(u.date);
        }
        s.active_users += u64::from(u.active_users);
        s.minutes += u.minutes;
        if let Some(f) = u.features_used {
            *day_features.get_or_insert(0) += u64::from(f);
        }
    }
    close_day(&mut s, day_features);
    s
}

fn seats(e: &Engine, a: AccountIx) -> Option<u32> {
    e.dataset().account(a).licensed_seats.filter(|s| *s > 0)
}

fn dau(e: &Engine, a: AccountIx, p: &Period) -> Decimal {
    Decimal::from(sums(e, a, p).active_users) / Decimal::from(p.days())
}

fn account_metric(e: &Engine, id: MetricId, a: AccountIx, p: &Period) -> Option<Decimal> {
    match id {
        MetricId::Dau => Some(dau(e, a, p)),
        MetricId::SeatUtilization => ratio(dau(e, a, p), seats(e, a)?.into()),
        MetricId::DaysToRenewal => {
            let renewal = e.dataset().account(a).renewal_date?;
            Some((renewal - p.last_day()).num_days().into())
        }
        MetricId::TrialDaysLeft => {
            let acc = e.dataset().account(a);
            if acc.converted_at.is_some() {
                return None;
            }
            Some((acc.trial_ended_at? - p.last_day()).num_days().into())
        }
        MetricId::FirstValueReached => {
            let reached = e
                .dataset()
                .account(a)
                .first_value_at
                .is_some_and(|d| d <= p.last_day());
            Some(u8::from(reached).into())
        }
        _ => portfolio_like(e, id, std::iter::once(a), p),
    }
}

/// Metrics summed the same way for one account or many.
fn portfolio_like(
    e: &Engine,
    id: MetricId,
    accounts: impl Iterator<Item = AccountIx>,
    p: &Period,
) -> Option<Decimal> {
    let mut total = Sums::default();
    for a in accounts {
        let s = sums(e, a, p);
        total.active_users += s.active_users;
        total.minutes += s.minutes;
        total.features += s.features;
        total.feature_days += s.feature_days;
    }
    match id {
        MetricId::Dau => Some(Decimal::from(total.active_users) / Decimal::from(p.days())),
        MetricId::MinutesPerActiveUser => ratio(total.minutes, total.active_users.into()),
        MetricId::AdoptionRate => {
            let available = e.config().features_available?;
            let mean = ratio(total.features.into(), total.feature_days.into())?;
            ratio(mean, available.into())
        }
        _ => None,
    }
}

fn seat_utilization(e: &Engine, f: &Filter, p: &Period) -> Option<Decimal> {
    let (mut dau_sum, mut seat_sum) = (Decimal::ZERO, 0u64);
    for a in e.accounts(f) {
        if let Some(seats) = seats(e, a) {
            dau_sum += dau(e, a, p);
            seat_sum += u64::from(seats);
        }
    }
    ratio(dau_sum, seat_sum.into())
}

fn time_to_first_value(e: &Engine, f: &Filter, p: &Period) -> Option<Decimal> {
    let mut days: Vec<i64> = e
        .accounts(f)
        .filter_map(|a| {
            let acc = e.dataset().account(a);
            let first = acc.first_value_at.filter(|d| p.contains(*d))?;
            Some((first - acc.created_at?).num_days())
        })
        .collect();
    days.sort_unstable();
    let n = days.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(days[n / 2].into()),
        _ => Some(Decimal::from(days[n / 2 - 1] + days[n / 2]) / Decimal::TWO),
    }
}

pub(super) fn metric(e: &Engine, id: MetricId, s: Subject, p: &Period) -> Option<Decimal> {
    match s {
        Subject::Account(a) => account_metric(e, id, a, p),
        Subject::Portfolio(f) => match id {
            MetricId::SeatUtilization => seat_utilization(e, f, p),
            MetricId::TimeToFirstValue => time_to_first_value(e, f, p),
            _ => portfolio_like(e, id, e.accounts(f), p),
        },
    }
}
