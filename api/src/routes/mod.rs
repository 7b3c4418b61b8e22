//! The HTTP endpoints, one module per kind of record, and what they share.

mod andon;
mod audit_trail;
mod checklists;
mod devices;
mod downtime;
pub mod health;
mod ingest;
mod jobs;
mod ledger;
pub mod lines;
pub mod live;
pub mod metrics;
mod oee;
mod operations;
mod records;
mod security;
pub mod shifts;
mod sign_in;
mod signatures;
mod users;

use actix_web::{HttpRequest, HttpResponse, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

/// Everything under `/api/v1`. Each module has a scope of its own: a scope of `/api/v1` would hide the
/// docs routes behind it.
pub fn configure(config: &mut ServiceConfig) {
    sign_in::configure(config);
    users::configure(config);
    devices::configure(config);
    security::configure(config);
    shifts::configure(config);
    lines::configure(config);
    checklists::configure(config);
    jobs::configure(config);
    downtime::configure(config);
    andon::configure(config);
    oee::configure(config);
    ingest::configure(config);
    records::configure(config);
    audit_trail::configure(config);
    ledger::configure(config);
    signatures::configure(config);
    operations::configure(config);
    live::configure(config);
}

/// Path segments that do not parse (e.g. a malformed UUID) are the client's error, in our error model.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _| ApiError::bad_request("invalid_path", error.to_string()).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|error, _| ApiError::bad_request("invalid_query", error.to_string()).into())
}

pub async fn no_such_route(request: HttpRequest) -> HttpResponse {
    crate::telemetry::mark_unmatched(&request);
    let error = ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "no_such_route",
        format!("there is no {} {}", request.method(), request.path()),
    );
    actix_web::ResponseError::error_response(&error)
}
