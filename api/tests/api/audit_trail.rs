//! The audit trail over HTTP (Part 11 AT-02, AT-03, AT-07, AT-08, AT-11): who, when, why and from where
//! for every event, old and new values of every change, system actions beside production records,
//! local times with their offset, search within the reader's scope, and exports that neutralise
//! spreadsheet formulas.

use serde_json::{Value, json};

use crate::support::{LINE, OTHER_LINE, TestApp, on_line, on_site, spawn, test_settings};

/// Waits until the trail holds `count` entries matching `path`'s selection; returns them.
pub async fn trail(app: &TestApp, token: &str, path: &str, count: usize) -> Vec<Value> {
    let response = app
        .get_until(token, path, |body| body["entries"].as_array().is_some_and(|entries| entries.len() >= count))
        .await;
    response.expect(200).body["entries"].as_array().cloned().unwrap_or_default()
}

/// The engineer registers `line` (in UTC) with the unplanned downtime reasons `codes`.
async fn line_with_reasons(app: &TestApp, engineer: &str, line: &str, codes: &[&str]) {
    app.post(Some(engineer), "/api/v1/lines", &json!({"line": line, "name": "L", "time_zone": "UTC"}))
        .await
        .expect(201);
    for code in codes {
        let reason = json!({"code": code, "label": code, "loss_category": "unplanned"});
        app.post(Some(engineer), &format!("/api/v1/lines/{line}/downtime-reasons"), &reason).await.expect(200);
    }
}

/// A stop of `LINE` that `token` records as starting at 06:00 on 2026-11-22; its id.
async fn stop(app: &TestApp, token: &str) -> String {
    let start = json!({"line": LINE, "started_at": "2026-11-22T06:00:00Z"});
    let stop = app.post(Some(token), "/api/v1/downtime", &start).await.expect(201);
    stop.body["aggregate_id"].as_str().unwrap().to_owned()
}

/// The first administrator, then a site engineer, team leader and auditor: their tokens.
async fn staff(app: &TestApp) -> (String, String, String) {
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    let (_, leader) = app.person(&admin, "theo", on_site("team_leader")).await;
    let (_, auditor) = app.person(&admin, "audrey", on_site("auditor")).await;
    (engineer, leader, auditor)
}

fn action(entries: &[Value], name: &str) -> Value {
    entries.iter().find(|entry| entry["action"] == name).cloned().unwrap_or_else(|| panic!("no {name} in {entries:?}"))
}

#[tokio::test]
async fn at_03_at_02_at_12_a_changed_stop_reason_shows_old_and_new_values_with_who_when_why_and_from_where() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (engineer, leader, auditor) = staff(&app).await;
    line_with_reasons(&app, &engineer, LINE, &["jam", "starved"]).await;
    let stop = stop(&app, &leader).await;
    let give = |body: Value| {
        let (app, leader, stop) = (&app, &leader, &stop);
        async move { app.post(Some(leader), &format!("/api/v1/downtime/{stop}/reason"), &body).await.expect(200) }
    };
    give(json!({"code": "jam"})).await;
    give(json!({"code": "starved", "reason_for_change": "the filler was waiting for bottles"})).await;

    let entries = trail(&app, &auditor, &format!("/api/v1/audit-trail?record_type=downtime&record_id={stop}"), 3).await;
    let actions: Vec<&str> = entries.iter().filter_map(|entry| entry["action"].as_str()).collect();
    assert_eq!(actions, ["DowntimeStarted", "DowntimeReasonAssigned", "DowntimeReasonChanged"]);
    let changed = action(&entries, "DowntimeReasonChanged");
    // The record's count of corrections goes up with it: what a later review must cover (AT-13).
    assert_eq!(
        changed["changes"],
        json!([{"field": "reason.code", "old": "jam", "new": "starved"},
               {"field": "signatures.corrections", "old": 0, "new": 1}])
    );
    assert_eq!(changed["reason"], "the filler was waiting for bottles");
    assert_eq!(
        (changed["actor"]["name"].as_str(), changed["actor"]["role"].as_str()),
        (Some("Person theo"), Some("team_leader"))
    );
    assert_eq!((changed["line"].as_str(), changed["sequence"].as_i64()), (Some(LINE), Some(3)));
    assert!(changed["recorded_at"].is_string() && changed["stream_hash"].as_str().is_some_and(|hash| hash.len() == 64));
    let report = format!("/api/v1/audit-trail/report?record_type=downtime&record_id={stop}");
    let printed = app.get(Some(&auditor), &report).await.expect(200);
    let content_type = printed.headers.get("content-type").and_then(|value| value.to_str().ok());
    assert_eq!(content_type, Some("text/html; charset=utf-8"));
    let html = printed.body.as_str().unwrap();
    assert!(
        html.contains("CHANGED SINCE ORIGINAL ENTRY") && html.contains("reason.code: jam &rarr; starved"),
        "{html}"
    );
    assert!(html.contains("the filler was waiting for bottles") && html.contains("Person theo (team_leader)"));
    let missing = "/api/v1/audit-trail/report?record_type=downtime&record_id=no-such-stop";
    assert_eq!(app.get(Some(&auditor), missing).await.expect(404).code(), "not_found");
    let assigned = action(&entries, "DowntimeReasonAssigned");
    assert_eq!(
        assigned["changes"],
        json!([{"field": "reason", "old": null, "new": {"code": "jam", "loss_category": "unplanned"}}]),
        "a first value has no old one"
    );
}

#[tokio::test]
async fn at_07_sign_ins_failures_role_changes_and_configuration_are_in_the_trail_beside_production() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let admin = app.bootstrap_admin().await;
    let (olga_id, _) = app.person(&admin, "olga", on_line("operator", LINE)).await;
    let (_, auditor) = app.person(&admin, "audrey", on_site("auditor")).await;
    let wrong = json!({"username": "olga", "password": "not-her-password"});
    app.post(None, "/api/v1/auth/login", &wrong).await.expect(401);
    let grant =
        json!({"role": "team_leader", "scope": {"kind": "line", "line": LINE}, "reason": "covers the late shift"});
    app.post(Some(&admin), &format!("/api/v1/users/{olga_id}/roles/grant"), &grant).await.expect(200);

    let path = format!("/api/v1/audit-trail?record_type=user&record_id={olga_id}");
    // Created, her own password set, signed in, a failed sign-in, the role granted: five events.
    let entries = trail(&app, &auditor, &path, 5).await;
    let actions: Vec<&str> = entries.iter().filter_map(|entry| entry["action"].as_str()).collect();
    for expected in ["UserCreated", "LoginSucceeded", "LoginFailed", "RoleGranted"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    let granted = action(&entries, "RoleGranted");
    assert_eq!(granted["reason"], "covers the late shift");
    assert_eq!(granted["actor"]["role"], "admin");
    assert!(
        granted["changes"].as_array().is_some_and(|changes| changes.iter().any(|change| change["field"] == "grants"))
    );

    let by_action = trail(&app, &auditor, "/api/v1/audit-trail?action=LoginFailed", 1).await;
    assert!(by_action.iter().all(|entry| entry["action"] == "LoginFailed") && !by_action.is_empty());
}

#[tokio::test]
async fn at_08_times_show_in_utc_and_in_the_lines_time_zone_with_its_offset() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    let (_, auditor) = app.person(&admin, "audrey", on_site("auditor")).await;
    let register = json!({"line": LINE, "name": "L3", "time_zone": "America/Chicago"});
    app.post(Some(&engineer), "/api/v1/lines", &register).await.expect(201);
    let entries = trail(&app, &auditor, &format!("/api/v1/audit-trail?record_type=line&record_id={LINE}"), 1).await;
    let utc: chrono::DateTime<chrono::Utc> = serde_json::from_value(entries[0]["recorded_at"].clone()).unwrap();
    let local = chrono::DateTime::parse_from_rfc3339(entries[0]["recorded_local"].as_str().unwrap()).unwrap();
    assert_eq!(local.to_utc(), utc, "the same instant");
    let chicago = utc.with_timezone(&chrono_tz::America::Chicago);
    assert_eq!(local.offset().local_minus_utc(), chrono::Offset::fix(chicago.offset()).local_minus_utc());
}

#[tokio::test]
async fn at_11_rc_01_the_trail_exports_as_csv_and_ndjson_with_formulas_neutralised_within_scope_and_on_record() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    let (_, leader) = app.person(&admin, "theo", on_line("team_leader", LINE)).await;
    for line in [LINE, OTHER_LINE] {
        line_with_reasons(&app, &engineer, line, &["jam", "starved"]).await;
    }
    let stop = stop(&app, &leader).await;
    let reason = format!("/api/v1/downtime/{stop}/reason");
    app.post(Some(&leader), &reason, &json!({"code": "jam"})).await.expect(200);
    let formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    app.post(Some(&leader), &reason, &json!({"code": "starved", "reason_for_change": formula})).await.expect(200);
    trail(&app, &leader, &format!("/api/v1/audit-trail?record_id={stop}"), 3).await;

    let csv = app.get(Some(&leader), "/api/v1/audit-trail/export?format=csv&record_type=downtime").await.expect(200);
    let csv = csv.body.as_str().unwrap().to_owned();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows[2].get(column("action")), Some("DowntimeReasonChanged"));
    assert_eq!(rows[2].get(column("reason")), Some(format!("'{formula}").as_str()), "shown as text, not run");

    let ndjson = app.get(Some(&leader), "/api/v1/audit-trail/export?format=ndjson&record_type=line").await.expect(200);
    let lines: Vec<Value> =
        ndjson.body.as_str().unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let records: Vec<&str> = lines.iter().filter_map(|line| line["record_id"].as_str()).collect();
    // L3's registration, its two reasons and their marks as used; nothing of L4 for L3's team leader.
    assert_eq!(records, [LINE; 5]);

    // Each export is on record (RC-01): who took which selection, in which form.
    let (_, auditor) = app.person(&admin, "audrey", on_site("auditor")).await;
    let exports = trail(&app, &auditor, "/api/v1/audit-trail?action=RecordsExported", 2).await;
    let kinds: Vec<&Value> = exports.iter().map(|entry| &entry["changes"][0]["new"][0]).collect();
    assert_eq!(kinds, [&json!("trail_csv"), &json!("trail_ndjson")]);
    assert_eq!(exports[0]["actor"]["name"], "Person theo");
    assert_eq!(exports[0]["changes"][0]["new"][1], "format=csv&record_type=downtime");

    let (_, operator) = app.person(&admin, "olga", on_line("operator", LINE)).await;
    assert_eq!(app.get(Some(&operator), "/api/v1/audit-trail").await.expect(403).code(), "forbidden");
    let reversed = "/api/v1/audit-trail?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z";
    assert_eq!(app.get(Some(&leader), reversed).await.expect(400).code(), "invalid_query");
}

#[tokio::test]
async fn at_01_at_06_every_event_of_a_job_and_its_people_is_in_the_trail_exactly_once() {
    let app = spawn(test_settings()).await;
    let (job, olga) = app.running_job().await;
    app.post(Some(&olga), &format!("/api/v1/jobs/{job}/production"), &json!({"good": 3, "reject": 0}))
        .await
        .expect(200);
    let _projectors = app.start_projectors();
    let admin = app.login("admin", crate::support::ADMIN_PASSWORD).await;
    let events = app.event_count().await;
    let mut seen = Vec::new();
    let mut after = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Page through the whole trail as the administrator (every line of the site, and accounts).
    while i64::try_from(seen.len()).unwrap() < events {
        assert!(std::time::Instant::now() < deadline, "the trail holds {} of {events} events", seen.len());
        let page = app.get(Some(&admin), &format!("/api/v1/audit-trail?after={after}&limit=5")).await.expect(200);
        for entry in page.body["entries"].as_array().unwrap() {
            after = entry["position"].as_i64().unwrap();
            seen.push(after);
        }
    }
    let positions: Vec<i64> =
        sqlx::query_scalar("SELECT position FROM events ORDER BY position").fetch_all(&app.owner).await.unwrap();
    assert_eq!(seen, positions, "each event once, in log order");
}

#[tokio::test]
async fn at_04_a_voided_stop_leaves_the_lists_and_figures_and_stays_in_the_trail_with_who_when_and_why() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (engineer, leader, auditor) = staff(&app).await;
    line_with_reasons(&app, &engineer, LINE, &["jam"]).await;
    let stop = stop(&app, &leader).await;
    app.post(Some(&leader), &format!("/api/v1/downtime/{stop}/reason"), &json!({"code": "jam"})).await.expect(200);
    let end = json!({"ended_at": "2026-11-22T06:20:00Z"});
    app.post(Some(&leader), &format!("/api/v1/downtime/{stop}/end"), &end).await.expect(200);
    let period = "from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z";
    let list = format!("/api/v1/downtime?line={LINE}&{period}");
    let pareto = format!("/api/v1/downtime/pareto?line={LINE}&by=reason&{period}");
    app.get_until(&leader, &pareto, |body| body["bars"][0]["key"] == "jam").await.expect(200);

    let void = format!("/api/v1/downtime/{stop}/void");
    assert_eq!(
        app.post(Some(&leader), &void, &json!({})).await.expect(400).code(),
        "invalid_body",
        "a reason is needed"
    );
    app.post(Some(&leader), &void, &json!({"reason": "the PLC reported a stop that never happened"})).await.expect(200);
    let again = json!({"reason": "twice"});
    assert_eq!(app.post(Some(&leader), &void, &again).await.expect(422).code(), "voided");
    assert_eq!(
        app.post(
            Some(&leader),
            &format!("/api/v1/downtime/{stop}/reason"),
            &json!({"code": "jam", "reason_for_change": "x"})
        )
        .await
        .expect(422)
        .code(),
        "voided"
    );

    let gone = app.get_until(&leader, &list, |body| body["stops"] == json!([])).await.expect(200);
    assert_eq!(gone.body["stops"], json!([]));
    assert_eq!(
        app.get_until(&leader, &pareto, |body| body["bars"] == json!([])).await.expect(200).body["bars"],
        json!([])
    );
    let entries = trail(&app, &auditor, &format!("/api/v1/audit-trail?record_id={stop}"), 4).await;
    let voided = action(&entries, "DowntimeVoided");
    assert_eq!(voided["reason"], "the PLC reported a stop that never happened");
    assert_eq!(
        (voided["actor"]["name"].as_str(), voided["actor"]["role"].as_str()),
        (Some("Person theo"), Some("team_leader"))
    );
    assert_eq!(voided["changes"], json!([{"field": "voided", "old": false, "new": true}]));
}

#[tokio::test]
async fn exports_abandoned_midway_hold_no_connection_and_each_was_recorded_before_it_left() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let admin = app.bootstrap_admin().await;
    trail(&app, &admin, "/api/v1/audit-trail?action=UserCreated", 1).await;
    // A trail of many batches (the export reads 1,000 entries at a time): rows of the read model itself.
    sqlx::query(
        "INSERT INTO rm_audit_trail_blue.audit_trail (position, event_id, recorded_at, record_type, record_id, sequence, action,
                                  changes, stream_hash)
         SELECT 1000000 + n, gen_random_uuid(), now(), 'user', 'bulk', n, 'Bulk', '[]', '\\x00'
         FROM generate_series(1, 5000) n",
    )
    .execute(&app.owner)
    .await
    .unwrap();
    let export = app.url("/api/v1/audit-trail/export?format=ndjson");
    for _ in 0..20 {
        let mut response = app.client.get(&export).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.chunk().await.unwrap().is_some_and(|chunk| !chunk.is_empty()));
        // Dropped here, mid-stream, as a client that gives up.
    }
    // More abandoned exports than the service's pool has connections, and it still serves.
    let whole = app.get(Some(&admin), "/api/v1/audit-trail/export?format=ndjson&action=Bulk").await.expect(200);
    assert_eq!(whole.body.as_str().unwrap().lines().count(), 5000);
    let recorded = trail(&app, &admin, "/api/v1/audit-trail?action=RecordsExported", 21).await;
    assert_eq!(recorded.len(), 21, "each export was recorded, abandoned or not");
}
