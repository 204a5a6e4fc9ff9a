//! The `stripe` source against a local server answering like Stripe's API (version
//! `2025-03-31.basil`, objects and list envelopes as its reference documents them; fixtures in
//! tests/fixtures/stripe/): pagination and headers, a 429 then success, a 500 storm and a
//! malformed page (the stored data stays as it was), incremental syncs that fetch only the
//! changed customers' objects and give what a full sync gives, the MRR normalisation cases with
//! hand-computed values, the account keys, and the config's defaults and errors.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use indicatif::ProgressBar;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use cs_pulse::config::{Config, Secret, SourceConfig, SourceKind};
use cs_pulse::model::{Currency, Dataset, FxRates};
use cs_pulse::sources::http::{Backoff, RateLimit, Settings as HttpSettings};
use cs_pulse::sources::stripe::{objects::API_VERSION, AccountKey, Settings, StripeSource};
use cs_pulse::sources::{FetchRequest, Fetched, Previous, Source, SourceContext, SourceError};
use cs_pulse::store::{SqliteStore, Store, SyncOutcome};
use cs_pulse::sync::{sync_source, SyncError, SyncOptions};

const KEY: &str = "rk_live_51TestKey";

fn fixture(name: &str) -> Value {
    let p = Path::new("tests/fixtures/stripe").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// The objects of a fixture list.
fn data(list: &Value) -> Vec<Value> {
    list["data"].as_array().unwrap().clone()
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ctx() -> SourceContext {
    SourceContext {
        timezone: Tz::UTC,
        fx: FxRates::new(Currency::USD).with_rate(Currency::EUR, dec!(1.08)),
    }
}

fn settings(base_url: &str, key: AccountKey) -> Settings {
    let mut network = HttpSettings::new(base_url, RateLimit::per_second(1000));
    network.max_retries = 2;
    network.timeout = Duration::from_secs(5);
    network.backoff = Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
    };
    Settings {
        network,
        api_key: Secret::from_env_var("CS_PULSE_TEST_STRIPE_KEY_NOT_READ"),
        account_key: key,
        full_sync_every: chrono::Duration::days(7),
        rate_limit_is_set: true,
    }
}

fn source(server: &MockServer, key: AccountKey) -> StripeSource {
    StripeSource::with_key("billing", settings(&server.uri(), key), KEY, ctx()).unwrap()
}

async fn full(source: &StripeSource, now: DateTime<Utc>) -> Result<Fetched, SourceError> {
    let request = FetchRequest {
        now,
        previous: None,
    };
    source.fetch(&request, &ProgressBar::hidden()).await
}

async fn changes(
    source: &StripeSource,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
    previous: &Dataset,
) -> Result<Fetched, SourceError> {
    let request = FetchRequest {
        now,
        previous: Some(Previous {
            started_at: since,
            data: previous,
        }),
    };
    source.fetch(&request, &ProgressBar::hidden()).await
}

/// What a Stripe account holds: the server answers every list (pages of `page` objects), each
/// customer by id, each customer's subscriptions and invoices, and the events.
#[derive(Clone)]
struct State {
    customers: Vec<Value>,
    deleted: Vec<String>,
    subscriptions: Vec<Value>,
    prices: Vec<Value>,
    invoices: Vec<Value>,
    /// Lines beyond those an invoice embeds, by invoice id.
    more_lines: Vec<(String, Vec<Value>)>,
    events: Vec<Value>,
    page: usize,
}

impl State {
    /// The account of tests/fixtures/stripe: three customers (two of them `crm-1`), four
    /// subscriptions (one of a deleted customer), four prices, four invoices.
    fn book() -> State {
        State {
            customers: data(&fixture("customers.json")),
            deleted: vec!["cus_Gone".into()],
            subscriptions: data(&fixture("subscriptions.json")),
            prices: data(&fixture("prices.json")),
            invoices: data(&fixture("invoices.json")),
            more_lines: vec![("in_B1".into(), data(&fixture("invoice_in_B1_lines.json")))],
            events: Vec::new(),
            page: 2,
        }
    }

    /// The book a few days later: cus_C renamed with a second subscription (and `events_C`
    /// saying so), or cus_B with an add-on (and `events_B`).
    fn changed(customer: &str) -> State {
        let changed = fixture("changed.json");
        let mut s = State::book();
        if customer == "cus_C" {
            for c in &mut s.customers {
                if c["id"] == "cus_C" {
                    *c = changed["customer_C"].clone();
                }
            }
            s.subscriptions.push(changed["subscription_C2"].clone());
            s.events = data(&fixture("events_C.json"));
        } else {
            s.subscriptions.push(changed["subscription_B2"].clone());
            s.events = data(&fixture("events_B.json"));
        }
        s
    }

    async fn serve(&self) -> MockServer {
        let server = MockServer::start().await;
        self.mount(&server).await;
        server
    }

    async fn mount(&self, server: &MockServer) {
        let page = self.page;
        mount_list(server, "/v1/customers", &self.customers, page, None).await;
        mount_list(server, "/v1/subscriptions", &self.subscriptions, page, None).await;
        mount_list(server, "/v1/prices", &self.prices, page, None).await;
        mount_list(server, "/v1/invoices", &self.invoices, page, None).await;
        mount_list(server, "/v1/events", &self.events, 100, None).await;
        for (invoice, lines) in &self.more_lines {
            let inv = self.invoices.iter().find(|i| i["id"] == invoice.as_str());
            let embedded_last = inv.and_then(|i| i["lines"]["data"].as_array()?.last().cloned());
            let after = embedded_last.map(|l| l["id"].as_str().unwrap().to_string());
            let p = format!("/v1/invoices/{invoice}/lines");
            mount_pages(server, &p, lines, page, None, after).await;
        }
        for c in &self.customers {
            let id = c["id"].as_str().unwrap();
            Mock::given(method("GET"))
                .and(path(format!("/v1/customers/{id}")))
                .respond_with(ResponseTemplate::new(200).set_body_json(c))
                .mount(server)
                .await;
            let of = |list: &[Value]| -> Vec<Value> {
                list.iter()
                    .filter(|o| o["customer"] == id)
                    .cloned()
                    .collect()
            };
            mount_list(
                server,
                "/v1/subscriptions",
                &of(&self.subscriptions),
                page,
                Some(id),
            )
            .await;
            mount_list(server, "/v1/invoices", &of(&self.invoices), page, Some(id)).await;
        }
        for id in &self.deleted {
            Mock::given(method("GET"))
                .and(path(format!("/v1/customers/{id}")))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "id": id, "object": "customer", "deleted": true
                })))
                .mount(server)
                .await;
        }
    }
}

/// A list endpoint in pages of `page` objects (only for `customer` when given).
async fn mount_list(
    server: &MockServer,
    list_path: &str,
    objects: &[Value],
    page: usize,
    customer: Option<&str>,
) {
    mount_pages(server, list_path, objects, page, customer, None).await;
}

/// Pages of `objects`; the first answers a request without `starting_after` (or with `first_after`),
/// the next ones the id of the last object of the page before.
async fn mount_pages(
    server: &MockServer,
    list_path: &str,
    objects: &[Value],
    page: usize,
    customer: Option<&str>,
    first_after: Option<String>,
) {
    let chunks: Vec<&[Value]> = if objects.is_empty() {
        vec![&[]]
    } else {
        objects.chunks(page).collect()
    };
    let mut after = first_after;
    for (k, chunk) in chunks.iter().enumerate() {
        let body = json!({
            "object": "list",
            "url": list_path,
            "has_more": k + 1 < chunks.len(),
            "data": chunk,
        });
        let mut mock = Mock::given(method("GET")).and(path(list_path));
        mock = match &after {
            None => mock.and(query_param_is_missing("starting_after")),
            Some(a) => mock.and(query_param("starting_after", a.as_str())),
        };
        mock = match customer {
            None => mock.and(query_param_is_missing("customer")),
            Some(c) => mock.and(query_param("customer", c)),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
        after = chunk
            .last()
            .and_then(|o| o["id"].as_str())
            .map(str::to_string);
    }
}

/// The requests the server received, as `path?query`.
async fn requests(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{}?{}", r.url.path(), decode(q)),
            None => r.url.path().to_string(),
        })
        .collect()
}

fn decode(q: &str) -> String {
    q.replace("%5B", "[").replace("%5D", "]")
}

fn query(r: &Request, key: &str) -> Vec<String> {
    r.url
        .query_pairs()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// A data set as lines a person can check against the fixtures.
fn render(d: &Dataset) -> String {
    let mut out = String::new();
    for a in d.accounts() {
        out.push_str(&format!(
            "account {} {:?} created {:?} trial {:?}..{:?} converted {:?} customers {:?}\n",
            a.id,
            a.name,
            a.created_at,
            a.trial_started_at,
            a.trial_ended_at,
            a.converted_at,
            a.custom.get("stripe_customers"),
        ));
    }
    for s in &d.subscriptions {
        out.push_str(&format!(
            "subscription {} of {}: {} {} from {} to {:?}\n",
            s.id,
            d.account(s.account).id,
            s.mrr,
            s.currency,
            s.start_date,
            s.end_date,
        ));
    }
    out
}

#[tokio::test]
async fn reads_every_page_with_the_pinned_version_and_the_key() {
    let server = State::book().serve().await;
    let progress = ProgressBar::hidden();
    let request = FetchRequest {
        now: at(2025, 6, 9, 0),
        previous: None,
    };
    let fetched = source(&server, AccountKey::CustomerId)
        .fetch(&request, &progress)
        .await
        .unwrap();
    assert!(fetched.full);
    // 3 customers, 4 subscriptions, 4 prices, 4 invoices and 1 more invoice line.
    assert_eq!(progress.position(), 16);
    insta::assert_snapshot!(render(&fetched.data), @r###"
    account cus_A "Acme Inc" created Some(2025-01-05) trial None..None converted None customers Some("cus_A")
    account cus_B "Acme Europe" created Some(2025-02-01) trial None..None converted None customers Some("cus_B")
    account cus_C "carol@globex.com" created Some(2025-03-10) trial Some(2025-03-10)..Some(2025-03-24) converted Some(2025-03-24) customers Some("cus_C")
    subscription sub_A1@2025-01-05 of cus_A: 100 USD from 2025-01-05 to None
    subscription sub_B1@2025-02-01 of cus_B: 100 EUR from 2025-02-01 to None
    subscription sub_C1@2025-03-24 of cus_C: 30 USD from 2025-03-24 to None
    "###);

    let received = server.received_requests().await.unwrap();
    for r in &received {
        assert_eq!(r.headers.get("stripe-version").unwrap(), API_VERSION);
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            &format!("Bearer {KEY}")
        );
        if r.url.path() != "/v1/invoices/in_B1/lines" {
            assert_eq!(query(r, "limit"), ["100"], "{}", r.url);
        }
    }
    let customers: Vec<Vec<String>> = received
        .iter()
        .filter(|r| r.url.path() == "/v1/customers")
        .map(|r| query(r, "starting_after"))
        .collect();
    assert_eq!(customers, [vec![], vec!["cus_B".to_string()]]);
    let subs: Vec<&Request> = received
        .iter()
        .filter(|r| r.url.path() == "/v1/subscriptions")
        .collect();
    assert_eq!(subs.len(), 2);
    for r in &subs {
        assert_eq!(query(r, "status"), ["all"]);
        assert_eq!(
            query(r, "expand[]"),
            ["data.discounts", "data.items.data.discounts"]
        );
    }
    assert_eq!(query(subs[1], "starting_after"), ["sub_B1"]);
    let lines: Vec<&Request> = received
        .iter()
        .filter(|r| r.url.path() == "/v1/invoices/in_B1/lines")
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "the invoice's lines beyond the embedded ones"
    );
    assert_eq!(query(lines[0], "starting_after"), ["il_B1"]);
    let prices: Vec<&Request> = received
        .iter()
        .filter(|r| r.url.path() == "/v1/prices")
        .collect();
    assert_eq!(query(prices[0], "expand[]"), ["data.tiers"]);
    // Nothing asked one by one in a full sync.
    assert!(received
        .iter()
        .all(|r| !r.url.path().starts_with("/v1/customers/")));
}

#[tokio::test]
async fn a_429_is_retried_then_the_sync_goes_on() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_json(json!({"error": {
                    "code": "rate_limit",
                    "message": "Too many requests hit the API too quickly.",
                    "type": "invalid_request_error"
                }})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    State::book().mount(&server).await;
    let source = source(&server, AccountKey::CustomerId);
    let fetched = full(&source, at(2025, 6, 9, 0)).await.unwrap();
    assert_eq!(fetched.data.accounts().len(), 3);
    let stats = source.stats();
    assert_eq!(stats.throttled, 1);
    assert!(stats.retries >= 1);
    let first_pages = requests(&server)
        .await
        .into_iter()
        .filter(|r| r == "/v1/customers?limit=100")
        .count();
    assert_eq!(first_pages, 2, "the throttled page asked again");
}

/// A clock that moves one minute each time it is read, from 2025-06-09.
struct Clock(AtomicI64);

impl Clock {
    fn new() -> Clock {
        Clock(AtomicI64::new(0))
    }
    fn now(&self) -> DateTime<Utc> {
        at(2025, 6, 9, 0) + chrono::Duration::minutes(self.0.fetch_add(1, Ordering::SeqCst))
    }
}

const FULL: SyncOptions = SyncOptions { force_full: true };

/// A store in a temporary directory holding one good sync of the book.
async fn synced_store(dir: &Path, clock: &Clock) -> (SqliteStore, Dataset) {
    let store = SqliteStore::open(&dir.join("cs-pulse.db")).await.unwrap();
    let server = State::book().serve().await;
    let source = source(&server, AccountKey::CustomerId);
    sync_source(
        &source,
        &store,
        &|| clock.now(),
        &ProgressBar::hidden(),
        FULL,
    )
    .await
    .unwrap();
    let stored = store.load_source("billing").await.unwrap();
    assert_eq!(stored.accounts().len(), 3);
    (store, stored)
}

#[tokio::test]
async fn a_500_storm_fails_the_sync_and_keeps_the_stored_data() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::new();
    let (store, before) = synced_store(dir.path(), &clock).await;

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {
            "message": "An unknown error occurred",
            "type": "api_error"
        }})))
        .with_priority(1)
        .mount(&server)
        .await;
    State::book().mount(&server).await;
    let source = source(&server, AccountKey::CustomerId);
    let err = sync_source(
        &source,
        &store,
        &|| clock.now(),
        &ProgressBar::hidden(),
        FULL,
    )
    .await
    .unwrap_err();
    let SyncError::Fetch { run, error } = &err else {
        panic!("not a fetch error: {err}");
    };
    assert!(
        matches!(error, SourceError::Http(e) if e.status() == Some(500)),
        "{error}"
    );
    let attempts = requests(&server)
        .await
        .iter()
        .filter(|r| r.starts_with("/v1/subscriptions"))
        .count();
    assert_eq!(attempts, 3, "the first request and max_retries = 2 retries");
    let SyncOutcome::Failed(message) = &run.outcome else {
        panic!("recorded as {:?}", run.outcome);
    };
    assert!(message.contains("failed 3 times"), "{message}");
    assert!(!message.contains(KEY));

    assert_eq!(store.load_source("billing").await.unwrap(), before);
    let runs = store.sync_runs(Some("billing"), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .any(|r| matches!(&r.outcome, SyncOutcome::Failed(_))));
}

#[tokio::test]
async fn a_malformed_page_names_the_objects_and_fields_and_keeps_the_stored_data() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::new();
    let (store, before) = synced_store(dir.path(), &clock).await;

    let mut state = State::book();
    state.subscriptions = data(&fixture("subscriptions_malformed.json"));
    let server = state.serve().await;
    let source = source(&server, AccountKey::CustomerId);
    let err = sync_source(
        &source,
        &store,
        &|| clock.now(),
        &ProgressBar::hidden(),
        FULL,
    )
    .await
    .unwrap_err();
    let SyncError::Fetch { error, .. } = &err else {
        panic!("not a fetch error: {err}");
    };
    assert!(matches!(error, SourceError::Invalid { .. }));
    insta::assert_snapshot!(error.to_string());
    // The page after the malformed one was read too: every problem is listed.
    let pages = requests(&server)
        .await
        .iter()
        .filter(|r| r.starts_with("/v1/subscriptions"))
        .count();
    assert_eq!(pages, 3);
    assert_eq!(store.load_source("billing").await.unwrap(), before);
}

#[tokio::test]
async fn an_incremental_sync_fetches_only_the_changed_customer_and_matches_a_full_one() {
    let first = State::book().serve().await;
    let before = full(&source(&first, AccountKey::CustomerId), at(2025, 6, 9, 0))
        .await
        .unwrap()
        .data;

    let server = State::changed("cus_C").serve().await;
    let now = at(2025, 6, 15, 12);
    let fetched = changes(
        &source(&server, AccountKey::CustomerId),
        now,
        at(2025, 6, 9, 0),
        &before,
    )
    .await
    .unwrap();
    assert!(!fetched.full);
    let received = requests(&server).await;
    let types = "types[]=customer.created&types[]=customer.updated";
    let since = at(2025, 6, 9, 0).timestamp() - 300;
    assert!(
        received[0].starts_with(&format!("/v1/events?created[gt]={since}&{types}")),
        "{received:?}"
    );
    let objects: BTreeSet<String> = received
        .iter()
        .skip(1)
        .map(|r| r.split("&starting_after").next().unwrap().to_string())
        .collect();
    let expand = "expand[]=data.discounts&expand[]=data.items.data.discounts";
    assert_eq!(
        objects,
        BTreeSet::from([
            "/v1/customers/cus_C".to_string(),
            format!("/v1/subscriptions?status=all&{expand}&customer=cus_C&limit=100"),
            "/v1/invoices?customer=cus_C&limit=100".to_string(),
            "/v1/prices?expand[]=data.tiers&limit=100".to_string(),
        ])
    );

    // The same as a full sync of the changed account.
    let everything = full(&source(&server, AccountKey::CustomerId), now)
        .await
        .unwrap();
    assert_eq!(fetched.data, everything.data);
    insta::assert_snapshot!(render(&fetched.data), @r###"
    account cus_A "Acme Inc" created Some(2025-01-05) trial None..None converted None customers Some("cus_A")
    account cus_B "Acme Europe" created Some(2025-02-01) trial None..None converted None customers Some("cus_B")
    account cus_C "Globex" created Some(2025-03-10) trial Some(2025-03-10)..Some(2025-03-24) converted Some(2025-03-24) customers Some("cus_C")
    subscription sub_A1@2025-01-05 of cus_A: 100 USD from 2025-01-05 to None
    subscription sub_B1@2025-02-01 of cus_B: 100 EUR from 2025-02-01 to None
    subscription sub_C1@2025-03-24 of cus_C: 30 USD from 2025-03-24 to None
    subscription sub_C2@2025-06-10 of cus_C: 20 USD from 2025-06-10 to None
    "###);
}

#[tokio::test]
async fn an_incremental_sync_rebuilds_every_customer_of_a_merged_account() {
    let key = || AccountKey::Metadata("crm_id".into());
    let first = State::book().serve().await;
    let before = full(&source(&first, key()), at(2025, 6, 9, 0))
        .await
        .unwrap()
        .data;

    // cus_B changed: cus_A shares its account (crm-1), cus_C does not.
    let server = State::changed("cus_B").serve().await;
    let now = at(2025, 6, 15, 12);
    let fetched = changes(&source(&server, key()), now, at(2025, 6, 9, 0), &before)
        .await
        .unwrap();
    let fetched_one_by_one: BTreeSet<String> = requests(&server)
        .await
        .iter()
        .filter_map(|r| match r.strip_prefix("/v1/customers/") {
            Some(id) => Some(id.to_string()),
            None => Some(r.split("customer=").nth(1)?.split('&').next()?.to_string()),
        })
        .collect();
    assert_eq!(
        fetched_one_by_one,
        BTreeSet::from(["cus_A".to_string(), "cus_B".to_string()])
    );
    let everything = full(&source(&server, key()), now).await.unwrap();
    assert_eq!(fetched.data, everything.data);
    insta::assert_snapshot!(render(&fetched.data), @r###"
    account crm-1 "Acme Inc" created Some(2025-01-05) trial None..None converted None customers Some("cus_A,cus_B")
    account cus_C "carol@globex.com" created Some(2025-03-10) trial Some(2025-03-10)..Some(2025-03-24) converted Some(2025-03-24) customers Some("cus_C")
    subscription sub_A1@2025-01-05 of crm-1: 100 USD from 2025-01-05 to None
    subscription sub_B1@2025-02-01 of crm-1: 100 EUR from 2025-02-01 to None
    subscription sub_B2@2025-06-12 of crm-1: 60 USD from 2025-06-12 to None
    subscription sub_C1@2025-03-24 of cus_C: 30 USD from 2025-03-24 to None
    "###);
}

#[tokio::test]
async fn no_event_means_no_change_and_old_syncs_fall_back_to_a_full_one() {
    let server = State::book().serve().await;
    let source = source(&server, AccountKey::CustomerId);
    let before = full(&source, at(2025, 6, 9, 0)).await.unwrap().data;
    server.reset().await;
    State::book().mount(&server).await;

    let same = changes(&source, at(2025, 6, 10, 0), at(2025, 6, 9, 0), &before)
        .await
        .unwrap();
    assert!(!same.full);
    assert_eq!(same.data, before);
    let received = requests(&server).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].starts_with("/v1/events?"));

    // Stripe keeps events 30 days: an older sync is not a base for changes.
    server.reset().await;
    State::book().mount(&server).await;
    let fetched = changes(&source, at(2025, 6, 9, 0), at(2025, 5, 1, 0), &before)
        .await
        .unwrap();
    assert!(fetched.full);
    assert_eq!(fetched.data, before);
    assert!(requests(&server)
        .await
        .iter()
        .all(|r| !r.starts_with("/v1/events")));
}

#[tokio::test]
async fn a_deleted_customer_leaves_its_account() {
    let key = || AccountKey::EmailDomain;
    let first = State::book().serve().await;
    let before = full(&source(&first, key()), at(2025, 6, 9, 0))
        .await
        .unwrap()
        .data;
    assert_eq!(before.accounts().len(), 2);

    let mut later = State::book();
    later.customers.retain(|c| c["id"] != "cus_A");
    later.deleted.push("cus_A".into());
    later.events = vec![json!({
        "id": "evt_Del",
        "object": "event",
        "api_version": API_VERSION,
        "created": at(2025, 6, 10, 0).timestamp(),
        "data": {"object": {
            "id": "cus_A", "object": "customer", "created": 1736071200, "email": "ann@acme.io",
            "metadata": {"crm_id": "crm-1"}, "name": "Acme Inc", "discount": null, "livemode": false
        }},
        "livemode": false,
        "pending_webhooks": 0,
        "request": {"id": null, "idempotency_key": null},
        "type": "customer.deleted"
    })];
    // An invoice of a customer Stripe no longer knows (404): dropped too.
    later.events.push(event(
        "evt_Nope",
        "invoice.voided",
        json!({"id": "in_Nope", "object": "invoice", "customer": "cus_Nope"}),
    ));
    let server = later.serve().await;
    let now = at(2025, 6, 15, 12);
    let fetched = changes(&source(&server, key()), now, at(2025, 6, 9, 0), &before)
        .await
        .unwrap();
    let asked = requests(&server).await;
    assert!(asked.iter().any(|r| r == "/v1/customers/cus_Nope"));
    assert!(asked.iter().all(|r| !r.contains("customer=cus_Nope")));
    let everything = full(&source(&server, key()), now).await.unwrap();
    assert_eq!(fetched.data, everything.data);
    let acme = fetched.data.account_ix("acme.io").unwrap();
    assert_eq!(
        fetched.data.account(acme).custom["stripe_customers"],
        "cus_B"
    );
    assert_eq!(fetched.data.account(acme).name, "Acme Europe");
    assert!(fetched
        .data
        .subscriptions
        .iter()
        .all(|s| !s.id.starts_with("sub_A1")));
}

#[tokio::test]
async fn customers_map_to_accounts_by_the_configured_key() {
    let server = State::book().serve().await;
    let now = at(2025, 6, 9, 0);
    let ids = |d: &Dataset| -> Vec<(String, String, String)> {
        d.accounts()
            .iter()
            .map(|a| {
                (
                    a.id.clone(),
                    a.name.clone(),
                    a.custom["stripe_customers"].clone(),
                )
            })
            .collect()
    };
    let by_meta = full(&source(&server, AccountKey::Metadata("crm_id".into())), now)
        .await
        .unwrap()
        .data;
    assert_eq!(
        ids(&by_meta),
        [
            ("crm-1".into(), "Acme Inc".into(), "cus_A,cus_B".into()),
            // No crm_id: the customer id.
            ("cus_C".into(), "carol@globex.com".into(), "cus_C".into()),
        ]
    );
    let crm = by_meta.account_ix("crm-1").unwrap();
    assert_eq!(by_meta.account(crm).created_at, Some(day(2025, 1, 5)));
    assert_eq!(
        by_meta
            .subscriptions
            .iter()
            .filter(|s| s.account == crm)
            .count(),
        2
    );

    let by_domain = full(&source(&server, AccountKey::EmailDomain), now)
        .await
        .unwrap()
        .data;
    assert_eq!(
        ids(&by_domain),
        [
            ("acme.io".into(), "Acme Inc".into(), "cus_A,cus_B".into()),
            (
                "globex.com".into(),
                "carol@globex.com".into(),
                "cus_C".into()
            ),
        ]
    );

    let by_id = full(&source(&server, AccountKey::CustomerId), now)
        .await
        .unwrap()
        .data;
    assert_eq!(
        by_id
            .accounts()
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        ["cus_A", "cus_B", "cus_C"]
    );
}

/// The MRR intervals of one subscription of the normalisation cases.
fn intervals(d: &Dataset, sub: &str) -> Vec<(NaiveDate, Option<NaiveDate>, Decimal)> {
    d.subscriptions
        .iter()
        .filter(|s| s.id.split('@').next() == Some(sub))
        .map(|s| (s.start_date, s.end_date, s.mrr))
        .collect()
}

#[tokio::test]
async fn discounts_and_intervals_normalise_to_hand_computed_mrr() {
    let cases = fixture("normalisation.json");
    let state = State {
        customers: data(&cases["customers"]),
        deleted: Vec::new(),
        subscriptions: data(&cases["subscriptions"]),
        prices: data(&cases["prices"]),
        invoices: Vec::new(),
        more_lines: Vec::new(),
        events: Vec::new(),
        page: 100,
    };
    let server = state.serve().await;
    let d = full(
        &source(&server, AccountKey::CustomerId),
        at(2025, 6, 15, 12),
    )
    .await
    .unwrap()
    .data;
    let ongoing = |y, m, dd, mrr| vec![(day(y, m, dd), None, mrr)];
    // $100/month, 20% off forever: 100 × 0.8.
    assert_eq!(intervals(&d, "sub_N1"), ongoing(2025, 1, 1, dec!(80)));
    // $1,200/year, $120 off each (yearly) invoice forever: 1200 / 12 − 120 / 12.
    assert_eq!(intervals(&d, "sub_N2"), ongoing(2025, 1, 1, dec!(90)));
    // $50/month, 50% off once: the first month at 25, then 50.
    assert_eq!(
        intervals(&d, "sub_N3"),
        [
            (day(2025, 4, 1), Some(day(2025, 5, 1)), dec!(25)),
            (day(2025, 5, 1), None, dec!(50)),
        ]
    );
    // $200/month, 25% off for 3 months: 150 from February to April, then 200.
    assert_eq!(
        intervals(&d, "sub_N4"),
        [
            (day(2025, 2, 1), Some(day(2025, 5, 1)), dec!(150)),
            (day(2025, 5, 1), None, dec!(200)),
        ]
    );
    // $10/week: 10 × 52 / 12.
    assert_eq!(
        intervals(&d, "sub_N5"),
        ongoing(2025, 3, 3, (dec!(520) / dec!(12)).normalize())
    );
    assert_eq!(intervals(&d, "sub_N5")[0].2.round_dp(2), dec!(43.33));
    // $300 every 3 months: 100.
    assert_eq!(intervals(&d, "sub_N6"), ongoing(2025, 1, 15, dec!(100)));
    // $100/month, the customer's 10% off forever: 90.
    assert_eq!(intervals(&d, "sub_N7"), ongoing(2025, 1, 1, dec!(90)));
    // Canceled: ends on its ended_at.
    assert_eq!(
        intervals(&d, "sub_N8"),
        [(day(2025, 1, 1), Some(day(2025, 4, 1)), dec!(100))]
    );
    // $2/day: 2 × 365 / 12.
    assert_eq!(
        intervals(&d, "sub_N9"),
        ongoing(2025, 5, 1, (dec!(730) / dec!(12)).normalize())
    );
}

#[tokio::test]
async fn a_currency_without_a_rate_is_an_input_error() {
    let server = State::book().serve().await;
    let no_eur = SourceContext {
        timezone: Tz::UTC,
        fx: FxRates::new(Currency::USD),
    };
    let source = StripeSource::with_key(
        "billing",
        settings(&server.uri(), AccountKey::CustomerId),
        KEY,
        no_eur,
    )
    .unwrap();
    let err = full(&source, at(2025, 6, 9, 0)).await.unwrap_err();
    insta::assert_snapshot!(err.to_string(), @r###"
    1 invalid value in Stripe:
      Stripe subscription sub_B1: field currency: EUR has no exchange rate: add it under [metrics.fx] (how many USD one EUR is worth)
    "###);
}

#[test]
fn a_test_key_lowers_the_default_rate_limit() {
    let mut s = settings("http://127.0.0.1:9", AccountKey::CustomerId);
    s.rate_limit_is_set = false;
    s.network.rate_limit = RateLimit::per_second(100);
    let test = StripeSource::with_key("billing", s.clone(), "rk_test_abc", ctx()).unwrap();
    assert_eq!(
        test.settings().network.rate_limit,
        RateLimit::per_second(25)
    );
    let live = StripeSource::with_key("billing", s.clone(), "rk_live_abc", ctx()).unwrap();
    assert_eq!(
        live.settings().network.rate_limit,
        RateLimit::per_second(100)
    );
    s.rate_limit_is_set = true;
    s.network.rate_limit = RateLimit::per_second(60);
    let set = StripeSource::with_key("billing", s, "sk_test_abc", ctx()).unwrap();
    assert_eq!(set.settings().network.rate_limit, RateLimit::per_second(60));
}

fn parse(src: &str) -> Result<Config, String> {
    Config::parse(src, Path::new("cs-pulse.toml"), Path::new(".")).map_err(|d| d.to_string())
}

#[test]
fn config_defaults_and_values() {
    let c = parse(
        r#"
[sources.billing]
kind = "stripe"
api_key = "${STRIPE_API_KEY}"
"#,
    )
    .unwrap();
    let SourceKind::Stripe(s) = &c.sources[0].kind else {
        panic!("{:?}", c.sources[0].kind);
    };
    assert_eq!(s.network.base_url, "https://api.stripe.com");
    assert_eq!(s.network.rate_limit, RateLimit::per_second(100));
    assert!(!s.rate_limit_is_set);
    assert_eq!(s.api_key.var(), "STRIPE_API_KEY");
    assert_eq!(s.account_key, AccountKey::CustomerId);
    assert_eq!(s.full_sync_every, chrono::Duration::days(7));

    let c = parse(
        r#"
[sources.billing]
kind = "stripe"
api_key = "${STRIPE_KEY}"
account_key = "metadata.crm_id"
base_url = "http://127.0.0.1:8080/"
rate_limit = "20/s"
full_sync_every = "1d"
"#,
    )
    .unwrap();
    let SourceKind::Stripe(s) = &c.sources[0].kind else {
        panic!();
    };
    assert_eq!(s.account_key, AccountKey::Metadata("crm_id".into()));
    assert_eq!(s.network.base_url, "http://127.0.0.1:8080");
    assert_eq!(s.network.rate_limit, RateLimit::per_second(20));
    assert!(s.rate_limit_is_set);
    assert_eq!(s.full_sync_every, chrono::Duration::days(1));
    assert_eq!(
        c.sources[0].kind.to_string(),
        "Stripe at http://127.0.0.1:8080"
    );
}

#[test]
fn config_errors_at_once() {
    let errors = parse(
        r#"
[sources.billing]
kind = "stripe"
api_key = "sk_live_pasted_here"
account_key = "email"
rate_limit = "fast"
full_sync_every = "10m"

[sources.other]
kind = "stripe"
account_key = "metadata."
token = "${X}"
"#,
    )
    .unwrap_err();
    insta::assert_snapshot!(errors);
}

#[test]
fn an_unset_key_variable_is_named() {
    let cfg = SourceConfig {
        name: "billing".into(),
        kind: SourceKind::Stripe(Settings {
            api_key: Secret::from_env_var("CS_PULSE_TEST_STRIPE_KEY_UNSET"),
            ..settings("http://127.0.0.1:9", AccountKey::CustomerId)
        }),
    };
    let err = cs_pulse::sources::from_config(&cfg, &ctx(), day(2025, 6, 9))
        .err()
        .unwrap();
    assert!(matches!(err, SourceError::Secret(_)));
    assert_eq!(
        err.to_string(),
        "the environment variable CS_PULSE_TEST_STRIPE_KEY_UNSET is not set (it holds the Stripe API key of source `billing`)"
    );
}

#[tokio::test]
async fn an_empty_page_that_says_more_follow_ends_the_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/customers", "has_more": true, "data": []
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    State::book().mount(&server).await;
    let fetched = full(&source(&server, AccountKey::CustomerId), at(2025, 6, 9, 0))
        .await
        .unwrap();
    // No customer: every subscription is of an unknown customer, and skipped.
    assert!(fetched.data.accounts().is_empty());
    assert!(fetched.data.subscriptions.is_empty());
    let customers = requests(&server)
        .await
        .iter()
        .filter(|r| r.starts_with("/v1/customers"))
        .count();
    assert_eq!(customers, 1);
}

#[tokio::test]
async fn a_page_that_is_not_a_list_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/prices", "data": []
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    State::book().mount(&server).await;
    let err = full(&source(&server, AccountKey::CustomerId), at(2025, 6, 9, 0))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 invalid value in Stripe:\n  Stripe list /v1/prices: field has_more: is missing"
    );
}

#[tokio::test]
async fn the_sync_engine_runs_changes_only_between_full_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::new();
    let (store, _) = synced_store(dir.path(), &clock).await;

    // Minutes later, with cus_C changed: the engine asks for the changes only.
    let server = State::changed("cus_C").serve().await;
    let source = source(&server, AccountKey::CustomerId);
    let run = sync_source(
        &source,
        &store,
        &|| clock.now(),
        &ProgressBar::hidden(),
        SyncOptions::default(),
    )
    .await
    .unwrap();
    assert!(!run.full);
    assert!(requests(&server)
        .await
        .iter()
        .all(|r| !r.starts_with("/v1/customers?")));
    let stored = store.load_source("billing").await.unwrap();
    let everything = full(&source, clock.now()).await.unwrap();
    assert_eq!(stored, everything.data);
}

/// The `[sources.billing]` example given for config.example.toml, uncommented, validates with
/// the values its comments give.
#[test]
fn the_config_example_validates_when_uncommented() {
    let text = std::fs::read_to_string("tests/fixtures/stripe/config_example.toml").unwrap();
    let src: String = text
        .lines()
        .filter_map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || is_setting(rest) => Some(format!("{rest}\n")),
            _ => None,
        })
        .collect();
    assert!(src.contains("kind = \"stripe\""), "{src}");
    let c = parse(&src).unwrap();
    let SourceKind::Stripe(s) = &c.sources[0].kind else {
        panic!();
    };
    assert_eq!(c.sources[0].name, "billing");
    assert_eq!(s.api_key.var(), "STRIPE_API_KEY");
    assert_eq!(s.account_key, AccountKey::Metadata("crm_id".into()));
    assert_eq!(s.network.base_url, "https://api.stripe.com");
    assert_eq!(s.network.rate_limit, RateLimit::per_second(100));
    assert_eq!(s.network.concurrency, 4);
    assert_eq!(s.network.max_retries, 5);
    assert_eq!(s.network.timeout, Duration::from_secs(30));
    assert_eq!(s.full_sync_every, chrono::Duration::days(7));
}

/// Whether a line is `key = value`.
fn is_setting(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    })
}

/// An event of `type_` about `object`, as `GET /v1/events` lists it.
fn event(id: &str, type_: &str, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": at(2025, 6, 10, 0).timestamp(),
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 0,
        "request": {"id": null, "idempotency_key": null},
        "type": type_
    })
}

#[tokio::test]
async fn too_many_changed_customers_make_a_full_sync() {
    let first = State::book().serve().await;
    let before = full(&source(&first, AccountKey::CustomerId), at(2025, 6, 9, 0))
        .await
        .unwrap()
        .data;
    let mut later = State::book();
    later.events = (0..101)
        .map(|i| {
            let id = format!("cus_New{i:03}");
            event(
                &format!("evt_{i:03}"),
                "customer.created",
                json!({"id": id, "object": "customer"}),
            )
        })
        .collect();
    let server = later.serve().await;
    let fetched = changes(
        &source(&server, AccountKey::CustomerId),
        at(2025, 6, 15, 12),
        at(2025, 6, 9, 0),
        &before,
    )
    .await
    .unwrap();
    assert!(fetched.full);
    assert_eq!(fetched.data, before);
    let received = requests(&server).await;
    assert!(received.iter().any(|r| r == "/v1/customers?limit=100"));
    assert!(received.iter().all(|r| !r.starts_with("/v1/customers/")));
}
