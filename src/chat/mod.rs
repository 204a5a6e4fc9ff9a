//! Chat commands: people ask cs-pulse from Discord or Slack (`/kpi nrr`, `/account acme`,
//! `/snooze ...`) and press the buttons under its alerts. One platform-neutral layer parses the
//! arguments ([`command`]), decides what the caller may see and do ([`access`]) and answers
//! ([`Desk`]) with a channel-neutral [`crate::notify::Message`]; thin adapters connect it to
//! Discord (poise on serenity's gateway, or the HTTP interactions endpoint) and to Slack (`/cs`).

pub mod access;
pub mod answers;
pub mod command;
pub mod data;
pub mod desk;
pub mod discord;
pub mod reply;
pub mod slack;

pub use access::Caller;
pub use command::{
    parse, parse_text, Command, CommandSpec, Options, ParamKind, Syntax, UsageError, COMMANDS,
};
pub use desk::{Choice, Desk};
pub use reply::{usage_reply, Reply};
