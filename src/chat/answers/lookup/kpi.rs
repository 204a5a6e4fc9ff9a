//! `/kpi`: one metric of the portfolio, a segment or an owner's book over a period, against
//! the previous period.

use super::*;

/// `/kpi <metric> [period] [segment] [owner]`: one metric of the portfolio (or a segment or an
/// owner's book) over a period (default: the last complete month), against the previous one.
pub async fn kpi(
    desk: &Desk,
    caller: &Caller,
    metric: MetricId,
    period: Option<Period>,
    segment: Option<&str>,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let def = metric.def();
    if !def.scope.portfolio() {
        return Ok(per_account_only(metric, caller));
    }
    if def.group == Group::Revenue && !caller.revenue {
        return Ok(refusal(
            &format!("/kpi {}", def.name),
            "see revenue metrics",
        ));
    }
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let filter = match filter_of(&engine, "kpi", segment, owner) {
        Ok(f) => f,
        Err(r) => return Ok(*r),
    };
    let today = today(desk, now);
    let period = period.unwrap_or_else(|| Period::last_complete(PeriodKind::Month, today));
    let previous = period.previous();
    let subject = Subject::Portfolio(&filter);
    let value = engine.metric(metric, subject, &period);
    let prev = engine.metric(metric, subject, &previous);
    let cur = currency(&engine);
    let accounts = engine.accounts(&filter).count();

    let mut lines = vec![
        def.description.to_string(),
        format!(
            "{} to {} · {} ({})",
            period.start(),
            period.last_day(),
            scope_text(&filter),
            format::accounts(accounts)
        ),
    ];
    if period.end() > today {
        lines.push(format!(
            "{period} is not over: the days from {today} on have no data yet and count as empty."
        ));
    }
    if value.is_none() {
        lines.push(format!(
            "n/a: {}.",
            why_null(metric, &engine).unwrap_or("nothing to compute it from in the period")
        ));
    }
    let fields = vec![
        Field {
            label: period.to_string(),
            value: shown(value, def.unit, cur),
        },
        Field {
            label: format!("{previous} (previous)"),
            value: shown(prev, def.unit, cur),
        },
        Field {
            label: "Change".to_string(),
            value: change_text(metric, value, prev, cur),
        },
    ];
    let message = Message {
        title: format!("{} · {period} · {}", label(metric), scope_text(&filter)),
        tone: Tone::Info,
        sections: vec![Section {
            heading: None,
            lines,
            fields,
        }],
        footer: freshness(&snap, today),
        ..Message::default()
    };
    Ok(Reply::shows_revenue(message, def.group == Group::Revenue))
}

/// The change from the previous period, written as the scorecard writes it.
fn change_text(
    metric: MetricId,
    now: Option<Decimal>,
    prev: Option<Decimal>,
    cur: Currency,
) -> String {
    crate::scorecard::message::change(
        metric,
        metric.def().unit,
        derive(Variant::Change, now, prev),
        derive(Variant::ChangePct, now, prev),
        prev,
        cur,
    )
    .unwrap_or_else(|| "n/a".to_string())
}

/// Why a portfolio metric is null, where that is cheap to say (METRICS.md "Nulls").
fn why_null(metric: MetricId, engine: &Engine) -> Option<&'static str> {
    use MetricId::*;
    Some(match metric {
        Nrr | Grr | RevenueChurnRate | NetRevenueChurnRate | LogoChurnRate | RetentionRate => {
            "no account was paying the day before the period"
        }
        Arpa => "no paying customer on the period's last day",
        QuickRatio => "no contraction or churn in the period",
        Ltv => "no logo churn in the months before the period's end",
        RenewalRate => "no renewal renewed or churned in the period",
        TrialConversionRate => "no trial ended in the period",
        RetentionCost => "no retained account in the period",
        Nps => "no NPS response in the period",
        Csat => "no CSAT response in the period",
        Ces => "no CES response in the period",
        FirstContactResolution => "no ticket resolved in the period",
        SeatUtilization => "no account has licensed seats",
        MinutesPerActiveUser => "no active users in the period",
        AdoptionRate if engine.config().features_available.is_none() => {
            "features_available is not configured ([metrics] in the config)"
        }
        AdoptionRate => "no usage row with features_used in the period",
        TimeToFirstValue => "no account reached first value in the period",
        _ => return None,
    })
}

/// The reply to `/kpi` with a metric that exists per account only.
fn per_account_only(metric: MetricId, caller: &Caller) -> Reply {
    let mut lines = vec![format!(
        "{} exists per account only, not for a portfolio, segment or owner.",
        metric.name()
    )];
    if let Some(account) = spec("account") {
        lines.push(format!(
            "Try {} for one account's card.",
            example(account, account.example, caller.syntax)
        ));
    }
    if metric == MetricId::Health {
        if let Some(at_risk) = spec("at-risk") {
            lines.push(format!(
                "Or {} for the accounts in the lowest health band.",
                example(at_risk, &[], caller.syntax)
            ));
        }
    }
    Reply::note(
        format!("/kpi {}: per account only", metric.name()),
        lines,
        Tone::Info,
    )
}
