//! When to retry a request and how long to wait first, as pure functions of the answer, the
//! attempt number, a random source and a clock reading passed in (the client reads the clock).

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, DATE, RETRY_AFTER};

use super::Backoff;

/// The longest `Retry-After` obeyed: a server asking for more is waited on for this long, and
/// the next attempt tells.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Statuses worth another try: throttled (429) and the server's transient failures.
pub(super) fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// The wait a 429 or 503 answer asks for in `Retry-After`, as seconds or as an HTTP date (read
/// against the answer's own `Date` header when it has one, so that clock skew does not matter,
/// else against `now`), capped at [`MAX_RETRY_AFTER`]. `None` when absent or unreadable.
pub(super) fn retry_after(status: u16, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if !matches!(status, 429 | 503) {
        return None;
    }
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(secs) = text.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = http_date(text)?;
        let now = headers
            .get(DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(http_date)
            .unwrap_or(now);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's preferred form).
fn http_date(text: &str) -> Option<SystemTime> {
    let t = chrono::DateTime::parse_from_rfc2822(text.trim()).ok()?;
    let secs = u64::try_from(t.timestamp()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// "Full jitter": a random wait in `[0, min(max, base * 2^attempt)]`, `attempt` counting
/// from 0 for the first retry.
pub(super) fn jitter(backoff: &Backoff, attempt: u32, rng: &mut impl Rng) -> Duration {
    let ceiling = ceiling(backoff, attempt);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.gen_range(0..=nanos))
}

/// `min(max, base * 2^attempt)`, without overflow.
pub(super) fn ceiling(backoff: &Backoff, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    backoff
        .base
        .checked_mul(factor)
        .unwrap_or(backoff.max)
        .min(backoff.max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 06 Nov 1994 08:49:37
        let secs = headers(&[(&RETRY_AFTER, "7")]);
        assert_eq!(retry_after(429, &secs, now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(503, &secs, now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(500, &secs, now), None);
        let date = headers(&[(&RETRY_AFTER, "Sun, 06 Nov 1994 08:50:07 GMT")]);
        assert_eq!(retry_after(429, &date, now), Some(Duration::from_secs(30)));
        // the server's own Date wins over our clock
        let skewed = headers(&[
            (&RETRY_AFTER, "Sun, 06 Nov 1994 08:50:07 GMT"),
            (&DATE, "Sun, 06 Nov 1994 08:50:00 GMT"),
        ]);
        assert_eq!(retry_after(429, &skewed, now), Some(Duration::from_secs(7)));
        let past = headers(&[(&RETRY_AFTER, "Sun, 06 Nov 1994 08:00:00 GMT")]);
        assert_eq!(retry_after(429, &past, now), Some(Duration::ZERO));
        let huge = headers(&[(&RETRY_AFTER, "86400")]);
        assert_eq!(retry_after(429, &huge, now), Some(MAX_RETRY_AFTER));
        for bad in ["soon", "-1", "1.5", ""] {
            assert_eq!(
                retry_after(429, &headers(&[(&RETRY_AFTER, bad)]), now),
                None,
                "{bad}"
            );
        }
        assert_eq!(retry_after(429, &HeaderMap::new(), now), None);
    }

    #[test]
    fn jitter_stays_under_a_doubling_ceiling() {
        let b = Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        };
        assert_eq!(ceiling(&b, 0), Duration::from_millis(500));
        assert_eq!(ceiling(&b, 1), Duration::from_secs(1));
        assert_eq!(ceiling(&b, 5), Duration::from_secs(16));
        assert_eq!(ceiling(&b, 6), Duration::from_secs(30));
        assert_eq!(ceiling(&b, 40), Duration::from_secs(30));
        assert_eq!(ceiling(&b, u32::MAX), Duration::from_secs(30));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for attempt in 0..10 {
            for _ in 0..50 {
                assert!(jitter(&b, attempt, &mut rng) <= ceiling(&b, attempt));
            }
        }
    }

    #[test]
    fn retries_only_transient_statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert!(retryable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 409, 422, 501, 505] {
            assert!(!retryable_status(s));
        }
    }
}
