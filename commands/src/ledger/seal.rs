//! Filling the ledger: sealing events in commit order, and signing checkpoints of the tree. The
//! workers that call these (one owner each) are in `projections::sealing`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::LedgerError;
use super::checkpoint::{SealKey, SignedCheckpoint};
use super::rows::{self, Entry};
use super::tree::{self, TreeHead};
use crate::canonical::hashed_bytes;
use crate::event_log::RecordedEvent;

/// Gives `events` (the next ones in commit order) the next ledger numbers and appends their leaves to
/// the tree, in the caller's transaction; returns the ledger's new size.
pub async fn seal(connection: &mut PgConnection, events: &[RecordedEvent]) -> Result<u64, LedgerError> {
    let mut frontier = rows::frontier(&mut *connection).await?;
    let mut entries = Vec::with_capacity(events.len());
    let mut stored = Vec::with_capacity(events.len() * 2);
    for event in events {
        let leaf = tree::leaf_hash(&hashed_bytes(&event.hashed()), &event.stream_hash);
        stored.extend(frontier.push(leaf)?);
        let ledger_number = i64::try_from(frontier.size()).map_err(|_| LedgerError::NotSealed(frontier.size()))?;
        entries.push(Entry { ledger_number, position: event.position, leaf_hash: leaf });
    }
    rows::append(&mut *connection, &entries, &stored).await?;
    Ok(frontier.size())
}

/// Signs and stores a checkpoint of the whole ledger as it is, unless the newest checkpoint already
/// covers it; returns the new checkpoint.
pub async fn write_checkpoint(
    connection: &mut PgConnection,
    key: &SealKey,
    now: DateTime<Utc>,
) -> Result<Option<SignedCheckpoint>, LedgerError> {
    let size = rows::size(&mut *connection).await?;
    let newest = rows::latest_checkpoint(&mut *connection).await?.map_or(0, |stored| stored.tree_size);
    if size == 0 || i64::try_from(size).is_ok_and(|size| size <= newest) {
        return Ok(None);
    }
    let known = rows::hashes(&mut *connection, &tree::Frontier::indexes(size)).await?;
    let head = TreeHead { size, root: tree::root(size, &known)? };
    let checkpoint = key.sign(&head)?;
    rows::insert_checkpoint(&mut *connection, &checkpoint, now).await?;
    Ok(Some(checkpoint))
}
