//! Rule tests, like `promtool test rules`: small timelines of metric values per account, and the
//! alert states a rule must reach at given evaluations.
//!
//! Tests live beside the rules, in `rules/<name>.test.toml`:
//!
//! ```toml
//! [[test]]
//! name = "fires after two days below 40, resolves above 45"
//! rule = "health-red"               # the id of the rule under test
//! start = "2025-03-01T09:00:00Z"    # first evaluation (default 2025-01-01T09:00:00Z; a bare date = 09:00 UTC)
//! every = "1d"                      # evaluation interval: Nw, Nd, Nh, Nm or Ns (default 1d)
//! # evaluations = 6                 # how many (default: enough for every series, expectation and action)
//! hold = [2]                        # evaluations at which the rule's data is stale (neither fire nor resolve)
//!
//! [test.accounts.acme]              # accounts by id; every key is optional
//! name = "Acme"                     # default: the id
//! segment = "Enterprise"
//! owner = "Priya Raman"
//! plan = "Pro"
//! mrr = 1200                        # MRR for `min_mrr` filters (a `mrr` series wins over it)
//! custom = { region = "EMEA" }
//!
//! [test.series.acme]                # per account id (or `portfolio`), per metric reference:
//! health = [35, 35, 35, 42, 46]     # the value at evaluation 0, 1, 2, ...; "_" = no value;
//! band = ["red", "red", "red", "yellow", "green"]   # a shorter series repeats its last value
//!
//! [[test.expect]]
//! at = 3                            # an evaluation index (0-based), a time or a date
//! acme = "firing"                   # inactive | pending | firing | resolved, per subject
//! notify = { acme = "fired" }       # optional: fired | reminder | resolved | none
//!
//! [[test.action]]                   # optional: what people do, before the evaluation `at`
//! at = 1
//! silence = "acme"                  # an account, `portfolio`, or "*" for every subject of the rule
//! until = 3                         # the silence ends at this evaluation (or time)
//! [[test.action]]
//! at = 4
//! ack = "acme"                      # acknowledge the firing alert of acme
//! by = "priya"                      # optional
//! ```
//!
//! A series' values apply to every window the rule reads the metric over (tests don't model
//! windows), and `band` to every band condition; for a portfolio rule the `portfolio` series
//! fills the portfolio values under the rule's filter. Accounts named only in `series` exist
//! with default fields. A subject the rule stops covering (filtered out) gets a `Clear` signal,
//! like a vanished series in Prometheus.
//!
//! [`load_tests`] reads and validates test files (every problem at once, with spans);
//! [`run_tests`] runs them against loaded rules through [`crate::rules::eval::evaluate`] and
//! [`crate::alerts::advance`] (the lifecycle, as `cs-pulse eval` advances it), and returns a
//! [`TestReport`] that renders each failure as a timeline of the subject next to what was
//! expected.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::config::duration::{format_duration, parse_duration};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use super::eval::{evaluate, ValueTable, PORTFOLIO};
use super::model::{Rule, RuleScope, Test, Window};
use crate::alerts::{
    acknowledge, advance, is_muted, AlertKey, AlertState, Event, Phase, Signal, Silence,
};
use crate::config::toml_file;
use crate::diagnostics::{line_col, Diagnostic, Diagnostics};
use crate::metrics::{MetricId, MetricRef};
use crate::model::{Account, AccountIx};

/// The first evaluation of a test that does not say `start`.
pub const DEFAULT_START: &str = "2025-01-01T09:00:00Z";

/// A file of rule tests, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct TestFile {
    /// The file as named to [`load_tests`] (or found in a directory given to it).
    pub path: String,
    pub tests: Vec<RuleTest>,
}

/// One `[[test]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleTest {
    pub name: String,
    /// The id of the rule under test.
    pub rule: String,
    /// `file:line:column` of the `rule = ...` value.
    pub location: String,
    pub start: DateTime<Utc>,
    pub every: Duration,
    /// How many evaluations run (0 to `evaluations - 1`).
    pub evaluations: usize,
    /// Accounts in file order: those of `[test.accounts]`, then those named only in a series.
    pub accounts: Vec<Account>,
    /// The `mrr` key of each account, parallel to `accounts`.
    pub account_mrr: Vec<Option<Decimal>>,
    /// Per subject (account id or `portfolio`).
    pub series: BTreeMap<String, SubjectSeries>,
    pub expectations: Vec<Expectation>,
    pub actions: Vec<Action>,
    /// Evaluations at which the rule's data is stale.
    pub holds: BTreeSet<usize>,
}

/// The values of one subject over the evaluations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubjectSeries {
    pub metrics: Vec<(MetricRef, Vec<Option<Decimal>>)>,
    pub band: Option<Vec<Option<String>>>,
}

impl SubjectSeries {
    /// The value of `metric` at evaluation `i` (a shorter series repeats its last value).
    pub fn metric(&self, metric: MetricRef, i: usize) -> Option<Decimal> {
        let (_, v) = self.metrics.iter().find(|(m, _)| *m == metric)?;
        at_or_last(v, i).copied().flatten()
    }

    pub fn band(&self, i: usize) -> Option<&str> {
        at_or_last(self.band.as_ref()?, i)?.as_deref()
    }
}

fn at_or_last<T>(v: &[T], i: usize) -> Option<&T> {
    v.get(i).or_else(|| v.last())
}

/// What one subject must look like after one evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub at: usize,
    pub subject: String,
    pub phase: Option<Phase>,
    /// `Some(None)`: nothing is sent.
    pub notify: Option<Option<Event>>,
}

/// Something a person does, before the evaluation `at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Acknowledge the firing alert of `subject`.
    Ack {
        at: usize,
        subject: String,
        by: String,
    },
    /// Mute `subject` (every subject when `None`) from evaluation `at` until `until` (exclusive).
    Silence {
        at: usize,
        until: DateTime<Utc>,
        subject: Option<String>,
    },
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Reads rule test files: a directory stands for every `*.test.toml` in it (sorted by name), a
/// file for itself. Every problem of every file is reported at once.
pub fn load_tests(paths: &[PathBuf]) -> Result<Vec<TestFile>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut files = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        if path.is_dir() {
            let entries = match std::fs::read_dir(path) {
                Ok(entries) => entries,
                Err(e) => {
                    diags.push(Diagnostic::new(
                        &name,
                        format!("cannot read directory: {e}"),
                    ));
                    continue;
                }
            };
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_test_file(p))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut out = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(src) => match parse_tests(&src, &name) {
                Ok(f) => out.push(f),
                Err(d) => diags.append(d),
            },
            Err(e) => diags.push(Diagnostic::new(&name, format!("cannot read: {e}"))),
        }
    }
    diags.into_result(out)
}

/// Whether `path` names a rule test file (`*.test.toml`).
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.toml"))
}

/// Validates the text of one test file; `file` names it in diagnostics and reports.
pub fn parse_tests(src: &str, file: &str) -> Result<TestFile, Diagnostics> {
    let raw: RawFile = toml_file::parse(src, file)?;
    let mut v = Validator {
        file: file.to_string(),
        src,
        diags: Diagnostics::for_source(file, src),
    };
    if raw.test.is_empty() {
        v.error(
            None,
            "no test in this file",
            "add a `[[test]]` table with `name`, `rule`, `[test.series.<account>]` and `[[test.expect]]`",
        );
    }
    let tests = raw.test.into_iter().filter_map(|t| v.test(t)).collect();
    v.diags.into_result(TestFile {
        path: file.to_string(),
        tests,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    test: Vec<Spanned<RawTest>>,
}

type Table<V> = BTreeMap<Spanned<String>, Spanned<V>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    name: Option<Spanned<String>>,
    rule: Option<Spanned<String>>,
    start: Option<Spanned<toml::Value>>,
    every: Option<Spanned<String>>,
    evaluations: Option<Spanned<toml_file::Number>>,
    #[serde(default)]
    hold: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    accounts: Table<RawAccount>,
    #[serde(default)]
    series: Table<Table<Vec<Spanned<toml::Value>>>>,
    #[serde(default)]
    expect: Vec<Spanned<Table<toml::Value>>>,
    #[serde(default)]
    action: Vec<Spanned<RawAction>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: Option<String>,
    segment: Option<String>,
    owner: Option<String>,
    plan: Option<String>,
    mrr: Option<Spanned<toml_file::Number>>,
    #[serde(default)]
    custom: Table<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    at: Option<Spanned<toml::Value>>,
    ack: Option<Spanned<String>>,
    by: Option<String>,
    silence: Option<Spanned<String>>,
    until: Option<Spanned<toml::Value>>,
}

/// An evaluation as written: an index, a time or a date.
#[derive(Clone, Copy, Debug)]
enum At {
    Index(usize),
    Time(DateTime<Utc>),
    Date(NaiveDate),
}

const AT_HINT: &str =
    "write an evaluation index (0 is the first), a time like \"2025-03-04T09:00:00Z\" or a date like \"2025-03-04\"";
const PHASES: [&str; 4] = ["inactive", "pending", "firing", "resolved"];
const EVENTS: [&str; 4] = ["fired", "reminder", "resolved", "none"];
/// The most evaluations one test may run.
const MAX_EVALUATIONS: usize = 10_000;

struct Validator<'a> {
    file: String,
    src: &'a str,
    diags: Diagnostics,
}

impl Validator<'_> {
    fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>, hint: &str) {
        self.diags
            .push(toml_file::error_at(&self.file, span, message, hint));
    }

    fn header(&self, span: Range<usize>) -> Range<usize> {
        toml_file::first_line(self.src, span)
    }

    fn location(&self, span: &Range<usize>) -> String {
        let (line, col) = line_col(self.src, span.start);
        format!("{}:{line}:{col}", self.file)
    }

    fn test(&mut self, spanned: Spanned<RawTest>) -> Option<RuleTest> {
        let header = self.header(spanned.span());
        let raw = spanned.into_inner();
        let errors_before = self.diags.len();

        let name = match raw.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.error(Some(n.span()), "a test name cannot be empty", "");
                String::new()
            }
            Some(n) => n.into_inner(),
            None => {
                self.error(
                    Some(header.clone()),
                    "missing key `name`",
                    "say what the test shows, like name = \"fires after two days below 40\"",
                );
                String::new()
            }
        };
        let (rule, location) = match raw.rule {
            Some(r) if r.get_ref().trim().is_empty() => {
                self.error(Some(r.span()), "a rule id cannot be empty", "");
                (String::new(), String::new())
            }
            Some(r) => {
                let location = self.location(&r.span());
                (r.into_inner(), location)
            }
            None => {
                self.error(
                    Some(header.clone()),
                    "missing key `rule`",
                    "name the rule under test by its id, like rule = \"health-red\"",
                );
                (String::new(), String::new())
            }
        };
        let start = match &raw.start {
            None => DEFAULT_START.parse().expect("valid default start"),
            Some(s) => match parse_at(s.get_ref()) {
                Some(At::Time(t)) => t,
                Some(At::Date(d)) => d
                    .and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default())
                    .and_utc(),
                _ => {
                    self.error(
                        Some(s.span()),
                        format!("`start` is not a time: {}", show(s.get_ref())),
                        "write a time like \"2025-03-01T09:00:00Z\", or a date (evaluated at 09:00 UTC)",
                    );
                    DEFAULT_START.parse().expect("valid default start")
                }
            },
        };
        let every = match &raw.every {
            None => Duration::days(1),
            Some(e) => match parse_duration(e.get_ref())
                .ok()
                .filter(|d| *d > Duration::zero())
            {
                Some(d) => d,
                None => {
                    self.error(
                        Some(e.span()),
                        format!("`every` is not a duration: \"{}\"", e.get_ref()),
                        "write a positive whole number and a unit, like \"1d\", \"12h\", \"30m\" or \"1w\"",
                    );
                    Duration::days(1)
                }
            },
        };

        // Accounts, in file order.
        let mut accounts: Vec<Account> = Vec::new();
        let mut account_mrr = Vec::new();
        for (id, acc) in toml_file::in_file_order(raw.accounts) {
            let (id_span, id) = (id.span(), id.into_inner());
            if id == PORTFOLIO {
                self.error(
                    Some(id_span),
                    format!("`{PORTFOLIO}` is not an account"),
                    "portfolio values go in [test.series.portfolio]",
                );
                continue;
            }
            let acc = acc.into_inner();
            let mrr = acc.mrr.and_then(|m| match m.get_ref().decimal() {
                Ok(d) => Some(d),
                Err(e) => {
                    self.error(
                        Some(m.span()),
                        format!("`mrr` {e}"),
                        "write an amount, like 1200",
                    );
                    None
                }
            });
            let mut custom = BTreeMap::new();
            for (k, val) in acc.custom {
                let text = match val.get_ref() {
                    toml::Value::String(s) => Some(s.clone()),
                    toml::Value::Integer(i) => Some(i.to_string()),
                    toml::Value::Float(f) => Some(f.to_string()),
                    toml::Value::Boolean(b) => Some(b.to_string()),
                    _ => None,
                };
                match text {
                    Some(t) => {
                        custom.insert(k.into_inner(), t);
                    }
                    None => self.error(
                        Some(val.span()),
                        format!("custom field `{}` must be a single value", k.get_ref()),
                        "write text, a number or true/false, like region = \"EMEA\"",
                    ),
                }
            }
            accounts.push(Account {
                name: acc.name.unwrap_or_else(|| id.clone()),
                id,
                owner: acc.owner,
                segment: acc.segment,
                plan: acc.plan,
                custom,
                ..Account::default()
            });
            account_mrr.push(mrr);
        }

        // Series; accounts named only here exist with default fields.
        let mut series = BTreeMap::new();
        let mut longest = 0;
        for (subject, metrics) in toml_file::in_file_order(raw.series) {
            let subject = subject.into_inner();
            if subject != PORTFOLIO && !accounts.iter().any(|a| a.id == subject) {
                accounts.push(Account {
                    id: subject.clone(),
                    name: subject.clone(),
                    ..Account::default()
                });
                account_mrr.push(None);
            }
            let mut s = SubjectSeries::default();
            for (key, values) in toml_file::in_file_order(metrics.into_inner()) {
                let values = values.into_inner();
                longest = longest.max(values.len());
                if values.is_empty() {
                    self.error(
                        Some(key.span()),
                        format!("the series `{}` has no values", key.get_ref()),
                        "give at least one value, like [35, 42]; \"_\" stands for no value",
                    );
                }
                if key.get_ref() == "band" {
                    s.band = Some(values.iter().map(|v| self.band_value(v)).collect());
                    continue;
                }
                match MetricRef::from_str(key.get_ref()) {
                    Ok(m) => {
                        let vals = values.iter().map(|v| self.number_value(v)).collect();
                        s.metrics.push((m, vals));
                    }
                    Err(e) => {
                        let hint = match e.suggestion {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "a series is named by a metric of docs/metrics.md (optionally with .change or .change_pct), or `band`".to_string(),
                        };
                        self.error(
                            Some(key.span()),
                            format!("unknown metric `{}`", key.get_ref()),
                            &hint,
                        );
                    }
                }
            }
            series.insert(subject, s);
        }
        let mut subjects: Vec<String> = accounts.iter().map(|a| a.id.clone()).collect();
        subjects.push(PORTFOLIO.to_string());

        // Everything that names an evaluation: resolved once `start` and `every` are known.
        let mut max_at = 0usize;
        let mut at = |v: &mut Self, value: &Spanned<toml::Value>, key: &str| -> Option<usize> {
            let i = v.at(value, key, start, every)?;
            max_at = max_at.max(i + 1);
            Some(i)
        };
        let mut holds = BTreeSet::new();
        for h in &raw.hold {
            if let Some(i) = at(self, h, "hold") {
                holds.insert(i);
            }
        }
        let mut expectations = Vec::new();
        for table in raw.expect {
            let header = self.header(table.span());
            let table = table.into_inner();
            let mut index = None;
            let mut found_at = false;
            let mut phases = Vec::new();
            let mut notify = Vec::new();
            for (key, value) in toml_file::in_file_order(table) {
                match key.get_ref().as_str() {
                    "at" => {
                        found_at = true;
                        index = at(self, &value, "at");
                    }
                    "notify" => match value.get_ref() {
                        toml::Value::Table(t) => {
                            // Inline tables lose their inner spans: find them in the text.
                            for (subject, event) in t {
                                let key_span = self
                                    .find(value.span(), subject)
                                    .unwrap_or_else(|| key.span());
                                let value_span = match event {
                                    toml::Value::String(w) => {
                                        let after = key_span.end..value.span().end;
                                        self.find(after.clone(), &format!("\"{w}\""))
                                            .or_else(|| self.find(after.clone(), &format!("'{w}'")))
                                    }
                                    _ => None,
                                }
                                .unwrap_or_else(|| key_span.clone());
                                notify.push((key_span, value_span, subject.clone(), event.clone()));
                            }
                        }
                        other => self.error(
                            Some(value.span()),
                            format!("`notify` must be a table, found {}", show(other)),
                            "write notify = { acme = \"fired\" } (fired, reminder, resolved or none)",
                        ),
                    },
                    _ => phases.push((key, value)),
                }
            }
            if !found_at {
                self.error(
                    Some(header.clone()),
                    "missing key `at`",
                    "say when, like at = 3 (the fourth evaluation) or at = \"2025-03-04T09:00:00Z\"",
                );
            }
            let written = !phases.is_empty() || !notify.is_empty();
            let mut exps: Vec<Expectation> = Vec::new();
            for (subject, value) in phases {
                if !self.check_subject(&subject, &subjects, &["at", "notify"]) {
                    continue;
                }
                let phase = match value.get_ref() {
                    toml::Value::String(w) => match Phase::parse(w) {
                        Some(p) => Some(p),
                        None => {
                            self.bad_word(value.span(), "phase", w, &PHASES);
                            None
                        }
                    },
                    other => {
                        self.error(
                            Some(value.span()),
                            format!("expected a phase, found {}", show(other)),
                            "write one of \"inactive\", \"pending\", \"firing\", \"resolved\"",
                        );
                        None
                    }
                };
                exps.push(Expectation {
                    at: 0,
                    subject: subject.into_inner(),
                    phase,
                    notify: None,
                });
            }
            for (span, value_span, subject, event) in notify {
                if !subjects.contains(&subject) {
                    let hint =
                        match toml_file::closest(&subject, subjects.iter().map(String::as_str)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => subjects_hint(&subjects),
                        };
                    self.error(
                        Some(span.clone()),
                        format!("unknown subject `{subject}` in `notify`"),
                        &hint,
                    );
                    continue;
                }
                let event = match &event {
                    toml::Value::String(w) => match w.as_str() {
                        "fired" => Some(Some(Event::Fired)),
                        "reminder" => Some(Some(Event::Reminder)),
                        "resolved" => Some(Some(Event::Resolved)),
                        "none" => Some(None),
                        _ => {
                            self.bad_word(value_span.clone(), "notification", w, &EVENTS);
                            None
                        }
                    },
                    other => {
                        self.error(
                            Some(value_span.clone()),
                            format!(
                                "expected a notification for `{subject}`, found {}",
                                show(other)
                            ),
                            "write one of \"fired\", \"reminder\", \"resolved\", \"none\"",
                        );
                        None
                    }
                };
                let Some(event) = event else { continue };
                match exps.iter_mut().find(|e| e.subject == subject) {
                    Some(e) => e.notify = Some(event),
                    None => exps.push(Expectation {
                        at: 0,
                        subject,
                        phase: None,
                        notify: Some(event),
                    }),
                }
            }
            if !written && found_at {
                self.error(
                    Some(header),
                    "this expectation expects nothing",
                    "add a phase per subject, like acme = \"firing\", or notify = { acme = \"fired\" }",
                );
            }
            if let Some(i) = index {
                for mut e in exps {
                    e.at = i;
                    expectations.push(e);
                }
            }
        }
        let mut actions = Vec::new();
        for action in raw.action {
            let header = self.header(action.span());
            let a = action.into_inner();
            let index = match &a.at {
                Some(v) => at(self, v, "at"),
                None => {
                    self.error(
                        Some(header.clone()),
                        "missing key `at`",
                        "say before which evaluation, like at = 2",
                    );
                    None
                }
            };
            match (&a.ack, &a.silence) {
                (Some(_), Some(s)) => self.error(
                    Some(s.span()),
                    "an action is either `ack` or `silence`, not both",
                    "write two [[test.action]] tables",
                ),
                (None, None) => self.error(
                    Some(header.clone()),
                    "this action does nothing",
                    "add ack = \"<account>\" (acknowledge) or silence = \"<account>\" with until = ...",
                ),
                (Some(subject), None) => {
                    if a.until.is_some() {
                        self.error(
                            a.until.as_ref().map(Spanned::span),
                            "an acknowledgement has no `until`",
                            "it lasts until the alert resolves; use silence = ... for a time-boxed mute",
                        );
                    }
                    let ok = self.check_subject(subject, &subjects, &[]);
                    if let (true, Some(i)) = (ok, index) {
                        actions.push(Action::Ack {
                            at: i,
                            subject: subject.get_ref().clone(),
                            by: a.by.clone().unwrap_or_else(|| "test".to_string()),
                        });
                    }
                }
                (None, Some(subject)) => {
                    let ok = subject.get_ref() == "*" || self.check_subject(subject, &subjects, &[]);
                    let until = match &a.until {
                        Some(u) => at(self, u, "until"),
                        None => {
                            self.error(
                                Some(header.clone()),
                                "missing key `until`",
                                "say when the silence ends, like until = 4 (an evaluation index) or a time",
                            );
                            None
                        }
                    };
                    if let (Some(from), Some(to)) = (index, until) {
                        if to <= from {
                            self.error(
                                a.until.as_ref().map(Spanned::span),
                                format!("the silence ends (evaluation {to}) before it starts (evaluation {from})"),
                                "`until` must be a later evaluation than `at`",
                            );
                        } else if ok {
                            actions.push(Action::Silence {
                                at: from,
                                until: eval_time(start, every, to),
                                subject: (subject.get_ref() != "*").then(|| subject.get_ref().clone()),
                            });
                        }
                    }
                }
            }
        }
        let evaluations = match &raw.evaluations {
            None => longest.max(max_at).max(1),
            Some(n) => match n.get_ref().integer(1, MAX_EVALUATIONS as i64) {
                Ok(n) if n as usize >= max_at => n as usize,
                Ok(n) => {
                    self.error(
                        Some(n_span(&raw.evaluations)),
                        format!(
                            "{n} evaluations end before evaluation {} that the test names",
                            max_at - 1
                        ),
                        "raise `evaluations`, or leave it out to run as many as the test needs",
                    );
                    n as usize
                }
                Err(e) => {
                    self.error(Some(n.span()), format!("`evaluations` {e}"), "");
                    1
                }
            },
        };
        if self.diags.len() > errors_before {
            return None;
        }
        Some(RuleTest {
            name,
            rule,
            location,
            start,
            every,
            evaluations,
            accounts,
            account_mrr,
            series,
            expectations,
            actions,
            holds,
        })
    }

    /// Resolves an evaluation reference to an index.
    fn at(
        &mut self,
        value: &Spanned<toml::Value>,
        key: &str,
        start: DateTime<Utc>,
        every: Duration,
    ) -> Option<usize> {
        let span = value.span();
        let Some(at) = parse_at(value.get_ref()) else {
            self.error(
                Some(span),
                format!("`{key}` is not an evaluation: {}", show(value.get_ref())),
                AT_HINT,
            );
            return None;
        };
        let index = match at {
            At::Index(i) => Some(i),
            At::Time(t) => {
                let offset = t - start;
                let step = every.num_seconds().max(1);
                let secs = offset.num_seconds();
                (secs >= 0 && secs % step == 0 && offset.subsec_nanos() == 0)
                    .then(|| (secs / step) as usize)
            }
            At::Date(d) => {
                let midnight = d.and_time(NaiveTime::MIN).and_utc();
                let step = every.num_seconds().max(1);
                let secs = (midnight - start).num_seconds();
                let i = if secs <= 0 {
                    0
                } else {
                    (secs + step - 1) / step
                };
                (eval_time(start, every, i as usize).date_naive() == d).then_some(i as usize)
            }
        };
        match index {
            Some(i) if i < MAX_EVALUATIONS => Some(i),
            Some(i) => {
                self.error(
                    Some(span),
                    format!("evaluation {i} is too far: a test runs at most {MAX_EVALUATIONS} evaluations"),
                    "",
                );
                None
            }
            None => {
                let first = fmt_time(start);
                self.error(
                    Some(span),
                    format!("{} is not an evaluation time", show(value.get_ref())),
                    &format!(
                        "evaluations run at `start` ({first}) and every {} after it",
                        format_duration(every)
                    ),
                );
                None
            }
        }
    }

    /// The first occurrence of `needle` within `within` of the text.
    fn find(&self, within: Range<usize>, needle: &str) -> Option<Range<usize>> {
        let hay = self.src.get(within.clone())?;
        let i = hay.find(needle)?;
        Some(within.start + i..within.start + i + needle.len())
    }

    fn check_subject(
        &mut self,
        subject: &Spanned<String>,
        subjects: &[String],
        keys: &[&str],
    ) -> bool {
        if subjects.iter().any(|s| s == subject.get_ref()) {
            return true;
        }
        let candidates = subjects
            .iter()
            .map(String::as_str)
            .chain(keys.iter().copied());
        let hint = match toml_file::closest(subject.get_ref(), candidates) {
            Some(s) => format!("did you mean `{s}`?"),
            None => subjects_hint(subjects),
        };
        self.error(
            Some(subject.span()),
            format!("unknown subject `{}`", subject.get_ref()),
            &hint,
        );
        false
    }

    fn bad_word(&mut self, span: Range<usize>, what: &str, word: &str, valid: &[&str]) {
        let hint = match toml_file::closest(word, valid.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "write one of {}",
                valid
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(Some(span), format!("unknown {what} `{word}`"), &hint);
    }

    fn number_value(&mut self, v: &Spanned<toml::Value>) -> Option<Decimal> {
        let parsed = match v.get_ref() {
            toml::Value::Integer(i) => Ok(Some(Decimal::from(*i))),
            toml::Value::Float(f) if f.is_finite() => {
                Decimal::from_str(&f.to_string()).map(Some).map_err(|_| ())
            }
            toml::Value::String(s) if s.trim() == "_" => Ok(None),
            toml::Value::String(s) => Decimal::from_str(s.trim()).map(Some).map_err(|_| ()),
            _ => Err(()),
        };
        parsed.unwrap_or_else(|()| {
            self.error(
                Some(v.span()),
                format!("not a number: {}", show(v.get_ref())),
                "write a number, like 42 or 0.85, or \"_\" for no value",
            );
            None
        })
    }

    fn band_value(&mut self, v: &Spanned<toml::Value>) -> Option<String> {
        match v.get_ref() {
            toml::Value::String(s) if s.trim() == "_" => None,
            toml::Value::String(s) => Some(s.clone()),
            other => {
                self.error(
                    Some(v.span()),
                    format!("not a band name: {}", show(other)),
                    "write a band of the health model, like \"red\", or \"_\" for none",
                );
                None
            }
        }
    }
}

fn n_span(n: &Option<Spanned<toml_file::Number>>) -> Range<usize> {
    n.as_ref().map_or(0..0, Spanned::span)
}

fn subjects_hint(subjects: &[String]) -> String {
    format!(
        "subjects are the accounts of [test.accounts] and [test.series], and `portfolio`: {}",
        subjects
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A TOML value as the user wrote it, for messages.
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("\"{s}\""),
        toml::Value::Table(_) => "a table".to_string(),
        toml::Value::Array(_) => "an array".to_string(),
        other => other.to_string(),
    }
}

fn parse_at(v: &toml::Value) -> Option<At> {
    match v {
        toml::Value::Integer(i) => usize::try_from(*i).ok().map(At::Index),
        toml::Value::String(s) => parse_time(s.trim()),
        toml::Value::Datetime(d) => parse_time(&d.to_string()),
        _ => None,
    }
}

fn parse_time(s: &str) -> Option<At> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(At::Time(t.with_timezone(&Utc)));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(At::Time(t.and_utc()));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(At::Date)
}

fn eval_time(start: DateTime<Utc>, every: Duration, i: usize) -> DateTime<Utc> {
    start + every * i as i32
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// ---------------------------------------------------------------------------------------------
// Running

/// The outcome of every test run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestReport {
    pub results: Vec<TestResult>,
}

/// The outcome of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    pub file: String,
    pub rule: String,
    pub name: String,
    /// Empty when the test passed; else what went wrong, ready to print (indented lines).
    pub failure: String,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.failure.is_empty()
    }
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// One `ok` line per passing test, a `FAIL` line and its diff per failing one, then
    /// `N passed, M failed`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let status = if r.passed() { "ok  " } else { "FAIL" };
            out.push_str(&format!("{status} {}: {}\n", r.rule, r.name));
            if !r.passed() {
                out.push_str(&r.failure);
                if !r.failure.ends_with('\n') {
                    out.push('\n');
                }
                out.push('\n');
            }
        }
        out.push_str(&format!(
            "{} passed, {} failed",
            self.passed(),
            self.failed()
        ));
        out
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// Runs every test of `files` against `rules`.
pub fn run_tests(files: &[TestFile], rules: &[Rule]) -> TestReport {
    let results = files
        .iter()
        .flat_map(|f| f.tests.iter().map(move |t| (f, t)))
        .map(|(f, t)| TestResult {
            file: f.path.clone(),
            rule: t.rule.clone(),
            name: t.name.clone(),
            failure: run_one(t, rules),
        })
        .collect();
    TestReport { results }
}

/// What happened to one subject at one evaluation.
#[derive(Clone, Debug)]
struct Row {
    /// `None`: the rule did not cover the subject and it had no alert.
    signal: Option<Signal>,
    phase: Phase,
    event: Option<Event>,
    silenced: bool,
    acked: bool,
}

/// Runs one test; returns the rendered failure, empty when it passed.
fn run_one(test: &RuleTest, rules: &[Rule]) -> String {
    let mut out = String::new();
    let Some(rule) = rules.iter().find(|r| r.id == test.rule) else {
        out.push_str(&format!(
            "  --> {}\n  unknown rule `{}`\n",
            test.location, test.rule
        ));
        let ids = rules.iter().map(|r| r.id.as_str());
        match toml_file::closest(&test.rule, ids) {
            Some(s) => out.push_str(&format!("  help: did you mean `{s}`?\n")),
            None if rules.is_empty() => out.push_str("  help: no rules were loaded\n"),
            None => out.push_str(&format!(
                "  help: the rules are {}\n",
                rules
                    .iter()
                    .map(|r| format!("`{}`", r.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        return out;
    };

    // A subject the rule cannot have.
    let mut scope_problems = Vec::new();
    for e in &test.expectations {
        let is_portfolio = e.subject == PORTFOLIO;
        match rule.scope {
            RuleScope::Portfolio if !is_portfolio => scope_problems.push(format!(
                "rule `{}` is portfolio-wide: expect `{PORTFOLIO} = ...`, not `{}`",
                rule.id, e.subject
            )),
            RuleScope::Account if is_portfolio => scope_problems.push(format!(
                "rule `{}` is per account: it has no `{PORTFOLIO}` alert",
                rule.id
            )),
            _ => {}
        }
    }
    scope_problems.dedup();
    if !scope_problems.is_empty() {
        out.push_str(&format!("  --> {}\n", test.location));
        for p in scope_problems {
            out.push_str(&format!("  {p}\n"));
        }
        return out;
    }

    let key = |subject: &str| AlertKey {
        rule: rule.id.clone(),
        subject: subject.to_string(),
    };
    let mut states: BTreeMap<AlertKey, AlertState> = BTreeMap::new();
    let mut timeline: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    // (eval, subject, message)
    let mut problems: Vec<(usize, String, String)> = Vec::new();
    let mut mismatched: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();

    for i in 0..test.evaluations {
        let now = eval_time(test.start, test.every, i);
        for a in &test.actions {
            if let Action::Ack { at, subject, by } = a {
                if *at == i {
                    let state = states.entry(key(subject)).or_default();
                    if !acknowledge(state, by, now) {
                        problems.push((
                            i,
                            subject.clone(),
                            format!(
                                "cannot acknowledge: the alert is {}, not firing",
                                state.phase.as_str()
                            ),
                        ));
                        mismatched.entry(subject.clone()).or_default().insert(i);
                    }
                }
            }
        }
        let silences: Vec<Silence> = test
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Silence { at, until, subject } if *at <= i => Some(Silence {
                    id: 0,
                    rule: Some(rule.id.clone()),
                    subject: subject.clone(),
                    until: *until,
                    created_by: "test".to_string(),
                    reason: "rule test".to_string(),
                    created_at: eval_time(test.start, test.every, *at),
                }),
                _ => None,
            })
            .collect();

        // Evaluate and advance exactly as `cs-pulse eval` does.
        let hold = test.holds.contains(&i);
        let table = value_table(test, rule, i, now);
        let observations = evaluate(rule, &test.accounts, &table);
        let advanced = advance(rule, &observations, &states, now, &silences, hold);
        // What each subject was told, for the timeline: observed subjects their signal, alerts
        // the rule no longer covers a clear (as `advance` does), everything a hold under one.
        let mut signals: BTreeMap<String, Signal> = BTreeMap::new();
        for o in &observations {
            signals.insert(o.subject.to_string(), o.signal);
        }
        for (k, st) in &states {
            if matches!(st.phase, Phase::Pending | Phase::Firing) {
                signals.entry(k.subject.clone()).or_insert(Signal::Clear);
            }
        }
        if hold {
            signals.values_mut().for_each(|s| *s = Signal::Hold);
        }
        for (k, st) in advanced.changed {
            states.insert(k, st);
        }
        for (subject, signal) in &signals {
            let event = advanced
                .notifications
                .iter()
                .find(|n| &n.subject == subject)
                .map(|n| n.event);
            let state = states.get(&key(subject));
            let rows = timeline.entry(subject.clone()).or_default();
            rows.resize_with(i, || Row {
                signal: None,
                phase: Phase::Inactive,
                event: None,
                silenced: false,
                acked: false,
            });
            rows.push(Row {
                signal: Some(*signal),
                phase: state.map_or(Phase::Inactive, |s| s.phase),
                event,
                silenced: is_muted(&silences, &rule.id, subject, now),
                acked: state.is_some_and(|s| s.ack.is_some()),
            });
        }
        // Subjects observed earlier but not now (only possible under a hold before any state)
        // and subjects never observed keep their last row.
        for (subject, rows) in timeline.iter_mut() {
            if rows.len() <= i {
                let phase = states
                    .get(&key(subject))
                    .map_or(Phase::Inactive, |s| s.phase);
                rows.resize_with(i + 1, || Row {
                    signal: None,
                    phase,
                    event: None,
                    silenced: false,
                    acked: false,
                });
            }
        }

        for e in test.expectations.iter().filter(|e| e.at == i) {
            let row = timeline.get(&e.subject).and_then(|r| r.get(i));
            let got_phase = row.map_or(Phase::Inactive, |r| r.phase);
            let got_event = row.and_then(|r| r.event);
            let when = format!("eval {i} ({})", fmt_time(now));
            if let Some(p) = e.phase {
                if p != got_phase {
                    problems.push((
                        i,
                        e.subject.clone(),
                        format!(
                            "{when}, {}: expected {}, got {}",
                            e.subject,
                            p.as_str(),
                            got_phase.as_str()
                        ),
                    ));
                    mismatched.entry(e.subject.clone()).or_default().insert(i);
                }
            }
            if let Some(want) = e.notify {
                if want != got_event {
                    problems.push((
                        i,
                        e.subject.clone(),
                        format!(
                            "{when}, {}: expected to send {}, sent {}",
                            e.subject,
                            event_word(want),
                            event_word(got_event)
                        ),
                    ));
                    mismatched.entry(e.subject.clone()).or_default().insert(i);
                }
            }
        }
    }
    if problems.is_empty() {
        return out;
    }

    out.push_str(&format!("  --> {}\n", test.location));
    for (i, subject, msg) in &problems {
        if msg.starts_with("eval ") {
            out.push_str(&format!("  {msg}\n"));
        } else {
            let now = fmt_time(eval_time(test.start, test.every, *i));
            out.push_str(&format!("  eval {i} ({now}), {subject}: {msg}\n"));
        }
    }
    for (subject, evals) in &mismatched {
        out.push('\n');
        out.push_str(&format!(
            "  timeline of {subject} (for {}, repeat {}):\n",
            format_duration(rule.for_),
            rule.repeat.map_or("none".to_string(), format_duration)
        ));
        let rows = timeline.get(subject).map(Vec::as_slice).unwrap_or(&[]);
        out.push_str(&render_timeline(test, rule, subject, rows, evals));
    }
    out
}

fn event_word(e: Option<Event>) -> &'static str {
    match e {
        Some(Event::Fired) => "fired",
        Some(Event::Reminder) => "reminder",
        Some(Event::Resolved) => "resolved",
        None => "nothing",
    }
}

fn signal_word(s: Option<Signal>) -> &'static str {
    match s {
        Some(Signal::Fire) => "fire",
        Some(Signal::Between) => "between",
        Some(Signal::Clear) => "clear",
        Some(Signal::Hold) => "hold",
        None => "-",
    }
}

/// The values the rule reads, as table columns: each metric it reads (once), then `band`.
fn columns(rule: &Rule) -> (Vec<MetricRef>, bool) {
    let mut metrics: Vec<MetricRef> = Vec::new();
    for (m, _) in rule.metrics() {
        if !metrics.contains(&m) {
            metrics.push(m);
        }
    }
    let band = rule
        .conditions
        .iter()
        .any(|c| matches!(c.test, Test::Band { .. }));
    (metrics, band)
}

fn render_timeline(
    test: &RuleTest,
    rule: &Rule,
    subject: &str,
    rows: &[Row],
    mismatched: &BTreeSet<usize>,
) -> String {
    let (metrics, band) = columns(rule);
    let series = test.series.get(subject);
    let has_notes = !test.actions.is_empty();
    let mut header: Vec<String> = vec![String::new(), "eval".into(), "time".into()];
    header.extend(metrics.iter().map(|m| m.to_string()));
    if band {
        header.push("band".into());
    }
    header.extend(["signal", "expected", "got"].map(String::from));
    if has_notes {
        header.push("note".into());
    }
    let mut table = vec![header];
    for i in 0..test.evaluations {
        let row = rows.get(i);
        let mut cells = vec![
            if mismatched.contains(&i) { ">" } else { "" }.to_string(),
            i.to_string(),
            fmt_time(eval_time(test.start, test.every, i)),
        ];
        for m in &metrics {
            cells.push(
                series
                    .and_then(|s| s.metric(*m, i))
                    .map_or("_".to_string(), |d| d.normalize().to_string()),
            );
        }
        if band {
            cells.push(series.and_then(|s| s.band(i)).unwrap_or("_").to_string());
        }
        cells.push(signal_word(row.and_then(|r| r.signal)).to_string());
        let expected: Vec<String> = test
            .expectations
            .iter()
            .filter(|e| e.at == i && e.subject == subject)
            .flat_map(|e| {
                e.phase
                    .map(|p| p.as_str().to_string())
                    .into_iter()
                    .chain(e.notify.map(|n| format!("sends {}", event_word(n))))
            })
            .collect();
        cells.push(expected.join(", "));
        let phase = row.map_or(Phase::Inactive, |r| r.phase);
        cells.push(match row.and_then(|r| r.event) {
            Some(e) => format!("{}, sends {}", phase.as_str(), event_word(Some(e))),
            None => phase.as_str().to_string(),
        });
        if has_notes {
            let mut notes = Vec::new();
            if row.is_some_and(|r| r.silenced) {
                notes.push("silenced");
            }
            if row.is_some_and(|r| r.acked) {
                notes.push("acknowledged");
            }
            cells.push(notes.join(", "));
        }
        table.push(cells);
    }
    let ncols = table[0].len();
    let widths: Vec<usize> = (0..ncols)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in &table {
        let mut line = String::from("  ");
        for (c, cell) in r.iter().enumerate() {
            // Numbers (eval index) right-aligned, the rest left-aligned.
            let pad = widths[c] - cell.chars().count();
            if c == 1 {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            if c + 1 < ncols {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The values of evaluation `i`: each series value for every window the rule reads its metric
/// over, bands for every band condition, MRR, and portfolio values under the rule's filter.
fn value_table(test: &RuleTest, rule: &Rule, i: usize, now: DateTime<Utc>) -> ValueTable {
    let mut table = ValueTable::new(test.accounts.len());
    table.day = Some(now.date_naive());
    let band_windows: Vec<Window> = rule
        .conditions
        .iter()
        .filter(|c| matches!(c.test, Test::Band { .. }))
        .map(|c| c.window)
        .collect();
    let mrr = MetricRef::value(MetricId::Mrr);
    for (ix, account) in test.accounts.iter().enumerate() {
        let a = ix as AccountIx;
        let series = test.series.get(&account.id);
        for (metric, window) in rule.metrics() {
            table.set(a, metric, window, series.and_then(|s| s.metric(metric, i)));
        }
        for w in &band_windows {
            table.set_band(a, *w, series.and_then(|s| s.band(i)).map(str::to_string));
        }
        let m = series
            .and_then(|s| s.metric(mrr, i))
            .or(test.account_mrr.get(ix).copied().flatten())
            .unwrap_or_default();
        table.set_mrr(a, m);
    }
    if rule.scope == RuleScope::Portfolio {
        let filter = rule.filter.as_portfolio_filter();
        let series = test.series.get(PORTFOLIO);
        for (metric, window) in rule.metrics() {
            table.set_portfolio(
                metric,
                window,
                filter.clone(),
                series.and_then(|s| s.metric(metric, i)),
            );
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert!(matches!(parse_time("2025-03-01"), Some(At::Date(_))));
        assert!(matches!(
            parse_time("2025-03-01T09:00:00Z"),
            Some(At::Time(_))
        ));
        assert!(parse_time("March 1st").is_none());
    }

    #[test]
    fn shorter_series_repeat_their_last_value() {
        let s = SubjectSeries {
            metrics: vec![(
                MetricRef::value(MetricId::Health),
                vec![Some(Decimal::ONE), None],
            )],
            band: Some(vec![Some("red".into())]),
        };
        let h = MetricRef::value(MetricId::Health);
        assert_eq!(s.metric(h, 0), Some(Decimal::ONE));
        assert_eq!(s.metric(h, 1), None);
        assert_eq!(s.metric(h, 7), None);
        assert_eq!(s.band(5), Some("red"));
        assert_eq!(s.metric(MetricRef::value(MetricId::Nps), 0), None);
    }
}
