//! The checkpoint row of a projection: where it is in the log, how much it applied, and why it stopped.

use std::collections::HashMap;

use commands::event_log::LogPosition;
use sqlx::{PgConnection, PgExecutor, PgPool};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Status {
    pub name: String,
    pub version: i32,
    pub transaction_id: i64,
    pub position: i64,
    pub events_applied: i64,
    pub failed_position: Option<i64>,
    pub error: Option<String>,
}

impl Status {
    pub fn log_position(&self) -> LogPosition {
        LogPosition { transaction_id: self.transaction_id, position: self.position }
    }
}

const COLUMNS: &str = "name, version, transaction_id, position, events_applied, failed_position, error";

/// The projection's row, created at the start of the log on first use. Workers call this before every
/// batch, so the row is read first and inserted only when missing.
pub async fn load(connection: &mut PgConnection, name: &str, version: i32) -> Result<Status, sqlx::Error> {
    if let Some(status) = read(&mut *connection, name).await? {
        return Ok(status);
    }
    sqlx::query("INSERT INTO projection_checkpoints (name, version) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(version)
        .execute(&mut *connection)
        .await?;
    read(connection, name).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The projection's row as it is, without creating it (for queries: a projection that never ran has none).
pub async fn read(executor: impl PgExecutor<'_>, name: &str) -> Result<Option<Status>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM projection_checkpoints WHERE name = $1"))
        .bind(name)
        .fetch_optional(executor)
        .await
}

/// Every projection's row.
pub async fn all(pool: &PgPool) -> Result<Vec<Status>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM projection_checkpoints ORDER BY name")).fetch_all(pool).await
}

/// Moves the checkpoint from `from` to `to` inside the read model's transaction. False when the row is
/// no longer at `from`: another worker got there first, and this transaction must not commit.
pub async fn advance(
    transaction: &mut PgConnection,
    name: &str,
    from: LogPosition,
    to: LogPosition,
    applied: usize,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE projection_checkpoints
         SET transaction_id = $4, position = $5, events_applied = events_applied + $6, updated_at = now(),
             events_per_second = CASE WHEN now() - rate_since >= $7
                 THEN (rate_events + $6) / EXTRACT(EPOCH FROM now() - rate_since)::float8 ELSE events_per_second END,
             rate_events = CASE WHEN now() - rate_since >= $7 THEN 0 ELSE rate_events + $6 END,
             rate_since = CASE WHEN now() - rate_since >= $7 THEN now() ELSE rate_since END
         WHERE name = $1 AND transaction_id = $2 AND position = $3 AND failed_position IS NULL",
    )
    .bind(name)
    .bind(from.transaction_id)
    .bind(from.position)
    .bind(to.transaction_id)
    .bind(to.position)
    .bind(i64::try_from(applied).unwrap_or(i64::MAX))
    .bind(RATE_WINDOW)
    .execute(transaction)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// Records that the event at `position` could not be applied; the checkpoint stays before it.
pub async fn fail(connection: &mut PgConnection, name: &str, position: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints SET failed_position = $2, error = $3, updated_at = now() WHERE name = $1",
    )
    .bind(name)
    .bind(position)
    .bind(error)
    .execute(connection)
    .await?;
    Ok(())
}

/// Starts the projection over at a new version, inside the transaction that empties its read model.
pub async fn restart(transaction: &mut PgConnection, name: &str, version: i32) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints
         SET version = $2, transaction_id = 0, position = 0, events_applied = 0, failed_position = NULL,
             error = NULL, updated_at = now(), rate_since = now(), rate_events = 0, events_per_second = 0
         WHERE name = $1",
    )
    .bind(name)
    .bind(version)
    .execute(transaction)
    .await?;
    Ok(())
}

/// The shortest span a projection's speed is measured over.
const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// Events applied per second by each projection (by name): over the last window of at least
/// [`RATE_WINDOW`], or, when the current window is already longer (no batch for a while), over it, so
/// that an idle or stuck projection's speed falls towards zero.
pub async fn events_per_second(pool: &PgPool) -> Result<HashMap<String, f64>, sqlx::Error> {
    let rows: Vec<(String, f64)> = sqlx::query_as(
        "SELECT name, CASE WHEN now() - rate_since >= $1
                           THEN rate_events / EXTRACT(EPOCH FROM now() - rate_since)::float8
                           ELSE events_per_second END
         FROM projection_checkpoints",
    )
    .bind(RATE_WINDOW)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// How far a projection is behind the log: events not yet applied, and the age of the oldest of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    pub events: i64,
    pub seconds: f64,
}

pub async fn lag(pool: &PgPool, status: &Status) -> Result<Lag, sqlx::Error> {
    let (events, seconds): (i64, f64) = sqlx::query_as(
        "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(recorded_at)), 0)::float8 FROM events
         WHERE (transaction_id, position) > ($1::text::xid8, $2)",
    )
    .bind(status.transaction_id.to_string())
    .bind(status.position)
    .fetch_one(pool)
    .await?;
    Ok(Lag { events, seconds })
}
