//! `[channels.NAME]` and `[owners]`: where messages go and how to reach each platform. Each kind
//! has its own settings; tokens and secret URLs are `${ENV}` references ([`Secret`]).

use std::collections::BTreeMap;
use std::fmt;

use super::Secret;
use super::DEFAULT_CHANNEL;

/// One configured channel: where alerts and scorecards routed to its name are delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelConfig {
    /// The key of `[channels.NAME]`, which rules and scorecards name in `route`.
    pub name: String,
    pub kind: ChannelKind,
    pub description: Option<String>,
    pub settings: ChannelSettings,
}

/// How a channel delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Printed to standard output.
    Console,
    /// A Discord channel, through the bot.
    Discord,
    /// A Discord incoming webhook.
    DiscordWebhook,
    /// A Slack channel.
    Slack,
    /// A generic JSON webhook.
    Webhook,
}

/// The settings of each kind of channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelSettings {
    Console,
    Discord(DiscordSettings),
    /// `url`: the webhook's URL, `https://discord.com/api/webhooks/ID/TOKEN` (a secret).
    DiscordWebhook {
        url: Secret,
    },
    Slack(SlackSettings),
    Webhook(WebhookSettings),
}

/// A Discord channel posted to by a bot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscordSettings {
    /// The channel's id (a snowflake).
    pub channel_id: u64,
    /// The bot token (`token = "${DISCORD_TOKEN}"`).
    pub token: Secret,
    /// The REST API's base URL when not Discord's own (a proxy, a test server), like
    /// `http://127.0.0.1:8080`; requests go to `{api_base}/api/v10/...`.
    pub api_base: Option<String>,
}

/// A Slack channel, through an incoming webhook or a bot token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlackSettings {
    /// `webhook_url = "${SLACK_WEBHOOK_URL}"`: posts only (no edits).
    Webhook { url: Secret },
    /// `token = "${SLACK_BOT_TOKEN}"` and `channel = "C0123456789"`: chat.postMessage, and
    /// chat.update to show alerts resolved. `api_base` replaces `https://slack.com/api`.
    Bot {
        token: Secret,
        channel: String,
        api_base: Option<String>,
    },
}

/// A generic JSON webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Where to POST (a plain URL, or `${ENV}` when the URL itself is a secret).
    pub url: WebhookUrl,
    /// When set, each request carries an HMAC-SHA256 of its body under this key.
    pub signing_secret: Option<Secret>,
}

/// A webhook URL written in the file or held in the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookUrl {
    Plain(String),
    Secret(Secret),
}

impl WebhookUrl {
    /// The URL; `what` names it in the error when its variable is unset.
    pub fn resolve(&self, what: &str) -> Result<String, super::MissingSecret> {
        match self {
            WebhookUrl::Plain(u) => Ok(u.clone()),
            WebhookUrl::Secret(s) => s.resolve(what),
        }
    }
}

/// How to mention an account owner on each platform (`[owners."Name"]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerIds {
    /// A Discord user id (a snowflake).
    pub discord: Option<u64>,
    /// A Slack member id (`U0123ABCD`).
    pub slack: Option<String>,
}

/// Owner name (as in the data) → platform ids.
pub type Owners = BTreeMap<String, OwnerIds>;

impl ChannelKind {
    /// Every kind, with its word in `kind = "..."`.
    pub const ALL: [(ChannelKind, &'static str); 5] = [
        (ChannelKind::Console, "console"),
        (ChannelKind::Discord, "discord"),
        (ChannelKind::DiscordWebhook, "discord_webhook"),
        (ChannelKind::Slack, "slack"),
        (ChannelKind::Webhook, "webhook"),
    ];

    pub fn word(self) -> &'static str {
        ChannelKind::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("console", |(_, w)| w)
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl ChannelConfig {
    /// The channel that exists when none is configured: `console`, printing to standard output.
    pub fn default_console() -> ChannelConfig {
        ChannelConfig {
            name: DEFAULT_CHANNEL.to_string(),
            kind: ChannelKind::Console,
            description: None,
            settings: ChannelSettings::Console,
        }
    }
}
