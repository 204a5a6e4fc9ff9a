//! The `hubspot` source against a local server answering like HubSpot's CRM API v3 (payloads
//! shaped as its reference documents them, in tests/fixtures/hubspot/): cursor pagination,
//! owners, the renewal pipeline, a 429 then success, a 500 storm that leaves the stored data
//! alone, a malformed page in the middle, an incremental sync through the search API and its
//! fallback past 10,000 results, a usage object, and the config's errors.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use indicatif::ProgressBar;
use rust_decimal_macros::dec;
use serde_json::{json, Value};
use wiremock::matchers::{
    any, body_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use cs_pulse::config::{Config, Secret, SourceConfig, SourceKind};
use cs_pulse::model::{Currency, Dataset, FxRates, RenewalOutcome};
use cs_pulse::sources::http::{Backoff, RateLimit};
use cs_pulse::sources::hubspot::{
    AccountField, AccountKey, HubspotSource, Renewals, Settings, UsageField, UsageObject,
};
use cs_pulse::sources::{FetchRequest, Fetched, Previous, Source, SourceContext, SourceError};
use cs_pulse::store::{SqliteStore, Store, SyncOutcome};
use cs_pulse::sync::{sync_source, SyncError, SyncOptions};

const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
/// The company properties the settings of [`settings`] ask for, sorted.
const COMPANY_PROPERTIES: &str = "contract_renewal_date,createdate,customer_segment,domain,\
    hubspot_owner_id,industry,licensed_seats,name,plan_tier";
const DEAL_PROPERTIES: &str = "dealname,amount,closedate,dealstage,pipeline,hs_lastmodifieddate";

fn fixture(name: &str) -> Value {
    let path = Path::new("tests/fixtures/hubspot").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every setting a test needs: a fast limit, tiny backoff, the fixtures' properties.
fn settings(server: &MockServer) -> Settings {
    let mut s = Settings::new(
        server.uri(),
        Secret::from_env_var("CS_PULSE_TEST_UNSET_TOKEN"),
    );
    s.network.rate_limit = RateLimit::per_second(1000);
    s.search_rate_limit = RateLimit::per_second(1000);
    s.network.max_retries = 3;
    s.network.backoff = Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
    };
    s.network.timeout = Duration::from_secs(5);
    for (field, property) in [
        (AccountField::Segment, "customer_segment"),
        (AccountField::Plan, "plan_tier"),
        (AccountField::RenewalDate, "contract_renewal_date"),
        (AccountField::LicensedSeats, "licensed_seats"),
    ] {
        s.properties.insert(field, property.to_string());
    }
    s.custom_properties = vec!["industry".to_string()];
    s
}

fn with_renewals(mut s: Settings) -> Settings {
    s.renewals = Some(Renewals {
        pipeline: "renewals".to_string(),
        stages: [("1234567".to_string(), RenewalOutcome::Churned)]
            .into_iter()
            .collect(),
    });
    s
}

fn ctx() -> SourceContext {
    SourceContext {
        timezone: Tz::Europe__Berlin,
        fx: FxRates::new(Currency::USD),
    }
}

fn source(settings: Settings) -> HubspotSource {
    HubspotSource::with_token("crm", settings, TOKEN, ctx()).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

async fn full(source: &HubspotSource) -> Result<Fetched, SourceError> {
    let request = FetchRequest {
        now: t0(),
        previous: None,
    };
    source.fetch(&request, &ProgressBar::hidden()).await
}

async fn since(
    source: &HubspotSource,
    started_at: DateTime<Utc>,
    data: &Dataset,
) -> Result<Fetched, SourceError> {
    let request = FetchRequest {
        now: started_at + chrono::Duration::hours(1),
        previous: Some(Previous { started_at, data }),
    };
    source.fetch(&request, &ProgressBar::hidden()).await
}

fn list(object: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/crm/v3/objects/{object}")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param("limit", "100"))
}

/// The three pages of companies, each asked for exactly once with the right cursor.
async fn mount_companies(server: &MockServer, pages: [Value; 3]) {
    let [p1, p2, p3] = pages;
    list("companies")
        .and(query_param("properties", COMPANY_PROPERTIES))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(p1))
        .expect(1)
        .mount(server)
        .await;
    list("companies")
        .and(query_param("after", "514"))
        .respond_with(ResponseTemplate::new(200).set_body_json(p2))
        .expect(1)
        .mount(server)
        .await;
    list("companies")
        .and(query_param("after", "516"))
        .respond_with(ResponseTemplate::new(200).set_body_json(p3))
        .expect(1)
        .mount(server)
        .await;
}

fn company_pages() -> [Value; 3] {
    [
        fixture("companies_page1.json"),
        fixture("companies_page2.json"),
        fixture("companies_page3.json"),
    ]
}

/// Two pages of active owners, one of archived ones (users deactivated since).
async fn mount_owners(server: &MockServer) {
    let owners = || {
        Mock::given(method("GET"))
            .and(path("/crm/v3/owners"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(query_param("limit", "100"))
    };
    owners()
        .and(query_param_is_missing("archived"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("owners_page1.json")))
        .mount(server)
        .await;
    owners()
        .and(query_param_is_missing("archived"))
        .and(query_param("after", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("owners_page2.json")))
        .mount(server)
        .await;
    owners()
        .and(query_param("archived", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("owners_archived.json")))
        .mount(server)
        .await;
}

async fn mount_deals(server: &MockServer) {
    list("deals")
        .and(query_param("properties", DEAL_PROPERTIES))
        .and(query_param("associations", "companies"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("deals.json")))
        .expect(1)
        .mount(server)
        .await;
}

/// One company as v3 returns it.
fn company(id: &str, properties: Value) -> Value {
    json!({
        "id": id,
        "properties": properties,
        "createdAt": "2024-05-01T08:00:00.000Z",
        "updatedAt": "2025-02-28T12:00:00.000Z",
        "archived": false
    })
}

type AccountRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<u32>,
);

fn account_rows(data: &Dataset) -> Vec<AccountRow> {
    data.accounts()
        .iter()
        .map(|a| {
            (
                a.id.clone(),
                a.name.clone(),
                a.owner.clone(),
                a.segment.clone(),
                a.plan.clone(),
                a.created_at,
                a.renewal_date,
                a.licensed_seats,
            )
        })
        .collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[tokio::test]
async fn a_full_sync_reads_every_page_and_resolves_owners() {
    let server = MockServer::start().await;
    mount_companies(&server, company_pages()).await;
    mount_owners(&server).await;
    let fetched = full(&source(settings(&server))).await.unwrap();
    assert!(fetched.full);
    let data = fetched.data;
    assert_eq!(
        account_rows(&data),
        vec![
            (
                "512".into(),
                "Acme Corp".into(),
                s("Jane Doe"),
                s("Enterprise"),
                s("Scale"),
                Some(ymd(2024, 1, 15)),
                Some(ymd(2025, 9, 30)),
                Some(120)
            ),
            // No name: the domain. An owner without a name: the email. Created at 22:30 UTC
            // on March 31, which is April 1 in Berlin.
            (
                "513".into(),
                "globex.example".into(),
                s("sam@example.com"),
                s("SMB"),
                s("Starter"),
                Some(ymd(2024, 4, 1)),
                None,
                None
            ),
            // Epoch milliseconds (older payloads); an unknown owner id is kept as it is.
            (
                "514".into(),
                "Initech".into(),
                s("99999999"),
                s("Mid-Market"),
                s("Growth"),
                Some(ymd(2024, 1, 1)),
                Some(ymd(2025, 6, 30)),
                Some(15)
            ),
            // Owned by a user deactivated since: an archived owner.
            (
                "515".into(),
                "Umbrella".into(),
                s("Pat Former"),
                None,
                None,
                Some(ymd(2024, 6, 1)),
                None,
                Some(0)
            ),
            // Neither name nor domain: the company id.
            (
                "516".into(),
                "516".into(),
                None,
                None,
                None,
                Some(ymd(2024, 11, 20)),
                None,
                None
            ),
        ]
    );
    let acme = &data.accounts()[0];
    let custom: Vec<(&str, &str)> = acme
        .custom
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        custom,
        [
            ("hubspot_company_id", "512"),
            ("hubspot_owner_email", "jane.doe@example.com"),
            ("hubspot_owner_id", "41629779"),
            ("industry", "COMPUTER_SOFTWARE"),
        ]
    );
    assert!(data.renewals.is_empty() && data.usage.is_empty());
    // Each page was asked for once, with the cursor of the page before (checked on drop).
}

#[tokio::test]
async fn the_account_key_can_be_a_property() {
    let server = MockServer::start().await;
    mount_owners(&server).await;
    list("companies")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                company("601", json!({"name": "Acme", "domain": "acme.com"})),
                company("602", json!({"name": "No domain", "domain": null})),
            ]
        })))
        .mount(&server)
        .await;
    let mut s = settings(&server);
    s.account_key = AccountKey::Property("domain".into());
    let data = full(&source(s)).await.unwrap().data;
    let ids: Vec<(&str, &str)> = data
        .accounts()
        .iter()
        .map(|a| (a.id.as_str(), a.custom["hubspot_company_id"].as_str()))
        .collect();
    // The company without a domain cannot be matched: left out (and counted in a warning).
    assert_eq!(ids, [("acme.com", "601")]);

    // Two companies with the same key are an error naming both.
    server.reset().await;
    mount_owners(&server).await;
    list("companies")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                company("601", json!({"name": "Acme", "domain": "acme.com"})),
                company("603", json!({"name": "Acme EU", "domain": "acme.com"})),
            ]
        })))
        .mount(&server)
        .await;
    let mut s = settings(&server);
    s.account_key = AccountKey::Property("domain".into());
    let err = full(&source(s)).await.unwrap_err();
    insta::assert_snapshot!("duplicate_account_key", err.to_string());
}

#[tokio::test]
async fn renewal_deals_map_their_stages() {
    let server = MockServer::start().await;
    mount_companies(&server, company_pages()).await;
    mount_owners(&server).await;
    mount_deals(&server).await;
    let data = full(&source(with_renewals(settings(&server))))
        .await
        .unwrap()
        .data;
    let renewals: Vec<_> = data
        .renewals
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                data.account(r.account).id.as_str(),
                r.due_date,
                r.outcome,
                r.amount,
            )
        })
        .collect();
    assert_eq!(
        renewals,
        [
            // closedwon → renewed by default; 22:00 UTC on Sep 29 is Sep 30 in Berlin.
            (
                "9001",
                "512",
                ymd(2025, 9, 30),
                RenewalOutcome::Renewed,
                Some(dec!(12000))
            ),
            // An unlisted stage is pending; the primary association (not the first) counts.
            (
                "9002",
                "514",
                ymd(2025, 6, 30),
                RenewalOutcome::Pending,
                Some(dec!(4999.50))
            ),
            // `stages` maps 1234567 to churned.
            (
                "9003",
                "513",
                ymd(2025, 3, 31),
                RenewalOutcome::Churned,
                None
            ),
        ]
    );
    // 9004 is in another pipeline, 9005 has no company, 9006 no close date: left out.
}

#[tokio::test]
async fn a_rate_limited_request_is_retried() {
    let server = MockServer::start().await;
    mount_owners(&server).await;
    list("companies")
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
            "policyName": "SECONDLY"
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    list("companies")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [company("701", json!({"name": "Patient Co"}))]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let data = full(&source(settings(&server))).await.unwrap().data;
    assert_eq!(data.accounts()[0].name, "Patient Co");
}

#[tokio::test]
async fn a_storm_of_server_errors_leaves_the_stored_data_intact() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db"))
        .await
        .unwrap();
    let server = MockServer::start().await;
    mount_companies(&server, company_pages()).await;
    mount_owners(&server).await;
    let source = source(settings(&server));
    let first = sync_source(
        &source,
        &store,
        &t0,
        &ProgressBar::hidden(),
        SyncOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, SyncOutcome::Ok);
    let stored = store.load_source("crm").await.unwrap();
    assert_eq!(stored.accounts().len(), 5);

    server.reset().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "status": "error",
            "message": "internal error",
            "correlationId": "9b0a6d2e-5c2f-4d8e-9f6a-1f2e3d4c5b6a",
            "category": "INTERNAL_ERROR"
        })))
        .mount(&server)
        .await;
    let later = || t0() + chrono::Duration::hours(2);
    let err = sync_source(
        &source,
        &store,
        &later,
        &ProgressBar::hidden(),
        SyncOptions::default(),
    )
    .await
    .unwrap_err();
    let SyncError::Fetch { run, error } = &err else {
        panic!("expected a fetch failure, got {err}");
    };
    assert!(matches!(error, SourceError::Http(_)), "{error}");
    assert!(matches!(run.outcome, SyncOutcome::Failed(_)));
    // Every retry was used: 1 request and 3 retries for the first request that failed.
    assert!(server.received_requests().await.unwrap().len() >= 4);
    assert_eq!(store.load_source("crm").await.unwrap(), stored);
}

#[tokio::test]
async fn a_malformed_page_in_the_middle_names_each_object_and_field() {
    let server = MockServer::start().await;
    mount_owners(&server).await;
    let [p1, mut p2, mut p3] = company_pages();
    p2["results"][0]["properties"]["licensed_seats"] = json!("ten");
    p2["results"][1]["properties"]["name"] = json!(42);
    p3["results"][0]["properties"]["createdate"] = json!("yesterday");
    mount_companies(&server, [p1, p2, p3]).await;
    let err = full(&source(settings(&server))).await.unwrap_err();
    let SourceError::Invalid { errors, .. } = &err else {
        panic!("expected invalid values, got {err}");
    };
    // The third page was read too: every error at once.
    assert_eq!(errors.len(), 3);
    insta::assert_snapshot!("malformed_page", err.to_string());
}

fn search_body(properties: &[&str], since_ms: i64, pipeline: Option<&str>) -> Value {
    let mut filters = vec![json!({
        "propertyName": "hs_lastmodifieddate",
        "operator": "GTE",
        "value": since_ms.to_string()
    })];
    if let Some(p) = pipeline {
        filters.push(json!({"propertyName": "pipeline", "operator": "EQ", "value": p}));
    }
    json!({
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": properties,
        "limit": 200
    })
}

fn company_properties() -> Vec<&'static str> {
    COMPANY_PROPERTIES.split(',').collect()
}

#[tokio::test]
async fn an_incremental_sync_fetches_only_what_changed() {
    let server = MockServer::start().await;
    mount_companies(&server, company_pages()).await;
    mount_owners(&server).await;
    mount_deals(&server).await;
    let source = source(with_renewals(settings(&server)));
    let previous = full(&source).await.unwrap().data;

    server.reset().await;
    mount_owners(&server).await;
    // Changes since the last sync's start, minus 5 minutes.
    let since_ms = (t0() - chrono::Duration::minutes(5)).timestamp_millis();
    let mut changed = company(
        "514",
        json!({
            "contract_renewal_date": "2026-06-30",
            "createdate": "2024-01-01T00:00:00.000Z",
            "customer_segment": "Enterprise",
            "domain": "initech.example",
            "hs_lastmodifieddate": "2025-03-01T09:30:00.000Z",
            "hs_object_id": "514",
            "hubspot_owner_id": "41629779",
            "industry": "FINANCIAL_SERVICES",
            "licensed_seats": "20",
            "name": "Initech Global",
            "plan_tier": "Scale"
        }),
    );
    changed["updatedAt"] = json!("2025-03-01T09:30:00.000Z");
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/search"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(search_body(
            &company_properties(),
            since_ms,
            None,
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 1,
            "results": [changed]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let deal_props: Vec<&str> = DEAL_PROPERTIES.split(',').collect();
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals/search"))
        .and(body_json(search_body(
            &deal_props,
            since_ms,
            Some("renewals"),
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 1,
            "results": [{
                "id": "9002",
                "properties": {
                    "amount": "5200",
                    "closedate": "2025-06-30T10:00:00Z",
                    "createdate": "2025-01-12T09:00:00.000Z",
                    "dealname": "Initech renewal",
                    "dealstage": "closedwon",
                    "hs_lastmodifieddate": "2025-03-01T09:40:00.000Z",
                    "hs_object_id": "9002",
                    "pipeline": "renewals"
                },
                "createdAt": "2025-01-12T09:00:00.000Z",
                "updatedAt": "2025-03-01T09:40:00.000Z",
                "archived": false
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    // The search API gives no associations: they are read in a batch.
    Mock::given(method("POST"))
        .and(path("/crm/v4/associations/deals/companies/batch/read"))
        .and(body_json(json!({"inputs": [{"id": "9002"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{
                "from": {"id": "9002"},
                "to": [{
                    "toObjectId": 514,
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
                        {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": null}
                    ]
                }]
            }],
            "startedAt": "2025-03-01T10:00:00.100Z",
            "completedAt": "2025-03-01T10:00:00.150Z"
        })))
        .expect(1)
        .mount(&server)
        .await;
    // No list request at all.
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/companies"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/deals"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;

    let fetched = since(&source, t0(), &previous).await.unwrap();
    assert!(!fetched.full);
    let data = fetched.data;
    let mut expected = account_rows(&previous);
    expected[2] = (
        "514".into(),
        "Initech Global".into(),
        s("Jane Doe"),
        s("Enterprise"),
        s("Scale"),
        Some(ymd(2024, 1, 1)),
        Some(ymd(2026, 6, 30)),
        Some(20),
    );
    assert_eq!(account_rows(&data), expected);
    let renewals: Vec<_> = data
        .renewals
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                data.account(r.account).id.as_str(),
                r.outcome,
                r.amount,
            )
        })
        .collect();
    assert_eq!(
        renewals,
        [
            ("9001", "512", RenewalOutcome::Renewed, Some(dec!(12000))),
            ("9002", "514", RenewalOutcome::Renewed, Some(dec!(5200))),
            ("9003", "513", RenewalOutcome::Churned, None),
        ]
    );
}

#[tokio::test]
async fn more_than_ten_thousand_changes_fall_back_to_the_full_list() {
    let server = MockServer::start().await;
    mount_companies(&server, company_pages()).await;
    mount_owners(&server).await;
    let source = source(settings(&server));
    let previous = full(&source).await.unwrap().data;

    server.reset().await;
    mount_owners(&server).await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 10001,
            "results": [company("512", json!({"name": "Acme Corp"}))],
            "paging": {"next": {"after": "200"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    // The full list, where company 516 is gone (archived since).
    let [p1, p2, mut p3] = company_pages();
    p3["results"] = json!([]);
    mount_companies(&server, [p1, p2, p3]).await;
    let fetched = since(&source, t0(), &previous).await.unwrap();
    // Every object kind (only companies here) was listed in full.
    assert!(fetched.full);
    let ids: Vec<&str> = fetched
        .data
        .accounts()
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids, ["512", "513", "514", "515"]);
}

#[tokio::test]
async fn a_usage_object_gives_daily_usage() {
    let server = MockServer::start().await;
    mount_owners(&server).await;
    list("companies")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [company("801", json!({"name": "Used Co"}))]
        })))
        .mount(&server)
        .await;
    let usage_object = |id: &str, date: &str, users: &str, minutes: Value, company: &str| {
        json!({
            "id": id,
            "properties": {
                "active_users": users,
                "features_used": null,
                "hs_createdate": "2025-02-11T01:00:00.000Z",
                "hs_lastmodifieddate": "2025-02-11T01:00:00.000Z",
                "hs_object_id": id,
                "minutes_used": minutes,
                "sessions": "31",
                "usage_date": date
            },
            "createdAt": "2025-02-11T01:00:00.000Z",
            "updatedAt": "2025-02-11T01:00:00.000Z",
            "archived": false,
            "associations": {
                "companies": {"results": [{"id": company, "type": "usage_day_to_company"}]}
            }
        })
    };
    list("2-1234567")
        .and(query_param(
            "properties",
            "active_users,features_used,minutes_used,sessions,usage_date",
        ))
        .and(query_param("associations", "companies"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                usage_object("7001", "2025-02-10", "12", json!("95.5"), "801"),
                usage_object("7002", "2025-02-11", "9", json!(null), "801"),
                usage_object("7003", "2025-02-11", "4", json!("10"), "999"),
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = settings(&server);
    let mut properties = UsageField::defaults();
    properties.insert(UsageField::Date, "usage_date".into());
    properties.insert(UsageField::Minutes, "minutes_used".into());
    s.usage = Some(UsageObject {
        object: "2-1234567".into(),
        properties,
    });
    let data = full(&source(s)).await.unwrap().data;
    let rows: Vec<_> = data
        .usage
        .iter()
        .map(|u| {
            (
                data.account(u.account).id.as_str(),
                u.date,
                u.active_users,
                u.sessions,
                u.minutes,
                u.features_used,
            )
        })
        .collect();
    // 7003's company is not synced: left out.
    assert_eq!(
        rows,
        [
            ("801", ymd(2025, 2, 10), 12, 31, dec!(95.5), None),
            ("801", ymd(2025, 2, 11), 9, 31, dec!(0), None),
        ]
    );
}

#[test]
fn the_config_takes_every_hubspot_key() {
    let path = Path::new("tests/fixtures/hubspot/valid.toml");
    let src = std::fs::read_to_string(path).unwrap();
    let config = Config::parse(&src, path, Path::new("tests/fixtures/hubspot")).unwrap();
    let [SourceConfig {
        name,
        kind: SourceKind::Hubspot(s),
    }] = config.sources.as_slice()
    else {
        panic!("one hubspot source expected: {:?}", config.sources);
    };
    assert_eq!(name, "crm");
    assert_eq!(s.token.var(), "HUBSPOT_TOKEN");
    assert_eq!(s.network.base_url, "http://127.0.0.1:9999");
    assert_eq!(s.network.rate_limit, RateLimit::parse("190/10s").unwrap());
    assert_eq!(s.network.concurrency, 2);
    assert_eq!(s.network.max_retries, 3);
    assert_eq!(s.network.timeout, Duration::from_secs(20));
    assert_eq!(s.full_sync_every, chrono::Duration::hours(12));
    assert_eq!(s.search_rate_limit, RateLimit::per_second(4));
    assert_eq!(s.account_key, AccountKey::Property("domain".into()));
    let props: Vec<(&str, &str)> = s
        .properties
        .iter()
        .map(|(f, p)| (f.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        props,
        [
            ("name", "name"),
            ("owner", "csm_owner_id"),
            ("segment", "customer_segment"),
            ("created_at", "createdate"),
            ("licensed_seats", "seats"),
        ]
    );
    assert_eq!(s.custom_properties, ["industry", "annualrevenue"]);
    let renewals = s.renewals.as_ref().unwrap();
    assert_eq!(renewals.pipeline, "renewals");
    assert_eq!(renewals.outcome("1234567"), RenewalOutcome::Churned);
    assert_eq!(renewals.outcome("closedwon"), RenewalOutcome::Renewed);
    let usage = s.usage.as_ref().unwrap();
    assert_eq!(usage.object, "2-1234567");
    assert_eq!(usage.property(UsageField::Date), "usage_date");
    assert_eq!(usage.property(UsageField::Minutes), "minutes_used");
    assert_eq!(usage.property(UsageField::ActiveUsers), "active_users");

    // The defaults: HubSpot's own address and documented limits.
    let d = Settings::new("https://api.hubapi.com", Secret::from_env_var("X"));
    assert_eq!(d.network.rate_limit, RateLimit::parse("100/10s").unwrap());
    assert_eq!(d.full_sync_every, chrono::Duration::days(1));
    assert_eq!(d.account_key, AccountKey::CompanyId);
}

#[test]
fn config_errors_are_reported_together() {
    let path = Path::new("tests/fixtures/hubspot/broken.toml");
    let src = std::fs::read_to_string(path).unwrap();
    let err = Config::parse(&src, path, Path::new("tests/fixtures/hubspot")).unwrap_err();
    insta::assert_snapshot!("config_errors", err.to_string());
}

#[test]
fn an_unset_token_names_its_variable() {
    let server_less = Settings::new(
        "http://127.0.0.1:9",
        Secret::from_env_var("CS_PULSE_TEST_HUBSPOT_TOKEN_UNSET"),
    );
    let cfg = SourceConfig {
        name: "crm".into(),
        kind: SourceKind::Hubspot(server_less),
    };
    let today = ymd(2025, 3, 1);
    let err = match cs_pulse::sources::from_config(&cfg, &ctx(), today) {
        Ok(_) => panic!("an unset token must fail"),
        Err(e) => e,
    };
    assert!(matches!(err, SourceError::Secret(_)), "{err}");
    assert!(
        err.to_string()
            .contains("CS_PULSE_TEST_HUBSPOT_TOKEN_UNSET"),
        "{err}"
    );
}

/// Settings with the usage object `2-1234567` (date in `usage_date`).
fn with_usage(mut s: Settings) -> Settings {
    let mut properties = UsageField::defaults();
    properties.insert(UsageField::Date, "usage_date".into());
    s.usage = Some(UsageObject {
        object: "2-1234567".into(),
        properties,
    });
    s
}

fn usage_day(id: &str, date: &str, users: &str) -> Value {
    json!({
        "id": id,
        "properties": {
            "active_users": users,
            "features_used": "7",
            "hs_createdate": "2025-02-11T01:00:00.000Z",
            "hs_lastmodifieddate": "2025-03-01T09:50:00.000Z",
            "hs_object_id": id,
            "minutes": "30",
            "sessions": "4",
            "usage_date": date
        },
        "createdAt": "2025-02-11T01:00:00.000Z",
        "updatedAt": "2025-03-01T09:50:00.000Z",
        "archived": false
    })
}

#[tokio::test]
async fn an_incremental_sync_replaces_the_changed_usage_days() {
    let server = MockServer::start().await;
    mount_owners(&server).await;
    let companies = json!({"results": [
        company("801", json!({"name": "Used Co"})),
        company("802", json!({"name": "Other Co"})),
    ]});
    list("companies")
        .respond_with(ResponseTemplate::new(200).set_body_json(companies))
        .mount(&server)
        .await;
    let day = |id: &str, date: &str, users: &str, company: &str| {
        let mut v = usage_day(id, date, users);
        v["associations"] = json!({"companies": {"results": [
            {"id": company, "type": "usage_day_to_company"}
        ]}});
        v
    };
    let usage = json!({"results": [
        day("7001", "2025-02-10", "12", "801"),
        day("7002", "2025-02-11", "9", "801"),
        day("7003", "2025-02-11", "5", "802"),
    ]});
    list("2-1234567")
        .respond_with(ResponseTemplate::new(200).set_body_json(usage))
        .mount(&server)
        .await;
    let source = source(with_usage(settings(&server)));
    let previous = full(&source).await.unwrap().data;
    assert_eq!(previous.usage.len(), 3);

    server.reset().await;
    mount_owners(&server).await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})))
        .expect(1)
        .mount(&server)
        .await;
    let since_ms = (t0() - chrono::Duration::minutes(5)).timestamp_millis();
    let usage_props = [
        "active_users",
        "features_used",
        "minutes",
        "sessions",
        "usage_date",
    ];
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/2-1234567/search"))
        .and(body_json(search_body(&usage_props, since_ms, None)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 1,
            "results": [usage_day("7002", "2025-02-11", "15")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v4/associations/2-1234567/companies/batch/read"))
        .and(body_json(json!({"inputs": [{"id": "7002"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{
                "from": {"id": "7002"},
                "to": [{
                    "toObjectId": "801",
                    "associationTypes": [
                        {"category": "USER_DEFINED", "typeId": 12, "label": null}
                    ]
                }]
            }],
            "startedAt": "2025-03-01T10:00:00.100Z",
            "completedAt": "2025-03-01T10:00:00.150Z"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let fetched = since(&source, t0(), &previous).await.unwrap();
    assert!(!fetched.full);
    let data = fetched.data;
    let mut rows: Vec<_> = data
        .usage
        .iter()
        .map(|u| (data.account(u.account).id.as_str(), u.date, u.active_users))
        .collect();
    rows.sort();
    // 801's February 11 is replaced; its February 10 and 802's day stay.
    assert_eq!(
        rows,
        [
            ("801", ymd(2025, 2, 10), 12),
            ("801", ymd(2025, 2, 11), 15),
            ("802", ymd(2025, 2, 11), 5),
        ]
    );
}

#[tokio::test]
async fn stored_data_without_hubspot_ids_is_fetched_in_full() {
    let server = MockServer::start().await;
    mount_companies(&server, company_pages()).await;
    mount_owners(&server).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let stored = Dataset::new(vec![cs_pulse::model::Account {
        id: "512".into(),
        name: "Acme (from a CSV)".into(),
        ..Default::default()
    }])
    .unwrap();
    let fetched = since(&source(settings(&server)), t0(), &stored)
        .await
        .unwrap();
    assert!(fetched.full);
    assert_eq!(fetched.data.accounts().len(), 5);
}
