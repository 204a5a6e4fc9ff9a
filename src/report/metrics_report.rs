//! The output of `cs-pulse metrics`: metric values for the portfolio, one account, or every
//! account, as a terminal table or as JSON with METRICS.md's names.

use std::collections::BTreeMap;

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;

use super::format;
use crate::metrics::{Engine, Filter, MetricRef, Subject, Variant, METRICS};
use crate::model::{AccountIx, Period};

/// Which subject(s) to compute for.
#[derive(Clone, Debug)]
pub enum Target {
    Portfolio(Filter),
    Account(AccountIx),
    PerAccount(Filter),
}

/// The metrics shown when none are asked for: every metric that exists for the target.
pub fn default_metrics(target: &Target) -> Vec<MetricRef> {
    METRICS
        .iter()
        .filter(|m| match target {
            Target::Portfolio(_) => m.scope.portfolio(),
            Target::Account(_) | Target::PerAccount(_) => m.scope.account(),
        })
        .map(|m| MetricRef::value(m.id))
        .collect()
}

/// One subject's values, in the order of the requested metrics.
pub struct Row {
    pub account: Option<AccountIx>,
    pub values: Vec<Option<Decimal>>,
}

/// Computed values, ready to render.
pub struct MetricsReport {
    pub period: Period,
    pub metrics: Vec<MetricRef>,
    pub target: Target,
    pub rows: Vec<Row>,
    /// For a single subject: each metric's change against the previous period (table only).
    pub changes: Vec<(Option<Decimal>, Option<Decimal>)>,
}

impl MetricsReport {
    pub fn compute(
        engine: &Engine,
        period: Period,
        metrics: Vec<MetricRef>,
        target: Target,
    ) -> Self {
        let row = |s: Subject| {
            metrics
                .iter()
                .map(|r| engine.value(*r, s, &period))
                .collect()
        };
        let (rows, single) = match &target {
            Target::Portfolio(f) => (
                vec![Row {
                    account: None,
                    values: row(Subject::Portfolio(f)),
                }],
                Some(Subject::Portfolio(f)),
            ),
            Target::Account(a) => (
                vec![Row {
                    account: Some(*a),
                    values: row(Subject::Account(*a)),
                }],
                Some(Subject::Account(*a)),
            ),
            Target::PerAccount(f) => (
                engine
                    .accounts(f)
                    .map(|a| Row {
                        account: Some(a),
                        values: row(Subject::Account(a)),
                    })
                    .collect(),
                None,
            ),
        };
        let changes = match single {
            Some(s) => metrics
                .iter()
                .map(|r| match r.variant {
                    Variant::Value => (
                        engine.value(
                            MetricRef {
                                variant: Variant::Change,
                                ..*r
                            },
                            s,
                            &period,
                        ),
                        engine.value(
                            MetricRef {
                                variant: Variant::ChangePct,
                                ..*r
                            },
                            s,
                            &period,
                        ),
                    ),
                    _ => (None, None),
                })
                .collect(),
            None => vec![],
        };
        MetricsReport {
            period,
            metrics,
            target,
            rows,
            changes,
        }
    }

    fn heading(&self, engine: &Engine) -> String {
        let who = match &self.target {
            Target::Portfolio(f) | Target::PerAccount(f) => describe_filter(f),
            Target::Account(a) => {
                let acc = engine.dataset().account(*a);
                format!("account {} ({})", acc.id, acc.name)
            }
        };
        format!(
            "{} ({} to {}) · {} · {}",
            self.period,
            self.period.start(),
            self.period.last_day(),
            who,
            engine.config().fx.reporting()
        )
    }

    /// A table for the terminal.
    pub fn to_table(&self, engine: &Engine) -> String {
        let currency = engine.config().fx.reporting();
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        match &self.target {
            Target::PerAccount(_) => {
                let mut header = vec!["account".to_string(), "name".to_string()];
                header.extend(self.metrics.iter().map(|m| m.to_string()));
                table.set_header(header);
                for row in &self.rows {
                    let acc = engine.dataset().account(row.account.unwrap_or_default());
                    let mut cells = vec![acc.id.clone(), acc.name.clone()];
                    cells.extend(
                        self.metrics
                            .iter()
                            .zip(&row.values)
                            .map(|(r, v)| format::reference(r, *v, currency)),
                    );
                    table.add_row(cells);
                }
                for i in 2..self.metrics.len() + 2 {
                    if let Some(c) = table.column_mut(i) {
                        c.set_cell_alignment(CellAlignment::Right);
                    }
                }
            }
            _ => {
                let previous = self.period.previous();
                table.set_header(vec![
                    "metric".to_string(),
                    "value".to_string(),
                    format!("change vs {previous}"),
                    "change %".to_string(),
                ]);
                let values = self
                    .rows
                    .first()
                    .map(|r| r.values.as_slice())
                    .unwrap_or(&[]);
                for (i, (r, v)) in self.metrics.iter().zip(values).enumerate() {
                    let (change, pct) = self.changes.get(i).copied().unwrap_or((None, None));
                    let unit = r.metric.def().unit;
                    let dash = || "–".to_string();
                    table.add_row(vec![
                        r.to_string(),
                        format::reference(r, *v, currency),
                        change.map_or_else(dash, |c| format::change(c, unit, currency)),
                        pct.map_or_else(dash, format::change_pct),
                    ]);
                }
                for i in 1..4 {
                    if let Some(c) = table.column_mut(i) {
                        c.set_cell_alignment(CellAlignment::Right);
                    }
                }
            }
        }
        format!("{}\n{table}\n", self.heading(engine))
    }

    /// JSON: METRICS.md names, money as decimal strings, ratios as exact numbers, null where
    /// undefined, with the period's first and last day.
    pub fn to_json(&self, engine: &Engine) -> String {
        let values = |row: &Row| -> BTreeMap<String, Box<RawValue>> {
            self.metrics
                .iter()
                .zip(&row.values)
                .map(|(r, v)| (r.to_string(), format::json(r, *v)))
                .collect()
        };
        let filter = match &self.target {
            Target::Portfolio(f) | Target::PerAccount(f) => Some(JsonFilter::from(f)),
            Target::Account(_) => None,
        };
        let accounts = match &self.target {
            Target::Portfolio(_) => None,
            _ => Some(
                self.rows
                    .iter()
                    .map(|row| {
                        let acc = engine.dataset().account(row.account.unwrap_or_default());
                        JsonAccount {
                            id: &acc.id,
                            name: &acc.name,
                            metrics: values(row),
                        }
                    })
                    .collect(),
            ),
        };
        let doc = JsonReport {
            period: self.period.to_string(),
            first_day: self.period.start().to_string(),
            last_day: self.period.last_day().to_string(),
            currency: engine.config().fx.reporting().to_string(),
            filter,
            metrics: match &self.target {
                Target::Portfolio(_) => self.rows.first().map(values),
                _ => None,
            },
            accounts,
        };
        // Serialising plain structs, strings and pre-validated raw values cannot fail.
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
    }
}

fn describe_filter(f: &Filter) -> String {
    let parts: Vec<String> = [
        ("segment", &f.segment),
        ("owner", &f.owner),
        ("plan", &f.plan),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
    .collect();
    if parts.is_empty() {
        "all accounts".to_string()
    } else {
        parts.join(", ")
    }
}

#[derive(Serialize)]
struct JsonFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<String>,
}

impl From<&Filter> for JsonFilter {
    fn from(f: &Filter) -> Self {
        JsonFilter {
            segment: f.segment.clone(),
            owner: f.owner.clone(),
            plan: f.plan.clone(),
        }
    }
}

#[derive(Serialize)]
struct JsonAccount<'a> {
    id: &'a str,
    name: &'a str,
    metrics: BTreeMap<String, Box<RawValue>>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    period: String,
    first_day: String,
    last_day: String,
    currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<JsonFilter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<BTreeMap<String, Box<RawValue>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<JsonAccount<'a>>>,
}

/// `cs-pulse metrics --list`: the registry as a table.
pub fn registry_table() -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["metric", "unit", "scope", "description"]);
    for m in METRICS {
        table.add_row(vec![
            m.name.to_string(),
            format!("{:?}", m.unit).to_lowercase(),
            match m.scope {
                crate::metrics::Scope::Portfolio => "portfolio",
                crate::metrics::Scope::Account => "account",
                crate::metrics::Scope::Both => "portfolio, account",
            }
            .to_string(),
            m.description.to_string(),
        ]);
    }
    format!("{table}\nEvery metric also has <metric>.change and <metric>.change_pct against the previous period.\n")
}
