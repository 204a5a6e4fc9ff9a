//! Shared helpers for the tests: a tiny builder for hand-made data sets and assertions that
//! compare exact decimals (scale-insensitive); the demo data set (`demo`); running the binary
//! and a synced demo workspace (`cli`); a running `cs-pulse run` (`service`).
#![allow(dead_code)]

pub mod chat;
pub mod cli;
pub mod demo;
pub mod fake_discord;
#[cfg(unix)]
pub mod service;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use cs_pulse::metrics::{Engine, Filter, MetricRef, MetricsConfig, Subject};
use cs_pulse::model::{
    Account, AccountIx, Cost, Currency, Dataset, FxRates, Period, Renewal, RenewalOutcome,
    Subscription, SurveyKind, SurveyResponse, Ticket, Usage,
};

/// The whole portfolio.
pub static ALL: Filter = Filter {
    segment: None,
    owner: None,
    plan: None,
};

pub fn d(s: &str) -> NaiveDate {
    s.parse()
        .unwrap_or_else(|_| panic!("bad date in test: {s}"))
}

pub fn p(s: &str) -> Period {
    s.parse().unwrap_or_else(|e| panic!("bad period: {e}"))
}

/// An account builder: `acct("a").segment("smb").seats(10)`.
pub struct A(pub Account);

pub fn acct(id: &str) -> A {
    A(Account {
        id: id.to_string(),
        name: format!("Account {id}"),
        ..Account::default()
    })
}

impl A {
    pub fn segment(mut self, s: &str) -> Self {
        self.0.segment = Some(s.to_string());
        self
    }
    pub fn owner(mut self, s: &str) -> Self {
        self.0.owner = Some(s.to_string());
        self
    }
    pub fn plan(mut self, s: &str) -> Self {
        self.0.plan = Some(s.to_string());
        self
    }
    pub fn seats(mut self, n: u32) -> Self {
        self.0.licensed_seats = Some(n);
        self
    }
    pub fn created(mut self, s: &str) -> Self {
        self.0.created_at = Some(d(s));
        self
    }
    pub fn first_value(mut self, s: &str) -> Self {
        self.0.first_value_at = Some(d(s));
        self
    }
    pub fn renewal_date(mut self, s: &str) -> Self {
        self.0.renewal_date = Some(d(s));
        self
    }
    pub fn trial_ended(mut self, s: &str) -> Self {
        self.0.trial_ended_at = Some(d(s));
        self
    }
    pub fn converted(mut self, s: &str) -> Self {
        self.0.converted_at = Some(d(s));
        self
    }
}

/// A data set under construction; records name their account by id.
pub struct Ds {
    pub ds: Dataset,
    next_id: usize,
}

impl Ds {
    pub fn new(accounts: Vec<A>) -> Ds {
        Ds {
            ds: Dataset::new(accounts.into_iter().map(|a| a.0).collect()).expect("unique ids"),
            next_id: 0,
        }
    }

    pub fn ix(&self, id: &str) -> AccountIx {
        self.ds
            .account_ix(id)
            .unwrap_or_else(|| panic!("no account {id}"))
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    /// A USD subscription; `range` is `"2025-01-15..2025-03-01"` or `"2025-01-15.."` (ongoing).
    pub fn sub(&mut self, account: &str, mrr: Decimal, range: &str) -> &mut Self {
        self.sub_in(account, mrr, Currency::USD, range)
    }

    pub fn sub_in(
        &mut self,
        account: &str,
        mrr: Decimal,
        currency: Currency,
        range: &str,
    ) -> &mut Self {
        let (a, b) = range.split_once("..").expect("range with ..");
        let sub = Subscription {
            id: self.id("s"),
            account: self.ix(account),
            mrr,
            currency,
            start_date: d(a.trim()),
            end_date: if b.trim().is_empty() {
                None
            } else {
                Some(d(b.trim()))
            },
        };
        self.ds.subscriptions.push(sub);
        self
    }

    pub fn usage(
        &mut self,
        account: &str,
        date: &str,
        active_users: u32,
        minutes: Decimal,
        features_used: Option<u32>,
    ) -> &mut Self {
        let u = Usage {
            account: self.ix(account),
            date: d(date),
            active_users,
            sessions: 0,
            minutes,
            features_used,
        };
        self.ds.usage.push(u);
        self
    }

    pub fn survey(&mut self, account: &str, kind: SurveyKind, score: u8, date: &str) -> &mut Self {
        let r = SurveyResponse {
            id: self.id("r"),
            account: self.ix(account),
            kind,
            score,
            submitted_at: d(date),
            comment: None,
        };
        self.ds.survey_responses.push(r);
        self
    }

    pub fn ticket(
        &mut self,
        account: &str,
        opened: &str,
        resolved: Option<&str>,
        contacts: Option<u32>,
    ) -> &mut Self {
        let t = Ticket {
            id: self.id("t"),
            account: self.ix(account),
            opened_at: d(opened),
            resolved_at: resolved.map(d),
            first_response_at: None,
            contacts,
        };
        self.ds.tickets.push(t);
        self
    }

    pub fn renewal(&mut self, account: &str, due: &str, outcome: RenewalOutcome) -> &mut Self {
        let r = Renewal {
            id: self.id("n"),
            account: self.ix(account),
            due_date: d(due),
            outcome,
            amount: None,
        };
        self.ds.renewals.push(r);
        self
    }

    pub fn cost(&mut self, month: &str, amount: Decimal) -> &mut Self {
        self.ds.costs.push(Cost {
            month: month.parse().expect("YYYY-MM"),
            amount,
        });
        self
    }
}

pub fn engine(ds: &Dataset) -> Engine<'_> {
    Engine::new(ds, MetricsConfig::default()).expect("engine builds")
}

pub fn engine_with(ds: &Dataset, cfg: MetricsConfig) -> Engine<'_> {
    Engine::new(ds, cfg).expect("engine builds")
}

pub fn eur_config() -> MetricsConfig {
    MetricsConfig {
        fx: FxRates::new(Currency::USD).with_rate(Currency::EUR, rust_decimal_macros::dec!(1.08)),
        ..MetricsConfig::default()
    }
}

pub fn filter(segment: Option<&str>, owner: Option<&str>, plan: Option<&str>) -> Filter {
    Filter {
        segment: segment.map(str::to_string),
        owner: owner.map(str::to_string),
        plan: plan.map(str::to_string),
    }
}

/// The value of a metric reference such as `nrr`, `mrr.change` or `dau.change_pct`.
pub fn val(e: &Engine, metric: &str, subject: Subject, period: &str) -> Option<Decimal> {
    let r: MetricRef = metric.parse().expect("known metric");
    e.value(r, subject, &p(period))
}

/// Asserts an exact value (or null), comparing decimals independently of their scale.
#[track_caller]
pub fn check(e: &Engine, metric: &str, subject: Subject, period: &str, want: Option<Decimal>) {
    let got = val(e, metric, subject, period);
    assert_eq!(
        got.map(|v| v.normalize()),
        want.map(|v| v.normalize()),
        "{metric} of {subject:?} over {period}: got {got:?}, want {want:?}"
    );
}

/// Asserts a value that is not a terminating decimal (like 1/3) to within 1e-20.
#[track_caller]
pub fn check_approx(e: &Engine, metric: &str, subject: Subject, period: &str, want: Decimal) {
    let got = val(e, metric, subject, period);
    let ok = got.is_some_and(|g| (g - want).abs() < Decimal::new(1, 20));
    assert!(
        ok,
        "{metric} of {subject:?} over {period}: got {got:?}, want ~{want}"
    );
}

/// The five movement totals `[new, expansion, reactivation, contraction, churn]`: checks
/// `Engine::movements`, the matching metrics (`new_mrr` …, `expansion_revenue`) and the identity
/// `new + expansion + reactivation - contraction - churn = mrr - opening_mrr = net_new_mrr`.
#[track_caller]
pub fn check_movements(e: &Engine, subject: Subject, period: &str, want: [Decimal; 5]) {
    let [new, expansion, reactivation, contraction, churn] = want;
    let m = e.movements(subject, &p(period));
    assert_eq!(
        [m.new, m.expansion, m.reactivation, m.contraction, m.churn],
        want,
        "movements [new, expansion, reactivation, contraction, churn] of {subject:?} over {period}"
    );
    check(e, "new_mrr", subject, period, Some(new));
    check(e, "expansion_mrr", subject, period, Some(expansion));
    check(e, "expansion_revenue", subject, period, Some(expansion));
    check(e, "reactivation_mrr", subject, period, Some(reactivation));
    check(e, "contraction_mrr", subject, period, Some(contraction));
    check(e, "churned_mrr", subject, period, Some(churn));
    let net = new + expansion + reactivation - contraction - churn;
    check(e, "net_new_mrr", subject, period, Some(net));
    let closing = val(e, "mrr", subject, period).expect("mrr exists");
    let opening = val(e, "opening_mrr", subject, period).expect("opening_mrr exists");
    assert_eq!(
        closing - opening,
        net,
        "identity of {subject:?} over {period}: closing {closing} - opening {opening}"
    );
}
