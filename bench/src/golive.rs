//! The go-live plan's load: 1,000 requests per second through HTTP for a sustained period, with the
//! simulator's kind of mix, against the release service (`ms5-floor`) in its own process with its
//! projectors, on a fresh database with lines that each run a job in a shift. Every second:
//! - 100 production counts (two per line of 50), the floor's commands;
//! - 700 status-board polls (a TV per line refreshing about every 2 s, plus tablets);
//! - 100 OEE queries (the last 24 hours of a line, by shift);
//! - 50 job lists and 50 Andon call lists (supervisors' screens);
//!
//! and `--golive-subscribers` live streams held open the whole time, each receiving every change of its
//! line. Each kind's clients send on a fixed schedule, spread over it; a client whose answer comes
//! after its next send was due sends that one late, so a slow service shows as a lower rate reached
//! beside its latency (which counts from each send). Recorded: latency
//! percentiles per kind and overall, failures, the rate reached, the service's resident memory
//! (sampled every 10 s) and the database's growth.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::live::{Floor, floor};
use crate::runner::{Stats, run};

pub struct GoLive {
    pub lines: usize,
    pub subscribers: usize,
    pub load: Duration,
}

/// One kind of request: its name, its share of the 1,000 per second, and how many clients send it.
const MIX: [(&str, u32, usize); 5] = [
    ("production count (POST)", 100, 50),
    ("line status board", 700, 350),
    ("OEE, last 24 h by shift", 100, 50),
    ("jobs of a line", 50, 25),
    ("Andon calls of a line", 50, 25),
];

pub struct GoLiveFigures {
    pub kinds: Vec<(&'static str, Stats)>,
    pub all: Stats,
    pub live_messages: u64,
    pub live_broken: u64,
    /// KiB: before the load, the largest sample during it, after it.
    pub rss_kib: [u64; 3],
    /// Bytes of the database before and after.
    pub database_bytes: [i64; 2],
    pub events_before: i64,
    pub events_after: i64,
}

pub async fn measure(url: &str, binary: &Path, plan: &GoLive) -> anyhow::Result<GoLiveFigures> {
    let dir = std::env::temp_dir().join(format!("ms5-bench-golive-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let Floor { mut service, pid, address, client, leader, http, lines, jobs } =
        floor(binary, url, &dir, plan.lines).await?;
    let pool = commands::database::application_pool(url, 2).await?;
    let size = "SELECT pg_database_size(current_database())";
    let events = "SELECT count(*) FROM events";
    let (bytes_before, events_before): (i64, i64) =
        (sqlx::query_scalar(size).fetch_one(&pool).await?, sqlx::query_scalar(events).fetch_one(&pool).await?);

    let (stop, stopped) = watch::channel(false);
    let (messages, broken) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut streams = Vec::with_capacity(plan.subscribers);
    for number in 0..plan.subscribers {
        let url = format!("{address}/api/v1/live/lines/{}", lines[number % lines.len()]);
        let hold = hold(client.clone(), url, leader.clone(), stopped.clone(), Arc::clone(&messages));
        let broken = Arc::clone(&broken);
        streams.push(tokio::spawn(async move {
            if hold.await.is_err() {
                broken.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let rss_before = crate::http::rss_kib_of(&pid);
    let sampler = {
        let (pid, mut stopped) = (pid.clone(), stopped.clone());
        tokio::spawn(async move {
            let mut largest = 0;
            loop {
                largest = largest.max(crate::http::rss_kib_of(&pid));
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                    _ = stopped.wait_for(|over| *over) => return largest,
                }
            }
        })
    };

    eprintln!("go-live: 1,000 requests/s for {:?}, {} live streams", plan.load, plan.subscribers);
    let (lines, jobs) = (Arc::new(lines), Arc::new(jobs));
    let base = format!("{address}/api/v1");
    let mut kinds = Vec::new();
    for (index, (_, per_second, clients)) in MIX.into_iter().enumerate() {
        let every = Duration::from_secs(1).mul_f64(clients as f64 / f64::from(per_second));
        let (http, lines, jobs, base, token, client) =
            (Arc::clone(&http), Arc::clone(&lines), Arc::clone(&jobs), base.clone(), leader.clone(), client.clone());
        kinds.push(tokio::spawn(run(clients, plan.load, u64::MAX, Some(every), move |worker, _| {
            let (http, lines, jobs, base, token, client) =
                (Arc::clone(&http), Arc::clone(&lines), Arc::clone(&jobs), base.clone(), token.clone(), client.clone());
            async move {
                let line = worker % lines.len();
                let path = match index {
                    0 => return crate::workload::Target::command(&*http, &jobs[line]).await,
                    1 => format!("lines/{}/status", lines[line]),
                    2 => format!("oee?line={}&granularity=shift", lines[line]),
                    3 => format!("jobs?line={}", lines[line]),
                    _ => format!("andon-calls?line={}", lines[line]),
                };
                get(&client, &format!("{base}/{path}"), &token).await
            }
        })));
    }
    let mut figures = Vec::new();
    for (kind, (name, ..)) in kinds.into_iter().zip(MIX) {
        figures.push((name, kind.await?));
    }
    stop.send(true).ok();
    for stream in streams {
        stream.await.ok();
    }
    let rss_largest = sampler.await?;
    let rss_after = crate::http::rss_kib_of(&pid);
    crate::caught_up(&pool).await?;
    let (bytes_after, events_after): (i64, i64) =
        (sqlx::query_scalar(size).fetch_one(&pool).await?, sqlx::query_scalar(events).fetch_one(&pool).await?);
    service.kill().await.ok();
    std::fs::remove_dir_all(&dir).ok();
    let all = Stats::merged(figures.iter().map(|(_, stats)| stats));
    Ok(GoLiveFigures {
        kinds: figures,
        all,
        live_messages: messages.load(Ordering::Relaxed),
        live_broken: broken.load(Ordering::Relaxed),
        rss_kib: [rss_before, rss_largest.max(rss_after), rss_after],
        database_bytes: [bytes_before, bytes_after],
        events_before,
        events_after,
    })
}

/// A GET; a failure is its status and the error body's code, or the transport's error.
async fn get(client: &reqwest::Client, url: &str, token: &str) -> Result<(), String> {
    let response = client.get(url).bearer_auth(token).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        return Ok(());
    }
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Err(format!("GET {status} {}", error["code"].as_str().unwrap_or_default()))
}

/// Holds a server-sent events stream open until `stopped`, counting its messages.
async fn hold(
    client: reqwest::Client,
    url: String,
    token: String,
    mut stopped: watch::Receiver<bool>,
    messages: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let mut response = client.get(&url).bearer_auth(&token).send().await?.error_for_status()?;
    loop {
        tokio::select! {
            chunk = response.chunk() => {
                let chunk = chunk?.context("the stream ended")?;
                let count = chunk.windows(2).filter(|pair| pair == b"\n\n").count();
                messages.fetch_add(count as u64, Ordering::Relaxed);
            }
            _ = stopped.wait_for(|over| *over) => return Ok(()),
        }
    }
}

pub fn print(figures: &GoLiveFigures, plan: &GoLive) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "\n### Go-live load: 1,000 requests/s for {} s, {} lines, {} live streams\n",
        plan.load.as_secs(),
        plan.lines,
        plan.subscribers
    );
    println!("| requests | per second reached | failed | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, stats) in figures.kinds.iter().map(|(name, stats)| (*name, stats)).chain([("all", &figures.all)]) {
        println!(
            "| {name} | {:.0} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            stats.per_second(),
            stats.failed,
            ms(stats.percentile(0.50)),
            ms(stats.percentile(0.95)),
            ms(stats.percentile(0.99)),
            ms(stats.percentile(1.0))
        );
    }
    let [before, largest, after] = figures.rss_kib;
    let [bytes_before, bytes_after] = figures.database_bytes;
    let events = figures.events_after - figures.events_before;
    println!();
    for (error, count) in &figures.all.errors {
        println!("- failed {count} times: {error}");
    }
    println!("- live streams: {} messages received, {} streams broken", figures.live_messages, figures.live_broken);
    println!(
        "- service RSS: {:.0} MiB before, {:.0} MiB at most during, {:.0} MiB after",
        before as f64 / 1024.0,
        largest as f64 / 1024.0,
        after as f64 / 1024.0
    );
    println!(
        "- database: {:.1} MiB before, {:.1} MiB after: {:.1} MiB for {events} events ({:.2} KiB per event, read models, ledger and indexes included)",
        bytes_before as f64 / 1048576.0,
        bytes_after as f64 / 1048576.0,
        (bytes_after - bytes_before) as f64 / 1048576.0,
        (bytes_after - bytes_before) as f64 / 1024.0 / events.max(1) as f64
    );
    println!("- goal: p95 < 200 ms overall with no failed request");
}
