//! The database's own ceiling: pgbench running a single-row INSERT, each its own transaction.

use std::process::Command;

use anyhow::Context;
use local_postgres::Cluster;

#[derive(Debug, Clone, Copy)]
pub struct Result {
    pub tps: f64,
    pub mean_latency_ms: f64,
}

pub async fn insert_commit_tps(cluster: &Cluster, url: &str, clients: usize, seconds: u64) -> anyhow::Result<Result> {
    let pool = sqlx::PgPool::connect(url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS pgbench_ceiling (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb NOT NULL)")
        .execute(&pool)
        .await?;
    pool.close().await;
    let script = std::env::temp_dir().join("ms5-bench-insert.sql");
    std::fs::write(&script, "INSERT INTO pgbench_ceiling (payload) VALUES ('{\"good\": 1}');\n")?;
    let database = url.split('/').nth(3).and_then(|rest| rest.split('?').next()).context("database in URL")?;
    let output = Command::new(cluster.bin_dir().join("pgbench"))
        .args(["-n", "-h"])
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
