//! The plant simulator as the load: the service (API, projectors, escalation scheduler) in this process
//! on a fresh database, `ms5-simulate` in its own process playing several lines through their shifts
//! over HTTP, and meanwhile
//! - the lag of every event to the OEE read model: when a commit of the OEE projection is announced,
//!   each event it newly covers counts from its `recorded_at` (stamped before its own append commits,
//!   so the figure errs on the long side) to that moment, both on the database's clock;
//! - 64 dashboard clients reading the simulated lines' status boards (with the running shift's OEE),
//!   each refreshing at a set interval or as fast as it can.
//!
//! The simulator then checks its recount; a run whose figures do not match is reported as such.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::http::{PASSWORD, login, post};
use crate::runner::{Stats, run};

pub struct Plant {
    pub lines: u32,
    pub hours: f64,
    pub speed: f64,
    /// How often each dashboard refreshes; `None`: as fast as it can.
    pub dashboard_every: Option<Duration>,
}

pub struct PlantFigures {
    pub events: i64,
    pub wall: Duration,
    /// Milliseconds, sorted.
    pub lags_ms: Vec<f64>,
    pub dashboard: Stats,
    pub matched: bool,
}

pub async fn measure(url: &str, simulator: &Path, plant: &Plant) -> anyhow::Result<PlantFigures> {
    commands::database::migrate(url).await?;
    let pool = commands::database::application_pool(url, crate::POOL_SIZE).await?;
    let settings =
        api::ServiceSettings { bootstrap_token: Some("bench".to_owned()), ..api::ServiceSettings::default() };
    let application = api::Application::build(pool.clone(), "127.0.0.1:0".parse()?, settings)?;
    let address = format!("http://{}", application.address());
    tokio::spawn(application.run_until_stopped());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = projections::spawn_all(&pool, projections::engine::worker::Settings::default(), None, &stopped);
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let base = format!("{address}/api/v1");
    let bootstrap = json!({"token": "bench", "username": "admin", "printed_name": "Bench Admin", "password": PASSWORD, "site": "plant-1"});
    post(&client, format!("{base}/bootstrap"), None, &bootstrap).await.map_err(anyhow::Error::msg)?;
    let admin = login(&client, &base, "admin").await?;

    let sampler = tokio::spawn(sample_lags(pool.clone(), stopped.clone()));
    let events_before: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await?;
    let started = Instant::now();
    let simulation = tokio::process::Command::new(simulator)
        .args(["--url", &address, "--lines", &plant.lines.to_string(), "--hours", &plant.hours.to_string()])
        .args(["--speed", &plant.speed.to_string()])
        .env("MS5_SIM_ADMIN_PASSWORD", PASSWORD)
        .kill_on_drop(true)
        .output();
    let simulation = tokio::spawn(simulation);

    // Dashboards open once the simulated lines exist, and read for the rest of the played time.
    let lines = simulated_lines(&pool, plant.lines).await?;
    let playing = Duration::from_secs_f64(plant.hours * 3_600.0 / plant.speed).saturating_sub(started.elapsed());
    let (client, admin, base) = (Arc::new(client), Arc::new(admin), Arc::new(base));
    let dashboard = run(64, playing, u64::MAX, plant.dashboard_every, move |client_number, _| {
        let url = format!("{base}/lines/{}/status", lines[client_number % lines.len()]);
        let (client, admin) = (Arc::clone(&client), Arc::clone(&admin));
        async move {
            let response = client.get(url).bearer_auth(admin.as_str()).send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            response.bytes().await.map_err(|e| e.to_string())?;
            if status.is_success() { Ok(()) } else { Err(status.to_string()) }
        }
    })
    .await;

    let output = simulation.await?.context("running the simulator")?;
    let wall = started.elapsed();
    eprintln!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await?;
    stop.send(true).ok();
    let mut lags_ms = sampler.await??;
    for worker in workers {
        worker.await.ok();
    }
    lags_ms.sort_unstable_by(f64::total_cmp);
    Ok(PlantFigures { events: events - events_before, wall, lags_ms, dashboard, matched: output.status.success() })
}

/// The simulator's lines, once it has registered them all.
async fn simulated_lines(pool: &PgPool, count: u32) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines: Vec<String> =
            sqlx::query_scalar("SELECT line FROM read_oee_lines WHERE line LIKE 'plant-1/sim/%' ORDER BY line")
                .fetch_all(pool)
                .await?;
        if lines.len() == usize::try_from(count)? {
            return Ok(lines);
        }
        anyhow::ensure!(Instant::now() < deadline, "the simulator registered {} of {count} lines", lines.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Each event's lag to the OEE read model, in ms, until `stop`. Events are taken in the log's commit
/// order (transaction id, position), as the projection reads them.
async fn sample_lags(pool: PgPool, mut stop: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<Vec<f64>> {
    use projections::Projection as _;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(projections::engine::committed::CHANNEL).await?;
    let horizon = "SELECT transaction_id, position FROM projection_checkpoints WHERE name = $1";
    let mut covered: (i64, i64) = sqlx::query_as(horizon)
        .bind(projections::read_models::oee::Oee::NAME)
        .fetch_optional(&pool)
        .await?
        .unwrap_or((0, 0));
    let mut lags = Vec::new();
    loop {
        tokio::select! {
            notification = listener.recv() => {
                let committed = projections::engine::committed::Committed::parse(notification?.payload());
                if committed.is_none_or(|committed| committed.projection != projections::read_models::oee::Oee::NAME) { continue }
                let now: (i64, i64) = sqlx::query_as(horizon).bind(projections::read_models::oee::Oee::NAME).fetch_one(&pool).await?;
                let newly: Vec<f64> = sqlx::query_scalar(
                    "SELECT (EXTRACT(EPOCH FROM clock_timestamp() - recorded_at) * 1000)::float8 FROM events
                     WHERE (transaction_id, position) > ($1::text::xid8, $2)
                       AND (transaction_id, position) <= ($3::text::xid8, $4)",
                )
                .bind(covered.0.to_string())
                .bind(covered.1)
                .bind(now.0.to_string())
                .bind(now.1)
                .fetch_all(&pool)
                .await?;
                lags.extend(newly);
                covered = covered.max(now);
            }
            _ = stop.changed() => return Ok(lags),
        }
    }
}
