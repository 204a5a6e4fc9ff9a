//! `/at-risk` and `/renewals`: the accounts that need attention, worst or soonest first.

use super::*;

/// `/at-risk [segment] [owner]`: paying accounts in the lowest band of their health model, worst
/// score first.
pub async fn at_risk(
    desk: &Desk,
    caller: &Caller,
    segment: Option<&str>,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let filter = match filter_of(&engine, "at-risk", segment, owner) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let today = today(desk, now);
    let window = live_window(today);
    let cur = currency(&engine);
    let ds = engine.dataset();
    let models = engine.health_models();
    let lowest = |model: &str| {
        models
            .and_then(|ms| ms.models.iter().find(|m| m.name == model))
            .and_then(|m| m.bands.first())
            .map(|b| b.name.clone())
    };
    let mut rows: Vec<(Decimal, Decimal, AccountIx, String)> = Vec::new();
    for a in engine.accounts(&filter) {
        let mrr = engine.index().mrr_on(a, today);
        if mrr <= Decimal::ZERO {
            continue;
        }
        let Some(h) = engine.health(a, &window) else {
            continue;
        };
        let (Some(score), Some(band)) = (h.score, h.band) else {
            continue;
        };
        if Some(&band) == lowest(&h.model).as_ref() {
            rows.push((score, mrr, a, band));
        }
    }
    rows.sort_by(|x, y| {
        x.0.cmp(&y.0)
            .then(y.1.cmp(&x.1))
            .then(ds.account(x.2).id.cmp(&ds.account(y.2).id))
    });
    let mut lines: Vec<String> = rows
        .iter()
        .take(LIST_SHOWN)
        .map(|(score, mrr, a, band)| {
            let acc = ds.account(*a);
            let mut parts = vec![
                format!("{} ({})", acc.name, acc.id),
                format!("health {} {band}", score_text(*score)),
                owner_text(acc.owner.as_deref()),
            ];
            if caller.revenue {
                parts.push(format!("{} MRR", format::money(*mrr, cur)));
            }
            parts.push(renewal_text(acc.renewal_date, today));
            parts.join(" · ")
        })
        .collect();
    if rows.len() > LIST_SHOWN {
        lines.push(format!("… and {} more", rows.len() - LIST_SHOWN));
    }
    if lines.is_empty() {
        lines.push("No paying account is in the lowest health band.".to_string());
    }
    let title = format!(
        "At risk · {} · {}",
        format::accounts(rows.len()),
        scope_text(&filter)
    );
    let message = Message {
        title,
        tone: if rows.is_empty() {
            Tone::Good
        } else {
            Tone::Critical
        },
        sections: vec![Section {
            heading: None,
            lines,
            fields: vec![],
        }],
        footer: format!(
            "paying accounts in the lowest band of their health model, worst first · {}",
            health_footer(&window, &snap, today)
        ),
        ..Message::default()
    };
    Ok(Reply::shows_revenue(message, caller.revenue))
}

/// `/renewals [days]`: accounts whose renewal date falls within `days` from today (and paying
/// accounts whose renewal date has passed), soonest first.
pub async fn renewals(
    desk: &Desk,
    caller: &Caller,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let today = today(desk, now);
    let horizon = today
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(today);
    let window = live_window(today);
    let cur = currency(&engine);
    let ds = engine.dataset();
    let mut rows: Vec<(NaiveDate, Decimal, AccountIx)> = Vec::new();
    for (i, acc) in ds.accounts().iter().enumerate() {
        let a = i as AccountIx;
        let Some(date) = acc.renewal_date else {
            continue;
        };
        let mrr = engine.index().mrr_on(a, today);
        // A past renewal date of an account that stopped paying is history, not a renewal due.
        if date > horizon || (date < today && mrr <= Decimal::ZERO) {
            continue;
        }
        rows.push((date, mrr, a));
    }
    rows.sort_by(|x, y| {
        x.0.cmp(&y.0)
            .then(y.1.cmp(&x.1))
            .then(ds.account(x.2).id.cmp(&ds.account(y.2).id))
    });
    let mut lines: Vec<String> = rows
        .iter()
        .take(LIST_SHOWN)
        .map(|(date, mrr, a)| {
            let acc = ds.account(*a);
            let health = engine.health(*a, &window);
            let mut parts = vec![
                format!("{date} ({})", due_text((*date - today).num_days())),
                format!("{} ({})", acc.name, acc.id),
                health_text(
                    health.as_ref().and_then(|h| h.score),
                    health.and_then(|h| h.band),
                ),
            ];
            if caller.revenue {
                parts.push(format!("{} MRR", format::money(*mrr, cur)));
            }
            parts.push(owner_text(acc.owner.as_deref()));
            parts.join(" · ")
        })
        .collect();
    if rows.len() > LIST_SHOWN {
        lines.push(format!("… and {} more", rows.len() - LIST_SHOWN));
    }
    if lines.is_empty() {
        lines.push(format!("No renewal date falls in the next {days} days."));
    }
    let message = Message {
        title: format!(
            "Renewals in the next {days} days · {}",
            format::accounts(rows.len())
        ),
        tone: Tone::Info,
        sections: vec![Section {
            heading: None,
            lines,
            fields: vec![],
        }],
        footer: format!(
            "renewal dates up to {horizon}, overdue ones of paying accounts included · {}",
            health_footer(&window, &snap, today)
        ),
        ..Message::default()
    };
    Ok(Reply::shows_revenue(message, caller.revenue))
}
