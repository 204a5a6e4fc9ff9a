//! The client itself: one `reqwest` client (rustls, the timeout, a `cs-pulse/<version>`
//! User-Agent, the source's headers marked sensitive), a `governor` limiter spacing requests
//! evenly at the provider's documented rate (plus optional per-lane limiters), a semaphore
//! bounding the requests in flight, and the retry loop.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, LINK};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::error::{provider_message, Shown};
use super::redact::{looks_secret, redact};
use super::retry::{jitter, retry_after, retryable_status};
use super::{link, Backoff, HttpError, RateLimit, Settings};

/// A shared, cheaply cloned client of one provider's API. Before every attempt (retries
/// included) a request waits for a 429's pause, the client's rate limit and its lane's limit,
/// then for one of `concurrency` permits, held only while the request is in flight.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Extra limits of named lanes (HubSpot's search API).
    lanes: Arc<Vec<(&'static str, Arc<DefaultDirectRateLimiter>)>>,
}

struct Inner {
    provider: String,
    http: reqwest::Client,
    base: Url,
    limiter: DefaultDirectRateLimiter,
    in_flight: Semaphore,
    max_retries: u32,
    backoff: Backoff,
    timeout: std::time::Duration,
    /// The values of the sensitive headers, scrubbed from any message a provider echoes.
    secrets: Vec<String>,
    /// After a 429, no request of this client starts before this instant: the provider's
    /// limit is shared by every request in flight, not only the one it refused.
    paused_until: Mutex<Option<tokio::time::Instant>>,
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
}

/// What a client has done since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Retries (requests sent again after a 429, a 5xx, a timeout or a lost connection).
    pub retries: u64,
    /// Answers 429 Too Many Requests.
    pub throttled: u64,
}

/// A successful (2xx) answer, read whole.
#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The request's URL, redacted (path and query, secret values hidden).
    pub url: String,
    provider: String,
    /// The request's full URL, for resolving a relative `Link`; never shown.
    full_url: Url,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Client {
    /// The provider, base URL and counters; never a header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.inner.provider)
            .field("base_url", &self.inner.base.as_str())
            .field(
                "lanes",
                &self.lanes.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            )
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// How far under the configured limit requests are paced: requests leave evenly spaced, but a
/// request delayed on its way (a busy machine, a slow connection) arrives closer to the next
/// one, and a server counting strictly per window would refuse the one too many. 5 % leaves
/// 0.5 ms per request at 100/s and 2 ms at 25/s for such delays.
const PACE_MARGIN: u32 = 20; // the period is lengthened by 1/20

/// A limiter letting `limit.requests` through per `limit.per` at most, evenly spaced (burst 1)
/// and [`PACE_MARGIN`] under the limit, so that no window of the server ever counts more.
fn limiter(limit: RateLimit) -> DefaultDirectRateLimiter {
    let period = limit.period();
    let quota = Quota::with_period(period + period / PACE_MARGIN)
        .unwrap_or_else(|| Quota::per_second(limit.requests));
    RateLimiter::direct(quota)
}

impl Client {
    /// A client of `provider`'s API ("Stripe", named in errors) at `settings.base_url`,
    /// sending `headers` with every request (auth, API version). A header named
    /// `Authorization`, or whose name contains `key`, `token`, `auth` or `secret`, is marked
    /// sensitive and never shown.
    pub fn new(
        provider: &str,
        settings: &Settings,
        headers: Vec<(String, String)>,
    ) -> Result<Client, HttpError> {
        let base = Url::parse(settings.base_url.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| HttpError::InvalidUrl {
                provider: provider.to_string(),
                url: super::redact_url(&settings.base_url),
                reason: "the base URL is not an http(s) URL".to_string(),
            })?;
        let setup = |reason: String| HttpError::Setup {
            provider: provider.to_string(),
            reason,
        };
        let mut map = HeaderMap::new();
        let mut secrets = Vec::new();
        for (name, value) in headers {
            let header = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| setup(format!("`{}` is not a valid header name", name.trim())))?;
            let mut v = HeaderValue::from_str(value.trim()).map_err(|_| {
                // Never the value: it may be the secret.
                setup(format!(
                    "the value of the `{header}` header is not a valid header value (a line break or a non-ASCII character?)"
                ))
            })?;
            if looks_secret(header.as_str()) {
                v.set_sensitive(true);
                let value = value.trim();
                secrets.push(value.to_string());
                if let Some((_, token)) = value.split_once(' ') {
                    secrets.push(token.trim().to_string());
                }
            }
            map.append(header, v);
        }
        // Scrubbing short strings would mangle messages; a real credential is longer.
        secrets.retain(|s| s.len() >= 8);
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(settings.timeout)
            .user_agent(concat!("cs-pulse/", env!("CARGO_PKG_VERSION")))
            .default_headers(map)
            .redirect(same_host_redirects())
            .build()
            .map_err(|e| setup(format!("{}", e.without_url())))?;
        Ok(Client {
            inner: Arc::new(Inner {
                provider: provider.to_string(),
                http,
                base,
                limiter: limiter(settings.rate_limit),
                in_flight: Semaphore::new(settings.concurrency.max(1)),
                max_retries: settings.max_retries,
                backoff: settings.backoff,
                timeout: settings.timeout,
                secrets,
                paused_until: Mutex::new(None),
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
            }),
            lanes: Arc::new(Vec::new()),
        })
    }

    /// Adds a second limit shared by the requests sent in `lane` (HubSpot's search API allows
    /// 5 requests/s per account besides the general limit). A lane never added has no extra
    /// limit.
    pub fn with_lane(self, lane: &'static str, limit: RateLimit) -> Client {
        let mut lanes: Vec<_> = self
            .lanes
            .iter()
            .filter(|(l, _)| *l != lane)
            .cloned()
            .collect();
        lanes.push((lane, Arc::new(limiter(limit))));
        Client {
            inner: self.inner,
            lanes: Arc::new(lanes),
        }
    }

    /// GET `path` (relative to the base URL, or an absolute URL on the same host, such as a
    /// `Link` header's next URL) with `query` pairs appended (a key may repeat, like
    /// `expand[]`).
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Response, HttpError> {
        self.get_in(None, path, query).await
    }

    /// [`Client::get`] in `lane`, which adds that lane's limit (Stripe's per-resource limit).
    pub async fn get_in(
        &self,
        lane: Option<&'static str>,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Response, HttpError> {
        let url = self.url(path, query)?;
        self.send(Method::GET, url, None, lane).await
    }

    /// POST `body` as JSON to `path`; `lane` adds that lane's limit (see [`Client::with_lane`]).
    /// Retried like a GET: use it for requests that change nothing (a search).
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        lane: Option<&'static str>,
    ) -> Result<Response, HttpError> {
        let url = self.url(path, &[])?;
        let bytes = serde_json::to_vec(body).map_err(|e| HttpError::Setup {
            provider: self.inner.provider.clone(),
            reason: format!("the request body cannot be written as JSON: {e}"),
        })?;
        self.send(Method::POST, url, Some(bytes), lane).await
    }

    /// Counters since creation.
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
            throttled: self.inner.throttled.load(Ordering::Relaxed),
        }
    }

    /// The provider's name, as errors show it.
    pub fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// The URL of `path`: an absolute URL must be on the base URL's scheme, host and port (the
    /// credentials go with every request); anything else is appended to the base URL.
    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, HttpError> {
        let base = &self.inner.base;
        let invalid = |reason: String| HttpError::InvalidUrl {
            provider: self.inner.provider.clone(),
            url: super::redact_url(path),
            reason,
        };
        let mut url = if path.starts_with("http://") || path.starts_with("https://") {
            let url = Url::parse(path).map_err(|e| invalid(format!("it is not a URL ({e})")))?;
            if url.scheme() != base.scheme()
                || url.host_str() != base.host_str()
                || url.port_or_known_default() != base.port_or_known_default()
            {
                let origin = url.origin().ascii_serialization();
                return Err(HttpError::InvalidUrl {
                    provider: self.inner.provider.clone(),
                    url: format!("{origin}{}", redact(&url)),
                    reason: format!(
                    "it is on another host than base_url ({}), and the credentials are not sent elsewhere",
                    base.host_str().unwrap_or("")
                    ),
                });
            }
            url
        } else {
            let prefix = base.as_str().trim_end_matches('/');
            let sep = if path.starts_with('/') || path.is_empty() {
                ""
            } else {
                "/"
            };
            Url::parse(&format!("{prefix}{sep}{path}"))
                .map_err(|e| invalid(format!("it is not a valid path ({e})")))?
        };
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends one request, waiting on the limits before every attempt and retrying transient
    /// failures.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        lane: Option<&'static str>,
    ) -> Result<Response, HttpError> {
        let inner = &self.inner;
        let shown = redact(&url);
        let method_name = method_name(&method);
        let lane_limiter = lane.and_then(|l| {
            self.lanes
                .iter()
                .find(|(name, _)| *name == l)
                .map(|(_, lim)| lim.clone())
        });
        let mut retry: u32 = 0;
        loop {
            let paused = *inner
                .paused_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(until) = paused {
                tokio::time::sleep_until(until).await;
            }
            inner.limiter.until_ready().await;
            if let Some(l) = &lane_limiter {
                l.until_ready().await;
            }
            let outcome = self.attempt(&method, &url, body.as_deref()).await;
            let (error, wait) = match outcome {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    return Ok(Response {
                        status: answer.status,
                        headers: answer.headers,
                        body: answer.body,
                        url: shown,
                        provider: inner.provider.clone(),
                        full_url: url,
                    });
                }
                Ok(answer) => {
                    let status = answer.status;
                    if status == 429 {
                        inner.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    let error = HttpError::Status {
                        provider: inner.provider.clone(),
                        method: method_name,
                        url: shown.clone(),
                        status,
                        message: self.scrub(provider_message(&answer.body)),
                    };
                    if !retryable_status(status) {
                        return Err(error);
                    }
                    let asked = retry_after(status, &answer.headers, SystemTime::now());
                    (error, asked)
                }
                Err(Failure {
                    cause,
                    timed_out,
                    retryable,
                }) => {
                    let error = HttpError::Transport {
                        provider: inner.provider.clone(),
                        method: method_name,
                        url: shown.clone(),
                        cause,
                        timed_out,
                    };
                    if !retryable {
                        return Err(error);
                    }
                    (error, None)
                }
            };
            if retry >= inner.max_retries {
                if retry == 0 {
                    return Err(error);
                }
                tracing::debug!(
                    provider = %inner.provider,
                    method = method_name,
                    url = %shown,
                    attempts = retry + 1,
                    "giving up after {} attempts: {error}",
                    retry + 1
                );
                return Err(HttpError::RetriesExhausted {
                    provider: inner.provider.clone(),
                    method: method_name,
                    url: shown,
                    attempts: retry + 1,
                    last: Box::new(error),
                });
            }
            let delay =
                wait.unwrap_or_else(|| jitter(&inner.backoff, retry, &mut rand::thread_rng()));
            let status = error.status();
            if status == Some(429) {
                self.pause(delay);
                tracing::warn!(
                    provider = %inner.provider,
                    url = %shown,
                    status = 429,
                    delay_ms = delay.as_millis() as u64,
                    "throttled: retry {} of {} in {}",
                    retry + 1,
                    inner.max_retries,
                    Shown(delay)
                );
            } else {
                tracing::debug!(
                    provider = %inner.provider,
                    url = %shown,
                    status = status.unwrap_or(0),
                    delay_ms = delay.as_millis() as u64,
                    "retry {} of {} in {}: {error}",
                    retry + 1,
                    inner.max_retries,
                    Shown(delay)
                );
            }
            inner.retries.fetch_add(1, Ordering::Relaxed);
            retry += 1;
            tokio::time::sleep(delay).await;
        }
    }

    /// One request with a permit of the semaphore (held while it is in flight and its body is
    /// read, not while waiting to retry).
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<Answer, Failure> {
        let inner = &self.inner;
        let _permit = inner.in_flight.acquire().await.map_err(|_| Failure {
            cause: "the client is shutting down".to_string(),
            timed_out: false,
            retryable: false,
        })?;
        inner.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = inner.http.request(method.clone(), url.clone());
        if let Some(bytes) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.to_vec());
        }
        let response = request.send().await.map_err(|e| self.failure(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.failure(&e))?;
        Ok(Answer {
            status,
            headers,
            body: body.to_vec(),
        })
    }

    /// What a transport error was, without its URL, and whether it is worth a retry.
    fn failure(&self, e: &reqwest::Error) -> Failure {
        if e.is_timeout() {
            return Failure {
                cause: format!("no answer within {}", Shown(self.inner.timeout)),
                timed_out: true,
                retryable: true,
            };
        }
        let mut causes: Vec<String> = Vec::new();
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(s) = source {
            let text = s.to_string();
            if !text.is_empty() && !causes.iter().any(|c| c.contains(&text)) {
                causes.push(text);
            }
            source = s.source();
        }
        let detail = causes
            .last()
            .cloned()
            .unwrap_or_else(|| "the connection failed".to_string());
        let cause = if e.is_connect() {
            format!("cannot connect ({detail})")
        } else if e.is_redirect() {
            format!("too many redirects ({detail})")
        } else {
            format!("the connection failed ({detail})")
        };
        Failure {
            cause: self.scrub(cause),
            timed_out: false,
            retryable: !e.is_builder() && !e.is_redirect(),
        }
    }

    /// Holds every request of this client back for `delay` from now (a 429 was answered).
    fn pause(&self, delay: std::time::Duration) {
        let until = tokio::time::Instant::now() + delay;
        let mut paused = self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// `text` with every sensitive header value replaced by `***`.
    fn scrub(&self, mut text: String) -> String {
        for s in &self.inner.secrets {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "***");
            }
        }
        text
    }
}

/// An answer of any status, read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// No answer.
struct Failure {
    cause: String,
    timed_out: bool,
    retryable: bool,
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "GET",
    }
}

/// Redirects are followed (up to 5) only on the same scheme, host and port: the default
/// headers carry the credentials, and reqwest would forward an `X-Api-Key` elsewhere. A
/// redirect elsewhere is returned as the 3xx answer, which becomes a clear error.
fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if attempt.previous().len() > 5 {
            attempt.error("more than 5 redirects")
        } else if same {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

impl Response {
    /// The whole body decoded as `T`; the error names the provider, the redacted URL and the
    /// place in the JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        let mut de = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| HttpError::BadBody {
            provider: self.provider.clone(),
            url: self.url.clone(),
            path: e.path().to_string(),
            what: e.inner().to_string(),
        })
    }

    /// The `rel="next"` target of the `Link` header(s) (RFC 8288), resolved against the
    /// request's URL when relative.
    pub fn next_link(&self) -> Option<String> {
        let values = self
            .headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let target = link::next_link(values)?;
        match self.full_url.join(&target) {
            Ok(u) => Some(u.to_string()),
            Err(_) => Some(target),
        }
    }
}
