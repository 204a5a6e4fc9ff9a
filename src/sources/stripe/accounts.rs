//! Stripe objects to canonical records (pure): customers become accounts by the configured
//! [`AccountKey`] (several customers with one key are one account), subscriptions become MRR
//! intervals ([`super::mrr`]), and the records are put in one canonical order so that an
//! incremental sync, which rebuilds a few accounts inside the previous data, gives exactly what a
//! full sync would.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::api::Objects;
use super::mrr::{subscription_intervals, PriceBook};
use super::objects::{Customer, Invoice, Subscription};
use super::AccountKey;
use crate::model::{Account, Currency, Dataset, Subscription as Interval};
use crate::sources::{InputError, SourceContext};

/// The custom field of an account listing its Stripe customers' ids (comma-separated, sorted):
/// an incremental sync rebuilds every account a changed customer belongs to.
pub const CUSTOMERS_FIELD: &str = "stripe_customers";

/// Accounts and their MRR intervals, built from some customers (all of them in a full sync).
#[derive(Debug, Default)]
pub(super) struct Built {
    pub accounts: Vec<Account>,
    /// Each interval with its account's id (the index is known once every account is).
    pub intervals: Vec<(String, Interval)>,
}

/// The account id of a customer, and whether it fell back to the customer id (no email, or no
/// such metadata field).
pub(super) fn account_id(customer: &Customer, key: &AccountKey) -> (String, bool) {
    let found = match key {
        AccountKey::CustomerId => return (customer.id.clone(), false),
        AccountKey::EmailDomain => customer
            .email
            .as_deref()
            .and_then(|e| e.trim().rsplit_once('@'))
            .map(|(_, domain)| domain.trim().to_lowercase())
            .filter(|d| !d.is_empty()),
        AccountKey::Metadata(field) => customer
            .metadata
            .get(field)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()),
    };
    match found {
        Some(id) => (id, false),
        None => (customer.id.clone(), true),
    }
}

/// The date of a Stripe timestamp in the business timezone.
fn date(secs: i64, tz: Tz) -> Option<NaiveDate> {
    DateTime::<Utc>::from_timestamp(secs, 0).map(|t| t.with_timezone(&tz).date_naive())
}

fn error(object: &str, id: &str, field: &str, message: String) -> InputError {
    InputError {
        file: format!("Stripe {object} {id}"),
        line: 0,
        column: Some(field.to_string()),
        message,
    }
}

/// Builds the accounts of `objects.customers` and the MRR intervals of their subscriptions, as
/// of `now`. Subscriptions of customers not in the list (deleted ones) are skipped. Every problem
/// is reported.
pub(super) fn build(
    objects: &Objects,
    key: &AccountKey,
    ctx: &SourceContext,
    now: DateTime<Utc>,
) -> Result<Built, Vec<InputError>> {
    let tz = ctx.timezone;
    let mut errors = Vec::new();
    let prices = PriceBook::new(objects.prices.clone());

    let mut fell_back = 0usize;
    let mut groups: BTreeMap<String, Vec<&Customer>> = BTreeMap::new();
    let mut account_of: HashMap<&str, String> = HashMap::new();
    for c in objects.customers.iter().filter(|c| c.deleted != Some(true)) {
        let (id, fallback) = account_id(c, key);
        if fallback {
            fell_back += 1;
        }
        account_of.insert(c.id.as_str(), id.clone());
        groups.entry(id).or_default().push(c);
    }
    if fell_back > 0 {
        let missing = match key {
            AccountKey::CustomerId => "customer id".to_string(),
            AccountKey::EmailDomain => "email with a domain".to_string(),
            AccountKey::Metadata(field) => format!("metadata field `{field}`"),
        };
        tracing::warn!(
            customers = fell_back,
            account_key = %key,
            "{fell_back} Stripe customer(s) have no {missing}: each is its own account, under its customer id"
        );
    }

    let mut invoices_of: HashMap<&str, Vec<&Invoice>> = HashMap::new();
    for inv in &objects.invoices {
        if let Some(sub) = inv.subscription() {
            invoices_of.entry(sub).or_default().push(inv);
        }
    }
    let customers: HashMap<&str, &Customer> = objects
        .customers
        .iter()
        .filter(|c| c.deleted != Some(true))
        .map(|c| (c.id.as_str(), c))
        .collect();

    let mut subs_of: BTreeMap<&str, Vec<&Subscription>> = BTreeMap::new();
    let mut skipped = 0usize;
    for s in &objects.subscriptions {
        match account_of.get(s.customer.as_str()) {
            Some(account) => subs_of.entry(account.as_str()).or_default().push(s),
            None => {
                skipped += 1;
                tracing::debug!(
                    subscription = %s.id,
                    customer = %s.customer,
                    "skipped a Stripe subscription of a customer that is not listed (deleted)"
                );
            }
        }
    }
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "Stripe subscriptions of unlisted customers skipped"
        );
    }

    let mut built = Built::default();
    for (account_id, members) in &groups {
        let mut members = members.clone();
        members.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let subs = subs_of
            .get(account_id.as_str())
            .cloned()
            .unwrap_or_default();

        let mut paid_starts = Vec::new();
        for s in &subs {
            let invoices = invoices_of.get(s.id.as_str()).cloned().unwrap_or_default();
            let discount = customers
                .get(s.customer.as_str())
                .and_then(|c| c.discount.as_ref());
            let intervals = match subscription_intervals(s, &invoices, &prices, discount, tz, now) {
                Ok(i) => i,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for iv in intervals {
                let Some(currency) = known_currency(iv.currency, ctx, &s.id, &mut errors) else {
                    continue;
                };
                if iv.mrr > Decimal::ZERO {
                    paid_starts.push(iv.start);
                }
                built.intervals.push((
                    account_id.clone(),
                    Interval {
                        id: format!("{}@{}", s.id, iv.start),
                        account: 0,
                        mrr: iv.mrr,
                        currency,
                        start_date: iv.start,
                        end_date: iv.end,
                    },
                ));
            }
        }

        let mut account = Account {
            id: account_id.clone(),
            name: account_name(&members, account_id),
            created_at: members
                .iter()
                .filter_map(|c| c.created)
                .min()
                .and_then(|t| date(t, tz)),
            ..Account::default()
        };
        let (trial_started, trial_ended) = trial(&subs, now, tz);
        account.trial_started_at = trial_started;
        account.trial_ended_at = trial_ended;
        account.converted_at = match (trial_started, trial_ended) {
            (Some(start), Some(_)) => paid_starts.iter().filter(|d| **d >= start).min().copied(),
            _ => None,
        };
        let mut ids: Vec<&str> = members.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        account
            .custom
            .insert(CUSTOMERS_FIELD.to_string(), ids.join(","));
        built.accounts.push(account);
    }
    if errors.is_empty() {
        Ok(built)
    } else {
        Err(errors)
    }
}

/// The currency of an interval when the config has a rate for it; an input error otherwise.
fn known_currency(
    currency: Currency,
    ctx: &SourceContext,
    subscription: &str,
    errors: &mut Vec<InputError>,
) -> Option<Currency> {
    if ctx.fx.rate(currency).is_some() {
        return Some(currency);
    }
    errors.push(error(
        "subscription",
        subscription,
        "currency",
        format!(
            "{currency} has no exchange rate: add it under [metrics.fx] (how many {} one {currency} is worth)",
            ctx.fx.reporting()
        ),
    ));
    None
}

/// The earliest customer's name; else the first name of another; else the first email; else
/// the account id.
fn account_name(members: &[&Customer], account_id: &str) -> String {
    let non_empty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    members
        .iter()
        .find_map(|c| non_empty(&c.name))
        .or_else(|| members.iter().find_map(|c| non_empty(&c.email)))
        .unwrap_or_else(|| account_id.to_string())
}

/// The account's first trial: the day the earliest trial started, and the day it ended (its
/// `trial_end`, or the subscription's end if that came first), when that is not after `now`.
fn trial(
    subs: &[&Subscription],
    now: DateTime<Utc>,
    tz: Tz,
) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let first = subs
        .iter()
        .filter_map(|s| s.trial_start.map(|t| (t, *s)))
        .min_by(|(a, sa), (b, sb)| (a, &sa.id).cmp(&(b, &sb.id)));
    let Some((start, sub)) = first else {
        return (None, None);
    };
    let end = match (sub.trial_end, sub.ended_at) {
        (Some(t), Some(e)) => Some(t.min(e)),
        (t, e) => t.or(e),
    };
    let ended = end
        .filter(|e| *e <= now.timestamp())
        .and_then(|e| date(e, tz));
    (date(start, tz), ended)
}

/// One data set of the accounts of `previous` (but those in `replaced`) and `built`, with their
/// intervals, in the canonical order: accounts by id, intervals by account id then id. A full
/// sync passes no previous data.
pub(super) fn assemble(
    previous: Option<&Dataset>,
    replaced: &BTreeSet<String>,
    built: Built,
) -> Result<Dataset, Vec<InputError>> {
    let mut accounts: Vec<Account> = Vec::new();
    let mut intervals: Vec<(String, Interval)> = Vec::new();
    if let Some(prev) = previous {
        accounts.extend(
            prev.accounts()
                .iter()
                .filter(|a| !replaced.contains(&a.id))
                .cloned(),
        );
        for s in &prev.subscriptions {
            let Some(account) = prev.accounts().get(s.account as usize) else {
                continue;
            };
            if !replaced.contains(&account.id) {
                intervals.push((account.id.clone(), s.clone()));
            }
        }
    }
    accounts.extend(built.accounts);
    intervals.extend(built.intervals);
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    intervals.sort_by(|(a, x), (b, y)| (a, &x.id).cmp(&(b, &y.id)));

    let mut data = Dataset::new(accounts).map_err(|e| {
        vec![InputError {
            file: "customer".to_string(),
            line: 0,
            column: None,
            message: e.to_string(),
        }]
    })?;
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (account, mut interval) in intervals {
        let Some(ix) = data.account_ix(&account) else {
            continue;
        };
        if !seen.insert(interval.id.clone()) {
            errors.push(error(
                "subscription",
                &interval.id,
                "id",
                "two MRR intervals of this subscription start on the same day".to_string(),
            ));
            continue;
        }
        interval.account = ix;
        data.subscriptions.push(interval);
    }
    if errors.is_empty() {
        Ok(data)
    } else {
        Err(errors)
    }
}

/// The ids of a previous account's customers (its [`CUSTOMERS_FIELD`]).
pub(super) fn customers_of(account: &Account) -> impl Iterator<Item = &str> {
    account
        .custom
        .get(CUSTOMERS_FIELD)
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: &str, email: Option<&str>, meta: &[(&str, &str)]) -> Customer {
        Customer {
            id: id.into(),
            email: email.map(Into::into),
            name: None,
            metadata: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            created: Some(1_700_000_000),
            deleted: None,
            discount: None,
        }
    }

    #[test]
    fn account_ids_by_key() {
        let c = customer("cus_1", Some("Ann@Example.COM "), &[("crm_id", " 42 ")]);
        assert_eq!(
            account_id(&c, &AccountKey::CustomerId),
            ("cus_1".into(), false)
        );
        assert_eq!(
            account_id(&c, &AccountKey::EmailDomain),
            ("example.com".into(), false)
        );
        assert_eq!(
            account_id(&c, &AccountKey::Metadata("crm_id".into())),
            ("42".into(), false)
        );
        assert_eq!(
            account_id(&c, &AccountKey::Metadata("other".into())),
            ("cus_1".into(), true)
        );
        let bare = customer("cus_2", Some("no-at-sign"), &[("crm_id", "  ")]);
        assert_eq!(
            account_id(&bare, &AccountKey::EmailDomain),
            ("cus_2".into(), true)
        );
        assert_eq!(
            account_id(&bare, &AccountKey::Metadata("crm_id".into())),
            ("cus_2".into(), true)
        );
    }

    #[test]
    fn names_prefer_a_name_then_an_email() {
        let mut a = customer("cus_a", Some("a@x.io"), &[]);
        let mut b = customer("cus_b", None, &[]);
        assert_eq!(account_name(&[&a, &b], "x.io"), "a@x.io");
        b.name = Some("Bee Corp".into());
        assert_eq!(account_name(&[&a, &b], "x.io"), "Bee Corp");
        a.name = Some("  ".into());
        a.email = None;
        b.name = None;
        assert_eq!(account_name(&[&a, &b], "x.io"), "x.io");
    }

    #[test]
    fn lists_previous_customers() {
        let mut a = Account::default();
        assert_eq!(customers_of(&a).count(), 0);
        a.custom
            .insert(CUSTOMERS_FIELD.into(), "cus_1,cus_2".into());
        assert_eq!(customers_of(&a).collect::<Vec<_>>(), ["cus_1", "cus_2"]);
    }
}
