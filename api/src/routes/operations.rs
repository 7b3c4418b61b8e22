//! Operations: the projections' status for administrators (the same figures are in `/metrics`), and
//! blue/green rebuilds of the read models (docs/event-store.md, "Rebuilding a read model"): requested
//! here, carried out by the rebuild workers, each request and switch an audited event.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use domain::read_model::Color;
use domain::values::Reason;
use projections::rebuilds::{self, Rebuildable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::access::ADMINISTER;
use crate::auth::{Target, authorize};
use crate::command_call::{CommandCall, CommandResponses, Reply};
use crate::error::ApiError;
use crate::json::Json;
use crate::projection_status::{ProjectionStatus, statuses};
use crate::query_call::{QueryCall, QueryErrors};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(projection_status).service(rebuild).service(cancel_rebuild).service(drop_old);
}

#[utoipa::path(tag = "operations", responses(
    (status = 200, body = Vec<ProjectionStatus>), QueryErrors))]
#[get("/api/v1/projections")]
async fn projection_status(call: QueryCall) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, ADMINISTER, Target::Anywhere)?;
    Ok(HttpResponse::Ok().json(statuses(&call.app.pool).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Why {
    /// Why: mandatory, kept with the read model's record.
    #[schema(value_type = String)]
    pub reason: Reason,
}

/// What a request did to a read model.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildAnswer {
    pub read_model: String,
    /// The schema being rebuilt (`rebuild`), or emptied (`drop-old`).
    pub schema: Option<Color>,
    /// For `cancel`: whether a rebuild was running.
    pub cancelled: Option<bool>,
}

fn read_model(name: &str) -> Result<Rebuildable, ApiError> {
    Rebuildable::parse(name).ok_or_else(|| ApiError::not_found("read model", name))
}

/// Rebuilds a read model blue/green while the service runs: the version queries read answers every
/// query until the rebuilt one, built from the first event and caught up with the log, replaces it in
/// one switch. Progress: `GET /api/v1/projections` (the `~rebuild` row). A rebuild already running is
/// left as it is.
#[utoipa::path(tag = "operations", request_body = Why, responses(CommandResponses))]
#[post("/api/v1/projections/{name}/rebuild")]
async fn rebuild(call: CommandCall, name: web::Path<String>, body: Json<Why>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let actor = call.authorize(ADMINISTER, Target::Anywhere)?;
        let model = read_model(&name)?;
        let color = rebuilds::request(&call.app.pool, model, &call.context(actor), value.reason).await?;
        let answer = RebuildAnswer { read_model: model.name().to_owned(), schema: Some(color), cancelled: None };
        Ok(Reply::new(StatusCode::ACCEPTED, &answer))
    })
    .await
}

/// Stops a running rebuild and empties what it built; queries never read it.
#[utoipa::path(tag = "operations", request_body = Why, responses(CommandResponses))]
#[post("/api/v1/projections/{name}/rebuild/cancel")]
async fn cancel_rebuild(call: CommandCall, name: web::Path<String>, body: Json<Why>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let actor = call.authorize(ADMINISTER, Target::Anywhere)?;
        let model = read_model(&name)?;
        let cancelled = rebuilds::cancel(&call.app.pool, model, &call.context(actor), value.reason).await?;
        let answer = RebuildAnswer { read_model: model.name().to_owned(), schema: None, cancelled: Some(cancelled) };
        Ok(Reply::new(StatusCode::OK, &answer))
    })
    .await
}

/// Empties the version of a read model that queries no longer read (the one before the last switch).
/// Refused while a rebuild runs.
#[utoipa::path(tag = "operations", request_body = Why, responses(CommandResponses))]
#[post("/api/v1/projections/{name}/drop-old")]
async fn drop_old(call: CommandCall, name: web::Path<String>, body: Json<Why>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let actor = call.authorize(ADMINISTER, Target::Anywhere)?;
        let model = read_model(&name)?;
        let color = rebuilds::drop_old(&call.app.pool, model, &call.context(actor), value.reason).await?;
        let answer = RebuildAnswer { read_model: model.name().to_owned(), schema: Some(color), cancelled: None };
        Ok(Reply::new(StatusCode::OK, &answer))
    })
    .await
}
