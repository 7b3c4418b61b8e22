//! Blue/green read models (docs/event-store.md, "Rebuilding a read model"): each read model keeps its
//! tables in two schemas, `rm_<name>_blue` and `rm_<name>_green`, and a pointer row says which one
//! queries read (the tables' names in `public` are views that read the pointer in the same statement).
//! The live worker writes into the active schema; a rebuild fills the other one from the first event
//! under a checkpoint of its own, and [`switch`] makes it the active one in one transaction. No live
//! table is ever renamed, emptied or dropped.
//!
//! Every batch transaction takes the pointer row FOR SHARE and the switch takes it FOR UPDATE, so a
//! batch commits wholly before or wholly after a switch, never into a schema that is no longer its own.

use chrono::{DateTime, Utc};
use commands::event_log::LogPosition;
use serde::Serialize;
use sqlx::{Connection, PgConnection, PgPool};

pub use domain::read_model::Color;

use crate::engine::projection::{Projection, ProjectionError};
use crate::engine::{checkpoint, committed};

/// Which side of a read model a worker writes: the one queries read, or the one being rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Live,
    Rebuild,
}

/// The checkpoint row of a projection's side: the live one keeps the projection's name.
pub fn checkpoint_name<P: Projection>(side: Side) -> String {
    match side {
        Side::Live => P::NAME.to_owned(),
        Side::Rebuild => rebuild_checkpoint(P::NAME),
    }
}

/// The checkpoint row of read model `name`'s rebuild (and its worker's ownership lock).
pub fn rebuild_checkpoint(name: &str) -> String {
    format!("{name}~rebuild")
}

/// A read model's pointer row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pointer {
    pub active: Color,
    /// The schema being rebuilt, while a rebuild runs.
    pub building: Option<Color>,
    /// The rebuild is a recomputation to compare with, never switched to.
    pub compare_only: bool,
    pub last_switch: Option<Switched>,
}

#[derive(sqlx::FromRow)]
struct PointerRow {
    active: String,
    building: Option<String>,
    compare_only: bool,
    switched_at: Option<DateTime<Utc>>,
    switched_version: Option<i32>,
    switched_transaction_id: Option<i64>,
    switched_position: Option<i64>,
    switched_events_applied: Option<i64>,
}

async fn pointer(connection: &mut PgConnection, name: &str, lock: &str) -> Result<Pointer, ProjectionError> {
    let row: Option<PointerRow> = sqlx::query_as(&format!(
        "SELECT active, building, compare_only, switched_at, switched_version, switched_transaction_id, switched_position,
                switched_events_applied
         FROM read_model_colors WHERE name = $1 {lock}"
    ))
    .bind(name)
    .fetch_optional(connection)
    .await?;
    let row = row.ok_or_else(|| ProjectionError::Inconsistent(format!("no read model {name}")))?;
    let active =
        Color::parse(&row.active).ok_or_else(|| ProjectionError::Inconsistent(format!("color {}", row.active)))?;
    let last_switch = (|| {
        Some(Switched {
            to: active,
            at: row.switched_at?,
            version: row.switched_version?,
            position: LogPosition { transaction_id: row.switched_transaction_id?, position: row.switched_position? },
            events_applied: row.switched_events_applied?,
        })
    })();
    Ok(Pointer {
        active,
        building: row.building.as_deref().and_then(Color::parse),
        compare_only: row.compare_only,
        last_switch,
    })
}

/// Every read model's schemas by name: the one queries read, and the one being rebuilt.
pub async fn all(pool: &PgPool) -> Result<Vec<(String, Color, Option<Color>)>, sqlx::Error> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT name, active, building FROM read_model_colors ORDER BY name").fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, active, building)| {
            Some((name, Color::parse(&active)?, building.as_deref().and_then(Color::parse)))
        })
        .collect())
}

/// A read model's pointer as it stands.
pub async fn read(pool: &PgPool, name: &str) -> Result<Pointer, ProjectionError> {
    pointer(&mut *pool.acquire().await?, name, "").await
}

/// Points the transaction's unqualified table names at the schema `side` writes; false when that side
/// has no schema now (no rebuild runs, or it was switched or cancelled since the batch was read). One
/// statement: it runs before every batch.
pub async fn enter<P: Projection>(transaction: &mut PgConnection, side: Side) -> Result<bool, ProjectionError> {
    if !P::BLUE_GREEN {
        return Ok(side == Side::Live);
    }
    let schema: Option<Option<String>> = sqlx::query_scalar(
        "SELECT CASE WHEN color IS NOT NULL
                     THEN set_config('search_path', format('rm_%s_%s, public', name, color), true) END
         FROM (SELECT name, CASE WHEN $2 THEN building ELSE active END AS color
               FROM read_model_colors WHERE name = $1 FOR SHARE) pointer",
    )
    .bind(P::NAME)
    .bind(side == Side::Rebuild)
    .fetch_optional(transaction)
    .await?;
    match schema {
        None => Err(ProjectionError::Inconsistent(format!("no read model {}", P::NAME))),
        Some(schema) => Ok(schema.is_some()),
    }
}

async fn use_schema<P: Projection>(transaction: &mut PgConnection, color: Color) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(format!("rm_{}_{color}, public", P::NAME))
        .execute(transaction)
        .await?;
    Ok(())
}

/// Starts a rebuild of `projection` into the schema queries do not read, emptied first, from the first
/// event; the rebuild worker does the rest. A rebuild already running is left as it is. Returns the
/// schema being built.
pub async fn request<P: Projection>(connection: &mut PgConnection, projection: &P) -> Result<Color, ProjectionError> {
    start::<P>(connection, projection, false).await
}

/// Starts a recomputation of `projection` into the schema queries do not read, to compare with the live
/// one and never switched to (cancel it when done). Refused while a rebuild runs.
pub async fn recompute<P: Projection>(connection: &mut PgConnection, projection: &P) -> Result<Color, ProjectionError> {
    if pointer(&mut *connection, P::NAME, "").await?.building.is_some() {
        return Err(ProjectionError::Inconsistent(format!("a rebuild of {} is running", P::NAME)));
    }
    start::<P>(connection, projection, true).await
}

async fn start<P: Projection>(
    connection: &mut PgConnection,
    projection: &P,
    compare_only: bool,
) -> Result<Color, ProjectionError> {
    if !P::BLUE_GREEN {
        return Err(ProjectionError::Inconsistent(format!("{} is never rebuilt", P::NAME)));
    }
    let mut transaction = connection.begin().await?;
    let pointer = pointer(&mut transaction, P::NAME, "FOR UPDATE").await?;
    if let Some(building) = pointer.building {
        return Ok(building);
    }
    let color = pointer.active.other();
    use_schema::<P>(&mut transaction, color).await?;
    projection.reset(&mut transaction).await?;
    let name = checkpoint_name::<P>(Side::Rebuild);
    checkpoint::load(&mut transaction, &name, P::VERSION).await?;
    checkpoint::restart(&mut transaction, &name, P::VERSION).await?;
    sqlx::query("UPDATE read_model_colors SET building = $2, compare_only = $3 WHERE name = $1")
        .bind(P::NAME)
        .bind(color.as_str())
        .bind(compare_only)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    tracing::info!(projection = P::NAME, %color, version = P::VERSION, "rebuilding blue/green from the first event");
    Ok(color)
}

/// What a switch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Switched {
    pub to: Color,
    pub at: DateTime<Utc>,
    pub version: i32,
    /// Where in the log the rebuilt version stood.
    #[serde(skip)]
    pub position: LogPosition,
    pub events_applied: i64,
}

/// Makes the rebuilt schema the one queries read, in one transaction: the pointer, and the live
/// checkpoint moved to where the rebuild stands (the live worker then applies anything newer to it).
/// `None` when no rebuild runs, or when the live side is further on in the log than the rebuild (it
/// catches up and tries again). The rebuilt schema is analysed first.
pub async fn switch<P: Projection>(connection: &mut PgConnection) -> Result<Option<Switched>, ProjectionError> {
    let Some(to) = pointer(&mut *connection, P::NAME, "").await?.building else { return Ok(None) };
    sqlx::query("SELECT analyse_read_model($1, $2)").bind(P::NAME).bind(to.as_str()).execute(&mut *connection).await?;
    let mut transaction = connection.begin().await?;
    let locked = pointer(&mut transaction, P::NAME, "FOR UPDATE").await?;
    if locked.building != Some(to) || locked.compare_only {
        return Ok(None);
    }
    let rebuilt = checkpoint::read(&mut *transaction, &checkpoint_name::<P>(Side::Rebuild))
        .await?
        .ok_or_else(|| ProjectionError::Inconsistent(format!("the rebuild of {} has no checkpoint", P::NAME)))?;
    // The live side cannot move while the pointer is locked. If it is ahead, queries would see older
    // figures after the switch than before: the rebuild catches up first.
    let live = checkpoint::read(&mut *transaction, P::NAME).await?;
    if live.is_some_and(|live| live.log_position() > rebuilt.log_position()) {
        return Ok(None);
    }
    // Upserted: a live side that never ran has no row yet, and must not start from the first event.
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, version, transaction_id, position, events_applied)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO UPDATE
         SET version = $2, transaction_id = $3, position = $4, events_applied = $5, failed_position = NULL,
             error = NULL, updated_at = now()",
    )
    .bind(P::NAME)
    .bind(rebuilt.version)
    .bind(rebuilt.transaction_id)
    .bind(rebuilt.position)
    .bind(rebuilt.events_applied)
    .execute(&mut *transaction)
    .await?;
    let at: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE read_model_colors
         SET active = building, building = NULL, switched_at = now(), switched_version = $2,
             switched_transaction_id = $3, switched_position = $4, switched_events_applied = $5
         WHERE name = $1 RETURNING switched_at",
    )
    .bind(P::NAME)
    .bind(rebuilt.version)
    .bind(rebuilt.transaction_id)
    .bind(rebuilt.position)
    .bind(rebuilt.events_applied)
    .fetch_one(&mut *transaction)
    .await?;
    committed::announce(&mut transaction, P::NAME, rebuilt.position, None).await?;
    transaction.commit().await?;
    let switched = Switched {
        to,
        at,
        version: rebuilt.version,
        position: rebuilt.log_position(),
        events_applied: rebuilt.events_applied,
    };
    tracing::info!(projection = P::NAME, %to, version = rebuilt.version, position = rebuilt.position, "switched to the rebuilt read model");
    Ok(Some(switched))
}

/// Stops a running rebuild and empties what it built; queries never read it. False when none ran.
pub async fn cancel<P: Projection>(connection: &mut PgConnection, projection: &P) -> Result<bool, ProjectionError> {
    let mut transaction = connection.begin().await?;
    let Some(building) = pointer(&mut transaction, P::NAME, "FOR UPDATE").await?.building else { return Ok(false) };
    use_schema::<P>(&mut transaction, building).await?;
    projection.reset(&mut transaction).await?;
    sqlx::query("UPDATE read_model_colors SET building = NULL, compare_only = false WHERE name = $1")
        .bind(P::NAME)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(true)
}

/// Empties the schema queries no longer read (the version before the last switch), on request. Refused
/// while a rebuild runs into it. Returns the schema emptied.
pub async fn drop_old<P: Projection>(connection: &mut PgConnection, projection: &P) -> Result<Color, ProjectionError> {
    let mut transaction = connection.begin().await?;
    let pointer = pointer(&mut transaction, P::NAME, "FOR UPDATE").await?;
    if pointer.building.is_some() {
        return Err(ProjectionError::Inconsistent(format!("a rebuild of {} is running", P::NAME)));
    }
    let old = pointer.active.other();
    use_schema::<P>(&mut transaction, old).await?;
    projection.reset(&mut transaction).await?;
    transaction.commit().await?;
    Ok(old)
}

/// What a recomputation found against the live read model, table by table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub table: String,
    /// Rows the live read model has and the recomputation does not, and the other way round.
    pub only_live: i64,
    pub only_recomputed: i64,
    /// Up to five of each, as JSON.
    pub examples: Vec<serde_json::Value>,
}

/// Compares the live read model with the finished recomputation (`recompute`), at one position of the
/// log: `None` while the two stand at different positions (the caller waits and asks again), else
/// the tables that differ (none: the read model is what the events make of it).
pub async fn compare<P: Projection>(connection: &mut PgConnection) -> Result<Option<Vec<Difference>>, ProjectionError> {
    let mut transaction = connection.begin().await?;
    // Locked, the live side cannot move while the tables are compared.
    let locked = pointer(&mut transaction, P::NAME, "FOR UPDATE").await?;
    let Some(recomputed) = locked.building.filter(|_| locked.compare_only) else {
        return Err(ProjectionError::Inconsistent(format!("no recomputation of {} runs", P::NAME)));
    };
    let live = checkpoint::read(&mut *transaction, P::NAME).await?.map(|status| status.log_position());
    let rebuilt = checkpoint::read(&mut *transaction, &checkpoint_name::<P>(Side::Rebuild)).await?;
    if live != rebuilt.map(|status| status.log_position()) {
        return Ok(None);
    }
    let (live_schema, recomputed_schema) =
        (format!("rm_{}_{}", P::NAME, locked.active), format!("rm_{}_{recomputed}", P::NAME));
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename")
            .bind(&live_schema)
            .fetch_all(&mut *transaction)
            .await?;
    let mut found = Vec::new();
    for table in tables {
        let (left, right) = (format!("{live_schema}.{table}"), format!("{recomputed_schema}.{table}"));
        let count = |a: &str, b: &str| format!("SELECT count(*) FROM (TABLE {a} EXCEPT ALL TABLE {b}) d");
        let only_live: i64 = sqlx::query_scalar(&count(&left, &right)).fetch_one(&mut *transaction).await?;
        let only_recomputed: i64 = sqlx::query_scalar(&count(&right, &left)).fetch_one(&mut *transaction).await?;
        if only_live + only_recomputed == 0 {
            continue;
        }
        let examples = sqlx::query_scalar(&format!(
            "(SELECT jsonb_build_object('only_live', row_to_json(d)) FROM (TABLE {left} EXCEPT ALL TABLE {right}) d LIMIT 5)
             UNION ALL
             (SELECT jsonb_build_object('only_recomputed', row_to_json(d)) FROM (TABLE {right} EXCEPT ALL TABLE {left}) d LIMIT 5)"
        ))
        .fetch_all(&mut *transaction)
        .await?;
        found.push(Difference { table, only_live, only_recomputed, examples });
    }
    transaction.commit().await?;
    Ok(Some(found))
}
