//! The same workload over HTTP: the service in this process on loopback, signed in as a team leader
//! (JWT + session check on every request), one JSON command per request.

use std::net::SocketAddr;

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::workload::Target;

const LINE: &str = "bench/area/L1";
pub const PASSWORD: &str = "Bench-Secret-2026!";

pub struct Http {
    client: reqwest::Client,
    base: String,
    token: String,
    user_id: String,
}

pub async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: &Value) -> Result<Value, String> {
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    if status.is_success() { Ok(body) } else { Err(format!("{status}: {body}")) }
}

/// Starts the service on `pool` and prepares a team leader and a registered line.
pub async fn start(pool: PgPool) -> anyhow::Result<Http> {
    let settings =
        api::ServiceSettings { bootstrap_token: Some("bench".to_owned()), ..api::ServiceSettings::default() };
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    let application = api::Application::build(pool, listen, settings)?;
    let base = format!("http://{}/api/v1", application.address());
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let people = People::bootstrap(&client, &base, "bench").await?;
    let register = json!({"line": LINE, "name": "Bench line", "time_zone": "UTC"});
    post(&client, format!("{base}/lines"), Some(&people.engineer), &register).await.map_err(anyhow::Error::msg)?;
    Ok(Http::acting_as(client, base, people))
}

/// The people a benchmark acts as, signed in: an engineer (configures lines) and a team leader (runs
/// jobs), both granted site `bench`.
pub struct People {
    pub engineer: String,
    pub leader_id: String,
    pub leader: String,
}

impl People {
    /// Creates the first administrator with the one-time `token`, and through them the engineer and the
    /// team leader.
    pub async fn bootstrap(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Self> {
        let url = |path: &str| format!("{base}{path}");
        let bootstrap = json!({"token": token, "username": "admin", "printed_name": "Bench Admin", "password": PASSWORD, "site": "bench"});
        post(client, url("/bootstrap"), None, &bootstrap).await.map_err(anyhow::Error::msg)?;
        let admin = login(client, base, "admin").await?;
        let mut people = Vec::new();
        for (username, role) in [("erin", "engineer"), ("theo", "team_leader")] {
            let body = json!({"username": username, "printed_name": format!("Bench {username}"), "initial_password": "Temporary-2026!",
                              "grants": [{"role": role, "scope": {"kind": "site", "site": "bench"}}]});
            let created = post(client, url("/users"), Some(&admin), &body).await.map_err(anyhow::Error::msg)?;
            let change = json!({"username": username, "current_password": "Temporary-2026!", "new_password": PASSWORD});
            client.post(url("/auth/password")).json(&change).send().await?.error_for_status()?;
            people.push((
                created["aggregate_id"].as_str().unwrap_or_default().to_owned(),
                login(client, base, username).await?,
            ));
        }
        let (leader_id, leader) = people.pop().context("no team leader")?;
        let (_, engineer) = people.pop().context("no engineer")?;
        Ok(Self { engineer, leader_id, leader })
    }
}

pub async fn login(client: &reqwest::Client, base: &str, username: &str) -> anyhow::Result<String> {
    let body = json!({"username": username, "password": PASSWORD});
    let signed_in = post(client, format!("{base}/auth/login"), None, &body).await.map_err(anyhow::Error::msg)?;
    Ok(signed_in["access_token"].as_str().context("no access token")?.to_owned())
}

/// What an export streamed, and the most memory the process held meanwhile.
pub struct Exported {
    pub bytes: u64,
    pub lines: u64,
    pub elapsed: std::time::Duration,
    pub peak_rss_kib: u64,
}

/// This process's resident memory now, in KiB (Linux).
pub fn rss_kib() -> u64 {
    rss_kib_of("self")
}

/// The resident memory of process `pid` (or `self`) now, in KiB (Linux); 0 when unknown.
pub fn rss_kib_of(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

impl Http {
    /// The service at `base` (`.../api/v1`), acting as `people`'s team leader.
    pub fn acting_as(client: reqwest::Client, base: String, people: People) -> Self {
        Self { client, base, token: people.leader, user_id: people.leader_id }
    }

    /// The whole audit trail the team leader may read, streamed as `format` and counted, never held;
    /// samples this process's memory every 50 ms meanwhile.
    pub async fn export_trail(&self, format: &str) -> anyhow::Result<Exported> {
        let started = std::time::Instant::now();
        let (done, mut stopped) = tokio::sync::watch::channel(false);
        let sampler = tokio::spawn(async move {
            let mut peak = rss_kib();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_millis(50)) => peak = peak.max(rss_kib()),
                    _ = stopped.changed() => return peak.max(rss_kib()),
                }
            }
        });
        let url = format!("{}/audit-trail/export?format={format}", self.base);
        let mut response = self.client.get(url).bearer_auth(&self.token).send().await?.error_for_status()?;
        let (mut bytes, mut lines) = (0u64, 0u64);
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len() as u64;
            lines += chunk.iter().filter(|byte| **byte == b'\n').count() as u64;
        }
        let elapsed = started.elapsed();
        done.send(true).ok();
        Ok(Exported { bytes, lines, elapsed, peak_rss_kib: sampler.await? })
    }

    /// A dashboard's query: the line's status board.
    pub async fn line_status(&self) -> Result<(), String> {
        let url = format!("{}/lines/{LINE}/status", self.base);
        let response = self.client.get(url).bearer_auth(&self.token).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        response.bytes().await.map_err(|e| e.to_string())?;
        if status.is_success() { Ok(()) } else { Err(status.to_string()) }
    }

    /// Creates job `id` of product `P-1` on `line`, assigns it to the team leader and starts it.
    pub async fn start_job_on(&self, line: &str, id: &str) -> Result<(), String> {
        let create = json!({"id": id, "line": line, "product": "P-1", "target_quantity": domain::job::JOB_MAX_UNITS});
        post(&self.client, format!("{}/jobs", self.base), Some(&self.token), &create).await?;
        self.job(id, "assign", json!({"operator": self.user_id})).await?;
        self.job(id, "accept", json!({})).await?;
        self.job(id, "start", json!({})).await
    }

    async fn job(&self, id: &str, action: &str, body: Value) -> Result<(), String> {
        post(&self.client, format!("{}/jobs/{id}/{action}", self.base), Some(&self.token), &body).await.map(|_| ())
    }
}

impl Target for Http {
    async fn start_job(&self, id: &str) -> Result<(), String> {
        self.start_job_on(LINE, id).await
    }

    async fn command(&self, id: &str) -> Result<(), String> {
        self.job(id, "production", json!({"good": 1, "reject": 0})).await
    }
}
