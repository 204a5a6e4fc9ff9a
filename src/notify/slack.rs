//! Slack's Block Kit rendering of a channel-neutral [`Message`]: pure, so that the exact JSON a
//! Slack channel receives is pinned by snapshot tests, and so that every Block Kit limit is kept
//! here, by splitting into more payloads or cutting with [`CUT_MARKER`](super::text::CUT_MARKER),
//! rather than discovered as an `invalid_blocks` error at 3 a.m.
//!
//! What the renderer promises:
//!
//! - All user text (titles, lines, field labels and values, owner names, the footer) is escaped
//!   for mrkdwn (`&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`), so an account called
//!   `<script> & Co.` can neither forge a link nor a mention; broadcasts written in the data
//!   (`@channel`, `@here`, `@everyone`) get a word joiner after the `@`, and every mrkdwn text is
//!   `verbatim`, so Slack does not parse mentions or links of its own accord. The only mentions
//!   are the owners found in the `mentions` map, as `<@U…>`.
//! - Every payload holds: at most [`MAX_BLOCKS`] blocks adding up to at most
//!   [`MESSAGE_TEXT_BUDGET`] characters (see there), a header of at most [`HEADER_MAX`]
//!   characters, section texts of at most [`SECTION_TEXT_MAX`], at most [`FIELDS_MAX`] fields
//!   per section of at most [`FIELD_TEXT_MAX`] each, at most [`CONTEXT_ELEMENTS_MAX`] context
//!   elements, and a non-empty top-level `text` (the notification fallback) of at most
//!   [`FALLBACK_TEXT_MAX`]. [`limit_violations`] checks a payload against all of them.
//! - No line is lost: a long message becomes several payloads, in order; only a single line
//!   longer than a whole section is cut.
//! - Buttons: the message's actions become one `actions` block of buttons at the end of the
//!   last payload (`action_id` = [`Action::id`], `value` = the action's target), under what they
//!   act on. Only the bot sink of a Slack app that answers interactions keeps them.
//! - Images: an incoming webhook cannot upload files, so the image is shown as its `alt` text in
//!   a context line. The bot sink keeps that line (the message reads the same everywhere) and
//!   uploads the picture itself next to it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::text::{chars, pack_lines, CUT_MARKER};
use super::{Action, ActionKind, Field, Message};

/// Blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Characters in a header block's plain text.
pub const HEADER_MAX: usize = 150;
/// Characters in a section block's text.
pub const SECTION_TEXT_MAX: usize = 3000;
/// Fields in one section block.
pub const FIELDS_MAX: usize = 10;
/// Characters in one field's text.
pub const FIELD_TEXT_MAX: usize = 2000;
/// Elements in one context block.
pub const CONTEXT_ELEMENTS_MAX: usize = 10;
/// Characters in one context element's text (a text object's limit).
pub const CONTEXT_TEXT_MAX: usize = 3000;
/// Characters of block text in one message, counting [`BLOCK_OVERHEAD`] per block. Slack refuses
/// messages whose blocks add up to somewhat more than 12,000 characters (`msg_blocks_too_long`;
/// the cumulative limit is not documented beyond the markdown block's 12,000), so cs-pulse stays
/// well below.
pub const MESSAGE_TEXT_BUDGET: usize = 10_000;
/// What each block counts against [`MESSAGE_TEXT_BUDGET`] besides its text.
pub const BLOCK_OVERHEAD: usize = 50;
/// Characters of field text in one section block, so that one block fits any message.
pub const FIELDS_TEXT_BUDGET: usize = 4_000;
/// Elements in one actions block.
pub const ACTION_ELEMENTS_MAX: usize = 25;
/// Characters in a button's text.
pub const BUTTON_TEXT_MAX: usize = 75;
/// Characters in a button's `action_id`.
pub const ACTION_ID_MAX: usize = 255;
/// Characters in a button's `value`.
pub const BUTTON_VALUE_MAX: usize = 2000;
/// Characters of the top-level `text` we send: Slack shows it in notifications and to clients
/// that cannot render blocks, and recommends keeping it short (it cuts at 40,000).
pub const FALLBACK_TEXT_MAX: usize = 3000;

/// One Slack message: the JSON body of an incoming-webhook POST, and (with `channel` added) of
/// `chat.postMessage` / `chat.update`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlackPayload {
    /// The notification fallback (mrkdwn, escaped). Never empty.
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Block>,
}

/// The Block Kit blocks cs-pulse uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// The message's title, large (plain text only).
    Header { text: TextObject },
    /// Body text and/or label–value fields shown in two columns.
    Section {
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<TextObject>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        fields: Vec<TextObject>,
    },
    /// Small print: the footer, an image's description.
    Context { elements: Vec<TextObject> },
    /// Buttons; a press is sent to the app's interactivity URL.
    Actions { elements: Vec<ButtonElement> },
}

/// A button element of an actions block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ButtonElement {
    /// Always `button`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Plain text.
    pub text: TextObject,
    /// [`Action::id`], read back with [`Action::parse_id`].
    pub action_id: String,
    /// The action's target (`rule:subject`, or an account id).
    pub value: String,
    /// `primary` (green) on Acknowledge; the others are default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<&'static str>,
}

/// The actions block of `actions`, Acknowledge as the primary button; none without actions.
/// Actions whose id or target would break Slack's limits are left out.
pub fn actions_block(actions: &[Action]) -> Option<Block> {
    let elements: Vec<ButtonElement> = actions
        .iter()
        .map(|a| (a, a.id()))
        .filter(|(a, id)| chars(id) <= ACTION_ID_MAX && chars(&a.target) <= BUTTON_VALUE_MAX)
        .take(ACTION_ELEMENTS_MAX)
        .map(|(a, action_id)| ButtonElement {
            kind: "button",
            text: TextObject::plain(a.label().to_string()),
            action_id,
            value: a.target.clone(),
            style: (a.kind == ActionKind::Ack).then_some("primary"),
        })
        .collect();
    (!elements.is_empty()).then_some(Block::Actions { elements })
}

/// A Block Kit text object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextObject {
    PlainText {
        text: String,
        emoji: bool,
    },
    /// `verbatim: true`: Slack does not turn names, channels or URLs into links by itself; the
    /// explicit `<@U…>` mentions we write still notify.
    Mrkdwn {
        text: String,
        verbatim: bool,
    },
}

impl TextObject {
    fn plain(text: String) -> TextObject {
        TextObject::PlainText { text, emoji: true }
    }

    fn mrkdwn(text: String) -> TextObject {
        TextObject::Mrkdwn {
            text,
            verbatim: true,
        }
    }

    /// The text inside.
    pub fn text(&self) -> &str {
        match self {
            TextObject::PlainText { text, .. } | TextObject::Mrkdwn { text, .. } => text,
        }
    }
}

/// Renders `message` as one or more Slack payloads, in the order they are to be posted.
/// `mentions` maps owner names (as in the data) to Slack member ids (`U0123ABCD`); owners not
/// in it (or with an id that is not a plain member id) are shown by name.
pub fn render(message: &Message, mentions: &BTreeMap<String, String>) -> Vec<SlackPayload> {
    let title = title_text(message);
    let mut blocks = vec![];
    let header = truncate_plain(&neutralise(message.title.trim()), HEADER_MAX);
    if !header.trim().is_empty() {
        blocks.push(Block::Header {
            text: TextObject::plain(header),
        });
    }
    for section in &message.sections {
        section_blocks(
            section.heading.as_deref(),
            &section.lines,
            &section.fields,
            &mut blocks,
        );
    }
    if !message.mentions.is_empty() {
        let owners: Vec<String> = message
            .mentions
            .iter()
            .map(|name| mention(name, mentions))
            .collect();
        // A list that outgrows a section continues in the next, never cutting a mention.
        let mut text = "*Owners:* ".to_string();
        for (i, owner) in owners.iter().enumerate() {
            if i > 0 && chars(&text) + 2 + chars(owner) > SECTION_TEXT_MAX {
                blocks.push(Block::Section {
                    text: Some(TextObject::mrkdwn(std::mem::take(&mut text))),
                    fields: vec![],
                });
            } else if i > 0 {
                text += ", ";
            }
            text += owner;
        }
        blocks.push(Block::Section {
            text: Some(TextObject::mrkdwn(text)),
            fields: vec![],
        });
    }
    let mut small_print = vec![];
    if let Some(image) = &message.image {
        let alt = if image.alt.trim().is_empty() {
            &image.filename
        } else {
            &image.alt
        };
        small_print.push(TextObject::mrkdwn(fit(
            &format!("Image: {alt}"),
            CONTEXT_TEXT_MAX,
        )));
    }
    if !message.footer.trim().is_empty() {
        small_print.push(TextObject::mrkdwn(fit(&message.footer, CONTEXT_TEXT_MAX)));
    }
    if !small_print.is_empty() {
        blocks.push(Block::Context {
            elements: small_print,
        });
    }
    // Last, so that the split puts it at the end of the last payload.
    blocks.extend(actions_block(&message.actions));

    let parts = split(blocks);
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, blocks)| SlackPayload {
            text: fallback(&title, i, n),
            blocks,
        })
        .collect()
}

/// `blocks` in order, in as few messages as the block count and the text budget allow.
fn split(blocks: Vec<Block>) -> Vec<Vec<Block>> {
    let mut parts = vec![vec![]];
    let mut cost = 0;
    for block in blocks {
        let c = block_cost(&block);
        let full = parts.last().is_some_and(|p: &Vec<Block>| {
            p.len() >= MAX_BLOCKS || (!p.is_empty() && cost + c > MESSAGE_TEXT_BUDGET)
        });
        if full {
            parts.push(vec![]);
            cost = 0;
        }
        cost += c;
        if let Some(part) = parts.last_mut() {
            part.push(block);
        }
    }
    parts
}

/// What `block` counts against [`MESSAGE_TEXT_BUDGET`].
pub fn block_cost(block: &Block) -> usize {
    let texts: usize = match block {
        Block::Header { text } => chars(text.text()),
        Block::Section { text, fields } => text.iter().chain(fields).map(|t| chars(t.text())).sum(),
        Block::Context { elements } => elements.iter().map(|t| chars(t.text())).sum(),
        Block::Actions { elements } => elements.iter().map(|b| chars(b.text.text())).sum(),
    };
    texts + BLOCK_OVERHEAD
}

/// Every Block Kit limit `payload` breaks, described; empty when Slack will accept it.
pub fn limit_violations(payload: &SlackPayload) -> Vec<String> {
    let mut out = vec![];
    let text_len = chars(&payload.text);
    if payload.text.trim().is_empty() || text_len > FALLBACK_TEXT_MAX {
        out.push(format!("fallback text has {text_len} characters"));
    }
    if payload.blocks.len() > MAX_BLOCKS {
        out.push(format!("{} blocks", payload.blocks.len()));
    }
    let cost: usize = payload.blocks.iter().map(block_cost).sum();
    if cost > MESSAGE_TEXT_BUDGET {
        out.push(format!(
            "blocks cost {cost} of the {MESSAGE_TEXT_BUDGET} budget"
        ));
    }
    let check = |what: &str, t: &TextObject, max: usize, out: &mut Vec<String>| {
        let n = chars(t.text());
        if n > max || t.text().trim().is_empty() {
            out.push(format!("{what} text has {n} characters (1..={max})"));
        }
    };
    for (i, block) in payload.blocks.iter().enumerate() {
        match block {
            Block::Header { text } => {
                check(&format!("block {i}: header"), text, HEADER_MAX, &mut out);
                if !matches!(text, TextObject::PlainText { .. }) {
                    out.push(format!("block {i}: header is not plain text"));
                }
            }
            Block::Section { text, fields } => {
                if text.is_none() && fields.is_empty() {
                    out.push(format!("block {i}: section without text or fields"));
                }
                if let Some(t) = text {
                    check(
                        &format!("block {i}: section"),
                        t,
                        SECTION_TEXT_MAX,
                        &mut out,
                    );
                }
                if fields.len() > FIELDS_MAX {
                    out.push(format!("block {i}: {} fields", fields.len()));
                }
                for f in fields {
                    check(&format!("block {i}: field"), f, FIELD_TEXT_MAX, &mut out);
                }
            }
            Block::Context { elements } => {
                if elements.is_empty() || elements.len() > CONTEXT_ELEMENTS_MAX {
                    out.push(format!("block {i}: {} context elements", elements.len()));
                }
                for e in elements {
                    check(
                        &format!("block {i}: context"),
                        e,
                        CONTEXT_TEXT_MAX,
                        &mut out,
                    );
                }
            }
            Block::Actions { elements } => {
                if elements.is_empty() || elements.len() > ACTION_ELEMENTS_MAX {
                    out.push(format!("block {i}: {} action elements", elements.len()));
                }
                for b in elements {
                    check(
                        &format!("block {i}: button"),
                        &b.text,
                        BUTTON_TEXT_MAX,
                        &mut out,
                    );
                    if !matches!(b.text, TextObject::PlainText { .. }) {
                        out.push(format!("block {i}: button text is not plain text"));
                    }
                    let (id, value) = (chars(&b.action_id), chars(&b.value));
                    if id == 0 || id > ACTION_ID_MAX {
                        out.push(format!("block {i}: action_id has {id} characters"));
                    }
                    if value > BUTTON_VALUE_MAX {
                        out.push(format!("block {i}: button value has {value} characters"));
                    }
                }
            }
        }
    }
    out
}

/// `text` escaped for mrkdwn: `&`, `<` and `>` as entities, broadcasts (`@channel`, `@here`,
/// `@everyone`) broken with a word joiner so that they stay plain words.
pub fn escape(text: &str) -> String {
    neutralise(text).chars().map(escaped_char).collect()
}

/// The zero-width character put between `@` and a broadcast word.
const WORD_JOINER: char = '\u{2060}';

const BROADCASTS: [&str; 3] = ["channel", "here", "everyone"];

/// `text` with a word joiner after each `@` that starts a broadcast word (any case).
fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        out.push(c);
        if c == '@' {
            let rest = &text[i + 1..];
            let is_broadcast = BROADCASTS.iter().any(|w| {
                rest.get(..w.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(w))
            });
            if is_broadcast {
                out.push(WORD_JOINER);
            }
        }
    }
    out
}

fn escaped_char(c: char) -> String {
    match c {
        '&' => "&amp;".to_string(),
        '<' => "&lt;".to_string(),
        '>' => "&gt;".to_string(),
        c => c.to_string(),
    }
}

/// `raw` escaped for mrkdwn and cut to at most `max` characters, never inside an entity, ending
/// with the cut marker when anything was cut.
fn fit(raw: &str, max: usize) -> String {
    fit_escaped(&neutralise(&slack_bold(raw)), max)
}

/// `**bold**` (the neutral text's one markup) as Slack's `*bold*`.
fn slack_bold(raw: &str) -> String {
    super::text::bold_runs(raw)
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

/// Like [`fit`] for text already neutralised (escaping is then per character).
fn fit_escaped(neutral: &str, max: usize) -> String {
    let full: String = neutral.chars().map(escaped_char).collect();
    if chars(&full) <= max {
        return full;
    }
    let budget = max.saturating_sub(chars(CUT_MARKER));
    let mut out = String::new();
    let mut len = 0;
    for c in neutral.chars() {
        let piece = escaped_char(c);
        let n = chars(&piece);
        if len + n > budget {
            break;
        }
        out += &piece;
        len += n;
    }
    if max == 0 {
        return String::new();
    }
    out.trim_end().to_string() + CUT_MARKER
}

/// Plain text cut to `max` characters with the marker (plain text needs no escaping: Slack
/// parses neither links nor mentions in it).
fn truncate_plain(text: &str, max: usize) -> String {
    super::text::truncate(text, max)
}

/// The blocks of one section: a heading in bold over bulleted lines, packed into section texts;
/// then its fields, ten per section block.
fn section_blocks(heading: Option<&str>, lines: &[String], fields: &[Field], out: &mut Vec<Block>) {
    let heading = heading
        .filter(|h| !h.trim().is_empty())
        .map(|h| format!("*{}*", fit(h.trim(), SECTION_TEXT_MAX - 2)));
    let mut items: Vec<String> = vec![];
    for line in lines {
        let mut rendered = String::new();
        let mut parts = line.split('\n');
        rendered += "• ";
        rendered += parts.next().unwrap_or_default();
        for more in parts {
            rendered += "\n   ";
            rendered += more;
        }
        // `• ` and the indents are not user text: escape only what came from the line.
        items.push(bullet(&rendered));
    }
    let mut heading_pending = heading;
    if !items.is_empty() {
        if let Some(h) = heading_pending.take() {
            items.insert(0, h);
        }
        for chunk in pack_lines(&items, SECTION_TEXT_MAX) {
            out.push(Block::Section {
                text: Some(TextObject::mrkdwn(chunk)),
                fields: vec![],
            });
        }
    }
    let field_texts: Vec<TextObject> = fields
        .iter()
        .map(|f| TextObject::mrkdwn(field_text(f)))
        .collect();
    let mut chunk: Vec<TextObject> = vec![];
    let mut chunk_len = 0;
    for field in field_texts {
        let len = chars(field.text());
        if chunk.len() >= FIELDS_MAX || (!chunk.is_empty() && chunk_len + len > FIELDS_TEXT_BUDGET)
        {
            out.push(Block::Section {
                text: heading_pending.take().map(TextObject::mrkdwn),
                fields: std::mem::take(&mut chunk),
            });
            chunk_len = 0;
        }
        chunk_len += len;
        chunk.push(field);
    }
    if !chunk.is_empty() {
        out.push(Block::Section {
            text: heading_pending.take().map(TextObject::mrkdwn),
            fields: chunk,
        });
    }
    if let Some(h) = heading_pending {
        out.push(Block::Section {
            text: Some(TextObject::mrkdwn(h)),
            fields: vec![],
        });
    }
}

/// A bullet line (`• ` + the line, continuation lines indented) escaped and cut to a section.
fn bullet(rendered: &str) -> String {
    let text = fit(rendered, SECTION_TEXT_MAX);
    if text.trim() == "•" {
        "• —".to_string()
    } else {
        text
    }
}

/// A field as `*label*` over its value, escaped, within the field limit; never empty.
fn field_text(field: &Field) -> String {
    let label = field.label.trim();
    let value = field.value.trim();
    match (label.is_empty(), value.is_empty()) {
        (true, true) => "—".to_string(),
        (false, true) => format!("*{}*", fit(label, FIELD_TEXT_MAX - 2)),
        (true, false) => fit(value, FIELD_TEXT_MAX),
        (false, false) => {
            let label = fit(label, FIELD_TEXT_MAX / 2);
            let room = FIELD_TEXT_MAX - chars(&label) - 3;
            format!("*{label}*\n{}", fit(value, room))
        }
    }
}

/// An owner as a Slack mention when `mentions` has a member id for them, else by name.
fn mention(name: &str, mentions: &BTreeMap<String, String>) -> String {
    match mentions.get(name) {
        Some(id) if is_member_id(id) => format!("<@{id}>"),
        _ => fit(name, 200),
    }
}

/// `U0123ABCD` or `W0123ABCD`: the only ids written inside `<@…>`, so that a typo in the config
/// cannot break the markup.
fn is_member_id(id: &str) -> bool {
    (2..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The title as escaped mrkdwn, or a stand-in for an untitled message.
fn title_text(message: &Message) -> String {
    let title = message.title.trim();
    if !title.is_empty() {
        return title.to_string();
    }
    message
        .sections
        .iter()
        .flat_map(|s| s.heading.iter().chain(s.lines.iter()))
        .map(|t| t.trim())
        .find(|t| !t.is_empty())
        .or_else(|| Some(message.footer.trim()).filter(|f| !f.is_empty()))
        .unwrap_or("cs-pulse")
        .to_string()
}

/// The top-level `text` of part `i` of `n`.
fn fallback(title: &str, i: usize, n: usize) -> String {
    let first_line = title.lines().next().unwrap_or_default();
    if n == 1 {
        return fit(first_line, FALLBACK_TEXT_MAX);
    }
    let suffix = if i == 0 {
        format!(" (1/{n})")
    } else {
        format!(" (continued, {}/{n})", i + 1)
    };
    fit(first_line, FALLBACK_TEXT_MAX - chars(&suffix)) + &suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_broadcasts() {
        assert_eq!(escape("<script> & Co."), "&lt;script&gt; &amp; Co.");
        assert_eq!(
            escape("ping @here and @Channel"),
            "ping @\u{2060}here and @\u{2060}Channel"
        );
        assert_eq!(escape("mail a@b.com"), "mail a@b.com");
        assert_eq!(escape("<!channel>"), "&lt;!channel&gt;");
    }

    #[test]
    fn fits_without_cutting_an_entity() {
        let cut = fit(&"&".repeat(10), 12);
        assert_eq!(cut, "&amp;&amp;…");
        assert!(chars(&cut) <= 12);
        assert_eq!(fit("short", 10), "short");
    }

    #[test]
    fn member_ids_only() {
        assert!(is_member_id("U0123ABCD"));
        assert!(!is_member_id("U01>x"));
        assert!(!is_member_id(""));
    }
}
