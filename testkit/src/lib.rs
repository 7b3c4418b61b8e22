//! Test support: every test gets a fresh PostgreSQL database with all migrations applied, cloned from a
//! template database. The server is the one `MS5_TEST_DATABASE_URL` names (a superuser URL), or else a
//! private cluster this crate starts once and every test process of the workspace shares.
//!
//! We do not use `#[sqlx::test]`: it needs a server to exist already and migrates every database from
//! scratch, where cloning a template is one statement.

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use commands::database::MIGRATOR;

/// Serialises template creation between test processes; any fixed key would do.
const TEMPLATE_LOCK: i64 = 4_242_424_242;

/// One shared server per test process; `Err` holds why it could not be had, for every test to report.
static SERVER: OnceLock<Result<String, String>> = OnceLock::new();

/// A database of its own for one test. It is left behind for inspection; the test cluster is
/// removed by the test command when the run ends.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// A pool connected as the database's owner (a superuser in tests).
    pub async fn owner_pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(8)
            .connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to test database {}: {error}", self.name))
    }
}

/// Where the shared test cluster lives: one per checkout, in the temp dir, whose parents any user can
/// traverse (the cluster runs as `postgres` when tests run as root).
pub fn shared_cluster_dir() -> PathBuf {
    let checkout = local_postgres::path_id(Path::new(env!("CARGO_MANIFEST_DIR")));
    std::env::temp_dir().join(format!("ms5-floor-test-{checkout}"))
}

fn start_shared_cluster() -> Result<String, String> {
    if let Ok(url) = std::env::var("MS5_TEST_DATABASE_URL") {
        return Ok(url);
    }
    let dir = shared_cluster_dir();
    let lock_path = dir.with_extension("lock");
    // Test processes run in parallel; one starts the cluster, the others wait and then reuse it.
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let options = local_postgres::ClusterOptions { data_dir: dir, throwaway: true, max_connections: 300 };
    let cluster = local_postgres::start(&options).map_err(|e| e.to_string())?;
    Ok(cluster.url("postgres"))
}

fn server_url() -> String {
    match SERVER.get_or_init(start_shared_cluster) {
        Ok(url) => url.clone(),
        Err(error) => panic!("no PostgreSQL for tests: {error}"),
    }
}

fn template_name() -> String {
    let mut hasher = DefaultHasher::new();
    for migration in MIGRATOR.iter() {
        migration.version.hash(&mut hasher);
        migration.checksum.hash(&mut hasher);
    }
    format!("ms5_template_{:016x}", hasher.finish())
}

fn database_url(server: &str, database: &str) -> String {
    let options: PgConnectOptions =
        server.parse().unwrap_or_else(|error| panic!("bad test server URL {server}: {error}"));
    options.database(database).to_url_lossy().to_string()
}

/// Creates the migrated template once per cluster and per set of migrations.
async fn ensure_template(admin: &mut PgConnection, server: &str) -> String {
    let template = template_name();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut *admin)
        .await
        .unwrap_or_else(|e| panic!("advisory lock: {e}"));
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&template)
        .fetch_one(&mut *admin)
        .await
        .unwrap_or_else(|e| panic!("looking up the template: {e}"));
    if !exists {
        admin
            .execute(format!("CREATE DATABASE {template}").as_str())
            .await
            .unwrap_or_else(|e| panic!("creating the template: {e}"));
        let mut connection = PgConnection::connect(&database_url(server, &template))
            .await
            .unwrap_or_else(|e| panic!("connecting to the template: {e}"));
        MIGRATOR.run(&mut connection).await.unwrap_or_else(|e| panic!("migrating the template: {e}"));
        connection.close().await.unwrap_or_else(|e| panic!("closing the template: {e}"));
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut *admin)
        .await
        .unwrap_or_else(|e| panic!("advisory unlock: {e}"));
    template
}

/// A fresh, fully migrated database for one test. Panics (failing the test) when no server can be had.
pub async fn fresh_database() -> TestDatabase {
    let server = server_url();
    let mut admin =
        PgConnection::connect(&server).await.unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
    let template = ensure_template(&mut admin, &server).await;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {name} TEMPLATE {template}").as_str())
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e}"));
    let _ = admin.close().await;
    TestDatabase { url: database_url(&server, &name), name }
}

/// A writer's raw insert of the first event of a new `probe` stream, inside whatever transaction
/// `connection` is in: for tests of what readers see of transactions that commit late or roll back.
pub async fn insert_probe_event(connection: &mut PgConnection) -> uuid::Uuid {
    let event_id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                             metadata, recorded_at, stream_hash)
         VALUES ($1, 'probe', $2, 1, 'Probed', 1, '{}', '{}', now(), sha256(''))",
    )
    .bind(event_id)
    .bind(event_id.to_string())
    .execute(connection)
    .await
    .unwrap_or_else(|e| panic!("raw insert: {e}"));
    event_id
}
