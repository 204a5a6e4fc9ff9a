//! Autocomplete: accounts by name or id, metrics, segments, owners, firing alerts, commands.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::chat::command::ParamKind;
use crate::chat::{Choice, Desk};

pub async fn complete(
    _desk: &Desk,
    _kind: ParamKind,
    _typed: &str,
    _now: DateTime<Utc>,
) -> Result<Vec<Choice>> {
    Ok(vec![])
}
