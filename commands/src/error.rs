//! What can go wrong in the store, kept apart from what the domain refuses.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended first; `current_version` is the stream's version now.
    #[error("concurrency conflict: the aggregate is at version {current_version}")]
    Conflict { current_version: u64 },
    /// Another request applied a command under the same `Idempotency-Key` first; nothing was written.
    #[error("the idempotency key was used by another request first")]
    IdempotencyKeyUsed,
    /// The log does not hold what it must: rows were removed or changed outside the service.
    #[error(transparent)]
    Integrity(#[from] IntegrityAlarm),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data does not deserialise: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataError),
    /// An event of a schema version this release cannot read (written by a newer release).
    #[error(transparent)]
    Version(#[from] domain::versions::UpcastError),
}

/// A stream that is not what the service appended: found when loading, reloading or appending to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("integrity alarm on {aggregate_type}/{aggregate_id} at sequence {sequence}: {kind}")]
pub struct IntegrityAlarm {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub kind: AlarmKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AlarmKind {
    /// The stream ends before an event this service appended, read or snapshotted.
    #[error("the stream holds fewer events than this service saw ({seen})")]
    StreamShortened { seen: u64 },
    /// An event's predecessor is missing: one was deleted from the middle of the stream.
    #[error("the event has no predecessor")]
    MissingPredecessor,
    /// The event's stored hash is not the hash of its contents and its predecessor's hash.
    #[error("the hash chain breaks")]
    HashMismatch,
}

impl AlarmKind {
    /// A stable name for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Self::StreamShortened { .. } => "stream_shortened",
            Self::MissingPredecessor => "missing_predecessor",
            Self::HashMismatch => "hash_mismatch",
        }
    }
}
