//! OEE read model: the facts OEE is computed from (each line's configuration, ideal cycle time versions,
//! every count at the time it was made, every stop). Figures are formed per query by
//! `domain::oee::window` ([`query`]), because an open stop counts up to the query's "now" and a
//! configuration version may take effect in the past.

pub mod changeovers;
pub mod query;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use commands::event_log::RecordedEvent;
use domain::Aggregate as _;
use domain::downtime::Downtime;
use domain::job::{CountKind, Job, JobEvent};
use domain::line::{Line, LineEvent};
use domain::values::RejectCategory;
use sqlx::PgConnection;

use crate::engine::projection::{ChangedLines, Projection, ProjectionError};
use crate::read_models::folded::{Rows, fold_batch, to_state};

#[derive(Debug, Clone, Copy, Default)]
pub struct Oee;

/// The read model's tables, in each colour.
pub const TABLES: [&str; 6] = [
    "read_oee_lines",
    "read_oee_cycle_times",
    "read_oee_jobs",
    "read_oee_counts",
    "read_oee_count_hours",
    "read_oee_stops",
];

impl Projection for Oee {
    const NAME: &'static str = "oee";
    /// 2: counts keep their job, and are summed per hour (migration 20261201000700).
    const VERSION: i32 = 2;
    const BLUE_GREEN: bool = true;

    async fn apply(
        &self,
        transaction: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<ChangedLines, ProjectionError> {
        let mut changed = fold_batch(&Lines, transaction, events).await?;
        changed.append(&mut fold_batch(&StopRows, transaction, events).await?);
        for event in events.iter().filter(|event| event.aggregate_type == Line::TYPE) {
            if let LineEvent::IdealCycleTimeSet { product, version, ideal_cycle_time, effective_from, .. } =
                event.decode()?
            {
                record_cycle_time(
                    transaction,
                    &event.aggregate_id,
                    &product.to_string(),
                    version,
                    ideal_cycle_time.get(),
                    effective_from,
                )
                .await?;
                changed.insert(event.aggregate_id.clone());
            }
        }
        changed.append(&mut record_counts(transaction, events).await?);
        Ok(changed)
    }

    async fn reset(&self, transaction: &mut PgConnection) -> Result<(), ProjectionError> {
        // DELETE, not TRUNCATE: its lock would make every dashboard query wait, since the views that
        // queries read name this schema's tables too.
        for table in TABLES {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *transaction).await?;
        }
        Ok(())
    }
}

/// A new version ends the one before it where it takes effect.
async fn record_cycle_time(
    transaction: &mut PgConnection,
    line: &str,
    product: &str,
    version: u32,
    ideal_ms: u64,
    effective_from: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    let version = i32::try_from(version).map_err(|_| inconsistent(format!("version {version} of {product}")))?;
    let ideal_ms = i64::try_from(ideal_ms).map_err(|_| inconsistent(format!("ideal cycle time {ideal_ms} ms")))?;
    sqlx::query(
        "WITH ended AS (
             UPDATE read_oee_cycle_times SET effective_to = $5
             WHERE line = $1 AND product = $2 AND version = $3 - 1)
         INSERT INTO read_oee_cycle_times (line, product, version, effective_from, ideal_ms)
         VALUES ($1, $2, $3, $5, $4)",
    )
    .bind(line)
    .bind(product)
    .bind(version)
    .bind(ideal_ms)
    .bind(effective_from)
    .execute(transaction)
    .await?;
    Ok(())
}

/// One counting event: the units a job made (or a correction took back) at `made_at`.
struct Count<'a> {
    position: i64,
    job: &'a str,
    made_at: DateTime<Utc>,
    total: i64,
    good: i64,
    /// Of the rejects, those booked with a start-up reject reason.
    startup_reject: i64,
}

/// Books the batch's counts, each with its job's line and product, in one statement. Returns their lines.
async fn record_counts(
    transaction: &mut PgConnection,
    events: &[RecordedEvent],
) -> Result<ChangedLines, ProjectionError> {
    let mut jobs: HashMap<&str, (String, String)> = HashMap::new();
    let mut counts = Vec::new();
    for event in events.iter().filter(|event| event.aggregate_type == Job::TYPE) {
        let job = event.aggregate_id.as_str();
        let units = |total: u64, good: u64| -> Result<(i64, i64), ProjectionError> {
            let signed = |n: u64| i64::try_from(n).map_err(|_| inconsistent(format!("count {n} of job {job}")));
            Ok((signed(total)?, signed(good)?))
        };
        let mut startup_reject = 0;
        let (made_at, (total, good)) = match event.decode()? {
            JobEvent::JobCreated { line, product, .. } => {
                jobs.insert(job, (line.to_string(), product.to_string()));
                continue;
            }
            JobEvent::ProductionRecorded { good, reject, reject_category, at, .. } => {
                let total = good.checked_add(reject).ok_or_else(|| inconsistent(format!("count of job {job}")))?;
                if reject_category == Some(RejectCategory::Startup) {
                    startup_reject = units(reject, 0)?.0;
                }
                (source_time(event).unwrap_or(at), units(total, good)?)
            }
            JobEvent::ProductionCorrected { good_delta, reject_delta, at, .. } => {
                let total = good_delta.checked_add(reject_delta);
                (
                    source_time(event).unwrap_or(at),
                    (total.ok_or_else(|| inconsistent(format!("correction of job {job}")))?, good_delta),
                )
            }
            JobEvent::CounterProductionCounted { kind, delta, source_timestamp, .. } => {
                let good = if kind == CountKind::Good { delta } else { 0 };
                (source_timestamp, units(delta, good)?)
            }
            _ => continue,
        };
        if total != 0 || good != 0 {
            counts.push(Count { position: event.position, job, made_at, total, good, startup_reject });
        }
    }
    insert_jobs(transaction, &jobs).await?;
    let unknown: Vec<&str> = counts.iter().map(|count| count.job).filter(|job| !jobs.contains_key(job)).collect();
    let known: Vec<(String, String, String)> =
        sqlx::query_as("SELECT job_id, line, product FROM read_oee_jobs WHERE job_id = ANY($1)")
            .bind(&unknown)
            .fetch_all(&mut *transaction)
            .await?;
    let known: HashMap<String, (String, String)> =
        known.into_iter().map(|(job, line, product)| (job, (line, product))).collect();
    let mut columns = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for count in &counts {
        let (line, product) = jobs
            .get(count.job)
            .or_else(|| known.get(count.job))
            .ok_or_else(|| inconsistent(format!("counts of job {} that was never created", count.job)))?;
        columns.0.push(count.position);
        columns.1.push(line.as_str());
        columns.2.push(product.as_str());
        columns.3.push(count.made_at);
        columns.4.push(count.total);
        columns.5.push(count.good);
        columns.6.push(count.startup_reject);
        columns.7.push(count.job);
    }
    if counts.is_empty() {
        return Ok(ChangedLines::new());
    }
    // The counts, and the same units summed into their UTC hours, in one statement.
    sqlx::query(
        "WITH counted AS (
             INSERT INTO read_oee_counts (position, line, product, made_at, total, good, startup_reject, job_id)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[],
                                  $6::bigint[], $7::bigint[], $8::text[])
             RETURNING line, product, made_at, total, good, startup_reject)
         INSERT INTO read_oee_count_hours AS h (line, hour, product, total, good, startup_reject)
         SELECT line, date_trunc('hour', made_at, 'UTC'), product, sum(total), sum(good), sum(startup_reject)
         FROM counted
         GROUP BY 1, 2, 3
         ON CONFLICT (line, hour, product) DO UPDATE SET
             total = h.total + EXCLUDED.total, good = h.good + EXCLUDED.good,
             startup_reject = h.startup_reject + EXCLUDED.startup_reject",
    )
    .bind(&columns.0)
    .bind(&columns.1)
    .bind(&columns.2)
    .bind(&columns.3)
    .bind(&columns.4)
    .bind(&columns.5)
    .bind(&columns.6)
    .bind(&columns.7)
    .execute(transaction)
    .await?;
    Ok(columns.1.into_iter().map(str::to_owned).collect())
}

async fn insert_jobs(
    transaction: &mut PgConnection,
    jobs: &HashMap<&str, (String, String)>,
) -> Result<(), ProjectionError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let (ids, (lines, products)): (Vec<&str>, (Vec<&str>, Vec<&str>)) =
        jobs.iter().map(|(id, (line, product))| (*id, (line.as_str(), product.as_str()))).unzip();
    sqlx::query(
        "INSERT INTO read_oee_jobs (job_id, line, product) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
    )
    .bind(&ids)
    .bind(&lines)
    .bind(&products)
    .execute(transaction)
    .await?;
    Ok(())
}

/// When the units were made at the source, if the command said (a tablet's or gateway's clock).
fn source_time(event: &RecordedEvent) -> Option<DateTime<Utc>> {
    let text = event.metadata.get("source_timestamp")?.as_str()?;
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&Utc))
}

fn inconsistent(what: String) -> ProjectionError {
    ProjectionError::Inconsistent(what)
}

/// Each line's configuration as the domain folds it.
struct Lines;

impl Rows for Lines {
    type Aggregate = Line;
    const TABLE: &'static str = "read_oee_lines";
    const ID: &'static str = "line";

    async fn write(
        &self,
        transaction: &mut PgConnection,
        id: &str,
        line: &Line,
        position: i64,
    ) -> Result<String, ProjectionError> {
        sqlx::query(
            "INSERT INTO read_oee_lines (line, state, last_position) VALUES ($1, $2, $3)
             ON CONFLICT (line) DO UPDATE SET state = EXCLUDED.state, last_position = EXCLUDED.last_position",
        )
        .bind(id)
        .bind(to_state(line)?)
        .bind(position)
        .execute(transaction)
        .await?;
        Ok(id.to_owned())
    }
}

/// Every stop with its interval, class and reason as the domain folds it.
struct StopRows;

impl Rows for StopRows {
    type Aggregate = Downtime;
    const TABLE: &'static str = "read_oee_stops";
    const ID: &'static str = "downtime_id";

    async fn write(
        &self,
        transaction: &mut PgConnection,
        id: &str,
        stop: &Downtime,
        position: i64,
    ) -> Result<String, ProjectionError> {
        let (Some(line), Some(interval)) = (&stop.line, &stop.interval) else {
            return Err(inconsistent(format!("stop {id} has events but never started")));
        };
        if stop.voided {
            // Recorded in error: no figure counts it any more.
            sqlx::query("DELETE FROM read_oee_stops WHERE downtime_id = $1").bind(id).execute(transaction).await?;
            return Ok(line.to_string());
        }
        sqlx::query(
            "INSERT INTO read_oee_stops (downtime_id, line, equipment, started_at, ended_at, state, last_position)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (downtime_id) DO UPDATE SET
                 ended_at = EXCLUDED.ended_at, state = EXCLUDED.state, last_position = EXCLUDED.last_position",
        )
        .bind(id)
        .bind(line.to_string())
        .bind(stop.equipment.as_ref().map(ToString::to_string))
        .bind(interval.started_at)
        .bind(interval.ended.map(|(at, _)| at))
        .bind(to_state(stop)?)
        .bind(position)
        .execute(transaction)
        .await?;
        Ok(line.to_string())
    }
}
