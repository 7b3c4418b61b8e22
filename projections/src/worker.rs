//! Running a projection: one batch at a time, exactly once ([`catch_up`]), by whichever instance owns it
//! ([`run`]: a PostgreSQL advisory lock), woken by LISTEN/NOTIFY after appends and by polling.

use std::collections::HashMap;
use std::time::Duration;

use commands::event_log::{self, Checkpoint, RecordedEvent};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::projection::{Projection, ProjectionError};
use crate::{checkpoint, committed};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The projection stopped at an event it cannot apply; it stays there until someone acts.
    #[error("projection {name} is stopped at position {position}: {error}")]
    Stopped { name: &'static str, position: i64, error: String },
    /// Another worker moved the checkpoint first; nothing of this batch was committed.
    #[error("another worker advanced projection {0}")]
    Overtaken(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] commands::StoreError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

/// Applies the next batch of up to `batch_size` events, read model and checkpoint in one transaction.
/// Returns how many events it applied: 0 when caught up with the horizon.
pub async fn catch_up<P: Projection>(pool: &PgPool, projection: &P, batch_size: i64) -> Result<usize, WorkerError> {
    let status = checkpoint::load(pool, P::NAME, P::VERSION).await?;
    if let (Some(position), Some(error)) = (status.failed_position, status.error.clone())
        && status.version == P::VERSION
    {
        return Err(WorkerError::Stopped { name: P::NAME, position, error });
    }
    let mut from = status.checkpoint();
    if status.version != P::VERSION {
        let mut transaction = pool.begin().await?;
        projection.reset(&mut transaction).await?;
        checkpoint::restart(&mut transaction, P::NAME, P::VERSION).await?;
        committed::announce(&mut transaction, P::NAME, Checkpoint::START.position, None).await?;
        transaction.commit().await?;
        tracing::info!(projection = P::NAME, version = P::VERSION, "rebuilding from the first event");
        from = Checkpoint::START;
    }
    let events = event_log::read_committed_batch(pool, from, batch_size).await?;
    if events.is_empty() {
        return Ok(0);
    }
    match apply_and_advance(pool, projection, from, &events).await {
        Ok(true) => Ok(events.len()),
        Ok(false) => Err(WorkerError::Overtaken(P::NAME)),
        Err(ProjectionError::Database(error)) if is_transient(&error) => Err(error.into()),
        Err(_) => isolate_failure(pool, projection, from, &events).await,
    }
}

async fn apply_and_advance<P: Projection>(
    pool: &PgPool,
    projection: &P,
    from: Checkpoint,
    events: &[RecordedEvent],
) -> Result<bool, ProjectionError> {
    let Some(last) = events.last() else { return Ok(true) };
    let mut transaction = pool.begin().await?;
    let lines = projection.apply(&mut transaction, events).await?;
    if !checkpoint::advance(&mut transaction, P::NAME, from, last.checkpoint(), events.len()).await? {
        return Ok(false); // dropping the transaction rolls it back
    }
    committed::announce(&mut transaction, P::NAME, last.position, Some(lines)).await?;
    transaction.commit().await?;
    Ok(true)
}

/// A batch failed: applies its events one at a time, each committed, so that the checkpoint stops right
/// before the event that fails, and records that event's error.
async fn isolate_failure<P: Projection>(
    pool: &PgPool,
    projection: &P,
    from: Checkpoint,
    events: &[RecordedEvent],
) -> Result<usize, WorkerError> {
    let mut at = from;
    for (applied, event) in events.iter().enumerate() {
        match apply_and_advance(pool, projection, at, std::slice::from_ref(event)).await {
            Ok(true) => at = event.checkpoint(),
            Ok(false) => return Err(WorkerError::Overtaken(P::NAME)),
            Err(ProjectionError::Database(error)) if is_transient(&error) => return Err(error.into()),
            Err(error) => {
                let error = error.to_string();
                checkpoint::fail(pool, P::NAME, event.position, &error).await?;
                tracing::error!(projection = P::NAME, position = event.position, %error, applied, "projection stopped");
                return Err(WorkerError::Stopped { name: P::NAME, position: event.position, error });
            }
        }
    }
    Ok(events.len())
}

/// Failures worth trying again: the connection, the pool, or a serialisation conflict.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|code| matches!(code.as_ref(), "40001" | "40P01") || code.starts_with("57P"))
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub batch_size: i64,
    /// How often the log is read when no notification arrives (a commit can become visible later than
    /// its notification, when an older transaction was still open).
    pub poll_interval: Duration,
    /// How often a worker that does not own the projection tries to take it over.
    pub ownership_retry: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self { batch_size: 1000, poll_interval: Duration::from_millis(250), ownership_retry: Duration::from_secs(1) }
    }
}

/// The advisory lock key of a worker (a projection, the scheduler): stable across builds and instances.
fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("ms5-floor worker {name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The database session that holds a worker's ownership lock: the service instance running it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Owner {
    /// `ms5-floor pid <process id>` unless the instance's database URL names its sessions otherwise.
    pub application_name: String,
    pub client_address: Option<String>,
    pub backend_pid: i32,
    pub connected_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Who owns each of the workers `names` (a projection, the scheduler), by name; a worker no instance
/// runs is absent.
pub async fn owners(pool: &PgPool, names: &[&str]) -> Result<HashMap<String, Owner>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Owned {
        name: String,
        #[sqlx(flatten)]
        owner: Owner,
    }
    let keys: Vec<i64> = names.iter().map(|name| lock_key(name)).collect();
    // A bigint advisory lock shows in pg_locks as its high half in classid and its low half in objid.
    let owned: Vec<Owned> = sqlx::query_as(
        "SELECT w.name, a.application_name, host(a.client_addr) AS client_address, a.pid AS backend_pid,
                a.backend_start AS connected_since
         FROM UNNEST($1::text[], $2::bigint[]) AS w(name, key)
         JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND ((l.classid::bigint << 32) | l.objid::bigint) = w.key
         JOIN pg_stat_activity a ON a.pid = l.pid",
    )
    .bind(names)
    .bind(&keys)
    .fetch_all(pool)
    .await?;
    Ok(owned.into_iter().map(|owned| (owned.name, owned.owner)).collect())
}

/// A connection holding the projection's advisory lock, or `None` when another instance holds it. The
/// lock lives as long as the connection: an instance that dies lets another take over.
pub(crate) async fn take_ownership(pool: &PgPool, name: &str) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut connection = pool.acquire().await?.detach();
    let owned: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(lock_key(name)).fetch_one(&mut connection).await?;
    Ok(owned.then_some(connection))
}

/// Runs `projection` until `stop` turns true or its sender is dropped: takes ownership (or waits for it), then applies batches
/// whenever the log may have grown. A stopped projection stays stopped (it never skips an event) until
/// its checkpoint row is cleared; the worker keeps checking.
pub async fn run<P: Projection>(pool: PgPool, projection: P, settings: Settings, mut stop: watch::Receiver<bool>) {
    while !stopping(&stop) {
        let owner = match take_ownership(&pool, P::NAME).await {
            Ok(Some(owner)) => owner,
            Ok(None) => {
                pause(settings.ownership_retry, &mut stop).await;
                continue;
            }
            Err(error) => {
                tracing::warn!(projection = P::NAME, %error, "cannot take ownership");
                pause(settings.ownership_retry, &mut stop).await;
                continue;
            }
        };
        tracing::info!(projection = P::NAME, "this instance runs the projection");
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(mut listener) => listener.listen(commands::wake::CHANNEL).await.map(|()| listener).ok(),
            Err(error) => {
                tracing::warn!(projection = P::NAME, %error, "no notifications; polling only");
                None
            }
        };
        while !stopping(&stop) {
            match catch_up(&pool, &projection, settings.batch_size).await {
                Ok(applied) if i64::try_from(applied).unwrap_or(i64::MAX) >= settings.batch_size => continue,
                Ok(_) | Err(WorkerError::Stopped { .. }) => {}
                Err(WorkerError::Overtaken(_)) => break,
                Err(error) => tracing::warn!(projection = P::NAME, %error, "batch failed; retrying"),
            }
            wake_up(listener.as_mut(), settings.poll_interval, &mut stop).await;
        }
        drop(owner);
    }
}

/// Stop when told to, or when whoever could tell us is gone.
pub(crate) fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

pub(crate) async fn pause(duration: Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = stop.changed() => {}
    }
}

async fn wake_up(listener: Option<&mut PgListener>, poll: Duration, stop: &mut watch::Receiver<bool>) {
    let Some(listener) = listener else { return pause(poll, stop).await };
    tokio::select! {
        _ = listener.recv() => {}
        () = tokio::time::sleep(poll) => {}
        _ = stop.changed() => {}
    }
}
