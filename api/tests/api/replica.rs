//! A read replica (a streaming hot standby made with pg_basebackup, on a cluster of the test's own):
//! dashboards read from it and say so, and fall back to the primary while it lags or is gone.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use crate::binary::own_cluster;
use crate::support::{LINE, TestApp, test_settings};

/// The count of a metric's series in `/metrics`, 0 when absent.
async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

fn jobs_from(body: &Value, count: usize, from: &str) -> bool {
    body["jobs"].as_array().is_some_and(|jobs| jobs.len() == count) && body["freshness"]["read_from"] == from
}

#[tokio::test]
async fn dashboards_read_from_the_replica_and_fall_back_to_the_primary_while_it_lags_or_is_gone() {
    let (guard, _, primary, url) = own_cluster("replica").await;
    let standby_options =
        local_postgres::ClusterOptions { data_dir: guard.0.join("standby"), throwaway: true, max_connections: 50 };
    let started = tokio::task::spawn_blocking(move || primary.start_standby(&standby_options)).await.unwrap();
    let standby = started.expect("a streaming standby of the test's cluster");
    let replica_url = standby.url("faults");

    let pool = commands::database::application_pool(&url, 16).await.unwrap();
    let replica = api::reads::ReadReplica {
        pool: commands::database::application_pool_lazy(&replica_url, 8).unwrap(),
        max_lag: Duration::from_secs(1),
    };
    let settings = api::ServiceSettings { read_replica: Some(replica), ..test_settings() };
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let application = api::Application::build(pool.clone(), listen, settings).unwrap();
    let address = application.address();
    tokio::spawn(application.run_until_stopped());
    let owner = commands::database::application_pool(&url, 2).await.unwrap();
    let app = TestApp { address, client: reqwest::Client::new(), owner, pool };
    let _projectors = app.start_projectors();

    let (_, leader) = app.line_and_leader().await;
    let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 10});
    app.post(Some(&leader), "/api/v1/jobs", &job).await.expect(201);
    let jobs = format!("/api/v1/jobs?line={LINE}");
    app.get_until(&leader, &jobs, |body| jobs_from(body, 1, "replica")).await;
    assert!(metric(&app, "reads_total{from=\"replica\",fallback=\"none\"}").await >= 1.0);
    assert_eq!(metric(&app, "read_replica_up").await, 1.0);

    // The replica stops replaying: what is written next is only on the primary, and reads go there.
    let mut superuser = <sqlx::PgConnection as sqlx::Connection>::connect(&replica_url).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()").execute(&mut superuser).await.unwrap();
    app.post(Some(&leader), "/api/v1/jobs", &job).await.expect(201);
    app.get_until(&leader, &jobs, |body| jobs_from(body, 2, "primary")).await;
    assert!(metric(&app, "reads_total{from=\"primary\",fallback=\"lagging\"}").await >= 1.0);
    assert!(metric(&app, "read_replica_lag_seconds").await > 1.0);

    // It catches up: reads go back to it.
    sqlx::query("SELECT pg_wal_replay_resume()").execute(&mut superuser).await.unwrap();
    drop(superuser);
    app.get_until(&leader, &jobs, |body| jobs_from(body, 2, "replica")).await;

    // It goes away: reads answer from the primary, and the metrics say why.
    tokio::task::spawn_blocking(move || standby.stop()).await.unwrap().unwrap();
    app.get_until(&leader, &jobs, |body| jobs_from(body, 2, "primary")).await;
    assert_eq!(metric(&app, "read_replica_up").await, 0.0);
    assert!(metric(&app, "reads_total{from=\"primary\",fallback=\"unreachable\"}").await >= 1.0);
    // Commands never went to the replica: they kept working throughout.
    app.post(Some(&leader), "/api/v1/jobs", &job).await.expect(201);
    app.get_until(&leader, &jobs, |body| jobs_from(body, 3, "primary")).await;
}
