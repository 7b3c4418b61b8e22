//! MS5 Floor's service: the actix-web application. Every command of the domain has an endpoint under
//! `/api/v1`, as does a record's history and its state at a past point; people and PLC gateways
//! authenticate, and their roles decide what they may do where.
//!
//! This is the only crate that knows HTTP. Start reading at [`Application::build`], then
//! [`command_call`] (what every command endpoint does) and [`auth`].

pub mod auth;
mod bodies;
pub mod command_call;
pub mod error;
mod floor_metrics;
pub mod idempotency;
mod json;
mod oee_view;
mod openapi;
mod pages;
mod projection_status;
pub mod query_call;
pub mod reads;
mod record_type;
mod routes;
pub mod settings;
mod shift_report_view;
mod state;
pub mod telemetry;
pub mod tls;
mod trail_report;
mod views;

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use sqlx::PgPool;
use utoipa::OpenApi as _;
use utoipa_actix_web::AppExt as _;

pub use settings::{PasswordPolicy, ServiceSettings};
pub use state::AppState;

/// How long in-flight requests may take to finish after a shutdown.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// What a listener serves: the whole service, or a projector process's health and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    Everything,
    Operations,
}

/// A bound, not yet running service.
#[allow(missing_debug_implementations)] // actix's `Server` has no Debug
pub struct Application {
    server: Server,
    address: SocketAddr,
}

impl Application {
    /// Binds `listen` (port 0 picks a free port) and prepares the server on `pool`, whose connections
    /// act as the application role.
    pub fn build(pool: PgPool, listen: SocketAddr, settings: ServiceSettings) -> std::io::Result<Self> {
        let tls = settings.tls.clone();
        Self::bind(listen, AppState::new(pool, settings), tls, Surface::Everything)
    }

    /// Binds `listen` for a process that runs only the projector workers: `/health/live`,
    /// `/health/ready` and `/metrics`, nothing else. The workers' own counters (integrity alarms,
    /// checkpoint pushes, retries) exist only in that process, so it must be scraped too.
    pub fn build_operations(
        pool: PgPool,
        listen: SocketAddr,
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Self> {
        Self::bind(listen, AppState::new(pool, ServiceSettings::default()), tls, Surface::Operations)
    }

    fn bind(
        listen: SocketAddr,
        state: AppState,
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
        surface: Surface,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let address = listener.local_addr()?;
        telemetry::prometheus();
        let state = web::Data::new(state);
        let everything = surface == Surface::Everything;
        let served = web::Data::new(surface);
        let server = HttpServer::new(move || {
            let (app, document) = App::new()
                .into_utoipa_app()
                .openapi(openapi::ApiDoc::openapi())
                .app_data(state.clone())
                .app_data(served.clone())
                .app_data(routes::path_config())
                .app_data(routes::query_config())
                .configure(|config| {
                    if everything {
                        routes::configure(config);
                    }
                })
                .configure(routes::health::configure)
                .service(routes::metrics::render)
                .split_for_parts();
            app.wrap(from_fn(telemetry::observe))
                .configure(|config| {
                    if everything {
                        openapi::serve(config, document);
                        pages::configure(config);
                    }
                })
                .default_service(web::to(routes::no_such_route))
        });
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, (*config).clone())?,
            None => server.listen(listener)?,
        }
        // The process's one shutdown stops the server (see `run_until`), not actix's own signal handling.
        .disable_signals()
        // In-flight requests get this long to finish after a shutdown.
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .run();
        Ok(Self { server, address })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until the process ends (tests, benchmarks).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Serves until `stop` turns true (or its sender is gone), then stops accepting, lets in-flight
    /// requests finish within [`SHUTDOWN_GRACE`], and returns.
    pub async fn run_until(self, mut stop: tokio::sync::watch::Receiver<bool>) -> std::io::Result<()> {
        let handle = self.server.handle();
        tokio::spawn(async move {
            // Either the value turned true or the sender is gone: both mean stop.
            let _ = stop.wait_for(|stopping| *stopping).await;
            handle.stop(true).await;
        });
        self.server.await
    }
}
