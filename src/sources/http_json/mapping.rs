//! The mapping of the `http_json` source: each JSON record of a response becomes one canonical
//! record (METRICS.md) of the configured kind, each canonical field read at its configured
//! [`Path`]. Pure: the source hands pages of JSON in, a [`Dataset`] or every error comes out.
//!
//! Values are read as an API writes them:
//!
//! - text: a JSON string (trimmed) or a number (its digits: ids are often numbers);
//! - whole numbers (counts, seats, scores): a JSON number or a string holding one;
//!   `3.0` is 3, `3.5` is an error;
//! - decimals (`mrr`, `minutes`, `amount`): a JSON number or a string holding one, read from its
//!   text, never through binary floating point; serde_json keeps a number with more than 17
//!   significant digits only approximately, so send such amounts as strings (`"1234.5678"`);
//! - dates: `YYYY-MM-DD`, an RFC 3339 date-time (with an offset: converted to the business
//!   timezone; without one: read in it), or a whole number of seconds since 1970-01-01 UTC
//!   (epoch seconds; a value that looks like milliseconds is refused);
//! - `null`, a missing key and `""` all mean "no value": an error for a required field, the
//!   field's default otherwise;
//! - booleans are refused everywhere but in an account's custom fields (`"true"`, `"false"`).
//!
//! Records that name an account (every kind but `account`) create stub accounts with the named
//! ids and an empty name: the store merges accounts by id across sources, so such a source is
//! meant to sit beside a CRM or `files` source that names the accounts.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value;

use super::path::Path;
use crate::model::{
    Account, AccountIx, Currency, Dataset, FxRates, Renewal, RenewalOutcome, Subscription,
    SurveyKind, SurveyResponse, Ticket, Usage,
};
use crate::sources::InputError;

/// The most errors listed; past them, one line says how many more there were.
pub const MAX_ERRORS: usize = 100;

/// Epoch seconds above this (the year 5138) are refused: likely milliseconds.
const MAX_EPOCH_SECONDS: i64 = 100_000_000_000;

/// The canonical record kinds a `http_json` source can produce (`record = "..."`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Account,
    Subscription,
    Usage,
    SurveyResponse,
    Ticket,
    Renewal,
}

/// How a field's value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Text,
    /// A whole number from 0 to 4,294,967,295.
    Count,
    /// An exact decimal, 0 or more.
    Decimal,
    Date,
    Currency,
    SurveyKind,
    Outcome,
}

/// One canonical field of a record kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    /// Bold in METRICS.md: must be mapped, and every record must have a value.
    pub required: bool,
    pub ty: FieldType,
}

const fn req(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        required: true,
        ty,
    }
}

const fn opt(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        required: false,
        ty,
    }
}

use FieldType as T;

const ACCOUNT: &[FieldSpec] = &[
    req("id", T::Text),
    req("name", T::Text),
    opt("owner", T::Text),
    opt("segment", T::Text),
    opt("plan", T::Text),
    opt("created_at", T::Date),
    opt("renewal_date", T::Date),
    opt("licensed_seats", T::Count),
    opt("first_value_at", T::Date),
    opt("trial_started_at", T::Date),
    opt("trial_ended_at", T::Date),
    opt("converted_at", T::Date),
];
const SUBSCRIPTION: &[FieldSpec] = &[
    req("id", T::Text),
    req("account_id", T::Text),
    req("mrr", T::Decimal),
    opt("currency", T::Currency),
    req("start_date", T::Date),
    opt("end_date", T::Date),
];
const USAGE: &[FieldSpec] = &[
    req("account_id", T::Text),
    req("date", T::Date),
    req("active_users", T::Count),
    opt("sessions", T::Count),
    opt("minutes", T::Decimal),
    opt("features_used", T::Count),
];
const SURVEY_RESPONSE: &[FieldSpec] = &[
    req("id", T::Text),
    req("account_id", T::Text),
    req("kind", T::SurveyKind),
    req("score", T::Count),
    req("submitted_at", T::Date),
    opt("comment", T::Text),
];
const TICKET: &[FieldSpec] = &[
    req("id", T::Text),
    req("account_id", T::Text),
    req("opened_at", T::Date),
    opt("resolved_at", T::Date),
    opt("first_response_at", T::Date),
    opt("contacts", T::Count),
];
const RENEWAL: &[FieldSpec] = &[
    req("id", T::Text),
    req("account_id", T::Text),
    req("due_date", T::Date),
    req("outcome", T::Outcome),
    opt("amount", T::Decimal),
];

/// The prefix of an account's custom fields in `fields`: `"custom.tier" = "attributes.tier"`.
pub const CUSTOM_PREFIX: &str = "custom.";

impl RecordKind {
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Usage,
        RecordKind::SurveyResponse,
        RecordKind::Ticket,
        RecordKind::Account,
        RecordKind::Renewal,
        RecordKind::Subscription,
    ];

    /// The word of `record = "..."`.
    pub fn word(self) -> &'static str {
        match self {
            RecordKind::Account => "account",
            RecordKind::Subscription => "subscription",
            RecordKind::Usage => "usage",
            RecordKind::SurveyResponse => "survey_response",
            RecordKind::Ticket => "ticket",
            RecordKind::Renewal => "renewal",
        }
    }

    pub fn from_word(word: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.word() == word)
    }

    /// Every canonical field, in METRICS.md's order.
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            RecordKind::Account => ACCOUNT,
            RecordKind::Subscription => SUBSCRIPTION,
            RecordKind::Usage => USAGE,
            RecordKind::SurveyResponse => SURVEY_RESPONSE,
            RecordKind::Ticket => TICKET,
            RecordKind::Renewal => RENEWAL,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static FieldSpec> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The required fields missing from `mapped`.
    pub fn missing<'a>(
        self,
        mapped: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Vec<&'static str> {
        self.fields()
            .iter()
            .filter(|f| f.required && !mapped.clone().into_iter().any(|m| m == f.name))
            .map(|f| f.name)
            .collect()
    }
}

/// The validated `record` and `fields` of a source: which path each canonical field is read at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    kind: RecordKind,
    /// Canonical field → path, in the kind's field order.
    fields: Vec<(&'static str, Path)>,
    /// Account custom field name → path (accounts only).
    custom: Vec<(String, Path)>,
}

/// Why a mapping cannot be built (config validation reports these with spans first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("`{field}` is not a field of a {kind} record")]
    Unknown { field: String, kind: &'static str },
    #[error("required field{} not mapped: {}", if .0.len() == 1 { "" } else { "s" }, .0.join(", "))]
    Missing(Vec<&'static str>),
}

impl Mapping {
    /// A mapping of `kind` from `fields` (canonical field or `custom.NAME` → path). Every
    /// required field must be mapped; custom fields only exist on accounts.
    pub fn new(
        kind: RecordKind,
        fields: impl IntoIterator<Item = (String, Path)>,
    ) -> Result<Mapping, MappingError> {
        let mut known: Vec<(&'static str, Path)> = Vec::new();
        let mut custom = Vec::new();
        for (name, path) in fields {
            if let Some(spec) = kind.field(&name) {
                known.retain(|(n, _)| *n != spec.name);
                known.push((spec.name, path));
            } else if let (RecordKind::Account, Some(c)) = (kind, name.strip_prefix(CUSTOM_PREFIX))
            {
                if c.is_empty() {
                    return Err(MappingError::Unknown {
                        field: name,
                        kind: kind.word(),
                    });
                }
                custom.push((c.to_string(), path));
            } else {
                return Err(MappingError::Unknown {
                    field: name,
                    kind: kind.word(),
                });
            }
        }
        let missing = kind.missing(known.iter().map(|(n, _)| *n));
        if !missing.is_empty() {
            return Err(MappingError::Missing(missing));
        }
        let order = |n: &str| kind.fields().iter().position(|f| f.name == n);
        known.sort_by_key(|(n, _)| order(n));
        Ok(Mapping {
            kind,
            fields: known,
            custom,
        })
    }

    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The path of a canonical field, when mapped.
    pub fn path(&self, field: &str) -> Option<&Path> {
        self.fields
            .iter()
            .find(|(n, _)| *n == field)
            .map(|(_, p)| p)
    }

    /// Every mapped canonical field with its path, in the kind's field order.
    pub fn fields(&self) -> &[(&'static str, Path)] {
        &self.fields
    }

    /// The account custom fields with their paths.
    pub fn custom(&self) -> &[(String, Path)] {
        &self.custom
    }
}

/// Builds one [`Dataset`] from the pages of a listing, collecting every error.
pub struct Builder<'m> {
    mapping: &'m Mapping,
    tz: Tz,
    fx: &'m FxRates,
    accounts: Vec<Account>,
    index: HashMap<String, AccountIx>,
    /// Record ids seen, with where (page, record) they were first (for duplicates).
    ids: HashMap<String, (u32, usize)>,
    data: Dataset,
    errors: Vec<InputError>,
    more_errors: u64,
    records: u64,
}

impl<'m> Builder<'m> {
    pub fn new(mapping: &'m Mapping, tz: Tz, fx: &'m FxRates) -> Builder<'m> {
        Builder {
            mapping,
            tz,
            fx,
            accounts: Vec::new(),
            index: HashMap::new(),
            ids: HashMap::new(),
            data: Dataset::default(),
            errors: Vec::new(),
            more_errors: 0,
            records: 0,
        }
    }

    /// Records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Errors so far (the listed ones and those past [`MAX_ERRORS`]).
    pub fn error_count(&self) -> u64 {
        self.errors.len() as u64 + self.more_errors
    }

    /// Reports a problem with a whole page (records not where configured, say).
    pub fn page_error(&mut self, page: u32, message: String) {
        self.push(InputError {
            file: format!("page {page}"),
            line: 0,
            column: None,
            message,
        });
    }

    fn push(&mut self, e: InputError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else {
            self.more_errors += 1;
        }
    }

    /// Maps every record of page `page` (from 1).
    pub fn add_page(&mut self, page: u32, records: &[Value]) {
        for (i, record) in records.iter().enumerate() {
            self.add(page, i + 1, record);
        }
    }

    /// Maps record `n` (from 1) of page `page`.
    pub fn add(&mut self, page: u32, n: usize, record: &Value) {
        self.records += 1;
        let at = |page: u32, n: usize| format!("record {n} of page {page}");
        if !(record.is_object() || record.is_array()) {
            self.push(InputError {
                file: at(page, n),
                line: 0,
                column: None,
                message: format!(
                    "{} is {}, expected an object",
                    show(record),
                    super::paging::kind_of(record)
                ),
            });
            return;
        }
        let mut r = Reader {
            mapping: self.mapping,
            record,
            tz: self.tz,
            fx: self.fx,
            errors: Vec::new(),
        };
        let mapped = r.record();
        let id = self
            .mapping
            .path("id")
            .and_then(|p| p.get(record))
            .and_then(|v| text_of(v).ok())
            .filter(|t| !t.is_empty());
        // Formatted only when there is something to report.
        let label = |id: &Option<String>| match id {
            Some(id) => format!("record {} ({})", show_text(id), at(page, n)),
            None => at(page, n),
        };
        for (field, message) in std::mem::take(&mut r.errors) {
            self.push(InputError {
                file: label(&id),
                line: 0,
                column: Some(field.to_string()),
                message,
            });
        }
        let Some(mapped) = mapped else { return };
        if let Some(id) = id {
            if let Some(&(first_page, first_n)) = self.ids.get(&id) {
                let message = format!(
                    "duplicate id {} (first in {})",
                    show_text(&id),
                    at(first_page, first_n)
                );
                let file = label(&Some(id));
                self.push(InputError {
                    file,
                    line: 0,
                    column: Some("id".to_string()),
                    message,
                });
                return;
            }
            self.ids.insert(id, (page, n));
        }
        self.keep(mapped);
    }

    /// The index of the account `id`, created as a stub when new.
    fn account(&mut self, id: String) -> AccountIx {
        if let Some(ix) = self.index.get(&id) {
            return *ix;
        }
        // More than u32::MAX accounts is refused in `finish` (Dataset::new).
        let ix = self.accounts.len() as AccountIx;
        self.index.insert(id.clone(), ix);
        self.accounts.push(Account {
            id,
            ..Account::default()
        });
        ix
    }

    fn keep(&mut self, mapped: Mapped) {
        match mapped {
            Mapped::Account(a) => {
                self.index
                    .insert(a.id.clone(), self.accounts.len() as AccountIx);
                self.accounts.push(a);
            }
            Mapped::Subscription(account, mut s) => {
                s.account = self.account(account);
                self.data.subscriptions.push(s);
            }
            Mapped::Usage(account, mut u) => {
                u.account = self.account(account);
                self.data.usage.push(u);
            }
            Mapped::Survey(account, mut s) => {
                s.account = self.account(account);
                self.data.survey_responses.push(s);
            }
            Mapped::Ticket(account, mut t) => {
                t.account = self.account(account);
                self.data.tickets.push(t);
            }
            Mapped::Renewal(account, mut r) => {
                r.account = self.account(account);
                self.data.renewals.push(r);
            }
        }
    }

    /// The data set, or every error found.
    pub fn finish(mut self) -> Result<Dataset, Vec<InputError>> {
        if self.more_errors > 0 {
            let n = self.more_errors;
            self.errors.push(InputError {
                file: "…".to_string(),
                line: 0,
                column: None,
                message: format!("and {n} more error{}", if n == 1 { "" } else { "s" }),
            });
        }
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let mut data = match Dataset::new(self.accounts) {
            Ok(d) => d,
            Err(e) => {
                return Err(vec![InputError {
                    file: "records".to_string(),
                    line: 0,
                    column: None,
                    message: e.to_string(),
                }])
            }
        };
        let rest = self.data;
        data.subscriptions = rest.subscriptions;
        data.usage = rest.usage;
        data.survey_responses = rest.survey_responses;
        data.tickets = rest.tickets;
        data.renewals = rest.renewals;
        Ok(data)
    }
}

/// One record mapped, with the id of the account it names (its index is given on keeping).
enum Mapped {
    Account(Account),
    Subscription(String, Subscription),
    Usage(String, Usage),
    Survey(String, SurveyResponse),
    Ticket(String, Ticket),
    Renewal(String, Renewal),
}

/// Reads the fields of one record, collecting (field, message) errors.
struct Reader<'r> {
    mapping: &'r Mapping,
    record: &'r Value,
    tz: Tz,
    fx: &'r FxRates,
    errors: Vec<(&'static str, String)>,
}

/// A field's raw value: `None` when unmapped, missing, `null` or `""`.
enum Raw<'v> {
    Value(&'v Value),
    /// Why there is no value, for a required field's error.
    Absent(String),
}

impl<'r> Reader<'r> {
    fn raw(&self, field: &str) -> Raw<'r> {
        let Some(path) = self.mapping.path(field) else {
            return Raw::Absent("is not mapped in `fields`".to_string());
        };
        match path.get(self.record) {
            None => Raw::Absent(format!("is required, but there is no `{path}`")),
            Some(Value::Null) => Raw::Absent(format!("is required, but `{path}` is null")),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Raw::Absent(format!("is required, but `{path}` is empty"))
            }
            Some(v) => Raw::Value(v),
        }
    }

    /// The field's value read by `read`, or `None` (with an error for a required field or a
    /// value `read` refuses).
    fn get<V>(
        &mut self,
        field: &'static str,
        read: impl FnOnce(&Value, &Self) -> Result<V, String>,
    ) -> Option<V> {
        let required = self.mapping.kind.field(field).is_some_and(|f| f.required);
        match self.raw(field) {
            Raw::Absent(why) => {
                if required {
                    self.errors.push((field, why));
                }
                None
            }
            Raw::Value(v) => match read(v, self) {
                Ok(x) => Some(x),
                Err(why) => {
                    let path = self
                        .mapping
                        .path(field)
                        .map(|p| p.to_string())
                        .unwrap_or_default();
                    self.errors
                        .push((field, format!("{} at `{path}` {why}", show(v))));
                    None
                }
            },
        }
    }

    fn text(&mut self, field: &'static str) -> Option<String> {
        self.get(field, |v, _| text_of(v))
    }

    fn count(&mut self, field: &'static str) -> Option<u32> {
        self.get(field, |v, _| count_of(v))
    }

    fn decimal(&mut self, field: &'static str) -> Option<Decimal> {
        self.get(field, |v, _| {
            let d = decimal_of(v)?;
            if d.is_sign_negative() && !d.is_zero() {
                Err("is negative".to_string())
            } else {
                Ok(d)
            }
        })
    }

    fn date(&mut self, field: &'static str) -> Option<NaiveDate> {
        self.get(field, |v, r| date_of(v, r.tz))
    }

    /// Whether reading went without error so far.
    fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    fn record(&mut self) -> Option<Mapped> {
        match self.mapping.kind {
            RecordKind::Account => self.account().map(Mapped::Account),
            RecordKind::Subscription => self.subscription(),
            RecordKind::Usage => self.usage(),
            RecordKind::SurveyResponse => self.survey(),
            RecordKind::Ticket => self.ticket(),
            RecordKind::Renewal => self.renewal(),
        }
    }

    fn account(&mut self) -> Option<Account> {
        let id = self.text("id");
        let name = self.text("name");
        let owner = self.text("owner");
        let segment = self.text("segment");
        let plan = self.text("plan");
        let created_at = self.date("created_at");
        let renewal_date = self.date("renewal_date");
        let licensed_seats = self.count("licensed_seats");
        let first_value_at = self.date("first_value_at");
        let trial_started_at = self.date("trial_started_at");
        let trial_ended_at = self.date("trial_ended_at");
        let converted_at = self.date("converted_at");
        let mut custom = std::collections::BTreeMap::new();
        for (name, path) in self.mapping.custom() {
            match path.get(self.record) {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => {
                    custom.insert(name.clone(), b.to_string());
                }
                Some(v) => match text_of(v) {
                    Ok(t) => {
                        if !t.is_empty() {
                            custom.insert(name.clone(), t);
                        }
                    }
                    Err(why) => self
                        .errors
                        .push(("custom", format!("{} at `{path}` {why}", show(v)))),
                },
            }
        }
        let (id, name) = (id?, name?);
        self.ok().then_some(Account {
            id,
            name,
            owner,
            segment,
            plan,
            created_at,
            renewal_date,
            licensed_seats,
            first_value_at,
            trial_started_at,
            trial_ended_at,
            converted_at,
            custom,
        })
    }

    fn subscription(&mut self) -> Option<Mapped> {
        let id = self.text("id");
        let account = self.text("account_id");
        let mrr = self.decimal("mrr");
        let currency = self.get("currency", |v, r| {
            let text = text_of(v)?;
            let c = Currency::from_str(&text)
                .map_err(|_| "is not a currency code (three letters, like USD)".to_string())?;
            match r.fx.rate(c) {
                Some(_) => Ok(c),
                None => Err(format!(
                    "has no exchange rate: add `{c} = ...` to [fx] (how many {} one {c} is worth)",
                    r.fx.reporting()
                )),
            }
        });
        let start_date = self.date("start_date");
        let end_date = self.date("end_date");
        if let (Some(s), Some(e)) = (start_date, end_date) {
            if e <= s {
                self.errors
                    .push(("end_date", format!("{e} is not after start_date {s}")));
            }
        }
        let (id, account, mrr, start_date) = (id?, account?, mrr?, start_date?);
        self.ok().then(|| {
            Mapped::Subscription(
                account,
                Subscription {
                    id,
                    account: 0,
                    mrr,
                    currency: currency.unwrap_or(self.fx.reporting()),
                    start_date,
                    end_date,
                },
            )
        })
    }

    fn usage(&mut self) -> Option<Mapped> {
        let account = self.text("account_id");
        let date = self.date("date");
        let active_users = self.count("active_users");
        let sessions = self.count("sessions");
        let minutes = self.decimal("minutes");
        let features_used = self.count("features_used");
        let (account, date, active_users) = (account?, date?, active_users?);
        self.ok().then(|| {
            Mapped::Usage(
                account,
                Usage {
                    account: 0,
                    date,
                    active_users,
                    sessions: sessions.unwrap_or(0),
                    minutes: minutes.unwrap_or(Decimal::ZERO),
                    features_used,
                },
            )
        })
    }

    fn survey(&mut self) -> Option<Mapped> {
        let id = self.text("id");
        let account = self.text("account_id");
        let kind = self.get("kind", |v, _| {
            let t = text_of(v)?;
            SurveyKind::from_str(&t)
                .map_err(|_| "is not a survey kind: nps, csat or ces".to_string())
        });
        let score = self.count("score");
        let submitted_at = self.date("submitted_at");
        let comment = self.text("comment");
        let (id, account, kind, score, submitted_at) =
            (id?, account?, kind?, score?, submitted_at?);
        let (lo, hi) = kind.score_range();
        let score = match u8::try_from(score) {
            Ok(s) if (lo..=hi).contains(&s) => s,
            _ => {
                self.errors.push((
                    "score",
                    format!("{score} is outside the {kind} range {lo}–{hi}"),
                ));
                return None;
            }
        };
        self.ok().then_some(Mapped::Survey(
            account,
            SurveyResponse {
                id,
                account: 0,
                kind,
                score,
                submitted_at,
                comment,
            },
        ))
    }

    fn ticket(&mut self) -> Option<Mapped> {
        let id = self.text("id");
        let account = self.text("account_id");
        let opened_at = self.date("opened_at");
        let resolved_at = self.date("resolved_at");
        let first_response_at = self.date("first_response_at");
        let contacts = self.count("contacts");
        let (id, account, opened_at) = (id?, account?, opened_at?);
        self.ok().then_some(Mapped::Ticket(
            account,
            Ticket {
                id,
                account: 0,
                opened_at,
                resolved_at,
                first_response_at,
                contacts,
            },
        ))
    }

    fn renewal(&mut self) -> Option<Mapped> {
        let id = self.text("id");
        let account = self.text("account_id");
        let due_date = self.date("due_date");
        let outcome = self.get("outcome", |v, _| {
            let t = text_of(v)?;
            RenewalOutcome::from_str(&t)
                .map_err(|_| "is not an outcome: renewed, churned or pending".to_string())
        });
        let amount = self.decimal("amount");
        let (id, account, due_date, outcome) = (id?, account?, due_date?, outcome?);
        self.ok().then_some(Mapped::Renewal(
            account,
            Renewal {
                id,
                account: 0,
                due_date,
                outcome,
                amount,
            },
        ))
    }
}

/// Text: a string (trimmed) or a number's digits.
fn text_of(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.trim().to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "is {}, expected text",
            super::paging::kind_of(other)
        )),
    }
}

/// The text of a number, as a JSON number or a string.
fn number_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.trim().to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "is {}, expected a number",
            super::paging::kind_of(other)
        )),
    }
}

/// An exact decimal from a number's text (`12`, `19.99`, `-3`, `1e3`).
fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.contains('_') || text.is_empty() {
        return None;
    }
    if text.contains(['e', 'E']) {
        return Decimal::from_scientific(text).ok();
    }
    Decimal::from_str(text).ok()
}

fn decimal_of(v: &Value) -> Result<Decimal, String> {
    let text = number_text(v)?;
    parse_decimal(&text).ok_or_else(|| "is not a decimal number".to_string())
}

fn count_of(v: &Value) -> Result<u32, String> {
    let text = number_text(v)?;
    let Some(d) = parse_decimal(&text) else {
        return Err("is not a whole number".to_string());
    };
    if d.is_sign_negative() && !d.is_zero() {
        return Err("is negative".to_string());
    }
    if !d.fract().is_zero() {
        return Err("is not a whole number".to_string());
    }
    d.to_u32()
        .ok_or_else(|| "is too large (at most 4294967295)".to_string())
}

fn date_of(v: &Value, tz: Tz) -> Result<NaiveDate, String> {
    match v {
        Value::String(s) => parse_date(s.trim(), tz).ok_or_else(|| {
            "is not a date (YYYY-MM-DD), an RFC 3339 date-time or epoch seconds".to_string()
        }),
        Value::Number(n) => {
            let Some(secs) = n.as_i64() else {
                return Err("is not a whole number of epoch seconds".to_string());
            };
            if secs.abs() > MAX_EPOCH_SECONDS {
                return Err("is too large for epoch seconds (milliseconds?)".to_string());
            }
            Utc.timestamp_opt(secs, 0)
                .single()
                .map(|t| t.with_timezone(&tz).date_naive())
                .ok_or_else(|| "is not a valid time".to_string())
        }
        other => Err(format!(
            "is {}, expected a date",
            super::paging::kind_of(other)
        )),
    }
}

/// A date, or a date-time as its date in `tz` (one with an offset is converted first).
fn parse_date(s: &str, tz: Tz) -> Option<NaiveDate> {
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&tz).date_naive());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, f) {
            return Some(dt.date());
        }
    }
    None
}

/// A JSON value as a message shows it: strings quoted, long values cut.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => show_text(s),
        Value::Array(_) => "[…]".to_string(),
        Value::Object(_) => "{…}".to_string(),
        other => other.to_string(),
    }
}

fn show_text(s: &str) -> String {
    const MAX: usize = 60;
    let quoted = Value::String(s.chars().take(MAX).collect()).to_string();
    if s.chars().count() > MAX {
        format!("{quoted}…")
    } else {
        quoted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn mapping(kind: RecordKind, fields: &[(&str, &str)]) -> Mapping {
        Mapping::new(
            kind,
            fields
                .iter()
                .map(|(f, p)| (f.to_string(), Path::parse(p).unwrap())),
        )
        .unwrap()
    }

    fn fx() -> FxRates {
        FxRates::new(Currency::USD).with_rate(Currency::EUR, dec!(1.08))
    }

    fn build(m: &Mapping, tz: Tz, pages: &[Value]) -> Result<Dataset, Vec<String>> {
        let fx = fx();
        let mut b = Builder::new(m, tz, &fx);
        for (i, page) in pages.iter().enumerate() {
            b.add_page(i as u32 + 1, page.as_array().unwrap());
        }
        b.finish()
            .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    fn usage_mapping() -> Mapping {
        mapping(
            RecordKind::Usage,
            &[
                ("account_id", "attributes.account.id"),
                ("date", "day"),
                ("active_users", "stats.\"active users\""),
                ("sessions", "stats.sessions"),
                ("minutes", "stats.minutes"),
            ],
        )
    }

    #[test]
    fn maps_usage_with_stub_accounts_and_exact_decimals() {
        let page = json!([
            {"attributes": {"account": {"id": "acme"}}, "day": "2025-03-01",
             "stats": {"active users": 12, "sessions": "30", "minutes": 0.1}},
            {"attributes": {"account": {"id": 42}}, "day": 1740787200,
             "stats": {"active users": 3.0, "minutes": "1234567.891011"}},
            {"attributes": {"account": {"id": "acme"}}, "day": "2025-03-02T23:30:00-05:00",
             "stats": {"active users": 1, "sessions": null, "minutes": ""}},
        ]);
        let d = build(&usage_mapping(), Tz::UTC, &[page]).unwrap();
        let ids: Vec<(&str, &str)> = d
            .accounts()
            .iter()
            .map(|a| (a.id.as_str(), a.name.as_str()))
            .collect();
        assert_eq!(ids, vec![("acme", ""), ("42", "")]);
        let u = &d.usage;
        assert_eq!(u.len(), 3);
        assert_eq!(
            (u[0].account, u[0].active_users, u[0].sessions),
            (0, 12, 30)
        );
        assert_eq!(u[0].minutes, dec!(0.1));
        assert_eq!(u[1].account, 1);
        assert_eq!(u[1].date, NaiveDate::from_ymd_opt(2025, 3, 1).unwrap());
        assert_eq!(u[1].minutes, dec!(1234567.891011));
        assert_eq!(u[1].active_users, 3);
        // 23:30 at -05:00 is 04:30 UTC the next day.
        assert_eq!(u[2].date, NaiveDate::from_ymd_opt(2025, 3, 3).unwrap());
        assert_eq!((u[2].sessions, u[2].minutes), (0, Decimal::ZERO));
    }

    #[test]
    fn dates_follow_the_business_timezone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let page = json!([
            {"attributes": {"account": {"id": "a"}}, "day": "2025-03-02T02:00:00Z", "stats": {"active users": 1}},
            {"attributes": {"account": {"id": "a"}}, "day": 1740880800, "stats": {"active users": 1}},
            {"attributes": {"account": {"id": "a"}}, "day": "2025-03-02 02:00:00", "stats": {"active users": 1}},
        ]);
        let d = build(&usage_mapping(), tz, &[page]).unwrap();
        let days: Vec<String> = d.usage.iter().map(|u| u.date.to_string()).collect();
        // 02:00 UTC is the evening before in New York; a time without offset is already local.
        assert_eq!(days, vec!["2025-03-01", "2025-03-01", "2025-03-02"]);
    }

    #[test]
    fn every_bad_value_is_reported_with_its_record_and_field() {
        let pages = [
            json!([
                {"attributes": {"account": {"id": "a"}}, "day": "2025-03-01", "stats": {"active users": "many"}},
                {"attributes": {"account": {"id": "a"}}, "day": "2025-02-30", "stats": {"active users": -1, "minutes": 1.5}},
            ]),
            json!([
                {"day": 1740787200123i64, "stats": {"active users": 2.5, "sessions": true}},
                "not an object",
            ]),
        ];
        let e = build(&usage_mapping(), Tz::UTC, &pages).unwrap_err();
        assert_eq!(
            e,
            vec![
                "record 1 of page 1: field active_users: \"many\" at `stats.\"active users\"` is not a whole number",
                "record 2 of page 1: field date: \"2025-02-30\" at `day` is not a date (YYYY-MM-DD), an RFC 3339 date-time or epoch seconds",
                "record 2 of page 1: field active_users: -1 at `stats.\"active users\"` is negative",
                "record 1 of page 2: field account_id: is required, but there is no `attributes.account.id`",
                "record 1 of page 2: field date: 1740787200123 at `day` is too large for epoch seconds (milliseconds?)",
                "record 1 of page 2: field active_users: 2.5 at `stats.\"active users\"` is not a whole number",
                "record 1 of page 2: field sessions: true at `stats.sessions` is a boolean, expected a number",
                "record 2 of page 2: \"not an object\" is text, expected an object",
            ]
        );
    }

    #[test]
    fn records_with_ids_are_named_by_them_and_duplicates_refused() {
        let m = mapping(
            RecordKind::SurveyResponse,
            &[
                ("id", "id"),
                ("account_id", "company"),
                ("kind", "type"),
                ("score", "answer.score"),
                ("submitted_at", "created"),
                ("comment", "answer.text"),
            ],
        );
        let page = json!([
            {"id": "r1", "company": "acme", "type": "nps", "answer": {"score": 9, "text": " great "}, "created": "2025-03-01T10:00:00Z"},
            {"id": "r2", "company": "acme", "type": "NPS", "answer": {"score": 11}, "created": "2025-03-01"},
            {"id": "r3", "company": "acme", "type": "csat", "answer": {"score": 6}, "created": "2025-03-01"},
            {"id": "r1", "company": "beta", "type": "ces", "answer": {"score": 7}, "created": "2025-03-01"},
        ]);
        let e = build(&m, Tz::UTC, std::slice::from_ref(&page)).unwrap_err();
        assert_eq!(
            e,
            vec![
                "record \"r2\" (record 2 of page 1): field kind: \"NPS\" at `type` is not a survey kind: nps, csat or ces",
                "record \"r3\" (record 3 of page 1): field score: 6 is outside the csat range 1–5",
                "record \"r1\" (record 4 of page 1): field id: duplicate id \"r1\" (first in record 1 of page 1)",
            ]
        );
        let ok = json!([page[0].clone()]);
        let d = build(&m, Tz::UTC, &[ok]).unwrap();
        assert_eq!(d.survey_responses[0].comment.as_deref(), Some("great"));
        assert_eq!(d.survey_responses[0].score, 9);
    }

    #[test]
    fn subscriptions_need_a_rate_for_their_currency_and_an_end_after_the_start() {
        let m = mapping(
            RecordKind::Subscription,
            &[
                ("id", "id"),
                ("account_id", "customer"),
                ("mrr", "mrr"),
                ("currency", "currency"),
                ("start_date", "start"),
                ("end_date", "end"),
            ],
        );
        let page = json!([
            {"id": "s1", "customer": "c1", "mrr": "99.90", "currency": "eur", "start": "2025-01-01", "end": null},
            {"id": "s2", "customer": "c1", "mrr": 10, "start": "2025-01-01", "end": "2025-01-01"},
            {"id": "s3", "customer": "c2", "mrr": -5, "currency": "GBP", "start": "2025-01-01"},
        ]);
        let e = build(&m, Tz::UTC, std::slice::from_ref(&page)).unwrap_err();
        assert_eq!(
            e,
            vec![
                "record \"s2\" (record 2 of page 1): field end_date: 2025-01-01 is not after start_date 2025-01-01",
                "record \"s3\" (record 3 of page 1): field mrr: -5 at `mrr` is negative",
                "record \"s3\" (record 3 of page 1): field currency: \"GBP\" at `currency` has no exchange rate: add `GBP = ...` to [fx] (how many USD one GBP is worth)",
            ]
        );
        let d = build(&m, Tz::UTC, &[json!([page[0].clone()])]).unwrap();
        let s = &d.subscriptions[0];
        assert_eq!(
            (s.mrr, s.currency, s.end_date),
            (dec!(99.90), Currency::EUR, None)
        );
    }

    #[test]
    fn accounts_keep_custom_fields() {
        let m = mapping(
            RecordKind::Account,
            &[
                ("id", "id"),
                ("name", "properties.name"),
                ("licensed_seats", "properties.seats"),
                ("custom.tier", "properties.tier"),
                ("custom.beta", "flags.beta"),
            ],
        );
        let page = json!([
            {"id": 7, "properties": {"name": "Acme", "seats": "25", "tier": "gold"}, "flags": {"beta": true}},
            {"id": 8, "properties": {"name": "Beta", "tier": null}},
        ]);
        let d = build(&m, Tz::UTC, &[page]).unwrap();
        let a = &d.accounts()[0];
        assert_eq!(
            (a.id.as_str(), a.name.as_str(), a.licensed_seats),
            ("7", "Acme", Some(25))
        );
        assert_eq!(a.custom.get("tier").map(String::as_str), Some("gold"));
        assert_eq!(a.custom.get("beta").map(String::as_str), Some("true"));
        assert!(d.accounts()[1].custom.is_empty());
    }

    #[test]
    fn renewals_and_tickets_map() {
        let r = mapping(
            RecordKind::Renewal,
            &[
                ("id", "id"),
                ("account_id", "acct"),
                ("due_date", "due"),
                ("outcome", "state"),
                ("amount", "value"),
            ],
        );
        let d = build(
            &r,
            Tz::UTC,
            &[json!([{"id": 1, "acct": "a", "due": "2025-06-30", "state": "renewed", "value": 1200.5}])],
        )
        .unwrap();
        assert_eq!(d.renewals[0].amount, Some(dec!(1200.5)));
        assert_eq!(d.renewals[0].outcome, RenewalOutcome::Renewed);
        let t = mapping(
            RecordKind::Ticket,
            &[
                ("id", "id"),
                ("account_id", "org"),
                ("opened_at", "created_at"),
                ("resolved_at", "solved_at"),
                ("contacts", "replies"),
            ],
        );
        let d = build(
            &t,
            Tz::UTC,
            &[json!([{"id": 5, "org": 9, "created_at": "2025-03-01T09:00:00Z", "solved_at": null, "replies": 1}])],
        )
        .unwrap();
        assert_eq!(d.tickets[0].resolved_at, None);
        assert_eq!(d.tickets[0].contacts, Some(1));
        assert_eq!(d.accounts()[0].id, "9");
    }

    #[test]
    fn errors_past_the_maximum_are_counted() {
        let m = usage_mapping();
        let page: Vec<Value> = (0..MAX_ERRORS + 5).map(|_| json!({})).collect();
        let e = build(&m, Tz::UTC, &[Value::Array(page)]).unwrap_err();
        assert_eq!(e.len(), MAX_ERRORS + 1);
        assert_eq!(e.last().unwrap(), "…: and 215 more errors");
    }

    #[test]
    fn mappings_need_their_required_fields() {
        let m = Mapping::new(
            RecordKind::Ticket,
            [("id".to_string(), Path::parse("id").unwrap())],
        );
        assert_eq!(
            m.unwrap_err().to_string(),
            "required fields not mapped: account_id, opened_at"
        );
        let m = Mapping::new(
            RecordKind::Usage,
            [("custom.x".to_string(), Path::parse("x").unwrap())],
        );
        assert_eq!(
            m.unwrap_err().to_string(),
            "`custom.x` is not a field of a usage record"
        );
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            "[0-9a-z:. -]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever an API sends, mapping gives records or errors, never a panic.
        #[test]
        fn mapping_never_panics(records in proptest::collection::vec(any_json(), 0..6)) {
            let fx = fx();
            for kind in RecordKind::ALL {
                let fields = kind
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.name.to_string(), Path::parse(["a", "b", "c", "a.b", "[0]", "b[1]"][i % 6]).unwrap()));
                let m = Mapping::new(kind, fields).unwrap();
                let mut b = Builder::new(&m, Tz::UTC, &fx);
                b.add_page(1, &records);
                let _ = b.finish();
            }
        }
    }

    #[test]
    fn counts_and_decimals_are_read_from_their_text() {
        assert_eq!(count_of(&json!(4294967295u64)), Ok(u32::MAX));
        assert!(count_of(&json!(4294967296u64)).is_err());
        assert_eq!(count_of(&json!("7")), Ok(7));
        assert_eq!(count_of(&json!(1e3)), Ok(1000));
        assert!(count_of(&json!("1_000")).is_err());
        assert_eq!(decimal_of(&json!(19.99)), Ok(dec!(19.99)));
        assert_eq!(decimal_of(&json!("0.30")), Ok(dec!(0.30)));
        assert_eq!(decimal_of(&json!(0.1)), Ok(dec!(0.1)));
        // Up to 15 significant digits survive serde_json's f64 exactly.
        for text in [
            "123456789.012345",
            "0.0000001",
            "99999.99",
            "2.5E-3",
            "1e21",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(decimal_of(&v), Ok(parse_decimal(text).unwrap()), "{text}");
        }
        assert_eq!(
            decimal_of(&json!(18446744073709551615u64)),
            Ok(dec!(18446744073709551615))
        );
        assert_eq!(
            decimal_of(&json!(-9223372036854775808i64)),
            Ok(dec!(-9223372036854775808))
        );
        assert!(decimal_of(&json!(1e300)).is_err());
        assert!(decimal_of(&json!("12,5")).is_err());
    }
}
