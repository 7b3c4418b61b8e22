//! The "done when", as a test: the service runs (API, projectors, escalation scheduler) on a
//! fresh database, and the simulator plays two lines through eight plant hours over HTTP, then checks
//! every shift's OEE, each line's status board and its Andon calls against its own recount.

// Test code: a failed unwrap is a failed test, with its error in the message (clippy.toml allows the
// same in unit tests; helpers outside a #[test] need it said here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

const BOOTSTRAP_TOKEN: &str = "simulation-bootstrap-token";
const ADMIN_PASSWORD: &str = "Correct-Horse-2026";

#[tokio::test]
async fn a_simulated_plant_shows_the_figures_its_script_recounts() {
    let database = testkit::fresh_database().await;
    let pool = commands::database::application_pool(&database.url, 16).await.unwrap();
    let settings =
        api::ServiceSettings { bootstrap_token: Some(BOOTSTRAP_TOKEN.to_owned()), ..api::ServiceSettings::default() };
    let listen = "127.0.0.1:0".parse().unwrap();
    let service = api::Application::build(pool.clone(), listen, settings).unwrap();
    let url = format!("http://{}", service.address());
    tokio::spawn(service.run_until_stopped());
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    projections::spawn_all(&pool, projections::engine::worker::Settings::default(), None, &stopped);

    let bootstrap = serde_json::json!({"token": BOOTSTRAP_TOKEN, "username": "admin", "printed_name": "Ada Admin",
                                       "password": ADMIN_PASSWORD, "site": "plant-1"});
    let created = reqwest::Client::new().post(format!("{url}/api/v1/bootstrap")).json(&bootstrap).send().await;
    assert_eq!(created.map(|response| response.status().as_u16()).ok(), Some(201));

    // The simulator is a separate process, as in production; it blocks, so it runs off the runtime.
    let simulate = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ms5-simulate"))
            .args(["--url", &url, "--lines", "2", "--hours", "8", "--speed", "2400", "--seed", "7"])
            .env("MS5_SIM_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(300), simulate)
        .await
        .unwrap_or_else(|_| panic!("the simulation did not finish in 5 minutes"))
        .unwrap()
        .expect("running the simulator");
    let table = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the simulator found differences:\n{table}\n{log}");
    let rows: Vec<&str> = table.lines().filter(|row| row.starts_with("| plant-1/")).collect();
    let names = ["| early |", "| late |", "| night |", "| weekend-day |", "| weekend-night |"];
    let shifts = rows.iter().filter(|row| names.iter().any(|name| row.contains(name)));
    assert!(shifts.count() >= 4, "every line's shifts were compared:\n{table}");
    assert_eq!(rows.iter().filter(|row| row.contains("status (state")).count(), 2, "{table}");
    assert!(rows.iter().all(|row| row.ends_with("| yes |")), "{table}");
}
