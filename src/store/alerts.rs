//! Alert states, silences and acknowledgements in the store, so that a restart neither re-fires,
//! nor forgets, nor misses a resolution.
//!
//! The lifecycle itself is pure ([`crate::alerts::lifecycle`]): an evaluation loads every state
//! ([`AlertStore::alert_states`]), steps each alert, and saves the states that changed in one
//! transaction ([`AlertStore::save_alert_states`]), so an evaluation is stored all or nothing.
//! Tables and formats: `migrations/0003_alerts.sql`.
//!
//! - An alert in the default state (inactive, no history: [`AlertState::default`]) has no row; a
//!   missing key means that state, and saving it deletes the row.
//! - States are written in batches, each one JSON array bound as a single parameter and expanded
//!   by SQLite (`json_each`), like the record tables: a first evaluation over 100k accounts
//!   changes many states at once.
//! - An acknowledgement can arrive (from chat) between an evaluation's load and its save. The
//!   lifecycle never drops the acknowledgement of a firing that goes on, so when a saved state is
//!   the same firing (same `fired_at`) as the stored one and carries no acknowledgement, the
//!   stored acknowledgement is kept instead of being lost.
//! - Whatever is read back is checked: a bad phase, timestamp or half an acknowledgement is
//!   [`StoreError::Corrupt`] naming the row, never a panic.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use super::{SqliteStore, StoreError};
use crate::alerts::lifecycle::{self, Ack, AlertState, Phase};
use crate::alerts::Silence;

/// One alert's identity: the rule and the subject (an account id or `portfolio`), the same
/// key the alert engine advances ([`crate::alerts::engine`]), so that its `changed` states are
/// saved as they are.
pub use crate::alerts::AlertKey;

/// States per JSON batch when writing.
const WRITE_BATCH: usize = 20_000;

/// Where alert states, silences and acknowledgements are kept.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Every stored alert state. Alerts in the default state (inactive with no history) are not
    /// stored: a missing key means [`AlertState::default`].
    async fn alert_states(&self) -> Result<BTreeMap<AlertKey, AlertState>, StoreError>;

    /// Writes the changed states in one transaction (upsert; a state back to the default is
    /// deleted), so that an evaluation is saved all or nothing. When a key appears more than
    /// once, the last state wins. A stored acknowledgement of a firing is kept when the saved
    /// state is the same firing (same `fired_at`) without one (see the module documentation).
    async fn save_alert_states(&self, changed: &[(AlertKey, AlertState)])
        -> Result<(), StoreError>;

    /// Stores a silence (its `id` is ignored) and returns it with its new id. A silence names a
    /// rule, a subject or both: one with neither is [`StoreError::Invalid`].
    async fn add_silence(&self, s: &Silence) -> Result<Silence, StoreError>;

    /// The silences still in force at `now` (`now < until`, as [`Silence::mutes`]), or with
    /// `include_expired` all of them; in the order they were added.
    async fn silences(
        &self,
        now: DateTime<Utc>,
        include_expired: bool,
    ) -> Result<Vec<Silence>, StoreError>;

    /// Removes a silence; returns whether there was one with that id.
    async fn remove_silence(&self, id: i64) -> Result<bool, StoreError>;

    /// Acknowledges a firing alert (see [`lifecycle::acknowledge`]): no reminders until it
    /// resolves. Returns false when the alert is not firing or has no stored state.
    async fn acknowledge(
        &self,
        key: &AlertKey,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Encoding and decoding

pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn opt_timestamp(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(timestamp)
}

/// A stored timestamp, or `Corrupt` naming the row (`what`) and the column.
pub(crate) fn parse_timestamp(
    what: &dyn fmt::Display,
    column: &str,
    s: &str,
) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            StoreError::Corrupt(format!(
                "{what}: {column} \"{s}\" is not an RFC 3339 timestamp"
            ))
        })
}

fn parse_opt_timestamp(
    what: &dyn fmt::Display,
    column: &str,
    s: Option<&str>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| parse_timestamp(what, column, s)).transpose()
}

/// Reads a column, reporting a value of the wrong type as corrupt data of the row `what`.
pub(crate) fn column<'r, T>(
    r: &'r SqliteRow,
    what: &dyn fmt::Display,
    name: &str,
) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    r.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("{what}: column {name}: {e}")))
}

/// Names an alert_states row in error messages.
struct StateRow<'a>(&'a AlertKey);

impl fmt::Display for StateRow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "alert_states (rule \"{}\", subject \"{}\")",
            self.0.rule, self.0.subject
        )
    }
}

const STATE_COLUMNS: &str =
    "rule, subject, phase, active_since, fired_at, notified_at, resolved_at, ack_by, ack_at";

fn decode_state(r: &SqliteRow) -> Result<(AlertKey, AlertState), StoreError> {
    let key = AlertKey {
        rule: column(r, &"alert_states", "rule")?,
        subject: column(r, &"alert_states", "subject")?,
    };
    let what = StateRow(&key);
    let phase: &str = column(r, &what, "phase")?;
    let phase = Phase::parse(phase)
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: unknown phase \"{phase}\"")))?;
    let ts = |name: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        parse_opt_timestamp(&what, name, column(r, &what, name)?)
    };
    let active_since = ts("active_since")?;
    let fired_at = ts("fired_at")?;
    let notified_at = ts("notified_at")?;
    let resolved_at = ts("resolved_at")?;
    let ack_by: Option<String> = column(r, &what, "ack_by")?;
    let ack = match (ack_by, ts("ack_at")?) {
        (Some(by), Some(at)) => Some(Ack { by, at }),
        (None, None) => None,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "{what}: an acknowledgement needs both ack_by and ack_at"
            )))
        }
    };
    let state = AlertState {
        phase,
        active_since,
        fired_at,
        notified_at,
        resolved_at,
        ack,
    };
    Ok((key, state))
}

/// Names a silences row in error messages.
struct SilenceRow(i64);

impl fmt::Display for SilenceRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "silences (id {})", self.0)
    }
}

fn decode_silence(r: &SqliteRow) -> Result<Silence, StoreError> {
    let id: i64 = column(r, &"silences", "id")?;
    let what = SilenceRow(id);
    Ok(Silence {
        id,
        rule: column(r, &what, "rule")?,
        subject: column(r, &what, "subject")?,
        until: parse_timestamp(&what, "until", column(r, &what, "until")?)?,
        created_by: column(r, &what, "created_by")?,
        reason: column(r, &what, "reason")?,
        created_at: parse_timestamp(&what, "created_at", column(r, &what, "created_at")?)?,
    })
}

/// One alert_states row as a JSON array, in the order of [`STATE_COLUMNS`].
fn state_row(key: &AlertKey, s: &AlertState) -> serde_json::Value {
    serde_json::json!([
        key.rule,
        key.subject,
        s.phase.as_str(),
        opt_timestamp(s.active_since),
        opt_timestamp(s.fired_at),
        opt_timestamp(s.notified_at),
        opt_timestamp(s.resolved_at),
        s.ack.as_ref().map(|a| a.by.as_str()),
        s.ack.as_ref().map(|a| timestamp(a.at)),
    ])
}

/// Upserts states from a JSON array of rows. The ON CONFLICT branch keeps a stored
/// acknowledgement when the new state is the same firing without one. (`WHERE true` tells
/// SQLite's parser that ON CONFLICT is not a join constraint.)
const UPSERT_SQL: &str = "\
INSERT INTO alert_states \
    (rule, subject, phase, active_since, fired_at, notified_at, resolved_at, ack_by, ack_at) \
SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, \
    value->>8 \
FROM json_each(?1) WHERE true \
ON CONFLICT (rule, subject) DO UPDATE SET \
    phase = excluded.phase, \
    active_since = excluded.active_since, \
    fired_at = excluded.fired_at, \
    notified_at = excluded.notified_at, \
    resolved_at = excluded.resolved_at, \
    ack_by = CASE WHEN (KEEP_ACK) THEN alert_states.ack_by ELSE excluded.ack_by END, \
    ack_at = CASE WHEN (KEEP_ACK) THEN alert_states.ack_at ELSE excluded.ack_at END";

const KEEP_ACK: &str = "excluded.ack_by IS NULL AND excluded.phase = 'firing' \
    AND alert_states.phase = 'firing' AND alert_states.fired_at IS excluded.fired_at";

const DELETE_SQL: &str = "DELETE FROM alert_states WHERE (rule, subject) IN \
    (SELECT value->>0, value->>1 FROM json_each(?1))";

/// Runs `sql` once per batch of `rows`, each batch bound as one JSON array.
async fn run_batches(
    conn: &mut SqliteConnection,
    sql: &str,
    rows: &[serde_json::Value],
) -> Result<(), StoreError> {
    for batch in rows.chunks(WRITE_BATCH) {
        let json = serde_json::to_string(batch)
            .map_err(|e| StoreError::Invalid(format!("cannot encode alert states: {e}")))?;
        sqlx::query(sql).bind(json).execute(&mut *conn).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

/// Writes changed states inside the caller's transaction (the outbox stores an evaluation's
/// states and its messages together).
pub(crate) async fn write_alert_states(
    conn: &mut SqliteConnection,
    changed: &[(AlertKey, AlertState)],
) -> Result<(), StoreError> {
    // The last state of each key wins.
    let latest: BTreeMap<&AlertKey, &AlertState> = changed.iter().map(|(k, s)| (k, s)).collect();
    let default = AlertState::default();
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for (key, state) in latest {
        if *state == default {
            deletes.push(serde_json::json!([key.rule, key.subject]));
        } else {
            upserts.push(state_row(key, state));
        }
    }
    let upsert_sql = UPSERT_SQL.replace("KEEP_ACK", KEEP_ACK);
    run_batches(conn, DELETE_SQL, &deletes).await?;
    run_batches(conn, &upsert_sql, &upserts).await?;
    Ok(())
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn alert_states(&self) -> Result<BTreeMap<AlertKey, AlertState>, StoreError> {
        let sql = format!("SELECT {STATE_COLUMNS} FROM alert_states");
        let mut rows = sqlx::query(&sql).fetch(self.pool());
        let mut states = BTreeMap::new();
        while let Some(r) = rows.try_next().await? {
            let (key, state) = decode_state(&r)?;
            states.insert(key, state);
        }
        Ok(states)
    }

    async fn save_alert_states(
        &self,
        changed: &[(AlertKey, AlertState)],
    ) -> Result<(), StoreError> {
        if changed.is_empty() {
            return Ok(());
        }
        // IMMEDIATE: take the write lock now rather than fail half-way; dropping `tx` on an
        // error rolls everything back.
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        write_alert_states(&mut tx, changed).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_silence(&self, s: &Silence) -> Result<Silence, StoreError> {
        if s.rule.is_none() && s.subject.is_none() {
            return Err(StoreError::Invalid(
                "a silence names a rule, a subject or both".to_string(),
            ));
        }
        let done = sqlx::query(
            "INSERT INTO silences (rule, subject, until, created_by, reason, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&s.rule)
        .bind(&s.subject)
        .bind(timestamp(s.until))
        .bind(&s.created_by)
        .bind(&s.reason)
        .bind(timestamp(s.created_at))
        .execute(self.pool())
        .await?;
        Ok(Silence {
            id: done.last_insert_rowid(),
            ..s.clone()
        })
    }

    async fn silences(
        &self,
        now: DateTime<Utc>,
        include_expired: bool,
    ) -> Result<Vec<Silence>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, rule, subject, until, created_by, reason, created_at FROM silences \
             ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut silences = Vec::new();
        for r in &rows {
            let s = decode_silence(r)?;
            if include_expired || now < s.until {
                silences.push(s);
            }
        }
        Ok(silences)
    }

    async fn remove_silence(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM silences WHERE id = ?1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn acknowledge(
        &self,
        key: &AlertKey,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let sql =
            format!("SELECT {STATE_COLUMNS} FROM alert_states WHERE rule = ?1 AND subject = ?2");
        let row = sqlx::query(&sql)
            .bind(&key.rule)
            .bind(&key.subject)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let (_, mut state) = decode_state(&row)?;
        if !lifecycle::acknowledge(&mut state, by, at) {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE alert_states SET ack_by = ?1, ack_at = ?2 WHERE rule = ?3 AND subject = ?4",
        )
        .bind(by)
        .bind(timestamp(at))
        .bind(&key.rule)
        .bind(&key.subject)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
