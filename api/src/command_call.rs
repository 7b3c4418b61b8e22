//! What every command endpoint does around the domain: authenticate, read the request's headers,
//! honour `Idempotency-Key`, find the record, authorise, execute, and answer in one shape.

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use commands::{CommandContext, CommandOutcome, IdempotencyRecord, PgEventStore};
use domain::actor::{Actor, Role};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::{IntoResponses, ToSchema};
use uuid::Uuid;

use crate::auth::{Principal, Target, authorize};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{self, KeyUse, Recorded};
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const EXPECTED_VERSION: HeaderName = HeaderName::from_static("expected-version");
pub const SOURCE_TIMESTAMP: HeaderName = HeaderName::from_static("source-timestamp");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The error code of a command that found its `Idempotency-Key` used by another request first.
const KEY_USED: &str = "idempotency_key_used";

/// An authenticated command request and the headers that qualify it.
#[derive(Debug)]
pub struct CommandCall {
    pub app: web::Data<AppState>,
    pub principal: Principal,
    pub request_id: Uuid,
    headers: CommandHeaders,
    /// Method and path: part of what an idempotency key is bound to.
    target: String,
    route: String,
    /// Set by [`Self::respond`] when the request carries an `Idempotency-Key`: what the command's
    /// append records under it.
    idempotency: OnceCell<IdempotencyRecord>,
}

/// The answer to an accepted command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandAccepted {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The record's version after the command; send it as `Expected-Version` with the next one.
    pub version: u64,
    /// The events appended; empty when the command changed nothing (e.g. a repeated PLC reading).
    pub events: Vec<AcceptedEvent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedEvent {
    pub event_id: Uuid,
    pub sequence: u64,
    pub event_type: String,
    /// Position in the global log.
    pub position: i64,
}

/// The responses every command endpoint may give.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)] // only read by the OpenAPI generator
pub enum CommandResponses {
    #[response(status = 200, description = "Accepted; the events appended")]
    Accepted(#[to_schema] CommandAccepted),
    #[response(status = 400, description = "Malformed or invalid request")]
    BadRequest(#[to_schema] ErrorBody),
    #[response(status = 401, description = "Not signed in, or the session has ended")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The role or its scope does not allow this")]
    Forbidden(ErrorBody),
    #[response(status = 404, description = "No such record")]
    NotFound(ErrorBody),
    #[response(status = 409, description = "Concurrency conflict; `details.current_version` is the record's version")]
    Conflict(ErrorBody),
    #[response(status = 413, description = "Body too large")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "Body is not JSON")]
    UnsupportedMediaType(ErrorBody),
    #[response(status = 422, description = "A business rule refused the command; `code` names the rule")]
    Unprocessable(ErrorBody),
    #[response(status = 503, description = "The database is unavailable; retry")]
    Unavailable(ErrorBody),
}

/// A reply before it becomes a response; kept as JSON for idempotent replays.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn new(status: StatusCode, body: &impl Serialize) -> Self {
        Self { status, body: serde_json::to_value(body).unwrap_or(Value::Null) }
    }
}

fn header_text<'a>(request: &'a HttpRequest, name: &HeaderName) -> Result<Option<&'a str>, ApiError> {
    request
        .headers()
        .get(name)
        .map(|value| value.to_str().map_err(|_| ApiError::bad_request("invalid_header", format!("{name} is not text"))))
        .transpose()
}

/// The headers that qualify a command.
#[derive(Debug)]
struct CommandHeaders {
    idempotency_key: Option<String>,
    expected_version: Option<u64>,
    source_timestamp: Option<DateTime<Utc>>,
}

fn parse_headers(request: &HttpRequest) -> Result<CommandHeaders, ApiError> {
    let key = header_text(request, &IDEMPOTENCY_KEY)?.map(str::to_owned);
    if let Some(key) = &key
        && (key.is_empty() || key.len() > idempotency::MAX_KEY_LENGTH || !key.chars().all(|c| c.is_ascii_graphic()))
    {
        return Err(ApiError::bad_request(
            "invalid_header",
            format!("Idempotency-Key must be 1 to {} visible ASCII characters", idempotency::MAX_KEY_LENGTH),
        ));
    }
    let expected = header_text(request, &EXPECTED_VERSION)?
        .map(|raw| raw.trim().parse::<u64>())
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid_header", "Expected-Version must be a whole number"))?;
    let source = header_text(request, &SOURCE_TIMESTAMP)?
        .map(DateTime::parse_from_rfc3339)
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid_header", "Source-Timestamp must be an RFC 3339 time"))?
        .map(|time| time.with_timezone(&Utc));
    Ok(CommandHeaders { idempotency_key: key, expected_version: expected, source_timestamp: source })
}

impl FromRequest for CommandCall {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let principal = Principal::from_request(request, payload);
        let app = request.app_data::<web::Data<AppState>>().cloned();
        let headers = parse_headers(request);
        let request_id = crate::telemetry::request_id(request);
        let target = format!("{} {}", request.method(), request.path());
        let route = crate::telemetry::route(request);
        Box::pin(async move {
            let principal = principal.await?;
            let headers = headers?;
            let app =
                app.ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "no state"))?;
            if let Some(at) = headers.source_timestamp {
                source_time(&app, at)?;
            }
            Ok(Self { app, principal, request_id, headers, target, route, idempotency: OnceCell::new() })
        })
    }
}

/// Refuses a source timestamp further ahead of this server's clock than the configured tolerance.
fn source_time(app: &AppState, at: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let tolerance = chrono::Duration::from_std(app.settings.source_time_tolerance).unwrap_or(chrono::Duration::MAX);
    let latest = Utc::now().checked_add_signed(tolerance).unwrap_or(DateTime::<Utc>::MAX_UTC);
    if at > latest {
        return Err(ApiError::unprocessable(
            "source_time_in_future",
            format!(
                "the source time {at} is more than {} s ahead of the server's clock; check the device's clock",
                app.settings.source_time_tolerance.as_secs()
            ),
        ));
    }
    Ok(at)
}

impl CommandCall {
    /// A time taken at the source (a PLC, a tablet), refused when the source's clock is ahead of ours
    /// by more than the tolerance.
    pub fn source_time(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
        source_time(&self.app, at)
    }

    pub fn authorize(&self, allowed: &[Role], target: Target<'_>) -> Result<Actor, ApiError> {
        authorize(&self.principal, allowed, target)
    }

    /// The attribution of the request's command by `actor`; its append records the request's
    /// `Idempotency-Key`, if any.
    pub fn context(&self, actor: Actor) -> CommandContext {
        CommandContext { idempotency: self.idempotency.get().cloned(), ..self.batch_item_context(actor) }
    }

    /// The attribution of one of several commands a request runs (the items of a PLC batch): each
    /// names the request's key in its metadata, but none records it, since the items' source sequences
    /// make them safe to send again and the batch's answer is recorded when it is complete.
    pub fn batch_item_context(&self, actor: Actor) -> CommandContext {
        CommandContext {
            actor,
            command_id: Uuid::now_v7(),
            correlation_id: self.request_id,
            device_id: self.principal.device.clone(),
            source_timestamp: self.headers.source_timestamp,
            source_sequence: None,
            idempotency_key: self.headers.idempotency_key.clone(),
            idempotency: None,
            expected_version: self.headers.expected_version,
        }
    }

    /// The record `id`, or 404 when it has no events.
    pub async fn existing<A: domain::Aggregate>(
        &self,
        store: &PgEventStore<A>,
        what: &str,
        id: &str,
    ) -> Result<A, ApiError> {
        match store.state_and_version(id).await? {
            (_, 0) => Err(ApiError::not_found(what, id)),
            (state, _) => Ok(state),
        }
    }

    /// Executes `command` as `actor` and describes what was appended.
    pub async fn execute<A: domain::Aggregate>(
        &self,
        store: &PgEventStore<A>,
        id: &str,
        command: A::Command,
        actor: Actor,
    ) -> Result<Reply, ApiError>
    where
        A::Command: Clone,
    {
        let outcome = commands::execute(store, id, command, &self.context(actor)).await?;
        Ok(accepted::<A>(id, outcome))
    }

    /// Runs `work` once per idempotency key, answering a repeat with the first response.
    pub async fn respond(
        &self,
        body_digest: [u8; 32],
        work: impl Future<Output = Result<Reply, ApiError>>,
    ) -> Result<HttpResponse, ApiError> {
        self.respond_accepting(StatusCode::OK, body_digest, work).await
    }

    /// As [`Self::respond`], for a command that creates its record: accepted, it answers 201.
    pub async fn respond_created(
        &self,
        body_digest: [u8; 32],
        work: impl Future<Output = Result<Reply, ApiError>>,
    ) -> Result<HttpResponse, ApiError> {
        self.respond_accepting(StatusCode::CREATED, body_digest, work).await
    }

    async fn respond_accepting(
        &self,
        accepted: StatusCode,
        body_digest: [u8; 32],
        work: impl Future<Output = Result<Reply, ApiError>>,
    ) -> Result<HttpResponse, ApiError> {
        let work = async {
            let mut reply = work.await?;
            if reply.status == StatusCode::OK {
                reply.status = accepted;
            }
            Ok(reply)
        };
        let Some(key) = &self.headers.idempotency_key else {
            let outcome = work.await;
            self.count(&outcome);
            return outcome.map(|reply| response(reply, false));
        };
        let principal = self.principal.key();
        let mut hasher = Sha256::new();
        hasher.update(self.target.as_bytes());
        hasher.update(body_digest);
        let request_hash = hasher.finalize().to_vec();
        let key_use = KeyUse { principal: &principal, key, request_hash: &request_hash };
        if let Some(recorded) = idempotency::lookup(&self.app.pool, key_use).await? {
            return self.replay(recorded).await;
        }
        let attempt = Uuid::now_v7();
        let record = IdempotencyRecord {
            principal: principal.clone(),
            key: key.clone(),
            request_hash: request_hash.clone(),
            attempt,
            accepted_status: i16::try_from(accepted.as_u16()).unwrap_or(i16::MAX),
        };
        // Set once per request: `respond` runs once per request.
        let _ = self.idempotency.set(record);
        let outcome = work.await;
        let recorded_by_another = match &outcome {
            Err(error) if error.code == KEY_USED => true,
            // A 5xx is no answer: a retry decides again, or finds the outcome if the append happened.
            Err(error) if error.status.is_server_error() => false,
            Ok(reply) => {
                !idempotency::record_answer(&self.app.pool, key_use, attempt, reply.status, &reply.body).await?
            }
            Err(error) => {
                let body = serde_json::to_value(error.body()).unwrap_or(Value::Null);
                !idempotency::record_answer(&self.app.pool, key_use, attempt, error.status, &body).await?
            }
        };
        if recorded_by_another {
            // Another request under this key applied or answered first; this one wrote nothing.
            let recorded = idempotency::lookup(&self.app.pool, key_use).await?;
            let recorded = recorded.ok_or_else(|| crate::error::internal(&sqlx::Error::RowNotFound))?;
            return self.replay(recorded).await;
        }
        self.count(&outcome);
        outcome.map(|reply| response(reply, false))
    }

    /// The first answer under a key again, rebuilt from the log when only the outcome was recorded.
    async fn replay(&self, recorded: Recorded) -> Result<HttpResponse, ApiError> {
        let reply = match recorded {
            Recorded::Answer { status, body } => Reply { status, body },
            Recorded::Applied { status, aggregate_type, aggregate_id, first_sequence, last_sequence } => {
                let events = commands::event_log::placed_events(
                    &self.app.pool,
                    &aggregate_type,
                    &aggregate_id,
                    first_sequence,
                    last_sequence,
                )
                .await?;
                let accepted = CommandAccepted {
                    aggregate_type,
                    aggregate_id,
                    version: last_sequence,
                    events: events
                        .into_iter()
                        .map(|event| AcceptedEvent {
                            event_id: event.event_id,
                            sequence: u64::try_from(event.sequence).unwrap_or_default(),
                            event_type: event.event_type,
                            position: event.position,
                        })
                        .collect(),
                };
                Reply::new(status, &accepted)
            }
        };
        metrics::counter!("commands_total", "route" => self.route.clone(), "outcome" => "replayed").increment(1);
        Ok(response(reply, true))
    }

    fn count(&self, outcome: &Result<Reply, ApiError>) {
        let label = match outcome {
            Ok(_) => "accepted",
            Err(error) if error.status.is_client_error() => "refused",
            Err(_) => "failed",
        };
        metrics::counter!("commands_total", "route" => self.route.clone(), "outcome" => label).increment(1);
    }
}

pub fn accepted<A: domain::Aggregate>(id: &str, outcome: CommandOutcome) -> Reply {
    Reply::new(StatusCode::OK, &command_accepted::<A>(id, outcome))
}

pub fn command_accepted<A: domain::Aggregate>(id: &str, outcome: CommandOutcome) -> CommandAccepted {
    let events = outcome.appended.map(|appended| appended.events).unwrap_or_default();
    CommandAccepted {
        aggregate_type: A::TYPE.to_owned(),
        aggregate_id: id.to_owned(),
        version: outcome.version,
        events: events
            .into_iter()
            .map(|event| AcceptedEvent {
                event_id: event.event_id,
                sequence: event.sequence,
                event_type: event.event_type.to_owned(),
                position: event.position,
            })
            .collect(),
    }
}

fn response(reply: Reply, replayed: bool) -> HttpResponse {
    let mut builder = HttpResponse::build(reply.status);
    if let Some(version) = reply.body.get("version").and_then(Value::as_u64) {
        builder.insert_header((header::ETAG, format!("\"{version}\"")));
    }
    if replayed {
        builder.insert_header((REPLAYED, HeaderValue::from_static("true")));
    }
    builder.json(reply.body)
}

/// Records that belong to one line; the line decides whose scope covers them.
pub trait Located {
    fn line(&self) -> Option<&domain::line_id::LineId>;
}

impl Located for domain::job::Job {
    fn line(&self) -> Option<&domain::line_id::LineId> {
        self.line.as_ref()
    }
}
impl Located for domain::downtime::Downtime {
    fn line(&self) -> Option<&domain::line_id::LineId> {
        self.line.as_ref()
    }
}
impl Located for domain::andon::AndonCall {
    fn line(&self) -> Option<&domain::line_id::LineId> {
        self.line.as_ref()
    }
}
impl Located for domain::shift_report::ShiftReport {
    fn line(&self) -> Option<&domain::line_id::LineId> {
        self.line.as_ref()
    }
}
impl Located for domain::checklist::ChecklistTemplate {
    fn line(&self) -> Option<&domain::line_id::LineId> {
        self.line.as_ref()
    }
}

impl CommandCall {
    /// A command on an existing record of a line: 404 when it does not exist, 403 unless one of
    /// `allowed` covers its line; `make` builds the command from the record and the actor.
    pub async fn on_record<A: domain::Aggregate + Located>(
        &self,
        store: &PgEventStore<A>,
        what: &str,
        id: &str,
        allowed: &[Role],
        make: impl FnOnce(&A, &Actor) -> Result<A::Command, ApiError>,
    ) -> Result<Reply, ApiError>
    where
        A::Command: Clone,
    {
        let record = self.existing(store, what, id).await?;
        let line = record.line().ok_or_else(|| ApiError::not_found(what, id))?;
        let actor = self.authorize(allowed, Target::Line(line))?;
        let command = make(&record, &actor)?;
        self.execute(store, id, command, actor).await
    }
}

impl CommandCall {
    /// Refuses a record on a line that was never registered (422 `unknown_line`).
    pub async fn registered_line(&self, line: &domain::line_id::LineId) -> Result<(), ApiError> {
        if self.app.lines.state(&line.to_string()).await?.is_registered() {
            Ok(())
        } else {
            Err(ApiError::unprocessable("unknown_line", format!("line {line} is not registered")))
        }
    }
}
