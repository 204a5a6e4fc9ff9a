//! The history of scheduled job runs, so that after a restart the scheduler knows which
//! scheduled time each job last ran for (and makes up a missed one), and a person can see what
//! ran, when, how late, and how it ended. Table: `migrations/0005_job_runs.sql`.
//!
//! A run is written when it starts ([`JobLog::start_run`]) and completed when it ends
//! ([`JobLog::finish_run`]): a row left unfinished is a run cut short by a crash, which does not
//! count as done, so the scheduler makes it up at the next start if it is still within grace.
//! Whatever is read back is checked: a bad timestamp or outcome is [`StoreError::Corrupt`]
//! naming the row, never a panic.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::{SqliteStore, StoreError};

/// How a job run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Ok,
    /// The error, as the executor reported it.
    Failed(String),
}

/// One row of the job history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRun {
    pub id: i64,
    /// The job's name (`[jobs.NAME]`).
    pub job: String,
    /// The scheduled time this run is for.
    pub scheduled_for: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    /// When it ended and how; `None` while running, or for a run cut short by a crash.
    pub finished: Option<(DateTime<Utc>, JobOutcome)>,
}

impl JobRun {
    /// How late the run started.
    pub fn lag(&self) -> chrono::Duration {
        self.started_at - self.scheduled_for
    }
}

/// Where job runs are recorded.
#[async_trait]
pub trait JobLog: Send + Sync {
    /// Records that `job` started its run for `scheduled_for`; returns the run's id.
    async fn start_run(
        &self,
        job: &str,
        scheduled_for: DateTime<Utc>,
        started_at: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Records how the run `id` ended. A run that is unknown or already finished is
    /// [`StoreError::Invalid`].
    async fn finish_run(
        &self,
        id: i64,
        finished_at: DateTime<Utc>,
        outcome: &JobOutcome,
    ) -> Result<(), StoreError>;

    /// The last finished run (ok or failed) of every job that has one, by job name: the latest
    /// started, which is the one for the latest scheduled time since a job never overlaps itself.
    async fn last_runs(&self) -> Result<BTreeMap<String, JobRun>, StoreError>;

    /// The most recent runs, newest first, optionally of one job, unfinished ones included.
    async fn job_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>, StoreError>;
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

const COLUMNS: &str = "id, job, scheduled_for, started_at, finished_at, outcome, message";

fn decode(r: &SqliteRow) -> Result<JobRun, StoreError> {
    let id: i64 = r
        .try_get("id")
        .map_err(|e| StoreError::Corrupt(format!("job_runs: column id: {e}")))?;
    let what = format!("job_runs (id {id})");
    let text = |name: &str| -> Result<Option<String>, StoreError> {
        r.try_get(name)
            .map_err(|e| StoreError::Corrupt(format!("{what}: column {name}: {e}")))
    };
    let required = |name: &str| -> Result<String, StoreError> {
        text(name)?.ok_or_else(|| StoreError::Corrupt(format!("{what}: {name} is NULL")))
    };
    let ts = |name: &str, s: &str| -> Result<DateTime<Utc>, StoreError> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                StoreError::Corrupt(format!(
                    "{what}: {name} \"{s}\" is not an RFC 3339 timestamp"
                ))
            })
    };
    let finished = match (text("finished_at")?, text("outcome")?) {
        (None, None) => None,
        (Some(at), Some(outcome)) => {
            let outcome = match (outcome.as_str(), text("message")?) {
                ("ok", _) => JobOutcome::Ok,
                ("failed", message) => JobOutcome::Failed(message.unwrap_or_default()),
                (other, _) => {
                    return Err(StoreError::Corrupt(format!(
                        "{what}: unknown outcome \"{other}\""
                    )))
                }
            };
            Some((ts("finished_at", &at)?, outcome))
        }
        _ => {
            return Err(StoreError::Corrupt(format!(
                "{what}: a finished run needs both finished_at and outcome"
            )))
        }
    };
    Ok(JobRun {
        id,
        job: required("job")?,
        scheduled_for: ts("scheduled_for", &required("scheduled_for")?)?,
        started_at: ts("started_at", &required("started_at")?)?,
        finished,
    })
}

#[async_trait]
impl JobLog for SqliteStore {
    async fn start_run(
        &self,
        job: &str,
        scheduled_for: DateTime<Utc>,
        started_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO job_runs (job, scheduled_for, started_at) VALUES (?1, ?2, ?3)",
        )
        .bind(job)
        .bind(timestamp(scheduled_for))
        .bind(timestamp(started_at))
        .execute(self.pool())
        .await?;
        Ok(done.last_insert_rowid())
    }

    async fn finish_run(
        &self,
        id: i64,
        finished_at: DateTime<Utc>,
        outcome: &JobOutcome,
    ) -> Result<(), StoreError> {
        let (word, message) = match outcome {
            JobOutcome::Ok => ("ok", None),
            JobOutcome::Failed(m) => ("failed", Some(m.as_str())),
        };
        let done = sqlx::query(
            "UPDATE job_runs SET finished_at = ?1, outcome = ?2, message = ?3 \
             WHERE id = ?4 AND finished_at IS NULL",
        )
        .bind(timestamp(finished_at))
        .bind(word)
        .bind(message)
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!(
                "job run {id} is unknown or already finished"
            )));
        }
        Ok(())
    }

    async fn last_runs(&self) -> Result<BTreeMap<String, JobRun>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM job_runs WHERE id IN \
             (SELECT MAX(id) FROM job_runs WHERE finished_at IS NOT NULL GROUP BY job)"
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        let mut last = BTreeMap::new();
        for r in &rows {
            let run = decode(r)?;
            last.insert(run.job.clone(), run);
        }
        Ok(last)
    }

    async fn job_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM job_runs WHERE ?1 IS NULL OR job = ?1 ORDER BY id DESC LIMIT ?2"
        );
        let rows = sqlx::query(&sql)
            .bind(job)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }
}
