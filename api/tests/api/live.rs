//! Live push: a dashboard subscribed to a line gets its status after each change, and a reconnecting
//! one is brought up to date at once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{LINE, TestApp, spawn, test_settings};

/// Server-sent events as they arrive on one connection.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Self {
        let mut request = app.client.get(app.url(&format!("/api/v1/live/lines/{LINE}"))).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("subscribing: {e}"));
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { response, buffer: String::new() }
    }

    /// The next `line_status` event satisfying `wanted`, as (id, status); panics at the deadline.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> (String, Value) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| block.lines().find_map(|line| line.strip_prefix(name)).map(str::to_owned);
                if let (Some(id), Some(data)) = (field("id: "), field("data: ")) {
                    let status: Value = serde_json::from_str(&data).unwrap_or_else(|e| panic!("event data: {e}"));
                    if wanted(&status) {
                        return (id, status);
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                other => panic!("no wanted event before the deadline: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_subscribed_dashboard_sees_each_change_and_a_reconnecting_one_misses_nothing() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (_, leader) = app.line_and_leader().await;

    let mut events = Events::open(&app, &leader, None).await;
    let (_, first) = events.until(|_| true).await;
    assert_eq!((first["line"].as_str(), first["state"].as_str()), (Some(LINE), Some("unknown")));

    let stop =
        app.post(Some(&leader), "/api/v1/downtime", &json!({"line": LINE, "started_at": "2026-11-22T06:00:00Z"})).await;
    let stop_id = stop.expect(201).body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    let (stopped_id, stopped) = events.until(|status| status["state"] == "stopped").await;
    assert_eq!(stopped["stop"]["downtime_id"], stop_id.as_str());
    drop(events);

    // While the dashboard is away the stop ends and a call is raised.
    let end = json!({"ended_at": "2026-11-22T06:30:00Z"});
    app.post(Some(&leader), &format!("/api/v1/downtime/{stop_id}/end"), &end).await.expect(200);
    let call =
        json!({"line": LINE, "station": "S1", "call_type": "material", "priority": "low", "description": "Caps low"});
    app.post(Some(&leader), "/api/v1/andon-calls", &call).await.expect(201);
    let board = format!("/api/v1/lines/{LINE}/status");
    let caught_up =
        |status: &Value| status["state"] == "unknown" && status["open_calls"].as_array().is_some_and(|c| c.len() == 1);
    let settled = app.get_until(&leader, &board, caught_up).await.expect(200);
    assert!(caught_up(&settled.body), "the read models caught up: {}", settled.body);

    // Reconnecting with the last id it saw, the dashboard is sent the current status at once.
    let mut resumed = Events::open(&app, &leader, Some(&stopped_id)).await;
    let (resumed_id, current) = resumed.until(|_| true).await;
    assert_ne!(resumed_id, stopped_id);
    assert!(caught_up(&current), "the stop ended and the call raised while away are both there: {current}");
}
