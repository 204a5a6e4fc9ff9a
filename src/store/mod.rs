//! The store: where synced records and the history of sync runs are kept between runs.
//!
//! Traits at the seam, so that the rest of the program never sees SQL: [`Store`] for records and
//! sync runs, [`AlertStore`] for alert states, silences and acknowledgements. SQLite through
//! sqlx is the default and only implementation so far.

pub mod alerts;
pub mod jobs;
pub mod outbox;
pub mod sqlite;
pub mod usage_blob;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::Dataset;

pub use alerts::{AlertKey, AlertStore};
pub use jobs::{JobLog, JobOutcome, JobRun};
pub use outbox::{Enqueued, OutboxStore};
pub use sqlite::SqliteStore;

/// How a sync run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    Ok,
    Failed(String),
}

/// One row of the sync history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRun {
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Records written (0 for a failed run).
    pub rows: u64,
    /// Accounts in the synced data (0 for a failed run).
    pub accounts: u64,
    /// Whether everything was fetched, or only what changed since the previous good run.
    pub full: bool,
    pub outcome: SyncOutcome,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The data handed to the store cannot be stored as it is (e.g. a child record pointing at
    /// an account index that does not exist); nothing was changed.
    #[error("cannot store the data: {0}")]
    Invalid(String),
    #[error("cannot create the store's directory {}: {source}", .path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// When the store last synced successfully (any source): the scorecards' footer, and the
/// moment cached data goes stale.
pub async fn last_good_sync(store: &dyn Store) -> Option<DateTime<Utc>> {
    let runs = store.sync_runs(None, 50).await.ok()?;
    runs.into_iter()
        .find(|r| r.outcome == SyncOutcome::Ok)
        .map(|r| r.finished_at)
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Replaces everything stored for `source` by `data` (upserting by id, deleting what the
    /// source no longer has) and records the successful run, all in one transaction: on any
    /// error nothing changes.
    /// `full` says whether `data` was fetched in full (recorded with the run).
    async fn replace_source(
        &self,
        source: &str,
        data: &Dataset,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        full: bool,
    ) -> Result<SyncRun, StoreError>;

    /// Records a failed run (`full`: whether it tried to fetch everything); the source's stored
    /// records stay as they were.
    async fn record_failure(
        &self,
        source: &str,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        full: bool,
        error: &str,
    ) -> Result<SyncRun, StoreError>;

    /// Every stored record of every source, merged into one data set (accounts by id).
    async fn load(&self) -> Result<Dataset, StoreError>;

    /// The stored records of one source, as its last good sync wrote them (what an
    /// incremental sync applies its changes to).
    async fn load_source(&self, source: &str) -> Result<Dataset, StoreError>;

    /// The newest successful run of `source`, or of its full runs only.
    async fn last_good_run(
        &self,
        source: &str,
        full_only: bool,
    ) -> Result<Option<SyncRun>, StoreError>;

    /// The most recent runs, newest first, optionally of one source.
    async fn sync_runs(&self, source: Option<&str>, limit: u32)
        -> Result<Vec<SyncRun>, StoreError>;
}
