//! Delivery to Slack, two ways: an incoming webhook ([`SlackWebhookSink`], posts only) and a bot
//! token ([`SlackBotSink`]: `chat.postMessage`, `chat.update` to show an alert resolved, and the
//! external file upload for a scorecard's chart). Both render with [`super::slack::render`] and
//! translate Slack's documented answers into [`SendError`]s the outbox can act on.
//!
//! Slack's answers, as documented:
//!
//! - Incoming webhook: `200 ok`; errors as plain-text codes with a status: `400 invalid_payload`,
//!   `403 action_prohibited`, `404 channel_not_found`, `410 channel_is_archived`, `429` with
//!   `Retry-After`, `500 rollup_error`. 429 → rate limited, 5xx → transient, the rest permanent.
//! - Web API: HTTP 200 with `{"ok":true,...}` or `{"ok":false,"error":"<code>"}`, and HTTP 429
//!   with `Retry-After` (error `ratelimited`). `ratelimited` → rate limited; `internal_error`,
//!   `fatal_error`, `service_unavailable`, `request_timeout` → transient; any other code
//!   (`invalid_auth`, `not_in_channel`, `channel_not_found`, `invalid_blocks`, `msg_too_long`, …)
//!   → permanent, naming the code.
//!
//! A message too long for one Slack message is posted as several, in order. Only a failure of
//! the first part is returned to the outbox (which retries the whole message); once a part is
//! posted, later parts are retried here a few times, and if one still fails the parts posted so
//! far are reported as delivered and the failure is logged, since a retry by the outbox would
//! post the first parts twice.
//!
//! Neither the bot token nor the webhook URL (which is itself a credential) ever appears in an
//! error, a log line or `Debug` output.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Value};

use super::channels::shown;
use super::sink::DeliveryIds;
use super::slack::{render, Block, SlackPayload, TextObject};
use super::webhook::{
    classify_status, excerpt, http_client, parse_url, retry_after, transport_error, unix_now,
    SetupError, DEFAULT_RETRY_AFTER,
};
use super::{Image, Message, SendError, Sink};
use crate::config::Owners;

/// Slack's Web API, unless `api_base` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://slack.com/api";

/// Attempts at a later part of a split message before giving up on it.
const PART_ATTEMPTS: u32 = 3;
/// The longest `Retry-After` waited for inside one post (longer waits give up on the part).
const PART_MAX_WAIT: Duration = Duration::from_secs(30);

/// Owner name → Slack member id, from `[owners]`.
pub fn member_ids(owners: &Owners) -> BTreeMap<String, String> {
    owners
        .iter()
        .filter_map(|(name, ids)| Some((name.clone(), ids.slack.clone()?)))
        .collect()
}

/// Posts through a Slack incoming webhook. It cannot edit, and cannot upload files (an image is
/// shown as its alt text). The delivery id is the outbox key (`key`, then `key#2`, `key#3` for
/// the further parts of a split message).
pub struct SlackWebhookSink {
    client: reqwest::Client,
    url: Url,
    mentions: BTreeMap<String, String>,
}

impl std::fmt::Debug for SlackWebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackWebhookSink")
            .field("url", &"<hidden>")
            .field("mentions", &self.mentions.len())
            .finish()
    }
}

impl SlackWebhookSink {
    /// A sink posting to the incoming webhook `url`; `mentions` maps owner names to member ids;
    /// `what` names the URL in an error (which never shows the URL).
    pub fn new(
        url: &str,
        mentions: BTreeMap<String, String>,
        what: &str,
    ) -> Result<Self, SetupError> {
        Ok(SlackWebhookSink {
            client: http_client()?,
            url: parse_url(url, what)?,
            mentions,
        })
    }

    async fn post_part(&self, payload: &SlackPayload) -> Result<(), SendError> {
        let response = self
            .client
            .post(self.url.clone())
            .json(payload)
            .send()
            .await
            .map_err(|e| transport_error("Slack webhook", e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let headers = response.headers().clone();
        let code = excerpt(&response.text().await.unwrap_or_default());
        Err(classify_status(
            "the Slack webhook",
            status,
            &headers,
            &code,
            unix_now(),
        ))
    }
}

#[async_trait]
impl Sink for SlackWebhookSink {
    /// Without buttons: an incoming webhook is not tied to an app that answers their presses.
    async fn post(&self, message: &Message, key: &str) -> Result<DeliveryIds, SendError> {
        let parts = render(&shown(message, false), &self.mentions);
        post_parts(&parts, |i, payload| async move {
            self.post_part(payload).await?;
            Ok(if i == 0 {
                key.to_string()
            } else {
                format!("{key}#{}", i + 1)
            })
        })
        .await
    }
}

/// Posts as a Slack app's bot user: `chat.postMessage`, edits with `chat.update`, and uploads a
/// message's image with `files.getUploadURLExternal` / `files.completeUploadExternal` (scopes
/// `chat:write` and `files:write`). Delivery ids are `"{channel}:{ts}"`, one per part.
pub struct SlackBotSink {
    client: reqwest::Client,
    token: String,
    channel: String,
    api_base: String,
    mentions: BTreeMap<String, String>,
    upload_images: bool,
    /// Whether messages show their buttons (cs-pulse answers the app's interactions).
    buttons: bool,
}

impl std::fmt::Debug for SlackBotSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackBotSink")
            .field("token", &"<hidden>")
            .field("channel", &self.channel)
            .field("api_base", &self.api_base)
            .finish()
    }
}

/// The fields of a Web API answer that cs-pulse reads.
#[derive(Debug, Deserialize)]
struct ApiAnswer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    upload_url: Option<String>,
    #[serde(default)]
    file_id: Option<String>,
}

impl SlackBotSink {
    /// A sink posting to `channel` (an id like `C0123456789`) with bot `token`; `api_base`
    /// replaces [`DEFAULT_API_BASE`] (a proxy, a test server).
    pub fn new(
        token: String,
        channel: &str,
        api_base: Option<&str>,
        mentions: BTreeMap<String, String>,
    ) -> Result<Self, SetupError> {
        let api_base = api_base
            .unwrap_or(DEFAULT_API_BASE)
            .trim()
            .trim_end_matches('/')
            .to_string();
        parse_url(&api_base, "Slack api_base")?;
        Ok(SlackBotSink {
            client: http_client()?,
            token,
            channel: channel.trim().to_string(),
            api_base,
            mentions,
            upload_images: true,
            buttons: false,
        })
    }

    /// The same sink, showing the messages' buttons when `on`: only when cs-pulse answers the
    /// app's interactions (`[chat.slack]`); otherwise a press would fail.
    pub fn with_buttons(mut self, on: bool) -> Self {
        self.buttons = on;
        self
    }

    /// The same sink, showing images only as alt text (no `files:write` scope needed).
    pub fn without_image_upload(mut self) -> Self {
        self.upload_images = false;
        self
    }

    /// Calls Web API `method` with a JSON body; `Ok` only for `{"ok":true}`.
    async fn call(&self, method: &str, body: &Value) -> Result<ApiAnswer, SendError> {
        let request = self
            .client
            .post(format!("{}/{method}", self.api_base))
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body.to_string());
        self.answer(method, request).await
    }

    /// Sends `request` to `method` and reads Slack's answer.
    async fn answer(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<ApiAnswer, SendError> {
        let who = format!("Slack API {method}");
        let response = request.send().await.map_err(|e| transport_error(&who, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let now = unix_now();
        if !status.is_success() {
            let text = excerpt(&response.text().await.unwrap_or_default());
            return Err(classify_status(&who, status, &headers, &text, now));
        }
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(&who, e))?;
        let answer: ApiAnswer = serde_json::from_str(&text).map_err(|_| {
            SendError::Transient(format!(
                "{who} answered {status} with something that is not Slack's JSON: {}",
                excerpt(&text)
            ))
        })?;
        if answer.ok {
            return Ok(answer);
        }
        let code = answer.error.unwrap_or_else(|| "unknown_error".to_string());
        Err(classify_api_error(&who, &code, &headers, now))
    }

    async fn post_part(&self, payload: &SlackPayload) -> Result<String, SendError> {
        let mut body = json!({
            "channel": self.channel,
            "text": payload.text,
            "unfurl_links": false,
        });
        if !payload.blocks.is_empty() {
            body["blocks"] = json!(payload.blocks);
        }
        let answer = self.call("chat.postMessage", &body).await?;
        let channel = answer.channel.unwrap_or_else(|| self.channel.clone());
        match answer.ts {
            Some(ts) if !ts.is_empty() => Ok(format!("{channel}:{ts}")),
            _ => Err(SendError::Permanent(
                "Slack API chat.postMessage answered ok without the message's ts".to_string(),
            )),
        }
    }

    /// Uploads `image` into the channel (Slack's external upload flow). The upload URL is
    /// pre-signed: the token is not sent to it.
    async fn upload(&self, image: &Image) -> Result<(), SendError> {
        let filename = if image.filename.trim().is_empty() {
            "image.png"
        } else {
            image.filename.trim()
        };
        let length = image.png.len().to_string();
        let request = self
            .client
            .post(format!("{}/files.getUploadURLExternal", self.api_base))
            .bearer_auth(&self.token)
            .form(&[
                ("filename", filename),
                ("length", length.as_str()),
                ("alt_txt", image.alt.as_str()),
            ]);
        let answer = self.answer("files.getUploadURLExternal", request).await?;
        let (Some(upload_url), Some(file_id)) = (answer.upload_url, answer.file_id) else {
            return Err(SendError::Permanent(
                "Slack API files.getUploadURLExternal answered ok without upload_url or file_id"
                    .to_string(),
            ));
        };
        let who = "Slack file upload";
        let response = self
            .client
            .post(&upload_url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(image.png.clone())
            .send()
            .await
            .map_err(|e| transport_error(who, e))?;
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let text = excerpt(&response.text().await.unwrap_or_default());
            return Err(classify_status(who, status, &headers, &text, unix_now()));
        }
        let title = if image.alt.trim().is_empty() {
            filename
        } else {
            image.alt.as_str()
        };
        let body = json!({
            "files": [{"id": file_id, "title": title}],
            "channel_id": self.channel,
        });
        self.call("files.completeUploadExternal", &body).await?;
        Ok(())
    }
}

/// An `{"ok":false}` error code as the outbox needs it.
fn classify_api_error(
    who: &str,
    code: &str,
    headers: &reqwest::header::HeaderMap,
    now: i64,
) -> SendError {
    match code {
        "ratelimited" | "rate_limited" => SendError::RateLimited {
            retry_after: if headers.contains_key(RETRY_AFTER) {
                retry_after(headers, now)
            } else {
                DEFAULT_RETRY_AFTER
            },
        },
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            SendError::Transient(format!("{who} failed: {code}"))
        }
        _ => SendError::Permanent(format!("{who} failed: {code}")),
    }
}

#[async_trait]
impl Sink for SlackBotSink {
    async fn post(&self, message: &Message, key: &str) -> Result<DeliveryIds, SendError> {
        let _ = key; // Slack's Web API has no idempotency key; the outbox guards against resends.
        let parts = render(&shown(message, self.buttons), &self.mentions);
        let ids = post_parts(&parts, |_, payload| self.post_part(payload)).await?;
        if let (Some(image), true) = (&message.image, self.upload_images) {
            // The message already shows the image's alt text; a failed upload must not make the
            // outbox post the message again, so it is logged, not returned.
            if let Err(e) = self.upload(image).await {
                tracing::warn!(channel = %self.channel, error = %e, "Slack image upload failed; the message shows its alt text");
            }
        }
        Ok(ids)
    }

    fn can_edit(&self) -> bool {
        true
    }

    /// Updates each posted part with `chat.update`. Parts of the old message beyond the new
    /// one's become a short "merged above" note; parts of the new message beyond the old one's
    /// cannot be added by an edit and are left out (logged).
    async fn edit(&self, ids: &[String], message: &Message) -> Result<(), SendError> {
        let targets = ids
            .iter()
            .map(|id| {
                id.split_once(':')
                    .filter(|(c, ts)| !c.is_empty() && !ts.is_empty())
                    .ok_or_else(|| {
                        SendError::Permanent(format!("`{id}` is not a Slack message id"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let parts = render(&shown(message, self.buttons), &self.mentions);
        if parts.len() > targets.len() {
            tracing::warn!(
                channel = %self.channel,
                parts = parts.len(),
                messages = targets.len(),
                "an edited Slack message needs more messages than were posted; the rest is left out"
            );
        }
        for (i, (channel, ts)) in targets.into_iter().enumerate() {
            let payload = parts.get(i).cloned().unwrap_or_else(merged_note);
            let body = json!({
                "channel": channel,
                "ts": ts,
                "text": payload.text,
                "blocks": payload.blocks,
            });
            self.call("chat.update", &body).await?;
        }
        Ok(())
    }
}

/// What a no longer needed part of an edited message becomes.
fn merged_note() -> SlackPayload {
    SlackPayload {
        text: "(merged into the message above)".to_string(),
        blocks: vec![Block::Context {
            elements: vec![TextObject::Mrkdwn {
                text: "(merged into the message above)".to_string(),
                verbatim: true,
            }],
        }],
    }
}

/// Posts `parts` in order with `post_one(index, part)`. The first part's failure is returned;
/// later parts are retried here, and one that still fails ends the message with what was posted
/// (logged), so that the outbox does not post the first parts again.
async fn post_parts<'a, F, Fut>(
    parts: &'a [SlackPayload],
    post_one: F,
) -> Result<DeliveryIds, SendError>
where
    F: Fn(usize, &'a SlackPayload) -> Fut,
    Fut: Future<Output = Result<String, SendError>>,
{
    let mut ids = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            ids.push(post_one(i, part).await?);
            continue;
        }
        let mut attempt = 1;
        loop {
            match post_one(i, part).await {
                Ok(id) => {
                    ids.push(id);
                    break;
                }
                Err(e) => {
                    let wait = match &e {
                        SendError::RateLimited { retry_after } if *retry_after <= PART_MAX_WAIT => {
                            Some(*retry_after)
                        }
                        SendError::Transient(_) => Some(Duration::from_millis(500 << attempt)),
                        _ => None,
                    };
                    match wait {
                        Some(wait) if attempt < PART_ATTEMPTS => {
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                        }
                        _ => {
                            tracing::warn!(
                                part = i + 1,
                                parts = parts.len(),
                                error = %e,
                                "a later part of a split Slack message could not be posted; the parts before it were"
                            );
                            return Ok(ids);
                        }
                    }
                }
            }
        }
    }
    Ok(ids)
}

/// Classifications, without a server.
#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    #[test]
    fn api_errors_are_classified() {
        let h = HeaderMap::new();
        assert_eq!(
            classify_api_error("x", "ratelimited", &h, 0),
            SendError::RateLimited {
                retry_after: DEFAULT_RETRY_AFTER
            }
        );
        assert!(matches!(
            classify_api_error("x", "fatal_error", &h, 0),
            SendError::Transient(_)
        ));
        assert_eq!(
            classify_api_error("x", "invalid_auth", &h, 0),
            SendError::Permanent("x failed: invalid_auth".to_string())
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let sink = SlackBotSink::new("xoxb-secret".into(), "C1", None, BTreeMap::new());
        let shown = format!("{sink:?}");
        assert!(!shown.contains("xoxb-secret"), "{shown}");
    }
}
