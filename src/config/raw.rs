//! The configuration file exactly as written: serde structs mirroring the TOML, unknown keys
//! rejected, spans kept for validation. Nothing here is checked beyond TOML's own types; see
//! [`super::Config`] for the validated form.
//!
//! Strings that hold `${ENV_VAR}` secrets (tokens, webhook URLs) stay plain `Spanned<String>`
//! here; validation checks their form, with a span, and the value is read from the environment
//! only when a channel is built (so commands that never post need no tokens).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub use super::jobs::RawJob;
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
    pub owners: BTreeMap<Spanned<String>, Spanned<RawOwner>>,
    #[serde(default)]
    pub data_quality: RawDataQuality,
    #[serde(default)]
    pub jobs: BTreeMap<Spanned<String>, Spanned<RawJob>>,
    pub server: Option<Spanned<RawServer>>,
    #[serde(default)]
    pub chat: RawChat,
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

    // Network sources (`stripe`, `hubspot`, `http_json`): see `src/config/sources/network.rs`.
    /// The API's base URL (a local server in tests; the provider's by default).
    pub base_url: Option<Spanned<String>>,
    /// Client-side rate limit, like `"100/s"` or `"100/10s"` (the provider's documented limit
    /// by default).
    pub rate_limit: Option<Spanned<String>>,
    /// Requests in flight at once.
    pub concurrency: Option<Spanned<Number>>,
    /// Retries of a request answered 429, 5xx or not at all, before the sync fails.
    pub max_retries: Option<Spanned<Number>>,
    /// Time allowed for one request, like `"30s"`.
    pub timeout: Option<Spanned<String>>,
    /// How often an incremental source runs a full sync (to see deletions), like `"7d"`.
    pub full_sync_every: Option<Spanned<String>>,
    /// `stripe`: `${ENV}` holding the restricted API key.
    pub api_key: Option<Spanned<String>>,
    /// `hubspot`, `http_json`: `${ENV}` holding the token.
    pub token: Option<Spanned<String>>,
    /// `stripe`, `hubspot`: which value is the account id shared with other sources.
    pub account_key: Option<Spanned<String>>,
    /// `hubspot`: canonical account field -> company property.
    pub properties: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    /// `hubspot`: company properties kept as custom fields.
    pub custom_properties: Option<Spanned<Vec<Spanned<String>>>>,
    /// `hubspot`: the deal pipeline whose deals are renewals.
    pub renewal_pipeline: Option<Spanned<String>>,
    /// `hubspot`: deal stage id -> `renewed`, `churned` or `pending`.
    pub stages: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    /// `hubspot`: a custom object holding daily usage.
    pub usage_object: Option<Spanned<String>>,
    /// `hubspot`: canonical usage field -> property of the usage object.
    pub usage_properties: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    /// `http_json`: the URL of the first page.
    pub url: Option<Spanned<String>>,
    /// `http_json`: the header carrying the token (`Authorization` by default).
    pub auth_header: Option<Spanned<String>>,
    /// `http_json`: the word before the token (`Bearer` by default; `""` for none).
    pub auth_scheme: Option<Spanned<String>>,
    /// `http_json`: `none`, `cursor`, `page` or `link`.
    pub pagination: Option<Spanned<String>>,
    /// `http_json`: where the next cursor is in a response (a path).
    pub cursor_path: Option<Spanned<String>>,
    /// `http_json`: the query parameter that sends the cursor back.
    pub cursor_param: Option<Spanned<String>>,
    /// `http_json`: the query parameter of the page number.
    pub page_param: Option<Spanned<String>>,
    /// `http_json`: the query parameter of the page size.
    pub page_size_param: Option<Spanned<String>>,
    /// `http_json`: records per page.
    pub page_size: Option<Spanned<Number>>,
    /// `http_json`: fixed query parameters sent with every request.
    pub query: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    /// `http_json`: where the records are in a response (a path; the whole body by default).
    pub records: Option<Spanned<String>>,
    /// `http_json`: the canonical record kind each JSON record becomes.
    pub record: Option<Spanned<String>>,
    /// `http_json`: canonical field -> path in the JSON record.
    pub fields: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub paths: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One `[channels.NAME]` table. Every kind's keys are listed, all optional, so that a key of
/// another kind is reported by validation with its span, like [`RawSource`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    pub kind: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    /// `discord`: the channel id (a snowflake, as a string or an integer).
    pub channel_id: Option<Spanned<Snowflake>>,
    /// `discord`, `slack` (bot): `${ENV}` holding the bot token.
    pub token: Option<Spanned<String>>,
    /// `discord`, `slack` (bot): the API's base URL when not the platform's own.
    pub api_base: Option<Spanned<String>>,
    /// `discord_webhook`, `slack` (incoming webhook), `webhook`: where to post.
    pub url: Option<Spanned<String>>,
    /// `slack` (bot): the channel id, like `C0123456789`.
    pub channel: Option<Spanned<String>>,
    /// `webhook`: `${ENV}` holding the HMAC-SHA256 signing key.
    pub signing_secret: Option<Spanned<String>>,
}

/// A Discord id, written as a string (`"123"`) or an integer.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Snowflake {
    Text(String),
    Number(i64),
}

impl Snowflake {
    /// The id, when it is a positive number that fits 64 bits.
    pub fn id(&self) -> Option<u64> {
        match self {
            Snowflake::Text(t) => t.trim().parse::<u64>().ok(),
            Snowflake::Number(n) => u64::try_from(*n).ok(),
        }
        .filter(|id| *id > 0)
    }
}

/// One `[owners."Name"]` table: the owner's ids on each platform.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOwner {
    pub discord: Option<Spanned<Snowflake>>,
    pub slack: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDataQuality {
    pub max_age: Option<Spanned<String>>,
    pub min_accounts_ratio: Option<Spanned<Number>>,
    pub enabled: Option<bool>,
}

/// `[server]`: the HTTP server of `cs-pulse run`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// A socket address, like `127.0.0.1:8080`.
    pub listen: Option<Spanned<String>>,
}

/// `[chat]`: one table per platform whose commands cs-pulse answers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChat {
    pub discord: Option<Spanned<RawDiscordChat>>,
    pub slack: Option<Spanned<RawSlackChat>>,
}

/// `[chat.discord]` as written; every key optional so that validation reports each missing one
/// with the table's span.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiscordChat {
    pub application_id: Option<Spanned<Snowflake>>,
    pub guild_id: Option<Spanned<Snowflake>>,
    /// `${ENV}` holding the bot token.
    pub token: Option<Spanned<String>>,
    /// `gateway` (default) or `http`.
    pub mode: Option<Spanned<String>>,
    /// 64 hex characters; required with `mode = "http"`.
    pub public_key: Option<Spanned<String>>,
    pub api_base: Option<Spanned<String>>,
    /// Role ids that may see revenue figures; absent = everyone.
    pub revenue_roles: Option<Spanned<Vec<Spanned<Snowflake>>>>,
    /// Role ids that may snooze and acknowledge; absent = everyone.
    pub act_roles: Option<Spanned<Vec<Spanned<Snowflake>>>>,
}

/// `[chat.slack]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlackChat {
    /// `${ENV}` holding the app's signing secret.
    pub signing_secret: Option<Spanned<String>>,
    /// User (`U…`, `W…`) or user-group (`S…`) ids that may see revenue figures.
    pub revenue_users: Option<Spanned<Vec<Spanned<String>>>>,
    /// User or user-group ids that may snooze and acknowledge.
    pub act_users: Option<Spanned<Vec<Spanned<String>>>>,
}

impl RawSource {
    /// Every key of the table with the span of its value when present (for reporting keys of
    /// another kind).
    pub fn present(&self) -> Vec<(&'static str, Option<std::ops::Range<usize>>)> {
        fn at<T>(v: &Option<Spanned<T>>) -> Option<std::ops::Range<usize>> {
            v.as_ref().map(Spanned::span)
        }
        vec![
            ("path", at(&self.path)),
            ("accounts", at(&self.accounts)),
            ("seed", at(&self.seed)),
            ("months", at(&self.months)),
            ("base_url", at(&self.base_url)),
            ("rate_limit", at(&self.rate_limit)),
            ("concurrency", at(&self.concurrency)),
            ("max_retries", at(&self.max_retries)),
            ("timeout", at(&self.timeout)),
            ("full_sync_every", at(&self.full_sync_every)),
            ("api_key", at(&self.api_key)),
            ("token", at(&self.token)),
            ("account_key", at(&self.account_key)),
            ("properties", at(&self.properties)),
            ("custom_properties", at(&self.custom_properties)),
            ("renewal_pipeline", at(&self.renewal_pipeline)),
            ("stages", at(&self.stages)),
            ("usage_object", at(&self.usage_object)),
            ("usage_properties", at(&self.usage_properties)),
            ("url", at(&self.url)),
            ("auth_header", at(&self.auth_header)),
            ("auth_scheme", at(&self.auth_scheme)),
            ("pagination", at(&self.pagination)),
            ("cursor_path", at(&self.cursor_path)),
            ("cursor_param", at(&self.cursor_param)),
            ("page_param", at(&self.page_param)),
            ("page_size_param", at(&self.page_size_param)),
            ("page_size", at(&self.page_size)),
            ("query", at(&self.query)),
            ("records", at(&self.records)),
            ("record", at(&self.record)),
            ("fields", at(&self.fields)),
        ]
    }
}
