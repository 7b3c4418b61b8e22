//! Proofs an auditor checks without the database: that one event is in the ledger (a self-contained
//! proof file: the event, its inclusion proof and a signed checkpoint), and that one checkpoint's tree is
//! a prefix of a later one's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::checkpoint::{SignedCheckpoint, VerifierKey};
use super::tree::{self, Digest, TreeHead};
use super::{LedgerError, rows};
use crate::canonical::{HashedEvent, hashed_bytes};

/// The proof file's `format`: a reader refuses any other.
pub const EVENT_PROOF_FORMAT: &str = "ms5-floor event inclusion proof 1";

/// One event and the proof that the ledger holds it, as of a signed checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventProof {
    pub format: String,
    pub ledger_number: u64,
    pub event: ProvenEvent,
    /// The event's stream hash (hex), which the leaf covers with the event.
    pub stream_hash: String,
    /// The audit path from the event's leaf to the checkpoint's root (hex hashes, leaf upwards).
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint (C2SP signed note) the proof leads to.
    pub checkpoint: String,
}

/// The fields of an event that its hashes cover, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenEvent {
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event_type: String,
    pub event_version: u32,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("not an event proof of format {EVENT_PROOF_FORMAT:?}")]
    Format,
    #[error("a hash in the proof is not 64 hex digits")]
    Hash,
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(String),
    #[error("ledger number {ledger_number} is beyond the checkpoint's {size} entries")]
    BeyondCheckpoint { ledger_number: u64, size: u64 },
    #[error("the event and its inclusion proof do not lead to the checkpoint's root")]
    NotIncluded,
}

fn digest(hex_text: &str) -> Result<Digest, ProofError> {
    hex::decode(hex_text).ok().and_then(|bytes| bytes.try_into().ok()).ok_or(ProofError::Hash)
}

impl EventProof {
    /// Checks the proof with the verifier key alone: the checkpoint's signature, then that the event's
    /// leaf, recomputed from its fields and stream hash, leads to the checkpoint's root. Returns the
    /// checkpoint's tree head.
    pub fn check(&self, key: &VerifierKey) -> Result<TreeHead, ProofError> {
        if self.format != EVENT_PROOF_FORMAT {
            return Err(ProofError::Format);
        }
        let checkpoint = key.open(&self.checkpoint).map_err(|error| ProofError::Checkpoint(error.to_string()))?;
        let head = checkpoint.head;
        if self.ledger_number == 0 || self.ledger_number > head.size {
            return Err(ProofError::BeyondCheckpoint { ledger_number: self.ledger_number, size: head.size });
        }
        let event = &self.event;
        let canonical = hashed_bytes(&HashedEvent {
            event_id: event.event_id,
            aggregate_type: &event.aggregate_type,
            aggregate_id: &event.aggregate_id,
            sequence: event.sequence,
            event_type: &event.event_type,
            event_version: event.event_version,
            payload: &event.payload,
            metadata: &event.metadata,
            recorded_at: event.recorded_at,
        });
        let leaf = tree::leaf_hash(&canonical, &digest(&self.stream_hash)?);
        let path = self.inclusion_proof.iter().map(|hash| digest(hash)).collect::<Result<Vec<_>, _>>()?;
        tree::check_inclusion(&path, &head, self.ledger_number - 1, &leaf).map_err(|_| ProofError::NotIncluded)?;
        Ok(head)
    }
}

/// The proof file for the event with `ledger_number`, against the newest checkpoint.
pub async fn prove_event(pool: &PgPool, ledger_number: u64) -> Result<EventProof, LedgerError> {
    let number = i64::try_from(ledger_number).map_err(|_| LedgerError::NotSealed(ledger_number))?;
    let event: ProvenRow = sqlx::query_as(
        "SELECT e.event_id, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version,
                e.payload, e.metadata, e.recorded_at, e.stream_hash
         FROM ledger l JOIN events e ON e.position = l.position WHERE l.ledger_number = $1",
    )
    .bind(number)
    .fetch_optional(pool)
    .await?
    .ok_or(LedgerError::NotSealed(ledger_number))?;
    let stored = rows::latest_checkpoint(pool)
        .await?
        .filter(|checkpoint| checkpoint.tree_size >= number)
        .ok_or(LedgerError::NotCheckpointed(ledger_number))?;
    let head = stored.head().ok_or(LedgerError::NoSuchCheckpoint(0))?;
    let index = ledger_number - 1;
    let wanted = tree::needed(|hashes| tree::inclusion_proof(head.size, index, hashes));
    let known = rows::hashes(pool, &wanted).await?;
    let path = tree::inclusion_proof(head.size, index, &known)?;
    Ok(EventProof {
        format: EVENT_PROOF_FORMAT.to_owned(),
        ledger_number,
        event: ProvenEvent {
            event_id: event.event_id,
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            sequence: u64::try_from(event.sequence).unwrap_or_default(),
            event_type: event.event_type,
            event_version: u32::try_from(event.event_version).unwrap_or_default(),
            payload: event.payload,
            metadata: event.metadata,
            recorded_at: event.recorded_at,
        },
        stream_hash: hex::encode(&event.stream_hash),
        inclusion_proof: path.iter().map(hex::encode).collect(),
        checkpoint: stored.note,
    })
}

#[derive(sqlx::FromRow)]
struct ProvenRow {
    event_id: Uuid,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: i32,
    payload: Value,
    metadata: Value,
    recorded_at: DateTime<Utc>,
    stream_hash: Vec<u8>,
}

/// Two stored checkpoints and the proof that the older one's tree is a prefix of the newer one's.
#[derive(Debug, Clone)]
pub struct Consistency {
    pub old: SignedCheckpoint,
    pub new: SignedCheckpoint,
    pub proof: Vec<Digest>,
}

/// The consistency proof between the stored checkpoints of sizes `old` and `new`.
pub async fn prove_consistency(pool: &PgPool, old: u64, new: u64) -> Result<Consistency, LedgerError> {
    let checkpoint = |size: u64| async move {
        let size_i64 = i64::try_from(size).map_err(|_| LedgerError::NoSuchCheckpoint(size))?;
        let stored = rows::checkpoint_covering(pool, size_i64)
            .await?
            .filter(|stored| stored.tree_size == size_i64)
            .ok_or(LedgerError::NoSuchCheckpoint(size))?;
        let head = stored.head().ok_or(LedgerError::NoSuchCheckpoint(size))?;
        Ok::<_, LedgerError>(SignedCheckpoint { head, text: stored.note })
    };
    let (old_checkpoint, new_checkpoint) = (checkpoint(old).await?, checkpoint(new).await?);
    if old > new {
        let reversed = "the older checkpoint must not be larger than the newer".to_owned();
        return Err(tree::TreeError::InvalidInput(reversed).into());
    }
    let wanted = tree::needed(|hashes| tree::consistency_proof(new, old, hashes));
    let known = rows::hashes(pool, &wanted).await?;
    let proof = tree::consistency_proof(new, old, &known)?;
    Ok(Consistency { old: old_checkpoint, new: new_checkpoint, proof })
}
