//! The keys every network source shares (`base_url`, `rate_limit`, `concurrency`,
//! `max_retries`, `timeout`), validated into [`crate::sources::http::Settings`], and the two
//! other checks they have in common: the API credential (`${ENV}` only, never the value) and
//! `full_sync_every`. The kinds' own files (`stripe.rs`, `hubspot.rs`, `http_json.rs`) call
//! these with their provider's defaults.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::super::duration::{self, parse_duration};
use super::super::raw::RawSource;
use super::super::secret::Secret;
use super::super::Validator;
use crate::sources::http::{Backoff, RateLimit, Settings};

/// What a provider's source uses when its table leaves a key out.
pub(in crate::config) struct NetworkDefaults {
    /// The provider's API, like `https://api.stripe.com`.
    pub base_url: &'static str,
    /// The provider's documented limit.
    pub rate_limit: RateLimit,
}

const MAX_CONCURRENCY: i64 = 32;
const MAX_RETRIES: i64 = 10;
const MIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
const MIN_FULL_SYNC_HOURS: i64 = 1;
const MAX_FULL_SYNC_DAYS: i64 = 90;

impl Validator<'_> {
    /// The shared network settings of a source table, with the provider's `defaults` for the
    /// keys left out, or `None` after reporting every problem (each at its value).
    pub(in crate::config) fn network(
        &mut self,
        raw: &RawSource,
        defaults: &NetworkDefaults,
    ) -> Option<Settings> {
        let base_url = match &raw.base_url {
            Some(v) => self.base_url(v, defaults),
            None => Some(defaults.base_url.trim_end_matches('/').to_string()),
        };
        let rate_limit = match &raw.rate_limit {
            Some(v) => self.rate_limit(v, defaults),
            None => Some(defaults.rate_limit),
        };
        let concurrency = match &raw.concurrency {
            Some(n) => self
                .integer(
                    n,
                    "concurrency",
                    1,
                    MAX_CONCURRENCY,
                    "the number of requests in flight at once, like 4 (the default); the rate limit applies as well",
                )
                .and_then(|v| usize::try_from(v).ok()),
            None => Some(Settings::DEFAULT_CONCURRENCY),
        };
        let max_retries = match &raw.max_retries {
            Some(n) => self
                .integer(
                    n,
                    "max_retries",
                    0,
                    MAX_RETRIES,
                    "how many times a request answered 429, 5xx or not at all is retried before the sync fails, like 5 (the default); 0 for never",
                )
                .and_then(|v| u32::try_from(v).ok()),
            None => Some(Settings::DEFAULT_MAX_RETRIES),
        };
        let timeout = match &raw.timeout {
            Some(v) => self.timeout(v),
            None => Some(Settings::DEFAULT_TIMEOUT),
        };
        Some(Settings {
            base_url: base_url?,
            rate_limit: rate_limit?,
            concurrency: concurrency?,
            max_retries: max_retries?,
            timeout: timeout?,
            backoff: Backoff::default(),
        })
    }

    /// The credential of source `source` (whose table starts at `header`) under `key`: required,
    /// and only as a `${VAR}` reference, so that no key sits in a file. The value is never
    /// echoed: it may be the secret itself.
    pub(in crate::config) fn source_secret(
        &mut self,
        source: &str,
        header: Range<usize>,
        value: &Option<Spanned<String>>,
        key: &str,
        example_var: &str,
    ) -> Option<Secret> {
        let Some(v) = value else {
            self.error(
                header,
                format!("source `{source}` has no `{key}`"),
                Some(format!(
                    "add `{key} = \"${{{example_var}}}\"` and set {example_var} in the service's environment"
                )),
            );
            return None;
        };
        self.secret_ref(v, key, example_var)
    }

    /// How often an incremental source runs a full sync instead (which sees deletions):
    /// `default` when left out, from 1 hour to 90 days; `None` after reporting a bad value.
    pub(in crate::config) fn full_sync_every(
        &mut self,
        raw: &RawSource,
        default: chrono::Duration,
    ) -> Option<chrono::Duration> {
        let Some(text) = &raw.full_sync_every else {
            return Some(default);
        };
        let hint = format!(
            "how often a full sync replaces the incremental one, to see deleted objects, like \"7d\" (the default is {}); from {MIN_FULL_SYNC_HOURS}h to {MAX_FULL_SYNC_DAYS}d",
            duration::format_duration(default)
        );
        match parse_duration(text.get_ref()) {
            Ok(d)
                if d >= chrono::Duration::hours(MIN_FULL_SYNC_HOURS)
                    && d <= chrono::Duration::days(MAX_FULL_SYNC_DAYS) =>
            {
                Some(d)
            }
            Ok(d) => {
                self.error(
                    text.span(),
                    format!(
                        "full_sync_every must be from {MIN_FULL_SYNC_HOURS}h to {MAX_FULL_SYNC_DAYS}d, found {}",
                        duration::format_duration(d)
                    ),
                    Some(hint),
                );
                None
            }
            Err(e) => {
                self.error(
                    text.span(),
                    format!("full_sync_every `{}` {e}", text.get_ref()),
                    Some(hint),
                );
                None
            }
        }
    }

    /// An http(s) URL with a host and neither query nor fragment, without its trailing slash.
    fn base_url(&mut self, v: &Spanned<String>, defaults: &NetworkDefaults) -> Option<String> {
        let text = v.get_ref().trim();
        let hint = format!(
            "the API's address without a path to an endpoint, like \"{}\" (the default) or \"http://127.0.0.1:8080\" for a local server",
            defaults.base_url
        );
        match reqwest::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                if u.query().is_some() || u.fragment().is_some() {
                    self.error(
                        v.span(),
                        "`base_url` must not have a query string or a fragment",
                        Some(hint),
                    );
                    return None;
                }
                if !u.username().is_empty() || u.password().is_some() {
                    // Never echo it: the user part may be a credential.
                    self.error(
                        v.span(),
                        "`base_url` must not hold a user name or password",
                        Some(
                            "credentials go in `api_key` or `token`, as `${VAR}` references"
                                .to_string(),
                        ),
                    );
                    return None;
                }
                Some(text.trim_end_matches('/').to_string())
            }
            _ => {
                self.error(
                    v.span(),
                    format!("`base_url` \"{text}\" is not an http(s) URL"),
                    Some(hint),
                );
                None
            }
        }
    }

    fn rate_limit(&mut self, v: &Spanned<String>, defaults: &NetworkDefaults) -> Option<RateLimit> {
        match RateLimit::parse(v.get_ref()) {
            Ok(limit) => Some(limit),
            Err(e) => {
                self.error(
                    v.span(),
                    format!("rate_limit \"{}\" {e}", v.get_ref()),
                    Some(format!(
                        "write requests per duration, like \"100/s\" or \"100/10s\"; the default, \"{}\", is the provider's documented limit",
                        defaults.rate_limit
                    )),
                );
                None
            }
        }
    }

    fn timeout(&mut self, v: &Spanned<String>) -> Option<Duration> {
        let hint = "the time allowed for one request, like \"30s\" (the default); from 1s to 10m";
        match parse_duration(v.get_ref()).map(|d| d.to_std()) {
            Ok(Ok(d)) if (MIN_TIMEOUT..=MAX_TIMEOUT).contains(&d) => Some(d),
            Ok(_) => {
                self.error(
                    v.span(),
                    format!(
                        "timeout must be from 1s to 10m, found \"{}\"",
                        v.get_ref().trim()
                    ),
                    Some(hint.to_string()),
                );
                None
            }
            Err(e) => {
                self.error(
                    v.span(),
                    format!("timeout `{}` {e}", v.get_ref()),
                    Some(hint.to_string()),
                );
                None
            }
        }
    }
}
