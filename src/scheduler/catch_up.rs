//! What to do at start for a job whose scheduled time passed while the service was down: run it
//! once now, late, or let it go because it is too late. Pure: the last recorded run and `now`
//! are parameters.
//!
//! - Only the latest missed time counts: a service down for three days runs a daily job once,
//!   for the third day, not three times.
//! - It runs if it is at most the job's `grace` late; otherwise it is skipped (and logged), and
//!   the job waits for its next time.
//! - A job with no recorded run is not caught up: it is new (or the store is), and starting the
//!   service should not, say, post last Monday's scorecard on a Wednesday. Its first run is its
//!   next scheduled time.

use chrono::{DateTime, Duration, Utc};

use super::schedule::Schedule;

/// The decision for one job at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchUp {
    /// Nothing was missed (or the job never runs before `now`).
    UpToDate,
    /// The job has never run: no catch-up, it waits for its next time.
    NeverRun,
    /// Run once now for `scheduled_for`, the latest missed time; `first_missed` is the earliest
    /// time missed since the last run (the same when only one was missed).
    Run {
        scheduled_for: DateTime<Utc>,
        first_missed: DateTime<Utc>,
    },
    /// The latest missed time is more than `grace` ago: skipped.
    TooLate {
        scheduled_for: DateTime<Utc>,
        late_by: Duration,
    },
}

/// Decides what to run at start, given the scheduled time of the job's last recorded run.
pub fn catch_up(
    schedule: &Schedule,
    last_run: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    grace: Duration,
) -> CatchUp {
    let Some(last) = last_run else {
        return CatchUp::NeverRun;
    };
    let Some(due) = schedule.last_due_at_or_before(now) else {
        return CatchUp::UpToDate;
    };
    if due <= last {
        return CatchUp::UpToDate;
    }
    let late_by = now - due;
    if late_by > grace {
        return CatchUp::TooLate {
            scheduled_for: due,
            late_by,
        };
    }
    let first_missed = schedule
        .next_after(last)
        .filter(|t| *t <= due)
        .unwrap_or(due);
    CatchUp::Run {
        scheduled_for: due,
        first_missed,
    }
}
