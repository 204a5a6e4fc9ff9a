//! Discord delivery end to end: both sinks against local servers that answer exactly as Discord
//! documents its REST API (create and edit message, the 429 body and `Retry-After`, its JSON
//! errors), with the request bodies on the wire pinned by snapshots and every part of a long
//! alert checked against every Discord limit, independently of the renderer's own checks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use cs_pulse::notify::channels::shown;
use cs_pulse::notify::discord::{components, render, DiscordPayload};
use cs_pulse::notify::discord_bot::DiscordBotSink;
use cs_pulse::notify::discord_webhook::DiscordWebhookSink;
use cs_pulse::notify::{Action, Field, Image, Message, Section, SendError, Sink, Tone};

const TOKEN: &str = "MTAx.test-bot-token.s3cr3t";
const CHANNEL: u64 = 1_100_000_000_000_000_123;
const MESSAGES: &str = "/api/v10/channels/1100000000000000123/messages";
/// The secret part of the webhook URL.
const HOOK: &str = "/api/webhooks/1100000000000000777/wh-S3CRET-token";

/// The smallest valid PNG: a 1×1 transparent pixel.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

fn owners() -> BTreeMap<String, u64> {
    BTreeMap::from([("Ana Ruiz".to_string(), 1_100_000_000_000_000_042)])
}

fn alert() -> Message {
    Message {
        title: "At risk: Acme_Corp".to_string(),
        tone: Tone::Critical,
        sections: vec![
            Section {
                heading: None,
                lines: vec![
                    "Health dropped to 41 (red) @everyone".to_string(),
                    "Renewal in 24 days".to_string(),
                ],
                fields: vec![],
            },
            Section {
                heading: Some("Why".to_string()),
                lines: vec![
                    "NPS detractor (2) on 2026-11-20".to_string(),
                    "Logins -62% week over week".to_string(),
                ],
                fields: vec![],
            },
            Section {
                heading: Some("Numbers".to_string()),
                lines: vec![],
                fields: vec![
                    Field {
                        label: "ARR".to_string(),
                        value: "$12,000.00".to_string(),
                    },
                    Field {
                        label: "Seats used".to_string(),
                        value: String::new(),
                    },
                ],
            },
        ],
        footer: "rule at_risk_health · data as of 2026-11-23 06:00 UTC".to_string(),
        mentions: vec!["Ana Ruiz".to_string(), "Bo Chen".to_string()],
        image: None,
        actions: Action::for_alert("at_risk_health", "acc_0042", Some("acc_0042")),
    }
}

/// The action row of [`alert`], exactly as Discord documents message components.
fn alert_buttons() -> Value {
    json!([{
        "type": 1,
        "components": [
            {"type": 2, "style": 1, "label": "Acknowledge", "custom_id": "cs:ack:at_risk_health:acc_0042"},
            {"type": 2, "style": 2, "label": "Snooze 7 days", "custom_id": "cs:snooze:at_risk_health:acc_0042"},
            {"type": 2, "style": 2, "label": "Open account", "custom_id": "cs:open:acc_0042"},
        ]
    }])
}

fn scorecard() -> Message {
    Message {
        title: "Weekly scorecard: 2026-W47".to_string(),
        tone: Tone::Good,
        sections: vec![Section {
            heading: Some("Revenue".to_string()),
            lines: vec![],
            fields: vec![Field {
                label: "NRR".to_string(),
                value: "104.2% (target 102%)".to_string(),
            }],
        }],
        footer: "scorecard weekly".to_string(),
        mentions: vec![],
        image: Some(Image {
            filename: "scorecard 2026-W47.png".to_string(),
            alt: "NRR over the last 12 weeks".to_string(),
            png: PNG.to_vec(),
        }),
        actions: vec![],
    }
}

/// 300 lines of 100 characters without a heading, and 300 more under one.
fn long_alert() -> Message {
    let lines = |tag: &str| -> Vec<String> {
        (0..300)
            .map(|i| format!("{tag} {i:03} {}", "x".repeat(100 - tag.len() - 5)))
            .collect()
    };
    Message {
        title: "Portfolio at risk".to_string(),
        tone: Tone::Warning,
        sections: vec![
            Section {
                heading: None,
                lines: lines("plain"),
                fields: vec![],
            },
            Section {
                heading: Some("Accounts".to_string()),
                lines: lines("headed"),
                fields: vec![],
            },
        ],
        footer: "rule portfolio_risk".to_string(),
        mentions: vec!["Ana Ruiz".to_string()],
        image: None,
        actions: Action::for_alert("portfolio_risk", "portfolio", None),
    }
}

/// Answers a create (or edit) as Discord does: 200 with the message object, with a new
/// snowflake id for each create, echoing content, embeds and nonce. A create with a nonce seen
/// before and `enforce_nonce` returns the message already created, as Discord documents.
/// `fail_at` answers that create (counting from 0) with a 429 instead.
struct MessageObject {
    next_id: Arc<AtomicU64>,
    webhook: bool,
    by_nonce: Mutex<HashMap<String, String>>,
    creates: AtomicU64,
    fail_at: Option<u64>,
}

impl Respond for MessageObject {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body = payload_of(req).unwrap_or(Value::Null);
        let id = match req.url.path().rsplit_once("/messages/") {
            Some((_, id)) => id.to_string(),
            None => {
                if Some(self.creates.fetch_add(1, Ordering::SeqCst)) == self.fail_at {
                    return ResponseTemplate::new(429)
                        .insert_header("Retry-After", "1")
                        .set_body_json(json!({
                            "message": "You are being rate limited.",
                            "retry_after": 0.5,
                            "global": false
                        }));
                }
                let nonce = body["nonce"]
                    .as_str()
                    .filter(|_| body["enforce_nonce"] == true);
                let mut seen = self.by_nonce.lock().expect("a lock");
                match nonce.and_then(|n| seen.get(n)) {
                    Some(id) => id.clone(),
                    None => {
                        let id = self.next_id.fetch_add(1, Ordering::SeqCst).to_string();
                        if let Some(n) = nonce {
                            seen.insert(n.to_string(), id.clone());
                        }
                        id
                    }
                }
            }
        };
        let mut msg = json!({
            "id": id,
            "type": 0,
            "channel_id": CHANNEL.to_string(),
            "author": {
                "id": "1100000000000000999",
                "username": "cs-pulse",
                "discriminator": "0",
                "global_name": null,
                "avatar": null,
                "bot": true
            },
            "content": body.get("content").cloned().unwrap_or(json!("")),
            "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": false,
            "pinned": false,
            "tts": false,
            "timestamp": "2026-11-23T09:00:00.000000+00:00",
            "edited_timestamp": if req.method.as_str() == "PATCH" {
                json!("2026-11-23T09:05:00.000000+00:00")
            } else {
                Value::Null
            },
            "flags": 0,
            "components": []
        });
        if let Some(nonce) = body.get("nonce") {
            msg["nonce"] = nonce.clone();
        }
        if self.webhook {
            msg["webhook_id"] = json!("1100000000000000777");
        }
        ResponseTemplate::new(200).set_body_json(msg)
    }
}

fn message_object(first_id: u64, webhook: bool) -> MessageObject {
    MessageObject {
        next_id: Arc::new(AtomicU64::new(first_id)),
        webhook,
        by_nonce: Mutex::new(HashMap::new()),
        creates: AtomicU64::new(0),
        fail_at: None,
    }
}

/// The JSON payload of a request: its body, or the `payload_json` part of a multipart body.
fn payload_of(req: &Request) -> Option<Value> {
    match multipart_boundary(req) {
        Some(boundary) => multipart_parts(&req.body, &boundary)
            .into_iter()
            .find(|p| p.name == "payload_json")
            .and_then(|p| serde_json::from_slice(&p.data).ok()),
        None => serde_json::from_slice(&req.body).ok(),
    }
}

fn multipart_boundary(req: &Request) -> Option<String> {
    let ct = req.headers.get("content-type")?.to_str().ok()?;
    let rest = ct.strip_prefix("multipart/form-data")?;
    rest.split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .next()
}

#[derive(Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// A minimal multipart/form-data reader, enough to check what the sinks send.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = vec![];
    let mut rest = body;
    while let Some(start) = find(rest, &delim) {
        rest = &rest[start + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(end) = find(rest, &delim) else { break };
        let chunk = &rest[..end];
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        let Some(split) = find(chunk, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&chunk[..split]).to_string();
        let data = chunk[split + 4..].to_vec();
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data,
        };
        for line in head.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for attr in line.split(';').skip(1) {
                    let (k, v) = attr.trim().split_once('=').unwrap_or(("", ""));
                    let v = v.trim_matches('"').to_string();
                    match k {
                        "name" => part.name = v,
                        "filename" => part.filename = Some(v),
                        _ => {}
                    }
                }
            } else if let Some(v) = lower.strip_prefix("content-type:") {
                part.content_type = Some(v.trim().to_string());
            }
        }
        parts.push(part);
    }
    parts
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Every limit Discord documents for a create-message body, checked on the JSON on the wire.
fn assert_discord_accepts(body: &Value) {
    let content = chars(&body["content"]);
    assert!(content <= 2000, "content {content}");
    if let Some(nonce) = body.get("nonce") {
        assert!(chars(nonce) <= 25, "nonce {nonce}");
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    assert!(
        content > 0 || !embeds.is_empty(),
        "an empty message: {body}"
    );
    assert!(embeds.len() <= 10, "{} embeds", embeds.len());
    let users = body["allowed_mentions"]["users"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(users <= 100);
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    let mut total = 0;
    for e in &embeds {
        let title = chars(&e["title"]);
        let description = chars(&e["description"]);
        let footer = chars(&e["footer"]["text"]);
        assert!(title <= 256, "title {title}");
        assert!(description <= 4096, "description {description}");
        assert!(footer <= 2048, "footer {footer}");
        total += title + description + footer;
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        assert!(fields.len() <= 25, "{} fields", fields.len());
        for f in &fields {
            let (name, value) = (chars(&f["name"]), chars(&f["value"]));
            assert!((1..=256).contains(&name), "field name {name}");
            assert!((1..=1024).contains(&value), "field value {value}");
            total += name + value;
        }
    }
    assert!(total <= 6000, "embeds total {total}");
    // Always a list, so that an edit clears old buttons: at most 5 rows of at most 5 buttons.
    let rows = body["components"].as_array().expect("components is a list");
    assert!(rows.len() <= 5, "{} action rows", rows.len());
    for row in rows {
        assert_eq!(row["type"], 1);
        let buttons = row["components"].as_array().expect("buttons");
        assert!(
            (1..=5).contains(&buttons.len()),
            "{} buttons",
            buttons.len()
        );
        for b in buttons {
            assert_eq!(b["type"], 2);
            assert!((1..=80).contains(&chars(&b["label"])), "label {b}");
            assert!((1..=100).contains(&chars(&b["custom_id"])), "custom_id {b}");
        }
    }
}

/// The bot of a configuration with `[chat.discord]`: its messages show their buttons.
fn bot(server: &MockServer) -> DiscordBotSink {
    DiscordBotSink::new(CHANNEL, TOKEN.to_string(), Some(server.uri()), owners())
        .expect("a valid sink")
        .with_buttons(true)
}

fn webhook(server: &MockServer) -> DiscordWebhookSink {
    DiscordWebhookSink::new(format!("{}{HOOK}", server.uri()), owners()).expect("a valid sink")
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

/// Mounts Discord's create-message endpoint, answering only the bot's own token.
async fn mount_create(server: &MockServer, first_id: u64) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", format!("Bot {TOKEN}").as_str()))
        .respond_with(message_object(first_id, false))
        .mount(server)
        .await;
}

async fn mount_error(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", format!("Bot {TOKEN}").as_str()))
        .respond_with(answer)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_bot_posts_an_alert_with_a_nonce_and_pings_only_known_owners() {
    let server = MockServer::start().await;
    mount_create(&server, 1_100_000_000_000_000_500).await;

    let ids = bot(&server)
        .post(&alert(), "a1b2c3d4e5f6a7b8")
        .await
        .expect("posted");
    assert_eq!(ids, ["1100000000000000500"]);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let body: Value = reqs[0].body_json().expect("a JSON body");
    assert_eq!(body["nonce"], "a1b2c3d4e5f6a7b8.0");
    assert_eq!(body["enforce_nonce"], true);
    assert_eq!(
        reqs[0].headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    assert_discord_accepts(&body);
    assert_eq!(body["components"], alert_buttons());
    insta::assert_json_snapshot!("bot_alert", body);
}

#[test]
fn buttons_are_one_action_row_with_acknowledge_primary() {
    let row = components(&alert().actions);
    assert_eq!(serde_json::to_value(&row).expect("JSON"), alert_buttons());
    assert_eq!(components(&[]), vec![]);
    // Buttons pressed on a message go back to cs-pulse as these ids.
    for b in &row[0].components {
        assert!(Action::parse_id(&b.custom_id).is_some(), "{}", b.custom_id);
    }
}

#[tokio::test]
async fn without_chat_commands_the_bot_shows_no_buttons() {
    let server = MockServer::start().await;
    mount_create(&server, 1_100_000_000_000_000_600).await;
    let sink = DiscordBotSink::new(CHANNEL, TOKEN.to_string(), Some(server.uri()), owners())
        .expect("a valid sink");
    sink.post(&alert(), "knobuttons").await.expect("posted");
    let body: Value = requests(&server).await[0].body_json().expect("JSON");
    assert_eq!(body["components"], json!([]));
}

#[tokio::test]
async fn a_very_long_alert_is_split_into_parts_that_each_fit_every_limit() {
    let server = MockServer::start().await;
    mount_create(&server, 1_100_000_000_000_001_000).await;
    let message = long_alert();

    let ids = bot(&server).post(&message, "k-long").await.expect("posted");

    let reqs = requests(&server).await;
    assert!(reqs.len() > 1, "one part only");
    assert_eq!(ids.len(), reqs.len());
    let expected_ids: Vec<String> = (0..reqs.len() as u64)
        .map(|i| (1_100_000_000_000_001_000 + i).to_string())
        .collect();
    assert_eq!(ids, expected_ids);

    let mut all_text = String::new();
    let mut summary = vec![];
    for (i, req) in reqs.iter().enumerate() {
        let body: Value = req.body_json().expect("a JSON body");
        assert_discord_accepts(&body);
        assert_eq!(body["nonce"], format!("k-long.{i}"));
        assert_eq!(body["enforce_nonce"], true);
        let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
        for e in &embeds {
            all_text += e["description"].as_str().unwrap_or("");
            all_text += "\n";
            for f in e["fields"].as_array().cloned().unwrap_or_default() {
                all_text += f["value"].as_str().unwrap_or("");
                all_text += "\n";
            }
        }
        // The buttons sit under the whole message: on its last part only.
        let buttons = body["components"].as_array().map_or(0, Vec::len);
        assert_eq!(buttons, usize::from(i + 1 == reqs.len()), "part {i}");
        summary.push(json!({
            "content": body["content"],
            "embeds": embeds.iter().map(|e| json!({
                "title": e["title"],
                "description_chars": chars(&e["description"]),
                "fields": e["fields"].as_array().map_or(0, Vec::len),
                "footer": e["footer"]["text"],
            })).collect::<Vec<_>>(),
        }));
    }
    // Every line arrives whole (none is longer than any limit), in order.
    let mut at = 0;
    for section in &message.sections {
        for line in &section.lines {
            let pos = all_text[at..]
                .find(&format!("• {line}\n"))
                .unwrap_or_else(|| panic!("lost {line}"));
            at += pos + line.len();
        }
    }
    insta::assert_json_snapshot!("bot_long_alert_parts", summary);
}

#[tokio::test]
async fn the_bot_attaches_an_image_as_multipart_files_0() {
    let server = MockServer::start().await;
    mount_create(&server, 1_100_000_000_000_002_000).await;

    let ids = bot(&server)
        .post(&scorecard(), "sc-2026-W47")
        .await
        .expect("posted");
    assert_eq!(ids, ["1100000000000002000"]);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let boundary = multipart_boundary(&reqs[0]).expect("a multipart body");
    let parts = multipart_parts(&reqs[0].body, &boundary);
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["files[0]", "payload_json"]);
    let file = &parts[0];
    assert_eq!(file.filename.as_deref(), Some("scorecard_2026-W47.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(file.data, PNG);
    let body: Value = serde_json::from_slice(&parts[1].data).expect("JSON payload");
    assert_eq!(
        body["embeds"][0]["image"]["url"],
        "attachment://scorecard_2026-W47.png"
    );
    assert_discord_accepts(&body);
    insta::assert_json_snapshot!("bot_scorecard_payload_json", body);
}

#[tokio::test]
async fn a_resend_after_a_429_part_way_creates_nothing_twice() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", format!("Bot {TOKEN}").as_str()))
        .respond_with(MessageObject {
            fail_at: Some(1),
            ..message_object(1_100_000_000_000_005_000, false)
        })
        .mount(&server)
        .await;
    let sink = bot(&server);
    let message = long_alert();

    let err = sink.post(&message, "k-resend").await.unwrap_err();
    assert!(matches!(err, SendError::RateLimited { .. }), "{err:?}");
    // The outbox waits, then sends the same message with the same key.
    let ids = sink.post(&message, "k-resend").await.expect("posted");

    let nonces: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| {
            let body: Value = r.body_json().expect("a JSON body");
            body["nonce"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    let parts = render(&message, &owners()).len();
    let mut expected = vec!["k-resend.0".to_string(), "k-resend.1".to_string()];
    expected.extend((0..parts).map(|i| format!("k-resend.{i}")));
    assert_eq!(nonces, expected);
    // Part 0 was created once: the resend got the same message back.
    let expected_ids: Vec<String> = (0..parts as u64)
        .map(|i| (1_100_000_000_000_005_000 + i).to_string())
        .collect();
    assert_eq!(ids, expected_ids);
}

#[tokio::test]
async fn an_edit_longer_than_the_original_posts_the_extra_parts() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{MESSAGES}/1100000000000000500")))
        .respond_with(message_object(0, false))
        .expect(1)
        .mount(&server)
        .await;
    mount_create(&server, 1_100_000_000_000_006_000).await;

    let message = long_alert();
    bot(&server)
        .edit(&["1100000000000000500".to_string()], &message)
        .await
        .expect("edited");

    let reqs = requests(&server).await;
    let parts = render(&message, &owners()).len();
    assert_eq!(reqs.len(), parts);
    assert_eq!(reqs[0].method.as_str(), "PATCH");
    for (i, req) in reqs.iter().enumerate().skip(1) {
        assert_eq!(req.method.as_str(), "POST");
        let body: Value = req.body_json().expect("a JSON body");
        assert_discord_accepts(&body);
        let nonce = body["nonce"].as_str().unwrap_or_default();
        assert!(
            nonce.starts_with('e') && nonce.ends_with(&format!(".{i}")),
            "{nonce}"
        );
    }
}

#[tokio::test]
async fn a_429_becomes_rate_limited_with_discords_retry_after() {
    let server = MockServer::start().await;
    mount_error(
        &server,
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .insert_header("X-RateLimit-Scope", "user")
            .set_body_json(json!({
                "message": "You are being rate limited.",
                "retry_after": 0.5,
                "global": false
            })),
    )
    .await;

    let err = bot(&server).post(&alert(), "k429").await.unwrap_err();
    assert_eq!(
        err,
        SendError::RateLimited {
            retry_after: Duration::from_millis(500)
        }
    );
}

#[tokio::test]
async fn a_429_without_a_body_uses_the_retry_after_header() {
    let server = MockServer::start().await;
    mount_error(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "3"),
    )
    .await;
    let err = bot(&server).post(&alert(), "k429h").await.unwrap_err();
    assert_eq!(
        err,
        SendError::RateLimited {
            retry_after: Duration::from_secs(3)
        }
    );
}

#[tokio::test]
async fn a_500_is_transient() {
    let server = MockServer::start().await;
    mount_error(
        &server,
        ResponseTemplate::new(500)
            .set_body_json(json!({"message": "500: Internal Server Error", "code": 0})),
    )
    .await;
    let err = bot(&server).post(&alert(), "k500").await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn a_403_is_permanent_with_discords_message_and_code() {
    let server = MockServer::start().await;
    mount_error(
        &server,
        ResponseTemplate::new(403)
            .set_body_json(json!({"message": "Missing Access", "code": 50001})),
    )
    .await;
    let err = bot(&server).post(&alert(), "k403").await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent(
            "Discord refused the message (HTTP 403): Missing Access (code 50001)".into()
        )
    );
    assert!(!format!("{err:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn a_wrong_token_is_permanent_and_not_echoed() {
    let server = MockServer::start().await;
    mount_create(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "401: Unauthorized", "code": 0})),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    let sink = DiscordBotSink::new(CHANNEL, "wrong-s3cr3t".into(), Some(server.uri()), owners())
        .expect("a sink");
    let err = sink.post(&alert(), "k401").await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(m) if m.contains("401: Unauthorized")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("s3cr3t"));
}

#[tokio::test]
async fn an_unreachable_api_is_transient() {
    // Nothing listens on a port just released.
    let base = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let sink = DiscordBotSink::new(CHANNEL, TOKEN.into(), Some(base), owners()).expect("a sink");
    let err = sink.post(&alert(), "kconn").await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cr3t"));
}

#[tokio::test]
async fn the_bot_edits_in_place_and_folds_surplus_parts() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{MESSAGES}/1100000000000000500")))
        .and(header("authorization", format!("Bot {TOKEN}").as_str()))
        .respond_with(message_object(0, false))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{MESSAGES}/1100000000000000501")))
        .and(header("authorization", format!("Bot {TOKEN}").as_str()))
        .respond_with(message_object(0, false))
        .expect(1)
        .mount(&server)
        .await;

    let mut resolved = alert();
    resolved.title = "Resolved: Acme_Corp".to_string();
    resolved.tone = Tone::Good;
    resolved.mentions.clear();
    // A resolved alert has no buttons (outbox::mark_resolved drops them).
    resolved.actions.clear();
    let sink = bot(&server);
    assert!(sink.can_edit());
    sink.edit(
        &[
            "1100000000000000500".to_string(),
            "1100000000000000501".to_string(),
        ],
        &resolved,
    )
    .await
    .expect("edited");

    let bodies: Vec<Value> = requests(&server)
        .await
        .iter()
        .map(|r| r.body_json().expect("a JSON body"))
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].get("nonce").is_none());
    // `components: []` removes the buttons the alert was posted with.
    for body in &bodies {
        assert_eq!(body["components"], json!([]));
    }
    insta::assert_json_snapshot!("bot_edit", bodies);
}

#[tokio::test]
async fn editing_a_deleted_message_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{MESSAGES}/1100000000000000500")))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Unknown Message", "code": 10008})),
        )
        .mount(&server)
        .await;
    let err = bot(&server)
        .edit(&["1100000000000000500".to_string()], &alert())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(m) if m.contains("10008")),
        "{err:?}"
    );
    let err = bot(&server)
        .edit(&["not-an-id".to_string()], &alert())
        .await;
    assert!(matches!(err, Err(SendError::Permanent(_))));
}

#[tokio::test]
async fn the_webhook_posts_with_wait_true_and_returns_the_message_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK))
        .and(query_param("wait", "true"))
        .respond_with(message_object(1_100_000_000_000_003_000, true))
        .mount(&server)
        .await;

    let ids = webhook(&server)
        .post(&alert(), "kwh")
        .await
        .expect("posted");
    assert_eq!(ids, ["1100000000000003000"]);
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].headers.get("authorization").is_none());
    let body: Value = reqs[0].body_json().expect("a JSON body");
    assert!(body.get("nonce").is_none(), "webhooks take no nonce");
    assert_discord_accepts(&body);
    assert_eq!(body, {
        // The same rendering as the bot's, without the nonce and without buttons (a webhook's
        // message belongs to no application that could answer a press).
        let mut parts: Vec<DiscordPayload> = render(&shown(&alert(), false), &owners());
        serde_json::to_value(parts.remove(0)).expect("JSON")
    });
    assert_eq!(body["components"], json!([]));
    insta::assert_json_snapshot!("webhook_alert", body);
}

#[tokio::test]
async fn the_webhook_attaches_an_image_and_splits_a_long_alert() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK))
        .and(query_param("wait", "true"))
        .respond_with(message_object(1_100_000_000_000_004_000, true))
        .mount(&server)
        .await;
    let sink = webhook(&server);

    sink.post(&scorecard(), "ksc").await.expect("posted");
    let reqs = requests(&server).await;
    let boundary = multipart_boundary(&reqs[0]).expect("a multipart body");
    let parts = multipart_parts(&reqs[0].body, &boundary);
    let file = parts
        .iter()
        .find(|p| p.name == "files[0]")
        .expect("files[0]");
    assert_eq!(file.data, PNG);
    assert_eq!(file.filename.as_deref(), Some("scorecard_2026-W47.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    let payload = parts
        .iter()
        .find(|p| p.name == "payload_json")
        .expect("payload_json");
    let body: Value = serde_json::from_slice(&payload.data).expect("JSON");
    insta::assert_json_snapshot!("webhook_scorecard_payload_json", body);

    let ids = sink.post(&long_alert(), "klong").await.expect("posted");
    let reqs = requests(&server).await;
    assert_eq!(ids.len() + 1, reqs.len());
    for req in &reqs[1..] {
        assert_discord_accepts(&req.body_json().expect("a JSON body"));
    }
}

#[tokio::test]
async fn the_webhook_edits_through_its_messages_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{HOOK}/messages/1100000000000003000")))
        .respond_with(message_object(0, true))
        .expect(1)
        .mount(&server)
        .await;
    let sink = webhook(&server);
    assert!(sink.can_edit());
    let mut resolved = alert();
    resolved.title = "Resolved: Acme_Corp".to_string();
    resolved.tone = Tone::Good;
    sink.edit(&["1100000000000003000".to_string()], &resolved)
        .await
        .expect("edited");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].url.query().is_none(), "{:?}", reqs[0].url.query());
    let body: Value = reqs[0].body_json().expect("a JSON body");
    assert_eq!(body["embeds"][0]["title"], "Resolved: Acme_Corp");
    assert_eq!(body["embeds"][0]["color"], 0x188038);
}

#[tokio::test]
async fn webhook_errors_map_like_the_bots_and_never_show_the_url() {
    let server = MockServer::start().await;
    let sink = webhook(&server);
    let cases = [
        (
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({
                    "message": "You are being rate limited.",
                    "retry_after": 0.5,
                    "global": false
                })),
            "rate",
        ),
        (ResponseTemplate::new(502), "transient"),
        (
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Unknown Webhook", "code": 10015})),
            "permanent",
        ),
    ];
    for (answer, kind) in cases {
        server.reset().await;
        Mock::given(method("POST"))
            .and(path(HOOK))
            .respond_with(answer)
            .mount(&server)
            .await;
        let err = sink.post(&alert(), "kerr").await.unwrap_err();
        match kind {
            "rate" => assert_eq!(
                err,
                SendError::RateLimited {
                    retry_after: Duration::from_millis(500)
                }
            ),
            "transient" => assert!(matches!(err, SendError::Transient(_)), "{err:?}"),
            _ => assert!(
                matches!(&err, SendError::Permanent(m) if m.contains("Unknown Webhook") && m.contains("10015")),
                "{err:?}"
            ),
        }
        assert!(!err.to_string().contains("S3CRET"));
    }

    // A connection failure names no URL either.
    let base = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let sink = DiscordWebhookSink::new(format!("{base}{HOOK}"), owners()).expect("a sink");
    let err = sink.post(&alert(), "kconn").await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(!err.to_string().contains("S3CRET"), "{err}");
}

#[test]
fn template_bold_stays_bold_and_data_is_escaped() {
    let message = Message {
        title: "Health is red".into(),
        sections: vec![Section {
            heading: None,
            lines: vec!["**Acme_1** (owner A*B): health 12".into()],
            fields: vec![],
        }],
        ..Message::default()
    };
    let payloads = render(&message, &BTreeMap::new());
    assert_eq!(
        payloads[0].embeds[0].description.as_deref(),
        Some("• **Acme\\_1** (owner A\\*B): health 12")
    );
}

/// A config with a `discord` channel on `server`, with or without `[chat.discord]`.
fn channel_config(server: &MockServer, chat: bool) -> cs_pulse::config::Config {
    let mut src = format!(
        "[channels.cs]\nkind = \"discord\"\nchannel_id = \"{CHANNEL}\"\ntoken = \"${{CS_PULSE_TEST_BUTTONS_TOKEN}}\"\napi_base = \"{}\"\n[channels.hook]\nkind = \"discord_webhook\"\nurl = \"${{CS_PULSE_TEST_BUTTONS_HOOK}}\"\n",
        server.uri()
    );
    if chat {
        src += "[chat.discord]\napplication_id = \"1\"\nguild_id = \"2\"\ntoken = \"${CS_PULSE_TEST_BUTTONS_TOKEN}\"\n";
    }
    cs_pulse::config::Config::parse(
        &src,
        std::path::Path::new("c.toml"),
        std::path::Path::new(""),
    )
    .unwrap_or_else(|d| panic!("{d}"))
}

#[tokio::test]
async fn configured_channels_show_buttons_only_from_a_bot_whose_commands_are_answered() {
    let server = MockServer::start().await;
    mount_create(&server, 1_100_000_000_000_000_700).await;
    Mock::given(method("POST"))
        .and(path(HOOK))
        .respond_with(message_object(1_100_000_000_000_000_800, true))
        .mount(&server)
        .await;
    std::env::set_var("CS_PULSE_TEST_BUTTONS_TOKEN", TOKEN);
    std::env::set_var(
        "CS_PULSE_TEST_BUTTONS_HOOK",
        format!("{}{HOOK}", server.uri()),
    );
    let console: Arc<dyn Sink> = Arc::new(cs_pulse::notify::console::ConsoleSink::stdout());
    let mut shown = vec![];
    for chat in [true, false] {
        let sinks = cs_pulse::notify::channels::build_sinks(
            &channel_config(&server, chat),
            console.clone(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for name in ["cs", "hook"] {
            sinks[name].post(&alert(), "kconf").await.expect("posted");
            let reqs = requests(&server).await;
            let body: Value = reqs.last().expect("a request").body_json().expect("JSON");
            shown.push((chat, name, body["components"] != json!([])));
        }
    }
    assert_eq!(
        shown,
        [
            (true, "cs", true),
            (true, "hook", false),
            (false, "cs", false),
            (false, "hook", false),
        ]
    );
}
