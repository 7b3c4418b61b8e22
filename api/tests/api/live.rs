//! Live push: a dashboard subscribed to a line, an area or a site gets the statuses after each change,
//! and a reconnecting one is brought up to date at once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{LINE, OTHER_LINE, TestApp, on_line, spawn, test_settings};

/// Server-sent events as they arrive on one connection.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Self {
        Self::open_at(app, token, &format!("/api/v1/live/lines/{LINE}"), last_event_id).await
    }

    async fn open_at(app: &TestApp, token: &str, path: &str, last_event_id: Option<&str>) -> Self {
        let mut request = app.client.get(app.url(path)).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("subscribing");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { response, buffer: String::new() }
    }

    /// The next event with data satisfying `wanted`, as (id, data); panics at the deadline. An `error`
    /// event has the id `error`.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> (String, Value) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| block.lines().find_map(|line| line.strip_prefix(name)).map(str::to_owned);
                let id =
                    field("id: ").or_else(|| (field("event: ").as_deref() == Some("error")).then(|| "error".into()));
                if let (Some(id), Some(data)) = (id, field("data: ")) {
                    let status: Value = serde_json::from_str(&data).expect("event data");
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

fn states(lines_status: &Value) -> Vec<(String, String)> {
    let lines = lines_status["lines"].as_array().into_iter().flatten();
    lines
        .map(|status| (status["line"].as_str().unwrap_or("").into(), status["state"].as_str().unwrap_or("").into()))
        .collect()
}

#[tokio::test]
async fn an_area_dashboard_follows_every_line_of_the_area_and_resumes_without_gaps() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (admin, leader) = app.line_and_leader().await;
    let (_, engineer) = app.person(&admin, "enzo", crate::support::on_site("engineer")).await;
    let (_, l3_leader) = app.person(&admin, "lena", on_line("team_leader", LINE)).await;
    let area = "/api/v1/live/areas/plant-1/packing";
    let lines = |body: &Value| body["lines"].as_array().map_or(0, Vec::len);

    // Lena may read L3, the area's only line, so she may follow the area; until it gains L4.
    let mut lenas = Events::open_at(&app, &l3_leader, area, None).await;
    let (_, first) = lenas.until(|body| lines(body) == 1).await;
    assert_eq!(states(&first), [(LINE.to_owned(), "unknown".to_owned())]);

    let register = json!({"line": OTHER_LINE, "name": "L4", "time_zone": "UTC"});
    app.post(Some(&engineer), "/api/v1/lines", &register).await.expect(201);
    let mut events = Events::open_at(&app, &leader, area, None).await;
    let (_, both) = events.until(|body| lines(body) == 2).await;
    assert_eq!(states(&both), [(LINE.to_owned(), "unknown".to_owned()), (OTHER_LINE.to_owned(), "unknown".to_owned())]);
    let (id, ended) = lenas.until(|body| body["code"].is_string()).await;
    assert_eq!((id.as_str(), ended["code"].as_str()), ("error", Some("out_of_scope")), "L4 is not hers");
    let refused = app.get(Some(&l3_leader), area).await.expect(403);
    assert_eq!(refused.code(), "out_of_scope");

    let stop = json!({"line": OTHER_LINE, "started_at": "2026-11-22T06:00:00Z"});
    let stop_id = app.post(Some(&leader), "/api/v1/downtime", &stop).await.expect(201).body["aggregate_id"].clone();
    let l4_stopped = |body: &Value| states(body).contains(&(OTHER_LINE.to_owned(), "stopped".to_owned()));
    let (stopped_id, _) = events.until(l4_stopped).await;
    drop(events);

    // Away: the stop on L4 ends and L3 stops. Back with the last id, both changes come at once.
    let end = json!({"ended_at": "2026-11-22T06:30:00Z"});
    app.post(Some(&leader), &format!("/api/v1/downtime/{}/end", stop_id.as_str().unwrap_or("")), &end)
        .await
        .expect(200);
    app.post(Some(&leader), "/api/v1/downtime", &json!({"line": LINE, "started_at": "2026-11-22T07:00:00Z"}))
        .await
        .expect(201);
    let expected = [(LINE.to_owned(), "stopped".to_owned()), (OTHER_LINE.to_owned(), "unknown".to_owned())];
    let site_board = format!("/api/v1/lines/{OTHER_LINE}/status");
    app.get_until(&leader, &site_board, |body| body["state"] == "unknown").await.expect(200);
    let l3_board = format!("/api/v1/lines/{LINE}/status");
    app.get_until(&leader, &l3_board, |body| body["state"] == "stopped").await.expect(200);
    let mut resumed = Events::open_at(&app, &leader, area, Some(&stopped_id)).await;
    let (resumed_id, current) = resumed.until(|_| true).await;
    assert_ne!(resumed_id, stopped_id);
    assert_eq!(states(&current), expected);

    // The site's stream has the same lines; a leader of one line may not follow the site.
    let mut site = Events::open_at(&app, &leader, "/api/v1/live/sites/plant-1", None).await;
    let (_, whole) = site.until(|_| true).await;
    assert_eq!(states(&whole), expected);
    assert_eq!(app.get(Some(&l3_leader), "/api/v1/live/sites/plant-1").await.expect(403).code(), "out_of_scope");
}
