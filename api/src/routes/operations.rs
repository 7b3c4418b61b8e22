//! Operations: the projections' status for administrators (the same figures are in `/metrics`).

use actix_web::{HttpResponse, get};

use crate::auth::access::ADMINISTER;
use crate::auth::{Target, authorize};
use crate::error::ApiError;
use crate::projection_status::{ProjectionStatus, statuses};
use crate::query_call::{QueryCall, QueryErrors};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(projection_status);
}

#[utoipa::path(tag = "operations", responses(
    (status = 200, body = Vec<ProjectionStatus>), QueryErrors))]
#[get("/api/v1/projections")]
async fn projection_status(call: QueryCall) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, ADMINISTER, Target::Anywhere)?;
    Ok(HttpResponse::Ok().json(statuses(&call.app.pool).await?))
}
