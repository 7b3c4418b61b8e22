//! Each projection's status: checkpoint, lag in events and seconds, speed, the instance running it,
//! whether it stopped at an event it cannot apply, and which session holds the commit-order horizon back.
//! Served to administrators and rendered into `/metrics`.

use projections::engine::checkpoint::{self, Status};
use projections::engine::horizon::{HorizonHolder, horizon};
use projections::engine::worker::{Owner, owners};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

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
