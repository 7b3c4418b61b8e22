//! Lag from commit to read-model visibility: commands at a steady rate while the projector workers run,
//! each commit's time against the moment the jobs projection's committed checkpoint first covered it
//! (seen through the projection's own commit notification).

use std::time::{Duration, Instant};

use commands::{PgEventStore, execute};
use domain::job::Job;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::workload::{context, one_good};

/// Lags of every command sent at `rate` per second for `duration`, sorted.
pub async fn measure(
    pool: &PgPool,
    store: &PgEventStore<Job>,
    ids: &[String],
    rate: u64,
    duration: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let (stop, stopped) = watch::channel(false);
    let workers = projections::spawn_all(pool, projections::engine::worker::Settings::default(), None, &stopped);
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(projections::engine::committed::CHANNEL).await?;
    let mut done = stopped.clone();
    let seen = tokio::spawn(async move {
        let mut marks: Vec<(i64, Instant)> = Vec::new();
        loop {
            tokio::select! {
                notification = listener.recv() => {
                    let Ok(notification) = notification else { break };
                    match projections::engine::committed::Committed::parse(notification.payload()) {
                        Some(committed) if committed.projection == "jobs" => marks.push((committed.position, Instant::now())),
                        _ => {}
                    }
                }
                _ = done.changed() => break,
            }
        }
        marks
    });

    // Several paced writers, so that the rate holds even when one command takes longer than 1/rate.
    const WRITERS: u64 = 8;
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (store, ids) = (store.clone(), ids.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 * WRITERS / rate.max(1)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut commits = Vec::new();
            let mut index = usize::try_from(writer).unwrap_or(0);
            while Instant::now() < deadline {
                ticks.tick().await;
                let outcome = execute(&store, &ids[index % ids.len()], one_good(), &context()).await?;
                let committed = Instant::now();
                if let Some(event) = outcome.appended.and_then(|appended| appended.events.first().cloned()) {
                    commits.push((event.position, committed));
                }
                index += usize::try_from(WRITERS).unwrap_or(1);
            }
            anyhow::Ok(commits)
        }));
    }
    let mut commits = Vec::new();
    for task in tasks {
        commits.extend(task.await??);
    }
    commits.sort_unstable_by_key(|(position, _)| *position);
    // Give the projection time to cover the last commit, then stop everything.
    let last = commits.last().map_or(0, |(position, _)| *position);
    let settle = Instant::now() + Duration::from_secs(10);
    while Instant::now() < settle {
        let position: i64 = sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = 'jobs'")
            .fetch_one(pool)
            .await?;
        if position >= last {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).ok();
    let marks = seen.await?;
    for worker in workers {
        worker.await.ok();
    }
    let mut lags: Vec<Duration> = commits
        .iter()
        .filter_map(|(position, committed)| {
            marks
                .iter()
                .find(|(covered, _)| covered >= position)
                .map(|(_, at)| at.saturating_duration_since(*committed))
        })
        .collect();
    anyhow::ensure!(
        lags.len() == commits.len(),
        "{} of {} commits never became visible",
        commits.len() - lags.len(),
        commits.len()
    );
    lags.sort_unstable();
    Ok(lags)
}
