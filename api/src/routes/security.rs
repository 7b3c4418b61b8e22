//! Security alerts for administrators (Part 11 AC-06): lockouts and sign-in attempts on locked or
//! deactivated accounts, read from the user events, newest first.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::access::ADMINISTER;
use crate::auth::{Principal, Target, authorize};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(alerts);
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Alert {
    pub user_id: String,
    /// `UserLockedOut`, or `LoginFailed` on an account that was locked or deactivated.
    pub event_type: String,
    pub recorded_at: DateTime<Utc>,
    pub position: i64,
    #[schema(value_type = Object)]
    pub payload: Value,
}

#[utoipa::path(tag = "users", responses(
    (status = 200, body = Vec<Alert>, description = "The latest 200 alerts, newest first"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[get("/api/v1/security/alerts")]
async fn alerts(app: web::Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    authorize(&principal, ADMINISTER, Target::Anywhere)?;
    let alerts: Vec<Alert> = sqlx::query_as(
        "SELECT aggregate_id AS user_id, event_type, recorded_at, position, payload FROM events
         WHERE aggregate_type = 'user'
           AND (event_type = 'UserLockedOut' OR (event_type = 'LoginFailed' AND payload->>'blocked' = 'true'))
         ORDER BY position DESC LIMIT 200",
    )
    .fetch_all(&app.pool)
    .await?;
    Ok(HttpResponse::Ok().json(alerts))
}
