//! Jobs: planned, assigned, run and counted on a line.

use std::num::NonZeroU64;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use commands::lookups;
use domain::counter::CounterWidth;
use domain::job::{CountKind, CounterReading, Job, JobCommand, JobStatus};
use domain::line_id::LineId;
use domain::values::{CounterId, Name, ProductId, Reason, ReasonCode};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::access::{CORRECT_COUNTS, PLAN_JOBS, READ_COUNTERS, RUN_JOBS};
use crate::auth::{Target, Who};
use crate::bodies::{MaybeReason, NoFields, WithReason};
use crate::command_call::{CommandCall, CommandResponses, Reply};
use crate::error::ApiError;
use crate::json::Json;
use crate::query_call::{Freshness, QueryCall, QueryErrors, RecordNotFound, page_limit};
use crate::views::JobView;
use crate::views::states::JobStateView;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // A scope per kind of record: the router then tries only this module's patterns.
    config.service(
        utoipa_actix_web::scope("/api/v1/jobs")
            .service(list)
            .service(detail)
            .service(create)
            .service(assign)
            .service(accept)
            .service(start)
            .service(pause)
            .service(resume)
            .service(production)
            .service(counter_reading)
            .service(correct)
            .service(complete)
            .service(cancel),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// The new job's id; chosen by the server when absent.
    pub id: Option<Uuid>,
    /// `site/area/line`.
    #[schema(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    #[schema(value_type = String)]
    pub product: ProductId,
    #[schema(value_type = u64, minimum = 1)]
    pub target_quantity: NonZeroU64,
}

async fn on_job(
    call: &CommandCall,
    id: Uuid,
    allowed: &[domain::actor::Role],
    command: JobCommand,
) -> Result<Reply, ApiError> {
    call.on_record(&call.app.jobs, "job", &id.to_string(), allowed, |_, _| Ok(command)).await
}

#[utoipa::path(tag = "jobs", request_body = CreateJob, responses(CommandResponses))]
#[post("")]
async fn create(call: CommandCall, body: Json<CreateJob>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond_created(digest, async {
        let actor = call.authorize(PLAN_JOBS, Target::Line(&value.line))?;
        call.registered_line(&value.line).await?;
        let id = value.id.unwrap_or_else(Uuid::now_v7).to_string();
        let command =
            JobCommand::Create { line: value.line, product: value.product, target_quantity: value.target_quantity };
        call.execute(&call.app.jobs, &id, command, actor).await
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignOperator {
    /// The user id of the operator.
    pub operator: Uuid,
    /// Needed when the job already has an operator.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

#[utoipa::path(tag = "jobs", request_body = AssignOperator, responses(CommandResponses))]
#[post("/{job_id}/assign")]
async fn assign(
    call: CommandCall,
    job_id: web::Path<Uuid>,
    body: Json<AssignOperator>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let operator = domain::actor::UserId::from_uuid(value.operator);
        let user = call.app.users.state(&operator.to_string()).await?;
        let operator_name: Name = match user.printed_name {
            Some(name) if user.may_act() => name,
            _ => return Err(ApiError::unprocessable("unknown_operator", "the operator is not an active user")),
        };
        let command = JobCommand::AssignOperator { operator, operator_name, reason: value.reason };
        on_job(&call, *job_id, PLAN_JOBS, command).await
    })
    .await
}

#[utoipa::path(tag = "jobs", request_body = NoFields, responses(CommandResponses))]
#[post("/{job_id}/accept")]
async fn accept(call: CommandCall, job_id: web::Path<Uuid>, body: Json<NoFields>) -> Result<HttpResponse, ApiError> {
    call.respond(body.digest, async {
        let Who::Person { id, .. } = &call.principal.who else {
            return Err(ApiError::forbidden("forbidden", "only a person can accept a job"));
        };
        on_job(&call, *job_id, RUN_JOBS, JobCommand::Accept { operator: *id }).await
    })
    .await
}

#[utoipa::path(tag = "jobs", request_body = NoFields, responses(CommandResponses))]
#[post("/{job_id}/start")]
async fn start(call: CommandCall, job_id: web::Path<Uuid>, body: Json<NoFields>) -> Result<HttpResponse, ApiError> {
    call.respond(body.digest, on_job(&call, *job_id, RUN_JOBS, JobCommand::Start)).await
}

#[utoipa::path(tag = "jobs", request_body = MaybeReason, responses(CommandResponses))]
#[post("/{job_id}/pause")]
async fn pause(call: CommandCall, job_id: web::Path<Uuid>, body: Json<MaybeReason>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, on_job(&call, *job_id, RUN_JOBS, JobCommand::Pause { reason: value.reason })).await
}

#[utoipa::path(tag = "jobs", request_body = NoFields, responses(CommandResponses))]
#[post("/{job_id}/resume")]
async fn resume(call: CommandCall, job_id: web::Path<Uuid>, body: Json<NoFields>) -> Result<HttpResponse, ApiError> {
    call.respond(body.digest, on_job(&call, *job_id, RUN_JOBS, JobCommand::Resume)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordProduction {
    pub good: u64,
    pub reject: u64,
    /// Needed when `reject` is not zero: a leaf of the line's reject reason tree
    /// (`POST /api/v1/lines/{site}/{area}/{line}/reject-reasons`).
    #[schema(value_type = Option<String>)]
    pub reject_reason: Option<ReasonCode>,
}

#[utoipa::path(tag = "jobs", request_body = RecordProduction, responses(CommandResponses))]
#[post("/{job_id}/production")]
async fn production(
    call: CommandCall,
    job_id: web::Path<Uuid>,
    body: Json<RecordProduction>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let (id, app) = (job_id.to_string(), &call.app);
        let job = call.existing(&app.jobs, "job", &id).await?;
        let line = job.line.as_ref().ok_or_else(|| ApiError::not_found("job", &id))?;
        let actor = call.authorize(RUN_JOBS, Target::Line(line))?;
        let units = (value.good, value.reject);
        let outcome =
            lookups::record_production(&app.lines, &app.jobs, &id, units, value.reject_reason, &call.context(actor))
                .await?;
        Ok(crate::command_call::accepted::<Job>(&id, outcome))
    })
    .await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterReadingBody {
    #[schema(value_type = String)]
    pub counter: CounterId,
    #[schema(value_type = String, example = "good")]
    pub kind: CountKind,
    #[schema(value_type = String, example = "bits32")]
    pub width: CounterWidth,
    /// Per-source sequence: a reading at or below the last one seen is a repeat and changes nothing.
    pub sequence: u64,
    pub value: u64,
    pub source_timestamp: DateTime<Utc>,
}

impl From<CounterReadingBody> for CounterReading {
    fn from(body: CounterReadingBody) -> Self {
        Self {
            counter: body.counter,
            kind: body.kind,
            width: body.width,
            sequence: body.sequence,
            value: body.value,
            source_timestamp: body.source_timestamp,
        }
    }
}

#[utoipa::path(tag = "jobs", request_body = CounterReadingBody, responses(CommandResponses))]
#[post("/{job_id}/counter-readings")]
async fn counter_reading(
    call: CommandCall,
    job_id: web::Path<Uuid>,
    body: Json<CounterReadingBody>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.source_time(value.source_timestamp)?;
    let command = JobCommand::RecordCounterReading(value.into());
    call.respond(digest, on_job(&call, *job_id, READ_COUNTERS, command)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectProduction {
    pub good_delta: i64,
    pub reject_delta: i64,
    #[schema(value_type = String)]
    pub reason: Reason,
}

#[utoipa::path(tag = "jobs", request_body = CorrectProduction, responses(CommandResponses))]
#[post("/{job_id}/corrections")]
async fn correct(
    call: CommandCall,
    job_id: web::Path<Uuid>,
    body: Json<CorrectProduction>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = JobCommand::CorrectProduction {
        good_delta: value.good_delta,
        reject_delta: value.reject_delta,
        reason: value.reason,
    };
    call.respond(digest, on_job(&call, *job_id, CORRECT_COUNTS, command)).await
}

#[utoipa::path(tag = "jobs", request_body = NoFields, responses(CommandResponses))]
#[post("/{job_id}/complete")]
async fn complete(call: CommandCall, job_id: web::Path<Uuid>, body: Json<NoFields>) -> Result<HttpResponse, ApiError> {
    call.respond(body.digest, on_job(&call, *job_id, RUN_JOBS, JobCommand::Complete)).await
}

#[utoipa::path(tag = "jobs", request_body = WithReason, responses(CommandResponses))]
#[post("/{job_id}/cancel")]
async fn cancel(call: CommandCall, job_id: web::Path<Uuid>, body: Json<WithReason>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, on_job(&call, *job_id, PLAN_JOBS, JobCommand::Cancel { reason: value.reason })).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `site/area/line`.
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    /// `created`, `accepted`, `running`, `paused`, `completed` or `cancelled`.
    #[param(value_type = Option<String>, example = "running")]
    pub status: Option<JobStatus>,
    /// The last job id of the previous page.
    pub after: Option<String>,
    /// At most this many jobs (default and maximum 500).
    pub limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JobList {
    /// The read model reflects at least the events up to this point of the log.
    pub freshness: Freshness,
    pub jobs: Vec<JobSummary>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JobSummary {
    #[serde(flatten)]
    pub job: JobView,
    /// Good units as a share of the target, in percent.
    pub progress_percent: f64,
}

#[utoipa::path(tag = "jobs", params(JobQuery), responses(
    (status = 200, body = JobList), QueryErrors))]
#[get("")]
async fn list(call: QueryCall, query: web::Query<JobQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let freshness = call.line::<projections::read_models::jobs::Jobs>(&query.line).await?;
    let filter = projections::read_models::jobs::JobFilter {
        line: Some(query.line.to_string()),
        status: query.status.as_ref().map(projections::read_models::folded::name_of),
        after: query.after,
        limit: page_limit(query.limit),
    };
    let jobs =
        projections::read_models::jobs::list(call.reads(), &filter).await?.into_iter().map(JobSummary::from).collect();
    Ok(HttpResponse::Ok().json(JobList { freshness, jobs }))
}

impl From<projections::read_models::jobs::JobRow> for JobSummary {
    fn from(job: projections::read_models::jobs::JobRow) -> Self {
        let target = job.target_quantity.parse::<f64>().unwrap_or(f64::INFINITY);
        Self { progress_percent: 100.0 * job.good as f64 / target, job: job.into() }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JobDetail {
    pub freshness: Freshness,
    /// `null` while the read model has not reached the job's first event (compare `freshness`).
    pub job: Option<JobSummary>,
    /// The job as folded from its events: counters with their last readings, operator, counts.
    pub state: Option<JobStateView>,
}

/// One job with its progress against target and its folded state.
#[utoipa::path(tag = "jobs", responses(
    (status = 200, body = JobDetail), QueryErrors, RecordNotFound))]
#[get("/{job_id}")]
async fn detail(call: QueryCall, job_id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = job_id.to_string();
    // The job's line, for the principal's scope, from its events: 404 for a job that does not exist.
    let line = match call.app.jobs.state_and_version(&id).await? {
        (job, version) if version > 0 => job.line,
        _ => None,
    };
    let line = line.ok_or_else(|| ApiError::not_found("job", &id))?;
    let freshness = call.line::<projections::read_models::jobs::Jobs>(&line).await?;
    let (job, state) = match projections::read_models::jobs::detail(call.reads(), &id).await? {
        Some((row, state)) => {
            let state: domain::job::Job =
                serde_json::from_value(state).map_err(|error| crate::error::internal(&error))?;
            (Some(JobSummary::from(row)), Some(JobStateView::from(state)))
        }
        None => (None, None),
    };
    Ok(HttpResponse::Ok().json(JobDetail { freshness, job, state }))
}
