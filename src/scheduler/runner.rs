//! The running scheduler: one task per configured job that sleeps until the job's next time
//! ([`Schedule::next_after`]), runs it through a [`JobExecutor`], and records the run in a
//! [`JobLog`]. This is the only part of the scheduler that reads the clock (through [`Clock`],
//! so tests can shift it).
//!
//! - At start, each job's missed time is made up once if within grace ([`catch_up`]).
//! - A job never overlaps itself: when its time comes while its previous run is still going,
//!   that time is skipped and logged ([`OverlapGuard`]).
//! - A run that starts more than the job's grace (at least [`ON_TIME`]) after its time — the
//!   machine was suspended, the clock jumped — is skipped and logged; after a long sleep only
//!   the latest missed time runs.
//! - [`Scheduler::shutdown`] stops starting runs and waits for the running ones to finish (for a
//!   graceful SIGTERM; wrap it in a timeout to bound the wait).
//! - [`Scheduler::stats`] gives, per job, how late its last run started (the scheduler lag),
//!   counts of runs, failures and skips, for metrics.
//!
//! Why not tokio-cron-scheduler's `JobScheduler`: version 0.15.1 computes every tick after the
//! first with the UTC offset the timezone had when the job was created (`time_offset_seconds`,
//! a `FixedOffset`, in its `scheduler.rs`), so a job created in winter fires an hour late from
//! the spring change until a restart; and its callbacks are not told the time they are for.
//! Sleeping until [`Schedule::next_after`] fires at exactly the times the pure functions
//! compute, with the same cron engine (croner).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::catch_up::{catch_up, CatchUp};
use super::schedule::Schedule;
use crate::config::JobConfig;
use crate::store::jobs::{JobLog, JobOutcome};
use crate::store::StoreError;

/// A run that starts at most this late is on time even when the job's grace is shorter (a
/// grace of 0 means "never make up a missed run", not "skip runs a millisecond late").
pub const ON_TIME: Duration = Duration::minutes(1);

/// The longest single sleep: the wall clock is read again at least this often, so a clock
/// change or a suspended machine delays a run by at most this much.
const MAX_NAP: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a job: the service plugs in sync, evaluate and scorecard.
#[async_trait]
pub trait JobExecutor: Send + Sync {
    /// Runs `job` for its scheduled time `scheduled_for` (which a scorecard uses to know its
    /// period, and to post once per period).
    async fn run(&self, job: &JobConfig, scheduled_for: DateTime<Utc>) -> anyhow::Result<()>;
}

/// Where the scheduler reads the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The per-job guard against overlapping runs: a run holds the [`RunPermit`] until it ends.
#[derive(Clone, Debug, Default)]
pub struct OverlapGuard(Arc<AtomicBool>);

/// Proof that a run of the job is going; dropping it (even in a panic) frees the guard.
#[derive(Debug)]
pub struct RunPermit(Arc<AtomicBool>);

impl OverlapGuard {
    pub fn new() -> OverlapGuard {
        OverlapGuard::default()
    }

    /// The permit to run, or `None` while the previous run is still going.
    pub fn try_start(&self) -> Option<RunPermit> {
        self.0
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| RunPermit(self.0.clone()))
    }

    pub fn is_running(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl Drop for RunPermit {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What a job has done since the scheduler started, for logs and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Runs started (made-up runs included).
    pub runs: u64,
    /// Runs that ended in an error (or a panic).
    pub failures: u64,
    /// Times skipped because the previous run was still going.
    pub skipped_overlap: u64,
    /// Times skipped because they were more than grace late (at start or after a sleep).
    pub skipped_late: u64,
    /// The scheduled time of the last run started.
    pub last_scheduled_for: Option<DateTime<Utc>>,
    /// How late the last run started after its scheduled time: the scheduler lag.
    pub last_lag: Option<Duration>,
    /// The largest lag of any run.
    pub max_lag: Option<Duration>,
    /// The next time the job will run, if it will.
    pub next_run: Option<DateTime<Utc>>,
    /// Whether a run is going now.
    pub running: bool,
}

struct JobState {
    config: JobConfig,
    guard: OverlapGuard,
    stats: Mutex<JobStats>,
}

impl JobState {
    fn stats(&self) -> MutexGuard<'_, JobStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Shared {
    executor: Arc<dyn JobExecutor>,
    log: Arc<dyn JobLog>,
    clock: Arc<dyn Clock>,
}

/// The running scheduler. Dropping it without [`Scheduler::shutdown`] stops starting runs but
/// does not wait for running ones.
pub struct Scheduler {
    jobs: Vec<Arc<JobState>>,
    loops: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Scheduler {
    /// Starts every job on the system clock: makes up missed times within grace, then runs each
    /// job at its times. Fails only if the last runs cannot be read from the log.
    pub async fn start(
        jobs: &[JobConfig],
        executor: Arc<dyn JobExecutor>,
        log: Arc<dyn JobLog>,
    ) -> Result<Scheduler, StoreError> {
        Scheduler::start_with_clock(jobs, executor, log, Arc::new(SystemClock)).await
    }

    /// [`Scheduler::start`] with another clock.
    pub async fn start_with_clock(
        jobs: &[JobConfig],
        executor: Arc<dyn JobExecutor>,
        log: Arc<dyn JobLog>,
        clock: Arc<dyn Clock>,
    ) -> Result<Scheduler, StoreError> {
        let last_runs = log.last_runs().await?;
        let now = clock.now();
        let shared = Arc::new(Shared {
            executor,
            log,
            clock,
        });
        let (stop, _) = watch::channel(false);
        let mut states = Vec::new();
        let mut loops = Vec::new();
        for config in jobs {
            let state = Arc::new(JobState {
                config: config.clone(),
                guard: OverlapGuard::new(),
                stats: Mutex::new(JobStats {
                    next_run: config.schedule.next_after(now),
                    ..JobStats::default()
                }),
            });
            let last = last_runs.get(&config.name).map(|r| r.scheduled_for);
            let made_up = match catch_up(&config.schedule, last, now, config.grace) {
                CatchUp::UpToDate => None,
                CatchUp::NeverRun => {
                    tracing::info!(
                        job = %config.name,
                        "job {} has never run: it first runs at its next time",
                        config.name
                    );
                    None
                }
                CatchUp::Run {
                    scheduled_for,
                    first_missed,
                } => {
                    tracing::info!(
                        job = %config.name,
                        %scheduled_for,
                        "job {} missed its run for {scheduled_for}{}: running it now",
                        config.name,
                        if first_missed < scheduled_for {
                            format!(" (and earlier ones from {first_missed}, which are not made up)")
                        } else {
                            String::new()
                        }
                    );
                    Some(scheduled_for)
                }
                CatchUp::TooLate {
                    scheduled_for,
                    late_by,
                } => {
                    tracing::warn!(
                        job = %config.name,
                        %scheduled_for,
                        "job {} missed its run for {scheduled_for}, {} ago, longer than its grace of {}: skipped",
                        config.name,
                        crate::config::duration::format_duration(late_by),
                        crate::config::duration::format_duration(config.grace)
                    );
                    state.stats().skipped_late += 1;
                    None
                }
            };
            let task = job_loop(
                state.clone(),
                shared.clone(),
                made_up,
                now,
                stop.subscribe(),
            );
            loops.push(tokio::spawn(task));
            states.push(state);
        }
        Ok(Scheduler {
            jobs: states,
            loops,
            stop,
        })
    }

    /// Every job's name and stats, in configuration order.
    pub fn stats(&self) -> Vec<(String, JobStats)> {
        self.jobs
            .iter()
            .map(|j| {
                let mut s = j.stats().clone();
                s.running = j.guard.is_running();
                (j.config.name.clone(), s)
            })
            .collect()
    }

    /// Stops starting runs, then waits until every running run has finished and been recorded.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        for task in self.loops {
            if let Err(e) = task.await {
                tracing::error!("a scheduler task ended abnormally: {e}");
            }
        }
    }
}

/// One job's life: the made-up run, then each scheduled time until shutdown, then waiting for
/// the running run.
async fn job_loop(
    state: Arc<JobState>,
    shared: Arc<Shared>,
    made_up: Option<DateTime<Utc>>,
    started: DateTime<Utc>,
    mut stop: watch::Receiver<bool>,
) {
    let name = state.config.name.clone();
    let schedule: &Schedule = &state.config.schedule;
    let mut runs = JoinSet::new();
    if let Some(at) = made_up {
        fire(&state, &shared, at, &mut runs);
    }
    let mut next = schedule.next_after(started);
    'schedule: loop {
        state.stats().next_run = next;
        let Some(at) = next else {
            tracing::warn!(job = %name, "job {name} ({schedule}) has no future time: it will not run again");
            break;
        };
        loop {
            if *stop.borrow() {
                break 'schedule;
            }
            let now = shared.clock.now();
            if now >= at {
                break;
            }
            let nap = (at - now).to_std().unwrap_or_default().min(MAX_NAP);
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                // An error: the Scheduler was dropped, which stops the job too.
                changed = stop.changed() => {
                    if changed.is_err() {
                        break 'schedule;
                    }
                }
                Some(_) = runs.join_next(), if !runs.is_empty() => {}
            }
        }
        let now = shared.clock.now();
        // After a long sleep, only the latest missed time runs.
        let due = schedule
            .last_due_at_or_before(now)
            .filter(|d| *d > at)
            .unwrap_or(at);
        let late_by = now - due;
        if late_by > state.config.grace.max(ON_TIME) {
            state.stats().skipped_late += 1;
            tracing::warn!(
                job = %name,
                scheduled_for = %due,
                "job {name} skipped its run for {due}: {} late, longer than its grace of {}",
                crate::config::duration::format_duration(late_by),
                crate::config::duration::format_duration(state.config.grace)
            );
        } else {
            fire(&state, &shared, due, &mut runs);
        }
        next = schedule.next_after(now.max(due));
    }
    state.stats().next_run = None;
    while runs.join_next().await.is_some() {}
}

/// Starts a run for `scheduled_for` unless the previous one is still going.
fn fire(
    state: &Arc<JobState>,
    shared: &Arc<Shared>,
    scheduled_for: DateTime<Utc>,
    runs: &mut JoinSet<()>,
) {
    let Some(permit) = state.guard.try_start() else {
        state.stats().skipped_overlap += 1;
        tracing::warn!(
            job = %state.config.name,
            %scheduled_for,
            "job {} skipped its run for {scheduled_for}: the previous run is still going",
            state.config.name
        );
        return;
    };
    let (state, shared) = (state.clone(), shared.clone());
    runs.spawn(async move {
        let _permit = permit;
        execute(&state, &shared, scheduled_for).await;
    });
}

/// Runs the job once and records the run.
async fn execute(state: &JobState, shared: &Shared, scheduled_for: DateTime<Utc>) {
    let name = &state.config.name;
    let started_at = shared.clock.now();
    let lag = started_at - scheduled_for;
    {
        let mut s = state.stats();
        s.runs += 1;
        s.last_scheduled_for = Some(scheduled_for);
        s.last_lag = Some(lag);
        s.max_lag = Some(s.max_lag.map_or(lag, |m| m.max(lag)));
    }
    crate::telemetry::record_scheduler_lag(name, lag);
    tracing::info!(job = %name, %scheduled_for, lag_ms = lag.num_milliseconds(), "job {name} started");
    let id = match shared.log.start_run(name, scheduled_for, started_at).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::error!(job = %name, "cannot record the start of job {name}: {e}");
            None
        }
    };
    let result = AssertUnwindSafe(shared.executor.run(&state.config, scheduled_for))
        .catch_unwind()
        .await;
    let outcome = match result {
        Ok(Ok(())) => JobOutcome::Ok,
        Ok(Err(e)) => JobOutcome::Failed(format!("{e:#}")),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            JobOutcome::Failed(format!("the job panicked: {what}"))
        }
    };
    let finished_at = shared.clock.now();
    match &outcome {
        JobOutcome::Ok => tracing::info!(
            job = %name,
            %scheduled_for,
            duration_ms = (finished_at - started_at).num_milliseconds(),
            "job {name} finished"
        ),
        JobOutcome::Failed(e) => {
            state.stats().failures += 1;
            tracing::error!(job = %name, %scheduled_for, "job {name} failed: {e}");
        }
    }
    if let Some(id) = id {
        if let Err(e) = shared.log.finish_run(id, finished_at, &outcome).await {
            tracing::error!(job = %name, "cannot record the end of job {name}: {e}");
        }
    }
}
