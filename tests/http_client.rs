//! The shared HTTP client of network sources against local servers (wiremock on 127.0.0.1):
//! retries on 429, 5xx and timeouts, no retry on other 4xx, errors users can act on and that
//! never show the credential, repeated query keys, `Link` pagination, and decoding errors that
//! name the object and the field. Backoff is 1 ms so the tests stay fast; nothing is timed.

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use cs_pulse::config::Config;
use cs_pulse::sources::http::{
    decode_all, decode_object, Backoff, Client, HttpError, RateLimit, Settings,
};
use serde::Deserialize;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "rk_test_51NzQ0aSecretValue0123456789";

fn settings(server: &MockServer, max_retries: u32) -> Settings {
    Settings {
        max_retries,
        timeout: Duration::from_secs(5),
        backoff: Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
        },
        ..Settings::new(server.uri(), RateLimit::per_second(1000))
    }
}

fn client(settings: &Settings) -> Client {
    Client::new(
        "Stripe",
        settings,
        vec![
            ("Authorization".to_string(), format!("Bearer {KEY}")),
            ("Stripe-Version".to_string(), "2024-06-20".to_string()),
        ],
    )
    .unwrap()
}

/// A page of Stripe customers, as `GET /v1/customers` answers it.
fn customers_page() -> Value {
    json!({
        "object": "list",
        "url": "/v1/customers",
        "has_more": false,
        "data": [{
            "id": "cus_NffrFeUfNV2Hib",
            "object": "customer",
            "address": null,
            "balance": 0,
            "created": 1680893993,
            "currency": null,
            "default_source": null,
            "delinquent": false,
            "description": null,
            "discount": null,
            "email": "jennyrosen@example.com",
            "invoice_prefix": "0759376C",
            "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
            "livemode": false,
            "metadata": {},
            "name": "Jenny Rosen",
            "next_invoice_sequence": 1,
            "phone": null,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null
        }]
    })
}

/// Stripe's error body.
fn stripe_error(kind: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind}})
}

async fn requests_received(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_json(stripe_error("rate_limit_error", "Too many requests.")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customers_page()))
        .mount(&server)
        .await;
    let c = client(&settings(&server, 5));
    let response = c
        .get("/v1/customers", &[("limit", "100".to_string())])
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.url, "/v1/customers?limit=100");
    let page: Value = response.json().unwrap();
    assert_eq!(page["data"][0]["id"], "cus_NffrFeUfNV2Hib");
    let stats = c.stats();
    assert_eq!((stats.requests, stats.retries, stats.throttled), (2, 1, 1));
    assert_eq!(requests_received(&server).await, 2);
}

#[tokio::test]
async fn a_500_storm_exhausts_the_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(stripe_error("api_error", "An unknown error occurred")),
        )
        .mount(&server)
        .await;
    let c = client(&settings(&server, 3));
    let err = c
        .get("/v1/customers", &[("limit", "100".to_string())])
        .await
        .unwrap_err();
    assert_eq!(requests_received(&server).await, 4);
    assert_eq!(err.status(), Some(500));
    assert!(matches!(
        err,
        HttpError::RetriesExhausted { attempts: 4, .. }
    ));
    let stats = c.stats();
    assert_eq!((stats.requests, stats.retries, stats.throttled), (4, 3, 0));
    insta::assert_snapshot!("500_storm", err.to_string());
}

#[tokio::test]
async fn no_retries_gives_the_bare_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .mount(&server)
        .await;
    let c = client(&settings(&server, 0));
    let err = c.get("/v1/customers", &[]).await.unwrap_err();
    assert_eq!(requests_received(&server).await, 1);
    assert!(matches!(err, HttpError::Status { status: 502, .. }));
    assert!(
        err.to_string().contains(": <html>Bad Gateway</html>."),
        "{err}"
    );
}

#[tokio::test]
async fn a_503_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customers_page()))
        .mount(&server)
        .await;
    let c = client(&settings(&server, 2));
    let response = c.get("/v1/customers", &[]).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(c.stats().retries, 1);
    assert_eq!(c.stats().throttled, 0);
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(customers_page())
                .set_delay(Duration::from_secs(2)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customers_page()))
        .mount(&server)
        .await;
    let s = Settings {
        timeout: Duration::from_millis(100),
        ..settings(&server, 2)
    };
    let c = client(&s);
    let response = c.get("/v1/customers", &[]).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn timeouts_to_the_end_say_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let s = Settings {
        timeout: Duration::from_millis(50),
        ..settings(&server, 1)
    };
    let err = client(&s).get("/v1/customers", &[]).await.unwrap_err();
    insta::assert_snapshot!("timeouts", err.to_string());
}

#[tokio::test]
async fn a_404_is_not_retried_and_shows_the_providers_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/customers/cus_nope"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": {
                "code": "resource_missing",
                "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
                "message": "No such customer: 'cus_nope'",
                "param": "id",
                "request_log_url": "https://dashboard.stripe.com/test/logs/req_1",
                "type": "invalid_request_error"
            }
        })))
        .mount(&server)
        .await;
    let c = client(&settings(&server, 5));
    let err = c.get("/v1/customers/cus_nope", &[]).await.unwrap_err();
    assert_eq!(requests_received(&server).await, 1);
    assert_eq!(err.status(), Some(404));
    assert_eq!(c.stats().retries, 0);
    insta::assert_snapshot!("404", err.to_string());
}

#[tokio::test]
async fn a_401_is_not_retried_and_never_shows_the_token() {
    let server = MockServer::start().await;
    // HubSpot's error body, echoing (as a careless API might) the credential it refused.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error",
            "message": format!("Authentication credentials not found: Bearer {KEY} is not valid"),
            "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c",
            "category": "INVALID_AUTHENTICATION"
        })))
        .mount(&server)
        .await;
    let c = Client::new(
        "HubSpot",
        &settings(&server, 5),
        vec![("Authorization".to_string(), format!("Bearer {KEY}"))],
    )
    .unwrap();
    let err = c
        .get("/crm/v3/objects/companies", &[("hapikey", KEY.to_string())])
        .await
        .unwrap_err();
    assert_eq!(requests_received(&server).await, 1);
    let shown = format!("{err} {err:?} {c:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("rk_test"), "{shown}");
    insta::assert_snapshot!("401", err.to_string());
    // The credential was sent, though.
    let received = server.received_requests().await.unwrap();
    assert_eq!(
        received[0]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer {KEY}")
    );
    let agent = received[0]
        .headers
        .get("user-agent")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(agent.starts_with("cs-pulse/"), "{agent}");
}

#[tokio::test]
async fn the_credential_never_shows_in_any_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!("echo: {KEY}")))
        .mount(&server)
        .await;
    let c = client(&settings(&server, 1));
    let mut errors: Vec<HttpError> = vec![c
        .get("/v1/customers", &[("api_key", KEY.to_string())])
        .await
        .unwrap_err()];
    errors.push(c.get("https://evil.example/steal", &[]).await.unwrap_err());
    // Nothing listens on port 9 of 127.0.0.1.
    let closed = Settings::new("http://127.0.0.1:9", RateLimit::per_second(1000));
    let closed = Settings {
        max_retries: 0,
        ..closed
    };
    let dead = client(&closed);
    errors.push(dead.get("/v1/customers", &[]).await.unwrap_err());
    let bad_header = Client::new(
        "Stripe",
        &settings(&server, 0),
        vec![(
            "Authorization".to_string(),
            format!("Bearer {KEY}\nX-Other: 1"),
        )],
    );
    match bad_header {
        Ok(_) => panic!("a header value with a line break was accepted"),
        Err(e) => errors.push(e),
    }
    for e in &errors {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(KEY), "{shown}");
    }
    assert!(
        matches!(errors[1], HttpError::InvalidUrl { .. }),
        "{}",
        errors[1]
    );
    assert!(
        matches!(
            errors[2],
            HttpError::Transport {
                timed_out: false,
                ..
            }
        ),
        "{}",
        errors[2]
    );
    assert!(
        matches!(errors[3], HttpError::Setup { .. }),
        "{}",
        errors[3]
    );
    assert!(format!("{c:?}").contains("Stripe"));
    assert!(!format!("{c:?} {dead:?}").contains(KEY));
}

#[tokio::test]
async fn repeated_query_keys_arrive_as_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .and(query_param("status", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/subscriptions", "has_more": false, "data": []
        })))
        .mount(&server)
        .await;
    let c = client(&settings(&server, 0));
    let query = [
        ("status", "all".to_string()),
        ("expand[]", "data.customer".to_string()),
        ("expand[]", "data.discounts".to_string()),
        ("limit", "100".to_string()),
    ];
    let response = c.get("/v1/subscriptions", &query).await.unwrap();
    assert_eq!(
        response.url,
        "/v1/subscriptions?status=all&expand[]=data.customer&expand[]=data.discounts&limit=100"
    );
    let received = server.received_requests().await.unwrap();
    let pairs: Vec<(String, String)> = received[0]
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let sent: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert_eq!(pairs, sent);
}

#[tokio::test]
async fn follows_link_headers_on_the_same_host_only() {
    let server = MockServer::start().await;
    let next = format!("{}/api/items?page=2&per_page=50", server.uri());
    Mock::given(method("GET"))
        .and(path("/api/items"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1}]))
                .insert_header(
                    "Link",
                    format!(r#"<{next}>; rel="next", </api/items?page=9&per_page=50>; rel="last""#)
                        .as_str(),
                ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/items"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 2}]))
                .insert_header(
                    "Link",
                    r#"</api/items?page=1&per_page=50>; rel="prev first""#,
                ),
        )
        .mount(&server)
        .await;
    let c = client(&settings(&server, 0));
    let first = c
        .get("/api/items", &[("page", "1".to_string())])
        .await
        .unwrap();
    let link = first.next_link().unwrap();
    assert_eq!(link, next);
    let second = c.get(&link, &[]).await.unwrap();
    assert_eq!(second.json::<Value>().unwrap(), json!([{"id": 2}]));
    assert_eq!(second.next_link(), None);
    let elsewhere = c
        .get("https://api.example.com/api/items?page=2", &[])
        .await
        .unwrap_err();
    assert!(
        elsewhere.to_string().starts_with(
            "Stripe: cannot request https://api.example.com/api/items?page=2: it is on another host than base_url (127.0.0.1)"
        ),
        "{elsewhere}"
    );
    assert_eq!(requests_received(&server).await, 2);
}

#[tokio::test]
async fn relative_link_targets_resolve_against_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .insert_header("Link", r#"<?cursor=abc>; rel="next""#),
        )
        .mount(&server)
        .await;
    let c = client(&settings(&server, 0));
    let r = c
        .get("/v2/events", &[("cursor", "start".to_string())])
        .await
        .unwrap();
    assert_eq!(
        r.next_link(),
        Some(format!("{}/v2/events?cursor=abc", server.uri()))
    );
}

#[tokio::test]
async fn post_json_sends_the_body_in_its_lane() {
    let server = MockServer::start().await;
    let search = json!({
        "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1700000000000"}]}],
        "limit": 100,
        "after": "0"
    });
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/search"))
        .and(header("content-type", "application/json"))
        .and(body_json(&search))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})))
        .mount(&server)
        .await;
    let lane = RateLimit {
        requests: NonZeroU32::new(5).unwrap(),
        per: Duration::from_secs(1),
    };
    let c = client(&settings(&server, 0)).with_lane("search", lane);
    let r = c
        .post_json("/crm/v3/objects/companies/search", &search, Some("search"))
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().unwrap()["total"], 0);
    // An unknown lane only has the general limit.
    let r = c
        .post_json("crm/v3/objects/companies/search", &search, Some("other"))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_body_that_is_not_the_expected_json_says_where() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/customers", "has_more": "maybe", "data": []
        })))
        .mount(&server)
        .await;
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct List {
        has_more: bool,
        data: Vec<Value>,
    }
    let c = client(&settings(&server, 0));
    let err = c
        .get("/v1/customers", &[("limit", "100".to_string())])
        .await
        .unwrap()
        .json::<List>()
        .unwrap_err();
    insta::assert_snapshot!("bad_body", err.to_string());
}

#[test]
fn an_invalid_base_url_is_refused() {
    let s = Settings::new("api.stripe.com", RateLimit::per_second(25));
    let err = Client::new("Stripe", &s, vec![]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Stripe: cannot request api.stripe.com: the base URL is not an http(s) URL"
    );
}

/// A Stripe subscription whose price recurs every "fortnight", an interval this API version
/// does not have.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Subscription {
    id: String,
    status: String,
    items: Items,
}
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Items {
    data: Vec<Item>,
}
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Item {
    id: String,
    quantity: u64,
    price: Price,
}
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Price {
    id: String,
    unit_amount: Option<i64>,
    recurring: Option<Recurring>,
}
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Recurring {
    interval: Interval,
    interval_count: u32,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Interval {
    Day,
    Week,
    Month,
    Year,
}

fn subscription(id: &str, interval: &str) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "status": "active",
        "items": {
            "object": "list",
            "data": [{
                "id": "si_NcLYdDxLHxlFo7",
                "object": "subscription_item",
                "quantity": 1,
                "price": {
                    "id": "price_1MowQULkdIwHu7ixraBm864M",
                    "object": "price",
                    "active": true,
                    "currency": "usd",
                    "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
                    "type": "recurring",
                    "unit_amount": 1000
                }
            }],
            "has_more": false
        }
    })
}

#[test]
fn decode_errors_name_the_object_and_the_field() {
    let err = decode_object::<Subscription>(
        "subscription",
        subscription("sub_1MowQVLkdIwHu7ixeRlqHVzs", "fortnight"),
    )
    .unwrap_err();
    insta::assert_snapshot!("decode_unknown_variant", err.to_string());
    let mut missing = subscription("sub_2", "month");
    if let Some(item) = missing.pointer_mut("/items/data/0") {
        item.as_object_mut().unwrap().remove("quantity");
    }
    let values = vec![
        subscription("sub_ok", "month"),
        missing,
        json!({"object": "subscription", "status": 3}),
    ];
    let errors = decode_all::<Subscription>("subscription", values).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!("decode_all", shown.join("\n"));
}

#[test]
fn a_bad_rate_limit_is_reported_at_its_value() {
    let toml = r#"
[sources.billing]
kind = "stripe"
api_key = "${STRIPE_API_KEY}"
rate_limit = "fast"
concurrency = 0
timeout = "0s"
"#;
    let err = Config::parse(toml, Path::new("cs-pulse.toml"), Path::new("")).unwrap_err();
    let messages: Vec<String> = err.iter().map(|d| d.message.clone()).collect();
    let text = messages.join("\n");
    assert!(
        text.contains(r#"rate_limit "fast" is not a number of requests per duration"#),
        "{text}"
    );
    assert!(
        text.contains("concurrency must be a whole number from 1 to 32, found 0"),
        "{text}"
    );
    assert!(
        text.contains(r#"timeout must be from 1s to 10m, found "0s""#),
        "{text}"
    );
    insta::assert_snapshot!("config_network_errors", err.render());
}

#[test]
fn a_literal_api_key_is_refused_without_echoing_it() {
    let toml = format!(
        r#"
[sources.billing]
kind = "stripe"
api_key = "{KEY}"
base_url = "ftp://example.com"
max_retries = 11
"#
    );
    let err = Config::parse(&toml, Path::new("cs-pulse.toml"), Path::new("")).unwrap_err();
    let messages: Vec<String> = err.iter().map(|d| d.message.clone()).collect();
    let text = messages.join("\n");
    assert!(
        text.contains("`api_key` must name an environment variable"),
        "{text}"
    );
    assert!(
        text.contains("`base_url` \"ftp://example.com\" is not an http(s) URL"),
        "{text}"
    );
    assert!(
        text.contains("max_retries must be a whole number from 0 to 10, found 11"),
        "{text}"
    );
}

/// Counts the requests in flight at once, each held for a moment.
#[derive(Default)]
struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_requests_in_flight_than_the_concurrency() {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    let counter = Arc::new(InFlight::default());
    let state = counter.clone();
    let router = axum::Router::new().route(
        "/v1/customers",
        axum::routing::get(move || {
            let c = state.clone();
            async move {
                let n = c.now.fetch_add(1, Ordering::SeqCst) + 1;
                c.max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                c.now.fetch_sub(1, Ordering::SeqCst);
                axum::Json(customers_page())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let s = Settings {
        concurrency: 2,
        max_retries: 0,
        ..Settings::new(base, RateLimit::per_second(100_000))
    };
    let c = client(&s);
    let calls = (0..12).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.get("/v1/customers", &[]).await.map(|r| r.status) })
    });
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap(), 200);
    }
    assert_eq!(c.stats().requests, 12);
    let max = counter.max.load(Ordering::SeqCst);
    assert!((1..=2).contains(&max), "{max} requests in flight at once");
}

#[tokio::test]
async fn redirects_are_followed_on_the_same_host_only() {
    let server = MockServer::start().await;
    let port = server.address().port();
    Mock::given(method("GET"))
        .and(path("/old"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "/v1/customers"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customers_page()))
        .mount(&server)
        .await;
    // The same server under another name: another host, so the credentials stay here.
    let elsewhere = format!("http://localhost:{port}/v1/customers");
    Mock::given(method("GET"))
        .and(path("/moved"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", elsewhere.as_str()))
        .mount(&server)
        .await;
    let c = client(&settings(&server, 3));
    assert_eq!(c.get("/old", &[]).await.unwrap().status, 200);
    let err = c.get("/moved", &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(302));
    assert!(
        err.to_string()
            .contains("does not follow a redirect to another host"),
        "{err}"
    );
    assert_eq!(requests_received(&server).await, 3);
}

#[test]
fn network_keys_have_the_providers_defaults_and_are_read() {
    let toml = r#"
[sources.billing]
kind = "stripe"
api_key = "${STRIPE_API_KEY}"

[sources.local]
kind = "stripe"
api_key = "${STRIPE_API_KEY}"
base_url = "http://127.0.0.1:8080/"
rate_limit = "40/10s"
concurrency = 2
max_retries = 0
timeout = "2m"
"#;
    let config = Config::parse(toml, Path::new("cs-pulse.toml"), Path::new("")).unwrap();
    let network = |i: usize| match &config.sources[i].kind {
        cs_pulse::config::SourceKind::Stripe(s) => s.network.clone(),
        other => panic!("{other:?}"),
    };
    let defaults = network(0);
    assert_eq!(defaults.base_url, "https://api.stripe.com");
    assert_eq!(defaults.rate_limit, RateLimit::per_second(100));
    assert_eq!(
        (defaults.concurrency, defaults.max_retries, defaults.timeout),
        (4, 5, Duration::from_secs(30))
    );
    let local = network(1);
    assert_eq!(local.base_url, "http://127.0.0.1:8080");
    assert_eq!(local.rate_limit, RateLimit::parse("40/10s").unwrap());
    assert_eq!(
        (local.concurrency, local.max_retries, local.timeout),
        (2, 0, Duration::from_secs(120))
    );
}

#[test]
fn a_missing_key_and_a_bad_full_sync_are_reported() {
    let toml = r#"
[sources.billing]
kind = "stripe"
full_sync_every = "10m"
base_url = "https://api.stripe.com/v1?x=1"
"#;
    let err = Config::parse(toml, Path::new("cs-pulse.toml"), Path::new("")).unwrap_err();
    let messages: Vec<String> = err.iter().map(|d| d.message.clone()).collect();
    assert_eq!(
        messages,
        [
            "`base_url` must not have a query string or a fragment",
            "source `billing` has no `api_key`",
            "full_sync_every must be from 1h to 90d, found 10m",
        ]
    );
}
