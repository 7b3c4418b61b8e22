//! The projections' status for administrators: checkpoint, lag in events and seconds, speed, the
//! instance running each, whether a projection stopped at an event it cannot apply, and which session
//! holds the commit-order horizon back. The same figures are in `/metrics`.

use actix_web::{HttpResponse, get, web};
use projections::engine::checkpoint::{self, Status};
use projections::engine::horizon::{HorizonHolder, horizon};
use projections::engine::worker::{Owner, owners};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::auth::access::{ADMINISTER, READ_RECORDS};
use crate::auth::{Principal, Target, authorize};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use domain::line_id::LineId;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(projection_status);
}

/// Where in the log a read model is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Freshness {
    pub projection: String,
    /// The last event applied: its transaction id and position in the log.
    pub transaction_id: i64,
    pub position: i64,
    pub events_applied: i64,
}

/// The first step of every read-model query about a line: the principal may read the line's records,
/// and the answer says how fresh projection `P`'s read model is. The checkpoint is read before the
/// rows, which are then at least as fresh as it says.
pub async fn line_query<P: projections::Projection>(
    app: &AppState,
    principal: &Principal,
    line: &LineId,
) -> Result<Freshness, ApiError> {
    authorize(principal, READ_RECORDS, Target::Line(line))?;
    freshness::<P>(&app.pool).await
}

/// Where projection `P`'s read model is; all zero before its first batch.
pub async fn freshness<P: projections::Projection>(pool: &PgPool) -> Result<Freshness, ApiError> {
    let status = checkpoint::read(pool, P::NAME).await?;
    Ok(Freshness {
        projection: P::NAME.to_owned(),
        transaction_id: status.as_ref().map_or(0, |status| status.transaction_id),
        position: status.as_ref().map_or(0, |status| status.position),
        events_applied: status.as_ref().map_or(0, |status| status.events_applied),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionStatus {
    pub name: String,
    pub version: i32,
    /// `running`, or `stopped` at `failed_position` with `error`.
    pub state: &'static str,
    pub transaction_id: i64,
    pub position: i64,
    pub events_applied: i64,
    pub lag_events: i64,
    pub lag_seconds: f64,
    /// Events applied per second over the last 10 seconds or more.
    pub events_per_second: f64,
    /// The service instance running it: `{application_name, client_address, backend_pid,
    /// connected_since}` of its database session; `null` while no instance does.
    #[schema(value_type = Option<Object>)]
    pub owner: Option<Owner>,
    pub failed_position: Option<i64>,
    pub error: Option<String>,
    /// While committed events wait for an older transaction to end (the commit-order horizon), the
    /// session holding it: `{backend_pid, application_name, database, transaction_age_seconds, state,
    /// transaction_age_xids}`; end that session to let every projection read on. `null` otherwise.
    #[schema(value_type = Option<Object>)]
    pub held_back_by: Option<HorizonHolder>,
}

/// Every projection's status, with its lag, speed and owner.
pub async fn statuses(pool: &PgPool) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    let all = checkpoint::all(pool).await?;
    let speeds = checkpoint::events_per_second(pool).await?;
    let names: Vec<&str> = all.iter().map(|status| status.name.as_str()).collect();
    let mut owners = owners(pool, &names).await?;
    let horizon = horizon(pool).await?;
    let mut statuses = Vec::new();
    for status in all {
        let lag = checkpoint::lag(pool, &status).await?;
        let (events_per_second, owner) =
            (speeds.get(&status.name).copied().unwrap_or_default(), owners.remove(&status.name));
        let Status { name, version, transaction_id, position, events_applied, failed_position, error } = status;
        let state = if failed_position.is_some() { "stopped" } else { "running" };
        let held_back_by = horizon.held_by.clone().filter(|_| lag.events > 0);
        statuses.push(ProjectionStatus {
            name,
            version,
            state,
            transaction_id,
            position,
            events_applied,
            lag_events: lag.events,
            lag_seconds: lag.seconds,
            events_per_second,
            owner,
            failed_position,
            error,
            held_back_by,
        });
    }
    Ok(statuses)
}

#[utoipa::path(tag = "operations", responses(
    (status = 200, body = Vec<ProjectionStatus>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 503, body = ErrorBody)))]
#[get("/api/v1/projections")]
async fn projection_status(app: web::Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    authorize(&principal, ADMINISTER, Target::Anywhere)?;
    Ok(HttpResponse::Ok().json(statuses(&app.pool).await?))
}
