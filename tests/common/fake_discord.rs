//! A fake Discord on 127.0.0.1 for the gateway adapter's tests: a REST server (axum) that
//! records every request and answers the way Discord documents (the gateway's address, the
//! bulk command overwrite, interaction callbacks, `@original` edits and follow-ups), and a
//! gateway WebSocket (tokio-tungstenite) speaking enough of the protocol for the real
//! serenity/poise client: HELLO, IDENTIFY, READY (zlib-compressed, as serenity asks with
//! `compress: true`), heartbeat ACKs, RESUME, and the INTERACTION_CREATE dispatches a test sends.
//!
//! Waiting for what the bot did is bounded ([`WAIT`]): a test fails with what was recorded
//! instead of hanging.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The application (and its bot user).
pub const APPLICATION_ID: u64 = 1_100_000_000_000_000_001;
/// The guild the commands are registered in.
pub const GUILD_ID: u64 = 1_200_000_000_000_000_002;
/// The channel interactions come from.
pub const CHANNEL_ID: u64 = 1_300_000_000_000_000_003;
/// The bot token the fake expects in IDENTIFY and REST calls.
pub const TOKEN: &str = "fake-bot-token.for-tests-only";
/// The longest a test waits for something the bot should do.
pub const WAIT: Duration = Duration::from_secs(20);

/// One REST request the bot made.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path, like `/api/v10/interactions/1/tok/callback`.
    pub path: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The JSON body (`Null` when there was none).
    pub body: Value,
}

struct State {
    gateway_url: String,
    heartbeat_interval_ms: u64,
    requests: Mutex<Vec<Recorded>>,
    /// Frames the bot sent over the gateway (IDENTIFY, heartbeats, RESUME), in order.
    frames: Mutex<Vec<Value>>,
    /// The close codes of gateway connections the bot closed.
    closes: Mutex<Vec<u16>>,
    /// Heartbeat ACKs sent.
    acks: AtomicU64,
    /// The current connection's dispatch queue.
    dispatch: Mutex<Option<mpsc::UnboundedSender<(String, Value)>>>,
    /// Bumped on every recorded thing, for waiters.
    changed: watch::Sender<u64>,
    next_id: AtomicU64,
}

impl State {
    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// The running fake; its servers stop when it is dropped.
pub struct FakeDiscord {
    /// What `[chat.discord] api_base` points at.
    pub api_base: String,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What an interaction dispatch was sent as, to find its answers.
#[derive(Clone, Debug)]
pub struct Sent {
    pub id: u64,
    pub token: String,
}

impl Sent {
    /// The path of its first response.
    pub fn callback_path(&self) -> String {
        format!("/api/v10/interactions/{}/{}/callback", self.id, self.token)
    }

    /// The path of its original response (edited after a deferral).
    pub fn original_path(&self) -> String {
        format!(
            "/api/v10/webhooks/{APPLICATION_ID}/{}/messages/@original",
            self.token
        )
    }

    /// The path its follow-ups are posted to.
    pub fn followup_path(&self) -> String {
        format!("/api/v10/webhooks/{APPLICATION_ID}/{}", self.token)
    }
}

impl FakeDiscord {
    /// Starts the REST server and the gateway; the gateway asks for a heartbeat every
    /// `heartbeat_interval_ms`.
    pub async fn start(heartbeat_interval_ms: u64) -> FakeDiscord {
        let rest = TcpListener::bind("127.0.0.1:0").await.expect("bind rest");
        let gateway = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind gateway");
        let api_base = format!("http://{}", rest.local_addr().expect("addr"));
        let gateway_url = format!("ws://{}", gateway.local_addr().expect("addr"));
        let (changed, _) = watch::channel(0);
        let state = Arc::new(State {
            gateway_url,
            heartbeat_interval_ms,
            requests: Mutex::new(vec![]),
            frames: Mutex::new(vec![]),
            closes: Mutex::new(vec![]),
            acks: AtomicU64::new(0),
            dispatch: Mutex::new(None),
            changed,
            next_id: AtomicU64::new(1_400_000_000_000_000_000),
        });
        let app = axum::Router::new()
            .fallback(rest_handler)
            .with_state(state.clone());
        let rest_task = tokio::spawn(async move {
            axum::serve(rest, app).await.expect("rest server");
        });
        let gw_state = state.clone();
        let gateway_task = tokio::spawn(async move {
            while let Ok((stream, _)) = gateway.accept().await {
                tokio::spawn(connection(stream, gw_state.clone()));
            }
        });
        FakeDiscord {
            api_base,
            state,
            tasks: vec![rest_task, gateway_task],
        }
    }

    fn next_id(&self) -> u64 {
        self.state.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Waits until `find` finds something in the fake's records, or fails the test after
    /// [`WAIT`] showing `what` and everything recorded.
    async fn wait_for<T>(&self, what: &str, find: impl Fn(&FakeDiscord) -> Option<T>) -> T {
        let mut changes = self.state.changed.subscribe();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(found) = find(self) {
                return found;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                panic!(
                    "timed out waiting for {what}\nrequests: {:#?}\ngateway frames: {:#?}\ncloses: {:?}",
                    self.requests(),
                    self.frames(),
                    self.closes()
                );
            }
        }
    }

    /// Every REST request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// Every gateway frame the bot sent so far.
    pub fn frames(&self) -> Vec<Value> {
        self.state.frames.lock().expect("lock").clone()
    }

    /// The close codes of connections the bot closed.
    pub fn closes(&self) -> Vec<u16> {
        self.state.closes.lock().expect("lock").clone()
    }

    /// The first request with this method and path.
    pub async fn request(&self, method: &str, path: &str) -> Recorded {
        self.wait_for(&format!("{method} {path}"), |f| {
            f.requests()
                .into_iter()
                .find(|r| r.method == method && r.path == path)
        })
        .await
    }

    /// All requests with this method and path, once there are `n` of them.
    pub async fn requests_to(&self, method: &str, path: &str, n: usize) -> Vec<Recorded> {
        self.wait_for(&format!("{n} × {method} {path}"), |f| {
            let found: Vec<Recorded> = f
                .requests()
                .into_iter()
                .filter(|r| r.method == method && r.path == path)
                .collect();
            (found.len() >= n).then_some(found)
        })
        .await
    }

    /// The body of an interaction's first response.
    pub async fn callback(&self, sent: &Sent) -> Value {
        self.request("POST", &sent.callback_path()).await.body
    }

    /// The IDENTIFY payload's `d`.
    pub async fn identify(&self) -> Value {
        self.wait_for("IDENTIFY", |f| {
            f.frames()
                .into_iter()
                .find(|v| v["op"] == 2)
                .map(|v| v["d"].clone())
        })
        .await
    }

    /// Waits for a heartbeat from the bot that the gateway acknowledged.
    pub async fn heartbeat_acked(&self) {
        self.wait_for("a heartbeat ACK", |f| {
            (f.state.acks.load(Ordering::SeqCst) > 0).then_some(())
        })
        .await
    }

    /// Waits for the bot to close a gateway connection with `code` (1000: a normal closure).
    pub async fn closed_with(&self, code: u16) {
        self.wait_for(&format!("a gateway connection closed with {code}"), |f| {
            f.closes().contains(&code).then_some(())
        })
        .await
    }

    /// Sends a dispatch (`op` 0) over the current gateway connection.
    pub fn dispatch(&self, event: &str, d: Value) {
        let sender = self.state.dispatch.lock().expect("lock").clone();
        sender
            .expect("the bot has identified")
            .send((event.to_string(), d))
            .expect("gateway connection open");
    }

    /// A slash command (interaction type 2) from a member holding `roles`; `options` as Discord
    /// sends them (`[{"name": "metric", "type": 3, "value": "nrr"}]`).
    pub fn slash(&self, name: &str, options: Value, roles: &[&str]) -> Sent {
        let command_id = COMMAND_IDS
            .iter()
            .position(|n| *n == name)
            .map_or(1_500_000_000_000_000_099, |i| {
                1_500_000_000_000_000_000 + i as u64
            });
        self.interaction(
            2,
            json!({"id": command_id.to_string(), "name": name, "type": 1, "options": options, "guild_id": GUILD_ID.to_string()}),
            roles,
            None,
        )
    }

    /// An autocomplete request (interaction type 4); one option has `"focused": true`.
    pub fn autocomplete(&self, name: &str, options: Value) -> Sent {
        self.interaction(
            4,
            json!({"id": "1500000000000000001", "name": name, "type": 1, "options": options, "guild_id": GUILD_ID.to_string()}),
            &[],
            None,
        )
    }

    /// A button press (interaction type 3) on a message of the bot's, from a member holding
    /// `roles`.
    pub fn press(&self, custom_id: &str, roles: &[&str]) -> Sent {
        let message = message_json(
            self.next_id(),
            &json!({"content": "", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "Acknowledge", "custom_id": custom_id}]}]}),
        );
        self.interaction(
            3,
            json!({"custom_id": custom_id, "component_type": 2}),
            roles,
            Some(message),
        )
    }

    fn interaction(&self, kind: u8, data: Value, roles: &[&str], message: Option<Value>) -> Sent {
        let id = self.next_id();
        let token = format!("interaction-token-{id}");
        let mut d = json!({
            "id": id.to_string(),
            "application_id": APPLICATION_ID.to_string(),
            "type": kind,
            "data": data,
            "guild_id": GUILD_ID.to_string(),
            "channel_id": CHANNEL_ID.to_string(),
            "channel": {"id": CHANNEL_ID.to_string(), "type": 0, "name": "cs-team"},
            "member": {
                "user": {"id": "1600000000000000001", "username": "lea", "global_name": "Lea", "discriminator": "0", "avatar": null},
                "nick": null,
                "avatar": null,
                "roles": roles,
                "joined_at": "2024-01-01T00:00:00.000000+00:00",
                "premium_since": null,
                "deaf": false,
                "mute": false,
                "flags": 0,
                "pending": false,
                "permissions": "2147483647"
            },
            "token": token,
            "version": 1,
            "app_permissions": "2147483647",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
            "context": 0,
            "attachment_size_limit": 8_388_608
        });
        if let Some(message) = message {
            d["message"] = message;
        }
        self.dispatch("INTERACTION_CREATE", d);
        Sent { id, token }
    }
}

/// The commands' ids in the fake's answer to the bulk overwrite, by name.
const COMMAND_IDS: &[&str] = &[
    "kpi",
    "account",
    "at-risk",
    "renewals",
    "scorecard",
    "alerts",
    "snooze",
    "ack",
    "help",
];

fn bot_user() -> Value {
    json!({
        "id": APPLICATION_ID.to_string(),
        "username": "cs-pulse",
        "global_name": null,
        "discriminator": "0",
        "avatar": null,
        "bot": true,
        "verified": true,
        "mfa_enabled": true,
        "flags": 0
    })
}

/// A message object as Discord returns it, with the body's content.
fn message_json(id: u64, body: &Value) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": CHANNEL_ID.to_string(),
        "author": bot_user(),
        "content": body.get("content").cloned().unwrap_or(json!("")),
        "timestamp": "2025-06-18T18:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": body.get("flags").cloned().unwrap_or(json!(0)),
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "application_id": APPLICATION_ID.to_string(),
        "webhook_id": APPLICATION_ID.to_string()
    })
}

async fn rest_handler(
    AxumState(state): AxumState<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body_json: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| json!({"unparsed": String::from_utf8_lossy(&body)}))
    };
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let response = answer(&state, &method, &path, &body_json);
    state.requests.lock().expect("lock").push(Recorded {
        method: method.to_string(),
        path,
        authorization,
        body: body_json,
    });
    state.bump();
    response
}

/// Discord's answer to a REST request.
fn answer(state: &State, method: &Method, path: &str, body: &Value) -> Response {
    let Some(route) = path.strip_prefix("/api/v10") else {
        return not_found();
    };
    let segments: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let next_id = || state.next_id.fetch_add(1, Ordering::Relaxed);
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["gateway"]) => Json(json!({"url": state.gateway_url})).into_response(),
        ("GET", ["gateway", "bot"]) => Json(json!({
            "url": state.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        }))
        .into_response(),
        ("GET", ["users", "@me"]) => Json(bot_user()).into_response(),
        ("PUT", ["applications", app, "guilds", guild, "commands"]) => {
            let commands = body.as_array().cloned().unwrap_or_default();
            let created: Vec<Value> = commands
                .into_iter()
                .map(|mut c| {
                    let name = c["name"].as_str().unwrap_or_default().to_string();
                    let id = COMMAND_IDS
                        .iter()
                        .position(|n| *n == name)
                        .map_or(1_500_000_000_000_000_099, |i| {
                            1_500_000_000_000_000_000 + i as u64
                        });
                    c["id"] = json!(id.to_string());
                    c["application_id"] = json!(app);
                    c["guild_id"] = json!(guild);
                    c["version"] = json!("1500000000000000100");
                    c["default_member_permissions"] = json!(null);
                    if c.get("type").is_none() {
                        c["type"] = json!(1);
                    }
                    if c.get("nsfw").is_none() {
                        c["nsfw"] = json!(false);
                    }
                    c
                })
                .collect();
            Json(Value::Array(created)).into_response()
        }
        ("POST", ["interactions", _id, _token, "callback"]) => {
            StatusCode::NO_CONTENT.into_response()
        }
        ("PATCH", ["webhooks", _app, _token, "messages", "@original"]) => {
            Json(message_json(next_id(), body)).into_response()
        }
        ("DELETE", ["webhooks", _app, _token, "messages", "@original"]) => {
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", ["webhooks", _app, _token]) => Json(message_json(next_id(), body)).into_response(),
        _ => not_found(),
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "404: Not Found", "code": 0})),
    )
        .into_response()
}

/// One gateway connection: HELLO, then IDENTIFY/RESUME, heartbeats and dispatches until the bot
/// closes it.
async fn connection(stream: TcpStream, state: Arc<State>) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut out, mut incoming) = ws.split();
    let hello = json!({"op": 10, "d": {"heartbeat_interval": state.heartbeat_interval_ms}, "s": null, "t": null});
    if out.send(WsMessage::Text(hello.to_string())).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Value)>();
    let mut seq = 0u64;
    loop {
        tokio::select! {
            frame = incoming.next() => {
                let text = match frame {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Close(frame))) => {
                        let code = frame.map_or(1005, |f| u16::from(f.code));
                        state.closes.lock().expect("lock").push(code);
                        state.bump();
                        let _ = out.close().await;
                        return;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => {
                        state.closes.lock().expect("lock").push(1006);
                        state.bump();
                        return;
                    }
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
                let op = value["op"].as_u64();
                state.frames.lock().expect("lock").push(value.clone());
                state.bump();
                match op {
                    // IDENTIFY: READY, and this connection receives the dispatches.
                    Some(2) => {
                        *state.dispatch.lock().expect("lock") = Some(tx.clone());
                        seq += 1;
                        let ready = json!({
                            "v": 10,
                            "user": bot_user(),
                            "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
                            "session_id": "fake-session",
                            "resume_gateway_url": state.gateway_url,
                            "shard": [0, 1],
                            "application": {"id": APPLICATION_ID.to_string(), "flags": 0},
                            "private_channels": [],
                            "relationships": [],
                            "user_settings": {}
                        });
                        if out.send(dispatch_frame(seq, "READY", ready)).await.is_err() {
                            return;
                        }
                    }
                    // Heartbeat: ACK.
                    Some(1) => {
                        if out.send(WsMessage::Text(json!({"op": 11}).to_string())).await.is_err() {
                            return;
                        }
                        state.acks.fetch_add(1, Ordering::SeqCst);
                        state.bump();
                    }
                    // RESUME: RESUMED, and this connection receives the dispatches.
                    Some(6) => {
                        *state.dispatch.lock().expect("lock") = Some(tx.clone());
                        seq += 1;
                        if out.send(dispatch_frame(seq, "RESUMED", json!({}))).await.is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
            Some((event, d)) = rx.recv() => {
                seq += 1;
                if out.send(dispatch_frame(seq, &event, d)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A dispatch as a zlib-compressed binary frame (serenity identifies with `compress: true`).
fn dispatch_frame(seq: u64, event: &str, d: Value) -> WsMessage {
    let payload = json!({"op": 0, "s": seq, "t": event, "d": d}).to_string();
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(payload.as_bytes()).expect("compress");
    WsMessage::Binary(encoder.finish().expect("compress"))
}
