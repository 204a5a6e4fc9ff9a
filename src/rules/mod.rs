//! Rules: TOML files of thresholds on registry metrics that say when an account (or the
//! portfolio) needs attention. Parsed then validated with every error reported at once
//! ([`load`]), evaluated purely against metric values ([`eval`]), and unit-tested like code
//! ([`testing`]).

pub mod eval;
pub mod load;
pub mod model;
mod raw;
pub mod testing;

pub use model::{
    AccountFilter, Combine, Condition, Direction, Rule, RuleScope, Severity, Test, Window,
};

/// The rule files shipped in rules/, built in so that `demo` works from any directory.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "rules/at_risk.toml",
        include_str!("../../rules/at_risk.toml"),
    ),
    (
        "rules/revenue.toml",
        include_str!("../../rules/revenue.toml"),
    ),
    ("rules/voice.toml", include_str!("../../rules/voice.toml")),
];

/// The shipped rules, routed to whichever of `channels` they name.
pub fn shipped_rules(channels: &[String]) -> Result<Vec<Rule>, crate::diagnostics::Diagnostics> {
    let mut rules = vec![];
    for (file, text) in SHIPPED {
        rules.extend(load::parse_rules(
            text,
            std::path::Path::new(file),
            channels,
        )?);
    }
    Ok(rules)
}
