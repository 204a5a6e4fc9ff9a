//! Delivery to a Discord incoming webhook: the simplest way to reach a channel (no bot, no token
//! beyond the URL). Posts the [`render`]ed parts with `?wait=true` so that Discord answers with
//! the created message (whose id the outbox keeps), and edits them through the webhook's own
//! `PATCH {url}/messages/{id}` to show an alert resolved.
//!
//! The webhook URL contains its token: it is never logged and never put in an error, including
//! the errors of the HTTP client, which otherwise name the URL.
//!
//! Unlike the bot, a webhook cannot de-duplicate by nonce: a message resent after a failure
//! part-way (a 429 on its second part) posts again the parts that had been created.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, Url};

use super::channels::shown;
use super::discord::{
    continued_above, created_message_id, error_from_transport, http_client, payload_json,
    read_response, render, DiscordPayload, SetupError,
};
use super::sink::DeliveryIds;
use super::{Image, Message, SendError, Sink};

/// A Discord channel reached through one of its incoming webhooks.
pub struct DiscordWebhookSink {
    client: reqwest::Client,
    /// `https://discord.com/api/webhooks/{id}/{token}`, possibly with `?thread_id=`.
    url: Url,
    /// Owner name → Discord user id, for mentions.
    mentions: BTreeMap<String, u64>,
}

impl fmt::Debug for DiscordWebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordWebhookSink")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl DiscordWebhookSink {
    /// A sink posting to the webhook at `url` (already resolved from its secret). `mentions`
    /// maps owner names to Discord user ids.
    pub fn new(
        url: String,
        mentions: BTreeMap<String, u64>,
    ) -> Result<DiscordWebhookSink, SetupError> {
        let url = Url::parse(url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or(SetupError::BadWebhookUrl)?;
        Ok(DiscordWebhookSink {
            client: http_client()?,
            url,
            mentions,
        })
    }

    /// `{url}?wait=true`, keeping the URL's other query parameters (`thread_id`).
    fn execute_url(&self) -> Url {
        let mut url = self.url.clone();
        strip_wait(&mut url);
        url.query_pairs_mut().append_pair("wait", "true");
        url
    }

    /// `{url}/messages/{id}`, keeping the URL's query parameters but `wait`.
    fn message_url(&self, id: &str) -> Result<Url, SendError> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SendError::Permanent(format!(
                "`{id}` is not a Discord message id"
            )));
        }
        let mut url = self.url.clone();
        url.path_segments_mut()
            .map_err(|()| SendError::Permanent("the webhook URL has no path".to_string()))?
            .pop_if_empty()
            .extend(["messages", id]);
        strip_wait(&mut url);
        Ok(url)
    }

    /// Sends `payload` (with the image as `files[0]` when it names an attachment) and returns
    /// the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        url: Url,
        payload: &DiscordPayload,
        image: Option<&Image>,
    ) -> Result<Vec<u8>, SendError> {
        let request = self.client.request(method, url);
        let request = match (payload.attachments.first(), image) {
            (Some(attachment), Some(image)) => {
                let json = payload_json(payload)?;
                let file = Part::bytes(image.png.clone())
                    .file_name(attachment.filename.clone())
                    .mime_str("image/png")
                    .map_err(|e| error_from_transport(&e))?;
                request.multipart(
                    Form::new()
                        .text("payload_json", json)
                        .part("files[0]", file),
                )
            }
            _ => request.json(payload),
        };
        let response = request.send().await.map_err(|e| error_from_transport(&e))?;
        read_response(response).await
    }
}

/// Removes the `wait` query parameter (the sink sets its own), keeping the others.
fn strip_wait(url: &mut Url) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "wait")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

#[async_trait]
impl Sink for DiscordWebhookSink {
    /// Posts each part in order; `key` is not used (webhooks have no nonce).
    async fn post(&self, message: &Message, _key: &str) -> Result<DeliveryIds, SendError> {
        let mut ids = vec![];
        // A webhook's buttons would reach no application: none are shown.
        for part in render(&shown(message, false), &self.mentions) {
            let body = self
                .send(
                    Method::POST,
                    self.execute_url(),
                    &part,
                    message.image.as_ref(),
                )
                .await?;
            ids.push(created_message_id(&body)?);
        }
        Ok(ids)
    }

    fn can_edit(&self) -> bool {
        true
    }

    /// Edits the posted parts in place, as the bot sink does: surplus old parts become
    /// "(continued above)", extra new parts are posted as new, untracked messages.
    async fn edit(&self, ids: &[String], message: &Message) -> Result<(), SendError> {
        if ids.is_empty() {
            return Err(SendError::Permanent(
                "no Discord message to edit (no ids)".to_string(),
            ));
        }
        let urls = ids
            .iter()
            .map(|id| self.message_url(id.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        let parts = render(&shown(message, false), &self.mentions);
        for (i, url) in urls.into_iter().enumerate() {
            let payload = parts.get(i).cloned().unwrap_or_else(continued_above);
            self.send(Method::PATCH, url, &payload, message.image.as_ref())
                .await?;
        }
        for part in parts.iter().skip(ids.len()) {
            self.send(
                Method::POST,
                self.execute_url(),
                part,
                message.image.as_ref(),
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(url: &str) -> Option<DiscordWebhookSink> {
        DiscordWebhookSink::new(url.to_string(), BTreeMap::new()).ok()
    }

    #[test]
    fn urls_keep_the_thread_and_add_wait() {
        let s = sink("https://discord.com/api/webhooks/1/tok?thread_id=9&wait=false");
        let s = s.expect("a valid URL");
        assert_eq!(
            s.execute_url().as_str(),
            "https://discord.com/api/webhooks/1/tok?thread_id=9&wait=true"
        );
        assert_eq!(
            s.message_url("77").map(|u| u.to_string()),
            Ok("https://discord.com/api/webhooks/1/tok/messages/77?thread_id=9".into())
        );
        assert!(s.message_url("../x").is_err());
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let err = DiscordWebhookSink::new("discord.com/secret".into(), BTreeMap::new()).err();
        assert_eq!(err, Some(SetupError::BadWebhookUrl));
        assert!(!SetupError::BadWebhookUrl.to_string().contains("secret"));
    }

    #[test]
    fn the_debug_form_hides_the_token() {
        let s = sink("https://discord.com/api/webhooks/1/s3cr3t");
        assert!(s.is_some_and(|s| !format!("{s:?}").contains("s3cr3t")));
    }
}
