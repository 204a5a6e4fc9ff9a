//! Validation of a `stripe` source table into [`crate::sources::stripe::Settings`]: the shared
//! network keys (with Stripe's documented defaults), the restricted API key's variable, which
//! customer value is the account id, and how often a full sync runs.

use std::ops::Range;

use toml::Spanned;

use super::super::raw::RawSource;
use super::super::{SourceKind, Validator};
use super::network::NetworkDefaults;
use crate::sources::http::RateLimit;
use crate::sources::stripe::{AccountKey, Settings};

/// Stripe's API, when `base_url` is not set.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";
/// Stripe's documented live-mode read limit (100 per second); a test-mode key gets
/// [`crate::sources::stripe::TEST_MODE_RATE_LIMIT`] instead when `rate_limit` is not set.
pub const DEFAULT_RATE_LIMIT: u32 = 100;
/// A full sync (to see deletions the events may have missed) at least this often.
pub const DEFAULT_FULL_SYNC_DAYS: i64 = 7;

impl Validator<'_> {
    /// The settings of the `stripe` source `name` whose table starts at `header`, or `None`
    /// after reporting every problem.
    pub(in crate::config) fn stripe_source(
        &mut self,
        name: &str,
        header: Range<usize>,
        raw: &RawSource,
    ) -> Option<SourceKind> {
        let defaults = NetworkDefaults {
            base_url: DEFAULT_BASE_URL,
            rate_limit: RateLimit::per_second(DEFAULT_RATE_LIMIT),
        };
        let network = self.network(raw, &defaults);
        let api_key = self.source_secret(name, header, &raw.api_key, "api_key", "STRIPE_API_KEY");
        let account_key = match &raw.account_key {
            Some(v) => self.stripe_account_key(v),
            None => Some(AccountKey::CustomerId),
        };
        let full_sync_every =
            self.full_sync_every(raw, chrono::Duration::days(DEFAULT_FULL_SYNC_DAYS));
        Some(SourceKind::Stripe(Settings {
            network: network?,
            api_key: api_key?,
            account_key: account_key?,
            full_sync_every: full_sync_every?,
            rate_limit_is_set: raw.rate_limit.is_some(),
        }))
    }

    /// `customer_id`, `email_domain` or `metadata.<field>`.
    fn stripe_account_key(&mut self, v: &Spanned<String>) -> Option<AccountKey> {
        match AccountKey::parse(v.get_ref()) {
            Ok(key) => Some(key),
            Err(message) => {
                self.error(
                    v.span(),
                    format!("account_key {message}"),
                    Some(
                        "write `customer_id` (the Stripe customer id, the default), \
                         `email_domain` (customers of one domain are one account) or \
                         `metadata.<field>` (a metadata field of the customer, like \
                         `metadata.crm_id`)"
                            .to_string(),
                    ),
                );
                None
            }
        }
    }
}
