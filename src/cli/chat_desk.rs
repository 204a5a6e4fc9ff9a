//! The chat desk of a configuration: the store, health model, rules and scorecards that
//! `cs-pulse run` answers slash commands with (and that the chat tests use).

use std::sync::Arc;

use anyhow::{anyhow, Result};

use super::{load_health, open_synced_store, rules_commands, scorecard_command};
use crate::chat::Desk;
use crate::config::Config;

/// Opens the synced store and loads what answers read; fails like `eval` on a missing store or
/// an invalid rule, health or scorecard file.
pub async fn open_desk(config: Arc<Config>) -> Result<Desk> {
    let store = open_synced_store(&config).await?;
    let health = load_health(&config)?;
    let rules = rules_commands::load_rules_of(&config).map_err(|d| anyhow!("{d}"))?;
    let scorecards = scorecard_command::definitions_of(&config, None)?;
    Ok(Desk::new(config, store, health, rules, scorecards))
}
