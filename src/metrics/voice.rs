//! Voice-of-the-customer metrics (METRICS.md "Voice of the customer"): NPS, CSAT, CES from survey
//! responses submitted in the period, and first-contact resolution from tickets resolved in it.
//! Every account counts, paying or not; no responses gives null, never 0.

use rust_decimal::Decimal;

use super::index::dated_range;
use super::revenue::ratio;
use super::{Engine, MetricId, Subject};
use crate::model::{Period, SurveyKind};

/// Count, sum and score tallies of one survey kind over the period.
#[derive(Default)]
struct Tally {
    n: u64,
    sum: u64,
    promoters: u64,
    detractors: u64,
    satisfied: u64,
}

fn tally(e: &Engine, s: Subject, p: &Period, kind: SurveyKind) -> Tally {
    let mut t = Tally::default();
    for a in e.subject_accounts(s) {
        let rs = e.index().responses.of(a);
        for r in &rs[dated_range(rs, |r| r.date, p.start(), p.end())] {
            if r.kind != kind {
                continue;
            }
            t.n += 1;
            t.sum += u64::from(r.score);
            t.promoters += u64::from(r.score >= 9);
            t.detractors += u64::from(r.score <= 6);
            t.satisfied += u64::from(r.score >= 4);
        }
    }
    t
}

pub(super) fn metric(e: &Engine, id: MetricId, s: Subject, p: &Period) -> Option<Decimal> {
    let hundred = Decimal::ONE_HUNDRED;
    match id {
        MetricId::Nps => {
            let t = tally(e, s, p, SurveyKind::Nps);
            let net = Decimal::from(t.promoters) - Decimal::from(t.detractors);
            ratio(hundred * net, t.n.into())
        }
        MetricId::Csat => {
            let t = tally(e, s, p, SurveyKind::Csat);
            ratio(hundred * Decimal::from(t.satisfied), t.n.into())
        }
        MetricId::Ces => {
            let t = tally(e, s, p, SurveyKind::Ces);
            ratio(t.sum.into(), t.n.into())
        }
        MetricId::NpsDetractors => Some(tally(e, s, p, SurveyKind::Nps).detractors.into()),
        MetricId::TicketsOpened => {
            let mut opened = 0u64;
            for a in e.subject_accounts(s) {
                let days = e.index().opened.of(a);
                opened += dated_range(days, |d| *d, p.start(), p.end()).len() as u64;
            }
            Some(opened.into())
        }
        MetricId::FirstContactResolution => {
            let (mut resolved, mut first) = (0u64, 0u64);
            for a in e.subject_accounts(s) {
                let rs = e.index().resolutions.of(a);
                for r in &rs[dated_range(rs, |r| r.date, p.start(), p.end())] {
                    resolved += 1;
                    first += u64::from(r.first_contact);
                }
            }
            ratio(hundred * Decimal::from(first), resolved.into())
        }
        _ => None,
    }
}
