//! The `demo` source: a seeded, deterministic generator of a realistic SaaS customer base.
//!
//! It exists so that cs-pulse can be tried, demonstrated, tested and benchmarked without anyone's
//! real data. Every case METRICS.md names occurs in it (new business, expansion, contraction,
//! churn, reactivation, same-month start-and-churn, intervals ending on the first of a month, EUR
//! billing, converted and lost trials, every renewal outcome, boundary survey scores, …), and
//! usage, surveys and tickets are tied to a hidden per-account health so that accounts that later
//! churn use the product less and answer surveys worse: health scores computed on it look
//! meaningful.
//!
//! The model, briefly: accounts fall into SMB, Mid-Market and Enterprise (different seat counts,
//! plans, trial habits and churn rates), are created across the window (a launch cohort first,
//! then a growing stream), may trial first, and pay monthly or annually. Annual contracts churn
//! and shrink only at their anniversaries, which are also their renewal deals; monthly ones may
//! change any month. `renewal_date` is the next open renewal deal or, without one, the next
//! contract anniversary of an annual plan (monthly plans have none). Lives are simulated a few months past `as_of` and cut there, so that an
//! account about to churn already uses the product less and answers surveys worse.
//!
//! Time is a parameter ([`DemoParams::as_of`]); nothing here reads the clock. The same parameters
//! always give the same data: every account draws from its own ChaCha8 stream of the seed, and no
//! hash map is iterated.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{Datelike, Days, Months, NaiveDate};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::{FetchRequest, Fetched, Source, SourceError};
use crate::model::{
    Account, AccountIx, Cost, Currency, Dataset, FxRates, Renewal, RenewalOutcome, Subscription,
    SurveyKind, SurveyResponse, Ticket, Usage, YearMonth,
};

/// Number of accounts generated when not configured.
pub const DEFAULT_ACCOUNTS: u32 = 500;
/// Seed used when not configured.
pub const DEFAULT_SEED: u64 = 42;
/// Complete calendar months of history generated when not configured.
pub const DEFAULT_MONTHS: u32 = 24;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoParams {
    /// Number of accounts (default 500).
    pub accounts: u32,
    /// The same seed (and other parameters) always gives the same data (default 42).
    pub seed: u64,
    /// Complete calendar months of history before the month of `as_of` (default 24); the data
    /// starts on the first day of the earliest of them and ends on `as_of`.
    pub months: u32,
    /// The last day of the data ("today"): no survey, ticket, usage row or subscription change
    /// lies after it; only pending renewals and `renewal_date` may.
    pub as_of: NaiveDate,
}

impl DemoParams {
    /// The default size and seed, with data up to `as_of`.
    pub fn new(as_of: NaiveDate) -> Self {
        DemoParams {
            accounts: DEFAULT_ACCOUNTS,
            seed: DEFAULT_SEED,
            months: DEFAULT_MONTHS,
            as_of,
        }
    }

    /// The first day of the data: the first of the month `months` months before `as_of`'s month.
    pub fn window_start(&self) -> NaiveDate {
        first_of_month(self.as_of)
            .checked_sub_months(Months::new(self.months))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// The exchange rates the demo data needs: reporting currency USD, EUR = 1.08.
pub fn demo_fx() -> FxRates {
    FxRates::new(Currency::USD).with_rate(Currency::EUR, dec!(1.08))
}

/// The `demo` source: [`generate`] behind the [`Source`] trait.
#[derive(Clone, Debug)]
pub struct DemoSource {
    name: String,
    params: DemoParams,
}

impl DemoSource {
    pub fn new(name: impl Into<String>, params: DemoParams) -> Self {
        DemoSource {
            name: name.into(),
            params,
        }
    }

    pub fn params(&self) -> &DemoParams {
        &self.params
    }
}

/// Above this many accounts, generation runs on a blocking thread.
const INLINE_ACCOUNTS: u32 = 2_000;

#[async_trait]
impl Source for DemoSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn fetch(
        &self,
        _request: &FetchRequest<'_>,
        progress: &ProgressBar,
    ) -> Result<Fetched, SourceError> {
        let params = self.params.clone();
        let data = if params.accounts <= INLINE_ACCOUNTS {
            generate(&params)
        } else {
            tokio::task::spawn_blocking(move || generate(&params))
                .await
                .map_err(|e| SourceError::Other(format!("the demo generator failed: {e}")))?
        };
        progress.inc(data.record_count() as u64);
        Ok(Fetched::full(data))
    }
}

// ---------------------------------------------------------------------------------------------
// The shape of the customer base.

const OWNERS: [&str; 6] = [
    "Priya Raman",
    "Marcus Chen",
    "Sofia Alvarez",
    "Jonas Weber",
    "Aisha Okafor",
    "Liam O'Brien",
];

/// Plan names and list price per seat and month, in cents (the same figures in EUR and USD).
const PLANS: [(&str, i64); 4] = [
    ("Starter", 1500),
    ("Growth", 2900),
    ("Pro", 4900),
    ("Enterprise", 7900),
];

const NAME_FIRST: [&str; 40] = [
    "Acme",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Globex",
    "Initech",
    "Umbrella",
    "Vandelay",
    "Hooli",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Aperture",
    "Blue Harbor",
    "Silver Peak",
    "Redwood",
    "Evergreen",
    "Summit",
    "Atlas",
    "Beacon",
    "Cobalt",
    "Granite",
    "Horizon",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Orbit",
    "Pioneer",
    "Quantum",
    "Sterling",
    "Vertex",
    "Zenith",
    "Polar",
    "Copper",
    "Maple",
    "Harbor",
    "Falcon",
    "Juniper",
];

const NAME_SECOND: [&str; 20] = [
    "Analytics",
    "Labs",
    "Logistics",
    "Health",
    "Foods",
    "Systems",
    "Media",
    "Retail",
    "Energy",
    "Robotics",
    "Studios",
    "Capital",
    "Software",
    "Networks",
    "Works",
    "Dynamics",
    "Bio",
    "Partners",
    "Motors",
    "Learning",
];

const INDUSTRIES: [&str; 8] = [
    "Software",
    "Retail",
    "Healthcare",
    "Financial Services",
    "Manufacturing",
    "Education",
    "Media",
    "Logistics",
];

const PRAISE: [&str; 4] = [
    "Love the new dashboards",
    "Support was quick and helpful",
    "Saves our team hours every week",
    "Easy to roll out to the whole team",
];
const NEUTRAL: [&str; 3] = [
    "Does the job",
    "Reporting could be more flexible",
    "Onboarding took a while",
];
const COMPLAINTS: [&str; 4] = [
    "Too expensive for what we use",
    "Took three emails to get an answer",
    "The app is slow for us",
    "We are evaluating alternatives",
];

struct SegmentSpec {
    name: &'static str,
    /// Cumulative share of accounts.
    upto: f64,
    seats: (u32, u32),
    /// The two plans an account of this segment starts on, and the share of the first.
    plans: (usize, usize, f64),
    trial_share: f64,
    annual_share: f64,
    monthly_churn: f64,
    /// Largest negotiated discount, in percent.
    max_discount: u32,
    /// Indexes into `OWNERS`.
    owners: &'static [usize],
    addon_share: f64,
}

const SEGMENTS: [SegmentSpec; 3] = [
    SegmentSpec {
        name: "SMB",
        upto: 0.60,
        seats: (2, 20),
        plans: (0, 1, 0.55),
        trial_share: 0.60,
        annual_share: 0.35,
        monthly_churn: 0.035,
        max_discount: 0,
        owners: &[4, 5, 3],
        addon_share: 0.0,
    },
    SegmentSpec {
        name: "Mid-Market",
        upto: 0.90,
        seats: (15, 120),
        plans: (1, 2, 0.40),
        trial_share: 0.35,
        annual_share: 0.75,
        monthly_churn: 0.018,
        max_discount: 15,
        owners: &[2, 3, 0],
        addon_share: 0.15,
    },
    SegmentSpec {
        name: "Enterprise",
        upto: 1.0,
        seats: (60, 500),
        plans: (2, 3, 0.30),
        trial_share: 0.10,
        annual_share: 1.0,
        monthly_churn: 0.007,
        max_discount: 30,
        owners: &[0, 1],
        addon_share: 0.30,
    },
];

/// How far past `as_of` the lives are simulated, so that accounts about to churn already look
/// at risk (their usage declines before the churn day).
const LOOKAHEAD_DAYS: u64 = 120;
/// Usage declines over this many days before a churn.
const DECLINE_DAYS: i64 = 56;
/// Usage of fading accounts declines over this many days before `as_of`.
const FADE_DAYS: i64 = 42;
/// Renewals due within this many days before `as_of` may still be pending.
const PENDING_BEFORE_DAYS: i64 = 21;
/// Renewals due up to this many days after `as_of` are listed (pending).
const PENDING_AFTER_DAYS: i64 = 90;
/// Share of accounts created in the first weeks of the window: the customer base it opens with.
const LAUNCH_COHORT: f64 = 0.08;
/// Usage on a Saturday or Sunday, relative to a weekday.
const WEEKEND: f64 = 0.06;
/// The largest number of features a usage row reports.
pub const FEATURES_AVAILABLE: u32 = 12;

// ---------------------------------------------------------------------------------------------
// Date helpers that never panic (dates beyond chrono's range saturate).

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d.checked_add_days(Days::new(n as u64))
            .unwrap_or(NaiveDate::MAX)
    } else {
        d.checked_sub_days(Days::new(n.unsigned_abs()))
            .unwrap_or(NaiveDate::MIN)
    }
}

fn add_months(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_months(Months::new(n))
        .unwrap_or(NaiveDate::MAX)
}

fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

// ---------------------------------------------------------------------------------------------
// Random helpers.

/// A standard normal variate, approximately (Irwin–Hall with four terms).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let s: f64 = (0..4).map(|_| rng.gen::<f64>()).sum();
    (s - 2.0) * 3f64.sqrt()
}

/// `x` rounded and clamped to `[lo, hi]`.
fn score(x: f64, lo: u8, hi: u8) -> u8 {
    x.round().clamp(lo as f64, hi as f64) as u8
}

/// Log-uniform integer in `[lo, hi]`.
fn log_uniform(rng: &mut ChaCha8Rng, lo: u32, hi: u32) -> u32 {
    let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
    ((a + rng.gen::<f64>() * (b - a)).exp().round() as u32).clamp(lo, hi)
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

/// The random stream of one account and purpose: independent of every other account, so that
/// changing one account's generation does not reshuffle the others.
fn stream(seed: u64, ix: u64, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(ix * 4 + purpose);
    rng
}

// ---------------------------------------------------------------------------------------------
// One account's simulated life.

/// An MRR interval as simulated (its end may lie after `as_of`).
#[derive(Clone, Debug)]
struct Interval {
    start: NaiveDate,
    /// Exclusive; `None` when it lasts past the simulation horizon.
    end: Option<NaiveDate>,
    plan: usize,
    seats: u32,
    mrr: Decimal,
    /// When the paying spell this interval belongs to ends (churn), if within the horizon.
    churn: Option<NaiveDate>,
    /// The contract's billing anchor: renewals fall on it plus whole terms.
    anchor: NaiveDate,
    /// Months in one contract term: 12 (annual) or 1 (monthly).
    term: u32,
}

/// A renewal deal as simulated.
struct Deal {
    due: NaiveDate,
    churned: bool,
    amount: Decimal,
}

impl Deal {
    /// What the CRM shows on `as_of`; `None` when not yet listed (due too far ahead).
    /// Renewals due shortly before `as_of` may still be open unless the customer has left; those
    /// due after it are open whatever the simulation decided.
    fn outcome(&self, w: &Window) -> Option<RenewalOutcome> {
        if self.due > add_days(w.as_of, PENDING_AFTER_DAYS) {
            None
        } else if self.churned && self.due <= w.as_of {
            Some(RenewalOutcome::Churned)
        } else if self.due <= add_days(w.as_of, -PENDING_BEFORE_DAYS) {
            Some(RenewalOutcome::Renewed)
        } else {
            Some(RenewalOutcome::Pending)
        }
    }
}

/// A stretch of days on which the account uses the product at one seat count.
struct Active {
    start: NaiveDate,
    /// Exclusive, at most `as_of`.
    end: NaiveDate,
    seats: u32,
    paying: bool,
    /// The day usage stops for good (churn or a lost trial), if soon enough to matter.
    stop: Option<NaiveDate>,
}

/// Everything decided about one account before its daily activity is generated.
struct Life {
    account: Account,
    currency: Currency,
    /// Hidden health in `[0, 1]`: drives churn, expansion, usage and survey scores.
    health: f64,
    /// Usage grows over the last weeks before `as_of`.
    growing: bool,
    /// Usage declines over the last weeks before `as_of` (at risk, whether or not it churns).
    fading: bool,
    /// Days without any usage row, `[start, end)`.
    gap: Option<(NaiveDate, NaiveDate)>,
    intervals: Vec<Interval>,
    addons: Vec<Interval>,
    deals: Vec<Deal>,
    active: Vec<Active>,
    /// Day in the 91-day NPS cycle on which this account is surveyed.
    nps_phase: i64,
}

struct Window {
    start: NaiveDate,
    as_of: NaiveDate,
    horizon: NaiveDate,
}

struct Pricing {
    annual: bool,
    /// Discount in percent.
    discount: u32,
}

impl Pricing {
    fn mrr(&self, plan: usize, seats: u32) -> Decimal {
        let list = Decimal::new(PLANS[plan].1, 2) * Decimal::from(seats);
        let pct = self.discount + if self.annual { 10 } else { 0 };
        (list * Decimal::new(100 - pct as i64, 2)).round_dp(2)
    }
}

fn expand(rng: &mut ChaCha8Rng, plan: usize, seats: u32) -> (usize, u32) {
    if plan + 1 < PLANS.len() && rng.gen_bool(0.25) {
        (plan + 1, seats)
    } else {
        let more = ((seats as f64) * rng.gen_range(0.1..0.5)).ceil() as u32;
        (plan, seats + more.max(1))
    }
}

/// A smaller plan or fewer seats, or `None` when already at the minimum.
fn contract(rng: &mut ChaCha8Rng, plan: usize, seats: u32) -> Option<(usize, u32)> {
    if plan > 0 && rng.gen_bool(0.25) {
        Some((plan - 1, seats))
    } else if seats > 1 {
        let fewer = ((seats as f64) * rng.gen_range(0.1..0.4)).floor() as u32;
        Some((plan, seats - fewer.clamp(1, seats - 1)))
    } else {
        None
    }
}

fn simulate_account(params: &DemoParams, w: &Window, ix: u32) -> Life {
    let mut rng = stream(params.seed, ix as u64, 0);
    let u: f64 = rng.gen();
    let spec = SEGMENTS
        .iter()
        .find(|s| u < s.upto)
        .unwrap_or(&SEGMENTS[SEGMENTS.len() - 1]);
    let health: f64 = rng.gen();
    let euro = rng.gen_bool(0.2);
    let currency = if euro { Currency::EUR } else { Currency::USD };
    let region = if euro {
        "EMEA"
    } else {
        pick(
            &mut rng,
            &[
                "NA", "NA", "NA", "NA", "NA", "NA", "EMEA", "APAC", "APAC", "LATAM",
            ],
        )
    };
    let industry = pick(&mut rng, &INDUSTRIES);
    let name = format!(
        "{} {} {}",
        pick(&mut rng, &NAME_FIRST),
        pick(&mut rng, &NAME_SECOND),
        ix + 1
    );
    let owner = if spec.name == "SMB" && rng.gen_bool(0.03) {
        None
    } else {
        Some(OWNERS[spec.owners[rng.gen_range(0..spec.owners.len())]].to_string())
    };

    // A base of customers from the first weeks, then more accounts created late in the window
    // than early (a growing business).
    let window_days = days_between(w.start, w.as_of).max(0);
    let position = if rng.gen_bool(LAUNCH_COHORT) {
        rng.gen::<f64>() * 45.0 / (window_days.max(45) as f64)
    } else {
        rng.gen::<f64>().powf(0.35)
    };
    let mut created = add_days(w.start, ((window_days as f64) * position) as i64).min(w.as_of);
    let flash = spec.name == "SMB" && rng.gen_bool(0.03);
    if flash {
        // Starts early in a month so that it can churn within the same month.
        created = add_days(first_of_month(created), rng.gen_range(0..12)).min(w.as_of);
    }

    let plan = if rng.gen_bool(spec.plans.2) {
        spec.plans.0
    } else {
        spec.plans.1
    };
    let seats = log_uniform(&mut rng, spec.seats.0, spec.seats.1);
    let mut pricing = Pricing {
        annual: !flash && rng.gen_bool(spec.annual_share),
        discount: if spec.max_discount > 0 {
            rng.gen_range(0..=spec.max_discount / 5) * 5
        } else {
            0
        },
    };
    let calendar = rng.gen_bool(0.3);
    let growing = health > 0.6 && rng.gen_bool(0.35);
    let fading = health < 0.45 && rng.gen_bool(0.15);
    let has_gap = rng.gen_bool(0.06);

    let mut account = Account {
        id: format!("acc-{:05}", ix + 1),
        name,
        owner,
        segment: Some(spec.name.to_string()),
        plan: None,
        created_at: Some(created),
        custom: BTreeMap::from([
            ("industry".to_string(), industry.to_string()),
            ("region".to_string(), region.to_string()),
        ]),
        ..Account::default()
    };

    // Trial, then (maybe) the first paying day.
    let mut active = Vec::new();
    let trial_seats = seats.min(3 + seats / 4);
    let mut paying_from = Some(created);
    if !flash && rng.gen_bool(spec.trial_share) {
        let len = if rng.gen_bool(0.7) { 14 } else { 30 };
        let ends = add_days(created, len);
        account.trial_started_at = Some(created);
        if ends > w.as_of {
            // Still trialing: the CRM knows when the trial is scheduled to end.
            account.trial_ended_at = Some(ends);
            paying_from = None;
            active.push(Active {
                start: created,
                end: w.as_of,
                seats: trial_seats,
                paying: false,
                stop: None,
            });
        } else {
            account.trial_ended_at = Some(ends);
            if rng.gen_bool(0.2 + 0.6 * health) {
                let converted = add_days(ends, -rng.gen_range(0..4));
                account.converted_at = Some(converted);
                paying_from = Some(converted);
                active.push(Active {
                    start: created,
                    end: converted,
                    seats: trial_seats,
                    paying: false,
                    stop: None,
                });
            } else {
                paying_from = None;
                active.push(Active {
                    start: created,
                    end: ends,
                    seats: trial_seats,
                    paying: false,
                    stop: Some(ends),
                });
            }
        }
    }

    let mut intervals = Vec::new();
    let mut addons = Vec::new();
    let mut deals = Vec::new();
    if let Some(start) = paying_from {
        simulate_paying(
            &mut rng,
            w,
            spec,
            health,
            (start, plan, seats),
            &mut pricing,
            calendar,
            flash,
            &mut intervals,
            &mut addons,
            &mut deals,
        );
    }

    // What the CRM shows today.
    let current = intervals.iter().rev().find(|iv| iv.start <= w.as_of);
    account.plan = current.map(|iv| PLANS[iv.plan].0.to_string());
    account.licensed_seats = match current {
        Some(iv) if !(spec.name == "SMB" && rng.gen_bool(0.1)) => Some(iv.seats),
        _ => None,
    };
    let paying_now = current.is_some_and(|iv| iv.end.is_none_or(|e| e > w.as_of));
    if paying_now {
        let pending = deals
            .iter()
            .filter(|d| d.outcome(w) == Some(RenewalOutcome::Pending))
            .map(|d| d.due)
            .min();
        // Monthly plans have no contract renewal to prepare for; annual ones renew on their
        // anniversary.
        account.renewal_date = pending.or_else(|| {
            current
                .filter(|iv| iv.term > 1)
                .and_then(|iv| next_billing(iv, w))
        });
    }
    let first_paid = intervals.first().map(|iv| iv.start);
    let never = health < 0.12 || (first_paid.is_none() && rng.gen_bool(0.7));
    if !never {
        let fv = add_days(
            created,
            2 + (rng.gen::<f64>() * (5.0 + 50.0 * (1.0 - health))) as i64,
        );
        let used_until = intervals
            .last()
            .and_then(|iv| iv.end)
            .or(account.trial_ended_at.filter(|_| first_paid.is_none()))
            .unwrap_or(w.as_of);
        if fv <= w.as_of && fv < used_until {
            account.first_value_at = Some(fv);
        }
    }

    for iv in &intervals {
        if iv.start >= w.as_of {
            break;
        }
        active.push(Active {
            start: iv.start,
            end: iv.end.map_or(w.as_of, |e| e.min(w.as_of)),
            seats: iv.seats,
            paying: true,
            stop: iv.churn,
        });
    }

    // Some accounts stop sending usage for a week or two while paying (holidays, a broken
    // tracking snippet).
    let gap = active
        .iter()
        .filter(|a| a.paying && days_between(a.start, a.end) > 40)
        .find(|_| has_gap)
        .map(|a| {
            let start = add_days(
                a.start,
                rng.gen_range(10..days_between(a.start, a.end) - 25),
            );
            (start, add_days(start, rng.gen_range(8..21)))
        });

    Life {
        account,
        currency,
        health,
        growing,
        fading,
        gap,
        intervals,
        addons,
        deals,
        active,
        nps_phase: rng.gen_range(0..91),
    }
}

/// The first renewal of the contract `iv` belongs to after `as_of`.
fn next_billing(iv: &Interval, w: &Window) -> Option<NaiveDate> {
    let months = days_between(iv.anchor, w.as_of).max(0) as u32 / 28 + 2;
    (1..=months / iv.term + 1)
        .map(|k| add_months(iv.anchor, k * iv.term))
        .find(|d| *d > w.as_of)
}

/// Simulates the paying spells of one account from its first paying day to the horizon:
/// monthly (or, for annual contracts, yearly) churn and contraction decisions, expansions any
/// month, and reactivation after a gap for some churned accounts.
#[allow(clippy::too_many_arguments)]
fn simulate_paying(
    rng: &mut ChaCha8Rng,
    w: &Window,
    spec: &SegmentSpec,
    health: f64,
    (first_day, mut plan, mut seats): (NaiveDate, usize, u32),
    pricing: &mut Pricing,
    mut calendar: bool,
    flash: bool,
    intervals: &mut Vec<Interval>,
    addons: &mut Vec<Interval>,
    deals: &mut Vec<Deal>,
) {
    // Unhealthy accounts churn far more often: the mean multiplier over all accounts is ~1.
    let hazard = spec.monthly_churn * (0.15 + 3.5 * (1.0 - health).powi(3));
    let p_expand = 0.01 + 0.06 * health;
    let mut spell_start = first_day;
    let mut first_spell = true;
    loop {
        let spell_ix = intervals.len();
        // Annual contracts only shrink at renewal, so more often when they do.
        let p_contract = if pricing.annual {
            0.1 + 0.3 * (1.0 - health)
        } else {
            0.01 + 0.05 * (1.0 - health)
        };
        let anchor = if calendar {
            first_of_month(spell_start)
        } else {
            spell_start
        };
        let mut cur = Interval {
            start: spell_start,
            end: None,
            plan,
            seats,
            mrr: pricing.mrr(plan, seats),
            churn: None,
            anchor,
            term: if pricing.annual { 12 } else { 1 },
        };
        if flash {
            let end = add_days(spell_start, rng.gen_range(5..=15));
            cur.end = Some(end);
            cur.churn = Some(end);
            intervals.push(cur);
            return;
        }
        let addon_at = (first_spell && rng.gen_bool(spec.addon_share)).then(|| rng.gen_range(1..9));
        let mut churn = None;
        for k in 1u32.. {
            let step = add_months(anchor, k);
            if step > w.horizon || step == NaiveDate::MAX {
                break;
            }
            let at_renewal = !pricing.annual || k % 12 == 0;
            if at_renewal {
                let p = if pricing.annual {
                    1.0 - (1.0 - hazard).powi(12)
                } else {
                    hazard
                };
                let churned = rng.gen_bool(p.min(1.0));
                if pricing.annual {
                    deals.push(Deal {
                        due: step,
                        churned,
                        amount: cur.mrr * Decimal::from(12),
                    });
                }
                if churned {
                    churn = Some(step);
                    break;
                }
                if rng.gen_bool(p_contract) {
                    if let Some((p2, s2)) = contract(rng, plan, seats) {
                        (plan, seats) = (p2, s2);
                        change(intervals, &mut cur, step, plan, seats, pricing);
                        continue;
                    }
                }
            }
            if addon_at == Some(k) {
                addons.push(Interval {
                    start: step,
                    end: None,
                    plan,
                    seats,
                    mrr: (cur.mrr * dec!(0.1)).round_dp(0).max(dec!(50)),
                    churn: None,
                    anchor: step,
                    term: cur.term,
                });
            }
            if rng.gen_bool(p_expand) {
                let day = if calendar {
                    step
                } else {
                    add_days(step, rng.gen_range(0..15))
                };
                if day <= w.horizon {
                    (plan, seats) = expand(rng, plan, seats);
                    change(intervals, &mut cur, day, plan, seats, pricing);
                }
            }
        }
        cur.end = churn;
        intervals.push(cur);
        for iv in &mut intervals[spell_ix..] {
            iv.churn = churn;
        }
        if first_spell {
            for a in addons.iter_mut() {
                a.end = churn;
            }
        }
        first_spell = false;

        // Some churned accounts come back after a while, billed monthly.
        let Some(c) = churn else { return };
        let p_back = if spec.name == "Enterprise" { 0.1 } else { 0.3 };
        if !rng.gen_bool(p_back) {
            return;
        }
        spell_start = add_days(c, rng.gen_range(20..180));
        if spell_start > w.horizon {
            return;
        }
        pricing.annual = false;
        calendar = rng.gen_bool(0.3);
        if let Some((p2, s2)) = contract(rng, plan, seats) {
            (plan, seats) = (p2, s2);
        }
    }
}

/// Ends `cur` on `day` and starts a new interval at the new plan and seats.
fn change(
    intervals: &mut Vec<Interval>,
    cur: &mut Interval,
    day: NaiveDate,
    plan: usize,
    seats: u32,
    pricing: &Pricing,
) {
    let next = Interval {
        start: day,
        end: None,
        plan,
        seats,
        mrr: pricing.mrr(plan, seats),
        churn: None,
        anchor: cur.anchor,
        term: cur.term,
    };
    let mut prev = std::mem::replace(cur, next);
    prev.end = Some(day);
    intervals.push(prev);
}

// ---------------------------------------------------------------------------------------------
// Putting it together.

struct Ids {
    subscription: u64,
    survey: u64,
    ticket: u64,
    renewal: u64,
}

/// Generates the whole data set. Pure: the same parameters always give the same data.
pub fn generate(params: &DemoParams) -> Dataset {
    let w = Window {
        start: params.window_start(),
        as_of: params.as_of,
        horizon: add_days(params.as_of, LOOKAHEAD_DAYS as i64),
    };
    let lives: Vec<Life> = (0..params.accounts)
        .map(|ix| simulate_account(params, &w, ix))
        .collect();

    // Room for a row on every active day: an upper bound, trimmed at the end.
    let active_days: i64 = lives
        .iter()
        .flat_map(|l| &l.active)
        .map(|a| days_between(a.start, a.end).max(0))
        .sum();
    let mut usage = Vec::with_capacity(active_days as usize);
    let mut subscriptions = Vec::new();
    let mut surveys = Vec::new();
    let mut tickets = Vec::new();
    let mut renewals = Vec::new();
    let mut ids = Ids {
        subscription: 0,
        survey: 0,
        ticket: 0,
        renewal: 0,
    };
    let fx = demo_fx();
    let mut accounts = Vec::with_capacity(lives.len());
    for (ix, life) in lives.into_iter().enumerate() {
        let ix = ix as AccountIx;
        emit_subscriptions(&life, ix, &w, &mut ids, &mut subscriptions);
        emit_renewals(&life, ix, &w, &fx, &mut ids, &mut renewals);
        let mut rng = stream(params.seed, ix as u64, 1);
        emit_activity(
            &life,
            ix,
            &w,
            &mut rng,
            &mut ids,
            &mut usage,
            &mut surveys,
            &mut tickets,
        );
        accounts.push(life.account);
    }
    usage.shrink_to_fit();

    let mut data = Dataset::new(accounts).expect("demo account ids are unique by construction");
    data.subscriptions = subscriptions;
    data.usage = usage;
    data.survey_responses = surveys;
    data.tickets = tickets;
    data.renewals = renewals;
    data.costs = costs(params, &w);
    data
}

fn emit_subscriptions(
    life: &Life,
    ix: AccountIx,
    w: &Window,
    ids: &mut Ids,
    out: &mut Vec<Subscription>,
) {
    for iv in life.intervals.iter().chain(&life.addons) {
        // What has not happened by `as_of` is not in the data.
        if iv.start > w.as_of || iv.end.is_some_and(|e| e <= iv.start) {
            continue;
        }
        ids.subscription += 1;
        out.push(Subscription {
            id: format!("sub-{:06}", ids.subscription),
            account: ix,
            mrr: iv.mrr,
            currency: life.currency,
            start_date: iv.start,
            end_date: iv.end.filter(|e| *e <= w.as_of),
        });
    }
}

fn emit_renewals(
    life: &Life,
    ix: AccountIx,
    w: &Window,
    fx: &FxRates,
    ids: &mut Ids,
    out: &mut Vec<Renewal>,
) {
    for deal in &life.deals {
        let Some(outcome) = deal.outcome(w) else {
            continue;
        };
        ids.renewal += 1;
        out.push(Renewal {
            id: format!("ren-{:06}", ids.renewal),
            account: ix,
            due_date: deal.due,
            outcome,
            amount: fx
                .convert(deal.amount, life.currency)
                .map(|a| a.round_dp(2)),
        });
    }
}

/// Daily usage, tickets and survey answers of one account.
#[allow(clippy::too_many_arguments)]
fn emit_activity(
    life: &Life,
    ix: AccountIx,
    w: &Window,
    rng: &mut ChaCha8Rng,
    ids: &mut Ids,
    usage: &mut Vec<Usage>,
    surveys: &mut Vec<SurveyResponse>,
    tickets: &mut Vec<Ticket>,
) {
    let h = life.health;
    let Some(first_day) = life.active.first().map(|a| a.start) else {
        return;
    };
    let base = 0.2 + 0.6 * h;
    let grow_from = add_days(w.as_of, -70);
    let fade_from = add_days(w.as_of, -FADE_DAYS);
    let (gap_start, gap_end) = life.gap.unwrap_or((NaiveDate::MAX, NaiveDate::MAX));
    let created = life.account.created_at.unwrap_or(first_day);
    let feature_reach = 2.0 + 9.0 * h;
    // Share of weekdays with no usage at all (holidays, quiet weeks).
    let quiet_days = 0.05 + 0.2 * (1.0 - h);
    for a in &life.active {
        let seats = a.seats as f64;
        let ticket_p = (0.15 + 0.05 * seats.sqrt() * (1.6 - h)) / 30.4;
        // Day offsets from `a.start`, so that the loop does integer arithmetic only.
        let len = days_between(a.start, a.end);
        let stop = a.stop.map_or(i64::MAX, |s| days_between(a.start, s));
        let (gap_from, gap_to) = (
            days_between(a.start, gap_start),
            days_between(a.start, gap_end),
        );
        let age0 = days_between(first_day, a.start);
        let grow = if life.growing {
            days_between(a.start, grow_from)
        } else {
            i64::MAX
        };
        let fade = if life.fading {
            days_between(a.start, fade_from)
        } else {
            i64::MAX
        };
        let since_created = days_between(created, a.start);
        let weekday0 = a.start.weekday().num_days_from_monday() as i64;
        let mut today = a.start;
        for n in 0..len {
            if n > 0 {
                today = today.succ_opt().unwrap_or(NaiveDate::MAX);
            }
            // Closeness to the end, 0 (far) to 1 (the last day).
            let left = stop - n;
            let mut risk = if left < DECLINE_DAYS {
                1.0 - left as f64 / DECLINE_DAYS as f64
            } else {
                0.0
            };
            if n >= fade {
                risk = risk.max(0.8 * (n - fade) as f64 / FADE_DAYS as f64);
            }
            if n >= gap_from && n < gap_to {
                continue;
            }
            let mut eng = base * (0.35 + 0.65 * (age0 + n) as f64 / 45.0).min(1.0);
            eng *= 1.0 - 0.85 * risk;
            if n >= grow {
                eng *= 1.0 + 0.6 * (n - grow) as f64 / 70.0;
            }
            let weekend = (weekday0 + n) % 7 >= 5;
            if weekend {
                eng *= WEEKEND;
            }
            let quiet = !weekend && rng.gen::<f64>() < quiet_days;
            let mu = seats * eng * (0.8 + 0.4 * rng.gen::<f64>());
            let users = ((mu + rng.gen::<f64>()) as u32).min(a.seats);
            if users > 0 && !quiet {
                let sessions = users + (users as f64 * (0.2 + 1.8 * rng.gen::<f64>())) as u32;
                let minutes = sessions as f64 * (3.0 + 22.0 * rng.gen::<f64>());
                let features = if rng.gen::<f64>() < 0.015 {
                    None
                } else {
                    Some(
                        (1 + (rng.gen::<f64>() * feature_reach * eng.min(1.0) * 1.6) as u32)
                            .min(FEATURES_AVAILABLE),
                    )
                };
                usage.push(Usage {
                    account: ix,
                    date: today,
                    active_users: users,
                    sessions,
                    minutes: Decimal::new((minutes * 100.0).round() as i64, 2),
                    features_used: features,
                });
            }

            // Support tickets, and the CSAT/CES answers that follow them.
            if rng.gen::<f64>() < ticket_p * (1.0 + risk) {
                emit_ticket(life, ix, w, today, risk, rng, ids, surveys, tickets);
            }

            // NPS, about once a quarter while paying.
            if a.paying && (since_created + n).rem_euclid(91) == life.nps_phase && rng.gen_bool(0.4)
            {
                let s = if (risk > 0.6 || h < 0.15) && rng.gen_bool(0.3) {
                    // About to leave, and says so.
                    rng.gen_range(0..=2)
                } else {
                    score(4.2 + 7.0 * h - 5.5 * risk + 2.0 * normal(rng), 0, 10)
                };
                ids.survey += 1;
                surveys.push(SurveyResponse {
                    id: format!("srv-{:06}", ids.survey),
                    account: ix,
                    kind: SurveyKind::Nps,
                    score: s,
                    submitted_at: today,
                    comment: comment(rng, s >= 9, s <= 6),
                });
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn emit_ticket(
    life: &Life,
    ix: AccountIx,
    w: &Window,
    opened: NaiveDate,
    risk: f64,
    rng: &mut ChaCha8Rng,
    ids: &mut Ids,
    surveys: &mut Vec<SurveyResponse>,
    tickets: &mut Vec<Ticket>,
) {
    let h = life.health;
    let u: f64 = rng.gen();
    let days = if u < 0.35 {
        0
    } else if u < 0.75 {
        rng.gen_range(1..4)
    } else {
        rng.gen_range(4..21)
    };
    let resolved = Some(add_days(opened, days)).filter(|r| *r <= w.as_of && !rng.gen_bool(0.02));
    let response = add_days(
        opened,
        if rng.gen_bool(0.7) {
            0
        } else {
            rng.gen_range(1..3)
        },
    );
    let first_response = match resolved {
        Some(r) => Some(response.min(r)),
        None => Some(response).filter(|r| *r <= w.as_of),
    };
    let contacts = match resolved {
        None => None,
        Some(_) if rng.gen_bool(0.07) => None,
        Some(_) if days == 0 && rng.gen_bool(0.6 + 0.35 * h) => Some(1),
        Some(_) if rng.gen_bool(0.4 + 0.3 * h) => Some(1),
        Some(_) => Some(2 + (rng.gen::<f64>() * rng.gen::<f64>() * 8.0) as u32),
    };
    ids.ticket += 1;
    tickets.push(Ticket {
        id: format!("tkt-{:06}", ids.ticket),
        account: ix,
        opened_at: opened,
        resolved_at: resolved,
        first_response_at: first_response,
        contacts,
    });
    let Some(resolved) = resolved else { return };
    let extra = contacts.map_or(1.0, |c| c.saturating_sub(1) as f64);
    let answered = add_days(resolved, rng.gen_range(0..3)).min(w.as_of);
    if rng.gen_bool(0.35) {
        let s = score(
            1.5 + 3.8 * h - 1.5 * risk - 0.3 * extra + 0.8 * normal(rng),
            1,
            5,
        );
        ids.survey += 1;
        surveys.push(SurveyResponse {
            id: format!("srv-{:06}", ids.survey),
            account: ix,
            kind: SurveyKind::Csat,
            score: s,
            submitted_at: answered,
            comment: comment(rng, s >= 5, s <= 2),
        });
    }
    if rng.gen_bool(0.2) {
        let s = score(2.0 + 5.0 * h - 1.5 * risk - 0.4 * extra + normal(rng), 1, 7);
        ids.survey += 1;
        surveys.push(SurveyResponse {
            id: format!("srv-{:06}", ids.survey),
            account: ix,
            kind: SurveyKind::Ces,
            score: s,
            submitted_at: answered,
            comment: None,
        });
    }
}

fn comment(rng: &mut ChaCha8Rng, good: bool, bad: bool) -> Option<String> {
    if !rng.gen_bool(0.25) {
        return None;
    }
    let list: &[&str] = if good {
        &PRAISE
    } else if bad {
        &COMPLAINTS
    } else {
        &NEUTRAL
    };
    Some(pick(rng, list).to_string())
}

/// Customer-success spend: the team every month, tooling in some months; it grows with the base.
fn costs(params: &DemoParams, w: &Window) -> Vec<Cost> {
    let mut rng = stream(params.seed, u32::MAX as u64 + 1, 2);
    let mut out = Vec::new();
    let total = params.months.max(1) as f64;
    let mut month = first_of_month(w.start);
    let mut i = 0.0;
    while month <= w.as_of {
        let ym = YearMonth {
            year: month.year(),
            month: month.month(),
        };
        let t = i / total;
        let team =
            params.accounts as f64 * 3.0 * (0.35 + 0.65 * t) * (0.95 + 0.1 * rng.gen::<f64>());
        let team = Decimal::new((team * 100.0).round() as i64, 2);
        out.push(Cost {
            month: ym,
            amount: team,
        });
        if rng.gen_bool(0.5) {
            out.push(Cost {
                month: ym,
                amount: (team * Decimal::new(rng.gen_range(8..16), 2)).round_dp(2),
            });
        }
        month = add_months(month, 1);
        i += 1.0;
    }
    out
}
