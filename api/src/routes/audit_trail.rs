//! The audit trail for team leaders, quality, engineers, auditors and administrators (Part 11 AT-01..
//! AT-12; docs/part11.md): search by record, user, action, line and time within the reader's scopes,
//! a page at a time, and exports of any selection as CSV or NDJSON, streamed batch by batch up to the
//! entry that was newest when the export started. Times are UTC and also local to the record's line,
//! with the offset shown (AT-08).

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use domain::scope::Scope;
use futures_util::stream;
use projections::read_models::audit::query::{self, Selection, Visible};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::access::{READ_ACCOUNTS, READ_TRAIL, scopes_of};
use crate::auth::{Principal, Target, authorize};
use crate::error::ApiError;
use crate::query_call::{QueryCall, QueryErrors, RecordNotFound, page_limit};
use crate::record_type::RecordType;
use crate::trail_report::TrailReport;
use crate::views::signatures::signature_view;
use crate::views::trail::TrailEntry;
use domain::signature::RecordRef;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(search).service(export).service(report);
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
    let rows = query::page(call.reads(), &selection, &visible, query.after.unwrap_or(0), i64::MAX, limit).await?;
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
async fn export(
    call: QueryCall,
    query: web::Query<ExportQuery>,
    request: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let visible = visible(&call.principal)?;
    let actor = authorize(&call.principal, READ_TRAIL, Target::Anywhere)?;
    let ExportQuery { format, record_type, record_id, user, action, line, from, to } = query.into_inner();
    let selection =
        TrailQuery { record_type, record_id, user, action, line, from, to, after: None, limit: None }.selection()?;
    let up_to = query::newest(call.reads()).await?;
    let kind = match format {
        ExportFormat::Csv => domain::export::ExportKind::TrailCsv,
        ExportFormat::Ndjson => domain::export::ExportKind::TrailNdjson,
    };
    call.record_export(actor, kind, request.query_string(), up_to).await?;
    let pool = call.reads().clone();
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    #[param(value_type = String, example = "job")]
    pub record_type: RecordType,
    pub record_id: String,
}

/// One record's whole audit trail as a printable HTML report: its summary, every entry with old and new
/// values, and "changed since original entry" marks (AT-11, AT-12). Recorded as an export.
#[utoipa::path(tag = "audit trail", params(ReportQuery), responses(
    (status = 200, content_type = "text/html", body = String), QueryErrors, RecordNotFound))]
#[get("/api/v1/audit-trail/report")]
async fn report(
    call: QueryCall,
    query: web::Query<ReportQuery>,
    request: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let visible = visible(&call.principal)?;
    let actor = authorize(&call.principal, READ_TRAIL, Target::Anywhere)?;
    let ReportQuery { record_type, record_id } = query.into_inner();
    let selection = Selection {
        record_type: Some(record_type.stream_type().to_owned()),
        record_id: Some(record_id.clone()),
        ..Selection::default()
    };
    let up_to = query::newest(call.reads()).await?;
    let mut entries: Vec<TrailEntry> = Vec::new();
    let mut after = 0;
    loop {
        let rows = query::page(call.reads(), &selection, &visible, after, up_to, EXPORT_BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.position;
        entries.extend(rows.into_iter().map(TrailEntry::from));
    }
    if entries.is_empty() {
        return Err(ApiError::not_found("record in the audit trail", &record_id));
    }
    call.record_export(actor.clone(), domain::export::ExportKind::TrailReport, request.query_string(), up_to).await?;
    let signed = RecordRef { record_type: record_type.stream_type().to_owned(), record_id };
    let time_zone = entries.iter().find_map(|entry| entry.line.clone());
    let time_zone = match time_zone {
        Some(line) => call.app.lines.state(&line).await?.time_zone().map(|zone| zone.name().to_owned()),
        None => None,
    };
    let signatures = commands::signatures::check(call.reads(), &signed)
        .await?
        .into_iter()
        .map(|check| signature_view(check, time_zone.as_deref()))
        .collect();
    let report = TrailReport::new(entries, signatures, actor.printed_name.to_string(), Utc::now(), up_to);
    let html = askama::Template::render(&report).map_err(|error| crate::error::internal(&error))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}
