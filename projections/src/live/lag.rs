//! How far the read models behind the status boards are behind the log, for live streams to say so: a
//! board that is not being updated looks exactly like one with nothing to update, unless the client is
//! told. Worked out at most once a second per process, however many streams ask.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::live::line_status::READ_MODELS;

/// How long a figure is reused.
const REUSE: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct Lag {
    kept: Mutex<Option<(Instant, f64)>>,
}

impl Lag {
    /// Seconds since the oldest event that some read model of the boards has not applied yet was
    /// recorded; 0 when every one is up to date. Callers waiting while one reads get its figure.
    pub async fn behind_seconds(&self, pool: &PgPool) -> Result<f64, sqlx::Error> {
        let mut kept = self.kept.lock().await;
        if let Some((at, seconds)) = *kept
            && at.elapsed() < REUSE
        {
            return Ok(seconds);
        }
        let seconds = read(pool).await?;
        *kept = Some((Instant::now(), seconds));
        Ok(seconds)
    }
}

/// One index probe per read model: the first event in commit order after its checkpoint.
async fn read(pool: &PgPool) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(max(EXTRACT(EPOCH FROM clock_timestamp() - next.recorded_at)), 0)::float8
         FROM projection_checkpoints checkpoint
         CROSS JOIN LATERAL (
             SELECT recorded_at FROM events
             WHERE (transaction_id, position) > (checkpoint.transaction_id::text::xid8, checkpoint.position)
             ORDER BY transaction_id, position LIMIT 1) next
         WHERE checkpoint.name = ANY($1)",
    )
    .bind(READ_MODELS)
    .fetch_one(pool)
    .await
}
