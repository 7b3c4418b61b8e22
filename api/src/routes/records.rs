//! A record's history (its events with who, when, why and from where) and its state as of a sequence
//! number or an instant (Part 11 AT-03, AT-14). The history says whether its page's hash chain
//! verifies and matches the ledger. Both cost the same for a long record as for a new one: a page
//! reads only its events, and a past state starts from the newest trusted snapshot before it.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use commands::event_log::{self, RecordedEvent, StreamBound};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::query_call::{QueryCall, QueryErrors, RecordNotFound};
use crate::record_type::RecordType;
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
    /// Whether every event of this page recomputes to its stored hash from its predecessor's, and each
    /// sealed one to the ledger leaf it was sealed as (tamper evidence at a cost that does not grow with
    /// the record; the whole log is verified by `POST /api/v1/ledger/verify`).
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

const MAX_PAGE: u32 = 1000;

#[utoipa::path(tag = "records", params(HistoryQuery), responses(
    (status = 200, body = History), QueryErrors, RecordNotFound))]
#[get("/api/v1/history")]
async fn history(call: QueryCall, query: web::Query<HistoryQuery>) -> Result<HttpResponse, ApiError> {
    let HistoryQuery { record_type, id, after_sequence, limit } = query.into_inner();
    let (stream_type, _) = call.record(record_type, &id).await?;
    let limit = u64::from(limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE));
    let (predecessor, page, version) =
        event_log::read_page(call.reads(), stream_type, &id, after_sequence.unwrap_or(0), limit).await?;
    if version == 0 {
        return Err(ApiError::not_found("record", &id));
    }
    let positions: Vec<i64> = page.iter().map(|event| event.position).collect();
    let sealed = commands::ledger::rows::sealed_at(call.reads(), &positions).await?;
    // The page's links, and each sealed event against the leaf it was sealed as: the whole log's
    // integrity is the ledger's verification, which an auditor runs (`POST /api/v1/ledger/verify`).
    let as_sealed = page.iter().all(|event| {
        sealed.get(&event.position).is_none_or(|(_, leaf)| {
            *leaf
                == commands::ledger::tree::leaf_hash(
                    &commands::canonical::hashed_bytes(&event.hashed()),
                    &event.stream_hash,
                )
        })
    });
    let chain_verified = event_log::links_hold(predecessor.as_ref(), &page) && as_sealed;
    let page = page
        .into_iter()
        .map(|event| {
            let ledger_number = sealed.get(&event.position).map(|(number, _)| *number);
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
    let (stream_type, _) = call.record(record_type, &id).await?;
    let up_to = match bound {
        StreamBound::UpToTime(at) => {
            event_log::last_sequence_at(call.reads(), stream_type, &id, at).await?.unwrap_or(0)
        }
        StreamBound::UpToSequence(sequence) => sequence,
        StreamBound::All => u64::MAX,
    };
    let app = &call.app;
    let (state, version) = match record_type {
        RecordType::Line => as_of(&app.lines, &id, up_to).await?,
        RecordType::Job => as_of(&app.jobs, &id, up_to).await?,
        RecordType::Downtime => as_of(&app.downtime, &id, up_to).await?,
        RecordType::AndonCall => as_of(&app.andon, &id, up_to).await?,
        RecordType::ChecklistTemplate => as_of(&app.templates, &id, up_to).await?,
        RecordType::Checklist => as_of(&app.checklists, &id, up_to).await?,
        RecordType::User => as_of(&app.users, &id, up_to).await?,
        RecordType::Device => as_of(&app.devices, &id, up_to).await?,
        RecordType::ShiftReport => as_of(&app.shift_reports, &id, up_to).await?,
        // Few events: read from the log, not kept in a store of the service's.
        RecordType::ReadModel => {
            let events = event_log::read_stream(&app.pool, stream_type, &id, StreamBound::UpToSequence(up_to)).await?;
            let version = events.last().map_or(0, |event| u64::try_from(event.sequence).unwrap_or_default());
            (event_log::fold::<domain::read_model::ReadModel>(&events)?.into(), version)
        }
    };
    if version == 0 || up_to == 0 {
        return Err(ApiError::not_found("record as of that point", &id));
    }
    Ok(HttpResponse::Ok().json(StateAsOf { record_type: stream_type.to_owned(), id, version, state }))
}

/// A record as it was after sequence `up_to`, from its newest trusted snapshot at or before that point.
async fn as_of<A: domain::Aggregate>(
    store: &commands::PgEventStore<A>,
    id: &str,
    up_to: u64,
) -> Result<(RecordStateView, u64), ApiError>
where
    RecordStateView: From<A>,
{
    let (state, version) = store.state_at(id, up_to).await?;
    Ok((state.into(), version))
}
