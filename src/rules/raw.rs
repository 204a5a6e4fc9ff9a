//! A rule file exactly as written: serde structs mirroring the TOML, unknown keys rejected, every
//! value that validation may complain about kept with its span. Nothing is checked here beyond
//! TOML's own types; [`super::load`] validates into [`super::model::Rule`]s.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::config::toml_file::{self, Number};
use crate::diagnostics::Diagnostics;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRuleFile {
    #[serde(default)]
    pub rule: Vec<Spanned<RawRule>>,
}

impl RawRuleFile {
    /// Deserializes the text of a rule file; a TOML syntax, type or unknown-key error stops it.
    pub fn parse(src: &str, file: &str) -> Result<RawRuleFile, Diagnostics> {
        toml_file::parse(src, file)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub id: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub scope: Option<Spanned<String>>,
    pub severity: Option<Spanned<String>>,
    pub route: Option<Spanned<Vec<Spanned<String>>>>,
    pub window: Option<Spanned<Word>>,
    #[serde(rename = "match")]
    pub match_: Option<Spanned<String>>,
    #[serde(rename = "for")]
    pub for_: Option<Spanned<Word>>,
    pub repeat: Option<Spanned<Word>>,
    pub message: Option<Spanned<String>>,
    pub resolved_message: Option<Spanned<String>>,
    pub filter: Option<Spanned<RawFilter>>,
    #[serde(default)]
    pub condition: Vec<Spanned<RawCondition>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFilter {
    pub segment: Option<Spanned<StringList>>,
    pub owner: Option<Spanned<StringList>>,
    pub plan: Option<Spanned<StringList>>,
    #[serde(default)]
    pub custom: BTreeMap<Spanned<String>, Spanned<Word>>,
    pub min_mrr: Option<Spanned<Number>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    pub metric: Option<Spanned<String>>,
    pub band: Option<Spanned<StringList>>,
    pub below: Option<Spanned<Number>>,
    pub above: Option<Spanned<Number>>,
    pub resolve_above: Option<Spanned<Number>>,
    pub resolve_below: Option<Spanned<Number>>,
    pub window: Option<Spanned<Word>>,
}

/// A string, or a number or boolean written where a string was expected (`for = 0`,
/// `window = 30`, `custom = { tier = 1 }`), kept as its text so that validation can accept it or
/// explain with a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Word {
    Text(String),
    /// A number or boolean, as written.
    Bare(String),
}

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Word, D::Error> {
        deserializer.deserialize_any(WordVisitor)
    }
}

struct WordVisitor;

impl Visitor<'_> for WordVisitor {
    type Value = Word;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Word, E> {
        Ok(Word::Text(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Word, E> {
        Ok(Word::Bare(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Word, E> {
        Ok(Word::Bare(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Word, E> {
        Ok(Word::Bare(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Word, E> {
        Ok(Word::Bare(v.to_string()))
    }
}

/// One string or a list of strings (`segment = "Enterprise"` or `segment = ["SMB", "Mid"]`),
/// each with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct StringList(pub Vec<Spanned<String>>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StringList, D::Error> {
        deserializer.deserialize_any(StringListVisitor)
    }
}

struct StringListVisitor;

impl<'de> Visitor<'de> for StringListVisitor {
    type Value = StringList;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    /// A single string has no span of its own here; the caller uses the value's span.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<StringList, E> {
        Ok(StringList(vec![Spanned::new(0..0, v.to_string())]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
        let mut out = Vec::new();
        while let Some(s) = seq.next_element::<Spanned<String>>()? {
            out.push(s);
        }
        Ok(StringList(out))
    }
}
