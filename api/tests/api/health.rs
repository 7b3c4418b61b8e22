use std::net::SocketAddr;

use sqlx::postgres::PgPoolOptions;

async fn spawn_app(pool: sqlx::PgPool) -> SocketAddr {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
    let application = api::Application::build(pool, listen, api::ServiceSettings::default())
        .unwrap_or_else(|e| panic!("building the app: {e}"));
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
    let pool = commands::database::application_pool(&database.url, 4).await.unwrap_or_else(|e| panic!("{e}"));
    let address = spawn_app(pool).await;
    assert_eq!(get(address, "/health/live").await, (200, serde_json::json!({"status": "live"})));
    assert_eq!(get(address, "/health/ready").await, (200, serde_json::json!({"status": "ready"})));
}

#[tokio::test]
async fn an_unreachable_database_makes_the_service_live_but_not_ready() {
    let pool = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy("postgres://nobody@localhost:1/nothing?host=/nonexistent")
        .unwrap_or_else(|e| panic!("{e}"));
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
        .unwrap_or_else(|e| panic!("POST login: {e}"));
    assert_eq!(login.status().as_u16(), 503, "a command or sign-in without a database is a 503, not a 500");
    let body: serde_json::Value = login.json().await.unwrap_or_else(|e| panic!("login body: {e}"));
    assert_eq!(body["code"], "database_unavailable");
}
