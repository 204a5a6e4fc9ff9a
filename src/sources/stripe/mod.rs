//! The `stripe` source: customers, subscriptions, prices, discounts and invoices read from
//! Stripe's API (version pinned in [`objects::API_VERSION`]) and turned into canonical accounts
//! and MRR intervals.
//!
//! The pieces: [`api`] talks to Stripe (list pagination, invoice lines, events, one customer's
//! objects), [`accounts`] maps customers to accounts and subscriptions to MRR intervals (pure),
//! [`objects`] holds the typed API objects and [`mrr`] the MRR arithmetic. A first sync (and one
//! every `full_sync_every`) lists everything; the others read the events since the last good
//! sync and fetch again only the customers they name, with every customer merged into the same
//! accounts (docs/sources/stripe.md).

mod accounts;
mod api;
mod incremental;
pub mod mrr;
pub mod objects;

use std::collections::BTreeSet;

use async_trait::async_trait;
use indicatif::ProgressBar;

use crate::config::Secret;
use crate::sources::http::{self, RateLimit};
use crate::sources::{FetchRequest, Fetched, Source, SourceContext, SourceError};

pub use accounts::CUSTOMERS_FIELD;

/// Stripe's documented test-mode (sandbox) read limit: a `sk_test_` or `rk_test_` key gets it
/// when `rate_limit` is not set.
pub const TEST_MODE_RATE_LIMIT: u32 = 25;

/// Stripe also limits each resource's endpoints to 25 requests per second unless documented
/// otherwise: every request is paced in its resource's lane as well (see [`api::lane`]).
pub const RESOURCE_RATE_LIMIT: u32 = 25;

/// The validated settings of a `stripe` source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Base URL, rate limit (live mode's 100/s by default), concurrency, retries, timeout.
    pub network: http::Settings,
    /// The variable holding the restricted API key (read when the source is built).
    pub api_key: Secret,
    /// Which customer value is the account id shared with the other sources.
    pub account_key: AccountKey,
    /// A full sync (which sees deletions) at least this often; incremental syncs between.
    pub full_sync_every: chrono::Duration,
    /// Whether `rate_limit` was set in the config: when not, a test-mode key lowers the default
    /// to [`TEST_MODE_RATE_LIMIT`] (the key's mode is only known once it is read).
    pub rate_limit_is_set: bool,
}

/// Which value of a Stripe customer is its account's id (`account_key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountKey {
    /// `customer_id`: every customer is its own account (the default).
    CustomerId,
    /// `email_domain`: the customers whose emails share a domain are one account.
    EmailDomain,
    /// `metadata.<field>`: the customers with the same value of this metadata field are one
    /// account (say the CRM's company id).
    Metadata(String),
}

impl AccountKey {
    /// Parses `customer_id`, `email_domain` or `metadata.<field>`; the error is a predicate
    /// to put after the value's name.
    pub fn parse(text: &str) -> Result<AccountKey, String> {
        let t = text.trim();
        match t {
            "customer_id" => Ok(AccountKey::CustomerId),
            "email_domain" => Ok(AccountKey::EmailDomain),
            _ => match t.strip_prefix("metadata.") {
                Some(field) if !field.trim().is_empty() => {
                    Ok(AccountKey::Metadata(field.trim().to_string()))
                }
                Some(_) => Err("`metadata.` names no metadata field".to_string()),
                None => Err(format!("`{t}` is not a customer value cs-pulse knows")),
            },
        }
    }
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountKey::CustomerId => f.write_str("customer_id"),
            AccountKey::EmailDomain => f.write_str("email_domain"),
            AccountKey::Metadata(field) => write!(f, "metadata.{field}"),
        }
    }
}

/// Whether a key belongs to Stripe's test mode (sandbox), whose rate limit is lower.
fn is_test_key(key: &str) -> bool {
    let k = key.trim();
    k.starts_with("sk_test_") || k.starts_with("rk_test_")
}

/// Reads Stripe's API.
pub struct StripeSource {
    name: String,
    settings: Settings,
    api: api::Api,
    ctx: SourceContext,
}

impl StripeSource {
    /// The source `name`, reading the API key from its variable: an unset variable is an error
    /// naming it.
    pub fn new(
        name: impl Into<String>,
        settings: Settings,
        ctx: SourceContext,
    ) -> Result<StripeSource, SourceError> {
        let name = name.into();
        let key = settings
            .api_key
            .resolve(&format!("Stripe API key of source `{name}`"))?;
        StripeSource::with_key(name, settings, &key, ctx)
    }

    /// The source `name` with its API key given (tests, and [`StripeSource::new`]). Without a
    /// configured `rate_limit`, a test-mode key lowers the rate limit to
    /// [`TEST_MODE_RATE_LIMIT`] per second.
    pub fn with_key(
        name: impl Into<String>,
        mut settings: Settings,
        key: &str,
        ctx: SourceContext,
    ) -> Result<StripeSource, SourceError> {
        if !settings.rate_limit_is_set && is_test_key(key) {
            settings.network.rate_limit = RateLimit::per_second(TEST_MODE_RATE_LIMIT);
        }
        let headers = vec![
            (
                "Authorization".to_string(),
                format!("Bearer {}", key.trim()),
            ),
            (
                "Stripe-Version".to_string(),
                objects::API_VERSION.to_string(),
            ),
        ];
        let client = api::LANES.iter().fold(
            http::Client::new("Stripe", &settings.network, headers)?,
            |client, lane| client.with_lane(lane, RateLimit::per_second(RESOURCE_RATE_LIMIT)),
        );
        Ok(StripeSource {
            name: name.into(),
            settings,
            api: api::Api::new(client),
            ctx,
        })
    }

    /// The effective settings (the rate limit after the key's mode is known).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// What the source's requests met so far: requests, retries, throttled answers.
    pub fn stats(&self) -> http::Stats {
        self.api.stats()
    }

    /// Lists everything and maps it.
    async fn fetch_full(
        &self,
        request: &FetchRequest<'_>,
        progress: &ProgressBar,
    ) -> Result<Fetched, SourceError> {
        progress.set_message("customers, subscriptions, prices, invoices");
        let raw = self.api.everything(progress).await?;
        // Typing and mapping every object takes about a second at 20,000 customers: off the
        // async workers, which serve chat and the other sources meanwhile.
        let (key, ctx, now) = (
            self.settings.account_key.clone(),
            self.ctx.clone(),
            request.now,
        );
        tokio::task::spawn_blocking(move || {
            let objects = raw.decode()?;
            let built = accounts::build(&objects, &key, &ctx, now).map_err(invalid)?;
            let data = accounts::assemble(None, &BTreeSet::new(), built).map_err(invalid)?;
            Ok(Fetched::full(data))
        })
        .await
        .map_err(|e| SourceError::Other(format!("mapping Stripe's objects stopped: {e}")))?
    }
}

/// Every problem found in Stripe's answers, as one error.
fn invalid(errors: Vec<crate::sources::InputError>) -> SourceError {
    SourceError::Invalid {
        location: "Stripe".to_string(),
        errors,
    }
}

#[async_trait]
impl Source for StripeSource {
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
        match request.previous {
            None => self.fetch_full(request, progress).await,
            Some(previous) => match self.fetch_changes(request, previous, progress).await? {
                Some(fetched) => Ok(fetched),
                None => self.fetch_full(request, progress).await,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_account_keys() {
        assert_eq!(AccountKey::parse("customer_id"), Ok(AccountKey::CustomerId));
        assert_eq!(
            AccountKey::parse(" email_domain "),
            Ok(AccountKey::EmailDomain)
        );
        assert_eq!(
            AccountKey::parse("metadata.crm_id"),
            Ok(AccountKey::Metadata("crm_id".into()))
        );
        assert!(AccountKey::parse("metadata.").is_err());
        assert!(AccountKey::parse("email").is_err());
        assert_eq!(AccountKey::Metadata("x".into()).to_string(), "metadata.x");
    }

    #[test]
    fn knows_test_keys() {
        assert!(is_test_key("sk_test_abc"));
        assert!(is_test_key("rk_test_abc"));
        assert!(!is_test_key("rk_live_abc"));
        assert!(!is_test_key("sk_live_abc"));
    }
}
