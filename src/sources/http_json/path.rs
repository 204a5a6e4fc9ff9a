//! The small path syntax of the `http_json` source: where a value sits in a JSON document.
//!
//! A path is a chain of steps from the document's root:
//!
//! - a key: `data`, `meta.next_cursor`, `attributes.user.email` (steps joined by `.`);
//! - an array index: `scores[0]`, `[2].id`, `rows[0][1]` (`[n]`, counting from 0);
//! - a key with dots, spaces, brackets or quotes in it, quoted: `"a.b"`, `stats."active users"`,
//!   `"say \"hi\""` (inside quotes, `\"` is a quote and `\\` a backslash).
//!
//! A bare key is any run of characters but `.`, `[`, `]`, `"`, `\` and white space. Parsing is
//! pure and total: any text gives a [`Path`] or a [`PathError`] saying where and what is wrong,
//! never a panic. Looking a path up ([`Path::get`]) never fails either: a missing key, an index
//! past the end, a key on an array or an index on an object all give `None`.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// One step of a [`Path`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// A key of an object.
    Key(String),
    /// An element of an array, from 0.
    Index(usize),
}

/// A parsed path: at least one step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    steps: Vec<Step>,
}

/// Why a text is not a path: what is wrong, at which character (counted from 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a path: {reason} at character {at}")]
pub struct PathError {
    /// The text as written.
    pub text: String,
    /// 1-based character position of the problem.
    pub at: usize,
    pub reason: String,
}

/// The syntax in one line, for hints.
pub const PATH_HINT: &str = "a path is keys joined by `.` with `[n]` for array elements, like \
     `data.items`, `attributes.user.email` or `scores[0]`; quote a key holding dots or spaces: \
     `stats.\"active users\"`";

impl Path {
    /// The steps, from the root.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The value at this path in `root`, if there is one (a JSON `null` is returned as a value).
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut at = root;
        for step in &self.steps {
            at = match (step, at) {
                (Step::Key(k), Value::Object(map)) => map.get(k)?,
                (Step::Index(i), Value::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(at)
    }

    /// Parses `text` (see the module doc for the syntax).
    pub fn parse(text: &str) -> Result<Path, PathError> {
        Parser {
            text,
            chars: text.chars().collect(),
            pos: 0,
        }
        .path()
    }
}

impl FromStr for Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Path, PathError> {
        Path::parse(s)
    }
}

/// Whether `c` may appear in a key without quotes.
fn bare(c: char) -> bool {
    !(c == '.' || c == '[' || c == ']' || c == '"' || c == '\\' || c.is_whitespace())
}

impl fmt::Display for Path {
    /// The path in its canonical form: it parses back to the same path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if !k.is_empty() && k.chars().all(bare) {
                        f.write_str(k)?;
                    } else {
                        f.write_str("\"")?;
                        for c in k.chars() {
                            if c == '"' || c == '\\' {
                                f.write_str("\\")?;
                            }
                            write!(f, "{c}")?;
                        }
                        f.write_str("\"")?;
                    }
                }
            }
        }
        Ok(())
    }
}

struct Parser<'t> {
    text: &'t str,
    chars: Vec<char>,
    /// Index into `chars` of the next character.
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, at: usize, reason: impl Into<String>) -> PathError {
        PathError {
            text: self.text.to_string(),
            at: at + 1,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn path(mut self) -> Result<Path, PathError> {
        if self.chars.is_empty() {
            return Err(self.error(0, "the path is empty"));
        }
        let mut steps = Vec::new();
        // The first step is a key or an index; after it, `.key` or `[n]`.
        if self.peek() == Some('[') {
            steps.push(self.index()?);
        } else {
            steps.push(self.key()?);
        }
        while let Some(c) = self.peek() {
            match c {
                '.' => {
                    self.pos += 1;
                    steps.push(self.key()?);
                }
                '[' => steps.push(self.index()?),
                other => {
                    return Err(self.error(
                        self.pos,
                        format!("expected `.` or `[` after a step, found {}", shown(other)),
                    ))
                }
            }
        }
        Ok(Path { steps })
    }

    /// A bare or quoted key at `pos`.
    fn key(&mut self) -> Result<Step, PathError> {
        let start = self.pos;
        match self.peek() {
            None => Err(self.error(start, "a key is missing at the end")),
            Some('"') => self.quoted(),
            Some(c) if bare(c) => {
                while self.peek().is_some_and(bare) {
                    self.pos += 1;
                }
                let key: String = self
                    .chars
                    .get(start..self.pos)
                    .unwrap_or(&[])
                    .iter()
                    .collect();
                Ok(Step::Key(key))
            }
            Some('.') => Err(self.error(start, "empty key (two dots in a row, or a leading dot)")),
            Some(c) => Err(self.error(
                start,
                format!(
                    "{} cannot start a key; quote keys holding it, like `\"a b\"`",
                    shown(c)
                ),
            )),
        }
    }

    /// A quoted key at `pos` (which is the opening quote).
    fn quoted(&mut self) -> Result<Step, PathError> {
        let open = self.pos;
        self.pos += 1;
        let mut key = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error(open, "this quote is never closed")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(Step::Key(key));
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => {
                            key.push(c);
                            self.pos += 1;
                        }
                        _ => {
                            return Err(self.error(
                                self.pos - 1,
                                "inside quotes, `\\` must be followed by `\"` or `\\`",
                            ))
                        }
                    }
                }
                Some(c) => {
                    key.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `[n]` at `pos` (which is the `[`).
    fn index(&mut self) -> Result<Step, PathError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self
            .chars
            .get(start..self.pos)
            .unwrap_or(&[])
            .iter()
            .collect();
        if digits.is_empty() {
            return Err(self.error(
                start,
                "expected an array index (a whole number from 0) after `[`",
            ));
        }
        if self.peek() != Some(']') {
            return Err(self.error(self.pos, "expected `]` to close the index"));
        }
        self.pos += 1;
        digits
            .parse::<usize>()
            .map(Step::Index)
            .map_err(|_| self.error(open, format!("the index {digits} is too large")))
    }
}

fn shown(c: char) -> String {
    if c.is_whitespace() {
        format!("white space ({c:?})")
    } else {
        format!("`{c}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    #[test]
    fn parses_keys_indexes_and_quoted_keys() {
        let p = |t: &str| Path::parse(t).unwrap().steps;
        assert_eq!(p("data"), vec![key("data")]);
        assert_eq!(p("data.items"), vec![key("data"), key("items")]);
        assert_eq!(
            p("attributes.user.email"),
            vec![key("attributes"), key("user"), key("email")]
        );
        assert_eq!(p("scores[0]"), vec![key("scores"), Step::Index(0)]);
        assert_eq!(p("[2].id"), vec![Step::Index(2), key("id")]);
        assert_eq!(
            p("rows[0][12]"),
            vec![key("rows"), Step::Index(0), Step::Index(12)]
        );
        assert_eq!(p("\"a.b\""), vec![key("a.b")]);
        assert_eq!(
            p("stats.\"active users\".n"),
            vec![key("stats"), key("active users"), key("n")]
        );
        assert_eq!(p(r#""say \"hi\" \\ ""#), vec![key(r#"say "hi" \ "#)]);
        assert_eq!(p("\"\""), vec![key("")]);
        assert_eq!(p("x-y_z:1"), vec![key("x-y_z:1")]);
        assert_eq!(p("données.é"), vec![key("données"), key("é")]);
    }

    #[test]
    fn reports_where_a_path_is_wrong() {
        let e = |t: &str| Path::parse(t).unwrap_err().to_string();
        assert_eq!(e(""), "`` is not a path: the path is empty at character 1");
        assert_eq!(
            e("data..items"),
            "`data..items` is not a path: empty key (two dots in a row, or a leading dot) at character 6"
        );
        assert_eq!(
            e(".data"),
            "`.data` is not a path: empty key (two dots in a row, or a leading dot) at character 1"
        );
        assert_eq!(
            e("data."),
            "`data.` is not a path: a key is missing at the end at character 6"
        );
        assert_eq!(
            e("scores[]"),
            "`scores[]` is not a path: expected an array index (a whole number from 0) after `[` at character 8"
        );
        assert_eq!(
            e("scores[-1]"),
            "`scores[-1]` is not a path: expected an array index (a whole number from 0) after `[` at character 8"
        );
        assert_eq!(
            e("scores[1"),
            "`scores[1` is not a path: expected `]` to close the index at character 9"
        );
        assert_eq!(
            e("a b"),
            "`a b` is not a path: expected `.` or `[` after a step, found white space (' ') at character 2"
        );
        assert_eq!(
            e("\"a.b"),
            "`\"a.b` is not a path: this quote is never closed at character 1"
        );
        assert_eq!(
            e(r#""a\b""#),
            "`\"a\\b\"` is not a path: inside quotes, `\\` must be followed by `\"` or `\\` at character 3"
        );
        assert_eq!(
            e("[99999999999999999999999]"),
            "`[99999999999999999999999]` is not a path: the index 99999999999999999999999 is too large at character 1"
        );
        assert_eq!(
            e("a]"),
            "`a]` is not a path: expected `.` or `[` after a step, found `]` at character 2"
        );
        assert_eq!(
            e("a.]"),
            "`a.]` is not a path: `]` cannot start a key; quote keys holding it, like `\"a b\"` at character 3"
        );
    }

    #[test]
    fn looks_values_up_without_failing() {
        let doc = json!({
            "data": {"items": [{"id": 1}, {"id": 2}]},
            "a.b": "dotted",
            "scores": [7, null],
            "meta": {"next_cursor": null}
        });
        let get = |t: &str| Path::parse(t).unwrap().get(&doc).cloned();
        assert_eq!(get("data.items[1].id"), Some(json!(2)));
        assert_eq!(get("\"a.b\""), Some(json!("dotted")));
        assert_eq!(get("scores[0]"), Some(json!(7)));
        assert_eq!(get("scores[1]"), Some(Value::Null));
        assert_eq!(get("meta.next_cursor"), Some(Value::Null));
        assert_eq!(get("scores[2]"), None);
        assert_eq!(get("a.b"), None);
        assert_eq!(get("data[0]"), None);
        assert_eq!(get("scores.x"), None);
        assert_eq!(get("data.items[0].id.deeper"), None);
    }

    #[test]
    fn display_is_canonical() {
        for (text, shown) in [
            ("data.items", "data.items"),
            ("[0].x", "[0].x"),
            ("a[1][2].b", "a[1][2].b"),
            ("\"a.b\".c", "\"a.b\".c"),
            ("\"plain\"", "plain"),
            ("\"\"", "\"\""),
            (r#""q\"\\""#, r#""q\"\\""#),
        ] {
            assert_eq!(Path::parse(text).unwrap().to_string(), shown, "{text}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = Path::parse(&text);
        }

        #[test]
        fn parsing_path_like_text_never_panics(text in "[a-z.\\[\\]0-9\"\\\\ ]{0,30}") {
            if let Ok(p) = Path::parse(&text) {
                // What parses, prints and parses back to the same path.
                prop_assert_eq!(Path::parse(&p.to_string()), Ok(p));
            }
        }

        #[test]
        fn canonical_form_round_trips(steps in proptest::collection::vec(
            prop_oneof![
                "\\PC{0,8}".prop_map(Step::Key),
                (0usize..1000).prop_map(Step::Index),
            ],
            1..6,
        )) {
            let p = Path { steps };
            prop_assert_eq!(Path::parse(&p.to_string()), Ok(p.clone()));
        }
    }
}
