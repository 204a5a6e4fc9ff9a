//! Scorecard definitions (`rules/scorecard.toml`): read raw with spans, then validated into
//! [`ScorecardDef`]s by a pure function that reports every problem at once, each with
//! file:line:column and a hint (DESIGN.md, habits 1 and 2). The file's header comment and
//! docs/scorecards.md document the format.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::config::route::{check_route, Routed};
use crate::config::toml_file::{self, IdKind, Number, Problem};
use crate::diagnostics::{self, line_col, Diagnostic, Diagnostics, LoadError};
use crate::metrics::{MetricId, MetricRef, Unit, Variant};
use crate::model::PeriodKind;

/// How many top at-risk accounts a scorecard lists when `at_risk` is not set.
pub const DEFAULT_AT_RISK: usize = 5;
/// The most `at_risk` may ask for: a chat message has room for a short list only.
pub const MAX_AT_RISK: i64 = 25;
/// How far ahead renewals are listed when `renewal_days` is not set.
pub const DEFAULT_RENEWAL_DAYS: u32 = 60;
/// The longest renewal horizon.
pub const MAX_RENEWAL_DAYS: i64 = 366;
/// The most metrics one chart may draw.
pub const MAX_CHART_METRICS: usize = 4;

/// How a scorecard's id is checked: unique in the file, as it names the chart files.
const SCORECARD_ID: IdKind = IdKind {
    word: "scorecard",
    example: "leadership",
    missing_hint: "add `id = \"...\"`, unique in the file, like \"leadership\": it names the chart files and marks each period's posting",
    taken_hint: "every scorecard needs its own id",
};
/// How a scorecard's `route` hints speak of it.
const ROUTED: Routed = Routed {
    purpose: "the channels it is posted to",
    nowhere: "the scorecard would go nowhere",
};

/// One validated `[[scorecard]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScorecardDef {
    /// Unique across the file; names the PNG files and, with the period, the outbox key.
    pub id: String,
    /// The title: "Leadership".
    pub name: String,
    /// The channels it is posted to.
    pub route: Vec<String>,
    /// `Week` or `Month`.
    pub period: PeriodKind,
    pub kpis: Vec<Kpi>,
    /// One scorecard per account owner, over that owner's book of business.
    pub per_owner: bool,
    /// Only the accounts of this segment.
    pub segment: Option<String>,
    /// The metrics of the trend chart (same unit), default the first KPI.
    pub chart: Vec<MetricId>,
    /// How many top at-risk accounts to list (0 = no list).
    pub at_risk: usize,
    /// Renewals due within this many days of today are listed.
    pub renewal_days: u32,
    /// The file it was read from.
    pub file: String,
}

impl ScorecardDef {
    /// The target of a KPI of this scorecard.
    pub fn target_of(&self, metric: MetricId) -> Option<Target> {
        self.kpis
            .iter()
            .find(|k| k.metric == metric)
            .and_then(|k| k.target)
    }
}

/// One KPI line: a portfolio metric and its optional target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kpi {
    pub metric: MetricId,
    pub target: Option<Target>,
}

/// How a value compares to its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    AtLeast,
    AtMost,
    Above,
    Below,
}

impl Cmp {
    /// The symbol people read: `≥`, `≤`, `>`, `<`.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::AtLeast => "≥",
            Cmp::AtMost => "≤",
            Cmp::Above => ">",
            Cmp::Below => "<",
        }
    }
}

/// A KPI target like `>= 1.05`, in the metric's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub cmp: Cmp,
    pub value: Decimal,
}

impl Target {
    /// Whether `v` meets the target.
    pub fn met_by(&self, v: Decimal) -> bool {
        match self.cmp {
            Cmp::AtLeast => v >= self.value,
            Cmp::AtMost => v <= self.value,
            Cmp::Above => v > self.value,
            Cmp::Below => v < self.value,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.cmp.symbol(), self.value.normalize())
    }
}

/// Why a target text is not a target: a message and a hint.
pub fn parse_target(text: &str) -> Result<Target, (String, String)> {
    const HINT: &str = "a target is a comparison and a number in the metric's unit, like \">= 1.05\", \"<= 0.02\", \"> 30\" or \"< 5\"";
    let t = text.trim();
    let ops: [(&str, Cmp); 6] = [
        (">=", Cmp::AtLeast),
        ("≥", Cmp::AtLeast),
        ("<=", Cmp::AtMost),
        ("≤", Cmp::AtMost),
        (">", Cmp::Above),
        ("<", Cmp::Below),
    ];
    let Some((op, cmp)) = ops.iter().find(|(op, _)| t.starts_with(op)) else {
        let hint = match Decimal::from_str(t) {
            Ok(n) => format!(
                "say which way the target goes: \">= {n}\" (at least) or \"<= {n}\" (at most)"
            ),
            Err(_) if t.starts_with("=>") || t.starts_with("=<") => {
                format!("write the comparison as `>=` or `<=`; {HINT}")
            }
            Err(_) => HINT.to_string(),
        };
        return Err((format!("target `{text}` has no comparison"), hint));
    };
    let rest = t[op.len()..].trim();
    if rest.starts_with('=') {
        return Err((
            format!("target `{text}` has an unknown comparison"),
            format!("the comparisons are `>=`, `<=`, `>` and `<`; {HINT}"),
        ));
    }
    let number = rest.trim_end_matches('%').trim();
    match Decimal::from_str(number) {
        Ok(value) if rest.ends_with('%') => Err((
            format!("target `{text}` is a percentage"),
            format!(
                "write targets in the metric's unit: ratios as fractions, like \"{op} {}\"",
                (value / Decimal::ONE_HUNDRED).normalize()
            ),
        )),
        Ok(value) => Ok(Target { cmp: *cmp, value }),
        Err(_) => Err((
            format!("target `{text}` has no number after `{op}`"),
            HINT.to_string(),
        )),
    }
}

/// Reads and validates a scorecard file; `channels` are the names `route` may use.
pub fn load_scorecards(path: &Path, channels: &[String]) -> Result<Vec<ScorecardDef>, LoadError> {
    let src = diagnostics::read_source(path)?;
    Ok(parse_scorecards(&src, path, channels)?)
}

/// Validates the text of a scorecard file (pure); `file` names it in diagnostics.
pub fn parse_scorecards(
    src: &str,
    file: &Path,
    channels: &[String],
) -> Result<Vec<ScorecardDef>, Diagnostics> {
    let name = file.display().to_string();
    let raw: RawFile = toml_file::parse(src, &name)?;
    let mut v = Validator {
        file: name.clone(),
        src,
        channels,
        ids: HashMap::new(),
        diags: Diagnostics::for_source(name.clone(), src),
    };
    if raw.scorecard.is_empty() {
        v.diags.push(
            Diagnostic::new(&name, "this file defines no scorecard").hint(
                "add a `[[scorecard]]` table with `id`, `name`, `route`, `period` and `kpis`; docs/scorecards.md shows one",
            ),
        );
    }
    let defs: Vec<ScorecardDef> = raw
        .scorecard
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| v.scorecard(i, s))
        .collect();
    v.diags.into_result(defs)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    scorecard: Vec<Spanned<RawScorecard>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScorecard {
    id: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    route: Option<Spanned<Vec<Spanned<String>>>>,
    period: Option<Spanned<String>>,
    kpis: Option<Spanned<Vec<Spanned<RawKpi>>>>,
    per_owner: Option<Spanned<bool>>,
    segment: Option<Spanned<String>>,
    chart: Option<Spanned<Vec<Spanned<String>>>>,
    at_risk: Option<Spanned<Number>>,
    renewal_days: Option<Spanned<Number>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKpi {
    metric: Option<Spanned<String>>,
    target: Option<Spanned<TargetText>>,
}

/// A target as written: a string, or a bare number (kept to explain that it needs a comparison).
#[derive(Debug)]
enum TargetText {
    Text(String),
    Bare(String),
}

impl<'de> Deserialize<'de> for TargetText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TargetText, D::Error> {
        deserializer.deserialize_any(TargetVisitor)
    }
}

struct TargetVisitor;

impl Visitor<'_> for TargetVisitor {
    type Value = TargetText;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a target like \">= 1.05\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TargetText, E> {
        Ok(TargetText::Text(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<TargetText, E> {
        Ok(TargetText::Bare(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TargetText, E> {
        Ok(TargetText::Bare(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<TargetText, E> {
        Ok(TargetText::Bare(v.to_string()))
    }
}

struct Validator<'a> {
    file: String,
    src: &'a str,
    channels: &'a [String],
    /// Scorecard ids seen so far, with where.
    ids: HashMap<String, String>,
    diags: Diagnostics,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        let d = toml_file::error_at(&self.file, Some(span), message, &hint.into());
        self.diags.push(d);
    }

    /// Reports each problem of a shared check.
    fn report(&mut self, problems: Vec<Problem>) {
        for (span, message, hint) in problems {
            self.error(span, message, hint);
        }
    }

    fn scorecard(&mut self, index: usize, raw: Spanned<RawScorecard>) -> Option<ScorecardDef> {
        let header = toml_file::first_line(self.src, raw.span());
        let raw = raw.into_inner();
        let label = match &raw.id {
            Some(id) => format!("scorecard `{}`", id.get_ref()),
            None => format!("scorecard {}", index + 1),
        };
        let id = self.id(raw.id.as_ref(), header.clone());
        let name = match &raw.name {
            None => {
                self.error(
                    header.clone(),
                    format!("{label} has no `name`"),
                    "add `name = \"...\"`: the title of the scorecard, like \"Leadership\"",
                );
                None
            }
            Some(n) if n.get_ref().trim().is_empty() => {
                self.error(
                    n.span(),
                    "`name` is empty",
                    "the title of the scorecard, like \"Leadership\"",
                );
                None
            }
            Some(n) => Some(n.get_ref().trim().to_string()),
        };
        let route = self.route(raw.route.as_ref(), header.clone(), &label);
        let period = self.period(raw.period.as_ref(), header.clone(), &label);
        let kpis = self.kpis(raw.kpis.as_ref(), header.clone(), &label);
        let segment = match &raw.segment {
            Some(s) if s.get_ref().trim().is_empty() => {
                self.error(
                    s.span(),
                    "`segment` is empty",
                    "name the segment to keep, like \"Enterprise\", or leave `segment` out for every account",
                );
                None
            }
            Some(s) => Some(Some(s.get_ref().trim().to_string())),
            None => Some(None),
        };
        let chart = self.chart(raw.chart.as_ref(), kpis.as_deref());
        let at_risk = match &raw.at_risk {
            None => Some(DEFAULT_AT_RISK),
            Some(n) => self
                .integer(
                    n,
                    "at_risk",
                    0,
                    MAX_AT_RISK,
                    "how many of the most at-risk accounts to list, like at_risk = 5 (0 for none)",
                )
                .map(|n| n as usize),
        };
        let renewal_days = match &raw.renewal_days {
            None => Some(DEFAULT_RENEWAL_DAYS),
            Some(n) => self
                .integer(
                    n,
                    "renewal_days",
                    0,
                    MAX_RENEWAL_DAYS,
                    "renewals due within this many days are listed, like renewal_days = 60 (0 for none)",
                )
                .map(|n| n as u32),
        };
        Some(ScorecardDef {
            id: id?,
            name: name?,
            route: route?,
            period: period?,
            kpis: kpis?,
            per_owner: raw.per_owner.as_ref().is_some_and(|b| *b.get_ref()),
            segment: segment?,
            chart: chart?,
            at_risk: at_risk?,
            renewal_days: renewal_days?,
            file: self.file.clone(),
        })
    }

    fn id(&mut self, id: Option<&Spanned<String>>, header: Range<usize>) -> Option<String> {
        match toml_file::check_id(id, header, &SCORECARD_ID, &self.ids) {
            Ok(id) => {
                let (line, col) = line_col(self.src, id.span().start);
                let here = format!("{}:{line}:{col}", self.file);
                self.ids.insert(id.get_ref().clone(), here);
                Some(id.get_ref().clone())
            }
            Err((span, message, hint)) => {
                self.error(span, message, hint);
                None
            }
        }
    }

    fn route(
        &mut self,
        route: Option<&Spanned<Vec<Spanned<String>>>>,
        header: Range<usize>,
        label: &str,
    ) -> Option<Vec<String>> {
        let (route, problems) = check_route(route, header, label, self.channels, &ROUTED);
        self.report(problems);
        route
    }

    fn period(
        &mut self,
        period: Option<&Spanned<String>>,
        header: Range<usize>,
        label: &str,
    ) -> Option<PeriodKind> {
        const WORDS: [(&str, PeriodKind); 2] =
            [("week", PeriodKind::Week), ("month", PeriodKind::Month)];
        let Some(p) = period else {
            self.error(
                header,
                format!("{label} has no `period`"),
                "add `period = \"week\"` (the last complete ISO week) or `period = \"month\"`",
            );
            return None;
        };
        let word = p.get_ref().trim().to_lowercase();
        if let Some((_, k)) = WORDS.iter().find(|(w, _)| *w == word) {
            return Some(*k);
        }
        let alias = match word.as_str() {
            "weekly" | "w" | "iso week" => Some("week"),
            "monthly" | "m" => Some("month"),
            _ => toml_file::closest(&word, WORDS.iter().map(|(w, _)| *w)),
        };
        let hint = match alias {
            Some(w) => format!("did you mean `{w}`?"),
            None => "a scorecard covers a `week` (ISO, Monday first) or a `month`".to_string(),
        };
        self.error(p.span(), format!("unknown period `{}`", p.get_ref()), hint);
        None
    }

    /// A metric name for a KPI or the chart: in the registry, a plain value, for the portfolio.
    fn metric(&mut self, name: &Spanned<String>, key: &str) -> Option<MetricId> {
        let text = name.get_ref().trim();
        let r = match MetricRef::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                self.error(
                    name.span(),
                    format!("unknown metric `{}`", e.name),
                    e.hint(),
                );
                return None;
            }
        };
        if r.variant != Variant::Value {
            self.error(
                name.span(),
                format!("`{text}`: a scorecard {key} is a plain metric"),
                format!(
                    "write `{}`: the scorecard shows its change against the previous period anyway",
                    r.metric
                ),
            );
            return None;
        }
        if !r.metric.def().scope.portfolio() {
            self.error(
                name.span(),
                format!("`{}` exists per account only", r.metric),
                "a scorecard shows portfolio metrics (or an owner's or segment's share); `cs-pulse metrics --list` shows each metric's scope",
            );
            return None;
        }
        Some(r.metric)
    }

    fn kpis(
        &mut self,
        kpis: Option<&Spanned<Vec<Spanned<RawKpi>>>>,
        header: Range<usize>,
        label: &str,
    ) -> Option<Vec<Kpi>> {
        const HINT: &str = "list the KPIs, like kpis = [{ metric = \"nrr\", target = \">= 1.05\" }, { metric = \"mrr\" }]";
        let Some(kpis) = kpis else {
            self.error(header, format!("{label} has no `kpis`"), HINT);
            return None;
        };
        if kpis.get_ref().is_empty() {
            self.error(kpis.span(), "`kpis` is empty", HINT);
            return None;
        }
        let mut out: Vec<Kpi> = Vec::new();
        let mut ok = true;
        for k in kpis.get_ref() {
            let raw = k.get_ref();
            let Some(name) = &raw.metric else {
                self.error(
                    k.span(),
                    "a KPI has no `metric`",
                    "write { metric = \"nrr\", target = \">= 1.05\" }; the target is optional",
                );
                ok = false;
                continue;
            };
            let metric = self.metric(name, "KPI");
            let target = match &raw.target {
                None => Some(None),
                Some(t) => self.target(t, metric).map(Some),
            };
            match (metric, target) {
                (Some(m), Some(target)) => {
                    if out.iter().any(|k| k.metric == m) {
                        self.error(
                            name.span(),
                            format!("KPI `{m}` is listed twice"),
                            "remove one of the two",
                        );
                        ok = false;
                    } else {
                        out.push(Kpi { metric: m, target });
                    }
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn target(&mut self, t: &Spanned<TargetText>, metric: Option<MetricId>) -> Option<Target> {
        let text = match t.get_ref() {
            TargetText::Text(s) => s,
            TargetText::Bare(n) => {
                self.error(
                    t.span(),
                    format!("target `{n}` has no comparison"),
                    format!("write the target as a string with a comparison: \">= {n}\" (at least) or \"<= {n}\" (at most)"),
                );
                return None;
            }
        };
        let target = match parse_target(text) {
            Ok(target) => target,
            Err((message, hint)) => {
                self.error(t.span(), message, hint);
                return None;
            }
        };
        if let Some(m) = metric {
            if m.def().unit == Unit::Ratio && target.value.abs() > Decimal::TEN {
                self.error(
                    t.span(),
                    format!("target `{text}` is out of range for `{m}`, a ratio (1.0 = 100%)"),
                    format!(
                        "ratios are written as fractions: did you mean \"{} {}\"?",
                        target.cmp.symbol().replace('≥', ">=").replace('≤', "<="),
                        (target.value / Decimal::ONE_HUNDRED).normalize()
                    ),
                );
                return None;
            }
        }
        Some(target)
    }

    fn chart(
        &mut self,
        chart: Option<&Spanned<Vec<Spanned<String>>>>,
        kpis: Option<&[Kpi]>,
    ) -> Option<Vec<MetricId>> {
        let Some(chart) = chart else {
            // The first KPI; when the KPIs are invalid (reported already) nothing more to say.
            return Some(kpis?.first().map(|k| vec![k.metric]).unwrap_or_default());
        };
        let list = chart.get_ref();
        if list.is_empty() {
            self.error(
                chart.span(),
                "`chart` is empty",
                "name the metrics to draw, like chart = [\"mrr\"], or leave `chart` out to draw the first KPI",
            );
            return None;
        }
        if list.len() > MAX_CHART_METRICS {
            self.error(
                chart.span(),
                format!(
                    "`chart` draws {MAX_CHART_METRICS} metrics at most, found {}",
                    list.len()
                ),
                "keep the chart readable: one to four metrics of the same unit",
            );
            return None;
        }
        let mut out: Vec<MetricId> = Vec::new();
        let mut ok = true;
        for name in list {
            match self.metric(name, "chart metric") {
                Some(m) if out.contains(&m) => {
                    self.error(
                        name.span(),
                        format!("`{m}` is charted twice"),
                        "remove one of the two",
                    );
                    ok = false;
                }
                Some(m) => {
                    if let Some(first) = out.first() {
                        if first.def().unit != m.def().unit {
                            self.error(
                                name.span(),
                                format!(
                                    "`{m}` has another unit than `{first}`: one chart has one axis"
                                ),
                                "chart metrics of one unit together (mrr with arr, nrr with grr), or leave the others out",
                            );
                            ok = false;
                            continue;
                        }
                    }
                    out.push(m);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn integer(
        &mut self,
        n: &Spanned<Number>,
        key: &str,
        min: i64,
        max: i64,
        hint: &str,
    ) -> Option<i64> {
        match n.get_ref().integer(min, max) {
            Ok(i) => Some(i),
            Err(e) => {
                self.error(n.span(), format!("`{key}` {e}"), hint);
                None
            }
        }
    }
}
