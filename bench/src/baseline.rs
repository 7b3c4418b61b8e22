//! The same workload through plain cqrs-es + postgres-es 0.5, on postgres-es's own schema.

use commands::adapter::{Adapted, AdaptedEvent, Stamped};
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::{Aggregate as _, DomainEvent as _};
use domain::job::{Job, JobEvent};
use postgres_es::{PostgresCqrs, PostgresEventRepository, postgres_cqrs, postgres_snapshot_cqrs};
use sqlx::{Executor, PgPool};

use crate::workload::{Target, metadata_map, one_good, start_commands};

/// postgres-es's published schema (its `db/init.sql`), tables only.
const SCHEMA: &str = "
    CREATE TABLE events (
        aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL,
        event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, sequence));
    CREATE TABLE snapshots (
        aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
        current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, payload json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));";

pub type Framework = PostgresCqrs<Adapted<Job>>;

pub async fn create_schema(pool: &PgPool) -> anyhow::Result<()> {
    pool.execute(SCHEMA).await?;
    Ok(())
}

/// The plain framework: every command replays the aggregate's whole stream.
pub fn plain(pool: &PgPool) -> Framework {
    postgres_cqrs(pool.clone(), vec![], ())
}

/// The snapshotting framework, snapshot every 100 events as ours.
pub fn snapshotting(pool: &PgPool) -> Framework {
    postgres_snapshot_cqrs(pool.clone(), vec![], 100, ())
}

impl Target for Framework {
    async fn start_job(&self, id: &str) -> Result<(), String> {
        for command in start_commands() {
            let stamped = Stamped { command, now: chrono::Utc::now() };
            self.execute_with_metadata(id, stamped, metadata_map()).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn command(&self, id: &str) -> Result<(), String> {
        let stamped = Stamped { command: one_good(), now: chrono::Utc::now() };
        self.execute_with_metadata(id, stamped, metadata_map()).await.map_err(|e| e.to_string())
    }
}

/// Grows one job's stream to `events` events through postgres-es's repository in batches of 1,000,
/// ending with the snapshot its snapshotting store would have written.
pub async fn grow_stream(pool: &PgPool, id: &str, events: u64) -> anyhow::Result<()> {
    plain(pool).start_job(id).await.map_err(anyhow::Error::msg)?;
    let repository = PostgresEventRepository::new(pool.clone());
    let mut state = Adapted::<Job>::default();
    for event in sqlx::query_scalar::<_, serde_json::Value>(
        "SELECT payload FROM events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    {
        state.apply(serde_json::from_value(event)?);
    }
    let metadata = serde_json::to_value(metadata_map())?;
    let mut written: u64 = 4;
    while written < events {
        let batch = (events - written).min(1000);
        let mut serialized = Vec::with_capacity(batch as usize);
        for sequence in written + 1..=written + batch {
            let event = AdaptedEvent(JobEvent::ProductionRecorded {
                good: 1,
                reject: 0,
                reject_reason: None,
                reject_category: None,
                at: chrono::Utc::now(),
            });
            serialized.push(SerializedEvent::new(
                id.to_owned(),
                sequence as usize,
                "job".to_owned(),
                event.event_type(),
                event.event_version(),
                serde_json::to_value(&event)?,
                metadata.clone(),
            ));
            state.apply(event);
        }
        written += batch;
        let snapshot = (written >= events).then(|| serde_json::to_value(&state)).transpose()?;
        repository
            .persist::<Adapted<Job>>(&serialized, snapshot.map(|state| (id.to_owned(), state, 1)))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
