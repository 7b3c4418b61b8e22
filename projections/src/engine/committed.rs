//! What a projector worker announces on [`CHANNEL`] when a batch of read-model changes commits: which
//! read model, where its checkpoint now is, and which lines' rows changed. Dashboards and live streams
//! recompute a line only when it is named ([`crate::live::changes`]).

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::engine::projection::ChangedLines;

/// The channel of read-model commits.
pub const CHANNEL: &str = "ms5_read_models";

/// PostgreSQL refuses notification payloads of 8,000 bytes or more; longer lists of lines become "every line".
const MAX_PAYLOAD: usize = 7_900;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub projection: String,
    /// The checkpoint's position after the commit.
    pub position: i64,
    /// The lines whose rows changed; `None` when any may have (a rebuild empties the read model, or the
    /// list was too long to send).
    pub lines: Option<Vec<String>>,
}

impl Committed {
    pub fn parse(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }
}

/// Queues the notification inside the read model's transaction: PostgreSQL delivers it when, and only if,
/// the transaction commits, and in commit order.
pub async fn announce(
    transaction: &mut PgConnection,
    projection: &str,
    position: i64,
    lines: Option<ChangedLines>,
) -> Result<(), sqlx::Error> {
    let encode =
        |committed: &Committed| serde_json::to_string(committed).map_err(|error| sqlx::Error::Encode(error.into()));
    let mut committed = Committed { projection: projection.to_owned(), position, lines: lines.map(Vec::from_iter) };
    let mut payload = encode(&committed)?;
    if payload.len() > MAX_PAYLOAD {
        committed.lines = None;
        payload = encode(&committed)?;
    }
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(transaction).await?;
    Ok(())
}
