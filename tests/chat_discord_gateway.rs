//! The Discord gateway adapter end to end: the real serenity/poise client of
//! `chat::discord::gateway::run_with` connects to a fake Discord on 127.0.0.1
//! (`common::fake_discord`), registers the commands in the guild, and answers slash commands,
//! autocomplete and button presses from the demo desk. The exact callback payloads are pinned.
//!
//! Each test builds the demo workspace once (it runs the binary) and runs its scenarios in order,
//! since acknowledging changes what later answers say.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use cs_pulse::chat::answers::alerts::firing;
use cs_pulse::chat::discord::gateway::{run_with, Settings};
use cs_pulse::chat::{ParamKind, COMMANDS};
use cs_pulse::config::{Access, Audience, DiscordChat, DiscordMode, Secret};
use cs_pulse::scheduler::Clock;
use cs_pulse::store::AlertStore;

use common::chat::{demo_desk, demo_now};
use common::fake_discord::{FakeDiscord, APPLICATION_ID, GUILD_ID, TOKEN, WAIT};

/// The role allowed to see revenue figures.
const REVENUE_ROLE: &str = "1700000000000000001";
/// A role that grants nothing.
const OTHER_ROLE: &str = "1700000000000000002";
/// The variable the bot token is read from.
const TOKEN_VAR: &str = "CS_PULSE_TEST_GATEWAY_DISCORD_TOKEN";

/// The demo's "now", whatever the wall clock says.
struct DemoClock(DateTime<Utc>);

impl Clock for DemoClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A bot connected to the fake, and how to stop it.
struct Bot {
    fake: FakeDiscord,
    desk: Arc<cs_pulse::chat::Desk>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

/// The demo desk answering through the gateway of a fake Discord (heartbeats every
/// `heartbeat_ms`), revenue for [`REVENUE_ROLE`] only, answers deferred after `defer_after`.
async fn start(heartbeat_ms: u64, defer_after: Duration) -> Bot {
    // RUST_LOG=serenity=debug,cs_pulse=debug shows the bot's side when a test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (dir, desk) = demo_desk().await;
    let desk = Arc::new(desk);
    let fake = FakeDiscord::start(heartbeat_ms).await;
    std::env::set_var(TOKEN_VAR, TOKEN);
    let chat = DiscordChat {
        application_id: APPLICATION_ID,
        guild_id: GUILD_ID,
        token: Secret::from_env_var(TOKEN_VAR),
        mode: DiscordMode::Gateway,
        public_key: None,
        api_base: Some(fake.api_base.clone()),
        access: Access {
            revenue: Audience::Only([REVENUE_ROLE.to_string()].into()),
            act: Audience::Everyone,
        },
    };
    let settings = Settings {
        clock: Arc::new(DemoClock(demo_now())),
        defer_after,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn({
        let desk = desk.clone();
        async move {
            run_with(desk, &chat, settings, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    Bot {
        fake,
        desk,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

impl Bot {
    /// The registration request, once the bot has connected and registered its commands.
    async fn registered(&self) -> Value {
        let path = format!("/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands");
        self.fake.request("PUT", &path).await.body
    }

    /// Stops the bot; asserts it closed the gateway connection normally and returned Ok.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run did not panic");
        assert!(result.is_ok(), "run failed: {result:?}");
        self.fake.closed_with(1000).await;
    }
}

fn option(name: &str, value: &str) -> Value {
    json!({"name": name, "type": 3, "value": value})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_registers_and_answers_commands_autocomplete_and_buttons() {
    let bot = start(1_500, Duration::from_secs(2)).await;
    let fake = &bot.fake;

    // IDENTIFY: the bot token, compression, non-privileged intents (GUILDS only).
    let identify = fake.identify().await;
    // (serenity sends the token as `Bot <token>`, which Discord's gateway accepts.)
    assert_eq!(identify["token"], format!("Bot {TOKEN}"));
    assert_eq!(identify["compress"], true);
    assert_eq!(identify["intents"], 1);
    // The gateway's address came from the fake's REST API, with the token.
    let gateway = fake.request("GET", "/api/v10/gateway").await;
    assert_eq!(
        gateway.authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str())
    );

    // The commands, registered in the guild from the one command list.
    let registered = bot.registered().await;
    insta::assert_json_snapshot!("registered_commands", registered);
    let names: Vec<&str> = registered
        .as_array()
        .expect("an array of commands")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let specs: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    assert_eq!(names, specs);
    for (command, spec) in registered.as_array().unwrap().iter().zip(COMMANDS) {
        assert_eq!(command["description"], spec.summary);
        let options = command["options"].as_array().cloned().unwrap_or_default();
        let params: Vec<(&str, bool)> = spec.params.iter().map(|p| (p.name, p.required)).collect();
        let got: Vec<(&str, bool)> = options
            .iter()
            .map(|o| (o["name"].as_str().unwrap_or(""), o["required"] == true))
            .collect();
        assert_eq!(got, params, "/{}", spec.name);
        for (o, p) in options.iter().zip(spec.params) {
            if p.kind == ParamKind::Days {
                assert_eq!(
                    (o["type"].clone(), o["min_value"].clone()),
                    (json!(4), json!(1))
                );
            } else {
                assert_eq!(o["type"], 3, "/{} {}", spec.name, p.name);
            }
        }
    }

    // The connection stays up: heartbeats are sent and acknowledged.
    fake.heartbeat_acked().await;

    // /help: the overview, for the caller only.
    let help = fake.slash("help", json!([]), &[OTHER_ROLE]);
    let response = fake.callback(&help).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"], 64);
    assert_eq!(
        response["data"]["embeds"][0]["title"],
        "What cs-pulse can answer"
    );
    assert_eq!(response["data"]["allowed_mentions"]["parse"], json!([]));
    insta::assert_json_snapshot!("help_response", response);

    // A wrong metric: what was wrong, the closest metric and an example, privately.
    let wrong = fake.slash("kpi", json!([option("metric", "nrrr")]), &[REVENUE_ROLE]);
    let response = fake.callback(&wrong).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"], 64);
    assert_eq!(response["data"]["embeds"][0]["title"], "Couldn't run /kpi");
    insta::assert_json_snapshot!("usage_error_response", response);

    // Autocomplete of a metric name.
    let typed = fake.autocomplete(
        "kpi",
        json!([{"name": "metric", "type": 3, "value": "nr", "focused": true}]),
    );
    let response = fake.callback(&typed).await;
    assert_eq!(response["type"], 8);
    let choices = response["data"]["choices"].as_array().expect("choices");
    assert!(!choices.is_empty() && choices.len() <= 25, "{choices:?}");
    assert!(choices.iter().any(|c| c["value"] == "nrr"), "{choices:?}");
    insta::assert_json_snapshot!("autocomplete_metric_response", response);

    // A revenue metric asked by a member without the revenue role: refused, privately.
    let mrr = fake.slash("kpi", json!([option("metric", "mrr")]), &[OTHER_ROLE]);
    let response = fake.callback(&mrr).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"], 64);
    let text = response.to_string();
    assert!(!text.contains('$'), "no revenue figures: {text}");
    insta::assert_json_snapshot!("revenue_refused_response", response);

    // The Acknowledge button of a firing alert: a confirmation for the channel to see.
    let alerts = firing(&bot.desk).await.expect("firing alerts");
    let alert = alerts
        .iter()
        .find(|a| a.key.subject != "portfolio")
        .expect("an alert about an account");
    let ack = fake.press(&format!("cs:ack:{}", alert.reference()), &[OTHER_ROLE]);
    let response = fake.callback(&ack).await;
    assert_eq!(response["type"], 4);
    assert!(response["data"].get("flags").is_none(), "{response}");
    insta::assert_json_snapshot!("ack_button_response", response);
    let states = bot.desk.store.alert_states().await.expect("states");
    assert!(
        states[&alert.key].ack.is_some(),
        "acknowledged in the store"
    );

    // A button cs-pulse does not know: a polite private note.
    let unknown = fake.press("someone-elses:button", &[]);
    let response = fake.callback(&unknown).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"], 64);
    insta::assert_json_snapshot!("unknown_button_response", response);

    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_deferred_then_edited_in() {
    // Every answer is deferred, as one slower than Discord's 3 seconds would be.
    let bot = start(45_000, Duration::ZERO).await;
    let fake = &bot.fake;
    bot.registered().await;

    // A private answer: deferred ephemerally, then the original response is edited.
    let help = fake.slash("help", json!([option("command", "kpi")]), &[]);
    assert_eq!(
        fake.callback(&help).await,
        json!({"type": 5, "data": {"flags": 64}})
    );
    let edit = fake.request("PATCH", &help.original_path()).await.body;
    assert_eq!(edit["embeds"][0]["title"], "Help: /kpi");
    assert!(edit.get("flags").is_none(), "{edit}");
    insta::assert_json_snapshot!("deferred_help_edit", edit);

    // A public answer: deferred publicly, then edited in.
    let alerts = fake.slash("alerts", json!([]), &[]);
    assert_eq!(fake.callback(&alerts).await, json!({"type": 5}));
    let edit = fake.request("PATCH", &alerts.original_path()).await.body;
    assert!(edit["embeds"][0]["title"].is_string(), "{edit}");

    // A private answer to a publicly deferred command (a button pressed on an alert that is
    // not firing): the public "thinking…" message goes, the answer follows privately.
    let ack = fake.press("cs:ack:no-such-rule:no-such-account", &[]);
    assert_eq!(fake.callback(&ack).await, json!({"type": 5}));
    fake.request("DELETE", &ack.original_path()).await;
    let followup = fake.request("POST", &ack.followup_path()).await.body;
    assert_eq!(followup["flags"], 64);

    bot.stop().await;
}

/// `cs-pulse run` as a user starts it, with `[chat.discord]` in gateway mode pointed at the fake:
/// it connects, registers the commands, answers `/help`, and on SIGTERM closes the gateway
/// connection normally and exits 0, never printing the token.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_over_the_gateway_and_stops_cleanly() {
    use std::process::Stdio;

    let (dir, _desk) = demo_desk().await;
    let fake = FakeDiscord::start(45_000).await;
    let config = dir.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text += &format!(
        "[chat.discord]\napplication_id = \"{APPLICATION_ID}\"\nguild_id = \"{GUILD_ID}\"\ntoken = \"${{CS_TEST_DISCORD_TOKEN}}\"\napi_base = \"{}\"\nrevenue_roles = [\"{REVENUE_ROLE}\"]\n",
        fake.api_base
    );
    std::fs::write(&config, text).expect("write config");
    let log = dir.path().join("service.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cs-pulse"))
        .current_dir(dir.path())
        .env_remove("CS_PULSE_CONFIG")
        .env("CS_TEST_DISCORD_TOKEN", TOKEN)
        .env("CS_PULSE_LOG", "info")
        .arg("run")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("service.err")).expect("err file"),
        ))
        .spawn()
        .expect("cs-pulse run starts");

    let identify = fake.identify().await;
    assert_eq!(identify["token"], format!("Bot {TOKEN}"));
    let registered = fake
        .request(
            "PUT",
            &format!("/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"),
        )
        .await;
    assert_eq!(
        registered.body.as_array().map(Vec::len),
        Some(COMMANDS.len())
    );
    let sent = fake.slash("help", json!([]), &[OTHER_ROLE]);
    let reply = fake.callback(&sent).await;
    assert_eq!(reply["type"], 4, "{reply:#}");
    assert_eq!(reply["data"]["flags"], 64, "{reply:#}");
    assert_eq!(
        reply["data"]["embeds"][0]["title"], "What cs-pulse can answer",
        "{reply:#}"
    );

    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    fake.closed_with(1000).await;
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the service did not stop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let out = std::fs::read_to_string(&log).expect("log");
    let err = std::fs::read_to_string(dir.path().join("service.err")).expect("err");
    assert!(status.success(), "{status}\n{out}\n{err}");
    assert!(
        out.contains(&format!("answering Discord commands in guild {GUILD_ID}")),
        "{out}"
    );
    assert!(out.contains("stopped"), "{out}");
    assert!(
        !out.contains(TOKEN) && !err.contains(TOKEN),
        "the token is never printed"
    );
}
