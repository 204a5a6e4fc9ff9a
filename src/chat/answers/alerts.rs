//! Answers that read or change alert state: `/alerts`, `/snooze`, `/ack` and the Acknowledge
//! and Snooze buttons.

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};

use crate::chat::{Caller, Desk, Reply};

pub async fn list(_desk: &Desk, _caller: &Caller, _now: DateTime<Utc>) -> Result<Reply> {
    anyhow::bail!("not built yet")
}

pub async fn snooze(
    _desk: &Desk,
    _caller: &Caller,
    _target: &str,
    _duration: Duration,
    _reason: Option<&str>,
    _now: DateTime<Utc>,
) -> Result<Reply> {
    anyhow::bail!("not built yet")
}

pub async fn ack(
    _desk: &Desk,
    _caller: &Caller,
    _alert: &str,
    _now: DateTime<Utc>,
) -> Result<Reply> {
    anyhow::bail!("not built yet")
}
