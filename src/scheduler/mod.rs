//! The scheduler of the long-running service (`cs-pulse run`): runs the `[jobs.NAME]` of the
//! configuration — sync, evaluate, scorecard — at their cron times in their timezones, makes up
//! a time missed while the service was down, and never runs a job twice at once.
//!
//! - [`schedule`] (pure): cron pattern + IANA timezone → UTC instants, across DST changes.
//! - [`catch_up`] (pure): what to run at start for a missed time, given the last recorded run.
//! - [`runner`]: the tasks that sleep, run jobs through a [`JobExecutor`], record them in a
//!   [`crate::store::JobLog`], and shut down gracefully.

pub mod catch_up;
pub mod runner;
pub mod schedule;

pub use catch_up::{catch_up, CatchUp};
pub use runner::{
    Clock, JobExecutor, JobStats, OverlapGuard, RunPermit, Scheduler, SystemClock, ON_TIME,
};
pub use schedule::{last_due_at_or_before, next_after, Schedule, ScheduleError};
