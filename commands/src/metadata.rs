//! Who, when, why and from where: what every event records besides its payload (Part 11 AT-02, AT-09).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::actor::{Actor, Role, UserId};
use domain::values::{DeviceId, Name, Reason};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the caller of the command layer knows about a command besides the command itself.
/// The actor is never optional: until the API authenticates people, the caller supplies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    pub actor: Actor,
    /// This command's own id: the causation id of every event it produces.
    pub command_id: Uuid,
    /// The request or workflow the command belongs to.
    pub correlation_id: Uuid,
    pub device_id: Option<DeviceId>,
    /// When the data was taken at its source (PLC, tablet), beside the server's recorded time.
    pub source_timestamp: Option<DateTime<Utc>>,
    /// The source's own sequence number for the data (a PLC gateway numbers what it sends).
    pub source_sequence: Option<u64>,
    pub idempotency_key: Option<String>,
    /// The key's record, written by the append in the same statement as the events, so that after any
    /// crash the key says "applied" exactly when the command's events exist. `None` for work that
    /// appends several times under one key (a PLC batch: its items carry source sequences instead).
    pub idempotency: Option<IdempotencyRecord>,
    /// The version the caller last saw; a mismatch is a conflict, reported and never retried.
    pub expected_version: Option<u64>,
}

/// What an append records for the `Idempotency-Key` it runs under: who used the key for which request,
/// the attempt (one request) that applied it, and the status the caller answers an accepted command
/// with, so that a retry after a crash answers as the first attempt would have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub principal: String,
    pub key: String,
    pub request_hash: Vec<u8>,
    pub attempt: Uuid,
    pub accepted_status: i16,
}

impl CommandContext {
    /// A context for one command by `actor`, correlated with nothing else.
    pub fn new(actor: Actor) -> Self {
        let command_id = Uuid::now_v7();
        Self {
            actor,
            command_id,
            correlation_id: command_id,
            device_id: None,
            source_timestamp: None,
            source_sequence: None,
            idempotency_key: None,
            idempotency: None,
            expected_version: None,
        }
    }
}

/// The metadata stored with each event, as the `metadata` jsonb column holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub actor_user_id: UserId,
    pub actor_name: Name,
    pub actor_role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sequence: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("event metadata is incomplete or malformed: {0}")]
pub struct MetadataError(#[from] serde_json::Error);

impl EventMetadata {
    pub fn for_command(context: &CommandContext, reason: Option<&Reason>) -> Self {
        Self {
            actor_user_id: context.actor.user_id,
            actor_name: context.actor.printed_name.clone(),
            actor_role: context.actor.role,
            reason: reason.cloned(),
            correlation_id: context.correlation_id,
            causation_id: context.command_id,
            device_id: context.device_id.clone(),
            source_timestamp: context.source_timestamp,
            source_sequence: context.source_sequence,
            idempotency_key: context.idempotency_key.clone(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// cqrs-es carries metadata as a string map; each field becomes one entry.
    pub fn to_map(&self) -> HashMap<String, String> {
        let serde_json::Value::Object(fields) = self.to_json() else { return HashMap::new() };
        fields
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect()
    }

    /// Parses the string map back; fails when the actor or the ids are missing.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, MetadataError> {
        /// The fields that are not strings in JSON; their map entries hold JSON text.
        const NOT_STRINGS: &[&str] = &["source_sequence"];
        let fields = map
            .iter()
            .map(|(key, text)| {
                let as_string = || serde_json::Value::String(text.clone());
                let value = if NOT_STRINGS.contains(&key.as_str()) {
                    serde_json::from_str(text).unwrap_or_else(|_| as_string())
                } else {
                    as_string()
                };
                (key.clone(), value)
            })
            .collect();
        Ok(serde_json::from_value(serde_json::Value::Object(fields))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_survives_the_cqrs_es_string_map_and_refuses_a_missing_actor() {
        let actor = Actor {
            user_id: UserId::from_uuid(Uuid::from_u128(9)),
            printed_name: Name::parse("Grace Hopper").unwrap(),
            role: Role::TeamLeader,
        };
        let mut context = CommandContext::new(actor);
        context.device_id = DeviceId::parse("tablet-7").ok();
        context.source_timestamp = DateTime::from_timestamp(1_700_000_000, 0);
        context.source_sequence = Some(41);
        let metadata = EventMetadata::for_command(&context, Reason::parse("typo").ok().as_ref());
        let map = metadata.to_map();
        assert_eq!(EventMetadata::from_map(&map).ok(), Some(metadata));
        let mut without_actor = map;
        without_actor.remove("actor_user_id");
        assert!(EventMetadata::from_map(&without_actor).is_err());
    }
}
