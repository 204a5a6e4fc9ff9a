//! The sync engine: pulls one source into the store, all or nothing, and records the run.
//!
//! Used by `cs-pulse sync` and `cs-pulse demo`. A source that fails to read, data with an amount
//! beyond [`MAX_AMOUNT`], or data the store refuses, leaves the stored records of that source
//! exactly as they were, and the failure is written to the sync history so that stale data can
//! be marked and explained. Time comes from the `clock` parameter, never from the system clock
//! directly, so tests are deterministic.

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;

use crate::model::{Dataset, MAX_AMOUNT};
use crate::sources::{FetchRequest, InputError, Previous, Source, SourceError};
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

/// What a sync may do beyond the source's own schedule.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncOptions {
    /// Fetch everything even when an incremental sync is due (`cs-pulse sync --full`).
    pub force_full: bool,
}

/// Whether the next sync of a source may be incremental: the source can fetch changes only,
/// a full sync is not forced, and its last good full sync is younger than `every`. Returns
/// the last good sync (what the changes apply to) when it may.
fn incremental_base<'r>(
    every: Option<chrono::Duration>,
    options: SyncOptions,
    now: DateTime<Utc>,
    last_good: Option<&'r SyncRun>,
    last_good_full: Option<&SyncRun>,
) -> Option<&'r SyncRun> {
    let every = every?;
    if options.force_full {
        return None;
    }
    let full = last_good_full?;
    (now - full.started_at < every).then_some(last_good?)
}

/// Fetches `source` and replaces its records in `store`, stamping the run with times read from
/// `clock` (before fetching and after fetching). A source that can fetch changes only does so
/// when its last full sync is recent enough ([`crate::sources::Source::full_sync_every`]); the
/// changes are applied to what its last good sync stored. On failure the failure is recorded
/// (with the error's text) and returned; the source's stored records stay as they were. The
/// outcome, duration and records are counted for `/metrics` ([`crate::telemetry`]).
pub async fn sync_source(
    source: &dyn Source,
    store: &dyn Store,
    clock: &(dyn Fn() -> DateTime<Utc> + Sync),
    progress: &ProgressBar,
    options: SyncOptions,
) -> Result<SyncRun, SyncError> {
    let result = sync_unrecorded(source, store, clock, progress, options).await;
    let run = match &result {
        Ok(run) => Some(run),
        Err(e) => e.run(),
    };
    crate::telemetry::record_sync(
        source.name(),
        result.is_ok(),
        run.map(|r| r.finished_at - r.started_at),
        result.as_ref().ok().map(|r| r.rows),
    );
    result
}

async fn sync_unrecorded(
    source: &dyn Source,
    store: &dyn Store,
    clock: &(dyn Fn() -> DateTime<Utc> + Sync),
    progress: &ProgressBar,
    options: SyncOptions,
) -> Result<SyncRun, SyncError> {
    let name = source.name();
    let started = clock();
    let store_error = |error: StoreError| SyncError::Store {
        source_name: name.to_string(),
        run: None,
        error,
    };
    let base = match source.full_sync_every() {
        None => None,
        every => {
            let last_good = store
                .last_good_run(name, false)
                .await
                .map_err(store_error)?;
            let last_full = store.last_good_run(name, true).await.map_err(store_error)?;
            incremental_base(
                every,
                options,
                started,
                last_good.as_ref(),
                last_full.as_ref(),
            )
            .cloned()
        }
    };
    let previous_data = match &base {
        Some(_) => Some(store.load_source(name).await.map_err(store_error)?),
        None => None,
    };
    let request = FetchRequest {
        now: started,
        previous: base
            .as_ref()
            .zip(previous_data.as_ref())
            .map(|(run, data)| Previous {
                started_at: run.started_at,
                data,
            }),
    };
    let full_requested = request.previous.is_none();
    let fetched = match source.fetch(&request, progress).await.and_then(|fetched| {
        check_amounts(name, &fetched.data)?;
        Ok(fetched)
    }) {
        Ok(fetched) => fetched,
        Err(error) => {
            let finished = clock();
            return match store
                .record_failure(name, started, finished, full_requested, &error.to_string())
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
    drop(previous_data);
    let finished = clock();
    match store
        .replace_source(name, &fetched.data, started, finished, fetched.full)
        .await
    {
        Ok(run) => Ok(run),
        Err(error) => {
            // Best effort: the store just failed, it may fail to record this too.
            let run = store
                .record_failure(name, started, finished, fetched.full, &error.to_string())
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

/// At most this many oversized amounts are listed; the rest are counted in one last entry.
const MAX_LISTED: usize = 100;

/// Fails when an amount of `data` exceeds [`MAX_AMOUNT`]: whatever the source (an API's absurd
/// value included), such data is refused as input instead of overflowing a metric later.
fn check_amounts(name: &str, data: &Dataset) -> Result<(), SourceError> {
    let mut errors = Vec::new();
    let mut found = 0usize;
    let mut check = |what: &dyn Fn() -> String, field: &str, amount: rust_decimal::Decimal| {
        if amount.abs() <= MAX_AMOUNT {
            return;
        }
        found += 1;
        if errors.len() < MAX_LISTED {
            errors.push(InputError {
                file: what(),
                line: 0,
                column: Some(field.to_string()),
                message: format!("{amount} is too large (at most {MAX_AMOUNT})"),
            });
        }
    };
    for s in &data.subscriptions {
        check(&|| format!("subscription {}", s.id), "mrr", s.mrr);
    }
    for r in &data.renewals {
        if let Some(amount) = r.amount {
            check(&|| format!("renewal {}", r.id), "amount", amount);
        }
    }
    for c in &data.costs {
        check(&|| format!("cost of {}", c.month), "amount", c.amount);
    }
    for u in &data.usage {
        // An index out of range is the store's to refuse (see `replace_source`).
        let account = data
            .accounts()
            .get(u.account as usize)
            .map_or("?", |a| a.id.as_str());
        check(
            &|| format!("usage of {account} on {}", u.date),
            "minutes",
            u.minutes,
        );
    }
    if found > errors.len() {
        errors.push(InputError {
            file: format!("source {name}"),
            line: 0,
            column: None,
            message: format!("and {} more amounts too large", found - errors.len()),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SourceError::Invalid {
            location: format!("the data of source {name}"),
            errors,
        })
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
/// `crm: 1,234 records (500 accounts) in 0.42 s` (`500 accounts; changes only` after an
/// incremental fetch) or `crm: FAILED after 0.10 s: <first line>`.
pub fn summary_line(run: &SyncRun) -> String {
    let millis = (run.finished_at - run.started_at).num_milliseconds().max(0);
    let secs = format!("{}.{:02}", millis / 1000, (millis % 1000) / 10);
    match &run.outcome {
        SyncOutcome::Ok => format!(
            "{}: {} record{} ({} account{}{}) in {secs} s",
            run.source,
            thousands(run.rows),
            if run.rows == 1 { "" } else { "s" },
            thousands(run.accounts),
            if run.accounts == 1 { "" } else { "s" },
            if run.full { "" } else { "; changes only" },
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
            full: true,
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
        let mut incremental = run(420, 1234, 500, SyncOutcome::Ok);
        incremental.full = false;
        assert_eq!(
            summary_line(&incremental),
            "crm: 1,234 records (500 accounts; changes only) in 0.42 s"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }

    #[test]
    fn incremental_only_after_a_recent_full_sync() {
        let t0 = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
        let at = |hours: i64| {
            let mut r = run(0, 1, 1, SyncOutcome::Ok);
            r.started_at = t0 + chrono::Duration::hours(hours);
            r
        };
        let day = Some(chrono::Duration::days(1));
        let (full, last) = (at(0), at(6));
        let now = t0 + chrono::Duration::hours(7);
        let base = |every, options, now, last: Option<&SyncRun>, full: Option<&SyncRun>| {
            incremental_base(every, options, now, last, full).map(|r| r.started_at)
        };
        let auto = SyncOptions::default();
        // Due: the changes since the last good sync (not since the full one).
        assert_eq!(
            base(day, auto, now, Some(&last), Some(&full)),
            Some(last.started_at)
        );
        // A source without incremental fetches, a forced full sync, no full sync yet, or a
        // full sync older than `every`: everything is fetched.
        assert_eq!(base(None, auto, now, Some(&last), Some(&full)), None);
        let forced = SyncOptions { force_full: true };
        assert_eq!(base(day, forced, now, Some(&last), Some(&full)), None);
        assert_eq!(base(day, auto, now, Some(&last), None), None);
        let later = t0 + chrono::Duration::hours(24);
        assert_eq!(base(day, auto, later, Some(&last), Some(&full)), None);
    }
}
