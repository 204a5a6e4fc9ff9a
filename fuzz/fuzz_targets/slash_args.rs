//! Slash-command arguments and button ids, as the chat endpoints receive them. The first byte
//! picks the way in:
//!
//! - `0`: the text after Slack's `/cs` (`chat::parse_text`);
//! - `1`: a Slack request body (`slack::form::decode`, then its `text` field through
//!   `parse_text` and its `payload` field's button id through `Action::parse_id`);
//! - `2`: a Discord interaction as JSON (`discord::payload::Interaction`, what the HTTP
//!   endpoint deserializes): its command name and options through `chat::parse`, its
//!   `custom_id` through `Action::parse_id`, its invoker;
//! - `3`: a command name and options directly (NUL-separated: name, key, value, key, value...),
//!   as Discord's gateway hands them to `chat::parse`.
//!
//! A wrong argument must become a `UsageError`, rendered as the usage reply the user sees on
//! each platform; nothing may panic. A button id that parses must read back the same.
#![no_main]

use cs_pulse::chat::discord::payload::{response_parts, Interaction, InteractionOption};
use cs_pulse::chat::slack::form::{decode, field};
use cs_pulse::chat::slack::reply_messages;
use cs_pulse::chat::{parse, parse_text, usage_reply, Command, Options, Syntax, COMMANDS};
use cs_pulse::notify::Action;
use libfuzzer_sys::fuzz_target;

fn answered(result: Result<Command, cs_pulse::chat::UsageError>, syntax: Syntax) {
    match result {
        Ok(command) => {
            let name = command.name();
            assert!(COMMANDS.iter().any(|c| c.name == name), "{name}");
            let _ = (command.shows_revenue(), command.acts());
        }
        Err(e) => {
            assert!(
                !e.problem.trim().is_empty(),
                "a usage error that says nothing"
            );
            let reply = usage_reply(&e, syntax);
            let parts = match syntax {
                Syntax::Slack => reply_messages(&reply),
                Syntax::Discord => response_parts(&reply),
            };
            assert!(!parts.is_empty(), "a usage reply with no message");
        }
    }
}

fn button(id: &str) {
    if let Some(action) = Action::parse_id(id) {
        assert_eq!(Action::parse_id(&action.id()), Some(action), "{id:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => {
            // Slack's form decoding has already replaced bytes that are not UTF-8.
            let text = String::from_utf8_lossy(rest);
            answered(parse_text(&text), Syntax::Slack);
        }
        1 => {
            let Ok(fields) = decode(rest) else {
                return;
            };
            if let Some(text) = field(&fields, "text") {
                answered(parse_text(text), Syntax::Slack);
            }
            if let Some(payload) = field(&fields, "payload") {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(payload) {
                    let ids = value["actions"][0]["action_id"]
                        .as_str()
                        .unwrap_or_default();
                    button(ids);
                }
            }
        }
        2 => {
            let Ok(interaction) = serde_json::from_slice::<Interaction>(rest) else {
                return;
            };
            let _ = interaction.invoker();
            let Some(data) = interaction.data else {
                return;
            };
            if let Some(name) = &data.name {
                let options = InteractionOption::options(&data.options);
                answered(parse(name, &options), Syntax::Discord);
            }
            if let Some(id) = &data.custom_id {
                button(id);
            }
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let mut parts = text.split('\0');
            let name = parts.next().unwrap_or_default();
            let words: Vec<&str> = parts.collect();
            let options: Options = words
                .chunks(2)
                .map(|kv| {
                    let key = kv.first().copied().unwrap_or_default();
                    let value = kv.get(1).copied().unwrap_or_default();
                    (key.to_string(), value.to_string())
                })
                .collect();
            answered(parse(name, &options), Syntax::Discord);
            button(name);
        }
    }
});
