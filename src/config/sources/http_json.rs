//! Validation of a `http_json` source table into [`crate::sources::http_json::Settings`]: the
//! URL, the optional token and how it is sent, the pagination style and its keys, the path of
//! the records and the mapping of every canonical field to a path, each problem reported at its
//! value with a hint.

use std::ops::Range;

use toml::Spanned;

use super::super::raw::RawSource;
use super::super::toml_file;
use super::super::{quoted_list, SourceKind, Validator};
use super::network::NetworkDefaults;
use crate::sources::http::RateLimit;
use crate::sources::http_json::mapping::{Mapping, RecordKind, CUSTOM_PREFIX};
use crate::sources::http_json::paging::{PageSize, Pagination};
use crate::sources::http_json::path::{Path, PATH_HINT};
use crate::sources::http_json::Settings;

/// The rate limit when the table does not set one: a generic API's documented limit is not
/// known, so a polite 10 requests per second.
pub const DEFAULT_RATE_LIMIT: u32 = 10;
/// The largest `page_size`.
const MAX_PAGE_SIZE: i64 = 100_000;
const PAGINATIONS: [&str; 4] = ["none", "cursor", "page", "link"];

impl Validator<'_> {
    /// The settings of the `http_json` source `name` whose table starts at `header`, or `None`
    /// after reporting every problem.
    pub(in crate::config) fn http_json_source(
        &mut self,
        name: &str,
        header: Range<usize>,
        raw: &RawSource,
    ) -> Option<SourceKind> {
        let url = self.json_url(name, header.clone(), raw);
        let defaults = NetworkDefaults {
            base_url: "",
            rate_limit: RateLimit::per_second(DEFAULT_RATE_LIMIT),
        };
        let network = self.network(raw, &defaults);
        let token = match &raw.token {
            Some(_) => self
                .source_secret(name, header.clone(), &raw.token, "token", "ANALYTICS_TOKEN")
                .map(Some),
            None => Some(None),
        };
        let auth = self.json_auth(raw);
        let paging = self.json_pagination(raw);
        let query = self.json_query(raw);
        let records = match &raw.records {
            Some(p) => self.json_path(p, "records").map(Some),
            None => Some(None),
        };
        let mapping = self.json_mapping(name, header, raw);
        let (url, mut network) = (url?, network?);
        network.base_url = origin(&url);
        let (auth_header, auth_scheme) = auth?;
        let (pagination, page_size) = paging?;
        Some(SourceKind::HttpJson(Settings {
            url,
            network,
            token: token?,
            auth_header,
            auth_scheme,
            pagination,
            page_size,
            query: query?,
            records: records?,
            mapping: mapping?,
        }))
    }

    /// `url`: required, http(s), with a host, without credentials or a fragment.
    fn json_url(&mut self, name: &str, header: Range<usize>, raw: &RawSource) -> Option<String> {
        let hint = "the address of the first page, like \"https://api.example.com/v1/usage\"; a query string is kept";
        let Some(v) = &raw.url else {
            self.error(
                header,
                format!("source `{name}` has no `url`"),
                Some(format!("add `url = ...`: {hint}")),
            );
            return None;
        };
        let text = v.get_ref().trim();
        match reqwest::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                if !u.username().is_empty() || u.password().is_some() {
                    // Never echo it: the user part may be a credential.
                    self.error(
                        v.span(),
                        "`url` must not hold a user name or password",
                        Some("the credential goes in `token`, as a `${VAR}` reference".to_string()),
                    );
                    None
                } else if u.fragment().is_some() {
                    self.error(
                        v.span(),
                        "`url` must not have a fragment (`#...`): it is never sent",
                        Some(hint.to_string()),
                    );
                    None
                } else {
                    Some(text.to_string())
                }
            }
            _ => {
                self.error(
                    v.span(),
                    format!(
                        "`url` \"{}\" is not an http(s) URL",
                        crate::sources::http_json::paging::hide_query_values(text)
                    ),
                    Some(hint.to_string()),
                );
                None
            }
        }
    }

    /// `(auth_header, auth_scheme)`, each only with a `token`.
    fn json_auth(&mut self, raw: &RawSource) -> Option<(String, String)> {
        let mut ok = true;
        for (key, value) in [
            ("auth_header", &raw.auth_header),
            ("auth_scheme", &raw.auth_scheme),
        ] {
            if let (Some(v), None) = (value, &raw.token) {
                self.error(
                    self.key_span(v.span(), key),
                    format!("`{key}` is set but there is no `token` to send"),
                    Some("add `token = \"${ANALYTICS_TOKEN}\"`, or remove this key".to_string()),
                );
                ok = false;
            }
        }
        let header = match &raw.auth_header {
            None => Some("Authorization".to_string()),
            Some(v) => {
                let text = v.get_ref().trim();
                if reqwest::header::HeaderName::from_bytes(text.as_bytes()).is_ok() {
                    Some(text.to_string())
                } else {
                    self.error(
                        v.span(),
                        format!("`auth_header` \"{text}\" is not an HTTP header name"),
                        Some("a header name is letters, digits and `-`, like \"Authorization\" or \"X-Api-Key\"".to_string()),
                    );
                    None
                }
            }
        };
        let scheme = match &raw.auth_scheme {
            None => Some("Bearer".to_string()),
            Some(v) => {
                let text = v.get_ref().trim();
                if text.chars().all(|c| c.is_ascii_graphic()) {
                    Some(text.to_string())
                } else {
                    self.error(
                        v.span(),
                        format!("`auth_scheme` \"{text}\" is not one word"),
                        Some("the word sent before the token, like \"Bearer\" (the default), \"Token\" or \"Basic\"; \"\" sends the bare token".to_string()),
                    );
                    None
                }
            }
        };
        if !ok {
            return None;
        }
        Some((header?, scheme?))
    }

    /// `pagination` with the keys of its style, and the page size.
    fn json_pagination(&mut self, raw: &RawSource) -> Option<(Pagination, Option<PageSize>)> {
        let word = match &raw.pagination {
            None => Some("none"),
            Some(v) => match PAGINATIONS.iter().find(|w| **w == v.get_ref().trim()) {
                Some(w) => Some(*w),
                None => {
                    let hint = match toml_file::closest(v.get_ref(), PAGINATIONS) {
                        Some(w) => format!("did you mean `{w}`?"),
                        None => format!("the pagination styles are {}", quoted_list(&PAGINATIONS)),
                    };
                    self.error(
                        v.span(),
                        format!("unknown pagination `{}`", v.get_ref()),
                        Some(hint),
                    );
                    None
                }
            },
        };
        let mut ok = true;
        // Keys read by one style only.
        let own: [(&str, &str, Option<Range<usize>>); 3] = [
            (
                "cursor_path",
                "cursor",
                raw.cursor_path.as_ref().map(Spanned::span),
            ),
            (
                "cursor_param",
                "cursor",
                raw.cursor_param.as_ref().map(Spanned::span),
            ),
            (
                "page_param",
                "page",
                raw.page_param.as_ref().map(Spanned::span),
            ),
        ];
        if let Some(word) = word {
            for (key, style, span) in own {
                if let Some(span) = span.filter(|_| style != word) {
                    self.error(
                        self.key_span(span, key),
                        format!("`{key}` is only read with `pagination = \"{style}\"`"),
                        Some(format!(
                            "this source's pagination is \"{word}\": remove `{key}` or set `pagination = \"{style}\"`"
                        )),
                    );
                    ok = false;
                }
            }
        }
        let page_size = self.json_page_size(raw, word);
        let param = |v: &Option<Spanned<String>>, key: &str, default: &str, s: &mut Self| match v {
            None => Some(default.to_string()),
            Some(v) => s.json_param(v, key),
        };
        let pagination = match word? {
            "none" => Some(Pagination::None),
            "cursor" => {
                let path = match &raw.cursor_path {
                    Some(p) => self.json_path(p, "cursor_path"),
                    None => {
                        let span = raw
                            .pagination
                            .as_ref()
                            .map(Spanned::span)
                            .unwrap_or_default();
                        self.error(
                            span,
                            "`pagination = \"cursor\"` needs `cursor_path`",
                            Some("the path of the next page's cursor in a response, like `cursor_path = \"meta.next_cursor\"`".to_string()),
                        );
                        None
                    }
                };
                let param = param(&raw.cursor_param, "cursor_param", "cursor", self);
                Some(Pagination::Cursor {
                    path: path?,
                    param: param?,
                })
            }
            "page" => param(&raw.page_param, "page_param", "page", self)
                .map(|param| Pagination::Page { param }),
            _ => Some(Pagination::Link),
        };
        if !ok {
            return None;
        }
        Some((pagination?, page_size?))
    }

    /// `page_size_param` and `page_size`, both or neither, not with `pagination = "none"`.
    fn json_page_size(&mut self, raw: &RawSource, word: Option<&str>) -> Option<Option<PageSize>> {
        let hint = "the query parameter of the page size and its value, like `page_size_param = \"per_page\"` and `page_size = 100`";
        match (&raw.page_size_param, &raw.page_size) {
            (None, None) => Some(None),
            (Some(p), None) => {
                self.error(
                    self.key_span(p.span(), "page_size_param"),
                    "`page_size_param` is set without `page_size`",
                    Some(hint.to_string()),
                );
                None
            }
            (None, Some(n)) => {
                self.error(
                    self.key_span(n.span(), "page_size"),
                    "`page_size` is set without `page_size_param`",
                    Some(hint.to_string()),
                );
                None
            }
            (Some(p), Some(n)) => {
                if word == Some("none") {
                    self.error(
                        self.key_span(n.span(), "page_size"),
                        "`page_size` is only read with a pagination style",
                        Some("set `pagination` to \"cursor\", \"page\" or \"link\", or put the parameter in `query`".to_string()),
                    );
                    return None;
                }
                let param = self.json_param(p, "page_size_param");
                let size = self.integer(
                    n,
                    "page_size",
                    1,
                    MAX_PAGE_SIZE,
                    "records per page, like 100",
                );
                Some(Some(PageSize {
                    param: param?,
                    size: u32::try_from(size?).ok()?,
                }))
            }
        }
    }

    /// A query parameter name: not empty.
    fn json_param(&mut self, v: &Spanned<String>, key: &str) -> Option<String> {
        let text = v.get_ref().trim();
        if text.is_empty() {
            self.error(
                v.span(),
                format!("`{key}` is empty"),
                Some("give the name of a query parameter, like \"cursor\" or \"page\"".to_string()),
            );
            None
        } else {
            Some(text.to_string())
        }
    }

    /// `query`: fixed parameters, none of which is one pagination sets.
    fn json_query(&mut self, raw: &RawSource) -> Option<Vec<(String, String)>> {
        // The parameters each page's request sets, as written (even when they have errors).
        let written = |v: &Option<Spanned<String>>, default: &str| {
            v.as_ref()
                .map_or(default.to_string(), |p| p.get_ref().trim().to_string())
        };
        let mut taken: Vec<String> = Vec::new();
        match raw.pagination.as_ref().map(|p| p.get_ref().trim()) {
            Some("cursor") => taken.push(written(&raw.cursor_param, "cursor")),
            Some("page") => taken.push(written(&raw.page_param, "page")),
            _ => {}
        }
        if let Some(p) = &raw.page_size_param {
            taken.push(p.get_ref().trim().to_string());
        }
        let mut ok = true;
        // The URL's own query string must not set them either (they would be sent twice).
        if let Some(u) = &raw.url {
            if let Ok(url) = reqwest::Url::parse(u.get_ref().trim()) {
                let mut reported: Vec<String> = Vec::new();
                for (name, _) in url.query_pairs() {
                    if taken.iter().any(|t| *t == name) && !reported.iter().any(|r| *r == name) {
                        self.error(
                            u.span(),
                            format!(
                                "the query parameter `{name}` in `url` is set by the pagination"
                            ),
                            Some(format!(
                                "remove `{name}=...` from `url`: each page's request sets it"
                            )),
                        );
                        reported.push(name.to_string());
                        ok = false;
                    }
                }
            }
        }
        let Some(table) = &raw.query else {
            return ok.then(Vec::new);
        };
        let mut out = Vec::new();
        for (k, v) in toml_file::in_file_order(
            table
                .get_ref()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ) {
            let name = k.get_ref().trim();
            if name.is_empty() {
                self.error(k.span(), "a query parameter has an empty name", None);
                ok = false;
            } else if taken.iter().any(|t| t == name) {
                self.error(
                    k.span(),
                    format!("the query parameter `{name}` is set by the pagination"),
                    Some("remove it from `query`: each page's request sets it".to_string()),
                );
                ok = false;
            } else {
                out.push((name.to_string(), v.into_inner()));
            }
        }
        ok.then_some(out)
    }

    fn json_path(&mut self, v: &Spanned<String>, key: &str) -> Option<Path> {
        match Path::parse(v.get_ref()) {
            Ok(p) => Some(p),
            Err(e) => {
                self.error(v.span(), format!("{key}: {e}"), Some(PATH_HINT.to_string()));
                None
            }
        }
    }

    /// `record` and `fields`: every key a field of the kind (or `custom.NAME` on accounts),
    /// every value a path, every required field mapped.
    fn json_mapping(
        &mut self,
        name: &str,
        header: Range<usize>,
        raw: &RawSource,
    ) -> Option<Mapping> {
        let words: Vec<&str> = RecordKind::ALL.iter().map(|k| k.word()).collect();
        let kind = match &raw.record {
            None => {
                self.error(
                    header.clone(),
                    format!("source `{name}` has no `record`"),
                    Some(format!(
                        "add `record = ...`, the canonical record each JSON record becomes: one of {}",
                        quoted_list(&words)
                    )),
                );
                None
            }
            Some(v) => match RecordKind::from_word(v.get_ref().trim()) {
                Some(k) => Some(k),
                None => {
                    let hint = match toml_file::closest(v.get_ref(), words.iter().copied()) {
                        Some(w) => format!("did you mean `{w}`?"),
                        None => format!("the record kinds are {}", quoted_list(&words)),
                    };
                    self.error(
                        v.span(),
                        format!("unknown record kind `{}`", v.get_ref()),
                        Some(hint),
                    );
                    None
                }
            },
        };
        let Some(fields) = &raw.fields else {
            let example = match kind {
                Some(k) => {
                    let req: Vec<String> = k
                        .fields()
                        .iter()
                        .filter(|f| f.required)
                        .map(|f| format!("{} = \"...\"", f.name))
                        .collect();
                    format!("`fields = {{ {} }}`", req.join(", "))
                }
                None => "`[sources.NAME.fields]`".to_string(),
            };
            self.error(
                header,
                format!("source `{name}` has no `fields`"),
                Some(format!(
                    "map each canonical field to the path of its value in a JSON record: {example}"
                )),
            );
            return None;
        };
        let kind = kind?;
        let mut ok = true;
        let mut mapped: Vec<(String, Path)> = Vec::new();
        // Fields named in the table (with a valid path or not), for the missing ones.
        let mut named: Vec<String> = Vec::new();
        let entries = toml_file::in_file_order(
            fields
                .get_ref()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        for (key, value) in entries {
            let field = key.get_ref().trim().to_string();
            let custom = kind == RecordKind::Account
                && field
                    .strip_prefix(CUSTOM_PREFIX)
                    .is_some_and(|c| !c.is_empty());
            if kind.field(&field).is_none() && !custom {
                let names: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
                let closest = toml_file::closest(&field, names.iter().copied());
                let mut hint = match closest {
                    Some(c) => format!("did you mean `{c}`? "),
                    None => String::new(),
                };
                hint.push_str(&format!(
                    "the fields of a {} record are {}",
                    kind.word(),
                    quoted_list(&names)
                ));
                if kind == RecordKind::Account {
                    hint.push_str("; other values are kept as `custom.NAME`");
                }
                self.error(
                    key.span(),
                    format!("`{field}` is not a field of a {} record", kind.word()),
                    Some(hint),
                );
                ok = false;
                continue;
            }
            named.push(field.clone());
            match self.json_path(&value, &format!("fields.{field}")) {
                Some(p) => mapped.push((field, p)),
                None => ok = false,
            }
        }
        let missing = kind.missing(named.iter().map(String::as_str));
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|f| format!("`{f}`")).collect();
            let example: Vec<String> = missing.iter().map(|f| format!("{f} = \"...\"")).collect();
            self.error(
                toml_file::first_line(self.src, fields.span()),
                format!(
                    "a {} record needs {} mapped: {} {} missing",
                    kind.word(),
                    if missing.len() == 1 {
                        "this field"
                    } else {
                        "these fields"
                    },
                    list.join(", "),
                    if missing.len() == 1 { "is" } else { "are" }
                ),
                Some(format!(
                    "add {} (the path of each value in a JSON record)",
                    example.join(", ")
                )),
            );
            return None;
        }
        if !ok {
            return None;
        }
        match Mapping::new(kind, mapped) {
            Ok(m) => Some(m),
            Err(e) => {
                // Not reached: every case is reported above with its span.
                self.error(fields.span(), e.to_string(), None);
                None
            }
        }
    }
}

/// `https://host:8443` of `https://host:8443/v1/x?y=1`.
fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.to_string(),
    }
}
