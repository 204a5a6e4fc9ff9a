//! Slack's side of chat: the `/cs` slash command and the buttons' interactivity requests,
//! verified with the app's signing secret.
//!
//! Slack POSTs URL-encoded forms ([`form`]) signed with HMAC-SHA256 ([`verify`]); `/cs ...`
//! goes to [`commands`] at `/slack/commands`, button presses to [`interactions`] at
//! `/slack/interactions`. Answers are Block Kit messages rendered by
//! [`crate::notify::slack::render`], sent inline when ready within the deadline and through the
//! request's `response_url` otherwise.

pub mod commands;
pub mod form;
pub mod interactions;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::chat::Reply;
use crate::config::{Access, SlackChat};
use crate::notify::slack::render;
use crate::server::{Context, ReplayGuard};

use verify::SigningSecret;

/// Where Slack posts `/cs`.
pub const COMMANDS_PATH: &str = "/slack/commands";
/// Where Slack posts button presses.
pub const INTERACTIONS_PATH: &str = "/slack/interactions";

/// The state both Slack endpoints share.
pub(crate) struct Endpoint {
    pub(crate) context: Context,
    pub(crate) secret: SigningSecret,
    pub(crate) replays: ReplayGuard,
    pub(crate) access: Access,
}

/// The Slack routes for `chat`; fails when the signing secret's variable is unset.
pub fn routes(context: Context, chat: &SlackChat) -> anyhow::Result<Router> {
    let secret = chat.signing_secret.resolve("Slack signing secret")?;
    let endpoint = Arc::new(Endpoint {
        context,
        secret: SigningSecret::new(secret),
        replays: ReplayGuard::new(),
        access: chat.access.clone(),
    });
    Ok(Router::new()
        .route(COMMANDS_PATH, post(commands::handle))
        .route(INTERACTIONS_PATH, post(interactions::handle))
        .with_state(endpoint))
}

/// A reply as Slack message bodies for a slash-command response or a `response_url`:
/// `response_type` (`ephemeral` or `in_channel`), the fallback `text` and the `blocks`.
/// Never empty.
pub fn reply_messages(reply: &Reply) -> Vec<Value> {
    let response_type = if reply.ephemeral {
        "ephemeral"
    } else {
        "in_channel"
    };
    let mut messages: Vec<Value> = render(&reply.message, &BTreeMap::new())
        .iter()
        .map(|payload| {
            let mut value = serde_json::to_value(payload).unwrap_or_else(|_| json!({}));
            if let Some(map) = value.as_object_mut() {
                map.insert("response_type".into(), json!(response_type));
            }
            value
        })
        .collect();
    if messages.is_empty() {
        messages.push(json!({ "response_type": response_type, "text": reply.message.title }));
    }
    messages
}

/// How often a `response_url` post is tried.
const ATTEMPTS: usize = 3;

/// Posts `message` to a `response_url` as a new message (never replacing the one with the
/// buttons). Failures are logged without the URL (it grants posting).
pub(crate) async fn post_response(http: &reqwest::Client, url: &str, message: &Value) {
    let mut message = message.clone();
    if let Some(map) = message.as_object_mut() {
        map.insert("replace_original".into(), json!(false));
    }
    for attempt in 1..=ATTEMPTS {
        match http.post(url).json(&message).send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                let status = r.status();
                tracing::warn!(%status, attempt, "Slack refused a response_url message");
                if !(status.is_server_error() || status.as_u16() == 429) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e.without_url(), attempt, "couldn't reach Slack's response_url");
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// A `response_url` must be an http(s) URL (Slack's `https://hooks.slack.com/...`).
pub(crate) fn response_url_ok(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}
