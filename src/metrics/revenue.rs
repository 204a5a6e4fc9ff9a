//! Revenue metrics (stub).
use rust_decimal::Decimal;

use super::{Engine, MetricId, Subject};
use crate::model::Period;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Movements {
    pub new: Decimal,
    pub expansion: Decimal,
    pub reactivation: Decimal,
    pub contraction: Decimal,
    pub churn: Decimal,
}

pub(super) fn metric(e: &Engine, id: MetricId, s: Subject, p: &Period) -> Option<Decimal> {
    let _ = (e, id, s, p);
    None
}

pub(super) fn movements(e: &Engine, s: Subject, p: &Period) -> Movements {
    let _ = (e, s, p);
    Movements::default()
}
