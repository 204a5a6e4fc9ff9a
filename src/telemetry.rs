//! What `cs-pulse run` counts for its `/metrics` page (Prometheus text format): the metric
//! names, one place each, and small functions that record them where things happen (a sync
//! ends, an evaluation runs, a delivery pass settles messages, a job starts late).
//!
//! Why a module of its own: the recording calls sit in sync, the scheduler and the service
//! jobs, and they must agree on names and labels; an operator's dashboards and alerts are
//! written against these names, so they are constants, documented here and in the README.
//!
//! Recording goes through the `metrics` facade: until a recorder is installed every call is a
//! no-op, so `cs-pulse sync` and the tests that call the same code record nothing. Only
//! `cs-pulse run` installs the Prometheus recorder ([`install`]); `/metrics` renders its handle.
//! Labels are names from the configuration (sources, rules, channels, jobs), so the number of
//! series stays bounded.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Sync runs per source and outcome (`ok`, `failed`).
pub const SYNC_RUNS: &str = "cs_pulse_sync_runs_total";
/// How long a sync of a source took (histogram, seconds), from the run's recorded times.
pub const SYNC_DURATION: &str = "cs_pulse_sync_duration_seconds";
/// The records the last good sync of a source stored.
pub const SYNC_ROWS: &str = "cs_pulse_sync_rows";
/// Rule evaluations: each rule evaluated once by an `evaluate` job counts one.
pub const RULE_EVALUATIONS: &str = "cs_pulse_rule_evaluations_total";
/// Alerts per rule and state (`pending`, `firing`) after the last evaluation.
pub const ALERTS: &str = "cs_pulse_alerts";
/// Messages per channel and outcome (`sent`, `retried`, `failed`): sends that succeeded
/// (edits included), failed attempts that will be retried, and messages given up on.
pub const MESSAGES: &str = "cs_pulse_messages_total";
/// Messages waiting in the outbox after the last delivery pass.
pub const OUTBOX_DEPTH: &str = "cs_pulse_outbox_depth";
/// How late the last run of a job started after its scheduled time (seconds).
pub const SCHEDULER_LAG: &str = "cs_pulse_scheduler_lag_seconds";

/// Bucket bounds (seconds) of [`SYNC_DURATION`]: from a small file to a long API sync.
const SYNC_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder for this process (the first call; later calls return the
/// same handle) and returns the handle that renders `/metrics`. `None` when another recorder
/// was installed first: metrics then go there and `/metrics` is not served.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(SYNC_DURATION.to_string()), &SYNC_BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            ::metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

/// The `# HELP` lines.
fn describe() {
    describe_counter!(SYNC_RUNS, "Sync runs per source and outcome (ok, failed).");
    describe_histogram!(
        SYNC_DURATION,
        "How long a sync of a source took, in seconds."
    );
    describe_gauge!(
        SYNC_ROWS,
        "Records stored by the last good sync of a source."
    );
    describe_counter!(
        RULE_EVALUATIONS,
        "Rule evaluations (one per rule per evaluate job)."
    );
    describe_gauge!(
        ALERTS,
        "Alerts per rule and state (pending, firing) after the last evaluation."
    );
    describe_counter!(
        MESSAGES,
        "Messages per channel and outcome (sent, retried, failed)."
    );
    describe_gauge!(
        OUTBOX_DEPTH,
        "Messages waiting in the outbox after the last delivery pass."
    );
    describe_gauge!(
        SCHEDULER_LAG,
        "How late the last run of a job started, in seconds."
    );
}

/// Seconds of a duration, with millisecond precision.
fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// A sync of `source` ended: `ok` or not, how long it took (when its run was recorded), and the
/// records it stored (a good sync only).
pub fn record_sync(source: &str, ok: bool, took: Option<chrono::Duration>, rows: Option<u64>) {
    let outcome = if ok { "ok" } else { "failed" };
    counter!(SYNC_RUNS, "source" => source.to_string(), "outcome" => outcome).increment(1);
    if let Some(took) = took {
        histogram!(SYNC_DURATION, "source" => source.to_string()).record(seconds(took).max(0.0));
    }
    if let Some(rows) = rows {
        gauge!(SYNC_ROWS, "source" => source.to_string()).set(rows as f64);
    }
}

/// An evaluation of `rules` ended with `counts` (per rule id: pending and firing subjects; the
/// data-quality guard's warnings included). A rule without counts has no pending or firing alert.
pub fn record_evaluation<'r>(
    rules: impl IntoIterator<Item = &'r str>,
    counts: &BTreeMap<String, (usize, usize)>,
) {
    let mut evaluated = 0u64;
    let mut all: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for rule in rules {
        evaluated += 1;
        all.insert(rule, (0, 0));
    }
    all.extend(counts.iter().map(|(rule, c)| (rule.as_str(), *c)));
    for (rule, (pending, firing)) in all {
        gauge!(ALERTS, "rule" => rule.to_string(), "state" => "pending").set(pending as f64);
        gauge!(ALERTS, "rule" => rule.to_string(), "state" => "firing").set(firing as f64);
    }
    counter!(RULE_EVALUATIONS).increment(evaluated);
}

/// A delivery pass settled `per_channel` (sent, retried, failed) and left `depth` messages in
/// the outbox.
pub fn record_delivery(per_channel: &BTreeMap<String, (usize, usize, usize)>, depth: usize) {
    for (channel, (sent, retried, failed)) in per_channel {
        for (outcome, n) in [("sent", sent), ("retried", retried), ("failed", failed)] {
            if *n > 0 {
                counter!(MESSAGES, "channel" => channel.clone(), "outcome" => outcome)
                    .increment(*n as u64);
            }
        }
    }
    gauge!(OUTBOX_DEPTH).set(depth as f64);
}

/// A run of `job` started `lag` after its scheduled time.
pub fn record_scheduler_lag(job: &str, lag: chrono::Duration) {
    gauge!(SCHEDULER_LAG, "job" => job.to_string()).set(seconds(lag));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_render_as_prometheus_samples() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        ::metrics::with_local_recorder(&recorder, || {
            let counts = BTreeMap::from([
                ("a".to_string(), (1, 2)),
                ("data-quality".to_string(), (0, 1)),
            ]);
            record_evaluation(["a", "b"], &counts);
            record_delivery(&BTreeMap::from([("console".to_string(), (3, 1, 0))]), 4);
            record_scheduler_lag("sync", chrono::Duration::milliseconds(1500));
        });
        let page = handle.render();
        for line in [
            "cs_pulse_rule_evaluations_total 2",
            "cs_pulse_alerts{rule=\"a\",state=\"pending\"} 1",
            "cs_pulse_alerts{rule=\"a\",state=\"firing\"} 2",
            "cs_pulse_alerts{rule=\"b\",state=\"firing\"} 0",
            "cs_pulse_alerts{rule=\"data-quality\",state=\"firing\"} 1",
            "cs_pulse_messages_total{channel=\"console\",outcome=\"sent\"} 3",
            "cs_pulse_messages_total{channel=\"console\",outcome=\"retried\"} 1",
            "cs_pulse_outbox_depth 4",
            "cs_pulse_scheduler_lag_seconds{job=\"sync\"} 1.5",
        ] {
            assert!(page.lines().any(|l| l == line), "{line}\n{page}");
        }
        assert!(!page.contains("outcome=\"failed\""), "{page}");
    }
}
