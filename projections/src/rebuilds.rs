//! Rebuilds of the read models on request, as audited acts (Part 11 AT-07; docs/event-store.md,
//! "Rebuilding a read model"): each request, cancellation and emptying of an old version is an event of
//! the read model's record, appended before it is carried out; each switch is recorded by the service
//! after it happened, from the pointer row, once. The blue/green mechanics are `engine::colors`; the
//! rebuild workers (`engine::worker::run_rebuilds`) do the work.

use commands::{CommandContext, CommandError, PgEventStore, StoreSettings};
use domain::actor::{Actor, Role, UserId};
use domain::read_model::{ReadModel, ReadModelCommand, ReadModelError};
use domain::values::{Name, Reason};
use serde::Serialize;
use sqlx::PgPool;

use crate::engine::colors::{self, Color, Pointer, Switched};
use crate::engine::projection::{Projection, ProjectionError};
use crate::engine::{checkpoint, worker};
use crate::read_models::{andon::Calls, audit::AuditTrail, downtime::Stops, jobs::Jobs, oee::Oee};

/// The read models that are rebuilt blue/green, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rebuildable {
    Jobs,
    Downtime,
    Andon,
    Oee,
    AuditTrail,
}

/// Evaluates `$body` with `$projection` bound to `$model`'s projection: each read model is a type of
/// its own, so each arm is its own instance of the generic code in `$body`.
macro_rules! with_projection {
    ($model:expr, $projection:ident => $body:expr) => {
        match $model {
            Rebuildable::Jobs => {
                let $projection = Jobs;
                $body
            }
            Rebuildable::Downtime => {
                let $projection = Stops;
                $body
            }
            Rebuildable::Andon => {
                let $projection = Calls;
                $body
            }
            Rebuildable::Oee => {
                let $projection = Oee;
                $body
            }
            Rebuildable::AuditTrail => {
                let $projection = AuditTrail;
                $body
            }
        }
    };
}

impl Rebuildable {
    pub const ALL: [Self; 5] = [Self::Jobs, Self::Downtime, Self::Andon, Self::Oee, Self::AuditTrail];

    pub fn name(self) -> &'static str {
        fn of<P: Projection>(_: &P) -> &'static str {
            P::NAME
        }
        with_projection!(self, projection => of(&projection))
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|model| model.name() == name)
    }

    fn version(self) -> i32 {
        fn of<P: Projection>(_: &P) -> i32 {
            P::VERSION
        }
        with_projection!(self, projection => of(&projection))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Record(#[from] CommandError<ReadModelError>),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a rebuild of {0} is running; cancel it or wait for its switch")]
    Running(&'static str),
}

/// Who records the switches: the service itself.
fn rebuilder() -> Actor {
    Actor {
        user_id: UserId::from_uuid(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, b"ms5-floor:read-model-rebuilder")),
        printed_name: Name::parse("Read model rebuilder").unwrap_or_else(|_| unreachable!("a valid name")),
        role: Role::System,
    }
}

async fn record(
    pool: &PgPool,
    model: Rebuildable,
    command: ReadModelCommand,
    context: &CommandContext,
) -> Result<(), RebuildError> {
    let store = PgEventStore::<ReadModel>::new(pool.clone(), StoreSettings::default());
    commands::execute(&store, model.name(), command, context).await?;
    Ok(())
}

/// Records an act on `model` that `pointer` shows it may take, after the last switch if the rebuild
/// worker has not recorded that yet: the record keeps the order in which things happened.
async fn record_act(
    pool: &PgPool,
    model: Rebuildable,
    pointer: &Pointer,
    command: ReadModelCommand,
    context: &CommandContext,
) -> Result<(), RebuildError> {
    if let Some(switched) = &pointer.last_switch {
        record_switched(pool, model, switched).await?;
    }
    record(pool, model, command, context).await
}

/// Starts a rebuild of `model` (recorded first, with who and why); a rebuild already running is left
/// as it is and not recorded again. Returns the schema being built.
pub async fn request(
    pool: &PgPool,
    model: Rebuildable,
    context: &CommandContext,
    reason: Reason,
) -> Result<Color, RebuildError> {
    let pointer = colors::read(pool, model.name()).await?;
    match pointer.building {
        // A comparison is never switched to: a rebuild waits for it to end.
        Some(_) if pointer.compare_only => return Err(RebuildError::Running(model.name())),
        Some(building) => return Ok(building),
        None => {}
    }
    let into = pointer.active.other();
    let command = ReadModelCommand::RequestRebuild { into, version: model.version(), reason };
    record_act(pool, model, &pointer, command, context).await?;
    let mut connection = pool.acquire().await?;
    Ok(with_projection!(model, projection => colors::request(&mut connection, &projection).await?))
}

/// Starts a recomputation of `model` beside the live read model, to compare the two (`compare`); it is
/// never switched to. It empties the version before the last switch, which is recorded first.
pub async fn start_comparison(
    pool: &PgPool,
    model: Rebuildable,
    context: &CommandContext,
    reason: Reason,
) -> Result<Color, RebuildError> {
    let pointer = colors::read(pool, model.name()).await?;
    if pointer.building.is_some() {
        return Err(RebuildError::Running(model.name()));
    }
    let why = format!("emptied to recompute {} and compare: {reason}", model.name());
    let reason = Reason::parse(&why).unwrap_or(reason);
    record_act(pool, model, &pointer, ReadModelCommand::DropOld { color: pointer.active.other(), reason }, context)
        .await?;
    let mut connection = pool.acquire().await?;
    Ok(with_projection!(model, projection => colors::recompute(&mut connection, &projection).await?))
}

/// The differences between `model`'s live read model and its recomputation, once both stand at one
/// position of the log (`None` until then).
pub async fn compare(pool: &PgPool, model: Rebuildable) -> Result<Option<Vec<colors::Difference>>, RebuildError> {
    let mut connection = pool.acquire().await?;
    Ok(with_projection!(model, projection => compare_of(&projection, &mut connection).await?))
}

async fn compare_of<P: Projection>(
    _: &P,
    connection: &mut sqlx::PgConnection,
) -> Result<Option<Vec<colors::Difference>>, ProjectionError> {
    colors::compare::<P>(connection).await
}

/// Ends a comparison: what was recomputed is emptied (it was never read).
pub async fn end_comparison(pool: &PgPool, model: Rebuildable) -> Result<(), RebuildError> {
    let mut connection = pool.acquire().await?;
    with_projection!(model, projection => colors::cancel(&mut connection, &projection).await?);
    Ok(())
}

/// Runs `model`'s rebuild worker (and with `live`, its live worker) in this process until `stop`: for
/// tools that must not depend on a service instance to do the work. Where a service runs, it owns the
/// work and these wait.
pub fn spawn_workers(
    pool: &PgPool,
    model: Rebuildable,
    settings: worker::Settings,
    stop: &tokio::sync::watch::Receiver<bool>,
    live: bool,
) -> Vec<tokio::task::JoinHandle<()>> {
    fn both<P: Projection + Copy>(
        pool: &PgPool,
        projection: P,
        settings: worker::Settings,
        stop: &tokio::sync::watch::Receiver<bool>,
        live: bool,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut workers = vec![tokio::spawn(worker::run_rebuilds(pool.clone(), projection, settings, stop.clone()))];
        if live {
            workers.push(tokio::spawn(worker::run(pool.clone(), projection, settings, stop.clone())));
        }
        workers
    }
    with_projection!(model, projection => both(pool, projection, settings, stop, live))
}

/// Asks for a rebuild of `P` when its read model was built by another version of its code than this
/// one (recorded, as the rebuilder's, with both versions); the old version answers until the switch.
/// Returns the schema being built, if it asked.
pub async fn request_if_outdated<P: Projection>(
    pool: &PgPool,
    pointer: &Pointer,
) -> Result<Option<Color>, RebuildError> {
    let Some(model) = Rebuildable::parse(P::NAME) else { return Ok(None) };
    if pointer.building.is_some() {
        return Ok(None);
    }
    let Some(live) = checkpoint::read(pool, P::NAME).await? else { return Ok(None) };
    if live.version == P::VERSION {
        return Ok(None);
    }
    let reason =
        format!("the code builds version {} of {}; the read model is at version {}", P::VERSION, P::NAME, live.version);
    let reason = Reason::parse(&reason).map_err(|error| ProjectionError::Inconsistent(error.to_string()))?;
    request(pool, model, &CommandContext::new(rebuilder()), reason).await.map(Some)
}

/// Stops a running rebuild and empties what it built (recorded first). False when none ran.
pub async fn cancel(
    pool: &PgPool,
    model: Rebuildable,
    context: &CommandContext,
    reason: Reason,
) -> Result<bool, RebuildError> {
    let pointer = colors::read(pool, model.name()).await?;
    if pointer.building.is_none() {
        return Ok(false);
    }
    record_act(pool, model, &pointer, ReadModelCommand::CancelRebuild { reason }, context).await?;
    let mut connection = pool.acquire().await?;
    Ok(with_projection!(model, projection => colors::cancel(&mut connection, &projection).await?))
}

/// Empties the version queries no longer read (recorded first). Refused while a rebuild runs.
pub async fn drop_old(
    pool: &PgPool,
    model: Rebuildable,
    context: &CommandContext,
    reason: Reason,
) -> Result<Color, RebuildError> {
    let pointer = colors::read(pool, model.name()).await?;
    if pointer.building.is_some() {
        return Err(RebuildError::Running(model.name()));
    }
    record_act(pool, model, &pointer, ReadModelCommand::DropOld { color: pointer.active.other(), reason }, context)
        .await?;
    let mut connection = pool.acquire().await?;
    Ok(with_projection!(model, projection => colors::drop_old(&mut connection, &projection).await?))
}

/// Records a switch of `P`'s read model, once (the record knows which switches it holds). Called after
/// each switch, and by the idle rebuild worker for a switch it has not seen recorded, so that a switch
/// whose record was interrupted is recorded all the same.
pub async fn record_switch<P: Projection>(pool: &PgPool, switched: &Switched) -> Result<(), RebuildError> {
    match Rebuildable::parse(P::NAME) {
        Some(model) => record_switched(pool, model, switched).await,
        None => Ok(()),
    }
}

/// Records `switched` on `model`'s record unless it holds it already.
async fn record_switched(pool: &PgPool, model: Rebuildable, switched: &Switched) -> Result<(), RebuildError> {
    let command = ReadModelCommand::RecordSwitch {
        to: switched.to,
        version: switched.version,
        position: switched.position.position,
        events_applied: switched.events_applied,
        switched_at: switched.at,
    };
    record(pool, model, command, &CommandContext::new(rebuilder())).await
}
