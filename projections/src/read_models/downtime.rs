//! Downtime read model: every stop of every line, open or ended, with its reason and loss category; a
//! list with filters and a Pareto of ended stops by reason or by loss category.

use chrono::{DateTime, Utc};
use domain::downtime::Downtime;
use sqlx::{PgConnection, PgPool};

use crate::engine::projection::ProjectionError;
use crate::read_models::folded::{FoldedProjection, Rows, name_of, to_state};

#[derive(Debug, Clone, Copy, Default)]
pub struct Stops;

impl FoldedProjection for Stops {
    const NAME: &'static str = "downtime";
    /// 2: the record states it keeps hold their signatures (rows of version 1 lack them).
    const VERSION: i32 = 2;
}

impl Rows for Stops {
    type Aggregate = Downtime;
    const TABLE: &'static str = "read_downtime";
    const ID: &'static str = "downtime_id";

    async fn write(
        &self,
        transaction: &mut PgConnection,
        id: &str,
        stop: &Downtime,
        position: i64,
    ) -> Result<String, ProjectionError> {
        let (Some(line), Some(interval)) = (&stop.line, &stop.interval) else {
            return Err(ProjectionError::Inconsistent(format!("stop {id} has events but never started")));
        };
        if stop.voided {
            // Recorded in error: out of every current list and Pareto; the trail keeps it.
            sqlx::query("DELETE FROM read_downtime WHERE downtime_id = $1").bind(id).execute(transaction).await?;
            return Ok(line.to_string());
        }
        let (ended_at, class) = interval.ended.map_or((None, None), |(at, class)| (Some(at), Some(name_of(&class))));
        let duration_ms = ended_at.map(|ended| (ended - interval.started_at).num_milliseconds());
        sqlx::query(
            "INSERT INTO read_downtime (downtime_id, line, equipment, started_at, ended_at, duration_ms, class,
                                        reason_code, loss_category, state, last_position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (downtime_id) DO UPDATE SET
                 ended_at = EXCLUDED.ended_at, duration_ms = EXCLUDED.duration_ms, class = EXCLUDED.class,
                 reason_code = EXCLUDED.reason_code, loss_category = EXCLUDED.loss_category,
                 state = EXCLUDED.state, last_position = EXCLUDED.last_position",
        )
        .bind(id)
        .bind(line.to_string())
        .bind(stop.equipment.as_ref().map(ToString::to_string))
        .bind(interval.started_at)
        .bind(ended_at)
        .bind(duration_ms)
        .bind(class)
        .bind(stop.reason.as_ref().map(|reason| reason.code.to_string()))
        .bind(name_of(&stop.loss_category()))
        .bind(to_state(stop)?)
        .bind(position)
        .execute(transaction)
        .await?;
        Ok(line.to_string())
    }
}

/// One stop as the read model has it. `duration_ms`, `ended_at` and `class` are empty while it is open.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct StopRow {
    pub downtime_id: String,
    pub line: String,
    pub equipment: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub class: Option<String>,
    pub reason_code: Option<String>,
    pub loss_category: String,
}

/// Stops of a line that started in [from, to), optionally only open ones, `limit` after the start time
/// and id `after` (for paging).
#[derive(Debug, Clone)]
pub struct StopFilter {
    pub line: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub open_only: bool,
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: i64,
}

pub async fn list(pool: &PgPool, filter: &StopFilter) -> Result<Vec<StopRow>, sqlx::Error> {
    let (after_time, after_id) = filter.after.clone().unzip();
    sqlx::query_as(
        "SELECT downtime_id, line, equipment, started_at, ended_at, duration_ms, class, reason_code, loss_category
         FROM read_downtime
         WHERE line = $1 AND started_at >= $2 AND started_at < $3 AND (NOT $4 OR ended_at IS NULL)
           AND ($5::timestamptz IS NULL OR (started_at, downtime_id) > ($5, $6))
         ORDER BY started_at, downtime_id LIMIT $7",
    )
    .bind(&filter.line)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.open_only)
    .bind(after_time)
    .bind(after_id)
    .bind(filter.limit)
    .fetch_all(pool)
    .await
}

/// What a Pareto groups ended downtime by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParetoBy {
    Reason,
    LossCategory,
}

/// One bar of a Pareto: the key (a reason code, `unexplained`, or a loss category), its stops and their
/// total duration.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct ParetoBar {
    pub key: String,
    pub stops: i64,
    pub duration_ms: i64,
}

/// Ended downtime (not small stops) of a line that started in [from, to), largest total duration first.
pub async fn pareto(
    pool: &PgPool,
    line: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: ParetoBy,
) -> Result<Vec<ParetoBar>, sqlx::Error> {
    let key = match by {
        ParetoBy::Reason => "COALESCE(reason_code, 'unexplained')",
        ParetoBy::LossCategory => "loss_category",
    };
    sqlx::query_as(&format!(
        "SELECT {key} AS key, count(*) AS stops, sum(duration_ms)::bigint AS duration_ms
         FROM read_downtime
         WHERE line = $1 AND started_at >= $2 AND started_at < $3 AND class = 'downtime'
         GROUP BY 1 ORDER BY 3 DESC, 1"
    ))
    .bind(line)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// Reliability of a line over a period, from ended downtime that started in it. A failure is an ended
/// stop of class downtime booked as unplanned loss (planned stops and setups are not failures).
/// MTTR = the failures' total duration / their number. MTBF = (the period's length minus all ended
/// downtime in it) / the number of failures. The period is calendar time: no shift calendar is applied,
/// so ask for a window within production time for production figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reliability {
    pub failures: i64,
    pub failure_ms: i64,
    pub downtime_ms: i64,
    pub period_ms: i64,
    pub mttr_ms: Option<f64>,
    pub mtbf_ms: Option<f64>,
}

pub async fn reliability(
    pool: &PgPool,
    line: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Reliability, sqlx::Error> {
    let (failures, failure_ms, downtime_ms): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE loss_category = 'unplanned'),
                COALESCE(sum(duration_ms) FILTER (WHERE loss_category = 'unplanned'), 0)::bigint,
                COALESCE(sum(duration_ms), 0)::bigint
         FROM read_downtime
         WHERE line = $1 AND started_at >= $2 AND started_at < $3 AND class = 'downtime'",
    )
    .bind(line)
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let period_ms = (to - from).num_milliseconds();
    let per_failure = |total: i64| (failures > 0).then(|| total as f64 / failures as f64);
    Ok(Reliability {
        failures,
        failure_ms,
        downtime_ms,
        period_ms,
        mttr_ms: per_failure(failure_ms),
        mtbf_ms: per_failure(period_ms - downtime_ms),
    })
}
