//! voice metrics (stub).
use rust_decimal::Decimal;

use super::{Engine, MetricId, Subject};
use crate::model::Period;

pub(super) fn metric(e: &Engine, id: MetricId, s: Subject, p: &Period) -> Option<Decimal> {
    let _ = (e, id, s, p);
    None
}
