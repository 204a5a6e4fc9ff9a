//! The sync engine: pulls one source into the store, all or nothing, and records the run.
//!
//! Used by `cs-pulse sync` and `cs-pulse demo`. A source that fails to read, or data the store
//! refuses, leaves the stored records of that source exactly as they were, and the failure is
//! written to the sync history so that stale data can be marked and explained. Time comes from
//! the `clock` parameter, never from the system clock directly, so tests are deterministic.

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;

use crate::sources::{Source, SourceError};
use crate::store::{Store, StoreError, SyncOutcome, SyncRun};

/// Why a sync of one source did not complete. The stored data of the source is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The source could not be read; the failure is recorded as `run`.
    #[error("source {}: {error}", .run.source)]
    Fetch {
        run: SyncRun,
        #[source]
        error: SourceError,
    },
    /// The source was read but the store could not save it; the failure is recorded as `run`
    /// when the store could still record it.
    #[error("source {source_name}: {error}")]
    Store {
        source_name: String,
        run: Option<SyncRun>,
        #[source]
        error: StoreError,
    },
    /// The source could not be read and the failure could not be recorded either.
    #[error("source {source_name}: {error} (and recording the failure failed: {record_error})")]
    Record {
        source_name: String,
        #[source]
        error: SourceError,
        record_error: StoreError,
    },
}

impl SyncError {
    /// The failed run as recorded in the store, if it could be recorded.
    pub fn run(&self) -> Option<&SyncRun> {
        match self {
            SyncError::Fetch { run, .. } => Some(run),
            SyncError::Store { run, .. } => run.as_ref(),
            SyncError::Record { .. } => None,
        }
    }
}

/// Fetches `source` and replaces its records in `store`, stamping the run with times read from
/// `clock` (before fetching and after fetching). On failure the failure is recorded (with the
/// error's text) and returned; the source's stored records stay as they were.
pub async fn sync_source(
    source: &dyn Source,
    store: &dyn Store,
    clock: &(dyn Fn() -> DateTime<Utc> + Sync),
    progress: &ProgressBar,
) -> Result<SyncRun, SyncError> {
    let name = source.name();
    let started = clock();
    let data = match source.fetch(progress).await {
        Ok(data) => data,
        Err(error) => {
            let finished = clock();
            return match store
                .record_failure(name, started, finished, &error.to_string())
                .await
            {
                Ok(run) => Err(SyncError::Fetch { run, error }),
                Err(record_error) => Err(SyncError::Record {
                    source_name: name.to_string(),
                    error,
                    record_error,
                }),
            };
        }
    };
    let finished = clock();
    match store.replace_source(name, &data, started, finished).await {
        Ok(run) => Ok(run),
        Err(error) => {
            // Best effort: the store just failed, it may fail to record this too.
            let run = store
                .record_failure(name, started, finished, &error.to_string())
                .await
                .ok();
            Err(SyncError::Store {
                source_name: name.to_string(),
                run,
                error,
            })
        }
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The one-line summary of a run shown by `cs-pulse sync`:
/// `crm: 1,234 records (500 accounts) in 0.42 s` or `crm: FAILED after 0.10 s: <first line>`.
pub fn summary_line(run: &SyncRun) -> String {
    let millis = (run.finished_at - run.started_at).num_milliseconds().max(0);
    let secs = format!("{}.{:02}", millis / 1000, (millis % 1000) / 10);
    match &run.outcome {
        SyncOutcome::Ok => format!(
            "{}: {} record{} ({} account{}) in {secs} s",
            run.source,
            thousands(run.rows),
            if run.rows == 1 { "" } else { "s" },
            thousands(run.accounts),
            if run.accounts == 1 { "" } else { "s" },
        ),
        SyncOutcome::Failed(error) => format!(
            "{}: FAILED after {secs} s: {}",
            run.source,
            error.lines().next().unwrap_or("").trim_end()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn run(ms: i64, rows: u64, accounts: u64, outcome: SyncOutcome) -> SyncRun {
        let t0 = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
        SyncRun {
            source: "crm".into(),
            started_at: t0,
            finished_at: t0 + chrono::Duration::milliseconds(ms),
            rows,
            accounts,
            outcome,
        }
    }

    #[test]
    fn summary_lines() {
        assert_eq!(
            summary_line(&run(420, 1234, 500, SyncOutcome::Ok)),
            "crm: 1,234 records (500 accounts) in 0.42 s"
        );
        assert_eq!(
            summary_line(&run(12_345, 1, 1, SyncOutcome::Ok)),
            "crm: 1 record (1 account) in 12.34 s"
        );
        assert_eq!(
            summary_line(&run(
                100,
                0,
                0,
                SyncOutcome::Failed("2 invalid values in x:\n  a\n  b".into())
            )),
            "crm: FAILED after 0.10 s: 2 invalid values in x:"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}
