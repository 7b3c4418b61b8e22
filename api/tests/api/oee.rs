//! OEE end to end: docs/oee.md's worked example scripted as a shift through the API (line, calendar, job,
//! stops with reasons, counts with source times), read back from the OEE endpoint; an area roll-up that
//! sums its lines; and the status board's running shift with an open stop.

use serde_json::{Value, json};

use crate::support::{TestApp, on_line, on_site, spawn, test_settings};

const L3: &str = "plant-1/packing/L3";
const L4: &str = "plant-1/packing/L4";

struct Team {
    admin: String,
    engineer: String,
    leader: String,
    operator: String,
    operator_id: String,
}

async fn team(app: &TestApp) -> Team {
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    let (_, leader) = app.person(&admin, "theo", on_site("team_leader")).await;
    let (operator_id, operator) = app.person(&admin, "olga", on_site("operator")).await;
    Team { admin, engineer, leader, operator, operator_id }
}

/// A Berlin line with an early shift 06:00-14:00 (breaks of 15, 30 and 15 minutes), a jam reason and
/// an ideal cycle time of 1.0 s for SKU-1, all in force since 1 January.
async fn configure(app: &TestApp, team: &Team, line: &str, time_zone: &str, shift: Value) {
    let register = json!({"line": line, "name": line, "time_zone": time_zone});
    app.post(Some(&team.engineer), "/api/v1/lines", &register).await.expect(201);
    let at = |what: &str| format!("/api/v1/lines/{line}/{what}");
    let calendar = json!({"shifts": [shift], "effective_from": "2026-01-01T00:00:00Z"});
    app.post(Some(&team.engineer), &at("shift-calendar"), &calendar).await.expect(200);
    let cycle = json!({"product": "SKU-1", "ideal_cycle_time_ms": 1000, "effective_from": "2026-01-01T00:00:00Z"});
    app.post(Some(&team.engineer), &at("ideal-cycle-times"), &cycle).await.expect(200);
    let jam = json!({"code": "jam", "label": "Jam", "loss_category": "unplanned"});
    app.post(Some(&team.engineer), &at("downtime-reasons"), &jam).await.expect(200);
    for (code, category) in [("crushed", "production"), ("warm-up", "startup")] {
        let reject = json!({"code": code, "label": code, "category": category});
        app.post(Some(&team.engineer), &at("reject-reasons"), &reject).await.expect(200);
    }
}

fn early_shift() -> Value {
    let breaks: Vec<Value> = [("08:00:00", 15), ("10:00:00", 30), ("12:00:00", 15)]
        .iter()
        .map(|(start, minutes)| json!({"start": start, "duration": minutes * 60_000}))
        .collect();
    json!({"name": "early", "start": "06:00:00", "end": "14:00:00", "breaks": breaks})
}

/// A running job of SKU-1 on `line`.
async fn running_job(app: &TestApp, team: &Team, line: &str) -> String {
    let body = json!({"line": line, "product": "SKU-1", "target_quantity": 50_000});
    let job = app.post(Some(&team.leader), "/api/v1/jobs", &body).await.expect(201);
    let id = job.body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    app.post(Some(&team.leader), &format!("/api/v1/jobs/{id}/assign"), &json!({"operator": team.operator_id}))
        .await
        .expect(200);
    for step in ["accept", "start"] {
        app.post(Some(&team.operator), &format!("/api/v1/jobs/{id}/{step}"), &json!({})).await.expect(200);
    }
    id
}

/// Units made at `source_time`, as a tablet reports them; the first hour's rejects were made while the
/// line warmed up.
async fn produce(app: &TestApp, team: &Team, job: &str, good: u64, reject: u64, source_time: &str) {
    let body = if reject > 0 {
        let why = if source_time.ends_with("05:30:00Z") { "warm-up" } else { "crushed" };
        json!({"good": good, "reject": reject, "reject_reason": why})
    } else {
        json!({"good": good, "reject": 0})
    };
    let request = app
        .client
        .post(app.url(&format!("/api/v1/jobs/{job}/production")))
        .bearer_auth(&team.operator)
        .header("Source-Timestamp", source_time)
        .json(&body);
    app.send(request).await.expect(200);
}

async fn stop(app: &TestApp, team: &Team, line: &str, from: &str, to: Option<&str>) {
    let started = app.post(Some(&team.operator), "/api/v1/downtime", &json!({"line": line, "started_at": from})).await;
    let id = started.expect(201).body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    app.post(Some(&team.leader), &format!("/api/v1/downtime/{id}/reason"), &json!({"code": "jam"})).await.expect(200);
    if let Some(to) = to {
        let end = json!({"ended_at": to});
        app.post(Some(&team.operator), &format!("/api/v1/downtime/{id}/end"), &end).await.expect(200);
    }
}

const DAY: &str = "from=2026-03-01T23:00:00Z&to=2026-03-02T23:00:00Z";

#[tokio::test]
async fn a_scripted_shift_through_the_api_gives_the_published_figures_and_the_area_sums_its_lines() {
    let app = spawn(test_settings()).await;
    let team = team(&app).await;
    configure(&app, &team, L3, "Europe/Berlin", early_shift()).await;
    let path = format!("/api/v1/oee?line={L3}&granularity=shift&{DAY}");
    let unprojected = app.get(Some(&team.leader), &path).await.expect(200);
    assert_eq!((&unprojected.body["oee"], &unprojected.body["freshness"]["position"]), (&Value::Null, &json!(0)));
    let unknown = format!("/api/v1/oee?line={L4}&granularity=shift&{DAY}");
    assert_eq!(app.get(Some(&team.leader), &unknown).await.expect(404).code(), "not_found");
    let _projectors = app.start_projectors();
    // 2 March in Berlin is UTC+1: the shift runs 05:00-13:00 UTC.
    stop(&app, &team, L3, "2026-03-02T06:00:00Z", Some("2026-03-02T06:40:00Z")).await;
    stop(&app, &team, L3, "2026-03-02T10:00:00Z", Some("2026-03-02T10:07:00Z")).await;
    let job = running_job(&app, &team, L3).await;
    for (good, reject, at) in
        [(5_000, 100, "05:30"), (5_000, 100, "08:00"), (5_000, 100, "10:30"), (3_848, 123, "12:30")]
    {
        produce(&app, &team, &job, good, reject, &format!("2026-03-02T{at}:00Z")).await;
    }
    let unknown = json!({"good": 1, "reject": 1, "reject_reason": "dropped"});
    let refused = app.post(Some(&team.operator), &format!("/api/v1/jobs/{job}/production"), &unknown).await;
    assert_eq!(refused.expect(422).code(), "unknown_reason", "rejects need a reason of the line's tree");

    let answer =
        app.get_until(&team.leader, &path, |body| body["oee"]["total"]["inputs"]["total_count"] == 19_271).await;
    let shift = &answer.expect(200).body["oee"]["periods"][0];
    assert_eq!((shift["shift"].as_str(), shift["date"].as_str()), (Some("early"), Some("2026-03-02")));
    let oee = &shift["oee"];
    assert_eq!(oee["inputs"]["planned_production_ms"], 420 * 60_000);
    assert_eq!(oee["inputs"]["run_ms"], 373 * 60_000);
    let percent = |factor: &str| oee["figures"][factor]["percent"].as_f64();
    assert_eq!(
        [percent("availability"), percent("performance"), percent("quality"), percent("oee")],
        [Some(88.81), Some(86.11), Some(97.8), Some(74.79)]
    );
    assert_eq!(oee["downtime_ms"], json!({"unplanned": 47 * 60_000}));
    assert_eq!(oee["downtime_by_reason_ms"], json!({"jam": 47 * 60_000}));
    // The loss tree as a waterfall: 47 min of stops, 373 min - 19,271 s of slow cycles, 100 start-up
    // and 323 production rejects at 1 s each, 18,848 s fully productive; 420 minutes in all.
    let tree = &oee["loss_tree"];
    let parts: Vec<(&str, i64, Option<f64>)> = tree["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .map(|p| (p["part"].as_str().unwrap_or(""), p["ms"].as_i64().unwrap_or(-1), p["units"].as_f64()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        parts,
        [
            ("unplanned_stops", 47 * 60_000, Some(2_820.0)),
            ("setups", 0, Some(0.0)),
            ("small_stops", 0, Some(0.0)),
            ("slow_cycles", 373 * 60_000 - 19_271_000, Some(3_109.0)),
            ("startup_rejects", 100_000, Some(100.0)),
            ("production_rejects", 323_000, Some(323.0)),
            ("fully_productive", 18_848_000, Some(18_848.0)),
        ]
    );
    assert_eq!(parts.iter().map(|part| part.1).sum::<i64>(), 420 * 60_000);
    assert_eq!(tree["planned_production_ms"], 420 * 60_000);
    // The shift's own time is its calendar time: 420 of 480 minutes planned, utilization 87.50 %;
    // TEEP = 74.79 % x 87.50 % = 18,848 s / 28,800 s = 65.44 %.
    assert_eq!(oee["inputs"]["calendar_ms"], 480 * 60_000);
    assert_eq!((percent("utilization"), percent("teep")), (Some(87.5), Some(65.44)));
    // The same day as a week's part: the range asked for, 1,440 minutes of it.
    let week = format!("/api/v1/oee?line={L3}&granularity=week&{DAY}");
    let week = app.get(Some(&team.leader), &week).await.expect(200).body;
    let part = &week["oee"]["periods"][0];
    assert_eq!(
        (part["date"].as_str(), &part["oee"]["inputs"]["calendar_ms"]),
        (Some("2026-03-02"), &json!(1_440 * 60_000))
    );
    assert_eq!(
        (oee["provisional"].as_bool(), oee["figures"]["performance_above_ideal"].as_bool()),
        (Some(false), Some(false))
    );

    // A second line of the area: eight hours without breaks or stops, 14,400 units at 1 s: OEE 50 %.
    let all_day = json!({"name": "early", "start": "06:00:00", "end": "14:00:00", "breaks": []});
    configure(&app, &team, L4, "Europe/Berlin", all_day).await;
    let other = running_job(&app, &team, L4).await;
    produce(&app, &team, &other, 14_400, 0, "2026-03-02T06:00:00Z").await;
    let roll_up = format!("/api/v1/oee/roll-up?site=plant-1&area=packing&{DAY}");
    let area =
        app.get_until(&team.leader, &roll_up, |body| body["total"]["inputs"]["total_count"] == 19_271 + 14_400).await;
    let total = &area.expect(200).body["total"];
    assert_eq!(total["inputs"]["planned_production_ms"], 900 * 60_000);
    // (18,848 + 14,400) s / 900 min = 61.57 %; averaging the lines' 74.79 % and 50 % would say 62.40 %.
    assert_eq!(total["figures"]["oee"]["percent"].as_f64(), Some(61.57));
    // The day of both lines: 2 x 1,440 minutes of calendar time (2 March is no DST day in Berlin), 900
    // planned: utilization 31.25 %, TEEP 33,248 s / 172,800 s = 19.24 %.
    assert_eq!(total["inputs"]["calendar_ms"], 2 * 1_440 * 60_000);
    let day = |factor: &str| total["figures"][factor]["percent"].as_f64();
    assert_eq!((day("utilization"), day("teep")), (Some(31.25), Some(19.24)));

    let (_, outsider) = app.person(&team.admin, "lena", on_line("team_leader", L3)).await;
    let refused = app.get(Some(&outsider), &roll_up).await.expect(403);
    assert_eq!(refused.code(), "out_of_scope", "reading the area needs every line of it");
}

#[tokio::test]
async fn the_status_board_shows_the_running_shift_so_far_with_an_open_stop_as_provisional() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let team = team(&app).await;
    // One shift round the clock (it ends where it starts, the next day).
    configure(&app, &team, L3, "UTC", json!({"name": "day", "start": "00:00:00", "end": "00:00:00", "breaks": []}))
        .await;
    let started = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
    stop(&app, &team, L3, &started, None).await;

    let status = format!("/api/v1/lines/{L3}/status");
    let board = app
        .get_until(&team.leader, &status, |body| {
            body["state"] == "stopped" && body["shift_oee"]["oee"]["downtime_ms"]["unplanned"].is_u64()
        })
        .await;
    let board = board.expect(200).body;
    let shift = &board["shift_oee"];
    assert_eq!(shift["shift"], "day");
    assert_eq!(shift["oee"]["in_progress"], true, "the shift so far");
    assert_eq!(shift["oee"]["provisional"], true, "an open stop counts");
    let inputs = &shift["oee"]["inputs"];
    let lost = inputs["planned_production_ms"].as_u64().zip(inputs["run_ms"].as_u64()).map(|(p, r)| p - r);
    assert!(lost.is_some_and(|ms| ms > 0), "the open stop counts up to now: {shift}");
    assert_eq!(shift["oee"]["downtime_ms"]["unplanned"].as_u64(), lost);
    assert!(
        board["freshness"].as_array().is_some_and(|all| all.iter().any(|f| f[0] == "oee")),
        "{}",
        board["freshness"]
    );
}
