//! The service binary as the README runs it: no configuration at all.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(120);

/// Reads the child's stdout on a thread until it announces its address, or the deadline passes.
fn wait_for_address(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("MS5 Floor listening on ") {
                let _ = sender.send(address.to_owned());
            }
        }
    });
    receiver.recv_timeout(DEADLINE).unwrap_or_else(|_| panic!("the service did not start within {DEADLINE:?}"))
}

fn wait_for_exit(mut child: Child) -> std::process::ExitStatus {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    match receiver.recv_timeout(DEADLINE) {
        Ok(Ok(status)) => status,
        other => panic!("the service did not stop within {DEADLINE:?}: {other:?}"),
    }
}

/// Interrupts the service when the test fails before it does, so that neither the service nor its
/// cluster outlives a failed test.
struct StopOnPanic(Option<u32>);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
        }
    }
}

#[tokio::test]
async fn without_a_database_url_the_service_runs_its_own_postgres_and_stops_it_on_shutdown() {
    let dir = std::env::temp_dir().join(format!("ms5-service-test-{}", unique_suffix()));
    let data_dir = dir.join("postgres");
    // Settings may come from a file: the data directory does here.
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let config = dir.join("ms5.env");
    std::fs::write(&config, format!("MS5_DATA_DIR={}\n", data_dir.display())).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ms5-floor"))
        .env_remove("DATABASE_URL")
        .env_remove("MIGRATION_DATABASE_URL")
        .env_remove("MS5_DATA_DIR")
        .env("MS5_LISTEN", "127.0.0.1:0")
        .env("MS5_CONFIG_FILE", &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the service: {e}"));
    let mut guard = StopOnPanic(Some(child.id()));
    let address = wait_for_address(&mut child);

    let ready = reqwest::get(format!("{address}/health/ready")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ready.status().as_u16(), 200);
    assert!(data_dir.join("postmaster.pid").exists(), "the private cluster runs in the data directory");

    // The documented bootstrap: the one-time token is in a file beside the data directory, for its owner only.
    let token_file = dir.join("bootstrap-token");
    let mode =
        std::fs::metadata(&token_file).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let token = std::fs::read_to_string(&token_file).unwrap_or_else(|e| panic!("reading the token: {e}"));
    let body = serde_json::json!({"token": token, "username": "admin", "printed_name": "Ada Admin",
                                  "password": "Correct-Horse-2026", "site": "plant-1"});
    let created = reqwest::Client::new().post(format!("{address}/api/v1/bootstrap")).json(&body).send().await;
    assert_eq!(created.map(|r| r.status().as_u16()).ok(), Some(201));

    guard.0 = None;
    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(interrupted.is_ok_and(|status| status.success()));
    let status = wait_for_exit(child);
    assert!(status.success(), "shutdown exit status: {status}");
    assert!(!data_dir.join("postmaster.pid").exists(), "the private cluster was stopped");
    assert!(Path::new(&data_dir).join("PG_VERSION").exists(), "the cluster's data stays for the next start");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A unique enough suffix without another dependency: the process id and the time.
fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}
