//! Pagination of the `http_json` source, as a pure state machine: given the page just read
//! (its body, how many records it held, its `Link: rel="next"`), what to request next, or that
//! the listing is complete. The source does the requests; this module only decides.
//!
//! A misbehaving API must not keep a sync busy forever: a cursor or a next-page URL seen twice
//! is an error ([`PagingError::Loop`]), and so is a listing longer than the maximum page count
//! ([`MAX_PAGES`]).

use std::collections::HashSet;

use serde_json::Value;

use super::path::Path;

/// The most pages one fetch reads before giving up.
pub const MAX_PAGES: u32 = 100_000;

/// How the API splits a listing into pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pagination {
    /// One request returns everything.
    None,
    /// Each response holds the next page's cursor at `path`, sent back as the query parameter
    /// `param`; the listing ends when it is missing, `null` or `""`.
    Cursor { path: Path, param: String },
    /// Pages are numbered from 1 in the query parameter `param`; the listing ends at an empty
    /// page, or at a page shorter than the page size when one is set.
    Page { param: String },
    /// Each response names the next page in its `Link: <url>; rel="next"` header (RFC 8288);
    /// the listing ends when there is none.
    Link,
}

impl Pagination {
    /// The word of `pagination = "..."`.
    pub fn word(&self) -> &'static str {
        match self {
            Pagination::None => "none",
            Pagination::Cursor { .. } => "cursor",
            Pagination::Page { .. } => "page",
            Pagination::Link => "link",
        }
    }
}

/// The page size and the query parameter that sends it, when configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageSize {
    pub param: String,
    pub size: u32,
}

/// One request to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageRequest {
    /// The configured URL, with these query parameters added (besides the fixed `query`).
    Configured(Vec<(String, String)>),
    /// An absolute URL given by the API (a `Link` header), requested as it is.
    Url(String),
}

/// What to do after a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Request(PageRequest),
    Done,
}

/// Why a listing cannot be read to its end.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    /// The API sent back a cursor or a next URL it had already sent.
    #[error("the API sent the same {what} twice ({value}, after page {page}): reading on would loop forever")]
    Loop {
        what: &'static str,
        value: String,
        page: u32,
    },
    /// A page numbered page holds exactly the records of the one before.
    #[error("page {page} holds the same records as page {prev}: the API seems to ignore the page parameter `{param}` (is it the one the API documents?)", prev = .page.saturating_sub(1))]
    RepeatedPage { page: u32, param: String },
    #[error("more than {max} pages: giving up (is the API sending a next page forever?)")]
    TooManyPages { max: u32 },
    /// The cursor is neither text nor a number.
    #[error("the cursor at `{path}` in page {page} is {found}, expected text or a number")]
    BadCursor {
        path: String,
        page: u32,
        found: &'static str,
    },
}

/// The state of one listing.
#[derive(Debug)]
pub struct Pager {
    pagination: Pagination,
    page_size: Option<PageSize>,
    max_pages: u32,
    /// The page just read, from 1 (0 before the first).
    page: u32,
    /// Cursors or next URLs already followed.
    seen: HashSet<String>,
    /// A digest of the previous page's records (`page` style).
    last_page: Option<u64>,
}

/// A digest of a page's records, to notice the same page twice in a row.
fn digest(records: &[Value]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in records {
        r.to_string().hash(&mut h);
    }
    h.finish()
}

impl Pager {
    pub fn new(pagination: Pagination, page_size: Option<PageSize>, max_pages: u32) -> Pager {
        Pager {
            pagination,
            page_size,
            max_pages,
            page: 0,
            seen: HashSet::new(),
            last_page: None,
        }
    }

    /// The first request.
    pub fn first(&mut self) -> PageRequest {
        self.page = 1;
        let mut params = self.size_param();
        if let Pagination::Page { param } = &self.pagination {
            params.insert(0, (param.clone(), "1".to_string()));
        }
        PageRequest::Configured(params)
    }

    /// The number of the page last requested, from 1.
    pub fn page(&self) -> u32 {
        self.page
    }

    fn size_param(&self) -> Vec<(String, String)> {
        match &self.page_size {
            Some(s) => vec![(s.param.clone(), s.size.to_string())],
            None => vec![],
        }
    }

    /// What follows the page just read: its `body`, the number of `records` it held and its
    /// `Link` header's next URL (already resolved against the request's URL).
    pub fn after(
        &mut self,
        body: &Value,
        records: &[Value],
        next_link: Option<&str>,
    ) -> Result<Next, PagingError> {
        let pagination = self.pagination.clone();
        let next = match &pagination {
            Pagination::None => return Ok(Next::Done),
            Pagination::Cursor { path, param } => {
                let cursor = match path.get(body) {
                    None | Some(Value::Null) => return Ok(Next::Done),
                    Some(Value::String(s)) if s.is_empty() => return Ok(Next::Done),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(other) => {
                        return Err(PagingError::BadCursor {
                            path: path.to_string(),
                            page: self.page,
                            found: kind_of(other),
                        })
                    }
                };
                self.guard("cursor", &cursor)?;
                let mut params = vec![(param.clone(), cursor)];
                params.extend(self.size_param());
                PageRequest::Configured(params)
            }
            Pagination::Page { param } => {
                let short = self
                    .page_size
                    .as_ref()
                    .is_some_and(|s| records.len() < s.size as usize);
                if records.is_empty() || short {
                    return Ok(Next::Done);
                }
                // An API that ignores the page parameter sends its first page forever.
                let digest = digest(records);
                if self.last_page == Some(digest) {
                    return Err(PagingError::RepeatedPage {
                        page: self.page,
                        param: param.clone(),
                    });
                }
                self.last_page = Some(digest);
                let mut params = vec![(param.clone(), (u64::from(self.page) + 1).to_string())];
                params.extend(self.size_param());
                PageRequest::Configured(params)
            }
            Pagination::Link => match next_link {
                None => return Ok(Next::Done),
                Some(url) => {
                    self.guard("next link", url)?;
                    PageRequest::Url(url.to_string())
                }
            },
        };
        if self.page >= self.max_pages {
            return Err(PagingError::TooManyPages {
                max: self.max_pages,
            });
        }
        self.page += 1;
        Ok(Next::Request(next))
    }

    /// Records `value` as followed; an error when it was followed before.
    fn guard(&mut self, what: &'static str, value: &str) -> Result<(), PagingError> {
        if self.seen.insert(value.to_string()) {
            Ok(())
        } else {
            Err(PagingError::Loop {
                what,
                value: shown(what, value),
                page: self.page,
            })
        }
    }
}

/// A cursor or URL as an error shows it: cut when long; a URL without its query's values
/// (they may carry a signature or a token).
fn shown(what: &str, value: &str) -> String {
    let value = if what == "next link" {
        hide_query_values(value)
    } else {
        value.to_string()
    };
    const MAX: usize = 80;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{value}\"")
    }
}

/// `https://x/y?a=1&b=2` → `https://x/y?a=…&b=…`.
pub fn hide_query_values(url: &str) -> String {
    match url.split_once('?') {
        None => url.to_string(),
        Some((base, query)) => {
            let query = query.split('#').next().unwrap_or_default();
            let names: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) => format!("{name}=…"),
                    None => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", names.join("&"))
        }
    }
}

/// What a JSON value is, for messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `k` records never seen before (each call gives new ones).
    fn recs(k: usize) -> Vec<Value> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        (0..k)
            .map(|_| json!({"n": NEXT.fetch_add(1, Ordering::Relaxed)}))
            .collect()
    }

    #[test]
    fn the_same_page_twice_in_a_row_is_an_error() {
        let mut p = Pager::new(Pagination::Page { param: "pg".into() }, None, MAX_PAGES);
        p.first();
        let page = recs(2);
        assert!(p.after(&json!([]), &page, None).is_ok());
        assert_eq!(
            p.after(&json!([]), &page, None).unwrap_err().to_string(),
            "page 2 holds the same records as page 1: the API seems to ignore the page parameter `pg` (is it the one the API documents?)"
        );
    }

    fn params(p: &[(&str, &str)]) -> Next {
        Next::Request(PageRequest::Configured(
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        ))
    }

    fn cursor_pager() -> Pager {
        Pager::new(
            Pagination::Cursor {
                path: Path::parse("meta.next_cursor").unwrap(),
                param: "cursor".into(),
            },
            Some(PageSize {
                param: "limit".into(),
                size: 2,
            }),
            MAX_PAGES,
        )
    }

    #[test]
    fn none_reads_one_page() {
        let mut p = Pager::new(Pagination::None, None, MAX_PAGES);
        assert_eq!(p.first(), PageRequest::Configured(vec![]));
        assert_eq!(
            p.after(&json!([1, 2]), &recs(2), Some("http://x/2")),
            Ok(Next::Done)
        );
    }

    #[test]
    fn cursor_follows_until_missing_null_or_empty() {
        let mut p = cursor_pager();
        assert_eq!(
            p.first(),
            PageRequest::Configured(vec![("limit".into(), "2".into())])
        );
        assert_eq!(
            p.after(&json!({"meta": {"next_cursor": "abc"}}), &recs(2), None),
            Ok(params(&[("cursor", "abc"), ("limit", "2")]))
        );
        assert_eq!(p.page(), 2);
        assert_eq!(
            p.after(&json!({"meta": {"next_cursor": 17}}), &recs(2), None),
            Ok(params(&[("cursor", "17"), ("limit", "2")]))
        );
        for end in [
            json!({}),
            json!({"meta": {"next_cursor": null}}),
            json!({"meta": {"next_cursor": ""}}),
        ] {
            let mut p = cursor_pager();
            p.first();
            assert_eq!(p.after(&end, &recs(2), None), Ok(Next::Done));
        }
    }

    #[test]
    fn a_cursor_seen_twice_is_an_error() {
        let mut p = cursor_pager();
        p.first();
        let body = json!({"meta": {"next_cursor": "c1"}});
        assert!(p.after(&body, &recs(2), None).is_ok());
        assert_eq!(
            p.after(&body, &recs(2), None).unwrap_err().to_string(),
            "the API sent the same cursor twice (\"c1\", after page 2): reading on would loop forever"
        );
    }

    #[test]
    fn a_cursor_of_another_type_is_an_error() {
        let mut p = cursor_pager();
        p.first();
        assert_eq!(
            p.after(&json!({"meta": {"next_cursor": {"a": 1}}}), &recs(2), None)
                .unwrap_err()
                .to_string(),
            "the cursor at `meta.next_cursor` in page 1 is an object, expected text or a number"
        );
    }

    #[test]
    fn page_numbers_count_from_one_and_stop_at_a_short_or_empty_page() {
        let size = Some(PageSize {
            param: "per_page".into(),
            size: 3,
        });
        let mut p = Pager::new(
            Pagination::Page {
                param: "page".into(),
            },
            size.clone(),
            MAX_PAGES,
        );
        assert_eq!(
            p.first(),
            PageRequest::Configured(vec![
                ("page".into(), "1".into()),
                ("per_page".into(), "3".into())
            ])
        );
        assert_eq!(
            p.after(&json!([]), &recs(3), None),
            Ok(params(&[("page", "2"), ("per_page", "3")]))
        );
        assert_eq!(p.after(&json!([]), &recs(2), None), Ok(Next::Done));

        // Without a page size only an empty page ends the listing.
        let mut p = Pager::new(Pagination::Page { param: "p".into() }, None, MAX_PAGES);
        p.first();
        assert_eq!(
            p.after(&json!([]), &recs(1), None),
            Ok(params(&[("p", "2")]))
        );
        assert_eq!(p.after(&json!([]), &recs(0), None), Ok(Next::Done));
    }

    #[test]
    fn link_follows_next_until_there_is_none_and_never_twice() {
        let mut p = Pager::new(Pagination::Link, None, MAX_PAGES);
        p.first();
        assert_eq!(
            p.after(&json!([]), &recs(1), Some("http://h/t?page=2&sig=s3cr3t")),
            Ok(Next::Request(PageRequest::Url(
                "http://h/t?page=2&sig=s3cr3t".into()
            )))
        );
        let e = p
            .after(&json!([]), &recs(1), Some("http://h/t?page=2&sig=s3cr3t"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the API sent the same next link twice (\"http://h/t?page=…&sig=…\", after page 2): reading on would loop forever"
        );
        assert_eq!(p.after(&json!([]), &recs(1), None), Ok(Next::Done));
    }

    #[test]
    fn a_page_count_past_the_maximum_is_an_error() {
        let mut p = Pager::new(
            Pagination::Page {
                param: "page".into(),
            },
            None,
            3,
        );
        p.first();
        assert!(p.after(&json!([]), &recs(1), None).is_ok());
        assert!(p.after(&json!([]), &recs(1), None).is_ok());
        assert_eq!(
            p.after(&json!([]), &recs(1), None),
            Err(PagingError::TooManyPages { max: 3 })
        );
    }

    #[test]
    fn query_values_are_hidden() {
        assert_eq!(hide_query_values("http://a/b"), "http://a/b");
        assert_eq!(
            hide_query_values("http://a/b?x=1&y&z=2#f"),
            "http://a/b?x=…&y&z=…"
        );
    }
}
