//! Answers that read the data: `/kpi`, `/account` (and the Open account button), `/at-risk`,
//! `/renewals`, `/scorecard`.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::chat::{Caller, Desk, Reply};
use crate::metrics::MetricId;
use crate::model::Period;

pub async fn kpi(
    _desk: &Desk,
    _caller: &Caller,
    _metric: MetricId,
    _period: Option<Period>,
    _segment: Option<&str>,
    _owner: Option<&str>,
    _now: DateTime<Utc>,
) -> Result<Reply> {
    anyhow::bail!("not built yet")
}

pub async fn account(
    _desk: &Desk,
    _caller: &Caller,
    _account: &str,
    _now: DateTime<Utc>,
) -> Result<Reply> {
    anyhow::bail!("not built yet")
}

pub async fn at_risk(
    _desk: &Desk,
    _caller: &Caller,
    _segment: Option<&str>,
    _owner: Option<&str>,
    _now: DateTime<Utc>,
) -> Result<Reply> {
    anyhow::bail!("not built yet")
}

pub async fn renewals(
    _desk: &Desk,
    _caller: &Caller,
    _days: u32,
    _now: DateTime<Utc>,
) -> Result<Reply> {
    anyhow::bail!("not built yet")
}

pub async fn scorecard(
    _desk: &Desk,
    _caller: &Caller,
    _period: Option<Period>,
    _now: DateTime<Utc>,
) -> Result<Reply> {
    anyhow::bail!("not built yet")
}
