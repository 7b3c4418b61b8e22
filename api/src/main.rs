//! `ms5-floor`: runs the service. With no `DATABASE_URL` it starts (creating on first run) a private
//! PostgreSQL cluster in the data directory and stops it again on shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use sqlx::{Connection, Executor, PgConnection};
use tracing_subscriber::EnvFilter;

/// MS5 Floor: event-sourced manufacturing floor backend.
#[derive(Debug, Parser)]
#[command(version)]
struct Settings {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "MS5_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// PostgreSQL to use. Unset: a private cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Owner connection for migrations, when DATABASE_URL's role may not run them.
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true)]
    migration_database_url: Option<String>,
    /// Where the private cluster lives when DATABASE_URL is unset.
    #[arg(long, env = "MS5_DATA_DIR", default_value = ".ms5-data/postgres")]
    data_dir: PathBuf,
    /// Connections in the application's pool.
    #[arg(long, env = "MS5_DB_POOL_SIZE", default_value_t = 32)]
    pool_size: u32,
}

// Many small short-lived allocations across threads per command: glibc malloc showed up as ~15% of
// the client's CPU in profiles; mimalloc is made for this pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EMBEDDED_DATABASE: &str = "ms5_floor";
/// The private cluster's login for the service: a member of the application role and nothing more, so
/// that no statement the service sends can act as the owner.
const SERVICE_LOGIN: &str = "ms5_service";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let settings = Settings::parse();

    let (cluster, migration_url, url) = match settings.database_url.clone() {
        Some(url) => (None, settings.migration_database_url.clone().unwrap_or_else(|| url.clone()), url),
        None => {
            let cluster = start_private_cluster(settings.data_dir.clone()).await?;
            create_database_if_missing(&cluster.url("postgres"), EMBEDDED_DATABASE).await?;
            let (owner, service) = (cluster.url(EMBEDDED_DATABASE), cluster.url_as(SERVICE_LOGIN, EMBEDDED_DATABASE));
            (Some(cluster), owner, service)
        }
    };
    commands::database::migrate(&migration_url).await.context("applying migrations")?;
    if cluster.is_some() {
        // The login needs the application role, which the migrations create.
        provision_service_login(&migration_url).await?;
    }
    let pool = commands::database::application_pool(&url, settings.pool_size).await.context("connecting")?;

    let application = api::Application::build(pool, settings.listen).context("binding the listener")?;
    tracing::info!(address = %application.address(), "MS5 Floor is listening");
    println!("MS5 Floor listening on http://{}", application.address());
    let served = application.run_until_stopped().await;

    if let Some(cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.stop()).await?.context("stopping the private cluster")?;
    }
    served.context("serving")
}

/// Starts the private cluster in `data_dir`. When the cluster's owner cannot reach that directory (a
/// checkout under root's home, run as root), the cluster lives in a directory of its own under
/// `/var/lib/ms5-floor` instead, one per checkout, and the log says where.
async fn start_private_cluster(data_dir: PathBuf) -> anyhow::Result<local_postgres::Cluster> {
    let start = |data_dir: PathBuf| async move {
        let options = local_postgres::ClusterOptions { data_dir, throwaway: false, max_connections: 100 };
        tokio::task::spawn_blocking(move || local_postgres::start(&options)).await
    };
    match start(data_dir.clone()).await? {
        Err(local_postgres::ClusterError::Unreachable { path, .. }) => {
            let fallback = PathBuf::from(format!("/var/lib/ms5-floor/{}", local_postgres::path_id(&path)));
            tracing::warn!(
                unreachable = %path.display(),
                data_dir = %fallback.display(),
                "the PostgreSQL user cannot reach the data directory; using another"
            );
            Ok(start(fallback).await?.context("starting the private PostgreSQL cluster")?)
        }
        started => Ok(started.context("starting the private PostgreSQL cluster")?),
    }
}

async fn provision_service_login(owner_url: &str) -> anyhow::Result<()> {
    let mut owner = PgConnection::connect(owner_url).await?;
    let role_exists = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)";
    create_unless_exists(&mut owner, role_exists, SERVICE_LOGIN, format!("CREATE ROLE {SERVICE_LOGIN} LOGIN")).await?;
    let grant = format!("GRANT {} TO {SERVICE_LOGIN}", commands::database::APPLICATION_ROLE);
    owner.execute(grant.as_str()).await.context("granting the application role to the service login")?;
    owner.close().await?;
    Ok(())
}

async fn create_database_if_missing(server_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(server_url).await.context("connecting to the private cluster")?;
    let database_exists = "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)";
    create_unless_exists(&mut admin, database_exists, name, format!("CREATE DATABASE {name}")).await?;
    admin.close().await?;
    Ok(())
}

/// Runs `create` unless the catalog query `exists` finds `name`. Neither CREATE ROLE nor CREATE
/// DATABASE has an IF NOT EXISTS form.
async fn create_unless_exists(
    connection: &mut PgConnection,
    exists: &str,
    name: &str,
    create: String,
) -> anyhow::Result<()> {
    let found: bool = sqlx::query_scalar(exists).bind(name).fetch_one(&mut *connection).await?;
    if !found {
        connection.execute(create.as_str()).await.with_context(|| format!("creating {name}"))?;
    }
    Ok(())
}
