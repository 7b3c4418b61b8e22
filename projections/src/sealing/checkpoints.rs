//! Signed checkpoints of the ledger's tree: at most `interval` apart while the ledger grows, written by
//! one instance at a time with the seal key, which the database never holds. Each new checkpoint can
//! also be written to a directory, for a keeper outside the database.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use commands::ledger::{SealKey, SignedCheckpoint};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::engine::ownership::{self, connection_lost, pause, stopping};

/// The checkpoint writer's name as a worker (its ownership lock).
pub const NAME: &str = "ledger checkpoints";

#[derive(Debug, Clone)]
pub struct Settings {
    pub key: SealKey,
    /// The longest a sealed entry waits for a checkpoint.
    pub interval: Duration,
    /// Where each new checkpoint is also written, as `<tree size>.checkpoint`.
    pub directory: Option<PathBuf>,
}

/// Runs until `stop`: whenever the ledger has grown past the newest checkpoint and `interval` has
/// passed since the last one this instance wrote, signs a new one.
pub async fn run(pool: PgPool, settings: Settings, mut stop: watch::Receiver<bool>) {
    let tick = settings.interval.min(Duration::from_secs(1));
    while let Some(mut connection) = ownership::owned(&pool, NAME, tick, &mut stop).await {
        while !stopping(&stop) {
            match write(&mut connection, &settings).await {
                Ok(Some(checkpoint)) => {
                    tracing::debug!(size = checkpoint.head.size, "ledger checkpoint signed");
                    pause(settings.interval, &mut stop).await;
                }
                Ok(None) => pause(tick, &mut stop).await,
                Err(error) if error_lost_connection(&error) => {
                    tracing::warn!(%error, "lost the checkpoint writer's connection; taking ownership again");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "writing a ledger checkpoint failed; retrying");
                    pause(tick, &mut stop).await;
                }
            }
        }
    }
}

fn error_lost_connection(error: &commands::ledger::LedgerError) -> bool {
    matches!(error, commands::ledger::LedgerError::Database(error) if connection_lost(error))
}

async fn write(
    connection: &mut PgConnection,
    settings: &Settings,
) -> Result<Option<SignedCheckpoint>, commands::ledger::LedgerError> {
    let written = commands::ledger::seal::write_checkpoint(connection, &settings.key, Utc::now()).await?;
    if let (Some(checkpoint), Some(directory)) = (&written, &settings.directory) {
        let file = directory.join(format!("{}.checkpoint", checkpoint.head.size));
        // The database holds the checkpoint already; a keeper that cannot be written to is reported,
        // never a reason to stop checkpointing.
        if let Err(error) = std::fs::create_dir_all(directory).and_then(|()| std::fs::write(&file, &checkpoint.text)) {
            tracing::error!(%error, file = %file.display(), "cannot write the checkpoint for its keeper");
        }
    }
    Ok(written)
}
