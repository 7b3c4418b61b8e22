//! Per-aggregate serialisation and the warm state that comes with it.
//!
//! Commands on one aggregate in this process queue on that aggregate's lock instead of racing each other
//! to the database and losing: a hot line with 30 tablets and a PLC gateway would otherwise spend most
//! attempts on conflicts. Whoever holds the lock also holds the aggregate's last committed state, so a
//! warm command needs no read at all: it appends at the next sequence, and the unique key on
//! (aggregate, sequence) tells it if another process got there first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

use crate::canonical::StreamHash;

/// An aggregate's state as of its last committed event.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub aggregate: A,
    pub version: u64,
    pub stream_hash: Option<StreamHash>,
    /// The sequence of the newest snapshot, to decide when to write the next.
    pub snapshot_version: u64,
}

type Slot<A> = Arc<tokio::sync::Mutex<Option<Loaded<A>>>>;

/// Held while a command is decided and appended; `None` inside means "not loaded, read the database".
pub type SlotGuard<A> = OwnedMutexGuard<Option<Loaded<A>>>;

#[derive(Debug)]
pub struct AggregateCache<A> {
    // A std mutex: it guards only the map, is never held across an await, and is held for microseconds.
    slots: Mutex<HashMap<String, Slot<A>>>,
    capacity: usize,
}

impl<A> AggregateCache<A> {
    pub fn new(capacity: usize) -> Self {
        Self { slots: Mutex::new(HashMap::new()), capacity }
    }

    /// Waits for exclusive use of `aggregate_id` in this process.
    pub async fn lock(&self, aggregate_id: &str) -> SlotGuard<A> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if slots.len() >= self.capacity && !slots.contains_key(aggregate_id) {
                // Forget every aggregate nobody is using; a forgotten one is reloaded from its snapshot.
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            Arc::clone(slots.entry(aggregate_id.to_owned()).or_default())
        };
        slot.lock_owned().await
    }
}
