//! The health score model: turns an account's metric values into one 0–100 score and a color
//! band, per METRICS.md "Health score". Read from a TOML file in rules/ (the shipped one is
//! `rules/health.toml`, whose comments document the format); evaluation is pure and exact.
//!
//! Reading follows DESIGN.md habits 1 and 2: raw serde structs with spans, then a validation that
//! reports every problem at once (unknown metrics with a did-you-mean hint, metrics that do not
//! exist per account, bad weights, points, bands, default and segment models).

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use super::registry::{MetricId, MetricRef};
use crate::config::toml_file::{self, Number};
use crate::diagnostics::{self, Diagnostics, LoadError};

/// The shipped health models (`rules/health.toml`), used by the `demo` command.
pub const DEFAULT_HEALTH_MODEL: &str = include_str!("../../rules/health.toml");

/// The largest weight a measure may have: weights are relative, and this bound keeps every
/// weighted sum far from `Decimal`'s limits.
pub const MAX_WEIGHT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

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
    /// The measure's (value, score) points, for the explanation.
    pub points: Vec<(Decimal, Decimal)>,
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
        segment
            .and_then(|s| {
                self.models
                    .iter()
                    .find(|m| m.segments.iter().any(|x| x == s))
            })
            .or_else(|| self.default_model())
    }

    /// The model with no segments.
    pub fn default_model(&self) -> Option<&HealthModel> {
        self.models.iter().find(|m| m.segments.is_empty())
    }

    /// Reads and validates a health model file.
    pub fn load(path: &Path) -> Result<HealthModels, LoadError> {
        let src = diagnostics::read_source(path)?;
        Ok(HealthModels::parse(&src, path)?)
    }

    /// Validates the text of a health model file; `file` names it in diagnostics.
    pub fn parse(src: &str, file: &Path) -> Result<HealthModels, Diagnostics> {
        let name = file.display().to_string();
        let raw: RawFile = toml_file::parse(src, &name)?;
        let mut v = Validator {
            file: name.clone(),
            src,
            diags: Diagnostics::for_source(name, src),
        };
        let models = v.file(raw);
        v.diags.into_result(models)
    }

    /// The shipped models ([`DEFAULT_HEALTH_MODEL`]).
    pub fn builtin() -> HealthModels {
        // `tests/health.rs` pins that the shipped file is valid.
        HealthModels::parse(DEFAULT_HEALTH_MODEL, Path::new("rules/health.toml"))
            .expect("the shipped rules/health.toml is valid")
    }
}

impl HealthModel {
    /// Scores an account given a way to read its metric values.
    pub fn evaluate(&self, value: impl Fn(&MetricRef) -> Option<Decimal>) -> HealthResult {
        let mut measures: Vec<MeasureResult> = self
            .measures
            .iter()
            .map(|m| {
                let v = value(&m.metric);
                MeasureResult {
                    metric: m.metric,
                    value: v,
                    score: v.map(|v| interpolate(&m.points, v)),
                    weight: m.weight,
                    effective_weight: Decimal::ZERO,
                    points: m.points.clone(),
                }
            })
            .collect();
        // Weights are at most MAX_WEIGHT and scores at most 100, so these sums cannot overflow
        // for any realistic number of measures; checked arithmetic keeps it panic-free anyway.
        let mut total_weight = Decimal::ZERO;
        let mut weighted = Decimal::ZERO;
        for m in &measures {
            if let Some(s) = m.score {
                total_weight = total_weight.saturating_add(m.weight);
                weighted = weighted.saturating_add(m.weight.saturating_mul(s));
            }
        }
        let score = if total_weight.is_zero() {
            None
        } else {
            weighted.checked_div(total_weight).map(|s| s.normalize())
        };
        if !total_weight.is_zero() {
            for m in &mut measures {
                if m.score.is_some() {
                    m.effective_weight = m
                        .weight
                        .checked_div(total_weight)
                        .unwrap_or_default()
                        .normalize();
                }
            }
        }
        HealthResult {
            model: self.name.clone(),
            score,
            band: score.and_then(|s| self.band(s)).map(|b| b.name.clone()),
            measures,
        }
    }

    /// The band of a score: the first whose `below` is greater than it, else the last.
    pub fn band(&self, score: Decimal) -> Option<&Band> {
        self.bands
            .iter()
            .find(|b| b.below.is_some_and(|below| score < below))
            .or_else(|| self.bands.last())
    }
}

/// The score of `value` on a line through `points` (sorted by value, at least one), clamped to
/// the first and last point's scores outside their range.
pub fn interpolate(points: &[(Decimal, Decimal)], value: Decimal) -> Decimal {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Decimal::ZERO;
    };
    if value <= first.0 {
        return first.1.normalize();
    }
    if value >= last.0 {
        return last.1.normalize();
    }
    for w in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if value < x1 {
            // y0 + (value - x0) * (y1 - y0) / (x1 - x0), dividing last to stay exact when the
            // result is; the fraction-first order is the fallback if a product overflows.
            let dx = value - x0;
            let dy = y1 - y0;
            let Some(span) = x1.checked_sub(x0) else {
                return y0.normalize();
            };
            let step = dx
                .checked_mul(dy)
                .and_then(|p| p.checked_div(span))
                .or_else(|| dx.checked_div(span).and_then(|f| f.checked_mul(dy)))
                .unwrap_or_default();
            return (y0 + step).normalize();
        }
    }
    last.1.normalize()
}

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    model: Vec<Spanned<RawModel>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: Option<Spanned<String>>,
    segments: Option<Spanned<Vec<Spanned<String>>>>,
    bands: Option<Spanned<Vec<Spanned<RawBand>>>>,
    #[serde(default)]
    measure: Vec<Spanned<RawMeasure>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    name: Option<Spanned<String>>,
    below: Option<Spanned<Number>>,
}

/// `[[value, score], ...]`, each number with its span.
type RawPoints = Spanned<Vec<Spanned<Vec<Spanned<Number>>>>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasure {
    metric: Option<Spanned<String>>,
    weight: Option<Spanned<Number>>,
    points: Option<RawPoints>,
}

const BANDS_EXAMPLE: &str =
    "bands = [{ name = \"red\", below = 40 }, { name = \"yellow\", below = 70 }, { name = \"green\" }]";

struct Validator<'a> {
    file: String,
    src: &'a str,
    diags: Diagnostics,
}

impl Validator<'_> {
    fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>, hint: &str) {
        self.diags
            .push(toml_file::error_at(&self.file, span, message, hint));
    }

    fn header(&self, span: Range<usize>) -> Range<usize> {
        toml_file::first_line(self.src, span)
    }

    fn file(&mut self, raw: RawFile) -> HealthModels {
        if raw.model.is_empty() {
            self.error(
                None,
                "no health model in this file",
                "add a `[[model]]` table with `name`, `bands` and `[[model.measure]]` tables",
            );
        }
        let mut models = Vec::new();
        let mut names: HashMap<String, ()> = HashMap::new();
        let mut segment_owner: HashMap<String, (usize, String)> = HashMap::new();
        let mut default: Option<String> = None;
        for (i, spanned) in raw.model.into_iter().enumerate() {
            let header = self.header(spanned.span());
            let raw = spanned.into_inner();
            let name = match &raw.name {
                Some(n) if n.get_ref().trim().is_empty() => {
                    self.error(Some(n.span()), "a model name cannot be empty", "");
                    format!("model {}", i + 1)
                }
                Some(n) => {
                    if names.insert(n.get_ref().clone(), ()).is_some() {
                        self.error(
                            Some(n.span()),
                            format!("there are two models named `{}`", n.get_ref()),
                            "give every model its own name: it is shown with each health score",
                        );
                    }
                    n.get_ref().clone()
                }
                None => {
                    self.error(
                        Some(header.clone()),
                        "this model has no `name`",
                        "add `name = \"...\"`: it is shown with each health score",
                    );
                    format!("model {}", i + 1)
                }
            };
            let segments = self.segments(&raw, (i, &name), &mut segment_owner);
            if raw.segments.is_none() {
                if let Some(first) = &default {
                    self.error(
                        Some(raw.name.as_ref().map_or(header.clone(), Spanned::span)),
                        format!("model `{name}` is a second default model (after `{first}`)"),
                        "only one model may leave out `segments`; give this one `segments = [\"...\"]`",
                    );
                } else {
                    default = Some(name.clone());
                }
            }
            let bands = self.bands(&raw, header.clone(), &name);
            let measures = self.measures(raw.measure, header, &name);
            models.push(HealthModel {
                name,
                segments,
                measures,
                bands,
            });
        }
        if !models.is_empty() && default.is_none() {
            self.error(
                None,
                "no default model: every model lists `segments`",
                "leave out `segments` in one model: it scores the accounts of every other segment and those without one",
            );
        }
        HealthModels { models }
    }

    fn segments(
        &mut self,
        raw: &RawModel,
        (index, model): (usize, &str),
        owner: &mut HashMap<String, (usize, String)>,
    ) -> Vec<String> {
        let Some(list) = &raw.segments else {
            return vec![];
        };
        if list.get_ref().is_empty() {
            self.error(
                Some(list.span()),
                "`segments` is empty",
                "list the segments this model applies to, or leave out `segments` for the default model",
            );
            // Still not the default model: it was meant to be a segment model.
            return vec![];
        }
        let mut out = Vec::new();
        for s in list.get_ref() {
            let seg = s.get_ref();
            if seg.trim().is_empty() {
                self.error(Some(s.span()), "a segment name cannot be empty", "");
                continue;
            }
            if let Some((other_index, other)) = owner.get(seg) {
                if *other_index == index {
                    self.error(
                        Some(s.span()),
                        format!("segment `{seg}` is listed twice"),
                        "remove one of the two",
                    );
                } else {
                    self.error(
                        Some(s.span()),
                        format!("segment `{seg}` already has model `{other}`"),
                        "a segment is scored by one model: remove it from one of the two lists",
                    );
                }
                continue;
            }
            owner.insert(seg.clone(), (index, model.to_string()));
            out.push(seg.clone());
        }
        out
    }

    fn bands(&mut self, raw: &RawModel, header: Range<usize>, model: &str) -> Vec<Band> {
        let Some(list) = &raw.bands else {
            self.error(
                Some(header),
                format!("model `{model}` has no `bands`"),
                &format!("add the color bands, lowest first, like {BANDS_EXAMPLE}"),
            );
            return vec![];
        };
        if list.get_ref().is_empty() {
            self.error(
                Some(list.span()),
                "`bands` is empty",
                &format!("list the color bands, lowest first, like {BANDS_EXAMPLE}"),
            );
            return vec![];
        }
        let count = list.get_ref().len();
        let mut out: Vec<Band> = Vec::new();
        let mut previous: Option<Decimal> = None;
        for (i, b) in list.get_ref().iter().enumerate() {
            let last = i + 1 == count;
            let band = b.get_ref();
            let name = match &band.name {
                Some(n) if n.get_ref().trim().is_empty() => {
                    self.error(Some(n.span()), "a band name cannot be empty", "");
                    String::new()
                }
                Some(n) => {
                    if out.iter().any(|o| &o.name == n.get_ref()) {
                        self.error(
                            Some(n.span()),
                            format!("there are two bands named `{}`", n.get_ref()),
                            "",
                        );
                    }
                    n.get_ref().clone()
                }
                None => {
                    self.error(
                        Some(b.span()),
                        "this band has no `name`",
                        "add `name = \"...\"`, like red, yellow or green",
                    );
                    String::new()
                }
            };
            let below = match (&band.below, last) {
                (None, false) => {
                    self.error(
                        Some(b.span()),
                        format!("band `{name}` has no `below`"),
                        "every band but the last needs `below`: the score under which it applies",
                    );
                    None
                }
                (None, true) => None,
                (Some(n), true) => {
                    self.error(
                        Some(n.span()),
                        format!("the last band `{name}` has a `below`"),
                        "the last band takes every score from the previous bound up: remove its `below`",
                    );
                    None
                }
                (Some(n), false) => match n.get_ref().decimal() {
                    Ok(v) if v <= Decimal::ZERO || v > Decimal::ONE_HUNDRED => {
                        self.error(
                            Some(n.span()),
                            format!("band `{name}`: `below` must be greater than 0 and at most 100, found {v}"),
                            "health scores go from 0 to 100",
                        );
                        None
                    }
                    Ok(v) => {
                        if let Some(p) = previous {
                            if v <= p {
                                self.error(
                                    Some(n.span()),
                                    format!("band `{name}`: `below` must be greater than the previous band's ({p}), found {v}"),
                                    "list the bands from the lowest scores to the highest",
                                );
                            }
                        }
                        previous = Some(v);
                        Some(v)
                    }
                    Err(e) => {
                        self.error(Some(n.span()), format!("`below` {e}"), "");
                        None
                    }
                },
            };
            out.push(Band { name, below });
        }
        out
    }

    fn measures(
        &mut self,
        raw: Vec<Spanned<RawMeasure>>,
        header: Range<usize>,
        model: &str,
    ) -> Vec<Measure> {
        if raw.is_empty() {
            self.error(
                Some(header),
                format!("model `{model}` has no measures"),
                "add `[[model.measure]]` tables, each with `metric`, `weight` and `points`",
            );
        }
        let mut out: Vec<Measure> = Vec::new();
        for spanned in raw {
            let header = self.header(spanned.span());
            let m = spanned.into_inner();
            let metric = self.metric(m.metric.as_ref(), header.clone());
            if let (Some(r), Some(name)) = (metric, &m.metric) {
                if out.iter().any(|o| o.metric == r) {
                    self.error(
                        Some(name.span()),
                        format!("model `{model}` measures `{r}` twice"),
                        "keep one measure per metric; raise its weight to count it more",
                    );
                }
            }
            let weight = match &m.weight {
                None => Some(Decimal::ONE),
                Some(w) => match w.get_ref().decimal() {
                    Ok(v) if v > Decimal::ZERO && v <= MAX_WEIGHT => Some(v),
                    Ok(v) => {
                        self.error(
                            Some(w.span()),
                            format!("a weight must be greater than 0 and at most {MAX_WEIGHT}, found {v}"),
                            "weights are relative: a measure of weight 2 counts twice as much as one of weight 1",
                        );
                        None
                    }
                    Err(e) => {
                        self.error(Some(w.span()), format!("the weight {e}"), "");
                        None
                    }
                },
            };
            let points = self.points(m.points.as_ref(), header);
            if let (Some(metric), Some(weight), Some(points)) = (metric, weight, points) {
                out.push(Measure {
                    metric,
                    weight,
                    points,
                });
            }
        }
        out
    }

    fn metric(
        &mut self,
        name: Option<&Spanned<String>>,
        header: Range<usize>,
    ) -> Option<MetricRef> {
        let Some(name) = name else {
            self.error(
                Some(header),
                "this measure has no `metric`",
                "add `metric = \"...\"`, a per-account metric like seat_utilization or nps",
            );
            return None;
        };
        let r = match MetricRef::from_str(name.get_ref().trim()) {
            Ok(r) => r,
            Err(e) => {
                let hint = e.hint();
                self.error(
                    Some(name.span()),
                    format!("unknown metric `{}`", name.get_ref()),
                    &hint,
                );
                return None;
            }
        };
        if r.metric == MetricId::Health {
            self.error(
                Some(name.span()),
                format!("a health measure cannot use `{r}` itself"),
                "measure the metrics health is made of, like seat_utilization or nps",
            );
            return None;
        }
        if !r.metric.def().scope.account() {
            self.error(
                Some(name.span()),
                format!("`{}` exists only for the whole portfolio, not per account", r.metric),
                "a health measure needs a per-account metric, like seat_utilization, nps, csat, dau.change_pct or mrr.change_pct",
            );
            return None;
        }
        Some(r)
    }

    fn points(
        &mut self,
        raw: Option<&RawPoints>,
        header: Range<usize>,
    ) -> Option<Vec<(Decimal, Decimal)>> {
        const HINT: &str =
            "points are [value, score] pairs, values increasing, scores 0 to 100, like points = [[0.1, 0], [0.8, 100]]";
        let Some(list) = raw else {
            self.error(Some(header), "this measure has no `points`", HINT);
            return None;
        };
        if list.get_ref().len() < 2 {
            self.error(
                Some(list.span()),
                format!(
                    "a measure needs at least two points, found {}",
                    list.get_ref().len()
                ),
                HINT,
            );
            return None;
        }
        let mut ok = true;
        let mut out: Vec<(Decimal, Decimal)> = Vec::new();
        for p in list.get_ref() {
            let pair = p.get_ref();
            if pair.len() != 2 {
                self.error(
                    Some(p.span()),
                    format!(
                        "a point is a [value, score] pair, found {} numbers",
                        pair.len()
                    ),
                    HINT,
                );
                ok = false;
                continue;
            }
            let (x, y) = (&pair[0], &pair[1]);
            let xv = match x.get_ref().decimal() {
                Ok(v) => Some(v),
                Err(e) => {
                    self.error(Some(x.span()), format!("a point's value {e}"), HINT);
                    None
                }
            };
            let yv = match y.get_ref().decimal() {
                Ok(v) if v < Decimal::ZERO || v > Decimal::ONE_HUNDRED => {
                    self.error(
                        Some(y.span()),
                        format!("a point's score must be from 0 to 100, found {v}"),
                        HINT,
                    );
                    None
                }
                Ok(v) => Some(v),
                Err(e) => {
                    self.error(Some(y.span()), format!("a point's score {e}"), HINT);
                    None
                }
            };
            if let (Some(xv), Some(prev)) = (xv, out.last()) {
                if xv <= prev.0 {
                    self.error(
                        Some(x.span()),
                        format!("point values must increase: {xv} comes after {}", prev.0),
                        "list the points from the lowest value to the highest; for lower-is-better metrics let the scores decrease, like [[1, 100], [5, 0]]",
                    );
                    ok = false;
                    continue;
                }
            }
            match (xv, yv) {
                (Some(xv), Some(yv)) => out.push((xv, yv)),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }
}
