//! `ms5-simulate`: runs several lines of a plant through their shifts over the HTTP API (jobs, PLC
//! counter readings, stops and their reasons, Andon calls), compressed by `--speed`, then recounts from
//! its own script what every shift's OEE and the Andon figures must be and compares them with the
//! service's answers. It prints a table and exits non-zero on any difference.
//!
//! Plant time ends at the moment the run starts, so nothing is ever reported from the future: with
//! `--hours 8 --speed 60` the last eight hours are played in eight minutes.

mod client;
mod plant;
mod recount;
mod script;

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use anyhow::Context as _;
use chrono::{Duration, Utc};
use clap::Parser;
use domain::oee::{Interval, scheduled};

use crate::client::Credentials;
use crate::plant::Plant;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The service's address.
    #[arg(long, env = "MS5_SIM_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An administrator of `--site`.
    #[arg(long, env = "MS5_SIM_ADMIN", default_value = "admin")]
    admin: String,
    #[arg(long, env = "MS5_SIM_ADMIN_PASSWORD")]
    admin_password: String,
    #[arg(long, default_value = "plant-1")]
    site: String,
    #[arg(long, default_value_t = 3)]
    lines: u32,
    /// Plant time to play, in hours, ending now.
    #[arg(long, default_value_t = 8.0)]
    hours: f64,
    /// Plant seconds per real second.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    #[arg(long, default_value = "Europe/Berlin")]
    time_zone: chrono_tz::Tz,
    /// The script's seed: the same seed plays the same plant.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.speed > 0.0 && args.hours > 0.0, "--speed and --hours must be positive");
    let http = reqwest::Client::builder().timeout(StdDuration::from_secs(30)).build()?;
    let run_started = Utc::now();
    let tag = format!("sim{}", run_started.timestamp());
    let admin = Credentials::Person { username: args.admin.clone(), password: args.admin_password.clone() };
    let (plant, engineer) = Plant::create(&http, &args.url, admin, &args.site, &tag).await?;

    let span_ms = (args.hours * 3_600_000.0) as i64;
    let plant_end = run_started;
    let plant_start = plant_end - Duration::milliseconds(span_ms);
    let since = plant_start - Duration::days(2);
    let calendar = plant::calendar()?;
    let played = Interval::new(plant_start - Duration::days(1), plant_end).context("an empty span")?;
    let shifts = scheduled(
        &[domain::line::Versioned { version: 1, effective_from: since, value: calendar }],
        &[],
        args.time_zone,
        played,
    );
    let shifts: Vec<_> = shifts.into_iter().filter(|shift| shift.interval.end() > plant_start).collect();

    let mut lines = Vec::new();
    for number in 1..=args.lines {
        let line = format!("{}/sim/{tag}-L{number}", args.site);
        Plant::configure_line(&engineer, &line, args.time_zone.name(), since).await?;
        let run = u64::try_from(run_started.timestamp_micros()).unwrap_or_default();
        let steps = script::line_script(args.seed * 1_000 + u64::from(number), run, &shifts, plant_start, plant_end);
        lines.push((line, steps));
    }
    let steps: usize = lines.iter().map(|(_, steps)| steps.len()).sum();
    eprintln!("playing {} lines, {steps} steps, {:.1} plant hours at {}x", lines.len(), args.hours, args.speed);

    let plant = std::sync::Arc::new(plant);
    let real_start = tokio::time::Instant::now();
    let mut players = Vec::new();
    for (line, steps) in lines.clone() {
        let plant = plant.clone();
        let speed = args.speed;
        players.push(tokio::spawn(async move {
            for step in &steps {
                let plant_ms = (step.at - plant_start).num_milliseconds().max(0) as f64;
                tokio::time::sleep_until(real_start + StdDuration::from_secs_f64(plant_ms / 1000.0 / speed)).await;
                plant
                    .perform(&line, step)
                    .await
                    .with_context(|| format!("{line} at {}: {:?}", step.at, step.action))?;
            }
            anyhow::Ok(())
        }));
    }
    for player in players {
        player.await??;
    }
    eprintln!("played in {:.1} s; waiting for the read models", real_start.elapsed().as_secs_f64());
    let positions = caught_up(&plant.admin).await?;
    let failures = verify(&plant, &lines, &shifts, (plant_start, plant_end), run_started, &positions).await?;
    anyhow::ensure!(failures == 0, "{failures} figures differ from the recount");
    Ok(())
}

/// Waits until every projection has applied the whole log (or one stopped, which is an error); returns
/// each one's position then.
async fn caught_up(admin: &client::Caller) -> anyhow::Result<HashMap<String, i64>> {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(120);
    loop {
        let statuses = admin.get("/api/v1/projections").await?;
        let all = statuses.as_array().cloned().unwrap_or_default();
        if let Some(stopped) = all.iter().find(|status| status["state"] != "running") {
            anyhow::bail!("a projection stopped: {stopped}");
        }
        if !all.is_empty() && all.iter().all(|status| status["lag_events"] == 0) {
            return Ok(all
                .iter()
                .filter_map(|status| Some((status["name"].as_str()?.to_owned(), status["position"].as_i64()?)))
                .collect());
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the read models did not catch up: {statuses}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// The line's status board once it reflects `positions`: the service may answer with a board it kept
/// from before the last commits for a moment, and says so in its `freshness`.
async fn board_reflecting(
    leader: &client::Caller,
    line: &str,
    positions: &HashMap<String, i64>,
) -> anyhow::Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(30);
    loop {
        let status = leader.get(&format!("/api/v1/lines/{line}/status")).await?;
        let freshness = status["freshness"].as_array().cloned().unwrap_or_default();
        let reflects = freshness.iter().all(|entry| {
            let position = |name: Option<&str>| name.and_then(|name| positions.get(name)).copied().unwrap_or_default();
            entry[1].as_i64().unwrap_or_default() >= position(entry[0].as_str())
        });
        if reflects && !freshness.is_empty() {
            return Ok(status);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the board of {line} stays behind {positions:?}: {status}"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

/// Prints each line's shifts as served and as recounted, and the Andon calls; returns the mismatches.
async fn verify(
    plant: &Plant,
    lines: &[(String, Vec<script::Step>)],
    shifts: &[domain::oee::ShiftOccurrence],
    (plant_start, plant_end): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
    run_started: chrono::DateTime<Utc>,
    positions: &HashMap<String, i64>,
) -> anyhow::Result<usize> {
    let mut failures = 0;
    println!("| line | shift | date | OEE served | OEE recounted | units | downtime min | match |");
    println!("|---|---|---|---:|---:|---:|---:|---|");
    let (from, to) = ((plant_start - Duration::days(1)).to_rfc3339(), plant_end.to_rfc3339());
    for (line, steps) in lines {
        let recount = recount::recount(steps);
        let query = format!("/api/v1/oee?line={line}&granularity=shift&from={}&to={}", encode(&from), encode(&to));
        let served = plant.leader.get(&query).await?;
        let as_of = served["as_of"].as_str().and_then(|at| at.parse().ok()).unwrap_or_else(Utc::now);
        let mut compared = 0;
        for period in served["oee"]["periods"].as_array().cloned().unwrap_or_default() {
            let start = period["start"].as_str().and_then(|at| at.parse().ok());
            let Some(shift) = shifts.iter().find(|shift| Some(shift.interval.start()) == start) else { continue };
            compared += 1;
            let expected = recount.window(shift.interval, shifts, as_of);
            let wrong = recount::differences(&expected, &period["oee"]);
            let downtime: u64 = expected.downtime_ms.values().sum();
            println!(
                "| {line} | {} | {} | {} | {} | {} | {:.1} | {} |",
                shift.shift,
                shift.date,
                percent(&period["oee"]["figures"]["oee"]),
                expected
                    .figures
                    .oee
                    .map_or("-".to_owned(), |ratio| format!("{:.2}", ratio.basis_points() as f64 / 100.0)),
                expected.inputs.total_count,
                downtime as f64 / 60_000.0,
                if wrong.is_empty() { "yes".to_owned() } else { format!("NO: {}", wrong.join("; ")) }
            );
            failures += usize::from(!wrong.is_empty());
        }
        if compared != shifts.len() {
            println!("| {line} | shifts served | | {compared} | {} | | | NO |", shifts.len());
            failures += 1;
        }
        let status = board_reflecting(&plant.leader, line, positions).await?;
        let served_status = (
            status["state"].as_str().unwrap_or_default().to_owned(),
            status["job"]["job_id"].as_str().map(str::to_owned),
            status["open_calls"].as_array().map_or(0, Vec::len),
        );
        let expected_status =
            (recount.state().to_owned(), recount.running_job.map(|job| job.to_string()), recount.open_calls);
        let same_status = served_status == expected_status;
        println!(
            "| {line} | status (state, job, open calls) | | {served_status:?} | {expected_status:?} | | | {} |",
            if same_status { "yes" } else { "NO" }
        );
        failures += usize::from(!same_status);
        let times =
            format!("/api/v1/andon-calls/response-times?line={line}&from={}", encode(&run_started.to_rfc3339()));
        let answered = plant.leader.get(&times).await?;
        let resolved: u64 = answered["by_call_type"]
            .as_array()
            .map_or(0, |all| all.iter().filter_map(|t| t["resolved"].as_u64()).sum());
        let same = usize::try_from(resolved).ok() == Some(recount.calls);
        println!(
            "| {line} | Andon calls resolved | | {resolved} | {} | | | {} |",
            recount.calls,
            if same { "yes" } else { "NO" }
        );
        failures += usize::from(!same);
    }
    Ok(failures)
}

fn percent(ratio: &serde_json::Value) -> String {
    ratio["percent"].as_f64().map_or("-".to_owned(), |percent| format!("{percent:.2}"))
}

/// A time for a query string (`+` would read as a space).
fn encode(text: &str) -> String {
    text.replace('+', "%2B")
}
