//! Configured secrets (API keys, tokens, webhook URLs, signing secrets) never reach a log line,
//! an error or any other output: the real binary runs with every log enabled
//! (`CS_PULSE_LOG=debug`, and `trace` once), as JSON lines and as text, through syncs that fail
//! (401, then 500s) and succeed, deliveries that fail on every kind of channel, the outbox
//! listing those failures, and configs with secrets pasted in literally. Every JSON log line
//! parses as one JSON object with a timestamp, a level, a target and its fields (the error that
//! ends a command too); `CS_PULSE_LOG_FORMAT` chooses the format like `--log-format`.
//!
//! `cs-pulse run` too (module `run`), at debug and trace, as JSON and as text, with every secret
//! of its sources, channels and chat platforms in play while its jobs fire every second: syncs
//! refused (401), failing (500) and throttled (429) before they work, alerts and a scorecard
//! retried and then delivered on every channel kind, the interaction endpoints asked with good
//! and bad signatures, `/metrics` and `/readyz` read, a valid reload and one refused for a
//! pasted secret, then SIGTERM: no secret, nor the secret part of a webhook URL, in stdout (the
//! operator messages on `console` included), stderr, or what the server answered.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

use serde_json::{json, Value};
use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use common::cli::{cs_pulse, synced_workspace};

const STRIPE_KEY: &str = "rk_live_51LeakTestStripeKeyQx7";
const HUBSPOT_TOKEN: &str = "pat-na1-leaktest-hubspot-7c1e";
const HTTP_TOKEN: &str = "leaktest-analytics-token-93f0";
/// The secret part of each webhook URL (the URLs themselves are secrets too).
const WEBHOOK_PATH: &str = "leaktest-generic-hook-5d2a";
/// The generic webhook's URL carries a secret in its query too.
const WEBHOOK_QUERY: &str = "leaktest-hook-query-71c3";
const DISCORD_WEBHOOK_TOKEN: &str = "leaktestDiscordWebhookToken_8b41";
const SLACK_WEBHOOK_PATH: &str = "leaktestSlackWebhook0e77";
const SIGNING_SECRET: &str = "whsec_leaktest_signing_61aa";
const DISCORD_TOKEN: &str = "MTAleaktest.DiscordBot.Token_f3";
const SLACK_TOKEN: &str = "xoxb-leaktest-slack-bot-0a9c";
/// Chat secrets: pasted into a config, and given to `cs-pulse run` from the environment.
const CHAT_TOKEN: &str = "MTAleaktest.ChatBot.Token_c0";
const CHAT_SIGNING_SECRET: &str = "leaktest-slack-signing-5e5e";

/// Every secret value the tests hand to the binary.
const SECRETS: [&str; 12] = [
    STRIPE_KEY,
    HUBSPOT_TOKEN,
    HTTP_TOKEN,
    WEBHOOK_PATH,
    WEBHOOK_QUERY,
    DISCORD_WEBHOOK_TOKEN,
    SLACK_WEBHOOK_PATH,
    SIGNING_SECRET,
    DISCORD_TOKEN,
    SLACK_TOKEN,
    CHAT_TOKEN,
    CHAT_SIGNING_SECRET,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Json,
    Text,
}

/// The binary in `dir` with `--log-format`, every log of `level`, and every secret in the
/// environment (the webhook URLs pointing at `hooks`).
fn binary(dir: &Path, format: Format, level: &str, hooks: &str) -> Command {
    let mut cmd = cs_pulse();
    cmd.current_dir(dir)
        .env("CS_PULSE_LOG", level)
        .env_remove("CS_PULSE_LOG_FORMAT")
        .arg("--log-format")
        .arg(match format {
            Format::Json => "json",
            Format::Text => "text",
        })
        .env("LEAK_STRIPE_KEY", STRIPE_KEY)
        .env("LEAK_HUBSPOT_TOKEN", HUBSPOT_TOKEN)
        .env("LEAK_HTTP_TOKEN", HTTP_TOKEN)
        .env(
            "LEAK_WEBHOOK_URL",
            format!("{hooks}/hooks/{WEBHOOK_PATH}?key={WEBHOOK_QUERY}"),
        )
        .env(
            "LEAK_DISCORD_WEBHOOK_URL",
            format!("{hooks}/api/webhooks/1234567890/{DISCORD_WEBHOOK_TOKEN}"),
        )
        .env(
            "LEAK_SLACK_WEBHOOK_URL",
            format!("{hooks}/services/T0001/B0001/{SLACK_WEBHOOK_PATH}"),
        )
        .env("LEAK_SIGNING_SECRET", SIGNING_SECRET)
        .env("LEAK_DISCORD_TOKEN", DISCORD_TOKEN)
        .env("LEAK_SLACK_TOKEN", SLACK_TOKEN);
    cmd
}

/// What a run printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The JSON log lines.
    logs: Vec<Value>,
}

impl Run {
    /// Everything printed: stdout, then stderr.
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` and checks its output ([`check_output`]).
fn run_checked(what: &str, cmd: &mut Command, format: Format) -> Run {
    let out: Output = cmd.output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let logs = check_output(what, &stdout, &stderr, format);
    Run {
        code: out.status.code(),
        stdout,
        stderr,
        logs,
    }
}

/// Checks what a run printed: no secret anywhere in `stdout` or `stderr`; as JSON, every line
/// on stderr one JSON object with its timestamp, level, target and fields (returned); as text,
/// no colour (not a terminal).
fn check_output(what: &str, stdout: &str, stderr: &str, format: Format) -> Vec<Value> {
    for secret in SECRETS {
        for (name, text) in [("stdout", stdout), ("stderr", stderr)] {
            assert!(
                !text.contains(secret),
                "{what}: a secret ({secret}) appears in {name}:\n{text}"
            );
        }
    }
    let mut logs = vec![];
    if format == Format::Json {
        // Every line on stderr is a log line (the error that ends a command too); stdout
        // holds what the command prints for a person.
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            let log: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{what}: a stderr line is not JSON ({e}): {line}"));
            for key in ["timestamp", "level", "target"] {
                assert!(log[key].is_string(), "{what}: no {key} in {line}");
            }
            // An event's message is among its fields; a few (sqlx's queries) have none.
            assert!(log["fields"].is_object(), "{what}: no fields in {line}");
            logs.push(log);
        }
    }
    if format == Format::Text {
        assert!(
            !stderr.contains('\u{1b}'),
            "{what}: colour codes on stderr that is no terminal:\n{stderr}"
        );
    }
    logs
}

/// The three API sources, against `uri`, their secrets from the environment.
fn sources_config(uri: &str) -> String {
    format!(
        r#"reporting_currency = "USD"

[fx]
EUR = 1.08

[store]
path = "cs-pulse.db"

[sources.billing]
kind = "stripe"
api_key = "${{LEAK_STRIPE_KEY}}"
account_key = "metadata.crm_id"
base_url = "{uri}"
max_retries = 1

[sources.crm]
kind = "hubspot"
token = "${{LEAK_HUBSPOT_TOKEN}}"
account_key = "property.crm_id"
custom_properties = ["crm_id"]
base_url = "{uri}"
rate_limit = "100/s"
max_retries = 1

[sources.product]
kind = "http_json"
url = "{uri}/usage"
token = "${{LEAK_HTTP_TOKEN}}"
records = "data"
record = "usage"
max_retries = 1

[sources.product.fields]
account_id = "account"
date = "day"
active_users = "users"
"#
    )
}

fn stripe_error(kind: &str, message: &str) -> Value {
    json!({ "error": { "type": kind, "message": message } })
}

/// Stripe refuses the first request (401, the key shown masked as Stripe does) and fails
/// every later one (500); HubSpot refuses its first (401) and fails the others (500); the
/// usage API fails (500).
async fn failing_apis() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/v1/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(stripe_error(
            "invalid_request_error",
            "Invalid API Key provided: rk_live_*********************Qx7",
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path_regex("^/v1/"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(stripe_error("api_error", "An unknown error occurred")),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path_regex("^/crm/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error",
            "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c",
            "category": "INVALID_AUTHENTICATION"
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path_regex("^/crm/"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "status": "error",
            "message": "internal error",
            "correlationId": "7b1b4c5e-0d27-4f43-9c4b-3a1f0e2d9b11"
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path("/usage"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream unavailable"))
        .mount(&server)
        .await;
    server
}

fn fixture(name: &str) -> Value {
    let p = Path::new("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("fixture")).expect("json")
}

async fn serve(server: &MockServer, verb: &str, at: &str, body: Value) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

/// The same three APIs answering (the payloads of tests/sync_apis.rs).
async fn working_apis() -> MockServer {
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
    let events = json!({ "object": "list", "url": "/v1/events", "has_more": false, "data": [] });
    serve(&server, "GET", "/v1/events", events).await;
    let company = json!({ "results": [{
        "id": "512",
        "properties": {
            "createdate": "2024-01-15T09:30:00.000Z",
            "crm_id": "crm-1",
            "hs_lastmodifieddate": "2025-02-27T10:00:00.000Z",
            "hs_object_id": "512",
            "name": "Acme Corp"
        },
        "createdAt": "2024-01-15T09:30:00.000Z",
        "updatedAt": "2025-02-27T10:00:00.000Z",
        "archived": false
    }]});
    serve(&server, "GET", "/crm/v3/objects/companies", company).await;
    serve(&server, "GET", "/crm/v3/owners", json!({ "results": [] })).await;
    let search = json!({ "total": 0, "results": [] });
    serve(&server, "POST", "/crm/v3/objects/companies/search", search).await;
    let usage = json!({ "data": [{ "account": "crm-1", "day": "2025-06-02", "users": 7 }] });
    serve(&server, "GET", "/usage", usage).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_that_fail_and_succeed_log_no_api_key_or_token() {
    let failing = failing_apis().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        sources_config(&failing.uri()),
    )
    .expect("config");
    let hooks = "http://127.0.0.1:9";

    // JSON: the first sync meets Stripe's and HubSpot's 401 and the usage API's 500s.
    let mut cmd = binary(dir.path(), Format::Json, "debug", hooks);
    let run = run_checked("sync (401, 500)", cmd.arg("sync"), Format::Json);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.all().contains("401"),
        "the refusal is reported:\n{}",
        run.all()
    );
    assert!(
        run.logs.iter().any(|l| l["level"] == "DEBUG"),
        "debug logs are on:\n{}",
        run.stderr
    );
    // Text: the second meets 500s everywhere, retried, then given up.
    let mut cmd = binary(dir.path(), Format::Text, "trace", hooks);
    let run = run_checked("sync (500s), text", cmd.arg("sync"), Format::Text);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.all().contains("500"),
        "the failure is reported:\n{}",
        run.all()
    );
    // Every request carried its secret, so each secret was in play.
    let received = failing.received_requests().await.expect("recorded");
    let auth = |prefix: &str| {
        received
            .iter()
            .filter(|r| r.url.path().starts_with(prefix))
            .filter_map(|r| r.headers.get("authorization")?.to_str().ok())
            .map(str::to_string)
            .collect::<HashSet<_>>()
    };
    assert_eq!(
        auth("/v1/"),
        HashSet::from([format!("Bearer {STRIPE_KEY}")])
    );
    assert_eq!(
        auth("/crm/"),
        HashSet::from([format!("Bearer {HUBSPOT_TOKEN}")])
    );
    assert_eq!(
        auth("/usage"),
        HashSet::from([format!("Bearer {HTTP_TOKEN}")])
    );

    // The same sources answering: every debug line of a good sync, as JSON and as text.
    let working = working_apis().await;
    std::fs::write(
        dir.path().join("config.toml"),
        sources_config(&working.uri()),
    )
    .expect("config");
    for format in [Format::Json, Format::Text] {
        let mut cmd = binary(dir.path(), format, "debug", hooks);
        let run = run_checked("sync (ok)", cmd.args(["sync", "--full"]), format);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(
            run.stderr.contains("DEBUG"),
            "debug logs are on ({format:?}):\n{}",
            run.stderr
        );
    }
}

/// Answers 500 to the first request of each path, then 400: every channel fails once
/// (retried), then for good.
struct FailingReceiver {
    seen: Mutex<HashSet<String>>,
}

impl Respond for FailingReceiver {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let first = self
            .seen
            .lock()
            .map(|mut seen| seen.insert(request.url.path().to_string()))
            .unwrap_or(false);
        if first {
            ResponseTemplate::new(500).set_body_string("internal error")
        } else {
            ResponseTemplate::new(400).set_body_json(json!({ "message": "Invalid Form Body" }))
        }
    }
}

/// One weekly scorecard posted to a channel of every kind whose secrets come from the
/// environment, all pointed at `hooks`.
const SCORECARD: &str = r#"[[scorecard]]
id = "leak-check"
name = "Leak check"
route = ["hook", "discord-hook", "slack-hook", "discord-bot", "slack-bot"]
period = "week"
kpis = [{ metric = "mrr" }, { metric = "customers" }]
at_risk = 2
renewal_days = 0
"#;

fn channels(hooks: &str) -> String {
    format!(
        r#"
[channels.console]
kind = "console"

[channels.hook]
kind = "webhook"
url = "${{LEAK_WEBHOOK_URL}}"
signing_secret = "${{LEAK_SIGNING_SECRET}}"

[channels.discord-hook]
kind = "discord_webhook"
url = "${{LEAK_DISCORD_WEBHOOK_URL}}"

[channels.slack-hook]
kind = "slack"
url = "${{LEAK_SLACK_WEBHOOK_URL}}"

[channels.discord-bot]
kind = "discord"
channel_id = "1234567890123456789"
token = "${{LEAK_DISCORD_TOKEN}}"
api_base = "{hooks}"

[channels.slack-bot]
kind = "slack"
token = "${{LEAK_SLACK_TOKEN}}"
channel = "C0123456789"
api_base = "{hooks}/api"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_show_no_webhook_url_or_token() {
    let receiver = MockServer::start().await;
    Mock::given(any())
        .respond_with(FailingReceiver {
            seen: Mutex::new(HashSet::new()),
        })
        .mount(&receiver)
        .await;
    let hooks = receiver.uri();
    let (dir, _) = synced_workspace(3);
    let config = dir.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text += &channels(&hooks);
    std::fs::write(&config, text).expect("config");
    std::fs::write(dir.path().join("leak.toml"), SCORECARD).expect("scorecard");

    let mut cmd = binary(dir.path(), Format::Json, "debug", &hooks);
    let run = run_checked("check", cmd.arg("check"), Format::Json);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);

    let mut cmd = binary(dir.path(), Format::Json, "debug", &hooks);
    let run = run_checked(
        "scorecard",
        cmd.args(["scorecard", "--file", "leak.toml", "--period", "2025-W24"]),
        Format::Json,
    );
    assert!(
        run.stdout.contains("failed"),
        "every channel failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    let warned = |needle: &str| {
        run.logs.iter().any(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle))
        })
    };
    assert!(
        warned("send failed") && warned("gave up"),
        "each failure is logged:\n{}",
        run.stderr
    );

    // Every channel was tried with its secret.
    let received = receiver.received_requests().await.expect("recorded");
    let paths: HashSet<String> = received.iter().map(|r| r.url.path().to_string()).collect();
    for secret in [WEBHOOK_PATH, DISCORD_WEBHOOK_TOKEN, SLACK_WEBHOOK_PATH] {
        assert!(
            paths.iter().any(|p| p.contains(secret)),
            "no request to the webhook with {secret}: {paths:?}"
        );
    }
    let auths: HashSet<String> = received
        .iter()
        .filter_map(|r| r.headers.get("authorization")?.to_str().ok())
        .map(str::to_string)
        .collect();
    assert!(auths.contains(&format!("Bot {DISCORD_TOKEN}")), "{auths:?}");
    assert!(
        auths.contains(&format!("Bearer {SLACK_TOKEN}")),
        "{auths:?}"
    );

    // The outbox lists the failures with their errors, as text.
    let mut cmd = binary(dir.path(), Format::Text, "trace", &hooks);
    let run = run_checked("outbox", cmd.args(["outbox", "list"]), Format::Text);
    assert!(
        run.stdout.contains("400"),
        "the last errors are listed:\n{}",
        run.stdout
    );
}

/// A config with every kind of secret written in instead of a `${VAR}` reference.
const PASTED: &str = r#"reporting_currency = "USD"

[sources.billing]
kind = "stripe"
api_key = "rk_live_51LeakTestStripeKeyQx7"

[sources.crm]
kind = "hubspot"
token = "pat-na1-leaktest-hubspot-7c1e"

[sources.product]
kind = "http_json"
url = "https://analytics.example.com/usage"
token = "leaktest-analytics-token-93f0"
record = "usage"

[sources.product.fields]
account_id = "account"
date = "day"
active_users = "users"

[channels.hook]
kind = "webhook"
url = "https://hooks.example.com/cs"
signing_secret = "whsec_leaktest_signing_61aa"

[channels.discord-hook]
kind = "discord_webhook"
url = "https://discord.com/api/webhooks/1234567890/leaktestDiscordWebhookToken_8b41"

[channels.slack-hook]
kind = "slack"
url = "https://hooks.slack.com/services/T0001/B0001/leaktestSlackWebhook0e77"

[channels.discord-bot]
kind = "discord"
channel_id = "1234567890123456789"
token = "MTAleaktest.DiscordBot.Token_f3"

[channels.slack-bot]
kind = "slack"
token = "xoxb-leaktest-slack-bot-0a9c"
channel = "C0123456789"

[chat.discord]
application_id = "1234567890123456789"
guild_id = "2345678901234567890"
token = "MTAleaktest.ChatBot.Token_c0"

[chat.slack]
signing_secret = "leaktest-slack-signing-5e5e"
"#;

#[test]
fn secrets_pasted_into_the_config_are_not_repeated_in_its_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), PASTED).expect("config");
    for (format, args) in [
        (Format::Json, &["check"][..]),
        (Format::Text, &["check"][..]),
        (Format::Json, &["sync"][..]),
        (Format::Text, &["scorecard", "--dry-run"][..]),
    ] {
        let mut cmd = binary(dir.path(), format, "debug", "http://127.0.0.1:9");
        let run = run_checked(&format!("{args:?} ({format:?})"), cmd.args(args), format);
        assert_eq!(run.code, Some(1), "{args:?} refuses the config");
        if format == Format::Json && args == ["sync"] {
            // The error that ends the command is a JSON line too.
            assert!(
                run.logs.iter().any(|l| l["level"] == "ERROR"
                    && l["fields"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("must name an environment variable"))),
                "{}",
                run.stderr
            );
        }
        for key in ["api_key", "token", "signing_secret", "url"] {
            assert!(
                run.all()
                    .contains(&format!("`{key}` must name an environment variable")),
                "{args:?}: the pasted {key} is reported:\n{}",
                run.all()
            );
        }
    }

    // A pasted secret that breaks the TOML itself (no quotes) is not shown either.
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[sources.billing]\nkind = \"stripe\"\napi_key = {STRIPE_KEY}\n"),
    )
    .expect("config");
    let mut cmd = binary(dir.path(), Format::Json, "debug", "http://127.0.0.1:9");
    let run = run_checked("check (TOML error)", cmd.arg("check"), Format::Json);
    assert_eq!(run.code, Some(1));
    assert!(run.all().contains("config.toml:3:"), "{}", run.all());
}

#[test]
fn the_log_format_can_come_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = cs_pulse()
        .current_dir(dir.path())
        .env("CS_PULSE_LOG_FORMAT", "json")
        .args(["--config", "missing.toml", "sync"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line: Value = serde_json::from_str(stderr.trim()).expect("one JSON line");
    assert_eq!(line["level"], "ERROR");
    assert!(line["fields"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("missing.toml")));
}

/// `cs-pulse run`: the long-running paths.
#[cfg(unix)]
mod run {
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    use serde_json::json;
    use wiremock::matchers::{any, path_regex};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::common::service::{http_get, http_post, poll, slack_post, Service, RUNNING};
    use super::*;
    use cs_pulse::telemetry::{MESSAGES, SYNC_RUNS};

    /// Every API answers its first three requests with a refusal (401), a failure (500) and a rate
    /// limit (429), shaped as each API documents them, then like [`working_apis`].
    async fn flaky_apis() -> MockServer {
        let server = working_apis().await;
        let stripe_429 = json!({ "error": {
            "code": "rate_limit",
            "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
            "message": "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            "type": "invalid_request_error"
        }});
        let hubspot_429 = json!({
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
            "policyName": "SECONDLY"
        });
        let failures = [
        (
            "^/v1/",
            [
                ResponseTemplate::new(401).set_body_json(stripe_error(
                    "invalid_request_error",
                    "Invalid API Key provided: rk_live_*********************Qx7",
                )),
                ResponseTemplate::new(500)
                    .set_body_json(stripe_error("api_error", "An unknown error occurred")),
                ResponseTemplate::new(429).set_body_json(stripe_429),
            ],
        ),
        (
            "^/crm/",
            [
                ResponseTemplate::new(401).set_body_json(json!({
                    "status": "error",
                    "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c",
                    "category": "INVALID_AUTHENTICATION"
                })),
                ResponseTemplate::new(500).set_body_json(json!({
                    "status": "error",
                    "message": "internal error",
                    "correlationId": "7b1b4c5e-0d27-4f43-9c4b-3a1f0e2d9b11"
                })),
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", "1")
                    .set_body_json(hubspot_429),
            ],
        ),
        (
            "^/usage",
            [
                ResponseTemplate::new(401).set_body_string("unauthorized"),
                ResponseTemplate::new(500).set_body_string("upstream unavailable"),
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", "1")
                    .set_body_string("slow down"),
            ],
        ),
    ];
        for (prefix, answers) in failures {
            for (priority, answer) in (1u8..).zip(answers) {
                Mock::given(path_regex(prefix))
                    .respond_with(answer)
                    .up_to_n_times(1)
                    .with_priority(priority)
                    .mount(&server)
                    .await;
            }
        }
        server
    }

    /// The receiving end of every channel kind (and of Discord's command registration): the first
    /// request to each path fails (500), the second is rate limited (429), the others succeed with
    /// what each API documents (a Discord message object, Slack's `ok` and `ts`, a 200 for a
    /// webhook).
    struct FlakyReceiver {
        seen: Mutex<HashMap<String, usize>>,
        next_id: AtomicU64,
    }

    impl FlakyReceiver {
        fn new() -> FlakyReceiver {
            FlakyReceiver {
                seen: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1_100_000_000_000_000_001),
            }
        }
    }

    impl Respond for FlakyReceiver {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let path = request.url.path().to_string();
            let nth = self
                .seen
                .lock()
                .map(|mut seen| {
                    let n = seen.entry(path.clone()).or_insert(0);
                    *n += 1;
                    *n
                })
                .unwrap_or(3);
            let slack_api = path.starts_with("/api/") && !path.starts_with("/api/v10/");
            match nth {
                1 => return ResponseTemplate::new(500).set_body_string("internal error"),
                2 if path.contains("/api/v10/") || path.contains("/api/webhooks/") => {
                    return ResponseTemplate::new(429)
                        .insert_header("Retry-After", "1")
                        .set_body_json(json!({
                            "message": "You are being rate limited.",
                            "retry_after": 0.5,
                            "global": false
                        }))
                }
                2 if slack_api => {
                    return ResponseTemplate::new(429)
                        .insert_header("Retry-After", "1")
                        .set_body_json(json!({ "ok": false, "error": "ratelimited" }))
                }
                2 => {
                    return ResponseTemplate::new(429)
                        .insert_header("Retry-After", "1")
                        .set_body_string("rate limited")
                }
                _ => {}
            }
            if path.ends_with("/commands") {
                return ResponseTemplate::new(200).set_body_json(json!([]));
            }
            if path.ends_with("/messages") || path.contains("/api/webhooks/") {
                let id = self.next_id.fetch_add(1, Ordering::SeqCst).to_string();
                return ResponseTemplate::new(200).set_body_json(json!({
                    "id": id,
                    "type": 0,
                    "channel_id": "1234567890123456789",
                    "author": {
                        "id": "1100000000000000999",
                        "username": "cs-pulse",
                        "discriminator": "0",
                        "global_name": null,
                        "avatar": null,
                        "bot": true
                    },
                    "content": "",
                    "embeds": [],
                    "attachments": [],
                    "mentions": [],
                    "mention_roles": [],
                    "mention_everyone": false,
                    "pinned": false,
                    "tts": false,
                    "timestamp": "2026-11-23T09:00:00.000000+00:00",
                    "edited_timestamp": null,
                    "flags": 0,
                    "components": []
                }));
            }
            if path.ends_with("/files.getUploadURLExternal") {
                let upload = format!(
                    "{}://{}/upload/F0123ABCDEF",
                    request.url.scheme(),
                    request.url.authority()
                );
                return ResponseTemplate::new(200).set_body_json(
                    json!({ "ok": true, "upload_url": upload, "file_id": "F0123ABCDEF" }),
                );
            }
            if path.ends_with("/files.completeUploadExternal") {
                return ResponseTemplate::new(200).set_body_json(json!({
                    "ok": true,
                    "files": [{ "id": "F0123ABCDEF", "title": "chart.png" }]
                }));
            }
            if slack_api {
                return ResponseTemplate::new(200).set_body_json(json!({
                "ok": true,
                "channel": "C0123456789",
                "ts": format!("1763888400.{:06}", nth),
                "message": { "type": "message", "subtype": "bot_message", "text": "", "ts": "1763888400.000001" }
            }));
            }
            ResponseTemplate::new(200).set_body_string("ok")
        }
    }

    /// The rule of the run: every account with MRR, announced on every channel.
    const RUN_RULE: &str = r#"[[rule]]
id = "leak-has-mrr"
name = "Has MRR"
severity = "info"
route = ["console", "hook", "discord-hook", "slack-hook", "discord-bot", "slack-bot"]
window = "month"
message = "**{{ account.name }}** has MRR {{ values.mrr }}."

[[rule.condition]]
metric = "mrr"
above = 0
"#;

    /// The Discord application's key pair (the public half is in the config: not a secret).
    fn discord_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
    }

    /// The run's config: the three API sources against `apis`, every channel kind against
    /// `hooks`, chat on Discord (HTTP interactions, commands registered at `hooks`) and Slack on
    /// `[server]`, and jobs every second: sync, evaluate, the scorecard.
    fn run_config(apis: &str, hooks: &str) -> String {
        let repo = env!("CARGO_MANIFEST_DIR");
        let public_key = hex::encode(discord_key().verifying_key().as_bytes());
        format!(
            r#"{sources}
[rules]
paths = ["rules"]

[health]
model = "{repo}/rules/health.toml"

[data_quality]
enabled = false
{channels}
[server]
listen = "127.0.0.1:0"

[chat.discord]
application_id = "1234567890123456789"
guild_id = "2345678901234567890"
token = "${{LEAK_CHAT_TOKEN}}"
mode = "http"
public_key = "{public_key}"
api_base = "{hooks}"

[chat.slack]
signing_secret = "${{LEAK_CHAT_SIGNING_SECRET}}"

[jobs.sync]
kind = "sync"
cron = "* * * * * *"

[jobs.eval]
kind = "evaluate"
cron = "* * * * * *"

[jobs.scorecard]
kind = "scorecard"
scorecard = "leak-check"
cron = "* * * * * *"
"#,
            sources = sources_config(apis),
            channels = channels(hooks),
        )
    }

    /// The samples of `metric` on a `/metrics` page with every label in `labels`.
    fn has_sample(page: &str, metric: &str, labels: &[(&str, &str)]) -> bool {
        page.lines().any(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
                && labels
                    .iter()
                    .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
    }

    /// A POST to the Discord interactions endpoint, signed with `key` (or with a wrong signature).
    fn discord_post(
        addr: &str,
        body: &str,
        key: Option<&ed25519_dalek::SigningKey>,
    ) -> (u16, String) {
        use ed25519_dalek::Signer;
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature = match key {
            Some(key) => hex::encode(key.sign(format!("{ts}{body}").as_bytes()).to_bytes()),
            None => "ab".repeat(64),
        };
        let headers = [
            "Content-Type: application/json".to_string(),
            format!("X-Signature-Ed25519: {signature}"),
            format!("X-Signature-Timestamp: {ts}"),
        ];
        http_post(addr, "/discord/interactions", &headers, body).expect("the service answers")
    }

    /// The address the service listens on now (the last one it printed: a reload binds anew).
    fn current_address(service: &Service) -> String {
        service.addresses().last().cloned().expect("listening")
    }

    /// Runs the service in `dir` through everything [`run_leaves_no_secret`] lists; gives its
    /// exit code, stdout, stderr, and what its server answered.
    fn drive(
        dir: &Path,
        format: Format,
        level: &str,
        hooks: &str,
    ) -> (Option<i32>, String, String, String) {
        let config = dir.join("config.toml");
        let rules = dir.join("rules");
        let mut served = String::new();
        let mut cmd = binary(dir, format, level, hooks);
        cmd.env("LEAK_CHAT_TOKEN", CHAT_TOKEN)
            .env("LEAK_CHAT_SIGNING_SECRET", CHAT_SIGNING_SECRET);
        let mut service = Service::run(cmd);
        service.wait_for("the start banner", |out, _| out.contains(RUNNING));

        // Syncs fail (401), are retried (500, 429), then work; deliveries fail (500), are
        // retried (429), then are sent, on every channel.
        let channels = [
            "hook",
            "discord-hook",
            "slack-hook",
            "discord-bot",
            "slack-bot",
        ];
        let page = poll("syncs and deliveries", || {
            let (_, page) = http_get(&current_address(&service), "/metrics")?;
            let synced = ["billing", "crm", "product"].iter().all(|s| {
                has_sample(&page, SYNC_RUNS, &[("source", s), ("outcome", "ok")])
                    && has_sample(&page, SYNC_RUNS, &[("source", s), ("outcome", "failed")])
            });
            let delivered = channels.iter().all(|c| {
                has_sample(&page, MESSAGES, &[("channel", c), ("outcome", "sent")])
                    && has_sample(&page, MESSAGES, &[("channel", c), ("outcome", "retried")])
            });
            (synced && delivered).then_some(page)
        });
        served.push_str(&page);
        let (out, _) = service.output();
        assert!(out.contains("Has MRR"), "the alert on the console:\n{out}");
        let (_, ready) = http_get(&current_address(&service), "/readyz").expect("readyz");
        served.push_str(&ready);

        // The interaction endpoints: signed well, signed badly.
        let addr = current_address(&service);
        let (code, body) = discord_post(&addr, r#"{"type":1}"#, Some(&discord_key()));
        assert_eq!(code, 200, "a signed Discord ping: {body}");
        let (code, _) = discord_post(&addr, r#"{"type":1}"#, None);
        assert_eq!(code, 401, "a Discord request with a bad signature");
        let form = concat!(
            "token=x&team_id=T1&channel_id=C1&user_id=U1&user_name=lea&command=%2Fcs&text=help",
            "&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fnever&trigger_id=1"
        );
        let (code, body) = slack_post(&addr, form, CHAT_SIGNING_SECRET);
        assert_eq!(code, 200, "a signed /cs: {body}");
        served.push_str(&body);
        let (code, _) = slack_post(&addr, form, "not-the-signing-secret");
        assert_eq!(code, 401, "a /cs with a bad signature");

        // A valid change applies; an invalid one (the Stripe key pasted in) is refused.
        std::fs::write(
            rules.join("extra.toml"),
            RUN_RULE.replace("leak-has-mrr", "leak-extra"),
        )
        .expect("a rule");
        service.signal(libc::SIGHUP);
        service.wait_for("the reload", |out, _| out.contains("reloaded ("));
        let good = std::fs::read_to_string(&config).expect("config");
        std::fs::write(&config, good.replace("${LEAK_STRIPE_KEY}", STRIPE_KEY)).expect("config");
        service.signal(libc::SIGHUP);
        service.wait_for("the refusal", |out, err| {
            err.contains("config change refused") && out.contains("Config change refused")
        });
        let (_, err) = service.output();
        assert!(err.contains("must name an environment variable"), "{err}");
        // The good config back: the poll of the files reloads it.
        let reloads = service.output().0.matches("reloaded (").count();
        std::fs::write(&config, good).expect("config");
        service.wait_for("the config back", |out, _| {
            out.matches("reloaded (").count() > reloads
        });
        for path in ["/metrics", "/readyz"] {
            let (_, body) = poll(path, || http_get(&current_address(&service), path));
            served.push_str(&body);
        }

        let (code, stdout, stderr) = service.stop();
        (code, stdout, stderr, served)
    }

    /// `cs-pulse run` with every secret in play, through failing then working syncs, deliveries
    /// retried then sent on every channel kind, the interaction endpoints (well and badly signed),
    /// `/metrics` and `/readyz`, and reloads (a valid change, and an invalid one with a secret
    /// pasted in); then SIGTERM. No secret in anything it printed or served.
    async fn run_leaves_no_secret(format: Format, level: &'static str) {
        let apis = flaky_apis().await;
        let receiver = MockServer::start().await;
        Mock::given(any())
            .respond_with(FlakyReceiver::new())
            .mount(&receiver)
            .await;
        let hooks = receiver.uri();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("config.toml");
        std::fs::write(&config, run_config(&apis.uri(), &hooks)).expect("config");
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).expect("rules dir");
        std::fs::write(rules.join("leak.toml"), RUN_RULE).expect("rule");
        std::fs::write(rules.join("scorecard.toml"), SCORECARD).expect("scorecard");

        let (code, stdout, stderr, served) =
            tokio::task::spawn_blocking(move || drive(dir.path(), format, level, &hooks))
                .await
                .expect("the run");
        assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");

        // Every secret was in play: each request carried its own.
        let received = receiver.received_requests().await.expect("recorded");
        assert!(
            received
                .iter()
                .any(|r| String::from_utf8_lossy(&r.body).contains("Leak check")),
            "the scorecard was posted"
        );
        let paths: HashSet<String> = received.iter().map(|r| r.url.path().to_string()).collect();
        for secret in [WEBHOOK_PATH, DISCORD_WEBHOOK_TOKEN, SLACK_WEBHOOK_PATH] {
            assert!(
                paths.iter().any(|p| p.contains(secret)),
                "no request to the webhook with {secret}: {paths:?}"
            );
        }
        assert!(
            received
                .iter()
                .any(|r| r.url.query().is_some_and(|q| q.contains(WEBHOOK_QUERY))),
            "the webhook's query was used"
        );
        let auths: HashSet<String> = received
            .iter()
            .filter_map(|r| r.headers.get("authorization")?.to_str().ok())
            .map(str::to_string)
            .collect();
        for auth in [
            format!("Bot {DISCORD_TOKEN}"),
            format!("Bearer {SLACK_TOKEN}"),
            format!("Bot {CHAT_TOKEN}"),
        ] {
            assert!(auths.contains(&auth), "{auth} not used: {auths:?}");
        }
        let apis_received = apis.received_requests().await.expect("recorded");
        let api_auths: HashSet<String> = apis_received
            .iter()
            .filter_map(|r| r.headers.get("authorization")?.to_str().ok())
            .map(str::to_string)
            .collect();
        for token in [STRIPE_KEY, HUBSPOT_TOKEN, HTTP_TOKEN] {
            assert!(
                api_auths.contains(&format!("Bearer {token}")),
                "{api_auths:?}"
            );
        }

        // No secret, nor the secret part of a webhook URL, in anything printed or served.
        let what = format!("cs-pulse run ({format:?}, {level})");
        check_output(&what, &stdout, &stderr, format);
        for secret in SECRETS {
            assert!(
                !served.contains(secret),
                "{what}: a secret ({secret}) in /metrics, /readyz or an answer:\n{served}"
            );
        }
        if format == Format::Json {
            assert!(
                stderr.contains(&format!("\"level\":\"{}\"", level.to_uppercase())),
                "{level} logs are on"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cs_pulse_run_logs_no_secret_as_json_at_trace() {
        run_leaves_no_secret(Format::Json, "trace").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cs_pulse_run_logs_no_secret_as_text_at_debug() {
        run_leaves_no_secret(Format::Text, "debug").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cs_pulse_run_logs_no_secret_as_json_at_debug() {
        run_leaves_no_secret(Format::Json, "debug").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cs_pulse_run_logs_no_secret_as_text_at_trace() {
        run_leaves_no_secret(Format::Text, "trace").await;
    }
}
