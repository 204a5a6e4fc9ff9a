//! The metric reference of docs/metrics.md, generated from the registry so that the two cannot
//! drift: a test compares the file with [`reference_markdown`] (run it with `UPDATE_DOCS=1` to
//! rewrite the generated part).

use std::fmt::Write;

use super::registry::{Group, Scope, Unit, METRICS};

/// Marks the start of the generated part of docs/metrics.md.
pub const BEGIN: &str = "<!-- BEGIN GENERATED: metric reference (src/metrics/docs.rs) -->";
/// Marks its end.
pub const END: &str = "<!-- END GENERATED -->";

fn unit(u: Unit) -> &'static str {
    match u {
        Unit::Money => "money (reporting currency; JSON: string, 2 decimals)",
        Unit::Ratio => "ratio (1.0 = 100%; JSON: exact number)",
        Unit::Score => "score (0–100 scale; JSON: exact number)",
        Unit::Count => "count of accounts",
        Unit::Days => "days",
        Unit::Number => "number (JSON: exact number)",
    }
}

fn scope(s: Scope) -> &'static str {
    match s {
        Scope::Portfolio => "portfolio (and segment/owner/plan filters)",
        Scope::Account => "per account",
        Scope::Both => "portfolio (and filters) and per account",
    }
}

/// The generated reference: one section per metric, grouped as in METRICS.md.
pub fn reference_markdown() -> String {
    let mut out = String::new();
    let mut group: Option<Group> = None;
    for m in METRICS {
        if group != Some(m.group) {
            group = Some(m.group);
            let _ = writeln!(out, "## {}\n", m.group.title());
        }
        let _ = writeln!(out, "### `{}`\n", m.name);
        let _ = writeln!(out, "{}\n", m.description);
        let _ = writeln!(out, "- formula: {}", m.formula);
        let _ = writeln!(out, "- unit: {}", unit(m.unit));
        let _ = writeln!(out, "- exists for: {}", scope(m.scope));
        let _ = writeln!(out, "- example: {}\n", m.example);
    }
    out
}
