//! Configured secrets (API keys, tokens, webhook URLs, signing secrets) never reach a log line,
//! an error or any other output: the real binary runs with every log enabled
//! (`CS_PULSE_LOG=debug`, and `trace` once), as JSON lines and as text, through syncs that fail
//! (401, then 500s) and succeed, deliveries that fail on every kind of channel, the outbox
//! listing those failures, and configs with secrets pasted in literally. Every JSON log line
//! parses as one JSON object with a timestamp, a level, a target and its fields (the error that
//! ends a command too); `CS_PULSE_LOG_FORMAT` chooses the format like `--log-format`.

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
const DISCORD_WEBHOOK_TOKEN: &str = "leaktestDiscordWebhookToken_8b41";
const SLACK_WEBHOOK_PATH: &str = "leaktestSlackWebhook0e77";
const SIGNING_SECRET: &str = "whsec_leaktest_signing_61aa";
const DISCORD_TOKEN: &str = "MTAleaktest.DiscordBot.Token_f3";
const SLACK_TOKEN: &str = "xoxb-leaktest-slack-bot-0a9c";
/// Chat secrets, only ever pasted into a config here.
const CHAT_TOKEN: &str = "MTAleaktest.ChatBot.Token_c0";
const CHAT_SIGNING_SECRET: &str = "leaktest-slack-signing-5e5e";

/// Every secret value the tests hand to the binary.
const SECRETS: [&str; 11] = [
    STRIPE_KEY,
    HUBSPOT_TOKEN,
    HTTP_TOKEN,
    WEBHOOK_PATH,
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
        .env("LEAK_WEBHOOK_URL", format!("{hooks}/hooks/{WEBHOOK_PATH}"))
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

/// Runs `cmd` and checks its output: no secret anywhere in stdout or stderr; as JSON, every
/// line on stderr one JSON object with its timestamp, level, target and fields; as text, no
/// colour (not a terminal).
fn run_checked(what: &str, cmd: &mut Command, format: Format) -> Run {
    let out: Output = cmd.output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for secret in SECRETS {
        for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
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
    Run {
        code: out.status.code(),
        stdout,
        stderr,
        logs,
    }
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
