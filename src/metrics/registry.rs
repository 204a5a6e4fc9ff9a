//! The registry of metric definitions: name, unit, scope and a one-line description of every
//! number cs-pulse computes. Lookups, rules, the health model and docs/metrics.md all read it, so
//! a metric exists in exactly one place.

use std::fmt;
use std::str::FromStr;

/// Every metric of METRICS.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricId {
    // Revenue
    Mrr,
    OpeningMrr,
    Arr,
    NewMrr,
    ExpansionMrr,
    ReactivationMrr,
    ContractionMrr,
    ChurnedMrr,
    NetNewMrr,
    ExpansionRevenue,
    QuickRatio,
    Nrr,
    Grr,
    RevenueChurnRate,
    NetRevenueChurnRate,
    Customers,
    LogoChurnRate,
    RetentionRate,
    Arpa,
    Ltv,
    RenewalRate,
    TrialConversionRate,
    RetentionCost,
    // Voice of the customer
    Nps,
    Csat,
    Ces,
    FirstContactResolution,
    NpsDetractors,
    TicketsOpened,
    // Usage and adoption
    Dau,
    SeatUtilization,
    MinutesPerActiveUser,
    AdoptionRate,
    TimeToFirstValue,
    DaysToRenewal,
    TrialDaysLeft,
    FirstValueReached,
    // Health
    Health,
}

/// What a value measures, which decides how it is shown and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// An amount in the reporting currency: shown and written rounded to 2 decimals.
    Money,
    /// A fraction, 1.0 = 100% (nrr, churn rates, seat utilisation): not rounded in JSON.
    Ratio,
    /// A 0–100 score or percentage (nps, csat, first-contact resolution, health).
    Score,
    /// A count of accounts.
    Count,
    /// A number of days.
    Days,
    /// Any other plain number (ces, dau, quick ratio, minutes).
    Number,
}

/// Where a metric exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Only for the whole portfolio (or a segment/owner/plan filter of it).
    Portfolio,
    /// Only per account.
    Account,
    /// Both.
    Both,
}

impl Scope {
    pub fn portfolio(self) -> bool {
        matches!(self, Scope::Portfolio | Scope::Both)
    }
    pub fn account(self) -> bool {
        matches!(self, Scope::Account | Scope::Both)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Revenue,
    Voice,
    Usage,
    Health,
}

impl Group {
    pub fn title(self) -> &'static str {
        match self {
            Group::Revenue => "Revenue",
            Group::Voice => "Voice of the customer",
            Group::Usage => "Usage and adoption",
            Group::Health => "Health",
        }
    }
}

/// One registry entry.
#[derive(Debug)]
pub struct MetricDef {
    pub id: MetricId,
    /// The METRICS.md name, used in config, rules, JSON and commands.
    pub name: &'static str,
    pub unit: Unit,
    pub scope: Scope,
    pub group: Group,
    /// One line for `metrics --list` and autocomplete.
    pub description: &'static str,
    /// The exact formula, as in METRICS.md (docs/metrics.md prints it).
    pub formula: &'static str,
    /// A worked example for docs/metrics.md.
    pub example: &'static str,
}

macro_rules! registry {
    ($( $id:ident $name:literal $unit:ident $scope:ident $group:ident $desc:literal $formula:literal $example:literal ;)*) => {
        /// All metrics, in the order they are listed and shown.
        pub const METRICS: &[MetricDef] = &[
            $( MetricDef { id: MetricId::$id, name: $name, unit: Unit::$unit, scope: Scope::$scope,
                group: Group::$group, description: $desc, formula: $formula, example: $example }, )*
        ];
    };
}

registry! {
    Mrr "mrr" Money Both Revenue "Closing MRR: MRR on the period's last day."
        "M(e-1): sum of the mrr of the subscription intervals with start_date <= e-1 < end_date, converted to the reporting currency"
        "Two subscriptions of $100 and €50 (EUR = 1.08) running on the last day: 100 + 50 x 1.08 = $154.00.";
    OpeningMrr "opening_mrr" Money Both Revenue "Opening MRR: MRR on the day before the period."
        "M(s-1)"
        "For 2025-03, the MRR of 2025-02-28.";
    Arr "arr" Money Both Revenue "Annual run rate: 12 x closing MRR."
        "12 x mrr"
        "Closing MRR $154.00 -> 12 x 154 = $1,848.00.";
    NewMrr "new_mrr" Money Both Revenue "MRR from accounts that started paying for the first time."
        "sum of n over the days d in [s, e) where M_a(d-1) = 0 < M_a(d) = n and a never paid before d"
        "An account first paying $200 from 2025-03-10: new_mrr of 2025-03 = $200.";
    ExpansionMrr "expansion_mrr" Money Both Revenue "MRR added by paying accounts that grew."
        "sum of n - p over the days where 0 < p = M_a(d-1) < n = M_a(d)"
        "$100 -> $150 on 2025-03-15: expansion of $50.";
    ReactivationMrr "reactivation_mrr" Money Both Revenue "MRR from accounts that paid before, stopped, and came back."
        "sum of n over the days where M_a(d-1) = 0 < M_a(d) = n and a paid on some day before d"
        "Paid $80 until 2024-12-01, pays $90 again from 2025-03-05: reactivation of $90 in 2025-03.";
    ContractionMrr "contraction_mrr" Money Both Revenue "MRR lost by paying accounts that shrank."
        "sum of p - n over the days where 0 < n = M_a(d) < p = M_a(d-1)"
        "$150 -> $120 on 2025-03-15: contraction of $30.";
    ChurnedMrr "churned_mrr" Money Both Revenue "MRR lost by accounts that stopped paying."
        "sum of p over the days where p = M_a(d-1) > 0 = M_a(d)"
        "A $120 subscription ending 2025-03-20 with no successor: churn of $120 in 2025-03.";
    NetNewMrr "net_new_mrr" Money Both Revenue "Closing minus opening MRR."
        "mrr - opening_mrr = new + expansion + reactivation - contraction - churn"
        "Opening $1,000, closing $1,150: +$150 (new 200 + expansion 50 - churn 100).";
    ExpansionRevenue "expansion_revenue" Money Both Revenue "The expansion movement total."
        "expansion_mrr"
        "Same value as expansion_mrr: $50 in the example above.";
    QuickRatio "quick_ratio" Number Both Revenue "Growth MRR over lost MRR; null when nothing was lost."
        "(new + expansion + reactivation) / (contraction + churn)"
        "new 200 + expansion 50 + reactivation 0 = 250 over contraction 30 + churn 120 = 150: 1.6667.";
    Nrr "nrr" Ratio Both Revenue "Net revenue retention of the accounts paying the day before the period."
        "sum over C of M_a(e-1) / sum over C of M_a(s-1), C = accounts paying on s-1"
        "Cohort paying $1,000 on s-1 pays $1,050 on e-1 (one account +$100, another -$50): 1.05.";
    Grr "grr" Ratio Both Revenue "Gross revenue retention: like nrr, with expansion left out."
        "sum over C of min(M_a(e-1), M_a(s-1)) / sum over C of M_a(s-1)"
        "Same cohort: min per account sums to $950 -> 0.95.";
    RevenueChurnRate "revenue_churn_rate" Ratio Both Revenue "Gross revenue churn rate."
        "1 - grr"
        "grr 0.95 -> 0.05.";
    NetRevenueChurnRate "net_revenue_churn_rate" Ratio Both Revenue "Net revenue churn rate (negative when expansion outgrows losses)."
        "1 - nrr"
        "nrr 1.05 -> -0.05.";
    Customers "customers" Count Portfolio Revenue "Accounts paying on the period's last day."
        "|{a : M_a(e-1) > 0}|"
        "Three accounts with MRR > 0 on the last day: 3.";
    LogoChurnRate "logo_churn_rate" Ratio Portfolio Revenue "Share of the opening cohort that stopped paying by the period's end."
        "|{a in C : M_a(e-1) = 0}| / |C|"
        "1 of a 4-account opening cohort pays nothing on e-1: 0.25.";
    RetentionRate "retention_rate" Ratio Portfolio Revenue "Share of the opening cohort still paying at the period's end."
        "1 - logo_churn_rate"
        "logo_churn_rate 0.25 -> 0.75.";
    Arpa "arpa" Money Portfolio Revenue "Average revenue per paying account."
        "mrr / customers"
        "Closing MRR $1,050 over 3 customers: $350.00.";
    Ltv "ltv" Money Portfolio Revenue "Customer lifetime value."
        "arpa x gross_margin / mean monthly logo_churn_rate over the ltv_months calendar months ending on or before e-1"
        "arpa $350, gross_margin 0.8, monthly logo churn rates 0.02, 0.04 -> mean 0.03: 350 x 0.8 / 0.03 = $9,333.33.";
    RenewalRate "renewal_rate" Ratio Both Revenue "Share of decided renewals due in the period that renewed."
        "renewals due in the period with outcome renewed / those with outcome renewed or churned"
        "Due in the period: 3 renewed, 1 churned, 2 pending: 3 / 4 = 0.75.";
    TrialConversionRate "trial_conversion_rate" Ratio Portfolio Revenue "Share of trials ending in the period that converted."
        "accounts with trial_ended_at in the period and converted_at set / accounts with trial_ended_at in the period"
        "4 trials ended in the period, 1 with converted_at: 0.25.";
    RetentionCost "retention_cost" Money Portfolio Revenue "Customer-success spend per retained account."
        "sum of monthly cost pro-rated by the share of each month's days inside the period / |{a in C : M_a(e-1) > 0}|"
        "Week 2025-W10 (7 days of March): March cost $3,100 x 7/31 = $700 over 10 retained accounts: $70.00.";
    Nps "nps" Score Both Voice "Net Promoter Score, -100 to 100."
        "100 x (responses scoring 9-10 - responses scoring 0-6) / responses, kind nps, submitted in the period"
        "Scores 10, 9, 8, 6: (2 promoters - 1 detractor) / 4 x 100 = 25.";
    Csat "csat" Score Both Voice "Customer satisfaction: share of 4-5 answers, 0 to 100."
        "100 x responses scoring 4-5 / responses, kind csat, submitted in the period"
        "Scores 5, 4, 3: 2 of 3 -> 66.7.";
    Ces "ces" Number Both Voice "Customer effort score: mean answer, 1 to 7."
        "mean score of the responses of kind ces submitted in the period"
        "Scores 2, 3, 7: mean 4.";
    FirstContactResolution "first_contact_resolution" Score Both Voice "Share of tickets resolved in the period on the first contact, 0 to 100."
        "100 x tickets resolved in the period with contacts = 1 / tickets resolved in the period"
        "4 tickets resolved in the period, 3 with contacts = 1: 75.";
    NpsDetractors "nps_detractors" Count Both Voice "NPS responses scoring 0-6 submitted in the period."
        "|{responses of kind nps submitted in the period with score <= 6}|"
        "Scores 10, 9, 6, 3 this week: 2.";
    TicketsOpened "tickets_opened" Count Both Voice "Support tickets opened in the period."
        "|{tickets with opened_at in the period}|"
        "Tickets opened on 2025-03-03 and 2025-03-05, one in February: 2 for 2025-03.";
    Dau "dau" Number Both Usage "Average daily active users (user-days per day of the period)."
        "sum of active_users / days in the period"
        "Active users 10 and 20 on two days of a 7-day week, no rows on the others: 30 / 7 = 4.29.";
    SeatUtilization "seat_utilization" Ratio Both Usage "Daily active users per licensed seat."
        "dau / licensed_seats (portfolio: sum of dau / sum of licensed_seats over accounts with seats)"
        "dau 4.29 with 10 seats: 0.429.";
    MinutesPerActiveUser "minutes_per_active_user" Number Both Usage "Minutes of use per active user-day."
        "sum of minutes / sum of active_users"
        "90 minutes over 30 active user-days: 3.";
    AdoptionRate "adoption_rate" Ratio Both Usage "Mean share of the available features used per account-day with usage."
        "mean over account-days with a usage row of features_used / features_available"
        "features_available 20; days with 5 and 15 features used: mean 10 / 20 = 0.5.";
    TimeToFirstValue "time_to_first_value" Days Portfolio Usage "Median days from creation to first value, for accounts reaching it in the period."
        "median of first_value_at - created_at over accounts whose first_value_at is in the period"
        "Accounts reaching first value after 3, 10, 4 and 20 days: median (4 + 10) / 2 = 7 days.";
    DaysToRenewal "days_to_renewal" Days Account Usage "Days until the account's next renewal (as of the period's last day)."
        "renewal_date - e-1"
        "Renewal 2025-04-30, period 2025-03 (last day 2025-03-31): 30 days.";
    TrialDaysLeft "trial_days_left" Days Account Usage "Days until the account's trial ends (as of the period's last day); null without a trial end or once converted."
        "trial_ended_at - (e-1), null when trial_ended_at is empty or converted_at is set"
        "Trial ending 2025-03-20, period ending 2025-03-14: 6 days.";
    FirstValueReached "first_value_reached" Count Account Usage "1 when the account reached first value by the period's last day, else 0."
        "1 if first_value_at <= e-1, else 0"
        "first_value_at 2025-03-02, period 2025-03: 1; no first_value_at: 0.";
    Health "health" Score Account Health "Health score 0-100 from the configured health model."
        "weighted mean of the model's measures that have a value, each mapped to 0-100 by linear interpolation between its points"
        "Measures scoring 80 (weight 2) and 50 (weight 1), a third without value: (160 + 50) / 3 = 70.";
}

impl MetricId {
    pub fn def(self) -> &'static MetricDef {
        // The registry lists every variant; `registry_is_complete` pins it.
        METRICS
            .iter()
            .find(|m| m.id == self)
            .expect("every MetricId is in METRICS")
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }
}

impl fmt::Display for MetricId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metric name that is not in the registry, with the closest one as a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric `{name}`{}", .suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct UnknownMetric {
    pub name: String,
    pub suggestion: Option<&'static str>,
}

impl UnknownMetric {
    /// What to write instead: the closest name, or where to find every name.
    pub fn hint(&self) -> String {
        match self.suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => "`cs-pulse metrics --list` shows every metric; add `.change` or `.change_pct` for the change against the previous period".to_string(),
        }
    }
}

/// The registry name closest to `name`, if any is close enough to be a likely typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    METRICS
        .iter()
        .map(|m| (strsim::jaro_winkler(name, m.name), m.name))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

impl FromStr for MetricId {
    type Err = UnknownMetric;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        METRICS
            .iter()
            .find(|m| m.name == s)
            .map(|m| m.id)
            .ok_or_else(|| UnknownMetric {
                name: s.to_string(),
                suggestion: suggest(s),
            })
    }
}

/// Which value of a metric: the value itself, or its change against the previous period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    Value,
    /// `<metric>.change`: value − previous value.
    Change,
    /// `<metric>.change_pct`: (value − previous) / |previous|; null when previous is 0 or null.
    ChangePct,
}

/// A metric reference as written in rules, config and commands: `nrr`, `mrr.change`,
/// `dau.change_pct`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MetricRef {
    pub metric: MetricId,
    pub variant: Variant,
}

impl MetricRef {
    pub fn value(metric: MetricId) -> MetricRef {
        MetricRef {
            metric,
            variant: Variant::Value,
        }
    }

    /// The unit of the referenced value (a change_pct is a ratio whatever the metric).
    pub fn unit(&self) -> Unit {
        match self.variant {
            Variant::ChangePct => Unit::Ratio,
            _ => self.metric.def().unit,
        }
    }
}

impl fmt::Display for MetricRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.variant {
            Variant::Value => write!(f, "{}", self.metric),
            Variant::Change => write!(f, "{}.change", self.metric),
            Variant::ChangePct => write!(f, "{}.change_pct", self.metric),
        }
    }
}

impl FromStr for MetricRef {
    type Err = UnknownMetric;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, variant) = if let Some(n) = s.strip_suffix(".change_pct") {
            (n, Variant::ChangePct)
        } else if let Some(n) = s.strip_suffix(".change") {
            (n, Variant::Change)
        } else {
            (s, Variant::Value)
        };
        let metric = name.parse::<MetricId>().map_err(|mut e| {
            e.name = s.to_string();
            e
        })?;
        Ok(MetricRef { metric, variant })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_complete_and_unique() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        for m in METRICS {
            assert_eq!(m.id.def().name, m.name);
            assert_eq!(m.name.parse::<MetricId>().unwrap(), m.id);
            assert!(!m.description.is_empty() && !m.formula.is_empty());
        }
    }

    #[test]
    fn references_and_suggestions() {
        let r: MetricRef = "dau.change_pct".parse().unwrap();
        assert_eq!((r.metric, r.variant), (MetricId::Dau, Variant::ChangePct));
        assert_eq!(r.to_string(), "dau.change_pct");
        let e = "seat_utilisation".parse::<MetricRef>().unwrap_err();
        assert_eq!(e.suggestion, Some("seat_utilization"));
        assert_eq!(
            e.to_string(),
            "unknown metric `seat_utilisation` (did you mean `seat_utilization`?)"
        );
        assert_eq!("zzz".parse::<MetricId>().unwrap_err().suggestion, None);
    }
}
