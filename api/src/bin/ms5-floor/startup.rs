//! Composing the process: its database (a private cluster when none is configured), migrations, the
//! snapshot key, the bootstrap token, the workers `MS5_RUN` asks for and the HTTP server, all stopped by
//! one shutdown (see `shutdown`): in-flight requests finish, workers commit or roll back the batch they
//! are in, and the private cluster stops.

use std::path::PathBuf;

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};

use crate::settings::{Run, Settings};
use crate::shutdown;

/// Runs what `settings` ask for until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    // Listening from the start: a signal while the private cluster starts or migrations run ends the
    // process through the same shutdown (the cluster is stopped), never by the default action.
    let stopped = shutdown::on_signal()?;
    let key_file = settings
        .snapshot_key_file
        .clone()
        .or_else(|| settings.database_url.is_none().then(|| settings.data_dir.with_file_name("snapshot-key")));
    install_snapshot_key(key_file.as_deref())?;
    let seal_key = seal_key(&settings)?;

    let (cluster, migration_url, url) = match settings.database_url.clone() {
        Some(url) => (None, settings.migration_database_url.clone().unwrap_or_else(|| url.clone()), url),
        None => {
            let cluster = start_private_cluster(settings.data_dir.clone()).await?;
            create_database_if_missing(&cluster.url("postgres"), EMBEDDED_DATABASE).await?;
            let (owner, service) = (cluster.url(EMBEDDED_DATABASE), cluster.url_as(SERVICE_LOGIN, EMBEDDED_DATABASE));
            (Some(cluster), owner, service)
        }
    };
    let served = serve(&settings, seal_key, &migration_url, &url, cluster.is_some(), stopped).await;
    if let Some(cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.stop()).await?.context("stopping the private cluster")?;
    }
    served
}

/// Everything between the database being there and the shutdown.
async fn serve(
    settings: &Settings,
    seal_key: Option<commands::ledger::SealKey>,
    migration_url: &str,
    url: &str,
    private_cluster: bool,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // A certificate that does not load stops the start before anything else is done.
    let tls = settings.tls().context("the TLS certificate and key")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    commands::database::migrate(migration_url).await.context("applying migrations")?;
    if private_cluster {
        // The login needs the application role, which the migrations create.
        provision_service_login(migration_url).await?;
    }
    let pool = commands::database::application_pool(url, settings.pool_size).await.context("connecting")?;
    let workers = match settings.run {
        Run::Api => {
            vec![tokio::spawn(commands::wake::announce_appends(
                pool.clone(),
                projections::ANNOUNCE_EVERY,
                stopped.clone(),
            ))]
        }
        Run::All | Run::Projector => {
            let checkpoints = seal_key.clone().map(|key| projections::sealing::checkpoints::Settings {
                key,
                interval: std::time::Duration::from_secs(settings.checkpoint_interval_seconds),
                directory: settings.checkpoint_dir.clone(),
                keeper: settings.checkpoint_url.clone(),
                witness: settings
                    .witness_url
                    .clone()
                    .zip(settings.witness_key.clone())
                    .map(|(url, key)| projections::sealing::witness::Witness { url, key }),
            });
            projections::spawn_all(&pool, projections::engine::worker::Settings::default(), checkpoints, &stopped)
        }
    };
    let served = if settings.run == Run::Projector {
        let operations =
            api::Application::build_operations(pool, settings.listen, tls).context("binding the listener")?;
        tracing::info!(address = %operations.address(), "running the projector workers only; health and metrics are served");
        println!("MS5 Floor listening on {scheme}://{}", operations.address());
        operations.run_until(stopped).await
    } else {
        // Only a process that serves HTTP can take the bootstrap; a projector writing its own token would
        // leave a file that no server accepts.
        let token_file = settings.bootstrap_token_file();
        let verifier = verifier_key(seal_key.as_ref(), settings.verifier_key.as_ref())?;
        let read_replica = match &settings.read_database_url {
            Some(url) => Some(api::reads::ReadReplica {
                pool: commands::database::application_pool_lazy(url, settings.pool_size)
                    .context("MS5_READ_DATABASE_URL")?,
                max_lag: std::time::Duration::from_secs(settings.read_max_lag_seconds),
            }),
            None => None,
        };
        let service = api::ServiceSettings {
            tls,
            read_replica,
            ..settings.service(bootstrap_token(&pool, &token_file).await?, verifier, token_keys(settings)?)
        };
        let application = api::Application::build(pool, settings.listen, service).context("binding the listener")?;
        tracing::info!(address = %application.address(), scheme, "MS5 Floor is listening");
        println!("MS5 Floor listening on {scheme}://{}", application.address());
        application.run_until(stopped).await
    };
    // Workers see the same shutdown and finish the batch they are in: its transaction commits with its
    // checkpoint or not at all.
    for worker in workers {
        worker.await.ok();
    }
    tracing::info!("stopped");
    served.context("serving")
}

const EMBEDDED_DATABASE: &str = "ms5_floor";
/// The private cluster's login for the service: a member of the application role and nothing more, so
/// that no statement the service sends can act as the owner.
const SERVICE_LOGIN: &str = "ms5_service";

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

/// The key that signs the ledger's checkpoints: given as text, or read from its file (with the private
/// cluster, `seal-key` beside it, created on first run). Without one, events are still sealed into the
/// tree but no checkpoint is signed, and the log says so.
fn seal_key(settings: &Settings) -> anyhow::Result<Option<commands::ledger::SealKey>> {
    if let Some(text) = &settings.seal_key {
        return Ok(Some(commands::ledger::SealKey::parse(text).context("MS5_SEAL_KEY")?));
    }
    let default = settings.database_url.is_none().then(|| settings.data_dir.with_file_name("seal-key"));
    let Some(file) = settings.seal_key_file.clone().or(default) else {
        tracing::warn!("no MS5_SEAL_KEY_FILE or MS5_SEAL_KEY: the ledger is sealed but no checkpoint is signed");
        return Ok(None);
    };
    if !file.exists() && settings.seal_key_file.is_none() {
        write_private(&file, commands::ledger::SealKey::generate(PRIVATE_ORIGIN)?.as_bytes())?;
    }
    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let key = commands::ledger::SealKey::parse(&text).with_context(|| format!("{}", file.display()))?;
    tracing::info!(verifier_key = key.verifier().as_str(), "checkpoints are signed with the seal key");
    Ok(Some(key))
}

/// The key checkpoints are verified with: the seal key's, or the one given for a process that holds
/// no seal key. Both given, they must be one key.
fn verifier_key(
    seal_key: Option<&commands::ledger::SealKey>,
    given: Option<&commands::ledger::VerifierKey>,
) -> anyhow::Result<Option<commands::ledger::VerifierKey>> {
    match (seal_key.map(commands::ledger::SealKey::verifier), given) {
        (Some(derived), Some(given)) if derived.as_str() != given.as_str() => {
            anyhow::bail!("MS5_VERIFIER_KEY is not the seal key's verifier key ({})", derived.as_str())
        }
        (derived, given) => Ok(derived.or(given).cloned()),
    }
}

/// The access tokens' key from `MS5_TOKEN_KEY_FILE`, if set.
fn token_keys(settings: &Settings) -> anyhow::Result<Option<api::auth::token::TokenKeys>> {
    let Some(file) = &settings.token_key_file else { return Ok(None) };
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let secret = hex::decode(text.trim()).with_context(|| format!("{}: not hex digits", file.display()))?;
    Ok(Some(api::auth::token::TokenKeys::from_secret(&secret).with_context(|| format!("{}", file.display()))?))
}

/// The origin of checkpoints signed with a key the service made for its private cluster.
const PRIVATE_ORIGIN: &str = "ms5-floor/local";

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
