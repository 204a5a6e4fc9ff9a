//! Replies and interaction data in Discord's JSON shapes, shared by the gateway and HTTP adapters.
//!
//! - A [`Reply`] becomes interaction response data ([`response_parts`]): the message renderer's
//!   content, embeds and components, `allowed_mentions: {parse: []}` (a reply never pings), the
//!   ephemeral flag (64) when only the caller is to see it, and no attachments (an interaction
//!   response here carries no files). The first part answers the interaction; the others are
//!   follow-up messages.
//! - [`command_registrations`] is the body of the bulk overwrite of the guild's commands, made
//!   from [`COMMANDS`], so Discord offers exactly what the parser accepts.
//! - [`Interaction`] is the part of an incoming interaction cs-pulse reads, and
//!   [`InteractionOption::options`] turns its options into the neutral [`Options`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::chat::command::{spec, CommandSpec, Options, ParamKind, COMMANDS, MAX_DAYS};
use crate::chat::desk::{Choice, MAX_CHOICES};
use crate::chat::Reply;
use crate::notify::discord::render;

/// The message flag that shows a response to the invoking user only.
pub const EPHEMERAL: u64 = 1 << 6;

/// Interaction types (what Discord sends).
pub mod interaction_type {
    pub const PING: u8 = 1;
    pub const APPLICATION_COMMAND: u8 = 2;
    pub const MESSAGE_COMPONENT: u8 = 3;
    pub const AUTOCOMPLETE: u8 = 4;
}

/// Interaction callback types (what cs-pulse answers).
pub mod callback_type {
    pub const PONG: u8 = 1;
    pub const CHANNEL_MESSAGE: u8 = 4;
    pub const DEFERRED_CHANNEL_MESSAGE: u8 = 5;
    pub const AUTOCOMPLETE_RESULT: u8 = 8;
}

/// Application command option types.
pub mod option_type {
    pub const STRING: u8 = 3;
    pub const INTEGER: u8 = 4;
}

/// Discord's limit on a choice's name and value (characters).
const CHOICE_MAX: usize = 100;

/// A reply as interaction response data, in parts: the first answers the interaction (or edits
/// the deferred response), the others are follow-up messages. Never empty.
pub fn response_parts(reply: &Reply) -> Vec<Value> {
    let mut parts: Vec<Value> = render(&reply.message, &BTreeMap::new())
        .iter()
        .map(|payload| {
            let value = serde_json::to_value(payload).unwrap_or(Value::Null);
            response_data(value, reply.ephemeral)
        })
        .collect();
    if parts.is_empty() {
        parts.push(response_data(
            json!({ "content": reply.message.title }),
            reply.ephemeral,
        ));
    }
    parts
}

/// One rendered message body made fit for an interaction response.
fn response_data(rendered: Value, ephemeral: bool) -> Value {
    let mut data = match rendered {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    // Files are not uploaded with interaction responses; their embed slots would show broken.
    data.remove("attachments");
    data.remove("nonce");
    data.remove("enforce_nonce");
    if let Some(Value::Array(embeds)) = data.get_mut("embeds") {
        for embed in embeds.iter_mut().filter_map(Value::as_object_mut) {
            embed.remove("image");
        }
    }
    if data.get("content").and_then(Value::as_str) == Some("") {
        data.remove("content");
    }
    if data
        .get("components")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        data.remove("components");
    }
    data.insert("allowed_mentions".into(), json!({ "parse": [] }));
    if ephemeral {
        data.insert("flags".into(), json!(EPHEMERAL));
    }
    Value::Object(data)
}

/// An interaction response (`{"type": .., "data": ..}`).
pub fn callback(kind: u8, data: Option<Value>) -> Value {
    match data {
        Some(data) => json!({ "type": kind, "data": data }),
        None => json!({ "type": kind }),
    }
}

/// The deferred response: Discord shows "thinking…" until the original response is edited;
/// ephemeral from the start when the answer may carry revenue figures.
pub fn deferred(ephemeral: bool) -> Value {
    let data = ephemeral.then(|| json!({ "flags": EPHEMERAL }));
    callback(callback_type::DEFERRED_CHANNEL_MESSAGE, data)
}

/// The autocomplete result for `choices` (at most 25, names and values cut to 100 characters).
pub fn autocomplete_result(choices: &[Choice]) -> Value {
    let choices: Vec<Value> = choices
        .iter()
        .take(MAX_CHOICES)
        .map(|c| json!({ "name": cut(&c.name), "value": cut(&c.value) }))
        .collect();
    callback(
        callback_type::AUTOCOMPLETE_RESULT,
        Some(json!({ "choices": choices })),
    )
}

fn cut(s: &str) -> String {
    s.chars().take(CHOICE_MAX).collect()
}

/// Whether Discord should ask cs-pulse for suggestions while a parameter is typed.
pub fn autocompletes(kind: ParamKind) -> bool {
    matches!(
        kind,
        ParamKind::Metric
            | ParamKind::Account
            | ParamKind::Alert
            | ParamKind::AlertOrAccount
            | ParamKind::Segment
            | ParamKind::Owner
            | ParamKind::Command
            | ParamKind::Period
    )
}

/// One command's registration (a CHAT_INPUT application command).
pub fn command_registration(spec: &CommandSpec) -> Value {
    let options: Vec<Value> = spec
        .params
        .iter()
        .map(|p| {
            let mut option = Map::new();
            let kind = if p.kind == ParamKind::Days {
                option_type::INTEGER
            } else {
                option_type::STRING
            };
            option.insert("type".into(), json!(kind));
            option.insert("name".into(), json!(p.name));
            option.insert("description".into(), json!(p.help));
            option.insert("required".into(), json!(p.required));
            if p.kind == ParamKind::Days {
                option.insert("min_value".into(), json!(1));
                option.insert("max_value".into(), json!(MAX_DAYS));
            }
            if autocompletes(p.kind) {
                option.insert("autocomplete".into(), json!(true));
            }
            Value::Object(option)
        })
        .collect();
    json!({
        "type": 1,
        "name": spec.name,
        "description": spec.summary,
        "options": options,
    })
}

/// The body of `PUT /applications/{app}/guilds/{guild}/commands`: every command.
pub fn command_registrations() -> Value {
    Value::Array(COMMANDS.iter().map(command_registration).collect())
}

/// The parameter kind of a command's option, for autocomplete.
pub fn param_kind(command: &str, option: &str) -> Option<ParamKind> {
    spec(command)?
        .params
        .iter()
        .find(|p| p.name == option)
        .map(|p| p.kind)
}

/// An incoming interaction, as far as cs-pulse reads it.
#[derive(Clone, Debug, Deserialize)]
pub struct Interaction {
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub data: Option<InteractionData>,
    /// Set in guilds: the member with their roles.
    #[serde(default)]
    pub member: Option<Member>,
    /// Set in direct messages.
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct InteractionData {
    /// The command's name (application commands, autocomplete).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub options: Vec<InteractionOption>,
    /// The button's id (message components).
    #[serde(default)]
    pub custom_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct InteractionOption {
    pub name: String,
    /// A string, an integer, a number or a boolean, by the option's type.
    #[serde(default)]
    pub value: Option<Value>,
    /// The option being typed (autocomplete).
    #[serde(default)]
    pub focused: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Member {
    pub user: User,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub nick: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub global_name: Option<String>,
}

impl InteractionOption {
    /// The option's value as text (integers as digits); empty when absent.
    pub fn text(&self) -> String {
        match &self.value {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    /// Options as the neutral name/value list.
    pub fn options(options: &[InteractionOption]) -> Options {
        options.iter().map(|o| (o.name.clone(), o.text())).collect()
    }
}

impl Interaction {
    /// Who pressed or typed: (user id, display name, role ids).
    pub fn invoker(&self) -> Option<(String, String, Vec<String>)> {
        if let Some(m) = &self.member {
            let name = m
                .nick
                .clone()
                .or_else(|| m.user.global_name.clone())
                .unwrap_or_else(|| m.user.username.clone());
            return Some((m.user.id.clone(), name, m.roles.clone()));
        }
        let u = self.user.as_ref()?;
        let name = u.global_name.clone().unwrap_or_else(|| u.username.clone());
        Some((u.id.clone(), name, vec![]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Message, Tone};

    #[test]
    fn ephemeral_replies_carry_flag_64_and_never_ping() {
        let reply = Reply::note("Hello", vec!["one line".into()], Tone::Info);
        let parts = response_parts(&reply);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0]["flags"], json!(64));
        assert_eq!(parts[0]["allowed_mentions"], json!({ "parse": [] }));
        assert!(parts[0].get("attachments").is_none());
        let public = Reply::public(Message {
            title: "T".into(),
            ..Message::default()
        });
        assert!(response_parts(&public)[0].get("flags").is_none());
    }

    #[test]
    fn registrations_follow_the_specs() {
        let all = command_registrations();
        let all = all.as_array().expect("array");
        assert_eq!(all.len(), COMMANDS.len());
        let renewals = all
            .iter()
            .find(|c| c["name"] == "renewals")
            .expect("renewals");
        assert_eq!(
            renewals["options"][0],
            json!({"type": 4, "name": "days", "description": "How many days ahead (default 60)",
                   "required": false, "min_value": 1, "max_value": 366})
        );
        let kpi = all.iter().find(|c| c["name"] == "kpi").expect("kpi");
        assert_eq!(kpi["options"][0]["autocomplete"], json!(true));
        assert_eq!(kpi["options"][0]["required"], json!(true));
        let snooze = all.iter().find(|c| c["name"] == "snooze").expect("snooze");
        assert!(snooze["options"][1].get("autocomplete").is_none());
    }

    #[test]
    fn options_become_text() {
        let data: InteractionData = serde_json::from_value(json!({
            "name": "renewals",
            "options": [{"name": "days", "type": 4, "value": 30}, {"name": "x", "type": 3, "value": "a"}]
        }))
        .expect("data");
        assert_eq!(
            InteractionOption::options(&data.options),
            vec![
                ("days".to_string(), "30".to_string()),
                ("x".into(), "a".into())
            ]
        );
    }
}
