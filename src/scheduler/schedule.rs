//! When a job is due: a cron pattern read in an IANA timezone, turned into UTC instants, correct
//! across daylight-saving changes. Pure: every function takes the instant it reasons from.
//!
//! The pattern is parsed by `croner`, the cron engine of tokio-cron-scheduler, with the same
//! settings (day-of-month AND day-of-week: `0 0 8 1-7 * Mon` is the first Monday of a month),
//! except that the seconds field may be left out: `0 8 * * Mon` means `0 0 8 * * Mon`. Which
//! wall-clock times match is croner's answer; how those wall-clock times become instants is
//! decided here, because croner's own search can return, around the autumn change, a time
//! before the one it searches from, or skip the repeated hour (see the tests).
//!
//! # Daylight-saving time
//!
//! The reading of Vixie cron and its descendants:
//!
//! - A **wall-clock job**, whose hour field names particular hours (`0 30 2 * * *`,
//!   `0 0 8,17 * * Mon-Fri`), runs once per matching local time:
//!   - a local time that does not exist (spring forward: 02:30 in Europe/Berlin on 2026-03-29)
//!     runs once, at the first instant after the gap (03:00 CEST, 01:00 UTC);
//!   - a local time that happens twice (fall back: 02:30 on 2026-10-25) runs once, at its first
//!     occurrence (02:30 CEST, 00:30 UTC), not again an hour later.
//! - An **interval job**, whose hour field is `*` (`0 */15 * * * *`, `0 0 * * * *`), follows
//!   elapsed time: nothing runs for the local times that do not exist (the real time between
//!   runs does not change), and the repeated hour runs in both of its passes.
//!
//! croner classifies the same way for a single time of day; it calls `0 30 2,14 * * *` an
//! interval job and would run it twice in the repeated hour, which is not what a person means.

use std::fmt;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// The largest change of UTC offset looked for around an instant (real ones are 30 minutes to
/// 2 hours).
const MAX_SHIFT_HOURS: i64 = 3;

/// How many wall-clock candidates a search looks at before giving up (an every-second job
/// crossing a one-hour gap needs 3,600).
const MAX_CANDIDATES: usize = 20_000;

/// What a cron pattern looks like, for hints.
pub const CRON_HINT: &str = "six fields: second minute hour day-of-month month day-of-week, like \"0 0 8 * * Mon\" (Mondays at 08:00), or five without the seconds, like \"0 8 * * Mon\"";

/// A cron pattern in a timezone.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    expr: String,
    cron: Cron,
    tz: Tz,
    wall_clock: bool,
}

/// Why a cron pattern was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// croner's message.
    #[error("{0}")]
    Invalid(String),
    /// The pattern parses but no date ever matches it (`0 0 0 30 2 *`).
    #[error("matches no date")]
    NeverFires,
}

/// Parses a cron pattern the way [`Schedule`] reads it (croner, seconds optional, day-of-month
/// AND day-of-week).
pub fn parse_cron(expr: &str) -> Result<Cron, ScheduleError> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .map_err(|e| ScheduleError::Invalid(e.to_string()))
}

impl Schedule {
    /// Parses `expr` for `tz`. A pattern that never matches any date from 2000 on is
    /// [`ScheduleError::NeverFires`].
    pub fn new(expr: &str, tz: Tz) -> Result<Schedule, ScheduleError> {
        let cron = parse_cron(expr)?;
        let wall_clock = !(0..24).all(|h| cron.pattern.hour_match(h).unwrap_or(false));
        let schedule = Schedule {
            expr: expr.trim().to_string(),
            cron,
            tz,
            wall_clock,
        };
        let y2k = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        match y2k.and_then(|t| schedule.naive_next(t.naive_utc())) {
            Some(_) => Ok(schedule),
            None => Err(ScheduleError::NeverFires),
        }
    }

    /// The pattern as written (trimmed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// True for a wall-clock job, false for an interval job (see the module documentation).
    pub fn is_wall_clock(&self) -> bool {
        self.wall_clock
    }

    /// See [`next_after`].
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        next_after(self, after)
    }

    /// See [`last_due_at_or_before`].
    pub fn last_due_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        last_due_at_or_before(self, now)
    }

    /// The next matching wall-clock time strictly after `n` (croner on a clock without DST).
    fn naive_next(&self, n: NaiveDateTime) -> Option<NaiveDateTime> {
        self.cron
            .find_next_occurrence(&n.and_utc(), false)
            .ok()
            .map(|t| t.naive_utc())
    }

    /// The previous matching wall-clock time strictly before `n`.
    fn naive_prev(&self, n: NaiveDateTime) -> Option<NaiveDateTime> {
        self.cron
            .find_previous_occurrence(&n.and_utc(), false)
            .ok()
            .map(|t| t.naive_utc())
    }

    /// The instants at which the wall-clock time `n` runs, ascending: none, one, or two (an
    /// interval job in the repeated hour).
    fn instants(&self, n: NaiveDateTime) -> Instants {
        match self.tz.from_local_datetime(&n) {
            LocalResult::Single(t) => Instants::One(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                let (first, second) = if a <= b { (a, b) } else { (b, a) };
                if self.wall_clock {
                    Instants::One(first)
                } else {
                    Instants::Two(first, second)
                }
            }
            LocalResult::None => match (self.wall_clock, gap_end(self.tz, n)) {
                (true, Some(t)) => Instants::One(t),
                _ => Instants::None,
            },
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.expr, self.tz)
    }
}

#[derive(Clone, Copy, Debug)]
enum Instants {
    None,
    One(DateTime<Utc>),
    Two(DateTime<Utc>, DateTime<Utc>),
}

impl Instants {
    fn iter(self) -> impl Iterator<Item = DateTime<Utc>> {
        let (a, b) = match self {
            Instants::None => (None, None),
            Instants::One(a) => (Some(a), None),
            Instants::Two(a, b) => (Some(a), Some(b)),
        };
        a.into_iter().chain(b)
    }
}

/// The first instant at which `schedule` runs strictly after `after`; `None` when it never
/// runs again (a pattern with a past year).
pub fn next_after(schedule: &Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let after = whole_second(after);
    let n0 = local(schedule.tz, after);
    let mut best: Option<DateTime<Utc>> = None;
    // Wall-clock times from n0 on, in order: the first with an instant after `after` has the
    // earliest such instant (instants follow wall-clock order but in a repeated hour, whose
    // second pass is handled below).
    let mut n = n0;
    for _ in 0..MAX_CANDIDATES {
        let Some(next) = schedule.naive_next(n) else {
            break;
        };
        n = next;
        let found = schedule.instants(n).iter().find(|t| *t > after);
        if let Some(t) = found {
            best = Some(t);
            break;
        }
        if !schedule.wall_clock {
            // Skip the rest of a gap in one step.
            if let LocalResult::None = schedule.tz.from_local_datetime(&n) {
                if let Some(end) = gap_end(schedule.tz, n) {
                    n = nplus(local(schedule.tz, end), -Duration::seconds(1));
                }
            }
        }
    }
    // An interval job shortly before the autumn change also runs the second pass of the
    // wall-clock times it has just run (n0 - shift ..= n0), which come before any time after n0.
    if !schedule.wall_clock {
        let shift =
            offset(schedule.tz, after) - offset(schedule.tz, plus(after, hours(MAX_SHIFT_HOURS)));
        if shift > Duration::zero() {
            let mut n = nplus(n0, -shift - Duration::seconds(1));
            for _ in 0..MAX_CANDIDATES {
                let Some(next) = schedule.naive_next(n) else {
                    break;
                };
                n = next;
                if n > n0 {
                    break;
                }
                if let Some(t) = schedule.instants(n).iter().find(|t| *t > after) {
                    best = Some(best.map_or(t, |b| b.min(t)));
                    break;
                }
            }
        }
    }
    best
}

/// The last instant at or before `now` at which `schedule` ran (or should have); `None` when it
/// never has.
pub fn last_due_at_or_before(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let now = whole_second(now);
    let n0 = local(schedule.tz, now);
    let mut best: Option<DateTime<Utc>> = None;
    let mut n = nplus(n0, Duration::seconds(1));
    for _ in 0..MAX_CANDIDATES {
        let Some(prev) = schedule.naive_prev(n) else {
            break;
        };
        n = prev;
        if let Some(t) = schedule.instants(n).iter().filter(|t| *t <= now).max() {
            best = Some(t);
            break;
        }
        if !schedule.wall_clock {
            if let LocalResult::None = schedule.tz.from_local_datetime(&n) {
                // Jump to the start of the gap.
                if let Some(end) = gap_end(schedule.tz, n) {
                    n = nplus(
                        local(schedule.tz, plus(end, -Duration::seconds(1))),
                        Duration::seconds(1),
                    );
                }
            }
        }
    }
    // Shortly after the autumn change, the wall-clock times after n0 (up to the shift) already
    // happened once, in the first pass, and may be later than anything found above.
    let shift = offset(schedule.tz, plus(now, -hours(MAX_SHIFT_HOURS))) - offset(schedule.tz, now);
    if shift > Duration::zero() {
        let mut n = n0;
        for _ in 0..MAX_CANDIDATES {
            let Some(next) = schedule.naive_next(n) else {
                break;
            };
            n = next;
            if n > nplus(n0, shift) {
                break;
            }
            if let Some(t) = schedule.instants(n).iter().filter(|t| *t <= now).max() {
                best = Some(best.map_or(t, |b| b.max(t)));
            }
        }
    }
    best
}

/// The first instant after the gap that swallows the wall-clock time `n` (the instant of the
/// change), found by bisection on the assumption that local time only moves forward within a
/// day of it.
fn gap_end(tz: Tz, n: NaiveDateTime) -> Option<DateTime<Utc>> {
    let u = n.and_utc().timestamp();
    let (mut lo, mut hi) = (u - 26 * 3600, u + 26 * 3600);
    let after_n = |s: i64| DateTime::from_timestamp(s, 0).map(|t| local(tz, t) > n);
    if after_n(lo)? || !after_n(hi)? {
        return None;
    }
    // Invariant: local(lo) <= n < local(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if after_n(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

fn local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

fn offset(tz: Tz, t: DateTime<Utc>) -> Duration {
    Duration::seconds(i64::from(
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc(),
    ))
}

/// `t + d`, or `t` at the ends of time (no panic).
fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(t)
}

/// `n + d`, or `n` at the ends of time (no panic).
fn nplus(n: NaiveDateTime, d: Duration) -> NaiveDateTime {
    n.checked_add_signed(d).unwrap_or(n)
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn five_fields_mean_second_zero() {
        let s = Schedule::new("30 8 * * Mon", Tz::UTC).unwrap();
        assert_eq!(
            s.next_after(utc("2026-01-01T00:00:00Z")),
            Some(utc("2026-01-05T08:30:00Z"))
        );
    }

    #[test]
    fn impossible_dates_never_fire() {
        assert_eq!(
            Schedule::new("0 0 0 30 2 *", Tz::UTC),
            Err(ScheduleError::NeverFires)
        );
    }

    #[test]
    fn gap_end_is_the_change() {
        let n = NaiveDateTime::parse_from_str("2026-03-29 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            gap_end(Tz::Europe__Berlin, n),
            Some(utc("2026-03-29T01:00:00Z"))
        );
    }

    /// next_after and last_due_at_or_before agree with each other every 5 minutes across the
    /// DST days of Berlin and New York, for wall-clock and interval patterns.
    #[test]
    fn next_and_last_agree_across_dst() {
        let patterns = [
            "0 30 2 * * *",
            "0 30 1 * * *",
            "0 0,30 2 * * *",
            "0 */15 * * * *",
            "0 0 * * * *",
            "*/20 * * * * *",
        ];
        let days = [
            (Tz::Europe__Berlin, "2026-03-28T22:00:00Z"),
            (Tz::Europe__Berlin, "2026-10-24T22:00:00Z"),
            (Tz::America__New_York, "2026-03-08T03:00:00Z"),
            (Tz::America__New_York, "2026-11-01T03:00:00Z"),
        ];
        for (tz, start) in days {
            for p in patterns {
                let s = Schedule::new(p, tz).unwrap();
                let mut t = utc(start);
                for _ in 0..(8 * 12) {
                    let n = s.next_after(t).unwrap();
                    assert!(n > t, "{p} {tz} next_after({t}) = {n}");
                    assert_eq!(s.last_due_at_or_before(n), Some(n), "{p} {tz} at {n}");
                    let before = s.last_due_at_or_before(n - Duration::seconds(1)).unwrap();
                    assert!(before <= t, "{p} {tz}: {before} between {t} and {n}");
                    assert_eq!(s.next_after(before), Some(n), "{p} {tz} from {before}");
                    t += Duration::minutes(5) + Duration::seconds(7);
                }
            }
        }
    }

    #[test]
    fn sub_seconds_are_ignored() {
        let s = Schedule::new("0 0 8 * * *", Tz::UTC).unwrap();
        let t = utc("2026-01-01T08:00:00.5Z");
        assert_eq!(
            s.last_due_at_or_before(t),
            Some(utc("2026-01-01T08:00:00Z"))
        );
        assert_eq!(s.next_after(t), Some(utc("2026-01-02T08:00:00Z")));
    }
}
