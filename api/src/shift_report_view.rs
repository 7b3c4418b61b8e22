//! A shift's hour-by-hour board and its report as the API answers them (docs/oee.md, "Hour by hour" and
//! "Shift reports"). The report's content is what an approval signs: its canonical form is the exact
//! JSON these types serialise to (fields in declaration order, no timestamps of the request), so the
//! same facts always give the same bytes and the same digest.

use chrono::{DateTime, NaiveDate, Utc};
use domain::downtime::StopClass;
use domain::oee::HourRow;
use domain::shift_report::HandoverNote;
use domain::values::LossCategory;
use projections::read_models::oee::query::ShiftFigures;
use projections::read_models::shift_report::{CallEntry, JobUnits, ShiftDetails, StopEntry};
use serde::Serialize;
use utoipa::ToSchema;

use crate::oee_view::WindowView;

/// Units of one job and product made during the shift.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobUnitsView {
    /// `null` for units counted before the read model kept jobs (until it is rebuilt).
    pub job: Option<String>,
    pub product: String,
    pub total: i64,
    pub good: i64,
    pub reject: i64,
    pub startup_rejects: i64,
}

impl From<JobUnits> for JobUnitsView {
    fn from(units: JobUnits) -> Self {
        let JobUnits { job, product, total, good, startup_rejects } = units;
        Self { job, product, total, good, reject: total - good, startup_rejects }
    }
}

/// A stop of the line, or of one of its machines, that overlaps the shift.
#[derive(Debug, Serialize, ToSchema)]
pub struct StopEntryView {
    pub downtime_id: String,
    /// `null` when the whole line stopped (only those count in OEE).
    pub equipment: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// `small_stop` or `downtime` once ended; `null` while open.
    #[schema(value_type = Option<String>, example = "downtime")]
    pub class: Option<StopClass>,
    /// `null` while unassigned.
    pub reason: Option<String>,
    #[schema(value_type = Option<String>, example = "unplanned")]
    pub loss_category: Option<LossCategory>,
    /// Its time inside the shift, up to now while it is open.
    pub in_shift_ms: u64,
}

impl From<StopEntry> for StopEntryView {
    fn from(stop: StopEntry) -> Self {
        let StopEntry { downtime_id, equipment, started_at, ended_at, class, reason, loss_category, in_shift_ms } =
            stop;
        Self { downtime_id, equipment, started_at, ended_at, class, reason, loss_category, in_shift_ms }
    }
}

/// An Andon call raised during the shift.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallEntryView {
    pub call_id: String,
    pub station: String,
    pub call_type: String,
    pub priority: String,
    pub status: String,
    pub raised_at: DateTime<Utc>,
    /// Raised to acknowledged; `null` while unacknowledged.
    pub response_ms: Option<i64>,
    /// Raised to resolved or cancelled; `null` while open.
    pub resolution_ms: Option<i64>,
}

impl From<CallEntry> for CallEntryView {
    fn from(call: CallEntry) -> Self {
        let CallEntry { call_id, station, call_type, priority, status, raised_at, response_ms, resolution_ms } = call;
        Self { call_id, station, call_type, priority, status, raised_at, response_ms, resolution_ms }
    }
}

/// What a shift report holds; an approval signs exactly this (see the module's note on its form).
#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftReportContent {
    pub line: String,
    pub date: NaiveDate,
    pub shift: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The crew the line's rotation names for the shift.
    pub crew: Option<String>,
    /// The shift's OEE with its inputs, A/P/Q, utilization, TEEP and loss tree: the same figures as
    /// the shift's period of `GET /api/v1/oee` and the status board.
    pub oee: WindowView,
    pub hours: Vec<HourRow>,
    pub units: Vec<JobUnitsView>,
    /// Every stop with its reason; `reason: null` are the unassigned ones.
    pub stops: Vec<StopEntryView>,
    pub andon_calls: Vec<CallEntryView>,
    pub handover_notes: Vec<HandoverNote>,
}

impl ShiftReportContent {
    pub fn new(line: String, figures: ShiftFigures, details: ShiftDetails, notes: Vec<HandoverNote>) -> Self {
        Self {
            line,
            date: figures.occurrence.date,
            shift: figures.occurrence.shift.to_string(),
            start: figures.occurrence.interval.start(),
            end: figures.occurrence.interval.end(),
            crew: figures.occurrence.crew.as_ref().map(ToString::to_string),
            oee: figures.oee.into(),
            hours: figures.hours,
            units: details.units.into_iter().map(JobUnitsView::from).collect(),
            stops: details.stops.into_iter().map(StopEntryView::from).collect(),
            andon_calls: details.calls.into_iter().map(CallEntryView::from).collect(),
            handover_notes: notes,
        }
    }

    /// The canonical form an approval signs.
    pub fn canonical(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}
