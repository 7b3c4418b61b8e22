//! Electronic signatures (Part 11 ES-01..ES-07; docs/part11.md "Electronic signatures"): what a
//! signature would declare about which record version, asked before any credential (ES-07); signing
//! with re-entered credentials; revoking with a reason; and every signature of a record with its status.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use commands::{CommandContext, CommandOutcome};
use domain::actor::Role;
use domain::checklist::{Checklist, ChecklistCommand};
use domain::downtime::{Downtime, DowntimeCommand};
use domain::job::{Job, JobCommand};
use domain::line_id::LineId;
use domain::shift_report::{ShiftReport, ShiftReportCommand};
use domain::signature::{Meaning, RecordRef, Revocation};
use domain::values::Reason;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::session;
use crate::auth::signing::{self, SigningCredentials, request_at, signer, signing_roles};
use crate::auth::{Target, authorize};
use crate::command_call::{CommandCall, CommandResponses, Located, Reply, accepted};
use crate::error::ApiError;
use crate::json::Json;
use crate::query_call::{QueryCall, QueryErrors, RecordNotFound};
use crate::record_type::RecordType;
use crate::state::AppState;
use crate::views::signatures::{SignatureView, signature_view};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    let signatures = utoipa_actix_web::scope("/api/v1/signatures").service(intent).service(sign).service(revoke);
    config.service(signatures).service(signatures_of);
}

/// The kinds of record that are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignableType {
    Job,
    Checklist,
    Downtime,
    /// A shift occurrence's report, as last prepared for approval
    /// (`POST /api/v1/lines/{site}/{area}/{line}/shifts/{date}/{shift}/report/prepare`).
    ShiftReport,
}

/// One line of what is signed, as a signing dialog shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryLine {
    pub label: &'static str,
    pub value: String,
}

/// A record as a signer is shown it: its version, line and summary.
struct Shown {
    version: u64,
    line: LineId,
    summary: Vec<SummaryLine>,
}

fn line_of(line: Option<&LineId>, what: &str, id: &str) -> Result<LineId, ApiError> {
    line.cloned().ok_or_else(|| ApiError::not_found(what, id))
}

fn summary_line(label: &'static str, value: impl ToString) -> SummaryLine {
    SummaryLine { label, value: value.to_string() }
}

async fn shown(app: &AppState, kind: SignableType, id: &str) -> Result<Shown, ApiError> {
    let not_found = || ApiError::not_found("record", id);
    match kind {
        SignableType::Job => {
            let (job, version) = app.jobs.state_and_version(id).await?;
            let line = line_of(job.line(), "job", id)?;
            let summary = vec![
                summary_line("Job", id),
                summary_line("Line", &line),
                summary_line("Product", job.product.as_ref().map(ToString::to_string).unwrap_or_default()),
                summary_line("Status", format!("{:?}", job.status).to_lowercase()),
                summary_line("Good", job.good),
                summary_line("Reject", job.reject),
                summary_line("Target", job.target_quantity),
                summary_line("Corrections", job.signatures.corrections),
                summary_line("Unreviewed corrections", if job.signatures.unreviewed_changes() { "yes" } else { "no" }),
            ];
            Ok(Shown { version, line, summary })
        }
        SignableType::Checklist => {
            let (checklist, version) = app.checklists.state_and_version(id).await?;
            let template = checklist.template.as_ref().ok_or_else(not_found)?;
            let line = line_of(app.templates.state(&template.template_id).await?.line(), "checklist template", id)?;
            let mandatory = template.items.iter().filter(|item| item.mandatory).count();
            let summary = vec![
                summary_line("Checklist", id),
                summary_line("Template", format!("{} version {}", template.template_id, template.version)),
                summary_line("Line", &line),
                summary_line(
                    "Answered",
                    format!("{} of {} items ({mandatory} mandatory)", checklist.answers.len(), template.items.len()),
                ),
                summary_line("Completed", if checklist.completed { "yes" } else { "no" }),
            ];
            Ok(Shown { version, line, summary })
        }
        SignableType::Downtime => {
            let (stop, version) = app.downtime.state_and_version(id).await?;
            let line = line_of(stop.line(), "downtime", id)?;
            let interval = stop.interval.as_ref().ok_or_else(not_found)?;
            let summary = vec![
                summary_line("Stop", id),
                summary_line("Line", &line),
                summary_line("Started", interval.started_at.to_rfc3339()),
                summary_line(
                    "Ended",
                    interval.ended.map(|(at, _)| at.to_rfc3339()).unwrap_or_else(|| "still stopped".into()),
                ),
                summary_line(
                    "Reason",
                    stop.reason.as_ref().map(|reason| reason.code.to_string()).unwrap_or_else(|| "unassigned".into()),
                ),
                summary_line("Voided", if stop.voided { "yes" } else { "no" }),
            ];
            Ok(Shown { version, line, summary })
        }
        SignableType::ShiftReport => {
            let (report, version) = app.shift_reports.state_and_version(id).await?;
            let line = line_of(report.line(), "shift report", id)?;
            let prepared = report.prepared.last();
            let summary = vec![
                summary_line("Shift report", id),
                summary_line("Line", &line),
                summary_line(
                    "Content prepared",
                    prepared.map_or_else(|| "not yet".to_owned(), |prepared| prepared.at.to_rfc3339()),
                ),
                summary_line(
                    "Content SHA-256",
                    prepared.map_or_else(String::new, |prepared| prepared.content_digest.clone()),
                ),
                summary_line("Handover notes", report.notes.len()),
            ];
            Ok(Shown { version, line, summary })
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IntentQuery {
    pub record_type: SignableType,
    pub record_id: String,
    pub meaning: Meaning,
}

/// Which credentials the signature needs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialsNeeded {
    /// The first signature of this session.
    UsernameAndPassword,
    /// A later signature in the same session.
    Password,
}

/// What a signature would declare, shown before credentials are asked for (ES-07).
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningIntent {
    pub record_type: SignableType,
    pub record_id: String,
    /// The version the signature covers: send it back with the credentials.
    pub version: u64,
    pub summary: Vec<SummaryLine>,
    pub meaning: Meaning,
    /// What the signer declares by signing.
    pub statement: &'static str,
    /// The signer's printed name, as the signature will show it.
    pub signer: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub credentials: CredentialsNeeded,
}

#[utoipa::path(tag = "signatures", params(IntentQuery), responses(
    (status = 200, body = SigningIntent), QueryErrors, RecordNotFound))]
#[get("/intent")]
async fn intent(call: QueryCall, query: web::Query<IntentQuery>) -> Result<HttpResponse, ApiError> {
    let IntentQuery { record_type, record_id, meaning } = query.into_inner();
    let shown = shown(&call.app, record_type, &record_id).await?;
    let actor = signer(&call.principal, meaning, &shown.line)?;
    let credentials = if signing::needs_username(&call.app, call.principal.session).await? {
        CredentialsNeeded::UsernameAndPassword
    } else {
        CredentialsNeeded::Password
    };
    Ok(HttpResponse::Ok().json(SigningIntent {
        record_type,
        record_id,
        version: shown.version,
        summary: shown.summary,
        meaning,
        statement: meaning.statement(),
        signer: actor.printed_name.to_string(),
        role: actor.role,
        credentials,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sign {
    pub record_type: SignableType,
    pub record_id: String,
    /// The version the signer was shown (from the intent); a record changed since is a 409.
    pub version: u64,
    pub meaning: Meaning,
    /// Needed for the first signature of a session.
    pub username: Option<String>,
    pub password: String,
}

/// Runs a signing command that expects `version`, then marks the session as having signed.
async fn signed<A: domain::Aggregate>(
    call: &CommandCall,
    store: &commands::PgEventStore<A>,
    id: &str,
    command: A::Command,
    context: CommandContext,
) -> Result<Reply, ApiError>
where
    A::Command: Clone,
{
    let outcome: CommandOutcome = commands::execute(store, id, command, &context).await?;
    session::mark_signed(&call.app.pool, call.principal.session).await?;
    Ok(accepted::<A>(id, outcome))
}

/// Signs a record version with a meaning, re-authenticating the signer (ES-01). Checklist completion
/// is the `performed` signature; quality releases a completed job with `released`; reviewers sign
/// `reviewed` (AT-13); a second person signs a checklist `verified` (ES-05).
#[utoipa::path(tag = "signatures", request_body = Sign, responses(CommandResponses))]
#[post("")]
async fn sign(call: CommandCall, request: HttpRequest, body: Json<Sign>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let Sign { record_type, record_id, version, meaning, username, password } = value;
    call.respond_created(digest, async {
        let app = &call.app;
        let shown = shown(app, record_type, &record_id).await?;
        let actor = signer(&call.principal, meaning, &shown.line)?;
        signing::reauthenticate(app, &request, &call.principal, SigningCredentials { username, password }).await?;
        let context = CommandContext { expected_version: Some(version), ..call.context(actor.clone()) };
        let record_type_name = match record_type {
            SignableType::Job => <Job as domain::Aggregate>::TYPE,
            SignableType::Checklist => <Checklist as domain::Aggregate>::TYPE,
            SignableType::Downtime => <Downtime as domain::Aggregate>::TYPE,
            SignableType::ShiftReport => <ShiftReport as domain::Aggregate>::TYPE,
        };
        let record = RecordRef { record_type: record_type_name.to_owned(), record_id: record_id.clone() };
        let request = request_at(app, record, version, meaning, actor).await?;
        match record_type {
            SignableType::Job => signed(&call, &app.jobs, &record_id, JobCommand::Sign(request), context).await,
            SignableType::Checklist => {
                signed(&call, &app.checklists, &record_id, ChecklistCommand::Sign(request), context).await
            }
            SignableType::Downtime => {
                signed(&call, &app.downtime, &record_id, DowntimeCommand::Sign(request), context).await
            }
            SignableType::ShiftReport => {
                signed(&call, &app.shift_reports, &record_id, ShiftReportCommand::Sign(request), context).await
            }
        }
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    pub record_type: SignableType,
    pub record_id: String,
    pub signature_id: Uuid,
    /// Why the signature no longer stands: mandatory, kept with the record.
    #[schema(value_type = String)]
    pub reason: Reason,
}

/// Revokes a signature with a reason (ES-04): by its signer, or by quality. The signature stays in the
/// record's history, marked revoked.
#[utoipa::path(tag = "signatures", request_body = Revoke, responses(CommandResponses))]
#[post("/revoke")]
async fn revoke(call: CommandCall, body: Json<Revoke>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let Revoke { record_type, record_id, signature_id, reason } = value;
    call.respond(digest, async {
        let app = &call.app;
        let shown = shown(app, record_type, &record_id).await?;
        let actor = authorize(&call.principal, &signing_roles(Meaning::Performed), Target::Line(&shown.line))?;
        let revocation = Revocation { signature: signature_id, by: actor.clone(), reason };
        match record_type {
            SignableType::Job => {
                call.execute(&app.jobs, &record_id, JobCommand::RevokeSignature(revocation), actor).await
            }
            SignableType::Checklist => {
                call.execute(&app.checklists, &record_id, ChecklistCommand::RevokeSignature(revocation), actor).await
            }
            SignableType::Downtime => {
                call.execute(&app.downtime, &record_id, DowntimeCommand::RevokeSignature(revocation), actor).await
            }
            SignableType::ShiftReport => {
                let revoke = ShiftReportCommand::RevokeSignature(revocation);
                call.execute(&app.shift_reports, &record_id, revoke, actor).await
            }
        }
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SignaturesQuery {
    #[param(value_type = String, example = "job")]
    pub record_type: RecordType,
    pub id: String,
}

/// Every signature of a record with what it is worth now: standing, the record changed since,
/// revoked, or broken (its digest or signed version does not match the stored record).
#[utoipa::path(tag = "signatures", params(SignaturesQuery), responses(
    (status = 200, body = Vec<SignatureView>), QueryErrors, RecordNotFound))]
#[get("/api/v1/record-signatures")]
async fn signatures_of(call: QueryCall, query: web::Query<SignaturesQuery>) -> Result<HttpResponse, ApiError> {
    let SignaturesQuery { record_type, id } = query.into_inner();
    let (stream_type, line) = call.record(record_type, &id).await?;
    let record = RecordRef { record_type: stream_type.to_owned(), record_id: id };
    let time_zone = match line {
        Some(line) => call.app.lines.state(&line.to_string()).await?.time_zone().map(|zone| zone.name().to_owned()),
        None => None,
    };
    let checks = commands::signatures::check(&call.app.pool, &record).await?;
    let views: Vec<SignatureView> =
        checks.into_iter().map(|check| signature_view(check, time_zone.as_deref())).collect();
    Ok(HttpResponse::Ok().json(views))
}
