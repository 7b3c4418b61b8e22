//! Live status for dashboards: server-sent events. A client subscribes to a line, an area or a site and
//! is sent the status boards of its lines whenever a read model behind them commits a change. Every
//! message holds whole statuses, with an id naming the read models' positions it reflects at least, so
//! a client that reconnects with `Last-Event-ID` is sent the current statuses at once if anything changed
//! meanwhile: it misses nothing. A line's stream sends `line_status` events (one status); an area's or a
//! site's sends `lines_status` events (`{"lines": [...]}`, every line of it, in one message so that a
//! dropped connection never leaves some lines behind the id the client keeps).

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

/// Sent when nothing changed for a while, so proxies keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

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

struct Subscription {
    call: QueryCall,
    scope: Scope,
    changes: broadcast::Receiver<Changed>,
    last_id: Option<String>,
    first: bool,
    ended: bool,
}

impl Subscription {
    /// The current message and its id; an error ends the stream.
    async fn current(&self) -> Result<(String, Bytes), ApiError> {
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
        Ok((id.clone(), Bytes::from(format!("id: {id}\nevent: {event}\ndata: {data}\n\n"))))
    }

    /// Waits for a commit that may have changed a line of the scope (`Some(true)`) or for the keep-alive
    /// time (`Some(false)`); commits that came meanwhile count as one change.
    async fn changed(&mut self) -> Option<bool> {
        let deadline = Instant::now() + KEEP_ALIVE;
        loop {
            match tokio::time::timeout_at(deadline, self.changes.recv()).await {
                Err(_) => return Some(false),
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Ok(Ok(changed)) if !self.scope.is_named_in(&changed) => continue,
                // A lagging subscriber missed notifications, not data: the next statuses cover them.
                Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => break,
            }
        }
        while matches!(self.changes.try_recv(), Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_))) {}
        Some(true)
    }
}

/// Waits until the statuses have a new id, or the keep-alive time passes. A stream that can no longer
/// be served (the database is gone, or an area gained a line the subscriber may not read) ends with an
/// `error` event in the error model, and the client's next connection gets the same answer as a request.
async fn next_message(mut subscription: Subscription) -> Option<(Result<Bytes, actix_web::Error>, Subscription)> {
    if subscription.ended {
        return None;
    }
    loop {
        if !subscription.first && !subscription.changed().await? {
            return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), subscription));
        }
        subscription.first = false;
        let (id, message) = match subscription.current().await {
            Ok(current) => current,
            Err(error) => {
                tracing::info!(%error, "ending a live stream");
                let data = serde_json::json!(error.body());
                subscription.ended = true;
                return Some((Ok(Bytes::from(format!("event: error\ndata: {data}\n\n"))), subscription));
            }
        };
        if subscription.last_id.as_deref() != Some(id.as_str()) {
            subscription.last_id = Some(id);
            return Some((Ok(message), subscription));
        }
    }
}

fn last_event_id(request: &HttpRequest) -> Option<String> {
    request.headers().get("last-event-id").and_then(|value| value.to_str().ok()).map(str::to_owned)
}

async fn open(call: QueryCall, scope: Scope, request: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let changes = call.app.changes.subscribe();
    let last_id = last_event_id(request);
    let subscription = Subscription { call, scope, changes, last_id, first: true, ended: false };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(stream::unfold(subscription, next_message)))
}

#[utoipa::path(tag = "lines", params(LinePath, Resume),
    responses(
    (status = 200, content_type = "text/event-stream", body = String,
        description = "`line_status` events, each the line's whole status board"), QueryErrors, RecordNotFound))]
#[get("/api/v1/live/lines/{site}/{area}/{line}")]
async fn live_line(call: QueryCall, path: web::Path<LinePath>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let line = path.parse()?;
    authorize(&call.principal, READ_BOARDS, Target::Line(&line))?;
    call.registered(&line).await?;
    open(call, Scope::Line(line), &request).await
}

/// The header a reconnecting client sends (read by [`last_event_id`]; documented here).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct Resume {
    /// The id of the last message received, when reconnecting.
    #[param(rename = "Last-Event-ID")]
    #[allow(dead_code)] // only read by the OpenAPI generator
    last_event_id: Option<String>,
}

/// What a stream of every line of an area or a site answers.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)] // only read by the OpenAPI generator
pub enum LinesStream {
    /// `lines_status` events, each `{"lines": [...]}` with every line's whole status board.
    #[response(status = 200, content_type = "text/event-stream")]
    Events(String),
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
    site: SiteId,
    #[param(value_type = String)]
    area: AreaId,
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
async fn live_area(call: QueryCall, path: web::Path<AreaPath>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let AreaPath { site, area } = path.into_inner();
    call.readable_lines(READ_BOARDS, &site, Some(&area)).await?;
    open(call, Scope::Lines { site, area: Some(area) }, &request).await
}

/// Every line of a site: the subscriber needs a grant for the site.
#[utoipa::path(tag = "lines", params(SitePath, Resume), responses(LinesStream))]
#[get("/api/v1/live/sites/{site}")]
async fn live_site(call: QueryCall, path: web::Path<SitePath>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let SitePath { site } = path.into_inner();
    call.readable_lines(READ_BOARDS, &site, None).await?;
    open(call, Scope::Lines { site, area: None }, &request).await
}
