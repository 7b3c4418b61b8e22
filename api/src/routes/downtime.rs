//! Stops of a line: started and ended by operators or PLC gateways, given a reason from the line's tree,
//! the reason changed only with a reason for change (the old value stays in the history).

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use commands::lookups::{self, StopStart};
use domain::downtime::{DowntimeCommand, StopSource};
use domain::line_id::LineId;
use domain::values::{EquipmentId, Reason, ReasonCode};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::access::{EXPLAIN_STOPS, RECORD_STOPS};
use crate::auth::{Target, Who};
use crate::command_call::{CommandCall, CommandResponses, Located, created};
use crate::error::ApiError;
use crate::json::Json;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // A scope per kind of record: the router then tries only this module's patterns.
    config.service(utoipa_actix_web::scope("/api/v1/downtime").service(start).service(give_reason).service(end));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartStop {
    /// The stop's id; chosen by the server when absent.
    pub id: Option<Uuid>,
    #[schema(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    #[schema(value_type = Option<String>)]
    pub equipment: Option<EquipmentId>,
    /// When the line stopped, at the source.
    pub started_at: DateTime<Utc>,
}

#[utoipa::path(tag = "downtime", request_body = StartStop, responses(CommandResponses))]
#[post("")]
async fn start(call: CommandCall, body: Json<StartStop>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let actor = call.authorize(RECORD_STOPS, Target::Line(&value.line))?;
        let source = match &call.principal.who {
            Who::Device { id, .. } => StopSource::Plc { device: id.clone() },
            Who::Person { .. } => StopSource::Operator,
        };
        let id = value.id.unwrap_or_else(Uuid::now_v7).to_string();
        let start = StopStart { line: value.line, equipment: value.equipment, source, started_at: value.started_at };
        let app = &call.app;
        let outcome = lookups::start_downtime(&app.lines, &app.downtime, &id, start, &call.context(actor)).await?;
        Ok(created(crate::command_call::accepted::<domain::downtime::Downtime>(&id, outcome)))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveReason {
    /// A leaf of the line's downtime reason tree.
    #[schema(value_type = String)]
    pub code: ReasonCode,
    /// Needed when the stop already has a reason: the reason for changing it.
    #[schema(value_type = Option<String>)]
    pub reason_for_change: Option<Reason>,
}

#[utoipa::path(tag = "downtime", request_body = GiveReason, responses(CommandResponses))]
#[post("/{downtime_id}/reason")]
async fn give_reason(
    call: CommandCall,
    path: web::Path<Uuid>,
    body: Json<GiveReason>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let id = path.to_string();
        let app = &call.app;
        let stop = call.existing(&app.downtime, "downtime", &id).await?;
        let line = stop.line().ok_or_else(|| ApiError::not_found("downtime", &id))?;
        let actor = call.authorize(EXPLAIN_STOPS, Target::Line(line))?;
        let context = call.context(actor);
        let outcome = lookups::give_downtime_reason(
            &app.lines,
            &app.downtime,
            &id,
            value.code,
            value.reason_for_change,
            &context,
        )
        .await?;
        Ok(crate::command_call::accepted::<domain::downtime::Downtime>(&id, outcome))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndStop {
    /// When the line ran again, at the source.
    pub ended_at: DateTime<Utc>,
}

#[utoipa::path(tag = "downtime", request_body = EndStop, responses(CommandResponses))]
#[post("/{downtime_id}/end")]
async fn end(call: CommandCall, path: web::Path<Uuid>, body: Json<EndStop>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = DowntimeCommand::End { ended_at: value.ended_at };
    call.respond(
        digest,
        call.on_record(&call.app.downtime, "downtime", &path.to_string(), RECORD_STOPS, |_, _| Ok(command)),
    )
    .await
}
