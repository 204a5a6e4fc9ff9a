//! The configuration file (`cs-pulse.toml`): read raw ([`raw`]), then validated into a typed
//! [`Config`] by a pure function that reports every problem at once, each with its span and a hint
//! (DESIGN.md, habits 1 and 2). `config.example.toml` at the repository root shows every key.
//!
//! Relative paths are resolved against the directory of the config file, so the same file works
//! from any working directory. Validation never touches the disk: a source directory or a health
//! model file that does not exist is reported when it is used (`check`, `sync`), not here.

mod channels;
mod chat;
pub mod duration;
mod jobs;
pub mod raw;
pub mod route;
pub mod secret;
mod sources;
pub mod toml_file;

pub use channels::{
    ChannelConfig, ChannelKind, ChannelSettings, DiscordSettings, OwnerIds, Owners, SlackSettings,
    WebhookSettings, WebhookUrl,
};
pub use chat::{Access, Audience, ChatConfig, DiscordChat, DiscordMode, ServerConfig, SlackChat};
pub use jobs::{
    JobConfig, JobKind, DEFAULT_GRACE_EVALUATE, DEFAULT_GRACE_SCORECARD, DEFAULT_GRACE_SYNC,
};
pub use secret::{MissingSecret, Secret};

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use toml::Spanned;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::metrics::MetricsConfig;
use crate::model::{Currency, FxRates, MAX_FX_RATE};
use crate::sources::SourceContext;
use raw::{RawConfig, RawDataQuality, RawSource};
use toml_file::Number;

/// Where the store goes when `[store] path` is not set.
pub const DEFAULT_STORE_PATH: &str = "cs-pulse.db";
/// Which health model file is used when `[health] model` is not set.
pub const DEFAULT_HEALTH_MODEL_PATH: &str = "rules/health.toml";
/// Where rule files are read from when `[rules] paths` is not set.
pub const DEFAULT_RULES_PATH: &str = "rules/";
/// The channel that exists when no `[channels.NAME]` is configured.
pub const DEFAULT_CHANNEL: &str = "console";

/// The validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Business timezone: dates are calendar dates here (`timezone`, default UTC).
    pub timezone: Tz,
    /// The SQLite file, resolved against the config file's directory.
    pub store_path: PathBuf,
    /// What the metric definitions depend on (fx, gross margin, ltv months, features).
    pub metrics: MetricsConfig,
    /// The health model file, resolved against the config file's directory; loaded by `check`
    /// and by the commands that compute health.
    pub health_model: PathBuf,
    /// True when `[health] model` is not set: then, if the default file does not exist, the
    /// built-in model is used, so that a config.toml alone is enough.
    pub health_model_is_default: bool,
    /// Every `[sources.NAME]` table, in file order.
    pub sources: Vec<SourceConfig>,
    /// Rule files and directories (`[rules] paths`), resolved against the config file's
    /// directory; a directory means every `*.toml` in it but rule tests and the health model.
    pub rules_paths: Vec<PathBuf>,
    /// Every `[channels.NAME]` table, in file order; one `console` channel when none is set.
    pub channels: Vec<ChannelConfig>,
    /// How to mention account owners on each platform (`[owners."Name"]`).
    pub owners: Owners,
    /// When a source's data is too stale or too thin for the rules that read it.
    pub data_quality: DataQualityConfig,
    /// Every `[jobs.NAME]` table, in file order: what `cs-pulse run` does on a schedule.
    pub jobs: Vec<JobConfig>,
    /// `[chat]`: the slash commands and buttons cs-pulse answers, and who may do what.
    pub chat: ChatConfig,
    /// `[server]`: the HTTP server of `cs-pulse run`; none when absent.
    pub server: Option<ServerConfig>,
}

/// The data-quality guard (`[data_quality]`): rules reading a source whose data is suspect hold
/// their state, and one warning says why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataQualityConfig {
    /// A source whose last good sync is older than this is stale. Default 36 hours.
    pub max_age: chrono::Duration,
    /// A sync returning fewer than this fraction of the previous good sync's accounts is
    /// suspect. Default 0.8.
    pub min_accounts_ratio: Decimal,
    /// False turns the guard off. Default true.
    pub enabled: bool,
}

impl Default for DataQualityConfig {
    fn default() -> DataQualityConfig {
        DataQualityConfig {
            max_age: chrono::Duration::hours(36),
            min_accounts_ratio: dec!(0.8),
            enabled: true,
        }
    }
}

/// One configured source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    /// The key of `[sources.NAME]`.
    pub name: String,
    pub kind: SourceKind,
}

/// What a source reads, with its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A directory of CSV files, one per record kind (METRICS.md).
    Files { dir: PathBuf },
    /// Generated, realistic-looking data; the same seed gives the same data.
    Demo {
        accounts: u32,
        seed: u64,
        months: u32,
    },
    /// Stripe's API: customers, subscriptions, prices, discounts and invoices.
    Stripe(crate::sources::stripe::Settings),
    /// HubSpot's CRM API: companies, owners, renewal deals, optional usage objects.
    Hubspot(crate::sources::hubspot::Settings),
    /// Any JSON API, mapped to one canonical record kind.
    HttpJson(crate::sources::http_json::Settings),
}

impl SourceKind {
    /// The `demo` source's settings when its keys are left out.
    pub const DEMO_DEFAULT: SourceKind = SourceKind::Demo {
        accounts: DEMO_ACCOUNTS,
        seed: DEMO_SEED,
        months: DEMO_MONTHS,
    };

    /// The secret the source reads from the environment (an API key or token), if any.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            SourceKind::Files { .. } | SourceKind::Demo { .. } => None,
            SourceKind::Stripe(s) => Some(&s.api_key),
            SourceKind::Hubspot(s) => Some(&s.token),
            SourceKind::HttpJson(s) => s.token.as_ref(),
        }
    }

    /// The word used for this kind in `kind = "..."`.
    pub fn word(&self) -> &'static str {
        match self {
            SourceKind::Files { .. } => "files",
            SourceKind::Demo { .. } => "demo",
            SourceKind::Stripe(_) => "stripe",
            SourceKind::Hubspot(_) => "hubspot",
            SourceKind::HttpJson(_) => "http_json",
        }
    }
}

const DEMO_ACCOUNTS: u32 = 500;
const DEMO_SEED: u64 = 42;
const DEMO_MONTHS: u32 = 24;

/// Every source kind with the keys its table takes (besides `kind`).
const SOURCE_KINDS: &[(&str, &[&str])] = &[
    ("files", &["path"]),
    ("demo", &["accounts", "seed", "months"]),
    (
        "stripe",
        &[
            "api_key",
            "account_key",
            "base_url",
            "rate_limit",
            "concurrency",
            "max_retries",
            "timeout",
            "full_sync_every",
        ],
    ),
    (
        "hubspot",
        &[
            "token",
            "account_key",
            "properties",
            "custom_properties",
            "renewal_pipeline",
            "stages",
            "usage_object",
            "usage_properties",
            "base_url",
            "rate_limit",
            "concurrency",
            "max_retries",
            "timeout",
            "full_sync_every",
        ],
    ),
    (
        "http_json",
        &[
            "url",
            "token",
            "auth_header",
            "auth_scheme",
            "pagination",
            "cursor_path",
            "cursor_param",
            "page_param",
            "page_size_param",
            "page_size",
            "query",
            "records",
            "record",
            "fields",
            "rate_limit",
            "concurrency",
            "max_retries",
            "timeout",
        ],
    ),
];

/// The keys one kind of table takes, for reporting the keys of another kind ([`Validator`]'s
/// `foreign_keys`).
struct KindKeys<'k> {
    /// What the table is: "channel", "job", "source".
    table: &'k str,
    /// The kind's word in `kind = "..."`: "discord", "sync", "files".
    word: &'k str,
    /// The keys every kind of the table takes, listed first.
    common: &'k [&'k str],
    /// The keys of this kind.
    own: &'k [&'k str],
    /// Every kind's word with its own keys, to say which kind a key belongs to (empty: not said).
    owners: &'k [(&'k str, &'k [&'k str])],
}

/// `a`, `b`, `c`: words as a hint lists them.
fn quoted_list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read {}: {source}{}", .path.display(), read_hint(.source))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read and has errors; every one is listed.
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
}

fn read_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::NotFound {
        " — create one from config.example.toml"
    } else {
        ""
    }
}

impl Default for Config {
    /// Every default, no sources, paths relative to the working directory.
    fn default() -> Config {
        Config {
            timezone: Tz::UTC,
            store_path: PathBuf::from(DEFAULT_STORE_PATH),
            metrics: MetricsConfig::default(),
            health_model: PathBuf::from(DEFAULT_HEALTH_MODEL_PATH),
            health_model_is_default: true,
            sources: vec![],
            rules_paths: vec![PathBuf::from(DEFAULT_RULES_PATH)],
            channels: vec![ChannelConfig::default_console()],
            owners: Owners::new(),
            data_quality: DataQualityConfig::default(),
            jobs: vec![],
            chat: ChatConfig::default(),
            server: None,
        }
    }
}

impl Config {
    /// The configuration of the `demo` command, which needs no file: UTC, USD with EUR at 1.08,
    /// one `demo` source with its default settings, the rules of `rules/` routed to the default
    /// `console` channel.
    pub fn demo(store_path: impl Into<PathBuf>) -> Config {
        Config {
            store_path: store_path.into(),
            metrics: MetricsConfig {
                fx: crate::sources::demo::demo_fx(),
                features_available: Some(crate::sources::demo::FEATURES_AVAILABLE),
                ..MetricsConfig::default()
            },
            sources: vec![SourceConfig {
                name: "demo".to_string(),
                kind: SourceKind::DEMO_DEFAULT,
            }],
            ..Config::default()
        }
    }

    /// Reads and validates the file at `path`; relative paths in it resolve against its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        Ok(Config::parse(&src, path, base)?)
    }

    /// Validates the text of a config file (pure: nothing is read). `file` names it in
    /// diagnostics; relative paths resolve against `base_dir`.
    pub fn parse(src: &str, file: &Path, base_dir: &Path) -> Result<Config, Diagnostics> {
        let name = file.display().to_string();
        let raw: RawConfig = toml_file::parse(src, &name)?;
        let mut v = Validator {
            file: name.clone(),
            src,
            base_dir,
            diags: Diagnostics::for_source(name, src),
        };
        let config = v.config(raw);
        v.diags.into_result(config)
    }

    /// The reporting currency and exchange rates.
    pub fn fx(&self) -> &FxRates {
        &self.metrics.fx
    }

    /// The names of the configured channels, which rules may name in `route`.
    pub fn channel_names(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.name.clone()).collect()
    }

    /// What sources need to turn their input into records.
    pub fn source_context(&self) -> SourceContext {
        SourceContext {
            timezone: self.timezone,
            fx: self.fx().clone(),
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceKind::Files { dir } => write!(f, "files in {}", dir.display()),
            SourceKind::Demo {
                accounts,
                seed,
                months,
            } => write!(
                f,
                "demo data: {accounts} accounts, {months} months, seed {seed}"
            ),
            SourceKind::Stripe(s) => write!(f, "Stripe at {}", s.network.base_url),
            SourceKind::Hubspot(s) => write!(f, "HubSpot at {}", s.network.base_url),
            SourceKind::HttpJson(s) => write!(
                f,
                "JSON from {}",
                crate::sources::http_json::paging::hide_query_values(&s.url)
            ),
        }
    }
}

/// Collects every error while building a [`Config`] from a [`RawConfig`].
struct Validator<'a> {
    file: String,
    src: &'a str,
    base_dir: &'a Path,
    diags: Diagnostics,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(
            Diagnostic::new(&self.file, message)
                .at(span)
                .maybe_hint(hint),
        );
    }

    /// A `${ENV}` reference to a secret. Anything else is refused, and shown concealed in the
    /// error: it may be the secret itself, pasted into the file.
    fn secret_ref(&mut self, v: &Spanned<String>, key: &str, example_var: &str) -> Option<Secret> {
        let secret = Secret::parse(v.get_ref());
        if secret.is_none() {
            self.diags.push(
                Diagnostic::new(
                    &self.file,
                    format!("`{key}` must name an environment variable, not hold the secret itself"),
                )
                .at(v.span())
                .hint(format!(
                    "write `{key} = \"${{{example_var}}}\"` and set {example_var} in the service's environment"
                ))
                .concealed(),
            );
        }
        secret
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let defaults = Config::default();
        let timezone = raw
            .timezone
            .as_ref()
            .and_then(|tz| self.timezone(tz))
            .unwrap_or(defaults.timezone);
        let fx = self.fx(&raw);
        let store_path = match &raw.store.path {
            Some(p) => self.path(p, "store path"),
            None => self.base_dir.join(DEFAULT_STORE_PATH),
        };
        let health_model = match &raw.health.model {
            Some(p) => self.path(p, "health model path"),
            None => self.base_dir.join(DEFAULT_HEALTH_MODEL_PATH),
        };
        let metrics = self.metrics(&raw.metrics, fx);
        let sources: Vec<SourceConfig> = toml_file::in_file_order(raw.sources)
            .into_iter()
            .filter_map(|(name, table)| self.source(name, table))
            .collect();
        let rules_paths = match &raw.rules.paths {
            Some(list) => list
                .get_ref()
                .iter()
                .map(|p| self.path(p, "rules path"))
                .collect(),
            None => vec![self.base_dir.join(DEFAULT_RULES_PATH)],
        };
        let mut channels: Vec<ChannelConfig> = toml_file::in_file_order(raw.channels)
            .into_iter()
            .filter_map(|(name, table)| self.channel(name, table))
            .collect();
        if channels.is_empty() {
            channels.push(ChannelConfig::default_console());
        }
        let owners = self.owners(raw.owners);
        let data_quality = self.data_quality(&raw.data_quality);
        let jobs = self.jobs(raw.jobs, timezone, &sources);
        let has_server = raw.server.is_some();
        let server = self.server(raw.server);
        let chat = self.chat(raw.chat, has_server);
        Config {
            timezone,
            store_path,
            metrics,
            health_model_is_default: raw.health.model.is_none(),
            health_model,
            sources,
            rules_paths,
            channels,
            owners,
            data_quality,
            jobs,
            chat,
            server,
        }
    }

    fn data_quality(&mut self, raw: &RawDataQuality) -> DataQualityConfig {
        let defaults = DataQualityConfig::default();
        let max_age = match &raw.max_age {
            None => defaults.max_age,
            Some(text) => match duration::parse_duration(text.get_ref()) {
                Ok(d) if d > chrono::Duration::zero() => d,
                Ok(_) => {
                    self.error(
                        text.span(),
                        "max_age must be longer than 0",
                        Some(
                            "the age after which a source's last good sync is stale, like \"36h\"; set `enabled = false` to turn the guard off"
                                .to_string(),
                        ),
                    );
                    defaults.max_age
                }
                Err(e) => {
                    self.error(
                        text.span(),
                        format!("max_age `{}` {e}", text.get_ref()),
                        Some(duration::DURATION_HINT.to_string()),
                    );
                    defaults.max_age
                }
            },
        };
        const RATIO_HINT: &str = "a fraction of the previous good sync's accounts: 0.8 means a sync returning fewer than 80% of them is suspect";
        let min_accounts_ratio = match &raw.min_accounts_ratio {
            None => defaults.min_accounts_ratio,
            Some(n) => match n.get_ref().decimal() {
                Ok(v) if v > Decimal::ZERO && v <= Decimal::ONE => v,
                Ok(v) => {
                    let hint = if v > Decimal::ONE && v <= dec!(100) {
                        format!(
                            "min_accounts_ratio is a fraction, not a percentage: did you mean {}?",
                            (v / dec!(100)).normalize()
                        )
                    } else {
                        RATIO_HINT.to_string()
                    };
                    self.error(
                        n.span(),
                        format!(
                            "min_accounts_ratio must be greater than 0 and at most 1, found {v}"
                        ),
                        Some(hint),
                    );
                    defaults.min_accounts_ratio
                }
                Err(e) => {
                    self.error(
                        n.span(),
                        format!("min_accounts_ratio {e}"),
                        Some(RATIO_HINT.to_string()),
                    );
                    defaults.min_accounts_ratio
                }
            },
        };
        DataQualityConfig {
            max_age,
            min_accounts_ratio,
            enabled: raw.enabled.unwrap_or(defaults.enabled),
        }
    }

    fn timezone(&mut self, tz: &Spanned<String>) -> Option<Tz> {
        let name = tz.get_ref().trim();
        if let Ok(t) = Tz::from_str(name) {
            return Some(t);
        }
        let hint = match suggest_timezone(name) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "use an IANA timezone name, like `Europe/Berlin`, `America/New_York` or `UTC`"
                .to_string(),
        };
        self.error(
            tz.span(),
            format!("unknown timezone `{}`", tz.get_ref()),
            Some(hint),
        );
        None
    }

    fn fx(&mut self, raw: &RawConfig) -> FxRates {
        let reporting = match &raw.reporting_currency {
            Some(c) => match Currency::from_str(c.get_ref()) {
                Ok(c) => c,
                Err(e) => {
                    self.error(c.span(), e.to_string(), None);
                    Currency::USD
                }
            },
            None => Currency::USD,
        };
        let mut fx = FxRates::new(reporting);
        let mut seen: Vec<Currency> = Vec::new();
        let mut entries: Vec<_> = raw.fx.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (key, rate) in entries {
            let currency = match Currency::from_str(key.get_ref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.error(
                        key.span(),
                        e.to_string(),
                        Some(format!(
                            "each key of [fx] is a currency code; its value is how many {reporting} one unit of it is worth"
                        )),
                    );
                    None
                }
            };
            let value = match rate.get_ref().decimal() {
                Ok(v) if v > MAX_FX_RATE => {
                    self.error(
                        rate.span(),
                        format!("the exchange rate of {} is too large: {v} (at most {MAX_FX_RATE})", key.get_ref()),
                        Some(format!(
                            "a rate is how many {reporting} one unit of the currency is worth, like EUR = 1.08"
                        )),
                    );
                    None
                }
                Ok(v) if v > Decimal::ZERO => Some(v),
                Ok(v) => {
                    self.error(
                        rate.span(),
                        format!("the exchange rate of {} must be greater than 0, found {v}", key.get_ref()),
                        Some(format!(
                            "a rate is how many {reporting} one unit of the currency is worth, like EUR = 1.08"
                        )),
                    );
                    None
                }
                Err(e) => {
                    self.error(
                        rate.span(),
                        format!("the exchange rate of {} {e}", key.get_ref()),
                        Some(format!(
                            "a rate is how many {reporting} one unit of the currency is worth, like EUR = 1.08"
                        )),
                    );
                    None
                }
            };
            let Some(currency) = currency else { continue };
            if seen.contains(&currency) {
                self.error(
                    key.span(),
                    format!("{currency} has two exchange rates"),
                    Some("currency codes are case-insensitive; keep one of them".to_string()),
                );
                continue;
            }
            seen.push(currency);
            let Some(value) = value else { continue };
            if currency == reporting {
                if value != Decimal::ONE {
                    self.error(
                        rate.span(),
                        format!("{currency} is the reporting currency; its rate is always 1"),
                        Some(format!("remove `{}` from [fx]", key.get_ref())),
                    );
                }
                continue;
            }
            fx = fx.with_rate(currency, value);
        }
        fx
    }

    fn metrics(&mut self, raw: &raw::RawMetrics, fx: FxRates) -> MetricsConfig {
        let defaults = MetricsConfig::default();
        let gross_margin = match &raw.gross_margin {
            None => defaults.gross_margin,
            Some(n) => match n.get_ref().decimal() {
                Ok(v) if v > Decimal::ZERO && v <= Decimal::ONE => v,
                Ok(v) => {
                    let hint = if v > Decimal::ONE && v <= dec!(100) {
                        format!(
                            "gross_margin is a fraction, not a percentage: did you mean {}?",
                            (v / dec!(100)).normalize()
                        )
                    } else {
                        "gross_margin is a fraction: 0.8 means 80%".to_string()
                    };
                    self.error(
                        n.span(),
                        format!("gross_margin must be greater than 0 and at most 1, found {v}"),
                        Some(hint),
                    );
                    defaults.gross_margin
                }
                Err(e) => {
                    self.error(
                        n.span(),
                        format!("gross_margin {e}"),
                        Some("gross_margin is a fraction: 0.8 means 80%".to_string()),
                    );
                    defaults.gross_margin
                }
            },
        };
        let ltv_months = raw
            .ltv_months
            .as_ref()
            .and_then(|n| {
                self.integer(
                    n,
                    "ltv_months",
                    1,
                    1200,
                    "the number of calendar months whose churn rate ltv averages, like 6",
                )
            })
            .map_or(defaults.ltv_months, |v| v as u32);
        let features_available = raw.features_available.as_ref().and_then(|n| {
            self.integer(
                n,
                "features_available",
                1,
                u32::MAX as i64,
                "how many features a customer can use; leave it out to skip adoption_rate",
            )
            .map(|v| v as u32)
        });
        MetricsConfig {
            fx,
            gross_margin,
            ltv_months,
            features_available,
        }
    }

    fn integer(
        &mut self,
        n: &Spanned<Number>,
        key: &str,
        min: i64,
        max: i64,
        hint: &str,
    ) -> Option<i64> {
        match n.get_ref().integer(min, max) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(n.span(), format!("{key} {e}"), Some(hint.to_string()));
                None
            }
        }
    }

    fn path(&mut self, p: &Spanned<String>, what: &str) -> PathBuf {
        if p.get_ref().trim().is_empty() {
            self.error(
                p.span(),
                format!("the {what} is empty"),
                Some("give a path, relative to the config file's directory or absolute".into()),
            );
        }
        self.base_dir.join(p.get_ref())
    }

    fn source(&mut self, name: Spanned<String>, table: Spanned<RawSource>) -> Option<SourceConfig> {
        let header = toml_file::first_line(self.src, table.span());
        let raw = table.into_inner();
        let words: Vec<&str> = SOURCE_KINDS.iter().map(|(k, _)| *k).collect();
        let Some(kind) = &raw.kind else {
            self.missing_kind(header, "source", name.get_ref(), &words);
            return None;
        };
        let Some((word, keys)) = SOURCE_KINDS.iter().find(|(k, _)| *k == kind.get_ref()) else {
            self.unknown_kind(kind, "source", &words);
            return None;
        };
        let present = raw.present();
        let kind_keys = KindKeys {
            table: "source",
            word,
            common: &["kind"],
            own: keys,
            owners: &[],
        };
        let ok = self.foreign_keys(&kind_keys, &present);
        let kind = match *word {
            "files" => match &raw.path {
                Some(p) => {
                    let dir = self.path(p, "source directory");
                    Some(SourceKind::Files { dir })
                }
                None => {
                    self.error(
                        header,
                        format!("source `{}` has no `path`", name.get_ref()),
                        Some(
                            "a `files` source reads the CSV files of a directory: add `path = \"data/\"`"
                                .to_string(),
                        ),
                    );
                    None
                }
            },
            "stripe" => self.stripe_source(name.get_ref(), header.clone(), &raw),
            "hubspot" => self.hubspot_source(name.get_ref(), header.clone(), &raw),
            "http_json" => self.http_json_source(name.get_ref(), header.clone(), &raw),
            _ => {
                let (da, ds, dm) = (DEMO_ACCOUNTS, DEMO_SEED, DEMO_MONTHS);
                let accounts = match &raw.accounts {
                    Some(n) => self.integer(
                        n,
                        "accounts",
                        1,
                        1_000_000,
                        "the number of accounts to generate, like 500",
                    ),
                    None => Some(da as i64),
                };
                let seed = match &raw.seed {
                    Some(n) => self.integer(
                        n,
                        "seed",
                        0,
                        i64::MAX,
                        "any whole number; the same seed generates the same data",
                    ),
                    None => Some(ds as i64),
                };
                let months = match &raw.months {
                    Some(n) => self.integer(
                        n,
                        "months",
                        1,
                        120,
                        "the months of history to generate, like 24",
                    ),
                    None => Some(dm as i64),
                };
                match (accounts, seed, months) {
                    (Some(a), Some(s), Some(m)) => Some(SourceKind::Demo {
                        accounts: a as u32,
                        seed: s as u64,
                        months: m as u32,
                    }),
                    _ => None,
                }
            }
        };
        if !ok {
            return None;
        }
        kind.map(|kind| SourceConfig {
            name: name.into_inner(),
            kind,
        })
    }

    /// Reports a `[{table}s.NAME]` table without `kind`, at its `header`: "job `x` has no
    /// `kind`", with the kinds' `words`.
    fn missing_kind(&mut self, header: Range<usize>, table: &str, name: &str, words: &[&str]) {
        self.error(
            header,
            format!("{table} `{name}` has no `kind`"),
            Some(format!("add `kind = ...`, one of {}", quoted_list(words))),
        );
    }

    /// Reports a `kind` that is none of the `words` of a `table` ("channel", "job", "source"),
    /// with the closest word or, when none is close, every word.
    fn unknown_kind(&mut self, kind: &Spanned<String>, table: &str, words: &[&str]) {
        let hint = match toml_file::closest(kind.get_ref(), words.iter().copied()) {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!("the {table} kinds are {}", quoted_list(words)),
        };
        self.error(
            kind.span(),
            format!("unknown {table} kind `{}`", kind.get_ref()),
            Some(hint),
        );
    }

    /// Reports each key of `present` (with its value's span, when set) that the `kind` does not
    /// take: "`url` is not a setting of a `console` channel", with the keys it takes. Returns
    /// whether there was none.
    fn foreign_keys(&mut self, kind: &KindKeys, present: &[(&str, Option<Range<usize>>)]) -> bool {
        let mut ok = true;
        for (key, span) in present {
            let Some(value_span) = span else { continue };
            if kind.own.contains(key) {
                continue;
            }
            ok = false;
            let takes: Vec<&str> = kind.common.iter().chain(kind.own).copied().collect();
            let owner = kind
                .owners
                .iter()
                .find(|(_, keys)| keys.contains(key))
                .map_or(String::new(), |(w, _)| {
                    format!("; `{key}` is for `{w}` {}s", kind.table)
                });
            let (table, word) = (kind.table, kind.word);
            self.error(
                self.key_span(value_span.clone(), key),
                format!("`{key}` is not a setting of a `{word}` {table}"),
                Some(format!(
                    "a `{word}` {table} takes {}{owner}",
                    quoted_list(&takes)
                )),
            );
        }
        ok
    }

    /// The span of `key` in `key = value`, given the value's span (falls back to the value).
    fn key_span(&self, value: Range<usize>, key: &str) -> Range<usize> {
        toml_file::key_span(self.src, value, key)
    }
}

/// The timezone a mistyped name most likely meant: a different case, a city without its region
/// (`Berlin`), or a close spelling.
pub fn suggest_timezone(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    if let Some(n) = names.clone().find(|n| n.to_lowercase() == lower) {
        return Some(n);
    }
    let city = lower.replace(' ', "_");
    if let Some(n) = names.clone().find(|n| {
        n.rsplit('/')
            .next()
            .is_some_and(|c| c.to_lowercase() == city)
    }) {
        return Some(n);
    }
    toml_file::closest(name, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezone_suggestions() {
        assert_eq!(suggest_timezone("europe/berlin"), Some("Europe/Berlin"));
        assert_eq!(suggest_timezone("Berlin"), Some("Europe/Berlin"));
        assert_eq!(suggest_timezone("Europe/Berln"), Some("Europe/Berlin"));
        assert_eq!(suggest_timezone("New York"), Some("America/New_York"));
    }
}
