//! The `files` source: a directory of CSV files, one per record kind (see [`super::csv_format`]).
//!
//! It exists so that any system that can export CSV can feed cs-pulse. Reading is strict and
//! complete: every value is validated as METRICS.md says, every problem of every file is reported
//! with its file, line and column, and on any problem nothing is returned. It is also fast: a data
//! set of 100,000 accounts has about 12 million usage rows, so rows are read into one reused
//! buffer, account ids are resolved without allocating, dates and plain amounts take hand-written
//! fast paths, UTF-8 is checked once per record, the files other than `accounts.csv` are parsed
//! concurrently, and `usage.csv` itself is parsed in parts on every CPU
//! (`read_table_in_parts`).

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Take};
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
use super::{FetchRequest, Fetched, InputError, Source, SourceContext, SourceError};
use crate::model::{
    Account, AccountIx, Cost, Currency, Dataset, Renewal, RenewalOutcome, Subscription, SurveyKind,
    SurveyResponse, Ticket, Usage, YearMonth, MAX_AMOUNT,
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
    async fn fetch(
        &self,
        _request: &FetchRequest<'_>,
        progress: &ProgressBar,
    ) -> Result<Fetched, SourceError> {
        let (dir, ctx, progress) = (self.dir.clone(), self.ctx.clone(), progress.clone());
        tokio::task::spawn_blocking(move || read_dir(&dir, &ctx, &progress))
            .await
            .map_err(|e| SourceError::Other(format!("the CSV reader stopped unexpectedly: {e}")))?
            .map(Fetched::full)
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
        let usage = s.spawn(move || match usage {
            Some((file, _)) => {
                read_table_in_parts(dir, &USAGE, file, progress, |t| parse_usage(t, index), None)
            }
            None => Ok((Vec::new(), Vec::new())),
        });
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
    finish_table(dir, format, table, records)
}

fn finish_table<T>(
    dir: &Path,
    format: &'static FileFormat,
    mut table: Table,
    records: Vec<T>,
) -> TableResult<T> {
    match table.io_error.take() {
        Some(source) => Err(SourceError::Io {
            path: dir.join(format.file_name),
            source,
        }),
        None => Ok((records, table.errors.finish())),
    }
}

/// Below this many bytes of rows per part, a file is not split.
const MIN_PART_BYTES: u64 = 4 << 20;

/// Like [`read_table`], but the rows are read in parts on several threads when the file is
/// large: for a file whose rows are independent of each other (no id that must be unique in
/// the file, no state carried from row to row that changes the result), such as `usage.csv`.
/// The records, errors (with their lines) and the error cap come out exactly as
/// [`read_table`]'s.
///
/// The file is cut after line ends near equal byte offsets, each part read by its own
/// [`Records`] with line numbers from 0, and the results joined in order with the lines
/// shifted by the line ends of the parts before. A line end inside a quoted field is not a
/// record boundary: a part that ends inside a quoted field (its last record is ended by the end
/// of the part, not by a line end) shows that a cut was wrong, and the file is then read again
/// on one thread. `part_bytes` forces the size of the parts (tests); by default the parts are
/// large and there are a few per CPU.
fn read_table_in_parts<T: Send>(
    dir: &Path,
    format: &'static FileFormat,
    file: File,
    progress: &ProgressBar,
    parse: impl Fn(&mut Table) -> Vec<T> + Sync,
    part_bytes: Option<u64>,
) -> TableResult<T> {
    let path = dir.join(format.file_name);
    let io_err = |source| SourceError::Io {
        path: path.clone(),
        source,
    };
    let len = file.metadata().map_err(io_err)?.len();
    let mut head = Table::open(format, file, progress);
    let start = head.rdr.bytes;
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let part_bytes = part_bytes.unwrap_or_else(|| {
        // Four parts per CPU share the work out evenly when other files are read alongside.
        let n = (cpus as u64).saturating_mul(4);
        (len.saturating_sub(start) / n).max(MIN_PART_BYTES)
    });
    let cuts = if head.readable && (cpus > 1 || part_bytes < MIN_PART_BYTES) {
        cut_points(&path, start, len, part_bytes).map_err(io_err)?
    } else {
        Vec::new()
    };
    if cuts.len() < 3 {
        // One part: read on this thread, on from the header.
        let records = parse(&mut head);
        return finish_table(dir, format, head, records);
    }
    progress.inc(start);
    let parts: Vec<(u64, u64)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (head_ref, parse, parts_ref) = (&head, &parse, &parts);
    let workers = cpus.clamp(1, parts.len());
    let done = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(from, to)) = parts_ref.get(i) else {
                            break;
                        };
                        done.push((i, read_part(head_ref, &path, from, to, parse)));
                    }
                    done
                })
            })
            .collect();
        let mut done = Vec::with_capacity(parts_ref.len());
        for h in handles {
            match h.join() {
                Ok(d) => done.extend(d),
                Err(_) => return None,
            }
        }
        Some(done)
    });
    let Some(mut done) = done else {
        return Err(SourceError::Other(
            "internal error: a CSV reader thread panicked".to_string(),
        ));
    };
    done.sort_by_key(|(i, _)| *i);
    let mut read = Vec::with_capacity(done.len());
    for (_, part) in done {
        read.push(part.map_err(io_err)?);
    }
    let last = read.len() - 1;
    if read.iter().take(last).any(|p| p.unterminated) {
        // A cut fell inside a quoted field: start again, on one thread.
        progress.dec(len);
        let file = File::open(&path).map_err(io_err)?;
        return read_table(dir, format, file, progress, parse);
    }
    let mut errors = head.errors;
    let mut line = head.rdr.line;
    let total = read.iter().map(|p| p.records.len()).sum::<usize>();
    let mut records: Vec<T> = Vec::new();
    for mut p in read {
        errors.absorb(p.errors, line);
        line += p.lines;
        if records.is_empty() {
            records = p.records;
            records.reserve_exact(total - records.len());
        } else {
            records.append(&mut p.records);
        }
    }
    Ok((records, errors.finish()))
}

/// What one part of a file gave.
struct Part<T> {
    records: Vec<T>,
    /// Errors with lines counted from 0 at the start of the part.
    errors: Errors,
    /// Line ends in the part.
    lines: u64,
    unterminated: bool,
}

/// Reads bytes `from..to` of the file at `path` (a record boundary to a record boundary, or
/// the end of the file) as rows of the table `head` read the header of.
fn read_part<T>(
    head: &Table,
    path: &Path,
    from: u64,
    to: u64,
    parse: &impl Fn(&mut Table) -> Vec<T>,
) -> io::Result<Part<T>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut t = head.part(file.take(to - from));
    let records = parse(&mut t);
    if let Some(e) = t.io_error.take() {
        return Err(e);
    }
    if t.rdr.bytes != to - from {
        return Err(io::Error::other("the file changed while it was read"));
    }
    Ok(Part {
        records,
        errors: t.errors,
        lines: t.rdr.line,
        unterminated: t.rdr.unterminated,
    })
}

/// Offsets that cut bytes `start..len` of the file at `path` into parts of about `part_bytes`
/// bytes, each cut just after a line end: `start`, the cuts, `len`.
fn cut_points(path: &Path, start: u64, len: u64, part_bytes: u64) -> io::Result<Vec<u64>> {
    let n = len.saturating_sub(start) / part_bytes.max(1);
    let mut cuts = vec![start];
    if n < 2 {
        cuts.push(len);
        return Ok(cuts);
    }
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    for k in 1..n {
        let target = start
            + u64::try_from(u128::from(len - start) * u128::from(k) / u128::from(n)).unwrap_or(len);
        let prev = cuts.last().copied().unwrap_or(start);
        let mut at = target.max(prev);
        file.seek(SeekFrom::Start(at))?;
        let cut = loop {
            let got = file.read(&mut buf)?;
            if got == 0 {
                break None;
            }
            if let Some(i) = buf
                .get(..got)
                .and_then(|b| b.iter().position(|&c| c == b'\n'))
            {
                break Some(at + i as u64 + 1);
            }
            at += got as u64;
        };
        match cut {
            Some(c) if c < len => {
                if c > prev {
                    cuts.push(c);
                }
            }
            // No line end after the target: no more cuts.
            _ => break,
        }
    }
    cuts.push(len);
    Ok(cuts)
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

    /// Adds the errors of the next part of the file, whose lines count from `line`.
    fn absorb(&mut self, part: Errors, line: u64) {
        for mut e in part.list {
            if self.list.len() < MAX_ERRORS_PER_FILE {
                e.line += line;
                self.list.push(e);
            } else {
                self.more += 1;
            }
        }
        self.more += part.more;
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
    /// Bytes of input (the file, or the part of it this table reads), to size the output.
    size: u64,
}

/// A column of the table's format, by index into [`FileFormat::columns`].
#[derive(Clone, Copy)]
struct Col(usize);

impl<'p> Table<'p> {
    fn open(format: &'static FileFormat, file: File, progress: &'p ProgressBar) -> Table<'p> {
        let size = file.metadata().map_or(0, |m| m.len());
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
            size,
        };
        t.read_header();
        t
    }

    /// A table reading the rows of `src`, a part of the file `self` read the header of, which
    /// starts at a record boundary. Its line numbers count from 0 at the start of `src`.
    fn part(&self, src: Take<File>) -> Table<'p> {
        Table {
            format: self.format,
            size: src.limit(),
            rdr: Records::part(src, 0, true),
            pos: self.pos.clone(),
            width: self.width,
            extra: self.extra.clone(),
            errors: Errors::new(self.format.file_name),
            io_error: None,
            progress: self.progress,
            readable: self.readable,
        }
    }

    /// A capacity for the records of this table, if a row takes about `row_bytes` bytes.
    fn capacity(&self, row_bytes: u64) -> usize {
        usize::try_from(self.size / row_bytes.max(1)).unwrap_or(0)
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
                    text: rec.text(),
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
    src: BufReader<Take<File>>,
    core: csv_core::Reader,
    rec: RawRecord,
    /// The line of the next unread byte.
    line: u64,
    /// Bytes consumed so far.
    bytes: u64,
    /// Whether the last record was ended by the end of the input rather than by a line end
    /// (a last line without a line end, or a quoted field still open at the end).
    unterminated: bool,
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

    /// Where field `i` is in `out`.
    #[inline]
    fn bounds(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        let start = match i {
            0 => 0,
            _ => *self.ends.get(i - 1)?,
        };
        Some((start, *self.ends.get(i)?))
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        let (start, end) = self.bounds(i)?;
        self.out.get(start..end)
    }

    /// All fields as one text, when that is valid UTF-8 (checked once per record rather than
    /// once per field). A field is valid UTF-8 exactly when its bounds are character
    /// boundaries of this text.
    fn text(&self) -> Option<&str> {
        let end = match self.len {
            0 => 0,
            n => *self.ends.get(n - 1)?,
        };
        std::str::from_utf8(self.out.get(..end)?).ok()
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len).map(|i| self.get(i).unwrap_or_default())
    }
}

impl Records {
    /// Reads a whole file from its start.
    fn new(file: File) -> Records {
        Records::part(file.take(u64::MAX), 1, false)
    }

    /// Reads `src`, whose first byte is on line `line`. `mid_file`: `src` starts at a record
    /// boundary inside a file, where a byte order mark is data rather than one to skip.
    fn part(src: Take<File>, line: u64, mid_file: bool) -> Records {
        let mut core = csv_core::Reader::new();
        let mut rec = RawRecord {
            out: vec![0; 1024],
            ends: vec![0; 32],
            len: 0,
        };
        if mid_file {
            // csv_core strips a byte order mark only before its first byte; a blank line (which
            // it skips, leaving it at the start of a record) makes it read past that point.
            let _ = core.read_record(b"\n", &mut rec.out, &mut rec.ends);
        }
        Records {
            src: BufReader::with_capacity(1 << 20, src),
            core,
            rec,
            line,
            bytes: 0,
            unterminated: false,
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
            let at_end = rest.is_empty();
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
                    self.unterminated = at_end;
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
    /// The record's fields as one text, when valid UTF-8.
    text: Option<&'r str>,
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
        let Some((start, end)) = self.rec.bounds(p) else {
            return V::Empty;
        };
        if let Some(s) = self.text.and_then(|t| t.get(start..end)) {
            return match trim(s) {
                "" => V::Empty,
                s => V::Val(s),
            };
        }
        let raw = self.rec.out.get(start..end).unwrap_or_default();
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

    /// A decimal amount 0 or more, at most [`MAX_AMOUNT`].
    fn amount(&mut self, c: Col) -> V<Decimal> {
        self.parse(
            c,
            |s| match parse_decimal(s) {
                Some(d) if d.is_sign_negative() && !d.is_zero() => Err(Some(true)),
                Some(d) if d > MAX_AMOUNT => Err(None),
                Some(d) => Ok(d),
                None => Err(Some(false)),
            },
            |negative, s| match negative {
                Some(true) => format!("{} is negative; expected an amount 0 or more", show(s)),
                Some(false) => format!("{} is not a decimal number", show(s)),
                None => format!("{} is too large (at most {MAX_AMOUNT})", show(s)),
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
    // A usage row takes 30 to 50 bytes; too large a capacity only reserves address space.
    let (mut cache, mut out) = (None, Vec::with_capacity(t.capacity(32)));
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
    if let Some(d) = parse_plain_decimal(s.as_bytes()) {
        return Some(d);
    }
    if s.contains('_') {
        return None;
    }
    Decimal::from_str(s).ok()
}

/// The common shape of an amount without `Decimal::from_str`'s generality: digits, optionally
/// a `.` and more digits, at most 18 digits in all; the same value and scale as it would give.
#[inline]
fn parse_plain_decimal(b: &[u8]) -> Option<Decimal> {
    if b.len() > 19 {
        return None;
    }
    let (mut m, mut digits, mut point) = (0i64, 0usize, None);
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            // Wraps only past 18 digits, which are then left to the general parser.
            m = m.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
            digits += 1;
        } else if c == b'.' && point.is_none() {
            point = Some(i);
        } else {
            return None;
        }
    }
    // A digit on both sides of the point; 18 digits always fit in an i64.
    let scale = match point {
        None => 0,
        Some(i) if i > 0 && i + 1 < b.len() => b.len() - i - 1,
        Some(_) => return None,
    };
    if digits == 0 || digits > 18 {
        return None;
    }
    Some(Decimal::new(m, u32::try_from(scale).ok()?))
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

    /// A usage.csv of `rows` rows with problems everywhere: bad values, unknown accounts, blank
    /// lines, CRLF line ends, byte order marks and invalid UTF-8 after line ends, a last line
    /// without a line end; `quoted` adds quoted fields, some with line ends inside.
    fn messy_usage(rows: usize, quoted: bool) -> Vec<u8> {
        let mut out =
            b"\xef\xbb\xbfaccount_id,date,active_users,sessions,minutes,features_used\n".to_vec();
        let mut x: u64 = 7;
        for i in 0..rows {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (x >> 33) % 100;
            let acct = format!("a{}", i % 40);
            let line = match r {
                0 => format!("{acct},2025-02-30,1,2,3.5,4"),
                1 => "nobody,2025-01-01,-1,x,-2.5,".to_string(),
                2 => String::new(),
                3 => format!("{acct},2025-01-01,1,2,3.5,4,5"),
                4 => format!("\u{feff}{acct},2025-01-01,1,2,3.5,4"),
                5 => format!("{acct},2025-01-01,1,2,3.5,4\r"),
                6 => "A1,2025-01-01,1,,,".to_string(),
                7 => format!("{acct},2025-01-0{},99999999999,1,1e3,1", i % 9),
                8 if quoted => format!("\"{acct}\",\"2025-01-01\",\"1\",2,3.5,4"),
                9 if quoted => format!("\"a\n{}\",2025-01-01,1,2,3.5,4", i % 3),
                10 => "\r".to_string(),
                _ => format!(
                    "{acct},2025-{:02}-{:02},{},{},{}.{},{}",
                    1 + i % 12,
                    1 + i % 28,
                    r,
                    i % 17,
                    i % 1000,
                    r,
                    if r.is_multiple_of(5) {
                        String::new()
                    } else {
                        (r % 9).to_string()
                    }
                ),
            };
            out.extend_from_slice(line.as_bytes());
            if r == 11 {
                out.extend_from_slice(b"\xff\xfe,2025-01-01,1,2,3,4");
            }
            out.push(b'\n');
        }
        out.extend_from_slice(b"a1,2025-01-01,1,2,3,4");
        out
    }

    fn accounts() -> Vec<Account> {
        (0..40)
            .map(|i| Account {
                id: format!("a{i}"),
                name: format!("A {i}"),
                ..Account::default()
            })
            .collect()
    }

    /// The records (in Debug form, which shows a decimal's scale) and errors of `usage.csv` in
    /// `dir`, read in parts of `part_bytes` (`None`: on one thread), and the progress made.
    fn read_usage(dir: &Path, part_bytes: Option<u64>) -> (Vec<String>, Vec<InputError>, u64) {
        let accounts = accounts();
        let index = AccountIndex::new(Some(&accounts));
        let progress = ProgressBar::hidden();
        let file = File::open(dir.join("usage.csv")).unwrap();
        let (records, errors) = match part_bytes {
            None => read_table(dir, &USAGE, file, &progress, |t| parse_usage(t, &index)),
            Some(n) => read_table_in_parts(
                dir,
                &USAGE,
                file,
                &progress,
                |t| parse_usage(t, &index),
                Some(n),
            ),
        }
        .unwrap();
        let records = records.iter().map(|u| format!("{u:?}")).collect();
        (records, errors, progress.position())
    }

    #[test]
    fn reading_in_parts_gives_what_reading_on_one_thread_gives() {
        for quoted in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let text = messy_usage(3000, quoted);
            std::fs::write(dir.path().join("usage.csv"), &text).unwrap();
            let (records, errors, progress) = read_usage(dir.path(), None);
            assert_eq!(progress, text.len() as u64);
            assert!(records.len() > 2000, "{}", records.len());
            // More errors than the cap, the last ones near the end of the file.
            assert!(errors.len() == MAX_ERRORS_PER_FILE + 1, "{}", errors.len());
            for part_bytes in [1, 50, 333, 4096, 20_000, 1 << 20] {
                let parts = cut_points(
                    &dir.path().join("usage.csv"),
                    0,
                    text.len() as u64,
                    part_bytes,
                )
                .unwrap()
                .len();
                assert!(part_bytes > 20_000 || parts > 3, "{part_bytes}: {parts}");
                let got = read_usage(dir.path(), Some(part_bytes));
                assert_eq!(
                    got.0, records,
                    "{part_bytes} bytes per part, quoted: {quoted}"
                );
                assert_eq!(
                    got.1, errors,
                    "{part_bytes} bytes per part, quoted: {quoted}"
                );
                assert_eq!(
                    got.2, progress,
                    "{part_bytes} bytes per part, quoted: {quoted}"
                );
            }
        }
    }

    #[test]
    fn reading_in_parts_keeps_every_error_line_under_the_cap() {
        // Fewer errors than the cap, spread over every part: all of them, lines exact.
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("account_id,date,active_users\r\n\r\n");
        for i in 0..2000 {
            match i % 23 {
                0 => text.push_str("a1,2025-01-01,x\r\n"),
                1 => text.push('\n'),
                _ => text.push_str("a1,2025-01-01,1\r\n"),
            }
        }
        std::fs::write(dir.path().join("usage.csv"), &text).unwrap();
        let (records, errors, _) = read_usage(dir.path(), None);
        assert_eq!(errors.len(), 87);
        assert_eq!(errors[1].line, 3 + 23);
        for part_bytes in [10, 100, 1000] {
            let got = read_usage(dir.path(), Some(part_bytes));
            assert_eq!((&got.0, &got.1), (&records, &errors));
        }
    }

    #[test]
    fn plain_amounts_read_as_the_general_parser_reads_them() {
        for s in [
            "0",
            "00",
            "0.0",
            "007.50",
            "84.82",
            "1",
            "123456789012345678",
            "1234567890123456789",
            "12345678901234567.8",
            "0.000000000000000001",
            "1.",
            ".5",
            "1..2",
            "1.2.3",
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            " 1",
            "1_0",
            "99999999999999999999",
        ] {
            let fast = parse_plain_decimal(s.as_bytes());
            let general = Decimal::from_str(s).ok().filter(|_| !s.contains('_'));
            if let Some(f) = fast {
                let g = general.unwrap_or_else(|| panic!("{s:?}"));
                assert_eq!(
                    (f.mantissa(), f.scale()),
                    (g.mantissa(), g.scale()),
                    "{s:?}"
                );
            }
            let d = parse_decimal(s);
            assert_eq!(
                d.map(|d| (d.mantissa(), d.scale())),
                general.map(|d| (d.mantissa(), d.scale())),
                "{s:?}"
            );
        }
    }

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

    #[test]
    fn amounts_too_large_for_the_metrics_are_input_errors() {
        // Found by the `csv_rows` fuzz target: such an MRR made the metrics panic.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("accounts.csv"), "id,name\nacme,Acme\n").unwrap();
        std::fs::write(
            dir.path().join("subscriptions.csv"),
            "id,account_id,mrr,currency,start_date\n\
             s1,acme,79228162514264337593543950335,EUR,2024-01-10\n\
             s2,acme,1000000000000000,USD,2024-01-10\n",
        )
        .unwrap();
        let ctx = SourceContext {
            timezone: chrono_tz::UTC,
            fx: crate::sources::demo::demo_fx(),
        };
        match read_dir(dir.path(), &ctx, &ProgressBar::hidden()) {
            Err(SourceError::Invalid { errors, .. }) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(errors[0].line, 2);
                assert!(errors[0].message.contains("is too large"), "{errors:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
