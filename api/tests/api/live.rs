//! Live push: a dashboard subscribed to a line, an area or a site gets the statuses after each change,
//! and a reconnecting one is brought up to date at once; the open streams are counted in the metrics.

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
    let metrics = app.send(app.client.get(app.url("/metrics"))).await.expect(200);
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(text.lines().any(|line| line == "live_streams_open 1"), "{text}");
    assert!(text.lines().any(|line| line.starts_with(r#"board_reads_total{served="read"} "#)), "{text}");

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

/// The same stream over a WebSocket: JSON text frames `{"id", "event", "data"}`.
struct Socket(tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>);

impl Socket {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Self {
        let resume = last_event_id.map(|id| format!("?last_event_id={id}")).unwrap_or_default();
        Self::open_at(app, token, &format!("/api/v1/live/lines/{LINE}{resume}")).await
    }

    async fn open_at(app: &TestApp, token: &str, path: &str) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let url = app.url(path).replacen("http", "ws", 1);
        let mut request = url.into_client_request().expect("a WebSocket request");
        let bearer = format!("Bearer {token}").parse().expect("a header value");
        request.headers_mut().insert("authorization", bearer);
        let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("upgrading");
        assert_eq!(response.status().as_u16(), 101);
        Self(socket)
    }

    /// The next message satisfying `wanted`; panics at the deadline.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        use futures_util::StreamExt as _;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.0.next()).await;
            let Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) = frame else {
                match frame {
                    Ok(Some(Ok(_))) => continue,
                    other => panic!("no wanted message before the deadline: {other:?}"),
                }
            };
            let message: Value = serde_json::from_str(&text).expect("a JSON message");
            if wanted(&message) {
                return message;
            }
        }
    }
}

#[tokio::test]
async fn a_websocket_carries_the_same_messages_resumes_from_an_id_and_says_when_the_boards_fall_behind() {
    let app = spawn(test_settings()).await;
    let projectors = app.start_projectors();
    let (_, leader) = app.line_and_leader().await;
    // Once every read model has caught up with the registration, both streams open on the same board.
    let board = format!("/api/v1/lines/{LINE}/status");
    let caught_up = |status: &Value| {
        let positions: Vec<&Value> =
            status["freshness"].as_array().into_iter().flatten().map(|pair| &pair[1]).collect();
        status["name"] == "L3" && positions.windows(2).all(|pair| pair[0] == pair[1])
    };
    app.get_until(&leader, &board, caught_up).await.expect(200);

    let mut socket = Socket::open(&app, &leader, None).await;
    let first = socket.until(|message| message["event"] == "line_status").await;
    let (sse_id, sse_first) = Events::open(&app, &leader, None).await.until(|_| true).await;
    assert_eq!((first["id"].as_str(), &first["data"]), (Some(sse_id.as_str()), &sse_first), "one subscription");
    assert_eq!(first["data"]["state"], "unknown");

    let stop = json!({"line": LINE, "started_at": "2026-11-22T06:00:00Z"});
    let stop_id = app.post(Some(&leader), "/api/v1/downtime", &stop).await.expect(201).body["aggregate_id"].clone();
    let stopped = socket.until(|message| message["data"]["state"] == "stopped").await;
    drop(socket);

    // Away, the stop ends; back with the last id, the current status comes first.
    let end = json!({"ended_at": "2026-11-22T06:30:00Z"});
    let stop_id = stop_id.as_str().unwrap_or_default();
    app.post(Some(&leader), &format!("/api/v1/downtime/{stop_id}/end"), &end).await.expect(200);
    app.get_until(&leader, &board, |status| status["state"] == "unknown").await.expect(200);
    let mut resumed = Socket::open(&app, &leader, stopped["id"].as_str()).await;
    let current = resumed.until(|message| message["event"] == "line_status").await;
    assert_eq!(current["data"]["state"], "unknown", "the stop ended while away: {current}");

    // With the projectors stopped, a new call is not on the board: the health message says how far
    // behind it is, instead of the board looking merely quiet.
    resumed.until(|message| message["event"] == "health" && message["data"]["behind_seconds"] == 0.0).await;
    projectors.send(true).expect("stopping the projectors");
    let call =
        json!({"line": LINE, "station": "S1", "call_type": "material", "priority": "low", "description": "Caps"});
    app.post(Some(&leader), "/api/v1/andon-calls", &call).await.expect(201);
    let behind = resumed
        .until(|message| message["event"] == "health" && message["data"]["behind_seconds"].as_f64() > Some(0.0))
        .await;
    assert!(behind["data"]["behind_seconds"].as_f64() < Some(60.0), "{behind}");
}

#[tokio::test]
async fn a_websocket_that_can_no_longer_be_served_ends_with_the_error_and_closes() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (admin, _) = app.line_and_leader().await;
    let (_, engineer) = app.person(&admin, "enzo", crate::support::on_site("engineer")).await;
    let (_, l3_leader) = app.person(&admin, "lena", on_line("team_leader", LINE)).await;
    let mut socket = Socket::open_at(&app, &l3_leader, "/api/v1/live/areas/plant-1/packing").await;
    socket.until(|message| message["event"] == "lines_status").await;

    // The area gains a line Lena may not read: the stream says why it ends, then closes.
    let register = json!({"line": OTHER_LINE, "name": "L4", "time_zone": "UTC"});
    app.post(Some(&engineer), "/api/v1/lines", &register).await.expect(201);
    let ended = socket.until(|message| message["event"] == "error").await;
    assert_eq!(ended["data"]["code"], "out_of_scope", "{ended}");
    let after = tokio::time::timeout(Duration::from_secs(60), futures_util::StreamExt::next(&mut socket.0)).await;
    let closed = matches!(after, Ok(None | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))));
    assert!(closed, "the socket closes after the error: {after:?}");
}

#[tokio::test]
async fn a_broken_websocket_handshake_is_refused_and_a_client_flooding_its_socket_is_closed() {
    let app = spawn(test_settings()).await;
    let (_, leader) = app.line_and_leader().await;
    let path = format!("/api/v1/live/lines/{LINE}");
    let request = app.client.get(app.url(&path)).bearer_auth(&leader).header("upgrade", "websocket");
    let refused = app.send(request).await.expect(400);
    assert_eq!(refused.code(), "invalid_websocket_handshake");

    // The stream is one-way: a frame far beyond any a client needs to send ends the connection.
    use futures_util::SinkExt as _;
    let mut socket = Socket::open(&app, &leader, None).await;
    socket.until(|message| message["event"] == "line_status").await;
    let flood = tokio_tungstenite::tungstenite::Message::text("x".repeat(4 << 20));
    let _ = socket.0.send(flood).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut socket.0)).await {
            Ok(None | Some(Err(_)) | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))) => break,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("the socket stayed open after the flood"),
        }
    }
}
