//! cs-pulse: rule-driven customer-success automation.
//!
//! The crate follows the flow of data of DESIGN.md:
//!
//! - [`model`]: canonical records, money, currencies and periods (METRICS.md's vocabulary);
//! - [`sources`]: where records come from (`files`, `demo`), behind the `Source` trait;
//! - [`store`]: where synced records and sync runs are kept (SQLite), behind the `Store` trait;
//! - [`sync`]: pulls sources into the store, all or nothing;
//! - [`metrics`]: the registry of metric definitions and the pure KPI engine, with the health model;
//! - [`config`]: the configuration file, parsed then validated, every error reported at once;
//! - [`diagnostics`]: how config and rule errors are shown (file:line:column, snippet, hint);
//! - [`report`]: what a person reads in the terminal (tables, the demo scorecard);
//! - [`rules`]: threshold rules in TOML, their loading, evaluation and tests;
//! - [`alerts`]: the alert lifecycle (pure), silences and acknowledgements;
//! - [`notify`]: channel-neutral messages, platform renderers and sinks, the durable outbox;
//! - [`scorecard`]: the weekly KPI scorecard: definitions, targets, deltas, the trend chart;
//! - [`scheduler`]: the service's cron jobs (sync, evaluate, scorecard) in their timezones, across
//!   DST, with missed runs made up within a grace and no job overlapping itself;
//! - [`chat`]: slash commands and buttons: one platform-neutral desk, Discord and Slack adapters;
//! - [`server`]: the HTTP server of `cs-pulse run`: the signed Discord and Slack chat endpoints,
//!   `/healthz`, `/readyz` and `/metrics`;
//! - [`telemetry`]: the Prometheus metrics of `cs-pulse run` and where they are recorded;
//! - [`cli`]: the command line.

pub mod alerts;
pub mod chat;
pub mod cli;
pub mod config;
pub mod diagnostics;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod report;
pub mod rules;
pub mod scheduler;
pub mod scorecard;
pub mod server;
pub mod sources;
pub mod store;
pub mod sync;
pub mod telemetry;
