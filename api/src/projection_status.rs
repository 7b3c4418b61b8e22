//! Each projection's status: checkpoint, lag in events and seconds, speed, the instance running it,
//! whether it stopped at an event it cannot apply, and which session holds the commit-order horizon back.
//! Served to administrators and rendered into `/metrics`.

use projections::engine::horizon::{HorizonHolder, horizon};
use projections::engine::worker::Owner;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionStatus {
    /// A projection's name; `<read model>~rebuild` for a read model's rebuild (or comparison) while one
    /// runs.
    pub name: String,
    /// For a blue/green read model: the schema this row's worker writes (`blue` or `green`); the live
    /// row's is the one queries read. `null` for the ledger.
    pub schema: Option<domain::read_model::Color>,
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
    /// The service instance running it (its database session); `null` while no instance does.
    pub owner: Option<Instance>,
    pub failed_position: Option<i64>,
    pub error: Option<String>,
    /// While committed events wait for an older transaction to end (the commit-order horizon), the
    /// session holding it; end that session to let every projection read on. `null` otherwise.
    pub held_back_by: Option<HorizonSession>,
}

/// The database session of the service instance that runs a projection.
#[derive(Debug, Serialize, ToSchema)]
pub struct Instance {
    /// `ms5-floor pid <process id>` unless the instance's database URL names its sessions otherwise.
    pub application_name: String,
    pub client_address: Option<String>,
    pub backend_pid: i32,
    pub connected_since: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<Owner> for Instance {
    fn from(owner: Owner) -> Self {
        let Owner { application_name, client_address, backend_pid, connected_since } = owner;
        Self { application_name, client_address, backend_pid, connected_since }
    }
}

/// The session whose open transaction holds the commit-order horizon back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HorizonSession {
    pub backend_pid: i32,
    pub application_name: Option<String>,
    pub database: Option<String>,
    /// Seconds since its transaction began; `null` when the service's role may not see other roles'
    /// sessions in full (grant it `pg_read_all_stats`).
    pub transaction_age_seconds: Option<f64>,
    /// `active`, `idle in transaction`, ...; `null` as above.
    pub state: Option<String>,
    /// How many transactions older than the newest one its transaction is.
    pub transaction_age_xids: i32,
}

impl From<HorizonHolder> for HorizonSession {
    fn from(holder: HorizonHolder) -> Self {
        let HorizonHolder {
            backend_pid,
            application_name,
            database,
            transaction_age_seconds,
            state,
            transaction_age_xids,
        } = holder;
        Self { backend_pid, application_name, database, transaction_age_seconds, state, transaction_age_xids }
    }
}

/// Every projection's status, with its lag, speed and owner.
pub async fn statuses(pool: &PgPool) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    let horizon = horizon(pool).await?;
    Ok(projections::status::all(pool)
        .await?
        .into_iter()
        .map(|status| {
            let held_back_by = horizon.held_by.clone().filter(|_| status.lag_events > 0).map(HorizonSession::from);
            ProjectionStatus {
                name: status.name,
                schema: status.schema,
                version: status.version,
                state: if status.stopped { "stopped" } else { "running" },
                transaction_id: status.transaction_id,
                position: status.position,
                events_applied: status.events_applied,
                lag_events: status.lag_events,
                lag_seconds: status.lag_seconds,
                events_per_second: status.events_per_second,
                owner: status.owner.map(Instance::from),
                failed_position: status.failed_position,
                error: status.error,
                held_back_by,
            }
        })
        .collect())
}
