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
