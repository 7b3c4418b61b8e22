//! Layer 2 of tamper evidence (docs/event-store.md): each event's `stream_hash` is
//! SHA-256(previous event's stream_hash, or 32 zero bytes for the first || canonical bytes of this event).
//! The canonical bytes are JSON with object keys sorted at every depth and no insignificant white space,
//! written here rather than left to `serde_json`, whose key order depends on a crate feature that any
//! dependency may switch on.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub type StreamHash = [u8; 32];

/// Everything about an event that the hash covers: all but the two columns the database assigns at
/// commit (position, transaction id), whose integrity the global seal covers instead.
#[derive(Debug, Clone, Copy)]
pub struct HashedEvent<'a> {
    pub event_id: Uuid,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: u64,
    pub event_type: &'a str,
    pub event_version: u32,
    pub payload: &'a Value,
    pub metadata: &'a Value,
    pub recorded_at: DateTime<Utc>,
}

pub fn stream_hash(previous: Option<&StreamHash>, event: &HashedEvent<'_>) -> StreamHash {
    chain(previous, &hashed_bytes(event))
}

/// The canonical bytes of an event's hashed fields: what its stream hash and its ledger leaf cover.
pub fn hashed_bytes(event: &HashedEvent<'_>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1024);
    write_hashed_event(event, &mut bytes);
    bytes
}

/// The stream hash of an event whose canonical bytes are `bytes`, after `previous`.
pub fn chain(previous: Option<&StreamHash>, bytes: &[u8]) -> StreamHash {
    let mut hasher = Sha256::new();
    hasher.update(previous.unwrap_or(&[0; 32]));
    hasher.update(bytes);
    hasher.finalize().into()
}

/// The canonical JSON object of an event's hashed fields, written field by field (keys in sorted order)
/// so that payload and metadata are not copied into an intermediate value first.
fn write_hashed_event(event: &HashedEvent<'_>, out: &mut Vec<u8>) {
    let scalar = |key: &str, value: Value, out: &mut Vec<u8>| {
        write_scalar(&Value::String(key.to_owned()), out);
        out.push(b':');
        write_scalar(&value, out);
        out.push(b',');
    };
    out.push(b'{');
    scalar("aggregate_id", Value::from(event.aggregate_id), out);
    scalar("aggregate_type", Value::from(event.aggregate_type), out);
    scalar("event_id", Value::from(event.event_id.to_string()), out);
    scalar("event_type", Value::from(event.event_type), out);
    scalar("event_version", Value::from(event.event_version), out);
    out.extend_from_slice(br#""metadata":"#);
    write_canonical(event.metadata, out);
    out.extend_from_slice(br#","payload":"#);
    write_canonical(event.payload, out);
    out.push(b',');
    scalar("recorded_at", Value::from(event.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true)), out);
    write_scalar(&Value::from("sequence"), out);
    out.push(b':');
    write_scalar(&Value::from(event.sequence), out);
    out.push(b'}');
}

/// `value` as canonical JSON: keys sorted at every depth, no insignificant white space.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Writing a scalar `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(payload: &'a Value, metadata: &'a Value) -> HashedEvent<'a> {
        HashedEvent {
            event_id: Uuid::from_u128(1),
            aggregate_type: "job",
            aggregate_id: "j-1",
            sequence: 1,
            event_type: "JobStarted",
            event_version: 1,
            payload,
            metadata,
            recorded_at: DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap_or_default(),
        }
    }

    #[test]
    fn key_order_does_not_change_the_hash_but_any_value_does() {
        let metadata = serde_json::json!({"actor": "a"});
        let one: Value = serde_json::from_str(r#"{"a":1,"b":{"y":2,"x":[1,"s"]}}"#).unwrap_or_default();
        let same: Value = serde_json::from_str(r#"{"b":{"x":[1,"s"],"y":2},"a":1}"#).unwrap_or_default();
        let other: Value = serde_json::from_str(r#"{"a":1,"b":{"y":3,"x":[1,"s"]}}"#).unwrap_or_default();
        let hash = stream_hash(None, &sample(&one, &metadata));
        assert_eq!(hash, stream_hash(None, &sample(&same, &metadata)));
        assert_ne!(hash, stream_hash(None, &sample(&other, &metadata)));
        assert_ne!(hash, stream_hash(Some(&[1; 32]), &sample(&one, &metadata)));
    }

    #[test]
    fn the_hashed_event_is_the_canonical_form_of_its_fields_as_one_object() {
        let metadata = serde_json::json!({"z": 1, "a": [true, null]});
        let payload = serde_json::json!({"good": 3, "at": "2026-03-02T08:00:00Z"});
        let event = sample(&payload, &metadata);
        let as_object = serde_json::json!({
            "event_id": event.event_id.to_string(),
            "aggregate_type": event.aggregate_type,
            "aggregate_id": event.aggregate_id,
            "sequence": event.sequence,
            "event_type": event.event_type,
            "event_version": event.event_version,
            "payload": payload,
            "metadata": metadata,
            "recorded_at": "2023-11-14T22:13:20.123456Z",
        });
        let (mut direct, mut generic) = (Vec::new(), Vec::new());
        write_hashed_event(&event, &mut direct);
        write_canonical(&as_object, &mut generic);
        assert_eq!(String::from_utf8_lossy(&direct), String::from_utf8_lossy(&generic));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_without_spaces() {
        let value: Value = serde_json::from_str(r#"{"b":[{"d":1,"c":"é"}],"a":null}"#).unwrap_or_default();
        let mut out = Vec::new();
        write_canonical(&value, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), r#"{"a":null,"b":[{"c":"é","d":1}]}"#);
    }
}
