//! Loading rule files: every `*.toml` of the configured paths is read raw ([`super::raw`]), then
//! validated into [`Rule`]s by a pure function that reports every problem of every file at once,
//! each with its span and a hint (DESIGN.md, habits 1 and 2). docs/rules.md documents the format.
//!
//! A directory holds rule files, but also their tests (`*.test.toml`, run by `cs-pulse test`)
//! and the health model (`health.toml`): those are skipped here.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::Duration;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use toml::Spanned;

use super::model::{
    AccountFilter, Combine, Condition, Direction, Rule, RuleScope, Severity, Test, Window,
};
use super::raw::{RawCondition, RawFilter, RawRule, RawRuleFile, StringList, Word};
use crate::config::duration::{self, DURATION_HINT};
use crate::config::route::{check_route, Routed};
use crate::config::toml_file::{self, IdKind, Number, Problem};
use crate::diagnostics::{line_col, Diagnostic, Diagnostics};
use crate::metrics::registry::{MetricRef, Unit};
use crate::model::PeriodKind;

/// The window of a rule's conditions when neither the rule nor the condition sets one.
pub const DEFAULT_WINDOW: Window = Window::Trailing(30);
/// The longest trailing window, in days.
pub const MAX_TRAILING_DAYS: u32 = 366;
/// File names in a rules directory that are not rule files: the health model and the scorecards.
const NOT_RULE_FILES: &[&str] = &["health.toml", crate::scorecard::FILE_NAME];
/// The suffix of rule test files, which live beside the rule files.
pub const TEST_FILE_SUFFIX: &str = ".test.toml";

/// How a rule's id is checked: unique across all rule files, as alert states are stored by it.
const RULE_ID: IdKind = IdKind {
    word: "rule",
    example: "health-red",
    missing_hint: "add `id = \"...\"`, unique across all rule files, like \"health-red\": alert states are stored by it",
    taken_hint: "every rule needs its own id, across all rule files",
};
/// How a rule's `route` hints speak of it.
const ROUTED: Routed = Routed {
    purpose: "the channels its alerts go to",
    nowhere: "the alerts would go nowhere",
};

/// Validates the text of one rule file; `file` names it in diagnostics and in [`Rule::file`];
/// `channels` are the channel names of the config, which `route` may name.
pub fn parse_rules(src: &str, file: &Path, channels: &[String]) -> Result<Vec<Rule>, Diagnostics> {
    let mut ids = HashMap::new();
    let (rules, diags) = check_file(src, &file.display().to_string(), channels, &mut ids);
    diags.into_result(rules)
}

/// Reads and validates every rule file of `paths` (a directory means its `*.toml` files, sorted
/// by name, except rule tests and the health model), reporting every problem of every file at
/// once. Rule ids must be unique across all the files.
pub fn load_rules(paths: &[PathBuf], channels: &[String]) -> Result<Vec<Rule>, Diagnostics> {
    let (files, mut diags) = rule_files(paths);
    let mut ids = HashMap::new();
    let mut rules = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(src) => {
                let (r, d) = check_file(&src, &name, channels, &mut ids);
                rules.extend(r);
                diags.append(d);
            }
            Err(e) => diags.push(
                Diagnostic::new(&name, format!("cannot read {name}: {e}"))
                    .hint("rule files are UTF-8 text files"),
            ),
        }
    }
    diags.into_result(rules)
}

/// The rule files `paths` stand for: files as given, directories expanded to their `*.toml`
/// files sorted by name, without `*.test.toml` and `health.toml`; each file once. A path that
/// cannot be read is a diagnostic.
pub fn rule_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Diagnostics) {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut diags = Diagnostics::new();
    for path in paths {
        let name = path.display().to_string();
        let not_found = |e: &std::io::Error| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "check `[rules] paths` in the config: each is a rule file or a directory of them, relative to the config file"
            } else {
                "check the path and its permissions"
            }
        };
        if !path.is_dir() {
            match std::fs::metadata(path) {
                Ok(_) => {
                    if !files.contains(path) {
                        files.push(path.clone());
                    }
                }
                Err(e) => diags.push(
                    Diagnostic::new(&name, format!("cannot read {name}: {e}")).hint(not_found(&e)),
                ),
            }
            continue;
        }
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) => {
                diags.push(
                    Diagnostic::new(&name, format!("cannot read the directory {name}: {e}"))
                        .hint(not_found(&e)),
                );
                continue;
            }
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && is_rule_file(p))
            .collect();
        found.sort();
        for f in found {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    (files, diags)
}

/// Whether a file found in a rules directory is a rule file.
fn is_rule_file(p: &Path) -> bool {
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".toml")
        && !name.ends_with(TEST_FILE_SUFFIX)
        && !NOT_RULE_FILES.contains(&name)
        && !name.starts_with('.')
}

/// Parses and validates one file; `ids` maps the rule ids seen so far (in this and earlier
/// files) to where they were defined.
fn check_file(
    src: &str,
    file: &str,
    channels: &[String],
    ids: &mut HashMap<String, String>,
) -> (Vec<Rule>, Diagnostics) {
    let raw = match RawRuleFile::parse(src, file) {
        Ok(raw) => raw,
        Err(d) => return (vec![], d),
    };
    let mut v = Validator {
        file: file.to_string(),
        src,
        channels,
        ids,
        diags: Diagnostics::for_source(file, src),
    };
    let rules = raw
        .rule
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| v.rule(i, r))
        .collect();
    (rules, v.diags)
}

/// Parses a window: `week`, `month`, `quarter`, `year` (the calendar period to date) or `<N>d`
/// (the last N days, 1 to 366). The error is a message and a hint.
pub fn parse_window(text: &str) -> Result<Window, (String, String)> {
    const WORDS: [(&str, PeriodKind); 4] = [
        ("week", PeriodKind::Week),
        ("month", PeriodKind::Month),
        ("quarter", PeriodKind::Quarter),
        ("year", PeriodKind::Year),
    ];
    const HINT: &str = "a window is `week`, `month`, `quarter` or `year` (the calendar period to date), or \"<N>d\" for the last N days, like \"7d\" or \"30d\"";
    let t = text.trim().to_lowercase();
    if let Some((_, kind)) = WORDS.iter().find(|(w, _)| *w == t) {
        return Ok(Window::ToDate(*kind));
    }
    if let Some(n) = t.strip_suffix('d') {
        if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) {
            return match n.parse::<u32>() {
                Ok(n) if (1..=MAX_TRAILING_DAYS).contains(&n) => Ok(Window::Trailing(n)),
                _ => Err((
                    format!("window `{text}` is out of range"),
                    format!("a trailing window is 1 to {MAX_TRAILING_DAYS} days"),
                )),
            };
        }
    }
    let message = format!("unknown window `{text}`");
    // A duration in whole days (`1w`, `7 days`) means that trailing window.
    if let Ok(d) = duration::parse_duration(&t) {
        let days = d.num_days();
        if d > Duration::zero() && d == Duration::days(days) {
            return Err((message, format!("did you mean \"{days}d\"? {HINT}")));
        }
    }
    match toml_file::closest(&t, WORDS.iter().map(|(w, _)| *w)) {
        Some(w) => Err((message, format!("did you mean `{w}`?"))),
        None => Err((message, HINT.to_string())),
    }
}

/// Collects every error while building rules from one file.
struct Validator<'a> {
    file: String,
    src: &'a str,
    channels: &'a [String],
    ids: &'a mut HashMap<String, String>,
    diags: Diagnostics,
}

/// A rule's settings that its conditions depend on.
struct RuleContext<'a> {
    label: &'a str,
    /// `None` when the rule's `scope` is invalid: scope checks are then skipped.
    scope: Option<RuleScope>,
    /// The rule's window, or the default when the rule's is invalid (reported already).
    window: Window,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        let d = toml_file::error_at(&self.file, Some(span), message, &hint.into());
        self.diags.push(d);
    }

    /// Reports each problem of a shared check.
    fn report(&mut self, problems: Vec<Problem>) {
        for (span, message, hint) in problems {
            self.error(span, message, hint);
        }
    }

    fn header(&self, span: Range<usize>) -> Range<usize> {
        toml_file::first_line(self.src, span)
    }

    /// The span of `key` in `key = value`, given the value's span (falls back to the value).
    fn key_span(&self, value: Range<usize>, key: &str) -> Range<usize> {
        toml_file::key_span(self.src, value, key)
    }

    fn location(&self, span: &Range<usize>) -> String {
        let (line, col) = line_col(self.src, span.start);
        format!("{}:{line}:{col}", self.file)
    }

    /// One of a few words (`scope`, `severity`, `match`), with a did-you-mean hint.
    fn choice<T: Copy>(
        &mut self,
        value: Option<&Spanned<String>>,
        key: &str,
        options: &[(&str, T)],
        default: T,
    ) -> Option<T> {
        let Some(value) = value else {
            return Some(default);
        };
        let word = value.get_ref().trim();
        if let Some((_, v)) = options.iter().find(|(w, _)| *w == word) {
            return Some(*v);
        }
        let hint = match toml_file::closest(word, options.iter().map(|(w, _)| *w)) {
            Some(w) => format!("did you mean `{w}`?"),
            None => format!(
                "`{key}` is one of {}",
                options
                    .iter()
                    .map(|(w, _)| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(
            value.span(),
            format!("unknown {key} `{}`", value.get_ref()),
            hint,
        );
        None
    }

    fn rule(&mut self, index: usize, raw: Spanned<RawRule>) -> Option<Rule> {
        let header = self.header(raw.span());
        let raw = raw.into_inner();
        let id = self.id(raw.id.as_ref(), header.clone());
        let label = match &raw.id {
            Some(id) => format!("rule `{}`", id.get_ref()),
            None => format!("rule {}", index + 1),
        };
        let name = self.required_text(
            raw.name.as_ref(),
            header.clone(),
            &label,
            "name",
            "add `name = \"...\"`: the title of its alerts, like \"Health is red\"",
        );
        let description = raw
            .description
            .as_ref()
            .map(|d| d.get_ref().trim().to_string())
            .filter(|d| !d.is_empty());
        let scope = self.choice(
            raw.scope.as_ref(),
            "scope",
            &[
                ("account", RuleScope::Account),
                ("portfolio", RuleScope::Portfolio),
            ],
            RuleScope::Account,
        );
        let severity = self.choice(
            raw.severity.as_ref(),
            "severity",
            &[
                ("info", Severity::Info),
                ("warning", Severity::Warning),
                ("critical", Severity::Critical),
            ],
            Severity::Warning,
        );
        let combine = self.choice(
            raw.match_.as_ref(),
            "match",
            &[("all", Combine::All), ("any", Combine::Any)],
            Combine::All,
        );
        let route = self.route(raw.route.as_ref(), header.clone(), &label);
        let window = match &raw.window {
            Some(w) => self.window(w),
            None => Some(DEFAULT_WINDOW),
        };
        let for_ = match &raw.for_ {
            Some(w) => self.duration(w, "for", true),
            None => Some(Duration::zero()),
        };
        let repeat = raw
            .repeat
            .as_ref()
            .map(|w| self.duration(w, "repeat", false));
        let message = self.required_text(
            raw.message.as_ref(),
            header.clone(),
            &label,
            "message",
            "add `message = \"{{ account.name }}: ...\"`, a minijinja template of the alert; docs/rules.md lists its variables",
        );
        if let Some(m) = &raw.message {
            self.template(m, "message");
        }
        let resolved_message = match &raw.resolved_message {
            Some(m) if m.get_ref().trim().is_empty() => {
                self.error(
                    m.span(),
                    "`resolved_message` is empty",
                    "write the notice sent when the alert resolves, or leave `resolved_message` out",
                );
                None
            }
            Some(m) => {
                self.template(m, "resolved_message");
                Some(m.get_ref().clone())
            }
            None => None,
        };
        let filter = match &raw.filter {
            Some(f) => self.filter(f, scope),
            None => Some(AccountFilter::default()),
        };
        if raw.condition.is_empty() {
            self.error(
                header,
                format!("{label} has no conditions"),
                "add `[[rule.condition]]` tables, each with `metric` and `below` or `above` (like metric = \"health\", below = 40), or `band`",
            );
        }
        let mut conditions = Vec::new();
        let mut conditions_ok = true;
        let ctx = RuleContext {
            label: &label,
            scope,
            window: window.unwrap_or(DEFAULT_WINDOW),
        };
        for c in raw.condition {
            match self.condition(c, &ctx) {
                Some(c) => conditions.push(c),
                None => conditions_ok = false,
            }
        }
        let repeat = match repeat {
            Some(Some(r)) => Some(r),
            Some(None) => return None,
            None => None,
        };
        if !conditions_ok {
            return None;
        }
        Some(Rule {
            id: id?,
            name: name?,
            description,
            scope: scope?,
            severity: severity?,
            route: route?,
            combine: combine?,
            conditions,
            filter: filter?,
            for_: for_?,
            repeat,
            message: message?,
            resolved_message,
            file: self.file.clone(),
        })
    }

    fn id(&mut self, id: Option<&Spanned<String>>, header: Range<usize>) -> Option<String> {
        match toml_file::check_id(id, header, &RULE_ID, self.ids) {
            Ok(id) => {
                let here = self.location(&id.span());
                self.ids.insert(id.get_ref().clone(), here);
                Some(id.get_ref().clone())
            }
            Err((span, message, hint)) => {
                self.error(span, message, hint);
                None
            }
        }
    }

    /// A required, non-empty string.
    fn required_text(
        &mut self,
        value: Option<&Spanned<String>>,
        header: Range<usize>,
        label: &str,
        key: &str,
        hint: &str,
    ) -> Option<String> {
        match value {
            None => {
                self.error(header, format!("{label} has no `{key}`"), hint);
                None
            }
            Some(v) if v.get_ref().trim().is_empty() => {
                self.error(v.span(), format!("`{key}` is empty"), hint);
                None
            }
            Some(v) => Some(v.get_ref().clone()),
        }
    }

    fn route(
        &mut self,
        route: Option<&Spanned<Vec<Spanned<String>>>>,
        header: Range<usize>,
        label: &str,
    ) -> Option<Vec<String>> {
        let (route, problems) = check_route(route, header, label, self.channels, &ROUTED);
        self.report(problems);
        route
    }

    fn window(&mut self, w: &Spanned<Word>) -> Option<Window> {
        match w.get_ref() {
            Word::Text(t) => match parse_window(t) {
                Ok(w) => Some(w),
                Err((message, hint)) => {
                    self.error(w.span(), message, hint);
                    None
                }
            },
            Word::Bare(n) => {
                self.error(
                    w.span(),
                    format!("window `{n}` is not a string"),
                    format!("write \"{n}d\" for the last {n} days, or `week`, `month`, `quarter` or `year` in quotes for the calendar period to date"),
                );
                None
            }
        }
    }

    /// `for` (`zero_ok`) or `repeat` (must be longer than 0).
    fn duration(&mut self, w: &Spanned<Word>, key: &str, zero_ok: bool) -> Option<Duration> {
        let text = match w.get_ref() {
            Word::Text(t) => t,
            Word::Bare(n) if n == "0" && zero_ok => return Some(Duration::zero()),
            Word::Bare(n) => {
                self.error(
                    w.span(),
                    format!("`{key} = {n}` has no unit"),
                    format!(
                        "durations are strings with a unit, like {key} = \"{n}d\"; {DURATION_HINT}"
                    ),
                );
                return None;
            }
        };
        match duration::parse_duration(text) {
            Ok(d) if d.is_zero() && !zero_ok => {
                self.error(
                    w.span(),
                    format!("`{key}` must be longer than 0"),
                    format!("`{key}` is how often to remind while the alert keeps firing, like \"7d\"; leave it out for no reminders"),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    w.span(),
                    format!("unparseable duration `{text}` for `{key}`: it {e}"),
                    DURATION_HINT,
                );
                None
            }
        }
    }

    /// Checks the syntax of a minijinja template, pointing at the spot in the file when the
    /// string is written without escapes (else at the whole string).
    fn template(&mut self, t: &Spanned<String>, key: &str) {
        let mut env = minijinja::Environment::new();
        env.set_debug(true);
        let Err(e) = env.template_from_str(t.get_ref()) else {
            return;
        };
        let detail = e
            .detail()
            .map_or_else(|| e.kind().to_string(), str::to_string);
        let at = e
            .range()
            .map(|r| r.start)
            .or_else(|| e.line().map(|l| line_offset(t.get_ref(), l)));
        let mapped = at.and_then(|at| template_offset(self.src, t.span(), t.get_ref(), at));
        let (span, where_) = match (mapped, e.line()) {
            (Some(start), _) => {
                let len = e.range().map_or(1, |r| r.len().max(1));
                (start..start + len, String::new())
            }
            (None, Some(line)) if t.get_ref().contains('\n') => {
                (t.span(), format!(" (line {line} of the template)"))
            }
            (None, _) => (t.span(), String::new()),
        };
        self.error(
            span,
            format!("template syntax error in `{key}`{where_}: {detail}"),
            "minijinja syntax: {{ account.name }} prints a value, {% if ... %}...{% endif %} decides; docs/rules.md lists the variables",
        );
    }

    fn filter(
        &mut self,
        raw: &Spanned<RawFilter>,
        scope: Option<RuleScope>,
    ) -> Option<AccountFilter> {
        let f = raw.get_ref();
        let mut ok = true;
        let portfolio = scope == Some(RuleScope::Portfolio);
        let mut list = |v: &mut Self,
                        value: &Option<Spanned<StringList>>,
                        key: &str|
         -> Vec<String> {
            let Some(value) = value else { return vec![] };
            let items = list_items(value);
            if items.is_empty() {
                v.error(
                    value.span(),
                    format!("`{key}` is empty"),
                    format!("list the values to keep, or leave `{key}` out to include every {key}"),
                );
                ok = false;
            }
            let mut out = Vec::new();
            for (span, s) in items {
                if s.trim().is_empty() {
                    v.error(span, format!("a {key} name cannot be empty"), "");
                    ok = false;
                } else {
                    out.push(s.to_string());
                }
            }
            if portfolio && out.len() > 1 {
                v.error(
                    value.span(),
                    format!(
                        "a portfolio rule filters on one {key} at most, found {}",
                        out.len()
                    ),
                    format!(
                        "portfolio metrics are computed for one {key}: write one rule per {key}"
                    ),
                );
                ok = false;
            }
            out
        };
        let segments = list(self, &f.segment, "segment");
        let owners = list(self, &f.owner, "owner");
        let plans = list(self, &f.plan, "plan");
        let mut custom = BTreeMap::new();
        for (key, value) in
            toml_file::in_file_order(f.custom.iter().map(|(k, v)| (k.clone(), v)).collect())
        {
            if portfolio {
                self.error(
                    self.key_span(key.span(), "custom").start..key.span().end,
                    "a portfolio rule cannot filter on custom account fields",
                    "portfolio metrics are computed per segment, owner or plan; use an account rule to filter on custom fields",
                );
                ok = false;
                break;
            }
            if key.get_ref().trim().is_empty() {
                self.error(key.span(), "a custom field name cannot be empty", "");
                ok = false;
                continue;
            }
            let v = match value.get_ref() {
                Word::Text(t) | Word::Bare(t) => t.clone(),
            };
            custom.insert(key.get_ref().clone(), v);
        }
        let min_mrr = match &f.min_mrr {
            None => None,
            Some(n) => {
                let key = self.key_span(n.span(), "min_mrr");
                match n.get_ref().decimal() {
                    _ if portfolio => {
                        self.error(
                            key,
                            "a portfolio rule cannot filter on `min_mrr`",
                            "min_mrr keeps the accounts paying at least that much; use an account rule, or a portfolio metric with a segment or plan filter",
                        );
                        ok = false;
                        None
                    }
                    Ok(v) if v >= Decimal::ZERO => Some(v),
                    Ok(v) => {
                        self.error(
                            n.span(),
                            format!("min_mrr must be 0 or more, found {v}"),
                            "the least MRR, in the reporting currency, an account must have for the rule to look at it",
                        );
                        ok = false;
                        None
                    }
                    Err(e) => {
                        self.error(
                            n.span(),
                            format!("min_mrr {e}"),
                            "the least MRR, in the reporting currency, like min_mrr = 1000",
                        );
                        ok = false;
                        None
                    }
                }
            }
        };
        ok.then_some(AccountFilter {
            segments,
            owners,
            plans,
            custom,
            min_mrr,
        })
    }

    fn condition(
        &mut self,
        raw: Spanned<RawCondition>,
        ctx: &RuleContext<'_>,
    ) -> Option<Condition> {
        let header = self.header(raw.span());
        let c = raw.into_inner();
        let window = match &c.window {
            Some(w) => self.window(w),
            None => Some(ctx.window),
        };
        let test = match (&c.metric, &c.band) {
            (None, None) => {
                self.error(
                    header,
                    format!("a condition of {} has neither `metric` nor `band`", ctx.label),
                    "add `metric = \"...\"` with `below` or `above`, or `band = [\"red\"]` for the health band",
                );
                None
            }
            (Some(_), Some(band)) => {
                self.error(
                    self.key_span(band.span(), "band"),
                    "a condition has either `metric` or `band`, not both",
                    "write two `[[rule.condition]]` tables",
                );
                None
            }
            (None, Some(band)) => self.band(&c, band, ctx),
            (Some(metric), None) => self.threshold(&c, metric, ctx),
        };
        Some(Condition {
            test: test?,
            window: window?,
        })
    }

    fn band(
        &mut self,
        c: &RawCondition,
        band: &Spanned<StringList>,
        ctx: &RuleContext<'_>,
    ) -> Option<Test> {
        let mut ok = true;
        for (key, value) in [
            ("below", &c.below),
            ("above", &c.above),
            ("resolve_above", &c.resolve_above),
            ("resolve_below", &c.resolve_below),
        ] {
            if let Some(v) = value {
                self.error(
                    self.key_span(v.span(), key),
                    format!("a `band` condition takes no `{key}`"),
                    "`band` holds when the account's health band is one of those listed; to compare the score, write `metric = \"health\"` with `below` or `above`",
                );
                ok = false;
            }
        }
        if ctx.scope == Some(RuleScope::Portfolio) {
            self.error(
                self.key_span(band.span(), "band"),
                "a portfolio rule cannot test `band`: health bands exist per account",
                "use an account rule (`scope = \"account\"`, the default), or a portfolio metric like `nrr`",
            );
            return None;
        }
        let items = list_items(band);
        if items.is_empty() {
            self.error(
                band.span(),
                "`band` is empty",
                "list the health bands that fire, like band = [\"red\", \"yellow\"]",
            );
            return None;
        }
        let mut bands: Vec<String> = Vec::new();
        for (span, b) in items {
            if b.trim().is_empty() {
                self.error(
                    span,
                    "a band name cannot be empty",
                    "like \"red\" or \"yellow\"",
                );
                ok = false;
            } else if bands.iter().any(|x| x == b) {
                self.error(
                    span,
                    format!("band `{b}` is listed twice"),
                    "remove one of the two",
                );
            } else {
                bands.push(b.to_string());
            }
        }
        ok.then_some(Test::Band { bands })
    }

    fn threshold(
        &mut self,
        c: &RawCondition,
        name: &Spanned<String>,
        ctx: &RuleContext<'_>,
    ) -> Option<Test> {
        let metric = self.metric(name, ctx.scope);
        let number = |v: &mut Self, n: &Spanned<Number>, key: &str| -> Option<Decimal> {
            match n.get_ref().decimal() {
                Ok(d) => Some(d),
                Err(e) => {
                    v.error(
                        n.span(),
                        format!("`{key}` {e}"),
                        "a threshold is a number, like 40 or 0.9 or -0.3",
                    );
                    None
                }
            }
        };
        let (direction, threshold, key) = match (&c.below, &c.above) {
            (Some(_), Some(above)) => {
                self.error(
                    self.key_span(above.span(), "above"),
                    "a condition has one threshold: `below` or `above`, not both",
                    "to fire outside a range, write two conditions and `match = \"any\"`",
                );
                return None;
            }
            (None, None) => {
                self.error(
                    self.header_or(name),
                    format!("the condition on `{}` has no threshold", name.get_ref()),
                    "add `below = ...` or `above = ...`",
                );
                return None;
            }
            (Some(b), None) => (Direction::Below, b, "below"),
            (None, Some(a)) => (Direction::Above, a, "above"),
        };
        let threshold = number(self, threshold, key);
        let (resolve_key, wrong_key, resolve, wrong) = match direction {
            Direction::Below => (
                "resolve_above",
                "resolve_below",
                &c.resolve_above,
                &c.resolve_below,
            ),
            Direction::Above => (
                "resolve_below",
                "resolve_above",
                &c.resolve_below,
                &c.resolve_above,
            ),
        };
        let mut ok = true;
        if let Some(w) = wrong {
            let (side, bound) = match direction {
                Direction::Below => ("above", "at least"),
                Direction::Above => ("below", "at most"),
            };
            self.error(
                self.key_span(w.span(), wrong_key),
                format!("`{wrong_key}` does not go with `{key}`"),
                format!("a `{key}` condition resolves once the value is back {side} a bound: write `{resolve_key} = ...`, {bound} the threshold"),
            );
            ok = false;
        }
        let resolve = match resolve {
            None => None,
            Some(r) => {
                let value = number(self, r, resolve_key);
                if let (Some(v), Some(t)) = (value, threshold) {
                    let wrong_side = match direction {
                        Direction::Below => v < t,
                        Direction::Above => v > t,
                    };
                    if wrong_side {
                        let (bound, example) = match direction {
                            Direction::Below => {
                                ("at least", "fire below 40, resolve only above 45")
                            }
                            Direction::Above => {
                                ("at most", "fire above 0.9, resolve only below 0.85")
                            }
                        };
                        self.error(
                            r.span(),
                            format!("`{resolve_key}` ({v}) must be {bound} the `{key}` threshold ({t})"),
                            format!("hysteresis keeps an alert firing until the value is clearly past the threshold: {example}"),
                        );
                        ok = false;
                    }
                }
                if value.is_none() {
                    ok = false;
                }
                value
            }
        };
        if let (Some(m), Some(t)) = (metric, threshold) {
            if m.unit() == Unit::Ratio && t.abs() > dec!(10) {
                let threshold_span = match direction {
                    Direction::Below => c.below.as_ref().map(Spanned::span),
                    Direction::Above => c.above.as_ref().map(Spanned::span),
                };
                self.error(
                    threshold_span.unwrap_or_else(|| name.span()),
                    format!(
                        "`{m}` is a fraction (1 = 100%), so {key} {t} would mean {}%",
                        (t * dec!(100)).normalize()
                    ),
                    format!("did you mean {}?", (t / dec!(100)).normalize()),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        Some(Test::Threshold {
            metric: metric?,
            direction,
            threshold: threshold?,
            resolve,
        })
    }

    /// The first line of the condition containing `name` (for "no threshold"), which is the
    /// `metric = ...` line itself: pointing there names the condition unambiguously.
    fn header_or(&self, name: &Spanned<String>) -> Range<usize> {
        self.key_span(name.span(), "metric").start..name.span().end
    }

    fn metric(&mut self, name: &Spanned<String>, scope: Option<RuleScope>) -> Option<MetricRef> {
        let r = match MetricRef::from_str(name.get_ref().trim()) {
            Ok(r) => r,
            Err(e) => {
                let hint = e.hint();
                self.error(
                    name.span(),
                    format!("unknown metric `{}`", name.get_ref()),
                    hint,
                );
                return None;
            }
        };
        let def = r.metric.def();
        match scope {
            Some(RuleScope::Account) if !def.scope.account() => {
                self.error(
                    name.span(),
                    format!("`{}` exists only for the whole portfolio, not per account", r.metric),
                    "use it in a rule with `scope = \"portfolio\"`, or pick a per-account metric (`cs-pulse metrics --list` shows each one's scope)",
                );
                None
            }
            Some(RuleScope::Portfolio) if !def.scope.portfolio() => {
                self.error(
                    name.span(),
                    format!("`{}` exists only per account, not for the portfolio", r.metric),
                    "this rule has `scope = \"portfolio\"`: use it in an account rule (the default scope), or pick a portfolio metric like `nrr` or `mrr`",
                );
                None
            }
            _ => Some(r),
        }
    }
}

/// The strings of a string-or-list, each with its span (a single string has the value's).
fn list_items(value: &Spanned<StringList>) -> Vec<(Range<usize>, &str)> {
    value
        .get_ref()
        .0
        .iter()
        .map(|s| {
            let span = if s.span().is_empty() {
                value.span()
            } else {
                s.span()
            };
            (span, s.get_ref().as_str())
        })
        .collect()
}

/// The byte offset in a template of the start of its 1-based `line`.
fn line_offset(text: &str, line: usize) -> usize {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

/// The offset in the file of byte `at` of a string value, when the TOML literal at `span` holds
/// exactly the value's text (no escapes), so offsets inside it map one to one.
fn template_offset(src: &str, span: Range<usize>, value: &str, at: usize) -> Option<usize> {
    let lit = src.get(span.clone())?;
    let delim = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|d| lit.len() >= 2 * d.len() && lit.starts_with(d) && lit.ends_with(d))?;
    let mut start = span.start + delim.len();
    let mut inner = &lit[delim.len()..lit.len() - delim.len()];
    if delim.len() == 3 {
        // A line break right after the opening delimiter is not part of the value.
        for nl in ["\r\n", "\n"] {
            if let Some(rest) = inner.strip_prefix(nl) {
                inner = rest;
                start += nl.len();
                break;
            }
        }
    }
    (inner == value).then(|| start + at.min(value.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse_window("week"), Ok(Window::ToDate(PeriodKind::Week)));
        assert_eq!(parse_window("7d"), Ok(Window::Trailing(7)));
        assert_eq!(parse_window("366d"), Ok(Window::Trailing(366)));
        assert!(parse_window("0d").is_err());
        assert!(parse_window("367d").is_err());
        assert_eq!(
            parse_window("1w").unwrap_err().1.split('?').next(),
            Some("did you mean \"7d\"")
        );
        assert_eq!(parse_window("mnth").unwrap_err().1, "did you mean `month`?");
        assert!(parse_window("").is_err());
    }

    #[test]
    fn template_offsets_map_only_unescaped_strings() {
        let src = "m = \"ab {{\"\nn = \"a\\tb {{\"\no = '''\nx {{'''\n";
        assert_eq!(template_offset(src, 4..11, "ab {{", 3), Some(8));
        assert_eq!(template_offset(src, 16..25, "a\tb {{", 3), None);
        let o_start = src.find("'''").unwrap();
        assert_eq!(
            template_offset(src, o_start..src.len() - 1, "x {{", 2),
            Some(o_start + 4 + 2)
        );
    }
}
