//! The generic JSON webhook against a local receiver: the exact body and headers (pinned by a
//! snapshot), the HMAC signature checked here independently of the crate's own verifier, and
//! the classification of every kind of answer.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use cs_pulse::config::{Secret, WebhookSettings, WebhookUrl};
use cs_pulse::notify::webhook::{verify_signature, SetupError, SignatureError, WebhookSink};
use cs_pulse::notify::{Action, Field, Image, Message, Section, SendError, Sink, Tone};

const NOW: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z
const SECRET: &str = "whsec_test_0123456789";

fn fixed_clock() -> i64 {
    NOW
}

fn alert() -> Message {
    Message {
        title: "At risk: <script> & Co.".to_string(),
        tone: Tone::Critical,
        sections: vec![Section {
            heading: Some("Signals".to_string()),
            lines: vec!["Health fell to 41 (red)".to_string()],
            fields: vec![Field {
                label: "MRR".to_string(),
                value: "$1,000.00".to_string(),
            }],
        }],
        footer: "rule health_drop".to_string(),
        mentions: vec!["Ana Ruiz".to_string()],
        image: Some(Image {
            filename: "trend.png".to_string(),
            alt: "health over 8 weeks".to_string(),
            png: vec![0x89, b'P', b'N', b'G'],
        }),
        actions: Action::for_alert("health_drop", "acc_0042", Some("acc_0042")),
    }
}

async fn receiver(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/cs"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn sink(server: &MockServer, secret: Option<&str>) -> WebhookSink {
    WebhookSink::new(
        &format!("{}/hooks/cs", server.uri()),
        secret.map(str::to_string),
        "test webhook URL",
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .with_clock(fixed_clock)
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

async fn only_request(server: &MockServer) -> Request {
    let mut got = server.received_requests().await.unwrap_or_default();
    assert_eq!(got.len(), 1);
    got.remove(0)
}

#[tokio::test]
async fn posts_the_neutral_message_signed() {
    let server = receiver(ResponseTemplate::new(204)).await;
    let webhook = sink(&server, Some(SECRET));
    assert!(!webhook.can_edit());
    assert_eq!(
        webhook.post(&alert(), "k-0007").await,
        Ok(vec!["k-0007".to_string()])
    );
    let request = only_request(&server).await;
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert_eq!(
        header(&request, "user-agent"),
        Some(concat!("cs-pulse/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(header(&request, "x-cs-pulse-delivery"), Some("k-0007"));
    assert_eq!(header(&request, "x-cs-pulse-timestamp"), Some("1714557600"));

    // The signature, computed here from the raw body with hmac + sha2 directly.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    mac.update(format!("{NOW}.").as_bytes());
    mac.update(&request.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let signature = header(&request, "x-cs-pulse-signature").unwrap_or_default();
    assert_eq!(signature, expected);

    // And the crate's verifier, as a receiver would use it.
    assert_eq!(
        verify_signature(
            SECRET.as_bytes(),
            "1714557600",
            &request.body,
            signature,
            NOW + 5,
            300
        ),
        Ok(())
    );
    let mut tampered = request.body.clone();
    tampered.push(b' ');
    assert_eq!(
        verify_signature(
            SECRET.as_bytes(),
            "1714557600",
            &tampered,
            signature,
            NOW,
            300
        ),
        Err(SignatureError::Mismatch)
    );
    assert!(matches!(
        verify_signature(
            SECRET.as_bytes(),
            "1714557600",
            &request.body,
            signature,
            NOW + 3600,
            300
        ),
        Err(SignatureError::Stale { .. })
    ));

    let body: Value = serde_json::from_slice(&request.body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body["text"], alert().to_text());
    // The buttons travel as data, for a receiver that offers its own way to act.
    assert_eq!(
        body["message"]["actions"],
        json!([
            {"kind": "ack", "target": "health_drop:acc_0042"},
            {"kind": "snooze", "target": "health_drop:acc_0042"},
            {"kind": "open", "target": "acc_0042"},
        ])
    );
    insta::assert_json_snapshot!("webhook_body", body);
}

#[tokio::test]
async fn without_a_secret_nothing_is_signed() {
    let server = receiver(ResponseTemplate::new(200).set_body_string("accepted")).await;
    assert_eq!(
        sink(&server, None).post(&alert(), "k-1").await,
        Ok(vec!["k-1".to_string()])
    );
    let request = only_request(&server).await;
    assert_eq!(header(&request, "x-cs-pulse-delivery"), Some("k-1"));
    assert_eq!(header(&request, "x-cs-pulse-timestamp"), None);
    assert_eq!(header(&request, "x-cs-pulse-signature"), None);
}

#[tokio::test]
async fn rate_limits_wait_as_told() {
    let cases = [
        (Some("12"), Duration::from_secs(12)),
        // An HTTP date 90 s after the fixed clock.
        (
            Some("Wed, 01 May 2024 10:01:30 GMT"),
            Duration::from_secs(90),
        ),
        (None, Duration::from_secs(1)),
    ];
    for (retry_after, wait) in cases {
        let mut template = ResponseTemplate::new(429);
        if let Some(v) = retry_after {
            template = template.insert_header("retry-after", v);
        }
        let server = receiver(template).await;
        assert_eq!(
            sink(&server, None).post(&alert(), "k").await,
            Err(SendError::RateLimited { retry_after: wait }),
            "{retry_after:?}"
        );
    }
}

#[tokio::test]
async fn server_errors_are_transient_and_client_errors_permanent() {
    for status in [500, 502, 503, 408] {
        let server = receiver(ResponseTemplate::new(status).set_body_string("try later")).await;
        let err = sink(&server, None).post(&alert(), "k").await;
        assert!(
            matches!(&err, Err(SendError::Transient(m)) if m.contains(&status.to_string())),
            "{status}: {err:?}"
        );
    }
    let long = format!(
        "{{\"error\": \"unknown hook\",\n \"detail\": \"{}\"}}",
        "x".repeat(500)
    );
    for status in [400, 401, 403, 404, 410, 413] {
        let server = receiver(ResponseTemplate::new(status).set_body_string(long.clone())).await;
        let err = match sink(&server, None).post(&alert(), "k").await {
            Err(SendError::Permanent(m)) => m,
            other => panic!("{status}: {other:?}"),
        };
        assert!(
            err.starts_with(&format!("webhook answered {status} ")),
            "{err}"
        );
        assert!(
            err.contains("{\"error\": \"unknown hook\", \"detail\""),
            "{err}"
        );
        assert!(err.chars().count() < 300, "a short excerpt: {err}");
        assert!(!err.contains("/hooks/cs"), "{err}");
    }
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_transient_without_the_url() {
    let server = receiver(ResponseTemplate::new(200).set_delay(Duration::from_millis(1500))).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = sink(&server, None)
        .with_client(client)
        .post(&alert(), "k")
        .await;
    assert!(
        matches!(&err, Err(SendError::Transient(m)) if !m.contains("/hooks/cs")),
        "{err:?}"
    );

    // A port nothing listens on (a stopped wiremock server goes back to its pool, still up).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://127.0.0.1:{port}/hooks/secret-path");
    let err = WebhookSink::new(&url, None, "URL")
        .unwrap_or_else(|e| panic!("{e}"))
        .post(&alert(), "k")
        .await;
    assert!(
        matches!(&err, Err(SendError::Transient(m)) if !m.contains("secret-path")),
        "{err:?}"
    );
}

#[test]
fn settings_name_what_is_missing_and_never_the_url() {
    let settings = WebhookSettings {
        url: WebhookUrl::Secret(Secret::from_env_var("CS_PULSE_TEST_WEBHOOK_URL_UNSET")),
        signing_secret: None,
    };
    let err = WebhookSink::from_settings(&settings, "ops").unwrap_err();
    assert!(matches!(err, SetupError::MissingSecret(_)));
    assert!(
        err.to_string().contains("CS_PULSE_TEST_WEBHOOK_URL_UNSET"),
        "{err}"
    );

    let settings = WebhookSettings {
        url: WebhookUrl::Plain("not a url/secret-token".to_string()),
        signing_secret: None,
    };
    let err = WebhookSink::from_settings(&settings, "ops").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the webhook URL of channel `ops` is not a valid http(s) URL"
    );
}
