//! Liveness (the process answers) and readiness (the database is reachable and fully migrated).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, get, web};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(live).service(ready);
}

#[derive(Serialize, utoipa::ToSchema)]
struct Status {
    status: &'static str,
}

#[utoipa::path(tag = "operations", security(()), responses((status = 200, body = Status, description = "The process answers")))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "live" })
}

#[utoipa::path(tag = "operations", security(()), responses(
    (status = 200, body = Status, description = "The database is reachable and fully migrated"),
    (status = 503, body = crate::error::ErrorBody, description = "Not ready; `code` says why")))]
#[get("/health/ready")]
async fn ready(app: web::Data<AppState>) -> HttpResponse {
    match commands::database::migrations_applied(&app.pool).await {
        Ok(true) => HttpResponse::Ok().json(Status { status: "ready" }),
        Ok(false) => unavailable("migrations_pending", "database migrations are not all applied"),
        Err(error) => {
            tracing::warn!(%error, "readiness check could not reach the database");
            unavailable("database_unavailable", "the database is unavailable")
        }
    }
}

fn unavailable(code: &str, message: &str) -> HttpResponse {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message).error_response()
}
