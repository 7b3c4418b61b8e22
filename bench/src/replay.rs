//! The replay tools over a long log: replaying it in commit order with its digest, exporting it to a
//! file, verifying the file offline, importing it into an empty database, and rebuilding the OEE read
//! model blue/green; each in events/s, with the benchmark process's peak memory after each step (the
//! work streams: memory must not grow with the log).

use std::time::{Duration, Instant};

use commands::ledger::SealKey;
use projections::engine::colors::{self, Side};
use projections::read_models::oee::Oee;
use sqlx::PgPool;

pub struct Step {
    pub name: &'static str,
    pub events: i64,
    pub elapsed: Duration,
    /// The process's peak resident memory after the step (VmHWM), in KiB.
    pub peak_kib: u64,
}

pub struct ReplayFigures {
    pub steps: Vec<Step>,
    pub file_bytes: u64,
    pub rss_before_kib: u64,
}

fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// On `pool`, whose log holds its events already, and `empty`, a migrated database with none.
pub async fn measure(pool: &PgPool, url: &str, empty_url: &str) -> anyhow::Result<ReplayFigures> {
    let key = SealKey::parse(&SealKey::generate("ms5-floor/bench")?)?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    eprintln!("replay: sealing {events} events and signing a checkpoint");
    crate::time_catch_up(pool, &projections::sealing::Sealer, events).await?;
    commands::ledger::seal::write_checkpoint(&mut *pool.acquire().await?, &key, chrono::Utc::now()).await?;
    let rss_before_kib = crate::http::rss_kib();
    let database = replay_tools::Database { database_url: url.to_owned(), connect_timeout_seconds: 10 };
    let mut steps = Vec::new();
    let mut step =
        |name, started: Instant| steps.push(Step { name, events, elapsed: started.elapsed(), peak_kib: peak_kib() });

    eprintln!("replay: the whole log in commit order, with its digest");
    let started = Instant::now();
    let summary =
        replay_tools::log::replay(&database, &replay_tools::log::Selection::default(), |_| Ok(()), &mut |_, _| {})
            .await?;
    anyhow::ensure!(summary.count == u64::try_from(events)?, "the replay saw {} events", summary.count);
    step("replay the log (digest)", started);

    let file = std::env::temp_dir().join(format!("ms5-bench-{}.ndjson", uuid::Uuid::now_v7()));
    eprintln!("replay: export to {}", file.display());
    let started = Instant::now();
    replay_tools::export::to_file(&database, &file, (None, None), true).await?;
    step("export to a file", started);
    let file_bytes = std::fs::metadata(&file)?.len();

    eprintln!("replay: verify the file offline");
    let started = Instant::now();
    let verified = replay_tools::export::verify_file(&file, key.verifier(), true).await?;
    anyhow::ensure!(verified.is_clean(), "the export does not verify: {:?}", verified.fault);
    step("verify the file offline", started);

    eprintln!("replay: import into an empty database");
    let empty = replay_tools::Database { database_url: empty_url.to_owned(), connect_timeout_seconds: 10 };
    let started = Instant::now();
    let imported = replay_tools::export::import(&empty, &file, key.verifier(), true).await?;
    anyhow::ensure!(imported.is_clean(), "the import failed: {:?}", imported.fault);
    step("import into an empty database", started);
    std::fs::remove_file(&file).ok();

    eprintln!("replay: rebuild the OEE read model blue/green");
    let mut connection = pool.acquire().await?.detach();
    colors::request(&mut connection, &Oee).await?;
    let started = Instant::now();
    loop {
        let applied = projections::engine::worker::catch_up_side(&mut connection, &Oee, 5000, Side::Rebuild).await?;
        if applied == 0 && colors::switch::<Oee>(&mut connection).await?.is_some() {
            break;
        }
    }
    step("rebuild the OEE read model (blue/green, to the switch)", started);
    Ok(ReplayFigures { steps, file_bytes, rss_before_kib })
}

pub fn print(figures: &ReplayFigures) {
    println!();
    println!("| replay tools | events | seconds | events/s | peak RSS MiB |");
    println!("|---|---|---|---|---|");
    for step in &figures.steps {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} |",
            step.name,
            step.events,
            step.elapsed.as_secs_f64(),
            step.events as f64 / step.elapsed.as_secs_f64(),
            step.peak_kib as f64 / 1024.0
        );
    }
    println!(
        "- export file: {:.0} MB; the process's RSS before the steps: {:.0} MiB",
        figures.file_bytes as f64 / 1e6,
        figures.rss_before_kib as f64 / 1024.0
    );
}
