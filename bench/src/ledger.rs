//! The ledger: how fast the sealer catches up over a long log, how fast the whole log verifies, and how
//! far sealing trails the write path while it runs flat out (from each event's recorded time to its
//! ledger entry, both on this machine's clock).

use std::sync::Arc;
use std::time::{Duration, Instant};

use commands::ledger::SealKey;
use sqlx::PgPool;

use crate::runner::run;
use crate::workload::Target;

pub struct LedgerFigures {
    pub events: i64,
    pub trail: Duration,
    pub rss_before_kib: u64,
    pub exports: Vec<(&'static str, crate::http::Exported)>,
    pub seal: Duration,
    pub verify: Duration,
    pub clean: bool,
    pub writes_per_second: f64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    pub sealed_under_load: i64,
}

/// On `pool`, whose log holds `events` events already: seal it from cold, verify it, then measure seal
/// lag while 32 writers run for `duration`.
pub async fn measure(pool: &PgPool, ids: &[String], duration: Duration) -> anyhow::Result<LedgerFigures> {
    let key = SealKey::parse(&SealKey::generate("ms5-floor/bench")?)?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    eprintln!("ledger: sealing {events} events from cold");
    let seal = crate::time_catch_up(pool, &projections::sealing::Sealer, events).await?;
    let mut connection = pool.acquire().await?.detach();
    commands::ledger::seal::write_checkpoint(&mut connection, &key, chrono::Utc::now()).await?;
    eprintln!("ledger: verifying {events} events");
    let started = Instant::now();
    let verification = commands::ledger::verify::verify(pool, key.verifier(), None).await?;
    let verify = started.elapsed();
    eprintln!("ledger: the audit trail over {events} events, then exports of all of it over HTTP");
    let trail = crate::time_catch_up(pool, &projections::read_models::audit::AuditTrail, events).await?;
    let service = crate::http::start(pool.clone()).await?;
    let rss_before_kib = crate::http::rss_kib();
    let mut exports = Vec::new();
    for format in ["csv", "ndjson"] {
        exports.push((format, service.export_trail(format).await?));
    }

    eprintln!("ledger: seal lag while 32 writers run flat out for {duration:?}");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let checkpoints = projections::sealing::checkpoints::Settings {
        key,
        interval: Duration::from_secs(30),
        directory: None,
        keeper: None,
        witness: None,
    };
    let workers =
        projections::spawn_all(pool, projections::engine::worker::Settings::default(), Some(checkpoints), &stopped);
    let from = chrono::Utc::now();
    let store = Arc::new(crate::ours::store(pool, true));
    let ids = Arc::new(ids.to_vec());
    let stats = run(32, duration, u64::MAX, None, move |writer, i| {
        let (store, ids) = (Arc::clone(&store), Arc::clone(&ids));
        async move { store.command(&ids[(writer + i as usize * 32) % ids.len()]).await }
    })
    .await;
    crate::caught_up(pool).await?;
    stop.send(true).ok();
    for worker in workers {
        worker.await.ok();
    }
    let (sealed_under_load, p50, p99, max): (i64, Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT count(*),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),
                max(lag)
         FROM (SELECT extract(epoch FROM l.sealed_at - e.recorded_at)::float8 * 1000 AS lag
               FROM ledger l JOIN events e ON e.position = l.position WHERE e.recorded_at >= $1) lags",
    )
    .bind(from)
    .fetch_one(pool)
    .await?;
    Ok(LedgerFigures {
        events,
        trail,
        rss_before_kib,
        exports,
        seal,
        verify,
        clean: verification.is_clean(),
        writes_per_second: stats.per_second(),
        lag_p50_ms: p50.unwrap_or_default(),
        lag_p99_ms: p99.unwrap_or_default(),
        lag_max_ms: max.unwrap_or_default(),
        sealed_under_load,
    })
}

pub fn print(figures: &LedgerFigures) {
    let rate = |elapsed: Duration| figures.events as f64 / elapsed.as_secs_f64();
    println!(
        "- sealing from cold over {} events: {:.1} s, {:.0} events/s",
        figures.events,
        figures.seal.as_secs_f64(),
        rate(figures.seal)
    );
    println!(
        "- verification of {} events (chains, tree, checkpoint): {:.1} s, {:.0} events/s, {} (goal >= 200,000 events/s)",
        figures.events,
        figures.verify.as_secs_f64(),
        rate(figures.verify),
        if figures.clean { "clean" } else { "NOT CLEAN" }
    );
    println!(
        "- audit trail projection from cold over {} events: {:.1} s, {:.0} events/s",
        figures.events,
        figures.trail.as_secs_f64(),
        rate(figures.trail)
    );
    for (format, exported) in &figures.exports {
        println!(
            "- export of the whole trail as {format} over HTTP: {} entries, {:.0} MB in {:.1} s, {:.0} entries/s; process RSS {:.0} MB before, peak {:.0} MB during",
            exported.lines.saturating_sub(u64::from(*format == "csv")),
            exported.bytes as f64 / 1e6,
            exported.elapsed.as_secs_f64(),
            exported.lines as f64 / exported.elapsed.as_secs_f64(),
            figures.rss_before_kib as f64 / 1024.0,
            exported.peak_rss_kib as f64 / 1024.0
        );
    }
    println!(
        "- seal lag while 32 writers run flat out ({:.0} commands/s, {} events sealed): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 <= 1,000 ms)",
        figures.writes_per_second,
        figures.sealed_under_load,
        figures.lag_p50_ms,
        figures.lag_p99_ms,
        figures.lag_max_ms
    );
}
