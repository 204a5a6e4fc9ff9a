//! An incremental sync: the events since the last good sync name the customers that changed;
//! those customers, and every customer merged into the same accounts, are fetched again with
//! their subscriptions and invoices (and the price list), their accounts rebuilt and put in place
//! of the old ones in a copy of the previous data. Falls back to a full sync when Stripe no
//! longer keeps the events back to the previous sync (30 days), or when so many customers
//! changed that listing everything is cheaper.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::future::try_join_all;
use indicatif::ProgressBar;

use super::accounts::{self, account_id, customers_of};
use super::api::{self, Raw};
use super::objects::Customer;
use super::StripeSource;
use crate::sources::http::decode_object;
use crate::sources::{FetchRequest, Fetched, Previous, SourceError};

/// How long Stripe keeps events (its documented 30 days), less a day of margin.
pub(super) fn events_reach() -> chrono::Duration {
    chrono::Duration::days(29)
}

/// Events are asked for from this long before the previous sync started: an event is created a
/// little after its change, and clocks differ.
fn overlap() -> chrono::Duration {
    chrono::Duration::minutes(5)
}

/// Up to this many changed customers an incremental sync is always tried (three requests each
/// against a full listing's one per hundred objects).
const MIN_CUSTOMER_CAP: usize = 100;

/// The most customers an incremental sync fetches one by one: a tenth of the known customers,
/// at least [`MIN_CUSTOMER_CAP`]. Above, a full sync is cheaper.
fn customer_cap(known_customers: usize) -> usize {
    (known_customers / 10).max(MIN_CUSTOMER_CAP)
}

impl StripeSource {
    /// The previous data with the changes since `previous.started_at` applied, or `None` when
    /// a full fetch must be done instead.
    pub(super) async fn fetch_changes(
        &self,
        request: &FetchRequest<'_>,
        previous: Previous<'_>,
        progress: &ProgressBar,
    ) -> Result<Option<Fetched>, SourceError> {
        if request.now - previous.started_at > events_reach() {
            tracing::info!(
                source = %self.name,
                "the last Stripe sync is older than the events Stripe keeps: syncing everything"
            );
            return Ok(None);
        }
        let prev = previous.data;
        let after = (previous.started_at - overlap()).timestamp();
        progress.set_message("events");
        let events = self.api.events_after(after, progress).await?;
        let touched = api::touched_customers(&events);
        if touched.is_empty() {
            return Ok(Some(Fetched {
                data: prev.clone(),
                full: false,
            }));
        }

        let mut owner: HashMap<&str, &str> = HashMap::new();
        let mut members: HashMap<&str, Vec<&str>> = HashMap::new();
        for a in prev.accounts() {
            for c in customers_of(a) {
                owner.insert(c, a.id.as_str());
                members.entry(a.id.as_str()).or_default().push(c);
            }
        }
        let cap = customer_cap(owner.len());
        let too_many = |n: usize| {
            tracing::info!(
                source = %self.name,
                customers = n,
                "many Stripe customers changed since the last sync: syncing everything"
            );
        };
        if touched.len() > cap {
            too_many(touched.len());
            return Ok(None);
        }

        // The changed customers, closed over their accounts: every customer of an account one
        // of them was or now is in.
        let mut wanted: BTreeSet<String> = touched.keys().cloned().collect();
        let mut replaced: BTreeSet<String> = BTreeSet::new();
        let mut fetched: BTreeMap<String, Option<Customer>> = BTreeMap::new();
        let mut errors = Vec::new();
        progress.set_message("changed customers");
        loop {
            let mut add = |account: &str, replaced: &mut BTreeSet<String>| {
                if replaced.insert(account.to_string()) {
                    if let Some(ids) = members.get(account) {
                        wanted.extend(ids.iter().map(|c| c.to_string()));
                    }
                }
            };
            for id in fetched.keys() {
                if let Some(account) = owner.get(id.as_str()) {
                    add(account, &mut replaced);
                }
            }
            for c in fetched.values().flatten() {
                let (key, _) = account_id(c, &self.settings.account_key);
                if prev.account_ix(&key).is_some() {
                    add(&key, &mut replaced);
                }
            }
            for id in touched.keys() {
                if let Some(account) = owner.get(id.as_str()) {
                    add(account, &mut replaced);
                }
            }
            let todo: Vec<String> = wanted
                .iter()
                .filter(|id| !fetched.contains_key(*id))
                .cloned()
                .collect();
            if todo.is_empty() {
                break;
            }
            if fetched.len() + todo.len() > cap {
                too_many(fetched.len() + todo.len());
                return Ok(None);
            }
            let answers =
                try_join_all(todo.iter().map(|id| self.api.customer(id, progress))).await?;
            for (id, answer) in todo.into_iter().zip(answers) {
                let customer = match answer {
                    api::Retrieved::Gone => None,
                    api::Retrieved::Live(value) => {
                        match decode_object::<Customer>("Stripe customer", value) {
                            Ok(c) => Some(c),
                            Err(e) => {
                                errors.push(e);
                                None
                            }
                        }
                    }
                };
                fetched.insert(id, customer);
            }
        }
        if !errors.is_empty() {
            return Err(super::invalid(errors));
        }

        let live: Vec<Customer> = fetched.into_values().flatten().collect();
        progress.set_message("their subscriptions and invoices");
        let per_customer = try_join_all(
            live.iter()
                .map(|c| self.api.customer_objects(&c.id, progress)),
        );
        let (per_customer, prices) = tokio::try_join!(per_customer, self.api.prices(progress))?;
        let mut raw = Raw {
            prices,
            ..Raw::default()
        };
        for (subscriptions, invoices) in per_customer {
            raw.subscriptions.extend(subscriptions);
            raw.invoices.extend(invoices);
        }
        let mut objects = raw.decode()?;
        objects.customers = live;
        let built = accounts::build(&objects, &self.settings.account_key, &self.ctx, request.now)
            .map_err(super::invalid)?;
        tracing::debug!(
            source = %self.name,
            events = events.len(),
            customers = objects.customers.len(),
            accounts = replaced.len(),
            "Stripe changes applied"
        );
        let data = accounts::assemble(Some(prev), &replaced, built).map_err(super::invalid)?;
        Ok(Some(Fetched { data, full: false }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_grow_with_the_customers() {
        assert_eq!(customer_cap(0), 100);
        assert_eq!(customer_cap(999), 100);
        assert_eq!(customer_cap(20_000), 2_000);
    }
}
