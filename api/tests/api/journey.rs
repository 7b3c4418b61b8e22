//! The README's journey, end to end over HTTP: the first administrator, people and a gateway, a line
//! configured, a job run through its whole life with stops, an Andon call and a checklist, and the
//! job's history and past state.

use serde_json::json;

use crate::support::{LINE, LINE_PATH, OWN_PASSWORD, on_line, on_site, spawn, test_settings};

#[tokio::test]
async fn at_02_at_09_a_job_runs_through_its_whole_life_and_its_history_shows_who_did_what() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    let (_, leader) = app.person(&admin, "theo", on_site("team_leader")).await;
    let (operator_id, operator) = app.person(&admin, "olga", on_line("operator", LINE)).await;
    let (_, maintenance) = app.person(&admin, "max", on_site("maintenance")).await;
    let (_, gateway) = app.gateway(&admin, "gw-L3", json!({"kind": "line", "line": LINE})).await;

    let register = json!({"line": LINE, "name": "Packing line 3", "time_zone": "Europe/Berlin"});
    app.post(Some(&engineer), "/api/v1/lines", &register).await.expect(201);
    let line = format!("/api/v1/lines/{LINE_PATH}");
    let equipment = json!({"equipment": "filler", "name": "Filler"});
    app.post(Some(&engineer), &format!("{line}/equipment"), &equipment).await.expect(200);
    let cycle = json!({"product": "SKU-1", "ideal_cycle_time_ms": 1000, "effective_from": "2026-01-01T00:00:00Z"});
    app.post(Some(&engineer), &format!("{line}/ideal-cycle-times"), &cycle).await.expect(200);
    let jam = json!({"code": "jam", "label": "Jam", "loss_category": "unplanned"});
    app.post(Some(&engineer), &format!("{line}/downtime-reasons"), &jam).await.expect(200);

    let job = app
        .post(Some(&leader), "/api/v1/jobs", &json!({"line": LINE, "product": "SKU-1", "target_quantity": 100}))
        .await
        .expect(201);
    let job_id = job.body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    let at = |action: &str| format!("/api/v1/jobs/{job_id}/{action}");
    app.post(Some(&leader), &at("assign"), &json!({"operator": operator_id})).await.expect(200);
    app.post(Some(&operator), &at("accept"), &json!({})).await.expect(200);
    app.post(Some(&operator), &at("start"), &json!({})).await.expect(200);
    app.post(Some(&operator), &at("production"), &json!({"good": 40, "reject": 0})).await.expect(200);

    let stop = app
        .post(Some(&operator), "/api/v1/downtime", &json!({"line": LINE, "started_at": "2026-11-22T06:00:00Z"}))
        .await
        .expect(201);
    let stop_id = stop.body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    app.post(Some(&maintenance), &format!("/api/v1/downtime/{stop_id}/reason"), &json!({"code": "jam"}))
        .await
        .expect(200);
    let end = json!({"ended_at": "2026-11-22T06:20:00Z"});
    app.post(Some(&operator), &format!("/api/v1/downtime/{stop_id}/end"), &end).await.expect(200);

    let reading = json!({"items": [{
        "kind": "counter_reading", "job_id": job_id, "counter": "c1", "count_kind": "good", "width": "bits32",
        "sequence": 1, "value": 1000, "source_timestamp": "2026-11-22T06:30:00Z", "quality": "good"
    }]});
    let ingested = app.post(Some(&gateway), "/api/v1/ingest/plc", &reading).await.expect(200);
    assert_eq!(ingested.body["accepted"], 1, "{}", ingested.body);

    let andon =
        json!({"line": LINE, "station": "S1", "call_type": "maintenance", "priority": "high", "description": "Leak"});
    let call = app.post(Some(&operator), "/api/v1/andon-calls", &andon).await.expect(201);
    let call_id = call.body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    app.post(Some(&maintenance), &format!("/api/v1/andon-calls/{call_id}/acknowledge"), &json!({})).await.expect(200);
    let resolution = json!({"resolution": "Seal replaced", "root_cause": "Worn seal"});
    app.post(Some(&maintenance), &format!("/api/v1/andon-calls/{call_id}/resolve"), &resolution).await.expect(200);

    let template = json!({"line": LINE, "name": "Line clearance", "items": [
        {"id": "guard", "prompt": "Guard closed", "kind": {"kind": "check"}, "mandatory": true}]});
    app.post(Some(&engineer), "/api/v1/checklist-templates/clearance", &template).await.expect(200);
    let checklist = app
        .post(Some(&operator), "/api/v1/checklists", &json!({"template_id": "clearance", "job": job_id}))
        .await
        .expect(201);
    let checklist_id = checklist.body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    let answer = json!({"item": "guard", "answer": {"kind": "check", "value": true}});
    app.post(Some(&operator), &format!("/api/v1/checklists/{checklist_id}/answers"), &answer).await.expect(200);
    // Completing the checklist is the operator's signature (`performed`), over the version they saw.
    let perform = json!({"record_type": "checklist", "record_id": checklist_id, "version": 2, "meaning": "performed",
                         "username": "olga", "password": OWN_PASSWORD});
    app.post(Some(&operator), "/api/v1/signatures", &perform).await.expect(201);

    app.post(Some(&operator), &at("pause"), &json!({})).await.expect(200);
    app.post(Some(&operator), &at("resume"), &json!({})).await.expect(200);
    let correction = json!({"good_delta": -2, "reject_delta": 2, "reason": "two cartons crushed"});
    app.post(Some(&leader), &at("corrections"), &correction).await.expect(200);
    let request_id = uuid::Uuid::now_v7();
    let completed = app
        .send(
            app.client
                .post(app.url(&at("complete")))
                .bearer_auth(&operator)
                .header("x-request-id", request_id.to_string())
                .json(&json!({})),
        )
        .await
        .expect(200);
    assert_eq!(completed.headers["x-request-id"].to_str().ok(), Some(request_id.to_string().as_str()));

    let history = app.get(Some(&leader), &format!("/api/v1/history?record_type=job&id={job_id}")).await.expect(200);
    assert_eq!(history.body["chain_verified"], true);
    let events = history.body["events"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = events.iter().filter_map(|event| event["event_type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "JobCreated",
            "OperatorAssigned",
            "JobAccepted",
            "JobStarted",
            "ProductionRecorded",
            "CounterBaselineRecorded",
            "JobPaused",
            "JobResumed",
            "ProductionCorrected",
            "JobCompleted"
        ]
    );
    let names: Vec<&str> = events.iter().filter_map(|event| event["metadata"]["actor_name"].as_str()).collect();
    assert_eq!(names[0], "Person theo");
    assert_eq!(names[2], "Person olga");
    assert_eq!(names[5], "Gateway gw-L3", "the gateway acts in its own name");
    assert_eq!(events[5]["metadata"]["device_id"], "gw-L3");
    assert_eq!(events[5]["metadata"]["source_sequence"], 1);
    assert_eq!(events[8]["metadata"]["reason"], "two cartons crushed");
    assert_eq!(events[9]["metadata"]["correlation_id"], request_id.to_string(), "the request id correlates");

    let at_start =
        app.get(Some(&leader), &format!("/api/v1/state?record_type=job&id={job_id}&sequence=4")).await.expect(200);
    assert_eq!(at_start.body["state"]["status"], "running");
    assert_eq!(at_start.body["state"]["good"], 0);
    let now = app.get(Some(&leader), &format!("/api/v1/state?record_type=job&id={job_id}")).await.expect(200);
    assert_eq!(
        (now.body["state"]["status"].as_str(), now.body["state"]["good"].as_u64()),
        (Some("completed"), Some(38))
    );

    let stop_history =
        app.get(Some(&leader), &format!("/api/v1/history?record_type=downtime&id={stop_id}")).await.expect(200);
    assert_eq!(stop_history.body["events"][1]["metadata"]["actor_name"], "Person max");

    // The jobs read model catches up and says how fresh it is.
    let list = format!("/api/v1/jobs?line={LINE}");
    let jobs = app.get_until(&leader, &list, |body| body["jobs"][0]["status"] == "completed").await.expect(200);
    let listed = &jobs.body["jobs"][0];
    assert_eq!(
        (listed["job_id"].as_str(), listed["good"].as_i64(), listed["reject"].as_i64()),
        (Some(job_id.as_str()), Some(38), Some(2))
    );
    assert_eq!(listed["progress_percent"], 38.0);
    assert!(jobs.body["freshness"]["events_applied"].as_i64().is_some_and(|applied| applied > 0));
    let detail = app.get(Some(&leader), &format!("/api/v1/jobs/{job_id}")).await.expect(200);
    assert_eq!(
        (detail.body["job"]["status"].as_str(), detail.body["job"]["progress_percent"].as_f64()),
        (Some("completed"), Some(38.0))
    );
    assert_eq!((detail.body["state"]["good"].as_i64(), detail.body["state"]["reject"].as_i64()), (Some(38), Some(2)));
    // The read model's view of the job is the job as its events fold it, field for field.
    let folded = app.get(Some(&leader), &format!("/api/v1/state?record_type=job&id={job_id}")).await.expect(200);
    assert_eq!(detail.body["state"], folded.body["state"]);
    let running = app.get(Some(&leader), &format!("{list}&status=running")).await.expect(200);
    assert_eq!(running.body["jobs"], json!([]));
    assert_eq!(app.get(Some(&leader), &format!("{list}&status=finished")).await.expect(400).code(), "invalid_query");
    let unknown = format!("/api/v1/jobs/{}", uuid::Uuid::now_v7());
    assert_eq!(app.get(Some(&leader), &unknown).await.expect(404).code(), "not_found");
    let caught_up =
        |body: &serde_json::Value| body.as_array().is_some_and(|all| all.iter().all(|p| p["lag_events"] == 0));
    let status = app.get_until(&admin, "/api/v1/projections", caught_up).await.expect(200);
    let states: Vec<(&str, &str)> = status
        .body
        .as_array()
        .map(|all| all.iter().map(|p| (p["name"].as_str().unwrap_or(""), p["state"].as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    assert_eq!(
        states,
        [
            ("andon", "running"),
            ("audit_trail", "running"),
            ("downtime", "running"),
            ("jobs", "running"),
            ("ledger", "running"),
            ("oee", "running")
        ]
    );
    let this_process = format!("ms5-floor pid {}", std::process::id());
    for projection in status.body.as_array().into_iter().flatten() {
        assert_eq!(projection["owner"]["application_name"], this_process.as_str(), "{projection}");
        assert!(projection["events_per_second"].as_f64().is_some_and(|rate| rate >= 0.0), "{projection}");
    }

    let pareto =
        format!("/api/v1/downtime/pareto?line={LINE}&by=reason&from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z");
    let bars = app.get_until(&leader, &pareto, |body| body["bars"][0]["key"] == "jam").await.expect(200);
    assert_eq!(bars.body["bars"], json!([{"key": "jam", "stops": 1, "duration_ms": 1_200_000}]));
    assert_eq!(bars.body["open_stops"], 0);

    let times = format!("/api/v1/andon-calls/response-times?line={LINE}");
    let answered = app.get_until(&leader, &times, |body| body["by_call_type"][0]["resolved"] == 1).await.expect(200);
    assert_eq!(answered.body["by_call_type"][0]["call_type"], "maintenance");
    let board = app.get(Some(&leader), &format!("/api/v1/andon-calls?line={LINE}")).await.expect(200);
    assert_eq!(board.body["calls"], json!([]), "the resolved call is off the board");

    let reliability =
        format!("/api/v1/downtime/reliability?line={LINE}&from=2026-11-22T05:00:00Z&to=2026-11-22T07:00:00Z");
    let figures = app.get(Some(&leader), &reliability).await.expect(200);
    assert_eq!((figures.body["failures"].as_i64(), figures.body["mttr_ms"].as_f64()), (Some(1), Some(1_200_000.0)));
    assert_eq!(figures.body["mtbf_ms"].as_f64(), Some(6_000_000.0), "two hours less the 20-minute jam");
}
