//! The ledger's tables: entries, stored tree hashes and signed checkpoints (migration `ledger`).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::checkpoint::SignedCheckpoint;
use super::tree::{Digest, Frontier, Known, TreeHead};

/// How many entries the ledger holds: its last ledger number.
pub async fn size(executor: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let size: Option<i64> = sqlx::query_scalar("SELECT max(ledger_number) FROM ledger").fetch_one(executor).await?;
    Ok(size.map_or(0, |size| u64::try_from(size).unwrap_or(0)))
}

/// The stored hashes at `indexes` that exist.
pub async fn hashes(executor: impl PgExecutor<'_>, indexes: &[u64]) -> Result<Known, sqlx::Error> {
    let wanted: Vec<i64> = indexes.iter().filter_map(|index| i64::try_from(*index).ok()).collect();
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT stored_index, hash FROM ledger_hashes WHERE stored_index = ANY($1)")
            .bind(&wanted)
            .fetch_all(executor)
            .await?;
    Ok(Known::new(
        rows.into_iter().filter_map(|(index, hash)| Some((u64::try_from(index).ok()?, hash.try_into().ok()?))),
    ))
}

/// The right edge of the ledger's tree as stored.
pub async fn frontier(connection: &mut PgConnection) -> Result<Frontier, sqlx::Error> {
    let size = size(&mut *connection).await?;
    Ok(Frontier::new(size, hashes(&mut *connection, &Frontier::indexes(size)).await?))
}

/// One sealed event.
#[derive(Debug, Clone)]
pub struct Entry {
    pub ledger_number: i64,
    pub position: i64,
    pub leaf_hash: Digest,
}

/// Appends entries and the tree hashes they complete, in the caller's transaction.
pub async fn append(
    connection: &mut PgConnection,
    entries: &[Entry],
    stored: &[(u64, Digest)],
) -> Result<(), sqlx::Error> {
    let numbers: Vec<i64> = entries.iter().map(|entry| entry.ledger_number).collect();
    let positions: Vec<i64> = entries.iter().map(|entry| entry.position).collect();
    let leaves: Vec<Vec<u8>> = entries.iter().map(|entry| entry.leaf_hash.to_vec()).collect();
    sqlx::query(
        "INSERT INTO ledger (ledger_number, position, leaf_hash) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])",
    )
    .bind(&numbers)
    .bind(&positions)
    .bind(&leaves)
    .execute(&mut *connection)
    .await?;
    let indexes: Vec<i64> = stored.iter().filter_map(|(index, _)| i64::try_from(*index).ok()).collect();
    let hashes: Vec<Vec<u8>> = stored.iter().map(|(_, hash)| hash.to_vec()).collect();
    sqlx::query("INSERT INTO ledger_hashes (stored_index, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])")
        .bind(&indexes)
        .bind(&hashes)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// A checkpoint as stored: the signed note and when it was written.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCheckpoint {
    pub tree_size: i64,
    pub root_hash: Vec<u8>,
    pub signed_at: DateTime<Utc>,
    pub note: String,
}

pub async fn insert_checkpoint(
    executor: impl PgExecutor<'_>,
    checkpoint: &SignedCheckpoint,
    signed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO ledger_checkpoints (tree_size, root_hash, signed_at, note) VALUES ($1, $2, $3, $4)")
        .bind(i64::try_from(checkpoint.head.size).unwrap_or(i64::MAX))
        .bind(checkpoint.head.root.to_vec())
        .bind(signed_at)
        .bind(&checkpoint.text)
        .execute(executor)
        .await?;
    Ok(())
}

pub async fn latest_checkpoint(executor: impl PgExecutor<'_>) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tree_size, root_hash, signed_at, note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1",
    )
    .fetch_optional(executor)
    .await
}

/// Checkpoints in size order, after `after_size`, at most `limit`.
pub async fn checkpoints(
    executor: impl PgExecutor<'_>,
    after_size: i64,
    limit: i64,
) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tree_size, root_hash, signed_at, note FROM ledger_checkpoints WHERE tree_size > $1
         ORDER BY tree_size LIMIT $2",
    )
    .bind(after_size)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// The smallest checkpoint that covers ledger number `ledger_number`.
pub async fn checkpoint_covering(
    executor: impl PgExecutor<'_>,
    ledger_number: i64,
) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tree_size, root_hash, signed_at, note FROM ledger_checkpoints WHERE tree_size >= $1
         ORDER BY tree_size LIMIT 1",
    )
    .bind(ledger_number)
    .fetch_optional(executor)
    .await
}

impl StoredCheckpoint {
    pub fn head(&self) -> Option<TreeHead> {
        Some(TreeHead { size: u64::try_from(self.tree_size).ok()?, root: self.root_hash.clone().try_into().ok()? })
    }
}

/// The ledger numbers and sealed leaves of the events at `positions` that are sealed, by position.
pub async fn sealed_at(
    executor: impl PgExecutor<'_>,
    positions: &[i64],
) -> Result<std::collections::HashMap<i64, (i64, Vec<u8>)>, sqlx::Error> {
    let rows: Vec<(i64, i64, Vec<u8>)> =
        sqlx::query_as("SELECT position, ledger_number, leaf_hash FROM ledger WHERE position = ANY($1)")
            .bind(positions)
            .fetch_all(executor)
            .await?;
    Ok(rows.into_iter().map(|(position, number, leaf)| (position, (number, leaf))).collect())
}

/// A witness's cosignature of a stored checkpoint (migration `ledger_cosignatures`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCosignature {
    pub tree_size: i64,
    pub witness: String,
    pub cosigned_at: DateTime<Utc>,
    /// The signature line; appended to the checkpoint's note it gives the cosigned checkpoint.
    pub signature: String,
}

/// Stores a cosignature once; the same witness cosigning the same checkpoint again changes nothing.
pub async fn insert_cosignature(
    executor: impl PgExecutor<'_>,
    cosignature: &StoredCosignature,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ledger_cosignatures (tree_size, witness, cosigned_at, signature) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(cosignature.tree_size)
    .bind(&cosignature.witness)
    .bind(cosignature.cosigned_at)
    .bind(&cosignature.signature)
    .execute(executor)
    .await?;
    Ok(())
}

/// The cosignatures of the checkpoints of sizes `sizes`, by size and witness.
pub async fn cosignatures(executor: impl PgExecutor<'_>, sizes: &[i64]) -> Result<Vec<StoredCosignature>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tree_size, witness, cosigned_at, signature FROM ledger_cosignatures WHERE tree_size = ANY($1)
         ORDER BY tree_size, witness",
    )
    .bind(sizes)
    .fetch_all(executor)
    .await
}

/// The largest checkpoint `witness` cosigned.
pub async fn last_cosigned(executor: impl PgExecutor<'_>, witness: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(tree_size) FROM ledger_cosignatures WHERE witness = $1")
        .bind(witness)
        .fetch_one(executor)
        .await
}
