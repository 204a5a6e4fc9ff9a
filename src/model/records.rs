//! The canonical records of METRICS.md, one struct per record kind.
//!
//! Child records point at their account by [`AccountIx`], an index into
//! [`crate::model::Dataset::accounts`], so that millions of usage rows do not each carry a string.
//! Amounts are in the record's own currency; metrics convert them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{AccountIx, Currency};

/// A customer account (the CRM's company).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub owner: Option<String>,
    pub segment: Option<String>,
    pub plan: Option<String>,
    pub created_at: Option<NaiveDate>,
    /// The next renewal.
    pub renewal_date: Option<NaiveDate>,
    pub licensed_seats: Option<u32>,
    pub first_value_at: Option<NaiveDate>,
    pub trial_started_at: Option<NaiveDate>,
    pub trial_ended_at: Option<NaiveDate>,
    pub converted_at: Option<NaiveDate>,
    /// Any other column of the source, kept by name.
    pub custom: BTreeMap<String, String>,
}

/// An MRR interval: `mrr` per month from `start_date` (inclusive) to `end_date` (exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub account: AccountIx,
    pub mrr: Decimal,
    pub currency: Currency,
    pub start_date: NaiveDate,
    /// `None` while ongoing.
    pub end_date: Option<NaiveDate>,
}

/// A daily usage aggregate of one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub account: AccountIx,
    pub date: NaiveDate,
    pub active_users: u32,
    /// Empty in the source counts as 0.
    pub sessions: u32,
    /// Empty in the source counts as 0.
    pub minutes: Decimal,
    /// Empty in the source is `None`: 0 in sums, left out of `adoption_rate`.
    pub features_used: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SurveyKind {
    /// 0–10
    Nps,
    /// 1–5
    Csat,
    /// 1–7
    Ces,
}

impl SurveyKind {
    pub const ALL: [SurveyKind; 3] = [SurveyKind::Nps, SurveyKind::Csat, SurveyKind::Ces];

    /// The inclusive range of valid scores.
    pub fn score_range(self) -> (u8, u8) {
        match self {
            SurveyKind::Nps => (0, 10),
            SurveyKind::Csat => (1, 5),
            SurveyKind::Ces => (1, 7),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Nps => "nps",
            SurveyKind::Csat => "csat",
            SurveyKind::Ces => "ces",
        }
    }
}

impl FromStr for SurveyKind {
    type Err = ();
    /// Exact lower-case words only (METRICS.md, "Input errors").
    fn from_str(s: &str) -> Result<Self, ()> {
        SurveyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for SurveyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One answer to an NPS, CSAT or CES survey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SurveyResponse {
    pub id: String,
    pub account: AccountIx,
    pub kind: SurveyKind,
    pub score: u8,
    /// The day in the business timezone.
    pub submitted_at: NaiveDate,
    pub comment: Option<String>,
}

/// A support ticket. Timestamps are already days in the business timezone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub id: String,
    pub account: AccountIx,
    pub opened_at: NaiveDate,
    pub resolved_at: Option<NaiveDate>,
    pub first_response_at: Option<NaiveDate>,
    /// Interactions until resolved; `None` means not resolved on first contact.
    pub contacts: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RenewalOutcome {
    Renewed,
    Churned,
    Pending,
}

impl RenewalOutcome {
    pub const ALL: [RenewalOutcome; 3] = [
        RenewalOutcome::Renewed,
        RenewalOutcome::Churned,
        RenewalOutcome::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RenewalOutcome::Renewed => "renewed",
            RenewalOutcome::Churned => "churned",
            RenewalOutcome::Pending => "pending",
        }
    }
}

impl FromStr for RenewalOutcome {
    type Err = ();
    /// Exact lower-case words only.
    fn from_str(s: &str) -> Result<Self, ()> {
        RenewalOutcome::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for RenewalOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A renewal deal. `amount` is in the reporting currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renewal {
    pub id: String,
    pub account: AccountIx,
    pub due_date: NaiveDate,
    pub outcome: RenewalOutcome,
    pub amount: Option<Decimal>,
}

/// A calendar month, `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    pub fn period(self) -> Option<super::Period> {
        super::Period::month(self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (y, m) = s.split_once('-').ok_or(())?;
        if y.len() != 4 || m.len() != 2 {
            return Err(());
        }
        let year: i32 = y.parse().map_err(|_| ())?;
        let month: u32 = m.parse().map_err(|_| ())?;
        if (1..=12).contains(&month) && y.bytes().all(|b| b.is_ascii_digit()) {
            Ok(YearMonth { year, month })
        } else {
            Err(())
        }
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Customer-success spend of one month, in the reporting currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cost {
    pub month: YearMonth,
    pub amount: Decimal,
}
