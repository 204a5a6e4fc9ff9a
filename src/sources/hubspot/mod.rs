//! The `hubspot` source: a HubSpot account's CRM (API v3) as canonical records.
//!
//! Companies become accounts (with configured properties for owner, segment, plan, dates and
//! seats, owners resolved to their names), the deals of a renewal pipeline become renewals, and
//! an optional custom object holds daily usage. A full sync lists every object with cursor
//! pagination (`paging.next.after`); an incremental sync asks the search API for what changed
//! since the last good sync (`hs_lastmodifieddate`) and applies it to the stored data, falling
//! back to the full list when the search API's 10,000-result cap would be exceeded. Deletions
//! (archived companies, deals leaving the pipeline) are seen by the periodic full sync.
//!
//! [`api`] speaks HubSpot's wire format, [`mapping`] turns objects into records (pure),
//! [`snapshot`] keeps records keyed by HubSpot ids so that changes can be applied, and
//! [`fetch`] runs one full or incremental fetch.

pub mod api;
pub mod fetch;
pub mod mapping;
pub mod snapshot;

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use indicatif::ProgressBar;

use crate::config::Secret;
use crate::model::RenewalOutcome;
use crate::sources::http::{self, RateLimit};
use crate::sources::{FetchRequest, Fetched, Source, SourceContext, SourceError};

/// HubSpot's API, when `base_url` is not set.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// The documented burst limit of a private app on a Free or Starter account: 100 requests per
/// 10 seconds (Professional and Enterprise: 190 per 10 s; with the API limit increase pack:
/// 250 per 10 s; set `rate_limit` to use those).
pub fn default_rate_limit() -> RateLimit {
    RateLimit {
        requests: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
        per: Duration::from_secs(10),
    }
}

/// The CRM search API's own documented limit (4 requests per second), on top of the burst
/// limit: the lane [`api::SEARCH_LANE`] of the client.
pub fn search_rate_limit() -> RateLimit {
    RateLimit::per_second(4)
}

/// A full sync (to see archived companies and deals that left the pipeline) at least this
/// often. A full list of 10,000 companies is about 100 requests, 10 s at the default limit.
pub const DEFAULT_FULL_SYNC_DAYS: i64 = 1;

/// The validated settings of a `hubspot` source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub network: http::Settings,
    /// The search API's limit (the client's `search` lane).
    pub search_rate_limit: RateLimit,
    /// The private app's access token.
    pub token: Secret,
    /// Which value of a company is its account id.
    pub account_key: AccountKey,
    /// Canonical account field → company property, defaults included.
    pub properties: BTreeMap<AccountField, String>,
    /// Company properties kept as custom fields, under their own names.
    pub custom_properties: Vec<String>,
    /// The deals of this pipeline are renewals; `None`: no renewals.
    pub renewals: Option<Renewals>,
    /// A custom object holding daily usage; `None`: no usage.
    pub usage: Option<UsageObject>,
    /// How often a full sync runs; the syncs in between fetch changes only.
    pub full_sync_every: chrono::Duration,
}

impl Settings {
    /// Every default, for a token in `token` and the API at `base_url` (tests, examples).
    pub fn new(base_url: impl Into<String>, token: Secret) -> Settings {
        Settings {
            network: http::Settings::new(base_url.into(), default_rate_limit()),
            search_rate_limit: search_rate_limit(),
            token,
            account_key: AccountKey::CompanyId,
            properties: AccountField::defaults(),
            custom_properties: vec![],
            renewals: None,
            usage: None,
            full_sync_every: chrono::Duration::days(DEFAULT_FULL_SYNC_DAYS),
        }
    }

    /// The company properties to ask for: every mapped, custom and key property, and `domain`
    /// (the name's fallback), each once, in a stable order.
    pub fn company_properties(&self) -> Vec<String> {
        let mut props: Vec<String> = self.properties.values().cloned().collect();
        props.extend(self.custom_properties.iter().cloned());
        if let AccountKey::Property(p) = &self.account_key {
            props.push(p.clone());
        }
        props.push("domain".to_string());
        props.sort();
        props.dedup();
        props
    }
}

/// Which value of a company is the account id shared with other sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountKey {
    /// HubSpot's company id (`company_id`, the default).
    CompanyId,
    /// A company property (`property.domain`, `property.stripe_customer_id`).
    Property(String),
}

impl AccountKey {
    /// `company_id` or `property.<name>`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<AccountKey, String> {
        let text = text.trim();
        if text == "company_id" {
            return Ok(AccountKey::CompanyId);
        }
        match text.strip_prefix("property.") {
            Some(p) if is_property_name(p) => Ok(AccountKey::Property(p.to_string())),
            Some(p) => Err(format!("`{p}` is not a HubSpot property name")),
            None => Err(format!("`{text}` is not `company_id` or `property.<name>`")),
        }
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountKey::CompanyId => f.write_str("company_id"),
            AccountKey::Property(p) => write!(f, "property.{p}"),
        }
    }
}

/// Whether `name` can be a HubSpot property's internal name: a lower-case letter, then
/// lower-case letters, digits and `_`.
pub fn is_property_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Whether `name` can be a custom object's type: its id (`2-1234567`) or its name
/// (`p_usage`, `usage_days`): letters, digits, `-` and `_`.
pub fn is_object_type(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

macro_rules! field_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $word:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The canonical field's name (METRICS.md).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),* }
            }

            /// The field named `word` (exact, lower case).
            pub fn parse(word: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|f| f.as_str() == word)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

field_enum! {
    /// An account field a company property can fill (`[sources.NAME.properties]` keys).
    AccountField {
        Name => "name",
        Owner => "owner",
        Segment => "segment",
        Plan => "plan",
        CreatedAt => "created_at",
        RenewalDate => "renewal_date",
        LicensedSeats => "licensed_seats",
        FirstValueAt => "first_value_at",
        TrialStartedAt => "trial_started_at",
        TrialEndedAt => "trial_ended_at",
        ConvertedAt => "converted_at",
    }
}

impl AccountField {
    /// The properties used when `properties` does not say: HubSpot's own `name`,
    /// `hubspot_owner_id` and `createdate`.
    pub fn defaults() -> BTreeMap<AccountField, String> {
        [
            (AccountField::Name, "name"),
            (AccountField::Owner, "hubspot_owner_id"),
            (AccountField::CreatedAt, "createdate"),
        ]
        .into_iter()
        .map(|(f, p)| (f, p.to_string()))
        .collect()
    }
}

field_enum! {
    /// A usage field a property of the usage object fills (`usage_properties` keys).
    UsageField {
        Date => "date",
        ActiveUsers => "active_users",
        Sessions => "sessions",
        Minutes => "minutes",
        FeaturesUsed => "features_used",
    }
}

impl UsageField {
    /// Each field read from the property of its own name unless `usage_properties` says.
    pub fn defaults() -> BTreeMap<UsageField, String> {
        UsageField::ALL
            .iter()
            .map(|f| (*f, f.as_str().to_string()))
            .collect()
    }
}

/// The renewal pipeline and how its stages map to outcomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renewals {
    /// The pipeline's internal id (`default` for the default pipeline).
    pub pipeline: String,
    /// Deal stage id → outcome; a stage not listed is `closedwon` → renewed,
    /// `closedlost` → churned, anything else pending.
    pub stages: BTreeMap<String, RenewalOutcome>,
}

impl Renewals {
    /// The outcome of a deal in `stage`.
    pub fn outcome(&self, stage: &str) -> RenewalOutcome {
        if let Some(o) = self.stages.get(stage) {
            return *o;
        }
        match stage {
            "closedwon" => RenewalOutcome::Renewed,
            "closedlost" => RenewalOutcome::Churned,
            _ => RenewalOutcome::Pending,
        }
    }
}

/// The custom object holding daily usage and which of its properties hold what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageObject {
    /// The object type: its id (`2-1234567`) or its name.
    pub object: String,
    /// Usage field → property, defaults included.
    pub properties: BTreeMap<UsageField, String>,
}

impl UsageObject {
    /// The property holding `field`.
    pub fn property(&self, field: UsageField) -> &str {
        self.properties
            .get(&field)
            .map_or(field.as_str(), String::as_str)
    }
}

/// The `hubspot` source: one HTTP client (with the search lane) and the settings.
pub struct HubspotSource {
    name: String,
    settings: Settings,
    client: http::Client,
    ctx: SourceContext,
}

impl HubspotSource {
    /// The source `name`, its token read from the environment variable the settings name
    /// (unset: [`SourceError::Secret`]).
    pub fn from_settings(
        name: impl Into<String>,
        settings: Settings,
        ctx: SourceContext,
    ) -> Result<HubspotSource, SourceError> {
        let name = name.into();
        let token = settings
            .token
            .resolve(&format!("HubSpot private app token of source `{name}`"))?;
        HubspotSource::with_token(name, settings, &token, ctx)
    }

    /// The source `name` with the token given (tests).
    pub fn with_token(
        name: impl Into<String>,
        settings: Settings,
        token: &str,
        ctx: SourceContext,
    ) -> Result<HubspotSource, SourceError> {
        let headers = vec![(
            "Authorization".to_string(),
            format!("Bearer {}", token.trim()),
        )];
        let client = http::Client::new("HubSpot", &settings.network, headers)?
            .with_lane(api::SEARCH_LANE, settings.search_rate_limit);
        Ok(HubspotSource {
            name: name.into(),
            settings,
            client,
            ctx,
        })
    }
}

#[async_trait]
impl Source for HubspotSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn full_sync_every(&self) -> Option<chrono::Duration> {
        Some(self.settings.full_sync_every)
    }

    async fn fetch(
        &self,
        request: &FetchRequest<'_>,
        progress: &ProgressBar,
    ) -> Result<Fetched, SourceError> {
        let api = api::Api::new(&self.client, progress);
        fetch::fetch(&api, &self.name, &self.settings, &self.ctx, request).await
    }
}
