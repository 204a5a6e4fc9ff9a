//! `[chat]` and `[server]`: how people talk to cs-pulse. Which platforms' commands are answered
//! (Discord through the gateway or the HTTP interactions endpoint, Slack's `/cs`), with which
//! credentials (`${ENV}` secrets), and who may see revenue figures or act on alerts.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use super::Secret;

/// The validated `[chat]` table; both platforms are off when it is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatConfig {
    pub discord: Option<DiscordChat>,
    pub slack: Option<SlackChat>,
}

/// `[chat.discord]`: the application whose slash commands cs-pulse answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscordChat {
    /// The application's id (a snowflake).
    pub application_id: u64,
    /// The guild the commands are registered in.
    pub guild_id: u64,
    /// The bot token (`${DISCORD_TOKEN}`).
    pub token: Secret,
    /// How interactions arrive.
    pub mode: DiscordMode,
    /// The application's public key (64 hex characters), which signs requests to the HTTP
    /// interactions endpoint; required with `mode = "http"`. Not a secret.
    pub public_key: Option<String>,
    /// The REST API's base URL when not Discord's own (a proxy, a test server).
    pub api_base: Option<String>,
    /// Who may see revenue figures and who may snooze or acknowledge, by role id.
    pub access: Access,
}

/// How Discord delivers interactions to cs-pulse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiscordMode {
    /// cs-pulse connects to Discord's gateway (a WebSocket) with poise/serenity.
    #[default]
    Gateway,
    /// Discord POSTs interactions to `[server] listen` at `/discord/interactions`.
    Http,
}

/// `[chat.slack]`: the Slack app whose `/cs` command and buttons cs-pulse answers at
/// `/slack/commands` and `/slack/interactions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackChat {
    /// The app's signing secret (`${SLACK_SIGNING_SECRET}`).
    pub signing_secret: Secret,
    /// Who may see revenue figures and who may snooze or acknowledge, by user id.
    pub access: Access,
}

/// Permissions of one platform.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// Who may see revenue metrics (MRR, ARR, NRR, ...).
    pub revenue: Audience,
    /// Who may snooze and acknowledge alerts.
    pub act: Audience,
}

/// Who holds a permission.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Audience {
    /// Everyone who can run the commands (the key is absent).
    #[default]
    Everyone,
    /// Holders of one of these ids (Discord role ids, Slack user ids); an empty list is no one.
    Only(BTreeSet<String>),
}

impl Audience {
    /// Whether a caller holding `ids` (their roles, or their own user id) is in the audience.
    pub fn admits<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Only(set) => ids.any(|id| set.contains(id)),
        }
    }
}

/// `[server]`: the HTTP server of `cs-pulse run` (interaction endpoints).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where to listen, like `127.0.0.1:8080`.
    pub listen: SocketAddr,
}
