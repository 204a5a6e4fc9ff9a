//! Answers that read or change alert state: `/alerts`, `/snooze`, `/ack` and the Acknowledge
//! and Snooze buttons.
//!
//! Alerts are named by their reference `rule:subject` (a rule id, then an account id or
//! `portfolio`), the same text the buttons carry; people may also write an account's name after
//! the colon. Changes go through the store's [`AlertStore`], exactly as the command line's
//! `silence add` and `ack` do, so the next evaluation honours them. A target that names nothing
//! gets a private reply with the closest references and an example, never an error.

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};

use crate::alerts::{AlertKey, AlertState, Phase, Silence};
use crate::chat::command::{example, spec, Syntax};
use crate::chat::{Caller, Desk, Reply};
use crate::model::{Account, Dataset};
use crate::notify::{Message, Section, Tone};
use crate::rules::eval::PORTFOLIO;
use crate::rules::Severity;
use crate::store::AlertStore;

/// Subjects listed per rule by `/alerts` before "… and N more".
pub const SUBJECTS_PER_RULE: usize = 5;

/// References offered when a target is not found.
const SUGGESTIONS: usize = 5;

/// The reason of a snooze given without one.
pub const DEFAULT_REASON: &str = "snoozed from chat";

/// One alert as people see it: its reference, its rule's name and severity, its subject's name.
#[derive(Clone, Debug)]
pub struct AlertView {
    pub key: AlertKey,
    /// The rule's name (its id for alerts of rules no longer loaded, or of data quality).
    pub rule_name: String,
    pub severity: Severity,
    /// The account's name, `Portfolio`, or the subject itself when the data doesn't know it.
    pub subject_name: String,
    pub state: AlertState,
}

impl AlertView {
    /// `rule:subject`, as `/ack`, `/snooze` and the buttons take it.
    pub fn reference(&self) -> String {
        reference(&self.key)
    }
}

/// `rule:subject`.
pub fn reference(key: &AlertKey) -> String {
    format!("{}:{}", key.rule, key.subject)
}

/// The firing alerts, most severe first, then by rule name and subject name.
pub async fn firing(desk: &Desk) -> Result<Vec<AlertView>> {
    let states = desk.store.alert_states().await?;
    let data = desk.data.get().await.ok().map(|s| s.data);
    Ok(views(
        desk,
        data.as_deref(),
        states.into_iter().filter(|(_, s)| s.phase == Phase::Firing),
    ))
}

fn views(
    desk: &Desk,
    data: Option<&Dataset>,
    states: impl Iterator<Item = (AlertKey, AlertState)>,
) -> Vec<AlertView> {
    let mut out: Vec<AlertView> = states
        .map(|(key, state)| {
            let rule = desk.rules.iter().find(|r| r.id == key.rule);
            AlertView {
                rule_name: rule.map_or_else(|| key.rule.clone(), |r| r.name.clone()),
                severity: rule.map_or(Severity::Warning, |r| r.severity),
                subject_name: subject_name(data, &key.subject),
                key,
                state,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_name.cmp(&b.rule_name))
            .then_with(|| a.key.rule.cmp(&b.key.rule))
            .then_with(|| a.subject_name.cmp(&b.subject_name))
            .then_with(|| a.key.subject.cmp(&b.key.subject))
    });
    out
}

fn subject_name(data: Option<&Dataset>, subject: &str) -> String {
    if subject == PORTFOLIO {
        return "Portfolio".to_string();
    }
    data.and_then(|d| d.account_ix(subject))
        .and_then(|ix| data.map(|d| d.account(ix).name.clone()))
        .unwrap_or_else(|| subject.to_string())
}

/// The account `text` names: its id, else its name (case-insensitive), else its id written in
/// another case.
pub fn find_account<'d>(data: &'d Dataset, text: &str) -> Option<&'d Account> {
    let text = text.trim();
    if let Some(ix) = data.account_ix(text) {
        return Some(data.account(ix));
    }
    let accounts = data.accounts();
    accounts
        .iter()
        .find(|a| a.name.trim().eq_ignore_ascii_case(text))
        .or_else(|| accounts.iter().find(|a| a.id.eq_ignore_ascii_case(text)))
}

/// The severity icon, as alert titles show it.
pub fn icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🔴",
        Severity::Warning => "🟠",
        Severity::Info => "🔵",
    }
}

fn tone(severity: Severity) -> Tone {
    match severity {
        Severity::Critical => Tone::Critical,
        Severity::Warning => Tone::Warning,
        Severity::Info => Tone::Info,
    }
}

/// A time as people read it: in the business timezone, to the minute.
fn when(desk: &Desk, t: DateTime<Utc>) -> String {
    t.with_timezone(&desk.config.timezone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// What the caller typed, quoted and cut short, for replies that say it names nothing.
fn quoted(text: &str) -> String {
    const SHOWN: usize = 80;
    let text = text.trim();
    if text.chars().count() <= SHOWN {
        format!("\"{text}\"")
    } else {
        format!("\"{}…\"", text.chars().take(SHOWN).collect::<String>())
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

// ---------------------------------------------------------------------------------------------
// /alerts

pub async fn list(desk: &Desk, caller: &Caller, now: DateTime<Utc>) -> Result<Reply> {
    let states = desk.store.alert_states().await?;
    let silences = desk.store.silences(now, false).await?;
    let data = desk.data.get().await.ok().map(|s| s.data);
    let pending = states
        .values()
        .filter(|s| s.phase == Phase::Pending)
        .count();
    let alerts = views(
        desk,
        data.as_deref(),
        states.into_iter().filter(|(_, s)| s.phase == Phase::Firing),
    );
    let pending_line = (pending > 0).then(|| {
        format!(
            "{} pending: the conditions hold, waiting out the rule's \"for\" duration before firing",
            plural(pending, "alert", "alerts")
        )
    });
    if alerts.is_empty() {
        return Ok(Reply::public(Message {
            title: "✅ No alerts firing".to_string(),
            tone: Tone::Good,
            sections: vec![Section {
                heading: None,
                lines: pending_line.into_iter().collect(),
                fields: vec![],
            }],
            footer: format!("as of {}", when(desk, now)),
            ..Message::default()
        }));
    }
    let mut groups: Vec<(&AlertView, Vec<&AlertView>)> = vec![];
    for a in &alerts {
        match groups.last_mut() {
            Some((first, members)) if first.key.rule == a.key.rule => members.push(a),
            _ => groups.push((a, vec![a])),
        }
    }
    let mut sections = vec![];
    if let Some(line) = pending_line {
        sections.push(Section {
            heading: None,
            lines: vec![line],
            fields: vec![],
        });
    }
    for (first, members) in &groups {
        let mut lines: Vec<String> = members
            .iter()
            .take(SUBJECTS_PER_RULE)
            .map(|a| alert_line(desk, a, &silences, now))
            .collect();
        if members.len() > SUBJECTS_PER_RULE {
            lines.push(format!("… and {} more", members.len() - SUBJECTS_PER_RULE));
        }
        sections.push(Section {
            heading: Some(format!(
                "{} {} · {} — {}",
                icon(first.severity),
                first.rule_name,
                first.severity,
                if first.key.subject == PORTFOLIO && members.len() == 1 {
                    "portfolio".to_string()
                } else {
                    plural(members.len(), "alert", "alerts")
                }
            )),
            lines,
            fields: vec![],
        });
    }
    let ack = spec("ack").map(|s| example(s, &[("alert", "rule:account")], caller.syntax));
    let footer = match ack {
        Some(ack) => format!("as of {} · acknowledge with {ack}", when(desk, now)),
        None => format!("as of {}", when(desk, now)),
    };
    Ok(Reply::public(Message {
        title: format!(
            "{} {} firing",
            icon(alerts[0].severity),
            plural(alerts.len(), "alert", "alerts")
        ),
        tone: tone(alerts[0].severity),
        sections,
        footer,
        ..Message::default()
    }))
}

fn alert_line(desk: &Desk, a: &AlertView, silences: &[Silence], now: DateTime<Utc>) -> String {
    let mut parts = vec![format!("**{}** ({})", a.subject_name, a.reference())];
    if let Some(t) = a.state.fired_at.or(a.state.active_since) {
        parts.push(format!("since {}", when(desk, t)));
    }
    if let Some(ack) = &a.state.ack {
        parts.push(format!("acknowledged by {}", ack.by));
    }
    let silenced_until = silences
        .iter()
        .filter(|s| s.mutes(&a.key.rule, &a.key.subject, now))
        .map(|s| s.until)
        .max();
    if let Some(until) = silenced_until {
        parts.push(format!("silenced until {}", when(desk, until)));
    }
    parts.join(" · ")
}

// ---------------------------------------------------------------------------------------------
// Finding what a target names

/// What a `/snooze` or `/ack` target names.
enum Target {
    /// One alert (known from the alert states, or a loaded rule and a subject it can have).
    Alert {
        key: AlertKey,
        state: Option<AlertState>,
    },
    /// Every rule of one account.
    Account {
        id: String,
        name: String,
    },
    /// A rule id alone (too broad for chat).
    Rule(String),
    Unknown,
}

/// What `text` names, and the firing alerts (to offer when it names nothing useful).
async fn resolve(desk: &Desk, text: &str) -> Result<(Target, Vec<AlertView>)> {
    let states = desk.store.alert_states().await?;
    let data = desk.data.get().await.ok().map(|s| s.data);
    let data = data.as_deref();
    let text = text.trim();
    // Only the firing alerts are offered back: the states of a large portfolio are many.
    let all: Vec<AlertView> = views(
        desk,
        data,
        states
            .iter()
            .filter(|(_, s)| s.phase == Phase::Firing)
            .map(|(k, s)| (k.clone(), s.clone())),
    );
    if let Some((rule, subject)) = text.split_once(':') {
        let rule = rule.trim().to_ascii_lowercase();
        let subject = subject.trim();
        let exact = AlertKey {
            rule: rule.clone(),
            subject: subject.to_string(),
        };
        if let Some(state) = states.get(&exact) {
            return Ok((
                Target::Alert {
                    key: exact,
                    state: Some(state.clone()),
                },
                all,
            ));
        }
        // The subject written as an account's name, or `portfolio` in another case.
        let subject_id = if subject.eq_ignore_ascii_case(PORTFOLIO) {
            Some(PORTFOLIO.to_string())
        } else {
            data.and_then(|d| find_account(d, subject))
                .map(|a| a.id.clone())
        };
        if let Some(id) = subject_id {
            let key = AlertKey {
                rule: rule.clone(),
                subject: id,
            };
            let known_rule = desk.rules.iter().find(|r| r.id == rule).is_some_and(|r| {
                (key.subject == PORTFOLIO) == (r.scope == crate::rules::RuleScope::Portfolio)
            });
            if let Some(state) = states.get(&key) {
                return Ok((
                    Target::Alert {
                        key,
                        state: Some(state.clone()),
                    },
                    all,
                ));
            }
            if known_rule {
                return Ok((Target::Alert { key, state: None }, all));
            }
        }
        // Not an alert: maybe an account whose name has a colon.
    }
    if let Some(a) = data.and_then(|d| find_account(d, text)) {
        return Ok((
            Target::Account {
                id: a.id.clone(),
                name: a.name.clone(),
            },
            all,
        ));
    }
    if desk.rules.iter().any(|r| r.id == text.to_ascii_lowercase()) {
        return Ok((Target::Rule(text.to_ascii_lowercase()), all));
    }
    Ok((Target::Unknown, all))
}

/// The references and account names close to `text`, best first (none when nothing is).
async fn closest(
    desk: &Desk,
    text: &str,
    alerts: &[AlertView],
    with_accounts: bool,
) -> Vec<String> {
    let typed = text.trim().to_lowercase();
    let mut scored: Vec<(f64, String)> = alerts
        .iter()
        .map(|a| {
            let r = a.reference();
            let by_name = format!("{}:{}", a.key.rule, a.subject_name.to_lowercase());
            let score = strsim::jaro_winkler(&typed, &r.to_lowercase())
                .max(strsim::jaro_winkler(&typed, &by_name));
            (score, r)
        })
        .collect();
    if with_accounts {
        if let Ok(snapshot) = desk.data.get().await {
            scored.extend(snapshot.data.accounts().iter().map(|a| {
                let score = strsim::jaro_winkler(&typed, &a.name.to_lowercase())
                    .max(strsim::jaro_winkler(&typed, &a.id.to_lowercase()));
                (score, format!("{} ({})", a.name, a.id))
            }));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored
        .into_iter()
        .filter(|(s, _)| *s >= 0.75)
        .take(SUGGESTIONS)
        .map(|(_, r)| r)
        .collect()
}

/// "Closest: …" when something is close, else the first firing alerts.
fn offer(close: Vec<String>, firing: &[AlertView]) -> Option<String> {
    if !close.is_empty() {
        return Some(format!("Closest: {}", close.join(", ")));
    }
    match firing.len() {
        0 => Some("No alerts are firing right now.".to_string()),
        n => {
            let shown: Vec<String> = firing
                .iter()
                .take(SUGGESTIONS)
                .map(AlertView::reference)
                .collect();
            let label = if n > SUGGESTIONS {
                format!("Firing now ({} of {n})", SUGGESTIONS)
            } else {
                "Firing now".to_string()
            };
            Some(format!("{label}: {}", shown.join(", ")))
        }
    }
}

/// An example of `/ack` or `/snooze` with a real firing alert (the spec's example when none
/// fires).
fn example_line(command: &str, syntax: Syntax, alerts: &[AlertView]) -> Option<String> {
    let spec = spec(command)?;
    let Some(alert) = alerts.iter().find(|a| a.state.phase == Phase::Firing) else {
        return Some(format!("Example: {}", example(spec, spec.example, syntax)));
    };
    let reference = alert.reference();
    let args: Vec<(&str, &str)> = match command {
        "snooze" => vec![
            ("target", reference.as_str()),
            ("duration", "7d"),
            ("reason", "renewal call booked"),
        ],
        _ => vec![("alert", reference.as_str())],
    };
    Some(format!("Example: {}", example(spec, &args, syntax)))
}

// ---------------------------------------------------------------------------------------------
// /snooze and the Snooze button

pub async fn snooze(
    desk: &Desk,
    caller: &Caller,
    target: &str,
    duration: Duration,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let (found, alerts) = resolve(desk, target).await?;
    let Some(until) = now.checked_add_signed(duration) else {
        return Ok(Reply::note(
            "Couldn't snooze",
            vec!["A snooze that long ends beyond any calendar.".to_string()],
            Tone::Warning,
        ));
    };
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REASON)
        .to_string();
    let (rule, subject, what) = match found {
        Target::Alert { key, .. } => {
            let view = views(
                desk,
                desk.data.get().await.ok().map(|s| s.data).as_deref(),
                std::iter::once((key.clone(), AlertState::default())),
            );
            let what = view
                .first()
                .map(|v| format!("{} for {}", v.rule_name, v.subject_name))
                .unwrap_or_else(|| reference(&key));
            (Some(key.rule), Some(key.subject), what)
        }
        Target::Account { id, name } => (None, Some(id), format!("Every alert of {name}")),
        Target::Rule(rule) => {
            let mut lines = vec![format!(
                "\"{rule}\" is a rule: snooze one of its alerts ({rule}:<account>) or an account. \
                 Muting a rule for every account is done from the command line: \
                 cs-pulse silence add --rule {rule} --until 7d --reason \"...\""
            )];
            let of_rule: Vec<String> = alerts
                .iter()
                .filter(|a| a.key.rule == rule && a.state.phase == Phase::Firing)
                .take(SUGGESTIONS)
                .map(AlertView::reference)
                .collect();
            if !of_rule.is_empty() {
                lines.push(format!("Its firing alerts: {}", of_rule.join(", ")));
            }
            lines.extend(example_line("snooze", caller.syntax, &alerts));
            return Ok(Reply::note("Couldn't snooze that", lines, Tone::Warning));
        }
        Target::Unknown => {
            let firing: Vec<AlertView> = alerts
                .into_iter()
                .filter(|a| a.state.phase == Phase::Firing)
                .collect();
            let close = closest(desk, target, &firing, true).await;
            let mut lines = vec![format!(
                "{} is neither an alert (rule:account) nor an account cs-pulse knows",
                quoted(target)
            )];
            lines.extend(offer(close, &firing));
            lines.extend(example_line("snooze", caller.syntax, &firing));
            return Ok(Reply::note("Couldn't snooze that", lines, Tone::Warning));
        }
    };
    let silence = desk
        .store
        .add_silence(&Silence {
            id: 0,
            rule,
            subject,
            until,
            created_by: caller.signature(),
            reason: reason.clone(),
            created_at: now,
        })
        .await?;
    Ok(Reply::public(Message {
        title: format!("🔕 Snoozed: {what}"),
        tone: Tone::Info,
        sections: vec![Section {
            heading: None,
            lines: vec![format!(
                "Snoozed until {} by {}: {reason}",
                when(desk, until),
                caller.name
            )],
            fields: vec![],
        }],
        footer: format!(
            "silence {} · lift it early with: cs-pulse silence remove {}",
            silence.id, silence.id
        ),
        ..Message::default()
    }))
}

// ---------------------------------------------------------------------------------------------
// /ack and the Acknowledge button

pub async fn ack(desk: &Desk, caller: &Caller, alert: &str, now: DateTime<Utc>) -> Result<Reply> {
    let (found, alerts) = resolve(desk, alert).await?;
    let firing: Vec<AlertView> = alerts
        .iter()
        .filter(|a| a.state.phase == Phase::Firing)
        .cloned()
        .collect();
    let problem = match found {
        Target::Alert {
            key,
            state: Some(state),
        } if state.phase == Phase::Firing => {
            let view = alerts.iter().find(|a| a.key == key);
            let what = view.map_or_else(
                || reference(&key),
                |v| format!("{} for {}", v.rule_name, v.subject_name),
            );
            if let Some(prior) = &state.ack {
                return Ok(Reply::note(
                    format!("Already acknowledged: {what}"),
                    vec![format!(
                        "{} acknowledged it on {}; its reminders are already off until it resolves.",
                        prior.by,
                        when(desk, prior.at)
                    )],
                    Tone::Info,
                ));
            }
            if desk
                .store
                .acknowledge(&key, &caller.signature(), now)
                .await?
            {
                return Ok(Reply::public(Message {
                    title: format!("👀 Acknowledged: {what}"),
                    tone: Tone::Info,
                    sections: vec![Section {
                        heading: None,
                        lines: vec![format!(
                            "Acknowledged by {}: no more reminders until it resolves",
                            caller.name
                        )],
                        fields: vec![],
                    }],
                    footer: format!("{} · {}", reference(&key), when(desk, now)),
                    ..Message::default()
                }));
            }
            // It resolved between reading and acknowledging.
            format!("{} is no longer firing", reference(&key))
        }
        Target::Alert {
            key,
            state: Some(state),
        } => format!(
            "{} is {}, not firing: only firing alerts can be acknowledged",
            reference(&key),
            state.phase.as_str()
        ),
        Target::Alert { key, state: None } => format!(
            "{} is not firing: only firing alerts can be acknowledged",
            reference(&key)
        ),
        Target::Account { id, name } => {
            let of_account: Vec<AlertView> = firing
                .iter()
                .filter(|a| a.key.subject == id)
                .cloned()
                .collect();
            let refs: Vec<String> = of_account.iter().map(AlertView::reference).collect();
            let mut lines = vec![format!(
                "{} is an account; acknowledge one of its alerts by rule:account",
                quoted(alert)
            )];
            if refs.is_empty() {
                lines.push(format!("{name} has no firing alerts."));
                lines.extend(example_line("ack", caller.syntax, &firing));
            } else {
                lines.push(format!("Its firing alerts: {}", refs.join(", ")));
                lines.extend(example_line("ack", caller.syntax, &of_account));
            }
            return Ok(Reply::note(
                "Couldn't acknowledge that",
                lines,
                Tone::Warning,
            ));
        }
        Target::Rule(_) | Target::Unknown => format!(
            "{} is not a firing alert (write it as rule:account)",
            quoted(alert)
        ),
    };
    let mut lines = vec![problem];
    if firing.len() <= SUGGESTIONS {
        lines.extend(offer(vec![], &firing));
    } else {
        lines.extend(offer(closest(desk, alert, &firing, false).await, &firing));
    }
    lines.extend(example_line("ack", caller.syntax, &firing));
    Ok(Reply::note(
        "Couldn't acknowledge that",
        lines,
        Tone::Warning,
    ))
}
