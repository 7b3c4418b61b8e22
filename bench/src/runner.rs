//! Runs writers against a deadline and summarises what they achieved.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a run achieved: successful commands, failed attempts and the successes' latencies.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub succeeded: u64,
    pub failed: u64,
    pub elapsed: Duration,
    latencies: Vec<Duration>,
    /// Each failure's error, and how often it happened.
    pub errors: std::collections::BTreeMap<String, u64>,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        self.succeeded as f64 / self.elapsed.as_secs_f64()
    }

    /// Several runs as one: their counts added, their latencies together, the longest elapsed time.
    pub fn merged<'a>(parts: impl Iterator<Item = &'a Stats>) -> Stats {
        let mut all = Stats::default();
        for part in parts {
            all.succeeded += part.succeeded;
            all.failed += part.failed;
            all.elapsed = all.elapsed.max(part.elapsed);
            all.latencies.extend_from_slice(&part.latencies);
            for (error, count) in &part.errors {
                *all.errors.entry(error.clone()).or_default() += count;
            }
        }
        all.latencies.sort_unstable();
        all
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1]
    }
}

/// Runs `writers` concurrent loops of `command(writer, iteration)` until `duration` has passed (or
/// `max_per_writer` commands each), counting an `Err` as a failed attempt. With `every`, each writer
/// sends at that interval (writers spread across it) instead of as fast as it can, like a dashboard
/// that refreshes; latencies count from each send.
pub async fn run<F, Fut>(
    writers: usize,
    duration: Duration,
    max_per_writer: u64,
    every: Option<Duration>,
    command: F,
) -> Stats
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let command = Arc::new(command);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(writers);
    for writer in 0..writers {
        let command = Arc::clone(&command);
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let mut iteration = 0;
            let offset = every.map(|every| every.mul_f64(writer as f64 / writers as f64));
            while Instant::now() < deadline && iteration < max_per_writer {
                if let (Some(every), Some(offset)) = (every, offset) {
                    let due = started + offset + every.saturating_mul(u32::try_from(iteration).unwrap_or(u32::MAX));
                    tokio::time::sleep_until(due.into()).await;
                }
                let t0 = Instant::now();
                match command(writer, iteration).await {
                    Ok(()) => {
                        stats.succeeded += 1;
                        stats.latencies.push(t0.elapsed());
                    }
                    Err(error) => {
                        stats.failed += 1;
                        *stats.errors.entry(error).or_default() += 1;
                    }
                }
                iteration += 1;
            }
            stats
        }));
    }
    let mut total = Stats::default();
    for task in tasks {
        if let Ok(stats) = task.await {
            total.succeeded += stats.succeeded;
            total.failed += stats.failed;
            total.latencies.extend(stats.latencies);
            for (error, count) in stats.errors {
                *total.errors.entry(error).or_default() += count;
            }
        }
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}
