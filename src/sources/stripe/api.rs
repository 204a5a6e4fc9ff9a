//! Talking to Stripe: a list endpoint read page after page (`limit=100`, `starting_after` the
//! last id, while `has_more`), an invoice's lines beyond the ones embedded in it, the events
//! since a time, and one customer with its subscriptions and invoices. Objects stay JSON values
//! here; [`Raw::decode`] types them, collecting every error.

use std::collections::BTreeMap;

use futures_util::future::try_join_all;
use indicatif::ProgressBar;
use serde_json::Value;

use super::objects::{Customer, Event, Invoice, List, Price, Subscription};
use crate::sources::http::{decode_all, decode_object, Client, HttpError, Stats};
use crate::sources::{InputError, SourceError};

/// Objects per page: Stripe's maximum.
const PAGE_SIZE: &str = "100";

/// Subscriptions of every status, with their discounts (and their items' discounts) expanded so
/// that no request per discount is needed.
pub(super) fn subscription_params() -> Vec<(&'static str, String)> {
    vec![
        ("status", "all".to_string()),
        ("expand[]", "data.discounts".to_string()),
        ("expand[]", "data.items.data.discounts".to_string()),
    ]
}

/// Prices with their tiers (a list does not include them unless expanded).
fn price_params() -> Vec<(&'static str, String)> {
    vec![("expand[]", "data.tiers".to_string())]
}

/// The event types that change a customer's account or MRR (Stripe takes at most 20).
pub(super) const EVENT_TYPES: &[&str] = &[
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.discount.created",
    "customer.discount.updated",
    "customer.discount.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.updated",
    "invoice.voided",
    "invoice.marked_uncollectible",
];

/// The resources whose endpoints this source reads, each limited on its own
/// ([`super::RESOURCE_RATE_LIMIT`]).
pub(super) const LANES: [&str; 5] = ["customers", "subscriptions", "prices", "invoices", "events"];

/// The lane of a request to `path` (`/v1/invoices/in_1/lines` is in `invoices`).
pub(super) fn lane(path: &str) -> Option<&'static str> {
    let resource = path.strip_prefix("/v1/")?.split('/').next()?;
    LANES.iter().copied().find(|l| *l == resource)
}

/// Stripe's API as this source uses it.
#[derive(Clone)]
pub(super) struct Api {
    client: Client,
}

/// The four lists, as JSON.
#[derive(Debug, Default)]
pub(super) struct Raw {
    pub customers: Vec<Value>,
    pub subscriptions: Vec<Value>,
    pub prices: Vec<Value>,
    pub invoices: Vec<Value>,
}

/// The four lists, typed.
#[derive(Debug, Default)]
pub(super) struct Objects {
    pub customers: Vec<Customer>,
    pub subscriptions: Vec<Subscription>,
    pub prices: Vec<Price>,
    pub invoices: Vec<Invoice>,
}

impl Raw {
    /// Types every object; every object that does not fit is reported (its id and field).
    pub fn decode(self) -> Result<Objects, SourceError> {
        fn keep<T: serde::de::DeserializeOwned>(
            kind: &str,
            values: Vec<Value>,
            errors: &mut Vec<InputError>,
        ) -> Vec<T> {
            decode_all(kind, values).unwrap_or_else(|mut e| {
                errors.append(&mut e);
                Vec::new()
            })
        }
        let mut errors = Vec::new();
        let objects = Objects {
            customers: keep("Stripe customer", self.customers, &mut errors),
            subscriptions: keep("Stripe subscription", self.subscriptions, &mut errors),
            prices: keep("Stripe price", self.prices, &mut errors),
            invoices: keep("Stripe invoice", self.invoices, &mut errors),
        };
        if errors.is_empty() {
            Ok(objects)
        } else {
            Err(super::invalid(errors))
        }
    }
}

/// One customer as fetched by id: a live one, or gone (deleted, or unknown to Stripe).
#[derive(Debug)]
pub(super) enum Retrieved {
    Live(Value),
    Gone,
}

impl Api {
    pub fn new(client: Client) -> Api {
        Api { client }
    }

    pub fn stats(&self) -> Stats {
        self.client.stats()
    }

    /// Every customer, subscription, price and invoice, the four lists read at once, each in
    /// its own task so that one list's page being read never holds up another's request (the
    /// client bounds concurrency and rate).
    pub async fn everything(&self, progress: &ProgressBar) -> Result<Raw, SourceError> {
        let task = |path: &'static str, params: Vec<(&'static str, String)>| {
            let (api, progress) = (self.clone(), progress.clone());
            tokio::spawn(async move { api.list(path, &params, &progress).await })
        };
        let (api, p) = (self.clone(), progress.clone());
        let tasks = [
            task("/v1/customers", vec![]),
            task("/v1/subscriptions", subscription_params()),
            task("/v1/prices", price_params()),
            tokio::spawn(async move { api.invoices(&[], &p).await }),
        ];
        // Dropping the handles on an error would leave the other lists running: abort them.
        let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        let joined = futures_util::future::try_join_all(tasks.into_iter().map(|task| async {
            task.await
                .map_err(|e| SourceError::Other(format!("reading a Stripe list stopped: {e}")))?
        }))
        .await;
        let lists = match joined {
            Ok(lists) => lists,
            Err(e) => {
                aborts.iter().for_each(|a| a.abort());
                return Err(e);
            }
        };
        let [customers, subscriptions, prices, invoices]: [Vec<Value>; 4] = lists
            .try_into()
            .map_err(|_| SourceError::Other("a Stripe list went missing".into()))?;
        Ok(Raw {
            customers,
            subscriptions,
            prices,
            invoices,
        })
    }

    /// Every price (an incremental sync reads them again: a changed subscription may use a
    /// new one).
    pub async fn prices(&self, progress: &ProgressBar) -> Result<Vec<Value>, SourceError> {
        self.list("/v1/prices", &price_params(), progress).await
    }

    /// The subscriptions and invoices of one customer.
    pub async fn customer_objects(
        &self,
        customer: &str,
        progress: &ProgressBar,
    ) -> Result<(Vec<Value>, Vec<Value>), SourceError> {
        let mut sub_params = subscription_params();
        sub_params.push(("customer", customer.to_string()));
        let inv_params = [("customer", customer.to_string())];
        tokio::try_join!(
            self.list("/v1/subscriptions", &sub_params, progress),
            self.invoices(&inv_params, progress),
        )
    }

    /// One customer by id: a deleted customer (`"deleted": true`) or a 404 is gone.
    pub async fn customer(
        &self,
        id: &str,
        progress: &ProgressBar,
    ) -> Result<Retrieved, SourceError> {
        let path = format!("/v1/customers/{}", path_segment(id));
        let value: Value = match self.client.get_in(lane(&path), &path, &[]).await {
            Ok(response) => response.json()?,
            Err(e) if is_not_found(&e) => return Ok(Retrieved::Gone),
            Err(e) => return Err(e.into()),
        };
        progress.inc(1);
        if value.get("deleted").and_then(Value::as_bool) == Some(true) {
            Ok(Retrieved::Gone)
        } else {
            Ok(Retrieved::Live(value))
        }
    }

    /// The events of [`EVENT_TYPES`] created after `after` (unix seconds), typed.
    pub async fn events_after(
        &self,
        after: i64,
        progress: &ProgressBar,
    ) -> Result<Vec<Event>, SourceError> {
        let mut params = vec![("created[gt]", after.to_string())];
        params.extend(EVENT_TYPES.iter().map(|t| ("types[]", t.to_string())));
        let values = self.list("/v1/events", &params, progress).await?;
        decode_all("Stripe event", values).map_err(super::invalid)
    }

    /// Invoices, each with all its lines (those beyond the embedded first page fetched from
    /// `/v1/invoices/{id}/lines`).
    async fn invoices(
        &self,
        params: &[(&str, String)],
        progress: &ProgressBar,
    ) -> Result<Vec<Value>, SourceError> {
        let mut invoices = self.list("/v1/invoices", params, progress).await?;
        let more: Vec<(usize, String, Option<String>)> = invoices
            .iter()
            .enumerate()
            .filter_map(|(i, inv)| {
                let lines = inv.get("lines")?;
                if lines.get("has_more").and_then(Value::as_bool) != Some(true) {
                    return None;
                }
                let id = inv.get("id")?.as_str()?.to_string();
                let last = last_id(lines.get("data")?.as_array()?);
                Some((i, id, last))
            })
            .collect();
        let fetched = try_join_all(more.iter().map(|(_, id, last)| async move {
            let path = format!("/v1/invoices/{}/lines", path_segment(id));
            self.list_after(&path, &[], last.clone(), progress).await
        }))
        .await?;
        for ((i, _, _), extra) in more.into_iter().zip(fetched) {
            let data = invoices
                .get_mut(i)
                .and_then(|inv| inv.get_mut("lines"))
                .and_then(|lines| lines.get_mut("data"))
                .and_then(Value::as_array_mut);
            if let Some(data) = data {
                data.extend(extra);
            }
        }
        Ok(invoices)
    }

    /// Every object of a list endpoint.
    pub async fn list(
        &self,
        path: &str,
        params: &[(&str, String)],
        progress: &ProgressBar,
    ) -> Result<Vec<Value>, SourceError> {
        self.list_after(path, params, None, progress).await
    }

    /// Every object of a list endpoint after the object `after` (from the start when `None`).
    async fn list_after(
        &self,
        path: &str,
        params: &[(&str, String)],
        mut after: Option<String>,
        progress: &ProgressBar,
    ) -> Result<Vec<Value>, SourceError> {
        let mut all = Vec::new();
        loop {
            let mut query: Vec<(&str, String)> = params.to_vec();
            query.push(("limit", PAGE_SIZE.to_string()));
            if let Some(a) = &after {
                query.push(("starting_after", a.clone()));
            }
            let response = self.client.get_in(lane(path), path, &query).await?;
            // The envelope is read in one plain pass (its objects are typed later, each named by
            // its id), so the next page is asked for as soon as this one's last id is known; only
            // a page that is not a list is read again, to name the field that is wrong.
            let page: List = match serde_json::from_slice(&response.body) {
                Ok(page) => page,
                Err(_) => decode_object("Stripe list", response.json()?).map_err(|mut e| {
                    // A list has no id: name it by its endpoint.
                    e.file = format!("Stripe list {path}");
                    super::invalid(vec![e])
                })?,
            };
            progress.inc(page.data.len() as u64);
            let next = last_id(&page.data);
            let empty = page.data.is_empty();
            all.extend(page.data);
            if !page.has_more {
                return Ok(all);
            }
            match next {
                Some(id) => after = Some(id),
                None if empty => {
                    // `has_more` on an empty page: nothing to continue from.
                    tracing::warn!(path, "Stripe said more objects follow an empty page");
                    return Ok(all);
                }
                None => {
                    return Err(super::invalid(vec![InputError {
                        file: format!("Stripe list {path}"),
                        line: 0,
                        column: Some("id".to_string()),
                        message: "the last object of a page has no id, so the next page \
                                  cannot be asked for"
                            .to_string(),
                    }]))
                }
            }
        }
    }
}

/// The id of the last object of a page.
fn last_id(data: &[Value]) -> Option<String> {
    Some(data.last()?.get("id")?.as_str()?.to_string())
}

/// An id put in a URL path: Stripe ids are letters, digits and `_`; anything else is escaped.
fn path_segment(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// Whether a request failed because the object does not exist.
fn is_not_found(e: &HttpError) -> bool {
    e.status() == Some(404)
}

/// The customers named by events, each with the first event naming it: the object's
/// `customer` (a subscription, discount or invoice; an id, or an expanded customer), or the
/// object's id for a customer event. An event naming no customer is skipped.
pub(super) fn touched_customers(events: &[Event]) -> BTreeMap<String, String> {
    let mut touched = BTreeMap::new();
    for e in events {
        if let Some(customer) = event_customer(&e.data.object) {
            touched.entry(customer).or_insert_with(|| e.id.clone());
        }
    }
    touched
}

/// The customer an event's object belongs to (or is).
fn event_customer(object: &Value) -> Option<String> {
    if object.get("object").and_then(Value::as_str) == Some("customer") {
        return object.get("id")?.as_str().map(str::to_string);
    }
    match object.get("customer")? {
        Value::String(id) => Some(id.clone()),
        Value::Object(c) => c.get("id")?.as_str().map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_twenty_event_types() {
        assert!(EVENT_TYPES.len() <= 20);
    }

    #[test]
    fn requests_are_paced_in_their_resources_lane() {
        assert_eq!(lane("/v1/customers"), Some("customers"));
        assert_eq!(lane("/v1/customers/cus_1"), Some("customers"));
        assert_eq!(lane("/v1/invoices/in_1/lines"), Some("invoices"));
        assert_eq!(lane("/v1/events"), Some("events"));
        assert_eq!(lane("/v1/charges"), None);
        assert_eq!(lane("customers"), None);
    }

    #[test]
    fn finds_the_customer_of_an_event_object() {
        let customer = serde_json::json!({"id": "cus_1", "object": "customer"});
        let sub = serde_json::json!({"id": "sub_1", "object": "subscription", "customer": "cus_2"});
        let inv = serde_json::json!({"id": "in_1", "object": "invoice", "customer": {"id": "cus_3", "object": "customer"}});
        let price = serde_json::json!({"id": "price_1", "object": "price"});
        assert_eq!(event_customer(&customer).as_deref(), Some("cus_1"));
        assert_eq!(event_customer(&sub).as_deref(), Some("cus_2"));
        assert_eq!(event_customer(&inv).as_deref(), Some("cus_3"));
        assert_eq!(event_customer(&price), None);
    }

    #[test]
    fn escapes_odd_ids() {
        assert_eq!(path_segment("cus_123"), "cus_123");
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
    }
}
