//! Command semantics over HTTP: Idempotency-Key, expected versions and conflicts, PLC batches with
//! duplicates and bad items, and the metrics those requests leave behind.

use serde_json::{Value, json};

use crate::support::{LINE, Response, TestApp, on_site, spawn, test_settings};

async fn line_with_job(app: &TestApp) -> (String, String, String) {
    let (admin, leader) = app.line_and_leader().await;
    let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 10});
    let job = app.post(Some(&leader), "/api/v1/jobs", &job).await.expect(201);
    (admin, leader, job.body["aggregate_id"].as_str().unwrap_or_default().to_owned())
}

async fn with_key(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> Response {
    app.send(app.client.post(app.url(path)).bearer_auth(token).header("idempotency-key", key).json(body)).await
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_result_and_appends_nothing() {
    let app = spawn(test_settings()).await;
    let (_, leader, _) = line_with_job(&app).await;
    let body = json!({"line": LINE, "product": "SKU-2", "target_quantity": 5});
    let first = with_key(&app, &leader, "/api/v1/jobs", "create-42", &body).await.expect(201);
    let events = app.event_count().await;
    let again = with_key(&app, &leader, "/api/v1/jobs", "create-42", &body).await.expect(201);
    assert_eq!(again.body, first.body, "the same job, not a second one");
    assert_eq!(again.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(app.event_count().await, events);

    let different = json!({"line": LINE, "product": "SKU-3", "target_quantity": 5});
    let reused = with_key(&app, &leader, "/api/v1/jobs", "create-42", &different).await.expect(422);
    assert_eq!(reused.code(), "idempotency_key_reused");
    assert_eq!(app.event_count().await, events);

    let refused = json!({"line": LINE, "product": "SKU-2", "target_quantity": 0});
    let first_refusal = with_key(&app, &leader, "/api/v1/jobs", "bad-1", &refused).await.expect(400);
    let second_refusal = with_key(&app, &leader, "/api/v1/jobs", "bad-1", &refused).await.expect(400);
    assert_eq!(first_refusal.body, second_refusal.body);
    let without_key = app.post(Some(&leader), "/api/v1/jobs", &body).await.expect(201);
    assert_ne!(without_key.body["aggregate_id"], first.body["aggregate_id"], "no key: a new command");
    let invalid = with_key(&app, &leader, "/api/v1/jobs", "", &body).await.expect(400);
    assert_eq!(invalid.code(), "invalid_header");
}

#[tokio::test]
async fn a_keyed_command_whose_answer_was_lost_is_answered_from_its_outcome_and_not_applied_again() {
    let app = spawn(test_settings()).await;
    let (job, olga) = app.running_job().await;
    let path = format!("/api/v1/jobs/{job}/production");
    let body = json!({"good": 7, "reject": 0});
    let first = with_key(&app, &olga, &path, "count-1", &body).await.expect(200);
    let created = json!({"line": LINE, "product": "SKU-9", "target_quantity": 3});
    let (_, leader, _) = (0, app.login("theo", crate::support::OWN_PASSWORD).await, 0);
    let first_job = with_key(&app, &leader, "/api/v1/jobs", "create-9", &created).await.expect(201);
    // What a crash between the append and the stored answer leaves: the outcome, written with the
    // events, and no answer.
    let forgotten =
        sqlx::query("UPDATE idempotency_keys SET status = NULL, response = NULL").execute(&app.owner).await.unwrap();
    assert!(forgotten.rows_affected() >= 2);
    let events = app.event_count().await;

    let again = with_key(&app, &olga, &path, "count-1", &body).await.expect(200);
    assert_eq!(again.body, first.body, "the first answer, rebuilt from the log");
    assert_eq!(again.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let job_again = with_key(&app, &leader, "/api/v1/jobs", "create-9", &created).await.expect(201);
    assert_eq!(job_again.body, first_job.body);
    assert_eq!(app.event_count().await, events, "nothing applied twice");
    assert_eq!(app.units_recorded(&job).await, (1, 7));
}

#[tokio::test]
async fn concurrent_requests_with_one_key_apply_the_command_once_and_all_get_its_answer() {
    let app = spawn(test_settings()).await;
    let (job, olga) = app.running_job().await;
    let path = format!("/api/v1/jobs/{job}/production");
    let body = json!({"good": 1, "reject": 0});
    let answers = futures_util::future::join_all((0..16).map(|_| with_key(&app, &olga, &path, "burst-1", &body))).await;
    let statuses: Vec<u16> = answers.iter().map(|answer| answer.status).collect();
    assert_eq!(statuses, vec![200; 16]);
    assert!(answers.iter().all(|answer| answer.body == answers[0].body), "one answer for all");
    assert_eq!(app.units_recorded(&job).await, (1, 1));
}

#[tokio::test]
async fn requests_their_clients_gave_up_on_midway_leave_no_key_stuck_and_every_count_counted_once() {
    let app = spawn(test_settings()).await;
    let (job, olga) = app.running_job().await;
    let path = format!("/api/v1/jobs/{job}/production");
    let body = json!({"good": 1, "reject": 0});
    const KEYS: u64 = 80;
    // Each first try is cut off with a TCP reset a few milliseconds after it was sent, wherever the
    // request then is (authenticating, deciding, appending, answering).
    let body_text = body.to_string();
    for key in 0..KEYS {
        use tokio::io::AsyncWriteExt;
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {olga}\r\nIdempotency-Key: gateway-{key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body_text}",
            body_text.len()
        );
        let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        // Not a wait for anything: how long this client holds on before it gives up.
        tokio::time::sleep(std::time::Duration::from_millis((key * 7) % 30)).await;
        stream.set_zero_linger().unwrap();
        drop(stream);
    }
    for key in 0..KEYS {
        let retried = with_key(&app, &olga, &path, &format!("gateway-{key}"), &body).await;
        assert_eq!(retried.status, 200, "key {key}: {}", retried.body);
    }
    assert_eq!(app.units_recorded(&job).await, (80, 80), "each key's count once");
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_naming_the_current_version() {
    let app = spawn(test_settings()).await;
    let (_, leader, job) = line_with_job(&app).await;
    let pause = |version: u64| {
        app.client
            .post(app.url(&format!("/api/v1/jobs/{job}/cancel")))
            .bearer_auth(&leader)
            .header("expected-version", version.to_string())
            .json(&json!({"reason": "order withdrawn"}))
    };
    let events = app.event_count().await;
    let stale = app.send(pause(0)).await.expect(409);
    assert_eq!((stale.code(), stale.body["details"]["current_version"].as_u64()), ("version_conflict", Some(1)));
    assert_eq!(app.event_count().await, events);
    let accepted = app.send(pause(1)).await.expect(200);
    assert_eq!(accepted.headers.get("etag").and_then(|v| v.to_str().ok()), Some("\"2\""));
    let refused = app.send(pause(2)).await.expect(422);
    assert_eq!(refused.code(), "wrong_status");
}

#[tokio::test]
async fn a_plc_batch_books_good_items_reports_duplicates_and_rejects_bad_items_one_by_one() {
    let app = spawn(test_settings()).await;
    let (admin, leader, job) = line_with_job(&app).await;
    let (_, gateway) = app.gateway(&admin, "gw-L3", json!({"kind": "line", "line": LINE})).await;
    let (operator, olga) = app.person(&admin, "olga", on_site("operator")).await;
    app.post(Some(&leader), &format!("/api/v1/jobs/{job}/assign"), &json!({"operator": operator})).await.expect(200);
    app.post(Some(&olga), &format!("/api/v1/jobs/{job}/accept"), &json!({})).await.expect(200);
    app.post(Some(&olga), &format!("/api/v1/jobs/{job}/start"), &json!({})).await.expect(200);
    let reading = |sequence: u64, value: u64, quality: &str| {
        json!({"kind": "counter_reading", "job_id": job, "counter": "good", "count_kind": "good", "width": "bits16",
               "sequence": sequence, "value": value, "source_timestamp": "2026-11-22T06:00:00Z", "quality": quality})
    };
    let stop = uuid::Uuid::now_v7();
    let stopped = json!({"kind": "machine_state", "stop_id": stop, "line": LINE, "state": "stopped", "sequence": 7,
                         "source_timestamp": "2026-11-22T06:05:00Z", "quality": "good"});
    let batch = json!({"items": [
        reading(1, 100, "good"),
        reading(2, 130, "good"),
        reading(2, 130, "good"),
        reading(3, 150, "bad"),
        {"kind": "counter_reading", "job_id": job},
        {"kind": "machine_state", "stop_id": stop, "line": "plant-1/packing/L4", "state": "stopped", "sequence": 1,
         "source_timestamp": "2026-11-22T06:05:00Z", "quality": "good"},
        stopped,
    ]});
    let result = app.post(Some(&gateway), "/api/v1/ingest/plc", &batch).await.expect(200);
    let outcomes: Vec<(&str, &str)> = result.body["items"]
        .as_array()
        .map(|items| {
            items.iter().map(|i| (i["outcome"].as_str().unwrap_or(""), i["code"].as_str().unwrap_or(""))).collect()
        })
        .unwrap_or_default();
    assert_eq!(
        outcomes,
        [
            ("accepted", ""),
            ("accepted", ""),
            ("duplicate", ""),
            ("rejected", "bad_quality"),
            ("rejected", "invalid_item"),
            ("rejected", "out_of_scope"),
            ("accepted", "")
        ]
    );
    assert_eq!(
        (result.body["accepted"].as_u64(), result.body["duplicates"].as_u64(), result.body["rejected"].as_u64()),
        (Some(3), Some(1), Some(3))
    );
    let again = app
        .post(Some(&gateway), "/api/v1/ingest/plc", &json!({"items": [batch["items"][1], stopped]}))
        .await
        .expect(200);
    assert_eq!(again.body["duplicates"], 2, "a resent batch changes nothing: {}", again.body);

    let state = app.get(Some(&leader), &format!("/api/v1/state?record_type=job&id={job}")).await.expect(200);
    assert_eq!(state.body["state"]["good"], 30, "the baseline books nothing, the second reading 30");
    let history = app.get(Some(&leader), &format!("/api/v1/history?record_type=downtime&id={stop}")).await.expect(200);
    let started = &history.body["events"][0];
    assert_eq!(started["metadata"]["source_timestamp"], "2026-11-22T06:05:00Z");
    assert_eq!(started["metadata"]["source_sequence"], 7);
    assert_eq!(started["payload"]["source"], json!({"kind": "plc", "device": "gw-L3"}));

    let person = app.post(Some(&leader), "/api/v1/ingest/plc", &json!({"items": []})).await.expect(403);
    assert_eq!(person.code(), "forbidden");
    let too_many = json!({"items": vec![reading(9, 1, "good"); 1001]});
    assert_eq!(app.post(Some(&gateway), "/api/v1/ingest/plc", &too_many).await.expect(400).code(), "too_many_items");
}

#[tokio::test]
async fn metrics_show_requests_by_route_and_status_command_outcomes_and_the_pool() {
    let app = spawn(test_settings()).await;
    let (_, leader, job) = line_with_job(&app).await;
    app.post(Some(&leader), &format!("/api/v1/jobs/{job}/start"), &json!({})).await.expect(422);
    app.get(None, &format!("/api/v1/jobs/{job}/nowhere")).await.expect(404);
    let metrics = app.send(app.client.get(app.url("/metrics"))).await.expect(200);
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    let has = |needle: &str| text.lines().any(|line| line.contains(needle));
    assert!(has(r#"http_requests_total{method="POST",route="/api/v1/jobs/{job_id}/start",status="422"}"#), "{text}");
    assert!(has(r#"http_request_duration_seconds_bucket{method="POST",route="/api/v1/jobs",le="0.005"}"#));
    assert!(has(r#"commands_total{route="/api/v1/jobs/{job_id}/start",outcome="refused"}"#));
    assert!(has(r#"commands_total{route="/api/v1/jobs",outcome="accepted"}"#));
    assert!(has(r#"db_pool_connections{state="open"}"#));
    assert!(has(r#"db_pool_connections{state="max"} "#), "the pool's size, for the exhaustion alert");
    assert!(has(r#"route="unmatched",status="404""#), "an unknown path is no label of its own");
    assert!(!text.contains("nowhere"));
    assert!(has(r#"logins_total{outcome="succeeded"}"#));
}

/// The value of `series` in `/metrics` once `done` holds for it (NaN when the series is absent).
async fn metric_until(app: &TestApp, series: &str, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let value = text
            .lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or(f64::NAN);
        if done(value) {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "{series} is {value}, never as awaited");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn the_floor_is_in_metrics_per_line_its_state_open_and_unanswered_calls_and_last_count() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (job, olga) = app.running_job().await;
    app.post(Some(&olga), &format!("/api/v1/jobs/{job}/production"), &json!({"good": 3, "reject": 0}))
        .await
        .expect(200);
    let leader = app.login("theo", crate::support::OWN_PASSWORD).await;
    let call =
        json!({"line": LINE, "station": "S1", "call_type": "material", "priority": "high", "description": "film"});
    let first = app.post(Some(&leader), "/api/v1/andon-calls", &call).await.expect(201);
    app.post(Some(&leader), "/api/v1/andon-calls", &call).await.expect(201);
    let first = first.body["aggregate_id"].as_str().unwrap().to_owned();
    app.post(Some(&leader), &format!("/api/v1/andon-calls/{first}/acknowledge"), &json!({})).await.expect(200);

    let of_line = |name: &str| format!("{name}{{line=\"{LINE}\"}}");
    metric_until(&app, &of_line("line_running"), |running| running == 1.0).await;
    metric_until(&app, &of_line("andon_calls_open"), |open| open == 2.0).await;
    metric_until(&app, &of_line("andon_calls_unacknowledged"), |waiting| waiting == 1.0).await;
    let waited = metric_until(&app, &of_line("andon_oldest_unacknowledged_seconds"), |s| s >= 0.0).await;
    assert!(waited < 60.0, "{waited}");
    let now = chrono::Utc::now().timestamp() as f64;
    let counted = metric_until(&app, &of_line("line_last_count_timestamp_seconds"), |at| at.is_finite()).await;
    assert!((now - counted).abs() < 120.0, "the count's time, {counted}, is now ({now})");
    // The line has no shift calendar: between shifts its shift figures have no value.
    metric_until(&app, &of_line("line_in_shift"), |in_shift| in_shift == 0.0).await;
    let oee = metric_until(&app, &format!("line_shift_ratio{{line=\"{LINE}\",figure=\"oee\"}}"), |_| true).await;
    assert!(oee.is_nan(), "{oee}");
}
