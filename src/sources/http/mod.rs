//! The one HTTP client every network source shares: polite (a client-side rate limit set to
//! the provider's documented limit, bounded concurrency), patient (retries with exponential
//! backoff and jitter on 429, 5xx and timeouts, honouring `Retry-After`) and discreet (the auth
//! header is marked sensitive and never appears in an error or a log line).
//!
//! The pieces: [`Settings`] (what the config says), [`Client`] (requests, limits, retries),
//! [`Response`] (status, headers, body, the `Link` header's next page), [`HttpError`] (why a
//! request failed for good, in sentences a user can act on), and [`decode_object`] /
//! [`decode_all`], which turn one API object into a typed value and name the object's id and
//! the field when they cannot.

mod client;
mod decode;
mod error;
mod link;
mod redact;
mod retry;

pub use client::{Client, Response, Stats};
pub use decode::{decode_all, decode_object};
pub use error::HttpError;
pub use link::next_link;
pub use redact::redact_url;

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

/// How a network source talks to its API (the shared keys of its config table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Base URL, without a trailing slash, like `https://api.stripe.com`.
    pub base_url: String,
    /// Client-side rate limit.
    pub rate_limit: RateLimit,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retries of one request before the sync fails.
    pub max_retries: u32,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// How long to wait between retries when the server does not say.
    pub backoff: Backoff,
}

impl Settings {
    /// Requests in flight at once when the config does not say.
    pub const DEFAULT_CONCURRENCY: usize = 4;
    /// Retries of one request when the config does not say.
    pub const DEFAULT_MAX_RETRIES: u32 = 5;
    /// Time allowed for one request when the config does not say.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Settings with every default but the base URL and the rate limit: 4 requests in flight,
    /// 5 retries, 30 s per request, the default backoff.
    pub fn new(base_url: impl Into<String>, rate_limit: RateLimit) -> Settings {
        Settings {
            base_url: base_url.into(),
            rate_limit,
            concurrency: Settings::DEFAULT_CONCURRENCY,
            max_retries: Settings::DEFAULT_MAX_RETRIES,
            timeout: Settings::DEFAULT_TIMEOUT,
            backoff: Backoff::default(),
        }
    }
}

/// `requests` per `per`, like 100 per 10 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: NonZeroU32,
    pub per: Duration,
}

/// The shortest time between two requests a rate limit may ask for (a million per second):
/// below it the limit means nothing and the limiter's period would round to zero.
const MIN_PERIOD: Duration = Duration::from_micros(1);

impl RateLimit {
    /// `n` requests per second (at least 1).
    pub fn per_second(n: u32) -> RateLimit {
        RateLimit {
            requests: NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN),
            per: Duration::from_secs(1),
        }
    }

    /// Parses `N/<duration>`: `"100/s"`, `"100/10s"`, `"25/1s"`, `"6000/min"`, `"5 / 2h"` (a
    /// bare unit means one of it; the duration syntax is the config's, see
    /// [`crate::config::duration::parse_duration`]). The error is a predicate to put after the
    /// value: `has no "/": ...`.
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        let Some((count, per)) = text.split_once('/') else {
            return Err("is not a number of requests per duration".to_string());
        };
        let (count, per) = (count.trim(), per.trim());
        if per.is_empty() {
            return Err("has no duration after `/`".to_string());
        }
        let requests = match count.parse::<u32>() {
            Ok(n) => NonZeroU32::new(n)
                .ok_or_else(|| "allows 0 requests: allow at least 1".to_string())?,
            Err(_) => {
                return Err(format!(
                    "has `{count}` requests where a whole number of at least 1 is needed"
                ))
            }
        };
        let starts_with_digit = per.starts_with(|c: char| c.is_ascii_digit());
        let written = if starts_with_digit {
            per.to_string()
        } else {
            format!("1{per}")
        };
        let per = crate::config::duration::parse_duration(&written)
            .map_err(|e| format!("has a duration `{per}` that {e}"))?;
        let per = per
            .to_std()
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| "has a zero duration".to_string())?;
        let limit = RateLimit { requests, per };
        if limit.period() < MIN_PERIOD {
            return Err("allows more than a million requests per second".to_string());
        }
        Ok(limit)
    }

    /// The time between two requests when they are evenly spaced: `per / requests`.
    pub fn period(&self) -> Duration {
        self.per / self.requests.get()
    }
}

impl fmt::Display for RateLimit {
    /// `100/s`, `100/10s`, `6000/1m`, `2/500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.requests;
        if self.per == Duration::from_secs(1) {
            write!(f, "{n}/s")
        } else if self.per.subsec_nanos() == 0 {
            let secs = i64::try_from(self.per.as_secs()).unwrap_or(i64::MAX);
            let per = crate::config::duration::format_duration(chrono::Duration::seconds(secs));
            write!(f, "{n}/{per}")
        } else {
            write!(f, "{n}/{}ms", self.per.as_millis())
        }
    }
}

/// The wait before a retry when the server does not say (no `Retry-After`): "full jitter", a
/// random time between 0 and `min(max, base * 2^attempt)`, so that many clients retrying at
/// once spread out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's wait.
    pub base: Duration,
    /// The largest ceiling, however many retries.
    pub max: Duration,
}

impl Default for Backoff {
    /// 500 ms, doubling up to 30 s.
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(n: u32, secs: u64) -> RateLimit {
        RateLimit {
            requests: NonZeroU32::new(n).unwrap(),
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn parses_rate_limits() {
        assert_eq!(RateLimit::parse("100/s"), Ok(limit(100, 1)));
        assert_eq!(RateLimit::parse("100/10s"), Ok(limit(100, 10)));
        assert_eq!(RateLimit::parse("25/1s"), Ok(limit(25, 1)));
        assert_eq!(RateLimit::parse("6000/min"), Ok(limit(6000, 60)));
        assert_eq!(RateLimit::parse(" 5 / 2h "), Ok(limit(5, 7200)));
        assert_eq!(RateLimit::parse("190/10 seconds"), Ok(limit(190, 10)));
        assert_eq!(RateLimit::parse("1/d"), Ok(limit(1, 86_400)));
    }

    #[test]
    fn explains_bad_rate_limits() {
        assert_eq!(
            RateLimit::parse("100").unwrap_err(),
            "is not a number of requests per duration"
        );
        assert_eq!(
            RateLimit::parse("0/s").unwrap_err(),
            "allows 0 requests: allow at least 1"
        );
        assert_eq!(
            RateLimit::parse("ten/s").unwrap_err(),
            "has `ten` requests where a whole number of at least 1 is needed"
        );
        assert_eq!(
            RateLimit::parse("-1/s").unwrap_err(),
            "has `-1` requests where a whole number of at least 1 is needed"
        );
        assert_eq!(
            RateLimit::parse("10/x").unwrap_err(),
            "has a duration `x` that has an unknown unit `x`"
        );
        assert_eq!(RateLimit::parse("10/0").unwrap_err(), "has a zero duration");
        assert_eq!(
            RateLimit::parse("10/0s").unwrap_err(),
            "has a zero duration"
        );
        assert_eq!(
            RateLimit::parse("4000000000/s").unwrap_err(),
            "allows more than a million requests per second"
        );
        assert!(RateLimit::parse("10/1.5s")
            .unwrap_err()
            .contains("fraction"));
        assert_eq!(
            RateLimit::parse("10/").unwrap_err(),
            "has no duration after `/`"
        );
    }

    #[test]
    fn shows_rate_limits_as_written() {
        assert_eq!(limit(100, 1).to_string(), "100/s");
        assert_eq!(limit(100, 10).to_string(), "100/10s");
        assert_eq!(limit(6000, 60).to_string(), "6000/1m");
        let half = RateLimit {
            requests: NonZeroU32::new(2).unwrap(),
            per: Duration::from_millis(500),
        };
        assert_eq!(half.to_string(), "2/500ms");
        assert_eq!(limit(100, 10).period(), Duration::from_millis(100));
        assert_eq!(RateLimit::per_second(0), limit(1, 1));
    }

    #[test]
    fn settings_defaults() {
        let s = Settings::new("https://api.example.com", RateLimit::per_second(10));
        assert_eq!(s.concurrency, 4);
        assert_eq!(s.max_retries, 5);
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!(s.backoff.base, Duration::from_millis(500));
        assert_eq!(s.backoff.max, Duration::from_secs(30));
    }
}
