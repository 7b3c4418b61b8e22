//! Live line status for dashboards: server-sent events. A client subscribes to a line and gets the line's
//! status board whenever a read model behind it commits a change. Every message is the whole status, with
//! an id naming the read models' positions, so a client that reconnects with `Last-Event-ID` is sent the
//! current status at once if anything changed meanwhile: it misses nothing.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures_util::stream;
use projections::line_status::{LineStatus, line_status};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{OnceCell, broadcast};

use crate::auth::access::READ_RECORDS;
use crate::auth::{Principal, Target, authorize};
use crate::error::{ApiError, ErrorBody};
use crate::routes::lines::LinePath;
use crate::state::AppState;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(live);
}

/// One listener per process for the read models' commit notifications, shared by every subscriber.
#[derive(Debug, Default)]
pub struct ReadModelChanges(OnceCell<broadcast::Sender<String>>);

impl ReadModelChanges {
    async fn subscribe(&self, pool: &PgPool) -> broadcast::Receiver<String> {
        let sender = self
            .0
            .get_or_init(|| async {
                let (sender, _) = broadcast::channel(1024);
                tokio::spawn(forward(pool.clone(), sender.clone()));
                sender
            })
            .await;
        sender.subscribe()
    }
}

/// Forwards notifications to subscribers, reconnecting when the database connection drops.
async fn forward(pool: PgPool, sender: broadcast::Sender<String>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if listener.listen(projections::worker::READ_MODELS_CHANNEL).await.is_ok() {
                    while let Ok(notification) = listener.recv().await {
                        // No subscriber left is not an error: the next one subscribes to this sender.
                        let _ = sender.send(notification.payload().to_owned());
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "read-model notifications unavailable; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The event id of a status: the positions of the read models behind it.
fn event_id(status: &LineStatus) -> String {
    status.freshness.iter().map(|(_, position)| position.to_string()).collect::<Vec<_>>().join("-")
}

fn message(status: &LineStatus) -> Bytes {
    let data = serde_json::to_string(status).unwrap_or_default();
    Bytes::from(format!("id: {}\nevent: line_status\ndata: {data}\n\n", event_id(status)))
}

/// Sent when nothing changed for a while, so proxies keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Subscription {
    pool: PgPool,
    line: String,
    changes: broadcast::Receiver<String>,
    last_id: Option<String>,
    first: bool,
}

/// Waits until the line's status has a new id, or the keep-alive time passes.
async fn next_message(mut subscription: Subscription) -> Option<(Result<Bytes, actix_web::Error>, Subscription)> {
    loop {
        if !subscription.first {
            match tokio::time::timeout(KEEP_ALIVE, subscription.changes.recv()).await {
                Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), subscription)),
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                // A lagging subscriber missed notifications, not data: the next status covers them.
                Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
            }
        }
        subscription.first = false;
        let status = match line_status(&subscription.pool, &subscription.line, chrono::Utc::now()).await {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(%error, "line status unavailable for a subscriber; closing the stream");
                return None;
            }
        };
        let id = event_id(&status);
        if subscription.last_id.as_deref() != Some(id.as_str()) {
            subscription.last_id = Some(id);
            return Some((Ok(message(&status)), subscription));
        }
    }
}

#[utoipa::path(tag = "lines", params(LinePath, ("Last-Event-ID" = Option<String>, Header,
        description = "The id of the last status received, when reconnecting")),
    responses(
    (status = 200, content_type = "text/event-stream", body = String,
        description = "`line_status` events, each the line's whole status board"),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[get("/api/v1/live/lines/{site}/{area}/{line}")]
async fn live(
    app: web::Data<AppState>,
    principal: Principal,
    path: web::Path<LinePath>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let line = path.parse()?;
    authorize(&principal, READ_RECORDS, Target::Line(&line))?;
    crate::routes::lines::registered(&app, &line).await?;
    let last_id = request.headers().get("last-event-id").and_then(|value| value.to_str().ok()).map(str::to_owned);
    let changes = app.read_model_changes.subscribe(&app.pool).await;
    let subscription = Subscription { pool: app.pool.clone(), line: line.to_string(), changes, last_id, first: true };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(stream::unfold(subscription, next_message)))
}
