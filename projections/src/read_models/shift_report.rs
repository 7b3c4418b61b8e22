//! What a shift report lists besides its figures (docs/oee.md, "Shift reports"), read from the OEE and
//! Andon read models over one shift occurrence: the units per job and product, every stop of the line
//! or its equipment that overlaps the shift, and the Andon calls raised during it.

use chrono::{DateTime, Utc};
use domain::downtime::{Downtime, StopClass};
use domain::oee::Interval;
use serde::Serialize;
use sqlx::PgPool;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobUnits {
    /// `None` for units counted before the read model kept jobs (until it is rebuilt).
    pub job: Option<String>,
    pub product: String,
    pub total: i64,
    pub good: i64,
    pub startup_rejects: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopEntry {
    pub downtime_id: String,
    /// `None` when the whole line stopped.
    pub equipment: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// `small_stop` or `downtime` once ended; `None` while open.
    pub class: Option<StopClass>,
    /// The reason's code, `None` while unassigned.
    pub reason: Option<String>,
    pub loss_category: Option<domain::values::LossCategory>,
    /// Its time inside the shift, up to now while it is open.
    pub in_shift_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallEntry {
    pub call_id: String,
    pub station: String,
    pub call_type: String,
    pub priority: String,
    pub status: String,
    pub raised_at: DateTime<Utc>,
    /// Raised to acknowledged; `None` while unacknowledged.
    pub response_ms: Option<i64>,
    /// Raised to resolved or cancelled; `None` while open.
    pub resolution_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftDetails {
    pub units: Vec<JobUnits>,
    pub stops: Vec<StopEntry>,
    pub calls: Vec<CallEntry>,
}

/// The details of `line` over `shift` as of `now`, in one statement (one snapshot).
pub async fn shift_details(
    pool: &PgPool,
    line: &str,
    shift: Interval,
    now: DateTime<Utc>,
) -> Result<ShiftDetails, sqlx::Error> {
    type Units = (Option<String>, String, i64, i64, i64);
    type Stop = (String, Option<String>, Downtime);
    type Call = (String, String, String, String, String, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    type Rows = (Json<Vec<Units>>, Json<Vec<Stop>>, Json<Vec<Call>>);
    let (Json(units), Json(stops), Json(calls)): Rows =
        sqlx::query_as(
            "SELECT
             (SELECT COALESCE(jsonb_agg(jsonb_build_array(job_id, product, total, good, startup) ORDER BY first, job_id), '[]')
              FROM (SELECT job_id, product, sum(total)::bigint AS total, sum(good)::bigint AS good,
                           sum(startup_reject)::bigint AS startup, min(made_at) AS first
                    FROM read_oee_counts WHERE line = $1 AND made_at >= $2 AND made_at < $3
                    GROUP BY job_id, product) units),
             (SELECT COALESCE(jsonb_agg(jsonb_build_array(downtime_id, equipment, state) ORDER BY started_at, downtime_id), '[]')
              FROM (SELECT downtime_id, equipment, state, started_at FROM read_oee_stops
                    WHERE line = $1 AND ended_at > $2 AND started_at < $3
                    UNION ALL
                    SELECT downtime_id, equipment, state, started_at FROM read_oee_stops
                    WHERE line = $1 AND ended_at IS NULL AND started_at < $3) overlapping),
             (SELECT COALESCE(jsonb_agg(jsonb_build_array(call_id, station, call_type, priority, status, raised_at,
                                                          acknowledged_at, closed_at) ORDER BY raised_at, call_id), '[]')
              FROM read_andon WHERE line = $1 AND raised_at >= $2 AND raised_at < $3)",
        )
        .bind(line)
        .bind(shift.start())
        .bind(shift.end())
        .fetch_one(pool)
        .await?;
    let units = units
        .into_iter()
        .map(|(job, product, total, good, startup_rejects)| JobUnits { job, product, total, good, startup_rejects })
        .collect();
    let stops = stops
        .into_iter()
        .filter_map(|(downtime_id, equipment, stop)| {
            let interval = stop.interval?;
            let until = interval.ended.map_or(now, |(at, _)| at);
            let in_shift_ms = Interval::new(interval.started_at, until)
                .and_then(|stopped| stopped.clip(&shift))
                .map_or(0, |inside| inside.duration_ms());
            Some(StopEntry {
                downtime_id,
                equipment,
                started_at: interval.started_at,
                ended_at: interval.ended.map(|(at, _)| at),
                class: interval.ended.map(|(_, class)| class),
                reason: stop.reason.as_ref().map(|reason| reason.code.to_string()),
                loss_category: stop.reason.map(|reason| reason.loss_category),
                in_shift_ms,
            })
        })
        .collect();
    let calls = calls
        .into_iter()
        .map(|(call_id, station, call_type, priority, status, raised_at, acknowledged_at, closed_at)| CallEntry {
            call_id,
            station,
            call_type,
            priority,
            status,
            raised_at,
            response_ms: acknowledged_at.map(|at| (at - raised_at).num_milliseconds()),
            resolution_ms: closed_at.map(|at| (at - raised_at).num_milliseconds()),
        })
        .collect();
    Ok(ShiftDetails { units, stops, calls })
}
