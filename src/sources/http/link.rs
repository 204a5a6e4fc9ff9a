//! The `Link` header (RFC 8288), read properly: several links in one header or in several
//! headers, parameters in any order, quoted values (which may hold `,` and `;`), relation types
//! as space-separated, case-insensitive lists. Only the target of `rel="next"` is needed (the
//! `link` pagination of `http_json` sources, GitHub-style APIs).

/// One link: its target as written (a URI reference) and its parameters, names lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Link {
    pub target: String,
    pub params: Vec<(String, String)>,
}

impl Link {
    /// Whether the link's `rel` lists `relation` (case-insensitively).
    fn has_rel(&self, relation: &str) -> bool {
        self.params
            .iter()
            .filter(|(name, _)| name == "rel")
            .take(1) // RFC 8288: only the first rel parameter counts
            .any(|(_, value)| {
                value
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(relation))
            })
    }
}

/// The target of the first `rel="next"` link among the `Link` header values, as written (a
/// relative reference is returned as is; [`super::Response::next_link`] resolves it).
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values
        .into_iter()
        .flat_map(parse_links)
        .find(|l| l.has_rel("next"))
        .map(|l| l.target)
}

/// Every well-formed link of one header value; parsing stops at the first malformed one (the
/// links before it are kept).
pub(super) fn parse_links(value: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut p = Parser {
        rest: value.as_bytes(),
        text: value,
        pos: 0,
    };
    loop {
        p.skip(|c| c == b',' || c.is_ascii_whitespace());
        if p.at_end() {
            break;
        }
        match p.link() {
            Some(link) => links.push(link),
            None => break,
        }
    }
    links
}

struct Parser<'a> {
    rest: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.rest.len()
    }

    fn peek(&self) -> Option<u8> {
        self.rest.get(self.pos).copied()
    }

    fn skip(&mut self, what: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&what) {
            self.pos += 1;
        }
    }

    /// `<target>` then `; name=value` parameters, up to the next top-level `,`.
    fn link(&mut self) -> Option<Link> {
        if self.peek() != Some(b'<') {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        self.skip(|c| c != b'>');
        if self.at_end() {
            return None;
        }
        let target = self.text.get(start..self.pos)?.trim().to_string();
        self.pos += 1;
        let mut params = Vec::new();
        loop {
            self.skip(|c| c.is_ascii_whitespace());
            match self.peek() {
                None | Some(b',') => break,
                Some(b';') => {
                    self.pos += 1;
                    if let Some(param) = self.param() {
                        params.push(param);
                    }
                }
                Some(_) => return None,
            }
        }
        Some(Link { target, params })
    }

    /// `name`, `name=token` or `name="quoted \"value\""` (after the `;`).
    fn param(&mut self) -> Option<(String, String)> {
        self.skip(|c| c.is_ascii_whitespace());
        let start = self.pos;
        self.skip(|c| !matches!(c, b'=' | b';' | b',') && !c.is_ascii_whitespace());
        let name = self.text.get(start..self.pos)?.to_ascii_lowercase();
        self.skip(|c| c.is_ascii_whitespace());
        if self.peek() != Some(b'=') {
            return (!name.is_empty()).then(|| (name, String::new()));
        }
        self.pos += 1;
        self.skip(|c| c.is_ascii_whitespace());
        let value = if self.peek() == Some(b'"') {
            self.pos += 1;
            let mut bytes = Vec::new();
            loop {
                match self.peek() {
                    None => break,
                    Some(b'"') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'\\') => {
                        self.pos += 1;
                        if let Some(c) = self.peek() {
                            bytes.push(c);
                            self.pos += 1;
                        }
                    }
                    Some(c) => {
                        bytes.push(c);
                        self.pos += 1;
                    }
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            let start = self.pos;
            self.skip(|c| !matches!(c, b';' | b',') && !c.is_ascii_whitespace());
            self.text.get(start..self.pos)?.to_string()
        };
        (!name.is_empty()).then_some((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_several_links() {
        let github = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_link([github]).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
        let next_last =
            r#"<https://x.test/a?page=1>; rel="prev", <https://x.test/a?page=3>; rel=next"#;
        assert_eq!(
            next_link([next_last]).as_deref(),
            Some("https://x.test/a?page=3")
        );
    }

    #[test]
    fn reads_quoted_params_and_rel_lists() {
        let tricky = r#"<https://x.test/a?page=9>; title="next, or; not"; rel="last", </a?page=2>; title="a \"quoted\" title"; REL="prefetch Next""#;
        assert_eq!(next_link([tricky]).as_deref(), Some("/a?page=2"));
        let links = parse_links(tricky);
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0].params,
            vec![
                ("title".to_string(), "next, or; not".to_string()),
                ("rel".to_string(), "last".to_string())
            ]
        );
        assert_eq!(links[1].params[0].1, r#"a "quoted" title"#);
    }

    #[test]
    fn looks_in_every_header_value() {
        assert_eq!(
            next_link([
                r#"<https://x.test/1>; rel="prev""#,
                r#"<https://x.test/3>; rel="next""#
            ])
            .as_deref(),
            Some("https://x.test/3")
        );
    }

    #[test]
    fn no_next_is_none() {
        assert_eq!(next_link([r#"<https://x.test/5>; rel="last""#]), None);
        assert_eq!(next_link([""]), None);
        assert_eq!(next_link(std::iter::empty()), None);
        assert_eq!(next_link([r#"<https://x.test/2>; rel="nextpage""#]), None);
        // only the first rel counts
        assert_eq!(
            next_link([r#"<https://x.test/2>; rel="last"; rel="next""#]),
            None
        );
    }

    #[test]
    fn malformed_values_never_panic() {
        for bad in [
            "<",
            "<https://x.test",
            "garbage",
            "<a>; rel=\"next",
            "<a> junk; rel=next",
            ";;;",
            "<é>; rel=next; ünïcode=\"ü",
        ] {
            let _ = next_link([bad]);
        }
        assert_eq!(next_link(["<a>; rel=\"next"]).as_deref(), Some("a"));
        assert_eq!(next_link(["<é>; rel=next"]).as_deref(), Some("é"));
        assert_eq!(
            next_link([r#"<https://x.test/1>; rel=next junk, <https://x.test/2>; rel=next"#]),
            None
        );
    }
}
