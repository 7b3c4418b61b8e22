//! The ledger: layer 3 of tamper evidence (docs/event-store.md, "Tamper evidence"). Every event, in
//! commit order, gets a dense ledger number and becomes a leaf of an RFC 6962 Merkle tree; signed
//! checkpoints of the tree (C2SP formats) let anyone holding the verifier key prove that the log was
//! not altered, truncated or replaced since, with inclusion proofs for single events and consistency
//! proofs between checkpoints. The sealer and the checkpoint writer that fill these tables run in
//! `projections::sealing`; verification is [`verify::verify`].

pub mod checkpoint;
pub mod log_file;
pub mod proof;
pub mod rows;
pub mod seal;
pub mod tree;
pub mod verify;
pub mod witness;

pub use checkpoint::{CheckpointError, SealKey, SignedCheckpoint, VerifierKey};
pub use tree::{Digest, TreeError, TreeHead};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("ledger number {0} is not sealed yet")]
    NotSealed(u64),
    #[error("no checkpoint covers ledger number {0} yet")]
    NotCheckpointed(u64),
    #[error("no checkpoint of size {0}")]
    NoSuchCheckpoint(u64),
    /// A task or thread of the work ended before finishing it: what it covered is unknown.
    #[error("the work was interrupted: {0}")]
    Interrupted(String),
}

impl From<tlog_tiles::Error> for LedgerError {
    fn from(error: tlog_tiles::Error) -> Self {
        Self::Tree(error.into())
    }
}
