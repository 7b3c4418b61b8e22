//! Debian's Prometheus scraping the service on loopback with our alert rules: a projection stopped by
//! an event it cannot apply raises `MS5ProjectionStopped`, which resolves once the read model is
//! rebuilt; the dashboards' queries evaluate on what was scraped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{LINE, spawn, test_settings};

const DEADLINE: Duration = Duration::from_secs(60);

/// A Prometheus server of the test's own; killed and its data removed when dropped.
struct Prometheus {
    process: Child,
    dir: PathBuf,
    url: String,
    client: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `deploy/monitoring/alerts.yaml` with every `for:` shortened to one second, so that the test sees
/// an alert fire in seconds (the durations themselves are covered by `promtool test rules`).
fn rules_firing_at_once() -> String {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/monitoring/alerts.yaml");
    let text = std::fs::read_to_string(rules).unwrap();
    text.lines()
        .map(|line| match line.find("for: ") {
            Some(at) => format!("{}for: 1s", &line[..at]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Prometheus {
    /// Starts Prometheus scraping `target` every second and evaluating the rules every second.
    async fn start(target: std::net::SocketAddr) -> Self {
        let dir = std::env::temp_dir().join(format!("ms5-prometheus-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rules.yaml"), rules_firing_at_once()).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yaml]\n\
             scrape_configs:\n  - job_name: ms5\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        // A free port: Prometheus takes no port 0.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's prometheus (scripts/check-deploy installs it)");
        let prometheus = Self { process, dir, url: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() };
        prometheus.until("Prometheus is ready", |p| async move { p.get("/-/ready").await.is_some() }).await;
        prometheus
    }

    async fn get(&self, path: &str) -> Option<String> {
        let response = self.client.get(format!("{}{path}", self.url)).send().await.ok()?;
        if response.status().is_success() { response.text().await.ok() } else { None }
    }

    /// The result of an instant query; fails the test on a query Prometheus refuses.
    async fn query(&self, expression: &str) -> Vec<Value> {
        let response = self.client.get(format!("{}/api/v1/query", self.url)).query(&[("query", expression)]);
        let body: Value = response.send().await.unwrap().json().await.unwrap();
        assert_eq!(body["status"], "success", "{expression}: {body}");
        body["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The state of `alert` for `projection` (`pending`, `firing`), or `None` when it is not active.
    async fn alert(&self, alert: &str, projection: &str) -> Option<String> {
        let body: Value = serde_json::from_str(&self.get("/api/v1/alerts").await?).ok()?;
        body["data"]["alerts"].as_array()?.iter().find_map(|active| {
            (active["labels"]["alertname"] == alert && active["labels"]["projection"] == projection)
                .then(|| active["state"].as_str().unwrap_or_default().to_owned())
        })
    }

    /// Waits until `done` holds, failing the test with `what` at the deadline.
    async fn until<'a, F, Fut>(&'a self, what: &str, done: F)
    where
        F: Fn(&'a Self) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + DEADLINE;
        while !done(self).await {
            assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn prometheus_fires_the_stopped_projection_alert_on_a_poisoned_event_and_resolves_it_after_the_rebuild() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (admin, leader) = app.line_and_leader().await;
    let prometheus = Prometheus::start(app.address).await;
    prometheus
        .until("the service is scraped", |p| async move {
            p.query("up{job=\"ms5\"} == 1").await.len() == 1
                && !p.query("projection_stopped{projection=\"jobs\"} == 0").await.is_empty()
                && !p.query("line_running").await.is_empty()
        })
        .await;

    // Every query of the dashboards evaluates on what was scraped (every line chosen).
    for name in ["system", "production", "andon"] {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../deploy/monitoring/dashboards/{name}.json"));
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                prometheus.query(&target["expr"].as_str().unwrap().replace("$line", ".+")).await;
            }
        }
    }
    assert!(!prometheus.query("sum by (status) (http_requests_total)").await.is_empty(), "requests are counted");
    let line = format!("line_running{{line=\"{LINE}\"}} == 0");
    assert_eq!(prometheus.query(&line).await.len(), 1, "the line is known, with no job running");

    // An event the jobs projection cannot apply: its read model refuses every new row.
    sqlx::query("ALTER TABLE rm_jobs_blue.read_jobs ADD CONSTRAINT poisoned CHECK (false) NOT VALID")
        .execute(&app.owner)
        .await
        .unwrap();
    let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 10});
    app.post(Some(&leader), "/api/v1/jobs", &job).await.expect(201);
    prometheus
        .until("MS5ProjectionStopped fires for jobs", |p| async move {
            p.alert("MS5ProjectionStopped", "jobs").await.as_deref() == Some("firing")
        })
        .await;
    assert_eq!(prometheus.alert("MS5ProjectionStopped", "andon").await, None, "only the stopped one");

    // The runbook's recovery: rebuild the read model (into the other schema); the alert resolves.
    let rebuild = json!({"reason": "jobs stopped on a row its read model refused"});
    app.post(Some(&admin), "/api/v1/projections/jobs/rebuild", &rebuild).await.expect(202);
    prometheus
        .until(
            "MS5ProjectionStopped resolves",
            |p| async move { p.alert("MS5ProjectionStopped", "jobs").await.is_none() },
        )
        .await;
    let listed = app.get(Some(&leader), &format!("/api/v1/jobs?line={LINE}")).await.expect(200);
    assert_eq!(listed.body["jobs"].as_array().map(Vec::len), Some(1), "the rebuilt read model has the job");
}
