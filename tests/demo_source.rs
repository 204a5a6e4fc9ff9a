//! The `demo` source: deterministic, valid by the rules the `files` source applies, and containing
//! every case METRICS.md names, so that demos, tests and benchmarks built on it exercise them all.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::Decimal;

use cs_pulse::model::{
    AccountIx, Currency, Dataset, RenewalOutcome, Subscription, SurveyKind, Usage,
};
use cs_pulse::sources::demo::{demo_fx, generate, DemoParams, DemoSource};
use cs_pulse::sources::Source;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn params() -> DemoParams {
    DemoParams::new(d("2025-06-15"))
}

fn data() -> &'static Dataset {
    static DATA: std::sync::OnceLock<Dataset> = std::sync::OnceLock::new();
    DATA.get_or_init(|| generate(&params()))
}

/// The subscriptions of each account, by start date.
fn subs_by_account(data: &Dataset) -> BTreeMap<AccountIx, Vec<&Subscription>> {
    let mut m: BTreeMap<AccountIx, Vec<&Subscription>> = BTreeMap::new();
    for s in &data.subscriptions {
        m.entry(s.account).or_default().push(s);
    }
    for v in m.values_mut() {
        v.sort_by_key(|s| s.start_date);
    }
    m
}

fn usage_by_account(data: &Dataset) -> BTreeMap<AccountIx, Vec<&Usage>> {
    let mut m: BTreeMap<AccountIx, Vec<&Usage>> = BTreeMap::new();
    for u in &data.usage {
        m.entry(u.account).or_default().push(u);
    }
    m
}

/// Pairs of intervals of one account where the second starts the day the first ends.
fn successions(data: &Dataset) -> Vec<(&Subscription, &Subscription)> {
    let mut out = Vec::new();
    for subs in subs_by_account(data).values() {
        for a in subs {
            for b in subs {
                if Some(b.start_date) == a.end_date {
                    out.push((*a, *b));
                }
            }
        }
    }
    out
}

/// Whether account `ix` pays on `day`.
fn paying(subs: &[&Subscription], day: NaiveDate) -> bool {
    subs.iter()
        .any(|s| s.start_date <= day && s.end_date.is_none_or(|e| day < e))
}

fn mean_users(rows: &[&Usage], from: NaiveDate, to: NaiveDate) -> f64 {
    let days = (to - from).num_days() as f64;
    rows.iter()
        .filter(|u| from <= u.date && u.date < to)
        .map(|u| u.active_users as f64)
        .sum::<f64>()
        / days
}

#[test]
fn same_parameters_give_the_same_data() {
    let p = params();
    assert_eq!(generate(&p), *data());
    let other = generate(&DemoParams {
        seed: 7,
        ..p.clone()
    });
    assert_ne!(other, *data());
    assert_eq!(other.accounts().len(), 500);
    // One more account leaves the others as they were.
    let more = generate(&DemoParams {
        accounts: 501,
        ..p.clone()
    });
    assert_eq!(more.accounts()[..500], data().accounts()[..]);
}

#[test]
fn defaults_and_fx() {
    let p = params();
    assert_eq!((p.accounts, p.seed, p.months), (500, 42, 24));
    assert_eq!(p.window_start(), d("2023-06-01"));
    let fx = demo_fx();
    assert_eq!(fx.reporting(), Currency::USD);
    assert_eq!(fx.rate(Currency::EUR), Some(Decimal::new(108, 2)));
}

#[test]
fn accounts_have_segments_owners_plans_and_custom_fields() {
    let data = data();
    let accounts = data.accounts();
    assert_eq!(accounts.len(), 500);
    assert_eq!(accounts[0].id, "acc-00001");
    assert_eq!(accounts[499].id, "acc-00500");
    assert!(accounts[16].name.ends_with(" 17"), "{}", accounts[16].name);
    let set = |f: fn(&cs_pulse::model::Account) -> Option<&String>| -> BTreeSet<String> {
        accounts.iter().filter_map(f).cloned().collect()
    };
    assert_eq!(
        set(|a| a.segment.as_ref()),
        BTreeSet::from(["SMB", "Mid-Market", "Enterprise"].map(String::from))
    );
    assert_eq!(set(|a| a.owner.as_ref()).len(), 6);
    assert!(set(|a| a.plan.as_ref()).len() >= 3);
    for a in accounts {
        assert!(a.custom.contains_key("region") && a.custom.contains_key("industry"));
    }
    // Created across the whole window.
    let created: Vec<NaiveDate> = accounts.iter().filter_map(|a| a.created_at).collect();
    assert_eq!(created.len(), 500);
    let start = params().window_start();
    assert!(*created.iter().min().unwrap() < start + Days::new(90));
    assert!(*created.iter().max().unwrap() > d("2025-05-15"));
    // Segments differ in size.
    let mean_mrr = |seg: &str| {
        let subs: Vec<&Subscription> = data
            .subscriptions
            .iter()
            .filter(|s| data.account(s.account).segment.as_deref() == Some(seg))
            .collect();
        subs.iter().map(|s| s.mrr).sum::<Decimal>() / Decimal::from(subs.len())
    };
    assert!(mean_mrr("SMB") < mean_mrr("Mid-Market"));
    assert!(mean_mrr("Mid-Market") < mean_mrr("Enterprise"));
    // Seats: most paying accounts have some, some have none.
    let with_subs: BTreeSet<AccountIx> = data.subscriptions.iter().map(|s| s.account).collect();
    let no_seats = with_subs
        .iter()
        .filter(|ix| data.account(**ix).licensed_seats.is_none())
        .count();
    assert!(no_seats > 0 && no_seats < with_subs.len() / 5, "{no_seats}");
}

#[test]
fn every_mrr_movement_case_is_present() {
    let data = data();
    let by_account = subs_by_account(data);
    let succ = successions(data);
    assert!(succ.iter().any(|(a, b)| b.mrr > a.mrr), "expansion");
    assert!(succ.iter().any(|(a, b)| b.mrr < a.mrr), "contraction");
    assert!(data.subscriptions.iter().all(|s| s.id.starts_with("sub-")));
    assert_eq!(data.subscriptions[0].id, "sub-000001");

    // Churn: an interval ends and nothing of the account covers its end day.
    let churned: Vec<AccountIx> = by_account
        .iter()
        .filter(|(_, subs)| {
            subs.iter()
                .any(|s| s.end_date.is_some_and(|e| !paying(subs, e)))
        })
        .map(|(ix, _)| *ix)
        .collect();
    assert!(churned.len() > 20, "{}", churned.len());

    // Reactivation: an interval that starts after every earlier one has ended.
    let reactivated = by_account.values().filter(|subs| {
        subs.iter().enumerate().any(|(i, s)| {
            i > 0
                && subs[..i]
                    .iter()
                    .all(|p| p.end_date.is_some_and(|e| e < s.start_date))
        })
    });
    assert!(reactivated.count() >= 2);

    // Start and churn in one calendar month.
    let flash = by_account.values().filter(|subs| {
        subs.len() == 1
            && subs[0].end_date.is_some_and(|e| {
                let last = e.pred_opt().unwrap();
                (last.year(), last.month())
                    == (subs[0].start_date.year(), subs[0].start_date.month())
            })
    });
    assert!(flash.count() >= 2);

    // Intervals ending exactly on the first of a month, some followed by another interval.
    assert!(data
        .subscriptions
        .iter()
        .any(|s| s.end_date.is_some_and(|e| e.day() == 1)));
    assert!(succ.iter().any(|(a, _)| a.end_date.unwrap().day() == 1));

    // Two currencies.
    assert!(data
        .subscriptions
        .iter()
        .any(|s| s.currency == Currency::EUR));
    assert!(data
        .subscriptions
        .iter()
        .any(|s| s.currency == Currency::USD));

    // Ongoing and ended intervals; paying customers at the end.
    let as_of = params().as_of;
    let paying_now = by_account.values().filter(|s| paying(s, as_of)).count();
    assert!(paying_now > 150, "{paying_now}");
}

#[test]
fn trials_convert_or_not() {
    let data = data();
    let by_account = subs_by_account(data);
    let mut converted = 0;
    let mut lost = 0;
    let mut trialing = 0;
    for (ix, a) in data.accounts().iter().enumerate() {
        let subs = by_account.get(&(ix as AccountIx));
        match (a.trial_started_at, a.trial_ended_at, a.converted_at) {
            (Some(s), Some(e), Some(c)) => {
                assert!(s < e && c <= e && s < c);
                assert_eq!(subs.unwrap()[0].start_date, c);
                converted += 1;
            }
            (Some(s), Some(e), None) => {
                assert!(s < e);
                assert!(
                    subs.is_none(),
                    "a lost or running trial has no subscription"
                );
                if e > params().as_of {
                    trialing += 1; // still running: the end is scheduled
                } else {
                    lost += 1;
                }
            }
            (None, None, None) => {}
            other => panic!("{}: {other:?}", a.id),
        }
    }
    assert!(
        converted >= 20 && lost >= 20 && trialing >= 1,
        "{converted} {lost} {trialing}"
    );
}

#[test]
fn first_value_and_renewal_dates() {
    let data = data();
    let as_of = params().as_of;
    let fv = data
        .accounts()
        .iter()
        .filter(|a| a.first_value_at.is_some())
        .count();
    assert!(fv > 300 && fv < 500, "{fv}");
    let by_account = subs_by_account(data);
    let soon = data
        .accounts()
        .iter()
        .filter(|a| {
            a.renewal_date
                .is_some_and(|r| r >= as_of && r <= as_of + Days::new(60))
        })
        .count();
    assert!(soon >= 5, "{soon}");
    // Only accounts paying today have a next renewal (annual contracts and open deals).
    let mut with_renewal = 0;
    for (ix, a) in data.accounts().iter().enumerate() {
        let pays = by_account
            .get(&(ix as AccountIx))
            .is_some_and(|s| paying(s, as_of));
        if a.renewal_date.is_some() {
            assert!(pays, "{}", a.id);
            with_renewal += 1;
        }
    }
    assert!(with_renewal > 30, "{with_renewal}");
}

#[test]
fn usage_cases_are_present() {
    let data = data();
    let as_of = params().as_of;
    assert!(data.usage.iter().any(|u| u.features_used.is_none()));
    assert!(data.usage.iter().any(|u| u.features_used.is_some()));
    assert!(data.usage.iter().any(|u| !u.minutes.fract().is_zero()));
    let by_account = subs_by_account(data);
    let usage = usage_by_account(data);
    let day = |n: u64| as_of - Days::new(n);
    let mut declining = 0;
    let mut growing = 0;
    for (ix, rows) in &usage {
        if !by_account.get(ix).is_some_and(|s| paying(s, as_of)) {
            continue;
        }
        let before = mean_users(rows, day(70), day(42));
        let last = mean_users(rows, day(14), as_of);
        if before > 2.0 && last < 0.6 * before {
            declining += 1;
        }
        if before > 2.0 && last > 1.2 * before {
            growing += 1;
        }
    }
    assert!(declining >= 3, "{declining}");
    assert!(growing >= 3, "{growing}");

    // Gaps: a week or more without any row while paying.
    let gaps = usage
        .iter()
        .filter(|(ix, rows)| {
            let subs = &by_account.get(ix);
            rows.windows(2).any(|w| {
                (w[1].date - w[0].date).num_days() >= 8
                    && subs.is_some_and(|s| {
                        paying(s, w[0].date) && paying(s, w[0].date + Days::new(7))
                    })
            })
        })
        .count();
    assert!(gaps >= 3, "{gaps}");

    // Weekends are much quieter than weekdays.
    let users = |weekend: bool| -> u64 {
        data.usage
            .iter()
            .filter(|u| (u.date.weekday().number_from_monday() >= 6) == weekend)
            .map(|u| u.active_users as u64)
            .sum()
    };
    assert!(
        users(true) * 10 < users(false),
        "{} vs {}",
        users(true),
        users(false)
    );
}

#[test]
fn usage_and_surveys_foretell_churn() {
    let data = data();
    let by_account = subs_by_account(data);
    let usage = usage_by_account(data);
    // Accounts that churn (their last interval ends) versus those still paying.
    let churned: BTreeSet<AccountIx> = by_account
        .iter()
        .filter(|(_, s)| s.iter().all(|x| x.end_date.is_some()))
        .map(|(ix, _)| *ix)
        .collect();
    let detractor_share = |churn: bool| {
        let scores: Vec<u8> = data
            .survey_responses
            .iter()
            .filter(|r| r.kind == SurveyKind::Nps && churned.contains(&r.account) == churn)
            .map(|r| r.score)
            .collect();
        scores.iter().filter(|s| **s <= 6).count() as f64 / scores.len() as f64
    };
    assert!(
        detractor_share(true) > detractor_share(false) + 0.15,
        "{} vs {}",
        detractor_share(true),
        detractor_share(false)
    );
    // In the four weeks before churning, usage is well below the account's usual level.
    let mut lower = 0;
    let mut total = 0;
    for ix in &churned {
        let end = by_account[ix]
            .iter()
            .filter_map(|s| s.end_date)
            .max()
            .unwrap();
        let Some(rows) = usage.get(ix) else { continue };
        let usual = mean_users(rows, end - Days::new(120), end - Days::new(60));
        if usual < 1.0 {
            continue;
        }
        total += 1;
        if mean_users(rows, end - Days::new(28), end) < 0.6 * usual {
            lower += 1;
        }
    }
    assert!(total >= 5 && lower * 10 >= total * 8, "{lower}/{total}");
}

#[test]
fn surveys_of_every_kind_with_boundary_scores() {
    let data = data();
    let scores = |kind: SurveyKind| -> BTreeSet<u8> {
        data.survey_responses
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.score)
            .collect()
    };
    let nps = scores(SurveyKind::Nps);
    for s in [0, 6, 7, 8, 9, 10] {
        assert!(nps.contains(&s), "nps {s}: {nps:?}");
    }
    let csat = scores(SurveyKind::Csat);
    for s in [1, 3, 4, 5] {
        assert!(csat.contains(&s), "csat {s}: {csat:?}");
    }
    let ces = scores(SurveyKind::Ces);
    for s in [1, 7] {
        assert!(ces.contains(&s), "ces {s}: {ces:?}");
    }
    assert!(data.survey_responses.iter().any(|r| r.comment.is_some()));
}

#[test]
fn tickets_and_renewals_of_every_kind() {
    let data = data();
    let as_of = params().as_of;
    let t = &data.tickets;
    assert!(t
        .iter()
        .any(|t| t.resolved_at.is_some() && t.contacts == Some(1)));
    assert!(t.iter().any(|t| t.contacts.is_some_and(|c| c > 1)));
    assert!(t
        .iter()
        .any(|t| t.resolved_at.is_some() && t.contacts.is_none()));
    assert!(t.iter().any(|t| t.resolved_at.is_none()));
    assert!(t
        .iter()
        .any(|t| t.resolved_at.is_some_and(|r| r > t.opened_at)));

    for outcome in RenewalOutcome::ALL {
        assert!(
            data.renewals.iter().any(|r| r.outcome == outcome),
            "{outcome}"
        );
    }
    assert!(data
        .renewals
        .iter()
        .any(|r| r.outcome == RenewalOutcome::Pending && r.due_date > as_of));
    assert!(data
        .renewals
        .iter()
        .filter(|r| r.outcome == RenewalOutcome::Pending)
        .all(|r| r.due_date > as_of - Days::new(30)));

    // One or two cost rows for every month of the window.
    let mut per_month: BTreeMap<_, usize> = BTreeMap::new();
    for c in &data.costs {
        *per_month.entry(c.month).or_default() += 1;
    }
    assert_eq!(per_month.len(), 25);
    assert!(per_month.values().all(|n| (1..=2).contains(n)));
    assert!(per_month.values().any(|n| *n == 2));
}

/// Every record passes the checks the `files` source applies (METRICS.md, "Input errors"), and
/// every dated record lies within the window and not after `as_of`.
#[test]
fn every_record_is_valid() {
    let data = data();
    let p = params();
    let (start, as_of) = (p.window_start(), p.as_of);
    let within = |day: NaiveDate| start <= day && day <= as_of;
    let fx = demo_fx();
    let n = data.accounts().len() as AccountIx;

    fn unique<'a>(ids: impl Iterator<Item = &'a String>) {
        let mut seen = BTreeSet::new();
        for id in ids {
            assert!(seen.insert(id.clone()), "duplicate id {id}");
        }
    }
    unique(data.accounts().iter().map(|a| &a.id));
    unique(data.subscriptions.iter().map(|s| &s.id));
    unique(data.survey_responses.iter().map(|r| &r.id));
    unique(data.tickets.iter().map(|t| &t.id));
    unique(data.renewals.iter().map(|r| &r.id));

    for a in data.accounts() {
        let created = a.created_at.unwrap();
        assert!(within(created), "{}", a.id);
        assert!(a.licensed_seats != Some(0));
        if let Some(fv) = a.first_value_at {
            assert!(created <= fv && fv <= as_of, "{}", a.id);
        }
        for t in [a.trial_started_at, a.converted_at].into_iter().flatten() {
            assert!(within(t), "{}", a.id);
        }
        // A running trial's end is scheduled after as_of; any other lies in the window.
        if let Some(end) = a.trial_ended_at {
            assert!(
                within(end) || (end > as_of && a.converted_at.is_none()),
                "{}",
                a.id
            );
        }
        if let Some(r) = a.renewal_date {
            assert!(
                r > as_of - Days::new(30) && r <= as_of + Days::new(400),
                "{}",
                a.id
            );
        }
    }
    for s in &data.subscriptions {
        assert!(s.account < n);
        assert!(s.mrr > Decimal::ZERO, "{}", s.id);
        assert!(fx.rate(s.currency).is_some());
        assert!(within(s.start_date), "{}", s.id);
        if let Some(e) = s.end_date {
            assert!(e > s.start_date && e <= as_of, "{}", s.id);
        }
    }
    let mut days = BTreeSet::new();
    for u in &data.usage {
        assert!(u.account < n);
        assert!(within(u.date));
        assert!(u.active_users > 0 && u.sessions >= u.active_users);
        assert!(u.minutes > Decimal::ZERO);
        assert!(u.features_used.is_none_or(|f| (1..=12).contains(&f)));
        assert!(
            days.insert((u.account, u.date)),
            "one row per account and day"
        );
    }
    for r in &data.survey_responses {
        assert!(r.account < n);
        let (lo, hi) = r.kind.score_range();
        assert!((lo..=hi).contains(&r.score), "{}", r.id);
        assert!(within(r.submitted_at), "{}", r.id);
    }
    for t in &data.tickets {
        assert!(t.account < n);
        assert!(within(t.opened_at), "{}", t.id);
        for later in [t.resolved_at, t.first_response_at].into_iter().flatten() {
            assert!(t.opened_at <= later && later <= as_of, "{}", t.id);
        }
        if let (Some(f), Some(r)) = (t.first_response_at, t.resolved_at) {
            assert!(f <= r, "{}", t.id);
        }
        assert!(t.contacts != Some(0));
    }
    for r in &data.renewals {
        assert!(r.account < n);
        assert!(r.amount.is_some_and(|a| a > Decimal::ZERO), "{}", r.id);
        assert!(start <= r.due_date, "{}", r.id);
        if r.due_date > as_of {
            assert_eq!(r.outcome, RenewalOutcome::Pending, "{}", r.id);
        }
    }
    for c in &data.costs {
        assert!(c.amount > Decimal::ZERO);
        let m = c.month.period().unwrap();
        assert!(m.start() >= start && m.start() <= as_of);
    }
}

#[test]
fn other_sizes_and_windows() {
    let empty = generate(&DemoParams {
        accounts: 0,
        ..params()
    });
    assert_eq!(empty.record_count(), empty.costs.len());
    let short = generate(&DemoParams {
        accounts: 50,
        months: 1,
        as_of: d("2025-03-01"),
        ..params()
    });
    let start = d("2025-02-01");
    assert!(short
        .usage
        .iter()
        .all(|u| u.date >= start && u.date <= d("2025-03-01")));
    assert!(short
        .subscriptions
        .iter()
        .all(|s| s.start_date >= start && s.end_date.is_none_or(|e| e <= d("2025-03-01"))));
}

#[tokio::test]
async fn the_source_fetches_the_generated_data() {
    let source = DemoSource::new("demo", params());
    assert_eq!(source.name(), "demo");
    let progress = indicatif::ProgressBar::hidden();
    let request = cs_pulse::sources::FetchRequest {
        now: chrono::Utc::now(),
        previous: None,
    };
    let fetched = source.fetch(&request, &progress).await.unwrap();
    assert!(fetched.full);
    assert_eq!(fetched.data, *data());
    assert_eq!(progress.position(), data().record_count() as u64);
}

/// A summary of the default data set, so that any change to the generator shows in review.
#[test]
fn summary_snapshot() {
    let data = data();
    let mut out = String::new();
    let count = |f: &dyn Fn(&cs_pulse::model::Account) -> Option<String>| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for a in data.accounts() {
            *m.entry(f(a).unwrap_or_else(|| "(none)".into()))
                .or_default() += 1;
        }
        m
    };
    out += &format!(
        "accounts {}\nsubscriptions {}\nusage {}\nsurvey_responses {}\ntickets {}\nrenewals {}\ncosts {}\n",
        data.accounts().len(),
        data.subscriptions.len(),
        data.usage.len(),
        data.survey_responses.len(),
        data.tickets.len(),
        data.renewals.len(),
        data.costs.len()
    );
    out += &format!("segments {:?}\n", count(&|a| a.segment.clone()));
    out += &format!("owners {:?}\n", count(&|a| a.owner.clone()));
    out += &format!("plans {:?}\n", count(&|a| a.plan.clone()));
    out += &format!(
        "regions {:?}\n",
        count(&|a| a.custom.get("region").cloned())
    );
    let fx = demo_fx();
    let as_of = params().as_of;
    let mrr: Decimal = data
        .subscriptions
        .iter()
        .filter(|s| s.start_date <= as_of && s.end_date.is_none_or(|e| as_of < e))
        .map(|s| fx.convert(s.mrr, s.currency).unwrap())
        .sum();
    out += &format!("mrr on {as_of}: {}\n", mrr.round_dp(2));
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &data.renewals {
        *outcomes.entry(r.outcome.as_str()).or_default() += 1;
    }
    out += &format!("renewals {outcomes:?}\n");
    out += &format!("first account {:#?}\n", data.accounts()[0]);
    out += &format!("first subscription {:?}\n", data.subscriptions[0]);
    out += &format!("first usage {:?}\n", data.usage[0]);
    insta::assert_snapshot!(out);
}
