//! Signed checkpoints of the ledger's tree: at most `interval` apart while the ledger grows, and at every
//! shift end, written by one instance at a time with the seal key, which the database never holds. Each
//! new checkpoint can also be written to a directory and pushed to a URL (`keeper`), for a keeper outside
//! the database, and sent to a witness to cosign (`witness`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use commands::event_log;
use commands::ledger::{SealKey, SignedCheckpoint};
use domain::Aggregate as _;
use domain::line::Line;
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
    /// Where each new checkpoint is also sent (`keeper`).
    pub keeper: Option<super::HttpUrl>,
    /// The witness asked to cosign each new checkpoint (`witness`).
    pub witness: Option<super::witness::Witness>,
}

/// Runs until `stop`: whenever the ledger has grown past the newest checkpoint and either `interval`
/// has passed since the last one this instance wrote or a shift of some line has just ended (its
/// figures are final: they are sealed under a checkpoint of their own), signs a new one.
pub async fn run(pool: PgPool, settings: Settings, mut stop: watch::Receiver<bool>) {
    let tick = settings.interval.min(Duration::from_secs(1));
    let mut shifts = ShiftEnds::default();
    let (newest, pushed) = watch::channel(None);
    if let Some(url) = settings.keeper.clone() {
        tokio::spawn(super::keeper::run(url, pushed.clone(), stop.clone()));
    }
    if let Some(witness) = settings.witness.clone() {
        tokio::spawn(super::witness::run(pool.clone(), witness, pushed, stop.clone()));
    }
    while let Some(mut connection) = ownership::owned(&pool, NAME, tick, &mut stop).await {
        let mut last_signed: Option<Instant> = None;
        let mut checked_until = Utc::now();
        while !stopping(&stop) {
            // The lock lives with this connection: a writer whose connection went (a database restart)
            // no longer owns the work and must take ownership again, even while it has nothing to sign.
            if let Err(error) = sqlx::query("SELECT 1").execute(&mut connection).await
                && connection_lost(&error)
            {
                tracing::warn!(%error, "lost the checkpoint writer's connection; taking ownership again");
                break;
            }
            let now = Utc::now();
            let interval_due = last_signed.is_none_or(|at| at.elapsed() >= settings.interval);
            let shift_ended = shifts.between(&pool, checked_until, now).await;
            checked_until = now;
            if interval_due || shift_ended {
                match write(&mut connection, &settings).await {
                    Ok(Some(checkpoint)) => {
                        tracing::debug!(size = checkpoint.head.size, shift_ended, "ledger checkpoint signed");
                        last_signed = Some(Instant::now());
                        newest.send_replace(Some(checkpoint));
                    }
                    Ok(None) => {}
                    Err(error) if error_lost_connection(&error) => {
                        tracing::warn!(%error, "lost the checkpoint writer's connection; taking ownership again");
                        break;
                    }
                    Err(error) => tracing::warn!(%error, "writing a ledger checkpoint failed; retrying"),
                }
            }
            pause(tick, &mut stop).await;
        }
    }
}

/// Every line's configuration, read again once a minute, to find the moments shifts end. A shift's
/// end counts once `SETTLE` has passed after it, so that the sealer has sealed what the shift recorded.
#[derive(Default)]
struct ShiftEnds {
    lines: Vec<Line>,
    read_at: Option<Instant>,
}

const SETTLE: chrono::Duration = chrono::Duration::seconds(2);
const REREAD: Duration = Duration::from_secs(60);

impl ShiftEnds {
    /// Whether a shift of some line ended (and settled) in (`after`, `until`].
    async fn between(&mut self, pool: &PgPool, after: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        if self.read_at.is_none_or(|at| at.elapsed() >= REREAD) {
            match lines(pool).await {
                Ok(lines) => self.lines = lines,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the lines' shift calendars; using the last ones read")
                }
            }
            self.read_at = Some(Instant::now());
        }
        self.lines.iter().any(|line| line.a_shift_ends(after - SETTLE, until - SETTLE))
    }
}

/// Every registered line's configuration.
async fn lines(pool: &PgPool) -> Result<Vec<Line>, commands::StoreError> {
    let mut found = Vec::new();
    for id in event_log::aggregate_ids(pool, Line::TYPE).await? {
        let line = event_log::current_state::<Line>(pool, &id).await?;
        if line.is_registered() {
            found.push(line);
        }
    }
    Ok(found)
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
