//! The `files` source: a directory of CSV files, one per record kind (see [`super::csv_format`]).
//!
//! It exists so that any system that can export CSV can feed cs-pulse. Reading is strict and
//! complete: every value is validated as METRICS.md says, every problem of every file is reported
//! with its file, line and column, and on any problem nothing is returned. It is also fast: a data
//! set of 100,000 accounts has about 12 million usage rows, so rows are read into one reused
//! buffer, account ids are resolved without allocating, dates take a hand-written fast path, and
//! the files other than `accounts.csv` are parsed concurrently.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use indicatif::ProgressBar;
use rust_decimal::Decimal;

use super::csv_format::{
    FileFormat, ACCOUNTS, COSTS, RENEWALS, SUBSCRIPTIONS, SURVEY_RESPONSES, TICKETS, USAGE,
};
use super::{InputError, Source, SourceContext, SourceError};
use crate::model::{
    Account, AccountIx, Cost, Currency, Dataset, Renewal, RenewalOutcome, Subscription, SurveyKind,
    SurveyResponse, Ticket, Usage, YearMonth,
};

/// At most this many errors are listed per file; the rest are counted in one final entry.
pub const MAX_ERRORS_PER_FILE: usize = 100;

/// Rows between two progress ticks.
const PROGRESS_EVERY: u32 = 1 << 16;

/// Reads a directory of CSV files (`accounts.csv` required, the others optional).
#[derive(Clone, Debug)]
pub struct FilesSource {
    name: String,
    dir: PathBuf,
    ctx: SourceContext,
}

impl FilesSource {
    pub fn new(name: impl Into<String>, dir: PathBuf, ctx: SourceContext) -> FilesSource {
        FilesSource {
            name: name.into(),
            dir,
            ctx,
        }
    }

    /// The directory the CSV files are read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Source for FilesSource {
    fn name(&self) -> &str {
        &self.name
    }

    /// Parses the directory on a blocking thread; `progress` counts bytes read.
    async fn fetch(&self, progress: &ProgressBar) -> Result<Dataset, SourceError> {
        let (dir, ctx, progress) = (self.dir.clone(), self.ctx.clone(), progress.clone());
        tokio::task::spawn_blocking(move || read_dir(&dir, &ctx, &progress))
            .await
            .map_err(|e| SourceError::Other(format!("the CSV reader stopped unexpectedly: {e}")))?
    }
}

/// Reads and validates every CSV file of `dir` into one data set, or fails with every problem
/// found (`SourceError::Invalid`, located at `dir`). `progress` gets the total size of the files
/// as its length and is advanced by the bytes read.
pub fn read_dir(
    dir: &Path,
    ctx: &SourceContext,
    progress: &ProgressBar,
) -> Result<Dataset, SourceError> {
    let meta = std::fs::metadata(dir).map_err(|source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(SourceError::Io {
            path: dir.to_path_buf(),
            source: io::Error::other("not a directory"),
        });
    }
    let open = |f: &FileFormat| -> Result<Option<(File, u64)>, SourceError> {
        let path = dir.join(f.file_name);
        let io_err = |source| SourceError::Io {
            path: path.clone(),
            source,
        };
        match File::open(&path) {
            Ok(file) => {
                let len = file.metadata().map_err(io_err)?.len();
                Ok(Some((file, len)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    };
    let accounts_file = open(&ACCOUNTS)?;
    let children = [
        &SUBSCRIPTIONS,
        &USAGE,
        &SURVEY_RESPONSES,
        &TICKETS,
        &RENEWALS,
        &COSTS,
    ];
    let mut child_files = Vec::with_capacity(children.len());
    for f in children {
        child_files.push(open(f)?);
    }
    let total: u64 = std::iter::once(&accounts_file)
        .chain(&child_files)
        .flatten()
        .map(|(_, len)| len)
        .sum();
    progress.set_length(total);

    let mut errors = Vec::new();
    let accounts = match accounts_file {
        Some((file, _)) => {
            let (accounts, errs) = read_table(dir, &ACCOUNTS, file, progress, parse_accounts)?;
            errors.extend(errs);
            Some(accounts)
        }
        None => {
            errors.push(InputError {
                file: ACCOUNTS.file_name.to_string(),
                line: 0,
                column: None,
                message: "the file is missing; accounts.csv is required (the other files are \
                          optional)"
                    .to_string(),
            });
            None
        }
    };
    let index = AccountIndex::new(accounts.as_deref());

    let [subs, usage, surveys, tickets, renewals, costs] = child_files
        .try_into()
        .map_err(|_| SourceError::Other("internal error: wrong number of CSV files".to_string()))?;
    let (index, ctx) = (&index, ctx);
    let results = std::thread::scope(|s| {
        let subs = s.spawn(move || {
            read_optional(dir, &SUBSCRIPTIONS, subs, progress, |t| {
                parse_subscriptions(t, index, ctx)
            })
        });
        let usage =
            s.spawn(move || read_optional(dir, &USAGE, usage, progress, |t| parse_usage(t, index)));
        let surveys = s.spawn(move || {
            read_optional(dir, &SURVEY_RESPONSES, surveys, progress, |t| {
                parse_surveys(t, index, ctx.timezone)
            })
        });
        let tickets = s.spawn(move || {
            read_optional(dir, &TICKETS, tickets, progress, |t| {
                parse_tickets(t, index, ctx.timezone)
            })
        });
        let renewals = s.spawn(move || {
            read_optional(dir, &RENEWALS, renewals, progress, |t| {
                parse_renewals(t, index)
            })
        });
        // The smallest file is read on this thread.
        let costs = read_optional(dir, &COSTS, costs, progress, parse_costs);
        (
            joined(subs.join()),
            joined(usage.join()),
            joined(surveys.join()),
            joined(tickets.join()),
            joined(renewals.join()),
            costs,
        )
    });
    let (subs, usage, surveys, tickets, renewals, costs) = results;
    let (subs, e1) = subs?;
    let (usage, e2) = usage?;
    let (surveys, e3) = surveys?;
    let (tickets, e4) = tickets?;
    let (renewals, e5) = renewals?;
    let (costs, e6) = costs?;
    for e in [e1, e2, e3, e4, e5, e6] {
        errors.extend(e);
    }
    if !errors.is_empty() {
        return Err(SourceError::Invalid {
            location: dir.display().to_string(),
            errors,
        });
    }
    let mut ds = Dataset::new(accounts.unwrap_or_default())
        .map_err(|e| SourceError::Other(format!("accounts.csv: {e}")))?;
    ds.subscriptions = subs;
    ds.usage = usage;
    ds.survey_responses = surveys;
    ds.tickets = tickets;
    ds.renewals = renewals;
    ds.costs = costs;
    Ok(ds)
}

type TableResult<T> = Result<(Vec<T>, Vec<InputError>), SourceError>;

fn joined<T>(r: std::thread::Result<TableResult<T>>) -> TableResult<T> {
    r.unwrap_or_else(|_| {
        Err(SourceError::Other(
            "internal error: a CSV reader thread panicked".to_string(),
        ))
    })
}

fn read_optional<T>(
    dir: &Path,
    format: &'static FileFormat,
    file: Option<(File, u64)>,
    progress: &ProgressBar,
    parse: impl FnOnce(&mut Table) -> Vec<T>,
) -> TableResult<T> {
    match file {
        Some((file, _)) => read_table(dir, format, file, progress, parse),
        None => Ok((Vec::new(), Vec::new())),
    }
}

fn read_table<T>(
    dir: &Path,
    format: &'static FileFormat,
    file: File,
    progress: &ProgressBar,
    parse: impl FnOnce(&mut Table) -> Vec<T>,
) -> TableResult<T> {
    let mut table = Table::open(format, file, progress);
    let records = parse(&mut table);
    match table.io_error.take() {
        Some(source) => Err(SourceError::Io {
            path: dir.join(format.file_name),
            source,
        }),
        None => Ok((records, table.errors.finish())),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The errors of one file: the first [`MAX_ERRORS_PER_FILE`], and how many more there were.
struct Errors {
    file: &'static str,
    list: Vec<InputError>,
    more: u64,
}

impl Errors {
    fn new(file: &'static str) -> Errors {
        Errors {
            file,
            list: Vec::new(),
            more: 0,
        }
    }

    /// Adds an error; `message` is only formatted while under the cap.
    fn add(&mut self, line: u64, column: Option<&str>, message: impl FnOnce() -> String) {
        if self.list.len() < MAX_ERRORS_PER_FILE {
            self.list.push(InputError {
                file: self.file.to_string(),
                line,
                column: column.map(str::to_string),
                message: message(),
            });
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<InputError> {
        self.list.sort_by_key(|e| e.line);
        if self.more > 0 {
            let n = self.more;
            self.list.push(InputError {
                file: self.file.to_string(),
                line: 0,
                column: None,
                message: format!(
                    "... and {n} more error{} in this file",
                    if n == 1 { "" } else { "s" }
                ),
            });
        }
        self.list
    }
}

/// A value as shown in a message: quoted, escaped, and cut when very long.
fn show(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

// ---------------------------------------------------------------------------------------------
// Tables and rows

/// One CSV file being read: its header resolved against the format, and its errors so far.
struct Table<'p> {
    format: &'static FileFormat,
    rdr: Records,
    /// For each column of the format, its position in the file's records (None: not in header).
    pos: Vec<Option<usize>>,
    /// Number of header fields; every row must have as many.
    width: usize,
    /// Columns not in the format (only kept where the format allows): position and name.
    extra: Vec<(usize, String)>,
    errors: Errors,
    io_error: Option<io::Error>,
    progress: &'p ProgressBar,
    /// Whether the header was read and rows can be.
    readable: bool,
}

/// A column of the table's format, by index into [`FileFormat::columns`].
#[derive(Clone, Copy)]
struct Col(usize);

impl<'p> Table<'p> {
    fn open(format: &'static FileFormat, file: File, progress: &'p ProgressBar) -> Table<'p> {
        let rdr = Records::new(file);
        let mut t = Table {
            format,
            rdr,
            pos: vec![None; format.columns.len()],
            width: 0,
            extra: Vec::new(),
            errors: Errors::new(format.file_name),
            io_error: None,
            progress,
            readable: false,
        };
        t.read_header();
        t
    }

    fn read_header(&mut self) {
        let format = self.format;
        let line = match self.rdr.next() {
            Ok(Some(line)) => line,
            Ok(None) => 1,
            Err(e) => {
                self.fail(e);
                return;
            }
        };
        let header = &self.rdr.rec;
        if header.len() == 0
            || (header.len() == 1 && header.iter().all(|f| f.trim_ascii().is_empty()))
        {
            self.errors.add(line, None, || {
                format!(
                    "the file is empty; expected a header row naming the columns ({})",
                    format.column_list()
                )
            });
            return;
        }
        self.width = header.len();
        let mut names: Vec<String> = Vec::with_capacity(header.len());
        for (i, raw) in header.iter().enumerate() {
            let Ok(name) = std::str::from_utf8(raw) else {
                self.errors.add(line, None, || {
                    format!(
                        "header field {} is not valid UTF-8 text ({}); save the file as UTF-8",
                        i + 1,
                        show(&String::from_utf8_lossy(raw))
                    )
                });
                names.push(String::new());
                continue;
            };
            let name = name.trim();
            names.push(name.to_string());
            if name.is_empty() {
                self.errors.add(line, None, || {
                    format!("header field {} is empty; every column needs a name", i + 1)
                });
            } else if names[..i].iter().any(|n| n == name) {
                self.errors.add(line, Some(name), || {
                    "appears twice in the header".to_string()
                });
            } else if let Some(ci) = format.column_index(name) {
                self.pos[ci] = Some(i);
            } else if format.extra_columns {
                self.extra.push((i, name.to_string()));
            } else {
                self.errors.add(line, Some(name), || {
                    let hint = similar(name, format.columns.iter().map(|c| c.name))
                        .map(|s| format!(" (did you mean {s}?)"))
                        .unwrap_or_default();
                    format!(
                        "unknown column{hint}; the columns of {} are: {}",
                        format.file_name,
                        format.column_list()
                    )
                });
            }
        }
        for (ci, c) in format.columns.iter().enumerate() {
            if c.required && self.pos[ci].is_none() {
                self.errors.add(line, Some(c.name), || {
                    let hint = similar(c.name, names.iter().map(String::as_str))
                        .map(|s| format!(" (the header has {s:?}; names are exact and lower-case)"))
                        .unwrap_or_default();
                    format!("required column is missing from the header{hint}")
                });
            }
        }
        self.readable = true;
    }

    fn fail(&mut self, e: io::Error) {
        self.io_error = Some(e);
        self.readable = false;
    }

    /// The column of the format named `name` (a name of the format, or the reader is wrong).
    fn col(&self, name: &str) -> Col {
        let ci = self.format.column_index(name);
        debug_assert!(
            ci.is_some(),
            "{name} is not a column of {}",
            self.format.file_name
        );
        Col(ci.unwrap_or(usize::MAX))
    }

    /// Calls `f` with every data row that has as many fields as the header.
    fn rows(&mut self, mut f: impl FnMut(&mut Row)) {
        if !self.readable {
            return;
        }
        let mut last_byte = 0;
        let mut n: u32 = 0;
        loop {
            let line = match self.rdr.next() {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    self.fail(e);
                    break;
                }
            };
            let rec = &self.rdr.rec;
            if rec.len() != self.width {
                let (got, want) = (rec.len(), self.width);
                self.errors.add(line, None, || {
                    format!(
                        "the row has {got} field{}, the header has {want}{}",
                        if got == 1 { "" } else { "s" },
                        if got > want {
                            " (a value containing a comma must be in double quotes)"
                        } else {
                            ""
                        }
                    )
                });
            } else {
                let mut row = Row {
                    rec,
                    line,
                    pos: &self.pos,
                    format: self.format,
                    errors: &mut self.errors,
                };
                f(&mut row);
            }
            n += 1;
            if n == PROGRESS_EVERY {
                n = 0;
                let b = self.rdr.bytes;
                self.progress.inc(b.saturating_sub(last_byte));
                last_byte = b;
            }
        }
        let b = self.rdr.bytes;
        self.progress.inc(b.saturating_sub(last_byte));
    }
}

/// Reads CSV records with exact 1-based line numbers and byte counts.
///
/// It drives `csv_core` directly because the `csv` crate's record positions are off after blank
/// lines and with CRLF line ends (rust-csv issues #208 and #395), and error messages must name
/// the right line. Blank lines between records are skipped (and counted).
struct Records {
    src: BufReader<File>,
    core: csv_core::Reader,
    rec: RawRecord,
    /// The line of the next unread byte.
    line: u64,
    /// Bytes consumed so far.
    bytes: u64,
}

/// One record: its unescaped fields concatenated, and where each ends.
#[derive(Default)]
struct RawRecord {
    out: Vec<u8>,
    ends: Vec<usize>,
    len: usize,
}

impl RawRecord {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let start = match i {
            0 => 0,
            _ => *self.ends.get(i - 1)?,
        };
        let end = *self.ends.get(i)?;
        self.out.get(start..end)
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len).map(|i| self.get(i).unwrap_or_default())
    }
}

impl Records {
    fn new(file: File) -> Records {
        Records {
            src: BufReader::with_capacity(1 << 20, file),
            core: csv_core::Reader::new(),
            rec: RawRecord {
                out: vec![0; 1024],
                ends: vec![0; 32],
                len: 0,
            },
            line: 1,
            bytes: 0,
        }
    }

    /// Reads the next record into `self.rec`; returns the line it starts on, `None` at the end.
    fn next(&mut self) -> io::Result<Option<u64>> {
        use csv_core::ReadRecordResult as R;
        let (mut outlen, mut endlen) = (0, 0);
        let mut start_line = None;
        loop {
            let input = self.src.fill_buf()?;
            let mut skipped = 0;
            if start_line.is_none() {
                // Blank lines before the record: csv_core skips them too, but uncounted.
                while let Some(&b) = input.get(skipped) {
                    if b != b'\n' && b != b'\r' {
                        break;
                    }
                    self.line += u64::from(b == b'\n');
                    skipped += 1;
                }
                if skipped == input.len() && !input.is_empty() {
                    self.src.consume(skipped);
                    self.bytes += skipped as u64;
                    continue;
                }
                start_line = Some(self.line);
            }
            let rest = input.get(skipped..).unwrap_or_default();
            let (res, nin, nout, nend) = self.core.read_record(
                rest,
                self.rec.out.get_mut(outlen..).unwrap_or_default(),
                self.rec.ends.get_mut(endlen..).unwrap_or_default(),
            );
            let consumed = rest.get(..nin).unwrap_or_default();
            self.line += consumed.iter().filter(|&&b| b == b'\n').count() as u64;
            self.src.consume(skipped + nin);
            self.bytes += (skipped + nin) as u64;
            outlen += nout;
            endlen += nend;
            match res {
                R::InputEmpty => {}
                R::OutputFull => {
                    let n = self.rec.out.len().max(1024) * 2;
                    self.rec.out.resize(n, 0);
                }
                R::OutputEndsFull => {
                    let n = self.rec.ends.len().max(32) * 2;
                    self.rec.ends.resize(n, 0);
                }
                R::Record => {
                    self.rec.len = endlen;
                    return Ok(start_line);
                }
                R::End => return Ok(None),
            }
        }
    }
}

/// `s` without surrounding white space; skips the Unicode-aware scan in the common case.
#[inline]
fn trim(s: &str) -> &str {
    let plain = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii() && !b.is_ascii_whitespace());
    let b = s.as_bytes();
    if plain(b.first()) && plain(b.last()) {
        s
    } else {
        s.trim()
    }
}

/// The most similar of `candidates` to `name`, if any is close (for "did you mean" hints).
fn similar<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .filter(|c| !c.is_empty() && *c != name)
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A field's value: empty (or its column is not in the file), valid, or bad (already reported).
enum V<T> {
    Empty,
    Val(T),
    Bad,
}

impl<T> V<T> {
    /// A required value: `None` when empty or bad (both already reported).
    fn req(self) -> Option<T> {
        match self {
            V::Val(v) => Some(v),
            V::Empty | V::Bad => None,
        }
    }

    /// An optional value: `Some(None)` when empty, `None` when bad.
    fn opt(self) -> Option<Option<T>> {
        match self {
            V::Empty => Some(None),
            V::Val(v) => Some(Some(v)),
            V::Bad => None,
        }
    }

    /// A value that defaults to `d` when empty; `None` when bad.
    fn or(self, d: T) -> Option<T> {
        match self {
            V::Empty => Some(d),
            V::Val(v) => Some(v),
            V::Bad => None,
        }
    }
}

/// One data row, with typed accessors that record an error for every bad value.
struct Row<'r> {
    rec: &'r RawRecord,
    line: u64,
    pos: &'r [Option<usize>],
    format: &'static FileFormat,
    errors: &'r mut Errors,
}

impl<'r> Row<'r> {
    fn name(&self, c: Col) -> &'static str {
        self.format.columns.get(c.0).map_or("?", |c| c.name)
    }

    fn error(&mut self, c: Col, message: impl FnOnce() -> String) {
        let name = self.name(c);
        self.errors.add(self.line, Some(name), message);
    }

    /// The trimmed text at record position `p`.
    fn at(&mut self, p: usize, column: &str) -> V<&'r str> {
        let Some(raw) = self.rec.get(p) else {
            return V::Empty;
        };
        match std::str::from_utf8(raw) {
            Ok(s) => match trim(s) {
                "" => V::Empty,
                s => V::Val(s),
            },
            Err(_) => {
                self.errors.add(self.line, Some(column), || {
                    format!(
                        "{} is not valid UTF-8 text; save the file as UTF-8",
                        show(&String::from_utf8_lossy(raw))
                    )
                });
                V::Bad
            }
        }
    }

    /// The trimmed text of column `c` (empty when the column is not in the file). An empty
    /// required field is reported here.
    fn text(&mut self, c: Col) -> V<&'r str> {
        let Some(p) = self.pos.get(c.0).copied().flatten() else {
            return V::Empty;
        };
        let name = self.name(c);
        let v = self.at(p, name);
        if matches!(v, V::Empty) && self.format.columns.get(c.0).is_some_and(|c| c.required) {
            self.error(c, || "is empty; a value is required".to_string());
        }
        v
    }

    /// The text of `c` turned into a value by `parse`; on `Err(e)`, `message(e, text)` is
    /// reported (formatted only while under the error cap).
    fn parse<T, E>(
        &mut self,
        c: Col,
        parse: impl FnOnce(&'r str) -> Result<T, E>,
        message: impl FnOnce(E, &str) -> String,
    ) -> V<T> {
        match self.text(c) {
            V::Val(s) => match parse(s) {
                Ok(v) => V::Val(v),
                Err(e) => {
                    self.error(c, || message(e, s));
                    V::Bad
                }
            },
            V::Empty => V::Empty,
            V::Bad => V::Bad,
        }
    }

    fn date(&mut self, c: Col) -> V<NaiveDate> {
        self.parse(c, parse_date, |e, s| match e {
            DateError::Shape => format!("{} is not a date (expected YYYY-MM-DD)", show(s)),
            DateError::NoSuchDay => {
                // The shape was checked: the month or the day is out of range.
                let (ym, m, day) = (s.get(..7), s.get(5..7), s.get(8..));
                match (ym, m, day) {
                    (Some(_), Some(m), _) if !("01"..="12").contains(&m) => {
                        format!("{} is not a date: there is no month {m}", show(s))
                    }
                    (Some(ym), _, Some(day)) => {
                        format!("{} is not a date: {ym} has no day {day}", show(s))
                    }
                    _ => format!("{} is not a date", show(s)),
                }
            }
        })
    }

    /// A date, or a date-time whose date in `tz` is taken.
    fn date_or_time(&mut self, c: Col, tz: Tz) -> V<NaiveDate> {
        self.parse(
            c,
            |s| parse_date_or_time(s, tz),
            |(), s| {
                format!(
                    "{} is not a date or date-time (expected YYYY-MM-DD, or RFC 3339 like \
                     2025-03-04T10:00:00Z, 2025-03-04T10:00:00+01:00 or 2025-03-04 10:00:00)",
                    show(s)
                )
            },
        )
    }

    /// A whole number 0 or more that fits in 32 bits.
    fn count(&mut self, c: Col) -> V<u32> {
        self.parse(c, parse_u32, |e, s| match e {
            IntError::Negative => {
                format!("{} is negative; expected a whole number 0 or more", show(s))
            }
            IntError::TooLarge => format!("{} is too large (at most {})", show(s), u32::MAX),
            IntError::NotInteger => format!("{} is not a whole number", show(s)),
        })
    }

    /// A decimal amount 0 or more.
    fn amount(&mut self, c: Col) -> V<Decimal> {
        self.parse(
            c,
            |s| match parse_decimal(s) {
                Some(d) if d.is_sign_negative() && !d.is_zero() => Err(true),
                Some(d) => Ok(d),
                None => Err(false),
            },
            |negative, s| {
                if negative {
                    format!("{} is negative; expected an amount 0 or more", show(s))
                } else {
                    format!("{} is not a decimal number", show(s))
                }
            },
        )
    }

    /// The account named in column `c`, through `index`; `cache` remembers the last hit.
    fn account(
        &mut self,
        c: Col,
        index: &AccountIndex,
        cache: &mut Option<AccountIx>,
    ) -> Option<AccountIx> {
        let s = self.text(c).req()?;
        let Some(accounts) = index.accounts else {
            // accounts.csv is missing: that one error says it all.
            return Some(0);
        };
        // Rows usually come grouped by account, or cycling through the accounts in their order:
        // try the last account and the one after it before hashing.
        if let Some(last) = *cache {
            for ix in [last, last.wrapping_add(1)] {
                if accounts.get(ix as usize).is_some_and(|a| a.id == s) {
                    *cache = Some(ix);
                    return Some(ix);
                }
            }
        }
        match index.map.get(s) {
            Some(&ix) => {
                *cache = Some(ix);
                Some(ix)
            }
            None => {
                self.error(c, || {
                    let hint = accounts
                        .iter()
                        .find(|a| a.id.eq_ignore_ascii_case(s))
                        .map(|a| format!(" (ids are case-sensitive; there is {:?})", a.id))
                        .unwrap_or_default();
                    format!("{} names no account in accounts.csv{hint}", show(s))
                });
                None
            }
        }
    }

    /// An id (required) that must not repeat within the file; `seen` maps ids to their line.
    fn unique_id(&mut self, c: Col, seen: &mut HashMap<String, u64, Fx>) -> Option<&'r str> {
        let s = self.text(c).req()?;
        match seen.get(s) {
            Some(&first) => {
                self.error(c, || {
                    format!("duplicate id {}: line {first} has it already", show(s))
                });
                None
            }
            None => {
                seen.insert(s.to_string(), self.line);
                Some(s)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts and the index children resolve through

fn parse_accounts(t: &mut Table) -> Vec<Account> {
    let [id, name, owner, segment, plan, created_at, renewal_date, seats] = [
        "id",
        "name",
        "owner",
        "segment",
        "plan",
        "created_at",
        "renewal_date",
        "licensed_seats",
    ]
    .map(|n| t.col(n));
    let [first_value_at, trial_started_at, trial_ended_at, converted_at] = [
        "first_value_at",
        "trial_started_at",
        "trial_ended_at",
        "converted_at",
    ]
    .map(|n| t.col(n));
    let extra = std::mem::take(&mut t.extra);
    let mut seen = HashMap::default();
    let mut out = Vec::new();
    t.rows(|r| {
        // An account with a bad value is still kept (the read fails anyway), so that its
        // children do not also report it as unknown.
        let id = r.unique_id(id, &mut seen);
        let text = |r: &mut Row, c| r.text(c).req().map(str::to_string);
        let mut a = Account {
            id: id.unwrap_or_default().to_string(),
            name: text(r, name).unwrap_or_default(),
            owner: text(r, owner),
            segment: text(r, segment),
            plan: text(r, plan),
            created_at: r.date(created_at).req(),
            renewal_date: r.date(renewal_date).req(),
            licensed_seats: r.count(seats).req(),
            first_value_at: r.date(first_value_at).req(),
            trial_started_at: r.date(trial_started_at).req(),
            trial_ended_at: r.date(trial_ended_at).req(),
            converted_at: r.date(converted_at).req(),
            custom: Default::default(),
        };
        for (p, col) in &extra {
            if let V::Val(v) = r.at(*p, col) {
                a.custom.insert(col.clone(), v.to_string());
            }
        }
        if id.is_some() {
            out.push(a);
        }
    });
    t.extra = extra;
    out
}

/// Resolves account ids to indices without allocating.
struct AccountIndex<'a> {
    /// `None` when accounts.csv is missing.
    accounts: Option<&'a [Account]>,
    map: HashMap<&'a str, AccountIx, Fx>,
}

impl<'a> AccountIndex<'a> {
    fn new(accounts: Option<&'a [Account]>) -> AccountIndex<'a> {
        let accounts_slice = accounts.unwrap_or_default();
        let mut map = HashMap::with_capacity_and_hasher(accounts_slice.len(), Fx::default());
        for (i, a) in accounts_slice.iter().enumerate() {
            // Beyond u32::MAX accounts Dataset::new fails; ids there are never resolved.
            if let Ok(ix) = AccountIx::try_from(i) {
                // The first of duplicate ids wins (the duplicate is an error anyway).
                map.entry(a.id.as_str()).or_insert(ix);
            }
        }
        AccountIndex { accounts, map }
    }
}

// ---------------------------------------------------------------------------------------------
// The other files

fn parse_subscriptions(
    t: &mut Table,
    index: &AccountIndex,
    ctx: &SourceContext,
) -> Vec<Subscription> {
    let [id, account_id, mrr, currency, start_date, end_date] = [
        "id",
        "account_id",
        "mrr",
        "currency",
        "start_date",
        "end_date",
    ]
    .map(|n| t.col(n));
    let fx = &ctx.fx;
    let (mut seen, mut cache, mut out) = (HashMap::default(), None, Vec::new());
    t.rows(|r| {
        let id = r.unique_id(id, &mut seen);
        let account = r.account(account_id, index, &mut cache);
        let mrr = r.amount(mrr).req();
        let cur = r
            .parse(
                currency,
                |s| match Currency::from_str(s) {
                    Ok(c) if fx.rate(c).is_some() => Ok(c),
                    Ok(c) => Err(Some(c)),
                    Err(_) => Err(None),
                },
                |e, s| match e {
                    Some(c) => {
                        let known: Vec<String> = fx
                            .currencies()
                            .map(|k| {
                                if k == fx.reporting() {
                                    format!("{k} (the reporting currency)")
                                } else {
                                    k.to_string()
                                }
                            })
                            .collect();
                        format!(
                            "no fx rate is configured for {c}; rates exist for {}",
                            known.join(", ")
                        )
                    }
                    None => format!(
                        "{} is not a currency code (three letters, like USD or EUR)",
                        show(s)
                    ),
                },
            )
            .or(fx.reporting());
        let start = r.date(start_date).req();
        let end = r.date(end_date).opt();
        if let (Some(s), Some(Some(e))) = (start, end) {
            if e <= s {
                r.error(end_date, || {
                    format!(
                        "{e} is not after start_date {s} (end_date is exclusive; leave it \
                         empty while the subscription is ongoing)"
                    )
                });
                return;
            }
        }
        if let (Some(id), Some(account), Some(mrr), Some(currency), Some(start_date), Some(end)) =
            (id, account, mrr, cur, start, end)
        {
            out.push(Subscription {
                id: id.to_string(),
                account,
                mrr,
                currency,
                start_date,
                end_date: end,
            });
        }
    });
    out
}

fn parse_usage(t: &mut Table, index: &AccountIndex) -> Vec<Usage> {
    let [account_id, date, active_users, sessions, minutes, features_used] = [
        "account_id",
        "date",
        "active_users",
        "sessions",
        "minutes",
        "features_used",
    ]
    .map(|n| t.col(n));
    let (mut cache, mut out) = (None, Vec::new());
    t.rows(|r| {
        let account = r.account(account_id, index, &mut cache);
        let date = r.date(date).req();
        let active = r.count(active_users).req();
        // Empty sessions and minutes are 0, an empty features_used is None.
        let sessions = r.count(sessions).or(0);
        let minutes = r.amount(minutes).or(Decimal::ZERO);
        let features = r.count(features_used).opt();
        if let (
            Some(account),
            Some(date),
            Some(active_users),
            Some(sessions),
            Some(minutes),
            Some(features_used),
        ) = (account, date, active, sessions, minutes, features)
        {
            out.push(Usage {
                account,
                date,
                active_users,
                sessions,
                minutes,
                features_used,
            });
        }
    });
    out
}

fn parse_surveys(t: &mut Table, index: &AccountIndex, tz: Tz) -> Vec<SurveyResponse> {
    let [id, account_id, kind, score, submitted_at, comment] = [
        "id",
        "account_id",
        "kind",
        "score",
        "submitted_at",
        "comment",
    ]
    .map(|n| t.col(n));
    let (mut seen, mut cache, mut out) = (HashMap::default(), None, Vec::new());
    t.rows(|r| {
        let id = r.unique_id(id, &mut seen);
        let account = r.account(account_id, index, &mut cache);
        let k = r
            .parse(kind, SurveyKind::from_str, |(), s| {
                format!(
                    "{} is not a survey kind (expected nps, csat or ces, in lower case)",
                    show(s)
                )
            })
            .req();
        let sc = r
            .parse(
                score,
                |s| {
                    let digits = s.strip_prefix('-').unwrap_or(s);
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(None);
                    }
                    // Too many digits for i64 is out of every range.
                    let n = s.parse::<i64>().unwrap_or(i64::MAX);
                    match k {
                        Some(k) => {
                            let (lo, hi) = k.score_range();
                            u8::try_from(n)
                                .ok()
                                .filter(|n| (lo..=hi).contains(n))
                                .ok_or(Some((k, lo, hi)))
                        }
                        // Without a valid kind the range is unknown; the kind error says it.
                        None => Ok(0),
                    }
                },
                |e, s| match e {
                    None => format!("{} is not a whole number", show(s)),
                    Some((k, lo, hi)) => format!("{s} is outside the {k} range {lo} to {hi}"),
                },
            )
            .req();
        let submitted = r.date_or_time(submitted_at, tz).req();
        let comment = r.text(comment).opt();
        if let (
            Some(id),
            Some(account),
            Some(kind),
            Some(score),
            Some(submitted_at),
            Some(comment),
        ) = (id, account, k, sc, submitted, comment)
        {
            out.push(SurveyResponse {
                id: id.to_string(),
                account,
                kind,
                score,
                submitted_at,
                comment: comment.map(str::to_string),
            });
        }
    });
    out
}

fn parse_tickets(t: &mut Table, index: &AccountIndex, tz: Tz) -> Vec<Ticket> {
    let [id, account_id, opened_at, resolved_at, first_response_at, contacts] = [
        "id",
        "account_id",
        "opened_at",
        "resolved_at",
        "first_response_at",
        "contacts",
    ]
    .map(|n| t.col(n));
    let (mut seen, mut cache, mut out) = (HashMap::default(), None, Vec::new());
    t.rows(|r| {
        let id = r.unique_id(id, &mut seen);
        let account = r.account(account_id, index, &mut cache);
        let opened = r.date_or_time(opened_at, tz).req();
        let resolved = r.date_or_time(resolved_at, tz).opt();
        let first = r.date_or_time(first_response_at, tz).opt();
        let contacts = r.count(contacts).opt();
        if let (
            Some(id),
            Some(account),
            Some(opened_at),
            Some(resolved_at),
            Some(first_response_at),
            Some(contacts),
        ) = (id, account, opened, resolved, first, contacts)
        {
            out.push(Ticket {
                id: id.to_string(),
                account,
                opened_at,
                resolved_at,
                first_response_at,
                contacts,
            });
        }
    });
    out
}

fn parse_renewals(t: &mut Table, index: &AccountIndex) -> Vec<Renewal> {
    let [id, account_id, due_date, outcome, amount] =
        ["id", "account_id", "due_date", "outcome", "amount"].map(|n| t.col(n));
    let (mut seen, mut cache, mut out) = (HashMap::default(), None, Vec::new());
    t.rows(|r| {
        let id = r.unique_id(id, &mut seen);
        let account = r.account(account_id, index, &mut cache);
        let due = r.date(due_date).req();
        let o = r
            .parse(outcome, RenewalOutcome::from_str, |(), s| {
                format!(
                    "{} is not a renewal outcome (expected renewed, churned or pending, in \
                     lower case)",
                    show(s)
                )
            })
            .req();
        let amount = r.amount(amount).opt();
        if let (Some(id), Some(account), Some(due_date), Some(outcome), Some(amount)) =
            (id, account, due, o, amount)
        {
            out.push(Renewal {
                id: id.to_string(),
                account,
                due_date,
                outcome,
                amount,
            });
        }
    });
    out
}

fn parse_costs(t: &mut Table) -> Vec<Cost> {
    let [month, amount] = ["month", "amount"].map(|n| t.col(n));
    let mut out = Vec::new();
    t.rows(|r| {
        let m = r
            .parse(month, YearMonth::from_str, |(), s| {
                format!("{} is not a month (expected YYYY-MM)", show(s))
            })
            .req();
        let a = r.amount(amount).req();
        if let (Some(month), Some(amount)) = (m, a) {
            out.push(Cost { month, amount });
        }
    });
    out
}

// ---------------------------------------------------------------------------------------------
// Values

enum DateError {
    /// Not shaped `YYYY-MM-DD`.
    Shape,
    /// Shaped right, but no such day (2025-02-30).
    NoSuchDay,
}

/// A plain `YYYY-MM-DD` date, without chrono's format machinery on the common path.
fn parse_date(s: &str) -> Result<NaiveDate, DateError> {
    let b = s.as_bytes();
    let digit = |i: usize| -> Option<u32> {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u32::from(c - b'0'))
    };
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(DateError::Shape);
    }
    let (Some(y0), Some(y1), Some(y2), Some(y3), Some(m0), Some(m1), Some(d0), Some(d1)) = (
        digit(0),
        digit(1),
        digit(2),
        digit(3),
        digit(5),
        digit(6),
        digit(8),
        digit(9),
    ) else {
        return Err(DateError::Shape);
    };
    let year = (y0 * 1000 + y1 * 100 + y2 * 10 + y3) as i32;
    NaiveDate::from_ymd_opt(year, m0 * 10 + m1, d0 * 10 + d1).ok_or(DateError::NoSuchDay)
}

/// A date, or an RFC 3339 date-time (with `T` or a space; an offset or `Z` is converted to `tz`,
/// no offset means the time is already in `tz`), as the date in `tz`.
fn parse_date_or_time(s: &str, tz: Tz) -> Result<NaiveDate, ()> {
    if s.len() == 10 {
        return parse_date(s).map_err(|_| ());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.with_timezone(&tz).date_naive());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, f) {
            // A local time in the business timezone: its date is the date, whatever the offset
            // (even in a daylight-saving gap).
            return Ok(dt.date());
        }
    }
    Err(())
}

enum IntError {
    Negative,
    TooLarge,
    NotInteger,
}

fn parse_u32(s: &str) -> Result<u32, IntError> {
    let b = s.as_bytes();
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        let mut n: u64 = 0;
        for &c in b {
            n = n * 10 + u64::from(c - b'0');
            if n > u64::from(u32::MAX) {
                return Err(IntError::TooLarge);
            }
        }
        return u32::try_from(n).map_err(|_| IntError::TooLarge);
    }
    if s.starts_with('-') && parse_decimal(s).is_some_and(|d| !d.is_zero()) {
        return Err(IntError::Negative);
    }
    Err(IntError::NotInteger)
}

/// A decimal number as `Decimal::from_str` reads it, except with `_` digit separators (which
/// would make `1_000` read as a thousand where a person may have meant something else).
fn parse_decimal(s: &str) -> Option<Decimal> {
    if s.contains('_') {
        return None;
    }
    Decimal::from_str(s).ok()
}

/// A fast non-cryptographic hash (FxHash) for id lookups: ids come from the user's own files.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

type Fx = BuildHasherDefault<FxHasher>;

impl FxHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(parse_date("2024-02-29").is_ok());
        assert!(matches!(
            parse_date("2025-02-29"),
            Err(DateError::NoSuchDay)
        ));
        assert!(matches!(parse_date("2025-2-28"), Err(DateError::Shape)));
        assert!(matches!(parse_date("2025-02-2x"), Err(DateError::Shape)));
        assert!(matches!(
            parse_date("２０２５-02-28"),
            Err(DateError::Shape)
        ));
    }

    #[test]
    fn date_times_take_their_date_in_the_business_timezone() {
        let ny = chrono_tz::America::New_York;
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            parse_date_or_time("2025-03-04T02:00:00Z", ny),
            Ok(d("2025-03-03"))
        );
        assert_eq!(
            parse_date_or_time("2025-03-04 23:30:00-05:00", ny),
            Ok(d("2025-03-04"))
        );
        assert_eq!(
            parse_date_or_time("2025-03-04T23:30:00.25", ny),
            Ok(d("2025-03-04"))
        );
        assert_eq!(
            parse_date_or_time("2025-03-04 00:10:00", ny),
            Ok(d("2025-03-04"))
        );
        assert!(parse_date_or_time("2025-03-04T25:00:00Z", ny).is_err());
        assert!(parse_date_or_time("04/03/2025", ny).is_err());
    }

    #[test]
    fn counts_and_amounts() {
        assert!(matches!(parse_u32("4294967295"), Ok(u32::MAX)));
        assert!(matches!(parse_u32("4294967296"), Err(IntError::TooLarge)));
        assert!(matches!(parse_u32("-3"), Err(IntError::Negative)));
        assert!(matches!(parse_u32("3.5"), Err(IntError::NotInteger)));
        assert!(matches!(parse_u32(""), Err(IntError::NotInteger)));
        assert!(parse_decimal("12,5").is_none());
        assert!(parse_decimal("NaN").is_none());
        assert!(parse_decimal("1_000").is_none());
        assert_eq!(
            parse_decimal("12.50").map(|d| d.to_string()),
            Some("12.50".into())
        );
    }
}
