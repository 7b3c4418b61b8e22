//! The audit trail for team leaders, quality, engineers, auditors and administrators (Part 11 AT-01..
//! AT-12; docs/part11.md): search by record, user, action, line and time within the reader's scopes,
//! a page at a time, and exports of any selection as CSV or NDJSON, streamed batch by batch up to the
//! entry that was newest when the export started. Times are UTC and also local to the record's line,
//! with the offset shown (AT-08).

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::scope::Scope;
use futures_util::stream;
use projections::read_models::audit::query::{self, Selection, TrailRow, Visible};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::access::{READ_ACCOUNTS, READ_TRAIL, scopes_of};
use crate::auth::{Principal, Target, authorize};
use crate::error::ApiError;
use crate::query_call::{QueryCall, QueryErrors, page_limit};
use crate::record_type::RecordType;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(search).service(export);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrailQuery {
    #[param(value_type = Option<String>, example = "job")]
    pub record_type: Option<RecordType>,
    pub record_id: Option<String>,
    /// The acting user's id.
    pub user: Option<Uuid>,
    /// The event type (`DowntimeReasonChanged`, `LoginFailed`, ...).
    pub action: Option<String>,
    /// `site/area/line`.
    pub line: Option<String>,
    /// Recorded at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Recorded before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Entries after this position (the previous page's `next_after`).
    pub after: Option<i64>,
    /// Page size, 1 to 1000 (default 1000).
    pub limit: Option<u32>,
}

impl TrailQuery {
    fn selection(&self) -> Result<Selection, ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(ApiError::bad_request("invalid_query", "from must be before to"));
        }
        Ok(Selection {
            record_type: self.record_type.map(|kind| kind.stream_type().to_owned()),
            record_id: self.record_id.clone(),
            actor: self.user,
            action: self.action.clone(),
            line: self.line.clone(),
            from: self.from,
            to: self.to,
        })
    }
}

/// What of the trail `principal` may read: the lines of its trail-reading grants, and entries of
/// accounts and devices when it also reads accounts. 403 when it may read none.
fn visible(principal: &Principal) -> Result<Visible, ApiError> {
    authorize(principal, READ_TRAIL, Target::Anywhere)?;
    let mut visible = Visible::default();
    for scope in scopes_of(principal, READ_TRAIL) {
        match scope {
            Scope::Site { site } => visible.sites.push(site.to_string()),
            Scope::Line { line } => visible.lines.push(line.to_string()),
        }
    }
    visible.accounts = authorize(principal, READ_ACCOUNTS, Target::Anywhere).is_ok();
    Ok(visible)
}

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
fn local(at: DateTime<Utc>, time_zone: Option<&str>) -> String {
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

#[derive(Debug, Serialize, ToSchema)]
pub struct TrailPage {
    pub entries: Vec<TrailEntry>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next_after: Option<i64>,
}

/// A page of the trail in log order.
#[utoipa::path(tag = "audit trail", params(TrailQuery), responses((status = 200, body = TrailPage), QueryErrors))]
#[get("/api/v1/audit-trail")]
async fn search(call: QueryCall, query: web::Query<TrailQuery>) -> Result<HttpResponse, ApiError> {
    let visible = visible(&call.principal)?;
    let selection = query.selection()?;
    let limit = page_limit(query.limit);
    let rows = query::page(&call.app.pool, &selection, &visible, query.after.unwrap_or(0), i64::MAX, limit).await?;
    let next_after =
        (i64::try_from(rows.len()).unwrap_or(0) == limit).then(|| rows.last().map(|row| row.position)).flatten();
    Ok(HttpResponse::Ok().json(TrailPage { entries: rows.into_iter().map(TrailEntry::from).collect(), next_after }))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Ndjson,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[param(value_type = String, example = "csv")]
    pub format: ExportFormat,
    #[param(value_type = Option<String>, example = "job")]
    pub record_type: Option<RecordType>,
    pub record_id: Option<String>,
    pub user: Option<Uuid>,
    pub action: Option<String>,
    pub line: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Rows read per database round trip while exporting: one batch in memory at a time.
const EXPORT_BATCH: i64 = 1000;

/// The whole selection as a file, streamed batch by batch in log order up to the entry that was newest
/// when the export started. CSV cells that a spreadsheet would run as a formula are prefixed with `'`.
#[utoipa::path(tag = "audit trail", params(ExportQuery), responses(
    (status = 200, content_type = "text/csv", body = String, description = "CSV, or NDJSON (`application/x-ndjson`), one entry per line"),
    QueryErrors))]
#[get("/api/v1/audit-trail/export")]
async fn export(call: QueryCall, query: web::Query<ExportQuery>) -> Result<HttpResponse, ApiError> {
    let visible = visible(&call.principal)?;
    let ExportQuery { format, record_type, record_id, user, action, line, from, to } = query.into_inner();
    let selection =
        TrailQuery { record_type, record_id, user, action, line, from, to, after: None, limit: None }.selection()?;
    let up_to = query::newest(&call.app.pool).await?;
    let pool = call.app.pool.clone();
    let chunks = stream::try_unfold(Some(0i64), move |next| {
        let (pool, selection, visible) = (pool.clone(), selection.clone(), visible.clone());
        async move {
            let Some(after) = next else { return Ok::<_, actix_web::Error>(None) };
            let rows = query::page(&pool, &selection, &visible, after, up_to, EXPORT_BATCH)
                .await
                .map_err(|error| actix_web::Error::from(ApiError::from(error)))?;
            let first = after == 0;
            let resume = (i64::try_from(rows.len()).unwrap_or(0) == EXPORT_BATCH)
                .then(|| rows.last().map(|row| row.position))
                .flatten();
            let entries: Vec<TrailEntry> = rows.into_iter().map(TrailEntry::from).collect();
            let chunk = match format {
                ExportFormat::Csv => formats::csv_chunk(&entries, first),
                ExportFormat::Ndjson => formats::ndjson_chunk(&entries),
            }
            .map_err(|error| actix_web::Error::from(crate::error::internal(&error)))?;
            Ok(Some((Bytes::from(chunk), resume)))
        }
    });
    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"audit-trail.{extension}\"")))
        .streaming(chunks))
}

mod formats {
    //! The export formats: flat CSV rows (one per entry, its changes as JSON in one cell) and NDJSON.

    use super::TrailEntry;

    /// A cell a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, carriage return first) gets a
    /// leading `'`, so that it shows as text (OWASP, "CSV injection").
    pub fn neutralised(cell: &str) -> String {
        match cell.chars().next() {
            Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
            _ => cell.to_owned(),
        }
    }

    const HEADER: [&str; 17] = [
        "position",
        "ledger_number",
        "event_id",
        "recorded_at",
        "recorded_local",
        "record_type",
        "record_id",
        "sequence",
        "action",
        "line",
        "actor_id",
        "actor_name",
        "actor_role",
        "device_id",
        "source_timestamp",
        "reason",
        "changes",
    ];

    #[derive(Debug, thiserror::Error)]
    pub enum ExportError {
        #[error("writing CSV: {0}")]
        Csv(#[from] csv::Error),
        #[error("writing JSON: {0}")]
        Json(#[from] serde_json::Error),
        #[error("finishing CSV: {0}")]
        Finish(String),
    }

    pub fn csv_chunk(entries: &[TrailEntry], with_header: bool) -> Result<Vec<u8>, ExportError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        if with_header {
            writer.write_record(HEADER)?;
        }
        let optional = |value: Option<String>| value.unwrap_or_default();
        for entry in entries {
            let changes = serde_json::to_string(&entry.changes)?;
            let record = [
                entry.position.to_string(),
                optional(entry.ledger_number.map(|number| number.to_string())),
                entry.event_id.to_string(),
                entry.recorded_at.to_rfc3339(),
                entry.recorded_local.clone(),
                entry.record_type.clone(),
                entry.record_id.clone(),
                entry.sequence.to_string(),
                entry.action.clone(),
                optional(entry.line.clone()),
                optional(entry.actor.user_id.map(|id| id.to_string())),
                optional(entry.actor.name.clone()),
                optional(entry.actor.role.clone()),
                optional(entry.device_id.clone()),
                optional(entry.source_timestamp.map(|at| at.to_rfc3339())),
                optional(entry.reason.clone()),
                changes,
            ];
            writer.write_record(record.iter().map(|cell| neutralised(cell)))?;
        }
        writer.into_inner().map_err(|error| ExportError::Finish(error.to_string()))
    }

    pub fn ndjson_chunk(entries: &[TrailEntry]) -> Result<Vec<u8>, ExportError> {
        let mut out = Vec::new();
        for entry in entries {
            serde_json::to_writer(&mut out, entry)?;
            out.push(b'\n');
        }
        Ok(out)
    }
}
