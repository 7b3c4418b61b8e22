//! `/metrics` in the Prometheus text format: requests by route and status with latency histograms,
//! command outcomes, sign-ins and the database pool.

use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

#[utoipa::path(tag = "operations", security(()), responses(
    (status = 200, content_type = "text/plain", body = String, description = "Prometheus text format")))]
#[get("/metrics")]
pub async fn render(app: web::Data<AppState>) -> HttpResponse {
    let pool = &app.pool;
    metrics::gauge!("db_pool_connections", "state" => "open").set(f64::from(pool.size()));
    metrics::gauge!("db_pool_connections", "state" => "idle").set(pool.num_idle() as f64);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::telemetry::prometheus().render())
}
