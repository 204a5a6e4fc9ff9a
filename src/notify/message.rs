//! The channel-neutral message: what cs-pulse wants to say, in plain text and structure, with no
//! platform's markup. Renderers (Discord, Slack, webhook, console) turn it into a payload, escape
//! the text for their markup, and respect their platform's limits; the outbox stores it as JSON.

use serde::{Deserialize, Serialize};

/// One message to one or more channels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The headline (an embed title, a Slack header). Plain text.
    pub title: String,
    /// Drives the color of the message where the platform shows one.
    pub tone: Tone,
    /// The body, in order. A section without a heading reads as the message's description.
    pub sections: Vec<Section>,
    /// The small print: which rule, how fresh the data is.
    pub footer: String,
    /// Account owners (names as in the data) to mention; each channel maps them to its own
    /// user ids through `[owners]`, and shows the others as plain names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// A picture shown with the message (the scorecard's trend chart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// Buttons under the message (Acknowledge, Snooze 7 days, Open account), rendered by the
    /// channels whose platform can call cs-pulse back (a Discord bot, a Slack app with
    /// interactivity) and left out elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// A button on a message: what pressing it does, and to what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    /// An alert reference (`rule:subject`) for `ack` and `snooze`, an account id for `open`.
    pub target: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Acknowledge the alert: its reminders stop until it resolves.
    Ack,
    /// Silence the alert for seven days.
    Snooze,
    /// Show the account's health card (to the presser only).
    Open,
}

/// Discord's limit on a component's `custom_id` (Slack's `value` allows more).
pub const ACTION_ID_MAX: usize = 100;

impl Action {
    /// The button's label.
    pub fn label(&self) -> &'static str {
        match self.kind {
            ActionKind::Ack => "Acknowledge",
            ActionKind::Snooze => "Snooze 7 days",
            ActionKind::Open => "Open account",
        }
    }

    /// The id the platform sends back when the button is pressed: `cs:ack:rule:subject`.
    pub fn id(&self) -> String {
        let verb = match self.kind {
            ActionKind::Ack => "ack",
            ActionKind::Snooze => "snooze",
            ActionKind::Open => "open",
        };
        format!("cs:{verb}:{}", self.target)
    }

    /// Reads back an [`Action::id`]; `None` for ids cs-pulse did not make.
    pub fn parse_id(id: &str) -> Option<Action> {
        let rest = id.strip_prefix("cs:")?;
        let (verb, target) = rest.split_once(':')?;
        let kind = match verb {
            "ack" => ActionKind::Ack,
            "snooze" => ActionKind::Snooze,
            "open" => ActionKind::Open,
            _ => return None,
        };
        (!target.is_empty()).then(|| Action {
            kind,
            target: target.to_string(),
        })
    }

    /// The three buttons of an alert about one subject; none when an id would exceed
    /// [`ACTION_ID_MAX`] (the alert can still be acknowledged with `/ack`).
    pub fn for_alert(rule: &str, subject: &str, account: Option<&str>) -> Vec<Action> {
        let alert = format!("{rule}:{subject}");
        let mut actions = vec![
            Action {
                kind: ActionKind::Ack,
                target: alert.clone(),
            },
            Action {
                kind: ActionKind::Snooze,
                target: alert,
            },
        ];
        if let Some(a) = account {
            actions.push(Action {
                kind: ActionKind::Open,
                target: a.to_string(),
            });
        }
        if actions.iter().any(|a| a.id().len() > ACTION_ID_MAX) {
            return vec![];
        }
        actions
    }
}

/// The color family of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Critical,
    Warning,
    Info,
    /// A resolved alert, an on-track scorecard.
    Good,
    #[default]
    Neutral,
}

impl Tone {
    /// The color as 0xRRGGBB (Discord's embed color).
    pub fn color(self) -> u32 {
        match self {
            Tone::Critical => 0xD93025,
            Tone::Warning => 0xF29900,
            Tone::Info => 0x1A73E8,
            Tone::Good => 0x188038,
            Tone::Neutral => 0x5F6368,
        }
    }

    /// The color of a health band by its conventional name (`red`, `yellow`, `green`, ...);
    /// other band names are neutral.
    pub fn of_band(band: &str) -> Tone {
        match band.to_ascii_lowercase().as_str() {
            "red" | "critical" => Tone::Critical,
            "yellow" | "amber" | "orange" => Tone::Warning,
            "green" => Tone::Good,
            "blue" => Tone::Info,
            _ => Tone::Neutral,
        }
    }
}

/// A part of the body: an optional heading over lines of text and/or label–value fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// Lines of plain text, one item each (a bullet in most renderings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// Short label–value pairs, shown side by side where the platform can.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
}

/// A label and its value (a KPI and its figure).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub label: String,
    pub value: String,
}

/// A PNG attached to a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// The attachment's file name, like `scorecard.png`.
    pub filename: String,
    /// What the picture shows, for screen readers and platforms without images.
    pub alt: String,
    /// The PNG bytes (stored base64 in JSON).
    #[serde(with = "png_base64")]
    pub png: Vec<u8>,
}

/// Images travel through the outbox's JSON as base64.
mod png_base64 {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl Message {
    /// The message as plain text (the console channel, logs of what was sent, and platforms'
    /// notification fallbacks). `**bold**` marks are dropped. Mentions are left out: a terminal notifies no one, and the
    /// lines already name each account's owner.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for s in &self.sections {
            if let Some(h) = &s.heading {
                out += &format!("  {h}\n");
            }
            let indent = if s.heading.is_some() { "    " } else { "  " };
            for l in &s.lines {
                for (i, part) in super::text::strip_bold(l).lines().enumerate() {
                    out += indent;
                    out += if i == 0 { "• " } else { "  " };
                    out += part;
                    out += "\n";
                }
            }
            for f in &s.fields {
                out += &format!("{indent}{}: {}\n", f.label, f.value);
            }
        }
        if let Some(img) = &self.image {
            out += &format!("  [{}: {}]\n", img.filename, img.alt);
        }
        if !self.footer.is_empty() {
            out += &format!("  {}\n", self.footer);
        }
        out
    }
}
