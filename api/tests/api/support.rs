//! A running service on a fresh database, and a client that speaks to it as people and devices do.

use std::net::SocketAddr;
use std::time::Duration;

use api::ServiceSettings;
use serde_json::{Value, json};
use sqlx::PgPool;

pub const BOOTSTRAP_TOKEN: &str = "test-bootstrap-token";
pub const ADMIN_PASSWORD: &str = "Correct-Horse-2026";
pub const LINE: &str = "plant-1/packing/L3";
pub const LINE_PATH: &str = "plant-1/packing/L3";
pub const OTHER_LINE: &str = "plant-1/packing/L4";

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    /// The database owner's pool, for checks the API does not offer (counting events).
    pub owner: PgPool,
    /// The service's own pool, for starting its projector workers.
    pub pool: PgPool,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Response {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected response: {}", self.body);
        self
    }
}

/// The seal key of every service and projector this test process starts.
pub fn seal_key() -> &'static commands::ledger::SealKey {
    static KEY: std::sync::OnceLock<commands::ledger::SealKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        commands::ledger::SealKey::parse(&commands::ledger::SealKey::generate("ms5-floor/test").unwrap()).unwrap()
    })
}

pub fn test_settings() -> ServiceSettings {
    ServiceSettings {
        bootstrap_token: Some(BOOTSTRAP_TOKEN.to_owned()),
        ledger_verifier: Some(seal_key().verifier().clone()),
        ..ServiceSettings::default()
    }
}

pub async fn spawn(settings: ServiceSettings) -> TestApp {
    spawn_on(&testkit::fresh_database().await, settings).await
}

/// The service in this process on an existing database (which service binaries may share).
pub async fn spawn_on(database: &testkit::TestDatabase, settings: ServiceSettings) -> TestApp {
    let pool = commands::database::application_pool(&database.url, 16).await.unwrap();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let application = api::Application::build(pool.clone(), listen, settings).expect("building");
    let address = application.address();
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    TestApp { address, client, owner: database.owner_pool().await, pool }
}

impl TestApp {
    /// Starts the projector workers, as the binary does; they run while the returned sender lives.
    pub fn start_projectors(&self) -> tokio::sync::watch::Sender<bool> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let checkpoints = projections::sealing::checkpoints::Settings {
            key: seal_key().clone(),
            interval: Duration::from_millis(200),
            directory: None,
            keeper: None,
            witness: None,
        };
        projections::spawn_all(
            &self.pool,
            projections::engine::worker::Settings::default(),
            Some(checkpoints),
            &stopped,
        );
        stop
    }

    /// Polls `path` until `done` holds for its body, and returns that response; fails the test when it
    /// does not hold within the deadline.
    pub async fn get_until(&self, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Response {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let response = self.get(Some(token), path).await;
            if done(&response.body) {
                return response;
            }
            assert!(std::time::Instant::now() < deadline, "GET {path} never answered as awaited: {response:?}");
            tokio::task::yield_now().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Response {
        let response = request.send().await.expect("request failed");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("reading the body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Response { status, body, headers }
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: &Value) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&self.owner).await.unwrap()
    }

    /// Creates the first administrator (site plant-1) and signs in.
    pub async fn bootstrap_admin(&self) -> String {
        let body = json!({
            "token": BOOTSTRAP_TOKEN, "username": "admin", "printed_name": "Ada Admin",
            "password": ADMIN_PASSWORD, "site": "plant-1"
        });
        self.post(None, "/api/v1/bootstrap", &body).await.expect(201);
        self.login("admin", ADMIN_PASSWORD).await
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let response = self
            .post(None, "/api/v1/auth/login", &json!({"username": username, "password": password}))
            .await
            .expect(200);
        response.body["access_token"].as_str().expect("no token").to_owned()
    }

    /// An administrator creates the account; the person sets their own password and signs in.
    /// Returns (user id, access token).
    pub async fn person(&self, admin: &str, username: &str, grants: Value) -> (String, String) {
        let initial = TEMPORARY_PASSWORD;
        let body = json!({
            "username": username, "printed_name": format!("Person {username}"),
            "grants": grants, "initial_password": initial
        });
        let created = self.post(Some(admin), "/api/v1/users", &body).await.expect(201);
        let id = created.body["aggregate_id"].as_str().expect("no id").to_owned();
        let change = json!({"username": username, "current_password": initial, "new_password": OWN_PASSWORD});
        self.post(None, "/api/v1/auth/password", &change).await.expect(204);
        (id, self.login(username, OWN_PASSWORD).await)
    }

    /// The first administrator, an engineer who registers `LINE`, and a team leader for the site: the
    /// administrator's and the team leader's tokens.
    pub async fn line_and_leader(&self) -> (String, String) {
        let admin = self.bootstrap_admin().await;
        let (_, engineer) = self.person(&admin, "erin", on_site("engineer")).await;
        let (_, leader) = self.person(&admin, "theo", on_site("team_leader")).await;
        let register = json!({"line": LINE, "name": "L3", "time_zone": "UTC"});
        self.post(Some(&engineer), "/api/v1/lines", &register).await.expect(201);
        (admin, leader)
    }

    /// A job on `LINE` that an operator has started: its id and the operator's token.
    pub async fn running_job(&self) -> (String, String) {
        let (admin, leader) = self.line_and_leader().await;
        let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 10});
        let job = self.post(Some(&leader), "/api/v1/jobs", &job).await.expect(201);
        let job = job.body["aggregate_id"].as_str().unwrap_or_default().to_owned();
        let (operator, olga) = self.person(&admin, "olga", on_site("operator")).await;
        self.post(Some(&leader), &format!("/api/v1/jobs/{job}/assign"), &json!({"operator": operator}))
            .await
            .expect(200);
        for step in ["accept", "start"] {
            self.post(Some(&olga), &format!("/api/v1/jobs/{job}/{step}"), &json!({})).await.expect(200);
        }
        (job, olga)
    }

    /// How many production records a job has and the good units they booked, from the log itself.
    pub async fn units_recorded(&self, job: &str) -> (i64, i64) {
        sqlx::query_as(
            "SELECT count(*), COALESCE(sum((payload->>'good')::bigint), 0)::bigint FROM events
             WHERE aggregate_id = $1 AND event_type = 'ProductionRecorded'",
        )
        .bind(job)
        .fetch_one(&self.owner)
        .await
        .unwrap()
    }

    /// Enrols a PLC gateway for `scope` and signs it in. Returns (device id, access token).
    pub async fn gateway(&self, admin: &str, device_id: &str, scope: Value) -> (String, String) {
        self.device(admin, (device_id, &format!("Gateway {device_id}")), "plc_gateway", scope).await
    }

    /// Enrols a device of `kind` with its id and name, and signs it in: its id and access token.
    pub async fn device(
        &self,
        admin: &str,
        (device_id, name): (&str, &str),
        kind: &str,
        scope: Value,
    ) -> (String, String) {
        let body = json!({"device_id": device_id, "name": name, "kind": kind, "scope": scope});
        let enrolled = self.post(Some(admin), "/api/v1/devices", &body).await.expect(201);
        let secret = enrolled.body["secret"].as_str().expect("no secret").to_owned();
        let signed_in = self
            .post(None, "/api/v1/auth/device", &json!({"device_id": device_id, "secret": secret}))
            .await
            .expect(200);
        (device_id.to_owned(), signed_in.body["access_token"].as_str().unwrap_or_default().to_owned())
    }
}

/// What a person chooses for themselves after the administrator's temporary password.
pub const OWN_PASSWORD: &str = "Chosen-Secret-2026!";

pub const TEMPORARY_PASSWORD: &str = "Temporary-Pass-2026!";

pub fn on_site(role: &str) -> Value {
    json!([{"role": role, "scope": {"kind": "site", "site": "plant-1"}}])
}

pub fn on_line(role: &str, line: &str) -> Value {
    json!([{"role": role, "scope": {"kind": "line", "line": line}}])
}
