//! `bench`: command throughput and latency of MS5 Floor's event store against plain cqrs-es +
//! postgres-es 0.5 on the same PostgreSQL, with pgbench's single-row INSERT+COMMIT as the ceiling.
//! Prints a Markdown table. Runs on its own durable private cluster; touches nothing else.

mod baseline;
mod golive;
mod http;
mod lag;
mod ledger;
mod live;
mod ours;
mod pgbench;
mod plant;
mod reads;
mod replay;
mod reports;
mod runner;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection};

use crate::pgbench::Workload;
use crate::runner::{Stats, run};
use crate::workload::Target;

// Many small short-lived allocations across threads per command: glibc malloc showed up as ~15% of
// the client's CPU in profiles; mimalloc is made for this pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Seconds each measured scenario runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Events in the long stream compared against a fresh one.
    #[arg(long, default_value_t = 100_000)]
    long_stream: u64,
    /// Which scenarios to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Scenario::Distinct, Scenario::Hot, Scenario::Long, Scenario::Ceiling, Scenario::Http])]
    scenarios: Vec<Scenario>,
    /// Events in the log the projection catches up over.
    #[arg(long, default_value_t = 1_000_000)]
    projection_events: u64,
    /// Events in the log the ledger seals and verifies.
    #[arg(long, default_value_t = 1_000_000)]
    ledger_events: u64,
    /// Lines the simulator plays in the plant scenario.
    #[arg(long, default_value_t = 6)]
    plant_lines: u32,
    /// Plant hours the simulator plays.
    #[arg(long, default_value_t = 8.0)]
    plant_hours: f64,
    /// Plant seconds per real second.
    #[arg(long, default_value_t = 3_000.0)]
    plant_speed: f64,
    /// How often each of the 64 dashboards of the plant scenario's first round refreshes, in ms; the
    /// second round's dashboards ask as fast as they can.
    #[arg(long, default_value_t = 100)]
    plant_dashboard_every_ms: u64,
    /// Lines of the live scenario.
    #[arg(long, default_value_t = 50)]
    live_lines: usize,
    /// Live streams of the live scenario, half server-sent events, half WebSocket.
    #[arg(long, default_value_t = 2_000)]
    live_subscribers: usize,
    /// How often each line of the live scenario gets a count, in ms.
    #[arg(long, default_value_t = 1_000)]
    live_every_ms: u64,
    /// Live streams held open during the go-live scenario.
    #[arg(long, default_value_t = 200)]
    golive_subscribers: usize,
    /// The service binary the live scenario runs; default: `ms5-floor` beside this one
    /// (`cargo build --release -p api`).
    #[arg(long)]
    service: Option<PathBuf>,
    /// The simulator binary; default: `ms5-simulate` beside this one (`cargo build --release -p simulator`).
    #[arg(long)]
    simulator: Option<PathBuf>,
    /// Where the benchmark's private cluster lives.
    #[arg(long, default_value = "target/bench-postgres")]
    data_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// 1, 8 and 32 writers on distinct aggregates.
    Distinct,
    /// 32 writers on 10 aggregates.
    Hot,
    /// One stream of --long-stream events against a fresh one.
    Long,
    /// pgbench single-row INSERT+COMMIT at 1, 8 and 32 clients, and our append statement at 32.
    Ceiling,
    /// 32 authenticated HTTP clients on distinct aggregates, beside the same in-process.
    Http,
    /// Projection catch-up from a cold start over --projection-events events.
    Projection,
    /// An auditor's reads (history page, past state) of a --long-stream record against a fresh one.
    Reads,
    /// The ledger over --ledger-events events: sealing from cold, verification, and seal lag while 32
    /// writers run flat out.
    Ledger,
    /// The replay tools over --ledger-events events: replay with digest, export, offline verification,
    /// import, and a blue/green rebuild of the OEE read model.
    Replay,
    /// Shift reports and loss trees of a line with a year of history, and a site's month over 50 lines.
    Reports,
    /// The plant simulator (`ms5-simulate`, built beside this binary) as the load: lag to the OEE read
    /// model and dashboard queries at 64 clients while it plays.
    Plant,
    /// The service (`ms5-floor`, built beside this binary) in its own process with --live-subscribers
    /// live streams over --live-lines lines: its memory per idle stream, and the time from a count to
    /// every subscriber's status while each line gets one every --live-every-ms for --seconds.
    Live,
    /// The go-live plan's load (`ms5-floor` in its own process, --live-lines lines): 1,000 requests/s
    /// of counts, board polls, OEE, job and Andon lists for --seconds, with --golive-subscribers live
    /// streams; latency per kind, the service's memory and the database's growth.
    GoLive,
}

/// pgbench runs in our store's database, so that its `events` statement meets our schema.
const OURS_DATABASE: &str = "bench_ours";
const OURS: &str = "ms5 store";
const OURS_WARM: &str = "ms5 store, warm";
const OURS_COLD: &str = "ms5 store, cold (snapshot + tail)";
const BASELINE: &str = "cqrs-es + postgres-es 0.5";
const BASELINE_SNAPSHOTTING: &str = "cqrs-es + postgres-es 0.5 (snapshot every 100)";
const OVER_HTTP: &str = "ms5 service over HTTP";
const DASHBOARD: &str = "dashboard query: line status board";

/// Divisible by 1, 8 and 32, so that writers never share an aggregate in the distinct scenarios.
const AGGREGATES: usize = 1024;
const HOT_AGGREGATES: usize = 10;
pub const POOL_SIZE: u32 = 40;

struct Row {
    scenario: String,
    store: &'static str,
    writers: usize,
    stats: Stats,
}

/// Flushes dirty pages before a measured scenario, so that no scenario pays for the previous one's
/// writes with a checkpoint inside its window.
async fn checkpoint(server: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(server).await?;
    admin.execute("CHECKPOINT").await?;
    admin.close().await?;
    Ok(())
}

/// Drops and recreates database `name`; returns its URL.
async fn fresh_database(cluster: &local_postgres::Cluster, name: &str) -> anyhow::Result<String> {
    let mut admin = PgConnection::connect(&cluster.url("postgres")).await?;
    admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    admin.close().await?;
    Ok(cluster.url(name))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let duration = Duration::from_secs(args.seconds);
    let options =
        local_postgres::ClusterOptions { data_dir: args.data_dir.clone(), throwaway: false, max_connections: 200 };
    let cluster = tokio::task::spawn_blocking(move || local_postgres::start(&options)).await??;
    let server = cluster.url("postgres");

    let ours_url = fresh_database(&cluster, OURS_DATABASE).await?;
    commands::database::migrate(&ours_url).await?;
    let ours_pool = commands::database::application_pool(&ours_url, POOL_SIZE).await?;
    let base_url = fresh_database(&cluster, "bench_baseline").await?;
    // The same pool settings as ours, so the comparison is of the stores alone.
    let base_pool =
        PgPoolOptions::new().max_connections(POOL_SIZE).test_before_acquire(false).connect(&base_url).await?;
    baseline::create_schema(&base_pool).await?;

    eprintln!("seeding {AGGREGATES} running jobs in each store");
    let ids = Arc::new(workload::job_ids(AGGREGATES));
    let store = Arc::new(ours::store(&ours_pool, true));
    let plain = Arc::new(baseline::plain(&base_pool));
    seed(&store, &ids).await?;
    seed(&plain, &ids).await?;

    let server = server.as_str();
    let mut rows = Vec::new();
    let wanted = |scenario| args.scenarios.contains(&scenario);
    for writers in [1, 8, 32].into_iter().filter(|_| wanted(Scenario::Distinct)) {
        let scenario = format!("distinct aggregates ({AGGREGATES})");
        eprintln!("{scenario}, {writers} writers");
        let pick = move |writer: usize, i: u64| (writer + i as usize * writers) % AGGREGATES;
        let stats = measure(server, &store, &ids, writers, duration, u64::MAX, pick).await?;
        rows.push(Row { scenario: scenario.clone(), store: OURS, writers, stats });
        let stats = measure(server, &plain, &ids, writers, duration, u64::MAX, pick).await?;
        rows.push(Row { scenario, store: BASELINE, writers, stats });
    }

    if wanted(Scenario::Hot) {
        eprintln!("hot aggregates");
        let scenario = format!("hot: {HOT_AGGREGATES} aggregates");
        let pick = |writer: usize, i: u64| (writer + i as usize) % HOT_AGGREGATES;
        let stats = measure(server, &store, &ids, 32, duration, u64::MAX, pick).await?;
        rows.push(Row { scenario: scenario.clone(), store: OURS, writers: 32, stats });
        let stats = measure(server, &plain, &ids, 32, duration, u64::MAX, pick).await?;
        rows.push(Row { scenario, store: BASELINE, writers: 32, stats });
    }

    if wanted(Scenario::Long) {
        eprintln!("growing a stream to {} events in each store", args.long_stream);
        let streams = Arc::new(workload::job_ids(2));
        let (long, fresh) = (&streams[0], &streams[1]);
        ours::grow_stream(&store, long, args.long_stream).await?;
        store.start_job(fresh).await.map_err(anyhow::Error::msg)?;
        baseline::grow_stream(&base_pool, long, args.long_stream).await?;
        plain.start_job(fresh).await.map_err(anyhow::Error::msg)?;
        let cold = Arc::new(ours::store(&ours_pool, false));
        let snapshotting = Arc::new(baseline::snapshotting(&base_pool));
        for (index, label) in [(0, format!("{} events", args.long_stream)), (1, "fresh (4 events)".to_owned())] {
            let scenario = format!("one stream: {label}");
            let pick = move |_: usize, _: u64| index;
            let stats = measure(server, &store, &streams, 1, duration, 5_000, pick).await?;
            rows.push(Row { scenario: scenario.clone(), store: OURS_WARM, writers: 1, stats });
            let stats = measure(server, &cold, &streams, 1, duration, 5_000, pick).await?;
            rows.push(Row { scenario: scenario.clone(), store: OURS_COLD, writers: 1, stats });
            let stats = measure(server, &snapshotting, &streams, 1, duration, 5_000, pick).await?;
            rows.push(Row { scenario, store: BASELINE_SNAPSHOTTING, writers: 1, stats });
        }
    }

    if wanted(Scenario::Http) {
        eprintln!("over HTTP: seeding {AGGREGATES} running jobs through the API");
        let url = fresh_database(&cluster, "bench_http").await?;
        commands::database::migrate(&url).await?;
        let http_pool = commands::database::application_pool(&url, POOL_SIZE).await?;
        let service = Arc::new(http::start(http_pool.clone()).await?);
        let http_ids = Arc::new(workload::job_ids(AGGREGATES));
        seed(&service, &http_ids).await?;
        let scenario = format!("distinct aggregates ({AGGREGATES})");
        let pick = move |writer: usize, i: u64| (writer + i as usize * 32) % AGGREGATES;
        eprintln!("{scenario}, 32 HTTP clients");
        let stats = measure(server, &service, &http_ids, 32, duration, u64::MAX, pick).await?;
        rows.push(Row { scenario: scenario.clone(), store: OVER_HTTP, writers: 32, stats });
        if !wanted(Scenario::Distinct) {
            eprintln!("{scenario}, 32 writers in process");
            let stats = measure(server, &store, &ids, 32, duration, u64::MAX, pick).await?;
            rows.push(Row { scenario, store: OURS, writers: 32, stats });
        }
        eprintln!("dashboard: the projectors catch up, then 64 clients query the line status board");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers =
            projections::spawn_all(&http_pool, projections::engine::worker::Settings::default(), None, &stopped);
        caught_up(&http_pool).await?;
        let board = Arc::clone(&service);
        let stats = run(64, duration, u64::MAX, None, move |_, _| {
            let board = Arc::clone(&board);
            async move { board.line_status().await }
        })
        .await;
        rows.push(Row { scenario: DASHBOARD.to_owned(), store: OVER_HTTP, writers: 64, stats });
        stop.send(true).ok();
        for worker in workers {
            worker.await.ok();
        }
    }

    let projection = if wanted(Scenario::Projection) {
        Some(projection_catch_up(&cluster, args.projection_events, duration).await?)
    } else {
        None
    };

    let reads = if wanted(Scenario::Reads) {
        eprintln!("auditor reads: growing a stream to {} events", args.long_stream);
        let streams = workload::job_ids(2);
        ours::grow_stream(&store, &streams[0], args.long_stream).await?;
        store.start_job(&streams[1]).await.map_err(anyhow::Error::msg)?;
        checkpoint(server).await?;
        Some(reads::measure(&ours_pool, &store, &streams[0], &streams[1], args.long_stream, duration).await?)
    } else {
        None
    };

    let ledger = if wanted(Scenario::Ledger) {
        let url = fresh_database(&cluster, "bench_ledger").await?;
        commands::database::migrate(&url).await?;
        let pool = commands::database::application_pool(&url, POOL_SIZE).await?;
        let ids = grow_log(&pool, args.ledger_events).await?;
        checkpoint(server).await?;
        let figures = ledger::measure(&pool, &ids, duration).await?;
        pool.close().await;
        let mut admin = PgConnection::connect(server).await?;
        admin.execute("DROP DATABASE bench_ledger WITH (FORCE)").await?;
        admin.close().await?;
        Some(figures)
    } else {
        None
    };

    let replayed = if wanted(Scenario::Replay) {
        let url = fresh_database(&cluster, "bench_replay").await?;
        let empty = fresh_database(&cluster, "bench_restore").await?;
        commands::database::migrate(&url).await?;
        commands::database::migrate(&empty).await?;
        let pool = commands::database::application_pool(&url, POOL_SIZE).await?;
        grow_log(&pool, args.ledger_events).await?;
        checkpoint(server).await?;
        let figures = replay::measure(&pool, &url, &empty).await?;
        pool.close().await;
        let mut admin = PgConnection::connect(server).await?;
        admin.execute("DROP DATABASE bench_replay WITH (FORCE)").await?;
        admin.execute("DROP DATABASE bench_restore WITH (FORCE)").await?;
        admin.close().await?;
        Some(figures)
    } else {
        None
    };

    let reported = if wanted(Scenario::Reports) {
        let url = fresh_database(&cluster, "bench_reports").await?;
        commands::database::migrate(&url).await?;
        let pool = commands::database::application_pool(&url, POOL_SIZE).await?;
        let figures = reports::measure(&pool, duration).await?;
        pool.close().await;
        let mut admin = PgConnection::connect(server).await?;
        admin.execute("DROP DATABASE bench_reports WITH (FORCE)").await?;
        admin.close().await?;
        Some(figures)
    } else {
        None
    };

    let plant = if wanted(Scenario::Plant) {
        let simulator = sibling(args.simulator.clone(), "ms5-simulate", "cargo build --release -p simulator")?;
        let mut rounds = Vec::new();
        for (round, every) in [Some(Duration::from_millis(args.plant_dashboard_every_ms)), None].into_iter().enumerate()
        {
            let load = plant::Plant {
                lines: args.plant_lines,
                hours: args.plant_hours,
                speed: args.plant_speed,
                dashboard_every: every,
            };
            eprintln!("plant: {} lines, {} plant hours at {}x, 64 dashboards", load.lines, load.hours, load.speed);
            let url = fresh_database(&cluster, &format!("bench_plant_{round}")).await?;
            rounds.push((plant::measure(&url, &simulator, &load).await?, load));
        }
        Some(rounds)
    } else {
        None
    };

    let live = if wanted(Scenario::Live) {
        let binary = sibling(args.service.clone(), "ms5-floor", "cargo build --release -p api")?;
        let load = live::Live {
            lines: args.live_lines,
            subscribers: args.live_subscribers,
            load: duration,
            every: Duration::from_millis(args.live_every_ms),
        };
        let url = fresh_database(&cluster, "bench_live").await?;
        Some((live::measure(server, &url, &binary, &load).await?, load))
    } else {
        None
    };

    let golive = if wanted(Scenario::GoLive) {
        let binary = sibling(args.service.clone(), "ms5-floor", "cargo build --release -p api")?;
        let plan = golive::GoLive { lines: args.live_lines, subscribers: args.golive_subscribers, load: duration };
        let url = fresh_database(&cluster, "bench_golive").await?;
        Some((golive::measure(&url, &binary, &plan).await?, plan))
    } else {
        None
    };

    let mut ceiling = Vec::new();
    for clients in [1, 8, 32].into_iter().filter(|_| wanted(Scenario::Ceiling)) {
        eprintln!("pgbench, {clients} clients");
        checkpoint(server).await?;
        ceiling.push((clients, pgbench::run(&cluster, OURS_DATABASE, Workload::Ceiling, clients, args.seconds).await?));
    }
    let own_statement = if wanted(Scenario::Ceiling) {
        eprintln!("pgbench, our append statement, 32 clients");
        checkpoint(server).await?;
        Some(pgbench::run(&cluster, OURS_DATABASE, Workload::EventsAppend, 32, args.seconds).await?)
    } else {
        None
    };
    print_report(&rows, &ceiling, own_statement);
    if let Some((events, (jobs, oee), lags)) = projection {
        for (name, elapsed) in [("jobs", jobs), ("OEE", oee)] {
            println!(
                "- {name} projection, cold start over {events} events: {:.1} s, {:.0} events/s (goal >= 50,000 events/s)",
                elapsed.as_secs_f64(),
                events as f64 / elapsed.as_secs_f64()
            );
        }
        let at = |p: f64| lags[((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len()) - 1];
        println!(
            "- lag from commit to the jobs read model at 1,000 commands/s: {} commands ({:.0}/s), p50 {} ms, p99 {} ms, max {} ms (goal p99 < 100 ms)",
            lags.len(),
            lags.len() as f64 / duration.as_secs_f64(),
            ms(at(0.50)),
            ms(at(0.99)),
            ms(at(1.0))
        );
    }
    if let Some(figures) = &reads {
        reads::print(figures);
    }
    if let Some(figures) = &ledger {
        ledger::print(figures);
    }
    if let Some(figures) = &replayed {
        replay::print(figures);
    }
    if let Some(figures) = &reported {
        reports::print(figures);
    }
    for (figures, load) in plant.into_iter().flatten() {
        print_plant(&figures, &load);
    }
    if let Some((figures, plan)) = &golive {
        golive::print(figures, plan);
    }
    if let Some((figures, load)) = &live {
        live::print(figures, load);
    }
    drop((ours_pool, base_pool));
    tokio::task::spawn_blocking(move || cluster.stop()).await?.context("stopping the bench cluster")?;
    Ok(())
}

/// `given`, or the binary `name` beside this one, which `build` makes.
fn sibling(given: Option<PathBuf>, name: &str, build: &str) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name(name),
    };
    anyhow::ensure!(path.exists(), "no {name} at {}: {build}", path.display());
    Ok(path)
}

/// Waits until every projection has applied everything committed so far.
async fn caught_up(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
        let behind: i64 = sqlx::query_scalar("SELECT count(*) FROM projection_checkpoints WHERE events_applied < $1")
            .bind(total)
            .fetch_one(pool)
            .await?;
        let started: i64 = sqlx::query_scalar("SELECT count(*) FROM projection_checkpoints").fetch_one(pool).await?;
        if behind == 0 && started > 0 {
            return Ok(());
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the projections did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Times `projection` applying the whole log from its first event.
async fn time_catch_up(
    pool: &sqlx::PgPool,
    projection: &impl projections::Projection,
    total: i64,
) -> anyhow::Result<Duration> {
    let started = std::time::Instant::now();
    let mut applied = 0i64;
    while applied < total {
        applied +=
            i64::try_from(projections::engine::worker::catch_up(&mut *pool.acquire().await?, projection, 5000).await?)?;
    }
    Ok(started.elapsed())
}

/// Fills a fresh database with `events` events (jobs of 1,000 events each, appended 1,000 at a time
/// through the store), then times the jobs and the OEE projections catching up from the first event.
async fn projection_catch_up(
    cluster: &local_postgres::Cluster,
    events: u64,
    lag_for: Duration,
) -> anyhow::Result<(i64, (Duration, Duration), Vec<Duration>)> {
    let url = fresh_database(cluster, "bench_projection").await?;
    commands::database::migrate(&url).await?;
    let pool = commands::database::application_pool(&url, POOL_SIZE).await?;
    let store = ours::store(&pool, true);
    let ids = grow_log(&pool, events).await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await?;
    checkpoint(&cluster.url("postgres")).await?;
    eprintln!("projection: catching up over {total} events");
    let catch_up = (
        time_catch_up(&pool, &projections::read_models::jobs::Jobs, total).await?,
        time_catch_up(&pool, &projections::read_models::oee::Oee, total).await?,
    );
    eprintln!("projection: lag at 1,000 commands/s for {lag_for:?}");
    let lags = lag::measure(&pool, &store, &ids, 1000, lag_for).await?;
    pool.close().await;
    // A million fresh rows would keep autovacuum busy through the next runs' measurements.
    let mut admin = PgConnection::connect(&cluster.url("postgres")).await?;
    admin.execute("DROP DATABASE bench_projection WITH (FORCE)").await?;
    admin.close().await?;
    Ok((total, catch_up, lags))
}

/// Writes about `events` events: jobs of 1,000 events each. Returns the jobs.
async fn grow_log(pool: &sqlx::PgPool, events: u64) -> anyhow::Result<Vec<String>> {
    eprintln!("writing {events} events");
    let store = ours::store(pool, true);
    let per_job = 1000u64.min(events.max(4));
    let ids = workload::job_ids(usize::try_from(events.div_ceil(per_job))?);
    for id in &ids {
        ours::grow_stream(&store, id, per_job).await?;
    }
    Ok(ids)
}

/// Runs `target`'s command from `writers` writers, each picking its aggregate with `pick`, after a
/// checkpoint.
async fn measure<T: Target>(
    server: &str,
    target: &Arc<T>,
    ids: &Arc<Vec<String>>,
    writers: usize,
    duration: Duration,
    max_per_writer: u64,
    pick: impl Fn(usize, u64) -> usize + Copy + Send + Sync + 'static,
) -> anyhow::Result<Stats> {
    checkpoint(server).await?;
    let (target, ids) = (Arc::clone(target), Arc::clone(ids));
    Ok(run(writers, duration, max_per_writer, None, move |writer, i| {
        let (target, ids) = (Arc::clone(&target), Arc::clone(&ids));
        async move { target.command(&ids[pick(writer, i)]).await }
    })
    .await)
}

/// Brings every job to running, 32 at a time.
async fn seed<T: Target>(target: &Arc<T>, ids: &Arc<Vec<String>>) -> anyhow::Result<()> {
    let (target, ids) = (Arc::clone(target), Arc::clone(ids));
    let per_writer = AGGREGATES.div_ceil(32) as u64;
    let stats = run(32, Duration::from_secs(600), per_writer, None, move |writer, i| {
        let (target, ids) = (Arc::clone(&target), Arc::clone(&ids));
        async move {
            match ids.get(writer + i as usize * 32) {
                Some(id) => target.start_job(id).await,
                None => Ok(()),
            }
        }
    })
    .await;
    anyhow::ensure!(stats.failed == 0, "{} jobs failed to start", stats.failed);
    Ok(())
}

fn print_plant(figures: &plant::PlantFigures, load: &plant::Plant) {
    let seconds = figures.wall.as_secs_f64();
    let lag = |p: f64| {
        let lags = &figures.lags_ms;
        lags.get(((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len().max(1)) - 1).copied().unwrap_or(0.0)
    };
    println!(
        "- plant simulator, {} lines, {} plant hours at {}x: {} events in {seconds:.1} s ({:.0} events/s); recount {}",
        load.lines,
        load.hours,
        load.speed,
        figures.events,
        figures.events as f64 / seconds,
        if figures.matched { "matched" } else { "DID NOT MATCH" }
    );
    println!(
        "- lag to the OEE read model under that load: {} events, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 < 100 ms)",
        figures.lags_ms.len(),
        lag(0.50),
        lag(0.99),
        lag(1.0)
    );
    let dashboard = &figures.dashboard;
    let pace = load.dashboard_every.map_or("as fast as they can".to_owned(), |every| format!("each every {every:?}"));
    println!(
        "- dashboards meanwhile, 64 clients ({pace}) on the simulated lines' status boards: {:.0}/s, p50 {} ms, p99 {} ms, {} failed (goal p99 < 10 ms)",
        dashboard.per_second(),
        ms(dashboard.percentile(0.50)),
        ms(dashboard.percentile(0.99)),
        dashboard.failed
    );
}

fn ms(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}

fn print_report(rows: &[Row], ceiling: &[(usize, pgbench::Result)], own_statement: Option<pgbench::Result>) {
    if rows.is_empty() && ceiling.is_empty() && own_statement.is_none() {
        return;
    }
    println!("| scenario | store | writers | commands/s | p50 ms | p99 ms | failed attempts |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} |",
            row.scenario,
            row.store,
            row.writers,
            row.stats.per_second(),
            ms(row.stats.percentile(0.50)),
            ms(row.stats.percentile(0.99)),
            row.stats.failed
        );
    }
    for (clients, result) in ceiling {
        println!(
            "| single-row INSERT+COMMIT | pgbench (ceiling) | {clients} | {:.0} | {:.2} (mean) | - | - |",
            result.tps, result.mean_latency_ms
        );
    }
    if let Some(result) = own_statement {
        println!(
            "| our one-event append into `events` | pgbench (C client) | 32 | {:.0} | {:.2} (mean) | - | - |",
            result.tps, result.mean_latency_ms
        );
    }
    let find = |scenario: &str, store: &str, writers: usize| {
        rows.iter().find(|r| r.scenario.starts_with(scenario) && r.store == store && r.writers == writers)
    };
    let ours32 = find("distinct", OURS, 32);
    let base32 = find("distinct", BASELINE, 32);
    let hot = find("hot", OURS, 32);
    let ceiling32 = ceiling.iter().find(|(c, _)| *c == 32).map(|(_, r)| r.tps);
    println!();
    if let (Some(ours), Some(base)) = (ours32, base32) {
        println!(
            "- 32 writers, ms5 store / baseline: {:.2}x (goal >= 2x)",
            ours.stats.per_second() / base.stats.per_second()
        );
    }
    if let (Some(ours), Some(tps)) = (ours32, ceiling32) {
        println!(
            "- 32 writers, ms5 store / pgbench ceiling: {:.0}% (goal >= 50%)",
            100.0 * ours.stats.per_second() / tps
        );
    }
    if let (Some(hot), Some(ours)) = (hot, ours32) {
        println!(
            "- hot / distinct throughput at 32 writers: {:.0}% with {} failed (goal >= 50%, none failed)",
            100.0 * hot.stats.per_second() / ours.stats.per_second(),
            hot.stats.failed
        );
    }
    if let (Some(http), Some(ours)) = (find("distinct", OVER_HTTP, 32), ours32) {
        println!(
            "- 32 clients, over HTTP / in process: {:.0}%, p99 {} ms (goal >= 70%, p99 < 20 ms)",
            100.0 * http.stats.per_second() / ours.stats.per_second(),
            ms(http.stats.percentile(0.99))
        );
    }
    if let Some(board) = rows.iter().find(|r| r.scenario == DASHBOARD) {
        println!(
            "- dashboard query at 64 clients: {:.0}/s, p50 {} ms, p99 {} ms (goal p99 < 10 ms)",
            board.stats.per_second(),
            ms(board.stats.percentile(0.50)),
            ms(board.stats.percentile(0.99))
        );
    }
    for store in [OURS_WARM, OURS_COLD] {
        let long = rows
            .iter()
            .find(|r| r.scenario.starts_with("one stream") && !r.scenario.contains("fresh") && r.store == store);
        let fresh = rows.iter().find(|r| r.scenario.contains("fresh") && r.store == store);
        if let (Some(long), Some(fresh)) = (long, fresh) {
            println!(
                "- {store}: p99 long stream / fresh: {:.2}x (goal <= 1.5x)",
                long.stats.percentile(0.99).as_secs_f64() / fresh.stats.percentile(0.99).as_secs_f64()
            );
        }
    }
}
