//! Andon read model: every call with its status, escalation level and response times; the board of open
//! calls of a line, their history, and mean times to acknowledge and to resolve per call type and shift.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use commands::StoreError;
use commands::event_log::{RecordedEvent, current_state};
use domain::aggregate::Aggregate;
use domain::andon::AndonCall;
use domain::line::Line;
use domain::oee::Interval;
use sqlx::{PgConnection, PgPool};

use crate::engine::projection::ProjectionError;
use crate::read_models::folded::{FoldedProjection, Rows, name_of, to_state};

#[derive(Debug, Clone, Copy, Default)]
pub struct Calls;

impl FoldedProjection for Calls {
    const NAME: &'static str = "andon";
    const VERSION: i32 = 1;

    /// Who acknowledged each call: the printed name in its `AndonAcknowledged` event's metadata.
    async fn annotate(&self, transaction: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let acknowledgements = events.iter().filter(|event| {
            event.aggregate_type == <AndonCall as Aggregate>::TYPE && event.event_type == "AndonAcknowledged"
        });
        for event in acknowledgements {
            let by = event.metadata.get("actor_name").and_then(serde_json::Value::as_str);
            sqlx::query("UPDATE read_andon SET acknowledged_by = $2 WHERE call_id = $1")
                .bind(&event.aggregate_id)
                .bind(by)
                .execute(&mut *transaction)
                .await?;
        }
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
    ) -> Result<String, ProjectionError> {
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
        Ok(line.to_string())
    }
}

/// One call as the board and the history show it.
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
    /// The printed name of who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When it was resolved or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
}

/// The columns of a [`CallRow`], for every query that reads one.
pub(crate) const CALL_COLUMNS: &str = "call_id, line, station, call_type, priority, status, level, raised_at, acknowledged_at, acknowledged_by, closed_at";

/// The open calls of a line (raised or acknowledged), oldest first.
pub async fn open_calls(pool: &PgPool, line: &str) -> Result<Vec<CallRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CALL_COLUMNS} FROM read_andon WHERE line = $1 AND closed_at IS NULL ORDER BY raised_at, call_id"
    ))
    .bind(line)
    .fetch_all(pool)
    .await
}

/// Which calls of a line's history to list: raised in `range`, optionally of one type and status, `limit`
/// of them after the call `after` (in order of raising).
#[derive(Debug, Clone)]
pub struct HistoryFilter {
    pub line: String,
    pub range: Interval,
    pub call_type: Option<String>,
    pub status: Option<String>,
    pub after: Option<String>,
    pub limit: i64,
}

/// Calls in the order they were raised, open and closed alike.
pub async fn history(pool: &PgPool, filter: &HistoryFilter) -> Result<Vec<CallRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CALL_COLUMNS} FROM read_andon
         WHERE line = $1 AND raised_at >= $2 AND raised_at < $3
           AND ($4::text IS NULL OR call_type = $4) AND ($5::text IS NULL OR status = $5)
           AND ($6::text IS NULL
                OR (raised_at, call_id) > (SELECT raised_at, call_id FROM read_andon WHERE call_id = $6))
         ORDER BY raised_at, call_id LIMIT $7"
    ))
    .bind(&filter.line)
    .bind(filter.range.start())
    .bind(filter.range.end())
    .bind(&filter.call_type)
    .bind(&filter.status)
    .bind(&filter.after)
    .bind(filter.limit)
    .fetch_all(pool)
    .await
}

/// Every open call of every line, for the escalation scheduler.
pub async fn all_open(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT call_id FROM read_andon WHERE closed_at IS NULL ORDER BY raised_at")
        .fetch_all(pool)
        .await
}

/// Response times of the calls of one call type. MTTA: mean time from raise to acknowledgement, over the
/// acknowledged calls; MTTR: mean time from raise to resolution, over the resolved calls (a cancelled
/// call was never resolved, and counts in neither).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResponseTimes {
    pub call_type: String,
    pub calls: usize,
    pub acknowledged: usize,
    pub resolved: usize,
    pub mean_seconds_to_acknowledge: Option<f64>,
    pub mean_seconds_to_resolve: Option<f64>,
}

/// The response times of the calls raised in one shift occurrence, by call type. Calls raised outside
/// every shift are grouped with no shift, so none is left out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ShiftResponseTimes {
    pub shift: Option<String>,
    /// The local date the shift started on.
    pub date: Option<NaiveDate>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub by_call_type: Vec<ResponseTimes>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LineResponseTimes {
    pub by_call_type: Vec<ResponseTimes>,
    pub by_shift: Vec<ShiftResponseTimes>,
}

#[derive(Debug, sqlx::FromRow)]
struct Answered {
    call_type: String,
    status: String,
    raised_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
}

/// The response times of a line's calls raised in `range`, by call type, and by shift occurrence and
/// call type. Shifts follow the line's calendar as its events say now, each occurrence under the version
/// in force when it started, as the OEE figures do.
pub async fn response_times(pool: &PgPool, line: &str, range: Interval) -> Result<LineResponseTimes, StoreError> {
    let calls: Vec<Answered> = sqlx::query_as(
        "SELECT call_type, status, raised_at, acknowledged_at, closed_at FROM read_andon
         WHERE line = $1 AND raised_at >= $2 AND raised_at < $3 ORDER BY raised_at, call_id",
    )
    .bind(line)
    .bind(range.start())
    .bind(range.end())
    .fetch_all(pool)
    .await?;
    let config = current_state::<Line>(pool, line).await?;
    // A call early in the range can belong to a shift that started up to two days before it.
    let shifts = Interval::new(range.start() - Duration::days(2), range.end())
        .map_or_else(Vec::new, |span| config.scheduled(span));
    let shift_of = |call: &Answered| {
        shifts
            .iter()
            .position(|shift| shift.interval.start() <= call.raised_at && call.raised_at < shift.interval.end())
    };
    let mut by_shift: BTreeMap<Option<usize>, Vec<&Answered>> = BTreeMap::new();
    for call in &calls {
        by_shift.entry(shift_of(call)).or_default().push(call);
    }
    let by_shift = by_shift
        .into_iter()
        .map(|(index, calls)| {
            let shift = index.and_then(|index| shifts.get(index));
            ShiftResponseTimes {
                shift: shift.map(|shift| shift.shift.to_string()),
                date: shift.map(|shift| shift.date),
                start: shift.map(|shift| shift.interval.start()),
                end: shift.map(|shift| shift.interval.end()),
                by_call_type: by_call_type(calls),
            }
        })
        .collect();
    Ok(LineResponseTimes { by_call_type: by_call_type(calls.iter().collect()), by_shift })
}

fn by_call_type(calls: Vec<&Answered>) -> Vec<ResponseTimes> {
    let mut grouped: BTreeMap<&str, Vec<&Answered>> = BTreeMap::new();
    for call in calls {
        grouped.entry(call.call_type.as_str()).or_default().push(call);
    }
    grouped.into_iter().map(|(call_type, calls)| tally(call_type, &calls)).collect()
}

fn tally(call_type: &str, calls: &[&Answered]) -> ResponseTimes {
    let to_acknowledge: Vec<Duration> =
        calls.iter().filter_map(|call| Some(call.acknowledged_at? - call.raised_at)).collect();
    let to_resolve: Vec<Duration> = calls
        .iter()
        .filter(|call| call.status == "resolved")
        .filter_map(|call| Some(call.closed_at? - call.raised_at))
        .collect();
    let mean_seconds = |times: &[Duration]| {
        let total_ms: i64 = times.iter().map(Duration::num_milliseconds).sum();
        (!times.is_empty()).then(|| total_ms as f64 / 1000.0 / times.len() as f64)
    };
    ResponseTimes {
        call_type: call_type.to_owned(),
        calls: calls.len(),
        acknowledged: to_acknowledge.len(),
        resolved: to_resolve.len(),
        mean_seconds_to_acknowledge: mean_seconds(&to_acknowledge),
        mean_seconds_to_resolve: mean_seconds(&to_resolve),
    }
}
