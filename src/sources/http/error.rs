//! Why a request failed for good, as sentences a user can act on. Every URL in these errors is
//! redacted ([`super::redact_url`]) and no header value is ever stored in one, so an error can be
//! logged, shown in chat or written to the store as it is.

use std::fmt;
use std::time::Duration;

/// A request that failed for good (after its retries), or whose answer could not be read.
/// Never contains a secret: URLs are shown as their path and query, with the values of
/// secret-looking query keys replaced by `***`, and header values are never kept.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server answered with an error status that is not retried (most 4xx), or with a
    /// retryable one when retries are off.
    #[error("{provider} answered {} to {method} {url}{}. {}", status_text(*.status), message_text(.message), advice(.provider, *.status))]
    Status {
        provider: String,
        method: &'static str,
        /// Redacted.
        url: String,
        status: u16,
        /// The provider's own explanation (its JSON error's `message`), or the start of the
        /// body; empty when there was none.
        message: String,
    },
    /// Every attempt failed with a retryable cause (429, 5xx, a timeout, a lost connection).
    #[error("{provider} {method} {url} failed {attempts} times in a row, so the sync gives up. The last attempt: {}", .last.cause())]
    RetriesExhausted {
        provider: String,
        method: &'static str,
        /// Redacted.
        url: String,
        /// Requests sent: the first and every retry.
        attempts: u32,
        /// Why the last one failed ([`HttpError::Status`] or [`HttpError::Transport`]).
        last: Box<HttpError>,
    },
    /// No answer: the connection failed, broke, or the answer took longer than the timeout.
    #[error("no answer from {provider} to {method} {url}: {cause}. {}", transport_advice(*.timed_out))]
    Transport {
        provider: String,
        method: &'static str,
        /// Redacted.
        url: String,
        /// What went wrong, without any URL or header.
        cause: String,
        /// Whether the cause is the timeout.
        timed_out: bool,
    },
    /// The answer is not the JSON expected.
    #[error("{provider}'s answer to {url} is not what cs-pulse expects: {}{what}. The API may have changed (check the pinned API version) or base_url may point at something else", path_text(.path))]
    BadBody {
        provider: String,
        /// Redacted.
        url: String,
        /// Where in the JSON (a serde path like `data[3].price`), `.` for the whole body.
        path: String,
        /// What is wrong there.
        what: String,
    },
    /// A base URL or a URL to follow that cannot be used.
    #[error("{provider}: cannot request {url}: {reason}")]
    InvalidUrl {
        provider: String,
        /// Redacted (path and query only when it parsed; the text without its query otherwise).
        url: String,
        reason: String,
    },
    /// The client could not be set up (a header that is not valid; never its value).
    #[error("cannot set up the HTTP client of {provider}: {reason}")]
    Setup { provider: String, reason: String },
}

impl HttpError {
    /// The HTTP status the provider answered, when the failure is one (also after retries).
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            HttpError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Why the request failed, without the provider and URL (for [`HttpError::RetriesExhausted`],
    /// which names them once).
    fn cause(&self) -> String {
        match self {
            HttpError::Status {
                provider,
                status,
                message,
                ..
            } => format!(
                "{} answered {}{}. {}",
                provider,
                status_text(*status),
                message_text(message),
                advice(provider, *status)
            ),
            HttpError::Transport {
                cause, timed_out, ..
            } => format!("{cause}. {}", transport_advice(*timed_out)),
            other => other.to_string(),
        }
    }

    /// Whether the provider said "too many requests" (also after retries).
    pub fn is_throttled(&self) -> bool {
        self.status() == Some(429)
    }
}

fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn message_text(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn path_text(path: &str) -> String {
    if path.is_empty() || path == "." {
        String::new()
    } else {
        format!("at {path}: ")
    }
}

/// What a user can do about a status.
fn advice(provider: &str, status: u16) -> String {
    match status {
        300..=399 => "It redirects elsewhere, and cs-pulse does not follow a redirect to another host with the credentials: check base_url (or url)".to_string(),
        400 | 422 => format!("{provider} refused the request as written: check the source's settings (property names, pipeline, filters) and that the pinned API version is still supported"),
        401 => "Check the API key or token: it may be wrong, revoked or expired, or its environment variable may hold something else".to_string(),
        403 => "Check the API key's permissions (scopes): it is not allowed to read this".to_string(),
        404 => "Check base_url and the ids in the source's settings: this does not exist".to_string(),
        429 => format!("{provider} is throttling cs-pulse: lower rate_limit or concurrency, or check whether other apps share the same limit"),
        500..=599 => format!("{provider}'s service has a problem: try again later, and check the provider's status page"),
        _ => "Check the source's settings".to_string(),
    }
}

fn transport_advice(timed_out: bool) -> &'static str {
    if timed_out {
        "Raise `timeout` if the API is slow, or try again later"
    } else {
        "Check base_url and the network (DNS, proxy, firewall), or try again later"
    }
}

/// The provider's explanation from an error body: a JSON `message` (HubSpot) or
/// `error.message` (Stripe), or else the first 200 characters of the body, on one line.
pub(super) fn provider_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let found = value
            .get("message")
            .and_then(serde_json::Value::as_str)
            .or_else(|| {
                value
                    .get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(serde_json::Value::as_str)
            })
            .or_else(|| value.get("error").and_then(serde_json::Value::as_str));
        if let Some(m) = found {
            return one_line(m, 500);
        }
    }
    one_line(&String::from_utf8_lossy(body), 200)
}

/// `text` on one line (whitespace runs collapsed), cut to `max` characters with `…`.
fn one_line(text: &str, max: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        joined
    } else {
        let mut cut: String = joined.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

/// A duration as a person reads it in an error: `30s`, `1.5s`, `250ms`.
pub(super) struct Shown(pub Duration);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_millis() == 0 && d.as_secs() > 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.as_secs() > 0 {
            write!(f, "{:.1}s", d.as_secs_f64())
        } else {
            write!(f, "{}ms", d.as_millis())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_the_providers_message() {
        let stripe = br#"{"error":{"message":"No such customer: 'cus_123'","type":"invalid_request_error"}}"#;
        assert_eq!(provider_message(stripe), "No such customer: 'cus_123'");
        let hubspot = br#"{"status":"error","message":"Authentication credentials not found.","correlationId":"c1","category":"INVALID_AUTHENTICATION"}"#;
        assert_eq!(
            provider_message(hubspot),
            "Authentication credentials not found."
        );
        assert_eq!(
            provider_message(b"<html>\n  Bad   gateway\n</html>"),
            "<html> Bad gateway </html>"
        );
        let long = "x".repeat(300);
        assert_eq!(provider_message(long.as_bytes()).chars().count(), 201);
        assert_eq!(provider_message(b""), "");
    }

    #[test]
    fn reads_as_sentences() {
        let e = HttpError::Status {
            provider: "Stripe".into(),
            method: "GET",
            url: "/v1/customers?limit=100".into(),
            status: 401,
            message: "Invalid API Key provided: sk_test_****".into(),
        };
        assert_eq!(
            e.to_string(),
            "Stripe answered 401 Unauthorized to GET /v1/customers?limit=100: Invalid API Key provided: sk_test_****. Check the API key or token: it may be wrong, revoked or expired, or its environment variable may hold something else"
        );
        assert_eq!(e.status(), Some(401));
        let wrapped = HttpError::RetriesExhausted {
            provider: "Stripe".into(),
            method: "GET",
            url: "/v1/customers".into(),
            attempts: 3,
            last: Box::new(e),
        };
        assert_eq!(
            wrapped.to_string(),
            "Stripe GET /v1/customers failed 3 times in a row, so the sync gives up. The last attempt: Stripe answered 401 Unauthorized: Invalid API Key provided: sk_test_****. Check the API key or token: it may be wrong, revoked or expired, or its environment variable may hold something else"
        );
        assert_eq!(wrapped.status(), Some(401));
        assert!(!wrapped.is_throttled());
        assert_eq!(Shown(Duration::from_secs(30)).to_string(), "30s");
        assert_eq!(Shown(Duration::from_millis(1500)).to_string(), "1.5s");
        assert_eq!(Shown(Duration::from_millis(20)).to_string(), "20ms");
    }
}
