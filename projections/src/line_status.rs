//! The line status board, composed from the jobs, downtime and Andon read models: whether a line runs,
//! is stopped (and why) or is unknown; its current job and progress; its open Andon calls; the OEE of
//! the shift running now, so far.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use sqlx::types::Json;

use crate::andon::{CALL_COLUMNS, CallRow};
use crate::downtime::StopRow;
use crate::jobs::JobRow;
use crate::oee::query::Period;
use crate::projection::Projection as _;

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
    /// The shift occurrence running at the time of the query, up to then; `None` between shifts.
    pub shift_oee: Option<Period>,
    /// Where each read model behind this status is in the log (projection, position).
    pub freshness: Vec<(String, i64)>,
}

/// The read models a status is made of.
const READ_MODELS: [&str; 4] =
    [crate::andon::Calls::NAME, crate::downtime::Stops::NAME, crate::jobs::Jobs::NAME, crate::oee::Oee::NAME];

/// Where each read model behind the status board is in the log (projection, position), by name.
pub async fn positions(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT name, position FROM projection_checkpoints WHERE name = ANY($1) ORDER BY name")
        .bind(READ_MODELS)
        .fetch_all(pool)
        .await
}

/// The row of the status query: each part as JSON.
type StatusRow = (Json<Vec<(String, i64)>>, Option<Json<StopRow>>, Option<Json<JobRow>>, Json<Vec<CallRow>>);

/// The status, job and calls come from one statement, so one snapshot: those rows and the checkpoints
/// beside them are exactly consistent. The shift's OEE is read after it, so it is at least as fresh.
pub async fn line_status(pool: &PgPool, line: &str, now: DateTime<Utc>) -> Result<LineStatus, sqlx::Error> {
    let (freshness, stop, job, open_calls): StatusRow = sqlx::query_as(&format!(
        "SELECT
               (SELECT COALESCE(jsonb_agg(jsonb_build_array(name, position) ORDER BY name), '[]')
                  FROM projection_checkpoints WHERE name = ANY($2)),
               (SELECT to_jsonb(s) FROM (
                  SELECT downtime_id, line, equipment, started_at, ended_at, duration_ms, class, reason_code,
                         loss_category
                  FROM read_downtime WHERE line = $1 AND ended_at IS NULL AND equipment IS NULL
                  ORDER BY started_at DESC LIMIT 1) s),
               (SELECT to_jsonb(j) FROM (
                  SELECT job_id, line, status, product, target_quantity::text AS target_quantity, good, reject,
                         last_position
                  FROM read_jobs WHERE line = $1 AND status IN ('running', 'paused')
                  ORDER BY job_id DESC LIMIT 1) j),
               (SELECT COALESCE(jsonb_agg(to_jsonb(c) ORDER BY c.raised_at, c.call_id), '[]') FROM (
                  SELECT {CALL_COLUMNS} FROM read_andon WHERE line = $1 AND closed_at IS NULL) c)"
    ))
    .bind(line)
    .bind(READ_MODELS)
    .fetch_one(pool)
    .await?;
    let (stop, job) = (stop.map(|stop| stop.0), job.map(|job| job.0));
    let state = match (&stop, &job) {
        (Some(_), _) => "stopped",
        (None, Some(job)) if job.status == "running" => "running",
        _ => "unknown",
    };
    let shift_oee = crate::oee::query::current_shift(pool, line, now).await?;
    Ok(LineStatus {
        line: line.to_owned(),
        state,
        stop,
        job,
        open_calls: open_calls.0,
        shift_oee,
        freshness: freshness.0,
    })
}
