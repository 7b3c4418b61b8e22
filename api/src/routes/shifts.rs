//! A line's shift occurrences (docs/oee.md, "Hour by hour" and "Shift reports"): the hour-by-hour
//! board, the shift report as JSON and as a printable page, the team leader's handover notes, and
//! fixing a report's content for an approval signature (`POST /api/v1/signatures`, `shift_report`).

use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use domain::line_id::LineId;
use domain::shift_report::{ShiftKey, ShiftReport, ShiftReportCommand, content_digest};
use domain::signature::RecordRef;
use domain::values::{Description, ShiftName};
use projections::read_models::andon::Calls;
use projections::read_models::oee::Oee;
use projections::read_models::oee::query::{ShiftFigures, shift_figures};
use projections::read_models::shift_report::shift_details;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::access::{APPROVE_SHIFTS, HAND_OVER_SHIFTS};
use crate::command_call::{CommandCall, CommandResponses};
use crate::error::ApiError;
use crate::json::Json;
use crate::oee_view::RatioView;
use crate::query_call::{Freshness, QueryCall, QueryErrors, RecordNotFound};
use crate::shift_report_view::ShiftReportContent;
use crate::state::AppState;
use crate::views::signatures::{SignatureView, signature_view};
use domain::oee::LossPart;
use sqlx::PgPool;

/// Registered before the lines' scope, whose prefix covers this one's: the more specific scope first.
pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(
        utoipa_actix_web::scope("/api/v1/lines/{site}/{area}/{line}/shifts/{date}/{shift}")
            .service(hour_by_hour)
            .service(report)
            .service(printable)
            .service(handover_note)
            .service(prepare),
    );
}

/// `/lines/{site}/{area}/{line}/shifts/{date}/{shift}`: a shift occurrence, by the local date it starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ShiftPath {
    site: String,
    area: String,
    line: String,
    /// The local date the shift starts on.
    #[param(value_type = String, example = "2026-03-02")]
    date: NaiveDate,
    #[param(example = "early")]
    shift: String,
}

impl ShiftPath {
    pub fn key(&self) -> Result<ShiftKey, ApiError> {
        let invalid = |error: domain::values::ValueError| ApiError::bad_request("invalid_path", error.to_string());
        let line = LineId::parse(&format!("{}/{}/{}", self.site, self.area, self.line)).map_err(invalid)?;
        Ok(ShiftKey { line, date: self.date, shift: ShiftName::parse(&self.shift).map_err(invalid)? })
    }
}

/// The shift's figures as of `now`; 404 when the line's calendar schedules no such shift that day.
async fn figures(pool: &PgPool, key: &ShiftKey, now: DateTime<Utc>) -> Result<ShiftFigures, ApiError> {
    shift_figures(pool, &key.line.to_string(), key.date, key.shift.as_str(), now)
        .await?
        .ok_or_else(|| ApiError::not_found("shift", &key.record_id()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HourByHour {
    pub freshness: Freshness,
    pub as_of: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub hours: Vec<domain::oee::HourRow>,
}

/// The hour-by-hour board of a shift: per local clock hour the target (from its planned minutes and
/// the ideal cycle time of the product made), the good and reject units, the running difference, and
/// the stop minutes with their main reason. A display may read it: it is part of the line's board.
#[utoipa::path(tag = "shifts", params(ShiftPath), responses(
    (status = 200, body = HourByHour), QueryErrors, RecordNotFound))]
#[get("/hour-by-hour")]
async fn hour_by_hour(call: QueryCall, path: web::Path<ShiftPath>) -> Result<HttpResponse, ApiError> {
    let key = path.key()?;
    let freshness = call.board::<Oee>(&key.line).await?;
    call.registered(&key.line).await?;
    let as_of = Utc::now();
    let figures = figures(call.reads(), &key, as_of).await?;
    let (start, end) = (figures.occurrence.interval.start(), figures.occurrence.interval.end());
    Ok(HttpResponse::Ok().json(HourByHour { freshness, as_of, start, end, hours: figures.hours }))
}

/// The report as the read models and the report's record stand at `now`.
struct Current {
    content: ShiftReportContent,
    canonical: String,
    record: ShiftReport,
    ended: bool,
}

/// `pool` is where the figures are read: the request's read database for a query, the primary for a
/// command (content that is signed is never a replica's).
async fn current(app: &AppState, pool: &PgPool, key: &ShiftKey, now: DateTime<Utc>) -> Result<Current, ApiError> {
    let figures = figures(pool, key, now).await?;
    let ended = figures.occurrence.interval.end() <= now;
    let line = key.line.to_string();
    let details = shift_details(pool, &line, figures.occurrence.interval, now).await?;
    let record = app.shift_reports.state(&key.record_id()).await?;
    let content = ShiftReportContent::new(line, figures, details, record.notes.clone());
    let canonical = content.canonical().map_err(|error| crate::error::internal(&error))?;
    Ok(Current { content, canonical, record, ended })
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    NotApproved,
    Approved,
    /// Approved, and the report changed since (a late reason, a correction): the approved content
    /// stays readable under `approved`, and a new approval is needed.
    ChangedSinceApproval,
}

/// The content the standing approval covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovedContent {
    /// The record version whose event fixed it: the version the approval signed.
    pub version: u64,
    pub prepared_at: DateTime<Utc>,
    pub content_digest: String,
    /// Exactly as approved.
    #[schema(value_type = ShiftReportContent)]
    pub content: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftReportAnswer {
    /// Where the read models the report is formed from stand.
    pub freshness: Vec<Freshness>,
    pub as_of: DateTime<Utc>,
    /// The report's record (`record_type` `shift_report`), for its signatures and trail.
    pub record_id: String,
    /// Its version: what `POST /api/v1/signatures` signs after `.../report/prepare`.
    pub version: u64,
    /// A running shift's report is not final and cannot be approved.
    pub shift_ended: bool,
    pub content: ShiftReportContent,
    /// SHA-256 (hex) of the content's canonical form.
    pub content_digest: String,
    pub approval: ApprovalStatus,
    pub approved: Option<ApprovedContent>,
    /// Every signature of the record with what it is worth now.
    pub signatures: Vec<SignatureView>,
}

async fn report_answer(call: &QueryCall, path: &ShiftPath) -> Result<(ShiftReportAnswer, Option<String>), ApiError> {
    let key = path.key()?;
    let freshness = vec![call.line::<Oee>(&key.line).await?, call.freshness::<Calls>().await?];
    call.registered(&key.line).await?;
    let as_of = Utc::now();
    let Current { content, canonical, record, ended } = current(&call.app, call.reads(), &key, as_of).await?;
    let digest = content_digest(&canonical);
    let approved = record.approved().map(|(prepared, _)| ApprovedContent {
        version: prepared.version,
        prepared_at: prepared.at,
        content_digest: prepared.content_digest.clone(),
        content: serde_json::from_str(&prepared.content).unwrap_or(serde_json::Value::String(prepared.content.clone())),
    });
    let approval = match &approved {
        None => ApprovalStatus::NotApproved,
        Some(approved) if approved.content_digest == digest => ApprovalStatus::Approved,
        Some(_) => ApprovalStatus::ChangedSinceApproval,
    };
    let zone = call.app.lines.state(&key.line.to_string()).await?.time_zone().map(|zone| zone.name().to_owned());
    let record_ref =
        RecordRef { record_type: <ShiftReport as domain::Aggregate>::TYPE.to_owned(), record_id: key.record_id() };
    let signatures = commands::signatures::check(&call.app.pool, &record_ref)
        .await?
        .into_iter()
        .map(|check| signature_view(check, zone.as_deref()))
        .collect();
    let answer = ShiftReportAnswer {
        freshness,
        as_of,
        record_id: key.record_id(),
        version: record.version,
        shift_ended: ended,
        content,
        content_digest: digest,
        approval,
        approved,
        signatures,
    };
    Ok((answer, zone))
}

/// A shift's report: its OEE (A/P/Q, utilization, TEEP, loss tree), hours, units per job and product,
/// stops with reasons (the unassigned ones too), Andon calls with response and resolution times, and
/// handover notes; with its approval: approved, not approved, or changed since approval (the approved
/// content then stays readable under `approved`).
#[utoipa::path(tag = "shifts", params(ShiftPath), responses(
    (status = 200, body = ShiftReportAnswer), QueryErrors, RecordNotFound))]
#[get("/report")]
async fn report(call: QueryCall, path: web::Path<ShiftPath>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(report_answer(&call, &path).await?.0))
}

#[derive(Template)]
#[template(path = "shift_report.html")]
struct PrintedReport<'a> {
    answer: &'a ShiftReportAnswer,
    zone: String,
    generated_at: String,
}

impl PrintedReport<'_> {
    fn local(&self, at: &DateTime<Utc>) -> String {
        match self.zone.parse::<chrono_tz::Tz>() {
            Ok(zone) => at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string(),
            Err(_) => at.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }

    fn minutes(&self, ms: &u64) -> String {
        format!("{:.1}", *ms as f64 / 60_000.0)
    }

    fn percent(&self, ratio: &Option<RatioView>) -> String {
        ratio.as_ref().map_or_else(|| "undefined".to_owned(), |ratio| format!("{:.2} %", ratio.percent))
    }

    fn part(&self, part: &LossPart) -> String {
        serde_json::to_value(part)
            .ok()
            .and_then(|name| name.as_str().map(|name| name.replace('_', " ")))
            .unwrap_or_default()
    }

    fn units(&self, units: &Option<f64>) -> String {
        units.map_or_else(String::new, |units| units.to_string())
    }

    fn count(&self, count: &Option<u64>) -> String {
        count.map_or_else(String::new, |count| count.to_string())
    }

    fn text(&self, text: &Option<String>) -> String {
        text.clone().unwrap_or_default()
    }

    fn duration(&self, ms: &Option<i64>) -> String {
        ms.map_or_else(String::new, |ms| format!("{:.1}", ms as f64 / 60_000.0))
    }

    fn status(&self, signature: &SignatureView) -> String {
        crate::trail_report::status_text(&signature.status)
    }
}

/// The shift report as a printable page (A4), with its approval status and signatures as manifested.
#[utoipa::path(tag = "shifts", params(ShiftPath), responses(
    (status = 200, content_type = "text/html", body = String), QueryErrors, RecordNotFound))]
#[get("/report/print")]
async fn printable(call: QueryCall, path: web::Path<ShiftPath>) -> Result<HttpResponse, ApiError> {
    let (answer, zone) = report_answer(&call, &path).await?;
    let page = PrintedReport {
        answer: &answer,
        zone: zone.unwrap_or_else(|| "UTC".to_owned()),
        generated_at: answer.as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    let html = page.render().map_err(|error| crate::error::internal(&error))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverNoteBody {
    #[schema(value_type = String)]
    pub note: Description,
}

/// A team leader's handover note, part of the shift's report from then on.
#[utoipa::path(tag = "shifts", params(ShiftPath), request_body = HandoverNoteBody, responses(CommandResponses))]
#[post("/handover-notes")]
async fn handover_note(
    call: CommandCall,
    path: web::Path<ShiftPath>,
    body: Json<HandoverNoteBody>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let key = path.key()?;
        let actor = call.authorize(HAND_OVER_SHIFTS, crate::auth::Target::Line(&key.line))?;
        call.existing(&call.app.lines, "line", &key.line.to_string()).await?;
        figures(&call.app.pool, &key, Utc::now()).await?;
        let command = ShiftReportCommand::AddHandoverNote {
            key: key.clone(),
            author: actor.user_id,
            author_name: actor.printed_name.clone(),
            note: value.note,
        };
        call.execute(&call.app.shift_reports, &key.record_id(), command, actor).await
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepareBody {}

/// Fixes the report's content as it stands now in its record, for an approval signature to cover
/// (then `POST /api/v1/signatures` with `record_type` `shift_report`, the record id and the version
/// this answers). Only after the shift ended; the same content twice changes nothing.
#[utoipa::path(tag = "shifts", params(ShiftPath), request_body = PrepareBody, responses(CommandResponses))]
#[post("/report/prepare")]
async fn prepare(
    call: CommandCall,
    path: web::Path<ShiftPath>,
    body: Json<PrepareBody>,
) -> Result<HttpResponse, ApiError> {
    call.respond(body.digest, async {
        let key = path.key()?;
        let actor = call.authorize(APPROVE_SHIFTS, crate::auth::Target::Line(&key.line))?;
        call.existing(&call.app.lines, "line", &key.line.to_string()).await?;
        let Current { canonical, ended, .. } = current(&call.app, &call.app.pool, &key, Utc::now()).await?;
        let command = ShiftReportCommand::PrepareApproval { key: key.clone(), content: canonical, shift_ended: ended };
        call.execute(&call.app.shift_reports, &key.record_id(), command, actor).await
    })
    .await
}
