//! The audit trail (Part 11 AT-01..AT-12; docs/part11.md): one entry per event of every record,
//! production and system alike (sign-ins, lockouts, role changes and configuration are events too), with
//! who acted (id, printed name at the time, role used), when (server UTC), from where (device, source
//! time), why (the reason), and every field the event changed with its old and new value: the record's
//! state before and after, folded by the domain itself and compared.

pub mod diff;
pub mod query;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use commands::event_log::RecordedEvent;
use domain::Aggregate;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::engine::projection::{ChangedLines, Projection, ProjectionError};
use crate::read_models::folded::to_state;

#[derive(Debug, Clone, Copy)]
pub struct AuditTrail;

type RecordKey = (String, String);

/// A record's state as the trail knows it, and its line.
struct Known {
    state: Value,
    line: Option<String>,
}

impl Projection for AuditTrail {
    const NAME: &'static str = "audit_trail";
    /// 2: the record states it keeps hold their signatures (rows of version 1 lack them).
    const VERSION: i32 = 2;
    const BLUE_GREEN: bool = true;

    async fn apply(
        &self,
        transaction: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<ChangedLines, ProjectionError> {
        let mut records: HashMap<RecordKey, Known> = HashMap::new();
        let mut entries = Entries::default();
        for event in events {
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            if !records.contains_key(&key) {
                let known = load(transaction, &key).await?;
                records.insert(key.clone(), known);
            }
            let state = records.get(&key).map(|known| known.state.clone()).unwrap_or(Value::Null);
            let (before, after) = step(&event.aggregate_type, &state, event)?;
            let line = match records.get(&key).and_then(|known| known.line.clone()) {
                Some(line) => Some(line),
                None => line_of(transaction, &mut records, &event.aggregate_type, &after).await?,
            };
            entries.push(event, line.clone(), &diff::changes(&before, &after))?;
            records.insert(key, Known { state: after, line });
        }
        store(transaction, records).await?;
        entries.insert(transaction).await?;
        Ok(ChangedLines::new())
    }

    async fn reset(&self, transaction: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM audit_trail").execute(&mut *transaction).await?;
        sqlx::query("DELETE FROM audit_records").execute(&mut *transaction).await?;
        Ok(())
    }
}

async fn load(transaction: &mut PgConnection, key: &RecordKey) -> Result<Known, ProjectionError> {
    let row: Option<(Value, Option<String>)> =
        sqlx::query_as("SELECT state, line FROM audit_records WHERE record_type = $1 AND record_id = $2")
            .bind(&key.0)
            .bind(&key.1)
            .fetch_optional(transaction)
            .await?;
    Ok(row.map_or(Known { state: Value::Null, line: None }, |(state, line)| Known { state, line }))
}

async fn store(transaction: &mut PgConnection, records: HashMap<RecordKey, Known>) -> Result<(), ProjectionError> {
    let mut types = Vec::with_capacity(records.len());
    let mut ids = Vec::with_capacity(records.len());
    let mut states = Vec::with_capacity(records.len());
    let mut lines = Vec::with_capacity(records.len());
    for ((record_type, record_id), known) in records {
        types.push(record_type);
        ids.push(record_id);
        states.push(known.state);
        lines.push(known.line);
    }
    sqlx::query(
        "INSERT INTO audit_records (record_type, record_id, state, line)
         SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
         ON CONFLICT (record_type, record_id) DO UPDATE SET state = excluded.state, line = excluded.line",
    )
    .bind(types)
    .bind(ids)
    .bind(states)
    .bind(lines)
    .execute(transaction)
    .await?;
    Ok(())
}

/// The record's state before and after `event`, as its aggregate folds it (JSON, `Null` before the
/// first event): how the trail finds what an event changed, and how a record is replayed step by step.
pub fn step(record_type: &str, state: &Value, event: &RecordedEvent) -> Result<(Value, Value), ProjectionError> {
    use domain::{andon, checklist, device, downtime, export, job, line, read_model, shift_report, user};
    match record_type {
        line::Line::TYPE => step_as::<line::Line>(state, event),
        job::Job::TYPE => step_as::<job::Job>(state, event),
        downtime::Downtime::TYPE => step_as::<downtime::Downtime>(state, event),
        andon::AndonCall::TYPE => step_as::<andon::AndonCall>(state, event),
        checklist::ChecklistTemplate::TYPE => step_as::<checklist::ChecklistTemplate>(state, event),
        checklist::Checklist::TYPE => step_as::<checklist::Checklist>(state, event),
        user::User::TYPE => step_as::<user::User>(state, event),
        device::Device::TYPE => step_as::<device::Device>(state, event),
        export::Export::TYPE => step_as::<export::Export>(state, event),
        read_model::ReadModel::TYPE => step_as::<read_model::ReadModel>(state, event),
        shift_report::ShiftReport::TYPE => step_as::<shift_report::ShiftReport>(state, event),
        other => Err(ProjectionError::Inconsistent(format!("the trail knows no record type {other}"))),
    }
}

fn step_as<A: Aggregate>(state: &Value, event: &RecordedEvent) -> Result<(Value, Value), ProjectionError> {
    let mut aggregate: A = if state.is_null() {
        A::default()
    } else {
        serde_json::from_value(state.clone()).map_err(|error| ProjectionError::Inconsistent(error.to_string()))?
    };
    let before = to_state(&aggregate)?;
    aggregate.apply(&event.decode::<A::Event>()?);
    Ok((before, to_state(&aggregate)?))
}

/// The line a record belongs to, once its state names it: its own for a line, the `line` field of jobs,
/// stops, Andon calls and checklist templates, and a checklist's template's. Accounts and devices have
/// none.
async fn line_of(
    transaction: &mut PgConnection,
    records: &mut HashMap<RecordKey, Known>,
    record_type: &str,
    state: &Value,
) -> Result<Option<String>, ProjectionError> {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    Ok(match record_type {
        domain::line::Line::TYPE => state["identity"].get(0).and_then(text),
        domain::checklist::Checklist::TYPE => {
            let Some(template) = state["template"]["template_id"].as_str() else { return Ok(None) };
            let key = (domain::checklist::ChecklistTemplate::TYPE.to_owned(), template.to_owned());
            if !records.contains_key(&key) {
                let known = load(transaction, &key).await?;
                records.insert(key.clone(), known);
            }
            records.get(&key).and_then(|known| known.line.clone())
        }
        _ => text(&state["line"]),
    })
}

/// The batch's entries, column by column, for one insert.
#[derive(Default)]
struct Entries {
    position: Vec<i64>,
    event_id: Vec<Uuid>,
    recorded_at: Vec<DateTime<Utc>>,
    record_type: Vec<String>,
    record_id: Vec<String>,
    sequence: Vec<i64>,
    action: Vec<String>,
    line: Vec<Option<String>>,
    actor_id: Vec<Option<Uuid>>,
    actor_name: Vec<Option<String>>,
    actor_role: Vec<Option<String>>,
    device_id: Vec<Option<String>>,
    source_timestamp: Vec<Option<DateTime<Utc>>>,
    reason: Vec<Option<String>>,
    changes: Vec<Value>,
    stream_hash: Vec<Vec<u8>>,
}

impl Entries {
    fn push(
        &mut self,
        event: &RecordedEvent,
        line: Option<String>,
        changes: &[diff::Change],
    ) -> Result<(), ProjectionError> {
        let metadata = &event.metadata;
        let text = |key: &str| metadata[key].as_str().map(str::to_owned);
        self.position.push(event.position);
        self.event_id.push(event.event_id);
        self.recorded_at.push(event.recorded_at);
        self.record_type.push(event.aggregate_type.clone());
        self.record_id.push(event.aggregate_id.clone());
        self.sequence.push(event.sequence);
        self.action.push(event.event_type.clone());
        self.line.push(line);
        self.actor_id.push(metadata["actor_user_id"].as_str().and_then(|id| Uuid::parse_str(id).ok()));
        self.actor_name.push(text("actor_name"));
        self.actor_role.push(text("actor_role"));
        self.device_id.push(text("device_id"));
        self.source_timestamp.push(
            metadata["source_timestamp"]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .map(|at| at.to_utc()),
        );
        self.reason.push(text("reason"));
        self.changes
            .push(serde_json::to_value(changes).map_err(|error| ProjectionError::Inconsistent(error.to_string()))?);
        self.stream_hash.push(event.stream_hash.clone());
        Ok(())
    }

    async fn insert(self, transaction: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query(
            "INSERT INTO audit_trail (position, event_id, recorded_at, record_type, record_id, sequence, action, line,
                                      actor_id, actor_name, actor_role, device_id, source_timestamp, reason, changes,
                                      stream_hash)
             SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::bigint[],
                                  $7::text[], $8::text[], $9::uuid[], $10::text[], $11::text[], $12::text[],
                                  $13::timestamptz[], $14::text[], $15::jsonb[], $16::bytea[])",
        )
        .bind(self.position)
        .bind(self.event_id)
        .bind(self.recorded_at)
        .bind(self.record_type)
        .bind(self.record_id)
        .bind(self.sequence)
        .bind(self.action)
        .bind(self.line)
        .bind(self.actor_id)
        .bind(self.actor_name)
        .bind(self.actor_role)
        .bind(self.device_id)
        .bind(self.source_timestamp)
        .bind(self.reason)
        .bind(self.changes)
        .bind(self.stream_hash)
        .execute(transaction)
        .await?;
        Ok(())
    }
}
