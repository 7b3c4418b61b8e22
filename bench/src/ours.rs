//! The workload on MS5 Floor's own store.

use commands::adapter::AdaptedEvent;
use commands::{EventMetadata, PgEventStore, StoreSettings, execute};
use cqrs_es::{Aggregate as _, AggregateContext as _};
use domain::job::{Job, JobEvent};
use sqlx::PgPool;

use crate::workload::{Target, context, one_good, start_commands};

pub fn store(pool: &PgPool, keep_warm: bool) -> PgEventStore<Job> {
    PgEventStore::new(pool.clone(), StoreSettings { keep_warm, ..StoreSettings::default() })
}

impl Target for PgEventStore<Job> {
    async fn start_job(&self, id: &str) -> Result<(), String> {
        for command in start_commands() {
            execute(self, id, command, &context()).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn command(&self, id: &str) -> Result<(), String> {
        execute(self, id, one_good(), &context()).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Grows one job's stream to `events` events quickly: appends of 1,000 production events each, through
/// the store's public append (so hash chain and snapshots are written as for any command).
pub async fn grow_stream(store: &PgEventStore<Job>, id: &str, events: u64) -> anyhow::Result<()> {
    store.start_job(id).await.map_err(anyhow::Error::msg)?;
    let metadata = EventMetadata::for_command(&context(), None);
    let mut written = 4;
    while written < events {
        let batch = (events - written).min(1000);
        let mut loaded = store.load(id).await?;
        let produced: Vec<JobEvent> = (0..batch)
            .map(|_| JobEvent::ProductionRecorded {
                good: 1,
                reject: 0,
                reject_reason: None,
                reject_category: None,
                at: chrono::Utc::now(),
            })
            .collect();
        for event in &produced {
            loaded.aggregate().apply(AdaptedEvent(event.clone()));
        }
        store.append(loaded, produced, &metadata, None).await?;
        written += batch;
    }
    Ok(())
}
