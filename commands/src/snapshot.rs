//! Trusting a snapshot. Snapshots are a cache the service decides on, and the application role can
//! insert them, so a snapshot is used only when it proves two things: it stands at an event the stream
//! still holds (its `stream_hash` equals that event's), and it was written by an instance holding the
//! snapshot key (an HMAC-SHA256 over the record, the sequence, that hash and the canonical state). The
//! key is never in the database. A snapshot failing either check is ignored and the stream replayed.

use std::fmt;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::canonical::{StreamHash, canonical_bytes};

/// The secret that signs snapshots. Instances sharing a database share it, or each replays streams the
/// others snapshotted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SnapshotKey([u8; 32]);

impl fmt::Debug for SnapshotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SnapshotKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotKeyError {
    #[error("a snapshot key is 64 hexadecimal digits (32 bytes)")]
    Malformed,
    #[error("no randomness from the operating system: {0}")]
    NoRandomness(String),
}

impl SnapshotKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// 64 hexadecimal digits, surrounding white space ignored (a key file's trailing newline).
    pub fn parse_hex(text: &str) -> Result<Self, SnapshotKeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| SnapshotKeyError::Malformed)?;
        bytes.try_into().map(Self).map_err(|_| SnapshotKeyError::Malformed)
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn random() -> Result<Self, SnapshotKeyError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|error| SnapshotKeyError::NoRandomness(error.to_string()))?;
        Ok(Self(bytes))
    }

    /// The key of this process's stores: the one [`Self::use_for_this_process`] installed, or else a
    /// random one, with which this process trusts only the snapshots it wrote itself.
    pub fn of_this_process() -> Self {
        // Without OS randomness, a key derived from the process id and clock still makes every other
        // writer's snapshot fail the check (an attacker never saw it); only reuse across runs suffers.
        *PROCESS_KEY.get_or_init(|| {
            Self::random().unwrap_or_else(|_| {
                let seed = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
                Self(<Sha256 as sha2::Digest>::digest(seed.as_bytes()).into())
            })
        })
    }

    /// Makes `self` the key of every store this process builds with default settings. Call it before
    /// the first store is built; false when a key was in use already.
    pub fn use_for_this_process(self) -> bool {
        PROCESS_KEY.set(self).is_ok()
    }
}

static PROCESS_KEY: OnceLock<SnapshotKey> = OnceLock::new();

/// What a snapshot's MAC covers, so it can be neither edited nor moved to another record or sequence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SnapshotFacts<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: u64,
    pub stream_hash: &'a StreamHash,
    pub state: &'a Value,
}

fn keyed(key: &SnapshotKey, facts: &SnapshotFacts<'_>) -> Hmac<Sha256> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0) else { unreachable!("HMAC takes keys of any length") };
    // Lengths first, so that no two different records give the same byte string.
    for part in [facts.aggregate_type.as_bytes(), facts.aggregate_id.as_bytes()] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.update(&facts.sequence.to_be_bytes());
    mac.update(facts.stream_hash);
    mac.update(&canonical_bytes(facts.state));
    mac
}

pub(crate) fn sign(key: &SnapshotKey, facts: &SnapshotFacts<'_>) -> Vec<u8> {
    keyed(key, facts).finalize().into_bytes().to_vec()
}

/// Constant-time check of a stored MAC.
pub(crate) fn verify(key: &SnapshotKey, facts: &SnapshotFacts<'_>, mac: &[u8]) -> bool {
    keyed(key, facts).verify_slice(mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_fails_for_another_key_state_sequence_or_record() {
        let key = SnapshotKey::from_bytes([7; 32]);
        let state = serde_json::json!({"good": 101});
        let facts = SnapshotFacts {
            aggregate_type: "job",
            aggregate_id: "j-1",
            sequence: 100,
            stream_hash: &[1; 32],
            state: &state,
        };
        let mac = sign(&key, &facts);
        assert!(verify(&key, &facts, &mac));
        assert!(!verify(&SnapshotKey::from_bytes([8; 32]), &facts, &mac));
        let edited = serde_json::json!({"good": 1_000_004});
        assert!(!verify(&key, &SnapshotFacts { state: &edited, ..facts }, &mac));
        assert!(!verify(&key, &SnapshotFacts { sequence: 200, ..facts }, &mac));
        assert!(!verify(&key, &SnapshotFacts { aggregate_id: "j-2", ..facts }, &mac));
        assert!(!verify(&key, &SnapshotFacts { stream_hash: &[2; 32], ..facts }, &mac));
    }

    #[test]
    fn keys_round_trip_through_hex_and_refuse_other_lengths() {
        let key = SnapshotKey::from_bytes([0xab; 32]);
        assert_eq!(SnapshotKey::parse_hex(&format!("{}\n", key.to_hex())).ok(), Some(key));
        assert!(SnapshotKey::parse_hex("abcd").is_err());
        assert!(SnapshotKey::parse_hex(&"zz".repeat(32)).is_err());
    }
}
