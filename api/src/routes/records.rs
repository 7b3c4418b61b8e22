//! A record's history (its events with who, when, why and from where) and its state as of a sequence
//! number or an instant (Part 11 AT-03, AT-14). The history says whether its hash chain verifies.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use commands::event_log::{self, RecordedEvent, StreamBound};
use domain::line_id::LineId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::access::{READ_ACCOUNTS, READ_RECORDS};
use crate::auth::{Principal, Target, authorize};
use crate::command_call::Located;
use crate::error::ApiError;
use crate::query_call::{QueryCall, QueryErrors, RecordNotFound};
use crate::record_type::RecordType;
use crate::state::AppState;
use crate::views::states::RecordStateView;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(history).service(state_as_of);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    #[param(value_type = String, example = "job")]
    pub record_type: RecordType,
    /// The record's id: a UUID, a line's `site/area/line`, a template or device id.
    pub id: String,
    /// Only events after this sequence number (for paging).
    pub after_sequence: Option<u64>,
    /// At most this many events (default and maximum 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub record_type: String,
    pub id: String,
    /// The record's current version (its last sequence number).
    pub version: u64,
    /// Whether the record's whole hash chain recomputes to what is stored (tamper evidence).
    pub chain_verified: bool,
    pub events: Vec<HistoryEvent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    pub sequence: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub event_version: i32,
    /// Server time the event was recorded, UTC.
    pub recorded_at: DateTime<Utc>,
    pub position: i64,
    #[schema(value_type = crate::views::stored::EventPayload)]
    pub payload: Value,
    /// As stored: actor id, printed name and role, reason, correlation and causation ids, device, source
    /// time.
    #[schema(value_type = crate::views::stored::Metadata)]
    pub metadata: Value,
    /// SHA-256 chain value, hex.
    pub stream_hash: String,
    /// The event's number in the ledger, once sealed (moments after it was recorded): the number its
    /// proof file is fetched by.
    pub ledger_number: Option<i64>,
}

/// The stream type of a record type, and a check that the principal may read the record.
async fn authorize_read(
    app: &AppState,
    principal: &Principal,
    record_type: RecordType,
    id: &str,
) -> Result<&'static str, ApiError> {
    let not_found = || ApiError::not_found("record", id);
    let line: Option<LineId> = match record_type {
        RecordType::User | RecordType::Device => {
            authorize(principal, READ_ACCOUNTS, Target::Anywhere)?;
            return Ok(record_type.stream_type());
        }
        RecordType::Line => Some(LineId::parse(id).map_err(|_| not_found())?),
        RecordType::Job => app.jobs.state(id).await?.line().cloned(),
        RecordType::Downtime => app.downtime.state(id).await?.line().cloned(),
        RecordType::AndonCall => app.andon.state(id).await?.line().cloned(),
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
    Ok(record_type.stream_type())
}

const MAX_PAGE: u32 = 1000;

#[utoipa::path(tag = "records", params(HistoryQuery), responses(
    (status = 200, body = History), QueryErrors, RecordNotFound))]
#[get("/api/v1/history")]
async fn history(call: QueryCall, query: web::Query<HistoryQuery>) -> Result<HttpResponse, ApiError> {
    let HistoryQuery { record_type, id, after_sequence, limit } = query.into_inner();
    let stream_type = authorize_read(&call.app, &call.principal, record_type, &id).await?;
    let events = event_log::read_stream(&call.app.pool, stream_type, &id, StreamBound::All).await?;
    if events.is_empty() {
        return Err(ApiError::not_found("record", &id));
    }
    let chain_verified = event_log::verify_stream(&events).is_ok();
    let version = events.last().map_or(0, |event| u64::try_from(event.sequence).unwrap_or(0));
    let after = i64::try_from(after_sequence.unwrap_or(0)).unwrap_or(i64::MAX);
    let limit = limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE) as usize;
    let page: Vec<RecordedEvent> = events.into_iter().filter(|event| event.sequence > after).take(limit).collect();
    let positions: Vec<i64> = page.iter().map(|event| event.position).collect();
    let sealed = commands::ledger::rows::numbers_of(&call.app.pool, &positions).await?;
    let page = page
        .into_iter()
        .map(|event| {
            let ledger_number = sealed.get(&event.position).copied();
            history_event(event, ledger_number)
        })
        .collect();
    Ok(HttpResponse::Ok().json(History {
        record_type: stream_type.to_owned(),
        id,
        version,
        chain_verified,
        events: page,
    }))
}

fn history_event(event: RecordedEvent, ledger_number: Option<i64>) -> HistoryEvent {
    HistoryEvent {
        sequence: event.sequence,
        event_id: event.event_id,
        event_type: event.event_type,
        event_version: event.event_version,
        recorded_at: event.recorded_at,
        position: event.position,
        payload: event.payload,
        metadata: event.metadata,
        stream_hash: hex::encode(event.stream_hash),
        ledger_number,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    #[param(value_type = String, example = "job")]
    pub record_type: RecordType,
    pub id: String,
    /// The state after this sequence number.
    pub sequence: Option<u64>,
    /// The state as recorded at this instant (RFC 3339).
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StateAsOf {
    pub record_type: String,
    pub id: String,
    /// The last sequence number folded in.
    pub version: u64,
    pub state: RecordStateView,
}

#[utoipa::path(tag = "records", params(StateQuery), responses(
    (status = 200, body = StateAsOf), QueryErrors, RecordNotFound))]
#[get("/api/v1/state")]
async fn state_as_of(call: QueryCall, query: web::Query<StateQuery>) -> Result<HttpResponse, ApiError> {
    let StateQuery { record_type, id, sequence, at } = query.into_inner();
    let bound = match (sequence, at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("invalid_query", "give either sequence or at, not both"));
        }
        (Some(sequence), None) => StreamBound::UpToSequence(sequence),
        (None, Some(at)) => StreamBound::UpToTime(at),
        (None, None) => StreamBound::All,
    };
    let stream_type = authorize_read(&call.app, &call.principal, record_type, &id).await?;
    let events = event_log::read_stream(&call.app.pool, stream_type, &id, bound).await?;
    let Some(last) = events.last() else {
        return Err(ApiError::not_found("record as of that point", &id));
    };
    let version = u64::try_from(last.sequence).unwrap_or(0);
    let state = match record_type {
        RecordType::Line => RecordStateView::Line(event_log::fold::<domain::line::Line>(&events)?.into()),
        RecordType::Job => RecordStateView::Job(event_log::fold::<domain::job::Job>(&events)?.into()),
        RecordType::Downtime => {
            RecordStateView::Downtime(event_log::fold::<domain::downtime::Downtime>(&events)?.into())
        }
        RecordType::AndonCall => {
            RecordStateView::AndonCall(event_log::fold::<domain::andon::AndonCall>(&events)?.into())
        }
        RecordType::ChecklistTemplate => {
            RecordStateView::ChecklistTemplate(event_log::fold::<domain::checklist::ChecklistTemplate>(&events)?.into())
        }
        RecordType::Checklist => {
            RecordStateView::Checklist(event_log::fold::<domain::checklist::Checklist>(&events)?.into())
        }
        RecordType::User => RecordStateView::User(event_log::fold::<domain::user::User>(&events)?.into()),
        RecordType::Device => RecordStateView::Device(event_log::fold::<domain::device::Device>(&events)?.into()),
    };
    Ok(HttpResponse::Ok().json(StateAsOf { record_type: stream_type.to_owned(), id, version, state }))
}
