//! The scheduler: next times across the DST changes of Europe/Berlin and America/New_York
//! (explicit UTC instants), making up missed runs within grace, the no-overlap guard, the job
//! history surviving a reopened SQLite file, the runner end to end on a shifted clock, and
//! `[jobs.NAME]` config errors pinned by a snapshot.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use cs_pulse::config::{Config, JobConfig, JobKind};
use cs_pulse::scheduler::{
    catch_up, CatchUp, Clock, JobExecutor, OverlapGuard, Schedule, Scheduler,
};
use cs_pulse::store::{JobLog, JobOutcome, SqliteStore};

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The first `n` times strictly after `from`.
fn times(cron: &str, tz: Tz, from: &str, n: usize) -> Vec<String> {
    let s = Schedule::new(cron, tz).unwrap();
    let mut t = utc(from);
    let mut out = Vec::new();
    for _ in 0..n {
        t = s.next_after(t).unwrap();
        out.push(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Next times across DST

#[test]
fn berlin_daily_0230_runs_once_after_the_spring_gap() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; 02:30 does not exist and runs at
    // the first instant after the gap.
    assert_eq!(
        times(
            "0 30 2 * * *",
            Tz::Europe__Berlin,
            "2026-03-27T12:00:00Z",
            3
        ),
        [
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:00:00Z", // 03:00 CEST
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ]
    );
}

#[test]
fn berlin_daily_0230_runs_once_in_the_repeated_autumn_hour() {
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC; 02:30 happens at 00:30 and
    // 01:30 UTC and runs at the first only.
    assert_eq!(
        times(
            "0 30 2 * * *",
            Tz::Europe__Berlin,
            "2026-10-23T12:00:00Z",
            3
        ),
        [
            "2026-10-24T00:30:00Z", // 02:30 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST, the first of the two
            "2026-10-26T01:30:00Z", // 02:30 CET
        ]
    );
    let s = Schedule::new("0 30 2 * * *", Tz::Europe__Berlin).unwrap();
    // From inside the second pass, the repeated 02:30 is not run again.
    assert_eq!(
        s.next_after(utc("2026-10-25T01:00:00Z")),
        Some(utc("2026-10-26T01:30:00Z"))
    );
    assert_eq!(
        s.last_due_at_or_before(utc("2026-10-25T01:45:00Z")),
        Some(utc("2026-10-25T00:30:00Z"))
    );
    assert_eq!(
        s.last_due_at_or_before(utc("2026-03-29T01:00:00Z")),
        Some(utc("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        s.last_due_at_or_before(utc("2026-03-29T00:59:59Z")),
        Some(utc("2026-03-28T01:30:00Z"))
    );
}

#[test]
fn berlin_weekly_scorecard_keeps_local_time() {
    assert_eq!(
        times(
            "0 0 8 * * Mon",
            Tz::Europe__Berlin,
            "2026-03-20T00:00:00Z",
            2
        ),
        ["2026-03-23T07:00:00Z", "2026-03-30T06:00:00Z"]
    );
    // Five fields: no seconds.
    assert_eq!(
        times("0 8 * * Mon", Tz::Europe__Berlin, "2026-10-20T00:00:00Z", 2),
        ["2026-10-26T07:00:00Z", "2026-11-02T07:00:00Z"]
    );
}

#[test]
fn berlin_interval_job_follows_elapsed_time() {
    // Every 30 minutes: the times of the gap do not exist, the repeated hour runs twice.
    assert_eq!(
        times(
            "0 */30 * * * *",
            Tz::Europe__Berlin,
            "2026-03-29T00:00:00Z",
            3
        ),
        [
            "2026-03-29T00:30:00Z", // 01:30 CET
            "2026-03-29T01:00:00Z", // 03:00 CEST
            "2026-03-29T01:30:00Z", // 03:30 CEST
        ]
    );
    assert_eq!(
        times(
            "0 */30 * * * *",
            Tz::Europe__Berlin,
            "2026-10-24T23:45:00Z",
            6
        ),
        [
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET
            "2026-10-25T01:30:00Z", // 02:30 CET
            "2026-10-25T02:00:00Z", // 03:00 CET
            "2026-10-25T02:30:00Z",
        ]
    );
    let s = Schedule::new("0 */30 * * * *", Tz::Europe__Berlin).unwrap();
    assert_eq!(
        s.next_after(utc("2026-10-25T00:45:00Z")),
        Some(utc("2026-10-25T01:00:00Z"))
    );
    assert_eq!(
        s.last_due_at_or_before(utc("2026-10-25T01:10:00Z")),
        Some(utc("2026-10-25T01:00:00Z"))
    );
    assert_eq!(
        s.last_due_at_or_before(utc("2026-10-25T00:59:59Z")),
        Some(utc("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn new_york_spring_and_autumn() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00 UTC.
    assert_eq!(
        times(
            "0 30 2 * * *",
            Tz::America__New_York,
            "2026-03-06T12:00:00Z",
            3
        ),
        [
            "2026-03-07T07:30:00Z", // 02:30 EST
            "2026-03-08T07:00:00Z", // 03:00 EDT
            "2026-03-09T06:30:00Z", // 02:30 EDT
        ]
    );
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST at 06:00 UTC; 02:30 is not repeated there,
    // 01:30 is.
    assert_eq!(
        times(
            "0 30 2 * * *",
            Tz::America__New_York,
            "2026-10-30T12:00:00Z",
            3
        ),
        [
            "2026-10-31T06:30:00Z", // 02:30 EDT
            "2026-11-01T07:30:00Z", // 02:30 EST
            "2026-11-02T07:30:00Z",
        ]
    );
    assert_eq!(
        times(
            "0 30 1 * * *",
            Tz::America__New_York,
            "2026-10-30T12:00:00Z",
            3
        ),
        [
            "2026-10-31T05:30:00Z", // 01:30 EDT
            "2026-11-01T05:30:00Z", // 01:30 EDT, the first of the two
            "2026-11-02T06:30:00Z", // 01:30 EST
        ]
    );
    // Hourly: every real hour, the repeated one included.
    assert_eq!(
        times(
            "0 0 * * * *",
            Tz::America__New_York,
            "2026-11-01T04:30:00Z",
            3
        ),
        [
            "2026-11-01T05:00:00Z", // 01:00 EDT
            "2026-11-01T06:00:00Z", // 01:00 EST
            "2026-11-01T07:00:00Z", // 02:00 EST
        ]
    );
    // Hourly in spring: 02:00 does not exist, the hour after 01:00 EST is 03:00 EDT.
    assert_eq!(
        times(
            "0 0 * * * *",
            Tz::America__New_York,
            "2026-03-08T05:30:00Z",
            3
        ),
        [
            "2026-03-08T06:00:00Z", // 01:00 EST
            "2026-03-08T07:00:00Z", // 03:00 EDT
            "2026-03-08T08:00:00Z", // 04:00 EDT
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Catch-up

fn daily_8am_berlin() -> Schedule {
    Schedule::new("0 0 8 * * *", Tz::Europe__Berlin).unwrap()
}

#[test]
fn a_missed_run_within_grace_runs_once() {
    let s = daily_8am_berlin();
    assert_eq!(
        catch_up(
            &s,
            Some(utc("2026-01-05T07:00:00Z")),
            utc("2026-01-06T09:00:00Z"),
            Duration::hours(6)
        ),
        CatchUp::Run {
            scheduled_for: utc("2026-01-06T07:00:00Z"),
            first_missed: utc("2026-01-06T07:00:00Z"),
        }
    );
}

#[test]
fn a_missed_run_beyond_grace_is_skipped() {
    let s = daily_8am_berlin();
    assert_eq!(
        catch_up(
            &s,
            Some(utc("2026-01-05T07:00:00Z")),
            utc("2026-01-06T14:00:00Z"),
            Duration::hours(6)
        ),
        CatchUp::TooLate {
            scheduled_for: utc("2026-01-06T07:00:00Z"),
            late_by: Duration::hours(7),
        }
    );
}

#[test]
fn several_missed_runs_run_once_for_the_latest() {
    let s = daily_8am_berlin();
    assert_eq!(
        catch_up(
            &s,
            Some(utc("2026-01-02T07:00:00Z")),
            utc("2026-01-06T08:00:00Z"),
            Duration::hours(6)
        ),
        CatchUp::Run {
            scheduled_for: utc("2026-01-06T07:00:00Z"),
            first_missed: utc("2026-01-03T07:00:00Z"),
        }
    );
}

#[test]
fn nothing_missed_or_never_run() {
    let s = daily_8am_berlin();
    let now = utc("2026-01-06T09:00:00Z");
    assert_eq!(
        catch_up(
            &s,
            Some(utc("2026-01-06T07:00:00Z")),
            now,
            Duration::hours(6)
        ),
        CatchUp::UpToDate
    );
    assert_eq!(
        catch_up(&s, None, now, Duration::hours(6)),
        CatchUp::NeverRun
    );
}

// ---------------------------------------------------------------------------------------------
// The no-overlap guard

#[test]
fn the_guard_admits_one_run_at_a_time() {
    let guard = OverlapGuard::new();
    let first = guard.try_start().expect("free at first");
    assert!(guard.is_running());
    assert!(
        guard.try_start().is_none(),
        "a second run while the first goes"
    );
    assert!(
        guard.clone().try_start().is_none(),
        "clones share the guard"
    );
    drop(first);
    assert!(!guard.is_running());
    let again = guard.try_start();
    assert!(again.is_some(), "free again once the run ended");
}

#[test]
fn the_guard_is_freed_by_a_panicking_run() {
    let guard = OverlapGuard::new();
    let g = guard.clone();
    let r = std::panic::catch_unwind(move || {
        let _permit = g.try_start().unwrap();
        panic!("the job failed badly");
    });
    assert!(r.is_err());
    assert!(guard.try_start().is_some());
}

// ---------------------------------------------------------------------------------------------
// The job history

#[tokio::test]
async fn job_runs_survive_a_reopened_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pulse.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let a = store
            .start_run(
                "sync",
                utc("2026-01-05T07:00:00Z"),
                utc("2026-01-05T07:00:01Z"),
            )
            .await
            .unwrap();
        store
            .finish_run(a, utc("2026-01-05T07:00:09Z"), &JobOutcome::Ok)
            .await
            .unwrap();
        let b = store
            .start_run(
                "sync",
                utc("2026-01-06T07:00:00Z"),
                utc("2026-01-06T07:00:02Z"),
            )
            .await
            .unwrap();
        store
            .finish_run(
                b,
                utc("2026-01-06T07:00:03Z"),
                &JobOutcome::Failed("crm: HTTP 503".into()),
            )
            .await
            .unwrap();
        // Finishing twice is refused.
        assert!(store
            .finish_run(b, utc("2026-01-06T07:00:04Z"), &JobOutcome::Ok)
            .await
            .is_err());
        // Cut short by a crash: never finished.
        store
            .start_run(
                "sync",
                utc("2026-01-07T07:00:00Z"),
                utc("2026-01-07T07:00:00Z"),
            )
            .await
            .unwrap();
        let c = store
            .start_run(
                "scorecard",
                utc("2026-01-05T07:00:00Z"),
                utc("2026-01-05T07:00:00.250Z"),
            )
            .await
            .unwrap();
        store
            .finish_run(c, utc("2026-01-05T07:00:05Z"), &JobOutcome::Ok)
            .await
            .unwrap();
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let last = store.last_runs().await.unwrap();
    assert_eq!(last.len(), 2);
    let sync = &last["sync"];
    assert_eq!(sync.scheduled_for, utc("2026-01-06T07:00:00Z"));
    assert_eq!(sync.lag(), Duration::seconds(2));
    assert_eq!(
        sync.finished,
        Some((
            utc("2026-01-06T07:00:03Z"),
            JobOutcome::Failed("crm: HTTP 503".into())
        ))
    );
    assert_eq!(last["scorecard"].lag(), Duration::milliseconds(250));
    let runs = store.job_runs(Some("sync"), 10).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].scheduled_for, utc("2026-01-07T07:00:00Z"));
    assert_eq!(runs[0].finished, None);
    assert_eq!(store.job_runs(None, 2).await.unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// The runner

/// The system clock shifted so that the test starts at a chosen instant.
struct ShiftedClock(Duration);

impl ShiftedClock {
    fn starting_at(t: &str) -> Arc<ShiftedClock> {
        Arc::new(ShiftedClock(utc(t) - Utc::now()))
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

/// Records the runs it is asked for; each takes `delay`; counts how many run at once.
#[derive(Default)]
struct Recorder {
    delay: std::time::Duration,
    running: AtomicUsize,
    max_running: AtomicUsize,
    finished: AtomicUsize,
    runs: Mutex<Vec<(String, DateTime<Utc>)>>,
}

#[async_trait]
impl JobExecutor for Recorder {
    async fn run(&self, job: &JobConfig, scheduled_for: DateTime<Utc>) -> anyhow::Result<()> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        self.runs
            .lock()
            .unwrap()
            .push((job.name.clone(), scheduled_for));
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.finished.fetch_add(1, Ordering::SeqCst);
        if job.name == "failing" {
            anyhow::bail!("the CRM answered 503");
        }
        Ok(())
    }
}

fn job(name: &str, cron: &str, tz: Tz, grace: Duration) -> JobConfig {
    JobConfig {
        name: name.into(),
        kind: JobKind::Evaluate,
        schedule: Schedule::new(cron, tz).unwrap(),
        grace,
    }
}

#[tokio::test]
async fn a_slow_job_never_overlaps_itself_and_shutdown_waits_for_it() {
    // Start 0.1 s after a whole second: the every-second job fires at +0.9 s, its run lasts
    // 1.3 s, so the time at +1.9 s is skipped; shutdown at +2.0 s waits for the run to end.
    let now = Utc::now();
    let to_next_second = 1_000 - i64::from(now.timestamp_subsec_millis());
    tokio::time::sleep(std::time::Duration::from_millis(
        (to_next_second + 100) as u64,
    ))
    .await;
    let recorder = Arc::new(Recorder {
        delay: std::time::Duration::from_millis(1300),
        ..Recorder::default()
    });
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let jobs = [job(
        "every-second",
        "* * * * * *",
        Tz::UTC,
        Duration::zero(),
    )];
    let scheduler = Scheduler::start(&jobs, recorder.clone(), store.clone())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1900)).await;
    let stats = scheduler.stats();
    assert!(stats[0].1.running, "{stats:?}");
    assert_eq!(stats[0].1.runs, 1, "{stats:?}");
    assert!(stats[0].1.skipped_overlap >= 1, "{stats:?}");
    assert!(stats[0].1.last_lag.unwrap() < Duration::milliseconds(800));
    scheduler.shutdown().await;
    assert_eq!(recorder.max_running.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.finished.load(Ordering::SeqCst), 1);
    let runs = store.job_runs(None, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].finished.as_ref().map(|f| &f.1),
        Some(&JobOutcome::Ok)
    );
    assert_eq!(runs[0].scheduled_for, recorder.runs.lock().unwrap()[0].1);
}

#[tokio::test]
async fn the_runner_fires_at_the_spring_gap() {
    // 1.5 s before 03:00 CEST on the day 02:30 does not exist in Berlin.
    let clock = ShiftedClock::starting_at("2026-03-29T00:59:58.500Z");
    let recorder = Arc::new(Recorder::default());
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let jobs = [job(
        "nightly",
        "0 30 2 * * *",
        Tz::Europe__Berlin,
        Duration::hours(1),
    )];
    let scheduler = Scheduler::start_with_clock(&jobs, recorder.clone(), store.clone(), clock)
        .await
        .unwrap();
    assert_eq!(
        scheduler.stats()[0].1.next_run,
        Some(utc("2026-03-29T01:00:00Z"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    scheduler.shutdown().await;
    assert_eq!(
        *recorder.runs.lock().unwrap(),
        [("nightly".to_string(), utc("2026-03-29T01:00:00Z"))]
    );
}

#[tokio::test]
async fn the_runner_makes_up_a_missed_run_once_and_records_failures() {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    for name in ["sync", "failing", "late"] {
        let id = store
            .start_run(
                name,
                utc("2026-01-02T07:00:00Z"),
                utc("2026-01-02T07:00:00Z"),
            )
            .await
            .unwrap();
        store
            .finish_run(id, utc("2026-01-02T07:00:01Z"), &JobOutcome::Ok)
            .await
            .unwrap();
    }
    // Down since the 2nd; it is now 10:00 CET on the 6th.
    let clock = ShiftedClock::starting_at("2026-01-06T09:00:00Z");
    let recorder = Arc::new(Recorder::default());
    let jobs = [
        job(
            "sync",
            "0 0 8 * * *",
            Tz::Europe__Berlin,
            Duration::hours(6),
        ),
        job(
            "failing",
            "0 0 8 * * *",
            Tz::Europe__Berlin,
            Duration::hours(6),
        ),
        job(
            "late",
            "0 0 8 * * *",
            Tz::Europe__Berlin,
            Duration::hours(1),
        ),
        job("new", "0 0 8 * * *", Tz::Europe__Berlin, Duration::hours(6)),
    ];
    let scheduler = Scheduler::start_with_clock(&jobs, recorder.clone(), store.clone(), clock)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stats = scheduler.stats();
    scheduler.shutdown().await;
    let mut runs = recorder.runs.lock().unwrap().clone();
    runs.sort();
    assert_eq!(
        runs,
        [
            ("failing".to_string(), utc("2026-01-06T07:00:00Z")),
            ("sync".to_string(), utc("2026-01-06T07:00:00Z")),
        ]
    );
    assert_eq!(stats[2].1.skipped_late, 1);
    assert_eq!(stats[1].1.failures, 1);
    let lag = stats[0].1.last_lag.unwrap();
    assert!(lag >= Duration::hours(2) && lag < Duration::hours(2) + Duration::seconds(5));
    let last = store.last_runs().await.unwrap();
    assert_eq!(last["sync"].scheduled_for, utc("2026-01-06T07:00:00Z"));
    assert_eq!(
        last["failing"].finished.as_ref().map(|f| f.1.clone()),
        Some(JobOutcome::Failed("the CRM answered 503".into()))
    );
    assert_eq!(last["late"].scheduled_for, utc("2026-01-02T07:00:00Z"));
    assert!(!last.contains_key("new"));
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn jobs_config_with_defaults() {
    let src = r#"
timezone = "Europe/Berlin"

[sources.crm]
kind = "demo"

[jobs.hourly-sync]
kind = "sync"
cron = "0 0 * * * *"
sources = ["crm"]

[jobs.evaluate]
kind = "evaluate"
cron = "0 5 * * * *"
timezone = "America/New_York"
grace = "30m"

[jobs.weekly-scorecard]
kind = "scorecard"
cron = "0 8 * * Mon"
scorecard = "leadership"
"#;
    let c = Config::parse(src, Path::new("cs-pulse.toml"), Path::new("")).unwrap();
    let names: Vec<_> = c.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["hourly-sync", "evaluate", "weekly-scorecard"]);
    assert_eq!(
        c.jobs[0].kind,
        JobKind::Sync {
            sources: Some(vec!["crm".into()])
        }
    );
    assert_eq!(c.jobs[0].schedule.timezone(), Tz::Europe__Berlin);
    assert_eq!(c.jobs[0].grace, Duration::hours(1));
    assert_eq!(c.jobs[1].schedule.timezone(), Tz::America__New_York);
    assert_eq!(c.jobs[1].grace, Duration::minutes(30));
    assert_eq!(
        c.jobs[2].kind,
        JobKind::Scorecard {
            scorecard: Some("leadership".into())
        }
    );
    assert_eq!(c.jobs[2].grace, Duration::days(7));
    assert_eq!(c.jobs[2].schedule.expr(), "0 8 * * Mon");
    assert!(Config::parse("", Path::new("c.toml"), Path::new(""))
        .unwrap()
        .jobs
        .is_empty());
}

fn errors(src: &str) -> String {
    match Config::parse(src, Path::new("cs-pulse.toml"), Path::new("")) {
        Ok(c) => panic!("should not validate: {:?}", c.jobs),
        Err(d) => d.to_string(),
    }
}

#[test]
fn job_errors_at_once() {
    insta::assert_snapshot!(errors(
        r#"timezone = "Europe/Berlin"

[sources.crm]
kind = "demo"

[jobs.bad-cron]
kind = "sync"
cron = "0 0 25 * * *"

[jobs.six-words]
kind = "sync"
cron = "every monday at 8"

[jobs.bad-timezone]
kind = "evaluate"
cron = "0 0 8 * * Mon"
timezone = "Europe/Berln"

[jobs.bad-kind]
kind = "scorcard"
cron = "0 0 8 * * Mon"

[jobs.misplaced]
kind = "sync"
cron = "0 0 * * * *"
scorecard = "leadership"
sources = ["crn"]

[jobs.no-cron]
kind = "scorecard"
grace = "2 months"

[jobs.never]
kind = "evaluate"
cron = "0 0 0 30 2 *"
"#
    ));
}

#[test]
fn unknown_job_key() {
    insta::assert_snapshot!(errors(
        "[jobs.nightly]\nkind = \"sync\"\nschedule = \"0 0 2 * * *\"\n"
    ));
}
