//! MS5 Floor's service: the actix-web application and what the binary needs to run it. For now it
//! answers health checks only; command and query endpoints arrive with the API issue.
//!
//! This is the only crate that knows HTTP. Start reading at [`Application::build`].

mod routes;

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use sqlx::PgPool;

/// A bound, not yet running service.
#[allow(missing_debug_implementations)] // actix's `Server` has no Debug
pub struct Application {
    server: Server,
    address: SocketAddr,
}

impl Application {
    /// Binds `listen` (port 0 picks a free port) and prepares the server on `pool`, whose connections
    /// act as the application role.
    pub fn build(pool: PgPool, listen: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let address = listener.local_addr()?;
        let pool = web::Data::new(pool);
        let server = HttpServer::new(move || App::new().app_data(pool.clone()).configure(routes::health::configure))
            .listen(listener)?
            // In-flight requests get this long to finish after a shutdown signal.
            .shutdown_timeout(30)
            .run();
        Ok(Self { server, address })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
