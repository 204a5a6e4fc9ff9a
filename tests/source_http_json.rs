//! The `http_json` source against local servers: each pagination style (cursor, page numbers,
//! `Link` headers), retries after a 429, the auth header, a malformed record and a looping
//! cursor reported clearly, a sync into a real store where the source's stub accounts merge
//! with the accounts another source names, and config errors pinned by a snapshot.

use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use indicatif::ProgressBar;
use rust_decimal_macros::dec;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use cs_pulse::config::{Config, SourceKind};
use cs_pulse::model::{Currency, Dataset, FxRates, SurveyKind};
use cs_pulse::sources::http::Backoff;
use cs_pulse::sources::http_json::HttpJsonSource;
use cs_pulse::sources::{FetchRequest, Source, SourceContext, SourceError};
use cs_pulse::store::{SqliteStore, Store};
use cs_pulse::sync::{sync_source, SyncOptions};

fn ctx(tz: Tz) -> SourceContext {
    SourceContext {
        timezone: tz,
        fx: FxRates::new(Currency::USD).with_rate(Currency::EUR, dec!(1.08)),
    }
}

/// The source of the one `[sources.NAME]` table in `toml`, with tiny retry waits.
fn source(toml: &str, tz: Tz) -> HttpJsonSource {
    let config = match Config::parse(toml, Path::new("test.toml"), Path::new(".")) {
        Ok(c) => c,
        Err(d) => panic!("config does not validate:\n{d}"),
    };
    let cfg = config.sources.into_iter().next().expect("one source");
    let SourceKind::HttpJson(mut settings) = cfg.kind else {
        panic!("not an http_json source");
    };
    settings.network.backoff = Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
    };
    HttpJsonSource::new(cfg.name, settings, ctx(tz)).expect("source builds")
}

async fn fetch(source: &dyn Source) -> Result<Dataset, SourceError> {
    let request = FetchRequest {
        now: Utc.with_ymd_and_hms(2025, 3, 10, 6, 0, 0).unwrap(),
        previous: None,
    };
    source
        .fetch(&request, &ProgressBar::hidden())
        .await
        .map(|f| {
            assert!(f.full, "every http_json fetch is full");
            f.data
        })
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(Path::new("tests/fixtures/http_json").join(name))
        .expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ids(data: &Dataset) -> Vec<(&str, &str)> {
    data.accounts()
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str()))
        .collect()
}

/// An internal analytics API answering daily usage in cursor pages.
fn usage_config(uri: &str, extra: &str) -> String {
    format!(
        r#"
[sources.product]
kind = "http_json"
url = "{uri}/v1/usage/daily?granularity=day"
token = "${{CS_PULSE_TEST_HTTP_JSON_TOKEN}}"
pagination = "cursor"
cursor_path = "meta.next_cursor"
cursor_param = "after"
page_size_param = "limit"
page_size = 2
records = "data"
record = "usage"
{extra}

[sources.product.fields]
account_id = "account.id"
date = "day"
active_users = "metrics.\"active users\""
sessions = "metrics.sessions"
minutes = "metrics.minutes"
"#
    )
}

fn usage_row(account: &str, day: &str, active: Value, minutes: Value) -> Value {
    json!({
        "type": "usage_day",
        "account": {"id": account, "plan": "growth"},
        "day": day,
        "metrics": {"active users": active, "sessions": 14, "minutes": minutes}
    })
}

async fn mount_usage_pages(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .and(query_param("granularity", "day"))
        .and(query_param("limit", "2"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                usage_row("acme", "2025-03-01", json!(12), json!(315.5)),
                usage_row("beta", "2025-03-01", json!(3), json!("42.25")),
            ],
            "meta": {"next_cursor": "c2", "count": 2}
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .and(query_param("after", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                usage_row("acme", "2025-03-02", json!(11), json!(0.1)),
                usage_row("acme", "2025-03-03", json!(9), json!(null)),
            ],
            "meta": {"next_cursor": "c3", "count": 2}
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .and(query_param("after", "c3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [usage_row("gamma", "2025-03-03", json!(1), json!(5))],
            "meta": {"next_cursor": null, "count": 1}
        })))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn usage_over_cursor_pages() {
    std::env::set_var("CS_PULSE_TEST_HTTP_JSON_TOKEN", "tok_usage_0123456789");
    let server = MockServer::start().await;
    mount_usage_pages(&server).await;
    let src = source(&usage_config(&server.uri(), ""), Tz::UTC);
    let progress = ProgressBar::hidden();
    let request = FetchRequest {
        now: Utc.with_ymd_and_hms(2025, 3, 10, 6, 0, 0).unwrap(),
        previous: None,
    };
    let data = src.fetch(&request, &progress).await.unwrap().data;
    assert_eq!(progress.position(), 5);
    assert_eq!(ids(&data), vec![("acme", ""), ("beta", ""), ("gamma", "")]);
    let rows: Vec<(u32, NaiveDate, u32, u32, rust_decimal::Decimal)> = data
        .usage
        .iter()
        .map(|u| (u.account, u.date, u.active_users, u.sessions, u.minutes))
        .collect();
    assert_eq!(
        rows,
        vec![
            (0, day(2025, 3, 1), 12, 14, dec!(315.5)),
            (1, day(2025, 3, 1), 3, 14, dec!(42.25)),
            (0, day(2025, 3, 2), 11, 14, dec!(0.1)),
            (0, day(2025, 3, 3), 9, 14, dec!(0)),
            (2, day(2025, 3, 3), 1, 14, dec!(5)),
        ]
    );
    assert!(src.full_sync_every().is_none());
}

#[tokio::test]
async fn survey_responses_over_page_numbers() {
    let server = MockServer::start().await;
    for (page, file) in [
        ("1", "delighted_page1.json"),
        ("2", "delighted_page2.json"),
        ("3", "delighted_page3.json"),
    ] {
        Mock::given(method("GET"))
            .and(path("/v1/survey_responses.json"))
            .and(query_param("page", page))
            .and(query_param("per_page", "2"))
            .and(query_param("expand[]", "person"))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(file)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let toml = format!(
        r#"
[sources.delighted]
kind = "http_json"
url = "{}/v1/survey_responses.json"
pagination = "page"
page_size_param = "per_page"
page_size = 2
query = {{ "expand[]" = "person" }}
record = "survey_response"
fields = {{ id = "id", account_id = 'person_properties."Company ID"', kind = "survey_type", score = "score", submitted_at = "created_at", comment = "comment" }}
"#,
        server.uri()
    );
    // Epoch seconds become days in the business timezone.
    let tz: Tz = "America/New_York".parse().unwrap();
    let data = fetch(&source(&toml, tz)).await.unwrap();
    assert_eq!(ids(&data), vec![("acme", ""), ("beta", ""), ("gamma", "")]);
    type Row<'a> = (&'a str, u32, SurveyKind, u8, NaiveDate, Option<&'a str>);
    let rows: Vec<Row> = data
        .survey_responses
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                r.account,
                r.kind,
                r.score,
                r.submitted_at,
                r.comment.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            // 1740823200 = 2025-03-01 10:00 UTC = 05:00 in New York.
            (
                "301",
                0,
                SurveyKind::Nps,
                9,
                day(2025, 3, 1),
                Some("Setup took ten minutes.")
            ),
            // 1740909600 = 2025-03-02 10:00 UTC.
            ("302", 1, SurveyKind::Nps, 4, day(2025, 3, 2), None),
            ("303", 0, SurveyKind::Nps, 10, day(2025, 3, 3), None),
            (
                "304",
                2,
                SurveyKind::Nps,
                7,
                day(2025, 3, 4),
                Some("Reports are slow.")
            ),
            (
                "305",
                1,
                SurveyKind::Nps,
                0,
                day(2025, 3, 5),
                Some("Cancelling.")
            ),
        ]
    );
}

#[tokio::test]
async fn tickets_via_link_header_pages() {
    let server = MockServer::start().await;
    let next = format!(
        "<{}/api/v2/tickets?include=stats&per_page=2&page=2>; rel=\"next\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/api/v2/tickets"))
        .and(query_param("per_page", "2"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(fixture("freshdesk_tickets_page1.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tickets"))
        .and(query_param("page", "2"))
        .and(query_param("include", "stats"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("freshdesk_tickets_page2.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let toml = format!(
        r#"
[sources.freshdesk]
kind = "http_json"
url = "{}/api/v2/tickets?include=stats"
pagination = "link"
page_size_param = "per_page"
page_size = 2
record = "ticket"

[sources.freshdesk.fields]
id = "id"
account_id = "company_id"
opened_at = "created_at"
first_response_at = "stats.first_responded_at"
resolved_at = "stats.resolved_at"
"#,
        server.uri()
    );
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let data = fetch(&source(&toml, tz)).await.unwrap();
    assert_eq!(ids(&data), vec![("5000000101", ""), ("5000000102", "")]);
    type Row<'a> = (
        &'a str,
        u32,
        NaiveDate,
        Option<NaiveDate>,
        Option<NaiveDate>,
    );
    let rows: Vec<Row> = data
        .tickets
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                t.account,
                t.opened_at,
                t.first_response_at,
                t.resolved_at,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "101",
                0,
                day(2025, 3, 1),
                Some(day(2025, 3, 1)),
                Some(day(2025, 3, 3))
            ),
            // 23:50 UTC is 00:50 the next day in Berlin.
            ("102", 1, day(2025, 3, 3), None, None),
            (
                "103",
                0,
                day(2025, 3, 4),
                Some(day(2025, 3, 4)),
                Some(day(2025, 3, 4))
            ),
        ]
    );
}

#[tokio::test]
async fn a_429_is_retried_then_the_page_is_read() {
    std::env::set_var("CS_PULSE_TEST_HTTP_JSON_TOKEN", "tok_usage_0123456789");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"error": "rate limited"})),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    mount_usage_pages(&server).await;
    let data = fetch(&source(&usage_config(&server.uri(), ""), Tz::UTC))
        .await
        .unwrap();
    assert_eq!(data.usage.len(), 5);
}

#[tokio::test]
async fn a_malformed_record_names_the_record_and_the_field() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/surveys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "responses": [
                {"id": "r1", "account": "acme", "type": "nps", "score": 9, "at": "2025-03-01T10:00:00Z"},
                {"id": "r2", "account": "acme", "type": "nps", "score": "many", "at": "2025-03-01"},
                {"id": "r3", "type": "csat", "score": 6, "at": "yesterday"},
                {"account": "beta", "type": "thumbs", "score": true, "at": 1740823200},
            ]
        })))
        .mount(&server)
        .await;
    let toml = format!(
        r#"
[sources.survey_tool]
kind = "http_json"
url = "{}/surveys"
records = "responses"
record = "survey_response"
fields = {{ id = "id", account_id = "account", kind = "type", score = "score", submitted_at = "at" }}
"#,
        server.uri()
    );
    let err = fetch(&source(&toml, Tz::UTC)).await.unwrap_err();
    assert!(matches!(err, SourceError::Invalid { .. }));
    let text = err
        .to_string()
        .replace(&server.uri(), "http://127.0.0.1:PORT");
    insta::assert_snapshot!(text);

    // The usage example of the task: `active_users: "many"`.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [usage_row("acme", "2025-03-01", json!("many"), json!(1))],
            "meta": {"next_cursor": null}
        })))
        .mount(&server)
        .await;
    std::env::set_var("CS_PULSE_TEST_HTTP_JSON_TOKEN", "tok_usage_0123456789");
    let err = fetch(&source(&usage_config(&server.uri(), ""), Tz::UTC))
        .await
        .unwrap_err()
        .to_string()
        .replace(&server.uri(), "http://127.0.0.1:PORT");
    insta::assert_snapshot!("usage_active_users_many", err);
}

#[tokio::test]
async fn a_looping_cursor_is_an_error() {
    std::env::set_var("CS_PULSE_TEST_HTTP_JSON_TOKEN", "tok_usage_0123456789");
    let server = MockServer::start().await;
    // Every page, however asked for, names the same next cursor.
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [usage_row("acme", "2025-03-01", json!(1), json!(1))],
            "meta": {"next_cursor": "same"}
        })))
        .expect(2)
        .mount(&server)
        .await;
    let err = fetch(&source(&usage_config(&server.uri(), ""), Tz::UTC))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Other(_)), "{err:?}");
    assert_eq!(
        err.to_string().replace(&server.uri(), "http://127.0.0.1:PORT"),
        "usage records from http://127.0.0.1:PORT/v1/usage/daily?granularity=…: the API sent the same cursor twice (\"same\", after page 2): reading on would loop forever"
    );
}

#[tokio::test]
async fn the_token_is_sent_in_the_configured_header() {
    std::env::set_var("CS_PULSE_TEST_HTTP_JSON_TOKEN", "tok_usage_0123456789");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .and(header("authorization", "Bearer tok_usage_0123456789"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [usage_row("acme", "2025-03-01", json!(1), json!(1))]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let data = fetch(&source(&usage_config(&server.uri(), ""), Tz::UTC))
        .await
        .unwrap();
    assert_eq!(data.usage.len(), 1);

    // A custom header with the bare token.
    std::env::set_var("CS_PULSE_TEST_HTTP_JSON_KEY", "key_abcdef0123456789");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/responses"))
        .and(header("x-api-key", "key_abcdef0123456789"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "account": "acme", "kind": "csat", "score": 5, "date": "2025-03-01"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let toml = format!(
        r#"
[sources.csat]
kind = "http_json"
url = "{}/responses"
token = "${{CS_PULSE_TEST_HTTP_JSON_KEY}}"
auth_header = "X-Api-Key"
auth_scheme = ""
record = "survey_response"
fields = {{ id = "id", account_id = "account", kind = "kind", score = "score", submitted_at = "date" }}
"#,
        server.uri()
    );
    let data = fetch(&source(&toml, Tz::UTC)).await.unwrap();
    assert_eq!(data.survey_responses[0].kind, SurveyKind::Csat);
    assert!(server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .all(|r| !r.headers.contains_key("authorization")));
}

#[tokio::test]
async fn a_refused_token_is_never_shown() {
    std::env::set_var(
        "CS_PULSE_TEST_HTTP_JSON_SECRET",
        "secret_token_must_not_show",
    );
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid token secret_token_must_not_show"
        })))
        .mount(&server)
        .await;
    let toml = format!(
        r#"
[sources.internal]
kind = "http_json"
url = "{}/accounts"
token = "${{CS_PULSE_TEST_HTTP_JSON_SECRET}}"
record = "account"
fields = {{ id = "id", name = "name" }}
"#,
        server.uri()
    );
    let src = source(&toml, Tz::UTC);
    let err = fetch(&src).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("secret_token_must_not_show"), "{shown}");
    assert!(shown.contains("invalid token ***"), "{shown}");

    // Also in a header whose name does not look like a credential's.
    let toml = toml.replace(
        "record = ",
        "auth_header = \"X-Tenant\"\nauth_scheme = \"\"\nrecord = ",
    );
    let err = fetch(&source(&toml, Tz::UTC)).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("secret_token_must_not_show"), "{shown}");
    assert!(shown.contains("invalid token ***"), "{shown}");
    assert!(
        server.received_requests().await.unwrap().iter().any(|r| r
            .headers
            .get("x-tenant")
            .is_some_and(|v| v == "secret_token_must_not_show")),
        "the token is sent"
    );
}

#[tokio::test]
async fn an_unset_token_variable_is_named() {
    let toml = r#"
[sources.internal]
kind = "http_json"
url = "http://127.0.0.1:9/accounts"
token = "${CS_PULSE_TEST_HTTP_JSON_UNSET}"
record = "account"
fields = { id = "id", name = "name" }
"#;
    let config = Config::parse(toml, Path::new("t.toml"), Path::new(".")).unwrap();
    let err = cs_pulse::sources::from_config(&config.sources[0], &ctx(Tz::UTC), day(2025, 3, 10))
        .err()
        .expect("an unset variable is an error");
    assert_eq!(
        err.to_string(),
        "the environment variable CS_PULSE_TEST_HTTP_JSON_UNSET is not set (it holds the token of source `internal`)"
    );
}

#[tokio::test]
async fn stub_accounts_merge_with_the_accounts_another_source_names() {
    std::env::set_var("CS_PULSE_TEST_HTTP_JSON_TOKEN", "tok_usage_0123456789");
    let server = MockServer::start().await;
    mount_usage_pages(&server).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("accounts.csv"),
        "id,name,owner,licensed_seats\nacme,Acme Corp,Dana,20\nbeta,Beta GmbH,Lee,5\ngamma,Gamma Inc,Dana,3\n",
    )
    .unwrap();
    let toml = format!(
        "[sources.crm]\nkind = \"files\"\npath = \"{}\"\n{}",
        dir.path().display(),
        usage_config(&server.uri(), "")
    );
    let config = Config::parse(&toml, Path::new("t.toml"), Path::new(".")).unwrap();
    let ctx = ctx(Tz::UTC);
    let store = SqliteStore::open_in_memory().await.unwrap();
    let clock = || Utc.with_ymd_and_hms(2025, 3, 10, 6, 0, 0).unwrap();
    // The usage source first: its stub accounts are stored before the named ones.
    for cfg in config.sources.iter().rev() {
        let src = cs_pulse::sources::from_config(cfg, &ctx, day(2025, 3, 10)).unwrap();
        sync_source(
            src.as_ref(),
            &store,
            &clock,
            &ProgressBar::hidden(),
            SyncOptions::default(),
        )
        .await
        .unwrap();
    }
    let data = store.load().await.unwrap();
    let accounts: Vec<(&str, &str, Option<&str>, Option<u32>)> = data
        .accounts()
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                a.name.as_str(),
                a.owner.as_deref(),
                a.licensed_seats,
            )
        })
        .collect();
    assert_eq!(
        accounts,
        vec![
            ("acme", "Acme Corp", Some("Dana"), Some(20)),
            ("beta", "Beta GmbH", Some("Lee"), Some(5)),
            ("gamma", "Gamma Inc", Some("Dana"), Some(3)),
        ]
    );
    let mut usage: Vec<(&str, NaiveDate, u32)> = data
        .usage
        .iter()
        .map(|u| (data.account(u.account).id.as_str(), u.date, u.active_users))
        .collect();
    usage.sort();
    assert_eq!(
        usage,
        vec![
            ("acme", day(2025, 3, 1), 12),
            ("acme", day(2025, 3, 2), 11),
            ("acme", day(2025, 3, 3), 9),
            ("beta", day(2025, 3, 1), 3),
            ("gamma", day(2025, 3, 3), 1),
        ]
    );

    // A later sync meeting a malformed page in the middle fails and changes nothing.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [usage_row("acme", "2025-03-04", json!(8), json!(1))],
            "meta": {"next_cursor": "c2"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/usage/daily"))
        .and(query_param("after", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [usage_row("acme", "2025-03-05", json!({"n": 1}), json!(1))],
            "meta": {"next_cursor": null}
        })))
        .mount(&server)
        .await;
    let usage_cfg = config.sources.iter().find(|c| c.name == "product").unwrap();
    let src = cs_pulse::sources::from_config(usage_cfg, &ctx, day(2025, 3, 10)).unwrap();
    let err = sync_source(
        src.as_ref(),
        &store,
        &clock,
        &ProgressBar::hidden(),
        SyncOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(
            "record 1 of page 2: field active_users: {…} at `metrics.\"active users\"` is an object, expected a number"
        ),
        "{err}"
    );
    assert_eq!(store.load().await.unwrap(), data);
}

#[test]
fn config_errors_at_once() {
    let path = Path::new("tests/fixtures/http_json/broken.toml");
    let src = std::fs::read_to_string(path).unwrap();
    let err = Config::parse(&src, path, Path::new("tests/fixtures/http_json"))
        .expect_err("broken.toml must not validate");
    let text = err.to_string();
    // The snippet shows the line as written; no message repeats the value.
    assert!(
        text.lines()
            .filter(|l| l.starts_with("error") || l.contains("help:"))
            .all(|l| !l.contains("sk_live_not_a_reference")),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_valid_table_becomes_typed_settings() {
    let toml = r#"
[sources.product]
kind = "http_json"
url = "https://analytics.example.com:8443/v1/usage?granularity=day"
token = "${ANALYTICS_TOKEN}"
pagination = "cursor"
cursor_path = "meta.next_cursor"
records = "data"
record = "account"
rate_limit = "5/s"
fields = { id = "id", name = "attributes.name", "custom.tier" = 'attributes."pricing tier"' }
"#;
    let config = Config::parse(toml, Path::new("t.toml"), Path::new(".")).unwrap();
    let SourceKind::HttpJson(s) = &config.sources[0].kind else {
        panic!("not http_json");
    };
    assert_eq!(s.network.base_url, "https://analytics.example.com:8443");
    assert_eq!(s.network.rate_limit.to_string(), "5/s");
    assert_eq!(s.auth_header, "Authorization");
    assert_eq!(s.auth_scheme, "Bearer");
    assert_eq!(s.token.as_ref().map(|t| t.var()), Some("ANALYTICS_TOKEN"));
    assert_eq!(s.pagination.word(), "cursor");
    assert_eq!(
        s.records.as_ref().map(ToString::to_string).as_deref(),
        Some("data")
    );
    assert_eq!(
        s.mapping
            .custom()
            .iter()
            .map(|(n, p)| format!("{n} = {p}"))
            .collect::<Vec<_>>(),
        vec!["tier = attributes.\"pricing tier\""]
    );
    assert_eq!(
        config.sources[0].kind.to_string(),
        "JSON from https://analytics.example.com:8443/v1/usage?granularity=…"
    );
}

#[tokio::test]
async fn records_not_where_configured_are_explained() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/renewals"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "d1"}],
            "paging": {"next": null}
        })))
        .mount(&server)
        .await;
    let toml = format!(
        r#"
[sources.deals]
kind = "http_json"
url = "{}/renewals"
records = "data"
record = "renewal"
fields = {{ id = "id", account_id = "company", due_date = "close_date", outcome = "stage" }}
"#,
        server.uri()
    );
    let err = fetch(&source(&toml, Tz::UTC)).await.unwrap_err();
    assert_eq!(
        err.to_string().replace(&server.uri(), "http://127.0.0.1:PORT"),
        "1 invalid value in renewal records from http://127.0.0.1:PORT/renewals:\n  page 1: the response has no `data` (arrays at: `results`)"
    );
}

#[test]
fn the_documented_examples_validate() {
    let doc = std::fs::read_to_string("docs/sources/http_json.md").unwrap();
    let blocks: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(blocks.len() >= 3, "the doc's examples are found");
    for block in blocks {
        if let Err(d) = Config::parse(
            block,
            Path::new("docs/sources/http_json.md"),
            Path::new("."),
        ) {
            panic!("a documented example does not validate:\n{block}\n{d}");
        }
    }
}

#[test]
fn the_config_example_snippet_validates_when_uncommented() {
    let text =
        std::fs::read_to_string("tests/fixtures/http_json/config_example_snippet.toml").unwrap();
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if !rest.starts_with(' ') => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = match Config::parse(&uncommented, Path::new("snippet.toml"), Path::new(".")) {
        Ok(c) => c,
        Err(d) => panic!("{d}"),
    };
    assert!(matches!(config.sources[0].kind, SourceKind::HttpJson(_)));
    // Commented, it is valid and configures nothing.
    let commented = Config::parse(&text, Path::new("snippet.toml"), Path::new(".")).unwrap();
    assert!(commented.sources.is_empty());
}
