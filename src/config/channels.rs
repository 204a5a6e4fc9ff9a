//! `[channels.NAME]` and `[owners]`: where messages go and how to reach each platform. Each kind
//! has its own settings; tokens and secret URLs are `${ENV}` references ([`Secret`]).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use toml::Spanned;

use super::raw::{RawChannel, RawOwner, Snowflake};
use super::{toml_file, KindKeys, Secret, Validator, DEFAULT_CHANNEL};

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

/// The keys each kind of channel takes (besides `kind` and `description`).
const KIND_KEYS: [(ChannelKind, &[&str]); 5] = [
    (ChannelKind::Console, &[]),
    (ChannelKind::Discord, &["channel_id", "token", "api_base"]),
    (ChannelKind::DiscordWebhook, &["url"]),
    (ChannelKind::Slack, &["url", "token", "channel", "api_base"]),
    (ChannelKind::Webhook, &["url", "signing_secret"]),
];

impl Validator<'_> {
    pub(super) fn channel(
        &mut self,
        name: Spanned<String>,
        table: Spanned<RawChannel>,
    ) -> Option<ChannelConfig> {
        let header = toml_file::first_line(self.src, table.span());
        let raw = table.into_inner();
        let words: Vec<&str> = ChannelKind::ALL.iter().map(|(_, w)| *w).collect();
        let mut ok = true;
        if name.get_ref().trim().is_empty() {
            self.error(
                name.span(),
                "a channel name cannot be empty",
                Some("name it like `[channels.cs-team]`: rules route to this name".to_string()),
            );
            ok = false;
        }
        let description = match &raw.description {
            Some(d) if d.get_ref().trim().is_empty() => {
                self.error(
                    d.span(),
                    "the description is empty",
                    Some("say who reads this channel, or leave `description` out".to_string()),
                );
                None
            }
            d => d.as_ref().map(|d| d.get_ref().clone()),
        };
        let Some(kind) = &raw.kind else {
            self.missing_kind(header, "channel", name.get_ref(), &words);
            return None;
        };
        let Some((kind, word)) = ChannelKind::ALL
            .iter()
            .find(|(_, w)| *w == kind.get_ref().trim())
        else {
            self.unknown_kind(kind, "channel", &words);
            return None;
        };
        let (kind, word) = (*kind, *word);
        ok &= self.foreign_channel_keys(&raw, kind, word);
        let ctx = ChannelCtx {
            name: name.get_ref().clone(),
            word,
            header,
        };
        let settings = match kind {
            ChannelKind::Console => Some(ChannelSettings::Console),
            ChannelKind::Discord => {
                let channel_id = self.required(&ctx, &raw.channel_id, "channel_id", "the id of the Discord channel, like `channel_id = \"1234567890123456789\"` (Developer Mode → Copy Channel ID)");
                let channel_id = channel_id.and_then(|c| self.snowflake(c, "channel_id"));
                let token = self.secret(&ctx, &raw.token, "token", "DISCORD_TOKEN");
                let api_base = self.api_base(&raw.api_base);
                match (channel_id, token) {
                    (Some(channel_id), Some(token)) => {
                        Some(ChannelSettings::Discord(DiscordSettings {
                            channel_id,
                            token,
                            api_base,
                        }))
                    }
                    _ => None,
                }
            }
            ChannelKind::DiscordWebhook => self
                .secret(&ctx, &raw.url, "url", "DISCORD_WEBHOOK_URL")
                .map(|url| ChannelSettings::DiscordWebhook { url }),
            ChannelKind::Slack => self.slack(&ctx, &raw),
            ChannelKind::Webhook => {
                let url = match &raw.url {
                    None => {
                        self.missing(&ctx, "url", "the address to POST to, like `url = \"https://example.com/hooks/cs\"` or `url = \"${TEAMS_WEBHOOK_URL}\"`");
                        None
                    }
                    Some(u) if u.get_ref().trim_start().starts_with("${") => self
                        .secret(&ctx, &raw.url, "url", "WEBHOOK_URL")
                        .map(WebhookUrl::Secret),
                    Some(u) => self.http_url(u, "url").map(WebhookUrl::Plain),
                };
                let signing_secret = match &raw.signing_secret {
                    Some(_) => {
                        let s = self.secret(
                            &ctx,
                            &raw.signing_secret,
                            "signing_secret",
                            "WEBHOOK_SECRET",
                        );
                        ok &= s.is_some();
                        s
                    }
                    None => None,
                };
                url.map(|url| {
                    ChannelSettings::Webhook(WebhookSettings {
                        url,
                        signing_secret,
                    })
                })
            }
        };
        let settings = settings?;
        ok.then(|| ChannelConfig {
            name: name.into_inner(),
            kind,
            description,
            settings,
        })
    }

    fn slack(&mut self, ctx: &ChannelCtx, raw: &RawChannel) -> Option<ChannelSettings> {
        match (&raw.url, &raw.token) {
            (Some(url), Some(_)) => {
                self.error(
                    self.key_span(url.span(), "url"),
                    format!("channel `{}` has both `url` and `token`", ctx.name),
                    Some("a Slack channel posts through an incoming webhook (`url`) or a bot (`token` and `channel`); keep one".to_string()),
                );
                None
            }
            (Some(_), None) => {
                if let Some(api) = &raw.api_base {
                    self.error(
                        self.key_span(api.span(), "api_base"),
                        "`api_base` is for a Slack bot (`token`), not an incoming webhook",
                        Some(
                            "remove `api_base`; the webhook's `url` is the whole address"
                                .to_string(),
                        ),
                    );
                }
                if let Some(c) = &raw.channel {
                    self.error(
                        self.key_span(c.span(), "channel"),
                        "`channel` is for a Slack bot (`token`), not an incoming webhook",
                        Some(
                            "an incoming webhook always posts to the channel it was created for"
                                .to_string(),
                        ),
                    );
                }
                self.secret(ctx, &raw.url, "url", "SLACK_WEBHOOK_URL")
                    .map(|url| ChannelSettings::Slack(SlackSettings::Webhook { url }))
            }
            (None, Some(_)) => {
                let token = self.secret(ctx, &raw.token, "token", "SLACK_BOT_TOKEN");
                let channel = match &raw.channel {
                    Some(c) if !c.get_ref().trim().is_empty() => {
                        Some(c.get_ref().trim().to_string())
                    }
                    Some(c) => {
                        self.error(c.span(), "the Slack channel id is empty", Some("like `channel = \"C0123456789\"` (channel details → About → Channel ID)".to_string()));
                        None
                    }
                    None => {
                        self.missing(ctx, "channel", "the id of the Slack channel the bot posts to, like `channel = \"C0123456789\"`");
                        None
                    }
                };
                let api_base = self.api_base(&raw.api_base);
                match (token, channel) {
                    (Some(token), Some(channel)) => {
                        Some(ChannelSettings::Slack(SlackSettings::Bot {
                            token,
                            channel,
                            api_base,
                        }))
                    }
                    _ => None,
                }
            }
            (None, None) => {
                self.error(
                    ctx.header.clone(),
                    format!("channel `{}` has neither `url` nor `token`", ctx.name),
                    Some("add `url = \"${SLACK_WEBHOOK_URL}\"` (an incoming webhook) or `token = \"${SLACK_BOT_TOKEN}\"` and `channel = \"C0123456789\"` (a bot, which can also mark alerts resolved)".to_string()),
                );
                None
            }
        }
    }

    /// Keys set on the table that its kind does not take; false when there are any.
    fn foreign_channel_keys(&mut self, raw: &RawChannel, kind: ChannelKind, word: &str) -> bool {
        let own = KIND_KEYS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[][..], |(_, keys)| *keys);
        let present = [
            ("channel_id", raw.channel_id.as_ref().map(Spanned::span)),
            ("token", raw.token.as_ref().map(Spanned::span)),
            ("api_base", raw.api_base.as_ref().map(Spanned::span)),
            ("url", raw.url.as_ref().map(Spanned::span)),
            ("channel", raw.channel.as_ref().map(Spanned::span)),
            (
                "signing_secret",
                raw.signing_secret.as_ref().map(Spanned::span),
            ),
        ];
        let kind_keys = KindKeys {
            table: "channel",
            word,
            common: &["kind", "description"],
            own,
            owners: &[],
        };
        self.foreign_keys(&kind_keys, &present)
    }

    fn missing(&mut self, ctx: &ChannelCtx, key: &str, what: &str) {
        self.error(
            ctx.header.clone(),
            format!("{} channel `{}` has no `{key}`", ctx.word, ctx.name),
            Some(format!("add `{key}`: {what}")),
        );
    }

    fn required<'r, T>(
        &mut self,
        ctx: &ChannelCtx,
        value: &'r Option<Spanned<T>>,
        key: &str,
        what: &str,
    ) -> Option<&'r Spanned<T>> {
        if value.is_none() {
            self.missing(ctx, key, what);
        }
        value.as_ref()
    }

    /// A `${ENV}` reference; a literal value is refused so that no token sits in a file.
    fn secret(
        &mut self,
        ctx: &ChannelCtx,
        value: &Option<Spanned<String>>,
        key: &str,
        example_var: &str,
    ) -> Option<Secret> {
        let v = self.required(
            ctx,
            value,
            key,
            &format!(
                "a reference to an environment variable, like `{key} = \"${{{example_var}}}\"`"
            ),
        )?;
        self.secret_ref(v, key, example_var)
    }

    pub(super) fn snowflake(&mut self, v: &Spanned<Snowflake>, key: &str) -> Option<u64> {
        match v.get_ref().id() {
            Some(id) => Some(id),
            None => {
                self.error(
                    v.span(),
                    format!("`{key}` is not a Discord id"),
                    Some(
                        "a Discord id is a number of up to 20 digits, like \"1234567890123456789\""
                            .to_string(),
                    ),
                );
                None
            }
        }
    }

    pub(super) fn api_base(&mut self, v: &Option<Spanned<String>>) -> Option<String> {
        let v = v.as_ref()?;
        self.http_url(v, "api_base")
            .map(|u| u.trim_end_matches('/').to_string())
    }

    fn http_url(&mut self, v: &Spanned<String>, key: &str) -> Option<String> {
        let text = v.get_ref().trim();
        match reqwest::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                Some(text.to_string())
            }
            _ => {
                self.error(
                    v.span(),
                    format!("`{key}` is not an http(s) URL"),
                    Some("like \"https://example.com/path\"".to_string()),
                );
                None
            }
        }
    }

    pub(super) fn owners(&mut self, raw: BTreeMap<Spanned<String>, Spanned<RawOwner>>) -> Owners {
        let mut owners = Owners::new();
        for (name, table) in raw {
            let table = table.into_inner();
            let discord = table
                .discord
                .as_ref()
                .and_then(|d| self.snowflake(d, "discord"));
            let slack = match &table.slack {
                Some(s) if is_slack_member_id(s.get_ref()) => Some(s.get_ref().trim().to_string()),
                Some(s) => {
                    self.error(
                        s.span(),
                        "`slack` is not a Slack member id",
                        Some(
                            "a member id looks like \"U0123ABCD\" (profile → ⋮ → Copy member ID)"
                                .to_string(),
                        ),
                    );
                    None
                }
                None => None,
            };
            owners.insert(name.into_inner(), OwnerIds { discord, slack });
        }
        owners
    }
}

/// What a channel's settings errors need to name it.
struct ChannelCtx {
    name: String,
    word: &'static str,
    header: Range<usize>,
}

fn is_slack_member_id(s: &str) -> bool {
    let s = s.trim();
    s.len() >= 3
        && matches!(s.as_bytes()[0], b'U' | b'W')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}
