//! Voice-of-the-customer and usage metrics of METRICS.md, pinned with hand-made data sets whose
//! expected values are worked out by hand in the comments.

mod common;

use common::*;
use cs_pulse::metrics::{MetricsConfig, Subject};
use cs_pulse::model::SurveyKind::{Ces, Csat, Nps};
use rust_decimal_macros::dec;

fn pf() -> Subject<'static> {
    Subject::Portfolio(&ALL)
}

/// Survey responses and tickets of a (segment smb), b (ent) and c (no responses, no tickets).
/// Nobody pays anything: voice metrics count every account.
fn voice() -> Ds {
    let mut b = Ds::new(vec![
        acct("a").segment("smb"),
        acct("b").segment("ent"),
        acct("c").segment("smb"),
    ]);
    // nps in March: a 6 (detractor), 7, 8 (passive), 9, 10 (promoters); b 9, 9 (promoters),
    // 6 (detractor). Outside March: a 10 on Feb 28, b 0 on Apr 1.
    for s in [6, 7, 8, 9, 10] {
        b.survey("a", Nps, s, "2025-03-10");
    }
    b.survey("b", Nps, 9, "2025-03-01")
        .survey("b", Nps, 9, "2025-03-31")
        .survey("b", Nps, 6, "2025-03-15")
        .survey("a", Nps, 10, "2025-02-28")
        .survey("b", Nps, 0, "2025-04-01");
    // csat in March: a 3, 4, 5, 1; b 4
    for s in [3, 4, 5, 1] {
        b.survey("a", Csat, s, "2025-03-05");
    }
    b.survey("b", Csat, 4, "2025-03-06");
    // ces in March: a 1, 2; b 6
    b.survey("a", Ces, 1, "2025-03-07")
        .survey("a", Ces, 2, "2025-03-08")
        .survey("b", Ces, 6, "2025-03-09");
    // tickets
    b.ticket("a", "2025-02-20", Some("2025-03-02"), Some(1)) // resolved in March, first contact
        .ticket("a", "2025-03-05", Some("2025-03-06"), Some(2)) // resolved, not first
        .ticket("a", "2025-03-10", None, Some(1)) // unresolved: left out
        .ticket("a", "2025-03-25", Some("2025-04-02"), Some(1)) // resolved in April
        .ticket("a", "2025-03-11", Some("2025-03-12"), Some(1)) // first
        .ticket("a", "2025-03-12", Some("2025-03-31"), Some(1)) // first
        .ticket("b", "2025-03-01", Some("2025-03-01"), None) // empty contacts: not first
        .ticket("b", "2025-03-03", Some("2025-03-04"), Some(1)) // first
        .ticket("b", "2025-03-05", Some("2025-03-06"), Some(2))
        .ticket("b", "2025-03-07", Some("2025-03-08"), Some(5));
    b
}

#[test]
fn nps_boundaries() {
    let b = voice();
    let e = engine(&b.ds);
    let (a, bb, c) = (
        Subject::Account(b.ix("a")),
        Subject::Account(b.ix("b")),
        Subject::Account(b.ix("c")),
    );
    // a: promoters 9, 10 = 2; detractors 6 = 1; 7 and 8 are passive; 5 responses:
    // 100 x (2 - 1) / 5 = 20
    check(&e, "nps", a, "2025-03", Some(dec!(20)));
    // b: 100 x (2 - 1) / 3
    check_approx(&e, "nps", bb, "2025-03", dec!(100) / dec!(3));
    // portfolio: 100 x (4 - 2) / 8 = 25
    check(&e, "nps", pf(), "2025-03", Some(dec!(25)));
    // no responses: null, never 0
    check(&e, "nps", c, "2025-03", None);
    check(&e, "nps", pf(), "2025-01", None);
    // February: a's single 10: 100
    check(&e, "nps", pf(), "2025-02", Some(dec!(100)));
    // April: b's 0: -100
    check(&e, "nps", pf(), "2025-04", Some(dec!(-100)));
    // change: 25 - 100 = -75; change_pct -75 / 100
    check(&e, "nps.change", pf(), "2025-03", Some(dec!(-75)));
    check(&e, "nps.change_pct", pf(), "2025-03", Some(dec!(-0.75)));
    // previous null: null changes (b had no response in February)
    check(&e, "nps.change", bb, "2025-03", None);
    check(&e, "nps.change_pct", bb, "2025-03", None);
    // segment smb = {a, c}: a's 20
    let smb = filter(Some("smb"), None, None);
    check(
        &e,
        "nps",
        Subject::Portfolio(&smb),
        "2025-03",
        Some(dec!(20)),
    );
    // a quarter: Q1 = a's 5 + a's Feb 10 + b's 3 March = 9 responses: promoters 2 + 1 + 2 = 5,
    // detractors 1 + 1 = 2: 100 x 3 / 9
    check_approx(&e, "nps", pf(), "2025-Q1", dec!(100) / dec!(3));
    // single days at the edges: a 7 alone would be 0 -> use a one-day range on Mar 10: a's 5
    check(&e, "nps", pf(), "2025-03-10..2025-03-11", Some(dec!(20)));
}

#[test]
fn nps_exact_boundary_scores() {
    // 6 is a detractor, 7 and 8 passive, 9 a promoter: one response each, one account each
    let mut b = Ds::new(vec![
        acct("s6"),
        acct("s7"),
        acct("s8"),
        acct("s9"),
        acct("s0"),
    ]);
    b.survey("s6", Nps, 6, "2025-03-02")
        .survey("s7", Nps, 7, "2025-03-02")
        .survey("s8", Nps, 8, "2025-03-02")
        .survey("s9", Nps, 9, "2025-03-02")
        .survey("s0", Nps, 0, "2025-03-02");
    let e = engine(&b.ds);
    let one = |id: &str| Subject::Account(b.ix(id));
    check(&e, "nps", one("s6"), "2025-03", Some(dec!(-100)));
    check(&e, "nps", one("s7"), "2025-03", Some(dec!(0)));
    check(&e, "nps", one("s8"), "2025-03", Some(dec!(0)));
    check(&e, "nps", one("s9"), "2025-03", Some(dec!(100)));
    check(&e, "nps", one("s0"), "2025-03", Some(dec!(-100)));
    // 100 x (1 - 2) / 5
    check(&e, "nps", pf(), "2025-03", Some(dec!(-20)));
}

#[test]
fn csat_and_ces() {
    let b = voice();
    let e = engine(&b.ds);
    let (a, bb, c) = (
        Subject::Account(b.ix("a")),
        Subject::Account(b.ix("b")),
        Subject::Account(b.ix("c")),
    );
    // csat a: 4 and 5 satisfied, 3 and 1 not: 100 x 2 / 4
    check(&e, "csat", a, "2025-03", Some(dec!(50)));
    // b: 4 -> 100
    check(&e, "csat", bb, "2025-03", Some(dec!(100)));
    // portfolio 100 x 3 / 5 (nps answers are not csat answers)
    check(&e, "csat", pf(), "2025-03", Some(dec!(60)));
    check(&e, "csat", c, "2025-03", None);
    check(&e, "csat", pf(), "2025-02", None);
    let ent = filter(Some("ent"), None, None);
    check(
        &e,
        "csat",
        Subject::Portfolio(&ent),
        "2025-03",
        Some(dec!(100)),
    );
    // csat previous null -> change null
    check(&e, "csat.change", pf(), "2025-03", None);
    // ces: a (1 + 2) / 2; b 6; portfolio (1 + 2 + 6) / 3
    check(&e, "ces", a, "2025-03", Some(dec!(1.5)));
    check(&e, "ces", bb, "2025-03", Some(dec!(6)));
    check(&e, "ces", pf(), "2025-03", Some(dec!(3)));
    check(&e, "ces", c, "2025-03", None);
    check(&e, "ces", pf(), "2025-04", None);
    // a week holding only a's Mar 7 (W10 = Mar 3..9 holds a 1, a 2, b 6)
    check(&e, "ces", pf(), "2025-W10", Some(dec!(3)));
    check(&e, "ces", pf(), "2025-03-07..2025-03-08", Some(dec!(1)));
}

#[test]
fn csat_three_is_not_satisfied_four_is() {
    let mut b = Ds::new(vec![acct("x"), acct("y")]);
    b.survey("x", Csat, 3, "2025-03-02")
        .survey("y", Csat, 4, "2025-03-02");
    let e = engine(&b.ds);
    check(
        &e,
        "csat",
        Subject::Account(b.ix("x")),
        "2025-03",
        Some(dec!(0)),
    );
    check(
        &e,
        "csat",
        Subject::Account(b.ix("y")),
        "2025-03",
        Some(dec!(100)),
    );
    check(&e, "csat", pf(), "2025-03", Some(dec!(50)));
}

#[test]
fn first_contact_resolution() {
    let b = voice();
    let e = engine(&b.ds);
    let (a, bb, c) = (
        Subject::Account(b.ix("a")),
        Subject::Account(b.ix("b")),
        Subject::Account(b.ix("c")),
    );
    // a, resolved in March: Mar 2 (1), Mar 6 (2), Mar 12 (1), Mar 31 (1); the unresolved one
    // and the one resolved in April are left out: 100 x 3 / 4
    check(&e, "first_contact_resolution", a, "2025-03", Some(dec!(75)));
    // b: empty contacts (not first), 1, 2, 5: 100 x 1 / 4
    check(
        &e,
        "first_contact_resolution",
        bb,
        "2025-03",
        Some(dec!(25)),
    );
    // portfolio 100 x 4 / 8
    check(
        &e,
        "first_contact_resolution",
        pf(),
        "2025-03",
        Some(dec!(50)),
    );
    // nothing resolved: null (a's Feb 20 ticket was resolved in March)
    check(&e, "first_contact_resolution", c, "2025-03", None);
    check(&e, "first_contact_resolution", pf(), "2025-02", None);
    // April: a's ticket resolved Apr 2 with 1 contact
    check(
        &e,
        "first_contact_resolution",
        pf(),
        "2025-04",
        Some(dec!(100)),
    );
    let smb = filter(Some("smb"), None, None);
    check(
        &e,
        "first_contact_resolution",
        Subject::Portfolio(&smb),
        "2025-03",
        Some(dec!(75)),
    );
    // April vs March: 100 - 50
    check(
        &e,
        "first_contact_resolution.change",
        pf(),
        "2025-04",
        Some(dec!(50)),
    );
    check(
        &e,
        "first_contact_resolution.change_pct",
        pf(),
        "2025-04",
        Some(dec!(1)),
    );
}

/// Usage over the range 2025-03-03..2025-03-08 (5 days: Mar 3, 4, 5, 6, 7).
///
/// - a (smb, 10 seats): Mar 3 two rows (4 users 40 min 2 features; 2 users 20 min 1 feature),
///   Mar 5 (4 users, 30 min, features empty), Mar 6 (0 users, 0 min, 1 feature),
///   Mar 8 (100 users: outside), Mar 1 (5 users: in the previous range)
/// - b (ent, 5 seats): Mar 4 (3 users, 15 min, 5 features), Mar 7 (2 users, 0 min, 0 features)
/// - c (smb, no seats): Mar 5 (5 users, 25 min, 5 features)
/// - d (ent, 0 seats): no usage
fn usage_ds() -> Ds {
    let mut b = Ds::new(vec![
        acct("a").segment("smb").seats(10),
        acct("b").segment("ent").seats(5),
        acct("c").segment("smb"),
        acct("d").segment("ent").seats(0),
    ]);
    b.usage("a", "2025-03-03", 4, dec!(40), Some(2))
        .usage("a", "2025-03-03", 2, dec!(20), Some(1))
        .usage("a", "2025-03-05", 4, dec!(30), None)
        .usage("a", "2025-03-06", 0, dec!(0), Some(1))
        .usage("a", "2025-03-08", 100, dec!(1000), Some(5))
        .usage("a", "2025-03-01", 5, dec!(10), Some(5))
        .usage("b", "2025-03-04", 3, dec!(15), Some(5))
        .usage("b", "2025-03-07", 2, dec!(0), Some(0))
        .usage("c", "2025-03-05", 5, dec!(25), Some(5));
    b
}

const R: &str = "2025-03-03..2025-03-08";

fn with_features(n: u32) -> MetricsConfig {
    MetricsConfig {
        features_available: Some(n),
        ..MetricsConfig::default()
    }
}

#[test]
fn dau_and_seat_utilization() {
    let b = usage_ds();
    let e = engine(&b.ds);
    let ix = |id: &str| Subject::Account(b.ix(id));
    // a: (4 + 2) + 4 + 0 = 10 user-days over 5 days (days without rows count 0)
    check(&e, "dau", ix("a"), R, Some(dec!(2)));
    // 2 / 10 seats
    check(&e, "seat_utilization", ix("a"), R, Some(dec!(0.2)));
    // b: (3 + 2) / 5 = 1; 1 / 5 seats
    check(&e, "dau", ix("b"), R, Some(dec!(1)));
    check(&e, "seat_utilization", ix("b"), R, Some(dec!(0.2)));
    // c: 5 / 5 = 1, no seats: null
    check(&e, "dau", ix("c"), R, Some(dec!(1)));
    check(&e, "seat_utilization", ix("c"), R, None);
    // d: no rows: 0; 0 seats: null
    check(&e, "dau", ix("d"), R, Some(dec!(0)));
    check(&e, "seat_utilization", ix("d"), R, None);
    // portfolio dau = (10 + 5 + 5) / 5 = 4
    check(&e, "dau", pf(), R, Some(dec!(4)));
    // portfolio seat utilisation = Σ dau / Σ seats over the accounts with seats (a, b; d's 0
    // seats are "without seats"): (2 + 1) / (10 + 5) = 0.2 (c's dau is not counted)
    check(&e, "seat_utilization", pf(), R, Some(dec!(0.2)));
    // segment smb = {a, c}: dau (10 + 5) / 5 = 3; seats only a's: 2 / 10
    let smb = filter(Some("smb"), None, None);
    check(&e, "dau", Subject::Portfolio(&smb), R, Some(dec!(3)));
    check(
        &e,
        "seat_utilization",
        Subject::Portfolio(&smb),
        R,
        Some(dec!(0.2)),
    );
    // segment ent = {b, d}: dau 1; seats b 5 (d has 0): 1 / 5
    let ent = filter(Some("ent"), None, None);
    check(
        &e,
        "seat_utilization",
        Subject::Portfolio(&ent),
        R,
        Some(dec!(0.2)),
    );
    // a portfolio with no seats at all: null
    let c_only = Ds::new(vec![acct("c")]);
    let e2 = engine(&c_only.ds);
    check(&e2, "seat_utilization", pf(), R, None);
    check(&e2, "dau", pf(), R, Some(dec!(0)));
    // previous range 2025-02-26..2025-03-03: a's Mar 1 row, 5 / 5 = 1
    check(&e, "dau", ix("a"), "2025-02-26..2025-03-03", Some(dec!(1)));
    check(&e, "dau.change", ix("a"), R, Some(dec!(1)));
    check(&e, "dau.change_pct", ix("a"), R, Some(dec!(1)));
    check(&e, "seat_utilization.change", ix("a"), R, Some(dec!(0.1)));
    // b had no usage before: change 1, change_pct null (previous 0)
    check(&e, "dau.change", ix("b"), R, Some(dec!(1)));
    check(&e, "dau.change_pct", ix("b"), R, None);
    check(&e, "dau.change_pct", ix("d"), R, None);
    // a month: a's rows in March: 5 + 6 + 4 + 0 + 100 = 115 over 31 days
    check_approx(&e, "dau", ix("a"), "2025-03", dec!(115) / dec!(31));
    // ISO week W10 = Mar 3..9: 6 + 4 + 0 + 100 = 110 over 7 days
    check_approx(&e, "dau", ix("a"), "2025-W10", dec!(110) / dec!(7));
}

#[test]
fn minutes_per_active_user() {
    let b = usage_ds();
    let e = engine(&b.ds);
    let ix = |id: &str| Subject::Account(b.ix(id));
    // a: (40 + 20 + 30 + 0) / (4 + 2 + 4 + 0) = 90 / 10
    check(&e, "minutes_per_active_user", ix("a"), R, Some(dec!(9)));
    // b: 15 / 5
    check(&e, "minutes_per_active_user", ix("b"), R, Some(dec!(3)));
    // c: 25 / 5
    check(&e, "minutes_per_active_user", ix("c"), R, Some(dec!(5)));
    // d: no active users: null
    check(&e, "minutes_per_active_user", ix("d"), R, None);
    // portfolio (90 + 15 + 25) / (10 + 5 + 5) = 130 / 20
    check(&e, "minutes_per_active_user", pf(), R, Some(dec!(6.5)));
    // a row with 0 active users only (a on Mar 6, one-day range): null
    check(
        &e,
        "minutes_per_active_user",
        ix("a"),
        "2025-03-06..2025-03-07",
        None,
    );
    // previous range: a's Mar 1 row: 10 / 5 = 2 -> change 7, change_pct 3.5
    check(
        &e,
        "minutes_per_active_user.change",
        ix("a"),
        R,
        Some(dec!(7)),
    );
    check(
        &e,
        "minutes_per_active_user.change_pct",
        ix("a"),
        R,
        Some(dec!(3.5)),
    );
    check(&e, "minutes_per_active_user.change", ix("b"), R, None);
}

#[test]
fn adoption_rate() {
    let b = usage_ds();
    // not configured: null everywhere
    let e = engine(&b.ds);
    check(&e, "adoption_rate", pf(), R, None);
    check(&e, "adoption_rate", Subject::Account(b.ix("a")), R, None);

    let e = engine_with(&b.ds, with_features(5));
    let ix = |id: &str| Subject::Account(b.ix(id));
    // a: Mar 3 merged first (2 + 1 = 3 of 5 = 0.6), Mar 5 empty features (left out),
    // Mar 6 1 of 5 (0.2; 0 active users still a row): mean (0.6 + 0.2) / 2 = 0.4
    check(&e, "adoption_rate", ix("a"), R, Some(dec!(0.4)));
    // b: 5/5 and 0/5: 0.5
    check(&e, "adoption_rate", ix("b"), R, Some(dec!(0.5)));
    // c: 5/5
    check(&e, "adoption_rate", ix("c"), R, Some(dec!(1)));
    // d: no rows: null
    check(&e, "adoption_rate", ix("d"), R, None);
    // portfolio: account-days a 0.6, a 0.2, b 1, b 0, c 1: 2.8 / 5
    check(&e, "adoption_rate", pf(), R, Some(dec!(0.56)));
    // segment smb = {a, c}: (0.6 + 0.2 + 1) / 3
    let smb = filter(Some("smb"), None, None);
    check(
        &e,
        "adoption_rate",
        Subject::Portfolio(&smb),
        R,
        Some(dec!(0.6)),
    );
    // a's Mar 5 alone (only an empty features_used row): null
    check(&e, "adoption_rate", ix("a"), "2025-03-05..2025-03-06", None);
    // previous range: a's Mar 1 row, 5/5 = 1 -> change -0.6
    check(&e, "adoption_rate.change", ix("a"), R, Some(dec!(-0.6)));
    check(&e, "adoption_rate.change_pct", ix("a"), R, Some(dec!(-0.6)));
}

#[test]
fn adoption_rate_merges_a_day_with_an_empty_and_a_filled_row() {
    // one account-day with two rows: features empty and 4. Empty counts as 0 in sums, so the
    // merged day has 4 of 8 features. A second day: 2 of 8. Mean (0.5 + 0.25) / 2.
    let mut b = Ds::new(vec![acct("x").seats(4)]);
    b.usage("x", "2025-03-03", 1, dec!(1), None)
        .usage("x", "2025-03-03", 1, dec!(1), Some(4))
        .usage("x", "2025-03-04", 3, dec!(1), Some(2));
    let e = engine_with(&b.ds, with_features(8));
    check(&e, "adoption_rate", pf(), "2025-W10", Some(dec!(0.375)));
    // dau over the week: (1 + 1 + 3) / 7; seat_utilization that over 4
    check_approx(&e, "dau", pf(), "2025-W10", dec!(5) / dec!(7));
    check_approx(
        &e,
        "seat_utilization",
        pf(),
        "2025-W10",
        dec!(5) / dec!(7) / dec!(4),
    );
    // a one-day range: (1 + 1) / 1
    check(&e, "dau", pf(), "2025-03-03..2025-03-04", Some(dec!(2)));
    check(
        &e,
        "seat_utilization",
        pf(),
        "2025-03-03..2025-03-04",
        Some(dec!(0.5)),
    );
}

/// Accounts reaching first value (segment x: a, b, c; y: f; d without created_at; e in April).
fn ttfv() -> Ds {
    Ds::new(vec![
        // Jan 1 -> Mar 2: 31 + 28 + 1 = 60 days
        acct("a")
            .segment("x")
            .created("2025-01-01")
            .first_value("2025-03-02"),
        // Feb 1 -> Mar 1: 28 days
        acct("b")
            .segment("x")
            .created("2025-02-01")
            .first_value("2025-03-01"),
        // Mar 1 -> Mar 11: 10 days
        acct("c")
            .segment("x")
            .created("2025-03-01")
            .first_value("2025-03-11"),
        // no created_at: left out
        acct("d").segment("x").first_value("2025-03-05"),
        // first value in April: outside March
        acct("e")
            .segment("x")
            .created("2025-02-20")
            .first_value("2025-04-01"),
        // Mar 10 -> Mar 31: 21 days
        acct("f")
            .segment("y")
            .created("2025-03-10")
            .first_value("2025-03-31"),
    ])
}

#[test]
fn time_to_first_value_medians() {
    let b = ttfv();
    let e = engine(&b.ds);
    // segment x, March: 10, 28, 60 -> odd count: 28
    let x = filter(Some("x"), None, None);
    check(
        &e,
        "time_to_first_value",
        Subject::Portfolio(&x),
        "2025-03",
        Some(dec!(28)),
    );
    // portfolio, March: 10, 21, 28, 60 -> even count: (21 + 28) / 2
    check(&e, "time_to_first_value", pf(), "2025-03", Some(dec!(24.5)));
    // April: e alone, Feb 20 -> Apr 1 = 8 + 31 = 40 days
    check(&e, "time_to_first_value", pf(), "2025-04", Some(dec!(40)));
    // February: nobody: null
    check(&e, "time_to_first_value", pf(), "2025-02", None);
    // only d (no created_at) reaches value in this range: null
    check(
        &e,
        "time_to_first_value",
        pf(),
        "2025-03-05..2025-03-06",
        None,
    );
    // portfolio only
    check(
        &e,
        "time_to_first_value",
        Subject::Account(b.ix("a")),
        "2025-03",
        None,
    );
    // change: April 40 vs March 24.5
    check(
        &e,
        "time_to_first_value.change",
        pf(),
        "2025-04",
        Some(dec!(15.5)),
    );
    check(&e, "time_to_first_value.change", pf(), "2025-03", None);
}

#[test]
fn days_to_renewal_as_of_the_last_day() {
    let b = Ds::new(vec![
        acct("a").renewal_date("2025-04-15"),
        acct("b").renewal_date("2025-03-20"),
        acct("c"),
    ]);
    let e = engine(&b.ds);
    let ix = |id: &str| Subject::Account(b.ix(id));
    // March: as of Mar 31: Apr 15 - Mar 31 = 15
    check(&e, "days_to_renewal", ix("a"), "2025-03", Some(dec!(15)));
    // W10 (Mar 3..9): as of Mar 9: 22 + 15 = 37
    check(&e, "days_to_renewal", ix("a"), "2025-W10", Some(dec!(37)));
    // b: Mar 20 - Mar 31 = -11 (overdue)
    check(&e, "days_to_renewal", ix("b"), "2025-03", Some(dec!(-11)));
    // renewal on the last day itself: 0
    check(
        &e,
        "days_to_renewal",
        ix("b"),
        "2025-03-01..2025-03-21",
        Some(dec!(0)),
    );
    // c has no renewal date: null
    check(&e, "days_to_renewal", ix("c"), "2025-03", None);
    // account only
    check(&e, "days_to_renewal", pf(), "2025-03", None);
    // February: as of Feb 28: 46 days to Apr 15; change 15 - 46 = -31
    check(&e, "days_to_renewal", ix("a"), "2025-02", Some(dec!(46)));
    check(
        &e,
        "days_to_renewal.change",
        ix("a"),
        "2025-03",
        Some(dec!(-31)),
    );
    check_approx(
        &e,
        "days_to_renewal.change_pct",
        ix("a"),
        "2025-03",
        dec!(-31) / dec!(46),
    );
}

#[test]
fn usage_and_voice_count_accounts_that_do_not_pay() {
    // x pays, y never pays: both count
    let mut b = Ds::new(vec![acct("x").seats(2), acct("y").seats(2)]);
    b.sub("x", dec!(10), "2025-01-01..")
        .usage("x", "2025-03-03", 2, dec!(10), None)
        .usage("y", "2025-03-03", 2, dec!(30), None)
        .survey("y", Csat, 5, "2025-03-03")
        .ticket("y", "2025-03-03", Some("2025-03-03"), Some(1));
    let e = engine(&b.ds);
    let day = "2025-03-03..2025-03-04";
    check(&e, "dau", pf(), day, Some(dec!(4)));
    check(&e, "seat_utilization", pf(), day, Some(dec!(1)));
    check(&e, "minutes_per_active_user", pf(), day, Some(dec!(10)));
    check(&e, "csat", pf(), day, Some(dec!(100)));
    check(&e, "first_contact_resolution", pf(), day, Some(dec!(100)));
}
