//! The workload on MS5 Floor's own store.

use commands::adapter::AdaptedEvent;
use commands::{EventMetadata, PgEventStore, StoreSettings, execute};
use cqrs_es::{Aggregate as _, AggregateContext as _};
use domain::job::{Job, JobEvent};
use sqlx::PgPool;

use crate::workload::{context, one_good, start_commands};

pub fn store(pool: &PgPool, keep_warm: bool) -> PgEventStore<Job> {
    PgEventStore::new(pool.clone(), StoreSettings { keep_warm, ..StoreSettings::default() })
}

pub async fn command(store: &PgEventStore<Job>, id: &str) -> Result<(), String> {
    execute(store, id, one_good(), &context()).await.map(|_| ()).map_err(|e| e.to_string())
}

pub async fn start_job(store: &PgEventStore<Job>, id: &str) -> anyhow::Result<()> {
    for command in start_commands() {
        execute(store, id, command, &context()).await?;
    }
    Ok(())
}

/// Grows one job's stream to `events` events quickly: appends of 1,000 production events each, through
/// the store's public append (so hash chain and snapshots are written as for any command).
pub async fn grow_stream(store: &PgEventStore<Job>, id: &str, events: u64) -> anyhow::Result<()> {
    start_job(store, id).await?;
    let metadata = EventMetadata::for_command(&context(), None);
    let mut written = 4;
    while written < events {
        let batch = (events - written).min(1000);
        let mut loaded = store.load(id).await?;
        let produced: Vec<JobEvent> = (0..batch)
            .map(|_| JobEvent::ProductionRecorded { good: 1, reject: 0, reject_reason: None, at: chrono::Utc::now() })
            .collect();
        for event in &produced {
            loaded.aggregate().apply(AdaptedEvent(event.clone()));
        }
        store.append(loaded, produced, &metadata).await?;
        written += batch;
    }
    Ok(())
}
