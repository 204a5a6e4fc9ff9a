//! Slack delivery end to end: the Block Kit renderer's payloads (pinned by snapshots, checked
//! against every Block Kit limit on random messages), and both sinks against local servers that
//! answer exactly as Slack documents its incoming webhooks and Web API.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use cs_pulse::notify::slack::{
    escape, limit_violations, render, Block, SlackPayload, TextObject, FIELDS_MAX, MAX_BLOCKS,
};
use cs_pulse::notify::slack_sink::{SlackBotSink, SlackWebhookSink};
use cs_pulse::notify::{Action, Field, Image, Message, Section, SendError, Sink, Tone};

const TOKEN: &str = "xoxb-test-token-0000";
/// The secret part of an incoming webhook URL.
const HOOK_PATH: &str = "/services/T000/B000/XXXXSECRETXXXX";

fn mentions() -> BTreeMap<String, String> {
    BTreeMap::from([("Ana Ruiz".to_string(), "U0123ABCD".to_string())])
}

/// An at-risk alert about an account whose name is hostile markup.
fn alert() -> Message {
    Message {
        title: "At risk: <script> & Co.".to_string(),
        tone: Tone::Critical,
        sections: vec![
            Section {
                heading: None,
                lines: vec![
                    "<script> & Co. dropped to health 41 (red) @channel".to_string(),
                    "Renewal in 24 days\n$12,000.00 ARR".to_string(),
                ],
                fields: vec![],
            },
            Section {
                heading: Some("Signals".to_string()),
                lines: vec![],
                fields: vec![
                    Field {
                        label: "MRR".to_string(),
                        value: "$1,000.00 (-20%)".to_string(),
                    },
                    Field {
                        label: "NPS".to_string(),
                        value: "-20".to_string(),
                    },
                ],
            },
        ],
        footer: "rule health_drop · data as of 2024-05-01".to_string(),
        mentions: vec!["Ana Ruiz".to_string(), "Bob <Ops>".to_string()],
        image: None,
        actions: Action::for_alert("health_drop", "acc_0042", Some("acc_0042")),
    }
}

/// The actions block of [`alert`], exactly as Block Kit documents buttons.
fn alert_buttons() -> Value {
    json!({
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Acknowledge", "emoji": true},
                "action_id": "cs:ack:health_drop:acc_0042",
                "value": "health_drop:acc_0042",
                "style": "primary"
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Snooze 7 days", "emoji": true},
                "action_id": "cs:snooze:health_drop:acc_0042",
                "value": "health_drop:acc_0042"
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open account", "emoji": true},
                "action_id": "cs:open:acc_0042",
                "value": "acc_0042"
            }
        ]
    })
}

/// Whether a posted body (or payload) has an actions block.
fn has_buttons(body: &Value) -> bool {
    body["blocks"]
        .as_array()
        .is_some_and(|b| b.iter().any(|b| b["type"] == "actions"))
}

fn with_image() -> Message {
    Message {
        title: "Weekly scorecard".to_string(),
        tone: Tone::Good,
        sections: vec![Section {
            heading: Some("KPIs".to_string()),
            lines: vec!["NRR 104% (target 100%)".to_string()],
            fields: vec![],
        }],
        footer: "week 2024-W18".to_string(),
        mentions: vec![],
        image: Some(Image {
            filename: "scorecard.png".to_string(),
            alt: "NRR over 12 weeks, rising from 98% to 104%".to_string(),
            png: vec![0x89, b'P', b'N', b'G'],
        }),
        actions: vec![],
    }
}

/// 300 lines of 100 characters and 40 fields.
fn huge() -> Message {
    let lines = (0..300)
        .map(|i| format!("{i:03} {}", "x".repeat(96)))
        .collect();
    let fields = (0..40)
        .map(|i| Field {
            label: format!("KPI {i}"),
            value: format!("{i}.0%"),
        })
        .collect();
    Message {
        title: "Portfolio review".to_string(),
        sections: vec![Section {
            heading: Some("Accounts".to_string()),
            lines,
            fields,
        }],
        footer: "generated".to_string(),
        actions: Action::for_alert("portfolio_review", "portfolio", None),
        ..Message::default()
    }
}

fn section_texts(payloads: &[SlackPayload]) -> Vec<String> {
    payloads
        .iter()
        .flat_map(|p| &p.blocks)
        .filter_map(|b| match b {
            Block::Section {
                text: Some(text), ..
            } => Some(text.text().to_string()),
            _ => None,
        })
        .collect()
}

fn field_texts(payloads: &[SlackPayload]) -> Vec<String> {
    payloads
        .iter()
        .flat_map(|p| &p.blocks)
        .flat_map(|b| match b {
            Block::Section { fields, .. } => fields.iter().map(|f| f.text().to_string()).collect(),
            _ => vec![],
        })
        .collect()
}

/// `**bold**` as Slack writes it.
fn slack_bold(line: &str) -> String {
    cs_pulse::notify::text::bold_runs(line)
        .into_iter()
        .map(|(bold, t)| {
            if bold {
                format!("*{t}*")
            } else {
                t.to_string()
            }
        })
        .collect()
}

/// Every line of `message`, as rendered, appears in the payloads' section texts, in order.
fn assert_no_line_lost(message: &Message, payloads: &[SlackPayload]) {
    let all = section_texts(payloads).join("\n");
    let mut from = 0;
    for section in &message.sections {
        for line in &section.lines {
            let rendered = format!("• {}", escape(&slack_bold(line)).replace('\n', "\n   "));
            let rendered = if rendered.trim() == "•" {
                "• —".to_string()
            } else {
                rendered
            };
            let at = all[from..]
                .find(&rendered)
                .unwrap_or_else(|| panic!("line {line:?} missing after byte {from}"));
            from += at + rendered.len();
        }
    }
}

fn json_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", request.url.path()))
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

// ---------------------------------------------------------------- the renderer

#[test]
fn renders_an_alert() {
    let payloads = render(&alert(), &mentions());
    assert_eq!(payloads.len(), 1);
    assert!(limit_violations(&payloads[0]).is_empty());
    // The buttons come last, under everything they act on.
    let blocks = serde_json::to_value(&payloads[0].blocks).expect("JSON");
    assert_eq!(
        blocks.as_array().and_then(|b| b.last()),
        Some(&alert_buttons())
    );
    insta::assert_json_snapshot!("alert_payload", payloads);
}

#[test]
fn escapes_hostile_account_names_and_broadcasts() {
    let payloads = render(&alert(), &mentions());
    let json = serde_json::to_string(&payloads).unwrap_or_default();
    // Serialized JSON escapes nothing of `& < >`; what Slack receives is the entity.
    assert!(json.contains("&lt;script&gt; &amp; Co. dropped"), "{json}");
    // No mrkdwn text has a raw `<`: only the header (plain text, which Slack never parses for
    // links or mentions) shows the name as written.
    let mrkdwn: Vec<&str> = payloads[0]
        .blocks
        .iter()
        .flat_map(|b| match b {
            Block::Section { text, fields } => text.iter().chain(fields).collect::<Vec<_>>(),
            Block::Context { elements } => elements.iter().collect(),
            Block::Header { .. } | Block::Actions { .. } => vec![],
        })
        .map(TextObject::text)
        .collect();
    assert_eq!(mrkdwn.len(), 6);
    for t in mrkdwn {
        assert!(!t.contains("<script") && !t.contains("<!"), "{t}");
    }
    // Only the mapped owner is a mention; the other is a name, escaped.
    assert!(json.contains("<@U0123ABCD>, Bob &lt;Ops&gt;"), "{json}");
    assert!(json.contains("@\u{2060}channel"), "{json}");
    assert!(!json.contains("@channel"), "{json}");
    // The fallback text is escaped too (Slack reads it as mrkdwn).
    assert_eq!(payloads[0].text, "At risk: &lt;script&gt; &amp; Co.");
    // The header is plain text: nothing to escape there, Slack shows it as is.
    assert!(matches!(
        &payloads[0].blocks[0],
        Block::Header { text: TextObject::PlainText { text, .. } } if text == "At risk: <script> & Co."
    ));
}

#[test]
fn an_image_is_its_alt_text_in_a_context_line() {
    let payloads = render(&with_image(), &BTreeMap::new());
    insta::assert_json_snapshot!("image_payload", payloads);
}

#[test]
fn splits_a_huge_message_within_every_limit() {
    let message = huge();
    let payloads = render(&message, &BTreeMap::new());
    assert!(payloads.len() >= 2, "{} payloads", payloads.len());
    for (i, p) in payloads.iter().enumerate() {
        assert_eq!(limit_violations(p), Vec::<String>::new(), "payload {i}");
        assert!(p.blocks.len() <= MAX_BLOCKS);
    }
    assert_no_line_lost(&message, &payloads);
    // The buttons: once, as the very last block.
    for (i, p) in payloads.iter().enumerate() {
        let last = i + 1 == payloads.len();
        let at: Vec<usize> = (p.blocks.iter().enumerate())
            .filter(|(_, b)| matches!(b, Block::Actions { .. }))
            .map(|(j, _)| j)
            .collect();
        assert_eq!(
            at,
            if last {
                vec![p.blocks.len() - 1]
            } else {
                vec![]
            }
        );
    }
    let fields = field_texts(&payloads);
    assert_eq!(fields.len(), 40);
    for (i, f) in fields.iter().enumerate() {
        assert_eq!(f, &format!("*KPI {i}*\n{i}.0%"));
    }
    // 30,000 characters of lines need at least 11 sections of 3,000.
    assert!(section_texts(&payloads).len() >= 11);
    // One header, in the first payload; the others say they continue.
    assert!(matches!(payloads[0].blocks[0], Block::Header { .. }));
    assert_eq!(
        payloads[0].text,
        format!("Portfolio review (1/{})", payloads.len())
    );
    assert_eq!(
        payloads[1].text,
        format!("Portfolio review (continued, 2/{})", payloads.len())
    );
}

#[test]
fn a_line_longer_than_a_section_is_cut_with_the_marker() {
    let message = Message {
        title: "t".repeat(400),
        sections: vec![Section {
            heading: None,
            lines: vec!["&".repeat(5000)],
            fields: vec![Field {
                label: "L".to_string(),
                value: "<".repeat(3000),
            }],
        }],
        footer: "f".repeat(4000),
        ..Message::default()
    };
    let payloads = render(&message, &BTreeMap::new());
    for p in &payloads {
        assert_eq!(limit_violations(p), Vec::<String>::new());
    }
    let texts = section_texts(&payloads);
    assert!(
        texts[0].ends_with("&amp;…"),
        "{}",
        &texts[0][texts[0].len() - 20..]
    );
    assert!(field_texts(&payloads)[0].ends_with("&lt;…"));
    assert!(matches!(
        &payloads[0].blocks[0],
        Block::Header { text } if text.text().chars().count() == 150 && text.text().ends_with('…')
    ));
}

#[test]
fn a_long_owner_list_continues_without_cutting_a_mention() {
    let names: Vec<String> = (0..400).map(|i| format!("Owner {i:03} <x>")).collect();
    let ids: BTreeMap<String, String> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, n)| (n.clone(), format!("U{i:08}")))
        .collect();
    let message = Message {
        title: "Owners".to_string(),
        mentions: names.clone(),
        ..Message::default()
    };
    let payloads = render(&message, &ids);
    let texts = section_texts(&payloads);
    assert!(texts.len() >= 2);
    for p in &payloads {
        assert_eq!(limit_violations(p), Vec::<String>::new());
    }
    let shown: Vec<&str> = texts
        .iter()
        .flat_map(|t| t.trim_start_matches("*Owners:* ").split(", "))
        .collect();
    let expected: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if i % 2 == 0 {
                format!("<@U{i:08}>")
            } else {
                escape(n)
            }
        })
        .collect();
    assert_eq!(shown, expected);
}

#[test]
fn an_empty_message_still_has_a_fallback_text() {
    let payloads = render(&Message::default(), &BTreeMap::new());
    assert_eq!(payloads.len(), 1);
    assert_eq!(payloads[0].text, "cs-pulse");
    assert!(limit_violations(&payloads[0]).is_empty());
}

fn text_strategy(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('&'),
            Just('<'),
            Just('>'),
            Just('@'),
            Just('\n'),
            Just('é'),
            Just('*'),
            proptest::char::range('a', 'z'),
            Just(' '),
        ],
        0..max,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn word_strategy(max: usize) -> impl Strategy<Value = String> {
    "[a-z&<>é]{1,8}"
        .prop_flat_map(move |w| Just(w.repeat(max / 8)))
        .boxed()
}

fn section_strategy() -> impl Strategy<Value = Section> {
    (
        proptest::option::of(text_strategy(60)),
        proptest::collection::vec(text_strategy(200), 0..30),
        proptest::collection::vec(
            (word_strategy(100), word_strategy(900))
                .prop_map(|(label, value)| Field { label, value }),
            0..25,
        ),
    )
        .prop_map(|(heading, lines, fields)| Section {
            heading,
            lines,
            fields,
        })
}

fn message_strategy() -> impl Strategy<Value = Message> {
    (
        text_strategy(300),
        proptest::collection::vec(section_strategy(), 0..6),
        text_strategy(200),
        proptest::collection::vec("[A-Za-z <>&]{1,20}", 0..5),
        proptest::option::of(text_strategy(200)),
        any::<bool>(),
    )
        .prop_map(
            |(title, sections, footer, mentions, alt, buttons)| Message {
                title,
                tone: Tone::Info,
                sections,
                footer,
                mentions,
                image: alt.map(|alt| Image {
                    filename: "chart.png".to_string(),
                    alt,
                    png: vec![1, 2, 3],
                }),
                actions: if buttons {
                    Action::for_alert("rule", "acc:<&>", Some("acc:<&>"))
                } else {
                    vec![]
                },
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_messages_respect_every_limit_and_lose_no_line(message in message_strategy()) {
        let payloads = render(&message, &mentions());
        prop_assert!(!payloads.is_empty());
        for p in &payloads {
            prop_assert_eq!(limit_violations(p), Vec::<String>::new());
            for b in &p.blocks {
                if let Block::Section { fields, .. } = b {
                    prop_assert!(fields.len() <= FIELDS_MAX);
                }
            }
            let json = serde_json::to_string(p).unwrap_or_default();
            prop_assert!(!json.contains("@channel"));
        }
        assert_no_line_lost(&message, &payloads);
        let fields: usize = message.sections.iter().map(|s| s.fields.len()).sum();
        prop_assert_eq!(field_texts(&payloads).len(), fields);
    }
}

// ---------------------------------------------------------------- the incoming webhook

async fn hook_server(status: u16, body: &str, retry_after: Option<&str>) -> MockServer {
    let server = MockServer::start().await;
    let mut template = ResponseTemplate::new(status)
        .insert_header("content-type", "text/html")
        .set_body_string(body);
    if let Some(wait) = retry_after {
        template = template.insert_header("retry-after", wait);
    }
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn hook_sink(server: &MockServer) -> SlackWebhookSink {
    SlackWebhookSink::new(
        &format!("{}{HOOK_PATH}", server.uri()),
        mentions(),
        "test webhook",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn webhook_posts_the_payload_and_answers_the_outbox_key() {
    let server = hook_server(200, "ok", None).await;
    let sink = hook_sink(&server);
    assert!(!sink.can_edit());
    let ids = sink.post(&alert(), "k-0001").await;
    assert_eq!(ids, Ok(vec!["k-0001".to_string()]));
    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    assert_eq!(header(&got[0], "content-type"), "application/json");
    // An incoming webhook is no app that answers presses: no buttons.
    assert!(!has_buttons(&json_of(&got[0])));
    insta::assert_json_snapshot!("webhook_request", json_of(&got[0]));
    let edit = sink.edit(&["k-0001".to_string()], &alert()).await;
    assert!(matches!(edit, Err(SendError::Permanent(_))));
}

#[tokio::test]
async fn webhook_posts_a_split_message_in_order() {
    let server = hook_server(200, "ok", None).await;
    let ids = hook_sink(&server).post(&huge(), "k-big").await;
    let got = requests(&server).await;
    let bodies: Vec<Value> = got.iter().map(json_of).collect();
    assert!(bodies.len() >= 2);
    let expected: Vec<String> = (0..bodies.len())
        .map(|i| {
            if i == 0 {
                "k-big".to_string()
            } else {
                format!("k-big#{}", i + 1)
            }
        })
        .collect();
    assert_eq!(ids, Ok(expected));
    assert_eq!(bodies[0]["blocks"][0]["type"], "header");
    assert!(bodies[1]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("continued, 2/"));
}

#[tokio::test]
async fn webhook_errors_are_classified_as_slack_documents_them() {
    let cases: [(u16, &str, Option<&str>); 6] = [
        (400, "invalid_payload", None),
        (403, "action_prohibited", None),
        (404, "channel_not_found", None),
        (410, "channel_is_archived", None),
        (429, "rate_limited", Some("7")),
        (500, "rollup_error", None),
    ];
    for (status, code, retry) in cases {
        let server = hook_server(status, code, retry).await;
        let err = match hook_sink(&server).post(&alert(), "k").await {
            Err(e) => e,
            Ok(ids) => panic!("{status}: delivered {ids:?}"),
        };
        match status {
            429 => assert_eq!(
                err,
                SendError::RateLimited {
                    retry_after: Duration::from_secs(7)
                }
            ),
            500 => assert!(matches!(&err, SendError::Transient(m) if m.contains("rollup_error"))),
            _ => assert!(
                matches!(&err, SendError::Permanent(m) if m.contains(code) && m.contains(&status.to_string())),
                "{status}: {err:?}"
            ),
        }
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}

#[tokio::test]
async fn webhook_connection_failures_are_transient_and_hide_the_url() {
    // A port nothing listens on (a stopped wiremock server goes back to its pool, still up).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://127.0.0.1:{port}{HOOK_PATH}");
    let sink = SlackWebhookSink::new(&url, BTreeMap::new(), "test webhook")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = sink.post(&alert(), "k").await;
    assert!(
        matches!(&err, Err(SendError::Transient(m)) if !m.contains("SECRET")),
        "{err:?}"
    );
    let bad = SlackWebhookSink::new("hooks.slack.com/services/SECRET", BTreeMap::new(), "URL");
    assert!(bad.is_err_and(|e| !e.to_string().contains("SECRET")));
}

// ---------------------------------------------------------------- the bot (Web API)

fn posted(channel: &str, ts: &str) -> Value {
    // chat.postMessage's documented answer.
    json!({
        "ok": true,
        "channel": channel,
        "ts": ts,
        "message": {
            "text": "At risk",
            "username": "cs-pulse",
            "bot_id": "B123ABC456",
            "type": "message",
            "subtype": "bot_message",
            "ts": ts
        }
    })
}

/// The bot of a configuration with `[chat.slack]`: its messages show their buttons.
fn bot_sink(server: &MockServer) -> SlackBotSink {
    SlackBotSink::new(
        TOKEN.to_string(),
        "C024BE91L",
        Some(&format!("{}/api/", server.uri())),
        mentions(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .with_buttons(true)
}

#[tokio::test]
async fn without_chat_commands_the_bot_shows_no_buttons() {
    let server = MockServer::start().await;
    api_answer(
        &server,
        "chat.postMessage",
        ResponseTemplate::new(200).set_body_json(posted("C024BE91L", "1503435956.000248")),
    )
    .await;
    let sink = SlackBotSink::new(
        TOKEN.to_string(),
        "C024BE91L",
        Some(&format!("{}/api/", server.uri())),
        mentions(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    sink.post(&alert(), "k-nobuttons").await.expect("posted");
    let got = requests(&server).await;
    assert!(!has_buttons(&json_of(&got[0])));
}

async fn api_answer(server: &MockServer, api_method: &str, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/api/{api_method}")))
        .respond_with(template)
        .mount(server)
        .await;
}

#[tokio::test]
async fn bot_posts_with_chat_post_message_and_edits_with_chat_update() {
    let server = MockServer::start().await;
    api_answer(
        &server,
        "chat.postMessage",
        ResponseTemplate::new(200).set_body_json(posted("C024BE91L", "1503435956.000247")),
    )
    .await;
    api_answer(
        &server,
        "chat.update",
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channel": "C024BE91L",
            "ts": "1503435956.000247",
            "text": "Resolved",
            "message": {"text": "Resolved", "user": "U34567890"}
        })),
    )
    .await;
    let sink = bot_sink(&server);
    assert!(sink.can_edit());
    let ids = sink.post(&alert(), "k-0002").await;
    assert_eq!(ids, Ok(vec!["C024BE91L:1503435956.000247".to_string()]));

    let mut resolved = alert();
    resolved.title = "Resolved: <script> & Co.".to_string();
    resolved.tone = Tone::Good;
    // A resolved alert has no buttons (outbox::mark_resolved drops them).
    resolved.actions.clear();
    let edit = sink
        .edit(&["C024BE91L:1503435956.000247".to_string()], &resolved)
        .await;
    assert_eq!(edit, Ok(()));

    let got = requests(&server).await;
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(header(r, "authorization"), format!("Bearer {TOKEN}"));
        assert_eq!(header(r, "content-type"), "application/json; charset=utf-8");
    }
    assert_eq!(got[0].url.path(), "/api/chat.postMessage");
    assert!(has_buttons(&json_of(&got[0])));
    insta::assert_json_snapshot!("bot_post_message_request", json_of(&got[0]));
    assert_eq!(got[1].url.path(), "/api/chat.update");
    // The update replaces every block: the buttons are gone.
    assert!(!has_buttons(&json_of(&got[1])));
    insta::assert_json_snapshot!("bot_chat_update_request", json_of(&got[1]));
}

#[tokio::test]
async fn bot_posts_each_part_and_edits_each_part() {
    let server = MockServer::start().await;
    for i in 0..10 {
        let ts = format!("1.{:06}", i + 1);
        Mock::given(method("POST"))
            .and(path("/api/chat.postMessage"))
            .respond_with(ResponseTemplate::new(200).set_body_json(posted("C024BE91L", &ts)))
            .up_to_n_times(1)
            .with_priority(u8::try_from(i + 1).unwrap_or(u8::MAX))
            .mount(&server)
            .await;
    }
    api_answer(
        &server,
        "chat.update",
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": true, "channel": "C024BE91L", "ts": "1.000001"})),
    )
    .await;
    let sink = bot_sink(&server);
    let ids = sink
        .post(&huge(), "k")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let parts = render(&huge(), &BTreeMap::new()).len();
    assert_eq!(ids.len(), parts);
    assert_eq!(ids[0], "C024BE91L:1.000001");
    assert_eq!(ids[1], "C024BE91L:1.000002");

    // Resolved into one short message: the first part takes it, the others become a note.
    assert_eq!(sink.edit(&ids, &alert()).await, Ok(()));
    let updates: Vec<Value> = requests(&server)
        .await
        .iter()
        .filter(|r| r.url.path() == "/api/chat.update")
        .map(json_of)
        .collect();
    assert_eq!(updates.len(), parts);
    assert_eq!(updates[0]["ts"], "1.000001");
    assert_eq!(updates[0]["text"], "At risk: &lt;script&gt; &amp; Co.");
    assert_eq!(updates[1]["ts"], "1.000002");
    assert_eq!(updates[1]["text"], "(merged into the message above)");
    assert!(updates[1]["blocks"].is_array());
}

#[tokio::test]
async fn bot_errors_are_classified_and_never_show_the_token() {
    let cases = [
        ("channel_not_found", "permanent"),
        ("not_in_channel", "permanent"),
        ("invalid_auth", "permanent"),
        ("invalid_blocks", "permanent"),
        ("msg_too_long", "permanent"),
        ("internal_error", "transient"),
        ("fatal_error", "transient"),
        ("service_unavailable", "transient"),
        ("request_timeout", "transient"),
        ("ratelimited", "rate"),
    ];
    for (code, kind) in cases {
        let server = MockServer::start().await;
        api_answer(
            &server,
            "chat.postMessage",
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": code})),
        )
        .await;
        let err = match bot_sink(&server).post(&alert(), "k").await {
            Err(e) => e,
            Ok(ids) => panic!("{code}: {ids:?}"),
        };
        match kind {
            "permanent" => assert_eq!(
                err,
                SendError::Permanent(format!("Slack API chat.postMessage failed: {code}"))
            ),
            "transient" => assert!(matches!(&err, SendError::Transient(m) if m.contains(code))),
            _ => assert!(matches!(err, SendError::RateLimited { .. })),
        }
        assert!(!err.to_string().contains(TOKEN));
    }
}

#[tokio::test]
async fn bot_honours_http_429_with_retry_after() {
    let server = MockServer::start().await;
    api_answer(
        &server,
        "chat.postMessage",
        ResponseTemplate::new(429)
            .insert_header("retry-after", "30")
            .set_body_json(json!({"ok": false, "error": "ratelimited"})),
    )
    .await;
    let err = bot_sink(&server).post(&alert(), "k").await;
    assert_eq!(
        err,
        Err(SendError::RateLimited {
            retry_after: Duration::from_secs(30)
        })
    );
}

#[tokio::test]
async fn bot_5xx_and_odd_answers_are_transient() {
    let server = MockServer::start().await;
    api_answer(
        &server,
        "chat.postMessage",
        ResponseTemplate::new(503).set_body_string("upstream connect error"),
    )
    .await;
    let err = bot_sink(&server).post(&alert(), "k").await;
    assert!(
        matches!(&err, Err(SendError::Transient(m)) if m.contains("503")),
        "{err:?}"
    );

    let server = MockServer::start().await;
    api_answer(
        &server,
        "chat.postMessage",
        ResponseTemplate::new(200).set_body_string("<html>proxy</html>"),
    )
    .await;
    let err = bot_sink(&server).post(&alert(), "k").await;
    assert!(matches!(err, Err(SendError::Transient(_))), "{err:?}");
}

#[tokio::test]
async fn bot_rejects_ids_that_are_not_its_own() {
    let server = MockServer::start().await;
    let err = bot_sink(&server)
        .edit(&["k-0001".to_string()], &alert())
        .await;
    assert!(matches!(err, Err(SendError::Permanent(_))));
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn bot_uploads_the_image_with_the_external_upload_flow() {
    let server = MockServer::start().await;
    api_answer(
        &server,
        "chat.postMessage",
        ResponseTemplate::new(200).set_body_json(posted("C024BE91L", "1503435956.000300")),
    )
    .await;
    api_answer(
        &server,
        "files.getUploadURLExternal",
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "upload_url": format!("{}/upload/v1/CwABAAAAXAoAAVnX", server.uri()),
            "file_id": "F123ABC456"
        })),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/upload/v1/CwABAAAAXAoAAVnX"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK - 4"))
        .mount(&server)
        .await;
    api_answer(
        &server,
        "files.completeUploadExternal",
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "files": [{"id": "F123ABC456", "title": "NRR over 12 weeks"}]
        })),
    )
    .await;
    let ids = bot_sink(&server).post(&with_image(), "k").await;
    assert_eq!(ids, Ok(vec!["C024BE91L:1503435956.000300".to_string()]));

    let got = requests(&server).await;
    let paths: Vec<&str> = got.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/files.getUploadURLExternal",
            "/upload/v1/CwABAAAAXAoAAVnX",
            "/api/files.completeUploadExternal"
        ]
    );
    assert_eq!(
        header(&got[1], "content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        String::from_utf8_lossy(&got[1].body),
        "filename=scorecard.png&length=4&alt_txt=NRR+over+12+weeks%2C+rising+from+98%25+to+104%25"
    );
    assert_eq!(got[2].body, vec![0x89, b'P', b'N', b'G']);
    assert_eq!(
        header(&got[2], "authorization"),
        "",
        "the token stays with the API"
    );
    insta::assert_json_snapshot!("bot_complete_upload_request", json_of(&got[3]));
}

#[tokio::test]
async fn a_failed_upload_does_not_fail_the_posted_message() {
    let server = MockServer::start().await;
    api_answer(
        &server,
        "chat.postMessage",
        ResponseTemplate::new(200).set_body_json(posted("C024BE91L", "1.1")),
    )
    .await;
    api_answer(
        &server,
        "files.getUploadURLExternal",
        ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "missing_scope"})),
    )
    .await;
    let ids = bot_sink(&server).post(&with_image(), "k").await;
    assert_eq!(ids, Ok(vec!["C024BE91L:1.1".to_string()]));
}

#[test]
fn template_bold_becomes_slack_bold() {
    let message = Message {
        title: "Health is red".into(),
        sections: vec![Section {
            heading: None,
            lines: vec!["**Acme <1>** (owner A*B): health 12".into()],
            fields: vec![],
        }],
        ..Message::default()
    };
    let texts = section_texts(&render(&message, &BTreeMap::new()));
    assert_eq!(texts, ["• *Acme &lt;1&gt;* (owner A*B): health 12"]);
}
