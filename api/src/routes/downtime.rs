//! Stops of a line: started and ended by operators or PLC gateways, given a reason from the line's tree,
//! the reason changed only with a reason for change (the old value stays in the history).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use commands::lookups::{self, StopStart};
use domain::Aggregate as _;
use domain::downtime::{Downtime, DowntimeCommand, StopSource};
use domain::line_id::LineId;
use domain::signature::{Meaning, RecordRef};
use domain::values::{EquipmentId, Reason, ReasonCode};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::access::{EXPLAIN_STOPS, RECORD_STOPS, VOID_STOPS};
use crate::auth::session;
use crate::auth::signing::{self, SigningCredentials, request_at, signer};
use crate::auth::{Target, Who};
use crate::command_call::{CommandCall, CommandResponses, Located};
use crate::error::ApiError;
use crate::json::Json;
use crate::query_call::{Freshness, QueryCall, QueryErrors, page_limit, period};
use crate::views::Stop;
use projections::read_models::downtime::Stops;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // A scope per kind of record: the router then tries only this module's patterns.
    config.service(
        utoipa_actix_web::scope("/api/v1/downtime")
            .service(list)
            .service(pareto)
            .service(reliability)
            .service(start)
            .service(give_reason)
            .service(end)
            .service(void),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartStop {
    /// The stop's id; chosen by the server when absent.
    pub id: Option<Uuid>,
    #[schema(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    #[schema(value_type = Option<String>)]
    pub equipment: Option<EquipmentId>,
    /// When the line stopped, at the source.
    pub started_at: DateTime<Utc>,
}

#[utoipa::path(tag = "downtime", request_body = StartStop, responses(CommandResponses))]
#[post("")]
async fn start(call: CommandCall, body: Json<StartStop>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond_created(digest, async {
        let actor = call.authorize(RECORD_STOPS, Target::Line(&value.line))?;
        let source = match &call.principal.who {
            Who::Device { id, .. } => StopSource::Plc { device: id.clone() },
            Who::Person { .. } => StopSource::Operator,
        };
        let id = value.id.unwrap_or_else(Uuid::now_v7).to_string();
        let started_at = call.source_time(value.started_at)?;
        let start = StopStart { line: value.line, equipment: value.equipment, source, started_at };
        let app = &call.app;
        let outcome = lookups::start_downtime(&app.lines, &app.downtime, &id, start, &call.context(actor)).await?;
        Ok(crate::command_call::accepted::<domain::downtime::Downtime>(&id, outcome))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveReason {
    /// A leaf of the line's downtime reason tree.
    #[schema(value_type = String)]
    pub code: ReasonCode,
    /// Needed when the stop already has a reason: the reason for changing it.
    #[schema(value_type = Option<String>)]
    pub reason_for_change: Option<Reason>,
    /// Needed for a change after the stop's shift has ended: the author signs it (`authored`, Part 11
    /// ES-01), over the stop's version they were shown.
    pub signature: Option<SignedChange>,
}

/// A change's signature: the version signed and the re-entered credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedChange {
    pub version: u64,
    /// Needed for the first signature of a session.
    pub username: Option<String>,
    pub password: String,
}

impl std::fmt::Debug for SignedChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedChange").field("version", &self.version).finish_non_exhaustive()
    }
}

#[utoipa::path(tag = "downtime", request_body = GiveReason, responses(CommandResponses))]
#[post("/{downtime_id}/reason")]
async fn give_reason(
    call: CommandCall,
    request: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<GiveReason>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let id = path.to_string();
        let app = &call.app;
        let stop = call.existing(&app.downtime, "downtime", &id).await?;
        let line = stop.line().ok_or_else(|| ApiError::not_found("downtime", &id))?;
        let actor = call.authorize(EXPLAIN_STOPS, Target::Line(line))?;
        let mut context = call.context(actor.clone());
        let signature = match value.signature {
            None => None,
            Some(SignedChange { version, username, password }) => {
                let signer = signer(&call.principal, Meaning::Authored, line)?;
                let credentials = SigningCredentials { username, password };
                signing::reauthenticate(app, &request, &call.principal, credentials).await?;
                context.expected_version = Some(version);
                let record = RecordRef { record_type: Downtime::TYPE.to_owned(), record_id: id.clone() };
                Some(request_at(app, record, version, Meaning::Authored, signer).await?)
            }
        };
        let signing = signature.is_some();
        let outcome = lookups::give_downtime_reason(
            &app.lines,
            &app.downtime,
            &id,
            value.code,
            value.reason_for_change,
            signature,
            &context,
        )
        .await?;
        if signing {
            session::mark_signed(&app.pool, call.principal.session).await?;
        }
        Ok(crate::command_call::accepted::<Downtime>(&id, outcome))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndStop {
    /// When the line ran again, at the source.
    pub ended_at: DateTime<Utc>,
}

#[utoipa::path(tag = "downtime", request_body = EndStop, responses(CommandResponses))]
#[post("/{downtime_id}/end")]
async fn end(call: CommandCall, path: web::Path<Uuid>, body: Json<EndStop>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = DowntimeCommand::End { ended_at: call.source_time(value.ended_at)? };
    call.respond(
        digest,
        call.on_record(&call.app.downtime, "downtime", &path.to_string(), RECORD_STOPS, |_, _| Ok(command)),
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidStop {
    /// Why the stop is void (recorded in error): mandatory, kept in its history.
    #[schema(value_type = String)]
    pub reason: Reason,
}

/// Voids a stop recorded in error (Part 11 AT-04): it leaves the stop lists, Paretos and OEE figures,
/// and stays in its history and the audit trail with who, when and why. Nothing more can be done to it.
#[utoipa::path(tag = "downtime", request_body = VoidStop, responses(CommandResponses))]
#[post("/{downtime_id}/void")]
async fn void(call: CommandCall, path: web::Path<Uuid>, body: Json<VoidStop>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = DowntimeCommand::Void { reason: value.reason };
    call.respond(
        digest,
        call.on_record(&call.app.downtime, "downtime", &path.to_string(), VOID_STOPS, |_, _| Ok(command)),
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StopQuery {
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    /// Stops that started at or after this time; default: 24 hours ago.
    pub from: Option<DateTime<Utc>>,
    /// Stops that started before this time; default: now.
    pub to: Option<DateTime<Utc>>,
    /// Only stops that have not ended.
    pub open_only: Option<bool>,
    /// Paging: the `started_at` and `downtime_id` of the last stop of the previous page.
    pub after_started_at: Option<DateTime<Utc>>,
    pub after_id: Option<String>,
    /// At most this many stops (default and maximum 500).
    pub limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct StopList {
    pub freshness: Freshness,
    /// Open stops have no `ended_at`, `duration_ms` or `class` yet.
    pub stops: Vec<Stop>,
}

/// The stops of a line in a period, open or ended, with reason and loss category.
#[utoipa::path(tag = "downtime", params(StopQuery), responses(
    (status = 200, body = StopList), QueryErrors))]
#[get("")]
async fn list(call: QueryCall, query: web::Query<StopQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let freshness = call.line::<Stops>(&query.line).await?;
    let (from, to) = period(query.from, query.to)?;
    let after = query.after_started_at.map(|at| (at, query.after_id.unwrap_or_default()));
    let filter = projections::read_models::downtime::StopFilter {
        line: query.line.to_string(),
        from,
        to,
        open_only: query.open_only.unwrap_or(false),
        after,
        limit: page_limit(query.limit),
    };
    let stops =
        projections::read_models::downtime::list(call.reads(), &filter).await?.into_iter().map(Stop::from).collect();
    Ok(HttpResponse::Ok().json(StopList { freshness, stops }))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParetoKey {
    Reason,
    LossCategory,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ParetoQuery {
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    /// `reason` (a stop without one counts as `unexplained`) or `loss_category`.
    #[param(value_type = String, example = "reason")]
    pub by: ParetoKey,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Pareto {
    pub freshness: Freshness,
    /// Ended downtime (small stops are performance losses, not here), largest total duration first.
    pub bars: Vec<ParetoBar>,
    /// Stops of the period still open: not in the bars until they end.
    pub open_stops: usize,
}

/// One bar: the key (a reason code, `unexplained`, or a loss category), its stops and their total
/// duration.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ParetoBar {
    pub key: String,
    pub stops: i64,
    pub duration_ms: i64,
}

#[utoipa::path(tag = "downtime", params(ParetoQuery), responses(
    (status = 200, body = Pareto), QueryErrors))]
#[get("/pareto")]
async fn pareto(call: QueryCall, query: web::Query<ParetoQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let freshness = call.line::<Stops>(&query.line).await?;
    let (from, to) = period(query.from, query.to)?;
    let by = match query.by {
        ParetoKey::Reason => projections::read_models::downtime::ParetoBy::Reason,
        ParetoKey::LossCategory => projections::read_models::downtime::ParetoBy::LossCategory,
    };
    let line = query.line.to_string();
    let bars = projections::read_models::downtime::pareto(call.reads(), &line, from, to, by)
        .await?
        .into_iter()
        .map(|bar| ParetoBar { key: bar.key, stops: bar.stops, duration_ms: bar.duration_ms })
        .collect();
    let open =
        projections::read_models::downtime::StopFilter { line, from, to, open_only: true, after: None, limit: 500 };
    let open_stops = projections::read_models::downtime::list(call.reads(), &open).await?.len();
    Ok(HttpResponse::Ok().json(Pareto { freshness, bars, open_stops }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReliabilityQuery {
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    /// Start of the period; default: 24 hours before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the period; default: now.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Reliability {
    pub freshness: Freshness,
    /// A failure is an ended stop of class downtime booked as unplanned loss that started in the period.
    /// `mttr_ms` = the failures' total duration / their number. `mtbf_ms` = (the period's length minus
    /// all ended downtime in it) / the number of failures. Both are null without failures. The period is
    /// calendar time (no shift calendar applied): choose a window within production time.
    pub failures: i64,
    pub failure_ms: i64,
    pub downtime_ms: i64,
    pub period_ms: i64,
    pub mttr_ms: Option<f64>,
    pub mtbf_ms: Option<f64>,
}

/// MTBF and MTTR of a line over a period.
#[utoipa::path(tag = "downtime", params(ReliabilityQuery), responses(
    (status = 200, body = Reliability), QueryErrors))]
#[get("/reliability")]
async fn reliability(call: QueryCall, query: web::Query<ReliabilityQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let freshness = call.line::<Stops>(&query.line).await?;
    let (from, to) = period(query.from, query.to)?;
    let figures =
        projections::read_models::downtime::reliability(call.reads(), &query.line.to_string(), from, to).await?;
    let projections::read_models::downtime::Reliability {
        failures,
        failure_ms,
        downtime_ms,
        period_ms,
        mttr_ms,
        mtbf_ms,
    } = figures;
    Ok(HttpResponse::Ok().json(Reliability {
        freshness,
        failures,
        failure_ms,
        downtime_ms,
        period_ms,
        mttr_ms,
        mtbf_ms,
    }))
}
