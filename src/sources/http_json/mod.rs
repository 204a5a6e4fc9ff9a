//! The `http_json` source: records from any JSON API (product analytics, survey tools, internal
//! services) without writing code. The config names a URL, how to authenticate, how the API
//! pages its listings ([`paging`]), where the records are in a response and which JSON field
//! becomes which canonical field ([`path`], [`mapping`]).
//!
//! Every fetch is full (the source cannot know what changed). Records are mapped page by page as
//! they arrive; every bad value of every page is collected and reported at once, and on any
//! problem nothing is returned, so the store keeps the previous good data.
//!
//! The token is sent in the configured header (`Authorization: Bearer <token>` by default) by
//! the shared client, which marks it sensitive: it never appears in a log line or an error.

pub mod mapping;
pub mod paging;
pub mod path;

use async_trait::async_trait;
use indicatif::ProgressBar;
use serde_json::Value;

use self::mapping::{Builder, Mapping};
use self::paging::{hide_query_values, kind_of, Next, PageRequest, PageSize, Pager, Pagination};
use self::path::Path;
use super::http::{self, Client};
use super::{FetchRequest, Fetched, InputError, Source, SourceContext, SourceError};
use crate::config::Secret;

/// The validated settings of a `http_json` source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The URL of the first page (it may hold a query string of its own).
    pub url: String,
    /// Rate limit, retries, timeout; `base_url` is the scheme, host and port of `url`.
    pub network: http::Settings,
    /// The token, when the API needs one.
    pub token: Option<Secret>,
    /// The header carrying the token (`Authorization` by default).
    pub auth_header: String,
    /// The word before the token (`Bearer` by default; empty: the bare token).
    pub auth_scheme: String,
    pub pagination: Pagination,
    /// Records per page, sent as a query parameter, when configured.
    pub page_size: Option<PageSize>,
    /// Query parameters sent with every request built from `url` (not with `Link` URLs, which
    /// the API builds whole).
    pub query: Vec<(String, String)>,
    /// Where the array of records is in a response; `None`: the response is the array.
    pub records: Option<Path>,
    /// What each record becomes.
    pub mapping: Mapping,
}

impl Settings {
    /// The header carrying `token`: `(auth_header, "<auth_scheme> <token>")`, or the bare
    /// token when the scheme is empty.
    pub fn auth_header_value(&self, token: &str) -> (String, String) {
        let value = if self.auth_scheme.is_empty() {
            token.to_string()
        } else {
            format!("{} {token}", self.auth_scheme)
        };
        (self.auth_header.clone(), value)
    }
}

/// A configured `http_json` source with its client.
pub struct HttpJsonSource {
    name: String,
    settings: Settings,
    client: Client,
    ctx: SourceContext,
    /// The token's value, only to scrub it from an error that echoes it (the client scrubs
    /// the headers it recognises as credentials; `auth_header` may be any name).
    token: Option<String>,
}

impl HttpJsonSource {
    /// The source `name`, reading its token (when configured) from the environment: an unset
    /// variable is an error naming it.
    pub fn new(
        name: impl Into<String>,
        settings: Settings,
        ctx: SourceContext,
    ) -> Result<HttpJsonSource, SourceError> {
        let name = name.into();
        let mut headers = Vec::new();
        let mut token = None;
        if let Some(secret) = &settings.token {
            let value = secret.resolve(&format!("token of source `{name}`"))?;
            headers.push(settings.auth_header_value(&value));
            token = Some(value.trim().to_string());
        }
        let client = Client::new(&name, &settings.network, headers)?;
        Ok(HttpJsonSource {
            name,
            settings,
            client,
            ctx,
            token,
        })
    }

    /// A failed request as a source error, with the token replaced by `***` should the API
    /// have echoed it.
    fn http_error(&self, e: http::HttpError) -> SourceError {
        match &self.token {
            Some(token) if !token.is_empty() && format!("{e} {e:?}").contains(token.as_str()) => {
                SourceError::Other(e.to_string().replace(token.as_str(), "***"))
            }
            _ => SourceError::Http(e),
        }
    }

    /// Where the records come from, for messages: the URL without its query's values.
    fn location(&self) -> String {
        format!(
            "{} records from {}",
            self.settings.mapping.kind().word(),
            hide_query_values(&self.settings.url)
        )
    }

    fn invalid(&self, errors: Vec<InputError>) -> SourceError {
        SourceError::Invalid {
            location: self.location(),
            errors,
        }
    }
}

/// The records of one response body: the array at `path`, or the body itself; `null` at the
/// path is an empty page.
pub fn records_of<'b>(body: &'b Value, path: Option<&Path>) -> Result<&'b [Value], String> {
    let at = match path {
        None => body,
        Some(p) => match p.get(body) {
            None => return Err(format!("the response has no `{p}`{}", arrays_hint(body))),
            Some(v) => v,
        },
    };
    match (at, path) {
        (Value::Array(items), _) => Ok(items),
        (Value::Null, Some(_)) => Ok(&[]),
        (other, None) => Err(format!(
            "the response is {}, not an array of records: set `records` to the path of the array{}",
            kind_of(other),
            arrays_hint(body)
        )),
        (other, Some(p)) => Err(format!(
            "`{p}` is {}, expected an array of records{}",
            kind_of(other),
            arrays_hint(body)
        )),
    }
}

/// `(arrays at: data, items)`: the top-level keys holding arrays, as a hint for `records`.
fn arrays_hint(body: &Value) -> String {
    let Value::Object(map) = body else {
        return String::new();
    };
    let keys: Vec<String> = map
        .iter()
        .filter(|(_, v)| v.is_array())
        .map(|(k, _)| {
            Path::parse(k)
                .map(|p| format!("`{p}`"))
                .unwrap_or_else(|_| format!("`{k}`"))
        })
        .collect();
    if keys.is_empty() {
        String::new()
    } else {
        format!(" (arrays at: {})", keys.join(", "))
    }
}

#[async_trait]
impl Source for HttpJsonSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn fetch(
        &self,
        _request: &FetchRequest<'_>,
        progress: &ProgressBar,
    ) -> Result<Fetched, SourceError> {
        let s = &self.settings;
        let mut pager = Pager::new(s.pagination.clone(), s.page_size.clone(), paging::MAX_PAGES);
        let mut builder = Builder::new(&s.mapping, self.ctx.timezone, &self.ctx.fx);
        let mut request = pager.first();
        loop {
            let page = pager.page();
            let response = match &request {
                PageRequest::Configured(params) => {
                    let query: Vec<(&str, String)> = s
                        .query
                        .iter()
                        .chain(params)
                        .map(|(k, v)| (k.as_str(), v.clone()))
                        .collect();
                    self.client.get(&s.url, &query).await
                }
                PageRequest::Url(url) => self.client.get(url, &[]).await,
            }
            .map_err(|e| self.http_error(e))?;
            let body: Value = response.json().map_err(|e| self.http_error(e))?;
            let records = match records_of(&body, s.records.as_ref()) {
                Ok(records) => records,
                Err(message) => {
                    builder.page_error(page, message);
                    break;
                }
            };
            builder.add_page(page, records);
            progress.inc(records.len() as u64);
            let next_link = response.next_link();
            match pager.after(&body, records, next_link.as_deref()) {
                Ok(Next::Done) => break,
                Ok(Next::Request(next)) => request = next,
                Err(e) => {
                    if builder.error_count() > 0 {
                        builder.page_error(page, e.to_string());
                        break;
                    }
                    return Err(SourceError::Other(format!("{}: {e}", self.location())));
                }
            }
        }
        builder
            .finish()
            .map(Fetched::full)
            .map_err(|errors| self.invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_found_or_explained() {
        let p = |t: &str| Path::parse(t).unwrap();
        let body = json!({"data": {"items": [1, 2]}, "list": [], "next": null, "n": 3});
        assert_eq!(records_of(&body, Some(&p("data.items"))).unwrap().len(), 2);
        assert_eq!(records_of(&body, Some(&p("next"))).unwrap().len(), 0);
        assert_eq!(records_of(&json!([{}]), None).unwrap().len(), 1);
        assert_eq!(
            records_of(&body, None).unwrap_err(),
            "the response is an object, not an array of records: set `records` to the path of the array (arrays at: `list`)"
        );
        assert_eq!(
            records_of(&body, Some(&p("items"))).unwrap_err(),
            "the response has no `items` (arrays at: `list`)"
        );
        assert_eq!(
            records_of(&body, Some(&p("n"))).unwrap_err(),
            "`n` is a number, expected an array of records (arrays at: `list`)"
        );
    }
}
