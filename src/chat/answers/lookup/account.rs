//! `/account` and the Open account button: the health card of one account.

use super::*;

/// `/account <account>`: the account's health card.
pub async fn account(
    desk: &Desk,
    caller: &Caller,
    account: &str,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let snap = match snapshot(desk).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let engine = engine_of(desk, &snap)?;
    let Some(ix) = find_account(&engine, account) else {
        return Ok(no_such_account(&engine, account, caller));
    };
    let ds = engine.dataset();
    let acc = ds.account(ix);
    let today = today(desk, now);
    let window = live_window(today);
    let cur = currency(&engine);
    let health = engine.health(ix, &window);

    let mut about = vec![
        acc.segment.clone(),
        acc.plan.clone(),
        Some(owner_text(acc.owner.as_deref())),
    ];
    if let Some(seats) = acc.licensed_seats {
        about.push(Some(format!("{seats} seats")));
    }
    let mut sections = vec![Section {
        heading: None,
        lines: vec![about.into_iter().flatten().collect::<Vec<_>>().join(" · ")],
        fields: vec![],
    }];

    // Health and its explanation.
    let (tone, health_section) = match &health {
        Some(h) if h.score.is_some() => {
            let band = h.band.as_deref().unwrap_or("no band");
            let lines = h
                .measures
                .iter()
                .map(|m| {
                    let name = measure_label(&m.metric);
                    let hidden = m.metric.metric.def().group == Group::Revenue && !caller.revenue;
                    match m.score {
                        None => format!("{name}: no value (not counted)"),
                        Some(score) => {
                            let value = if hidden {
                                String::new()
                            } else {
                                format!(" {}", format::reference(&m.metric, m.value, cur))
                            };
                            format!(
                                "{name}{value} → {} × {}",
                                format::group_thousands(score, 1),
                                format::value(m.effective_weight, Unit::Ratio, cur)
                            )
                        }
                    }
                })
                .collect();
            (
                h.band.as_deref().map_or(Tone::Neutral, Tone::of_band),
                Section {
                    heading: Some(format!(
                        "Health {} · {band} · value → score × weight",
                        score_text(h.score.unwrap_or_default())
                    )),
                    lines,
                    fields: vec![],
                },
            )
        }
        Some(_) => (
            Tone::Neutral,
            Section {
                heading: Some("Health n/a".to_string()),
                lines: vec![format!(
                    "None of the health model's measures has a value over the last {HEALTH_WINDOW_DAYS} days."
                )],
                fields: vec![],
            },
        ),
        None => (
            Tone::Neutral,
            Section {
                heading: Some("Health n/a".to_string()),
                lines: vec!["No health model applies to this account.".to_string()],
                fields: vec![],
            },
        ),
    };
    sections.push(health_section);

    // MRR, usage and renewal, as label–value fields.
    let mut fields = Vec::new();
    if caller.revenue {
        let index = engine.index();
        let mrr = index.mrr_on(ix, today);
        let mut points: Vec<Option<Decimal>> = month_ends(today, MRR_TREND_MONTHS)
            .into_iter()
            .map(|d| Some(index.mrr_on(ix, d)))
            .collect();
        points.push(Some(mrr));
        fields.push(Field {
            label: "MRR".to_string(),
            value: format::money(mrr, cur),
        });
        fields.push(Field {
            label: format!("MRR, {MRR_TREND_MONTHS} months"),
            value: trend_text(&points, Unit::Money, cur),
        });
    }
    let dau = engine.metric(MetricId::Dau, Subject::Account(ix), &window);
    let utilization = engine.metric(MetricId::SeatUtilization, Subject::Account(ix), &window);
    let mut usage = shown(dau, Unit::Number, cur);
    if let Some(u) = utilization {
        usage += &format!(" · {} of seats", format::value(u, Unit::Ratio, cur));
    }
    fields.push(Field {
        label: format!("Active users a day, {HEALTH_WINDOW_DAYS} d"),
        value: usage,
    });
    let weekly: Vec<Option<Decimal>> = weeks(today, USAGE_TREND_WEEKS)
        .iter()
        .map(|w| engine.metric(MetricId::Dau, Subject::Account(ix), w))
        .collect();
    fields.push(Field {
        label: format!("Active users, {USAGE_TREND_WEEKS} weeks"),
        value: trend_text(&weekly, Unit::Number, cur),
    });
    fields.push(Field {
        label: "Renewal".to_string(),
        value: match acc.renewal_date {
            Some(d) => format!("{d} ({})", due_text((d - today).num_days())),
            None => "no renewal date".to_string(),
        },
    });
    sections.push(Section {
        heading: None,
        lines: if caller.revenue {
            vec![]
        } else {
            vec!["MRR is left out: your roles don't include revenue figures.".to_string()]
        },
        fields,
    });

    // Open alerts.
    let states = desk.store.alert_states().await?;
    let silences = desk.store.silences(now, false).await?;
    let open: Vec<String> = states
        .iter()
        .filter(|(k, s)| k.subject == acc.id && s.phase == Phase::Firing)
        .map(|(k, s)| alert_line(desk, &k.rule, &acc.id, s, &silences, now))
        .collect();
    sections.push(Section {
        heading: Some(if open.is_empty() {
            "Open alerts".to_string()
        } else {
            format!("Open alerts ({})", open.len())
        }),
        lines: if open.is_empty() {
            vec!["None.".to_string()]
        } else {
            open
        },
        fields: vec![],
    });

    let model = health
        .as_ref()
        .map(|h| format!(" · health model {}", h.model))
        .unwrap_or_default();
    let message = Message {
        title: format!("{} ({})", acc.name, acc.id),
        tone,
        sections,
        footer: format!(
            "health over {} to {}{model} · {}",
            window.start(),
            window.last_day(),
            freshness(&snap, today)
        ),
        ..Message::default()
    };
    Ok(Reply::shows_revenue(message, caller.revenue))
}

/// A health measure's name: `Seat utilization`, `DAU change`.
fn measure_label(r: &MetricRef) -> String {
    match r.variant {
        Variant::Value => label(r.metric),
        Variant::Change | Variant::ChangePct => format!("{} change", label(r.metric)),
    }
}

/// One open alert of an account: `Health is red (health-red:acc-1) · critical · since … · …`.
fn alert_line(
    desk: &Desk,
    rule: &str,
    subject: &str,
    state: &AlertState,
    silences: &[Silence],
    now: DateTime<Utc>,
) -> String {
    let found = desk.rules.iter().find(|r| r.id == rule);
    let mut parts = vec![format!(
        "{} ({rule}:{subject})",
        found.map_or(rule, |r| r.name.as_str())
    )];
    if let Some(r) = found {
        parts.push(r.severity.to_string());
    }
    if let Some(t) = state.fired_at {
        parts.push(format!("since {}", t.format("%Y-%m-%d")));
    }
    if let Some(ack) = &state.ack {
        parts.push(format!("acknowledged by {}", ack.by));
    }
    if let Some(s) = silences.iter().find(|s| s.mutes(rule, subject, now)) {
        parts.push(format!(
            "snoozed until {}",
            s.until.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    parts.join(" · ")
}

/// The last days of the `n` complete months before today's, oldest first.
fn month_ends(today: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(n);
    let mut p = Period::last_complete(PeriodKind::Month, today);
    for _ in 0..n {
        out.push(p.last_day());
        p = p.previous();
    }
    out.reverse();
    out
}

/// The `n` complete ISO weeks before today's, oldest first.
fn weeks(today: NaiveDate, n: usize) -> Vec<Period> {
    let mut out = Vec::with_capacity(n);
    let mut p = Period::last_complete(PeriodKind::Week, today);
    for _ in 0..n {
        out.push(p);
        p = p.previous();
    }
    out.reverse();
    out
}

/// `▅▆▇▇▆▅▃▂ 12.40 → 8.10 (-34.7%)`: a sparkline of the points, the first and last value and
/// the relative change; a missing point is `·`.
fn trend_text(points: &[Option<Decimal>], unit: Unit, cur: Currency) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known: Vec<Decimal> = points.iter().flatten().copied().collect();
    let (Some(min), Some(max)) = (known.iter().min(), known.iter().max()) else {
        return "no data".to_string();
    };
    let span = *max - *min;
    let spark: String = points
        .iter()
        .map(|p| match p {
            None => '·',
            Some(_) if span.is_zero() => BARS[3],
            Some(v) => {
                let level = ((*v - *min) * Decimal::from(7))
                    .checked_div(span)
                    .unwrap_or_default()
                    .round();
                let i = level.to_usize().unwrap_or(0).min(7);
                BARS[i]
            }
        })
        .collect();
    let (first, last) = (known[0], known[known.len() - 1]);
    let mut text = format!(
        "{spark} {} → {}",
        format::value(first, unit, cur),
        format::value(last, unit, cur)
    );
    if first > Decimal::ZERO {
        if let Some(p) = derive(Variant::ChangePct, Some(last), Some(first)) {
            text += &format!(" ({})", format::change_pct(p));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn sparklines_scale_between_min_and_max() {
        let usd = Currency::USD;
        let t = trend_text(
            &[Some(dec!(10)), None, Some(dec!(17)), Some(dec!(5))],
            Unit::Number,
            usd,
        );
        assert_eq!(t, "▄·█▁ 10.00 → 5.00 (-50.0%)");
        assert_eq!(
            trend_text(&[Some(dec!(3)), Some(dec!(3))], Unit::Money, usd),
            "▄▄ $3.00 → $3.00 (0.0%)"
        );
        assert_eq!(trend_text(&[None, None], Unit::Number, usd), "no data");
    }

    #[test]
    fn month_ends_and_weeks_are_complete_and_oldest_first() {
        let today: NaiveDate = "2025-06-18".parse().unwrap();
        let ends = month_ends(today, 3);
        assert_eq!(
            ends.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            ["2025-03-31", "2025-04-30", "2025-05-31"]
        );
        let w = weeks(today, 2);
        assert_eq!(w[1].to_string(), "2025-W24");
        assert_eq!(w[0].to_string(), "2025-W23");
        assert_eq!(live_window(today).to_string(), "2025-05-19..2025-06-18");
    }
}
