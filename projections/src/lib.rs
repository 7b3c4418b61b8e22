//! MS5 Floor's read side: projections that fold the event log, in commit order, into read models, each
//! with a checkpoint written in the same transaction as its changes.
//!
//! Start reading at [`projection::Projection`], then [`worker::catch_up`] (one batch, exactly once) and
//! [`worker::run`] (ownership, wake-ups, failure). Read models: [`jobs`], [`downtime`], [`andon`], all [`folded`] through the domain's own `apply`, and
//! [`oee`], whose facts `domain::oee` turns into figures per query.

pub mod andon;
pub mod changes;
pub mod checkpoint;
pub mod committed;
pub mod downtime;
pub mod escalation;
pub mod folded;
pub mod horizon;
pub mod jobs;
pub mod line_status;
pub mod oee;
pub mod ownership;
pub mod projection;
pub mod worker;

pub use projection::{Projection, ProjectionError};

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often this process announces its appends (the escalation scheduler's, and the API's when it
/// runs here): the upper bound a wake-up adds to a projection's lag.
pub const ANNOUNCE_EVERY: std::time::Duration = std::time::Duration::from_millis(5);

/// Starts the announcer of this process's appends, a worker for every projection and the Andon
/// escalation scheduler (checked every second); each runs until `stop` turns true.
pub fn spawn_all(pool: &PgPool, settings: worker::Settings, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(commands::wake::announce_appends(pool.clone(), ANNOUNCE_EVERY, stop.clone())),
        tokio::spawn(worker::run(pool.clone(), jobs::Jobs, settings, stop.clone())),
        tokio::spawn(worker::run(pool.clone(), downtime::Stops, settings, stop.clone())),
        tokio::spawn(worker::run(pool.clone(), andon::Calls, settings, stop.clone())),
        tokio::spawn(worker::run(pool.clone(), oee::Oee, settings, stop.clone())),
        tokio::spawn(escalation::run(pool.clone(), std::time::Duration::from_secs(1), stop.clone())),
    ]
}
