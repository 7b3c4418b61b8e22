//! Live status for dashboards, as server-sent events or, on the same paths with `Upgrade: websocket`, as
//! WebSocket text frames carrying the same messages: one subscription, two encodings. A client
//! subscribes to a line, an area or a site and is sent the status boards of its lines whenever a read
//! model behind them commits a change. Each status message holds whole statuses, with an id naming the
//! read models' positions it reflects at least, so a client that reconnects with `Last-Event-ID` (or
//! `?last_event_id=`) is sent the current statuses at once if anything changed meanwhile: it misses
//! nothing. A line's stream sends `line_status` messages (one status); an area's or a site's sends
//! `lines_status` messages (`{"lines": [...]}`, every line of it, in one message so that a dropped
//! connection never leaves some lines behind the id the client keeps). When nothing changed for 5 s, a
//! `health` message says how far the read models are behind the log, so a board can tell "nothing
//! happened" from "nothing is being updated" and a client can tell a silent connection from a live one.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use domain::line_id::LineId;
use domain::values::{AreaId, SiteId};
use futures_util::stream;
use projections::live::changes::Changed;
use projections::live::line_status::{Staleness, positions};
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::time::Instant;
use utoipa::{IntoParams, IntoResponses};

use crate::auth::access::READ_BOARDS;
use crate::auth::{Target, authorize};
use crate::error::{ApiError, ErrorBody};
use crate::query_call::{LinePath, QueryCall, QueryErrors, RecordNotFound};
use crate::views::BoardView;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(live_line).service(live_area).service(live_site);
}

/// The event id of a message: per read model, the lowest position among the freshness lists given, so
/// that everything sent reflects at least the positions the id names.
fn event_id<'a>(freshness: impl IntoIterator<Item = &'a [(String, i64)]>) -> String {
    let mut lowest: BTreeMap<&str, i64> = BTreeMap::new();
    for (name, position) in freshness.into_iter().flatten() {
        lowest.entry(name).and_modify(|low| *low = (*low).min(*position)).or_insert(*position);
    }
    lowest.values().map(ToString::to_string).collect::<Vec<_>>().join("-")
}

/// How often a stream that has nothing new says how far behind the read models are: a client that
/// hears nothing for three times this long knows its connection is gone, even where no error reaches it.
const HEALTH_EVERY: Duration = Duration::from_secs(5);

/// What a stream follows: one line, or every line of an area or a site (including lines registered
/// after it opened, as long as the subscriber may read them).
enum Scope {
    Line(LineId),
    Lines { site: SiteId, area: Option<AreaId> },
}

impl Scope {
    fn is_named_in(&self, changed: &Changed) -> bool {
        match self {
            Scope::Line(line) => changed.names(&line.to_string()),
            Scope::Lines { site, area: None } => changed.names_any_under(&format!("{site}/")),
            Scope::Lines { site, area: Some(area) } => changed.names_any_under(&format!("{site}/{area}/")),
        }
    }
}

/// One message of a stream, whatever carries it (server-sent events or a WebSocket).
enum Message {
    /// Statuses: `line_status` (one board) or `lines_status` (`{"lines": [...]}`), with the id a client
    /// resumes from.
    Statuses { id: String, event: &'static str, data: String },
    /// Nothing changed: how many seconds the read models behind the boards are behind the log.
    Health { behind_seconds: f64 },
    /// The last message: why the stream ends, in the error model.
    Error(serde_json::Value),
}

impl Message {
    /// Its id (status messages only), event name and JSON data: what both encodings carry.
    fn parts(&self) -> (Option<&str>, &'static str, Cow<'_, str>) {
        match self {
            Message::Statuses { id, event, data } => (Some(id), event, Cow::Borrowed(data)),
            Message::Health { behind_seconds } => {
                (None, "health", Cow::Owned(serde_json::json!({ "behind_seconds": behind_seconds }).to_string()))
            }
            Message::Error(body) => (None, "error", Cow::Owned(body.to_string())),
        }
    }

    fn server_sent_event(&self) -> Bytes {
        let (id, event, data) = self.parts();
        let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
        Bytes::from(format!("{id}event: {event}\ndata: {data}\n\n"))
    }

    /// A WebSocket text frame: `{"event": ..., "data": ...}`, with `id` where a server-sent event has one.
    fn websocket_text(&self) -> String {
        match self.parts() {
            (Some(id), event, data) => format!(r#"{{"id":"{id}","event":"{event}","data":{data}}}"#),
            (None, event, data) => format!(r#"{{"event":"{event}","data":{data}}}"#),
        }
    }
}

struct Subscription {
    call: QueryCall,
    scope: Scope,
    changes: broadcast::Receiver<Changed>,
    last_id: Option<String>,
    first: bool,
    ended: bool,
}

impl Subscription {
    /// The current statuses; an error ends the stream.
    async fn current(&self) -> Result<Message, ApiError> {
        let now = chrono::Utc::now();
        // The list of lines is only as fresh as the read models were before it was read: a line
        // registered meanwhile must still count as a change after this message.
        let (event, listed_at, lines) = match &self.scope {
            Scope::Line(line) => ("line_status", Vec::new(), vec![line.clone()]),
            Scope::Lines { site, area } => {
                let listed_at = positions(&self.call.app.pool).await?;
                ("lines_status", listed_at, self.call.readable_lines(READ_BOARDS, site, area.as_ref()).await?)
            }
        };
        let mut statuses = Vec::with_capacity(lines.len());
        for line in &lines {
            let app = &self.call.app;
            statuses.push(app.boards.status(&app.pool, &line.to_string(), now, Staleness::Never).await?);
        }
        let id = event_id(
            std::iter::once(listed_at.as_slice()).chain(statuses.iter().map(|status| status.freshness.as_slice())),
        );
        let boards: Vec<BoardView> = statuses.into_iter().map(BoardView::from).collect();
        let data = match (&self.scope, boards.as_slice()) {
            (Scope::Line(_), [board]) => serde_json::to_string(board),
            _ => serde_json::to_string(&serde_json::json!({ "lines": boards })),
        }
        .map_err(|error| crate::error::internal(&error))?;
        Ok(Message::Statuses { id, event, data })
    }

    /// Waits for a commit that may have changed a line of the scope (`Some(true)`) or for the health
    /// time (`Some(false)`); commits that came meanwhile count as one change.
    async fn changed(&mut self) -> Option<bool> {
        // One timer for the whole wait: notifications of other lines wake this often, and must not cost a
        // timer each.
        let health = tokio::time::sleep_until(Instant::now() + HEALTH_EVERY);
        tokio::pin!(health);
        loop {
            tokio::select! {
                () = &mut health => return Some(false),
                received = self.changes.recv() => match received {
                    Err(broadcast::error::RecvError::Closed) => return None,
                    Ok(changed) if !self.scope.is_named_in(&changed) => {}
                    // A lagging subscriber missed notifications, not data: the next statuses cover them.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                },
            }
        }
        while matches!(self.changes.try_recv(), Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_))) {}
        Some(true)
    }

    /// Waits until the statuses have a new id, or the health time passes. A stream that can no longer be
    /// served (the database is gone, or an area gained a line the subscriber may not read) ends with an
    /// `error` message, and the client's next connection gets the same answer as a request.
    async fn next(&mut self) -> Option<Message> {
        if self.ended {
            return None;
        }
        match self.next_or_error().await? {
            Ok(message) => Some(message),
            Err(error) => {
                tracing::info!(%error, "ending a live stream");
                self.ended = true;
                Some(Message::Error(serde_json::json!(error.body())))
            }
        }
    }

    async fn next_or_error(&mut self) -> Option<Result<Message, ApiError>> {
        loop {
            if !self.first && !self.changed().await? {
                let app = &self.call.app;
                return Some(
                    app.lag
                        .behind_seconds(&app.pool)
                        .await
                        .map_err(ApiError::from)
                        .map(|behind_seconds| Message::Health { behind_seconds }),
                );
            }
            self.first = false;
            match self.current().await {
                Ok(Message::Statuses { id, .. }) if self.last_id.as_deref() == Some(id.as_str()) => {}
                Ok(Message::Statuses { id, event, data }) => {
                    self.last_id = Some(id.clone());
                    return Some(Ok(Message::Statuses { id, event, data }));
                }
                other => return Some(other),
            }
        }
    }
}

/// The id a reconnecting client sends: `Last-Event-ID` (an `EventSource` sends it by itself), or
/// `last_event_id` in the query string (where a WebSocket client cannot set headers).
fn last_event_id(request: &HttpRequest) -> Option<String> {
    let header = request.headers().get("last-event-id").and_then(|value| value.to_str().ok());
    let query =
        || web::Query::<ResumeQuery>::from_query(request.query_string()).ok().and_then(|query| query.0.last_event_id);
    header.map(str::to_owned).or_else(query)
}

#[derive(Debug, Deserialize)]
struct ResumeQuery {
    last_event_id: Option<String>,
}

/// A request with `Upgrade: websocket` gets the stream as WebSocket text frames, any other one as
/// server-sent events; both are the same subscription.
async fn open(
    call: QueryCall,
    scope: Scope,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let changes = match &scope {
        Scope::Line(line) => call.app.changes.subscribe_to_line(&line.to_string()),
        Scope::Lines { .. } => call.app.changes.subscribe(),
    };
    let last_id = last_event_id(request);
    let subscription = Subscription { call, scope, changes, last_id, first: true, ended: false };
    let upgrade = request.headers().get(header::UPGRADE).and_then(|value| value.to_str().ok());
    if upgrade.is_some_and(|value| value.eq_ignore_ascii_case("websocket")) {
        return websocket(subscription, request, payload);
    }
    let events = stream::unfold(subscription, |mut subscription| async move {
        let message = subscription.next().await?;
        Some((Ok::<_, actix_web::Error>(message.server_sent_event()), subscription))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(events))
}

/// Sends the subscription's messages until either side ends; pings are answered. What the client sends
/// besides is ignored: the stream is one-way, like the server-sent events it mirrors.
fn websocket(
    mut subscription: Subscription,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (response, mut session, mut incoming) = actix_ws::handle(request, payload)
        .map_err(|error| ApiError::bad_request("invalid_websocket_handshake", error.to_string()))?;
    let (closed, mut client_closed) = tokio::sync::oneshot::channel::<()>();
    let mut pongs = session.clone();
    actix_web::rt::spawn(async move {
        while let Some(Ok(message)) = incoming.recv().await {
            match message {
                actix_ws::Message::Ping(bytes) if pongs.pong(&bytes).await.is_ok() => {}
                actix_ws::Message::Close(_) | actix_ws::Message::Ping(_) => break,
                _ => {}
            }
        }
        let _ = closed.send(());
    });
    actix_web::rt::spawn(async move {
        loop {
            // Dropping `next` halfway is safe only because the stream ends with it.
            let message = tokio::select! {
                message = subscription.next() => message,
                _ = &mut client_closed => None,
            };
            let Some(message) = message else { break };
            if session.text(message.websocket_text()).await.is_err() {
                return;
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}

#[utoipa::path(tag = "lines", params(LinePath, Resume),
    responses(
    (status = 200, content_type = "text/event-stream", body = String,
        description = "`line_status` events, each the line's whole status board; `health` events"),
    (status = 101, description = "With `Upgrade: websocket`: the same messages as JSON text frames \
        (`{\"id\", \"event\", \"data\"}`)"), QueryErrors, RecordNotFound))]
#[get("/api/v1/live/lines/{site}/{area}/{line}")]
async fn live_line(
    call: QueryCall,
    path: web::Path<LinePath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let line = path.parse()?;
    authorize(&call.principal, READ_BOARDS, Target::Line(&line))?;
    call.registered(&line).await?;
    open(call, Scope::Line(line), &request, payload).await
}

/// The header a reconnecting client sends (read by [`last_event_id`]; documented here).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct Resume {
    /// The id of the last message received, when reconnecting (or `?last_event_id=` for a WebSocket).
    #[param(rename = "Last-Event-ID")]
    #[allow(dead_code)] // only read by the OpenAPI generator
    last_event_id: Option<String>,
}

/// What a stream of every line of an area or a site answers.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)] // only read by the OpenAPI generator
pub enum LinesStream {
    /// `lines_status` events, each `{"lines": [...]}` with every line's whole status board; `health` events.
    #[response(status = 200, content_type = "text/event-stream")]
    Events(String),
    /// With `Upgrade: websocket`: the same messages as JSON text frames (`{"id", "event", "data"}`).
    #[response(status = 101)]
    Upgraded,
    #[response(status = 400)]
    BadRequest(ErrorBody),
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    #[response(status = 403)]
    Forbidden(ErrorBody),
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AreaPath {
    #[param(value_type = String)]
    pub site: SiteId,
    #[param(value_type = String)]
    pub area: AreaId,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SitePath {
    #[param(value_type = String)]
    site: SiteId,
}

/// Every line of an area: the subscriber must be able to read each of them.
#[utoipa::path(tag = "lines", params(AreaPath, Resume), responses(LinesStream))]
#[get("/api/v1/live/areas/{site}/{area}")]
async fn live_area(
    call: QueryCall,
    path: web::Path<AreaPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let AreaPath { site, area } = path.into_inner();
    call.readable_lines(READ_BOARDS, &site, Some(&area)).await?;
    open(call, Scope::Lines { site, area: Some(area) }, &request, payload).await
}

/// Every line of a site: the subscriber needs a grant for the site.
#[utoipa::path(tag = "lines", params(SitePath, Resume), responses(LinesStream))]
#[get("/api/v1/live/sites/{site}")]
async fn live_site(
    call: QueryCall,
    path: web::Path<SitePath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let SitePath { site } = path.into_inner();
    call.readable_lines(READ_BOARDS, &site, None).await?;
    open(call, Scope::Lines { site, area: None }, &request, payload).await
}
