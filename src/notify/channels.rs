//! The configured channels as sinks: each `[channels.NAME]` becomes the [`Sink`] of its kind,
//! with its secrets read from the environment now (and only now), and `[owners]` turned into
//! each platform's mention map. Every channel that cannot be built is reported at once.
//!
//! It also decides which channels show buttons: only those whose platform calls cs-pulse back
//! when one is pressed, the `discord` bot channels when `[chat.discord]` is configured and the
//! Slack bot channels when `[chat.slack]` is. Webhook channels never show them (a Discord
//! webhook's buttons reach no application, a Slack incoming webhook's no app that answers).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::discord_bot::DiscordBotSink;
use super::discord_webhook::DiscordWebhookSink;
use super::slack_sink::{SlackBotSink, SlackWebhookSink};
use super::webhook::WebhookSink;
use super::{Message, Sink};
use crate::config::{ChannelConfig, ChannelSettings, Config, Owners, SlackSettings};

/// Channels that could not be built, one line each ("channel `cs`: ...").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ChannelErrors(pub Vec<String>);

/// The sinks of every configured channel, by name; `console` channels share `console`.
pub fn build_sinks(
    config: &Config,
    console: Arc<dyn Sink>,
) -> Result<BTreeMap<String, Arc<dyn Sink>>, ChannelErrors> {
    let mut sinks = BTreeMap::new();
    let mut errors = vec![];
    for channel in &config.channels {
        match build(channel, config, &console) {
            Ok(sink) => {
                sinks.insert(channel.name.clone(), sink);
            }
            Err(e) => errors.push(format!("channel `{}`: {e}", channel.name)),
        }
    }
    if errors.is_empty() {
        Ok(sinks)
    } else {
        Err(ChannelErrors(errors))
    }
}

fn discord_ids(owners: &Owners) -> BTreeMap<String, u64> {
    owners
        .iter()
        .filter_map(|(name, ids)| ids.discord.map(|id| (name.clone(), id)))
        .collect()
}

fn slack_ids(owners: &Owners) -> BTreeMap<String, String> {
    owners
        .iter()
        .filter_map(|(name, ids)| ids.slack.clone().map(|id| (name.clone(), id)))
        .collect()
}

/// `message` as a channel shows it: with its buttons only when `buttons` (the platform calls
/// cs-pulse back), otherwise without its actions.
pub fn shown(message: &Message, buttons: bool) -> Cow<'_, Message> {
    if buttons || message.actions.is_empty() {
        return Cow::Borrowed(message);
    }
    Cow::Owned(Message {
        actions: vec![],
        ..message.clone()
    })
}

fn build(
    channel: &ChannelConfig,
    config: &Config,
    console: &Arc<dyn Sink>,
) -> Result<Arc<dyn Sink>, String> {
    let owners = &config.owners;
    let err = |e: &dyn std::fmt::Display| e.to_string();
    Ok(match &channel.settings {
        ChannelSettings::Console => console.clone(),
        ChannelSettings::Discord(d) => {
            let token = d.token.resolve("Discord bot token").map_err(|e| err(&e))?;
            Arc::new(
                DiscordBotSink::new(d.channel_id, token, d.api_base.clone(), discord_ids(owners))
                    .map_err(|e| err(&e))?
                    .with_buttons(config.chat.discord.is_some()),
            )
        }
        ChannelSettings::DiscordWebhook { url } => {
            let url = url.resolve("Discord webhook URL").map_err(|e| err(&e))?;
            Arc::new(DiscordWebhookSink::new(url, discord_ids(owners)).map_err(|e| err(&e))?)
        }
        ChannelSettings::Slack(SlackSettings::Webhook { url }) => {
            let what = "Slack incoming-webhook URL";
            let url = url.resolve(what).map_err(|e| err(&e))?;
            Arc::new(SlackWebhookSink::new(&url, slack_ids(owners), what).map_err(|e| err(&e))?)
        }
        ChannelSettings::Slack(SlackSettings::Bot {
            token,
            channel: id,
            api_base,
        }) => {
            let token = token.resolve("Slack bot token").map_err(|e| err(&e))?;
            Arc::new(
                SlackBotSink::new(token, id, api_base.as_deref(), slack_ids(owners))
                    .map_err(|e| err(&e))?
                    .with_buttons(config.chat.slack.is_some()),
            )
        }
        ChannelSettings::Webhook(w) => {
            let url = w.url.resolve("webhook URL").map_err(|e| err(&e))?;
            let secret = w
                .signing_secret
                .as_ref()
                .map(|s| s.resolve("webhook signing secret"))
                .transpose()
                .map_err(|e| err(&e))?;
            Arc::new(WebhookSink::new(&url, secret, "webhook URL").map_err(|e| err(&e))?)
        }
    })
}
