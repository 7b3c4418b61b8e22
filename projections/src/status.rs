//! Every worker's status from its checkpoint row: where it is, how far behind the log, how fast, which
//! instance runs it, whether it stopped, and for a blue/green read model which schema it writes. What
//! administrators see over the API and on the command line.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::PgPool;

use crate::engine::checkpoint::{self, Status as Checkpoint};
use crate::engine::colors::{self, Color};
use crate::engine::worker::{Owner, owners};

#[derive(Debug, Clone, Serialize)]
pub struct WorkerStatus {
    /// A projection's name (`ledger` is the sealer); `<read model>~rebuild` for a read model's rebuild
    /// (or comparison) while one runs.
    pub name: String,
    /// For a blue/green read model: the schema this row's worker writes; the live row's is the one
    /// queries read. `None` for the ledger.
    pub schema: Option<Color>,
    pub version: i32,
    pub stopped: bool,
    pub transaction_id: i64,
    pub position: i64,
    pub events_applied: i64,
    pub lag_events: i64,
    pub lag_seconds: f64,
    /// Events applied per second over the last 10 seconds or more.
    pub events_per_second: f64,
    /// The instance running it; `None` while none does.
    pub owner: Option<Owner>,
    pub failed_position: Option<i64>,
    pub error: Option<String>,
}

/// Every checkpoint row's status, by name. A rebuild's row is left out while no rebuild runs: it keeps
/// the position its last rebuild ended at, and would read as a worker falling ever further behind.
pub async fn all(pool: &PgPool) -> Result<Vec<WorkerStatus>, sqlx::Error> {
    let rows = checkpoint::all(pool).await?;
    let speeds = checkpoint::events_per_second(pool).await?;
    let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
    let mut owners = owners(pool, &names).await?;
    let mut schemas = HashMap::new();
    for (name, active, building) in colors::all(pool).await? {
        schemas.insert(colors::rebuild_checkpoint(&name), building);
        schemas.insert(name, Some(active));
    }
    let mut found = Vec::new();
    for row in rows {
        let idle_rebuild = matches!(schemas.get(&row.name), Some(None));
        if idle_rebuild {
            continue;
        }
        let lag = checkpoint::lag(pool, &row).await?;
        let (events_per_second, owner) = (speeds.get(&row.name).copied().unwrap_or_default(), owners.remove(&row.name));
        let Checkpoint { name, version, transaction_id, position, events_applied, failed_position, error } = row;
        found.push(WorkerStatus {
            schema: schemas.get(&name).copied().flatten(),
            name,
            version,
            stopped: failed_position.is_some(),
            transaction_id,
            position,
            events_applied,
            lag_events: lag.events,
            lag_seconds: lag.seconds,
            events_per_second,
            owner,
            failed_position,
            error,
        });
    }
    Ok(found)
}
