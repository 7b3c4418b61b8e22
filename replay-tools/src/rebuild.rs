//! Rebuilding a read model blue/green from the command line (docs/event-store.md, "Rebuilding a read
//! model"), with the service running or not: the request is recorded and carried out as the admin API's
//! is, and this process runs a rebuild worker too, so the rebuild proceeds whether or not a service
//! instance takes it (one of them owns it at a time). Progress shows events rebuilt against the log,
//! with rate and time left; it ends when queries read the rebuilt version.

use std::time::Duration;

use anyhow::Context;
use commands::CommandContext;
use domain::actor::{Actor, Role, UserId};
use domain::values::{Name, Reason};
use projections::engine::checkpoint;
use projections::engine::colors::{self, Color};
use projections::engine::worker::Settings;
use projections::rebuilds::{self, Rebuildable};
use serde::Serialize;
use sqlx::PgPool;

/// Who the command line acts as: the operating system's user, for the record (its database role is what
/// let it in).
fn operator() -> anyhow::Result<Actor> {
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into());
    let printed_name = Name::parse(&format!("ms5-replay run by {user}")).context("the operating system user's name")?;
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("ms5-replay:os-user:{user}").as_bytes());
    Ok(Actor { user_id: UserId::from_uuid(id), printed_name, role: Role::System })
}

fn model(name: &str) -> anyhow::Result<Rebuildable> {
    Rebuildable::parse(name).with_context(|| {
        let known: Vec<&str> = Rebuildable::ALL.iter().map(|model| model.name()).collect();
        format!("no read model {name}; the read models are {}", known.join(", "))
    })
}

#[derive(Debug, Serialize)]
pub struct Rebuilt {
    pub read_model: Rebuildable,
    /// The schema queries read now.
    pub schema: Color,
    pub events_applied: i64,
}

/// Requests a rebuild of `name` with `reason`, runs a rebuild worker, and waits until queries read the
/// rebuilt version (`wait`), showing progress unless `quiet`.
pub async fn rebuild(
    database: &crate::Database,
    name: &str,
    reason: &str,
    wait: bool,
    quiet: bool,
) -> anyhow::Result<Option<Rebuilt>> {
    let model = model(name)?;
    let reason = Reason::parse(reason).context("the reason")?;
    let pool = database.connect().await?;
    let into = rebuilds::request(&pool, model, &CommandContext::new(operator()?), reason).await?;
    if !wait {
        pool.close().await;
        return Ok(None);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = rebuilds::spawn_workers(&pool, model, Settings::default(), &stopped, false);
    let done = follow(&pool, model, into, quiet).await;
    // The worker records the switch as it leaves its rebuild; stop it once that is done.
    let _ = stop.send(true);
    for worker in workers {
        worker.await.context("the rebuild worker")?;
    }
    pool.close().await;
    done.map(Some)
}

#[derive(Debug, Serialize)]
pub struct Compared {
    pub read_model: Rebuildable,
    pub differences: Vec<projections::engine::colors::Difference>,
}

/// Recomputes `name` from the events beside the live read model, compares the two at one position of
/// the log, and empties the recomputation. Runs the read model's workers in this process too, so that
/// both sides reach one position with or without a service.
pub async fn compare(database: &crate::Database, name: &str, reason: &str) -> anyhow::Result<Compared> {
    let model = model(name)?;
    let reason = Reason::parse(reason).context("the reason")?;
    let pool = database.connect().await?;
    rebuilds::start_comparison(&pool, model, &CommandContext::new(operator()?), reason).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = rebuilds::spawn_workers(&pool, model, Settings::default(), &stopped, true);
    let compared = loop {
        match rebuilds::compare(&pool, model).await {
            Ok(Some(differences)) => break Ok(Compared { read_model: model, differences }),
            Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(error) => break Err(anyhow::Error::from(error)),
        }
    };
    let _ = stop.send(true);
    for worker in workers {
        worker.await.context("a read model worker")?;
    }
    rebuilds::end_comparison(&pool, model).await?;
    pool.close().await;
    compared
}

/// Shows the rebuild's progress until the pointer has switched to `into`, against the log's length when
/// it began (counted once: a count of a long log on every refresh would cost more than the rebuild).
async fn follow(pool: &PgPool, model: Rebuildable, into: Color, quiet: bool) -> anyhow::Result<Rebuilt> {
    let bar = crate::progress_bar(quiet, format!("rebuilding {} into {into}", model.name()))?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    bar.set_length(u64::try_from(total).unwrap_or_default());
    let rebuild_checkpoint = colors::rebuild_checkpoint(model.name());
    loop {
        let pointer = colors::read(pool, model.name()).await?;
        if pointer.active == into && pointer.building.is_none() {
            let events_applied = pointer.last_switch.map_or(0, |switch| switch.events_applied);
            bar.finish_with_message(format!("{} rebuilt; queries read {into}", model.name()));
            return Ok(Rebuilt { read_model: model, schema: into, events_applied });
        }
        if pointer.building.is_none() {
            bar.abandon();
            anyhow::bail!("the rebuild of {} was cancelled", model.name());
        }
        if let Some(rebuild) = checkpoint::read(pool, &rebuild_checkpoint).await? {
            let applied = u64::try_from(rebuild.events_applied).unwrap_or_default();
            bar.set_length(bar.length().unwrap_or_default().max(applied));
            bar.set_position(applied);
            if let (Some(position), Some(error)) = (rebuild.failed_position, &rebuild.error) {
                bar.abandon();
                anyhow::bail!("the rebuild stopped at the event at position {position}: {error}");
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every worker's status (the read models, their rebuilds, the sealer): schema, version, position,
/// lag, speed, owner, state.
pub async fn status(database: &crate::Database) -> anyhow::Result<Vec<projections::status::WorkerStatus>> {
    let pool = database.connect().await?;
    let status = projections::status::all(&pool).await;
    pool.close().await;
    Ok(status?)
}
