//! Discord's rendering of a [`Message`]: one neutral message becomes one or more "create message"
//! bodies (content, embeds, allowed mentions, attachments) that Discord accepts as they are.
//!
//! Discord refuses a whole message when any one of its limits is exceeded (2000 characters of
//! content, 256 of title, 4096 of description, 25 fields of 256 + 1024, a 2048 footer, 6000
//! characters over all embeds of a message, 10 embeds). A refused alert is a lost alert, so the
//! renderer never relies on messages being short: it splits into further embeds and further
//! messages, and truncates (with [`CUT_MARKER`]) only a single item that is longer than its slot
//! on its own. Every line of the message appears in the output, in order.
//!
//! Pure, so that both Discord sinks (bot and webhook) share it and tests pin its exact JSON. The
//! small helpers that read Discord's answers (ids, errors, the response itself) live here too,
//! for the same reason.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::text::{chars, pack_lines, truncate};
use super::{Action, ActionKind, Image, Message, SendError};
use crate::config::Owners;

/// Discord's documented limits, in characters (Unicode scalar values) unless said otherwise.
pub mod limits {
    /// Message `content`.
    pub const CONTENT: usize = 2000;
    /// Embed `title`.
    pub const TITLE: usize = 256;
    /// Embed `description`.
    pub const DESCRIPTION: usize = 4096;
    /// Fields per embed (a count).
    pub const FIELDS: usize = 25;
    /// Field `name`.
    pub const FIELD_NAME: usize = 256;
    /// Field `value`.
    pub const FIELD_VALUE: usize = 1024;
    /// Embed `footer.text`.
    pub const FOOTER: usize = 2048;
    /// Title, description, field names and values and footer text of all embeds of one message.
    pub const EMBEDS_TOTAL: usize = 6000;
    /// Embeds per message (a count).
    pub const EMBEDS: usize = 10;
    /// `allowed_mentions.users` (a count).
    pub const MENTIONED_USERS: usize = 100;
    /// An attachment's `description` (its alt text).
    pub const ATTACHMENT_DESCRIPTION: usize = 1024;
    /// A message `nonce`.
    pub const NONCE: usize = 25;
    /// Action rows per message (a count).
    pub const ACTION_ROWS: usize = 5;
    /// Buttons per action row (a count).
    pub const BUTTONS: usize = 5;
    /// A button's `label`.
    pub const BUTTON_LABEL: usize = 80;
    /// A component's `custom_id`.
    pub const CUSTOM_ID: usize = 100;
}

/// What stands in for an empty value, which Discord refuses.
pub const EMPTY_VALUE: &str = "—";
/// The value of a field that only carries a heading: a zero-width space.
pub const HEADING_VALUE: &str = "\u{200b}";

/// The body of one Discord "create message" (or "edit message") request.
///
/// Every field is always serialized, so that the same body used for an edit also clears what the
/// previous version had (old embeds, an old image, old mentions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiscordPayload {
    /// Mentions of account owners (first message only), empty otherwise.
    pub content: String,
    pub embeds: Vec<Embed>,
    /// Always `parse: []`: text from the data (`@everyone`, `<@&role>`) never pings anyone;
    /// only the owners listed in `users` are pinged.
    pub allowed_mentions: AllowedMentions,
    /// The image's upload slot (`files[0]` in the multipart body), on the first message only.
    pub attachments: Vec<AttachmentRef>,
    /// The message's buttons, as one action row, on the last message only. Always serialized
    /// (`[]` without buttons), so that an edit removes the buttons of a resolved alert.
    pub components: Vec<ActionRow>,
    /// Set by the bot sink: the outbox key and part index, for Discord's de-duplication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Set by the bot sink with `nonce`: Discord returns the message already created with the
    /// same nonce (within a few minutes) instead of creating another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforce_nonce: Option<bool>,
}

/// One embed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Embed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub color: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<EmbedField>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<EmbedFooter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<EmbedImage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmbedField {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmbedFooter {
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmbedImage {
    /// `attachment://{filename}`: the file uploaded with the message.
    pub url: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AllowedMentions {
    pub parse: Vec<String>,
    /// User ids (snowflakes as strings) that may be pinged.
    pub users: Vec<String>,
}

/// An uploaded file as the JSON part of a multipart body names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttachmentRef {
    /// The index `n` of the `files[n]` part.
    pub id: u64,
    pub filename: String,
    /// The alt text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A row of buttons (component type 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionRow {
    /// Always 1.
    #[serde(rename = "type")]
    pub kind: u8,
    pub components: Vec<Button>,
}

/// A button (component type 2) that sends an interaction with its `custom_id` when pressed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Button {
    /// Always 2.
    #[serde(rename = "type")]
    pub kind: u8,
    /// 1 primary (blurple), 2 secondary (grey).
    pub style: u8,
    pub label: String,
    /// [`Action::id`], read back with [`Action::parse_id`].
    pub custom_id: String,
}

/// The action row of `actions`: Acknowledge as the primary button, the others secondary. No row
/// when there are no actions. Actions past Discord's five buttons per row, or whose id is longer
/// than a `custom_id` may be, are left out (the alert can still be handled with commands).
pub fn components(actions: &[Action]) -> Vec<ActionRow> {
    let buttons: Vec<Button> = actions
        .iter()
        .map(|a| (a, a.id()))
        .filter(|(_, id)| chars(id) <= limits::CUSTOM_ID)
        .take(limits::BUTTONS)
        .map(|(a, custom_id)| Button {
            kind: 2,
            style: match a.kind {
                ActionKind::Ack => 1,
                ActionKind::Snooze | ActionKind::Open => 2,
            },
            label: truncate(a.label(), limits::BUTTON_LABEL),
            custom_id,
        })
        .collect();
    if buttons.is_empty() {
        return vec![];
    }
    vec![ActionRow {
        kind: 1,
        components: buttons,
    }]
}

impl Embed {
    fn new(color: u32) -> Embed {
        Embed {
            title: None,
            description: None,
            color,
            fields: vec![],
            footer: None,
            image: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.fields.is_empty()
            && self.footer.is_none()
            && self.image.is_none()
    }

    /// The characters this embed counts towards Discord's 6000 per message.
    pub fn total_chars(&self) -> usize {
        self.title.as_deref().map_or(0, chars)
            + self.description.as_deref().map_or(0, chars)
            + self
                .fields
                .iter()
                .map(|f| chars(&f.name) + chars(&f.value))
                .sum::<usize>()
            + self.footer.as_ref().map_or(0, |f| chars(&f.text))
    }
}

impl DiscordPayload {
    /// Every way this payload breaks one of Discord's limits; empty when Discord would accept it.
    /// The renderer's tests hold every rendering to this.
    pub fn limit_violations(&self) -> Vec<String> {
        use limits::*;
        let mut out = vec![];
        let mut over = |what: String, len: usize, max: usize| {
            if len > max {
                out.push(format!("{what}: {len} > {max}"));
            }
        };
        over("content".into(), chars(&self.content), CONTENT);
        over("embeds".into(), self.embeds.len(), EMBEDS);
        over(
            "embed characters".into(),
            self.embeds.iter().map(Embed::total_chars).sum(),
            EMBEDS_TOTAL,
        );
        over(
            "allowed_mentions.users".into(),
            self.allowed_mentions.users.len(),
            MENTIONED_USERS,
        );
        if let Some(nonce) = &self.nonce {
            over("nonce".into(), chars(nonce), NONCE);
        }
        for (i, e) in self.embeds.iter().enumerate() {
            over(
                format!("embeds[{i}].title"),
                e.title.as_deref().map_or(0, chars),
                TITLE,
            );
            over(
                format!("embeds[{i}].description"),
                e.description.as_deref().map_or(0, chars),
                DESCRIPTION,
            );
            over(format!("embeds[{i}].fields"), e.fields.len(), FIELDS);
            over(
                format!("embeds[{i}].footer"),
                e.footer.as_ref().map_or(0, |f| chars(&f.text)),
                FOOTER,
            );
            for (j, f) in e.fields.iter().enumerate() {
                over(
                    format!("embeds[{i}].fields[{j}].name"),
                    chars(&f.name),
                    FIELD_NAME,
                );
                over(
                    format!("embeds[{i}].fields[{j}].value"),
                    chars(&f.value),
                    FIELD_VALUE,
                );
            }
        }
        over("components".into(), self.components.len(), ACTION_ROWS);
        for (i, row) in self.components.iter().enumerate() {
            over(format!("components[{i}]"), row.components.len(), BUTTONS);
            for (j, b) in row.components.iter().enumerate() {
                over(
                    format!("components[{i}].components[{j}].label"),
                    chars(&b.label),
                    BUTTON_LABEL,
                );
                over(
                    format!("components[{i}].components[{j}].custom_id"),
                    chars(&b.custom_id),
                    CUSTOM_ID,
                );
            }
        }
        for a in &self.attachments {
            over(
                "attachments.description".into(),
                a.description.as_deref().map_or(0, chars),
                ATTACHMENT_DESCRIPTION,
            );
        }
        let blank = |s: &str| s.trim().is_empty();
        for (i, e) in self.embeds.iter().enumerate() {
            if e.is_empty() {
                out.push(format!("embeds[{i}] is empty"));
            }
            if e.title.as_deref().is_some_and(blank)
                || e.description.as_deref().is_some_and(blank)
                || e.footer.as_ref().is_some_and(|f| blank(&f.text))
            {
                out.push(format!("embeds[{i}] has a blank text"));
            }
            for (j, f) in e.fields.iter().enumerate() {
                if blank(&f.name) || blank(&f.value) {
                    out.push(format!("embeds[{i}].fields[{j}] is blank"));
                }
            }
        }
        if blank(&self.content) && self.embeds.is_empty() && self.attachments.is_empty() {
            out.push("the message is empty".into());
        }
        out
    }
}

/// Why a Discord sink could not be set up (before anything is sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("the Discord channel id must not be 0")]
    ZeroChannelId,
    #[error("the Discord webhook URL is not a valid http(s) URL")]
    BadWebhookUrl,
    #[error("the Discord API base `{0}` is not a valid http(s) URL")]
    BadApiBase(String),
    #[error("cannot set up an HTTP client for Discord: {0}")]
    Client(String),
}

/// Each request to Discord gives up after this long (a `Transient` error, retried).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client both sinks use: rustls, and a timeout so that a hung connection is retried.
pub(crate) fn http_client() -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SetupError::Client(err_chain(&e)))
}

/// Owner name → Discord user id, for the owners that have one in `[owners]`.
pub fn discord_ids(owners: &Owners) -> BTreeMap<String, u64> {
    owners
        .iter()
        .filter_map(|(name, ids)| ids.discord.map(|id| (name.clone(), id)))
        .collect()
}

/// The file name an image is uploaded under: Discord resolves `attachment://NAME` only for names
/// of ASCII letters, digits, `.`, `_` and `-`.
pub fn attachment_filename(image: &Image) -> String {
    let name: String = image
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if name.trim_matches(['.', '_']).is_empty() {
        "image.png".to_string()
    } else {
        name
    }
}

/// `text` with Discord markdown neutralized, so that data (an account called `acme_*corp*`, a
/// note starting with `#`) reads as written: `\ * _ ~ ` |` anywhere, and `>` and `#` at the
/// start of a line, get a backslash, as does a `-` that would start a list (`- `; `-5%` stays).
pub fn escape_markdown(text: &str) -> String {
    // `**bold**` from rule templates stays bold; everything inside and around it is escaped.
    let runs = super::text::bold_runs(text);
    if runs.iter().any(|(bold, _)| *bold) {
        return runs
            .into_iter()
            .map(|(bold, t)| {
                if bold {
                    format!("**{}**", escape_plain_markdown(t))
                } else {
                    escape_plain_markdown(t)
                }
            })
            .collect();
    }
    escape_plain_markdown(text)
}

/// Escapes every markdown character of `text` (no emphasis kept).
fn escape_plain_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let list_dash = c == '-' && chars.peek().is_some_and(|n| n.is_whitespace());
        let special = matches!(c, '\\' | '*' | '_' | '~' | '`' | '|')
            || (line_start && (matches!(c, '>' | '#') || list_dash));
        if special {
            out.push('\\');
        }
        out.push(c);
        if c == '\n' {
            line_start = true;
        } else if !c.is_whitespace() {
            line_start = false;
        }
    }
    out
}

/// A line of the message as a bullet.
pub fn bullet(line: &str) -> String {
    format!("• {}", escape_markdown(line))
}

/// Renders `message` for Discord: the bodies of the messages to create, in order (usually one).
///
/// `mentions` maps owner names to Discord user ids; the owners in `message.mentions` found there
/// are pinged (`<@id>`), the others are named in plain text without pinging anyone.
///
/// Layout: the first embed carries the title and the image; sections without a heading become
/// bullet lines of the description; a section with a heading becomes a field named by the heading
/// with its lines as bullets (continued in fields named "heading (cont.)" past 1024 characters),
/// followed by its label–value pairs as inline fields (a heading over fields alone becomes a field
/// of its own with the value "—"); the footer goes on the last embed. Items keep their order:
/// what does not fit opens a new embed, and past 10 embeds or 6000 characters a new message. A
/// single line longer than its slot is truncated with the cut marker. Text from the data is
/// markdown-escaped ([`escape_markdown`]) except the title and footer, which Discord shows plain.
/// Mentions go in the first message's content; more than 2000 characters or 100 pinged users
/// continue in the content of the following messages. The message's actions become one row of
/// buttons ([`components`]) on the last message, under everything they act on.
pub fn render(message: &Message, mentions: &BTreeMap<String, u64>) -> Vec<DiscordPayload> {
    let mut layout = Layout::new(message.tone.color());

    let title = message.title.trim();
    if !title.is_empty() {
        let title = truncate(title, limits::TITLE);
        layout.used += chars(&title);
        layout.cur.title = Some(title);
    }
    if let Some(image) = &message.image {
        layout.cur.image = Some(EmbedImage {
            url: format!("attachment://{}", attachment_filename(image)),
        });
    }

    for section in &message.sections {
        match &section.heading {
            None => {
                for line in &section.lines {
                    layout.push_line(truncate(&bullet(line), limits::DESCRIPTION));
                }
            }
            Some(heading) => {
                let bullets: Vec<String> = section.lines.iter().map(|l| bullet(l)).collect();
                let chunks = pack_lines(&bullets, limits::FIELD_VALUE);
                let name = field_text(&escape_markdown(heading.trim()), limits::FIELD_NAME);
                // A heading over fields alone still shows, as a field of its own whose value is
                // a zero-width space (Discord refuses an empty value; "—" would read as missing).
                if chunks.is_empty() {
                    layout.push_field(field(name.clone(), HEADING_VALUE, false));
                }
                let cont = format!("{} (cont.)", truncate(&name, limits::FIELD_NAME - 8));
                for (i, chunk) in chunks.iter().enumerate() {
                    let name = if i == 0 { name.clone() } else { cont.clone() };
                    layout.push_field(field(name, chunk, false));
                }
            }
        }
        for f in &section.fields {
            let name = field_text(&escape_markdown(f.label.trim()), limits::FIELD_NAME);
            let value = field_text(&escape_markdown(f.value.trim()), limits::FIELD_VALUE);
            layout.push_field(field(name, &value, true));
        }
    }

    let footer = message.footer.trim();
    if !footer.is_empty() {
        layout.push_footer(truncate(footer, limits::FOOTER));
    }

    let messages = layout.finish();
    let content = mention_chunks(&message.mentions, mentions);

    let count = messages.len().max(content.len()).max(1);
    let mut messages = messages.into_iter();
    let mut content = content.into_iter();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let embeds = messages.next().unwrap_or_default();
        let chunk = content.next().unwrap_or_default();
        let attachments = match (&message.image, i) {
            (Some(image), 0) => vec![AttachmentRef {
                id: 0,
                filename: attachment_filename(image),
                description: Some(image.alt.trim())
                    .filter(|a| !a.is_empty())
                    .map(|a| truncate(a, limits::ATTACHMENT_DESCRIPTION)),
            }],
            _ => vec![],
        };
        out.push(DiscordPayload {
            content: chunk.text,
            embeds,
            allowed_mentions: AllowedMentions {
                parse: vec![],
                users: chunk.users,
            },
            attachments,
            components: if i + 1 == count {
                components(&message.actions)
            } else {
                vec![]
            },
            nonce: None,
            enforce_nonce: None,
        });
    }
    if out
        .iter()
        .all(|p| p.embeds.is_empty() && p.content.is_empty())
    {
        if let Some(first) = out.first_mut() {
            let mut embed = Embed::new(message.tone.color());
            embed.description = Some(EMPTY_VALUE.to_string());
            first.embeds.push(embed);
        }
    }
    out
}

/// The body that replaces a message left over when an edited message needs fewer parts.
pub fn continued_above() -> DiscordPayload {
    DiscordPayload {
        content: "(continued above)".to_string(),
        ..DiscordPayload::default()
    }
}

/// `text` within `max`, never blank.
fn field_text(text: &str, max: usize) -> String {
    if text.trim().is_empty() {
        EMPTY_VALUE.to_string()
    } else {
        truncate(text, max)
    }
}

fn field(name: String, value: &str, inline: bool) -> EmbedField {
    EmbedField {
        name,
        value: field_text(value, limits::FIELD_VALUE),
        inline,
    }
}

/// Embeds being filled in order: the current embed, the closed embeds of the current message,
/// and the finished messages.
struct Layout {
    color: u32,
    done: Vec<Vec<Embed>>,
    embeds: Vec<Embed>,
    cur: Embed,
    /// Characters counted towards [`limits::EMBEDS_TOTAL`] in the current message, `cur` included.
    used: usize,
}

impl Layout {
    fn new(color: u32) -> Layout {
        Layout {
            color,
            done: vec![],
            embeds: vec![],
            cur: Embed::new(color),
            used: 0,
        }
    }

    fn room(&self) -> usize {
        limits::EMBEDS_TOTAL.saturating_sub(self.used)
    }

    /// Whether nothing has been placed in the current message yet (nothing more can be gained
    /// by starting another).
    fn fresh(&self) -> bool {
        self.embeds.is_empty() && self.cur.is_empty()
    }

    fn close_embed(&mut self) {
        if !self.cur.is_empty() {
            let cur = std::mem::replace(&mut self.cur, Embed::new(self.color));
            self.embeds.push(cur);
        }
    }

    fn close_message(&mut self) {
        self.close_embed();
        if !self.embeds.is_empty() {
            self.done.push(std::mem::take(&mut self.embeds));
        }
        self.used = 0;
    }

    /// Opens a new embed for an item of `cost` characters, in a new message when this one has
    /// no embed or no characters left for it.
    fn next_embed(&mut self, cost: usize) {
        self.close_embed();
        if self.embeds.len() >= limits::EMBEDS || self.room() < cost {
            self.close_message();
        }
    }

    /// Appends a bullet line (at most [`limits::DESCRIPTION`] characters) to a description.
    fn push_line(&mut self, line: String) {
        let len = chars(&line);
        loop {
            // Discord shows the description above the fields: a line after fields opens an embed.
            if self.cur.fields.is_empty() && self.cur.footer.is_none() {
                let have = self.cur.description.as_deref().map(chars);
                let cost = len + usize::from(have.is_some());
                if have.unwrap_or(0) + cost <= limits::DESCRIPTION && cost <= self.room() {
                    match &mut self.cur.description {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(&line);
                        }
                        None => self.cur.description = Some(line),
                    }
                    self.used += cost;
                    return;
                }
            }
            if self.fresh() {
                // Cannot happen for a line within its limit; stay within limits regardless.
                let line = truncate(&line, limits::DESCRIPTION.min(self.room()));
                self.used += chars(&line);
                self.cur.description = Some(line);
                return;
            }
            self.next_embed(len);
        }
    }

    fn push_field(&mut self, field: EmbedField) {
        let cost = chars(&field.name) + chars(&field.value);
        loop {
            if self.cur.fields.len() < limits::FIELDS
                && self.cur.footer.is_none()
                && cost <= self.room()
            {
                self.cur.fields.push(field);
                self.used += cost;
                return;
            }
            if self.fresh() {
                // Cannot happen for a field within its limits.
                return;
            }
            self.next_embed(cost);
        }
    }

    fn push_footer(&mut self, text: String) {
        let cost = chars(&text);
        loop {
            if self.cur.footer.is_none() && cost <= self.room() {
                self.used += cost;
                self.cur.footer = Some(EmbedFooter { text });
                return;
            }
            if self.fresh() {
                return;
            }
            self.next_embed(cost);
        }
    }

    fn finish(mut self) -> Vec<Vec<Embed>> {
        self.close_message();
        self.done
    }
}

/// The content of one message: its mentions and the ids it may ping.
#[derive(Default)]
struct ContentChunk {
    text: String,
    users: Vec<String>,
}

/// The owners to mention as content chunks of at most [`limits::CONTENT`] characters and
/// [`limits::MENTIONED_USERS`] pinged users each.
fn mention_chunks(owners: &[String], ids: &BTreeMap<String, u64>) -> Vec<ContentChunk> {
    let mut seen = BTreeSet::new();
    let owners: Vec<&str> = owners
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty() && seen.insert(*o))
        .collect();
    if owners.is_empty() {
        return vec![];
    }
    let prefix = if owners.len() == 1 {
        "Owner: "
    } else {
        "Owners: "
    };
    let mut chunks = vec![];
    let mut cur = ContentChunk {
        text: prefix.to_string(),
        users: vec![],
    };
    let mut cur_len = chars(prefix);
    let mut cur_items = 0;
    for owner in owners {
        let (token, user) = match ids.get(owner) {
            Some(id) => (format!("<@{id}>"), Some(id.to_string())),
            None => (
                truncate(&escape_markdown(owner), limits::CONTENT - chars(prefix)),
                None,
            ),
        };
        let len = chars(&token);
        let sep = if cur_items > 0 { 2 } else { 0 };
        let full = cur_len + sep + len > limits::CONTENT
            || (user.is_some() && cur.users.len() >= limits::MENTIONED_USERS);
        if full && cur_items > 0 {
            chunks.push(std::mem::take(&mut cur));
            cur_len = 0;
            cur_items = 0;
        }
        if cur_items > 0 {
            cur.text.push_str(", ");
            cur_len += 2;
        }
        cur.text.push_str(&token);
        cur_len += len;
        cur_items += 1;
        if let Some(user) = user {
            if !cur.users.contains(&user) {
                cur.users.push(user);
            }
        }
    }
    if cur_items > 0 {
        chunks.push(cur);
    }
    chunks
}

/// The `id` of the message object Discord answers a create with.
pub(crate) fn created_message_id(body: &[u8]) -> Result<String, SendError> {
    #[derive(Deserialize)]
    struct Created {
        id: serde_json::Value,
    }
    let id = serde_json::from_slice::<Created>(body)
        .ok()
        .and_then(|c| match c.id {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|id| !id.is_empty());
    id.ok_or_else(|| {
        SendError::Permanent(
            "Discord accepted the message but its answer had no message id".to_string(),
        )
    })
}

/// How long to wait when Discord answers 429 and says nothing usable.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A Discord error answer as the outbox needs it: 429 → [`SendError::RateLimited`] (after the
/// body's `retry_after`, else the `Retry-After` header, both in seconds), 5xx →
/// [`SendError::Transient`], any other status → [`SendError::Permanent`] with Discord's message
/// and code. Never includes the request's URL or headers.
pub(crate) fn error_from_response(
    status: u16,
    retry_after_header: Option<&str>,
    body: &[u8],
) -> SendError {
    #[derive(Deserialize)]
    struct DiscordError {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        code: Option<i64>,
        #[serde(default)]
        retry_after: Option<f64>,
        #[serde(default)]
        errors: Option<serde_json::Value>,
    }
    let parsed = serde_json::from_slice::<DiscordError>(body).ok();
    if status == 429 {
        let seconds = parsed
            .as_ref()
            .and_then(|e| e.retry_after)
            .or_else(|| retry_after_header.and_then(|h| h.trim().parse::<f64>().ok()));
        let retry_after = seconds
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .map_or(DEFAULT_RETRY_AFTER, |d| d.min(Duration::from_secs(3600)));
        return SendError::RateLimited { retry_after };
    }
    let mut what = match &parsed {
        Some(DiscordError {
            message: Some(m),
            code,
            ..
        }) => match code {
            Some(c) => format!("{} (code {c})", truncate(m, 300)),
            None => truncate(m, 300),
        },
        _ => "no error message".to_string(),
    };
    if let Some(errors) = parsed.as_ref().and_then(|e| e.errors.as_ref()) {
        what += &format!(": {}", truncate(&errors.to_string(), 500));
    }
    if (500..600).contains(&status) {
        SendError::Transient(format!("Discord answered HTTP {status}: {what}"))
    } else {
        SendError::Permanent(format!(
            "Discord refused the message (HTTP {status}): {what}"
        ))
    }
}

/// The body of a 2xx answer; any other answer becomes the [`SendError`] the outbox needs
/// ([`error_from_response`], with the `Retry-After` header), a body that cannot be read a
/// transport error.
pub(crate) async fn read_response(response: reqwest::Response) -> Result<Vec<u8>, SendError> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .bytes()
        .await
        .map_err(|e| error_from_transport(&e))?;
    if (200..300).contains(&status) {
        Ok(body.to_vec())
    } else {
        Err(error_from_response(status, retry_after.as_deref(), &body))
    }
}

/// `payload` as JSON text, for the `payload_json` field of a multipart body.
pub(crate) fn payload_json(payload: &DiscordPayload) -> Result<String, SendError> {
    serde_json::to_string(payload)
        .map_err(|e| SendError::Permanent(format!("cannot encode the Discord message: {e}")))
}

/// A transport failure (no HTTP answer) as the outbox needs it. The text names no URL.
pub(crate) fn error_from_transport(err: &reqwest::Error) -> SendError {
    let err_text = err_chain(err);
    if err.is_builder() {
        SendError::Permanent(format!("cannot build the request to Discord: {err_text}"))
    } else if err.is_timeout() {
        SendError::Transient(format!("Discord did not answer in time: {err_text}"))
    } else {
        SendError::Transient(format!("cannot reach Discord: {err_text}"))
    }
}

/// The error and its causes, without the URL reqwest puts in its own text.
fn err_chain(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = String::new();
    let mut source = err.source();
    while let Some(s) = source {
        if !text.is_empty() {
            text += ": ";
        }
        text += &s.to_string();
        source = s.source();
    }
    if text.is_empty() {
        text = "request failed".to_string();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Field, Section, Tone};
    use proptest::prelude::*;

    fn ids() -> BTreeMap<String, u64> {
        BTreeMap::from([("Ana Lima".to_string(), 111), ("Bo Chen".to_string(), 222)])
    }

    fn assert_within_limits(payloads: &[DiscordPayload]) {
        assert!(!payloads.is_empty());
        for (i, p) in payloads.iter().enumerate() {
            let v = p.limit_violations();
            assert!(v.is_empty(), "payload {i}: {v:?}");
        }
    }

    /// Descriptions and field values of all payloads, in order.
    fn rendered_text(payloads: &[DiscordPayload]) -> String {
        let mut out = String::new();
        for p in payloads {
            for e in &p.embeds {
                if let Some(d) = &e.description {
                    out += d;
                    out += "\n";
                }
                for f in &e.fields {
                    out += &f.value;
                    out += "\n";
                }
            }
        }
        out
    }

    /// Every line and field value of `m` appears in the rendering, in order (possibly cut).
    fn assert_nothing_lost(m: &Message, payloads: &[DiscordPayload]) {
        let text = rendered_text(payloads);
        let mut at = 0;
        for s in &m.sections {
            let max = if s.heading.is_some() {
                limits::FIELD_VALUE
            } else {
                limits::DESCRIPTION
            };
            let mut expected: Vec<String> =
                s.lines.iter().map(|l| truncate(&bullet(l), max)).collect();
            expected.extend(
                s.fields
                    .iter()
                    .map(|f| field_text(&escape_markdown(f.value.trim()), limits::FIELD_VALUE)),
            );
            for e in expected {
                match text[at..].find(&e) {
                    Some(pos) => at += pos + e.len(),
                    None => panic!("lost {e:?}"),
                }
            }
        }
    }

    #[test]
    fn a_short_alert_is_one_embed() {
        let m = Message {
            title: "Acme churn risk".into(),
            tone: Tone::Critical,
            sections: vec![
                Section {
                    heading: None,
                    lines: vec!["Health fell to 31".into(), "NPS detractor".into()],
                    fields: vec![],
                },
                Section {
                    heading: Some("Numbers".into()),
                    lines: vec![],
                    fields: vec![Field {
                        label: "MRR".into(),
                        value: "$1,200.00".into(),
                    }],
                },
            ],
            footer: "rule churn_risk".into(),
            mentions: vec!["Ana Lima".into(), "Zed".into()],
            image: None,
            actions: vec![],
        };
        let out = render(&m, &ids());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].embeds.len(), 1);
        assert_eq!(out[0].content, "Owners: <@111>, Zed");
        assert_eq!(out[0].allowed_mentions.users, ["111"]);
        let e = &out[0].embeds[0];
        assert_eq!(
            e.description.as_deref(),
            Some("• Health fell to 31\n• NPS detractor")
        );
        assert_eq!(e.color, 0xD93025);
        assert_eq!(e.fields.len(), 2);
        assert_eq!(e.fields[0].value, HEADING_VALUE);
        assert!(e.fields[1].inline);
        assert_within_limits(&out);
    }

    #[test]
    fn an_empty_message_is_still_accepted() {
        let out = render(&Message::default(), &BTreeMap::new());
        assert_within_limits(&out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn markdown_in_data_is_escaped() {
        assert_eq!(escape_markdown("acme_*corp*"), r"acme\_\*corp\*");
        assert_eq!(
            escape_markdown("# big\n> quote a>b"),
            "\\# big\n\\> quote a>b"
        );
        assert_eq!(escape_markdown("- item\n-5% - x"), "\\- item\n-5% - x");
    }

    #[test]
    fn many_small_fields_fill_ten_embeds_then_a_new_message() {
        let fields: Vec<Field> = (0..300)
            .map(|i| Field {
                label: format!("k{i}"),
                value: "1".into(),
            })
            .collect();
        let m = Message {
            title: "KPIs".into(),
            sections: vec![Section {
                heading: None,
                lines: vec![],
                fields: fields.clone(),
            }],
            ..Message::default()
        };
        let out = render(&m, &BTreeMap::new());
        assert_within_limits(&out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].embeds.len(), 10);
        assert_eq!(out[1].embeds.len(), 2);
        let names: Vec<&str> = out
            .iter()
            .flat_map(|p| &p.embeds)
            .flat_map(|e| &e.fields)
            .map(|f| f.name.as_str())
            .collect();
        let labels: Vec<&str> = fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(names, labels);
    }

    #[test]
    fn a_line_longer_than_any_slot_is_cut_with_the_marker() {
        let m = Message {
            title: "t".repeat(300),
            sections: vec![Section {
                heading: Some("h".repeat(300)),
                lines: vec!["x".repeat(5000)],
                fields: vec![],
            }],
            footer: "f".repeat(3000),
            ..Message::default()
        };
        let out = render(&m, &BTreeMap::new());
        assert_within_limits(&out);
        let e = &out[0].embeds[0];
        assert!(e.title.as_deref().is_some_and(|t| t.ends_with('…')));
        assert!(e.fields[0].value.ends_with('…'));
        assert_eq!(chars(&e.fields[0].value), limits::FIELD_VALUE);
    }

    #[test]
    fn many_mentions_are_split_within_limits() {
        let ids: BTreeMap<String, u64> = (0..250u64)
            .map(|i| (format!("owner{i}"), 100_000_000_000_000_000 + i))
            .collect();
        let m = Message {
            title: "t".into(),
            mentions: ids.keys().cloned().collect(),
            ..Message::default()
        };
        let out = render(&m, &ids);
        assert_within_limits(&out);
        let pinged: usize = out.iter().map(|p| p.allowed_mentions.users.len()).sum();
        assert_eq!(pinged, 250);
    }

    #[test]
    fn retry_after_comes_from_the_body_or_the_header() {
        let body =
            br#"{"message": "You are being rate limited.", "retry_after": 0.5, "global": false}"#;
        assert_eq!(
            error_from_response(429, Some("1"), body),
            SendError::RateLimited {
                retry_after: Duration::from_millis(500)
            }
        );
        assert_eq!(
            error_from_response(429, Some("2"), b"<html>"),
            SendError::RateLimited {
                retry_after: Duration::from_secs(2)
            }
        );
        assert_eq!(
            error_from_response(429, Some("-3"), b""),
            SendError::RateLimited {
                retry_after: DEFAULT_RETRY_AFTER
            }
        );
        let e = error_from_response(
            403,
            None,
            br#"{"message": "Missing Access", "code": 50001}"#,
        );
        assert_eq!(
            e,
            SendError::Permanent(
                "Discord refused the message (HTTP 403): Missing Access (code 50001)".into()
            )
        );
        assert!(matches!(
            error_from_response(502, None, b""),
            SendError::Transient(_)
        ));
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z0-9 *_#>|~`é€\\n-]{0,40}",
            1 => proptest::collection::vec(any::<char>(), 0..max)
                .prop_map(|cs| cs.into_iter().collect::<String>()),
            1 => (1usize..max).prop_map(|n| "x".repeat(n)),
        ]
    }

    fn section() -> impl Strategy<Value = Section> {
        (
            proptest::option::of(text(400)),
            proptest::collection::vec(text(5000), 0..40),
            proptest::collection::vec(
                (text(300), text(1500)).prop_map(|(label, value)| Field { label, value }),
                0..30,
            ),
        )
            .prop_map(|(heading, lines, fields)| Section {
                heading,
                lines,
                fields,
            })
    }

    fn message() -> impl Strategy<Value = Message> {
        (
            text(400),
            proptest::collection::vec(section(), 0..12),
            text(3000),
            proptest::collection::vec("[A-Z][a-z]{0,8}", 0..5),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(title, sections, footer, mentions, image, buttons)| Message {
                    title,
                    tone: Tone::Warning,
                    sections,
                    footer,
                    mentions,
                    image: image.then(|| Image {
                        filename: "score card.png".into(),
                        alt: "trend".into(),
                        png: vec![1, 2, 3],
                    }),
                    actions: if buttons {
                        crate::notify::Action::for_alert("rule", "acc_1", Some("acc_1"))
                    } else {
                        vec![]
                    },
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_rendering_is_within_limits_and_loses_no_line(m in message()) {
            let mentions: BTreeMap<String, u64> = m
                .mentions
                .iter()
                .take(2)
                .enumerate()
                .map(|(i, n)| (n.clone(), 1000 + i as u64))
                .collect();
            let out = render(&m, &mentions);
            assert_within_limits(&out);
            assert_nothing_lost(&m, &out);
            // Buttons: on the last part only, and there whenever the message has actions.
            let rows: Vec<usize> = out.iter().map(|p| p.components.len()).collect();
            let mut expected = vec![0; out.len()];
            if let Some(last) = expected.last_mut() {
                *last = usize::from(!m.actions.is_empty());
            }
            prop_assert_eq!(rows, expected);
            let title = m.title.trim();
            if !title.is_empty() {
                prop_assert_eq!(out[0].embeds[0].title.clone(), Some(truncate(title, limits::TITLE)));
            }
            if m.image.is_some() {
                prop_assert_eq!(out[0].attachments.len(), 1);
                prop_assert!(out[0].embeds[0].image.is_some());
            }
        }
    }
}
