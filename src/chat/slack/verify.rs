//! Slack's request signing: every request carries `X-Slack-Request-Timestamp` and
//! `X-Slack-Signature: v0=<hex>`, the HMAC-SHA256 of `v0:{timestamp}:{raw body}` keyed with the
//! app's signing secret. A request is accepted only when the signature matches (compared in
//! constant time), the timestamp is within 5 minutes of now (either way, as Slack documents),
//! and the signature was not accepted before (a replay).

use std::fmt;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::server::{timestamp_fresh, Refusal, ReplayGuard, MAX_AGE_SECS};
use chrono::{DateTime, Utc};

type HmacSha256 = Hmac<Sha256>;

/// The app's signing secret; never printed.
#[derive(Clone)]
pub struct SigningSecret(String);

impl SigningSecret {
    pub fn new(secret: impl Into<String>) -> SigningSecret {
        SigningSecret(secret.into())
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }

    /// The `X-Slack-Signature` value Slack would send for `body` at `timestamp` (`v0=<hex>`).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        format!(
            "v0={}",
            hex::encode(self.mac(timestamp, body).finalize().into_bytes())
        )
    }

    /// Whether `signature` (`v0=<hex>`) is this secret's signature of `body` at `timestamp`.
    pub fn matches(&self, signature: &str, timestamp: &str, body: &[u8]) -> bool {
        let Some(bytes) = signature
            .trim()
            .strip_prefix("v0=")
            .and_then(|h| hex::decode(h).ok())
        else {
            return false;
        };
        self.mac(timestamp, body).verify_slice(&bytes).is_ok()
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

/// Checks a request's signature, timestamp and novelty; 401 with a short reason otherwise.
pub fn verify(
    secret: &SigningSecret,
    replays: &ReplayGuard,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) =
        (get("x-slack-signature"), get("x-slack-request-timestamp"))
    else {
        return Err(Refusal::unauthorized("missing request signature"));
    };
    if !secret.matches(signature, timestamp, body) {
        return Err(Refusal::unauthorized("invalid request signature"));
    }
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::unauthorized("invalid request timestamp"))?;
    if !timestamp_fresh(ts, now, MAX_AGE_SECS) {
        return Err(Refusal::unauthorized("stale request timestamp"));
    }
    if !replays.first_time(&signature.trim().to_ascii_lowercase(), ts, now) {
        return Err(Refusal::unauthorized("replayed request"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_slacks_documentation_example() {
        // The example of Slack's "Verifying requests from Slack".
        let secret = SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5");
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let sig = secret.sign("1531420618", body);
        assert_eq!(
            sig,
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
        assert!(secret.matches(&sig, "1531420618", body));
        assert!(!secret.matches(&sig, "1531420619", body));
        assert!(!secret.matches("v0=zz", "1531420618", body));
        assert_eq!(format!("{secret:?}"), "SigningSecret(***)");
    }
}
