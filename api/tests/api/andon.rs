//! Andon through the service: a line's escalation ladder per call type, followed by the running
//! scheduler; the calls' history page by page; response times per call type and per shift.

use serde_json::{Value, json};

use crate::support::{TestApp, on_site, spawn, test_settings};

const L3: &str = "plant-1/packing/L3";
const L4: &str = "plant-1/packing/L4";

struct Team {
    engineer: String,
    leader: String,
}

async fn team(app: &TestApp) -> Team {
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    let (_, leader) = app.person(&admin, "theo", on_site("team_leader")).await;
    Team { engineer, leader }
}

async fn register(app: &TestApp, team: &Team, line: &str) {
    let register = json!({"line": line, "name": line, "time_zone": "UTC"});
    app.post(Some(&team.engineer), "/api/v1/lines", &register).await.expect(201);
}

async fn raise(app: &TestApp, team: &Team, line: &str, call_type: &str) -> String {
    let body =
        json!({"line": line, "station": "S1", "call_type": call_type, "priority": "high", "description": "help"});
    let raised = app.post(Some(&team.leader), "/api/v1/andon-calls", &body).await.expect(201);
    raised.body["aggregate_id"].as_str().unwrap_or_default().to_owned()
}

async fn act(app: &TestApp, team: &Team, call: &str, step: &str, body: Value) {
    app.post(Some(&team.leader), &format!("/api/v1/andon-calls/{call}/{step}"), &body).await.expect(200);
}

fn level_of(board: &Value, call: &str) -> Option<i64> {
    board["calls"].as_array()?.iter().find(|row| row["call_id"] == call)?["level"].as_i64()
}

#[tokio::test]
async fn a_call_escalates_by_its_lines_ladder_for_its_type_and_a_bad_ladder_changes_nothing() {
    let app = spawn(test_settings()).await;
    let team = team(&app).await;
    register(&app, &team, L3).await;
    let ladders = format!("/api/v1/lines/{L3}/escalation-ladders");
    let events = app.event_count().await;
    for tiers in [
        json!([]),
        json!([{"level": 3, "unresolved_after_ms": 60_000}, {"level": 2, "unresolved_after_ms": 120_000}]),
        json!([{"level": 2}]),
        json!([{"level": 2, "unresolved_after_ms": 0}]),
    ] {
        let body = json!({"call_type": "safety", "tiers": tiers, "effective_from": "2026-01-01T00:00:00Z"});
        let refused = app.post(Some(&team.engineer), &ladders, &body).await.expect(400);
        assert_eq!(refused.code(), "invalid_body", "{tiers}: {}", refused.body);
    }
    assert_eq!(app.event_count().await, events, "refused ladders append nothing");
    let safety = json!({"call_type": "safety", "effective_from": "2026-01-01T00:00:00Z",
                        "tiers": [{"level": 2, "unacknowledged_after_ms": 1}, {"level": 3, "unresolved_after_ms": 2}]});
    app.post(Some(&team.engineer), &ladders, &safety).await.expect(200);
    let line = app.get(Some(&team.leader), &format!("/api/v1/lines/{L3}")).await.expect(200);
    assert_eq!(line.body["state"]["escalation_ladders"]["safety"][0]["value"], safety["tiers"]);

    let _projectors = app.start_projectors();
    let quality = raise(&app, &team, L3, "quality").await;
    let safety = raise(&app, &team, L3, "safety").await;
    let board = format!("/api/v1/andon-calls?line={L3}");
    let escalated = app.get_until(&team.leader, &board, |body| level_of(body, &safety) == Some(3)).await.expect(200);
    assert_eq!(level_of(&escalated.body, &safety), Some(3), "the safety ladder: L2 and L3 within milliseconds");
    assert_eq!(level_of(&escalated.body, &quality), Some(1), "quality calls keep the default ladder (L2 at 5 min)");
    let history = format!("/api/v1/history?record_type=andon_call&id={safety}");
    let events = app.get(Some(&team.leader), &history).await.expect(200);
    let escalations: Vec<&Value> = events.body["events"]
        .as_array()
        .map(|all| all.iter().filter(|event| event["event_type"] == "AndonEscalated").collect())
        .unwrap_or_default();
    assert_eq!(escalations.len(), 2);
    assert!(escalations.iter().all(|event| event["metadata"]["actor_name"] == "Andon escalation scheduler"));
}

#[tokio::test]
async fn the_history_pages_through_every_call_and_response_times_are_split_by_shift() {
    let app = spawn(test_settings()).await;
    let team = team(&app).await;
    register(&app, &team, L3).await;
    register(&app, &team, L4).await;
    // L3 works around the clock in two shifts; L4 has no calendar, so its calls are outside every shift.
    let shifts = json!({"effective_from": "2026-01-01T00:00:00Z", "shifts": [
        {"name": "day", "start": "00:00:00", "end": "12:00:00", "breaks": []},
        {"name": "night", "start": "12:00:00", "end": "00:00:00", "breaks": []}]});
    app.post(Some(&team.engineer), &format!("/api/v1/lines/{L3}/shift-calendar"), &shifts).await.expect(200);
    let _projectors = app.start_projectors();

    let resolved = raise(&app, &team, L3, "maintenance").await;
    act(&app, &team, &resolved, "acknowledge", json!({})).await;
    act(&app, &team, &resolved, "resolve", json!({"resolution": "fixed", "root_cause": "wear"})).await;
    let cancelled = raise(&app, &team, L3, "material").await;
    act(&app, &team, &cancelled, "cancel", json!({"reason": "raised by mistake"})).await;
    let open = raise(&app, &team, L3, "maintenance").await;
    raise(&app, &team, L4, "quality").await;

    let all = format!("/api/v1/andon-calls/history?line={L3}");
    let everything = app.get_until(&team.leader, &all, |body| body["calls"].as_array().is_some_and(|c| c.len() == 3));
    let ids = |body: &Value| -> Vec<String> {
        body["calls"].as_array().into_iter().flatten().map(|c| c["call_id"].as_str().unwrap_or("").to_owned()).collect()
    };
    let everything = everything.await.expect(200).body;
    assert_eq!(ids(&everything), [resolved.clone(), cancelled.clone(), open.clone()]);
    let taken_by: Vec<&Value> =
        everything["calls"].as_array().into_iter().flatten().map(|c| &c["acknowledged_by"]).collect();
    assert_eq!(taken_by, [&json!("Person theo"), &Value::Null, &Value::Null], "who took each call");
    let first = app.get(Some(&team.leader), &format!("{all}&limit=2")).await.expect(200);
    assert_eq!(ids(&first.body), [resolved.clone(), cancelled.clone()]);
    let next = app.get(Some(&team.leader), &format!("{all}&limit=2&after={cancelled}")).await.expect(200);
    assert_eq!(ids(&next.body), std::slice::from_ref(&open));
    let closed = app.get(Some(&team.leader), &format!("{all}&status=cancelled")).await.expect(200);
    assert_eq!(ids(&closed.body), std::slice::from_ref(&cancelled));
    assert!(closed.body["calls"][0]["closed_at"].is_string());
    let maintenance = app.get(Some(&team.leader), &format!("{all}&call_type=maintenance")).await.expect(200);
    assert_eq!(ids(&maintenance.body), [resolved, open]);
    let bad = app.get(Some(&team.leader), &format!("{all}&status=lost")).await.expect(400);
    assert_eq!(bad.code(), "invalid_query");

    let times = app.get(Some(&team.leader), &format!("/api/v1/andon-calls/response-times?line={L3}")).await.expect(200);
    let counts = |group: &Value| -> Vec<(String, i64, i64, i64)> {
        let row = |r: &Value| {
            let n = |field: &str| r[field].as_i64().unwrap_or(-1);
            (r["call_type"].as_str().unwrap_or("").to_owned(), n("calls"), n("acknowledged"), n("resolved"))
        };
        group["by_call_type"].as_array().into_iter().flatten().map(row).collect()
    };
    let expected = vec![("maintenance".to_owned(), 2, 1, 1), ("material".to_owned(), 1, 0, 0)];
    assert_eq!(counts(&times.body), expected);
    // Each call belongs to the shift its raise fell in ("day" before noon UTC): normally all three in one.
    let shift_of = |call: &Value| {
        let raised_at = call["raised_at"].as_str().unwrap_or_default();
        if raised_at.get(11..13) < Some("12") { "day" } else { "night" }
    };
    let mut raised_in: Vec<&str> = everything["calls"].as_array().into_iter().flatten().map(shift_of).collect();
    raised_in.dedup();
    let by_shift = times.body["by_shift"].as_array().cloned().unwrap_or_default();
    let shifts: Vec<&str> = by_shift.iter().map(|group| group["shift"].as_str().unwrap_or("none")).collect();
    assert_eq!(shifts, raised_in);
    if let [only] = by_shift.as_slice() {
        assert_eq!(counts(only), expected);
    }
    assert!(by_shift[0]["by_call_type"][0]["mean_seconds_to_resolve"].as_f64().is_some_and(|s| s >= 0.0));
    assert_eq!(by_shift[0]["by_call_type"][1]["mean_seconds_to_acknowledge"], Value::Null);

    let other = format!("/api/v1/andon-calls/response-times?line={L4}");
    let outside = app.get_until(&team.leader, &other, |body| body["by_shift"][0]["by_call_type"][0]["calls"] == 1);
    assert_eq!(
        outside.await.expect(200).body["by_shift"],
        json!([{"shift": null, "date": null, "start": null, "end": null,
        "by_call_type": [{"call_type": "quality", "calls": 1, "acknowledged": 0, "resolved": 0,
                          "mean_seconds_to_acknowledge": null, "mean_seconds_to_resolve": null}]}])
    );
    let too_long = format!("{other}&from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z");
    assert_eq!(app.get(Some(&team.leader), &too_long).await.expect(400).code(), "invalid_query");
}
