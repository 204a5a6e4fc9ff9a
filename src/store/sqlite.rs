//! (stub)
pub struct SqliteStore;
