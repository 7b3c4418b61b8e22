//! MS5 Floor's read side: projections that fold the event log, in commit order, into read models, each
//! with a checkpoint written in the same transaction as its changes. In Marten's words, the folders are,
//! in reading order:
//!
//! - [`engine`]: running **async projections**: the [`engine::projection::Projection`] trait, the
//!   [`engine::worker`] that applies one batch exactly once ([`engine::worker::catch_up`]) and keeps a
//!   projection going, its **progression** ([`engine::checkpoint`]), the **high-water mark** readers may
//!   not pass ([`engine::horizon`]), one owner per worker ([`engine::ownership`]) and what a commit
//!   announces ([`engine::committed`]).
//! - [`read_models`]: the async projections themselves: [`read_models::jobs`],
//!   [`read_models::downtime`], [`read_models::andon`] (each the domain's own fold of an aggregate,
//!   [`read_models::folded`]), [`read_models::oee`], whose facts `domain::oee` turns into figures per
//!   query, and the [`read_models::audit`] trail. A **rebuild** replays these, and only these.
//! - [`live`]: process-local caches for live reads, kept from commit announcements: a follower of the
//!   commits ([`live::changes`]) and each line's status board ([`live::line_status`]). Never rebuilt;
//!   each process builds its own.
//! - [`processes`]: work that issues commands from the log, here the Andon [`processes::escalation`]
//!   scheduler. A rebuild must never run them: their effects are new events.
//! - [`rebuilds`]: rebuilding the read models blue/green on request, each request and switch an
//!   audited event ([`engine::colors`] holds the mechanics).
//! - [`sealing`]: the ledger's writers, which seal every event into the Merkle tree and sign its
//!   checkpoints. Neither a read model nor a process: permanent, never rebuilt.

pub mod engine;
pub mod live;
pub mod processes;
pub mod read_models;
pub mod rebuilds;
pub mod sealing;
pub mod status;

pub use engine::projection::{Projection, ProjectionError};

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often this process announces its appends (the escalation scheduler's, and the API's when it
/// runs here): the upper bound a wake-up adds to a projection's lag.
pub const ANNOUNCE_EVERY: std::time::Duration = std::time::Duration::from_millis(5);

/// Starts the announcer of this process's appends, a worker for every projection and one for its
/// blue/green rebuilds, the sealer, the Andon escalation scheduler (checked every second) and, given the seal key, the checkpoint writer;
/// each runs until `stop` turns true.
pub fn spawn_all(
    pool: &PgPool,
    settings: engine::worker::Settings,
    checkpoints: Option<sealing::checkpoints::Settings>,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut workers = vec![
        tokio::spawn(commands::wake::announce_appends(pool.clone(), ANNOUNCE_EVERY, stop.clone())),
        tokio::spawn(engine::worker::run(pool.clone(), read_models::jobs::Jobs, settings, stop.clone())),
        tokio::spawn(engine::worker::run(pool.clone(), read_models::downtime::Stops, settings, stop.clone())),
        tokio::spawn(engine::worker::run(pool.clone(), read_models::andon::Calls, settings, stop.clone())),
        tokio::spawn(engine::worker::run(pool.clone(), read_models::oee::Oee, settings, stop.clone())),
        tokio::spawn(engine::worker::run(pool.clone(), read_models::audit::AuditTrail, settings, stop.clone())),
        tokio::spawn(engine::worker::run(pool.clone(), sealing::Sealer, settings, stop.clone())),
        tokio::spawn(engine::worker::run_rebuilds(pool.clone(), read_models::jobs::Jobs, settings, stop.clone())),
        tokio::spawn(engine::worker::run_rebuilds(pool.clone(), read_models::downtime::Stops, settings, stop.clone())),
        tokio::spawn(engine::worker::run_rebuilds(pool.clone(), read_models::andon::Calls, settings, stop.clone())),
        tokio::spawn(engine::worker::run_rebuilds(pool.clone(), read_models::oee::Oee, settings, stop.clone())),
        tokio::spawn(engine::worker::run_rebuilds(
            pool.clone(),
            read_models::audit::AuditTrail,
            settings,
            stop.clone(),
        )),
        tokio::spawn(processes::escalation::run(pool.clone(), std::time::Duration::from_secs(1), stop.clone())),
    ];
    if let Some(checkpoints) = checkpoints {
        workers.push(tokio::spawn(sealing::checkpoints::run(pool.clone(), checkpoints, stop.clone())));
    }
    workers
}
