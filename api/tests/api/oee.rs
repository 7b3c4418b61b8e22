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

/// A running job of `product` on `line`.
async fn running_job(app: &TestApp, team: &Team, line: &str, product: &str) -> String {
    let body = json!({"line": line, "product": product, "target_quantity": 50_000});
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
    booked(app, team, job, body, source_time).await;
}

/// A production record as the operator's tablet sends it, made at `source_time`.
async fn booked(app: &TestApp, team: &Team, job: &str, body: Value, source_time: &str) {
    let request = app
        .client
        .post(app.url(&format!("/api/v1/jobs/{job}/production")))
        .bearer_auth(&team.operator)
        .header("Source-Timestamp", source_time)
        .json(&body);
    app.send(request).await.expect(200);
}

/// A stop of the whole line from `from`, with `reason` and ended at `to` where given; returns its id.
async fn stop(app: &TestApp, team: &Team, line: &str, from: &str, to: Option<&str>, reason: Option<&str>) -> String {
    let started = app.post(Some(&team.operator), "/api/v1/downtime", &json!({"line": line, "started_at": from})).await;
    let id = started.expect(201).body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    if let Some(code) = reason {
        app.post(Some(&team.leader), &format!("/api/v1/downtime/{id}/reason"), &json!({"code": code}))
            .await
            .expect(200);
    }
    if let Some(to) = to {
        let end = json!({"ended_at": to});
        app.post(Some(&team.operator), &format!("/api/v1/downtime/{id}/end"), &end).await.expect(200);
    }
    id
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
    stop(&app, &team, L3, "2026-03-02T06:00:00Z", Some("2026-03-02T06:40:00Z"), Some("jam")).await;
    stop(&app, &team, L3, "2026-03-02T10:00:00Z", Some("2026-03-02T10:07:00Z"), Some("jam")).await;
    let job = running_job(&app, &team, L3, "SKU-1").await;
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
    let other = running_job(&app, &team, L4, "SKU-1").await;
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
    stop(&app, &team, L3, &started, None, Some("jam")).await;

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

/// A Monday-to-Friday line with three shifts (early 06:00-14:00 with a break 10:00-10:30, late, night)
/// and Friday 6 March a holiday; ideal cycle times 1 s (SKU-1) and 2 s (SKU-2); reasons for jams,
/// changeovers, crushed (production) and warm-up (start-up) rejects.
async fn three_shift_line(app: &TestApp, team: &Team) {
    let register = json!({"line": L3, "name": "Packing 3", "time_zone": "Europe/Berlin"});
    app.post(Some(&team.engineer), "/api/v1/lines", &register).await.expect(201);
    let at = |what: &str| format!("/api/v1/lines/{L3}/{what}");
    let weekdays = json!(["mon", "tue", "wed", "thu", "fri"]);
    let shifts = json!([
        {"name": "early", "start": "06:00:00", "end": "14:00:00", "days": weekdays,
         "breaks": [{"start": "10:00:00", "duration": 30 * 60_000}]},
        {"name": "late", "start": "14:00:00", "end": "22:00:00", "days": weekdays, "breaks": []},
        {"name": "night", "start": "22:00:00", "end": "06:00:00", "days": weekdays, "breaks": []},
    ]);
    let since = "2026-01-01T00:00:00Z";
    let calendar = json!({"shifts": shifts, "effective_from": since});
    app.post(Some(&team.engineer), &at("shift-calendar"), &calendar).await.expect(200);
    let holiday = json!({"days": [{"date": "2026-03-06", "name": "Plant holiday"}], "effective_from": since});
    app.post(Some(&team.engineer), &at("non-production-days"), &holiday).await.expect(200);
    let crews = json!({"anchor": "2026-03-02", "days": [{"early": "A", "late": "B", "night": "C"},
                                                         {"early": "B", "late": "C", "night": "A"}]});
    let rotation = json!({"rotation": crews, "effective_from": since});
    app.post(Some(&team.engineer), &at("crew-rotation"), &rotation).await.expect(200);
    let empty = json!({"rotation": {"anchor": "2026-03-02", "days": []}, "effective_from": "2026-02-01T00:00:00Z",
                       "reason": "no crews"});
    assert_eq!(app.post(Some(&team.engineer), &at("crew-rotation"), &empty).await.status, 400, "a rotation has days");
    for (product, ms) in [("SKU-1", 1000), ("SKU-2", 2000)] {
        let cycle = json!({"product": product, "ideal_cycle_time_ms": ms, "effective_from": since});
        app.post(Some(&team.engineer), &at("ideal-cycle-times"), &cycle).await.expect(200);
    }
    for (code, category) in [("jam", "unplanned"), ("changeover", "setup")] {
        let reason = json!({"code": code, "label": code, "loss_category": category});
        app.post(Some(&team.engineer), &at("downtime-reasons"), &reason).await.expect(200);
    }
    for (code, category) in [("crushed", "production"), ("warm-up", "startup")] {
        let reject = json!({"code": code, "label": code, "category": category});
        app.post(Some(&team.engineer), &at("reject-reasons"), &reject).await.expect(200);
    }
}

/// The "done when": Monday's early shift (05:00-13:00 UTC) runs SKU-1, is changed over to SKU-2
/// in 30 minutes, runs SKU-2, and jams for 10 minutes without a reason; then utilization and TEEP over
/// the week with its holiday, the loss tree, hour-by-hour targets and the changeover are read through
/// the API, and the team leader approves the shift report with a signature, sees it changed by a late
/// reason, and approves it again.
#[tokio::test]
async fn a_three_shift_week_with_a_holiday_and_a_changeover_is_measured_and_its_shift_report_approved() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let team = team(&app).await;
    three_shift_line(&app, &team).await;
    let first = running_job(&app, &team, L3, "SKU-1").await;
    booked(
        &app,
        &team,
        &first,
        json!({"good": 3_000, "reject": 50, "reject_reason": "warm-up"}),
        "2026-03-02T05:30:00Z",
    )
    .await;
    booked(&app, &team, &first, json!({"good": 3_000, "reject": 0}), "2026-03-02T06:30:00Z").await;
    stop(&app, &team, L3, "2026-03-02T07:00:00Z", Some("2026-03-02T07:30:00Z"), Some("changeover")).await;
    let second = running_job(&app, &team, L3, "SKU-2").await;
    booked(
        &app,
        &team,
        &second,
        json!({"good": 1_000, "reject": 20, "reject_reason": "crushed"}),
        "2026-03-02T07:40:00Z",
    )
    .await;
    let jam = stop(&app, &team, L3, "2026-03-02T10:00:00Z", Some("2026-03-02T10:10:00Z"), None).await;
    booked(&app, &team, &second, json!({"good": 1_500, "reject": 0}), "2026-03-02T11:00:00Z").await;

    // The week: Monday to Thursday planned (Friday is the holiday), 1,410 planned minutes a day of 10,080
    // in the week: utilization 5,640 / 10,080 = 55.95 %. The holiday is a day with utilization 0, no OEE.
    let week = format!("/api/v1/oee?line={L3}&granularity=week&from=2026-03-01T23:00:00Z&to=2026-03-08T23:00:00Z");
    let week = app.get_until(&team.leader, &week, |body| body["oee"]["total"]["inputs"]["good_count"] == 8_500).await;
    let total = &week.expect(200).body["oee"]["total"];
    assert_eq!(
        (total["inputs"]["planned_production_ms"].as_u64(), total["inputs"]["calendar_ms"].as_u64()),
        (Some(5_640 * 60_000), Some(10_080 * 60_000))
    );
    assert_eq!(total["figures"]["utilization"]["percent"].as_f64(), Some(55.95));
    // TEEP: (8,500 good: 6,000 at 1 s and 2,500 at 2 s = 11,000 s) / 604,800 s = 1.82 %.
    assert_eq!(total["figures"]["teep"]["percent"].as_f64(), Some(1.82));
    let friday = format!("/api/v1/oee?line={L3}&granularity=day&from=2026-03-05T23:00:00Z&to=2026-03-06T23:00:00Z");
    let friday = app.get(Some(&team.leader), &friday).await.expect(200).body;
    let holiday = &friday["oee"]["periods"][0]["oee"]["figures"];
    assert_eq!((holiday["utilization"]["percent"].as_f64(), &holiday["oee"]), (Some(0.0), &Value::Null));

    // Monday's early shift: its loss tree has the changeover as a setup and the jam as unplanned.
    let shift = format!("/api/v1/oee?line={L3}&granularity=shift&from=2026-03-02T04:00:00Z&to=2026-03-02T06:00:00Z");
    let shift = app.get(Some(&team.leader), &shift).await.expect(200).body["oee"]["periods"][0].clone();
    assert_eq!(shift["crew"], "A", "the rotation's first day names crew A for the early shift");
    let shift = shift["oee"].clone();
    let parts = &shift["loss_tree"]["parts"];
    assert_eq!((&parts[0]["part"], &parts[0]["ms"]), (&json!("unplanned_stops"), &json!(10 * 60_000)));
    assert_eq!((&parts[1]["part"], &parts[1]["ms"]), (&json!("setups"), &json!(30 * 60_000)));
    assert_eq!((&parts[4]["part"], &parts[4]["units"]), (&json!("startup_rejects"), &json!(50.0)));
    assert_eq!((&parts[5]["part"], &parts[5]["units"]), (&json!("production_rejects"), &json!(20.0)));
    let sum: i64 = parts.as_array().map(|all| all.iter().filter_map(|part| part["ms"].as_i64()).sum()).unwrap_or(0);
    assert_eq!(sum, 450 * 60_000, "the parts add up to the shift's planned time");

    // Hour by hour: 06:00 local at SKU-1's 1 s, 08:00 at SKU-2's 2 s (made last in the hour), 10:00 with
    // the break: 30 planned minutes at 2 s.
    let shifts = format!("/api/v1/lines/{L3}/shifts/2026-03-02/early");
    let hours = app.get(Some(&team.leader), &format!("{shifts}/hour-by-hour")).await.expect(200).body["hours"].clone();
    let column =
        |field: &str| hours.as_array().map(|all| all.iter().map(|hour| hour[field].clone()).collect::<Vec<_>>());
    assert_eq!(
        column("target"),
        Some([3_600, 3_600, 1_800, 1_800, 900, 1_800, 1_800, 1_800].map(|t| json!(t)).to_vec())
    );
    assert_eq!(column("good").map(|good| good[..3].to_vec()), Some(vec![json!(3_000), json!(3_000), json!(1_000)]));
    assert_eq!(hours[5]["main_reason"], json!({"code": "unassigned", "ms": 10 * 60_000}));
    assert_eq!(hours[2]["difference"], json!(7_000 - 9_000));

    // The changeover: from SKU-1 to SKU-2, 30 minutes.
    let changeovers = format!("/api/v1/oee/changeovers?line={L3}&from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z");
    let changeovers = app.get(Some(&team.leader), &changeovers).await.expect(200).body;
    assert_eq!(
        changeovers["pairs"],
        json!([{"from_product": "SKU-1", "to_product": "SKU-2", "changeovers": 1, "total_ms": 1_800_000,
                "average_ms": 1_800_000}])
    );

    // The report shows the same figures as the board's shift; the team leader notes, prepares and signs.
    let report = app.get(Some(&team.leader), &format!("{shifts}/report")).await.expect(200).body;
    assert_eq!(report["content"]["oee"], shift, "a report and a board never disagree about one shift");
    assert_eq!(report["approval"], "not_approved");
    assert_eq!(report["content"]["crew"], "A");
    assert_eq!(report["content"]["units"].as_array().map(Vec::len), Some(2), "one row per job and product");
    let note = json!({"note": "SKU-2 changeover parts worn; spare ordered."});
    app.post(Some(&team.leader), &format!("{shifts}/handover-notes"), &note).await.expect(200);
    let refused = app.post(Some(&team.operator), &format!("{shifts}/report/prepare"), &json!({})).await;
    assert_eq!(refused.expect(403).code(), "forbidden");
    let approve = |version: u64, username: Option<&str>| {
        let mut body = json!({"record_type": "shift_report", "record_id": format!("{L3}/2026-03-02/early"),
                              "version": version, "meaning": "approved", "password": crate::support::OWN_PASSWORD});
        if let Some(username) = username {
            body["username"] = json!(username);
        }
        body
    };
    let prepared = app.post(Some(&team.leader), &format!("{shifts}/report/prepare"), &json!({})).await.expect(200);
    let version = prepared.body["version"].as_u64().unwrap_or_default();
    app.post(Some(&team.leader), "/api/v1/signatures", &approve(version, Some("theo"))).await.expect(201);
    let approved = app.get(Some(&team.leader), &format!("{shifts}/report")).await.expect(200).body;
    assert_eq!(approved["approval"], "approved");
    assert_eq!(approved["approved"]["content_digest"], approved["content_digest"]);
    assert_eq!(approved["content"]["handover_notes"][0]["author_name"], "Person theo");

    // A late reason for the jam changes the shift: the report says so and keeps what was approved.
    app.post(Some(&team.leader), &format!("/api/v1/downtime/{jam}/reason"), &json!({"code": "jam"})).await.expect(200);
    let changed = app
        .get_until(&team.leader, &format!("{shifts}/report"), |body| body["approval"] == "changed_since_approval")
        .await;
    let changed = changed.expect(200).body;
    let unassigned =
        |report: &Value| report["stops"].as_array().map(|stops| stops.iter().filter(|s| s["reason"].is_null()).count());
    assert_eq!((unassigned(&changed["approved"]["content"]), unassigned(&changed["content"])), (Some(1), Some(0)));
    let page = app.get(Some(&team.leader), &format!("{shifts}/report/print")).await.expect(200).body;
    assert!(
        page.as_str().is_some_and(|html| html.contains("CHANGED SINCE APPROVAL") && html.contains("spare ordered")),
        "{page}"
    );

    let again = app.post(Some(&team.leader), &format!("{shifts}/report/prepare"), &json!({})).await.expect(200);
    let version = again.body["version"].as_u64().unwrap_or_default();
    app.post(Some(&team.leader), "/api/v1/signatures", &approve(version, None)).await.expect(201);
    let reapproved = app.get(Some(&team.leader), &format!("{shifts}/report")).await.expect(200).body;
    assert_eq!(
        (reapproved["approval"].as_str(), reapproved["approved"]["version"].as_u64()),
        (Some("approved"), Some(version))
    );
    let statuses: Vec<&str> = reapproved["signatures"]
        .as_array()
        .map(|all| all.iter().filter_map(|signature| signature["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, ["record_changed", "standing"], "the first approval covers the content before the reason");
    // The report's record is a record like any other: its history, and its audit trail with who did what.
    let record = format!("{L3}/2026-03-02/early");
    let history = app.get(Some(&team.leader), &format!("/api/v1/history?record_type=shift_report&id={record}")).await;
    let types: Vec<String> = history.expect(200).body["events"]
        .as_array()
        .map(|all| all.iter().filter_map(|event| event["event_type"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let expected =
        ["HandoverNoteAdded", "ApprovalPrepared", "ShiftReportSigned", "ApprovalPrepared", "ShiftReportSigned"];
    assert_eq!(types, expected);
    let trail = format!("/api/v1/audit-trail?record_type=shift_report&record_id={record}");
    let trail =
        app.get_until(&team.leader, &trail, |body| body["entries"].as_array().is_some_and(|all| all.len() == 5)).await;
    let entries = trail.expect(200).body["entries"].clone();
    assert!(
        entries.as_array().is_some_and(|all| all.iter().all(|entry| entry["actor"]["name"] == "Person theo")),
        "{entries}"
    );
}
