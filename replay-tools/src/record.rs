//! Replaying one record for an auditor (Part 11 AT-14): its events one by one with who, when, why and
//! from where, what each changed (old and new values, as the audit trail shows them), its state after
//! each step, and its state as of a sequence number or an instant, read from the database's log.

use anyhow::Context;
use chrono::{DateTime, Utc};
use commands::event_log::{self, StreamBound};
use projections::read_models::audit::{diff, step};
use serde::Serialize;
use serde_json::Value;

/// Up to where a record is replayed.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    End,
    Sequence(u64),
    Time(DateTime<Utc>),
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub sequence: i64,
    pub event_type: String,
    pub recorded_at: DateTime<Utc>,
    /// Who, in which role, why, from which device, with which correlation id: as stored.
    pub metadata: Value,
    pub changes: Vec<diff::Change>,
    pub state: Value,
}

#[derive(Debug, Serialize)]
pub struct Replay {
    pub record_type: String,
    pub record_id: String,
    /// The last sequence number replayed (0: the record did not exist yet).
    pub version: u64,
    /// Whether the replayed events' hash chain recomputes from their rows.
    pub chain_verified: bool,
    pub steps: Vec<Step>,
    /// What changed between `since` and the end of the replay, field by field.
    pub changed_since: Option<Vec<diff::Change>>,
    pub state: Value,
}

/// Replays `record_type/record_id` (the stored record type: `job`, `downtime`, `checklist`, ...) up to
/// `until`; with `since`, also what changed between that instant and the end.
pub async fn replay(
    database: &crate::Database,
    record_type: &str,
    record_id: &str,
    until: Until,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<Replay> {
    let pool = database.connect().await?;
    let bound = match until {
        Until::End => StreamBound::All,
        Until::Sequence(sequence) => StreamBound::UpToSequence(sequence),
        Until::Time(at) => StreamBound::UpToTime(at),
    };
    let events = event_log::read_stream(&pool, record_type, record_id, bound).await;
    pool.close().await;
    let events = events?;
    let chain_verified = event_log::verify_stream(&events).is_ok();
    let (mut state, mut steps, mut at_since) = (Value::Null, Vec::with_capacity(events.len()), None);
    for event in events {
        if since.is_some_and(|since| event.recorded_at > since) && at_since.is_none() {
            at_since = Some(state.clone());
        }
        let (before, after) = step(record_type, &state, &event)
            .with_context(|| format!("replaying {record_type}/{record_id} at sequence {}", event.sequence))?;
        steps.push(Step {
            sequence: event.sequence,
            event_type: event.event_type,
            recorded_at: event.recorded_at,
            metadata: event.metadata,
            changes: diff::changes(&before, &after),
            state: after.clone(),
        });
        state = after;
    }
    let changed_since = since.map(|_| diff::changes(at_since.as_ref().unwrap_or(&state), &state));
    let version = steps.last().map_or(0, |last| u64::try_from(last.sequence).unwrap_or_default());
    Ok(Replay {
        record_type: record_type.to_owned(),
        record_id: record_id.to_owned(),
        version,
        chain_verified,
        steps,
        changed_since,
        state,
    })
}
