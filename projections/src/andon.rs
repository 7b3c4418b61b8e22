//! Andon read model: every call with its status, escalation level and response times; the board of open
//! calls of a line, and mean times to acknowledge and to resolve per call type.

use chrono::{DateTime, Utc};
use commands::event_log::RecordedEvent;
use domain::andon::AndonCall;
use sqlx::{PgConnection, PgPool};

use crate::folded::{Rows, fold_batch, name_of, to_state};
use crate::projection::{Projection, ProjectionError};

#[derive(Debug, Clone, Copy, Default)]
pub struct Calls;

impl Projection for Calls {
    const NAME: &'static str = "andon";
    const VERSION: i32 = 1;

    async fn apply(&self, transaction: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
        fold_batch(self, transaction, events).await
    }

    async fn reset(&self, transaction: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM read_andon").execute(transaction).await?;
        Ok(())
    }
}

impl Rows for Calls {
    type Aggregate = AndonCall;
    const TABLE: &'static str = "read_andon";
    const ID: &'static str = "call_id";

    async fn write(
        &self,
        transaction: &mut PgConnection,
        id: &str,
        call: &AndonCall,
        position: i64,
    ) -> Result<(), ProjectionError> {
        let (Some(line), Some(station), Some(call_type), Some(priority), Some(raised_at)) =
            (&call.line, &call.station, &call.call_type, &call.priority, call.raised_at)
        else {
            return Err(ProjectionError::Inconsistent(format!("Andon call {id} has events but was never raised")));
        };
        sqlx::query(
            "INSERT INTO read_andon (call_id, line, station, call_type, priority, status, level, raised_at,
                                     acknowledged_at, closed_at, state, last_position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (call_id) DO UPDATE SET
                 status = EXCLUDED.status, level = EXCLUDED.level, acknowledged_at = EXCLUDED.acknowledged_at,
                 closed_at = EXCLUDED.closed_at, state = EXCLUDED.state, last_position = EXCLUDED.last_position",
        )
        .bind(id)
        .bind(line.to_string())
        .bind(station.to_string())
        .bind(name_of(call_type))
        .bind(name_of(priority))
        .bind(name_of(&call.status))
        .bind(i16::from(call.level))
        .bind(raised_at)
        .bind(call.acknowledged_at)
        .bind(call.closed_at)
        .bind(to_state(call)?)
        .bind(position)
        .execute(transaction)
        .await?;
        Ok(())
    }
}

/// One call as the board shows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct CallRow {
    pub call_id: String,
    pub line: String,
    pub station: String,
    pub call_type: String,
    pub priority: String,
    pub status: String,
    pub level: i16,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// The open calls of a line (raised or acknowledged), oldest first.
pub async fn open_calls(pool: &PgPool, line: &str) -> Result<Vec<CallRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT call_id, line, station, call_type, priority, status, level, raised_at, acknowledged_at
         FROM read_andon WHERE line = $1 AND closed_at IS NULL ORDER BY raised_at, call_id",
    )
    .bind(line)
    .fetch_all(pool)
    .await
}

/// Every open call of every line, for the escalation scheduler.
pub async fn all_open(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT call_id FROM read_andon WHERE closed_at IS NULL ORDER BY raised_at")
        .fetch_all(pool)
        .await
}

/// Response times of a call type on a line for calls raised in [from, to). MTTA: raise to acknowledgement,
/// over acknowledged calls; MTTR: raise to resolution, over resolved calls.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct ResponseTimes {
    pub call_type: String,
    pub calls: i64,
    pub acknowledged: i64,
    pub resolved: i64,
    pub mean_seconds_to_acknowledge: Option<f64>,
    pub mean_seconds_to_resolve: Option<f64>,
}

pub async fn response_times(
    pool: &PgPool,
    line: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ResponseTimes>, sqlx::Error> {
    sqlx::query_as(
        "SELECT call_type, count(*) AS calls, count(acknowledged_at) AS acknowledged,
                count(*) FILTER (WHERE status = 'resolved') AS resolved,
                avg(EXTRACT(EPOCH FROM acknowledged_at - raised_at))::float8 AS mean_seconds_to_acknowledge,
                (avg(EXTRACT(EPOCH FROM closed_at - raised_at)) FILTER (WHERE status = 'resolved'))::float8
                    AS mean_seconds_to_resolve
         FROM read_andon WHERE line = $1 AND raised_at >= $2 AND raised_at < $3
         GROUP BY call_type ORDER BY call_type",
    )
    .bind(line)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}
