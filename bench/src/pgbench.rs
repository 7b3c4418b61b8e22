//! The database's own limits, measured by pgbench (a C client): a single-row INSERT into a one-index
//! table (the ceiling), and our own one-event append statement into `events` with its indexes, checks
//! and triggers, each row its own transaction.

use std::process::Command;

use anyhow::Context;
use local_postgres::Cluster;

#[derive(Debug, Clone, Copy)]
pub struct Result {
    pub tps: f64,
    pub mean_latency_ms: f64,
}

/// What pgbench inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// One row into a table with only a primary key.
    Ceiling,
    /// One event into `events`, each client appending to its own stream.
    EventsAppend,
}

const CEILING_TABLE: &str = "CREATE TABLE IF NOT EXISTS pgbench_ceiling \
    (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb NOT NULL)";

const CEILING_SCRIPT: &str = "INSERT INTO pgbench_ceiling (payload) VALUES ('{\"good\": 1}');\n";

// Payload and metadata of the size and shape the workload writes; no ':' directly before a word,
// which pgbench would read as a variable.
const EVENTS_SCRIPT: &str = r#"\set seq :seq + 1
INSERT INTO events (aggregate_type, aggregate_id, metadata, recorded_at, event_id, sequence, event_type, event_version, payload, stream_hash) VALUES ('pgbench', :run || '-' || :client_id, '{"actor_name": "Bench Operator", "actor_role": "operator", "actor_user_id": "00000000-0000-0000-0000-000000000001", "causation_id": "0190aaaa-0000-7000-8000-000000000000", "correlation_id": "0190aaaa-0000-7000-8000-000000000000"}', now(), gen_random_uuid(), :seq, 'ProductionRecorded', 1, '{"at": "2026-11-22T06.00.00.123456Z", "good": 1, "reject": 0, "reject_reason": null}', sha256('x')) RETURNING sequence, position, transaction_id::text::bigint;
"#;

pub async fn run(
    cluster: &Cluster,
    database: &str,
    workload: Workload,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Result> {
    let script_text = match workload {
        Workload::Ceiling => {
            let pool = sqlx::PgPool::connect(&cluster.url(database)).await?;
            sqlx::query(CEILING_TABLE).execute(&pool).await?;
            pool.close().await;
            CEILING_SCRIPT
        }
        Workload::EventsAppend => EVENTS_SCRIPT,
    };
    let script = std::env::temp_dir().join(format!("ms5-bench-{workload:?}.sql"));
    std::fs::write(&script, script_text)?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let output = Command::new(cluster.bin_dir().join("pgbench"))
        .args(["-n", "-M", "prepared", "-D", "seq=0", "-D"])
        .arg(format!("run='{run_id}'"))
        .arg("-h")
        .arg(cluster.socket_dir())
        .args(["-p", &cluster.port().to_string(), "-U", "postgres", "-c", &clients.to_string()])
        .args(["-j", &clients.min(2).to_string(), "-T", &seconds.to_string(), "-f"])
        .arg(&script)
        .arg(database)
        .output()
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "pgbench failed: {}", String::from_utf8_lossy(&output.stderr));
    let number_after = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
    };
    Ok(Result {
        tps: number_after("tps = ").context("pgbench printed no tps")?,
        mean_latency_ms: number_after("latency average = ").unwrap_or(f64::NAN),
    })
}
