//! The per-account index the engine computes from, built once per data set.
//!
//! Everything is grouped by account in flat, sorted arrays with offsets (compressed-row layout),
//! so that a metric for one account is a binary search and a portfolio metric is one pass over
//! the accounts, and so that millions of usage rows cost four bytes each here, not a copy.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::EngineError;
use crate::model::{AccountIx, Dataset, FxRates, RenewalOutcome, SurveyKind, Usage, YearMonth};

/// From `date` on (until the next step), the account's MRR is `mrr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub date: NaiveDate,
    pub mrr: Decimal,
    /// Whether the account paid on some day before `date`.
    pub paid_before: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Response {
    pub date: NaiveDate,
    pub kind: SurveyKind,
    pub score: u8,
}

/// A resolved ticket, by the day it was resolved.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resolution {
    pub date: NaiveDate,
    pub first_contact: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RenewalDue {
    pub date: NaiveDate,
    pub outcome: RenewalOutcome,
}

/// Items of every account in one flat array, sorted by (account, date), with offsets.
#[derive(Clone, Debug)]
pub(crate) struct Grouped<T> {
    items: Vec<T>,
    offsets: Vec<u32>,
}

impl<T> Grouped<T> {
    /// Groups `(account, item)` pairs; `key` orders items within an account.
    fn build<K: Ord>(
        accounts: usize,
        mut pairs: Vec<(AccountIx, T)>,
        key: impl Fn(&T) -> K,
    ) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| key(&a.1).cmp(&key(&b.1))));
        let mut offsets = Vec::with_capacity(accounts + 1);
        offsets.push(0);
        let mut items = Vec::with_capacity(pairs.len());
        let mut pairs = pairs.into_iter().peekable();
        for a in 0..accounts as AccountIx {
            while let Some((_, item)) = pairs.next_if(|(acc, _)| *acc == a) {
                items.push(item);
            }
            offsets.push(items.len() as u32);
        }
        Grouped { items, offsets }
    }

    pub fn of(&self, a: AccountIx) -> &[T] {
        let (s, e) = (self.offsets[a as usize], self.offsets[a as usize + 1]);
        &self.items[s as usize..e as usize]
    }
}

/// The positions, in an account's date-sorted slice, of the items dated within `[start, end)`.
pub(crate) fn dated_range<T>(
    items: &[T],
    date: impl Fn(&T) -> NaiveDate,
    start: NaiveDate,
    end: NaiveDate,
) -> Range<usize> {
    let lo = items.partition_point(|x| date(x) < start);
    let hi = items.partition_point(|x| date(x) < end);
    lo..hi.max(lo)
}

/// The index of one data set.
pub struct Index {
    pub(crate) steps: Grouped<Step>,
    /// Positions in `Dataset::usage`, sorted by (account, date).
    usage_order: Option<Vec<u32>>,
    usage_offsets: Vec<u32>,
    pub(crate) responses: Grouped<Response>,
    pub(crate) resolutions: Grouped<Resolution>,
    /// Days tickets were opened on.
    pub(crate) opened: Grouped<NaiveDate>,
    pub(crate) renewals: Grouped<RenewalDue>,
    /// Summed cost per month.
    pub(crate) costs: BTreeMap<YearMonth, Decimal>,
}

impl Index {
    pub fn build(ds: &Dataset, fx: &FxRates) -> Result<Index, EngineError> {
        let n = ds.accounts().len();

        // MRR change points: +mrr at start, -mrr at end, then cumulative per account.
        let mut changes = Vec::with_capacity(ds.subscriptions.len() * 2);
        for s in &ds.subscriptions {
            let mrr = fx
                .convert(s.mrr, s.currency)
                .ok_or_else(|| EngineError::NoRate {
                    subscription: s.id.clone(),
                    currency: s.currency.to_string(),
                })?;
            changes.push((s.account, (s.start_date, mrr)));
            if let Some(end) = s.end_date {
                changes.push((s.account, (end, -mrr)));
            }
        }
        let changes = Grouped::build(n, changes, |c| c.0);
        let mut steps = Vec::with_capacity(changes.items.len());
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        for a in 0..n as AccountIx {
            let mut level = Decimal::ZERO;
            let mut paid_before = false;
            let first = steps.len();
            for (i, (date, delta)) in changes.of(a).iter().enumerate() {
                level += *delta;
                let last_of_day = changes.of(a).get(i + 1).is_none_or(|(d, _)| d != date);
                if !last_of_day {
                    continue;
                }
                let prev = steps[first..]
                    .last()
                    .map_or(Decimal::ZERO, |s: &Step| s.mrr);
                if level != prev {
                    steps.push(Step {
                        date: *date,
                        mrr: level,
                        paid_before,
                    });
                }
                paid_before |= level > Decimal::ZERO;
            }
            offsets.push(steps.len() as u32);
        }
        let steps = Grouped {
            items: steps,
            offsets,
        };

        let (usage_order, usage_offsets) = usage_layout(n, &ds.usage);

        let responses = Grouped::build(
            n,
            ds.survey_responses
                .iter()
                .map(|r| {
                    (
                        r.account,
                        Response {
                            date: r.submitted_at,
                            kind: r.kind,
                            score: r.score,
                        },
                    )
                })
                .collect(),
            |r| r.date,
        );
        let resolutions = Grouped::build(
            n,
            ds.tickets
                .iter()
                .filter_map(|t| {
                    let date = t.resolved_at?;
                    Some((
                        t.account,
                        Resolution {
                            date,
                            first_contact: t.contacts == Some(1),
                        },
                    ))
                })
                .collect(),
            |r| r.date,
        );
        let opened = Grouped::build(
            n,
            ds.tickets
                .iter()
                .map(|t| (t.account, t.opened_at))
                .collect(),
            |d| *d,
        );
        let renewals = Grouped::build(
            n,
            ds.renewals
                .iter()
                .map(|r| {
                    (
                        r.account,
                        RenewalDue {
                            date: r.due_date,
                            outcome: r.outcome,
                        },
                    )
                })
                .collect(),
            |r| r.date,
        );
        let mut costs = BTreeMap::new();
        for c in &ds.costs {
            *costs.entry(c.month).or_insert(Decimal::ZERO) += c.amount;
        }
        Ok(Index {
            steps,
            usage_order,
            usage_offsets,
            responses,
            resolutions,
            opened,
            renewals,
            costs,
        })
    }

    /// `M_a(d)`: the account's MRR on day `d`, in the reporting currency.
    pub(crate) fn mrr_on(&self, a: AccountIx, d: NaiveDate) -> Decimal {
        let steps = self.steps.of(a);
        let i = steps.partition_point(|s| s.date <= d);
        if i == 0 {
            Decimal::ZERO
        } else {
            steps[i - 1].mrr
        }
    }

    /// The account's usage rows dated within `[start, end)`, sorted by date.
    pub(crate) fn usage<'d>(
        &'d self,
        ds: &'d Dataset,
        a: AccountIx,
        start: NaiveDate,
        end: NaiveDate,
    ) -> impl Iterator<Item = &'d Usage> + 'd {
        let (s, e) = (
            self.usage_offsets[a as usize] as usize,
            self.usage_offsets[a as usize + 1] as usize,
        );
        let row = move |i: usize| match &self.usage_order {
            Some(order) => &ds.usage[order[i] as usize],
            None => &ds.usage[i],
        };
        let (mut lo, mut hi) = (s, e);
        // First row dated >= start.
        while lo < hi {
            let mid = (lo + hi) / 2;
            if row(mid).date < start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo..e).map(row).take_while(move |u| u.date < end)
    }
}

/// Usage rows grouped by account and sorted by date, without copying them: when the data set
/// already holds them in that order (as the store and the demo produce them) only offsets are
/// kept, otherwise a permutation of row positions.
fn usage_layout(n: usize, usage: &[Usage]) -> (Option<Vec<u32>>, Vec<u32>) {
    let sorted = usage
        .windows(2)
        .all(|w| (w[0].account, w[0].date) <= (w[1].account, w[1].date));
    let order = if sorted {
        None
    } else {
        let mut order: Vec<u32> = (0..usage.len() as u32).collect();
        order.sort_by_key(|&i| (usage[i as usize].account, usage[i as usize].date));
        Some(order)
    };
    let account_of = |i: usize| match &order {
        Some(o) => usage[o[i] as usize].account,
        None => usage[i].account,
    };
    let mut offsets = Vec::with_capacity(n + 1);
    let mut i = 0;
    for a in 0..=n as AccountIx {
        while i < usage.len() && account_of(i) < a {
            i += 1;
        }
        offsets.push(i as u32);
    }
    (order, offsets)
}
