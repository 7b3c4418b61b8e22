//! The audit trail's entries as the API answers them (and exports and prints them): who, when in UTC
//! and in the line's local time, from where, why, and each changed field.

use chrono::{DateTime, SecondsFormat, Utc};
use projections::read_models::audit::query::TrailRow;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Who acted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    pub user_id: Option<Uuid>,
    /// The printed name at the time.
    pub name: Option<String>,
    /// The role used.
    pub role: Option<String>,
}

/// One field an event changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    /// The path of the field in the record (`reason.code`).
    pub field: String,
    /// Before the event; `null` where there was none.
    pub old: Value,
    pub new: Value,
}

/// One event of one record, as the trail shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrailEntry {
    /// The event's position in the log (the key of `after`).
    pub position: i64,
    /// Its ledger number, once sealed.
    pub ledger_number: Option<i64>,
    pub event_id: Uuid,
    /// Server time, UTC.
    pub recorded_at: DateTime<Utc>,
    /// The same instant in the line's time zone, with its offset (UTC for records without a line).
    pub recorded_local: String,
    pub record_type: String,
    pub record_id: String,
    pub sequence: i64,
    /// The event type.
    pub action: String,
    pub line: Option<String>,
    pub actor: ActorView,
    pub device_id: Option<String>,
    /// When a machine or tablet took the data, by its clock.
    pub source_timestamp: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub changes: Vec<ChangeView>,
    /// The event's stream hash (hex).
    pub stream_hash: String,
}

/// `at` in `time_zone` (an IANA name), with its offset; UTC when there is none.
pub fn local(at: DateTime<Utc>, time_zone: Option<&str>) -> String {
    match time_zone.and_then(|zone| zone.parse::<chrono_tz::Tz>().ok()) {
        Some(zone) => at.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::Micros, false),
        None => at.to_rfc3339_opts(SecondsFormat::Micros, false),
    }
}

impl From<TrailRow> for TrailEntry {
    fn from(row: TrailRow) -> Self {
        let changes = match row.changes {
            Value::Array(changes) => changes
                .into_iter()
                .map(|change| ChangeView {
                    field: change["field"].as_str().unwrap_or_default().to_owned(),
                    old: change["old"].clone(),
                    new: change["new"].clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            position: row.position,
            ledger_number: row.ledger_number,
            event_id: row.event_id,
            recorded_at: row.recorded_at,
            recorded_local: local(row.recorded_at, row.time_zone.as_deref()),
            record_type: row.record_type,
            record_id: row.record_id,
            sequence: row.sequence,
            action: row.action,
            line: row.line,
            actor: ActorView { user_id: row.actor_id, name: row.actor_name, role: row.actor_role },
            device_id: row.device_id,
            source_timestamp: row.source_timestamp,
            reason: row.reason,
            changes,
            stream_hash: hex::encode(row.stream_hash),
        }
    }
}
