//! Delivery: the channel-neutral [`Message`] that alerts and scorecards become, the renderers
//! that turn it into each platform's payload within that platform's limits, the [`Sink`]s that
//! post it, and the durable outbox that makes every message arrive exactly once.
//!
//! Everything that reaches a chat goes through here: producers (alerts, scorecards) build a
//! [`Message`]; the outbox stores it before anything is sent; a sink renders and posts it.

pub mod discord;
pub mod discord_bot;
pub mod discord_webhook;
pub mod message;
pub mod sink;
pub mod text;

pub use message::{Field, Image, Message, Section, Tone};
pub use sink::{SendError, Sink};
