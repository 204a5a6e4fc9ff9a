//! Discord's side of chat: slash commands, autocomplete and button presses arrive either over
//! the gateway ([`gateway`], poise on serenity) or as signed HTTP requests ([`http`]); both turn
//! them into the neutral [`crate::chat::Command`]s and render replies with [`payload`].

pub mod gateway;
pub mod http;
pub mod payload;
