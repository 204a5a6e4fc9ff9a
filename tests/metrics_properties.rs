//! Property tests of the metric engine on small random data sets: the invariants METRICS.md
//! states or implies, plus a brute-force day-by-day oracle for MRR, its movements and the cohort
//! ratios.

mod common;

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;

use common::*;
use cs_pulse::metrics::{Engine, Filter, MetricsConfig, Subject};
use cs_pulse::model::{
    Account, AccountIx, Currency, Dataset, FxRates, Period, Subscription, SurveyKind,
    SurveyResponse, Ticket, Usage,
};

const SEGMENTS: [&str; 2] = ["s1", "s2"];

fn base() -> NaiveDate {
    d("2024-10-01")
}

fn day(offset: u32) -> NaiveDate {
    base() + Days::new(offset as u64)
}

/// An mrr: often 0 or a round number, sometimes cents.
fn mrr() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        1 => Just(Decimal::ZERO),
        3 => (1u32..20).prop_map(|n| Decimal::from(n * 10)),
        2 => (1i64..100_000).prop_map(|c| Decimal::new(c, 2)),
    ]
}

#[derive(Clone, Debug)]
struct SubSpec {
    account: usize,
    mrr: Decimal,
    eur: bool,
    start: u32,
    len: Option<u32>,
}

fn sub_spec(n: usize) -> impl Strategy<Value = SubSpec> {
    (
        0..n,
        mrr(),
        prop::bool::weighted(0.2),
        0u32..400,
        prop::option::weighted(0.7, 1u32..200),
    )
        .prop_map(|(account, mrr, eur, start, len)| SubSpec {
            account,
            mrr,
            eur,
            start,
            len,
        })
}

#[derive(Clone, Debug)]
struct World {
    ds: Dataset,
}

fn world() -> impl Strategy<Value = World> {
    (1usize..6).prop_flat_map(|n| {
        let accounts = prop::collection::vec((0usize..2, prop::option::of(0u32..6)), n);
        let subs = prop::collection::vec(sub_spec(n), 0..12);
        let surveys = prop::collection::vec((0..n, 0usize..3, 0u8..=10, 0u32..400), 0..15);
        let tickets = prop::collection::vec(
            (
                0..n,
                0u32..400,
                prop::option::of(0u32..20),
                prop::option::of(0u32..4),
            ),
            0..10,
        );
        let usage = prop::collection::vec(
            (
                0..n,
                0u32..400,
                0u32..6,
                0i64..500,
                prop::option::of(0u32..8),
            ),
            0..25,
        );
        (Just(n), accounts, subs, surveys, tickets, usage).prop_map(
            |(n, accounts, subs, surveys, tickets, usage)| {
                let accounts = (0..n)
                    .map(|i| Account {
                        id: format!("a{i}"),
                        name: format!("A{i}"),
                        segment: Some(SEGMENTS[accounts[i].0].to_string()),
                        licensed_seats: accounts[i].1,
                        ..Account::default()
                    })
                    .collect();
                let mut ds = Dataset::new(accounts).unwrap();
                for (i, s) in subs.into_iter().enumerate() {
                    ds.subscriptions.push(Subscription {
                        id: format!("s{i}"),
                        account: s.account as AccountIx,
                        mrr: s.mrr,
                        currency: if s.eur { Currency::EUR } else { Currency::USD },
                        start_date: day(s.start),
                        end_date: s.len.map(|l| day(s.start + l)),
                    });
                }
                for (i, (a, k, score, at)) in surveys.into_iter().enumerate() {
                    let kind = SurveyKind::ALL[k];
                    let (lo, hi) = kind.score_range();
                    ds.survey_responses.push(SurveyResponse {
                        id: format!("r{i}"),
                        account: a as AccountIx,
                        kind,
                        score: lo + score % (hi - lo + 1),
                        submitted_at: day(at),
                        comment: None,
                    });
                }
                for (i, (a, opened, resolve_after, contacts)) in tickets.into_iter().enumerate() {
                    ds.tickets.push(Ticket {
                        id: format!("t{i}"),
                        account: a as AccountIx,
                        opened_at: day(opened),
                        resolved_at: resolve_after.map(|r| day(opened + r)),
                        first_response_at: None,
                        contacts,
                    });
                }
                for (a, at, users, minutes, features) in usage {
                    ds.usage.push(Usage {
                        account: a as AccountIx,
                        date: day(at),
                        active_users: users,
                        sessions: 0,
                        minutes: Decimal::new(minutes, 1),
                        features_used: features,
                    });
                }
                World { ds }
            },
        )
    })
}

/// Periods of every kind around the data (Oct 2024 .. early 2026).
fn period() -> impl Strategy<Value = Period> {
    prop_oneof![
        (1u32..53).prop_map(|w| Period::week(2025, w).unwrap()),
        (40u32..53).prop_map(|w| Period::week(2024, w).unwrap()),
        (0u32..16).prop_map(|m| {
            let (y, mo) = (2024 + ((9 + m) / 12) as i32, (9 + m) % 12 + 1);
            Period::month(y, mo).unwrap()
        }),
        (1u32..5).prop_map(|q| Period::quarter(2025, q).unwrap()),
        Just(Period::quarter(2024, 4).unwrap()),
        Just(Period::year(2025).unwrap()),
        (0u32..450, 1u32..120).prop_map(|(s, l)| Period::range(day(s), day(s + l)).unwrap()),
    ]
}

fn cfg() -> MetricsConfig {
    MetricsConfig {
        fx: FxRates::new(Currency::USD).with_rate(Currency::EUR, rust_decimal_macros::dec!(1.08)),
        features_available: Some(5),
        ..MetricsConfig::default()
    }
}

/// The brute-force oracle: M_a(d) straight from the definition.
fn m_a(ds: &Dataset, fx: &FxRates, a: AccountIx, d: NaiveDate) -> Decimal {
    ds.subscriptions
        .iter()
        .filter(|s| s.account == a && s.start_date <= d && s.end_date.is_none_or(|e| d < e))
        .map(|s| fx.convert(s.mrr, s.currency).unwrap())
        .sum()
}

fn pred(d: NaiveDate) -> NaiveDate {
    d.pred_opt().unwrap()
}

/// [new, expansion, reactivation, contraction, churn] of one account, day by day.
fn oracle_movements(ds: &Dataset, fx: &FxRates, a: AccountIx, per: &Period) -> [Decimal; 5] {
    let mut out = [Decimal::ZERO; 5];
    let first = ds
        .subscriptions
        .iter()
        .filter(|s| s.account == a)
        .map(|s| s.start_date)
        .min();
    let paid_before = |d: NaiveDate| -> bool {
        let Some(mut x) = first else { return false };
        while x < d {
            if m_a(ds, fx, a, x) > Decimal::ZERO {
                return true;
            }
            x = x.succ_opt().unwrap();
        }
        false
    };
    for d in per.iter_days() {
        let p = m_a(ds, fx, a, pred(d));
        let n = m_a(ds, fx, a, d);
        if p == n {
            continue;
        }
        if p.is_zero() {
            if paid_before(d) {
                out[2] += n;
            } else {
                out[0] += n;
            }
        } else if n.is_zero() {
            out[4] += p;
        } else if n > p {
            out[1] += n - p;
        } else {
            out[3] += p - n;
        }
    }
    out
}

fn in_range(v: Option<Decimal>, lo: i64, hi: i64) -> bool {
    v.is_none_or(|v| Decimal::from(lo) <= v && v <= Decimal::from(hi))
}

fn check_world(w: &World, per: &Period) -> Result<(), TestCaseError> {
    let cfg = cfg();
    let fx = cfg.fx.clone();
    let e = Engine::new(&w.ds, cfg).unwrap();
    let ds = &w.ds;
    let n = ds.accounts().len() as AccountIx;
    let (s1, e1) = (per.day_before(), per.last_day());
    let all = Filter::default();
    let seg: Vec<Filter> = SEGMENTS
        .iter()
        .map(|s| filter(Some(s), None, None))
        .collect();

    let mut subjects: Vec<(Subject, Vec<AccountIx>)> =
        vec![(Subject::Portfolio(&all), (0..n).collect())];
    for f in &seg {
        let members = (0..n)
            .filter(|&a| ds.account(a).segment == f.segment)
            .collect();
        subjects.push((Subject::Portfolio(f), members));
    }
    for a in 0..n {
        subjects.push((Subject::Account(a), vec![a]));
    }

    for (subject, members) in &subjects {
        let get = |m: &str| e.metric(m.parse().unwrap(), *subject, per);
        // oracle sums
        let mut want = [Decimal::ZERO; 5];
        let (mut open, mut close) = (Decimal::ZERO, Decimal::ZERO);
        let (mut c_open, mut c_close, mut c_min) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        let (mut cohort, mut lost, mut customers) = (0u32, 0u32, 0u32);
        for &a in members {
            let mv = oracle_movements(ds, &fx, a, per);
            for i in 0..5 {
                want[i] += mv[i];
            }
            let (o, c) = (m_a(ds, &fx, a, s1), m_a(ds, &fx, a, e1));
            open += o;
            close += c;
            if c > Decimal::ZERO {
                customers += 1;
            }
            if o > Decimal::ZERO {
                cohort += 1;
                c_open += o;
                c_close += c;
                c_min += o.min(c);
                if c.is_zero() {
                    lost += 1;
                }
            }
        }
        let ctx = format!("{subject:?} over {per}");
        let mv = e.movements(*subject, per);
        let got = [
            mv.new,
            mv.expansion,
            mv.reactivation,
            mv.contraction,
            mv.churn,
        ];
        prop_assert_eq!(got, want, "movements vs oracle, {}", ctx);
        // movements and metric values agree
        let names = [
            "new_mrr",
            "expansion_mrr",
            "reactivation_mrr",
            "contraction_mrr",
            "churned_mrr",
        ];
        for (name, v) in names.iter().zip(got) {
            prop_assert_eq!(get(name), Some(v), "{} vs movements, {}", name, ctx);
        }
        prop_assert_eq!(get("expansion_revenue"), Some(mv.expansion), "{}", ctx);
        prop_assert_eq!(get("opening_mrr"), Some(open), "opening, {}", ctx);
        prop_assert_eq!(get("mrr"), Some(close), "mrr, {}", ctx);
        prop_assert_eq!(get("arr"), Some(close * Decimal::from(12)), "arr, {}", ctx);
        // the identity
        let net = mv.new + mv.expansion + mv.reactivation - mv.contraction - mv.churn;
        prop_assert_eq!(net, close - open, "identity, {}", ctx);
        prop_assert_eq!(get("net_new_mrr"), Some(net), "net_new_mrr, {}", ctx);
        // quick ratio
        let loss = mv.contraction + mv.churn;
        let qr = get("quick_ratio");
        if loss.is_zero() {
            prop_assert_eq!(qr, None, "quick_ratio without losses, {}", ctx);
        } else {
            let want = (mv.new + mv.expansion + mv.reactivation) / loss;
            prop_assert!(
                qr.is_some_and(|q| (q - want).abs() < Decimal::new(1, 18)),
                "quick_ratio {:?} vs {}, {}",
                qr,
                want,
                ctx
            );
        }
        // nrr / grr
        let (nrr, grr) = (get("nrr"), get("grr"));
        if cohort == 0 {
            prop_assert_eq!((nrr, grr), (None, None), "empty cohort, {}", ctx);
            prop_assert_eq!(get("revenue_churn_rate"), None);
            prop_assert_eq!(get("net_revenue_churn_rate"), None);
        } else {
            let (nrr, grr) = (nrr.unwrap(), grr.unwrap());
            prop_assert!(
                (nrr - c_close / c_open).abs() < Decimal::new(1, 18),
                "nrr, {}",
                ctx
            );
            prop_assert!(
                (grr - c_min / c_open).abs() < Decimal::new(1, 18),
                "grr, {}",
                ctx
            );
            prop_assert!(nrr >= grr, "nrr {} < grr {}, {}", nrr, grr, ctx);
            prop_assert!(
                Decimal::ZERO <= grr && grr <= Decimal::ONE,
                "grr {}, {}",
                grr,
                ctx
            );
            prop_assert_eq!(
                get("revenue_churn_rate"),
                Some(Decimal::ONE - grr),
                "{}",
                ctx
            );
            prop_assert_eq!(
                get("net_revenue_churn_rate"),
                Some(Decimal::ONE - nrr),
                "{}",
                ctx
            );
        }
        if let Subject::Portfolio(_) = subject {
            prop_assert_eq!(
                get("customers"),
                Some(Decimal::from(customers)),
                "customers, {}",
                ctx
            );
            let (lcr, rr) = (get("logo_churn_rate"), get("retention_rate"));
            if cohort == 0 {
                prop_assert_eq!((lcr, rr), (None, None), "{}", ctx);
            } else {
                let (lcr, rr) = (lcr.unwrap(), rr.unwrap());
                prop_assert!(Decimal::ZERO <= lcr && lcr <= Decimal::ONE, "{}", ctx);
                prop_assert!(Decimal::ZERO <= rr && rr <= Decimal::ONE, "{}", ctx);
                prop_assert_eq!(lcr + rr, Decimal::ONE, "{}", ctx);
                let want = Decimal::from(lost) / Decimal::from(cohort);
                prop_assert!(
                    (lcr - want).abs() < Decimal::new(1, 20),
                    "logo churn {} vs {}, {}",
                    lcr,
                    want,
                    ctx
                );
            }
            let arpa = get("arpa");
            if customers == 0 {
                prop_assert_eq!(arpa, None, "{}", ctx);
            } else {
                let want = close / Decimal::from(customers);
                prop_assert!(
                    arpa.is_some_and(|v| (v - want).abs() < Decimal::new(1, 18)),
                    "arpa, {}",
                    ctx
                );
            }
        } else {
            for m in [
                "customers",
                "logo_churn_rate",
                "retention_rate",
                "arpa",
                "ltv",
            ] {
                prop_assert_eq!(get(m), None, "{} per account, {}", m, ctx);
            }
        }
        // voice and usage ranges
        prop_assert!(
            in_range(get("nps"), -100, 100),
            "nps {:?}, {}",
            get("nps"),
            ctx
        );
        prop_assert!(in_range(get("csat"), 0, 100), "csat, {}", ctx);
        prop_assert!(
            in_range(get("first_contact_resolution"), 0, 100),
            "fcr, {}",
            ctx
        );
        prop_assert!(in_range(get("ces"), 1, 7), "ces {:?}, {}", get("ces"), ctx);
        prop_assert!(
            get("seat_utilization").is_none_or(|v| v >= Decimal::ZERO),
            "{}",
            ctx
        );
        prop_assert!(
            get("dau").is_some_and(|v| v >= Decimal::ZERO),
            "dau, {}",
            ctx
        );
        prop_assert!(
            get("minutes_per_active_user").is_none_or(|v| v >= Decimal::ZERO),
            "{}",
            ctx
        );
        prop_assert!(
            get("adoption_rate").is_none_or(|v| v >= Decimal::ZERO),
            "{}",
            ctx
        );
    }

    // the portfolio is the sum of its accounts (and of its segments)
    let sum_of = |metric: &str, subjects: &mut dyn Iterator<Item = Subject>| -> Decimal {
        subjects
            .map(|s| e.metric(metric.parse().unwrap(), s, per).unwrap())
            .sum()
    };
    let pf = Subject::Portfolio(&all);
    // (dau is a quotient: Σ active_users / days; its per-account quotients sum to within
    // rounding of the 28-digit decimals, checked below)
    for m in ["mrr", "opening_mrr", "new_mrr", "churned_mrr"] {
        let whole = e.metric(m.parse().unwrap(), pf, per).unwrap();
        let by_account = sum_of(m, &mut (0..n).map(Subject::Account));
        prop_assert_eq!(whole, by_account, "{} = sum over accounts, {}", m, per);
        let by_segment = sum_of(m, &mut seg.iter().map(Subject::Portfolio));
        prop_assert_eq!(whole, by_segment, "{} = sum over segments, {}", m, per);
    }
    let dau = e.metric("dau".parse().unwrap(), pf, per).unwrap();
    let dau_sum = sum_of("dau", &mut (0..n).map(Subject::Account));
    prop_assert!(
        (dau - dau_sum).abs() < Decimal::new(1, 20),
        "dau {} vs sum over accounts {}, {}",
        dau,
        dau_sum,
        per
    );
    // portfolio seat utilisation = Σ dau / Σ seats over accounts with seats
    let with_seats: Vec<AccountIx> = (0..n)
        .filter(|&a| ds.account(a).licensed_seats.unwrap_or(0) > 0)
        .collect();
    let su = e.metric("seat_utilization".parse().unwrap(), pf, per);
    if with_seats.is_empty() {
        prop_assert_eq!(su, None);
    } else {
        let dau: Decimal = sum_of("dau", &mut with_seats.iter().map(|&a| Subject::Account(a)));
        let seats: u32 = with_seats
            .iter()
            .map(|&a| ds.account(a).licensed_seats.unwrap())
            .sum();
        let want = dau / Decimal::from(seats);
        prop_assert!(
            su.is_some_and(|v| (v - want).abs() < Decimal::new(1, 18)),
            "seat_utilization {:?} vs {}, {}",
            su,
            want,
            per
        );
    }
    Ok(())
}

proptest! {
    // default config: 256 cases (PROPTEST_CASES overrides)

    #[test]
    fn engine_invariants(w in world(), per in period()) {
        check_world(&w, &per)?;
    }

    #[test]
    fn changes_are_differences(w in world(), per in period()) {
        let e = Engine::new(&w.ds, cfg()).unwrap();
        let pf = Subject::Portfolio(&ALL);
        for m in ["mrr", "nrr", "dau", "nps", "quick_ratio"] {
            let now = val(&e, m, pf, &per.to_string());
            let prev = val(&e, m, pf, &per.previous().to_string());
            let change = val(&e, &format!("{m}.change"), pf, &per.to_string());
            let pct = val(&e, &format!("{m}.change_pct"), pf, &per.to_string());
            match (now, prev) {
                (Some(a), Some(b)) => {
                    prop_assert_eq!(change, Some(a - b));
                    if b.is_zero() {
                        prop_assert_eq!(pct, None);
                    } else {
                        prop_assert!(pct.is_some());
                    }
                }
                _ => prop_assert_eq!((change, pct), (None, None)),
            }
        }
    }
}
