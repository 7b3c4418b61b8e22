//! Andon calls: raised at a station, acknowledged, escalated, resolved with a root cause, or cancelled
//! with a reason.

use actix_web::{HttpResponse, post, web};
use domain::andon::{AndonCommand, CallType, Priority};
use domain::line_id::LineId;
use domain::values::{Description, StationId};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Target;
use crate::auth::access::{CANCEL_ANDON, ESCALATE_ANDON, RAISE_ANDON, RESPOND_TO_ANDON};
use crate::command_call::{CommandCall, CommandResponses, Reply, created};
use crate::error::ApiError;
use crate::json::Json;
use crate::routes::bodies::{NoFields, WithReason};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // A scope per kind of record: the router then tries only this module's patterns.
    config.service(
        utoipa_actix_web::scope("/api/v1/andon-calls")
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
    call.respond(digest, async {
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
        call.execute(&call.app.andon, &id, command, actor).await.map(created)
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
