//! The ledger's two writers (docs/event-store.md, "Tamper evidence"): the [`Sealer`], which gives every
//! event a ledger number and a leaf in commit order, and [`checkpoints`], which signs the tree at
//! intervals. Neither is a read model: a ledger number is for ever, so the sealer refuses to be rebuilt,
//! and a rebuild of the read models never touches either. Both stay off the command path: appends never
//! wait for them.

pub mod checkpoints;
pub mod keeper;
pub mod witness;

use std::time::Duration;

use commands::event_log::RecordedEvent;
use commands::ledger::{LedgerError, SignedCheckpoint};
use sqlx::PgConnection;
use tokio::sync::watch;

use crate::engine::projection::{ChangedLines, Projection, ProjectionError};

/// Where checkpoints are sent: an `http://` URL (this build speaks no TLS itself; what is sent is
/// signed, and a proxy may add TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(reqwest::Url);

impl HttpUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text).map_err(|error| format!("not a URL: {error}"))?;
        if url.scheme() != "http" {
            return Err("the URL must be http:// (what is sent is signed; a proxy may add TLS)".into());
        }
        Ok(Self(url))
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A keeper or witness that does not answer within this long is retried.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// The HTTP client for keepers and witnesses; none when it cannot be built (logged as `purpose`).
fn http_client(purpose: &str) -> Option<reqwest::Client> {
    match reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build() {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::error!(%error, "cannot build the HTTP client for {purpose}; checkpoints stay in the database");
            None
        }
    }
}

/// Hands every checkpoint `newest` is given to `deliver` until `stop`, retrying with backoff (1 s
/// doubling to 60 s, each failure told to `failed`) until it is delivered or a newer one replaces it:
/// a newer checkpoint extends the older, so nothing it needs is missed, and checkpointing never waits.
async fn deliver_newest<E, Delivery: Future<Output = Result<(), E>>>(
    mut newest: watch::Receiver<Option<SignedCheckpoint>>,
    mut stop: watch::Receiver<bool>,
    mut deliver: impl FnMut(SignedCheckpoint) -> Delivery,
    failed: impl Fn(&E, &SignedCheckpoint),
) {
    'newest: loop {
        let checkpoint = newest.borrow_and_update().clone();
        if let Some(checkpoint) = checkpoint {
            let mut retry = FIRST_RETRY;
            while let Err(error) = deliver(checkpoint.clone()).await {
                failed(&error, &checkpoint);
                tokio::select! {
                    () = tokio::time::sleep(retry) => retry = (retry * 2).min(LAST_RETRY),
                    changed = newest.changed() => if changed.is_err() { return } else { continue 'newest },
                    _ = stop.changed() => return,
                }
            }
        }
        tokio::select! {
            changed = newest.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}

/// Seals the log, as a projection: the worker gives it batches in commit order, exactly once, and
/// commits its ledger rows with its checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct Sealer;

impl Projection for Sealer {
    const NAME: &'static str = "ledger";
    const VERSION: i32 = 1;

    async fn apply(
        &self,
        transaction: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<ChangedLines, ProjectionError> {
        commands::ledger::seal::seal(transaction, events).await.map_err(|error| match error {
            LedgerError::Database(error) => ProjectionError::Database(error),
            other => ProjectionError::Inconsistent(other.to_string()),
        })?;
        Ok(ChangedLines::new())
    }

    async fn reset(&self, _transaction: &mut PgConnection) -> Result<(), ProjectionError> {
        Err(ProjectionError::Inconsistent("the ledger is never rebuilt: ledger numbers are permanent".to_owned()))
    }
}
