//! What the API answers, as the HTTP contract's own types with their schemas, converted from the read
//! models' rows and the domain's folded states, so that a row or a snapshot can change without changing
//! the contract. Several endpoints (and the live streams) answer with the same ones.
//!
//! Read-model rows are here; a record's state as its events fold it is in [`states`]; what the log
//! stores (event payloads and metadata, answered as stored) is described in [`stored`].

pub mod signatures;
pub mod states;
pub mod stored;
pub mod trail;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::oee_view::PeriodView;

/// One stop of a line.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Stop {
    pub downtime_id: String,
    pub line: String,
    pub equipment: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// `small_stop` or `downtime`, once it ended.
    pub class: Option<String>,
    pub reason_code: Option<String>,
    /// `unassigned` until the stop has a reason.
    pub loss_category: String,
}

impl From<projections::read_models::downtime::StopRow> for Stop {
    fn from(row: projections::read_models::downtime::StopRow) -> Self {
        let projections::read_models::downtime::StopRow {
            downtime_id,
            line,
            equipment,
            started_at,
            ended_at,
            duration_ms,
            class,
            reason_code,
            loss_category,
        } = row;
        Self { downtime_id, line, equipment, started_at, ended_at, duration_ms, class, reason_code, loss_category }
    }
}

/// One Andon call as the board and the history show it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CallView {
    pub call_id: String,
    pub line: String,
    pub station: String,
    pub call_type: String,
    pub priority: String,
    pub status: String,
    /// The escalation tier reached (1: raised).
    pub level: i16,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The printed name of who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When it was resolved or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<projections::read_models::andon::CallRow> for CallView {
    fn from(row: projections::read_models::andon::CallRow) -> Self {
        let projections::read_models::andon::CallRow {
            call_id,
            line,
            station,
            call_type,
            priority,
            status,
            level,
            raised_at,
            acknowledged_at,
            acknowledged_by,
            closed_at,
        } = row;
        Self {
            call_id,
            line,
            station,
            call_type,
            priority,
            status,
            level,
            raised_at,
            acknowledged_at,
            acknowledged_by,
            closed_at,
        }
    }
}

/// A job as the jobs read model has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub line: String,
    pub status: String,
    pub product: String,
    /// A whole number, as text (it may exceed what JSON numbers hold exactly).
    pub target_quantity: String,
    pub good: i64,
    pub reject: i64,
    /// The log position of the job's last event folded in.
    pub last_position: i64,
}

impl From<projections::read_models::jobs::JobRow> for JobView {
    fn from(row: projections::read_models::jobs::JobRow) -> Self {
        let projections::read_models::jobs::JobRow {
            job_id,
            line,
            status,
            product,
            target_quantity,
            good,
            reject,
            last_position,
        } = row;
        Self { job_id, line, status, product, target_quantity, good, reject, last_position }
    }
}

/// A line's status board.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoardView {
    pub line: String,
    /// The line's name and its site's time zone (IANA), once the OEE read model knows the line.
    pub name: Option<String>,
    pub time_zone: Option<String>,
    /// `stopped` while a stop of the whole line is open, else `running` while a job runs, else `unknown`.
    pub state: &'static str,
    /// The open stop of the whole line, with its reason once given.
    pub stop: Option<Stop>,
    /// The running or paused job, the newest if several.
    pub job: Option<JobView>,
    pub open_calls: Vec<CallView>,
    /// The shift occurrence running at the time of the query, up to then; `null` between shifts.
    pub shift_oee: Option<PeriodView>,
    /// Where each read model behind this board is in the log: `[projection, position]` pairs.
    pub freshness: Vec<(String, i64)>,
}

impl From<projections::live::line_status::LineStatus> for BoardView {
    fn from(status: projections::live::line_status::LineStatus) -> Self {
        Self {
            line: status.line,
            name: status.name,
            time_zone: status.time_zone,
            state: status.state,
            stop: status.stop.map(Stop::from),
            job: status.job.map(JobView::from),
            open_calls: status.open_calls.into_iter().map(CallView::from).collect(),
            shift_oee: status.shift_oee.map(PeriodView::from),
            freshness: status.freshness,
        }
    }
}
