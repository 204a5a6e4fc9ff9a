//! The output of `cs-pulse metrics`: metric values for the portfolio, one account, or every
//! account, as a terminal table or as JSON with METRICS.md's names.

use std::io::{self, BufWriter, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use rust_decimal::Decimal;

use super::format;
use crate::metrics::{derive, Engine, Filter, MetricId, MetricRef, Subject, Variant, METRICS};
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
        // Each metric is computed once per period; its variants are derived from those values.
        let mut ids: Vec<MetricId> = metrics.iter().map(|r| r.metric).collect();
        ids.sort();
        ids.dedup();
        let single = !matches!(target, Target::PerAccount(_));
        let needs_prev = single || metrics.iter().any(|r| r.variant != Variant::Value);
        let previous = period.previous();
        let values_of = |s: Subject| -> Vec<(Option<Decimal>, Option<Decimal>)> {
            ids.iter()
                .map(|id| {
                    let now = engine.metric(*id, s, &period);
                    let prev = if needs_prev {
                        engine.metric(*id, s, &previous)
                    } else {
                        None
                    };
                    (now, prev)
                })
                .collect()
        };
        let slot = |r: &MetricRef| ids.binary_search(&r.metric).unwrap_or_default();
        let row = |account: Option<AccountIx>, s: Subject| {
            let v = values_of(s);
            let values = metrics.iter().map(|r| {
                let (now, prev) = v[slot(r)];
                derive(r.variant, now, prev)
            });
            (
                Row {
                    account,
                    values: values.collect(),
                },
                v,
            )
        };
        let (rows, changes) = match &target {
            Target::PerAccount(f) => (
                engine
                    .accounts(f)
                    .map(|a| row(Some(a), Subject::Account(a)).0)
                    .collect(),
                vec![],
            ),
            Target::Portfolio(_) | Target::Account(_) => {
                let (account, subject) = match &target {
                    Target::Account(a) => (Some(*a), Subject::Account(*a)),
                    Target::Portfolio(f) | Target::PerAccount(f) => (None, Subject::Portfolio(f)),
                };
                let (r, v) = row(account, subject);
                let changes = metrics
                    .iter()
                    .map(|m| match m.variant {
                        Variant::Value => {
                            let (now, prev) = v[slot(m)];
                            (
                                derive(Variant::Change, now, prev),
                                derive(Variant::ChangePct, now, prev),
                            )
                        }
                        _ => (None, None),
                    })
                    .collect();
                (vec![r], changes)
            }
        };
        MetricsReport {
            period,
            metrics,
            target,
            rows,
            changes,
        }
    }

    /// The rows of accounts, with their account.
    fn account_rows(&self) -> impl Iterator<Item = (&Row, AccountIx)> {
        self.rows.iter().filter_map(|r| Some((r, r.account?)))
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
                for (row, a) in self.account_rows() {
                    let acc = engine.dataset().account(a);
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
    /// undefined, with the period's first and last day. Written as it goes (one account at a
    /// time), so a report of a million accounts never sits in memory as text.
    pub fn write_json(&self, engine: &Engine, out: &mut dyn Write) -> io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        let text = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        writeln!(out, "{{")?;
        writeln!(out, "  \"period\": \"{}\",", self.period)?;
        writeln!(out, "  \"first_day\": \"{}\",", self.period.start())?;
        writeln!(out, "  \"last_day\": \"{}\",", self.period.last_day())?;
        write!(
            out,
            "  \"currency\": \"{}\"",
            engine.config().fx.reporting()
        )?;
        if let Target::Portfolio(f) | Target::PerAccount(f) = &self.target {
            let fields: Vec<String> = [
                ("segment", &f.segment),
                ("owner", &f.owner),
                ("plan", &f.plan),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("\"{k}\": {}", text(v))))
            .collect();
            write!(out, ",\n  \"filter\": {{{}}}", fields.join(", "))?;
        }
        let metrics = |out: &mut dyn Write, row: &Row, indent: &str| -> io::Result<()> {
            write!(out, "{{")?;
            for (i, (r, v)) in self.metrics.iter().zip(&row.values).enumerate() {
                let sep = if i == 0 { "" } else { "," };
                write!(out, "{sep}\n{indent}  \"{r}\": {}", format::json(r, *v))?;
            }
            write!(out, "\n{indent}}}")
        };
        match &self.target {
            Target::Portfolio(_) => {
                if let Some(row) = self.rows.first() {
                    write!(out, ",\n  \"metrics\": ")?;
                    metrics(&mut out, row, "  ")?;
                }
            }
            _ => {
                write!(out, ",\n  \"accounts\": [")?;
                for (i, (row, a)) in self.account_rows().enumerate() {
                    let acc = engine.dataset().account(a);
                    let sep = if i == 0 { "" } else { "," };
                    write!(
                        out,
                        "{sep}\n    {{\n      \"id\": {},\n      \"name\": {},\n      \"metrics\": ",
                        text(&acc.id),
                        text(&acc.name)
                    )?;
                    metrics(&mut out, row, "      ")?;
                    write!(out, "\n    }}")?;
                }
                write!(out, "\n  ]")?;
            }
        }
        writeln!(out, "\n}}")?;
        out.flush()
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
