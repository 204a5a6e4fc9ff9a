//! What a person reads in the terminal: number formatting, `metrics` tables and JSON, and the
//! demo scorecard. Pure functions from computed values to text; snapshot-tested.

pub mod format;
pub mod metrics_report;
pub mod scorecard;
pub mod table;
