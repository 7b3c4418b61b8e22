//! Connecting to PostgreSQL the way the write side needs it: migrations as the owner, everything else
//! as `ms5_app`, which may only read and append events.

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection};

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The role every application connection acts as.
pub const APPLICATION_ROLE: &str = "ms5_app";

/// Applies pending migrations, connected as the database owner.
pub async fn migrate(owner_url: &str) -> Result<(), MigrateError> {
    let mut connection = PgConnection::connect(owner_url).await?;
    let mut migrator = sqlx::migrate!("../migrations");
    // During a rolling upgrade the older release starts against a database the newer one has migrated
    // already: it finds its own migrations applied and newer ones it does not know, which are additive
    // (docs/deployment.md, "Rolling upgrades") and leave it working.
    migrator.set_ignore_missing(true);
    migrator.run(&mut connection).await?;
    connection.close().await?;
    Ok(())
}

/// Whether every migration this build knows has been applied (readiness).
pub async fn migrations_applied(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(pool).await?;
    Ok(usize::try_from(applied).unwrap_or_default() >= MIGRATOR.iter().count())
}

/// How often the server checks that a session's client is still there while a statement runs.
const CLIENT_CHECK_INTERVAL: &str = "2s";

/// The connection options of `url` for a process of ours: a session whose process died (kill -9, a lost
/// machine) is noticed by the server while a statement of it runs or waits on a lock, not only once it
/// ends, so its transaction is rolled back and the locks it holds (a worker's ownership, an import's
/// hold on appends) go. JIT compilation is off: our statements are prepared once and run with generic
/// plans whose estimates (for any line) cross the JIT thresholds, and compiling took 150 ms of a
/// shift report's 170 (BENCHMARKS.md, "Shift reports").
pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    Ok(options.options([("client_connection_check_interval", CLIENT_CHECK_INTERVAL), ("jit", "off")]))
}

/// A pool whose every connection acts as `ms5_app`. `url` may name the owner (the embedded default)
/// or a login role that is a member of `ms5_app`.
pub async fn application_pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    application_pool_options(max_connections).connect_with(application_connect_options(url)?).await
}

/// The same for a server that may not be up yet, such as a read replica: connections are made when
/// first used, so a server that is down fails those uses instead of the caller's start.
pub fn application_pool_lazy(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    Ok(application_pool_options(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy_with(application_connect_options(url)?))
}

fn application_connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options = connect_options(url)?;
    // Names this process's sessions for operators (who owns a projection), unless the URL names them.
    Ok(match options.get_application_name() {
        Some(_) => options,
        None => options.application_name(&format!("ms5-floor pid {}", std::process::id())),
    })
}

fn application_pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // A ping before every checkout doubles the round trips of a warm command. A connection that died
        // while idle fails its next statement instead, which writes nothing and is reported to the caller.
        .test_before_acquire(false)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection.execute(format!("SET ROLE {APPLICATION_ROLE}").as_str()).await?;
                Ok(())
            })
        })
}
