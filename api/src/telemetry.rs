//! Request ids, access logs and Prometheus metrics. The request id (a client's `X-Request-Id` when it is
//! a UUID, else a new one) is echoed in the response and becomes the correlation id of the events the
//! request causes. Logs name routes, never bodies or headers, so secrets stay out of them.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use uuid::Uuid;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone, Copy)]
struct RequestId(Uuid);

/// The id of the request being served.
pub fn request_id(request: &HttpRequest) -> Uuid {
    request.extensions().get::<RequestId>().map_or_else(Uuid::now_v7, |id| id.0)
}

#[derive(Debug, Clone)]
struct Route(String);

/// The route pattern the request matched (`/api/v1/jobs/{job_id}/start`), the label of its metrics.
/// Kept once found. Built from the path and its matched parameters: asking the router for the pattern
/// runs its regexes again, which cost a few percent of the CPU per request.
pub fn route(request: &HttpRequest) -> String {
    if let Some(route) = request.extensions().get::<Route>() {
        return route.0.clone();
    }
    let route =
        pattern_from_parameters(request).or_else(|| request.match_pattern()).unwrap_or_else(|| UNMATCHED.to_owned());
    request.extensions_mut().insert(Route(route.clone()));
    route
}

const UNMATCHED: &str = "unmatched";

/// Marks a request no route matched, so that its raw path never becomes a metrics label.
pub fn mark_unmatched(request: &HttpRequest) {
    request.extensions_mut().insert(Route(UNMATCHED.to_owned()));
}

/// The path with each matched parameter's segment replaced by `{name}`, in order; `None` when a
/// parameter is not found as a whole segment (then the router is asked).
fn pattern_from_parameters(request: &HttpRequest) -> Option<String> {
    let mut segments: Vec<String> = request.path().split('/').map(str::to_owned).collect();
    let mut next = 0;
    for (name, value) in request.match_info().iter() {
        let found = (next..segments.len()).find(|&index| segments[index] == value)?;
        segments[found] = format!("{{{name}}}");
        next = found + 1;
    }
    Some(segments.join("/"))
}

/// Middleware: assigns the request id, logs the request and records its metrics.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Uuid::parse_str(value).ok())
        .unwrap_or_else(Uuid::now_v7);
    request.extensions_mut().insert(RequestId(id));
    let method = request.method().to_string();
    let started = Instant::now();
    let mut response = next.call(request).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let route = route(response.request());
    let status = response.status().as_u16();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
        .record(elapsed);
    if !(400..500).contains(&status) {
        tracing::info!(request_id = %id, %method, %route, status, elapsed_ms = elapsed * 1000.0, "request");
    } else if let Some(repeated) = client_errors().note(&route, status, Instant::now()) {
        tracing::info!(request_id = %id, %method, %route, status, repeated, "request refused");
    }
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// Client errors (4xx) are logged once per route and status per window, with how many like them came
/// since the last line: a client repeating a mistake, or a flood of bad requests, cannot flood the log.
/// Their metrics still count every one.
#[derive(Debug, Default)]
pub struct ClientErrorLog {
    // A std mutex: held for a map lookup, never across an await. Keys are route patterns (or
    // "unmatched") and statuses, so the map stays small.
    windows: std::sync::Mutex<std::collections::HashMap<(String, u16), (Instant, u64)>>,
}

impl ClientErrorLog {
    const WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

    /// `Some(repeats since the last line)` when this refusal is to be logged.
    pub fn note(&self, route: &str, status: u16, now: Instant) -> Option<u64> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match windows.get_mut(&(route.to_owned(), status)) {
            Some((since, suppressed)) if now.duration_since(*since) < Self::WINDOW => {
                *suppressed += 1;
                None
            }
            Some((since, suppressed)) => {
                let repeated = std::mem::take(suppressed);
                *since = now;
                Some(repeated)
            }
            None => {
                windows.insert((route.to_owned(), status), (now, 0));
                Some(0)
            }
        }
    }
}

fn client_errors() -> &'static ClientErrorLog {
    static LOG: OnceLock<ClientErrorLog> = OnceLock::new();
    LOG.get_or_init(ClientErrorLog::default)
}

/// The process's Prometheus recorder, installed on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        const LATENCY_BUCKETS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only what reaches this one");
        }
        handle
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_one_refusal_logs_one_line_per_window_with_the_count_of_the_rest() {
        let log = ClientErrorLog::default();
        let start = Instant::now();
        assert_eq!(log.note("/api/v1/jobs", 401, start), Some(0));
        for _ in 0..999 {
            assert_eq!(log.note("/api/v1/jobs", 401, start), None);
        }
        assert_eq!(log.note("/api/v1/jobs", 404, start), Some(0), "another mistake is logged at once");
        assert_eq!(log.note("/api/v1/jobs", 401, start + ClientErrorLog::WINDOW), Some(999));
    }
}
