//! The configuration file exactly as written: serde structs mirroring the TOML, unknown keys
//! rejected, spans kept for validation. Nothing here is checked beyond TOML's own types; see
//! [`super::Config`] for the validated form.
//!
//! Strings that will be allowed to hold `${ENV_VAR}` secrets (API keys, webhook URLs) stay plain
//! `Spanned<String>` here; the validation step resolves them, so the span of a missing variable
//! can be reported like any other error.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::toml_file::Number;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub timezone: Option<Spanned<String>>,
    pub reporting_currency: Option<Spanned<String>>,
    #[serde(default)]
    pub fx: BTreeMap<Spanned<String>, Spanned<Number>>,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub health: RawHealth,
    #[serde(default)]
    pub sources: BTreeMap<Spanned<String>, Spanned<RawSource>>,
    #[serde(default)]
    pub rules: RawRules,
    #[serde(default)]
    pub channels: BTreeMap<Spanned<String>, Spanned<RawChannel>>,
    #[serde(default)]
    pub data_quality: RawDataQuality,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub path: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub gross_margin: Option<Spanned<Number>>,
    pub ltv_months: Option<Spanned<Number>>,
    pub features_available: Option<Spanned<Number>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub model: Option<Spanned<String>>,
}

/// One `[sources.NAME]` table. Every kind's keys are listed here, all optional, so that a
/// missing `kind`, an unknown kind or a key of another kind is reported by validation, with its
/// span, alongside every other error. A new source kind adds its keys here.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub kind: Option<Spanned<String>>,
    /// `files`: the directory of CSV files.
    pub path: Option<Spanned<String>>,
    /// `demo`: number of generated accounts.
    pub accounts: Option<Spanned<Number>>,
    /// `demo`: random seed.
    pub seed: Option<Spanned<Number>>,
    /// `demo`: months of generated history.
    pub months: Option<Spanned<Number>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub paths: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One `[channels.NAME]` table. Only `kind` and `description` for now; the delivery settings of
/// each kind (webhook URLs, tokens as `${ENV}`) will be added here, all optional, like
/// [`RawSource`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    pub kind: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDataQuality {
    pub max_age: Option<Spanned<String>>,
    pub min_accounts_ratio: Option<Spanned<Number>>,
    pub enabled: Option<bool>,
}
