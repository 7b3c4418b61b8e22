//! What every read endpoint does before it reads, the twin of `command_call`: the principal, the check
//! that it may read a line (or a site's lines), how fresh the read model it answers from is, and the
//! shared query parameters (periods, page sizes). One list of the errors a query may answer.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};
use domain::line_id::LineId;
use domain::oee::Interval;
use domain::values::{AreaId, SiteId};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, IntoResponses, ToSchema};

use crate::auth::access::{READ_ACCOUNTS, READ_BOARDS, READ_RECORDS};
use crate::auth::{Principal, Target, authorize};
use crate::command_call::Located;
use crate::error::{ApiError, ErrorBody};
use crate::record_type::RecordType;
use crate::state::AppState;

/// An authenticated read request.
#[derive(Debug)]
pub struct QueryCall {
    pub app: web::Data<AppState>,
    pub principal: Principal,
    /// Correlates what the read records (an export) with the request's log lines.
    pub request_id: uuid::Uuid,
    /// The database this request reads its dashboards, history and exports from: chosen (and counted)
    /// at its first read, then kept for the whole request.
    reads: std::sync::OnceLock<(PgPool, crate::reads::ReadFrom)>,
}

impl FromRequest for QueryCall {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let principal = Principal::from_request(request, payload);
        let app = request.app_data::<web::Data<AppState>>().cloned();
        let request_id = crate::telemetry::request_id(request);
        Box::pin(async move {
            let principal = principal.await?;
            let app =
                app.ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "no state"))?;
            Ok(Self { app, principal, request_id, reads: std::sync::OnceLock::new() })
        })
    }
}

impl QueryCall {
    /// The stream type of a record type and the record's line (none for accounts), and a check that the
    /// principal may read the record.
    pub async fn record(&self, record_type: RecordType, id: &str) -> Result<(&'static str, Option<LineId>), ApiError> {
        let (app, principal) = (&self.app, &self.principal);
        let not_found = || ApiError::not_found("record", id);
        let line: Option<LineId> = match record_type {
            RecordType::User | RecordType::Device | RecordType::ReadModel => {
                authorize(principal, READ_ACCOUNTS, Target::Anywhere)?;
                return Ok((record_type.stream_type(), None));
            }
            RecordType::Line => Some(LineId::parse(id).map_err(|_| not_found())?),
            RecordType::Job => app.jobs.state(id).await?.line().cloned(),
            RecordType::Downtime => app.downtime.state(id).await?.line().cloned(),
            RecordType::AndonCall => app.andon.state(id).await?.line().cloned(),
            RecordType::ShiftReport => app.shift_reports.state(id).await?.line().cloned(),
            RecordType::ChecklistTemplate => app.templates.state(id).await?.line().cloned(),
            RecordType::Checklist => {
                let checklist = app.checklists.state(id).await?;
                match checklist.template {
                    Some(template) => app.templates.state(&template.template_id).await?.line().cloned(),
                    None => None,
                }
            }
        };
        let line = line.ok_or_else(not_found)?;
        authorize(principal, READ_RECORDS, Target::Line(&line))?;
        Ok((record_type.stream_type(), Some(line)))
    }

    /// The first step of every read-model query about a line: the principal may read the line's records,
    /// and the answer says how fresh projection `P`'s read model is. The checkpoint is read before the
    /// rows, which are then at least as fresh as it says.
    pub async fn line<P: projections::Projection>(&self, line: &LineId) -> Result<Freshness, ApiError> {
        authorize(&self.principal, READ_RECORDS, Target::Line(line))?;
        self.freshness::<P>().await
    }

    /// The same for a board a display may show (`READ_BOARDS`).
    pub async fn board<P: projections::Projection>(&self, line: &LineId) -> Result<Freshness, ApiError> {
        authorize(&self.principal, READ_BOARDS, Target::Line(line))?;
        self.freshness::<P>().await
    }

    /// The database this request reads dashboards, history and exports from (`crate::reads`).
    pub fn reads(&self) -> &PgPool {
        &self.chosen().0
    }

    fn chosen(&self) -> &(PgPool, crate::reads::ReadFrom) {
        self.reads.get_or_init(|| self.app.reads.choose())
    }

    /// Where projection `P`'s read model is in the database this request reads from; all zero before
    /// its first batch.
    pub async fn freshness<P: projections::Projection>(&self) -> Result<Freshness, ApiError> {
        let status = projections::engine::checkpoint::read(self.reads(), P::NAME).await?;
        Ok(Freshness {
            projection: P::NAME.to_owned(),
            transaction_id: status.as_ref().map_or(0, |status| status.transaction_id),
            position: status.as_ref().map_or(0, |status| status.position),
            events_applied: status.as_ref().map_or(0, |status| status.events_applied),
            read_from: self.chosen().1,
        })
    }

    /// The lines of a site, or of one area of it, that the principal may read, as the OEE read model
    /// knows them. A site needs a grant for the site; an area needs every one of its lines (403 otherwise).
    pub async fn readable_lines(
        &self,
        allowed: &[domain::actor::Role],
        site: &SiteId,
        area: Option<&AreaId>,
    ) -> Result<Vec<LineId>, ApiError> {
        let principal = &self.principal;
        authorize(principal, allowed, if area.is_none() { Target::Site(site) } else { Target::Anywhere })?;
        let names = projections::read_models::oee::query::lines_of(
            self.reads(),
            site.as_str(),
            area.map(|area| area.to_string()),
        )
        .await?;
        let mut lines = Vec::with_capacity(names.len());
        for name in names {
            let line = LineId::parse(&name).map_err(|error| crate::error::internal(&error))?;
            authorize(principal, allowed, Target::Line(&line))?;
            lines.push(line);
        }
        Ok(lines)
    }

    /// Records, before a copy leaves, that `actor` exports `kind` of `selection` up to log position
    /// `up_to` (Part 11 RC-01): an export that cannot be recorded is not made.
    pub async fn record_export(
        &self,
        actor: domain::actor::Actor,
        kind: domain::export::ExportKind,
        selection: &str,
        up_to: i64,
    ) -> Result<(), ApiError> {
        let selection = if selection.is_empty() { "everything visible" } else { selection };
        let selection = domain::values::Description::parse(selection)
            .map_err(|error| ApiError::bad_request("invalid_query", error.to_string()))?;
        let context = commands::CommandContext {
            correlation_id: self.request_id,
            device_id: self.principal.device.clone(),
            ..commands::CommandContext::new(actor)
        };
        let command = domain::export::ExportCommand::Record { kind, selection, up_to };
        commands::execute(&self.app.exports, &uuid::Uuid::now_v7().to_string(), command, &context).await?;
        Ok(())
    }

    /// 404 for a line that was never registered.
    pub async fn registered(&self, line: &LineId) -> Result<(), ApiError> {
        match self.app.lines.state_and_version(&line.to_string()).await? {
            (_, 0) => Err(ApiError::not_found("line", &line.to_string())),
            _ => Ok(()),
        }
    }
}

/// `/lines/{site}/{area}/{line}`: a line id's three parts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LinePath {
    site: String,
    area: String,
    line: String,
}

impl LinePath {
    pub fn parse(&self) -> Result<LineId, ApiError> {
        LineId::parse(&format!("{}/{}/{}", self.site, self.area, self.line))
            .map_err(|error| ApiError::bad_request("invalid_path", error.to_string()))
    }
}

/// Where in the log a read model is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Freshness {
    pub projection: String,
    /// The last event applied: its transaction id and position in the log.
    pub transaction_id: i64,
    pub position: i64,
    pub events_applied: i64,
    /// The database that answered: a read replica, or the primary (none configured, or the replica
    /// lags or cannot be reached).
    pub read_from: crate::reads::ReadFrom,
}

/// The largest page a list returns, and the default.
const LONGEST_PAGE: u32 = 500;

/// A list's page size: `limit` within 1 to 500, 500 when absent.
pub fn page_limit(limit: Option<u32>) -> i64 {
    i64::from(limit.unwrap_or(LONGEST_PAGE).clamp(1, LONGEST_PAGE))
}

/// A period from the query: default the last 24 hours, and `from` before `to`.
pub fn period(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - chrono::Duration::hours(24));
    if from >= to {
        return Err(ApiError::bad_request("invalid_query", "`from` must be before `to`"));
    }
    Ok((from, to))
}

/// A period as [`period`], as an interval.
pub fn range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Interval, ApiError> {
    let (from, to) = period(from, to)?;
    Interval::new(from, to).ok_or_else(|| ApiError::bad_request("invalid_query", "`from` must be before `to`"))
}

/// The longest period a request that forms figures per shift or hour may ask for.
const LONGEST_PERIOD_DAYS: i64 = 92;

/// A period as [`range`], at most [`LONGEST_PERIOD_DAYS`] long.
pub fn bounded_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Interval, ApiError> {
    let range = range(from, to)?;
    if range.end() - range.start() > chrono::Duration::days(LONGEST_PERIOD_DAYS) {
        return Err(ApiError::bad_request("invalid_query", format!("a period is at most {LONGEST_PERIOD_DAYS} days")));
    }
    Ok(range)
}

/// What a read of one record (or one line) may answer besides [`QueryErrors`].
#[derive(Debug, IntoResponses)]
#[allow(dead_code)] // only read by the OpenAPI generator
pub enum RecordNotFound {
    #[response(status = 404, description = "No such record")]
    NotFound(#[to_schema] ErrorBody),
}

/// The errors every read endpoint may answer, for the OpenAPI document.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)] // only read by the OpenAPI generator
pub enum QueryErrors {
    #[response(status = 400, description = "Malformed or invalid query")]
    BadRequest(#[to_schema] ErrorBody),
    #[response(status = 401, description = "Not signed in, or the session has ended")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The role or its scope does not allow this")]
    Forbidden(ErrorBody),
    #[response(status = 503, description = "The database is unavailable; retry")]
    Unavailable(ErrorBody),
}
