//! Liveness (the process answers) and readiness (the database is reachable and fully migrated).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(live).service(ready);
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

#[derive(Serialize)]
struct Unavailable {
    code: &'static str,
    message: String,
}

#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "live" })
}

#[get("/health/ready")]
async fn ready(app: web::Data<AppState>) -> HttpResponse {
    match commands::database::migrations_applied(&app.pool).await {
        Ok(true) => HttpResponse::Ok().json(Status { status: "ready" }),
        Ok(false) => HttpResponse::ServiceUnavailable().json(Unavailable {
            code: "migrations_pending",
            message: "database migrations are not all applied".into(),
        }),
        Err(error) => {
            tracing::warn!(%error, "readiness check could not reach the database");
            HttpResponse::ServiceUnavailable()
                .json(Unavailable { code: "database_unavailable", message: "the database is unavailable".into() })
        }
    }
}
