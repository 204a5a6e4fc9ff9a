//! Delivery to a Discord channel as the cs-pulse bot, through serenity's HTTP client: posts the
//! [`render`]ed parts of a message with a nonce per part so that Discord de-duplicates a resend,
//! edits them in place to show an alert resolved, and tells the outbox which failures to retry.
//!
//! Requests are built by serenity ([`Request`], its routes, its `Authorization: Bot …` header and
//! its proxy rewriting of `https://discord.com` to `api_base`) and, when serenity's rate limiter
//! is on, performed by it. The response is read here rather than by [`Http::request`], because
//! serenity turns a 429 into an error that keeps neither the `Retry-After` header nor the body's
//! `retry_after`, which the outbox needs. Where `api_base` is set the rate limiter is disabled
//! (serenity issue #1739: it would bypass the proxy), and the outbox honours 429 itself.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU64;

use async_trait::async_trait;
use serenity::builder::CreateAttachment;
use serenity::http::Http;
use serenity::http::{
    HttpBuilder, HttpError, LightMethod, Multipart, MultipartUpload, Request, Route,
};
use serenity::model::id::{ChannelId, MessageId};
use sha2::{Digest, Sha256};

use super::channels::shown;
use super::discord::{
    continued_above, created_message_id, error_from_transport, http_client, limits, payload_json,
    read_response, render, DiscordPayload, SetupError,
};
use super::sink::DeliveryIds;
use super::{Image, Message, SendError, Sink};

/// A Discord channel posted to by the bot.
pub struct DiscordBotSink {
    http: Http,
    /// The client serenity's [`Http`] was built with, to perform requests without its limiter.
    client: reqwest::Client,
    channel_id: ChannelId,
    /// Owner name → Discord user id, for mentions.
    mentions: BTreeMap<String, u64>,
    /// Whether messages show their buttons (cs-pulse answers this application's interactions).
    buttons: bool,
}

impl fmt::Debug for DiscordBotSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordBotSink")
            .field("channel_id", &self.channel_id.get())
            .field("api_base", &self.http.proxy)
            .finish_non_exhaustive()
    }
}

impl DiscordBotSink {
    /// A sink posting to `channel_id` with the bot `token` (with or without its `Bot ` prefix).
    /// `api_base` replaces `https://discord.com` (a proxy, a test server): requests go to
    /// `{api_base}/api/v10/...` and serenity's rate limiter is disabled. `mentions` maps owner
    /// names to Discord user ids.
    pub fn new(
        channel_id: u64,
        token: String,
        api_base: Option<String>,
        mentions: BTreeMap<String, u64>,
    ) -> Result<DiscordBotSink, SetupError> {
        let channel_id = NonZeroU64::new(channel_id)
            .map(ChannelId::from)
            .ok_or(SetupError::ZeroChannelId)?;
        let client = http_client()?;
        let mut builder = HttpBuilder::new(token).client(client.clone());
        if let Some(base) = api_base {
            let base = base.trim().trim_end_matches('/').to_string();
            let valid = reqwest::Url::parse(&base)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !valid {
                return Err(SetupError::BadApiBase(base));
            }
            builder = builder.proxy(base).ratelimiter_disabled(true);
        }
        Ok(DiscordBotSink {
            http: builder.build(),
            client,
            channel_id,
            mentions,
            buttons: false,
        })
    }

    /// The same sink, showing the messages' buttons when `on`: only when cs-pulse answers the
    /// interactions of the bot's application (`[chat.discord]`); otherwise a press would fail.
    pub fn with_buttons(mut self, on: bool) -> Self {
        self.buttons = on;
        self
    }

    /// Performs `req` through serenity (its rate limiter when on) and returns the body of a 2xx
    /// answer; any other answer becomes the [`SendError`] the outbox needs.
    async fn perform(&self, req: Request<'_>) -> Result<Vec<u8>, SendError> {
        let response = match &self.http.ratelimiter {
            Some(ratelimiter) => ratelimiter.perform(req).await.map_err(from_serenity)?,
            None => {
                let request = req
                    .build(&self.client, self.http.token(), self.http.proxy.as_deref())
                    .map_err(from_serenity)?
                    .build()
                    .map_err(|e| error_from_transport(&e))?;
                self.client
                    .execute(request)
                    .await
                    .map_err(|e| error_from_transport(&e))?
            }
        };
        read_response(response).await
    }

    /// Creates one message; returns its id.
    async fn create(
        &self,
        payload: &DiscordPayload,
        image: Option<&Image>,
    ) -> Result<String, SendError> {
        let route = Route::ChannelMessages {
            channel_id: self.channel_id,
        };
        let body = self
            .perform(request(route, LightMethod::Post, payload, image)?)
            .await?;
        created_message_id(&body)
    }

    /// Replaces message `id` with `payload`.
    async fn replace(
        &self,
        id: MessageId,
        payload: &DiscordPayload,
        image: Option<&Image>,
    ) -> Result<(), SendError> {
        let route = Route::ChannelMessage {
            channel_id: self.channel_id,
            message_id: id,
        };
        self.perform(request(route, LightMethod::Patch, payload, image)?)
            .await
            .map(drop)
    }
}

#[async_trait]
impl Sink for DiscordBotSink {
    /// Posts each part with nonce `{key}.{part}` and `enforce_nonce`: when the outbox resends
    /// after a failure part-way (a 429 on the second part, a crash), Discord answers the parts
    /// already created with the same messages instead of creating them again (within its
    /// de-duplication window of a few minutes).
    async fn post(&self, message: &Message, key: &str) -> Result<DeliveryIds, SendError> {
        let mut ids = vec![];
        for (i, mut part) in render(&shown(message, self.buttons), &self.mentions)
            .into_iter()
            .enumerate()
        {
            part.nonce = Some(nonce(key, i));
            part.enforce_nonce = Some(true);
            ids.push(self.create(&part, message.image.as_ref()).await?);
        }
        Ok(ids)
    }

    fn can_edit(&self) -> bool {
        true
    }

    /// Edits the posted parts in place, in order. When the new rendering has fewer parts than
    /// were posted, the surplus messages are edited down to "(continued above)" rather than
    /// deleted, so that every id the outbox holds stays valid for a later, longer edit. When it
    /// has more, the extra parts are posted as new messages after the last one; they are not
    /// tracked, so a later edit leaves them as they are. Their nonce derives from the first id
    /// and their content, so that a retried edit does not post them twice.
    async fn edit(&self, ids: &[String], message: &Message) -> Result<(), SendError> {
        let ids = ids
            .iter()
            .map(|id| parse_message_id(id))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = ids.first() else {
            return Err(SendError::Permanent(
                "no Discord message to edit (no ids)".to_string(),
            ));
        };
        let parts = render(&shown(message, self.buttons), &self.mentions);
        for (i, id) in ids.iter().enumerate() {
            let payload = parts.get(i).cloned().unwrap_or_else(continued_above);
            self.replace(*id, &payload, message.image.as_ref()).await?;
        }
        for (i, mut part) in parts.into_iter().enumerate().skip(ids.len()) {
            part.nonce = Some(extra_part_nonce(first.get(), &part, i));
            part.enforce_nonce = Some(true);
            self.create(&part, message.image.as_ref()).await?;
        }
        Ok(())
    }
}

/// The nonce of part `index` of the message with outbox key `key`: `{key}.{index}`, the key cut
/// if needed so that the nonce stays within Discord's 25 characters.
pub fn nonce(key: &str, index: usize) -> String {
    let suffix = format!(".{index}");
    let keep = limits::NONCE.saturating_sub(suffix.len());
    key.chars().take(keep).collect::<String>() + &suffix
}

/// The nonce of a part that an edit adds: stable for the same edit (a retry), different for
/// different content.
fn extra_part_nonce(first_id: u64, part: &DiscordPayload, index: usize) -> String {
    let mut hash = Sha256::new();
    hash.update(first_id.to_be_bytes());
    hash.update(serde_json::to_vec(part).unwrap_or_default());
    let digest = hex::encode(hash.finalize());
    nonce(&format!("e{}", &digest[..15]), index)
}

fn parse_message_id(id: &str) -> Result<MessageId, SendError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .and_then(NonZeroU64::new)
        .map(MessageId::from)
        .ok_or_else(|| SendError::Permanent(format!("`{id}` is not a Discord message id")))
}

/// A serenity request with `payload` as its JSON body, or as the `payload_json` of a multipart
/// body with the image as `files[0]` when the payload names an attachment.
fn request(
    route: Route<'static>,
    method: LightMethod,
    payload: &DiscordPayload,
    image: Option<&Image>,
) -> Result<Request<'static>, SendError> {
    let json = payload_json(payload)?;
    let req = Request::new(route, method);
    match (payload.attachments.first(), image) {
        (Some(attachment), Some(image)) => Ok(req.multipart(Some(Multipart {
            upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                image.png.clone(),
                attachment.filename.clone(),
            )]),
            fields: vec![],
            payload_json: Some(json),
        }))),
        _ => Ok(req.body(Some(json.into_bytes()))),
    }
}

/// A serenity error that happened before Discord answered. Never includes the token.
fn from_serenity(err: serenity::Error) -> SendError {
    match err {
        serenity::Error::Http(HttpError::Request(e)) => error_from_transport(&e),
        serenity::Error::Http(HttpError::InvalidHeader(_)) => {
            SendError::Permanent("the Discord bot token is not a valid header value".to_string())
        }
        serenity::Error::Http(HttpError::Url(_)) => {
            SendError::Permanent("the Discord API URL is not valid".to_string())
        }
        serenity::Error::Http(HttpError::RateLimitI64F64 | HttpError::RateLimitUtf8) => {
            SendError::Transient("Discord sent unreadable rate-limit headers".to_string())
        }
        other => SendError::Permanent(format!("cannot send to Discord: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_fit_discord() {
        assert_eq!(nonce("k7f3a9c2d1e0b4a8", 0), "k7f3a9c2d1e0b4a8.0");
        assert_eq!(nonce(&"x".repeat(40), 123).len(), 25);
        let p = DiscordPayload::default();
        let n = extra_part_nonce(42, &p, 3);
        assert!(n.len() <= 25, "{n}");
        assert_eq!(n, extra_part_nonce(42, &p, 3));
    }

    #[test]
    fn a_zero_channel_or_a_bad_api_base_is_refused() {
        let sink = DiscordBotSink::new(0, "t".into(), None, BTreeMap::new());
        assert_eq!(sink.err(), Some(SetupError::ZeroChannelId));
        let sink = DiscordBotSink::new(1, "t".into(), Some("nope".into()), BTreeMap::new());
        assert_eq!(sink.err(), Some(SetupError::BadApiBase("nope".into())));
    }

    #[test]
    fn the_debug_form_hides_the_token() {
        let sink = DiscordBotSink::new(1, "s3cr3t".into(), None, BTreeMap::new());
        assert!(sink.is_ok_and(|s| !format!("{s:?}").contains("s3cr3t")));
    }
}
