//! What can go wrong in the store, kept apart from what the domain refuses.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended first; `current_version` is the stream's version now.
    #[error("concurrency conflict: the aggregate is at version {current_version}")]
    Conflict { current_version: u64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data does not deserialise: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataError),
}
