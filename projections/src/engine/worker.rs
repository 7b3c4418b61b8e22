//! Running a projection: one batch at a time, exactly once ([`catch_up`]), by whichever instance owns it
//! ([`run`]: a PostgreSQL advisory lock), woken by LISTEN/NOTIFY after appends and by polling.

use std::collections::HashMap;
use std::time::Duration;

use commands::event_log::{self, LogPosition, RecordedEvent};
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::watch;

use crate::engine::colors::{self, Side};
use crate::engine::ownership::{self, Backoff, connection_lost, lock_key, pause, stopping};
use crate::engine::projection::{Projection, ProjectionError};
use crate::engine::{checkpoint, committed};

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

impl WorkerError {
    /// Whether the worker's connection failed, taking its ownership lock with it.
    pub fn connection_lost(&self) -> bool {
        match self {
            Self::Database(error)
            | Self::Store(commands::StoreError::Database(error))
            | Self::Projection(
                ProjectionError::Database(error) | ProjectionError::Decode(commands::StoreError::Database(error)),
            ) => connection_lost(error),
            _ => false,
        }
    }
}

/// Applies the next batch of up to `batch_size` events to the read model queries read, read model and
/// checkpoint in one transaction on `connection` (the owner's: see `ownership`). Returns how many events
/// it applied: 0 when caught up with the horizon.
pub async fn catch_up<P: Projection>(
    connection: &mut PgConnection,
    projection: &P,
    batch_size: i64,
) -> Result<usize, WorkerError> {
    catch_up_side(connection, projection, batch_size, Side::Live).await
}

/// [`catch_up`] for one side of a blue/green read model: the live one, or the one being rebuilt.
pub async fn catch_up_side<P: Projection>(
    connection: &mut PgConnection,
    projection: &P,
    batch_size: i64,
    side: Side,
) -> Result<usize, WorkerError> {
    let name = colors::checkpoint_name::<P>(side);
    let status = checkpoint::load(&mut *connection, &name, P::VERSION).await?;
    if status.version != P::VERSION {
        match (side, P::BLUE_GREEN) {
            // A new version is built beside the one queries read, which goes on answering until the
            // switch: the rebuild worker asks for it, on the record (`rebuilds::request_if_outdated`).
            (Side::Live, true) => {}
            (Side::Rebuild, _) => {
                // Started by an older version of this code: started over by this one.
                colors::cancel(connection, projection).await?;
                colors::request(connection, projection).await?;
                return Ok(0);
            }
            (Side::Live, false) => {
                let mut transaction = connection.begin().await?;
                projection.reset(&mut transaction).await?;
                checkpoint::restart(&mut transaction, &name, P::VERSION).await?;
                committed::announce(&mut transaction, P::NAME, LogPosition::START.position, None).await?;
                transaction.commit().await?;
                tracing::info!(projection = P::NAME, version = P::VERSION, "rebuilding in place from the first event");
                return Ok(0);
            }
        }
    }
    if let (Some(position), Some(error)) = (status.failed_position, status.error.clone()) {
        return Err(WorkerError::Stopped { name: P::NAME, position, error });
    }
    let from = status.log_position();
    let events = event_log::read_committed_batch(&mut *connection, from, batch_size).await?;
    if events.is_empty() {
        return Ok(0);
    }
    match apply_and_advance(connection, projection, side, from, &events).await {
        Ok(true) => Ok(events.len()),
        Ok(false) => Err(WorkerError::Overtaken(P::NAME)),
        Err(error) if not_the_events_fault(&error) => Err(error.into()),
        Err(_) => isolate_failure(connection, projection, side, from, &events).await,
    }
}

/// One transaction: the checkpoint moves first, and only from `from`, so a worker that is not (or no
/// longer) where the checkpoint is writes nothing; then the read model changes and, for the side queries
/// read, the announcement. False when the checkpoint or the side's schema is no longer this worker's.
async fn apply_and_advance<P: Projection>(
    connection: &mut PgConnection,
    projection: &P,
    side: Side,
    from: LogPosition,
    events: &[RecordedEvent],
) -> Result<bool, ProjectionError> {
    let Some(last) = events.last() else { return Ok(true) };
    let name = colors::checkpoint_name::<P>(side);
    let mut transaction = connection.begin().await?;
    if !colors::enter::<P>(&mut transaction, side).await?
        || !checkpoint::advance(&mut transaction, &name, from, last.log_position(), events.len()).await?
    {
        return Ok(false); // dropping the transaction rolls it back
    }
    let lines = projection.apply(&mut transaction, events).await?;
    if side == Side::Live {
        committed::announce(&mut transaction, P::NAME, last.position, Some(lines)).await?;
    }
    transaction.commit().await?;
    Ok(true)
}

/// A batch failed: applies its events one at a time, each committed, so that the checkpoint stops right
/// before the event that fails, and records that event's error.
async fn isolate_failure<P: Projection>(
    connection: &mut PgConnection,
    projection: &P,
    side: Side,
    from: LogPosition,
    events: &[RecordedEvent],
) -> Result<usize, WorkerError> {
    let mut at = from;
    for (applied, event) in events.iter().enumerate() {
        match apply_and_advance(connection, projection, side, at, std::slice::from_ref(event)).await {
            Ok(true) => at = event.log_position(),
            Ok(false) => return Err(WorkerError::Overtaken(P::NAME)),
            Err(error) if not_the_events_fault(&error) => return Err(error.into()),
            Err(error) => {
                let error = error.to_string();
                checkpoint::fail(&mut *connection, &colors::checkpoint_name::<P>(side), event.position, &error).await?;
                tracing::error!(projection = P::NAME, position = event.position, %error, applied, "projection stopped");
                return Err(WorkerError::Stopped { name: P::NAME, position: event.position, error });
            }
        }
    }
    Ok(events.len())
}

/// Failures that say nothing about the events, so the batch is tried again rather than the projection
/// stopped: the connection or the pool, a serialisation or deadlock conflict, a lock or statement
/// timeout, a server short of resources or shutting down, and a unique violation (only a concurrent
/// writer of the same rows causes one; our folds never insert a row twice).
fn not_the_events_fault(error: &ProjectionError) -> bool {
    let database = match error {
        ProjectionError::Database(error) | ProjectionError::Decode(commands::StoreError::Database(error)) => error,
        ProjectionError::Decode(_) | ProjectionError::Inconsistent(_) => return false,
    };
    connection_lost(database)
        || matches!(database, sqlx::Error::Database(db) if db.code().is_some_and(|code| {
            code.starts_with("40") || code.starts_with("53") || code.starts_with("55") || code.starts_with("57")
                || code.starts_with("58") || code == "23505"
        }))
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

/// Runs `projection` until `stop` turns true or its sender is dropped: owns it (or waits for it), then
/// applies batches whenever the log may have grown. A failure that is not the events' own is retried
/// with backoff on the same connection, or, when the connection is gone, by taking ownership again. A
/// stopped projection stays stopped (it never skips an event) until its checkpoint row is cleared; the
/// worker keeps checking.
pub async fn run<P: Projection>(pool: PgPool, projection: P, settings: Settings, stop: watch::Receiver<bool>) {
    run_side(pool, projection, settings, stop, Side::Live).await;
}

/// Runs the rebuilds of a blue/green read model until `stop`: idle until one is requested
/// (`colors::request`), then builds the other schema from the first event, batch by batch, and once it
/// has caught up with the log switches queries to it. A rebuild interrupted anywhere (a kill, a lost
/// connection) resumes from its own checkpoint in whichever instance takes it over; it is never half
/// switched.
pub async fn run_rebuilds<P: Projection>(pool: PgPool, projection: P, settings: Settings, stop: watch::Receiver<bool>) {
    run_side(pool, projection, settings, stop, Side::Rebuild).await;
}

async fn run_side<P: Projection>(
    pool: PgPool,
    projection: P,
    settings: Settings,
    mut stop: watch::Receiver<bool>,
    side: Side,
) {
    let name = colors::checkpoint_name::<P>(side);
    while let Some(mut connection) = ownership::owned(&pool, &name, settings.ownership_retry, &mut stop).await {
        run_owned(&pool, &mut connection, &projection, settings, &mut stop, side).await;
        if !stopping(&stop) {
            tracing::warn!(worker = name, "lost the worker's connection; taking ownership again");
        }
    }
}

/// Applies batches on the owner's `connection` until it fails or `stop`.
async fn run_owned<P: Projection>(
    pool: &PgPool,
    connection: &mut PgConnection,
    projection: &P,
    settings: Settings,
    stop: &mut watch::Receiver<bool>,
    side: Side,
) {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(mut listener) => listener.listen(commands::wake::CHANNEL).await.map(|()| listener).ok(),
        Err(error) => {
            tracing::warn!(projection = P::NAME, %error, "no notifications; polling only");
            None
        }
    };
    let mut backoff = Backoff::default();
    // The last switch this worker saw recorded: the record is asked again only for a newer one.
    let mut recorded: Option<chrono::DateTime<chrono::Utc>> = None;
    while !stopping(stop) {
        if side == Side::Rebuild {
            match colors::read(pool, P::NAME).await {
                Ok(pointer) if pointer.building.is_some() => {}
                // Nothing to rebuild: look again now and then, not at every append; a switch whose
                // record was interrupted is recorded meanwhile.
                Ok(pointer) => {
                    if let Some(switched) = pointer.last_switch.filter(|switched| Some(switched.at) != recorded) {
                        match crate::rebuilds::record_switch::<P>(pool, &switched).await {
                            Ok(()) => recorded = Some(switched.at),
                            Err(error) => {
                                tracing::warn!(projection = P::NAME, %error, "cannot record the last switch yet")
                            }
                        }
                    }
                    match crate::rebuilds::request_if_outdated::<P>(pool, &pointer).await {
                        Ok(Some(_)) => continue,
                        Ok(None) => {}
                        Err(error) => {
                            tracing::warn!(projection = P::NAME, %error, "cannot ask for a rebuild of a new version")
                        }
                    }
                    pause(settings.ownership_retry, stop).await;
                    continue;
                }
                Err(ProjectionError::Database(error)) if connection_lost(&error) => return,
                Err(error) => {
                    tracing::warn!(projection = P::NAME, %error, "cannot read the read model's pointer");
                    pause(backoff.next(), stop).await;
                    continue;
                }
            }
        }
        match catch_up_side(connection, projection, settings.batch_size, side).await {
            Ok(applied) if i64::try_from(applied).unwrap_or(i64::MAX) >= settings.batch_size => {
                backoff.reset();
                continue;
            }
            // Caught up with the log: the rebuilt schema is ready for queries.
            Ok(0) if side == Side::Rebuild => match colors::switch::<P>(connection).await {
                Ok(Some(switched)) => {
                    backoff.reset();
                    match crate::rebuilds::record_switch::<P>(pool, &switched).await {
                        Ok(()) => recorded = Some(switched.at),
                        Err(error) => {
                            tracing::warn!(projection = P::NAME, %error, "cannot record the switch yet; retrying while idle")
                        }
                    }
                }
                Ok(None) => backoff.reset(),
                Err(ProjectionError::Database(error)) if connection_lost(&error) => return,
                Err(error) => {
                    tracing::warn!(projection = P::NAME, %error, "switching to the rebuilt read model failed; retrying");
                    pause(backoff.next(), stop).await;
                    continue;
                }
            },
            Ok(_) | Err(WorkerError::Stopped { .. }) => backoff.reset(),
            // Another instance moved the checkpoint: this one no longer owns the projection.
            Err(WorkerError::Overtaken(_)) => return,
            Err(error) if error.connection_lost() => return,
            Err(error) => {
                let wait = backoff.next();
                metrics::counter!("projection_retries_total", "projection" => P::NAME).increment(1);
                tracing::warn!(projection = P::NAME, %error, retry_in_ms = wait.as_millis(), "batch failed; retrying");
                pause(wait, stop).await;
                continue;
            }
        }
        wake_up(listener.as_mut(), settings.poll_interval, stop).await;
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
