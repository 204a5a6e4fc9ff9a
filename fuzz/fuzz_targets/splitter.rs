//! Fitting messages into chat platforms' limits: the text helpers every renderer shares
//! (`notify::text::truncate` and `pack_lines`) with any text and limit, and the Discord and
//! Slack renderers (`notify::discord::render`, `notify::slack::render`, what every alert,
//! scorecard and slash-command reply goes through) with any message. The promises checked:
//!
//! - limits are counted in characters (Unicode scalar values), as both platforms count them:
//!   no truncated text and no packed chunk is longer than its limit, no chunk is empty;
//! - nothing is lost: a text within its limit is unchanged, a cut text is a prefix of the
//!   original plus the cut marker, the packed chunks hold every non-empty line in order;
//! - every Discord and Slack payload passes the renderer's own `limit_violations` (Discord's
//!   2000 / 6000 / 10 embeds ..., Slack's 50 blocks, 3000 per section ...), and every line of
//!   the message shows in the Discord payloads, in order.
#![no_main]

use std::collections::BTreeMap;

use cs_pulse::notify::discord::{self, bullet, limits, DiscordPayload};
use cs_pulse::notify::slack::{self, Block, SlackPayload};
use cs_pulse::notify::text::{chars, pack_lines, truncate, CUT_MARKER};
use cs_pulse::notify::{Action, Field, Image, Message, Section, Tone};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// A text, repeated to reach the platforms' limits from a small input.
#[derive(Arbitrary, Debug)]
struct Text {
    text: String,
    repeat: u8,
}

impl Text {
    fn get(&self) -> String {
        self.text.repeat(usize::from(self.repeat % 64) + 1)
    }
}

#[derive(Arbitrary, Debug)]
struct FuzzSection {
    heading: Option<Text>,
    lines: Vec<Text>,
    fields: Vec<(Text, Text)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// For the text helpers.
    lines: Vec<Text>,
    max: u16,
    /// For the renderers.
    title: Text,
    tone: u8,
    sections: Vec<FuzzSection>,
    /// The sections are repeated this many times more (many blocks and embeds).
    copies: u8,
    footer: Text,
    mentions: Vec<String>,
    image: Option<(String, String)>,
    buttons: Option<(String, String)>,
}

fn check_text_helpers(lines: &[String], max: usize) {
    for l in lines {
        let t = truncate(l, max);
        assert!(chars(&t) <= max, "truncate({l:?}, {max}) = {t:?}");
        if chars(l) <= max {
            assert_eq!(&t, l);
        } else if max > 0 {
            let kept = t
                .strip_suffix(CUT_MARKER)
                .expect("a cut text ends with the marker");
            assert!(l.starts_with(kept), "{t:?} is not a cut of {l:?}");
        }
    }
    let chunks = pack_lines(lines, max);
    for c in &chunks {
        assert!(!c.is_empty(), "an empty chunk");
        assert!(chars(c) <= max, "a chunk of {} > {max}: {c:?}", chars(c));
    }
    // Lines keep their order; only empty lines may go (at the start of a chunk).
    let non_empty = |s: String| -> Vec<String> {
        s.split('\n')
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let expected: Vec<String> = lines.iter().map(|l| truncate(l, max)).collect();
    assert_eq!(
        non_empty(chunks.join("\n")),
        non_empty(expected.join("\n")),
        "pack_lines({lines:?}, {max})"
    );
}

/// Descriptions and field values of all payloads, in order.
fn discord_text(payloads: &[DiscordPayload]) -> String {
    let mut out = String::new();
    for p in payloads {
        for e in &p.embeds {
            for t in e
                .description
                .iter()
                .chain(e.fields.iter().map(|f| &f.value))
            {
                out += t;
                out += "\n";
            }
        }
    }
    out
}

fn check_discord(m: &Message) {
    let ids: BTreeMap<String, u64> = m
        .mentions
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, n)| (n.clone(), 1_000 + i as u64))
        .collect();
    let out = discord::render(m, &ids);
    assert!(!out.is_empty(), "no Discord payload");
    for (i, p) in out.iter().enumerate() {
        let v = p.limit_violations();
        assert!(v.is_empty(), "Discord payload {i}: {v:?}");
    }
    let text = discord_text(&out);
    let mut at = 0;
    for s in &m.sections {
        let max = if s.heading.is_some() {
            limits::FIELD_VALUE
        } else {
            limits::DESCRIPTION
        };
        for l in &s.lines {
            let want = truncate(&bullet(l), max);
            match text[at..].find(&want) {
                Some(pos) => at += pos + want.len(),
                None => panic!("Discord lost the line {want:?}"),
            }
        }
    }
}

/// The text of every block of every payload.
fn slack_text(payloads: &[SlackPayload]) -> String {
    let mut out = String::new();
    for p in payloads {
        for b in &p.blocks {
            match b {
                Block::Header { text } => out += text.text(),
                Block::Section { text, fields } => {
                    for t in text.iter().chain(fields) {
                        out += t.text();
                        out += "\n";
                    }
                }
                Block::Context { elements } => {
                    for t in elements {
                        out += t.text();
                    }
                }
                Block::Actions { .. } => {}
            }
            out += "\n";
        }
    }
    out
}

fn check_slack(m: &Message) {
    let ids: BTreeMap<String, String> = m
        .mentions
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, n)| (n.clone(), format!("U0{i}ABCDEF")))
        .collect();
    let out = slack::render(m, &ids);
    assert!(!out.is_empty(), "no Slack payload");
    for (i, p) in out.iter().enumerate() {
        let v = slack::limit_violations(p);
        assert!(v.is_empty(), "Slack payload {i}: {v:?}");
    }
    // Lines that need no escaping and no cutting show as written.
    let text = slack_text(&out);
    for l in m.sections.iter().flat_map(|s| &s.lines) {
        let plain = l.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ');
        if plain && !l.trim().is_empty() && l.len() < 1000 {
            assert!(text.contains(l.as_str()), "Slack lost the line {l:?}");
        }
    }
}

fn message(input: &Input) -> Message {
    let sections: Vec<Section> = input
        .sections
        .iter()
        .map(|s| Section {
            heading: s.heading.as_ref().map(Text::get),
            lines: s.lines.iter().map(Text::get).collect(),
            fields: s
                .fields
                .iter()
                .map(|(l, v)| Field {
                    label: l.get(),
                    value: v.get(),
                })
                .collect(),
        })
        .collect();
    let copies = usize::from(input.copies % 8) + 1;
    let tones = [
        Tone::Critical,
        Tone::Warning,
        Tone::Info,
        Tone::Good,
        Tone::Neutral,
    ];
    Message {
        title: input.title.get(),
        tone: tones[usize::from(input.tone) % tones.len()],
        sections: std::iter::repeat_n(sections, copies).flatten().collect(),
        footer: input.footer.get(),
        mentions: input.mentions.clone(),
        image: input.image.as_ref().map(|(filename, alt)| Image {
            filename: filename.clone(),
            alt: alt.clone(),
            png: vec![0x89, b'P', b'N', b'G'],
        }),
        actions: input
            .buttons
            .as_ref()
            .map(|(rule, subject)| Action::for_alert(rule, subject, Some(subject)))
            .unwrap_or_default(),
    }
}

fuzz_target!(|input: Input| {
    let lines: Vec<String> = input.lines.iter().map(Text::get).collect();
    check_text_helpers(&lines, usize::from(input.max % 8192));
    let m = message(&input);
    check_discord(&m);
    check_slack(&m);
});
