//! Jobs read model: every job's state as the domain folds it, with its line, status, counts and
//! progress in columns for lists.

use domain::job::Job;
use sqlx::{PgConnection, PgPool};

use crate::engine::projection::ProjectionError;
use crate::read_models::folded::{FoldedProjection, Rows, name_of, to_state};

#[derive(Debug, Clone, Copy, Default)]
pub struct Jobs;

impl FoldedProjection for Jobs {
    const NAME: &'static str = "jobs";
    /// 2: the record states it keeps hold their signatures (rows of version 1 lack them).
    const VERSION: i32 = 2;
}

fn count(value: u64) -> Result<i64, ProjectionError> {
    i64::try_from(value).map_err(|_| ProjectionError::Inconsistent(format!("count {value} exceeds the read model")))
}

impl Rows for Jobs {
    type Aggregate = Job;
    const TABLE: &'static str = "read_jobs";
    const ID: &'static str = "job_id";

    async fn write(
        &self,
        transaction: &mut PgConnection,
        id: &str,
        job: &Job,
        position: i64,
    ) -> Result<String, ProjectionError> {
        let (Some(line), Some(product)) = (&job.line, &job.product) else {
            return Err(ProjectionError::Inconsistent(format!("job {id} has events but was never created")));
        };
        sqlx::query(
            "INSERT INTO read_jobs (job_id, line, status, product, target_quantity, good, reject, operator, state, last_position)
             VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10)
             ON CONFLICT (job_id) DO UPDATE SET
                 status = EXCLUDED.status, good = EXCLUDED.good, reject = EXCLUDED.reject,
                 operator = EXCLUDED.operator, state = EXCLUDED.state, last_position = EXCLUDED.last_position",
        )
        .bind(id)
        .bind(line.to_string())
        .bind(name_of(&job.status))
        .bind(product.to_string())
        .bind(job.target_quantity.to_string())
        .bind(count(job.good)?)
        .bind(count(job.reject)?)
        .bind(job.operator.map(domain::actor::UserId::as_uuid))
        .bind(to_state(job)?)
        .bind(position)
        .execute(transaction)
        .await?;
        Ok(line.to_string())
    }
}

/// One job as the read model has it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct JobRow {
    pub job_id: String,
    pub line: String,
    pub status: String,
    pub product: String,
    pub target_quantity: String,
    pub good: i64,
    pub reject: i64,
    pub last_position: i64,
}

/// Which jobs to list: by line and status, `limit` of them after the id `after` (ids sort in creation order
/// when they are UUID v7, as the service makes them).
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub line: Option<String>,
    pub status: Option<String>,
    pub after: Option<String>,
    pub limit: i64,
}

pub async fn list(pool: &PgPool, filter: &JobFilter) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT job_id, line, status, product, target_quantity::text AS target_quantity, good, reject, last_position
         FROM read_jobs
         WHERE ($1::text IS NULL OR line = $1) AND ($2::text IS NULL OR status = $2)
           AND ($3::text IS NULL OR job_id > $3)
         ORDER BY job_id LIMIT $4",
    )
    .bind(&filter.line)
    .bind(&filter.status)
    .bind(&filter.after)
    .bind(filter.limit)
    .fetch_all(pool)
    .await
}

/// One job with its whole folded state (counters, operator), or `None` before the read model reaches it.
pub async fn detail(pool: &PgPool, job_id: &str) -> Result<Option<(JobRow, serde_json::Value)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct WithState {
        #[sqlx(flatten)]
        row: JobRow,
        state: serde_json::Value,
    }
    let found: Option<WithState> = sqlx::query_as(
        "SELECT job_id, line, status, product, target_quantity::text AS target_quantity, good, reject, last_position,
                state
         FROM read_jobs WHERE job_id = $1",
    )
    .bind(job_id)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|found| (found.row, found.state)))
}
