//! The weekly (or monthly) KPI scorecard: definitions in TOML ([`config`], shipped as
//! `rules/scorecard.toml`), a pure computation of KPIs against targets and the previous period,
//! trends, MRR movements, at-risk accounts and renewals ([`compute`]), the trend chart as a PNG
//! ([`chart`]), and the chat message and terminal text ([`message`]). `cs-pulse scorecard`
//! ties them to the store and the outbox.

pub mod chart;
pub mod compute;
pub mod config;
pub mod message;

use std::path::Path;

pub use chart::{Chart, ChartError, Series};
pub use compute::{
    compute, compute_for, AtRiskAccount, KpiValue, RenewalDue, ScorecardData, Status, Trend,
};
pub use config::{load_scorecards, parse_scorecards, Cmp, Kpi, ScorecardDef, Target};
pub use message::{to_message, to_text};

use crate::diagnostics::Diagnostics;

/// The file name of scorecard definitions in a rules directory.
pub const FILE_NAME: &str = "scorecard.toml";

/// The shipped definitions (`rules/scorecard.toml`), built in so that `cs-pulse scorecard`
/// works without one on disk.
pub const SHIPPED: &str = include_str!("../../rules/scorecard.toml");

/// The shipped scorecards, validated against `channels`.
pub fn shipped_scorecards(channels: &[String]) -> Result<Vec<ScorecardDef>, Diagnostics> {
    parse_scorecards(SHIPPED, Path::new("rules/scorecard.toml"), channels)
}
