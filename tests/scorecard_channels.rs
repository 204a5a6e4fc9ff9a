//! The demo scorecards as each kind of channel receives them: the Discord payloads (embeds, the
//! chart as an attachment reference, mentions), the Slack Block Kit payloads and the generic
//! webhook's JSON body, pinned by snapshots, so that a change to a renderer or to the scorecard
//! shows up as the exact difference a CS leader would see. Each payload is also held to the
//! platform's limits, and an owner's card pings its owner (and no one else).

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use common::demo::demo_engine;
use common::{d, p};
use cs_pulse::notify::discord::{self, DiscordPayload};
use cs_pulse::notify::slack::{self, Block, SlackPayload};
use cs_pulse::notify::{webhook, Message};
use cs_pulse::scorecard::{compute, shipped_scorecards, to_message, ScorecardData};

/// A Discord user id, as an owners table would give it.
const DISCORD_ID: u64 = 234_567_890_123_456_789;
/// A Slack member id.
const SLACK_ID: &str = "U0123ABCD";

/// The cards of shipped scorecard `id` for 2025-W24, as computed on Monday 2025-06-16.
fn cards(id: &str) -> Vec<ScorecardData> {
    let defs = shipped_scorecards(&["console".to_string()]).expect("shipped scorecards");
    let def = defs
        .iter()
        .find(|def| def.id == id)
        .unwrap_or_else(|| panic!("no scorecard {id}"));
    compute(&demo_engine(), def, p("2025-W24"), d("2025-06-16"))
}

/// The Discord payloads, checked against Discord's limits; as JSON.
fn discord_json(m: &Message, mentions: &BTreeMap<String, u64>) -> (Vec<DiscordPayload>, Value) {
    let payloads = discord::render(m, mentions);
    assert!(!payloads.is_empty());
    for (i, payload) in payloads.iter().enumerate() {
        assert_eq!(
            payload.limit_violations(),
            Vec::<String>::new(),
            "Discord payload {i}"
        );
        // Nothing in the data pings anyone: only the listed owners may be.
        assert!(payload.allowed_mentions.parse.is_empty());
    }
    // The chart travels as the first message's attachment, shown by the first embed; no bytes
    // are in the JSON part of the request.
    if let Some(image) = &m.image {
        let first = &payloads[0];
        assert_eq!(first.attachments.len(), 1);
        assert_eq!(first.attachments[0].filename, image.filename);
        assert_eq!(
            first.embeds[0].image.as_ref().map(|i| i.url.as_str()),
            Some(format!("attachment://{}", image.filename).as_str())
        );
        assert!(payloads[1..].iter().all(|p| p.attachments.is_empty()));
    }
    let json = serde_json::to_value(&payloads).expect("json");
    assert!(
        !json.to_string().contains("iVBOR"),
        "no PNG bytes in the JSON part"
    );
    (payloads, json)
}

/// The Slack payloads, checked against Block Kit's limits; as JSON.
fn slack_json(m: &Message, mentions: &BTreeMap<String, String>) -> (Vec<SlackPayload>, Value) {
    let payloads = slack::render(m, mentions);
    assert!(!payloads.is_empty());
    for (i, payload) in payloads.iter().enumerate() {
        assert_eq!(
            slack::limit_violations(payload),
            Vec::<String>::new(),
            "Slack payload {i}"
        );
    }
    let json = serde_json::to_value(&payloads).expect("json");
    (payloads, json)
}

/// The webhook body as JSON, its base64 PNG (checked to be the chart's bytes) replaced by the
/// number of bytes it holds.
fn webhook_json(m: &Message) -> Value {
    let body = webhook::body(m, "k").expect("webhook body");
    let mut json: Value = serde_json::from_slice(&body).expect("the body is JSON");
    assert_eq!(json["version"], 1);
    assert_eq!(json["id"], "k");
    if let Some(image) = &m.image {
        let png = &mut json["message"]["image"]["png"];
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("png as base64"))
            .expect("valid base64");
        assert_eq!(bytes, image.png, "the chart's bytes");
        *png = Value::String(format!("<{} bytes of PNG>", bytes.len()));
    }
    json
}

/// Every text of a Slack payload: the fallback and each block's texts.
fn slack_texts(payload: &SlackPayload) -> Vec<String> {
    let mut out = vec![payload.text.clone()];
    for block in &payload.blocks {
        match block {
            Block::Header { text } => out.push(text.text().to_string()),
            Block::Section { text, fields } => {
                out.extend(text.iter().map(|t| t.text().to_string()));
                out.extend(fields.iter().map(|t| t.text().to_string()));
            }
            Block::Context { elements } => {
                out.extend(elements.iter().map(|t| t.text().to_string()))
            }
            Block::Actions { elements } => {
                out.extend(elements.iter().map(|b| b.text.text().to_string()))
            }
        }
    }
    out
}

#[test]
fn the_leadership_scorecard_on_each_channel_kind() {
    let cards = cards("leadership");
    assert_eq!(cards.len(), 1);
    let m = to_message(&cards[0]);
    assert!(m.image.is_some(), "the leadership scorecard has a chart");
    assert!(m.mentions.is_empty(), "a leadership card pings no one");
    // The owners tables of a configured workspace: they change nothing on this card.
    let owner = "Priya Raman".to_string();
    let discord_ids = BTreeMap::from([(owner.clone(), DISCORD_ID)]);
    let slack_ids = BTreeMap::from([(owner, SLACK_ID.to_string())]);

    let (payloads, json) = discord_json(&m, &discord_ids);
    assert!(payloads
        .iter()
        .all(|p| p.content.is_empty() && p.allowed_mentions.users.is_empty()));
    insta::assert_json_snapshot!("leadership_discord", json);

    let (payloads, json) = slack_json(&m, &slack_ids);
    assert!(payloads
        .iter()
        .flat_map(slack_texts)
        .all(|t| !t.contains("<@")));
    insta::assert_json_snapshot!("leadership_slack", json);

    insta::assert_json_snapshot!("leadership_webhook", webhook_json(&m));
}

#[test]
fn an_owner_card_mentions_its_owner_on_each_channel_kind() {
    let cards = cards("csm-book");
    assert!(cards.len() > 1, "one card per owner");
    let card = &cards[0];
    let owner = card.owner.clone().expect("a per-owner card");
    let m = to_message(card);
    assert_eq!(m.mentions, std::slice::from_ref(&owner));
    let discord_ids =
        BTreeMap::from([(owner.clone(), DISCORD_ID), ("Someone Else".to_string(), 1)]);
    let slack_ids = BTreeMap::from([
        (owner.clone(), SLACK_ID.to_string()),
        ("Someone Else".to_string(), "U0000NOPE".to_string()),
    ]);

    // Discord: the owner is pinged in the content, and only they may be.
    let (payloads, json) = discord_json(&m, &discord_ids);
    let mention = format!("<@{DISCORD_ID}>");
    assert!(payloads[0].content.contains(&mention), "{payloads:#?}");
    assert_eq!(payloads[0].allowed_mentions.users, [DISCORD_ID.to_string()]);
    let pinged: usize = payloads
        .iter()
        .map(|p| p.allowed_mentions.users.len())
        .sum();
    assert_eq!(pinged, 1, "pinged once");
    assert!(!json.to_string().contains("U0000NOPE") && !json.to_string().contains("<@1>"));
    insta::assert_json_snapshot!("owner_discord", json);

    // Slack: the owner is mentioned by member id, once.
    let (payloads, json) = slack_json(&m, &slack_ids);
    let mention = format!("<@{SLACK_ID}>");
    let blocks_with_mention = payloads
        .iter()
        .flat_map(|p| &p.blocks)
        .filter(|b| serde_json::to_string(b).expect("json").contains(&mention))
        .count();
    assert_eq!(blocks_with_mention, 1, "{payloads:#?}");
    assert!(!json.to_string().contains("U0000NOPE"));
    insta::assert_json_snapshot!("owner_slack", json);

    // The webhook names the owner; the receiver maps names to its own ids.
    let json = webhook_json(&m);
    assert_eq!(json["message"]["mentions"], serde_json::json!([owner]));
    insta::assert_json_snapshot!("owner_webhook", json);
}
