//! `POST /slack/commands`: the `/cs` slash command. The form's `text` is parsed with
//! [`parse_text`]; a wrong or missing value gets the usage reply at once. An answer ready within
//! the deadline is the response itself (`response_type`, `text`, `blocks`); a slower one is
//! acknowledged with an ephemeral "Working on it…" and posted to the `response_url` when ready,
//! as are the further parts of a long answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::form::{decode, field};
use super::verify::verify;
use super::{post_response, reply_messages, response_url_ok, Endpoint};
use crate::chat::command::{parse_text, Syntax};
use crate::chat::{usage_reply, Caller, Reply};
use crate::server::Refusal;

/// The acknowledgement of an answer that comes later.
pub const WORKING: &str = "Working on it…";

pub(crate) async fn handle(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match answer(&endpoint, &headers, &body).await {
        Ok(Some(message)) => Json(message).into_response(),
        Ok(None) => StatusCode::OK.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn answer(
    endpoint: &Arc<Endpoint>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Value>, Refusal> {
    let now = endpoint.context.clock.now();
    verify(&endpoint.secret, &endpoint.replays, headers, body, now)?;
    let fields = decode(body).map_err(|e| Refusal::bad_request(e.to_string()))?;
    // Slack checks the certificate of the URL now and then with a signed `ssl_check=1`.
    if field(&fields, "ssl_check") == Some("1") {
        return Ok(None);
    }
    let user_id = field(&fields, "user_id")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Refusal::bad_request("the form has no user_id"))?;
    let response_url = field(&fields, "response_url")
        .filter(|u| response_url_ok(u))
        .ok_or_else(|| Refusal::bad_request("the form has no valid response_url"))?
        .to_string();
    let name = field(&fields, "user_name")
        .filter(|n| !n.is_empty())
        .unwrap_or(user_id);
    let caller = Caller::new(user_id, name, Syntax::Slack, &endpoint.access, &[user_id]);
    let text = field(&fields, "text").unwrap_or_default();
    let command = match parse_text(text) {
        Ok(c) => c,
        Err(e) => {
            let messages = reply_messages(&usage_reply(&e, Syntax::Slack));
            return Ok(messages.into_iter().next());
        }
    };
    let desk = endpoint.context.desk.clone();
    let mut work = tokio::spawn(async move { desk.answer(&caller, &command, now).await });
    let within = endpoint.context.answer_within;
    if !within.is_zero() {
        if let Ok(done) = tokio::time::timeout(within, &mut work).await {
            let mut messages =
                reply_messages(&done.unwrap_or_else(|_| Reply::crashed())).into_iter();
            let first = messages.next();
            let rest: Vec<Value> = messages.collect();
            if !rest.is_empty() {
                let http = endpoint.context.http.clone();
                tokio::spawn(async move {
                    for message in rest {
                        post_response(&http, &response_url, &message).await;
                    }
                });
            }
            return Ok(first);
        }
    }
    let http = endpoint.context.http.clone();
    tokio::spawn(async move {
        let reply = work.await.unwrap_or_else(|_| Reply::crashed());
        for message in reply_messages(&reply) {
            post_response(&http, &response_url, &message).await;
        }
    });
    Ok(Some(
        json!({ "response_type": "ephemeral", "text": WORKING }),
    ))
}
