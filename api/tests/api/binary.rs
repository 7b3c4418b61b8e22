//! The service binary as the README runs it: no configuration at all.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(120);

/// Reads the child's stdout on a thread until it announces its address, or the deadline passes.
fn wait_for_address(child: &mut Child) -> String {
    wait_for_address_and_log(child).0
}

/// As [`wait_for_address`], and every line the child writes after that (its log), until it exits.
fn wait_for_address_and_log(child: &mut Child) -> (String, mpsc::Receiver<String>) {
    let stdout = child.stdout.take().expect("no stdout");
    let (sender, receiver) = mpsc::channel();
    let (log, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match line.strip_prefix("MS5 Floor listening on ") {
                Some(address) => {
                    let _ = sender.send(address.to_owned());
                }
                None => {
                    let _ = log.send(line);
                }
            }
        }
    });
    let address =
        receiver.recv_timeout(DEADLINE).unwrap_or_else(|_| panic!("the service did not start within {DEADLINE:?}"));
    (address, lines)
}

fn wait_for_exit(mut child: Child) -> std::process::ExitStatus {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    match receiver.recv_timeout(DEADLINE) {
        Ok(Ok(status)) => status,
        other => panic!("the service did not stop within {DEADLINE:?}: {other:?}"),
    }
}

/// Stops a test's own cluster and removes its directory however the test ends, so that a failed
/// assertion leaves no server running.
pub struct RemoveClusterOnDrop(pub std::path::PathBuf);

impl Drop for RemoveClusterOnDrop {
    /// Stops every cluster in the directory (a primary and its standbys), then removes it.
    fn drop(&mut self) {
        for entry in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let _ = local_postgres::stop_if_running(&entry.path());
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Interrupts the service when the test fails before it does, so that neither the service nor its
/// cluster outlives a failed test.
struct StopOnPanic(Option<u32>);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
        }
    }
}

#[tokio::test]
async fn without_a_database_url_the_service_runs_its_own_postgres_and_stops_it_on_shutdown() {
    let dir = std::env::temp_dir().join(format!("ms5-service-test-{}", unique_suffix()));
    let data_dir = dir.join("postgres");
    // Settings may come from a file: the data directory does here.
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ms5.env");
    std::fs::write(&config, format!("MS5_DATA_DIR={}\n", data_dir.display())).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
        .env_remove("DATABASE_URL")
        .env_remove("MIGRATION_DATABASE_URL")
        .env_remove("MS5_DATA_DIR")
        .env("MS5_LISTEN", "127.0.0.1:0")
        .env("MS5_CONFIG_FILE", &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the service");
    let mut guard = StopOnPanic(Some(child.id()));
    let address = wait_for_address(&mut child);

    let ready = reqwest::get(format!("{address}/health/ready")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(data_dir.join("postmaster.pid").exists(), "the private cluster runs in the data directory");
    assert!(probe_live(&address).success(), "the container's health check sees the service live");

    // The documented bootstrap: the one-time token is in a file beside the data directory, for its owner only.
    let token_file = dir.join("bootstrap-token");
    let mode =
        std::fs::metadata(&token_file).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let token = std::fs::read_to_string(&token_file).expect("reading the token");
    // The same, as an image without a shell gives it: the binary prints it.
    let printed = Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
        .arg("--print-bootstrap-token")
        .env("MS5_CONFIG_FILE", &config)
        .output()
        .expect("printing the token");
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), token.trim());
    let body = serde_json::json!({"token": token, "username": "admin", "printed_name": "Ada Admin",
                                  "password": "Correct-Horse-2026", "site": "plant-1"});
    let created = reqwest::Client::new().post(format!("{address}/api/v1/bootstrap")).json(&body).send().await;
    assert_eq!(created.map(|r| r.status().as_u16()).ok(), Some(201));

    guard.0 = None;
    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(interrupted.is_ok_and(|status| status.success()));
    let status = wait_for_exit(child);
    assert!(status.success(), "shutdown exit status: {status}");
    assert!(!probe_live(&address).success(), "the health check fails once the service is gone");
    assert!(!data_dir.join("postmaster.pid").exists(), "the private cluster was stopped");
    assert!(Path::new(&data_dir).join("PG_VERSION").exists(), "the cluster's data stays for the next start");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The container image's health check (`ms5-floor --probe-live`) against the service at `address`.
fn probe_live(address: &str) -> std::process::ExitStatus {
    let listen = address.trim_start_matches("http://");
    Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
        .args(["--probe-live", "--listen", listen])
        .stderr(Stdio::null())
        .status()
        .expect("running the probe")
}

/// A unique enough suffix without another dependency: the process id and the time.
fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// Starts the service on an existing database; its connections name it `name` in `pg_stat_activity`.
fn start_instance(url: &str, name: &str) -> (Child, StopOnPanic) {
    let (child, guard, _) = start_instance_at(url, name);
    (child, guard)
}

/// As [`start_instance`], also returning the address it serves on.
fn start_instance_at(url: &str, name: &str) -> (Child, StopOnPanic, String) {
    let separator = if url.contains('?') { '&' } else { '?' };
    let dir = std::env::temp_dir().join(format!("ms5-{name}-{}", unique_suffix()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
        .env("DATABASE_URL", format!("{url}{separator}application_name={name}"))
        .env_remove("MIGRATION_DATABASE_URL")
        .env("MS5_LISTEN", "127.0.0.1:0")
        .env("MS5_BOOTSTRAP_TOKEN_FILE", dir.join("bootstrap-token"))
        .env("MS5_SEAL_KEY", seal_key_text())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    let guard = StopOnPanic(Some(child.id()));
    let address = wait_for_address(&mut child);
    (child, guard, address)
}

/// The seal key every instance of one test process shares, as text.
fn seal_key_text() -> String {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| commands::ledger::SealKey::generate("ms5-floor/test").unwrap()).clone()
}

/// How many ownership locks (one per projection including the sealer, one per read model's rebuilds,
/// one for the escalation scheduler, one for the checkpoint writer) each instance holds.
const WORKERS: i64 = 13;
const OWNERS: &str = "SELECT a.application_name, count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     GROUP BY 1 ORDER BY 1";

async fn rows(pool: &sqlx::PgPool, sql: &str) -> Vec<(String, i64)> {
    sqlx::query_as(sql).fetch_all(pool).await.unwrap()
}

/// The (name, number) rows of `sql` once they are `expected`, or as they are at the deadline.
async fn rows_until(pool: &sqlx::PgPool, sql: &str, expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let rows = rows(pool, sql).await;
        let matches = rows.iter().map(|(name, number)| (name.as_str(), *number)).eq(expected.iter().copied());
        if matches || std::time::Instant::now() > deadline {
            return rows;
        }
        tokio::task::yield_now().await;
    }
}

fn owned(rows: &[(&str, i64)]) -> Vec<(String, i64)> {
    rows.iter().map(|(name, number)| ((*name).to_owned(), *number)).collect()
}

/// Raises `count` Andon calls on the write side, as any instance's API would.
async fn raise_calls(pool: &sqlx::PgPool, count: usize) {
    for _ in 0..count {
        raise_call(pool).await.unwrap();
    }
}

const ANDON_ROWS: &str = "SELECT 'calls', count(*) FROM read_andon";
const APPLIED: &str = "SELECT name, events_applied FROM projection_checkpoints ORDER BY name";

#[tokio::test]
async fn two_instances_share_one_database_each_projection_runs_in_one_and_the_survivor_takes_over() {
    let database = testkit::fresh_database().await;
    let owner = database.owner_pool().await;
    let app = commands::database::application_pool(&database.url, 4).await.unwrap();
    let (first, mut first_guard) = start_instance(&database.url, "ms5-first");
    let first_owns_all = [("ms5-first", WORKERS)];
    assert_eq!(rows_until(&owner, OWNERS, &first_owns_all).await, owned(&first_owns_all));
    let (second, mut second_guard) = start_instance(&database.url, "ms5-second");

    raise_calls(&app, 3).await;
    assert_eq!(rows_until(&owner, ANDON_ROWS, &[("calls", 3)]).await, owned(&[("calls", 3)]));
    assert_eq!(rows(&owner, OWNERS).await, owned(&first_owns_all), "the second owns nothing while the first runs");

    // The owner dies without a goodbye: its sessions end, their locks with them.
    first_guard.0 = None;
    let killed = Command::new("kill").args(["-KILL", &first.id().to_string()]).status();
    assert!(killed.is_ok_and(|status| status.success()));
    wait_for_exit(first);
    let second_owns_all = [("ms5-second", WORKERS)];
    assert_eq!(rows_until(&owner, OWNERS, &second_owns_all).await, owned(&second_owns_all));
    raise_calls(&app, 2).await;
    let all_calls = [("calls", 5)];
    assert_eq!(rows_until(&owner, ANDON_ROWS, &all_calls).await, owned(&all_calls), "the survivor carries on");
    // Every projection, not only the Andon calls, reaches the end of the log, each event counted once.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&owner).await.unwrap_or(-1);
    let each_once = ["andon", "audit_trail", "downtime", "jobs", "ledger", "oee"].map(|name| (name, events));
    assert_eq!(rows_until(&owner, APPLIED, &each_once).await, owned(&each_once));

    second_guard.0 = None;
    let interrupted = Command::new("kill").args(["-INT", &second.id().to_string()]).status();
    assert!(interrupted.is_ok_and(|status| status.success()));
    assert!(wait_for_exit(second).success());
}

fn kill(child: Child, guard: &mut StopOnPanic, signal: &str) -> std::process::ExitStatus {
    guard.0 = None;
    let sent = Command::new("kill").args([signal, &child.id().to_string()]).status();
    assert!(sent.is_ok_and(|status| status.success()), "kill {signal}");
    wait_for_exit(child)
}

/// Sends one keyed production record of one unit; the status, or `None` when no answer came.
async fn keyed_count(client: &reqwest::Client, address: &str, job: &str, token: &str, key: usize) -> Option<u16> {
    let sent = client
        .post(format!("{address}/api/v1/jobs/{job}/production"))
        .bearer_auth(token)
        .header("idempotency-key", format!("count-{key}"))
        .json(&serde_json::json!({"good": 1, "reject": 0}))
        .send()
        .await;
    sent.ok().map(|response| response.status().as_u16())
}

#[tokio::test]
async fn a_service_killed_mid_write_loses_no_keyed_count_and_doubles_none_when_gateways_retry() {
    let database = testkit::fresh_database().await;
    let app = crate::support::spawn_on(&database, crate::support::test_settings()).await;
    let (job, olga) = app.running_job().await;
    let (doomed, mut doomed_guard, address) = start_instance_at(&database.url, "ms5-doomed");

    // Twelve gateways send 300 keyed counts to the instance, which is killed once 60 are answered.
    const KEYS: usize = 300;
    const WRITERS: usize = 12;
    let client = reqwest::Client::builder().timeout(DEADLINE).build().unwrap();
    let (answered, mut answers) = tokio::sync::watch::channel(0usize);
    let answered = std::sync::Arc::new(answered);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (client, address, job, olga, answered) =
                (client.clone(), address.clone(), job.clone(), olga.clone(), answered.clone());
            tokio::spawn(async move {
                for key in (writer..KEYS).step_by(WRITERS) {
                    if keyed_count(&client, &address, &job, &olga, key).await == Some(200) {
                        answered.send_modify(|count| *count += 1);
                    }
                }
            })
        })
        .collect();
    let enough =
        tokio::time::timeout(DEADLINE, answers.wait_for(|count| *count >= 60)).await.is_ok_and(|seen| seen.is_ok());
    assert!(enough, "the instance answered 60 counts");
    kill(doomed, &mut doomed_guard, "-KILL");
    for writer in writers {
        writer.await.unwrap();
    }
    let before_retries = *answers.borrow();
    assert!(before_retries < KEYS, "the kill came while counts were still being sent");

    // The gateways retry every key on a fresh instance: each answers, and each count is booked once.
    let (survivor, mut survivor_guard, address) = start_instance_at(&database.url, "ms5-survivor");
    for key in 0..KEYS {
        assert_eq!(keyed_count(&client, &address, &job, &olga, key).await, Some(200), "key {key}");
    }
    let expected = i64::try_from(KEYS).unwrap_or(0);
    assert_eq!(app.units_recorded(&job).await, (expected, expected));
    let stuck: i64 =
        sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE response IS NULL AND last_sequence IS NULL")
            .fetch_one(&app.owner)
            .await
            .unwrap_or(-1);
    assert_eq!(stuck, 0);
    assert!(kill(survivor, &mut survivor_guard, "-TERM").success(), "SIGTERM stops the service gracefully");
}

/// Raises Andon calls until `stop`; each one the store acknowledged is counted in `raised`.
async fn raise_until(
    pool: sqlx::PgPool,
    stop: tokio::sync::watch::Receiver<bool>,
    raised: tokio::sync::watch::Sender<usize>,
) {
    while !*stop.borrow() {
        if raise_call(&pool).await.is_ok() {
            raised.send_modify(|count| *count += 1);
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// Records one unit at a time on a running job until `stop`: counting events, which the OEE read model
/// inserts a row for each.
async fn produce_until(pool: sqlx::PgPool, stop: tokio::sync::watch::Receiver<bool>) {
    use domain::job::{Job, JobCommand};
    let jobs: commands::PgEventStore<Job> = commands::PgEventStore::new(pool, Default::default());
    let actor = domain::actor::Actor {
        user_id: domain::actor::UserId::from_uuid(uuid::Uuid::from_u128(7)),
        printed_name: domain::values::Name::parse("Olga Operator").unwrap(),
        role: domain::actor::Role::Operator,
    };
    let context = commands::CommandContext::new(actor.clone());
    let id = uuid::Uuid::now_v7().to_string();
    let start = [
        JobCommand::Create {
            line: domain::line_id::LineId::parse("plant-1/packing/L3").unwrap(),
            product: domain::values::ProductId::parse("SKU-1").unwrap(),
            target_quantity: std::num::NonZeroU64::MIN,
        },
        JobCommand::AssignOperator { operator: actor.user_id, operator_name: actor.printed_name.clone(), reason: None },
        JobCommand::Accept { operator: actor.user_id },
        JobCommand::Start,
    ];
    for command in start {
        commands::execute(&jobs, &id, command, &context).await.unwrap();
    }
    while !*stop.borrow() {
        let one = JobCommand::RecordProduction { good: 1, reject: 0, reject_reason: None };
        if commands::execute(&jobs, &id, one, &context).await.is_err() {
            tokio::task::yield_now().await;
        }
    }
}

/// Registers line plant-1/packing/L3, as an engineer would.
async fn register_line(pool: &sqlx::PgPool) {
    let lines: commands::PgEventStore<domain::line::Line> =
        commands::PgEventStore::new(pool.clone(), Default::default());
    let actor = domain::actor::Actor {
        user_id: domain::actor::UserId::from_uuid(uuid::Uuid::from_u128(9)),
        printed_name: domain::values::Name::parse("Erin Engineer").unwrap(),
        role: domain::actor::Role::Engineer,
    };
    let register = domain::line::LineCommand::Register {
        line: domain::line_id::LineId::parse("plant-1/packing/L3").unwrap(),
        name: domain::values::Name::parse("L3").unwrap(),
        time_zone: chrono_tz::UTC,
    };
    commands::execute(&lines, "plant-1/packing/L3", register, &commands::CommandContext::new(actor)).await.unwrap();
}

async fn raise_call(pool: &sqlx::PgPool) -> Result<(), commands::CommandError<domain::andon::AndonError>> {
    use domain::andon::{AndonCall, AndonCommand, CallType, Priority};
    let calls: commands::PgEventStore<AndonCall> = commands::PgEventStore::new(pool.clone(), Default::default());
    let actor = domain::actor::Actor {
        user_id: domain::actor::UserId::from_uuid(uuid::Uuid::from_u128(7)),
        printed_name: domain::values::Name::parse("Olga Operator").unwrap(),
        role: domain::actor::Role::Operator,
    };
    let command = AndonCommand::Raise {
        line: domain::line_id::LineId::parse("plant-1/packing/L3").unwrap(),
        station: domain::values::StationId::parse("S1").unwrap(),
        call_type: CallType::Material,
        priority: Priority::Low,
        description: domain::values::Description::parse("caps low").unwrap(),
    };
    let id = uuid::Uuid::now_v7().to_string();
    commands::execute(&calls, &id, command, &commands::CommandContext::new(actor)).await.map(|_| ())
}

/// How many ownership locks the instances hold in all, once it is `expected` or as it is at the deadline.
async fn locks_held_until(pool: &sqlx::PgPool, expected: i64) -> i64 {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let held: i64 = rows(pool, OWNERS).await.iter().map(|(_, count)| count).sum();
        if held == expected || std::time::Instant::now() > deadline {
            return held;
        }
        tokio::task::yield_now().await;
    }
}

/// A cluster of a test's own, with a migrated database: restarting the shared test cluster would fail
/// every other test. Its guard (which stops and removes it), how it was started, and the database's URL.
pub async fn own_cluster(
    name: &str,
) -> (RemoveClusterOnDrop, local_postgres::ClusterOptions, local_postgres::Cluster, String) {
    let dir = std::env::temp_dir().join(format!("ms5-{name}-test-{}", unique_suffix()));
    let guard = RemoveClusterOnDrop(dir.clone());
    let options =
        local_postgres::ClusterOptions { data_dir: dir.join("postgres"), throwaway: true, max_connections: 100 };
    let cluster = start_cluster(options.clone()).await;
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.url("postgres")).await.unwrap();
    sqlx::query("CREATE DATABASE faults").execute(&mut admin).await.unwrap();
    drop(admin);
    let url = cluster.url("faults");
    commands::database::migrate(&url).await.unwrap();
    (guard, options, cluster, url)
}

async fn start_cluster(options: local_postgres::ClusterOptions) -> local_postgres::Cluster {
    tokio::task::spawn_blocking(move || local_postgres::start(&options)).await.unwrap().expect("starting the cluster")
}

/// Stops the cluster (every session ends) and starts it again; the test's guard stops it at the end.
async fn restart_cluster(cluster: &local_postgres::Cluster, options: local_postgres::ClusterOptions) {
    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop()).await.unwrap().unwrap();
    start_cluster(options).await;
}

/// The first row of `sql` once it is `expected`, or as it is at the deadline.
async fn row_until<T>(pool: &sqlx::PgPool, sql: &str, expected: T) -> T
where
    T: PartialEq + Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let row = sqlx::query_as::<_, T>(sql).fetch_optional(pool).await.ok().flatten();
        match row {
            Some(row) if row == expected || std::time::Instant::now() > deadline => return row,
            None if std::time::Instant::now() > deadline => panic!("no row of {sql}"),
            _ => tokio::task::yield_now().await,
        }
    }
}

/// Sessions of the instance `name` waiting to write into the Andon read model's green tables.
const WAITING_FOR_GREEN: &str = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE NOT l.granted AND a.application_name = $1
       AND l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = 'rm_andon_green')";

/// Waits until a session of the instance `name` waits to write into the green tables.
async fn rebuilding_blocked(pool: &sqlx::PgPool, name: &str) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let waiting: i64 = sqlx::query_scalar(WAITING_FOR_GREEN).bind(name).fetch_one(pool).await.unwrap();
        if waiting > 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{name} never began rebuilding");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_rebuild_whose_instance_is_killed_and_whose_database_restarts_finishes_once_in_the_survivor() {
    let (_cluster_guard, options, cluster, url) = own_cluster("rebuild").await;
    let owner = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(&url).await.unwrap();
    let app = commands::database::application_pool(&url, 4).await.unwrap();
    let (first, mut first_guard) = start_instance(&url, "ms5-a");
    raise_calls(&app, 20).await;
    let twenty = [("calls", 20)];
    assert_eq!(rows_until(&owner, ANDON_ROWS, &twenty).await, owned(&twenty));
    assert!(kill(first, &mut first_guard, "-INT").success());

    // The rebuild is asked for while no instance runs, and its writes are held back (a SHARE lock on the
    // tables it writes, which reads pass) until the database restarts: whichever instance takes it up is
    // caught in the middle of a batch.
    let admin = domain::actor::Actor {
        user_id: domain::actor::UserId::from_uuid(uuid::Uuid::from_u128(9)),
        printed_name: domain::values::Name::parse("Ada Admin").unwrap(),
        role: domain::actor::Role::Admin,
    };
    let andon = projections::rebuilds::Rebuildable::parse("andon").unwrap();
    let reason = domain::values::Reason::parse("fault drill").unwrap();
    projections::rebuilds::request(&app, andon, &commands::CommandContext::new(admin), reason).await.unwrap();
    let mut holding = owner.begin().await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'rm_andon_green'")
            .fetch_all(&mut *holding)
            .await
            .unwrap();
    for table in &tables {
        sqlx::query(&format!("LOCK TABLE rm_andon_green.{table} IN SHARE MODE")).execute(&mut *holding).await.unwrap();
    }
    let (a, mut a_guard) = start_instance(&url, "ms5-a");
    rebuilding_blocked(&owner, "ms5-a").await;
    let (b, mut b_guard) = start_instance(&url, "ms5-b");
    assert_eq!(rows(&owner, ANDON_ROWS).await, owned(&twenty), "the old version answers while the rebuild runs");

    // The instance in the middle of the rebuild dies; the other takes the rebuild over.
    assert!(!kill(a, &mut a_guard, "-KILL").success());
    rebuilding_blocked(&owner, "ms5-b").await;
    let pointer = "SELECT active, building FROM read_model_colors WHERE name = 'andon'";
    let building: (String, Option<String>) = sqlx::query_as(pointer).fetch_one(&owner).await.unwrap();
    assert_eq!(building, ("blue".to_owned(), Some("green".to_owned())), "never half-switched");

    // The database restarts under it (the held lock goes with it); the survivor finishes, once.
    drop(holding);
    restart_cluster(&cluster, options).await;
    // The pool's connections died with the server: a statement on one fails, and the next connects anew.
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut raised = 0;
    while raised < 5 {
        assert!(std::time::Instant::now() < deadline, "calls could not be raised after the restart");
        raised += usize::from(raise_call(&app).await.is_ok());
    }
    let switched = ("green".to_owned(), None::<String>);
    assert_eq!(row_until(&owner, pointer, switched.clone()).await, switched);
    let all_calls = [("calls", 25)];
    assert_eq!(rows_until(&owner, ANDON_ROWS, &all_calls).await, owned(&all_calls), "the rebuilt version, caught up");
    let switches =
        "SELECT event_type, count(*) FROM events WHERE aggregate_type = 'read_model' AND aggregate_id = 'andon'
                    GROUP BY 1 ORDER BY 1";
    let on_record = [("RebuildRequested", 1), ("ReadModelSwitched", 1)];
    let mut expected = on_record.to_vec();
    expected.sort_unstable();
    assert_eq!(rows_until(&owner, switches, &expected).await, owned(&expected), "one switch, on record");
    assert!(kill(b, &mut b_guard, "-INT").success());
    drop((owner, app));
}

#[tokio::test]
async fn after_a_database_restart_under_load_every_projection_has_one_owner_none_stopped_and_each_event_counts_once() {
    let (_cluster_guard, options, cluster, url) = own_cluster("restart").await;
    let owner = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    let app = commands::database::application_pool(&url, 4).await.unwrap();

    let (first, mut first_guard) = start_instance(&url, "ms5-a");
    let (second, mut second_guard) = start_instance(&url, "ms5-b");
    assert_eq!(
        locks_held_until(&owner, WORKERS).await,
        WORKERS,
        "six projections, five read models' rebuilds, the scheduler and the checkpoint writer, each owned once"
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (raised, mut raised_so_far) = tokio::sync::watch::channel(0usize);
    let writer = tokio::spawn(raise_until(app.clone(), stopped.clone(), raised));
    let producers: Vec<_> = (0..4).map(|_| tokio::spawn(produce_until(app.clone(), stopped.clone()))).collect();
    let some = tokio::time::timeout(DEADLINE, raised_so_far.wait_for(|count| *count >= 50)).await.is_ok();
    assert!(some, "calls were raised before the restart");

    restart_cluster(&cluster, options).await;
    let before = *raised_so_far.borrow_and_update();
    let more = tokio::time::timeout(DEADLINE, raised_so_far.wait_for(|count| *count >= before + 50)).await.is_ok();
    assert!(more, "the writer carried on after the restart");
    stop.send(true).ok();
    writer.await.unwrap();
    for producer in producers {
        producer.await.unwrap();
    }

    // Within the deadline: each worker owned once, no projection stopped, each event applied once, and
    // the read models equal a recount from the events.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&owner).await.unwrap_or(-1);
    let each_once = ["andon", "audit_trail", "downtime", "jobs", "ledger", "oee"].map(|name| (name, events));
    assert_eq!(rows_until(&owner, APPLIED, &each_once).await, owned(&each_once));
    let raises: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'AndonRaised'")
        .fetch_one(&owner)
        .await
        .unwrap_or(-1);
    assert_eq!(rows_until(&owner, ANDON_ROWS, &[("calls", raises)]).await, owned(&[("calls", raises)]));
    let recount = "SELECT 'units', (SELECT count(*) FROM events WHERE event_type = 'ProductionRecorded')
                          - (SELECT COALESCE(sum(total), 0)::bigint FROM read_oee_counts)";
    assert_eq!(rows(&owner, recount).await, owned(&[("units", 0)]), "OEE counts equal a recount");
    let stopped_projections: i64 =
        sqlx::query_scalar("SELECT count(*) FROM projection_checkpoints WHERE failed_position IS NOT NULL")
            .fetch_one(&owner)
            .await
            .unwrap_or(-1);
    assert_eq!(stopped_projections, 0);
    // The scheduler takes its lock again on its own tick: wait for it, as for the projections above.
    assert_eq!(
        locks_held_until(&owner, WORKERS).await,
        WORKERS,
        "each projection, each rebuild worker, the scheduler and the checkpoint writer owned exactly once again"
    );

    assert!(kill(first, &mut first_guard, "-INT").success());
    assert!(kill(second, &mut second_guard, "-INT").success());
    drop((owner, app));
}

#[tokio::test]
async fn a_flood_of_bad_requests_writes_no_error_and_one_line_per_mistake() {
    let database = testkit::fresh_database().await;
    let separator = if database.url.contains('?') { '&' } else { '?' };
    let dir = std::env::temp_dir().join(format!("ms5-flood-{}", unique_suffix()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
        .env("DATABASE_URL", format!("{}{separator}application_name=ms5-flood", database.url))
        .env_remove("RUST_LOG")
        .env("MS5_LISTEN", "127.0.0.1:0")
        .env("MS5_BOOTSTRAP_TOKEN_FILE", dir.join("bootstrap-token"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the service");
    let mut guard = StopOnPanic(Some(child.id()));
    let (address, log) = wait_for_address_and_log(&mut child);

    let client = reqwest::Client::new();
    for _ in 0..100 {
        let refused = client.get(format!("{address}/api/v1/jobs")).send().await.unwrap();
        assert_eq!(refused.status().as_u16(), 401);
    }
    // A 100 KB URI, sent raw: HTTP clients refuse to build one.
    let request = format!("GET /api/v1/jobs/{} HTTP/1.1\r\nHost: localhost\r\n\r\n", "a".repeat(100_000));
    let host = address.trim_start_matches("http://").to_owned();
    for _ in 0..20 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        stream.write_all(request.as_bytes()).await.ok();
        let mut answer = vec![0u8; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 4"), "{}", String::from_utf8_lossy(&answer));
    }
    assert!(kill(child, &mut guard, "-INT").success());
    let lines: Vec<String> = log.try_iter().collect();
    let errors: Vec<&String> = lines.iter().filter(|line| line.contains("ERROR")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let refusals = lines.iter().filter(|line| line.contains("/api/v1/jobs") && line.contains("401")).count();
    assert_eq!(refusals, 1, "one line for a hundred of the same mistake: {lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Events up to each projection's checkpoint, in commit order, against what it says it applied.
const CONSISTENT: &str = "SELECT c.name, c.events_applied - (SELECT count(*) FROM events e
     WHERE (e.transaction_id, e.position) <= (c.transaction_id::text::xid8, c.position))
     FROM projection_checkpoints c ORDER BY c.name";

#[tokio::test]
async fn sigterm_stops_a_projector_only_process_under_load_gracefully_with_every_checkpoint_consistent() {
    let database = testkit::fresh_database().await;
    let owner = database.owner_pool().await;
    let app = commands::database::application_pool(&database.url, 4).await.unwrap();
    let separator = if database.url.contains('?') { '&' } else { '?' };
    let dir = std::env::temp_dir().join(format!("ms5-projector-{}", unique_suffix()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
        .env("DATABASE_URL", format!("{}{separator}application_name=ms5-projector", database.url))
        .env("MS5_RUN", "projector")
        .env("MS5_LISTEN", "127.0.0.1:0")
        .env("MS5_SEAL_KEY", seal_key_text())
        .env("MS5_BOOTSTRAP_TOKEN_FILE", dir.join("bootstrap-token"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the projector");
    let mut guard = StopOnPanic(Some(child.id()));
    let address = wait_for_address(&mut child);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (raised, mut raised_so_far) = tokio::sync::watch::channel(0usize);
    let writer = tokio::spawn(raise_until(app.clone(), stopped, raised));
    let started = tokio::time::timeout(DEADLINE, raised_so_far.wait_for(|count| *count >= 100)).await.is_ok();
    assert!(started, "the writer raised calls");
    let applying = "SELECT 'andon', (events_applied > 0)::int::bigint FROM projection_checkpoints WHERE name = 'andon'";
    assert_eq!(rows_until(&owner, applying, &[("andon", 1)]).await, owned(&[("andon", 1)]), "the projector works");
    // It serves its health and metrics (its workers' counters live in it), and no API.
    assert_eq!(reqwest::get(format!("{address}/health/ready")).await.unwrap().status().as_u16(), 200);
    let metrics = reqwest::get(format!("{address}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("projection_events_applied{projection=\"andon\"}"), "{metrics}");
    assert_eq!(reqwest::get(format!("{address}/api/v1/projections")).await.unwrap().status().as_u16(), 404);

    // SIGTERM while events keep coming: the process finishes its batches and exits 0 in the grace period.
    guard.0 = None;
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(sent.is_ok_and(|status| status.success()));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    let exited = receiver.recv_timeout(api::SHUTDOWN_GRACE);
    assert!(matches!(&exited, Ok(Ok(status)) if status.success()), "exit within the grace period: {exited:?}");
    stop.send(true).ok();
    writer.await.unwrap();

    let consistent = ["andon", "audit_trail", "downtime", "jobs", "ledger", "oee"].map(|name| (name, 0));
    assert_eq!(rows(&owner, CONSISTENT).await, owned(&consistent), "each checkpoint counts exactly its events");
    let andon_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM read_andon").fetch_one(&owner).await.unwrap_or(-1);
    let applied: i64 = sqlx::query_scalar("SELECT events_applied FROM projection_checkpoints WHERE name = 'andon'")
        .fetch_one(&owner)
        .await
        .unwrap_or(-2);
    assert_eq!(andon_rows, applied, "the read model holds what its checkpoint says, nothing more");
    assert!(!dir.join("bootstrap-token").exists(), "a projector takes no bootstrap, so it writes no token");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_api_only_process_needs_only_the_verifier_key_and_one_that_does_not_match_the_seal_key_is_refused() {
    let database = testkit::fresh_database().await;
    let dir = std::env::temp_dir().join(format!("ms5-api-only-{}", unique_suffix()));
    let verifier = commands::ledger::SealKey::parse(&seal_key_text()).unwrap().verifier().as_str().to_owned();
    let service = |run: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ms5-floor"));
        command
            .env("DATABASE_URL", &database.url)
            .env_remove("MIGRATION_DATABASE_URL")
            .env_remove("MS5_SEAL_KEY")
            .env("MS5_RUN", run)
            .env("MS5_LISTEN", "127.0.0.1:0")
            .env("MS5_BOOTSTRAP_TOKEN_FILE", dir.join("bootstrap-token"))
            .stderr(Stdio::piped());
        command
    };

    let mut api_only = service("api").env("MS5_VERIFIER_KEY", &verifier).stdout(Stdio::piped()).spawn().unwrap();
    let mut guard = StopOnPanic(Some(api_only.id()));
    let address = wait_for_address(&mut api_only);
    assert_eq!(reqwest::get(format!("{address}/health/ready")).await.unwrap().status().as_u16(), 200);
    guard.0 = None;
    assert!(Command::new("kill").args(["-INT", &api_only.id().to_string()]).status().is_ok_and(|s| s.success()));
    assert!(wait_for_exit(api_only).success());

    let other = commands::ledger::SealKey::parse(&commands::ledger::SealKey::generate("ms5-floor/other").unwrap())
        .unwrap()
        .verifier()
        .as_str()
        .to_owned();
    let refused = service("all")
        .env("MS5_SEAL_KEY", seal_key_text())
        .env("MS5_VERIFIER_KEY", &other)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("MS5_VERIFIER_KEY is not the seal key's verifier key"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A self-signed certificate for localhost and 127.0.0.1 and its key, written into `dir` by openssl.
fn self_signed(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (certificate, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A server's certificate, not a CA's (openssl's default), or TLS clients refuse it.
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .stderr(Stdio::null())
        .status();
    assert!(made.is_ok_and(|status| status.success()), "openssl made the certificate");
    (certificate, key)
}

#[tokio::test]
async fn with_a_certificate_the_service_serves_https_only_and_clients_that_break_off_a_handshake_harm_nothing() {
    let database = testkit::fresh_database().await;
    let dir = std::env::temp_dir().join(format!("ms5-tls-{}", unique_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let (certificate, key) = self_signed(&dir, "service");
    let (other_certificate, other_key) = self_signed(&dir, "other");
    let service = |certificate: &Path, key: &Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ms5-floor"));
        command
            .env("DATABASE_URL", &database.url)
            .env_remove("MIGRATION_DATABASE_URL")
            .env("MS5_LISTEN", "127.0.0.1:0")
            .env("MS5_SEAL_KEY", seal_key_text())
            .env("MS5_BOOTSTRAP_TOKEN_FILE", dir.join("bootstrap-token"))
            .env("MS5_TLS_CERT_FILE", certificate)
            .env("MS5_TLS_KEY_FILE", key);
        command
    };
    let mut child = service(&certificate, &key).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut guard = StopOnPanic(Some(child.id()));
    let address = wait_for_address(&mut child);
    let port = address.strip_prefix("https://127.0.0.1:").expect("an https address").to_owned();

    let pem = std::fs::read(&certificate).unwrap();
    let trusting =
        reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap()).build().unwrap();
    let ready = trusting.get(format!("{address}/health/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(reqwest::Client::new().get(format!("{address}/health/ready")).send().await.is_err(), "not trusted");
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/health/live")).await;
    assert!(plain.is_err(), "plain HTTP is not served: {plain:?}");

    // Clients that break off: half a handshake, then gone; a flood of bytes that are no handshake.
    for garbage in [&b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..], &[0x42; 100 * 1024][..]] {
        let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        let _ = std::io::Write::write_all(&mut stream, garbage);
    }
    assert_eq!(trusting.get(format!("{address}/health/live")).send().await.unwrap().status().as_u16(), 200);

    // The image's health check speaks HTTPS and trusts exactly the configured certificate.
    let probe = |certificate: &Path, key: &Path| {
        service(certificate, key)
            .args(["--probe-live", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
    };
    assert!(probe(&certificate, &key).success());
    assert!(!probe(&other_certificate, &other_key).success(), "another certificate is not the service's");

    guard.0 = None;
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().is_ok_and(|s| s.success()));
    assert!(wait_for_exit(child).success());

    // A key that is not the certificate's: the service does not start, and says why.
    let refused = service(&certificate, &other_key).stdout(Stdio::null()).output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("the TLS certificate and key"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_projector_process_leaves_the_lines_figures_to_the_api_and_reads_no_board_for_them() {
    let database = testkit::fresh_database().await;
    let owner = database.owner_pool().await;
    let app = commands::database::application_pool(&database.url, 2).await.unwrap();
    register_line(&app).await;
    let service = |run: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
            .env("DATABASE_URL", &database.url)
            .env_remove("MIGRATION_DATABASE_URL")
            .env("MS5_RUN", run)
            .env("MS5_LISTEN", "127.0.0.1:0")
            .env("MS5_SEAL_KEY", seal_key_text())
            .env("MS5_BOOTSTRAP_TOKEN_FILE", std::env::temp_dir().join(format!("ms5-token-{}", unique_suffix())))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let guard = StopOnPanic(Some(child.id()));
        let address = wait_for_address(&mut child);
        (child, guard, address)
    };
    let (projector, mut projector_guard, projector_address) = service("projector");
    let known = "SELECT 'lines', count(*) FROM read_oee_lines";
    assert_eq!(rows_until(&owner, known, &[("lines", 1)]).await, owned(&[("lines", 1)]));
    let (api, mut api_guard, api_address) = service("api");
    let metrics = |address: String| async move {
        reqwest::get(format!("{address}/metrics")).await.unwrap().text().await.unwrap()
    };
    let from_api = metrics(api_address).await;
    assert!(from_api.contains("line_running{line=\"plant-1/packing/L3\"}"), "{from_api}");
    let from_projector = metrics(projector_address).await;
    assert!(from_projector.contains("projection_events_applied"), "{from_projector}");
    assert!(!from_projector.contains("line_running"), "{from_projector}");
    for (child, guard) in [(projector, &mut projector_guard), (api, &mut api_guard)] {
        guard.0 = None;
        assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().is_ok_and(|s| s.success()));
        assert!(wait_for_exit(child).success());
    }
}

#[tokio::test]
async fn sigterm_while_the_private_cluster_starts_still_ends_in_a_graceful_shutdown_with_the_cluster_stopped() {
    let dir = std::env::temp_dir().join(format!("ms5-early-sigterm-{}", unique_suffix()));
    let data_dir = dir.join("postgres");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
        .env_remove("DATABASE_URL")
        .env_remove("MIGRATION_DATABASE_URL")
        .env("MS5_DATA_DIR", &data_dir)
        .env("MS5_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = StopOnPanic(Some(child.id()));
    // The signal comes as soon as the cluster runs: while the database is created and migrated.
    let deadline = std::time::Instant::now() + DEADLINE;
    while !data_dir.join("postmaster.pid").exists() {
        assert!(std::time::Instant::now() < deadline, "the private cluster did not start");
        assert!(child.try_wait().unwrap().is_none(), "the service ended before its cluster started");
        std::thread::yield_now();
    }
    guard.0 = None;
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(sent.is_ok_and(|status| status.success()));
    let status = wait_for_exit(child);
    assert!(status.success(), "exit status: {status}");
    assert!(!data_dir.join("postmaster.pid").exists(), "the private cluster was stopped");
    let _ = std::fs::remove_dir_all(&dir);
}
