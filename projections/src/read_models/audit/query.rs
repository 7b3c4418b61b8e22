//! Reading the trail: by record, user, action, line and time, within what the reader may see, a page at
//! a time in log order (keyset on the position), with each entry's ledger number once sealed and its
//! line's time zone for local display.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

/// What a reader may see: lines under these sites, these lines, and (for those who read accounts)
/// entries of records without a line (accounts and devices).
#[derive(Debug, Clone, Default)]
pub struct Visible {
    pub sites: Vec<String>,
    pub lines: Vec<String>,
    pub accounts: bool,
}

/// A selection of the trail. `None` selects everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub actor: Option<Uuid>,
    pub action: Option<String>,
    pub line: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrailRow {
    pub position: i64,
    pub ledger_number: Option<i64>,
    pub event_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub record_type: String,
    pub record_id: String,
    pub sequence: i64,
    pub action: String,
    pub line: Option<String>,
    /// The line's IANA time zone, for local display.
    pub time_zone: Option<String>,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub actor_role: Option<String>,
    pub device_id: Option<String>,
    pub source_timestamp: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub changes: Value,
    pub stream_hash: Vec<u8>,
}

/// Up to `limit` entries of `selection` that `visible` allows, after position `after` and up to
/// `up_to` (an export fixes that when it starts), in position order.
pub async fn page(
    executor: impl PgExecutor<'_>,
    selection: &Selection,
    visible: &Visible,
    after: i64,
    up_to: i64,
    limit: i64,
) -> Result<Vec<TrailRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new(
        "SELECT t.position, l.ledger_number, t.event_id, t.recorded_at, t.record_type, t.record_id, t.sequence,
                t.action, t.line, z.state -> 'identity' ->> 2 AS time_zone, t.actor_id, t.actor_name, t.actor_role,
                t.device_id, t.source_timestamp, t.reason, t.changes, t.stream_hash
         FROM audit_trail t
         LEFT JOIN ledger l ON l.position = t.position
         LEFT JOIN audit_records z ON z.record_type = 'line' AND z.record_id = t.line
         WHERE t.position > ",
    );
    query.push_bind(after).push(" AND t.position <= ").push_bind(up_to);
    let mut equal = |column: &str, value: &Option<String>| {
        if let Some(value) = value {
            query.push(format!(" AND t.{column} = ")).push_bind(value.clone());
        }
    };
    equal("record_type", &selection.record_type);
    equal("record_id", &selection.record_id);
    equal("action", &selection.action);
    equal("line", &selection.line);
    if let Some(actor) = selection.actor {
        query.push(" AND t.actor_id = ").push_bind(actor);
    }
    if let Some(from) = selection.from {
        query.push(" AND t.recorded_at >= ").push_bind(from);
    }
    if let Some(to) = selection.to {
        query.push(" AND t.recorded_at < ").push_bind(to);
    }
    let prefixes: Vec<String> = visible.sites.iter().map(|site| format!("{site}/%")).collect();
    query
        .push(" AND (t.line LIKE ANY(")
        .push_bind(prefixes)
        .push(") OR t.line = ANY(")
        .push_bind(visible.lines.clone())
        .push(") OR (t.line IS NULL AND ")
        .push_bind(visible.accounts)
        .push("))");
    query.push(" ORDER BY t.position LIMIT ").push_bind(limit);
    query.build_query_as().fetch_all(executor).await
}

/// The newest entry's position: an export's upper bound.
pub async fn newest(executor: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM audit_trail").fetch_one(executor).await
}
