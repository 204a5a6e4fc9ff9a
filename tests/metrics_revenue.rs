//! Revenue metrics of METRICS.md ("Revenue"), pinned with hand-made data sets whose expected
//! values are worked out by hand in the comments.

mod common;

use common::*;
use cs_pulse::metrics::{Engine, MetricId, MetricsConfig, Subject};
use cs_pulse::model::{Currency, RenewalOutcome::*};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// The main revenue data set, all USD.
///
/// | id | segment | owner | plan  | subscriptions                                              |
/// |----|---------|-------|-------|------------------------------------------------------------|
/// | a  | smb     | ann   | basic | 100 01-01..03-20, 50 03-10.. (overlap: summed), 80 03-20.. |
/// | b  | ent     | bob   | pro   | 460 2024-12-01..2025-04-01 (ends exactly on April 1)       |
/// | c  | smb     | bob   | basic | 440 01-01..03-15                                           |
/// | d  | ent     | ann   | pro   | 40 03-05..03-25 (starts and churns within March)           |
/// | e  | smb     | ann   | pro   | 60 2024-11-01..2025-01-01, gap, 70 03-12.. (reactivation)  |
/// | f  | ent     | bob   | basic | 90 03-31.. (new on March's last day)                       |
/// | g  | smb     | ann   | basic | 0 01-01.. (a 0-mrr interval: never paying)                 |
/// | h  | ent     | ann   | pro   | 250 01-01..                                                |
///
/// (dates without a year are in 2025)
///
/// M_a per day:
/// - a: 100 on Jan 1 – Mar 9, 150 on Mar 10–19, 130 from Mar 20 (100 ends, 80 starts, 50 stays)
/// - b: 460 on 2024-12-01 – 2025-03-31, 0 from Apr 1
/// - c: 440 on Jan 1 – Mar 14
/// - d: 40 on Mar 5–24
/// - e: 60 on 2024-11-01 – 2024-12-31, 0 in Jan and Feb and Mar 1–11, 70 from Mar 12
/// - f: 90 from Mar 31
/// - h: 250 from Jan 1
///
/// Costs: 2024-10 100; 2025-02 280; 2025-03 630 + 300 (two rows, summed: 930).
/// Renewals: a renewed 03-05, b renewed 03-20, c churned 03-15, e churned 03-25, d pending 03-10,
/// h pending 02-10, f renewed 04-01.
/// Trials: d ended 03-10 converted 03-05; f ended 03-20 converted 04-15 (after the period: still
/// converted); g ended 03-15 not converted; h ended 03-31 not converted; a ended 04-01 converted
/// 04-01.
fn r1() -> Ds {
    let mut b = Ds::new(vec![
        acct("a")
            .segment("smb")
            .owner("ann")
            .plan("basic")
            .trial_ended("2025-04-01")
            .converted("2025-04-01"),
        acct("b").segment("ent").owner("bob").plan("pro"),
        acct("c").segment("smb").owner("bob").plan("basic"),
        acct("d")
            .segment("ent")
            .owner("ann")
            .plan("pro")
            .trial_ended("2025-03-10")
            .converted("2025-03-05"),
        acct("e").segment("smb").owner("ann").plan("pro"),
        acct("f")
            .segment("ent")
            .owner("bob")
            .plan("basic")
            .trial_ended("2025-03-20")
            .converted("2025-04-15"),
        acct("g")
            .segment("smb")
            .owner("ann")
            .plan("basic")
            .trial_ended("2025-03-15"),
        acct("h")
            .segment("ent")
            .owner("ann")
            .plan("pro")
            .trial_ended("2025-03-31"),
    ]);
    b.sub("a", dec!(100), "2025-01-01..2025-03-20")
        .sub("a", dec!(50), "2025-03-10..")
        .sub("a", dec!(80), "2025-03-20..")
        .sub("b", dec!(460), "2024-12-01..2025-04-01")
        .sub("c", dec!(440), "2025-01-01..2025-03-15")
        .sub("d", dec!(40), "2025-03-05..2025-03-25")
        .sub("e", dec!(60), "2024-11-01..2025-01-01")
        .sub("e", dec!(70), "2025-03-12..")
        .sub("f", dec!(90), "2025-03-31..")
        .sub("g", dec!(0), "2025-01-01..")
        .sub("h", dec!(250), "2025-01-01..");
    b.cost("2024-10", dec!(100))
        .cost("2025-02", dec!(280))
        .cost("2025-03", dec!(630))
        .cost("2025-03", dec!(300));
    b.renewal("a", "2025-03-05", Renewed)
        .renewal("b", "2025-03-20", Renewed)
        .renewal("c", "2025-03-15", Churned)
        .renewal("e", "2025-03-25", Churned)
        .renewal("d", "2025-03-10", Pending)
        .renewal("h", "2025-02-10", Pending)
        .renewal("f", "2025-04-01", Renewed);
    b
}

fn pf() -> Subject<'static> {
    Subject::Portfolio(&ALL)
}

fn ac(b: &Ds, id: &str) -> Subject<'static> {
    Subject::Account(b.ix(id))
}

#[test]
fn portfolio_mrr_and_movements_in_march() {
    let b = r1();
    let e = engine(&b.ds);
    // opening = M(Feb 28) = a 100 + b 460 + c 440 + h 250 = 1250
    check(&e, "opening_mrr", pf(), "2025-03", Some(dec!(1250)));
    // closing = M(Mar 31) = a 130 + b 460 (its interval ends on Apr 1, exclusive) + e 70 + f 90
    //   + h 250 = 1000
    check(&e, "mrr", pf(), "2025-03", Some(dec!(1000)));
    // arr = 12 x 1000
    check(&e, "arr", pf(), "2025-03", Some(dec!(12000)));
    // new: d 40 (Mar 5) + f 90 (Mar 31) = 130; expansion: a 100 -> 150 on Mar 10 = 50;
    // reactivation: e 0 -> 70 on Mar 12 (paid in 2024) = 70; contraction: a 150 -> 130 on Mar 20
    // = 20; churn: c 440 (Mar 15) + d 40 (Mar 25) = 480.
    // identity: 130 + 50 + 70 - 20 - 480 = -250 = 1000 - 1250
    check_movements(
        &e,
        pf(),
        "2025-03",
        [dec!(130), dec!(50), dec!(70), dec!(20), dec!(480)],
    );
    check(&e, "net_new_mrr", pf(), "2025-03", Some(dec!(-250)));
    // quick ratio = (130 + 50 + 70) / (20 + 480) = 250 / 500
    check(&e, "quick_ratio", pf(), "2025-03", Some(dec!(0.5)));
}

#[test]
fn movements_of_other_periods() {
    let b = r1();
    let e = engine(&b.ds);
    // February: nothing changes; M = 1250 on Jan 31 and Feb 28.
    check_movements(&e, pf(), "2025-02", [Decimal::ZERO; 5]);
    check(&e, "mrr", pf(), "2025-02", Some(dec!(1250)));
    // quick ratio with no losses (0 / 0): null
    check(&e, "quick_ratio", pf(), "2025-02", None);
    // January: opening M(2024-12-31) = b 460 + e 60 = 520; closing 1250.
    // new a 100 + c 440 + h 250 = 790 on Jan 1; churn e 60 on Jan 1 (its interval ends Jan 1).
    // g's 0-mrr interval is no movement. 790 - 60 = 730 = 1250 - 520
    check_movements(
        &e,
        pf(),
        "2025-01",
        [dec!(790), dec!(0), dec!(0), dec!(0), dec!(60)],
    );
    // April: b churns 460 on Apr 1 (end_date exclusive), closing 1000 - 460 = 540
    check_movements(
        &e,
        pf(),
        "2025-04",
        [dec!(0), dec!(0), dec!(0), dec!(0), dec!(460)],
    );
    check(&e, "mrr", pf(), "2025-04", Some(dec!(540)));
    // quick ratio with gains 0 and losses 460: 0, not null
    check(&e, "quick_ratio", pf(), "2025-04", Some(dec!(0)));
    // Q1: opening 520, closing 1000. new a 100 + c 440 + h 250 + d 40 + f 90 = 920; expansion 50;
    // reactivation 70; contraction 20; churn e 60 + c 440 + d 40 = 540.
    // 920 + 50 + 70 - 20 - 540 = 480 = 1000 - 520
    check_movements(
        &e,
        pf(),
        "2025-Q1",
        [dec!(920), dec!(50), dec!(70), dec!(20), dec!(540)],
    );
    // 2025: opening 520; closing M(2025-12-31) = a 130 + e 70 + f 90 + h 250 = 540.
    // churn adds b 460 in April: 1000. 920 + 50 + 70 - 20 - 1000 = 20 = 540 - 520
    check_movements(
        &e,
        pf(),
        "2025",
        [dec!(920), dec!(50), dec!(70), dec!(20), dec!(1000)],
    );
    // ISO week 2025-W11 = Mar 10..16: opening M(Mar 9) = a 100 + b 460 + c 440 + d 40 + h 250
    // = 1290; closing M(Mar 16) = a 150 + b 460 + d 40 + e 70 + h 250 = 970.
    // expansion a 50 (Mar 10), reactivation e 70 (Mar 12), churn c 440 (Mar 15).
    // 50 + 70 - 440 = -320 = 970 - 1290
    check_movements(
        &e,
        pf(),
        "2025-W11",
        [dec!(0), dec!(50), dec!(70), dec!(0), dec!(440)],
    );
    // A range 2025-03-20..2025-03-31 (Mar 20..30): contraction a 20 on its first day (M(Mar 19)
    // = 150), churn d 40 on Mar 25; f's start on Mar 31 is outside.
    check_movements(
        &e,
        pf(),
        "2025-03-20..2025-03-31",
        [dec!(0), dec!(0), dec!(0), dec!(20), dec!(40)],
    );
}

#[test]
fn retention_in_march() {
    let b = r1();
    let e = engine(&b.ds);
    // C = paying on Feb 28 = {a 100, b 460, c 440, h 250}, sum 1250.
    // nrr = (a 130 + b 460 + c 0 + h 250) / 1250 = 840 / 1250
    check(&e, "nrr", pf(), "2025-03", Some(dec!(0.672)));
    // grr = (min(130,100) + 460 + 0 + 250) / 1250 = 810 / 1250
    check(&e, "grr", pf(), "2025-03", Some(dec!(0.648)));
    check(&e, "revenue_churn_rate", pf(), "2025-03", Some(dec!(0.352)));
    check(
        &e,
        "net_revenue_churn_rate",
        pf(),
        "2025-03",
        Some(dec!(0.328)),
    );
    // d starts and churns within March: not in C. Only c of the 4 stopped: 1/4.
    check(&e, "logo_churn_rate", pf(), "2025-03", Some(dec!(0.25)));
    check(&e, "retention_rate", pf(), "2025-03", Some(dec!(0.75)));
    // customers = paying on Mar 31: a, b, e, f, h = 5 (g's 0-mrr interval is not paying)
    check(&e, "customers", pf(), "2025-03", Some(dec!(5)));
    // arpa = 1000 / 5
    check(&e, "arpa", pf(), "2025-03", Some(dec!(200)));
    // Q1: C = paying on 2024-12-31 = {b 460, e 60}; at Mar 31 b 460, e 70 (reactivated).
    // nrr = 530 / 520; grr = (460 + min(70, 60)) / 520 = 1; nobody in C stopped.
    check_approx(&e, "nrr", pf(), "2025-Q1", dec!(530) / dec!(520));
    check(&e, "grr", pf(), "2025-Q1", Some(dec!(1)));
    check(&e, "revenue_churn_rate", pf(), "2025-Q1", Some(dec!(0)));
    check(&e, "logo_churn_rate", pf(), "2025-Q1", Some(dec!(0)));
    check(&e, "retention_rate", pf(), "2025-Q1", Some(dec!(1)));
    // April: C = {a 130, b 460, e 70, f 90, h 250} = 1000; at Apr 30 b is 0.
    // nrr = 540 / 1000; logo churn 1/5
    check(&e, "nrr", pf(), "2025-04", Some(dec!(0.54)));
    check(&e, "grr", pf(), "2025-04", Some(dec!(0.54)));
    check(&e, "logo_churn_rate", pf(), "2025-04", Some(dec!(0.2)));
    check(&e, "retention_rate", pf(), "2025-04", Some(dec!(0.8)));
}

#[test]
fn empty_cohort_and_no_customers_are_null() {
    let b = r1();
    let e = engine(&b.ds);
    // 2024-10: nobody pays on Sep 30 or Oct 31.
    for m in [
        "nrr",
        "grr",
        "revenue_churn_rate",
        "net_revenue_churn_rate",
        "logo_churn_rate",
        "retention_rate",
        "arpa",
        "ltv",
        "quick_ratio",
        "renewal_rate",
        "trial_conversion_rate",
        // a cost of 100 in 2024-10 but no retained account: null, not a division by zero
        "retention_cost",
    ] {
        check(&e, m, pf(), "2024-10", None);
    }
    check(&e, "customers", pf(), "2024-10", Some(dec!(0)));
    check(&e, "mrr", pf(), "2024-10", Some(dec!(0)));
    // a data set with no subscription at all
    let empty = Ds::new(vec![acct("z")]);
    let e = engine(&empty.ds);
    check(&e, "mrr", pf(), "2025-03", Some(dec!(0)));
    check(&e, "customers", pf(), "2025-03", Some(dec!(0)));
    check(&e, "arpa", pf(), "2025-03", None);
    check(&e, "nrr", pf(), "2025-03", None);
    check(&e, "quick_ratio", pf(), "2025-03", None);
    check_movements(&e, pf(), "2025-03", [Decimal::ZERO; 5]);
}

#[test]
fn per_account_revenue() {
    let b = r1();
    let e = engine(&b.ds);
    let a = ac(&b, "a");
    // a: opening 100, closing 130, expansion 50 and contraction 20 in one period
    check(&e, "opening_mrr", a, "2025-03", Some(dec!(100)));
    check(&e, "mrr", a, "2025-03", Some(dec!(130)));
    check(&e, "arr", a, "2025-03", Some(dec!(1560)));
    check_movements(
        &e,
        a,
        "2025-03",
        [dec!(0), dec!(50), dec!(0), dec!(20), dec!(0)],
    );
    // quick ratio = 50 / 20
    check(&e, "quick_ratio", a, "2025-03", Some(dec!(2.5)));
    // nrr = 130 / 100; grr = min(130, 100) / 100
    check(&e, "nrr", a, "2025-03", Some(dec!(1.3)));
    check(&e, "grr", a, "2025-03", Some(dec!(1)));
    check(&e, "revenue_churn_rate", a, "2025-03", Some(dec!(0)));
    check(&e, "net_revenue_churn_rate", a, "2025-03", Some(dec!(-0.3)));

    // b: its interval ends on Apr 1, so it still counts on Mar 31; it churns in April.
    let bb = ac(&b, "b");
    check(&e, "mrr", bb, "2025-03", Some(dec!(460)));
    check(&e, "nrr", bb, "2025-03", Some(dec!(1)));
    check(&e, "mrr", bb, "2025-04", Some(dec!(0)));
    check_movements(
        &e,
        bb,
        "2025-04",
        [dec!(0), dec!(0), dec!(0), dec!(0), dec!(460)],
    );
    check(&e, "nrr", bb, "2025-04", Some(dec!(0)));
    check(&e, "grr", bb, "2025-04", Some(dec!(0)));
    check(&e, "revenue_churn_rate", bb, "2025-04", Some(dec!(1)));
    check(&e, "quick_ratio", bb, "2025-04", Some(dec!(0)));

    // c churns 440 on Mar 15
    let c = ac(&b, "c");
    check_movements(
        &e,
        c,
        "2025-03",
        [dec!(0), dec!(0), dec!(0), dec!(0), dec!(440)],
    );
    check(&e, "nrr", c, "2025-03", Some(dec!(0)));
    check(&e, "net_revenue_churn_rate", c, "2025-03", Some(dec!(1)));

    // d starts and churns within March: new 40 and churn 40; not paying on Feb 28, so its
    // nrr/grr are null; quick ratio 40 / 40.
    let dd = ac(&b, "d");
    check_movements(
        &e,
        dd,
        "2025-03",
        [dec!(40), dec!(0), dec!(0), dec!(0), dec!(40)],
    );
    check(&e, "mrr", dd, "2025-03", Some(dec!(0)));
    check(&e, "quick_ratio", dd, "2025-03", Some(dec!(1)));
    for m in ["nrr", "grr", "revenue_churn_rate", "net_revenue_churn_rate"] {
        check(&e, m, dd, "2025-03", None);
    }

    // e: paid 60 in Nov-Dec 2024, stopped on Jan 1, pays 70 again from Mar 12: reactivation.
    let ee = ac(&b, "e");
    check_movements(
        &e,
        ee,
        "2025-03",
        [dec!(0), dec!(0), dec!(70), dec!(0), dec!(0)],
    );
    check(&e, "quick_ratio", ee, "2025-03", None);
    check(&e, "nrr", ee, "2025-03", None);
    check_movements(
        &e,
        ee,
        "2024-11",
        [dec!(60), dec!(0), dec!(0), dec!(0), dec!(0)],
    );
    check_movements(
        &e,
        ee,
        "2025-01",
        [dec!(0), dec!(0), dec!(0), dec!(0), dec!(60)],
    );
    // over the year: opening 60 (Dec 31), churn 60, reactivation 70, closing 70
    check_movements(
        &e,
        ee,
        "2025",
        [dec!(0), dec!(0), dec!(70), dec!(0), dec!(60)],
    );
    // e is in the 2025 cohort (paying on 2024-12-31): nrr 70/60, grr 60/60
    check_approx(&e, "nrr", ee, "2025", dec!(70) / dec!(60));
    check(&e, "grr", ee, "2025", Some(dec!(1)));

    // f: new 90 on the period's last day
    let f = ac(&b, "f");
    check_movements(
        &e,
        f,
        "2025-03",
        [dec!(90), dec!(0), dec!(0), dec!(0), dec!(0)],
    );
    check(&e, "mrr", f, "2025-03", Some(dec!(90)));

    // g: a 0-mrr interval is never paying and never moves
    let g = ac(&b, "g");
    check(&e, "mrr", g, "2025-03", Some(dec!(0)));
    check_movements(&e, g, "2025-03", [Decimal::ZERO; 5]);
    check(&e, "quick_ratio", g, "2025-03", None);
    check(&e, "nrr", g, "2025-03", None);
}

#[test]
fn portfolio_only_metrics_do_not_exist_per_account() {
    let b = r1();
    let e = engine(&b.ds);
    for id in ["a", "b", "h"] {
        for m in [
            "customers",
            "logo_churn_rate",
            "retention_rate",
            "arpa",
            "ltv",
            "trial_conversion_rate",
            "retention_cost",
            "customers.change",
            "arpa.change_pct",
        ] {
            check(&e, m, ac(&b, id), "2025-03", None);
        }
    }
    // and days_to_renewal does not exist for the portfolio
    check(&e, "days_to_renewal", pf(), "2025-03", None);
    // the registry's scopes agree
    assert!(!MetricId::Customers.def().scope.account());
    assert!(MetricId::Mrr.def().scope.account());
}

#[test]
fn filtered_portfolios() {
    let b = r1();
    let e = engine(&b.ds);
    // segment smb = {a, c, e, g}: opening a 100 + c 440 = 540; closing a 130 + e 70 = 200.
    // expansion 50, reactivation 70, contraction 20, churn 440: 120 - 460 = -340 = 200 - 540
    let smb = filter(Some("smb"), None, None);
    let s = Subject::Portfolio(&smb);
    check(&e, "opening_mrr", s, "2025-03", Some(dec!(540)));
    check(&e, "mrr", s, "2025-03", Some(dec!(200)));
    check_movements(
        &e,
        s,
        "2025-03",
        [dec!(0), dec!(50), dec!(70), dec!(20), dec!(440)],
    );
    check_approx(&e, "quick_ratio", s, "2025-03", dec!(120) / dec!(460));
    // customers a, e: arpa 200 / 2
    check(&e, "customers", s, "2025-03", Some(dec!(2)));
    check(&e, "arpa", s, "2025-03", Some(dec!(100)));
    // C = {a, c}: c stopped
    check(&e, "logo_churn_rate", s, "2025-03", Some(dec!(0.5)));
    check(&e, "retention_rate", s, "2025-03", Some(dec!(0.5)));
    // nrr = 130 / 540; grr = 100 / 540
    check_approx(&e, "nrr", s, "2025-03", dec!(130) / dec!(540));
    check_approx(&e, "grr", s, "2025-03", dec!(100) / dec!(540));

    // owner ann = {a, d, e, g, h}: opening 100 + 250 = 350; closing 130 + 70 + 250 = 450.
    // new d 40, expansion 50, reactivation 70, contraction 20, churn d 40: 160 - 60 = 100
    let ann = filter(None, Some("ann"), None);
    let s = Subject::Portfolio(&ann);
    check_movements(
        &e,
        s,
        "2025-03",
        [dec!(40), dec!(50), dec!(70), dec!(20), dec!(40)],
    );
    check(&e, "mrr", s, "2025-03", Some(dec!(450)));
    // customers a, e, h: 450 / 3
    check(&e, "arpa", s, "2025-03", Some(dec!(150)));
    // C = {a, h}: grr = (100 + 250) / 350 = 1; nobody stopped
    check(&e, "grr", s, "2025-03", Some(dec!(1)));
    check(&e, "logo_churn_rate", s, "2025-03", Some(dec!(0)));

    // plan pro = {b, d, e, h}: closing 460 + 70 + 250 = 780, customers 3 -> arpa 260
    let pro = filter(None, None, Some("pro"));
    let s = Subject::Portfolio(&pro);
    check(&e, "mrr", s, "2025-03", Some(dec!(780)));
    check(&e, "arpa", s, "2025-03", Some(dec!(260)));
    check_movements(
        &e,
        s,
        "2025-03",
        [dec!(40), dec!(0), dec!(70), dec!(0), dec!(40)],
    );

    // segment ent and owner bob = {b, f}: 460 + 90 = 550 over 2 customers
    let both = filter(Some("ent"), Some("bob"), None);
    let s = Subject::Portfolio(&both);
    check(&e, "mrr", s, "2025-03", Some(dec!(550)));
    check(&e, "customers", s, "2025-03", Some(dec!(2)));
    check(&e, "arpa", s, "2025-03", Some(dec!(275)));

    // a filter matching nobody: sums are 0, ratios null
    let none = filter(Some("nope"), None, None);
    let s = Subject::Portfolio(&none);
    check(&e, "mrr", s, "2025-03", Some(dec!(0)));
    check(&e, "customers", s, "2025-03", Some(dec!(0)));
    check(&e, "arpa", s, "2025-03", None);
    check(&e, "nrr", s, "2025-03", None);
    check(&e, "logo_churn_rate", s, "2025-03", None);
}

#[test]
fn changes_against_the_previous_period() {
    let b = r1();
    let e = engine(&b.ds);
    // mrr: March 1000, February 1250
    check(&e, "mrr.change", pf(), "2025-03", Some(dec!(-250)));
    check(&e, "mrr.change_pct", pf(), "2025-03", Some(dec!(-0.2)));
    // nrr: February 1250/1250 = 1, March 0.672
    check(&e, "nrr", pf(), "2025-02", Some(dec!(1)));
    check(&e, "nrr.change", pf(), "2025-03", Some(dec!(-0.328)));
    check(&e, "nrr.change_pct", pf(), "2025-03", Some(dec!(-0.328)));
    // customers 4 -> 5; arpa 1250/4 = 312.5 -> 200
    check(&e, "customers.change", pf(), "2025-03", Some(dec!(1)));
    check(
        &e,
        "customers.change_pct",
        pf(),
        "2025-03",
        Some(dec!(0.25)),
    );
    check(&e, "arpa", pf(), "2025-02", Some(dec!(312.5)));
    check(&e, "arpa.change", pf(), "2025-03", Some(dec!(-112.5)));
    check(&e, "arpa.change_pct", pf(), "2025-03", Some(dec!(-0.36)));
    // logo churn 0 -> 0.25: change 0.25, change_pct null (previous 0)
    check(
        &e,
        "logo_churn_rate.change",
        pf(),
        "2025-03",
        Some(dec!(0.25)),
    );
    check(&e, "logo_churn_rate.change_pct", pf(), "2025-03", None);
    // net new 0 -> -250: change_pct null (previous 0)
    check(&e, "net_new_mrr.change", pf(), "2025-03", Some(dec!(-250)));
    check(&e, "net_new_mrr.change_pct", pf(), "2025-03", None);
    // quick ratio null in February: both changes null
    check(&e, "quick_ratio.change", pf(), "2025-03", None);
    check(&e, "quick_ratio.change_pct", pf(), "2025-03", None);
    // per account: f 0 -> 90
    let f = ac(&b, "f");
    check(&e, "mrr.change", f, "2025-03", Some(dec!(90)));
    check(&e, "mrr.change_pct", f, "2025-03", None);
    // d's nrr is null in March: change null
    check(&e, "nrr.change", ac(&b, "d"), "2025-03", None);
    // a: 100 -> 130
    check(
        &e,
        "mrr.change_pct",
        ac(&b, "a"),
        "2025-03",
        Some(dec!(0.3)),
    );
    // weeks: W11 closing 970, W10 (Mar 3..9) closing M(Mar 9) = 1290
    check(&e, "mrr.change", pf(), "2025-W11", Some(dec!(-320)));
    // a range's previous period has the same length: 2025-03-20..2025-03-31 (11 days) follows
    // 2025-03-09..2025-03-20, closing M(Mar 19) = a 150 + b 460 + c 0 + d 40 + e 70 + h 250
    // = 970; closing M(Mar 30) = a 130 + b 460 + e 70 + h 250 = 910
    check(
        &e,
        "mrr.change",
        pf(),
        "2025-03-20..2025-03-31",
        Some(dec!(-60)),
    );
    // quarters: Q1 closing 1000, 2024-Q4 closing M(2024-12-31) = 520
    check(&e, "mrr.change", pf(), "2025-Q1", Some(dec!(480)));
    // a change of money is an exact difference
    check(&e, "arr.change", pf(), "2025-03", Some(dec!(-3000)));
}

/// METRICS.md only says "relative difference"; docs/metrics.md (the project's chosen reading)
/// divides by the absolute previous value, so that a negative previous value keeps the sign of
/// the change.
#[test]
fn change_pct_of_a_negative_previous_value_divides_by_its_size() {
    let b = r1();
    let e = engine(&b.ds);
    // net new: March 1000 - 1250 = -250; April 540 - 1000 = -460.
    // change -210; change_pct -210 / |-250| = -0.84 (worse), not +0.84
    check(&e, "net_new_mrr", pf(), "2025-04", Some(dec!(-460)));
    check(&e, "net_new_mrr.change", pf(), "2025-04", Some(dec!(-210)));
    check(
        &e,
        "net_new_mrr.change_pct",
        pf(),
        "2025-04",
        Some(dec!(-0.84)),
    );
    // net revenue churn rate: March 1 - 0.672 = 0.328, April 1 - 0.54 = 0.46 (positive, plain)
    check(
        &e,
        "net_revenue_churn_rate.change_pct",
        pf(),
        "2025-04",
        Some(dec!(0.132) / dec!(0.328)),
    );
}

#[test]
fn renewal_rate() {
    let b = r1();
    let e = engine(&b.ds);
    // March: renewed a, b; churned c, e; d pending (left out): 2 / 4
    check(&e, "renewal_rate", pf(), "2025-03", Some(dec!(0.5)));
    // February: only h, pending: null
    check(&e, "renewal_rate", pf(), "2025-02", None);
    // April: f renewed on Apr 1: 1 / 1
    check(&e, "renewal_rate", pf(), "2025-04", Some(dec!(1)));
    check(&e, "renewal_rate.change", pf(), "2025-04", Some(dec!(0.5)));
    check(
        &e,
        "renewal_rate.change_pct",
        pf(),
        "2025-04",
        Some(dec!(1)),
    );
    check(&e, "renewal_rate.change", pf(), "2025-03", None);
    check(&e, "renewal_rate.change_pct", pf(), "2025-03", None);
    // per account
    check(&e, "renewal_rate", ac(&b, "a"), "2025-03", Some(dec!(1)));
    check(&e, "renewal_rate", ac(&b, "c"), "2025-03", Some(dec!(0)));
    check(&e, "renewal_rate", ac(&b, "d"), "2025-03", None);
    check(&e, "renewal_rate", ac(&b, "g"), "2025-03", None);
    // owner bob = {b, c, f}: b renewed, c churned (f's is in April): 1 / 2
    let bob = filter(None, Some("bob"), None);
    check(
        &e,
        "renewal_rate",
        Subject::Portfolio(&bob),
        "2025-03",
        Some(dec!(0.5)),
    );
    // plan pro = {b, d, e, h}: b renewed, e churned, d pending: 1 / 2
    let pro = filter(None, None, Some("pro"));
    check(
        &e,
        "renewal_rate",
        Subject::Portfolio(&pro),
        "2025-03",
        Some(dec!(0.5)),
    );
    // Q1: the same March renewals (h's February one is pending): 2 / 4
    check(&e, "renewal_rate", pf(), "2025-Q1", Some(dec!(0.5)));
}

#[test]
fn trial_conversion_rate() {
    let b = r1();
    let e = engine(&b.ds);
    // trials ending in March: d (converted), f (converted Apr 15: any date counts), g, h: 2 / 4
    check(
        &e,
        "trial_conversion_rate",
        pf(),
        "2025-03",
        Some(dec!(0.5)),
    );
    // none end in February
    check(&e, "trial_conversion_rate", pf(), "2025-02", None);
    // April: a, converted: 1 / 1
    check(&e, "trial_conversion_rate", pf(), "2025-04", Some(dec!(1)));
    // owner bob: f only; segment smb: g only
    let bob = filter(None, Some("bob"), None);
    check(
        &e,
        "trial_conversion_rate",
        Subject::Portfolio(&bob),
        "2025-03",
        Some(dec!(1)),
    );
    let smb = filter(Some("smb"), None, None);
    check(
        &e,
        "trial_conversion_rate",
        Subject::Portfolio(&smb),
        "2025-03",
        Some(dec!(0)),
    );
    // a week: W12 = Mar 17..23 holds f's (Mar 20) only
    check(&e, "trial_conversion_rate", pf(), "2025-W12", Some(dec!(1)));
}

#[test]
fn retention_cost() {
    let b = r1();
    let e = engine(&b.ds);
    // March: cost 630 + 300 = 930 (two rows summed), whole month inside.
    // retained = paying on Feb 28 and Mar 31 = {a, b, h} (c churned): 930 / 3
    check(&e, "retention_cost", pf(), "2025-03", Some(dec!(310)));
    // February: 280; retained {a, b, c, h}: 280 / 4
    check(&e, "retention_cost", pf(), "2025-02", Some(dec!(70)));
    // a range 2025-02-15..2025-03-15: Feb 15..28 = 14 of 28 days -> 280 x 14/28 = 140;
    // Mar 1..14 = 14 of 31 days -> 930 x 14/31 = 420; total 560.
    // retained: paying Feb 14 {a, b, c, h} and Mar 14 {a, b, c, d, h} -> {a, b, c, h}: 560 / 4
    check_approx(
        &e,
        "retention_cost",
        pf(),
        "2025-02-15..2025-03-15",
        dec!(140),
    );
    // a week W11 = Mar 10..16: 930 x 7/31 = 210; paying Mar 9 {a, b, c, d, h} and Mar 16
    // {a, b, d, e, h} -> retained {a, b, d, h}: 210 / 4
    check_approx(&e, "retention_cost", pf(), "2025-W11", dec!(52.5));
    // Q1: 280 + 930 (no January cost) = 1210; C = paying 2024-12-31 {b, e}, both paying Mar 31
    check(&e, "retention_cost", pf(), "2025-Q1", Some(dec!(605)));
}

#[test]
fn ltv_over_calendar_months() {
    let b = r1();
    // Monthly logo churn (portfolio):
    //   2024-09, 2024-10, 2024-11: nobody paying on the day before: empty cohort, skipped
    //   2024-12: C = {e} (paying Nov 30), e still paying Dec 31: 0
    //   2025-01: C = {b, e}, e stopped on Jan 1: 1/2
    //   2025-02: C = {a, b, c, h}: 0
    //   2025-03: C = {a, b, c, h}, c stopped: 1/4
    // March, 6 months 2024-10 .. 2025-03: mean (0 + 0.5 + 0 + 0.25) / 4 = 0.1875.
    // arpa 200 -> default margin 1: 200 / 0.1875 = 1066.67
    let e = engine(&b.ds);
    check_approx(&e, "ltv", pf(), "2025-03", dec!(200) / dec!(0.1875));
    // Q1 ends on the same day: same months, same arpa
    check_approx(&e, "ltv", pf(), "2025-Q1", dec!(200) / dec!(0.1875));
    // February: months 2024-09 .. 2025-02: (0 + 0.5 + 0) / 3 = 1/6; arpa 312.5 -> 1875
    check_approx(&e, "ltv", pf(), "2025-02", dec!(1875));
    // Week W11 (Mar 10..16): the months ending on or before Mar 16 are 2024-09 .. 2025-02
    // (March is not complete): 1/6. arpa = M(Mar 16) 970 / 5 customers = 194 -> 1164
    check(&e, "arpa", pf(), "2025-W11", Some(dec!(194)));
    check_approx(&e, "ltv", pf(), "2025-W11", dec!(1164));
    // 2024-11: every month 2024-06 .. 2024-11 has an empty cohort: null (arpa = 60 exists)
    check(&e, "arpa", pf(), "2024-11", Some(dec!(60)));
    check(&e, "ltv", pf(), "2024-11", None);
    // segment ent = {b, d, f, h}: 2025-01 C = {b}, 2025-02 {b, h}, 2025-03 {b, h}, all 0:
    // the mean is 0 -> null
    let ent = filter(Some("ent"), None, None);
    check(&e, "ltv", Subject::Portfolio(&ent), "2025-03", None);

    // gross margin 0.75: 200 x 0.75 / 0.1875 = 800
    let cfg = MetricsConfig {
        gross_margin: dec!(0.75),
        ..MetricsConfig::default()
    };
    let e = engine_with(&b.ds, cfg);
    check(&e, "ltv", pf(), "2025-03", Some(dec!(800)));
    check(&e, "ltv", pf(), "2025-Q1", Some(dec!(800)));

    // ltv_months 2: 2025-02 and 2025-03: (0 + 0.25) / 2 = 0.125 -> 200 / 0.125 = 1600
    let cfg = MetricsConfig {
        ltv_months: 2,
        ..MetricsConfig::default()
    };
    let e = engine_with(&b.ds, cfg);
    check(&e, "ltv", pf(), "2025-03", Some(dec!(1600)));
    // ltv_months 1 in February: 2025-02 alone, rate 0 -> null
    let cfg = MetricsConfig {
        ltv_months: 1,
        ..MetricsConfig::default()
    };
    let e = engine_with(&b.ds, cfg);
    check(&e, "ltv", pf(), "2025-02", None);
    // ltv_months 1 in January: 2025-01 alone, 1/2 -> arpa (1250 / 4 = 312.5) / 0.5 = 625
    check(&e, "ltv", pf(), "2025-01", Some(dec!(625)));
}

/// Reactivation within one period, a 0-mrr interval before the first payment, and changes
/// exactly on the period's first day.
///
/// - k: 10 on Mar 3..5 (new, then churn on Mar 6), 15 from Mar 20 (reactivation)
/// - l: 0 on Jan 1..31 (not paying), 50 from Mar 10: new, not reactivation
/// - m: 20 from Feb 1, replaced by 30 on Mar 1: expansion 10 on the period's first day
/// - n: 25 on Feb 1..28, end_date Mar 1: churn 25 on Mar 1, counted in March
#[test]
fn reactivation_inside_the_period_and_first_day_changes() {
    let mut b = Ds::new(vec![acct("k"), acct("l"), acct("m"), acct("n")]);
    b.sub("k", dec!(10), "2025-03-03..2025-03-06")
        .sub("k", dec!(15), "2025-03-20..")
        .sub("l", dec!(0), "2025-01-01..2025-02-01")
        .sub("l", dec!(50), "2025-03-10..")
        .sub("m", dec!(20), "2025-02-01..2025-03-01")
        .sub("m", dec!(30), "2025-03-01..")
        .sub("n", dec!(25), "2025-02-01..2025-03-01");
    let e = engine(&b.ds);
    // opening M(Feb 28) = m 20 + n 25 = 45; closing = k 15 + l 50 + m 30 = 95.
    // new k 10 + l 50 = 60, expansion m 10, reactivation k 15, churn k 10 + n 25 = 35.
    // 60 + 10 + 15 - 35 = 50 = 95 - 45
    check_movements(
        &e,
        pf(),
        "2025-03",
        [dec!(60), dec!(10), dec!(15), dec!(0), dec!(35)],
    );
    check_movements(
        &e,
        Subject::Account(b.ix("k")),
        "2025-03",
        [dec!(10), dec!(0), dec!(15), dec!(0), dec!(10)],
    );
    check_movements(
        &e,
        Subject::Account(b.ix("l")),
        "2025-03",
        [dec!(50), dec!(0), dec!(0), dec!(0), dec!(0)],
    );
    // February's closing includes n (its end date Mar 1 is exclusive)
    check(&e, "mrr", pf(), "2025-02", Some(dec!(45)));
    check(
        &e,
        "mrr",
        Subject::Account(b.ix("n")),
        "2025-02",
        Some(dec!(25)),
    );
    // C = {m, n}: n stopped. nrr = 30 / 45, grr = 20 / 45, logo churn 1/2
    check_approx(&e, "nrr", pf(), "2025-03", dec!(30) / dec!(45));
    check_approx(&e, "grr", pf(), "2025-03", dec!(20) / dec!(45));
    check(&e, "logo_churn_rate", pf(), "2025-03", Some(dec!(0.5)));
    // k is not in C although it pays on Mar 31
    check(&e, "customers", pf(), "2025-03", Some(dec!(3)));
    check(&e, "nrr", Subject::Account(b.ix("k")), "2025-03", None);
    // one-day range Mar 1..2: expansion m 10 and churn n 25 both on Mar 1
    check_movements(
        &e,
        pf(),
        "2025-03-01..2025-03-02",
        [dec!(0), dec!(10), dec!(0), dec!(0), dec!(25)],
    );
}

/// Two currencies, EUR at 1.08 USD, converted per interval, exactly, unrounded.
///
/// - x: 99.99 EUR Jan 1..Mar 9, then 100.01 EUR from Mar 10 (expansion of 0.02 EUR)
/// - y: 100 USD from Jan 1
/// - z: two intervals of 0.05 EUR from Jan 1 (0.054 USD each, not rounded to 0.05)
/// - w: 10 EUR on Mar 5 only
#[test]
fn two_currencies_convert_exactly() {
    let mut b = Ds::new(vec![acct("x"), acct("y"), acct("z"), acct("w")]);
    b.sub_in("x", dec!(99.99), Currency::EUR, "2025-01-01..2025-03-10")
        .sub_in("x", dec!(100.01), Currency::EUR, "2025-03-10..")
        .sub("y", dec!(100), "2025-01-01..")
        .sub_in("z", dec!(0.05), Currency::EUR, "2025-01-01..")
        .sub_in("z", dec!(0.05), Currency::EUR, "2025-01-01..")
        .sub_in("w", dec!(10), Currency::EUR, "2025-03-05..2025-03-06");
    // without an EUR rate the engine refuses the data
    assert!(Engine::new(&b.ds, MetricsConfig::default()).is_err());
    let e = engine_with(&b.ds, eur_config());
    // opening = 99.99 x 1.08 + 100 + 2 x 0.05 x 1.08 = 107.9892 + 100 + 0.108 = 208.0972
    check(&e, "opening_mrr", pf(), "2025-03", Some(dec!(208.0972)));
    // closing = 100.01 x 1.08 + 100 + 0.108 = 108.0108 + 100.108 = 208.1188
    check(&e, "mrr", pf(), "2025-03", Some(dec!(208.1188)));
    // arr = 12 x 208.1188
    check(&e, "arr", pf(), "2025-03", Some(dec!(2497.4256)));
    // new w 10.8, expansion x 0.02 x 1.08 = 0.0216, churn w 10.8
    check_movements(
        &e,
        pf(),
        "2025-03",
        [dec!(10.8), dec!(0.0216), dec!(0), dec!(0), dec!(10.8)],
    );
    check(&e, "mrr.change", pf(), "2025-03", Some(dec!(0.0216)));
    check(
        &e,
        "mrr",
        Subject::Account(b.ix("z")),
        "2025-03",
        Some(dec!(0.108)),
    );
    check(
        &e,
        "mrr",
        Subject::Account(b.ix("x")),
        "2025-02",
        Some(dec!(107.9892)),
    );
    // 3 customers (w stopped): arpa = 208.1188 / 3
    check(&e, "customers", pf(), "2025-03", Some(dec!(3)));
    check_approx(&e, "arpa", pf(), "2025-03", dec!(208.1188) / dec!(3));
    // x: nrr = 108.0108 / 107.9892, exact ratio of the two
    check_approx(
        &e,
        "nrr",
        Subject::Account(b.ix("x")),
        "2025-03",
        dec!(108.0108) / dec!(107.9892),
    );
}
