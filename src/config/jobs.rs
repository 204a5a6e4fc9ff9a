//! `[jobs.NAME]`: what the long-running service (`cs-pulse run`) does on a schedule — sync the
//! sources, evaluate the rules, post a scorecard — read raw and validated here like every other
//! table, every error at once with its span and a hint.
//!
//! ```toml
//! [jobs.weekly-scorecard]
//! kind = "scorecard"           # sync | evaluate | scorecard
//! cron = "0 0 8 * * Mon"       # sec min hour day-of-month month day-of-week; 5 fields: no seconds
//! timezone = "Europe/Berlin"   # default: the top-level `timezone`
//! grace = "2d"                 # how late a missed run is still made up at start
//! scorecard = "leadership"     # scorecard jobs only; default: every scorecard
//! ```
//!
//! `sources = ["crm"]` (sync jobs only) limits a sync to some sources; the default is all.
//! The default `grace` is [`DEFAULT_GRACE_SYNC`], [`DEFAULT_GRACE_EVALUATE`] or
//! [`DEFAULT_GRACE_SCORECARD`]; see [`crate::scheduler`] for what the scheduler does with it.

use chrono::Duration;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::{duration, toml_file, KindKeys, SourceConfig, Validator};
use crate::scheduler::schedule::{Schedule, ScheduleError, CRON_HINT};

/// A missed sync is made up at start if at most this late (data an hour old is still worth
/// refreshing at once; older, the next run is soon anyway).
pub const DEFAULT_GRACE_SYNC: Duration = Duration::hours(1);
/// A missed evaluation is made up at start if at most this late.
pub const DEFAULT_GRACE_EVALUATE: Duration = Duration::hours(1);
/// A missed scorecard is posted late if at most this late: a week, so that a weekly scorecard
/// is posted once per period even if the service was down at its time (DESIGN.md's promise).
pub const DEFAULT_GRACE_SCORECARD: Duration = Duration::days(7);

/// One `[jobs.NAME]` table as written. Every kind's keys are here, all optional, so that a
/// missing `kind` or a key of another kind is reported by validation with its span.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub kind: Option<Spanned<String>>,
    pub cron: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub grace: Option<Spanned<String>>,
    /// `scorecard` jobs: which scorecard.
    pub scorecard: Option<Spanned<String>>,
    /// `sync` jobs: which sources.
    pub sources: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One validated job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobConfig {
    /// The key of `[jobs.NAME]`; runs are recorded under it.
    pub name: String,
    pub kind: JobKind,
    /// The cron pattern in the job's timezone.
    pub schedule: Schedule,
    /// How late a run may start and still run (at start, for a missed time).
    pub grace: Duration,
}

/// What a job does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Sync these sources (`None`: every configured source).
    Sync { sources: Option<Vec<String>> },
    /// Evaluate the rules and deliver the alerts.
    Evaluate,
    /// Post this scorecard (`None`: every scorecard).
    Scorecard { scorecard: Option<String> },
}

impl JobKind {
    /// Every kind's word, with the keys its table takes besides `kind`, `cron`, `timezone` and
    /// `grace`.
    pub const WORDS: [(&'static str, &'static [&'static str]); 3] = [
        ("sync", &["sources"]),
        ("evaluate", &[]),
        ("scorecard", &["scorecard"]),
    ];

    /// The word used for this kind in `kind = "..."`.
    pub fn word(&self) -> &'static str {
        match self {
            JobKind::Sync { .. } => "sync",
            JobKind::Evaluate => "evaluate",
            JobKind::Scorecard { .. } => "scorecard",
        }
    }

    /// The `grace` of a job of this kind that does not set one.
    pub fn default_grace(&self) -> Duration {
        match self {
            JobKind::Sync { .. } => DEFAULT_GRACE_SYNC,
            JobKind::Evaluate => DEFAULT_GRACE_EVALUATE,
            JobKind::Scorecard { .. } => DEFAULT_GRACE_SCORECARD,
        }
    }
}

const COMMON_KEYS: [&str; 4] = ["kind", "cron", "timezone", "grace"];

impl Validator<'_> {
    /// Every `[jobs.NAME]` table, in file order; `timezone` is the configuration's.
    pub(super) fn jobs(
        &mut self,
        raw: std::collections::BTreeMap<Spanned<String>, Spanned<RawJob>>,
        timezone: Tz,
        sources: &[SourceConfig],
    ) -> Vec<JobConfig> {
        toml_file::in_file_order(raw)
            .into_iter()
            .filter_map(|(name, table)| self.job(name, table, timezone, sources))
            .collect()
    }

    fn job(
        &mut self,
        name: Spanned<String>,
        table: Spanned<RawJob>,
        default_tz: Tz,
        sources: &[SourceConfig],
    ) -> Option<JobConfig> {
        let header = toml_file::first_line(self.src, table.span());
        let raw = table.into_inner();
        let words: Vec<&str> = JobKind::WORDS.iter().map(|(w, _)| *w).collect();
        let mut ok = true;
        if name.get_ref().trim().is_empty() {
            self.error(
                name.span(),
                "a job name cannot be empty",
                Some(
                    "name it like `[jobs.weekly-scorecard]`: its runs are recorded under this name"
                        .to_string(),
                ),
            );
            ok = false;
        }
        let tz = match &raw.timezone {
            Some(tz) => self.timezone(tz),
            None => Some(default_tz),
        };
        let schedule = match (&raw.cron, tz) {
            (None, _) => {
                self.error(
                    header.clone(),
                    format!("job `{}` has no `cron`", name.get_ref()),
                    Some(format!("add `cron = \"0 0 8 * * Mon\"`: {CRON_HINT}")),
                );
                None
            }
            (Some(cron), tz) => self.cron(cron, tz.unwrap_or(default_tz)),
        };
        ok &= tz.is_some();
        let grace = raw.grace.as_ref().map(|g| self.grace(g));
        let Some(kind_word) = &raw.kind else {
            self.missing_kind(header, "job", name.get_ref(), &words);
            return None;
        };
        let Some((word, keys)) = JobKind::WORDS
            .iter()
            .find(|(w, _)| *w == kind_word.get_ref().trim())
        else {
            self.unknown_kind(kind_word, "job", &words);
            return None;
        };
        let present = [
            ("scorecard", raw.scorecard.as_ref().map(Spanned::span)),
            ("sources", raw.sources.as_ref().map(Spanned::span)),
        ];
        let kind_keys = KindKeys {
            table: "job",
            word,
            common: &COMMON_KEYS,
            own: keys,
            owners: &JobKind::WORDS,
        };
        ok &= self.foreign_keys(&kind_keys, &present);
        let kind = match *word {
            "sync" => JobKind::Sync {
                sources: match &raw.sources {
                    Some(list) => Some(self.job_sources(list, sources)?),
                    None => None,
                },
            },
            "evaluate" => JobKind::Evaluate,
            _ => JobKind::Scorecard {
                scorecard: match &raw.scorecard {
                    Some(id) if id.get_ref().trim().is_empty() => {
                        self.error(
                            id.span(),
                            "the scorecard id is empty",
                            Some("name a scorecard, or leave `scorecard` out to post every scorecard".to_string()),
                        );
                        return None;
                    }
                    Some(id) => Some(id.get_ref().trim().to_string()),
                    None => None,
                },
            },
        };
        let grace = match grace {
            Some(g) => g?,
            None => kind.default_grace(),
        };
        let schedule = schedule?;
        ok.then(|| JobConfig {
            name: name.into_inner(),
            kind,
            schedule,
            grace,
        })
    }

    fn cron(&mut self, cron: &Spanned<String>, tz: Tz) -> Option<Schedule> {
        match Schedule::new(cron.get_ref(), tz) {
            Ok(s) => Some(s),
            Err(ScheduleError::NeverFires) => {
                self.error(
                    cron.span(),
                    format!("cron `{}` matches no date", cron.get_ref()),
                    Some("check the day-of-month, month and day-of-week fields: a day must match all three".to_string()),
                );
                None
            }
            Err(ScheduleError::Invalid(message)) => {
                self.error(
                    cron.span(),
                    format!("invalid cron `{}`: {message}", cron.get_ref()),
                    Some(CRON_HINT.to_string()),
                );
                None
            }
        }
    }

    fn grace(&mut self, text: &Spanned<String>) -> Option<Duration> {
        match duration::parse_duration(text.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    text.span(),
                    format!("grace `{}` {e}", text.get_ref()),
                    Some(
                        "how late a missed run may still start, like \"6h\" or \"2d\"; \"0\" never makes one up"
                            .to_string(),
                    ),
                );
                None
            }
        }
    }

    fn job_sources(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        sources: &[SourceConfig],
    ) -> Option<Vec<String>> {
        if list.get_ref().is_empty() {
            self.error(
                list.span(),
                "`sources` is empty",
                Some(
                    "name the sources to sync, or leave `sources` out to sync every source"
                        .to_string(),
                ),
            );
            return None;
        }
        let mut names: Vec<String> = Vec::new();
        let mut ok = true;
        for s in list.get_ref() {
            let name = s.get_ref().trim();
            if !sources.iter().any(|c| c.name == name) {
                let hint = match toml_file::closest(name, sources.iter().map(|c| c.name.as_str())) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None if sources.is_empty() => {
                        "no source is configured: add a `[sources.NAME]` table".to_string()
                    }
                    None => format!(
                        "the sources are {}",
                        sources
                            .iter()
                            .map(|c| format!("`{}`", c.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.error(
                    s.span(),
                    format!("unknown source `{}`", s.get_ref()),
                    Some(hint),
                );
                ok = false;
            } else if names.iter().any(|n| n == name) {
                self.error(
                    s.span(),
                    format!("source `{name}` is listed twice"),
                    Some("keep one of them".to_string()),
                );
                ok = false;
            } else {
                names.push(name.to_string());
            }
        }
        ok.then_some(names)
    }
}
