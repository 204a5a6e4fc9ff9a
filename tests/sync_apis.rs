//! `cs-pulse sync` as a user runs it, with a Stripe, a HubSpot and an `http_json` source
//! answered by one local server (payloads from tests/fixtures/, shaped like the providers'
//! documented responses): the three sync at once into one store, the accounts they share merge
//! by id, the second sync fetches only the changes, and `--full` fetches everything again. The
//! secrets come from the environment and appear in no output.

mod common;

use std::path::Path;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::cli::{cs_pulse, stdout_of};

const STRIPE_KEY: &str = "rk_live_e2eSecretKey";
const HUBSPOT_TOKEN: &str = "pat-na1-e2e-secret-token";

fn fixture(name: &str) -> Value {
    let p = Path::new("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("fixture")).expect("json")
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn serve(server: &MockServer, verb: &str, at: &str, body: Value) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(ok(body))
        .mount(server)
        .await;
}

fn stripe_list(url: &str, data: Value) -> Value {
    json!({ "object": "list", "url": url, "has_more": false, "data": data })
}

/// One HubSpot company whose `crm_id` property is the account id Stripe's customers carry in
/// their metadata (`crm-1`), and one owner.
fn hubspot_company() -> Value {
    json!({
        "results": [{
            "id": "512",
            "properties": {
                "createdate": "2024-01-15T09:30:00.000Z",
                "crm_id": "crm-1",
                "hs_lastmodifieddate": "2025-02-27T10:00:00.000Z",
                "hs_object_id": "512",
                "hubspot_owner_id": "41629779",
                "name": "Acme Corp"
            },
            "createdAt": "2024-01-15T09:30:00.000Z",
            "updatedAt": "2025-02-27T10:00:00.000Z",
            "archived": false
        }]
    })
}

fn hubspot_owner() -> Value {
    json!({
        "results": [{
            "id": "41629779",
            "email": "jane.doe@example.com",
            "type": "PERSON",
            "firstName": "Jane",
            "lastName": "Doe",
            "userId": 9586504,
            "createdAt": "2019-12-25T13:01:35.228Z",
            "updatedAt": "2023-08-22T13:40:26.790Z",
            "archived": false
        }]
    })
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    for (endpoint, file) in [
        ("/v1/customers", "stripe/customers.json"),
        ("/v1/subscriptions", "stripe/subscriptions.json"),
        ("/v1/prices", "stripe/prices.json"),
        ("/v1/invoices", "stripe/invoices.json"),
        (
            "/v1/invoices/in_B1/lines",
            "stripe/invoice_in_B1_lines.json",
        ),
    ] {
        serve(&server, "GET", endpoint, fixture(file)).await;
    }
    serve(
        &server,
        "GET",
        "/v1/events",
        stripe_list("/v1/events", json!([])),
    )
    .await;
    serve(
        &server,
        "GET",
        "/crm/v3/objects/companies",
        hubspot_company(),
    )
    .await;
    serve(&server, "GET", "/crm/v3/owners", hubspot_owner()).await;
    serve(
        &server,
        "POST",
        "/crm/v3/objects/companies/search",
        json!({ "total": 0, "results": [] }),
    )
    .await;
    serve(
        &server,
        "GET",
        "/usage",
        json!({ "data": [
            { "account": "crm-1", "day": "2025-06-02", "users": 7 },
            { "account": "crm-1", "day": "2025-06-03", "users": 9 }
        ]}),
    )
    .await;
    server
}

fn config(uri: &str) -> String {
    format!(
        r#"reporting_currency = "USD"

[fx]
EUR = 1.08

[store]
path = "cs-pulse.db"

[sources.billing]
kind = "stripe"
api_key = "${{CS_E2E_STRIPE_KEY}}"
account_key = "metadata.crm_id"
base_url = "{uri}"
max_retries = 1

[sources.crm]
kind = "hubspot"
token = "${{CS_E2E_HUBSPOT_TOKEN}}"
account_key = "property.crm_id"
custom_properties = ["crm_id"]
base_url = "{uri}"
rate_limit = "100/s"
max_retries = 1

[sources.product]
kind = "http_json"
url = "{uri}/usage"
records = "data"
record = "usage"

[sources.product.fields]
account_id = "account"
date = "day"
active_users = "users"
"#
    )
}

/// The summary lines without their durations.
fn summary(out: &str) -> String {
    out.lines()
        .map(|l| l.rsplit_once(" in ").map_or(l, |(head, _)| head))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_api_sources_sync_into_one_store_then_fetch_only_changes() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), config(&server.uri())).expect("config");
    let run = |args: &[&str]| {
        let mut cmd = cs_pulse();
        cmd.current_dir(dir.path())
            .arg("--config")
            .arg("config.toml")
            .args(args)
            .env("CS_E2E_STRIPE_KEY", STRIPE_KEY)
            .env("CS_E2E_HUBSPOT_TOKEN", HUBSPOT_TOKEN);
        let out = cmd.output().expect("runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?} failed:\n{text}");
        for secret in [STRIPE_KEY, HUBSPOT_TOKEN] {
            assert!(!text.contains(secret), "a secret was printed:\n{text}");
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let first = run(&["sync"]);
    let second = run(&["sync"]);
    let forced = run(&["sync", "--full"]);
    insta::assert_snapshot!(format!(
        "first:\n{}\n\nsecond:\n{}\n\n--full:\n{}",
        summary(&first),
        summary(&second),
        summary(&forced)
    ));

    // The requests each sync made: the second asked Stripe for events and HubSpot's search
    // API for changes, not for the lists again.
    let received = server.received_requests().await.expect("recorded");
    let count = |verb: &str, at: &str| {
        received
            .iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == at)
            .count()
    };
    assert_eq!(
        count("GET", "/v1/customers"),
        2,
        "the first and the --full sync"
    );
    assert_eq!(count("GET", "/v1/events"), 1, "the second sync");
    assert_eq!(count("GET", "/crm/v3/objects/companies"), 2);
    assert_eq!(count("POST", "/crm/v3/objects/companies/search"), 1);
    assert_eq!(
        count("GET", "/usage"),
        3,
        "http_json always fetches everything"
    );
    let auth = |r: &wiremock::Request| {
        r.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert!(received
        .iter()
        .filter(|r| r.url.path().starts_with("/v1/"))
        .all(|r| auth(r) == Some(format!("Bearer {STRIPE_KEY}"))));
    assert!(received
        .iter()
        .filter(|r| r.url.path().starts_with("/crm/"))
        .all(|r| auth(r) == Some(format!("Bearer {HUBSPOT_TOKEN}"))));

    // One account `crm-1`: its name and owner from HubSpot, its MRR from Stripe, its usage from
    // the product API.
    let account = stdout_of(
        cs_pulse()
            .current_dir(dir.path())
            .args(["--config", "config.toml", "metrics", "--period", "2025-06"])
            .args([
                "--account",
                "crm-1",
                "--metric",
                "mrr,dau",
                "--format",
                "json",
            ]),
    );
    insta::assert_snapshot!("crm-1 in 2025-06", account);
}
