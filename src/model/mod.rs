//! The canonical data model of METRICS.md: what every source maps into and every metric reads.
//!
//! Sources turn their input into these records; the store keeps them; the metrics engine computes
//! from them. Nothing here does I/O.

mod dataset;
mod money;
mod period;
mod records;

pub use dataset::{AccountIx, Dataset, DatasetError};
pub use money::{Currency, CurrencyError, FxRates, MAX_AMOUNT, MAX_FX_RATE};
pub use period::{Period, PeriodError, PeriodKind};
pub use records::{
    Account, Cost, Renewal, RenewalOutcome, Subscription, SurveyKind, SurveyResponse, Ticket,
    Usage, YearMonth,
};
