//! End-to-end tests of `cs-pulse run`, the long-running service, driven as a user (or systemd)
//! drives it: the real binary in a temporary workspace with a demo source, the `console`
//! channel and `[jobs]` firing every second, stopped with SIGTERM or SIGINT and started again.
//!
//! What they hold the service to (DESIGN.md, "Promises to users"): a scorecard is posted exactly
//! once per period whatever restarts happen; alerts already sent are never sent again after a
//! restart; a stop signal ends the service gracefully (exit 0, "stopped"), even one arriving
//! right after the start banner; a channel whose secret is not set stops the start with an error
//! naming the channel and the variable, and no secret value is ever printed.
//!
//! No fixed sleeps: the tests poll the service's output against generous deadlines and finish
//! as soon as what they wait for appears.
#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use common::cli::{cs_pulse, stdout_of};
use common::service::{slack_post, Service, Stopped, RUNNING};
use cs_pulse::notify::outbox::{OutboxRow, Status};
use cs_pulse::store::{JobLog, JobOutcome, JobRun, OutboxStore, SqliteStore};

/// The headline of the leadership scorecard on the console.
const LEADERSHIP: &str = "📊 Weekly scorecard — Leadership ·";

/// The config of every test: the demo source (generated relative to today, so that today's
/// rules have something to fire on), the shipped rules and health model, the default `console`
/// channel, the store in the workspace, and `extra` (`[jobs]`, `[channels]`).
fn config(extra: &str) -> String {
    let repo = env!("CARGO_MANIFEST_DIR");
    format!(
        r#"timezone = "UTC"
reporting_currency = "USD"
[fx]
EUR = 1.08
[metrics]
features_available = 12
[rules]
paths = ["{repo}/rules"]
[health]
model = "{repo}/rules/health.toml"
[data_quality]
enabled = false
[sources.sample]
kind = "demo"
accounts = 120
seed = 3
{extra}"#
    )
}

/// A workspace with `config(extra)` as its config.toml; synced first when `sync`.
fn workspace(extra: &str, sync: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), config(extra)).expect("write config");
    if sync {
        let out = stdout_of(cs_pulse().current_dir(dir.path()).arg("sync"));
        assert!(out.starts_with("sample: "), "{out}");
    }
    dir
}

/// Exit code 0 after the stop message for `signal` and "stopped".
fn assert_graceful(stopped: &Stopped, signal: &str) {
    assert_eq!(
        stopped.status.code(),
        Some(0),
        "{}\nstdout:\n{}\nstderr:\n{}",
        stopped.status,
        stopped.stdout,
        stopped.stderr
    );
    assert!(
        stopped.stdout.contains(&format!(
            "{signal}: stopping (waiting for running jobs and sends)"
        )),
        "{}",
        stopped.stdout
    );
    assert_eq!(
        stopped.stdout.lines().last(),
        Some("stopped"),
        "{}",
        stopped.stdout
    );
}

/// How many lines of the log say that `job` finished a run.
fn finished_runs(stderr: &str, job: &str) -> usize {
    stderr.matches(&format!("job {job} finished")).count()
}

/// The store's outbox rows and the runs of `job`, read after the services have stopped.
fn store_contents(dir: &Path, job: &str) -> (Vec<OutboxRow>, Vec<JobRun>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(&dir.join("cs-pulse.db"))
            .await
            .expect("open the store");
        let rows = store.outbox_rows(&[]).await.expect("outbox rows");
        let runs = store.job_runs(Some(job), 10_000).await.expect("job runs");
        store.close().await;
        (rows, runs)
    })
}

/// The job ran, and every run ended well, both before `restart` (in the first process) and
/// after it (in the second).
fn assert_ran_in_both_processes(runs: &[JobRun], restart: DateTime<Utc>) {
    let before = runs.iter().filter(|r| r.started_at < restart).count();
    let after = runs.iter().filter(|r| r.started_at > restart).count();
    assert!(before >= 1 && after >= 1, "{runs:#?}");
    for run in runs {
        assert!(
            matches!(run.finished, Some((_, JobOutcome::Ok))),
            "every run finished without error: {run:#?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_scorecard_is_posted_exactly_once_across_a_restart() {
    let ws = workspace(
        r#"
[jobs.sync]
kind = "sync"
cron = "*/2 * * * * *"

[jobs.weekly]
kind = "scorecard"
scorecard = "leadership"
cron = "* * * * * *"
"#,
        true,
    );
    // The first process posts the scorecard at the job's first time, then runs it again every
    // second (each time finding it already in the outbox) until it is stopped.
    let mut first = Service::start(ws.path());
    assert!(first.stdout().contains("job weekly"), "{}", first.stdout());
    first.wait_for("the scorecard", |out, _| out.contains(LEADERSHIP));
    first.wait_for("a second run of the job", |_, err| {
        finished_runs(err, "weekly") >= 2
    });
    let first = first.stop_with(libc::SIGTERM);
    assert_graceful(&first, "SIGTERM");
    let restart = Utc::now();

    // The restarted process makes up the run it missed and runs every second: nothing is posted.
    let mut second = Service::start(ws.path());
    second.wait_for("two runs of the job after the restart", |_, err| {
        finished_runs(err, "weekly") >= 2
    });
    let second = second.stop_with(libc::SIGTERM);
    assert_graceful(&second, "SIGTERM");

    assert_eq!(
        first.stdout.matches(LEADERSHIP).count(),
        1,
        "{}",
        first.stdout
    );
    assert_eq!(
        second.stdout.matches(LEADERSHIP).count(),
        0,
        "{}",
        second.stdout
    );
    assert!(
        first.stdout.contains("\n  KPIs\n") && first.stdout.contains("NRR"),
        "the whole scorecard is printed: {}",
        first.stdout
    );

    let (rows, runs) = store_contents(ws.path(), "weekly");
    let cards: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| r.dedup.starts_with("scorecard|leadership-"))
        .collect();
    assert_eq!(cards.len(), 1, "{rows:#?}");
    let card = cards[0];
    assert_eq!(card.channel, "console");
    assert!(card.dedup.ends_with("|console"), "{}", card.dedup);
    assert_eq!(card.status, Status::Sent);
    assert!(card.sent_at.is_some());
    assert_eq!(card.attempts, 1, "sent at the first attempt");
    assert!(
        card.message.title.starts_with(LEADERSHIP),
        "{}",
        card.message.title
    );
    assert_eq!(rows.len(), 1, "nothing else was queued: {rows:#?}");
    assert_ran_in_both_processes(&runs, restart);
}

#[test]
fn a_stop_signal_ends_an_idle_service_gracefully() {
    // A job far away: the service only waits.
    let ws = workspace(
        r#"
[jobs.new-year]
kind = "evaluate"
cron = "0 0 0 1 1 *"
"#,
        false,
    );
    // Several times each, the signal sent the moment the banner appears: a signal is never
    // missed (or fatal) however early it comes.
    for round in 0..5 {
        for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
            let service = Service::start(ws.path());
            let stopped = service.stop_with(signal);
            assert_graceful(&stopped, name);
            assert!(
                stopped.took < Duration::from_secs(3),
                "round {round}: {name} took {:?} to stop",
                stopped.took
            );
            assert!(
                stopped.stdout.contains("job new-year"),
                "{}",
                stopped.stdout
            );
        }
    }
}

#[test]
fn a_channel_without_its_secret_stops_the_start_and_no_secret_is_shown() {
    let ws = workspace(
        r#"
[channels.console]
kind = "console"

[channels.leads]
kind = "discord_webhook"
url = "${CSP_TEST_LEADS_WEBHOOK}"

[channels.revops]
kind = "slack"
token = "${CSP_TEST_SLACK_TOKEN}"
channel = "C0123456789"

[channels.ops]
kind = "webhook"
url = "https://hooks.example.com/cs-pulse"
signing_secret = "${CSP_TEST_SIGNING_SECRET}"

[jobs.eval]
kind = "evaluate"
cron = "* * * * * *"
"#,
        false,
    );
    let stopped = Service::spawn(ws.path(), |cmd| {
        cmd.env(
            "CSP_TEST_LEADS_WEBHOOK",
            "https://discord.com/api/webhooks/1/sekrit-123",
        )
        .env("CSP_TEST_SIGNING_SECRET", "sekrit-456")
        .env_remove("CSP_TEST_SLACK_TOKEN")
        .env("CS_PULSE_LOG", "debug");
    })
    .wait_exit();
    let Stopped {
        status,
        stdout: out,
        stderr: err,
        ..
    } = stopped;
    assert_eq!(
        status.code(),
        Some(1),
        "{status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(!out.contains(RUNNING), "{out}");
    assert!(
        err.contains("channel `revops`") && err.contains("CSP_TEST_SLACK_TOKEN"),
        "the error names the channel and the variable: {err}"
    );
    assert!(
        !err.contains("channel `leads`") && !err.contains("channel `ops`"),
        "only the channel without its secret is named: {err}"
    );
    for secret in ["sekrit-123", "sekrit-456"] {
        assert!(!out.contains(secret), "{secret} in stdout: {out}");
        assert!(!err.contains(secret), "{secret} in stderr: {err}");
    }
}

/// The messages `cs-pulse eval --dry-run` shows, as (title, rule id).
fn dry_run_messages(dir: &Path) -> Vec<(String, String)> {
    let dry = stdout_of(cs_pulse().current_dir(dir).args(["eval", "--dry-run"]));
    dry.split("→ console\n")
        .skip(1)
        .map(|message| {
            let title = message.lines().next().unwrap_or_default().to_string();
            let rule = rule_of(message).unwrap_or_else(|| panic!("no rule footer: {message}"));
            (title, rule)
        })
        .collect()
}

/// The rule id in an alert's footer, `  rule health-drop · data as of 2026-11-22`.
fn rule_of(message: &str) -> Option<String> {
    message.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix("rule ")?;
        Some(rest.split(" · ").next().unwrap_or(rest).to_string())
    })
}

/// How many alert messages of each rule the console printed.
fn alerts_per_rule(stdout: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("  rule ") {
            let rule = rest.split(" · ").next().unwrap_or(rest).to_string();
            *counts.entry(rule).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn alerts_are_sent_once_and_not_again_after_a_restart() {
    let ws = workspace(
        r#"
[jobs.eval]
kind = "evaluate"
cron = "* * * * * *"
"#,
        true,
    );
    // What fires on the demo data as of today (the data is generated relative to today).
    let expected = dry_run_messages(ws.path());
    assert!(
        !expected.is_empty(),
        "the demo data fires some rule as of today"
    );

    let mut first = Service::start(ws.path());
    first.wait_for("every alert of the dry run", |out, _| {
        expected
            .iter()
            .all(|(title, _)| out.contains(title.as_str()))
    });
    first.wait_for("a second evaluation", |_, err| {
        finished_runs(err, "eval") >= 2
    });
    let first = first.stop_with(libc::SIGTERM);
    assert_graceful(&first, "SIGTERM");
    let restart = Utc::now();

    let mut second = Service::start(ws.path());
    second.wait_for("two evaluations after the restart", |_, err| {
        finished_runs(err, "eval") >= 2
    });
    let second = second.stop_with(libc::SIGTERM);
    assert_graceful(&second, "SIGTERM");

    // Each message of the dry run printed once, by the first process; none by the second.
    for (title, rule) in &expected {
        assert_eq!(
            first.stdout.matches(title.as_str()).count(),
            1,
            "{title}\n{}",
            first.stdout
        );
        assert!(
            !second.stdout.contains(title.as_str()),
            "{rule} sent again after the restart:\n{}",
            second.stdout
        );
    }
    let mut printed = alerts_per_rule(&first.stdout);
    for (rule, n) in alerts_per_rule(&second.stdout) {
        *printed.entry(rule).or_insert(0) += n;
    }
    let wanted: BTreeMap<String, usize> = expected.iter().map(|(_, r)| (r.clone(), 1)).collect();
    assert_eq!(
        printed, wanted,
        "one message per firing rule, across both runs"
    );

    let (rows, runs) = store_contents(ws.path(), "eval");
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    let dedups: HashSet<&str> = rows.iter().map(|r| r.dedup.as_str()).collect();
    assert_eq!(
        dedups.len(),
        rows.len(),
        "each alert stored once: {rows:#?}"
    );
    for row in &rows {
        assert_eq!(row.channel, "console");
        assert_eq!(row.status, Status::Sent, "{row:#?}");
        assert_eq!(row.attempts, 1, "{row:#?}");
    }
    assert_ran_in_both_processes(&runs, restart);
}

#[test]
fn run_answers_signed_slack_commands_and_refuses_unsigned_ones() {
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let ws = workspace(
        "[server]\nlisten = \"127.0.0.1:0\"\n[chat.slack]\nsigning_secret = \"${CS_TEST_SLACK_SECRET}\"\n",
        true,
    );
    let service = Service::started(ws.path(), |cmd| {
        cmd.env("CS_TEST_SLACK_SECRET", secret);
    });
    let addr = service
        .addresses()
        .into_iter()
        .next()
        .expect("the listening address is printed");

    let form = "token=x&team_id=T1&channel_id=C1&user_id=U1&user_name=lea&command=%2Fcs&text=help+ack&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fnever&trigger_id=1";
    let (status, body) = slack_post(&addr, form, secret);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(json["response_type"], "ephemeral", "{json:#}");
    assert!(
        json.to_string().contains("/cs ack health-red:acme"),
        "the help of /ack, written for Slack: {json:#}"
    );

    let (status, _) = slack_post(&addr, form, "not-the-secret");
    assert_eq!(status, 401);

    let stopped = service.stop_with(libc::SIGTERM);
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(stopped.stdout.contains("stopped"));
    assert!(
        !stopped.stdout.contains(secret) && !stopped.stderr.contains(secret),
        "the signing secret never appears in the output"
    );
}
