//! Alert messages into deliverable ones: an evaluation's grouped [`AlertMessage`]s become one
//! channel-neutral [`Message`] per routed channel, with the bookkeeping the outbox needs to edit
//! them when the alerts resolve.

use chrono::{DateTime, SecondsFormat, Utc};

use super::outbox::{more_line, AlertPost, Outgoing};
use super::{Action, Message, Section, Tone};
use crate::alerts::message::AlertMessage;
use crate::alerts::Event;
use crate::rules::Severity;

/// The channel-neutral form of an alert message.
pub fn to_message(m: &AlertMessage) -> Message {
    let mut lines = m.lines.clone();
    if m.more > 0 {
        lines.push(more_line(m.more));
    }
    Message {
        title: m.title.clone(),
        tone: match (m.event, m.severity) {
            (Event::Resolved, _) => Tone::Good,
            (_, Severity::Critical) => Tone::Critical,
            (_, Severity::Warning) => Tone::Warning,
            (_, Severity::Info) => Tone::Info,
        },
        sections: vec![Section {
            heading: None,
            lines,
            fields: vec![],
        }],
        footer: m.footer.clone(),
        mentions: m.owners.clone(),
        image: None,
        actions: match (m.event, m.subjects.as_slice()) {
            (Event::Resolved, _) => vec![],
            (_, [subject]) => Action::for_alert(
                &m.rule,
                subject,
                (subject != crate::rules::eval::PORTFOLIO).then_some(subject.as_str()),
            ),
            _ => vec![],
        },
    }
}

/// One [`Outgoing`] per channel of the message's route. `now` (the evaluation's time) makes
/// the message's identity: evaluating the same moment again stores nothing new. `can_edit`
/// says which channels can edit what they posted.
pub fn outgoing(
    m: &AlertMessage,
    now: DateTime<Utc>,
    can_edit: &dyn Fn(&str) -> bool,
) -> Vec<Outgoing> {
    let message = to_message(m);
    let at = now.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    m.route
        .iter()
        .map(|channel| Outgoing {
            channel: channel.clone(),
            dedup: format!("alert|{}|{}|{at}|{channel}", m.rule, m.event.as_str()),
            message: message.clone(),
            alert: Some(AlertPost {
                rule: m.rule.clone(),
                event: m.event,
                subjects: m.subjects.clone(),
                lined: m.lines.len(),
                can_edit: can_edit(channel),
            }),
        })
        .collect()
}
