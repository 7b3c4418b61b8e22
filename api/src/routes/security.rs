//! Security alerts for administrators (Part 11 AC-06): lockouts and sign-in attempts on locked or
//! deactivated accounts, read from the user events (`commands::event_log::security_alerts`), newest first.

use actix_web::{HttpResponse, get};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::access::ADMINISTER;
use crate::auth::{Target, authorize};
use crate::error::ApiError;
use crate::query_call::{QueryCall, QueryErrors};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(alerts);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Alert {
    pub user_id: String,
    /// `UserLockedOut`, or `LoginFailed` on an account that was locked or deactivated.
    pub event_type: String,
    pub recorded_at: DateTime<Utc>,
    pub position: i64,
    #[schema(value_type = crate::views::stored::EventPayload)]
    pub payload: Value,
}

#[utoipa::path(tag = "users", responses(
    (status = 200, body = Vec<Alert>, description = "The latest 200 alerts, newest first"), QueryErrors))]
#[get("/api/v1/security/alerts")]
async fn alerts(call: QueryCall) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, ADMINISTER, Target::Anywhere)?;
    let events = commands::event_log::security_alerts(&call.app.pool, 200).await?;
    let alerts: Vec<Alert> = events
        .into_iter()
        .map(|event| Alert {
            user_id: event.aggregate_id,
            event_type: event.event_type,
            recorded_at: event.recorded_at,
            position: event.position,
            payload: event.payload,
        })
        .collect();
    Ok(HttpResponse::Ok().json(alerts))
}
