//! The chat commands, once for every platform: their names, parameters and help (from which
//! the Discord registration and the Slack `/cs` parser are both made), and the parsing of raw
//! option values into a typed [`Command`]. A wrong or missing argument becomes a [`UsageError`]
//! that says what was wrong, the valid choices and an example, never an error trace.

use chrono::Duration;

use crate::config::duration::parse_duration;
use crate::metrics::{MetricId, METRICS};
use crate::model::Period;

/// What a parameter holds; decides its parsing and its autocomplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A metric name from the registry (autocompleted).
    Metric,
    /// An account, by id or name (autocompleted).
    Account,
    /// A firing alert, as `rule:subject` (autocompleted).
    Alert,
    /// A firing alert or an account (autocompleted with both).
    AlertOrAccount,
    /// A period: `2025-Q3`, `2025-07`, `2025-W14`, `2025`, or `2025-01-01..2025-03-31`.
    Period,
    /// A segment of the data (autocompleted).
    Segment,
    /// An account owner (autocompleted).
    Owner,
    /// A whole number of days, 1 to [`MAX_DAYS`].
    Days,
    /// A duration like `7d`, `12h`, `2w`, at most [`MAX_SNOOZE_DAYS`] days.
    Duration,
    /// Free text (a reason).
    Text,
    /// A command name (for `/help`).
    Command,
}

/// One parameter of a command.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
    /// One line, shown by the platform beside the parameter (Discord allows 100 characters).
    pub help: &'static str,
}

/// One command.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    /// One line (Discord allows 100 characters).
    pub summary: &'static str,
    pub params: &'static [Param],
    /// Example arguments, as (parameter, value), shown in help and after a usage error.
    pub example: &'static [(&'static str, &'static str)],
}

/// Commands are equal by name (there is one spec per name).
impl PartialEq for CommandSpec {
    fn eq(&self, other: &CommandSpec) -> bool {
        self.name == other.name
    }
}

impl Eq for CommandSpec {}

/// The longest look-ahead of `/renewals`.
pub const MAX_DAYS: u32 = 366;
/// The longest snooze.
pub const MAX_SNOOZE_DAYS: i64 = 90;
/// The look-ahead of `/renewals` when none is given (the scorecard's too).
pub const DEFAULT_RENEWAL_DAYS: u32 = 60;

const fn p(name: &'static str, kind: ParamKind, required: bool, help: &'static str) -> Param {
    Param {
        name,
        kind,
        required,
        help,
    }
}

/// Every command, in the order `/help` lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "kpi",
        summary: "A KPI for the portfolio, a segment or an owner's book",
        params: &[
            p(
                "metric",
                ParamKind::Metric,
                true,
                "The metric, like nrr, mrr, nps",
            ),
            p(
                "period",
                ParamKind::Period,
                false,
                "Like 2025-Q3, 2025-07, 2025-W14 (default: last complete month)",
            ),
            p("segment", ParamKind::Segment, false, "Only this segment"),
            p(
                "owner",
                ParamKind::Owner,
                false,
                "Only this owner's accounts",
            ),
        ],
        example: &[("metric", "nrr"), ("period", "2025-Q3")],
    },
    CommandSpec {
        name: "account",
        summary: "An account's health card: score, band, MRR, usage, renewal, alerts",
        params: &[p(
            "account",
            ParamKind::Account,
            true,
            "The account's name or id",
        )],
        example: &[("account", "acme")],
    },
    CommandSpec {
        name: "at-risk",
        summary: "Accounts in the lowest health band, worst first",
        params: &[
            p("segment", ParamKind::Segment, false, "Only this segment"),
            p(
                "owner",
                ParamKind::Owner,
                false,
                "Only this owner's accounts",
            ),
        ],
        example: &[("segment", "enterprise")],
    },
    CommandSpec {
        name: "renewals",
        summary: "Renewals coming up, with their health",
        params: &[p(
            "days",
            ParamKind::Days,
            false,
            "How many days ahead (default 60)",
        )],
        example: &[("days", "30")],
    },
    CommandSpec {
        name: "scorecard",
        summary: "The KPI scorecard for a period",
        params: &[p(
            "period",
            ParamKind::Period,
            false,
            "Like 2025-W14, 2025-07 (default: last complete week)",
        )],
        example: &[("period", "2025-W14")],
    },
    CommandSpec {
        name: "alerts",
        summary: "The alerts firing now",
        params: &[],
        example: &[],
    },
    CommandSpec {
        name: "snooze",
        summary: "Silence an alert, or every alert of an account, for a while",
        params: &[
            p(
                "target",
                ParamKind::AlertOrAccount,
                true,
                "An alert (rule:account) or an account",
            ),
            p(
                "duration",
                ParamKind::Duration,
                true,
                "Like 7d, 12h, 2w (at most 90 days)",
            ),
            p("reason", ParamKind::Text, false, "Why, for the team"),
        ],
        example: &[
            ("target", "health-red:acme"),
            ("duration", "7d"),
            ("reason", "renewal call booked"),
        ],
    },
    CommandSpec {
        name: "ack",
        summary: "Acknowledge a firing alert: its reminders stop until it resolves",
        params: &[p(
            "alert",
            ParamKind::Alert,
            true,
            "The alert (rule:account)",
        )],
        example: &[("alert", "health-red:acme")],
    },
    CommandSpec {
        name: "help",
        summary: "What cs-pulse can answer, and how to ask",
        params: &[p(
            "command",
            ParamKind::Command,
            false,
            "One command's details",
        )],
        example: &[("command", "kpi")],
    },
];

/// The spec of a command by name.
pub fn spec(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// A command, parsed and checked as far as it can be without the data (accounts, segments and
/// owners are looked up when answering).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Kpi {
        metric: MetricId,
        period: Option<Period>,
        segment: Option<String>,
        owner: Option<String>,
    },
    Account {
        account: String,
    },
    AtRisk {
        segment: Option<String>,
        owner: Option<String>,
    },
    Renewals {
        days: u32,
    },
    Scorecard {
        period: Option<Period>,
    },
    Alerts,
    Snooze {
        target: String,
        duration: Duration,
        reason: Option<String>,
    },
    Ack {
        alert: String,
    },
    Help {
        command: Option<&'static CommandSpec>,
    },
}

impl Command {
    /// The command's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Kpi { .. } => "kpi",
            Command::Account { .. } => "account",
            Command::AtRisk { .. } => "at-risk",
            Command::Renewals { .. } => "renewals",
            Command::Scorecard { .. } => "scorecard",
            Command::Alerts => "alerts",
            Command::Snooze { .. } => "snooze",
            Command::Ack { .. } => "ack",
            Command::Help { .. } => "help",
        }
    }

    /// Whether the answer may carry revenue figures (MRR, ARR, NRR, ...): those answers are
    /// shown to their asker only, and only to callers allowed to see revenue. Known before the
    /// answer is computed, so that a deferred reply is ephemeral from its first byte.
    pub fn shows_revenue(&self) -> bool {
        match self {
            Command::Kpi { metric, .. } => {
                metric.def().group == crate::metrics::registry::Group::Revenue
            }
            Command::Account { .. }
            | Command::AtRisk { .. }
            | Command::Renewals { .. }
            | Command::Scorecard { .. } => true,
            Command::Alerts
            | Command::Snooze { .. }
            | Command::Ack { .. }
            | Command::Help { .. } => false,
        }
    }

    /// Whether the command changes alert state (needs the act permission).
    pub fn acts(&self) -> bool {
        matches!(self, Command::Snooze { .. } | Command::Ack { .. })
    }
}

/// What was wrong with an invocation, in words for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError {
    /// The command, when it was known.
    pub command: Option<&'static CommandSpec>,
    /// What was wrong, one sentence.
    pub problem: String,
    /// The valid values, when there is a short list (or the closest ones).
    pub choices: Vec<String>,
}

impl UsageError {
    fn new(command: &'static CommandSpec, problem: impl Into<String>) -> UsageError {
        UsageError {
            command: Some(command),
            problem: problem.into(),
            choices: vec![],
        }
    }

    fn with_choices(mut self, choices: Vec<String>) -> UsageError {
        self.choices = choices;
        self
    }
}

/// Raw option values by parameter name, as a platform delivered them (Discord's named options,
/// or the words of a Slack `/cs` line matched to parameters by [`parse_text`]).
pub type Options = Vec<(String, String)>;

/// Parses a command by name from its raw option values.
pub fn parse(name: &str, options: &Options) -> Result<Command, UsageError> {
    let Some(spec) = spec(name) else {
        return Err(UsageError {
            command: None,
            problem: format!("there is no command \"{name}\""),
            choices: COMMANDS.iter().map(|c| c.name.to_string()).collect(),
        });
    };
    for (key, _) in options {
        if !spec.params.iter().any(|p| p.name == key) {
            let names = spec.params.iter().map(|p| p.name.to_string()).collect();
            return Err(
                UsageError::new(spec, format!("/{} has no option \"{key}\"", spec.name))
                    .with_choices(names),
            );
        }
    }
    let get = |param: &str| -> Option<&str> {
        options
            .iter()
            .find(|(k, _)| k == param)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    for param in spec.params.iter().filter(|p| p.required) {
        if get(param.name).is_none() {
            return Err(UsageError::new(
                spec,
                format!(
                    "/{} needs {}: {}",
                    spec.name,
                    param.name,
                    lowercase_first(param.help)
                ),
            ));
        }
    }
    let text = |param: &str| get(param).map(str::to_string);
    let period = |param: &str| -> Result<Option<Period>, UsageError> {
        get(param)
            .map(|v| {
                v.parse::<Period>().map_err(|e| {
                    UsageError::new(spec, format!("{param} \"{v}\" is not a period: {e}"))
                        .with_choices(vec![
                            "2025-Q3".into(),
                            "2025-07".into(),
                            "2025-W14".into(),
                            "2025".into(),
                            "2025-01-01..2025-03-31".into(),
                        ])
                })
            })
            .transpose()
    };
    // `required` was checked above, so `get` of a required parameter is Some.
    let required = |param: &str| get(param).unwrap_or_default().to_string();
    Ok(match spec.name {
        "kpi" => Command::Kpi {
            metric: metric(spec, get("metric").unwrap_or_default())?,
            period: period("period")?,
            segment: text("segment"),
            owner: text("owner"),
        },
        "account" => Command::Account {
            account: required("account"),
        },
        "at-risk" => Command::AtRisk {
            segment: text("segment"),
            owner: text("owner"),
        },
        "renewals" => Command::Renewals {
            days: match get("days") {
                None => DEFAULT_RENEWAL_DAYS,
                Some(v) => match v.parse::<u32>() {
                    Ok(d) if (1..=MAX_DAYS).contains(&d) => d,
                    _ => {
                        return Err(UsageError::new(
                            spec,
                            format!("days \"{v}\" is not a whole number from 1 to {MAX_DAYS}"),
                        ))
                    }
                },
            },
        },
        "scorecard" => Command::Scorecard {
            period: period("period")?,
        },
        "alerts" => Command::Alerts,
        "snooze" => Command::Snooze {
            target: required("target"),
            duration: snooze_duration(spec, &required("duration"))?,
            reason: text("reason"),
        },
        "ack" => Command::Ack {
            alert: required("alert"),
        },
        "help" => Command::Help {
            command: match get("command") {
                None => None,
                Some(v) => Some(spec_named(v.trim_start_matches('/')).ok_or_else(|| {
                    UsageError::new(spec, format!("there is no command \"{v}\""))
                        .with_choices(COMMANDS.iter().map(|c| c.name.to_string()).collect())
                })?),
            },
        },
        other => unreachable!("command {other} is in COMMANDS but not parsed"),
    })
}

fn spec_named(name: &str) -> Option<&'static CommandSpec> {
    spec(&name.to_ascii_lowercase())
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn metric(spec: &'static CommandSpec, name: &str) -> Result<MetricId, UsageError> {
    let lowered = name.to_ascii_lowercase();
    if let Some(def) = METRICS.iter().find(|d| d.name == lowered) {
        return Ok(def.id);
    }
    let choices = match crate::metrics::registry::suggest(&lowered) {
        Some(close) => vec![close.to_string()],
        None => METRICS
            .iter()
            .filter(|d| d.scope.portfolio())
            .map(|d| d.name.to_string())
            .collect(),
    };
    Err(
        UsageError::new(spec, format!("\"{name}\" is not a metric cs-pulse knows"))
            .with_choices(choices),
    )
}

fn snooze_duration(spec: &'static CommandSpec, text: &str) -> Result<Duration, UsageError> {
    match parse_duration(text) {
        Ok(d) if d > Duration::zero() && d <= Duration::days(MAX_SNOOZE_DAYS) => Ok(d),
        Ok(d) if d > Duration::zero() => Err(UsageError::new(
            spec,
            format!("duration \"{text}\" is longer than {MAX_SNOOZE_DAYS} days; silence longer from the command line"),
        )),
        _ => Err(UsageError::new(
            spec,
            format!("duration \"{text}\" is not a duration"),
        )
        .with_choices(vec!["12h".into(), "7d".into(), "2w".into()])),
    }
}

/// Parses the text after `/cs` (Slack): the first word is the command; then `name=value` words
/// set a parameter by name and other words fill the parameters in order; `"double quotes"` keep
/// spaces in one value, and the last parameter, when it is free text, takes the rest of the line.
/// An empty line is `help`.
pub fn parse_text(line: &str) -> Result<Command, UsageError> {
    let words = split_words(line);
    let Some((name, rest)) = words.split_first() else {
        return parse("help", &vec![]);
    };
    let name = name.to_ascii_lowercase();
    let Some(spec) = spec(name.trim_start_matches('/')) else {
        return parse(&name, &vec![]);
    };
    let mut options: Options = vec![];
    let mut positional = vec![];
    for word in rest {
        match word.split_once('=') {
            Some((key, value)) if spec.params.iter().any(|p| p.name == key) => {
                options.push((key.to_string(), value.to_string()));
            }
            _ => positional.push(word.clone()),
        }
    }
    let named: Vec<String> = options.iter().map(|(k, _)| k.clone()).collect();
    let mut free = spec
        .params
        .iter()
        .filter(|p| !named.iter().any(|k| k == p.name));
    let mut words = positional.into_iter().peekable();
    while let Some(word) = words.next() {
        let Some(param) = free.next() else {
            return Err(UsageError::new(
                spec,
                format!(
                    "/{} takes no more than {} value(s); \"{word}\" is one too many",
                    spec.name,
                    spec.params.len()
                ),
            ));
        };
        let value = if param.kind == ParamKind::Text {
            std::iter::once(word)
                .chain(words.by_ref())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            word
        };
        options.push((param.name.to_string(), value));
    }
    parse(spec.name, &options)
}

/// Splits on whitespace, keeping `"quoted text"` (and `name="quoted text"`) as one word.
fn split_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut current = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '"' | '“' | '”' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(current);
    }
    words
}

/// How an invocation is written on each platform, for examples in help and usage replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `/kpi metric:nrr period:2025-Q3`
    Discord,
    /// `/cs kpi nrr period=2025-Q3`
    Slack,
}

/// An invocation of `spec` with `args`, written as a user types it on the platform.
pub fn example(spec: &CommandSpec, args: &[(&str, &str)], syntax: Syntax) -> String {
    let quote = |v: &str| {
        if v.contains(' ') {
            format!("\"{v}\"")
        } else {
            v.to_string()
        }
    };
    match syntax {
        Syntax::Discord => {
            let mut out = format!("/{}", spec.name);
            for (k, v) in args {
                out += &format!(" {k}:{v}");
            }
            out
        }
        Syntax::Slack => {
            let mut out = format!("/cs {}", spec.name);
            // Leading parameters given in order are written bare; the rest by name.
            let mut in_order = true;
            for (i, (k, v)) in args.iter().enumerate() {
                in_order &= spec.params.get(i).is_some_and(|p| p.name == *k);
                if in_order {
                    out += &format!(" {}", quote(v));
                } else {
                    out += &format!(" {k}={}", quote(v));
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Options {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_spec_fits_discord_limits_and_is_parsed() {
        for c in COMMANDS {
            assert!(c.name.len() <= 32 && c.summary.len() <= 100, "{}", c.name);
            for p in c.params {
                assert!(
                    p.name.len() <= 32 && p.help.len() <= 100,
                    "{}.{}",
                    c.name,
                    p.name
                );
            }
            // Required parameters come first (Discord requires it).
            let first_optional = c
                .params
                .iter()
                .position(|p| !p.required)
                .unwrap_or(c.params.len());
            assert!(
                c.params[first_optional..].iter().all(|p| !p.required),
                "{}",
                c.name
            );
            let args: Options = opts(c.example);
            assert!(parse(c.name, &args).is_ok(), "example of {} parses", c.name);
        }
    }

    #[test]
    fn parses_named_options() {
        let cmd = parse("kpi", &opts(&[("metric", "NRR"), ("period", "2025-Q3")])).unwrap();
        assert_eq!(
            cmd,
            Command::Kpi {
                metric: MetricId::Nrr,
                period: Some("2025-Q3".parse().unwrap()),
                segment: None,
                owner: None
            }
        );
        assert_eq!(
            parse("renewals", &vec![]).unwrap(),
            Command::Renewals { days: 60 }
        );
    }

    #[test]
    fn usage_errors_say_what_and_offer_choices() {
        let e = parse("kpi", &opts(&[("metric", "nrrr")])).unwrap_err();
        assert_eq!(e.problem, "\"nrrr\" is not a metric cs-pulse knows");
        assert_eq!(e.choices, vec!["nrr"]);
        let e = parse("kpi", &vec![]).unwrap_err();
        assert!(e.problem.starts_with("/kpi needs metric"), "{}", e.problem);
        let e = parse("renewals", &opts(&[("days", "-3")])).unwrap_err();
        assert!(e.problem.contains("1 to 366"));
        let e = parse("snooze", &opts(&[("target", "x"), ("duration", "400d")])).unwrap_err();
        assert!(e.problem.contains("longer than 90 days"));
        let e = parse("kpis", &vec![]).unwrap_err();
        assert!(e.command.is_none() && e.choices.contains(&"kpi".to_string()));
        let e = parse("scorecard", &opts(&[("period", "last week")])).unwrap_err();
        assert!(e
            .problem
            .starts_with("period \"last week\" is not a period"));
    }

    #[test]
    fn slack_text_fills_parameters_in_order_and_by_name() {
        assert_eq!(
            parse_text("kpi nrr segment=\"Mid Market\" 2025-07").unwrap(),
            Command::Kpi {
                metric: MetricId::Nrr,
                period: Some("2025-07".parse().unwrap()),
                segment: Some("Mid Market".into()),
                owner: None
            }
        );
        assert_eq!(
            parse_text("snooze health-red:acme 7d renewal call booked").unwrap(),
            Command::Snooze {
                target: "health-red:acme".into(),
                duration: Duration::days(7),
                reason: Some("renewal call booked".into())
            }
        );
        assert_eq!(
            parse_text("account \"Acme Corp\"").unwrap(),
            Command::Account {
                account: "Acme Corp".into()
            }
        );
        assert_eq!(parse_text("  ").unwrap(), Command::Help { command: None });
        let e = parse_text("alerts now").unwrap_err();
        assert!(e.problem.contains("one too many"), "{}", e.problem);
    }

    #[test]
    fn examples_are_written_per_platform() {
        let s = spec("snooze").unwrap();
        assert_eq!(
            example(s, s.example, Syntax::Discord),
            "/snooze target:health-red:acme duration:7d reason:renewal call booked"
        );
        assert_eq!(
            example(s, s.example, Syntax::Slack),
            "/cs snooze health-red:acme 7d \"renewal call booked\""
        );
        let k = spec("kpi").unwrap();
        assert_eq!(
            example(k, &[("metric", "nrr"), ("segment", "smb")], Syntax::Slack),
            "/cs kpi nrr segment=smb"
        );
    }
}
