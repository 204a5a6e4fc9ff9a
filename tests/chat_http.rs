//! The signed chat endpoints over HTTP: Discord's interactions endpoint (Ed25519) and Slack's
//! `/cs` command and interactivity (v0 HMAC-SHA256), served by the real router on 127.0.0.1 and
//! driven with reqwest, over the demo desk (alerts firing). Discord's REST API and Slack's
//! `response_url` are local wiremock servers. Time is passed in (a fixed clock at the demo's
//! "now"), and the deferred paths are taken by a zero answer deadline, not by sleeping.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use cs_pulse::chat::answers::alerts::firing;
use cs_pulse::chat::discord::http::register_commands;
use cs_pulse::chat::slack::verify::SigningSecret;
use cs_pulse::chat::Desk;
use cs_pulse::config::{Access, Audience, ChatConfig, DiscordChat, DiscordMode, Secret, SlackChat};
use cs_pulse::scheduler::Clock;
use cs_pulse::server::{self, ServerOptions};

use common::chat::{demo_desk, demo_now};

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_SECRET_VAR: &str = "CS_PULSE_TEST_CHAT_HTTP_SLACK_SECRET";
const DISCORD_TOKEN_VAR: &str = "CS_PULSE_TEST_CHAT_HTTP_DISCORD_TOKEN";
const APP_ID: u64 = 42;
const GUILD_ID: u64 = 7;

struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn discord_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn chat_config(discord_api: &str) -> ChatConfig {
    std::env::set_var(SLACK_SECRET_VAR, SLACK_SECRET);
    std::env::set_var(DISCORD_TOKEN_VAR, "test-token");
    ChatConfig {
        discord: Some(DiscordChat {
            application_id: APP_ID,
            guild_id: GUILD_ID,
            token: Secret::from_env_var(DISCORD_TOKEN_VAR),
            mode: DiscordMode::Http,
            public_key: Some(hex::encode(discord_key().verifying_key().as_bytes())),
            api_base: Some(discord_api.to_string()),
            access: Access::default(),
        }),
        slack: Some(SlackChat {
            signing_secret: Secret::from_env_var(SLACK_SECRET_VAR),
            access: Access::default(),
        }),
    }
}

/// Access for holders of id `999` only (not the callers of these tests).
fn strict() -> Access {
    Access {
        revenue: Audience::Only(["999".to_string()].into()),
        act: Audience::Only(["999".to_string()].into()),
    }
}

/// The router over `desk` served on 127.0.0.1; returns its base URL.
async fn serve(desk: Arc<Desk>, chat: &ChatConfig, answer_within: Duration) -> String {
    let router = server::router(
        desk,
        chat,
        ServerOptions {
            clock: Arc::new(FixedClock(demo_now())),
            answer_within,
            http: reqwest::Client::new(),
        },
    )
    .expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(server::serve(listener, router, std::future::pending()));
    base
}

fn now_ts() -> i64 {
    demo_now().timestamp()
}

async fn post(
    url: &str,
    headers: &[(&str, String)],
    content_type: &str,
    body: &str,
) -> (StatusCode, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body.to_string());
    for (k, v) in headers {
        request = request.header(*k, v);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

fn discord_headers(key: &SigningKey, ts: i64, body: &str) -> Vec<(&'static str, String)> {
    let signature = key.sign(format!("{ts}{body}").as_bytes());
    vec![
        ("x-signature-ed25519", hex::encode(signature.to_bytes())),
        ("x-signature-timestamp", ts.to_string()),
    ]
}

/// A signed interaction POST; the JSON answer (or Null) with the status.
async fn discord(base: &str, body: &Value) -> (StatusCode, Value) {
    let body = body.to_string();
    let (status, text) = post(
        &format!("{base}/discord/interactions"),
        &discord_headers(&discord_key(), now_ts(), &body),
        "application/json",
        &body,
    )
    .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn member() -> Value {
    json!({"user": {"id": "100", "username": "lea", "global_name": "Lea"}, "roles": ["555"], "nick": null})
}

fn slash(token: &str, name: &str, options: Value) -> Value {
    json!({
        "type": 2, "id": "1", "application_id": APP_ID.to_string(), "token": token,
        "guild_id": GUILD_ID.to_string(), "channel_id": "9", "member": member(),
        "data": {"id": "3", "name": name, "type": 1, "options": options}
    })
}

/// Waits (briefly) until `server` has received `n` requests.
async fn received(server: &MockServer, n: usize) -> Vec<Request> {
    for _ in 0..400 {
        let requests = server.received_requests().await.unwrap_or_default();
        if requests.len() >= n {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("expected {n} requests at the local server");
}

fn json_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_interactions_endpoint() {
    let (_dir, desk) = demo_desk().await;
    let desk = Arc::new(desk);
    let api = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .mount(&api)
        .await;
    let chat = chat_config(&api.uri());
    let base = serve(desk.clone(), &chat, server::ANSWER_WITHIN).await;
    let url = format!("{base}/discord/interactions");

    // PING -> PONG; the same signed request again is a replay.
    let ping = json!({"type": 1, "id": "1", "application_id": "42", "token": "t", "version": 1})
        .to_string();
    let headers = discord_headers(&discord_key(), now_ts(), &ping);
    let (status, body) = post(&url, &headers, "application/json", &ping).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"type":1}"#));
    let (status, body) = post(&url, &headers, "application/json", &ping).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "replayed request")
    );

    // Signed by another key; no headers; stale or future timestamps.
    let other = SigningKey::from_bytes(&[9u8; 32]);
    let wrong = discord_headers(&other, now_ts(), &ping);
    let (status, body) = post(&url, &wrong, "application/json", &ping).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid request signature")
    );
    let (status, body) = post(&url, &[], "application/json", &ping).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "missing request signature")
    );
    let mut tampered = discord_headers(&discord_key(), now_ts() - 1, &ping);
    tampered[1].1 = (now_ts() - 2).to_string();
    let (status, _) = post(&url, &tampered, "application/json", &ping).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "timestamp is signed");
    for ts in [now_ts() - 301, now_ts() + 61] {
        let stale = discord_headers(&discord_key(), ts, &ping);
        let (status, body) = post(&url, &stale, "application/json", &ping).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, "stale request timestamp")
        );
    }
    let mut garbled = discord_headers(&discord_key(), now_ts(), "x");
    garbled[0].1 = "zz".repeat(64);
    let (status, _) = post(&url, &garbled, "application/json", "x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Malformed JSON, well signed.
    let junk = "{\"type\": 2, ";
    let (status, body) = post(
        &url,
        &discord_headers(&discord_key(), now_ts(), junk),
        "application/json",
        junk,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("not an interaction"), "{body}");
    let (status, _) = discord(&base, &json!({"type": 9, "token": "t"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // /help, answered inline: pinned exactly.
    let (status, help) = discord(&base, &slash("tok-help", "help", json!([]))).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!("discord_help_response", help);

    // A usage error: ephemeral, what was wrong.
    let (_, usage) = discord(
        &base,
        &slash(
            "tok-usage",
            "kpi",
            json!([{"name": "metric", "type": 3, "value": "nrrr"}]),
        ),
    )
    .await;
    assert_eq!(usage["type"], 4);
    assert_eq!(usage["data"]["flags"], 64);
    assert_eq!(usage["data"]["allowed_mentions"], json!({"parse": []}));
    assert_eq!(usage["data"]["embeds"][0]["title"], "Couldn't run /kpi");

    // /renewals with an integer option, answered inline and ephemeral (revenue).
    let (_, renewals) = discord(
        &base,
        &slash(
            "tok-renewals",
            "renewals",
            json!([{"name": "days", "type": 4, "value": 30}]),
        ),
    )
    .await;
    assert_eq!(renewals["type"], 4);
    assert_eq!(renewals["data"]["flags"], 64);
    assert!(renewals["data"].get("attachments").is_none());

    // Autocomplete of /ack's alert: type 8 with the firing alerts.
    let mut typing = slash(
        "tok-ac",
        "ack",
        json!([{"name": "alert", "type": 3, "value": "", "focused": true}]),
    );
    typing["type"] = json!(4);
    let (status, suggestions) = discord(&base, &typing).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(suggestions["type"], 8);
    let choices = suggestions["data"]["choices"].as_array().expect("choices");
    assert!(!choices.is_empty() && choices.len() <= 25, "{choices:?}");
    let alerts = firing(&desk).await.expect("firing alerts");
    let alert = alerts
        .iter()
        .find(|a| a.key.subject != "portfolio")
        .expect("an account alert");
    assert!(
        choices.iter().any(|c| c["value"] == alert.reference()),
        "{choices:?}"
    );

    // The Acknowledge button, then a button cs-pulse never made.
    let press = |token: &str, custom_id: String| {
        json!({
            "type": 3, "id": "5", "application_id": APP_ID.to_string(), "token": token,
            "guild_id": GUILD_ID.to_string(), "channel_id": "9", "member": member(),
            "message": {"id": "77"},
            "data": {"custom_id": custom_id, "component_type": 2}
        })
    };
    let mut locked_chat = chat.clone();
    if let Some(d) = locked_chat.discord.as_mut() {
        d.access = strict();
    }
    let locked = serve(desk.clone(), &locked_chat, server::ANSWER_WITHIN).await;
    let (_, refused) = discord(
        &locked,
        &press("tok-locked", format!("cs:ack:{}", alert.reference())),
    )
    .await;
    assert_eq!(refused["type"], 4);
    assert_eq!(refused["data"]["flags"], 64);
    assert_eq!(
        refused["data"]["embeds"][0]["title"], "Acknowledge: not allowed",
        "the member's roles (555) are not in act_roles"
    );
    let (status, acked) = discord(
        &base,
        &press("tok-btn", format!("cs:ack:{}", alert.reference())),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(acked["type"], 4, "{acked}");
    assert!(acked["data"]["embeds"][0]["title"].is_string(), "{acked}");
    let (_, unknown) = discord(&base, &press("tok-btn2", "other:thing".into())).await;
    assert_eq!(unknown["type"], 4);
    assert_eq!(unknown["data"]["flags"], 64);
    assert_eq!(
        unknown["data"]["embeds"][0]["title"],
        "That button no longer works"
    );
    assert!(api.received_requests().await.unwrap_or_default().is_empty());

    // The deferred path: an answer deadline of zero defers every command (ephemeral when the
    // answer may show revenue), and the answer edits the original response; a private answer
    // (help) to a public deferral replaces it with an ephemeral follow-up.
    let slow = serve(desk.clone(), &chat, Duration::ZERO).await;
    let (_, deferred) = discord(
        &slow,
        &slash(
            "tok-slow-mrr",
            "kpi",
            json!([{"name": "metric", "type": 3, "value": "mrr"}]),
        ),
    )
    .await;
    assert_eq!(deferred, json!({"type": 5, "data": {"flags": 64}}));
    let edits = received(&api, 1).await;
    assert_eq!(edits[0].method.as_str(), "PATCH");
    assert_eq!(
        edits[0].url.path(),
        "/api/v10/webhooks/42/tok-slow-mrr/messages/@original"
    );
    let edit = json_of(&edits[0]);
    assert_eq!(edit["flags"], 64);
    assert!(edit["embeds"][0]["title"].is_string(), "{edit}");

    let (_, deferred) = discord(&slow, &slash("tok-slow", "help", json!([]))).await;
    assert_eq!(deferred, json!({"type": 5}));
    let calls = received(&api, 3).await;
    let calls: Vec<(String, String)> = calls[1..]
        .iter()
        .map(|r| (r.method.to_string(), r.url.path().to_string()))
        .collect();
    assert_eq!(
        calls,
        [
            (
                "DELETE".to_string(),
                "/api/v10/webhooks/42/tok-slow/messages/@original".to_string()
            ),
            (
                "POST".to_string(),
                "/api/v10/webhooks/42/tok-slow".to_string()
            )
        ]
    );
    let follow_up = received(&api, 3).await.pop().expect("follow-up");
    assert_eq!(json_of(&follow_up), help["data"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_commands_are_registered_in_the_guild() {
    let api = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/v10/applications/42/guilds/7/commands"))
        .and(header("authorization", "Bot test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&api)
        .await;
    let chat = chat_config(&api.uri());
    let discord = chat.discord.as_ref().expect("discord");
    let count = register_commands(discord, &reqwest::Client::new())
        .await
        .expect("registered");
    assert_eq!(count, 9);
    let requests = received(&api, 1).await;
    insta::assert_json_snapshot!("discord_command_registrations", json_of(&requests[0]));

    let refusing = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Missing Access", "code": 50001})),
        )
        .mount(&refusing)
        .await;
    let chat = chat_config(&refusing.uri());
    let e = register_commands(
        chat.discord.as_ref().expect("discord"),
        &reqwest::Client::new(),
    )
    .await
    .expect_err("refused");
    let text = format!("{e:#}");
    assert!(
        text.contains("403") && text.contains("Missing Access"),
        "{text}"
    );
    assert!(!text.contains("test-token"));
}

/// `application/x-www-form-urlencoded` escaping of a value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn slack_headers(secret: &str, ts: i64, body: &str) -> Vec<(&'static str, String)> {
    let signature = SigningSecret::new(secret).sign(&ts.to_string(), body.as_bytes());
    vec![
        ("x-slack-signature", signature),
        ("x-slack-request-timestamp", ts.to_string()),
    ]
}

fn slash_form(text: &str, response_url: &str) -> String {
    format!(
        "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705&channel_name=cs&user_id=U2147483697&user_name=lea&command=%2Fcs&text={}&api_app_id=A123&response_url={}&trigger_id=13345224609.738474920.8088930838d88f008e0",
        enc(text),
        enc(response_url)
    )
}

const FORM: &str = "application/x-www-form-urlencoded";

async fn slack(base: &str, route: &str, body: &str) -> (StatusCode, String) {
    post(
        &format!("{base}{route}"),
        &slack_headers(SLACK_SECRET, now_ts(), body),
        FORM,
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_commands_and_interactivity() {
    let (_dir, desk) = demo_desk().await;
    let desk = Arc::new(desk);
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&hooks)
        .await;
    let chat = chat_config("http://127.0.0.1:9");
    let base = serve(desk.clone(), &chat, server::ANSWER_WITHIN).await;
    let response_url = format!("{}/commands/T0001/1/inline", hooks.uri());

    // /cs help, inline: pinned exactly.
    let body = slash_form("help", &response_url);
    let (status, text) = slack(&base, "/slack/commands", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let help: Value = serde_json::from_str(&text).expect("JSON");
    insta::assert_json_snapshot!("slack_help_response", help);

    // The same request again is a replay; a wrong secret, an old or missing timestamp: 401.
    let (status, text) = slack(&base, "/slack/commands", &body).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, "replayed request")
    );
    let body = slash_form("alerts", &response_url);
    let url = format!("{base}/slack/commands");
    let (status, text) = post(
        &url,
        &slack_headers("not-the-secret", now_ts(), &body),
        FORM,
        &body,
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid request signature")
    );
    for ts in [now_ts() - 301, now_ts() + 301] {
        let (status, text) = post(&url, &slack_headers(SLACK_SECRET, ts, &body), FORM, &body).await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::UNAUTHORIZED, "stale request timestamp")
        );
    }
    let (status, _) = post(&url, &[], FORM, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut forged = slack_headers(SLACK_SECRET, now_ts(), &body);
    forged[1].1 = (now_ts() - 1).to_string();
    let (status, _) = post(&url, &forged, FORM, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the timestamp is signed");

    // Malformed forms, well signed: 400 with a reason.
    let (status, text) = slack(&base, "/slack/commands", "text=%zz&user_id=U1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.starts_with("the body is not a URL-encoded form"),
        "{text}"
    );
    let (status, text) = slack(&base, "/slack/commands", "text=help&team_id=T1").await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::BAD_REQUEST, "the form has no user_id")
    );

    // A usage error: ephemeral, what was wrong and an example for Slack.
    let (status, text) = slack(
        &base,
        "/slack/commands",
        &slash_form("kpi nrrr", &response_url),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let usage: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(usage["response_type"], "ephemeral");
    assert_eq!(usage["blocks"][0]["text"]["text"], "Couldn't run /kpi");
    assert!(text.contains("/cs kpi nrr 2025-Q3"), "{text}");

    // The deferred path: "Working on it…" now, the answer at the response_url.
    let slow = serve(desk.clone(), &chat, Duration::ZERO).await;
    let later_url = format!("{}/commands/T0001/2/later", hooks.uri());
    let (status, text) = slack(&slow, "/slack/commands", &slash_form("help", &later_url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("JSON"),
        json!({"response_type": "ephemeral", "text": "Working on it…"})
    );
    let posted = received(&hooks, 1).await;
    assert_eq!(posted[0].url.path(), "/commands/T0001/2/later");
    let mut expected = help.clone();
    expected["replace_original"] = json!(false);
    assert_eq!(json_of(&posted[0]), expected);

    // The Acknowledge button through interactivity: acknowledged at once, the reply posted to
    // the payload's response_url as a new message.
    let alerts = firing(&desk).await.expect("firing alerts");
    let alert = alerts
        .iter()
        .find(|a| a.key.subject != "portfolio")
        .expect("an account alert");
    let action_url = format!("{}/actions/T0001/3/press", hooks.uri());
    let payload = |action_id: String| {
        json!({
            "type": "block_actions",
            "user": {"id": "U2147483697", "username": "lea", "name": "lea", "team_id": "T0001"},
            "api_app_id": "A123", "token": "legacy", "trigger_id": "1.2.3",
            "team": {"id": "T0001", "domain": "example"},
            "channel": {"id": "C2147483705", "name": "cs"},
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C2147483705"},
            "response_url": action_url,
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b1",
                         "text": {"type": "plain_text", "text": "Acknowledge"}, "action_ts": "1700000001.1"}]
        })
        .to_string()
    };
    let body = format!(
        "payload={}",
        enc(&payload(format!("cs:ack:{}", alert.reference())))
    );
    let (status, text) = slack(&base, "/slack/interactions", &body).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, ""));
    let posted = received(&hooks, 2).await;
    let reply = posted
        .iter()
        .find(|r| r.url.path() == "/actions/T0001/3/press")
        .expect("the button's reply");
    let reply = json_of(reply);
    assert_eq!(reply["replace_original"], false);
    assert!(
        reply["blocks"].is_array() && reply["text"].is_string(),
        "{reply}"
    );
    assert!(
        reply["response_type"] == "in_channel" || reply["response_type"] == "ephemeral",
        "{reply}"
    );

    let mut locked_chat = chat.clone();
    if let Some(sl) = locked_chat.slack.as_mut() {
        sl.access = strict();
    }
    let locked = serve(desk.clone(), &locked_chat, server::ANSWER_WITHIN).await;
    let body = format!(
        "payload={}",
        enc(&payload(format!("cs:snooze:{}", alert.reference())))
    );
    let (status, _) = slack(&locked, "/slack/interactions", &body).await;
    assert_eq!(status, StatusCode::OK);
    let posted = received(&hooks, 3).await;
    let refusal = json_of(posted.last().expect("refusal"));
    assert_eq!(refusal["response_type"], "ephemeral");
    assert_eq!(
        refusal["blocks"][0]["text"]["text"], "Snooze 7 days: not allowed",
        "the user (U2147483697) is not in act_users"
    );

    let body = format!("payload={}", enc(&payload("somebody-else:button".into())));
    let (status, _) = slack(&base, "/slack/interactions", &body).await;
    assert_eq!(status, StatusCode::OK);
    let posted = received(&hooks, 4).await;
    let note = json_of(posted.last().expect("note"));
    assert_eq!(note["response_type"], "ephemeral");
    assert_eq!(
        note["blocks"][0]["text"]["text"],
        "That button no longer works"
    );

    let (status, text) = slack(&base, "/slack/interactions", "payload=%7Bnot+json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.starts_with("the payload is not an interaction"),
        "{text}"
    );
    let (status, text) = slack(&base, "/slack/interactions", "token=x").await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::BAD_REQUEST, "the form has no payload")
    );
}
