//! Discord's HTTP interactions endpoint: Ed25519-verified requests answered by axum.
//!
//! With `mode = "http"`, Discord POSTs every interaction to `/discord/interactions`, signed with
//! the application's key over `timestamp + body`. A request without a valid signature, dated
//! more than 5 minutes ago (or over a minute ahead), or carrying a signature already accepted,
//! is refused with 401 before its body is read. Then: PING is answered with PONG; a slash
//! command is answered inline when the desk answers within the deadline, else deferred (type 5,
//! ephemeral when the answer may show revenue) and finished by editing the original response
//! through the interaction's webhook; autocomplete gets suggestions; a button press goes to
//! [`Desk::press`](crate::chat::Desk::press). [`register_commands`] puts the command list in
//! the guild at startup.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use ed25519_dalek::{Signature, VerifyingKey};
use reqwest::Method;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::payload::{
    autocomplete_result, callback, callback_type, command_registrations, deferred,
    interaction_type, param_kind, response_parts, Interaction, InteractionOption,
};
use crate::chat::command::{parse, Syntax};
use crate::chat::{usage_reply, Caller, Reply};
use crate::config::{Access, DiscordChat};
use crate::notify::{Action, ActionKind};
use crate::server::{timestamp_fresh, Context, Refusal, ReplayGuard, MAX_AHEAD_SECS};

/// Discord's REST API when `api_base` is not set.
pub const DISCORD_API: &str = "https://discord.com";
/// Where Discord posts interactions.
pub const PATH: &str = "/discord/interactions";
/// How often a webhook call is tried (a follow-up may race Discord's processing of the first
/// response, which answers 404 for a moment).
const WEBHOOK_ATTEMPTS: usize = 3;

/// The endpoint's state.
struct Endpoint {
    context: Context,
    key: VerifyingKey,
    replays: ReplayGuard,
    access: Access,
    /// `{api}/api/v10/webhooks/{application_id}`.
    webhooks: String,
}

/// The route of the interactions endpoint for `chat` (whose `public_key` must be set).
pub fn routes(context: Context, chat: &DiscordChat) -> anyhow::Result<Router> {
    let hex_key = chat
        .public_key
        .as_deref()
        .context("`public_key` is needed with mode = \"http\" (the Developer Portal shows it)")?;
    let key = verifying_key(hex_key)
        .context("`public_key` is not an Ed25519 public key (64 hex characters)")?;
    let endpoint = Endpoint {
        context,
        key,
        replays: ReplayGuard::new(),
        access: chat.access.clone(),
        webhooks: format!(
            "{}/api/v10/webhooks/{}",
            api_base(chat),
            chat.application_id
        ),
    };
    Ok(Router::new()
        .route(PATH, post(interactions))
        .with_state(Arc::new(endpoint)))
}

fn verifying_key(hex_key: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

fn api_base(chat: &DiscordChat) -> String {
    chat.api_base
        .as_deref()
        .unwrap_or(DISCORD_API)
        .trim_end_matches('/')
        .to_string()
}

/// Registers every command in the configured guild (Discord's bulk overwrite: commands no longer
/// in the list disappear). Returns how many were registered.
pub async fn register_commands(
    chat: &DiscordChat,
    http: &reqwest::Client,
) -> anyhow::Result<usize> {
    let token = chat.token.resolve("Discord bot token")?;
    let url = format!(
        "{}/api/v10/applications/{}/guilds/{}/commands",
        api_base(chat),
        chat.application_id,
        chat.guild_id
    );
    let body = command_registrations();
    let count = body.as_array().map_or(0, Vec::len);
    let response = http
        .put(url)
        .header("Authorization", format!("Bot {token}"))
        .json(&body)
        .send()
        .await
        .context("registering the slash commands with Discord")?;
    let status = response.status();
    if !status.is_success() {
        let text: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect();
        anyhow::bail!(
            "Discord refused the slash commands of guild {} ({status}): {text}",
            chat.guild_id
        );
    }
    Ok(count)
}

async fn interactions(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&endpoint, &headers, &body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the signature, the timestamp and that the request is not a replay.
fn verify(endpoint: &Endpoint, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let (Some(signature), Some(timestamp)) = (
        header(headers, "x-signature-ed25519"),
        header(headers, "x-signature-timestamp"),
    ) else {
        return Err(Refusal::unauthorized("missing request signature"));
    };
    let invalid = || Refusal::unauthorized("invalid request signature");
    let bytes: [u8; 64] = hex::decode(signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(invalid)?;
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(body);
    endpoint
        .key
        .verify_strict(&signed, &Signature::from_bytes(&bytes))
        .map_err(|_| invalid())?;
    let now = endpoint.context.clock.now();
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::unauthorized("invalid request timestamp"))?;
    if !timestamp_fresh(ts, now, MAX_AHEAD_SECS) {
        return Err(Refusal::unauthorized("stale request timestamp"));
    }
    if !endpoint.replays.first_time(&hex::encode(bytes), ts, now) {
        return Err(Refusal::unauthorized("replayed request"));
    }
    Ok(())
}

async fn handle(
    endpoint: &Arc<Endpoint>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Refusal> {
    verify(endpoint, headers, body)?;
    let interaction: Interaction = serde_json::from_slice(body)
        .map_err(|e| Refusal::bad_request(format!("not an interaction: {e}")))?;
    match interaction.kind {
        interaction_type::PING => Ok(callback(callback_type::PONG, None)),
        interaction_type::APPLICATION_COMMAND => command(endpoint, interaction).await,
        interaction_type::AUTOCOMPLETE => autocomplete(endpoint, &interaction).await,
        interaction_type::MESSAGE_COMPONENT => component(endpoint, interaction).await,
        other => Err(Refusal::bad_request(format!(
            "interaction type {other} is not one cs-pulse answers"
        ))),
    }
}

fn caller(endpoint: &Endpoint, interaction: &Interaction) -> Result<Caller, Refusal> {
    let (id, name, roles) = interaction
        .invoker()
        .ok_or_else(|| Refusal::bad_request("the interaction names no user"))?;
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    Ok(Caller::new(
        id,
        name,
        Syntax::Discord,
        &endpoint.access,
        &roles,
    ))
}

/// An interaction token goes into webhook URLs: it must be a plain token.
fn token(interaction: &Interaction) -> Result<String, Refusal> {
    let t = &interaction.token;
    let plain = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain {
        Ok(t.clone())
    } else {
        Err(Refusal::bad_request("the interaction has no valid token"))
    }
}

async fn command(endpoint: &Arc<Endpoint>, interaction: Interaction) -> Result<Value, Refusal> {
    let caller = caller(endpoint, &interaction)?;
    let token = token(&interaction)?;
    let data = interaction.data.unwrap_or_default();
    let name = data
        .name
        .ok_or_else(|| Refusal::bad_request("the command has no name"))?;
    let command = match parse(&name, &InteractionOption::options(&data.options)) {
        Ok(c) => c,
        Err(e) => return Ok(message(&usage_reply(&e, Syntax::Discord))),
    };
    let ephemeral = command.shows_revenue();
    let desk = endpoint.context.desk.clone();
    let now = endpoint.context.clock.now();
    let work = tokio::spawn(async move { desk.answer(&caller, &command, now).await });
    Ok(in_time(endpoint, token, work, ephemeral).await)
}

async fn autocomplete(endpoint: &Endpoint, interaction: &Interaction) -> Result<Value, Refusal> {
    let data = interaction
        .data
        .as_ref()
        .ok_or_else(|| Refusal::bad_request("autocomplete without data"))?;
    let name = data.name.as_deref().unwrap_or_default();
    let focused = data.options.iter().find(|o| o.focused);
    let kind = focused.and_then(|o| param_kind(name, &o.name));
    let choices = match (focused, kind) {
        (Some(option), Some(kind)) => {
            let now = endpoint.context.clock.now();
            endpoint
                .context
                .desk
                .complete(kind, &option.text(), now)
                .await
        }
        _ => vec![],
    };
    Ok(autocomplete_result(&choices))
}

async fn component(endpoint: &Arc<Endpoint>, interaction: Interaction) -> Result<Value, Refusal> {
    let caller = caller(endpoint, &interaction)?;
    let token = token(&interaction)?;
    let custom_id = interaction
        .data
        .and_then(|d| d.custom_id)
        .ok_or_else(|| Refusal::bad_request("a component interaction without custom_id"))?;
    let Some(action) = Action::parse_id(&custom_id) else {
        return Ok(message(&Reply::unknown_button(Syntax::Discord)));
    };
    let ephemeral = action.kind == ActionKind::Open;
    let desk = endpoint.context.desk.clone();
    let now = endpoint.context.clock.now();
    let work = tokio::spawn(async move { desk.press(&caller, &action, now).await });
    Ok(in_time(endpoint, token, work, ephemeral).await)
}

/// A message response (type 4) with the reply's first part; further parts are sent as
/// follow-ups by the caller of this function.
fn message(reply: &Reply) -> Value {
    let first = response_parts(reply).into_iter().next();
    callback(callback_type::CHANNEL_MESSAGE, first)
}

/// Answers inline when `work` finishes within the deadline, else defers (ephemeral as asked) and
/// edits the original response when the answer is ready.
async fn in_time(
    endpoint: &Arc<Endpoint>,
    token: String,
    mut work: JoinHandle<Reply>,
    ephemeral: bool,
) -> Value {
    let within = endpoint.context.answer_within;
    if !within.is_zero() {
        if let Ok(done) = tokio::time::timeout(within, &mut work).await {
            let reply = done.unwrap_or_else(|_| Reply::crashed());
            let mut parts = response_parts(&reply).into_iter();
            let first = parts.next();
            let rest: Vec<Value> = parts.collect();
            if !rest.is_empty() {
                let endpoint = endpoint.clone();
                tokio::spawn(async move {
                    for part in rest {
                        endpoint
                            .webhook(Method::POST, &token, "", Some(&part))
                            .await;
                    }
                });
            }
            return callback(callback_type::CHANNEL_MESSAGE, first);
        }
    }
    let later = endpoint.clone();
    tokio::spawn(async move {
        let reply = work.await.unwrap_or_else(|_| Reply::crashed());
        let mut parts = response_parts(&reply).into_iter();
        if reply.ephemeral && !ephemeral {
            // The deferred response is public, and an edit cannot make it private: remove it
            // and send the answer as ephemeral follow-ups instead.
            later
                .webhook(Method::DELETE, &token, "/messages/@original", None)
                .await;
        } else if let Some(first) = parts.next() {
            later
                .webhook(Method::PATCH, &token, "/messages/@original", Some(&first))
                .await;
        }
        for part in parts {
            later.webhook(Method::POST, &token, "", Some(&part)).await;
        }
    });
    deferred(ephemeral)
}

impl Endpoint {
    /// Calls the interaction's webhook (`{webhooks}/{token}{path}`); failures are logged (without
    /// the URL, which holds the token).
    async fn webhook(&self, method: Method, token: &str, path: &str, body: Option<&Value>) {
        let url = format!("{}/{token}{path}", self.webhooks);
        for attempt in 1..=WEBHOOK_ATTEMPTS {
            let mut request = self.context.http.request(method.clone(), &url);
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = request.send().await;
            let retry_after = match sent {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => {
                    let status = r.status();
                    tracing::warn!(%status, %method, path, attempt, "Discord refused an interaction reply");
                    let retryable = status.as_u16() == 404
                        || status.as_u16() == 429
                        || status.is_server_error();
                    if !retryable {
                        return;
                    }
                    r.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<f64>().ok())
                        .map(|s| Duration::from_secs_f64(s.clamp(0.0, 10.0)))
                }
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), %method, path, attempt, "couldn't reach Discord for an interaction reply");
                    None
                }
            };
            if attempt < WEBHOOK_ATTEMPTS {
                tokio::time::sleep(retry_after.unwrap_or(Duration::from_millis(500))).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn public_keys_are_64_hex_characters() {
        assert!(verifying_key(&"ab".repeat(31)).is_none());
        assert!(verifying_key("not hex").is_none());
        let json = json!({"type": 1, "token": "a/b"});
        let interaction: Interaction = serde_json::from_value(json).expect("interaction");
        assert!(token(&interaction).is_err());
    }
}
