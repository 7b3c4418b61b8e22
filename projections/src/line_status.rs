//! The line status board, composed from the jobs, downtime and Andon read models: whether a line runs,
//! is stopped (and why) or is unknown; its current job and progress; its open Andon calls.

use serde::Serialize;
use sqlx::PgPool;

use crate::andon::{self, CallRow};
use crate::checkpoint;
use crate::downtime::StopRow;
use crate::jobs::JobRow;
use crate::projection::Projection;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineStatus {
    pub line: String,
    /// `stopped` while a stop of the whole line is open, else `running` while a job runs, else `unknown`.
    pub state: &'static str,
    /// The open stop of the whole line, with its reason once given.
    pub stop: Option<StopRow>,
    /// The running or paused job, the newest if several.
    pub job: Option<JobRow>,
    pub open_calls: Vec<CallRow>,
    /// Where each read model behind this status is in the log (projection, position).
    pub freshness: Vec<(String, i64)>,
}

pub async fn line_status(pool: &PgPool, line: &str) -> Result<LineStatus, sqlx::Error> {
    // Checkpoints first: the rows read after them are at least as fresh.
    let mut freshness = Vec::new();
    for (name, version) in [
        (crate::jobs::Jobs::NAME, crate::jobs::Jobs::VERSION),
        (crate::downtime::Stops::NAME, crate::downtime::Stops::VERSION),
        (crate::andon::Calls::NAME, crate::andon::Calls::VERSION),
    ] {
        freshness.push((name.to_owned(), checkpoint::load(pool, name, version).await?.position));
    }
    let stop: Option<StopRow> = sqlx::query_as(
        "SELECT downtime_id, line, equipment, started_at, ended_at, duration_ms, class, reason_code, loss_category
         FROM read_downtime WHERE line = $1 AND ended_at IS NULL AND equipment IS NULL
         ORDER BY started_at DESC LIMIT 1",
    )
    .bind(line)
    .fetch_optional(pool)
    .await?;
    let job: Option<JobRow> = sqlx::query_as(
        "SELECT job_id, line, status, product, target_quantity::text AS target_quantity, good, reject, last_position
         FROM read_jobs WHERE line = $1 AND status IN ('running', 'paused') ORDER BY job_id DESC LIMIT 1",
    )
    .bind(line)
    .fetch_optional(pool)
    .await?;
    let state = match (&stop, &job) {
        (Some(_), _) => "stopped",
        (None, Some(job)) if job.status == "running" => "running",
        _ => "unknown",
    };
    let open_calls = andon::open_calls(pool, line).await?;
    Ok(LineStatus { line: line.to_owned(), state, stop, job, open_calls, freshness })
}
