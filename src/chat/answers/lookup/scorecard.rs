//! `/scorecard`: the KPI scorecard of a period, as the scheduled post shows it (without the chart).

use super::*;

/// `/scorecard [period]`: the first configured scorecard of the period's kind (or the first one)
/// for the period (default: its last complete one), as the scheduled post reads without its
/// chart.
pub async fn scorecard(
    desk: &Desk,
    caller: &Caller,
    period: Option<Period>,
    now: DateTime<Utc>,
) -> Result<Reply> {
    if !caller.revenue {
        return Ok(refusal("/scorecard", "see revenue figures"));
    }
    let def = match period {
        None => desk.scorecards.first(),
        Some(p) => desk.scorecards.iter().find(|d| d.period == p.kind()),
    };
    let Some(def) = def else {
        let lines = if desk.scorecards.is_empty() {
            vec!["No scorecard is defined: add one to scorecard.toml beside the rules.".to_string()]
        } else {
            let mut kinds: Vec<&str> = Vec::new();
            for d in &desk.scorecards {
                let kind = match d.period {
                    PeriodKind::Month => "a month (like 2025-06)",
                    _ => "a week (like 2025-W24)",
                };
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            vec![
                format!(
                    "No scorecard is made for {}.",
                    period.map_or("that".to_string(), |p| p.to_string())
                ),
                format!("Scorecards cover {}.", kinds.join(" or ")),
            ]
        };
        return Ok(Reply::note("Couldn't run /scorecard", lines, Tone::Warning));
    };
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let today = today(desk, now);
    let (period, day) = match period {
        // A past period reads as of the day after it, when it would have been posted.
        Some(p) => (p, p.end()),
        None => (Period::last_complete(def.period, today), today),
    };
    let mut card = crate::scorecard::compute_for(&engine, def, period, day, None);
    card.synced_at = snap.synced_at;
    let mut message = crate::scorecard::to_message(&card);
    message.image = None;
    message.mentions.clear();
    if let Some(first) = message.sections.first_mut() {
        first
            .lines
            .push("The trend chart comes with the scheduled post.".to_string());
    }
    Ok(Reply::private(message))
}
