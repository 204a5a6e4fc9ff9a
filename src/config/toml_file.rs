//! Reading the TOML files people write (the config file, health models, rule files): the one place
//! that turns toml/serde errors into [`Diagnostic`]s with spans and friendlier words, and keeps
//! numbers exact.
//!
//! Raw structs deserialize with `#[serde(deny_unknown_fields)]` and wrap every value that
//! validation may complain about in [`Spanned`]; numbers are read as [`Number`], which never
//! fails during deserialization, so that a bad number is reported with every other validation
//! error instead of stopping the parse.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::diagnostics::{Diagnostic, Diagnostics};

/// Deserializes `src` into a raw struct; a syntax, type or unknown-key error (toml stops at the
/// first one) becomes a [`Diagnostics`] that knows the file's text.
pub fn parse<T: DeserializeOwned>(src: &str, file: &str) -> Result<T, Diagnostics> {
    toml::from_str(src).map_err(|e| {
        let mut d = Diagnostics::for_source(file, src);
        d.push(diagnostic(file, src, &e));
        d
    })
}

/// One toml/serde error as a diagnostic: serde's "field" is TOML's "key", an unknown key gets
/// the closest valid key as a hint, the terse syntax errors people hit most are reworded, and a
/// multi-line toml message is split into message and hint.
pub fn diagnostic(file: &str, src: &str, e: &toml::de::Error) -> Diagnostic {
    const QUOTES: &str = "text values need quotes, like \"Europe/Berlin\"";
    let raw = e.message().trim();
    let (first, rest) = match raw.split_once('\n') {
        Some((a, b)) => (
            a.trim(),
            Some(b.split_whitespace().collect::<Vec<_>>().join(" ")),
        ),
        None => (raw, None),
    };
    // Nothing left on the line where the error points means a value is missing.
    let at_line_end = e
        .span()
        .and_then(|s| src.get(s.start..))
        .is_none_or(|after| after.lines().next().is_none_or(|l| l.trim().is_empty()));
    let (message, hint) = if let Some(r) = first.strip_prefix("unknown field `") {
        unknown_key(r)
    } else if let Some(r) = first.strip_prefix("missing field `") {
        let key = r.split('`').next().unwrap_or(r);
        (format!("missing key `{key}`"), None)
    } else if first == "invalid string" && rest.as_deref() == Some("expected `\"`, `'`") {
        if at_line_end {
            (
                "missing value".to_string(),
                Some(
                    "write a value after `=`: a number, a \"quoted string\", true or false, an array [...] or a table {...}"
                        .to_string(),
                ),
            )
        } else {
            ("invalid value".to_string(), Some(QUOTES.to_string()))
        }
    } else if first == "expected newline, `#`" {
        (
            "unexpected text after the value".to_string(),
            Some("write one `key = value` per line; a comment starts with #".to_string()),
        )
    } else if let Some(found) = first
        .strip_prefix("invalid type: ")
        .and_then(|r| r.strip_suffix(", expected a sequence"))
    {
        let example = match found.strip_prefix("string ") {
            Some(s) => format!("[{s}]"),
            None => "[\"a\", \"b\"]".to_string(),
        };
        (
            format!("invalid type: {found}, expected a list"),
            Some(format!("write a list in brackets: {example}")),
        )
    } else if first.ends_with("expected a string") {
        (first.to_string(), Some(QUOTES.to_string()))
    } else {
        (first.to_string(), None)
    };
    let d = Diagnostic::new(file, message).maybe_hint(hint.or(rest));
    match e.span() {
        // A secret pasted without quotes is a syntax error: its line is shown, the value hidden.
        Some(span) => match secret_value(src, span.start) {
            Some(value) => {
                let shown = src.get(value.clone()).unwrap_or_default();
                let mut d = d.at(value).concealed();
                if !shown.is_empty() {
                    d.message = d.message.replace(shown, "***");
                    d.hint = d.hint.map(|h| h.replace(shown, "***"));
                }
                d
            }
            None => d.at(span),
        },
        None => d,
    }
}

/// The value's bytes when the line holding `at` is `key = value` and the key may hold a secret
/// (`token`, `api_key`, `signing_secret`, a webhook's `url`, ...).
fn secret_value(src: &str, at: usize) -> Option<Range<usize>> {
    let start = src.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let end = src.get(at..)?.find('\n').map_or(src.len(), |i| at + i);
    let line = src.get(start..end)?;
    let eq = line.find('=')?;
    let key = line.get(..eq)?.trim().rsplit('.').next()?.trim();
    let key = key.trim_matches(['"', '\'']).to_ascii_lowercase();
    let secret = key == "url"
        || ["api_key", "token", "secret", "password"]
            .iter()
            .any(|w| key.ends_with(w));
    let value = line.get(eq + 1..)?;
    let from = start + eq + 1 + (value.len() - value.trim_start().len());
    let to = start + eq + 1 + value.trim_end().len();
    (secret && from < to).then_some(from..to)
}

/// `x`, expected one of `a`, `b` → ("unknown key `x`", "did you mean `a`?" or the valid keys).
fn unknown_key(rest: &str) -> (String, Option<String>) {
    let Some((key, expected)) = rest.split_once('`') else {
        return (format!("unknown key `{rest}"), None);
    };
    let message = format!("unknown key `{key}`");
    let valid: Vec<&str> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| !s.is_empty())
        .collect();
    if valid.is_empty() {
        return (message, Some("this table takes no keys".to_string()));
    }
    let hint = match closest(key, valid.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!(
            "valid keys here: {}",
            valid
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    (message, Some(hint))
}

/// The candidate closest to `word` when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&w, &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A number as written in TOML, kept exact: an integer, a float (read through its shortest
/// decimal representation, so `1.08` is exactly 1.08) or a string holding a decimal (`"1.08"`).
/// A value that is not a usable number is kept as a description of the problem, for validation
/// to report with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number(Result<Decimal, String>);

impl Number {
    pub fn exact(d: Decimal) -> Number {
        Number(Ok(d))
    }

    /// The value, or why it is not a number as a predicate to put after the key's name:
    /// `is not a number: "abc"`.
    pub fn decimal(&self) -> Result<Decimal, &str> {
        self.0.as_ref().copied().map_err(String::as_str)
    }

    /// The value as a whole number within `min..=max`; the error is a predicate to put after the
    /// key's name: `must be a whole number from 1 to 120, found 0`.
    pub fn integer(&self, min: i64, max: i64) -> Result<i64, String> {
        let d = self.decimal().map_err(str::to_string)?;
        let range = if max >= i64::from(u32::MAX) {
            format!("a whole number of at least {min}")
        } else {
            format!("a whole number from {min} to {max}")
        };
        if !d.fract().is_zero() {
            return Err(format!("must be {range}, found {d}"));
        }
        match i64::try_from(d) {
            Ok(i) if (min..=max).contains(&i) => Ok(i),
            _ => Err(format!("must be {range}, found {d}")),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(d) => write!(f, "{d}"),
            Err(e) => f.write_str(e),
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Number, D::Error> {
        deserializer.deserialize_any(NumberVisitor)
    }
}

struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number(Ok(Decimal::from(v))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(Number(Ok(Decimal::from(v))))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
        if !v.is_finite() {
            return Ok(Number(Err(format!("is not a finite number: {v}"))));
        }
        // Rust prints the shortest representation that reads back as the same f64, without an
        // exponent: 1.08 prints as "1.08", not 1.0800000000000000710542735760100185871124267578125.
        let text = v.to_string();
        Ok(Number(Decimal::from_str(&text).map_err(|_| {
            format!("has too many digits for an exact decimal: {text}")
        })))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
        let t = v.trim();
        Ok(Number(
            Decimal::from_str(t).map_err(|_| format!("is not a number: \"{v}\"")),
        ))
    }
}

/// The entries of a TOML table read into a map, in the order they are written in the file.
pub fn in_file_order<K: Ord, V>(map: BTreeMap<Spanned<K>, V>) -> Vec<(Spanned<K>, V)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// The first line of a span: a whole table is pointed at by its header line, not boxed.
pub fn first_line(src: &str, span: Range<usize>) -> Range<usize> {
    let start = span.start.min(src.len());
    let end = src
        .get(start..)
        .and_then(|rest| rest.find('\n'))
        .map_or(span.end, |i| start + i);
    start..end.min(span.end).max(start)
}

/// The span of `key` in `key = value`, given the value's span (falls back to the value).
pub fn key_span(src: &str, value: Range<usize>, key: &str) -> Range<usize> {
    let before = src.get(..value.start).unwrap_or("");
    match before.rfind(key) {
        Some(i)
            if before[i + key.len()..]
                .trim()
                .trim_end_matches('=')
                .trim()
                .is_empty() =>
        {
            i..i + key.len()
        }
        _ => value,
    }
}

/// An error at an optional span with an optional hint (empty = none).
pub fn error_at(
    file: &str,
    span: Option<Range<usize>>,
    message: impl Into<String>,
    hint: &str,
) -> Diagnostic {
    let mut d = Diagnostic::new(file, message);
    if let Some(span) = span {
        d = d.at(span);
    }
    if !hint.is_empty() {
        d = d.hint(hint);
    }
    d
}

/// A problem found while validating, before it becomes a [`Diagnostic`]: where it is, the
/// message and the hint.
pub type Problem = (Range<usize>, String, String);

/// How one kind of id (a rule's, a scorecard's) is checked and explained.
pub struct IdKind<'a> {
    /// The word in messages: "rule", "scorecard".
    pub word: &'a str,
    /// A valid id, suggested when the written one keeps no usable character: "health-red".
    pub example: &'a str,
    /// The hint when the `id` is missing.
    pub missing_hint: &'a str,
    /// The hint's end, after "first defined at FILE:LINE:COL; ", when the id is already used.
    pub taken_hint: &'a str,
}

/// Checks an `id`: present (else reported at `header`), valid ([`invalid_id`]) and not yet in
/// `seen`, which maps the ids met so far to where they were first defined.
pub fn check_id<'v>(
    id: Option<&'v Spanned<String>>,
    header: Range<usize>,
    kind: &IdKind,
    seen: &HashMap<String, String>,
) -> Result<&'v Spanned<String>, Problem> {
    let Some(id) = id else {
        let message = format!("this {} has no `id`", kind.word);
        return Err((header, message, kind.missing_hint.to_string()));
    };
    let text = id.get_ref();
    if let Some((message, hint)) = invalid_id(kind.word, text, kind.example) {
        return Err((id.span(), message, hint));
    }
    match seen.get(text) {
        Some(first) => Err((
            id.span(),
            format!("{} id `{text}` is already used", kind.word),
            format!("first defined at {first}; {}", kind.taken_hint),
        )),
        None => Ok(id),
    }
}

/// Why `text` is not a valid id of a `kind` ("rule", "scorecard"): ids are non-empty and made
/// of a-z, 0-9, `-` and `_`. The message, and a hint suggesting the id with its characters
/// fixed (lowercase, spaces as `-`), or `example` when nothing is left; `None` when valid.
pub fn invalid_id(kind: &str, text: &str, example: &str) -> Option<(String, String)> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if !text.is_empty() && text.chars().all(allowed) {
        return None;
    }
    let fixed: String = text
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_whitespace() { '-' } else { c })
        .filter(|c| allowed(*c))
        .collect();
    let hint = if fixed.is_empty() {
        format!("use lowercase letters, digits, `-` and `_`, like \"{example}\"")
    } else {
        format!("use lowercase letters, digits, `-` and `_`: did you mean \"{fixed}\"?")
    };
    let message = if text.is_empty() {
        format!("a {kind} id cannot be empty")
    } else {
        format!("{kind} id `{text}` has characters other than a-z, 0-9, `-` and `_`")
    };
    Some((message, hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct T {
        a: Number,
        b: Number,
        c: Number,
        d: Number,
        e: Number,
    }

    #[test]
    fn numbers_stay_exact() {
        let t: T = toml::from_str("a = 1.08\nb = 7\nc = \" 0.1 \"\nd = 'x'\ne = 1e300\n").unwrap();
        assert_eq!(t.a.decimal(), Ok(dec!(1.08)));
        assert_eq!(t.b.decimal(), Ok(dec!(7)));
        assert_eq!(t.c.decimal(), Ok(dec!(0.1)));
        assert_eq!(t.d.decimal(), Err("is not a number: \"x\""));
        assert!(t.e.decimal().is_err());
        assert_eq!(t.b.integer(1, 10), Ok(7));
        assert!(t.a.integer(1, 10).is_err());
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let e = parse::<T>("a = 1\nbb = 2\n", "f.toml").unwrap_err();
        let d = e.iter().next().unwrap();
        assert_eq!(d.message, "unknown key `bb`");
        assert_eq!(d.hint.as_deref(), Some("did you mean `b`?"));
        assert_eq!(d.span, Some(6..8));
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Source {
        kind: String,
        api_key: Option<String>,
        token: Option<String>,
    }

    #[test]
    fn a_secret_breaking_the_syntax_is_hidden() {
        for src in [
            "kind = \"stripe\"\napi_key = sk_live_pasted # mine\n",
            "kind = \"stripe\"\napi_key = \"sk_live_pasted\n",
            "kind = \"x\"\ntoken = 123456789\n",
        ] {
            let e = parse::<Source>(src, "config.toml").unwrap_err();
            let shown = e.to_string();
            assert!(!shown.contains("sk_live_pasted"), "{shown}");
            assert!(!shown.contains("123456789"), "{shown}");
            assert!(shown.contains("config.toml:2:"), "{shown}");
        }
        // Other keys keep their value and caret.
        let e = parse::<Source>("kind = stripe\n", "config.toml").unwrap_err();
        assert!(e.to_string().contains("kind = stripe"));
    }
}
