//! The data chat answers read: the store's dataset, loaded once and kept in memory until a newer
//! good sync is recorded, so that a question costs a computation, not a reload of the store.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::model::Dataset;
use crate::store::{last_good_sync, SqliteStore, Store, StoreError};

/// The dataset as of one sync.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub data: Arc<Dataset>,
    /// When the data was last synced; `None` when the store holds no good sync.
    pub synced_at: Option<DateTime<Utc>>,
}

/// Why there is no data to answer from.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("no data yet: nothing has been synced (run `cs-pulse sync`)")]
    Empty,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads the store's dataset on first use and again after each newer good sync.
#[derive(Debug)]
pub struct DataCache {
    store: SqliteStore,
    current: Mutex<Option<Snapshot>>,
}

impl DataCache {
    pub fn new(store: SqliteStore) -> DataCache {
        DataCache {
            store,
            current: Mutex::new(None),
        }
    }

    /// The current data, reloaded when a sync finished since it was loaded.
    pub async fn get(&self) -> Result<Snapshot, DataError> {
        let synced_at = last_good_sync(&self.store).await;
        let mut current = self.current.lock().await;
        if let Some(s) = current.as_ref() {
            if s.synced_at == synced_at {
                return Ok(s.clone());
            }
        }
        let data = self.store.load().await?;
        if data.accounts().is_empty() {
            return Err(DataError::Empty);
        }
        let snapshot = Snapshot {
            data: Arc::new(data),
            synced_at,
        };
        *current = Some(snapshot.clone());
        Ok(snapshot)
    }
}
