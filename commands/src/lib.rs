//! MS5 Floor's write side: commands are decided by the `domain` aggregates (through cqrs-es) and their
//! events appended to our own PostgreSQL event store.
//!
//! The store keeps one append-only `events` table with a global position, the writer's transaction id,
//! a gapless per-aggregate sequence and a per-aggregate SHA-256 hash chain; see `docs/adr/` for why it
//! is ours and not postgres-es. This crate knows nothing of HTTP.
//! Start reading at [`execute::execute`], then [`store::PgEventStore`] and [`event_log`].

pub mod adapter;
mod cache;
pub mod canonical;
mod codec;
pub mod database;
pub mod error;
pub mod event_log;
pub mod execute;
pub mod ledger;
pub mod lookups;
pub mod metadata;
pub mod signatures;
pub mod snapshot;
pub mod store;
pub mod wake;

pub use error::StoreError;
pub use execute::{CommandError, CommandOutcome, execute};
pub use metadata::{CommandContext, EventMetadata, IdempotencyRecord};
pub use store::{PgEventStore, StoreSettings};
