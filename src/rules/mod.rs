//! Rules: TOML files of thresholds on registry metrics that say when an account (or the
//! portfolio) needs attention. Parsed then validated with every error reported at once
//! ([`load`]), evaluated purely against metric values ([`eval`]), and unit-tested like code
//! ([`testing`]).

pub mod eval;
pub mod model;
pub mod testing;

pub use model::{
    AccountFilter, Combine, Condition, Direction, Rule, RuleScope, Severity, Test, Window,
};
