//! Read models that keep each aggregate's state as the domain folds it (in a `state` jsonb column),
//! plus the columns their queries filter on. Folding through the domain's own `apply` keeps the read
//! model's arithmetic the aggregate's: there is no second implementation to drift.

use std::collections::HashMap;
use std::future::Future;

use commands::event_log::RecordedEvent;
use domain::Aggregate;
use serde_json::Value;
use sqlx::PgConnection;

use crate::engine::projection::{ChangedLines, Projection, ProjectionError};

/// One aggregate type's rows.
pub trait Rows: Send + Sync {
    type Aggregate: domain::Aggregate;
    /// The table, with a text primary key column `ID` and a `state jsonb` column.
    const TABLE: &'static str;
    const ID: &'static str;

    /// Writes one aggregate's row (insert or update) after its events of a batch; returns the line the
    /// row belongs to.
    fn write(
        &self,
        transaction: &mut PgConnection,
        id: &str,
        state: &Self::Aggregate,
        position: i64,
    ) -> impl Future<Output = Result<String, ProjectionError>> + Send;
}

/// A read model that is nothing but [`Rows`] of one aggregate type: its projection folds each batch
/// into them, and a rebuild empties its table.
pub trait FoldedProjection: Rows + 'static {
    /// Names the checkpoint row; never renamed in place.
    const NAME: &'static str;
    /// A new version rebuilds the read model from the first event.
    const VERSION: i32;

    /// What the rows keep that the fold cannot see, taken from the batch's events themselves (who acted,
    /// from their metadata); written after the rows, in the same transaction. Nothing by default.
    fn annotate(
        &self,
        _transaction: &mut PgConnection,
        _events: &[RecordedEvent],
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send {
        async { Ok(()) }
    }
}

impl<P: FoldedProjection> Projection for P {
    const NAME: &'static str = <P as FoldedProjection>::NAME;
    const VERSION: i32 = <P as FoldedProjection>::VERSION;
    const BLUE_GREEN: bool = true;

    async fn apply(
        &self,
        transaction: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<ChangedLines, ProjectionError> {
        let lines = fold_batch(self, transaction, events).await?;
        self.annotate(transaction, events).await?;
        Ok(lines)
    }

    async fn reset(&self, transaction: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query(&format!("DELETE FROM {}", P::TABLE)).execute(transaction).await?;
        Ok(())
    }
}

/// Folds the batch's events of `R`'s aggregate type into their rows: each aggregate is read once,
/// folded through all its events of the batch, and written once. Returns the lines of the rows written.
pub async fn fold_batch<R: Rows>(
    rows: &R,
    transaction: &mut PgConnection,
    events: &[RecordedEvent],
) -> Result<ChangedLines, ProjectionError> {
    let mut folded: HashMap<&str, (R::Aggregate, i64)> = HashMap::new();
    for event in events.iter().filter(|event| event.aggregate_type == R::Aggregate::TYPE) {
        let id = event.aggregate_id.as_str();
        if !folded.contains_key(id) {
            folded.insert(id, (stored::<R>(transaction, id).await?, 0));
        }
        if let Some((state, position)) = folded.get_mut(id) {
            state.apply(&event.decode::<<R::Aggregate as Aggregate>::Event>()?);
            *position = event.position;
        }
    }
    let mut lines = ChangedLines::new();
    for (id, (state, position)) in folded {
        lines.insert(rows.write(transaction, id, &state, position).await?);
    }
    Ok(lines)
}

async fn stored<R: Rows>(transaction: &mut PgConnection, id: &str) -> Result<R::Aggregate, ProjectionError> {
    let state: Option<Value> = sqlx::query_scalar(&format!("SELECT state FROM {} WHERE {} = $1", R::TABLE, R::ID))
        .bind(id)
        .fetch_optional(transaction)
        .await?;
    match state {
        None => Ok(R::Aggregate::default()),
        Some(state) => serde_json::from_value(state).map_err(|error| ProjectionError::Inconsistent(error.to_string())),
    }
}

pub fn to_state(state: &impl serde::Serialize) -> Result<Value, ProjectionError> {
    serde_json::to_value(state).map_err(|error| ProjectionError::Inconsistent(error.to_string()))
}

/// A snake-case enum's name as serde writes it (`running`, `small_stop`).
pub fn name_of(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}
