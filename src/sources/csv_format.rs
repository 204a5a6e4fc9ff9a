//! The CSV format of the `files` source, defined once: which file holds which record kind, its
//! columns (named exactly as METRICS.md names the fields), and a writer that produces those files.
//!
//! The reader ([`super::files`]) and the writer ([`write_dataset`], used by `demo --write-data`)
//! both take the file names and columns from here, so what one writes the other reads.

use std::fs::File;
use std::io::Write as _;
use std::io::{self, BufWriter};

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::{Dataset, YearMonth};

/// The record kinds of METRICS.md, one CSV file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Account,
    Subscription,
    Usage,
    SurveyResponse,
    Ticket,
    Renewal,
    Cost,
}

/// One column of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header name, exactly as METRICS.md names the field.
    pub name: &'static str,
    /// Whether every row needs a value (bold in METRICS.md). An optional column may also be
    /// left out of the header altogether.
    pub required: bool,
}

const fn req(name: &'static str) -> Column {
    Column {
        name,
        required: true,
    }
}

const fn opt(name: &'static str) -> Column {
    Column {
        name,
        required: false,
    }
}

/// The shape of one CSV file of the `files` source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileFormat {
    pub kind: RecordKind,
    pub file_name: &'static str,
    /// Every known column, in the order the writer writes them.
    pub columns: &'static [Column],
    /// Whether the file must exist (only `accounts.csv`).
    pub required: bool,
    /// Whether columns not listed are kept (as account custom fields) rather than rejected.
    pub extra_columns: bool,
}

impl FileFormat {
    /// The index in [`FileFormat::columns`] of the column with this name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The column names, comma separated (for messages).
    pub fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        names.join(", ")
    }
}

pub const ACCOUNTS: FileFormat = FileFormat {
    kind: RecordKind::Account,
    file_name: "accounts.csv",
    columns: &[
        req("id"),
        req("name"),
        opt("owner"),
        opt("segment"),
        opt("plan"),
        opt("created_at"),
        opt("renewal_date"),
        opt("licensed_seats"),
        opt("first_value_at"),
        opt("trial_started_at"),
        opt("trial_ended_at"),
        opt("converted_at"),
    ],
    required: true,
    extra_columns: true,
};

pub const SUBSCRIPTIONS: FileFormat = FileFormat {
    kind: RecordKind::Subscription,
    file_name: "subscriptions.csv",
    columns: &[
        req("id"),
        req("account_id"),
        req("mrr"),
        opt("currency"),
        req("start_date"),
        opt("end_date"),
    ],
    required: false,
    extra_columns: false,
};

pub const USAGE: FileFormat = FileFormat {
    kind: RecordKind::Usage,
    file_name: "usage.csv",
    columns: &[
        req("account_id"),
        req("date"),
        req("active_users"),
        opt("sessions"),
        opt("minutes"),
        opt("features_used"),
    ],
    required: false,
    extra_columns: false,
};

pub const SURVEY_RESPONSES: FileFormat = FileFormat {
    kind: RecordKind::SurveyResponse,
    file_name: "survey_responses.csv",
    columns: &[
        req("id"),
        req("account_id"),
        req("kind"),
        req("score"),
        req("submitted_at"),
        opt("comment"),
    ],
    required: false,
    extra_columns: false,
};

pub const TICKETS: FileFormat = FileFormat {
    kind: RecordKind::Ticket,
    file_name: "tickets.csv",
    columns: &[
        req("id"),
        req("account_id"),
        req("opened_at"),
        opt("resolved_at"),
        opt("first_response_at"),
        opt("contacts"),
    ],
    required: false,
    extra_columns: false,
};

pub const RENEWALS: FileFormat = FileFormat {
    kind: RecordKind::Renewal,
    file_name: "renewals.csv",
    columns: &[
        req("id"),
        req("account_id"),
        req("due_date"),
        req("outcome"),
        opt("amount"),
    ],
    required: false,
    extra_columns: false,
};

pub const COSTS: FileFormat = FileFormat {
    kind: RecordKind::Cost,
    file_name: "costs.csv",
    columns: &[req("month"), req("amount")],
    required: false,
    extra_columns: false,
};

/// Every file of the format, `accounts.csv` first.
pub const FORMATS: [&FileFormat; 7] = [
    &ACCOUNTS,
    &SUBSCRIPTIONS,
    &USAGE,
    &SURVEY_RESPONSES,
    &TICKETS,
    &RENEWALS,
    &COSTS,
];

/// The format of the file holding records of `kind`.
pub fn format_of(kind: RecordKind) -> &'static FileFormat {
    match kind {
        RecordKind::Account => &ACCOUNTS,
        RecordKind::Subscription => &SUBSCRIPTIONS,
        RecordKind::Usage => &USAGE,
        RecordKind::SurveyResponse => &SURVEY_RESPONSES,
        RecordKind::Ticket => &TICKETS,
        RecordKind::Renewal => &RENEWALS,
        RecordKind::Cost => &COSTS,
    }
}

/// One file written by [`write_dataset`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    pub file_name: &'static str,
    pub path: PathBuf,
    /// Data rows (the header not counted).
    pub rows: u64,
    pub bytes: u64,
}

/// What [`write_dataset`] wrote, in the order of [`FORMATS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub files: Vec<WrittenFile>,
}

impl WriteSummary {
    pub fn total_rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// Writes `ds` into `dir` (created if missing) as the seven CSV files of the format, each with a
/// header row, replacing files of the same names. Dates are `YYYY-MM-DD`, decimals as
/// [`Decimal`]'s `Display`, `None` as an empty field; account custom fields become extra columns
/// of `accounts.csv` (the union of their names, sorted). Each file is written to a temporary
/// file in `dir` and renamed into place, so a crash never leaves a half-written file.
///
/// Values are written as they are; the reader trims surrounding white space and reads an empty
/// custom field as absent, so such values do not survive a round trip unchanged.
pub fn write_dataset(dir: &Path, ds: &Dataset) -> io::Result<WriteSummary> {
    std::fs::create_dir_all(dir)?;
    for k in custom_columns(ds) {
        if ACCOUNTS.column_index(k).is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("account custom field \"{k}\" has the name of a standard column of accounts.csv"),
            ));
        }
    }
    let results: Vec<io::Result<WrittenFile>> = std::thread::scope(|s| {
        let handles: Vec<_> = FORMATS
            .iter()
            .map(|f| s.spawn(move || write_file(dir, f, ds)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a CSV writer thread panicked")))
            })
            .collect()
    });
    let mut summary = WriteSummary::default();
    for r in results {
        summary.files.push(r?);
    }
    Ok(summary)
}

/// The custom field names of every account, sorted, each once.
fn custom_columns(ds: &Dataset) -> Vec<&str> {
    let mut names: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for a in ds.accounts() {
        for k in a.custom.keys() {
            // BTreeSet::insert on an existing key does not allocate: names are borrowed.
            names.insert(k.as_str());
        }
    }
    names.into_iter().collect()
}

fn write_file(dir: &Path, format: &FileFormat, ds: &Dataset) -> io::Result<WrittenFile> {
    let path = dir.join(format.file_name);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", format.file_name))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let file = tmp.as_file().try_clone()?;
    let mut w = csv::WriterBuilder::new()
        .flexible(false)
        .from_writer(BufWriter::with_capacity(1 << 20, file));
    let mut f = Fields::default();
    let rows = write_rows(&mut w, &mut f, format, ds)?;
    let file = w
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?
        .into_inner()
        .map_err(|e| e.into_error())?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(WrittenFile {
        file_name: format.file_name,
        path,
        rows,
        bytes,
    })
}

/// Reusable formatting buffer, so that rows are written without allocating.
#[derive(Default)]
struct Fields {
    buf: Vec<u8>,
}

impl Fields {
    fn display(&mut self, v: impl std::fmt::Display) -> &[u8] {
        self.buf.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(self.buf, "{v}");
        &self.buf
    }

    fn date(&mut self, d: NaiveDate) -> &[u8] {
        self.display(d)
    }

    fn opt_date(&mut self, d: Option<NaiveDate>) -> &[u8] {
        match d {
            Some(d) => self.display(d),
            None => b"",
        }
    }

    fn dec(&mut self, d: Decimal) -> &[u8] {
        self.display(d)
    }

    fn opt_dec(&mut self, d: Option<Decimal>) -> &[u8] {
        match d {
            Some(d) => self.display(d),
            None => b"",
        }
    }

    fn int(&mut self, n: u64) -> &[u8] {
        self.display(n)
    }

    fn opt_int(&mut self, n: Option<u32>) -> &[u8] {
        match n {
            Some(n) => self.display(n),
            None => b"",
        }
    }

    fn month(&mut self, m: YearMonth) -> &[u8] {
        self.display(m)
    }
}

fn opt_str(s: &Option<String>) -> &[u8] {
    s.as_deref().unwrap_or("").as_bytes()
}

type W = csv::Writer<BufWriter<File>>;

/// Writes the header and every row of `format`; returns the number of data rows.
fn write_rows(w: &mut W, f: &mut Fields, format: &FileFormat, ds: &Dataset) -> io::Result<u64> {
    let accounts = ds.accounts();
    // A child's account id; an index out of range (not produced by any source) writes empty.
    let account_id = |ix: u32| -> &[u8] {
        accounts
            .get(ix as usize)
            .map(|a| a.id.as_bytes())
            .unwrap_or(b"")
    };
    for c in format.columns {
        w.write_field(c.name)?;
    }
    let rows = match format.kind {
        RecordKind::Account => {
            let custom = custom_columns(ds);
            for k in &custom {
                w.write_field(k)?;
            }
            w.write_record(None::<&[u8]>)?;
            for a in accounts {
                w.write_field(&a.id)?;
                w.write_field(&a.name)?;
                w.write_field(opt_str(&a.owner))?;
                w.write_field(opt_str(&a.segment))?;
                w.write_field(opt_str(&a.plan))?;
                w.write_field(f.opt_date(a.created_at))?;
                w.write_field(f.opt_date(a.renewal_date))?;
                w.write_field(f.opt_int(a.licensed_seats))?;
                w.write_field(f.opt_date(a.first_value_at))?;
                w.write_field(f.opt_date(a.trial_started_at))?;
                w.write_field(f.opt_date(a.trial_ended_at))?;
                w.write_field(f.opt_date(a.converted_at))?;
                for k in &custom {
                    w.write_field(a.custom.get(*k).map(String::as_str).unwrap_or(""))?;
                }
                w.write_record(None::<&[u8]>)?;
            }
            accounts.len()
        }
        RecordKind::Subscription => {
            w.write_record(None::<&[u8]>)?;
            for s in &ds.subscriptions {
                w.write_field(&s.id)?;
                w.write_field(account_id(s.account))?;
                w.write_field(f.dec(s.mrr))?;
                w.write_field(s.currency.as_str())?;
                w.write_field(f.date(s.start_date))?;
                w.write_field(f.opt_date(s.end_date))?;
                w.write_record(None::<&[u8]>)?;
            }
            ds.subscriptions.len()
        }
        RecordKind::Usage => {
            w.write_record(None::<&[u8]>)?;
            for u in &ds.usage {
                w.write_field(account_id(u.account))?;
                w.write_field(f.date(u.date))?;
                w.write_field(f.int(u.active_users.into()))?;
                w.write_field(f.int(u.sessions.into()))?;
                w.write_field(f.dec(u.minutes))?;
                w.write_field(f.opt_int(u.features_used))?;
                w.write_record(None::<&[u8]>)?;
            }
            ds.usage.len()
        }
        RecordKind::SurveyResponse => {
            w.write_record(None::<&[u8]>)?;
            for r in &ds.survey_responses {
                w.write_field(&r.id)?;
                w.write_field(account_id(r.account))?;
                w.write_field(r.kind.as_str())?;
                w.write_field(f.int(r.score.into()))?;
                w.write_field(f.date(r.submitted_at))?;
                w.write_field(opt_str(&r.comment))?;
                w.write_record(None::<&[u8]>)?;
            }
            ds.survey_responses.len()
        }
        RecordKind::Ticket => {
            w.write_record(None::<&[u8]>)?;
            for t in &ds.tickets {
                w.write_field(&t.id)?;
                w.write_field(account_id(t.account))?;
                w.write_field(f.date(t.opened_at))?;
                w.write_field(f.opt_date(t.resolved_at))?;
                w.write_field(f.opt_date(t.first_response_at))?;
                w.write_field(f.opt_int(t.contacts))?;
                w.write_record(None::<&[u8]>)?;
            }
            ds.tickets.len()
        }
        RecordKind::Renewal => {
            w.write_record(None::<&[u8]>)?;
            for r in &ds.renewals {
                w.write_field(&r.id)?;
                w.write_field(account_id(r.account))?;
                w.write_field(f.date(r.due_date))?;
                w.write_field(r.outcome.as_str())?;
                w.write_field(f.opt_dec(r.amount))?;
                w.write_record(None::<&[u8]>)?;
            }
            ds.renewals.len()
        }
        RecordKind::Cost => {
            w.write_record(None::<&[u8]>)?;
            for c in &ds.costs {
                w.write_field(f.month(c.month))?;
                w.write_field(f.dec(c.amount))?;
                w.write_record(None::<&[u8]>)?;
            }
            ds.costs.len()
        }
    };
    w.flush()?;
    Ok(rows as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_consistent() {
        for (f, kind) in FORMATS.iter().zip([
            RecordKind::Account,
            RecordKind::Subscription,
            RecordKind::Usage,
            RecordKind::SurveyResponse,
            RecordKind::Ticket,
            RecordKind::Renewal,
            RecordKind::Cost,
        ]) {
            assert_eq!(f.kind, kind);
            assert_eq!(format_of(kind), *f);
            for (i, c) in f.columns.iter().enumerate() {
                assert_eq!(f.column_index(c.name), Some(i), "{} twice", c.name);
            }
        }
    }
}

#[cfg(test)]
mod write_tests {
    use super::*;
    use crate::model::{Account, Cost, Currency, Subscription, Usage};
    use rust_decimal_macros::dec;

    #[test]
    fn writes_headers_rows_and_custom_columns() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let mut a = Account {
            id: "a1".into(),
            name: "Acme, Inc.".into(),
            created_at: Some(d("2024-01-05")),
            licensed_seats: Some(10),
            ..Account::default()
        };
        a.custom.insert("region".into(), "EU".into());
        let b = Account {
            id: "a2".into(),
            name: "Beta".into(),
            custom: [("csm_tier".to_string(), "2".to_string())].into(),
            ..Account::default()
        };
        let mut ds = Dataset::new(vec![a, b]).unwrap();
        ds.subscriptions.push(Subscription {
            id: "s1".into(),
            account: 1,
            mrr: dec!(99.50),
            currency: Currency::EUR,
            start_date: d("2024-02-01"),
            end_date: None,
        });
        ds.usage.push(Usage {
            account: 0,
            date: d("2024-03-09"),
            active_users: 3,
            sessions: 0,
            minutes: dec!(12.25),
            features_used: None,
        });
        ds.costs.push(Cost {
            month: YearMonth {
                year: 2024,
                month: 3,
            },
            amount: dec!(1000),
        });
        let dir = tempfile::tempdir().unwrap();
        let summary = write_dataset(dir.path(), &ds).unwrap();
        assert_eq!(summary.files.len(), 7);
        assert_eq!(summary.total_rows(), 5);
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert_eq!(
            read("accounts.csv"),
            "id,name,owner,segment,plan,created_at,renewal_date,licensed_seats,first_value_at,\
             trial_started_at,trial_ended_at,converted_at,csm_tier,region\n\
             a1,\"Acme, Inc.\",,,,2024-01-05,,10,,,,,,EU\n\
             a2,Beta,,,,,,,,,,,2,\n"
        );
        assert_eq!(
            read("subscriptions.csv"),
            "id,account_id,mrr,currency,start_date,end_date\ns1,a2,99.50,EUR,2024-02-01,\n"
        );
        assert_eq!(
            read("usage.csv"),
            "account_id,date,active_users,sessions,minutes,features_used\na1,2024-03-09,3,0,12.25,\n"
        );
        assert_eq!(read("costs.csv"), "month,amount\n2024-03,1000\n");
        assert_eq!(
            read("tickets.csv"),
            "id,account_id,opened_at,resolved_at,first_response_at,contacts\n"
        );
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 7);
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn numbers_format_like_display() {
        let mut f = Fields::default();
        for s in [
            "0",
            "0.00",
            "0.05",
            "5",
            "10.50",
            "1000.5",
            "-3.25",
            "-0.001",
            "123456789.000000001",
            "79228162514264337593543950335",
            "0.0000000000000000000000000001",
        ] {
            let d = Decimal::from_str(s).unwrap();
            assert_eq!(std::str::from_utf8(f.dec(d)).unwrap(), d.to_string(), "{s}");
        }
        for n in [0u64, 7, 10, 4_294_967_295, u64::MAX] {
            assert_eq!(std::str::from_utf8(f.int(n)).unwrap(), n.to_string());
        }
        let d = NaiveDate::from_ymd_opt(987, 3, 9).unwrap();
        assert_eq!(f.date(d), b"0987-03-09");
    }
}
