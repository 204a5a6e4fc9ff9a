//! Slash commands over Discord's gateway with poise on serenity.
