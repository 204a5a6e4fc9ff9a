//! The validated rule model: what a rule file says once it has been parsed and checked.
//!
//! Rules are pure data; [`crate::rules::eval`] turns them and metric values into signals, and
//! [`crate::alerts::lifecycle`] turns signals over time into alerts.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;

use crate::metrics::{Filter, MetricRef};
use crate::model::{Period, PeriodKind};

/// Whether a rule looks at each account or at the whole portfolio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleScope {
    Account,
    Portfolio,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The days a condition's metric is computed over, ending on the evaluation day (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Window {
    /// The calendar week, month, quarter or year to date.
    ToDate(PeriodKind),
    /// The last N days.
    Trailing(u32),
}

impl Window {
    /// The period this window covers when evaluated on `day`: `[start, day + 1)`. Its previous
    /// period (for `.change`) is the same number of days just before.
    pub fn period(self, day: NaiveDate) -> Period {
        let end = day.succ_opt().unwrap_or(day);
        let start = match self {
            Window::ToDate(kind) => Period::containing(kind, day).start(),
            Window::Trailing(n) => day - Duration::days(i64::from(n.max(1)) - 1),
        };
        Period::range(start, end).unwrap_or_else(|_| Period::containing(PeriodKind::Range, day))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::ToDate(PeriodKind::Week) => f.write_str("week"),
            Window::ToDate(PeriodKind::Month) => f.write_str("month"),
            Window::ToDate(PeriodKind::Quarter) => f.write_str("quarter"),
            Window::ToDate(PeriodKind::Year) => f.write_str("year"),
            Window::ToDate(PeriodKind::Range) => f.write_str("day"),
            Window::Trailing(n) => write!(f, "{n}d"),
        }
    }
}

/// Which side of the threshold fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Fires when the value is below the threshold.
    Below,
    /// Fires when the value is above the threshold.
    Above,
}

/// One test of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// A metric value against a threshold, with an optional hysteresis bound: a firing alert
    /// resolves only once the value is past `resolve` (e.g. fire below 40, resolve above 45).
    Threshold {
        metric: MetricRef,
        direction: Direction,
        threshold: Decimal,
        resolve: Option<Decimal>,
    },
    /// The account's health band is one of these (e.g. not green: `["red", "yellow"]`).
    Band { bands: Vec<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub test: Test,
    pub window: Window,
}

/// How a rule's conditions combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    All,
    Any,
}

/// Which accounts a rule applies to, beyond segment/owner/plan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountFilter {
    pub segments: Vec<String>,
    pub owners: Vec<String>,
    pub plans: Vec<String>,
    /// Custom account fields that must equal these values.
    pub custom: BTreeMap<String, String>,
    /// The account's MRR on the evaluation day must be at least this.
    pub min_mrr: Option<Decimal>,
}

impl AccountFilter {
    pub fn is_empty(&self) -> bool {
        self == &AccountFilter::default()
    }

    /// The portfolio filter of a portfolio-scope rule (one value per field at most).
    pub fn as_portfolio_filter(&self) -> Filter {
        Filter {
            segment: self.segments.first().cloned(),
            owner: self.owners.first().cloned(),
            plan: self.plans.first().cloned(),
        }
    }
}

/// A validated rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub scope: RuleScope,
    pub severity: Severity,
    /// Channel names (keys of `[channels]` in the config).
    pub route: Vec<String>,
    pub combine: Combine,
    pub conditions: Vec<Condition>,
    pub filter: AccountFilter,
    /// How long the conditions must hold before the alert fires (0 = at once).
    pub for_: Duration,
    /// While firing and not acknowledged, remind this often.
    pub repeat: Option<Duration>,
    /// minijinja template of the alert message.
    pub message: String,
    /// minijinja template of the resolved notice.
    pub resolved_message: Option<String>,
    /// The file the rule came from, for messages.
    pub file: String,
}

impl Rule {
    /// Every metric the rule reads, with the window it reads it over.
    pub fn metrics(&self) -> impl Iterator<Item = (MetricRef, Window)> + '_ {
        self.conditions.iter().filter_map(|c| match &c.test {
            Test::Threshold { metric, .. } => Some((*metric, c.window)),
            Test::Band { .. } => None,
        })
    }
}
