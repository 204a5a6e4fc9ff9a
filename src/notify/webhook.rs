//! The generic JSON webhook: any receiver (Microsoft Teams through a workflow, Mattermost, an
//! in-house service) gets the channel-neutral message as JSON, so cs-pulse needs no code per
//! platform to reach it. Each request names its outbox key so that a receiver can drop a resend,
//! and, when a signing secret is configured, carries an HMAC-SHA256 signature that
//! [`verify_signature`] (the receiver's side, documented and tested here) checks.
//!
//! The request:
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! User-Agent: cs-pulse/<version>
//! X-CS-Pulse-Delivery: <outbox key>
//! X-CS-Pulse-Timestamp: <unix seconds>                       (with a signing secret)
//! X-CS-Pulse-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">   (with a secret)
//!
//! {"version": 1, "id": "<outbox key>", "text": "<plain text>", "message": {<Message>}}
//! ```
//!
//! Answers: 2xx delivered; 429 rate limited (`Retry-After` in seconds or as an HTTP date, 1 s when
//! absent); 408, 5xx, timeouts and connection failures are retried; any other status is
//! permanent. Error messages never contain the URL (it may be a secret).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{StatusCode, Url};
use sha2::Sha256;

use super::sink::DeliveryIds;
use super::text::truncate;
use super::{Message, SendError, Sink};
use crate::config::{MissingSecret, WebhookSettings};

/// The version of the JSON body's shape.
pub const BODY_VERSION: u32 = 1;
/// The header naming the outbox key (stable across resends of one message).
pub const DELIVERY_HEADER: &str = "X-CS-Pulse-Delivery";
/// The header with the signing time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-CS-Pulse-Timestamp";
/// The header with `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-CS-Pulse-Signature";
/// `cs-pulse/<version>`, sent as `User-Agent` by every sink here.
pub const USER_AGENT_VALUE: &str = concat!("cs-pulse/", env!("CARGO_PKG_VERSION"));
/// How long a request may take as a whole.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The wait when a 429 names none.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

type HmacSha256 = Hmac<Sha256>;

/// Why a sink could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    MissingSecret(#[from] MissingSecret),
    /// The URL does not parse or is not http(s); the URL itself is not shown (it may be secret).
    #[error("the {what} is not a valid http(s) URL")]
    BadUrl { what: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is {age} s away from now, more than the {tolerance} s allowed")]
    Stale { age: i64, tolerance: i64 },
    #[error("the signature is not of the form sha256=<hex>")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// A sink POSTing the channel-neutral message as JSON.
pub struct WebhookSink {
    client: reqwest::Client,
    url: Url,
    signing_secret: Option<String>,
    clock: fn() -> i64,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &"<hidden>")
            .field("signed", &self.signing_secret.is_some())
            .finish()
    }
}

impl WebhookSink {
    /// A sink posting to `url`, signing with `signing_secret` when given. `what` names the URL in
    /// errors ("webhook URL of channel `ops`").
    pub fn new(url: &str, signing_secret: Option<String>, what: &str) -> Result<Self, SetupError> {
        Ok(WebhookSink {
            client: http_client()?,
            url: parse_url(url, what)?,
            signing_secret: signing_secret.filter(|s| !s.is_empty()),
            clock: unix_now,
        })
    }

    /// The sink for `[channels.NAME]` of kind `webhook`, reading its secrets from the environment.
    pub fn from_settings(settings: &WebhookSettings, channel: &str) -> Result<Self, SetupError> {
        let url = settings
            .url
            .resolve(&format!("webhook URL of channel `{channel}`"))?;
        let secret = settings
            .signing_secret
            .as_ref()
            .map(|s| s.resolve(&format!("signing secret of channel `{channel}`")))
            .transpose()?;
        WebhookSink::new(&url, secret, &format!("webhook URL of channel `{channel}`"))
    }

    /// The same sink reading the time (Unix seconds) from `clock`: tests pass a fixed one.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }

    /// The same sink sending through `client` (shared connection pools, other timeouts).
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }
}

/// The JSON body posted for `message` under outbox key `key`.
pub fn body(message: &Message, key: &str) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&serde_json::json!({
        "version": BODY_VERSION,
        "id": key,
        "text": message.to_text(),
        "message": message,
    }))
}

/// `sha256=<hex>` of HMAC-SHA256 under `secret` of `"{timestamp}.{body}"`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// HMAC accepts keys of any length (long ones are hashed); `new_from_slice` cannot fail for it.
fn keyed(secret: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()),
    }
}

/// The receiver's check of a request: `timestamp` and `signature` are the values of
/// [`TIMESTAMP_HEADER`] and [`SIGNATURE_HEADER`], `body` the raw request body, `now` the
/// receiver's Unix time. Requests signed more than `tolerance_secs` away from `now` are refused
/// (a replayed request), and the comparison takes constant time.
///
/// ```
/// use cs_pulse::notify::webhook::{sign, verify_signature};
/// let sig = sign(b"s3cret", 1_700_000_000, b"{}");
/// assert!(verify_signature(b"s3cret", "1700000000", b"{}", &sig, 1_700_000_010, 300).is_ok());
/// assert!(verify_signature(b"other", "1700000000", b"{}", &sig, 1_700_000_010, 300).is_err());
/// ```
pub fn verify_signature(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let age = now.saturating_sub(ts).saturating_abs();
    if age > tolerance_secs {
        return Err(SignatureError::Stale {
            age,
            tolerance: tolerance_secs,
        });
    }
    let hex_sig = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    let mut mac = keyed(secret);
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[async_trait]
impl Sink for WebhookSink {
    async fn post(&self, message: &Message, key: &str) -> Result<DeliveryIds, SendError> {
        let body = body(message, key)
            .map_err(|e| SendError::Permanent(format!("cannot encode the message: {e}")))?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(DELIVERY_HEADER, key);
        let now = (self.clock)();
        if let Some(secret) = &self.signing_secret {
            request = request
                .header(TIMESTAMP_HEADER, now.to_string())
                .header(SIGNATURE_HEADER, sign(secret.as_bytes(), now, &body));
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error("webhook", e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(vec![key.to_string()]);
        }
        let headers = response.headers().clone();
        let excerpt = excerpt(&response.text().await.unwrap_or_default());
        Err(classify_status("webhook", status, &headers, &excerpt, now))
    }
}

/// The error for a non-2xx answer: 429 rate limited, 408 and 5xx transient, others permanent.
pub(crate) fn classify_status(
    who: &str,
    status: StatusCode,
    headers: &HeaderMap,
    excerpt: &str,
    now: i64,
) -> SendError {
    let said = if excerpt.is_empty() {
        format!("{who} answered {status}")
    } else {
        format!("{who} answered {status}: {excerpt}")
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        SendError::RateLimited {
            retry_after: retry_after(headers, now),
        }
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        SendError::Transient(said)
    } else {
        SendError::Permanent(said)
    }
}

/// The wait a 429 asks for: its `Retry-After`, else [`DEFAULT_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &HeaderMap, now: i64) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now))
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

/// A `Retry-After` value: delay seconds (`120`; a fraction like `1.5` is accepted too) or an
/// HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`), measured from `now` (Unix seconds); a date in
/// the past means no wait. `None` when it is neither.
pub fn parse_retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if (0.0..1e9).contains(&secs) {
            return Some(Duration::from_secs_f64(secs));
        }
        return None;
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.timestamp().saturating_sub(now).max(0);
    Some(Duration::from_secs(u64::try_from(wait).unwrap_or(0)))
}

/// A failed request as the outbox needs it, without the URL: a request that cannot be built is
/// permanent, anything on the way (connect, timeout, a dropped body) transient.
pub(crate) fn transport_error(who: &str, error: reqwest::Error) -> SendError {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    if error.is_builder() {
        SendError::Permanent(format!("cannot build the request to the {who}: {text}"))
    } else if error.is_timeout() {
        SendError::Transient(format!("the {who} did not answer in time: {text}"))
    } else {
        SendError::Transient(format!("cannot reach the {who}: {text}"))
    }
}

/// The start of a response body for an error message, on one line.
pub(crate) fn excerpt(body: &str) -> String {
    let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&one_line, 200)
}

/// The HTTP client of the sinks here: rustls, a timeout, our User-Agent.
pub(crate) fn http_client() -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT_VALUE)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SetupError::Client(e.without_url().to_string()))
}

/// `url` parsed, if it is http(s); `what` names it in the error, which never shows it.
pub(crate) fn parse_url(url: &str, what: &str) -> Result<Url, SetupError> {
    match Url::parse(url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(u),
        _ => Err(SetupError::BadUrl {
            what: what.to_string(),
        }),
    }
}

/// The system clock in Unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("30", 0), Some(Duration::from_secs(30)));
        let now = 1_445_412_480 - 60; // 60 s before Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 600),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-3", 0), None);
    }

    #[test]
    fn signatures_verify_and_reject() {
        let sig = sign(b"k", 100, b"body");
        assert!(sig.starts_with("sha256="));
        assert_eq!(
            verify_signature(b"k", "100", b"body", &sig, 100, 300),
            Ok(())
        );
        assert_eq!(
            verify_signature(b"k", "100", b"bodx", &sig, 100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"k", "100", b"body", &sig, 1000, 300),
            Err(SignatureError::Stale {
                age: 900,
                tolerance: 300
            })
        );
        assert_eq!(
            verify_signature(b"k", "100", b"body", "md5=00", 100, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(b"k", "x", b"body", &sig, 100, 300),
            Err(SignatureError::BadTimestamp)
        );
    }

    #[test]
    fn urls_are_checked_without_showing_them() {
        let err = parse_url("ftp://secret.example/token", "webhook URL").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
