//! `ms5-floor`: runs the service. With no `DATABASE_URL` it starts (creating on first run) a private
//! PostgreSQL cluster in the data directory and stops it again on shutdown.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "MS5_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Minutes an access token is valid.
    #[arg(long, env = "MS5_ACCESS_TOKEN_MINUTES", default_value_t = 15)]
    access_token_minutes: u64,
    /// Minutes of inactivity after which a session ends (Part 11 AC-08).
    #[arg(long, env = "MS5_SESSION_IDLE_MINUTES", default_value_t = 15)]
    session_idle_minutes: u64,
    /// Consecutive failed sign-ins that lock an account.
    #[arg(long, env = "MS5_MAX_FAILED_LOGINS", default_value_t = NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN))]
    max_failed_logins: NonZeroU32,
    /// Minimum password length.
    #[arg(long, env = "MS5_PASSWORD_MIN_LENGTH", default_value_t = 12)]
    password_min_length: usize,
    /// How many previous passwords a new one may not repeat.
    #[arg(long, env = "MS5_PASSWORD_HISTORY", default_value_t = 5)]
    password_history: usize,
    /// Days after which a password must be changed.
    #[arg(long, env = "MS5_PASSWORD_MAX_AGE_DAYS", default_value_t = 90)]
    password_max_age_days: u64,
    /// Segregation of duties: administrators may not hold record-owning roles (Part 11 AC-04).
    #[arg(long, env = "MS5_SEGREGATION_OF_DUTIES", default_value_t = true, action = clap::ArgAction::Set)]
    segregation_of_duties: bool,
    /// Where the one-time bootstrap token is written while no account exists; default: beside --data-dir.
    #[arg(long, env = "MS5_BOOTSTRAP_TOKEN_FILE")]
    bootstrap_token_file: Option<PathBuf>,
    /// A file holding the key (64 hex digits) that signs snapshots; every instance on one database uses
    /// the same. Default with the private cluster: `snapshot-key` beside --data-dir, created on first run.
    #[arg(long, env = "MS5_SNAPSHOT_KEY_FILE")]
    snapshot_key_file: Option<PathBuf>,
    /// How far ahead of this server's clock a source timestamp may be before it is refused.
    #[arg(long, env = "MS5_SOURCE_TIME_TOLERANCE_SECONDS", default_value_t = 300)]
    source_time_tolerance_seconds: u64,
    /// What this process runs: the HTTP API, the projector workers, or both. Several processes may run
    /// projectors: each projection is run by one of them at a time.
    #[arg(long, env = "MS5_RUN", value_enum, default_value = "all")]
    run: Run,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Run {
    All,
    Api,
    Projector,
}

impl Settings {
    fn service(&self, bootstrap_token: Option<String>) -> api::ServiceSettings {
        let minutes = |count: u64| Duration::from_secs(count * 60);
        api::ServiceSettings {
            access_token_ttl: minutes(self.access_token_minutes),
            session_idle_timeout: minutes(self.session_idle_minutes),
            max_failed_logins: self.max_failed_logins,
            password_policy: api::PasswordPolicy {
                min_length: self.password_min_length,
                history: self.password_history,
                max_age: minutes(self.password_max_age_days * 24 * 60),
                ..api::PasswordPolicy::default()
            },
            segregation_of_duties: self.segregation_of_duties,
            bootstrap_token,
            source_time_tolerance: Duration::from_secs(self.source_time_tolerance_seconds),
            ..api::ServiceSettings::default()
        }
    }
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
    // Optionally a file of `NAME=value` lines; variables set in the environment win over it.
    if let Some(file) = std::env::var_os("MS5_CONFIG_FILE") {
        dotenvy::from_path(&file).with_context(|| format!("reading MS5_CONFIG_FILE {}", file.to_string_lossy()))?;
    }
    let settings = Settings::parse();
    // actix's HTTP/1 dispatcher logs every request it cannot parse (a 100 KB URI, a client that goes
    // away mid-body) at ERROR: a client's mistake, one line each. Those requests are answered 4xx and
    // counted; RUST_LOG brings the lines back.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,actix_http::h1::dispatcher=off"));
    if settings.log_format == "json" {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }

    let key_file = settings
        .snapshot_key_file
        .clone()
        .or_else(|| settings.database_url.is_none().then(|| settings.data_dir.with_file_name("snapshot-key")));
    install_snapshot_key(key_file.as_deref())?;

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

    let token_file =
        settings.bootstrap_token_file.clone().unwrap_or_else(|| settings.data_dir.with_file_name("bootstrap-token"));
    let bootstrap_token = bootstrap_token(&pool, &token_file).await?;
    let service = settings.service(bootstrap_token);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = match settings.run {
        Run::Api => vec![tokio::spawn(commands::wake::announce_appends(
            pool.clone(),
            projections::ANNOUNCE_EVERY,
            stopped.clone(),
        ))],
        Run::All | Run::Projector => {
            projections::spawn_all(&pool, projections::engine::worker::Settings::default(), &stopped)
        }
    };
    let served = if settings.run == Run::Projector {
        tracing::info!("running the projector workers only; Ctrl-C stops them");
        tokio::signal::ctrl_c().await
    } else {
        let application = api::Application::build(pool, settings.listen, service).context("binding the listener")?;
        tracing::info!(address = %application.address(), "MS5 Floor is listening");
        println!("MS5 Floor listening on http://{}", application.address());
        application.run_until_stopped().await
    };
    // Workers finish the batch they are in: its transaction either commits with its checkpoint or not.
    stop.send(true).ok();
    for worker in workers {
        worker.await.ok();
    }

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

/// The key that signs snapshots, from `file` (created with a random key when missing), or a key of this
/// process alone.
fn install_snapshot_key(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let Some(file) = file else {
        tracing::warn!(
            "no MS5_SNAPSHOT_KEY_FILE: this process trusts only the snapshots it writes; give every instance one key file"
        );
        return Ok(());
    };
    if !file.exists() {
        let key = commands::snapshot::SnapshotKey::random()?;
        write_private(file, key.to_hex().as_bytes())?;
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let key = commands::snapshot::SnapshotKey::parse_hex(&text).with_context(|| format!("{}", file.display()))?;
    key.use_for_this_process();
    Ok(())
}

/// Writes `contents` to `file`, readable by its owner only.
fn write_private(file: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut written = options.open(file).with_context(|| format!("writing {}", file.display()))?;
    std::io::Write::write_all(&mut written, contents)?;
    Ok(())
}

/// While no account exists, a fresh one-time token for creating the first administrator, written to a
/// file only the service's user can read (never to the log). Once accounts exist the file is removed.
async fn bootstrap_token(pool: &sqlx::PgPool, file: &std::path::Path) -> anyhow::Result<Option<String>> {
    let accounts: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM user_credentials)").fetch_one(pool).await?;
    if accounts {
        if file.exists() {
            std::fs::remove_file(file).with_context(|| format!("removing {}", file.display()))?;
        }
        return Ok(None);
    }
    let token = api::auth::password::random_secret();
    write_private(file, token.as_bytes())?;
    tracing::warn!(
        token_file = %file.display(),
        "no account exists yet: create the first administrator with POST /api/v1/bootstrap and the token in the file"
    );
    Ok(Some(token))
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
