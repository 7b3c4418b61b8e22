//! Batch ingestion for PLC gateways: machine state changes and counter readings, each with its source
//! time, quality and per-source sequence. Items are decided one by one: a bad item is rejected with its
//! reason while the good ones are accepted; a repeated item is reported as a duplicate and changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post};
use chrono::{DateTime, Utc};
use commands::lookups::{self, LookupError, StopStart};
use commands::{CommandError, CommandOutcome};
use domain::counter::CounterWidth;
use domain::downtime::{DowntimeCommand, DowntimeError, StopSource};
use domain::job::{CountKind, CounterReading, JobCommand};
use domain::line_id::LineId;
use domain::values::{CounterId, DeviceId, EquipmentId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::access::{READ_COUNTERS, RECORD_STOPS};
use crate::auth::{Target, Who};
use crate::command_call::{CommandCall, Located, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::json::Json;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(ingest);
}

pub const MAX_ITEMS: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Up to 1000 items, each an [`Item`]; each is parsed and decided on its own.
    #[schema(value_type = Vec<Item>)]
    pub items: Vec<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Item {
    /// A PLC counter's reading for the job running on its line.
    CounterReading {
        job_id: Uuid,
        #[schema(value_type = String)]
        counter: CounterId,
        #[schema(value_type = String, example = "good")]
        count_kind: CountKind,
        #[schema(value_type = String, example = "bits32")]
        width: CounterWidth,
        /// Per-source sequence; a reading at or below the last one is a repeat. Recorded with the events.
        sequence: u64,
        value: u64,
        source_timestamp: DateTime<Utc>,
        quality: Quality,
    },
    /// The line (or one machine of it) stopped or ran again. `stop_id` names the stop: the gateway uses
    /// the same id for its start and its end.
    MachineState {
        stop_id: Uuid,
        #[schema(value_type = String, example = "plant-1/packing/L3")]
        line: LineId,
        #[schema(value_type = Option<String>)]
        equipment: Option<EquipmentId>,
        state: MachineState,
        /// Per-source sequence, recorded with the events.
        sequence: u64,
        source_timestamp: DateTime<Utc>,
        quality: Quality,
    },
}

/// OPC UA style data quality. Only good data is booked; the rest is rejected and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Good,
    Uncertain,
    Bad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MachineState {
    Stopped,
    Running,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// One per item, in the order sent.
    pub items: Vec<ItemResult>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemResult {
    pub index: usize,
    pub outcome: Outcome,
    /// Why a rejected item was rejected (a stable code, as in error bodies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Events appended for the item.
    pub events: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    Duplicate,
    Rejected,
}

#[utoipa::path(tag = "ingest", request_body = Batch, responses(
    (status = 200, body = BatchResult, description = "Every item decided; see each item's outcome"),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody, description = "Only enrolled PLC gateways ingest"),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/api/v1/ingest/plc")]
async fn ingest(call: CommandCall, body: Json<Batch>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let Who::Device { id: device, kind: domain::device::DeviceKind::PlcGateway, .. } = &call.principal.who else {
            return Err(ApiError::forbidden("forbidden", "only enrolled PLC gateways send batches"));
        };
        if value.items.len() > MAX_ITEMS {
            return Err(ApiError::bad_request("too_many_items", format!("a batch holds at most {MAX_ITEMS} items")));
        }
        let mut items = Vec::with_capacity(value.items.len());
        for (index, raw) in value.items.into_iter().enumerate() {
            let result = match serde_json::from_value::<Item>(raw) {
                Ok(item) => decide(&call, device, item).await,
                Err(error) => Err(ApiError::bad_request("invalid_item", error.to_string())),
            };
            items.push(item_result(index, result)?);
        }
        let count = |outcome| items.iter().filter(|item| item.outcome == outcome).count();
        let result = BatchResult {
            accepted: count(Outcome::Accepted),
            duplicates: count(Outcome::Duplicate),
            rejected: count(Outcome::Rejected),
            items,
        };
        Ok(Reply::new(StatusCode::OK, &result))
    })
    .await
}

/// A rejected item is reported in the batch result; a failure of the service (5xx) fails the batch,
/// so that the gateway sends it again rather than believing it was booked.
fn item_result(index: usize, result: Result<(Outcome, usize), ApiError>) -> Result<ItemResult, ApiError> {
    match result {
        Ok((outcome, events)) => Ok(ItemResult { index, outcome, code: None, message: None, events }),
        Err(error) if error.status.is_server_error() => Err(error),
        Err(error) => Ok(ItemResult {
            index,
            outcome: Outcome::Rejected,
            code: Some(error.code),
            message: Some(error.message),
            events: 0,
        }),
    }
}

fn counted(outcome: &CommandOutcome) -> (Outcome, usize) {
    match &outcome.appended {
        Some(appended) => (Outcome::Accepted, appended.events.len()),
        None => (Outcome::Duplicate, 0),
    }
}

async fn decide(call: &CommandCall, device: &DeviceId, item: Item) -> Result<(Outcome, usize), ApiError> {
    let app = &call.app;
    let (Item::CounterReading { source_timestamp, .. } | Item::MachineState { source_timestamp, .. }) = &item;
    call.source_time(*source_timestamp)?;
    match item {
        Item::CounterReading { quality, .. } | Item::MachineState { quality, .. } if quality != Quality::Good => {
            Err(ApiError::unprocessable("bad_quality", "only readings of good quality are booked"))
        }
        Item::CounterReading { job_id, counter, count_kind, width, sequence, value, source_timestamp, .. } => {
            let id = job_id.to_string();
            let job = call.existing(&app.jobs, "job", &id).await?;
            let line = job.line().ok_or_else(|| ApiError::not_found("job", &id))?;
            let actor = call.authorize(READ_COUNTERS, Target::Line(line))?;
            let reading = CounterReading { counter, kind: count_kind, width, sequence, value, source_timestamp };
            let mut context = call.batch_item_context(actor);
            context.source_timestamp = Some(source_timestamp);
            context.source_sequence = Some(sequence);
            let outcome =
                commands::execute(&app.jobs, &id, JobCommand::RecordCounterReading(reading), &context).await?;
            Ok(counted(&outcome))
        }
        Item::MachineState { stop_id, line, equipment, state, sequence, source_timestamp, .. } => {
            let actor = call.authorize(RECORD_STOPS, Target::Line(&line))?;
            let mut context = call.batch_item_context(actor);
            context.source_timestamp = Some(source_timestamp);
            context.source_sequence = Some(sequence);
            let id = stop_id.to_string();
            match state {
                MachineState::Stopped => {
                    let start = StopStart {
                        line,
                        equipment,
                        source: StopSource::Plc { device: device.clone() },
                        started_at: source_timestamp,
                    };
                    match lookups::start_downtime(&app.lines, &app.downtime, &id, start, &context).await {
                        Err(LookupError::Command(CommandError::Rejected(DowntimeError::AlreadyStarted)))
                            if started_at(call, &id).await? == Some(source_timestamp) =>
                        {
                            Ok((Outcome::Duplicate, 0))
                        }
                        other => Ok(counted(&other?)),
                    }
                }
                MachineState::Running => {
                    let stop = call.existing(&app.downtime, "downtime", &id).await?;
                    if stop.line() != Some(&line) {
                        return Err(ApiError::unprocessable("wrong_line", "the stop belongs to another line"));
                    }
                    let end = DowntimeCommand::End { ended_at: source_timestamp };
                    match commands::execute(&app.downtime, &id, end, &context).await {
                        Err(CommandError::Rejected(DowntimeError::AlreadyEnded))
                            if stop.interval.as_ref().and_then(|i| i.ended).map(|(at, _)| at)
                                == Some(source_timestamp) =>
                        {
                            Ok((Outcome::Duplicate, 0))
                        }
                        other => Ok(counted(&other?)),
                    }
                }
            }
        }
    }
}

async fn started_at(call: &CommandCall, id: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    Ok(call.app.downtime.state(id).await?.interval.map(|interval| interval.started_at))
}
