//! Autocomplete: accounts by name or id, metrics, segments, owners, firing alerts, commands and
//! periods, from what the caller has typed so far. Discord shows at most [`MAX_CHOICES`]
//! suggestions, each name and value at most [`CHOICE_MAX`] characters: names are shortened,
//! and a value that would be longer is left out (it couldn't be sent back whole).

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::alerts;
use crate::chat::command::{ParamKind, COMMANDS};
use crate::chat::desk::MAX_CHOICES;
use crate::chat::{Choice, Desk};
use crate::metrics::METRICS;
use crate::model::{Account, Period, PeriodKind};

/// Discord's limit on a choice's name and value, in characters.
pub const CHOICE_MAX: usize = 100;

pub async fn complete(
    desk: &Desk,
    kind: ParamKind,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Choice>> {
    let typed = typed.trim().to_lowercase();
    let choices = match kind {
        ParamKind::Metric => metrics(&typed),
        ParamKind::Account => accounts(desk, &typed).await,
        ParamKind::Alert => firing(desk, &typed).await?,
        ParamKind::AlertOrAccount => {
            let mut all = firing(desk, &typed).await?;
            all.extend(accounts(desk, &typed).await);
            all
        }
        ParamKind::Segment => distinct(desk, &typed, |a| a.segment.as_deref()).await,
        ParamKind::Owner => distinct(desk, &typed, |a| a.owner.as_deref()).await,
        ParamKind::Command => commands(&typed),
        ParamKind::Period => periods(desk, &typed, now),
        ParamKind::Days | ParamKind::Duration | ParamKind::Text => vec![],
    };
    Ok(fit(choices))
}

/// At most [`MAX_CHOICES`], names shortened to [`CHOICE_MAX`], values longer than that left out.
fn fit(choices: Vec<Choice>) -> Vec<Choice> {
    choices
        .into_iter()
        .filter(|c| !c.value.is_empty() && c.value.chars().count() <= CHOICE_MAX)
        .map(|c| Choice {
            name: shorten(&c.name),
            value: c.value,
        })
        .take(MAX_CHOICES)
        .collect()
}

fn shorten(name: &str) -> String {
    if name.chars().count() <= CHOICE_MAX {
        return name.to_string();
    }
    let mut out: String = name.chars().take(CHOICE_MAX - 1).collect();
    out.push('…');
    out
}

/// How well `text` matches what was typed: 0 a prefix, 1 elsewhere inside, `None` not at all.
fn rank(text: &str, typed: &str) -> Option<u8> {
    let text = text.to_lowercase();
    if text.starts_with(typed) {
        Some(0)
    } else if text.contains(typed) {
        Some(1)
    } else {
        None
    }
}

fn metrics(typed: &str) -> Vec<Choice> {
    let mut found: Vec<(bool, u8, Choice)> = METRICS
        .iter()
        .filter_map(|m| {
            let r = rank(m.name, typed).or_else(|| rank(m.description, typed).map(|_| 2))?;
            Some((
                !m.scope.portfolio(),
                r,
                Choice {
                    name: format!("{} — {}", m.name, m.description),
                    value: m.name.to_string(),
                },
            ))
        })
        .collect();
    // Stable: registry order within a rank.
    found.sort_by_key(|(account_only, r, _)| (*account_only, *r));
    found.into_iter().map(|(_, _, c)| c).collect()
}

async fn accounts(desk: &Desk, typed: &str) -> Vec<Choice> {
    let Ok(snapshot) = desk.data.get().await else {
        return vec![];
    };
    let mut found: Vec<(u8, &Account)> = snapshot
        .data
        .accounts()
        .iter()
        .filter_map(|a| {
            let r = rank(&a.name, typed)
                .into_iter()
                .chain(rank(&a.id, typed))
                .min()?;
            Some((r, a))
        })
        .collect();
    found.sort_by(|(ra, a), (rb, b)| {
        ra.cmp(rb)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.id.cmp(&b.id))
    });
    found
        .into_iter()
        .map(|(_, a)| Choice {
            name: format!("{} ({})", a.name, a.id),
            value: a.id.clone(),
        })
        .collect()
}

async fn firing(desk: &Desk, typed: &str) -> Result<Vec<Choice>> {
    let mut found: Vec<(u8, Choice)> = alerts::firing(desk)
        .await?
        .into_iter()
        .filter_map(|a| {
            let name = format!("{} · {}", a.rule_name, a.subject_name);
            let value = a.reference();
            let r = rank(&value, typed)
                .into_iter()
                .chain(rank(&a.subject_name, typed))
                .chain(rank(&name, typed).map(|_| 1))
                .min()?;
            Some((r, Choice { name, value }))
        })
        .collect();
    // Stable: most severe first within a rank.
    found.sort_by_key(|(r, _)| *r);
    Ok(found.into_iter().map(|(_, c)| c).collect())
}

async fn distinct(
    desk: &Desk,
    typed: &str,
    field: impl Fn(&Account) -> Option<&str>,
) -> Vec<Choice> {
    let Ok(snapshot) = desk.data.get().await else {
        return vec![];
    };
    let values: BTreeSet<&str> = snapshot
        .data
        .accounts()
        .iter()
        .filter_map(|a| field(a).map(str::trim))
        .filter(|v| !v.is_empty())
        .collect();
    let mut found: Vec<(u8, &str)> = values
        .into_iter()
        .filter_map(|v| Some((rank(v, typed)?, v)))
        .collect();
    found.sort_by_key(|(r, _)| *r);
    found
        .into_iter()
        .map(|(_, v)| Choice {
            name: v.to_string(),
            value: v.to_string(),
        })
        .collect()
}

fn commands(typed: &str) -> Vec<Choice> {
    let typed = typed.trim_start_matches('/');
    let mut found: Vec<(u8, Choice)> = COMMANDS
        .iter()
        .filter_map(|c| {
            let r = rank(c.name, typed)?;
            Some((
                r,
                Choice {
                    name: format!("{} — {}", c.name, c.summary),
                    value: c.name.to_string(),
                },
            ))
        })
        .collect();
    found.sort_by_key(|(r, _)| *r);
    found.into_iter().map(|(_, c)| c).collect()
}

/// Useful periods around today (in the business timezone), and what was typed when it already
/// is a period.
fn periods(desk: &Desk, typed: &str, now: DateTime<Utc>) -> Vec<Choice> {
    let today = now.with_timezone(&desk.config.timezone).date_naive();
    let named = [
        (
            "Last month",
            Period::last_complete(PeriodKind::Month, today),
        ),
        ("This month", Period::containing(PeriodKind::Month, today)),
        ("Last week", Period::last_complete(PeriodKind::Week, today)),
        ("This week", Period::containing(PeriodKind::Week, today)),
        (
            "Last quarter",
            Period::last_complete(PeriodKind::Quarter, today),
        ),
        (
            "This quarter",
            Period::containing(PeriodKind::Quarter, today),
        ),
        ("Last year", Period::last_complete(PeriodKind::Year, today)),
        ("This year", Period::containing(PeriodKind::Year, today)),
    ];
    let mut out: Vec<Choice> = named
        .iter()
        .map(|(label, p)| Choice {
            name: format!("{label} ({p})"),
            value: p.to_string(),
        })
        .filter(|c| c.name.to_lowercase().contains(typed))
        .collect();
    if let Ok(p) = typed.to_uppercase().parse::<Period>() {
        let value = p.to_string();
        if !out.iter().any(|c| c.value == value) {
            out.insert(
                0,
                Choice {
                    name: value.clone(),
                    value,
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(name: String, value: String) -> Choice {
        Choice { name, value }
    }

    #[test]
    fn choices_fit_discord_limits() {
        let mut many: Vec<Choice> = (0..30)
            .map(|i| choice(format!("{i} {}", "é".repeat(120)), format!("v{i}")))
            .collect();
        many.insert(0, choice("too long".into(), "x".repeat(101)));
        many.insert(1, choice("empty".into(), String::new()));
        let fitted = fit(many);
        assert_eq!(fitted.len(), MAX_CHOICES);
        assert_eq!(fitted[0].value, "v0");
        for c in &fitted {
            assert_eq!(c.name.chars().count(), CHOICE_MAX);
            assert!(c.name.ends_with('…'));
        }
        let exact = fit(vec![choice("a".repeat(100), "b".repeat(100))]);
        assert_eq!(exact[0].name.len(), 100);
        assert_eq!(exact[0].value.len(), 100);
    }

    #[test]
    fn metrics_by_name_first_and_portfolio_ones_before_account_ones() {
        let found = metrics("nr");
        assert_eq!(found[0].value, "nrr");
        let all = metrics("");
        assert_eq!(all.len(), METRICS.len());
        let first_account_only = all
            .iter()
            .position(|c| {
                !c.value
                    .parse::<crate::metrics::MetricId>()
                    .unwrap()
                    .def()
                    .scope
                    .portfolio()
            })
            .unwrap();
        assert!(all[first_account_only..].iter().all(|c| !c
            .value
            .parse::<crate::metrics::MetricId>()
            .unwrap()
            .def()
            .scope
            .portfolio()));
    }

    #[test]
    fn commands_by_name_prefix_first() {
        let found: Vec<String> = commands("/s").into_iter().map(|c| c.value).collect();
        assert_eq!(found[..2], ["scorecard", "snooze"]);
        assert!(found.contains(&"alerts".to_string()));
        assert!(commands("zz").is_empty());
    }
}
