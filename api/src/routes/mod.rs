//! The HTTP endpoints, one module per kind of record, and what they share.

mod andon;
mod auth;
mod bodies;
mod checklists;
mod devices;
mod downtime;
pub mod health;
mod ingest;
mod jobs;
pub mod lines;
pub mod live;
pub mod metrics;
mod oee;
pub mod projections;
mod records;
mod security;
mod users;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::oee::Interval;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

/// Everything under `/api/v1`. Each module has a scope of its own: a scope of `/api/v1` would hide the
/// docs routes behind it.
pub fn configure(config: &mut ServiceConfig) {
    auth::configure(config);
    users::configure(config);
    devices::configure(config);
    security::configure(config);
    lines::configure(config);
    checklists::configure(config);
    jobs::configure(config);
    downtime::configure(config);
    andon::configure(config);
    oee::configure(config);
    ingest::configure(config);
    records::configure(config);
    projections::configure(config);
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

/// A period from the query: default the last 24 hours, and `from` before `to`.
pub fn period(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - chrono::Duration::hours(24));
    if from >= to {
        return Err(ApiError::bad_request("invalid_query", "`from` must be before `to`"));
    }
    Ok((from, to))
}

/// A period as [`period`], as an interval.
pub fn range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Interval, ApiError> {
    let (from, to) = period(from, to)?;
    Interval::new(from, to).ok_or_else(|| ApiError::bad_request("invalid_query", "`from` must be before `to`"))
}

/// The longest period a request that forms figures per shift or hour may ask for.
const LONGEST_PERIOD_DAYS: i64 = 92;

/// A period as [`range`], at most [`LONGEST_PERIOD_DAYS`] long.
pub fn bounded_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Interval, ApiError> {
    let range = range(from, to)?;
    if range.end() - range.start() > chrono::Duration::days(LONGEST_PERIOD_DAYS) {
        return Err(ApiError::bad_request("invalid_query", format!("a period is at most {LONGEST_PERIOD_DAYS} days")));
    }
    Ok(range)
}
