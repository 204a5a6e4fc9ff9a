//! `POST /slack/interactions`: the buttons under alert messages, through Slack interactivity.
//! The form's `payload` field holds JSON; for `block_actions` the pressed button's `action_id`
//! is an [`Action`] id (`cs:ack:rule:subject`), pressed at the desk. The request is acknowledged
//! at once (Slack waits 3 seconds at most) and the reply is posted to the payload's
//! `response_url` as a new message, leaving the alert and its buttons in place.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::form::{decode, field};
use super::verify::verify;
use super::{post_response, reply_messages, response_url_ok, Endpoint};
use crate::chat::command::Syntax;
use crate::chat::{Caller, Reply};
use crate::notify::Action;
use crate::server::Refusal;

/// The part of an interactivity payload cs-pulse reads.
#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: Option<User>,
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<PressedAction>,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PressedAction {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

pub(crate) async fn handle(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match press(&endpoint, &headers, &body) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

fn press(endpoint: &Arc<Endpoint>, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let now = endpoint.context.clock.now();
    verify(&endpoint.secret, &endpoint.replays, headers, body, now)?;
    let fields = decode(body).map_err(|e| Refusal::bad_request(e.to_string()))?;
    let json =
        field(&fields, "payload").ok_or_else(|| Refusal::bad_request("the form has no payload"))?;
    let payload: Payload = serde_json::from_str(json)
        .map_err(|e| Refusal::bad_request(format!("the payload is not an interaction: {e}")))?;
    if payload.kind != "block_actions" {
        // Shortcuts, views and the like are not cs-pulse's; acknowledge and ignore.
        return Ok(());
    }
    let user = payload
        .user
        .ok_or_else(|| Refusal::bad_request("the payload names no user"))?;
    let response_url = payload
        .response_url
        .filter(|u| response_url_ok(u))
        .ok_or_else(|| Refusal::bad_request("the payload has no valid response_url"))?;
    let Some(pressed) = payload.actions.first() else {
        return Err(Refusal::bad_request("the payload has no action"));
    };
    let action = Action::parse_id(&pressed.action_id)
        .or_else(|| pressed.value.as_deref().and_then(Action::parse_id));
    let name = user
        .username
        .clone()
        .or(user.name.clone())
        .unwrap_or_else(|| user.id.clone());
    let caller = Caller::new(
        user.id.clone(),
        name,
        Syntax::Slack,
        &endpoint.access,
        &[user.id.as_str()],
    );
    let desk = endpoint.context.desk.clone();
    let http = endpoint.context.http.clone();
    tokio::spawn(async move {
        let reply = match action {
            Some(action) => {
                let work = tokio::spawn(async move { desk.press(&caller, &action, now).await });
                work.await.unwrap_or_else(|_| Reply::crashed())
            }
            None => Reply::unknown_button(Syntax::Slack),
        };
        for message in reply_messages(&reply) {
            post_response(&http, &response_url, &message).await;
        }
    });
    Ok(())
}
