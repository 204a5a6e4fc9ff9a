//! What a command answers: a channel-neutral message, and whether only the caller sees it.
//! Usage errors become short replies with what was wrong, the valid choices and an example.

use crate::notify::{Message, Section, Tone};

use super::command::{example, Syntax, UsageError, COMMANDS};

/// The answer to a command or a button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub message: Message,
    /// Shown to the caller only (Discord's ephemeral flag, Slack's `response_type`).
    pub ephemeral: bool,
}

impl Reply {
    /// A reply seen by everyone in the channel.
    pub fn public(message: Message) -> Reply {
        Reply {
            message,
            ephemeral: false,
        }
    }

    /// A reply seen by the caller only.
    pub fn private(message: Message) -> Reply {
        Reply {
            message,
            ephemeral: true,
        }
    }

    /// An answer that shows revenue figures when `revenue` (the caller may see them): then it is
    /// for the caller's eyes only.
    pub fn shows_revenue(message: Message, revenue: bool) -> Reply {
        Reply {
            message,
            ephemeral: revenue,
        }
    }

    /// A short private note: a refusal, a "not found", a confirmation nobody else needs.
    pub fn note(title: impl Into<String>, lines: Vec<String>, tone: Tone) -> Reply {
        Reply::private(Message {
            title: title.into(),
            tone,
            sections: vec![Section {
                heading: None,
                lines,
                fields: vec![],
            }],
            ..Message::default()
        })
    }
}

impl Reply {
    /// The note when an answer failed unexpectedly (a panic in the answering task; its cause
    /// is in the log).
    pub fn crashed() -> Reply {
        Reply::note(
            "Couldn't answer",
            vec!["Something went wrong on cs-pulse's side; the log says what.".into()],
            Tone::Critical,
        )
    }

    /// The note for a button cs-pulse did not make (an old message, another app's id), with
    /// the commands to use instead, written for the platform.
    pub fn unknown_button(syntax: Syntax) -> Reply {
        let command = |name: &str| {
            COMMANDS
                .iter()
                .find(|c| c.name == name)
                .map_or_else(|| format!("/{name}"), |c| example(c, &[], syntax))
        };
        Reply::note(
            "That button no longer works",
            vec![format!(
                "cs-pulse doesn't know this button. Use {}, {} or {} instead.",
                command("alerts"),
                command("ack"),
                command("snooze")
            )],
            Tone::Info,
        )
    }
}

/// The most choices a usage reply lists.
const CHOICES_SHOWN: usize = 25;

/// The reply to a wrong or missing argument: what was wrong, the valid choices, an example.
pub fn usage_reply(e: &UsageError, syntax: Syntax) -> Reply {
    let mut lines = vec![e.problem.clone()];
    if !e.choices.is_empty() {
        let shown: Vec<&str> = e
            .choices
            .iter()
            .take(CHOICES_SHOWN)
            .map(String::as_str)
            .collect();
        let more = e.choices.len().saturating_sub(CHOICES_SHOWN);
        let label = if e.choices.len() == 1 {
            "Did you mean"
        } else {
            "Valid choices"
        };
        let mut text = format!("{label}: {}", shown.join(", "));
        if more > 0 {
            text += &format!(" and {more} more");
        }
        if e.choices.len() == 1 {
            text += "?";
        }
        lines.push(text);
    }
    match e.command {
        Some(spec) if !spec.example.is_empty() => {
            lines.push(format!("Example: {}", example(spec, spec.example, syntax)));
        }
        Some(_) => {}
        None => {
            let help = COMMANDS
                .iter()
                .find(|c| c.name == "help")
                .expect("help is a command");
            lines.push(format!("Try {}", example(help, &[], syntax)));
        }
    }
    let title = match e.command {
        Some(spec) => format!("Couldn't run /{}", spec.name),
        None => "Couldn't run that command".to_string(),
    };
    Reply::note(title, lines, Tone::Warning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::command::parse;

    #[test]
    fn usage_reply_lists_choices_and_an_example() {
        let e = parse("kpi", &vec![("metric".into(), "nrrr".into())]).unwrap_err();
        let r = usage_reply(&e, Syntax::Slack);
        assert!(r.ephemeral);
        assert_eq!(
            r.message.to_text(),
            "Couldn't run /kpi\n  • \"nrrr\" is not a metric cs-pulse knows\n  • Did you mean: nrr?\n  • Example: /cs kpi nrr 2025-Q3\n"
        );
    }
}
