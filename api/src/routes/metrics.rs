//! `/metrics` in the Prometheus text format: requests by route and status with latency histograms,
//! command outcomes, sign-ins and lockouts, the database pool (open, idle, most), each projection's
//! progress and lag, the open live streams and how the status boards were served, and each line's
//! state, shift figures, Andon calls and last count (`floor_metrics`). The alerts on them
//! are in `deploy/monitoring/alerts.yaml` (docs/monitoring.md).

use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

#[utoipa::path(tag = "operations", security(()), responses(
    (status = 200, content_type = "text/plain", body = String, description = "Prometheus text format")))]
#[get("/metrics")]
pub async fn render(app: web::Data<AppState>, surface: web::Data<crate::Surface>) -> HttpResponse {
    let pool = &app.pool;
    metrics::gauge!("db_pool_connections", "state" => "open").set(f64::from(pool.size()));
    metrics::gauge!("db_pool_connections", "state" => "idle").set(pool.num_idle() as f64);
    metrics::gauge!("db_pool_connections", "state" => "max").set(f64::from(pool.options().get_max_connections()));
    metrics::gauge!("live_streams_open").set(app.changes.subscribers() as f64);
    let boards = app.boards.reads();
    metrics::counter!("board_reads_total", "served" => "read").absolute(boards.read);
    metrics::counter!("board_reads_total", "served" => "shared").absolute(boards.shared);
    match crate::projection_status::statuses(pool).await {
        Ok(statuses) => {
            for status in statuses {
                let name = status.name;
                metrics::gauge!("projection_lag_events", "projection" => name.clone()).set(status.lag_events as f64);
                metrics::gauge!("projection_lag_seconds", "projection" => name.clone()).set(status.lag_seconds);
                metrics::gauge!("projection_events_applied", "projection" => name.clone())
                    .set(status.events_applied as f64);
                metrics::gauge!("projection_events_per_second", "projection" => name.clone())
                    .set(status.events_per_second);
                let owned = if status.owner.is_some() { 1.0 } else { 0.0 };
                metrics::gauge!("projection_owned", "projection" => name.clone()).set(owned);
                let stopped = if status.failed_position.is_some() { 1.0 } else { 0.0 };
                metrics::gauge!("projection_stopped", "projection" => name.clone()).set(stopped);
                // Held back: 1 while events wait for an older transaction; its age shows how long.
                let held = status.held_back_by.as_ref();
                metrics::gauge!("projection_horizon_held_back", "projection" => name.clone()).set(if held.is_some() {
                    1.0
                } else {
                    0.0
                });
                let age = held.and_then(|holder| holder.transaction_age_seconds).unwrap_or(0.0);
                metrics::gauge!("projection_horizon_holder_age_seconds", "projection" => name).set(age);
            }
        }
        Err(error) => tracing::warn!(%error, "projection status unavailable for /metrics"),
    }
    // The lines' figures come from the API's kept boards; a projector process would only read them again.
    if *surface.get_ref() == crate::Surface::Everything
        && let Err(error) = crate::floor_metrics::record(&app).await
    {
        tracing::warn!(%error, "the lines' figures are unavailable for /metrics");
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::telemetry::prometheus().render())
}
