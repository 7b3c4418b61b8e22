use std::net::SocketAddr;

use sqlx::postgres::PgPoolOptions;

async fn spawn_app(pool: sqlx::PgPool) -> SocketAddr {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let application = api::Application::build(pool, listen, api::ServiceSettings::default()).expect("building the app");
    let address = application.address();
    tokio::spawn(application.run_until_stopped());
    address
}

async fn get(address: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{address}{path}")).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_else(|e| panic!("GET {path} body: {e}"));
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path} body {text:?}: {e}")))
}

#[tokio::test]
async fn a_migrated_database_makes_the_service_live_and_ready() {
    let database = testkit::fresh_database().await;
    let pool = commands::database::application_pool(&database.url, 4).await.unwrap();
    let address = spawn_app(pool).await;
    assert_eq!(get(address, "/health/live").await, (200, serde_json::json!({"status": "live"})));
    assert_eq!(get(address, "/health/ready").await, (200, serde_json::json!({"status": "ready"})));
}

#[tokio::test]
async fn an_unreachable_database_makes_the_service_live_but_not_ready() {
    let pool = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy("postgres://nobody@localhost:1/nothing?host=/nonexistent")
        .unwrap();
    let address = spawn_app(pool).await;
    assert_eq!(get(address, "/health/live").await.0, 200);
    let (status, body) = get(address, "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "database_unavailable");

    let login = reqwest::Client::new()
        .post(format!("http://{address}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": "Correct-Horse-2026"}))
        .send()
        .await
        .expect("POST login");
    assert_eq!(login.status().as_u16(), 503, "a command or sign-in without a database is a 503, not a 500");
    let body: serde_json::Value = login.json().await.expect("login body");
    assert_eq!(body["code"], "database_unavailable");
}

#[tokio::test]
async fn a_transaction_left_open_in_another_database_is_named_as_the_horizon_holder_until_it_ends() {
    let app = crate::support::spawn(crate::support::test_settings()).await;
    let _projectors = app.start_projectors();
    let (admin, leader) = app.line_and_leader().await;
    let caught_up = |body: &serde_json::Value| {
        body.as_array().is_some_and(|all| !all.is_empty() && all.iter().all(|p| p["lag_events"] == 0))
    };
    app.get_until(&admin, "/api/v1/projections", caught_up).await.expect(200);

    // Someone's forgotten session in another database of the same cluster, inside a transaction.
    let elsewhere = testkit::fresh_database().await;
    let forgotten = elsewhere.owner_pool().await;
    let mut session = forgotten.begin().await.unwrap();
    let (pid, _): (i32, String) =
        sqlx::query_as("SELECT pg_backend_pid(), pg_current_xact_id()::text").fetch_one(&mut *session).await.unwrap();
    let job = serde_json::json!({"line": crate::support::LINE, "product": "SKU-1", "target_quantity": 10});
    app.post(Some(&leader), "/api/v1/jobs", &job).await.expect(201);
    let held = |body: &serde_json::Value| {
        body.as_array().is_some_and(|all| all.iter().any(|p| p["held_back_by"]["backend_pid"] == pid))
    };
    let status = app.get_until(&admin, "/api/v1/projections", held).await.expect(200);
    let jobs = status.body.as_array().and_then(|all| all.iter().find(|p| p["name"] == "jobs")).cloned();
    let holder = jobs.map(|jobs| jobs["held_back_by"].clone()).unwrap_or_default();
    assert_eq!(holder["backend_pid"], pid, "{status:?}");
    assert_eq!(holder["database"], elsewhere.name.as_str());
    assert!(holder["transaction_age_seconds"].as_f64().is_some_and(|age| age >= 0.0));
    let metrics = app.get(None, "/metrics").await;
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(text.contains("projection_horizon_held_back{projection=\"jobs\"} 1"), "{text}");

    session.rollback().await.unwrap();
    let released = app.get_until(&admin, "/api/v1/projections", caught_up).await.expect(200);
    let all = released.body.as_array().cloned().unwrap_or_default();
    assert!(all.iter().all(|p| p["held_back_by"].is_null()), "{all:?}");
}
