//! Delivery: the channel-neutral [`Message`] that alerts and scorecards become, the renderers
//! that turn it into each platform's payload within that platform's limits, the [`Sink`]s that
//! post it, and the durable outbox that makes every message arrive exactly once.
//!
//! Everything that reaches a chat goes through here: producers (alerts, scorecards) build a
//! [`Message`]; the outbox stores it before anything is sent; a sink renders and posts it.

pub mod alert;
pub mod channels;
pub mod console;
pub mod discord;
pub mod discord_bot;
pub mod discord_webhook;
pub mod message;
pub mod outbox;
pub mod sink;
pub mod slack;
pub mod slack_sink;
pub mod text;
pub mod webhook;

pub use message::{Action, ActionKind, Field, Image, Message, Section, Tone};
pub use sink::{SendError, Sink};
