//! How problems in the files people write (the config file, health models, rule files) are shown:
//! every problem at once, each with `file:line:column`, the offending line with a caret under the
//! exact spot, and a hint saying what to do (DESIGN.md, habit 2).
//!
//! Validators push [`Diagnostic`]s (a byte span into the file's text, a message, a hint) into a
//! [`Diagnostics`] that also keeps each file's text, so that its `Display` renders everything on
//! its own. Rendering is plain text (no colors) and deterministic, so snapshot tests pin it.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{Level, Renderer, Snippet};

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it (`config.toml`, `rules/health.toml`).
    pub file: String,
    /// Byte offsets into the file's text; `None` when the problem is about the file as a whole.
    pub span: Option<Range<usize>>,
    /// What is wrong, one line.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The bytes at `span` may be a secret: they are shown as `*`.
    pub conceal: bool,
}

impl Diagnostic {
    /// A problem with the file as a whole; add a span with [`Diagnostic::at`].
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.into(),
            span: None,
            message: message.into(),
            hint: None,
            conceal: false,
        }
    }

    /// Shows the bytes at the span as `*` (a value that may be a secret pasted into a file).
    pub fn concealed(mut self) -> Diagnostic {
        self.conceal = true;
        self
    }

    /// Points the problem at these bytes of the file.
    pub fn at(mut self, span: Range<usize>) -> Diagnostic {
        self.span = Some(span);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the hint when there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Diagnostic {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }
}

/// Every problem found in one or more files, with the files' text so it can render itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    sources: BTreeMap<String, String>,
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// An empty collection that knows the text of `file` (needed to show snippets).
    pub fn for_source(file: impl Into<String>, text: impl Into<String>) -> Diagnostics {
        let mut d = Diagnostics::new();
        d.add_source(file, text);
        d
    }

    /// Records the text of `file`; diagnostics of a file without text render without a snippet.
    pub fn add_source(&mut self, file: impl Into<String>, text: impl Into<String>) {
        self.sources.insert(file.into(), text.into());
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.list.push(diagnostic);
    }

    /// Moves every diagnostic and source text of `other` into `self`.
    pub fn append(&mut self, other: Diagnostics) {
        self.sources.extend(other.sources);
        self.list.extend(other.list);
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }

    /// The text recorded for `file`.
    pub fn source(&self, file: &str) -> Option<&str> {
        self.sources.get(file).map(String::as_str)
    }

    /// `Ok(value)` when nothing was reported, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// `file:line:column` of a diagnostic (`file` alone without a span), for one-line logs.
    pub fn location(&self, d: &Diagnostic) -> String {
        match (&d.span, self.source(&d.file)) {
            (Some(span), Some(text)) => {
                let (line, col) = line_col(text, span.start);
                format!("{}:{line}:{col}", d.file)
            }
            _ => d.file.clone(),
        }
    }

    /// Every diagnostic as plain text, then a count line (`2 errors in config.toml`). Files come
    /// in the order they were first reported; within a file, problems with the whole file come
    /// first, then the others from the top of the file down.
    pub fn render(&self) -> String {
        let mut files: Vec<&str> = Vec::new();
        for d in &self.list {
            if !files.contains(&d.file.as_str()) {
                files.push(&d.file);
            }
        }
        let mut ordered: Vec<&Diagnostic> = self.list.iter().collect();
        ordered.sort_by_key(|d| {
            let file = files.iter().position(|f| *f == d.file).unwrap_or(0);
            (file, d.span.as_ref().map(|s| s.start))
        });
        let mut out = String::new();
        for d in ordered {
            out.push_str(&render_one(d, self.source(&d.file)));
            out.push_str("\n\n");
        }
        let n = self.list.len();
        out.push_str(&format!(
            "{n} error{} in {}",
            if n == 1 { "" } else { "s" },
            files.join(", ")
        ));
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        Diagnostics {
            sources: BTreeMap::new(),
            list: iter.into_iter().collect(),
        }
    }
}

/// A file that could not be read, or was read and is invalid.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
}

/// Reads a text file for parsing, mapping the I/O error to [`LoadError::Read`].
pub fn read_source(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The 1-based line and column (in characters) of a byte offset; offsets past the end or inside
/// a character are moved back to the nearest character boundary.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Where a span is shown: the line it starts on (1-based number and text without its line
/// break) and the span relative to that line, clamped to it, never empty.
struct Located {
    line_number: usize,
    line: String,
    span: Range<usize>,
}

fn locate(text: &str, span: &Range<usize>) -> Located {
    let mut start = floor_char_boundary(text, span.start);
    // A span at the very end (an unexpected end of file) is shown after the last written
    // character, not on an empty last line.
    if start == text.len() {
        start = text.trim_end().len();
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let mut line = text[line_start..line_end].to_string();
    if line.ends_with('\r') {
        line.pop();
    }
    let rel_start = (start - line_start).min(line.len());
    let end = ceil_char_boundary(text, span.end.max(start));
    let mut rel_end = (end.min(line_end) - line_start).min(line.len());
    if rel_end <= rel_start {
        // An empty span, or one at the end of the line: one caret just after the text.
        match line[rel_start..].chars().next() {
            Some(c) => rel_end = rel_start + c.len_utf8(),
            None => {
                line.push(' ');
                rel_end = rel_start + 1;
            }
        }
    }
    let line_number = text[..line_start].matches('\n').count() + 1;
    let (line, span) = displayable(&line, rel_start..rel_end);
    Located {
        line_number,
        line,
        span,
    }
}

/// The most bytes of a line shown when its span falls in the line's indentation.
const INDENTED_SPAN_WINDOW: usize = 100;

/// The line as it is shown, with `span` moved along: a tab becomes four spaces, a control
/// character U+FFFD, other whitespace a space. annotate-snippets counts a tab as four columns
/// of indentation but places carets by display width, where tabs and control characters count
/// 0: carets were misplaced. And on a line wider than its terminal width with the span inside
/// the indentation, it subtracts with overflow, so such a line is shown as a window from just
/// before the span (both found by the `config` fuzz target).
fn displayable(line: &str, span: Range<usize>) -> (String, Range<usize>) {
    let mut out = String::with_capacity(line.len());
    let (mut start, mut end) = (0, 0);
    for (i, c) in line.char_indices() {
        if i == span.start {
            start = out.len();
        }
        if i == span.end {
            end = out.len();
        }
        match c {
            '\t' => out.push_str("    "),
            c if c.is_control() => out.push('\u{FFFD}'),
            c if c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    if span.start >= line.len() {
        start = out.len();
    }
    if span.end >= line.len() {
        end = out.len();
    }
    // The indentation is ASCII spaces now, so any offset in it is a character boundary.
    let indent = out.len() - out.trim_start().len();
    if start < indent && out.len() > INDENTED_SPAN_WINDOW {
        let from = start.saturating_sub(INDENTED_SPAN_WINDOW / 5);
        let mut to = from + INDENTED_SPAN_WINDOW;
        while !out.is_char_boundary(to) {
            to -= 1;
        }
        out = out[from..to].to_string();
        start -= from;
        end = end.min(to) - from;
    }
    (out, start..end.max(start + 1))
}

/// `text` with the bytes of `span` replaced by `*` (the whole line's rest when the span does
/// not fall on character boundaries).
fn conceal(text: &str, span: &Range<usize>) -> String {
    let end = span.end.min(text.len());
    let start = span.start.min(end);
    match (text.get(..start), text.get(end..)) {
        (Some(head), Some(tail)) => format!("{head}{}{tail}", "*".repeat(end - start)),
        _ => text
            .lines()
            .map(|l| "*".repeat(l.len()))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn render_one(d: &Diagnostic, text: Option<&str>) -> String {
    // Messages are one line: a line break would break the layout.
    let message = d.message.replace('\n', " ");
    let hint = d.hint.as_ref().map(|h| h.replace('\n', " "));
    let renderer = Renderer::plain();
    let mut msg = Level::Error.title(&message);
    let masked;
    let text = match (&d.span, text) {
        (Some(span), Some(text)) if d.conceal => {
            masked = conceal(text, span);
            Some(masked.as_str())
        }
        _ => text,
    };
    let located = match (&d.span, text) {
        (Some(span), Some(text)) => Some(locate(text, span)),
        _ => None,
    };
    if let Some(l) = &located {
        msg = msg.snippet(
            Snippet::source(&l.line)
                .line_start(l.line_number)
                .origin(&d.file)
                .annotation(Level::Error.span(l.span.clone())),
        );
    }
    if let Some(h) = &hint {
        msg = msg.footer(Level::Help.title(h));
    }
    let rendered = renderer.render(msg).to_string();
    if located.is_some() {
        return rendered;
    }
    // Without a span, annotate-snippets shows no origin: add it in the same style.
    let mut lines = rendered.lines();
    let mut out = String::new();
    if let Some(first) = lines.next() {
        out.push_str(first);
    }
    out.push_str(&format!("\n --> {}", d.file));
    for l in lines {
        out.push('\n');
        out.push_str(l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let t = "a = 1\nbé = 'x'\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        // After the two-byte é.
        assert_eq!(line_col(t, 9), (2, 3));
        // Inside é: moved back to its start.
        assert_eq!(line_col(t, 8), (2, 2));
        assert_eq!(line_col(t, 1000), (3, 1));
    }

    #[test]
    fn renders_every_kind_of_span_without_panicking() {
        let text = "a = 1\nbé = 'x'\r\n[t]\nc = 3";
        let spans = [
            0..1,
            6..6,
            7..8,
            8..9,
            6..1000,
            text.len()..text.len(),
            1000..2000,
            Range { start: 5, end: 3 },
        ];
        for span in spans {
            let mut d = Diagnostics::for_source("f.toml", text);
            d.push(
                Diagnostic::new("f.toml", "bad")
                    .at(span.clone())
                    .hint("fix"),
            );
            let out = d.render();
            assert!(out.contains(" --> f.toml:"), "{span:?}: {out}");
            assert!(out.ends_with("1 error in f.toml"));
        }
        let mut d = Diagnostics::for_source("e.toml", "");
        d.push(Diagnostic::new("e.toml", "empty").at(0..0));
        d.push(Diagnostic::new("e.toml", "whole file"));
        assert!(d.render().contains(" --> e.toml\n"), "{}", d.render());
    }

    #[test]
    fn several_files_in_report_order_sorted_by_position() {
        let mut d = Diagnostics::for_source("b.toml", "x = 1\ny = 2\n");
        d.add_source("a.toml", "z = 3\n");
        d.push(Diagnostic::new("b.toml", "second line").at(6..7));
        d.push(Diagnostic::new("a.toml", "in a").at(0..1));
        d.push(Diagnostic::new("b.toml", "first line").at(0..1));
        let out = d.render();
        let pos = |s: &str| out.find(s).unwrap();
        assert!(pos("first line") < pos("second line"));
        assert!(pos("second line") < pos("in a"));
        assert!(out.contains(" --> b.toml:2:1"));
        assert!(out.ends_with("3 errors in b.toml, a.toml"), "{out}");
        assert_eq!(d.location(d.iter().next().unwrap()), "b.toml:2:1");
    }

    #[test]
    fn spans_in_the_indentation_of_long_lines() {
        // Found by the `config` fuzz target: annotate-snippets subtracted with overflow when a
        // long line's span lay in its indentation (or after tabs or control characters, which
        // it counted as indentation but placed no caret over).
        let long = "x".repeat(200);
        let wide = "€".repeat(100);
        for indent in [
            "\t".repeat(8),
            "\r".repeat(30),
            " ".repeat(30),
            "\u{a0}".repeat(30),
        ] {
            for rest in [&long, &wide] {
                let text = format!("a = 1\n{indent}b = \"{rest}\"\n");
                for at in [6, 7, text.find('b').unwrap()] {
                    let mut d = Diagnostics::for_source("f.toml", text.as_str());
                    d.push(Diagnostic::new("f.toml", "bad").at(at..at + 1));
                    let out = d.render();
                    assert!(out.contains(" --> f.toml:2:"), "{out}");
                }
            }
        }
        // The caret of a tab-indented line is under the span; a bare CR shows.
        let text = "a = 1\n\tb = x\n";
        let mut d = Diagnostics::for_source("f.toml", text);
        d.push(Diagnostic::new("f.toml", "bad").at(7..8));
        let out = d.render();
        assert!(out.contains("2 |     b = x\n  |     ^"), "{out}");
        let text = "a = 1\r\rb\n";
        let mut d = Diagnostics::for_source("f.toml", text);
        d.push(Diagnostic::new("f.toml", "bare CR").at(6..7));
        let out = d.render();
        assert!(
            out.contains("1 | a = 1\u{FFFD}\u{FFFD}b\n  |       ^"),
            "{out}"
        );
    }

    #[test]
    fn end_of_file_is_shown_after_the_last_character() {
        let text = "a = 1\nb = \n\n";
        let mut d = Diagnostics::for_source("f.toml", text);
        d.push(Diagnostic::new("f.toml", "missing value").at(text.len()..text.len()));
        let out = d.render();
        assert!(out.contains("f.toml:2:4"), "{out}");
    }
}
