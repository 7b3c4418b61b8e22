//! What a projection is: a name, a version, and a deterministic fold of events into its tables.

use std::collections::BTreeSet;
use std::future::Future;

use commands::event_log::RecordedEvent;
use sqlx::PgConnection;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event does not decode: {0}")]
    Decode(#[from] commands::StoreError),
    #[error("read model is inconsistent: {0}")]
    Inconsistent(String),
}

/// The lines whose read-model rows a batch changed, named in the batch's commit notification so that a
/// dashboard of another line need not be recomputed.
pub type ChangedLines = BTreeSet<String>;

pub trait Projection: Send + Sync + 'static {
    /// Names the checkpoint row; never renamed in place.
    const NAME: &'static str;
    /// A new version rebuilds the read model from the first event.
    const VERSION: i32;
    /// Whether the read model is rebuilt blue/green (`engine::colors`): its tables live in two schemas
    /// and queries read the active one through views. Projections whose rows are for ever (the ledger)
    /// and test projections are not.
    const BLUE_GREEN: bool = false;

    /// Folds a batch of events (commit order) into the read model inside `transaction`. Uses nothing but
    /// the events and the read model: no clock, no randomness, so a rebuild gives the same tables.
    /// Returns every line whose rows it changed.
    fn apply(
        &self,
        transaction: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> impl Future<Output = Result<ChangedLines, ProjectionError>> + Send;

    /// Empties the read model, inside `transaction`, before a rebuild (of a blue/green read model: the
    /// schema the transaction's search_path names, never the one queries read).
    fn reset(&self, transaction: &mut PgConnection) -> impl Future<Output = Result<(), ProjectionError>> + Send;
}
