//! `/help`: the commands and how to write them on the caller's platform. Everything comes from
//! the command specs ([`COMMANDS`]), so help can't drift from what the parser accepts.

use crate::chat::command::{example, CommandSpec, Syntax, COMMANDS};
use crate::chat::Reply;
use crate::notify::{Message, Section, Tone};

pub fn help(command: Option<&'static CommandSpec>, syntax: Syntax) -> Reply {
    match command {
        None => overview(syntax),
        Some(spec) => details(spec, syntax),
    }
}

/// How the command itself is written: `/kpi` or `/cs kpi`.
fn invocation(spec: &CommandSpec, syntax: Syntax) -> String {
    example(spec, &[], syntax)
}

fn overview(syntax: Syntax) -> Reply {
    let lines = COMMANDS
        .iter()
        .map(|c| {
            let mut line = format!("**{}**: {}", invocation(c, syntax), c.summary);
            if !c.example.is_empty() {
                line += &format!(" · e.g. {}", example(c, c.example, syntax));
            }
            line
        })
        .collect();
    let footer = COMMANDS
        .iter()
        .find(|c| c.name == "help")
        .map(|h| {
            format!(
                "One command's parameters: {}",
                example(h, &[("command", "kpi")], syntax)
            )
        })
        .unwrap_or_default();
    Reply::private(Message {
        title: "What cs-pulse can answer".to_string(),
        tone: Tone::Info,
        sections: vec![Section {
            heading: None,
            lines,
            fields: vec![],
        }],
        footer,
        ..Message::default()
    })
}

fn details(spec: &CommandSpec, syntax: Syntax) -> Reply {
    let mut sections = vec![Section {
        heading: None,
        lines: vec![spec.summary.to_string()],
        fields: vec![],
    }];
    let params: Vec<String> = spec
        .params
        .iter()
        .map(|p| {
            format!(
                "**{}** ({}): {}",
                p.name,
                if p.required { "required" } else { "optional" },
                p.help
            )
        })
        .collect();
    sections.push(Section {
        heading: Some("Parameters".to_string()),
        lines: if params.is_empty() {
            vec!["none".to_string()]
        } else {
            params
        },
        fields: vec![],
    });
    sections.push(Section {
        heading: Some("Example".to_string()),
        lines: vec![example(spec, spec.example, syntax)],
        fields: vec![],
    });
    let footer = match (syntax, spec.params.is_empty()) {
        (_, true) => String::new(),
        (Syntax::Discord, false) => "Discord suggests values as you type".to_string(),
        (Syntax::Slack, false) => {
            "Values go in order or as name=value; put values with spaces in \"double quotes\""
                .to_string()
        }
    };
    Reply::private(Message {
        title: format!("Help: {}", invocation(spec, syntax)),
        tone: Tone::Info,
        sections,
        footer,
        ..Message::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_command_and_every_parameter_privately() {
        for syntax in [Syntax::Discord, Syntax::Slack] {
            let all = help(None, syntax);
            assert!(all.ephemeral);
            let text = all.message.to_text();
            for c in COMMANDS {
                assert!(text.contains(&example(c, &[], syntax)), "{}", c.name);
                let one = help(Some(c), syntax).message.to_text();
                for p in c.params {
                    assert!(one.contains(p.help), "{}.{}", c.name, p.name);
                }
            }
        }
    }
}
