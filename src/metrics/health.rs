//! The health score model: turns an account's metric values into one 0–100 score and a color
//! band, per METRICS.md "Health score". Read from a TOML file in rules/; pure.
//!
//! (Implementation pending: see the API below.)

use rust_decimal::Decimal;

use super::registry::MetricRef;

/// All health models of one file: one default and optional per-segment ones.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthModels {
    pub models: Vec<HealthModel>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HealthModel {
    pub name: String,
    /// Segments this model applies to; empty = the default model.
    pub segments: Vec<String>,
    pub measures: Vec<Measure>,
    /// Ordered from lowest: a score below `below` gets that band; the last band has no bound.
    pub bands: Vec<Band>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    pub metric: MetricRef,
    pub weight: Decimal,
    /// (metric value, score) points, sorted by value; linear in between, clamped at the ends.
    pub points: Vec<(Decimal, Decimal)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub name: String,
    /// Scores below this are in this band (`None` for the last band).
    pub below: Option<Decimal>,
}

/// The explanation of one measure in a health value.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasureResult {
    pub metric: MetricRef,
    pub value: Option<Decimal>,
    /// 0–100, `None` when the value is missing.
    pub score: Option<Decimal>,
    pub weight: Decimal,
    /// Weight after renormalising over the measures that have a value (sums to 1); 0 without value.
    pub effective_weight: Decimal,
}

/// A health value with everything needed to explain it.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthResult {
    pub model: String,
    pub score: Option<Decimal>,
    pub band: Option<String>,
    pub measures: Vec<MeasureResult>,
}

impl HealthModels {
    /// The model for an account of this segment: the first model listing the segment, else the
    /// default model (the one with no segments).
    pub fn for_segment(&self, segment: Option<&str>) -> Option<&HealthModel> {
        let _ = segment;
        None
    }
}

impl HealthModel {
    /// Scores an account given a way to read its metric values.
    pub fn evaluate(&self, value: impl Fn(&MetricRef) -> Option<Decimal>) -> HealthResult {
        let _ = value;
        HealthResult {
            model: self.name.clone(),
            score: None,
            band: None,
            measures: vec![],
        }
    }
}
