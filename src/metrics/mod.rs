//! The KPI engine: every number of METRICS.md as a pure function of a [`Dataset`], a subject
//! (the portfolio, a filtered part of it, or one account) and a [`Period`].
//!
//! [`Engine::new`] indexes the data once (subscriptions converted to the reporting currency and
//! turned into per-account MRR step functions, usage merged per account and day, everything
//! grouped by account and sorted by date); every metric after that reads only the index.

pub mod docs;
pub mod health;
mod index;
pub mod registry;
mod revenue;
mod usage;
mod voice;

use rust_decimal::Decimal;

use crate::model::{AccountIx, Dataset, FxRates, Period};

pub use health::{HealthModels, HealthResult};
pub use index::Index;
pub use registry::{MetricDef, MetricId, MetricRef, Scope, Unit, UnknownMetric, Variant, METRICS};
pub use revenue::Movements;

/// Configuration the metric definitions depend on.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsConfig {
    pub fx: FxRates,
    /// Multiplies arpa in `ltv` (default 1).
    pub gross_margin: Decimal,
    /// Calendar months averaged for `ltv`'s churn rate (default 6).
    pub ltv_months: u32,
    /// Features a customer can use, for `adoption_rate` (null when unset).
    pub features_available: Option<u32>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            fx: FxRates::default(),
            gross_margin: Decimal::ONE,
            ltv_months: 6,
            features_available: None,
        }
    }
}

/// Restricts portfolio metrics to the accounts whose fields equal every given value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    pub segment: Option<String>,
    pub owner: Option<String>,
    pub plan: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.segment.is_none() && self.owner.is_none() && self.plan.is_none()
    }
}

/// What a metric is computed for.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'f> {
    Portfolio(&'f Filter),
    Account(AccountIx),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(
        "subscription \"{subscription}\" is in {currency}, which has no exchange rate in [fx]"
    )]
    NoRate {
        subscription: String,
        currency: String,
    },
}

/// Computes metrics over one indexed data set.
pub struct Engine<'a> {
    ds: &'a Dataset,
    cfg: MetricsConfig,
    index: Index,
    health: Option<HealthModels>,
}

impl<'a> Engine<'a> {
    pub fn new(ds: &'a Dataset, cfg: MetricsConfig) -> Result<Engine<'a>, EngineError> {
        let index = Index::build(ds, &cfg.fx)?;
        Ok(Engine {
            ds,
            cfg,
            index,
            health: None,
        })
    }

    /// Enables the `health` metric with these models.
    pub fn with_health(mut self, models: HealthModels) -> Self {
        self.health = Some(models);
        self
    }

    pub fn dataset(&self) -> &'a Dataset {
        self.ds
    }

    pub fn config(&self) -> &MetricsConfig {
        &self.cfg
    }

    pub fn health_models(&self) -> Option<&HealthModels> {
        self.health.as_ref()
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    /// The accounts a filter selects, in data-set order.
    pub fn accounts<'s>(&'s self, filter: &'s Filter) -> impl Iterator<Item = AccountIx> + 's {
        self.ds
            .accounts()
            .iter()
            .enumerate()
            .filter(move |(_, a)| {
                filter
                    .segment
                    .as_ref()
                    .is_none_or(|s| a.segment.as_ref() == Some(s))
                    && filter
                        .owner
                        .as_ref()
                        .is_none_or(|o| a.owner.as_ref() == Some(o))
                    && filter
                        .plan
                        .as_ref()
                        .is_none_or(|p| a.plan.as_ref() == Some(p))
            })
            .map(|(i, _)| i as AccountIx)
    }

    /// The accounts a subject covers.
    pub fn subject_accounts<'s>(
        &'s self,
        s: Subject<'s>,
    ) -> Box<dyn Iterator<Item = AccountIx> + 's> {
        match s {
            Subject::Account(a) => Box::new(std::iter::once(a)),
            Subject::Portfolio(f) => Box::new(self.accounts(f)),
        }
    }

    /// The value of a metric reference (`nrr`, `mrr.change`, `dau.change_pct`); `None` where
    /// METRICS.md says null, and for a metric that does not exist for this subject's scope.
    pub fn value(&self, r: MetricRef, subject: Subject, period: &Period) -> Option<Decimal> {
        let now = self.metric(r.metric, subject, period);
        match r.variant {
            Variant::Value => now,
            _ => {
                let prev = self.metric(r.metric, subject, &period.previous());
                derive(r.variant, now, prev)
            }
        }
    }

    /// The value of one metric for `subject` over `period`.
    pub fn metric(&self, id: MetricId, subject: Subject, period: &Period) -> Option<Decimal> {
        let scope = id.def().scope;
        match subject {
            Subject::Portfolio(_) if !scope.portfolio() => return None,
            Subject::Account(_) if !scope.account() => return None,
            _ => {}
        }
        use MetricId::*;
        match id {
            Mrr | OpeningMrr | Arr | NewMrr | ExpansionMrr | ReactivationMrr | ContractionMrr
            | ChurnedMrr | NetNewMrr | ExpansionRevenue | QuickRatio | Nrr | Grr
            | RevenueChurnRate | NetRevenueChurnRate | Customers | LogoChurnRate
            | RetentionRate | Arpa | Ltv | RenewalRate | TrialConversionRate | RetentionCost => {
                revenue::metric(self, id, subject, period)
            }
            Nps | Csat | Ces | FirstContactResolution | NpsDetractors | TicketsOpened => {
                voice::metric(self, id, subject, period)
            }
            Dau | SeatUtilization | MinutesPerActiveUser | AdoptionRate | TimeToFirstValue
            | DaysToRenewal | TrialDaysLeft | FirstValueReached => {
                usage::metric(self, id, subject, period)
            }
            Health => match subject {
                Subject::Account(a) => self.health(a, period).and_then(|h| h.score),
                Subject::Portfolio(_) => None,
            },
        }
    }

    /// The MRR movement totals of `subject` over `period`.
    pub fn movements(&self, subject: Subject, period: &Period) -> Movements {
        revenue::movements(self, subject, period)
    }

    /// The account's health over `period` with its explanation; `None` without a health model.
    pub fn health(&self, account: AccountIx, period: &Period) -> Option<HealthResult> {
        let models = self.health.as_ref()?;
        let segment = self.ds.account(account).segment.as_deref();
        let model = models.for_segment(segment)?;
        Some(model.evaluate(|r| self.value(*r, Subject::Account(account), period)))
    }
}

/// The value of `variant` from a metric's value now and in the previous period: `.change` is
/// the difference; `.change_pct` the difference relative to the size of the previous value (so
/// that a move from -10 to -5 reads +50%, an improvement), null when the previous value is 0.
pub fn derive(variant: Variant, now: Option<Decimal>, prev: Option<Decimal>) -> Option<Decimal> {
    match variant {
        Variant::Value => now,
        Variant::Change => Some(now? - prev?),
        Variant::ChangePct => {
            let prev = prev?;
            if prev.is_zero() {
                None
            } else {
                (now? - prev).checked_div(prev.abs())
            }
        }
    }
}
