//! Andon calls: raised at a station, acknowledged, escalated, resolved with a root cause, or cancelled
//! with a reason.

use actix_web::{HttpResponse, get, post, web};
use domain::andon::{AndonCommand, AndonStatus, CallType, Priority};
use domain::line_id::LineId;
use domain::values::{Description, StationId};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Target;
use crate::auth::access::{CANCEL_ANDON, ESCALATE_ANDON, RAISE_ANDON, RESPOND_TO_ANDON};
use crate::bodies::{NoFields, WithReason};
use crate::command_call::{CommandCall, CommandResponses, Reply};
use crate::error::ApiError;
use crate::json::Json;
use crate::query_call::{Freshness, QueryCall, QueryErrors, bounded_range, page_limit, range};
use crate::views::CallView;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // A scope per kind of record: the router then tries only this module's patterns.
    config.service(
        utoipa_actix_web::scope("/api/v1/andon-calls")
            .service(board)
            .service(response_times)
            .service(history)
            .service(raise)
            .service(acknowledge)
            .service(escalate)
            .service(resolve)
            .service(cancel),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseCall {
    /// The call's id; chosen by the server when absent.
    pub id: Option<Uuid>,
    #[schema(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    #[schema(value_type = String)]
    pub station: StationId,
    #[schema(value_type = String, example = "maintenance")]
    pub call_type: CallType,
    #[schema(value_type = String, example = "high")]
    pub priority: Priority,
    #[schema(value_type = String)]
    pub description: Description,
}

#[utoipa::path(tag = "andon", request_body = RaiseCall, responses(CommandResponses))]
#[post("")]
async fn raise(call: CommandCall, body: Json<RaiseCall>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond_created(digest, async {
        let actor = call.authorize(RAISE_ANDON, Target::Line(&value.line))?;
        call.registered_line(&value.line).await?;
        let id = value.id.unwrap_or_else(Uuid::now_v7).to_string();
        let command = AndonCommand::Raise {
            line: value.line,
            station: value.station,
            call_type: value.call_type,
            priority: value.priority,
            description: value.description,
        };
        call.execute(&call.app.andon, &id, command, actor).await
    })
    .await
}

async fn on_call(
    call: &CommandCall,
    id: Uuid,
    allowed: &[domain::actor::Role],
    command: AndonCommand,
) -> Result<Reply, ApiError> {
    call.on_record(&call.app.andon, "Andon call", &id.to_string(), allowed, |_, _| Ok(command)).await
}

#[utoipa::path(tag = "andon", request_body = NoFields, responses(CommandResponses))]
#[post("/{call_id}/acknowledge")]
async fn acknowledge(call: CommandCall, path: web::Path<Uuid>, body: Json<NoFields>) -> Result<HttpResponse, ApiError> {
    call.respond(body.digest, on_call(&call, *path, RESPOND_TO_ANDON, AndonCommand::Acknowledge)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalate {
    /// The level to escalate to (2 to 4), above the current one.
    pub level: u8,
}

#[utoipa::path(tag = "andon", request_body = Escalate, responses(CommandResponses))]
#[post("/{call_id}/escalate")]
async fn escalate(call: CommandCall, path: web::Path<Uuid>, body: Json<Escalate>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, on_call(&call, *path, ESCALATE_ANDON, AndonCommand::Escalate { level: value.level })).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    #[schema(value_type = String)]
    pub resolution: Description,
    #[schema(value_type = String)]
    pub root_cause: Description,
}

#[utoipa::path(tag = "andon", request_body = Resolve, responses(CommandResponses))]
#[post("/{call_id}/resolve")]
async fn resolve(call: CommandCall, path: web::Path<Uuid>, body: Json<Resolve>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = AndonCommand::Resolve { resolution: value.resolution, root_cause: value.root_cause };
    call.respond(digest, on_call(&call, *path, RESPOND_TO_ANDON, command)).await
}

#[utoipa::path(tag = "andon", request_body = WithReason, responses(CommandResponses))]
#[post("/{call_id}/cancel")]
async fn cancel(call: CommandCall, path: web::Path<Uuid>, body: Json<WithReason>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, on_call(&call, *path, CANCEL_ANDON, AndonCommand::Cancel { reason: value.reason })).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Board {
    pub freshness: Freshness,
    pub calls: Vec<OpenCall>,
}

/// Response times of the calls of one call type.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CallTypeTimes {
    pub call_type: String,
    pub calls: usize,
    pub acknowledged: usize,
    pub resolved: usize,
    pub mean_seconds_to_acknowledge: Option<f64>,
    pub mean_seconds_to_resolve: Option<f64>,
}

impl From<projections::read_models::andon::ResponseTimes> for CallTypeTimes {
    fn from(times: projections::read_models::andon::ResponseTimes) -> Self {
        let projections::read_models::andon::ResponseTimes {
            call_type,
            calls,
            acknowledged,
            resolved,
            mean_seconds_to_acknowledge,
            mean_seconds_to_resolve,
        } = times;
        Self { call_type, calls, acknowledged, resolved, mean_seconds_to_acknowledge, mean_seconds_to_resolve }
    }
}

/// Response times of the calls raised in one shift occurrence, by call type.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ShiftTimes {
    pub shift: Option<String>,
    /// The local date the shift started on.
    pub date: Option<chrono::NaiveDate>,
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    pub by_call_type: Vec<CallTypeTimes>,
}

impl From<projections::read_models::andon::ShiftResponseTimes> for ShiftTimes {
    fn from(times: projections::read_models::andon::ShiftResponseTimes) -> Self {
        Self {
            shift: times.shift,
            date: times.date,
            start: times.start,
            end: times.end,
            by_call_type: times.by_call_type.into_iter().map(CallTypeTimes::from).collect(),
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct OpenCall {
    #[serde(flatten)]
    pub call: CallView,
    /// Seconds since the call was raised, at the time of the answer.
    pub age_seconds: i64,
}

/// The open calls of a line, oldest first, with their age and escalation level.
#[utoipa::path(tag = "andon", params(BoardQuery), responses(
    (status = 200, body = Board), QueryErrors))]
#[get("")]
async fn board(call: QueryCall, query: web::Query<BoardQuery>) -> Result<HttpResponse, ApiError> {
    let freshness = call.board::<projections::read_models::andon::Calls>(&query.line).await?;
    let now = chrono::Utc::now();
    let calls = projections::read_models::andon::open_calls(&call.app.pool, &query.line.to_string())
        .await?
        .into_iter()
        .map(|call| OpenCall { age_seconds: (now - call.raised_at).num_seconds(), call: CallView::from(call) })
        .collect();
    Ok(HttpResponse::Ok().json(Board { freshness, calls }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    /// Calls raised at or after this time; default: 24 hours before `to`.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Calls raised before this time; default: now. At most 92 days after `from`.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ResponseTimes {
    pub freshness: Freshness,
    /// Per call type: `calls`, `acknowledged`, `resolved`; `mean_seconds_to_acknowledge` (MTTA) = mean
    /// time from raise to acknowledgement over the acknowledged calls; `mean_seconds_to_resolve` (MTTR)
    /// = mean time from raise to resolution over the resolved calls. Cancelled calls count in neither
    /// mean. `null` where no call qualifies.
    pub by_call_type: Vec<CallTypeTimes>,
    /// The same per shift occurrence of the line's calendar (`shift`, local `date`, `start`, `end`) and
    /// call type; calls raised outside every shift come last, with `shift` `null`.
    pub by_shift: Vec<ShiftTimes>,
}

/// Response and resolution times of a line's calls, per call type and per shift and call type.
#[utoipa::path(tag = "andon", params(PeriodQuery), responses(
    (status = 200, body = ResponseTimes), QueryErrors))]
#[get("/response-times")]
async fn response_times(call: QueryCall, query: web::Query<PeriodQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let range = bounded_range(query.from, query.to)?;
    let freshness = call.line::<projections::read_models::andon::Calls>(&query.line).await?;
    let times = projections::read_models::andon::response_times(&call.app.pool, &query.line.to_string(), range).await?;
    Ok(HttpResponse::Ok().json(ResponseTimes {
        freshness,
        by_call_type: times.by_call_type.into_iter().map(CallTypeTimes::from).collect(),
        by_shift: times.by_shift.into_iter().map(ShiftTimes::from).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    /// Calls raised at or after this time; default: 24 hours before `to`.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Calls raised before this time; default: now.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    #[param(value_type = Option<String>, example = "maintenance")]
    pub call_type: Option<CallType>,
    /// `raised`, `acknowledged`, `resolved` or `cancelled`.
    #[param(value_type = Option<String>, example = "resolved")]
    pub status: Option<AndonStatus>,
    /// The last call id of the previous page.
    pub after: Option<Uuid>,
    /// At most this many calls (default and maximum 500).
    pub limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct History {
    pub freshness: Freshness,
    /// In the order they were raised: id, station, type, priority, status, level reached, raised,
    /// acknowledged and closed (resolved or cancelled) times.
    pub calls: Vec<CallView>,
}

/// A line's calls, open and closed, raised in a period; page with `after`.
#[utoipa::path(tag = "andon", params(HistoryQuery), responses(
    (status = 200, body = History), QueryErrors))]
#[get("/history")]
async fn history(call: QueryCall, query: web::Query<HistoryQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let range = range(query.from, query.to)?;
    let freshness = call.line::<projections::read_models::andon::Calls>(&query.line).await?;
    let filter = projections::read_models::andon::HistoryFilter {
        line: query.line.to_string(),
        range,
        call_type: query.call_type.as_ref().map(projections::read_models::folded::name_of),
        status: query.status.as_ref().map(projections::read_models::folded::name_of),
        after: query.after.map(|id| id.to_string()),
        limit: page_limit(query.limit),
    };
    let calls = projections::read_models::andon::history(&call.app.pool, &filter).await?;
    Ok(HttpResponse::Ok().json(History { freshness, calls: calls.into_iter().map(CallView::from).collect() }))
}
