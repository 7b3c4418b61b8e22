//! Lines and their configuration (engineers): registration, equipment, ideal cycle times, shift
//! calendars, the small-stop threshold, Andon escalation ladders and the downtime reason tree. Settings are versioned with an
//! effective-from time; replacing one needs a reason (Part 11 RC-03).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::andon::{CallType, EscalationLadder};
use domain::line::{CrewRotation, LineCommand, NonProductionDay, ShiftDefinition};
use domain::line_id::LineId;
use domain::values::{EquipmentId, LossCategory, Millis, Name, ProductId, Reason, ReasonCode, RejectCategory};
use projections::live::line_status::Staleness;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::access::{CONFIGURE_LINES, READ_BOARDS, READ_RECORDS};
use crate::auth::{Target, authorize};
use crate::command_call::{CommandCall, CommandResponses, Reply};
use crate::error::ApiError;
use crate::json::Json;
use crate::query_call::LinePath;
use crate::query_call::{QueryCall, QueryErrors, RecordNotFound};
use crate::views::BoardView;
use crate::views::states::LineView;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // A scope per kind of record: the router then tries only this module's patterns.
    config.service(
        utoipa_actix_web::scope("/api/v1/lines")
            .service(register)
            .service(read)
            .service(status)
            .service(add_equipment)
            .service(set_ideal_cycle_time)
            .service(set_shift_calendar)
            .service(set_non_production_days)
            .service(set_small_stop_threshold)
            .service(set_escalation_ladder)
            .service(define_downtime_reason)
            .service(define_reject_reason)
            .service(set_crew_rotation),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterLine {
    #[schema(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    #[schema(value_type = String)]
    pub name: Name,
    /// IANA time zone of the plant, for shift calendars.
    #[schema(value_type = String, example = "Europe/Berlin")]
    pub time_zone: Tz,
}

#[utoipa::path(tag = "lines", request_body = RegisterLine, responses(CommandResponses))]
#[post("")]
async fn register(call: CommandCall, body: Json<RegisterLine>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond_created(digest, async {
        let actor = call.authorize(CONFIGURE_LINES, Target::Line(&value.line))?;
        let id = value.line.to_string();
        let command = LineCommand::Register { line: value.line, name: value.name, time_zone: value.time_zone };
        call.execute(&call.app.lines, &id, command, actor).await
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineRecord {
    pub line: String,
    pub version: u64,
    pub state: LineView,
}

#[utoipa::path(tag = "lines", params(LinePath), responses(
    (status = 200, body = LineRecord), QueryErrors, RecordNotFound))]
#[get("/{site}/{area}/{line}")]
async fn read(call: QueryCall, path: web::Path<LinePath>) -> Result<HttpResponse, ApiError> {
    let line = path.parse()?;
    authorize(&call.principal, READ_RECORDS, Target::Line(&line))?;
    match call.app.lines.state_and_version(&line.to_string()).await? {
        (_, 0) => Err(ApiError::not_found("line", &line.to_string())),
        (state, version) => {
            Ok(HttpResponse::Ok().json(LineRecord { line: line.to_string(), version, state: state.into() }))
        }
    }
}

/// A configuration command on a registered line.
async fn configure_line(call: &CommandCall, path: &LinePath, command: LineCommand) -> Result<Reply, ApiError> {
    let line = path.parse()?;
    let id = line.to_string();
    call.existing(&call.app.lines, "line", &id).await?;
    let actor = call.authorize(CONFIGURE_LINES, Target::Line(&line))?;
    call.execute(&call.app.lines, &id, command, actor).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddEquipment {
    #[schema(value_type = String)]
    pub equipment: EquipmentId,
    #[schema(value_type = String)]
    pub name: Name,
}

#[utoipa::path(tag = "lines", params(LinePath), request_body = AddEquipment, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/equipment")]
async fn add_equipment(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<AddEquipment>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::AddEquipment { equipment: value.equipment, name: value.name };
    call.respond(digest, configure_line(&call, &path, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetIdealCycleTime {
    #[schema(value_type = String)]
    pub product: ProductId,
    /// Milliseconds per unit at the rated speed; greater than zero.
    #[schema(value_type = u64, minimum = 1)]
    pub ideal_cycle_time_ms: Millis,
    pub effective_from: DateTime<Utc>,
    /// Needed when it replaces an earlier version.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

#[utoipa::path(tag = "lines", params(LinePath), request_body = SetIdealCycleTime, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/ideal-cycle-times")]
async fn set_ideal_cycle_time(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<SetIdealCycleTime>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::SetIdealCycleTime {
        product: value.product,
        ideal_cycle_time: value.ideal_cycle_time_ms,
        effective_from: value.effective_from,
        reason: value.reason,
    };
    call.respond(digest, configure_line(&call, &path, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetShiftCalendar {
    /// `[{"name": "early", "start": "06:00:00", "end": "14:00:00", "breaks": [{"start": "10:00:00", "duration": 1800000}], "days": ["mon", "tue", "wed", "thu", "fri"]}]` (break lengths in ms; `days` every day when left out)
    #[schema(value_type = Vec<crate::bodies::shapes::Shift>)]
    pub shifts: Vec<ShiftDefinition>,
    pub effective_from: DateTime<Utc>,
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

#[utoipa::path(tag = "lines", params(LinePath), request_body = SetShiftCalendar, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/shift-calendar")]
async fn set_shift_calendar(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<SetShiftCalendar>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::SetShiftCalendar {
        shifts: value.shifts,
        effective_from: value.effective_from,
        reason: value.reason,
    };
    call.respond(digest, configure_line(&call, &path, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetNonProductionDays {
    /// The whole list (holidays, planned shutdowns): it replaces the one before from `effective_from`
    /// on. No shift starts on these dates (the line's local dates).
    #[schema(value_type = Vec<crate::bodies::shapes::NonProductionDay>)]
    pub days: Vec<NonProductionDay>,
    pub effective_from: DateTime<Utc>,
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

#[utoipa::path(tag = "lines", params(LinePath), request_body = SetNonProductionDays, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/non-production-days")]
async fn set_non_production_days(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<SetNonProductionDays>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::SetNonProductionDays {
        days: value.days,
        effective_from: value.effective_from,
        reason: value.reason,
    };
    call.respond(digest, configure_line(&call, &path, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSmallStopThreshold {
    /// Stops shorter than this are small stops (performance loss), longer ones downtime.
    #[schema(value_type = u64, minimum = 1)]
    pub threshold_ms: Millis,
    pub effective_from: DateTime<Utc>,
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

#[utoipa::path(tag = "lines", params(LinePath), request_body = SetSmallStopThreshold, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/small-stop-threshold")]
async fn set_small_stop_threshold(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<SetSmallStopThreshold>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::SetSmallStopThreshold {
        threshold: value.threshold_ms,
        effective_from: value.effective_from,
        reason: value.reason,
    };
    call.respond(digest, configure_line(&call, &path, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEscalationLadder {
    #[schema(value_type = String, example = "safety")]
    pub call_type: CallType,
    /// Levels 2 to 4 in rising order, each firing when the call is still unacknowledged
    /// (`unacknowledged_after_ms`) or still unresolved (`unresolved_after_ms`) that long after it was
    /// raised, and later than the tiers below it on the same timer. Level 1 (team leader) is the raise.
    /// `[{"level": 2, "unacknowledged_after_ms": 300000, "unresolved_after_ms": 900000}, {"level": 3, "unresolved_after_ms": 1800000}]`
    #[schema(value_type = Vec<crate::bodies::shapes::Tier>)]
    pub tiers: EscalationLadder,
    /// Calls raised from this time on follow the ladder; earlier calls keep the one they were raised under.
    pub effective_from: DateTime<Utc>,
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

/// Until a ladder is set for a call type, its calls follow the default: L2 when unacknowledged after 5
/// minutes or unresolved after 15, L3 at 30 minutes, L4 at 60.
#[utoipa::path(tag = "lines", params(LinePath), request_body = SetEscalationLadder, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/escalation-ladders")]
async fn set_escalation_ladder(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<SetEscalationLadder>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::SetEscalationLadder {
        call_type: value.call_type,
        ladder: value.tiers,
        effective_from: value.effective_from,
        reason: value.reason,
    };
    call.respond(digest, configure_line(&call, &path, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefineDowntimeReason {
    #[schema(value_type = String)]
    pub code: ReasonCode,
    #[schema(value_type = String)]
    pub label: Name,
    #[schema(value_type = Option<String>)]
    pub parent: Option<ReasonCode>,
    #[schema(value_type = String, example = "unplanned")]
    pub loss_category: LossCategory,
    /// Needed when it redefines an existing code.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

#[utoipa::path(tag = "lines", params(LinePath), request_body = DefineDowntimeReason, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/downtime-reasons")]
async fn define_downtime_reason(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<DefineDowntimeReason>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::DefineDowntimeReason {
        code: value.code,
        label: value.label,
        parent: value.parent,
        loss_category: value.loss_category,
        reason: value.reason,
    };
    call.respond(digest, configure_line(&call, &path, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefineRejectReason {
    #[schema(value_type = String)]
    pub code: ReasonCode,
    #[schema(value_type = String)]
    pub label: Name,
    #[schema(value_type = Option<String>)]
    pub parent: Option<ReasonCode>,
    /// The loss tree branch its rejects count in: `startup` or `production`.
    #[schema(value_type = String, example = "startup")]
    pub category: RejectCategory,
    /// Needed when it redefines an existing code.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

/// Defines a reason rejected units may be booked with, in a tree like the downtime reasons'; a code is
/// locked once a production record uses it.
#[utoipa::path(tag = "lines", params(LinePath), request_body = DefineRejectReason, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/reject-reasons")]
async fn define_reject_reason(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<DefineRejectReason>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::DefineRejectReason {
        code: value.code,
        label: value.label,
        parent: value.parent,
        category: value.category,
        reason: value.reason,
    };
    call.respond(digest, configure_line(&call, &path, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCrewRotation {
    /// `anchor` (the local date of the cycle's first day) and `days`: for each day of the cycle, the
    /// crew of each shift by shift name. At most 366 days.
    pub rotation: CrewRotation,
    pub effective_from: DateTime<Utc>,
    /// Needed when it replaces a rotation.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

/// Which crew works each shift occurrence from `effective_from` on; shift periods, the status board's
/// shift and shift reports name it.
#[utoipa::path(tag = "lines", params(LinePath), request_body = SetCrewRotation, responses(CommandResponses))]
#[post("/{site}/{area}/{line}/crew-rotation")]
async fn set_crew_rotation(
    call: CommandCall,
    path: web::Path<LinePath>,
    body: Json<SetCrewRotation>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = LineCommand::SetCrewRotation {
        rotation: value.rotation,
        effective_from: value.effective_from,
        reason: value.reason,
    };
    call.respond(digest, configure_line(&call, &path, command)).await
}

/// The line's status board: running, stopped (with the open stop and its reason) or unknown; the
/// current job and its counts; the open Andon calls; the OEE of the running shift so far (`shift_oee`, as
/// in `GET /api/v1/oee`); and how fresh each read model behind it is (`freshness`: the log position of
/// each read model it reflects at least). The service keeps each line's board until a commit changes
/// the line; while one request reads the changed board, others may be answered with the board before
/// that commit and its own freshness. A client waiting for a change compares `freshness`.
#[utoipa::path(tag = "lines", params(LinePath), responses(
    (status = 200, body = BoardView, description = "The status board"), QueryErrors, RecordNotFound))]
#[get("/{site}/{area}/{line}/status")]
async fn status(call: QueryCall, path: web::Path<LinePath>) -> Result<HttpResponse, ApiError> {
    let line = path.parse()?;
    authorize(&call.principal, READ_BOARDS, Target::Line(&line))?;
    call.registered(&line).await?;
    let status = call
        .app
        .boards
        .status(&call.app.pool, &line.to_string(), chrono::Utc::now(), Staleness::WhileReadAgain)
        .await?;
    Ok(HttpResponse::Ok().json(BoardView::from(status)))
}
