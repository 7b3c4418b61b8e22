//! Bad input for every endpoint that takes some: malformed JSON, wrong types, missing and unknown fields,
//! unknown and malformed ids, oversized bodies, the wrong content type. Each gets its 4xx code in the
//! error model, never a 5xx, and not one event is appended by any of them.

use serde_json::{Value, json};

use crate::catalogue::{Access, Endpoint, Fixture, concrete, endpoints, setup};
use crate::support::{Response, TestApp, spawn, test_settings};

/// Fields a command may leave out.
const OPTIONAL: &[&str] =
    &["id", "reason", "reason_for_change", "equipment", "parent", "product", "job", "reject_reason"];

struct Case {
    what: String,
    status: u16,
    code: &'static str,
    response: Response,
}

async fn post_raw(app: &TestApp, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Response {
    let request = app.client.post(app.url(path)).bearer_auth(token).header("content-type", content_type).body(body);
    app.send(request).await
}

/// The bad bodies for one endpoint, each with the status and code it must get.
fn bad_bodies(valid: &Value) -> Vec<(String, Vec<u8>, &'static str, u16, &'static str)> {
    let json = "application/json";
    let mut cases = vec![
        ("malformed JSON".to_owned(), b"{\"unterminated".to_vec(), json, 400, "invalid_body"),
        ("an array for the body".to_owned(), b"[]".to_vec(), json, 400, "invalid_body"),
        ("trailing garbage".to_owned(), format!("{valid} x").into_bytes(), json, 400, "invalid_body"),
        (
            "the wrong content type".to_owned(),
            valid.to_string().into_bytes(),
            "text/plain",
            415,
            "unsupported_media_type",
        ),
        ("an oversized body".to_owned(), vec![b' '; 300 * 1024], json, 413, "body_too_large"),
    ];
    let fields = valid.as_object().cloned().unwrap_or_default();
    let mut with_actor = fields.clone();
    with_actor.insert(
        "actor".into(),
        json!({"user_id": "00000000-0000-0000-0000-000000000001", "printed_name": "Someone Else"}),
    );
    cases.push((
        "an actor in the body".to_owned(),
        Value::Object(with_actor).to_string().into_bytes(),
        json,
        400,
        "invalid_body",
    ));
    for (field, _) in &fields {
        let mut wrong_type = fields.clone();
        wrong_type.insert(field.clone(), json!({"unexpected": [1, 2]}));
        cases.push((
            format!("a wrong type for {field}"),
            Value::Object(wrong_type).to_string().into_bytes(),
            json,
            400,
            "invalid_body",
        ));
        if !OPTIONAL.contains(&field.as_str()) {
            let mut missing = fields.clone();
            missing.remove(field);
            cases.push((
                format!("{field} missing"),
                Value::Object(missing).to_string().into_bytes(),
                json,
                400,
                "invalid_body",
            ));
        }
    }
    cases
}

/// The endpoint's path with every id in it unknown, if it has ids.
fn with_unknown_ids(endpoint: &Endpoint, fixture: &Fixture) -> Option<String> {
    let unknown = uuid::Uuid::now_v7().to_string();
    let path = concrete(endpoint, fixture)
        .replace(&fixture.job, &unknown)
        .replace(&fixture.stop, &unknown)
        .replace(&fixture.call, &unknown)
        .replace(&fixture.checklist, &unknown)
        .replace(&fixture.user, &unknown)
        .replace("target-device", "unknown-device")
        .replace("checklist-templates/clearance", "checklist-templates/unknown-template")
        .replace("/lines/plant-1/packing/L3", "/lines/plant-1/packing/L99");
    (path != concrete(endpoint, fixture) && !endpoint.path.contains("checklist-templates")).then_some(path)
}

#[tokio::test]
async fn bad_input_to_every_endpoint_gets_its_4xx_and_appends_nothing() {
    let app = spawn(test_settings()).await;
    let (tokens, fixture, _) = setup(&app).await;
    let before = app.event_count().await;
    let mut cases = Vec::new();
    for endpoint in endpoints() {
        let Access::Roles(allowed) = endpoint.access else { continue };
        // A site-wide role, so that unknown lines are unknown rather than out of scope.
        let role = allowed.iter().find(|role| **role != "operator").unwrap_or(&allowed[0]);
        let token = &tokens[role];
        let path = concrete(&endpoint, &fixture);
        if endpoint.method == "POST" {
            for (what, body, content_type, status, code) in bad_bodies(&(endpoint.body)(&fixture)) {
                let response = post_raw(&app, &path, token, content_type, body).await;
                cases.push(Case { what: format!("POST {} with {what}", endpoint.path), status, code, response });
            }
        }
        if let Some(unknown) = with_unknown_ids(&endpoint, &fixture) {
            let request = match endpoint.method {
                "GET" => app.client.get(app.url(&unknown)),
                _ => app.client.post(app.url(&unknown)).json(&(endpoint.body)(&fixture)),
            };
            let response = app.send(request.bearer_auth(token)).await;
            cases.push(Case {
                what: format!("{} {} with unknown ids", endpoint.method, endpoint.path),
                status: 404,
                code: "not_found",
                response,
            });
        }
        if endpoint.path.contains("_id}")
            && !endpoint.path.contains("{device_id}")
            && !endpoint.path.contains("{template_id}")
        {
            let malformed = path
                .replace(&fixture.job, "not-a-uuid")
                .replace(&fixture.stop, "not-a-uuid")
                .replace(&fixture.call, "not-a-uuid")
                .replace(&fixture.checklist, "not-a-uuid")
                .replace(&fixture.user, "not-a-uuid");
            let request = match endpoint.method {
                "GET" => app.client.get(app.url(&malformed)),
                _ => app.client.post(app.url(&malformed)).json(&(endpoint.body)(&fixture)),
            };
            let response = app.send(request.bearer_auth(token)).await;
            cases.push(Case {
                what: format!("{} {} with a malformed id", endpoint.method, endpoint.path),
                status: 400,
                code: "invalid_path",
                response,
            });
        }
    }
    let leader = &tokens["team_leader"];
    for (query, status, code) in [
        ("record_type=spaceship&id=x", 400, "invalid_query"),
        ("record_type=job", 400, "invalid_query"),
        ("record_type=job&id=x&sequence=-1", 400, "invalid_query"),
        ("record_type=job&id=00000000-0000-0000-0000-000000000000", 404, "not_found"),
    ] {
        for endpoint in ["history", "state"] {
            let response = app.get(Some(leader), &format!("/api/v1/{endpoint}?{query}")).await;
            cases.push(Case { what: format!("GET /api/v1/{endpoint}?{query}"), status, code, response });
        }
    }
    for path in ["/api/v1/nothing", "/api/v1/jobs/x/unknown", "/api/v1/auth"] {
        let response = app.get(Some(leader), path).await;
        cases.push(Case { what: format!("GET {path}"), status: 404, code: "no_such_route", response });
    }
    let nul = app.post(None, "/api/v1/auth/login", &json!({"username": "ad\u{0}min", "password": "x"})).await;
    cases.push(Case {
        what: "a NUL character in a username".into(),
        status: 401,
        code: "invalid_credentials",
        response: nul,
    });
    let both = app
        .get(
            Some(leader),
            &format!("/api/v1/state?record_type=job&id={}&sequence=1&at=2026-01-01T00:00:00Z", fixture.job),
        )
        .await;
    cases.push(Case {
        what: "GET /api/v1/state with sequence and at".into(),
        status: 400,
        code: "invalid_query",
        response: both,
    });
    let bad_header = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/jobs/{}/pause", fixture.job)))
                .bearer_auth(leader)
                .header("expected-version", "seven")
                .json(&json!({})),
        )
        .await;
    cases.push(Case {
        what: "an Expected-Version that is no number".into(),
        status: 400,
        code: "invalid_header",
        response: bad_header,
    });

    let wrong: Vec<String> = cases
        .iter()
        .filter(|case| case.response.status != case.status || case.response.code() != case.code)
        .map(|case| {
            format!(
                "{}: expected {} {}, got {} {}",
                case.what, case.status, case.code, case.response.status, case.response.body
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{} of {} cases differ:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
    assert!(
        cases.iter().all(|case| case.response.body["message"].is_string() && case.response.body["details"].is_object())
    );
    assert_eq!(app.event_count().await, before, "bad input appended events");
    assert!(cases.len() > 300, "the table covers every endpoint ({} cases)", cases.len());
}

#[tokio::test]
async fn values_past_their_bounds_and_source_times_from_the_future_are_refused_and_write_nothing() {
    let app = spawn(test_settings()).await;
    let (job, olga) = app.running_job().await;
    let leader = app.login("theo", crate::support::OWN_PASSWORD).await;
    let events = app.event_count().await;
    let production = format!("/api/v1/jobs/{job}/production");
    for good in [domain::values::Units::MAX + 1, 1 << 63, u64::MAX] {
        let refused = app.post(Some(&olga), &production, &json!({"good": good, "reject": 0})).await.expect(422);
        assert_eq!(refused.code(), "out_of_range", "{good}");
    }
    let correction = json!({"good_delta": i64::MIN, "reject_delta": 0, "reason": "typo"});
    let refused = app.post(Some(&leader), &format!("/api/v1/jobs/{job}/corrections"), &correction).await;
    assert_eq!(refused.expect(422).code(), "out_of_range");
    let from_the_future = app
        .send(
            app.client
                .post(app.url(&production))
                .bearer_auth(&olga)
                .header("source-timestamp", "9999-12-31T23:59:59Z")
                .json(&json!({"good": 1, "reject": 0})),
        )
        .await
        .expect(422);
    assert_eq!(from_the_future.code(), "source_time_in_future");
    let reading = json!({"counter": "c1", "kind": "good", "width": "bits64", "sequence": 1, "value": 5,
                         "source_timestamp": "9999-12-31T23:59:59Z"});
    let refused = app.post(Some(&olga), &format!("/api/v1/jobs/{job}/counter-readings"), &reading).await;
    assert_eq!(refused.expect(422).code(), "source_time_in_future");
    assert_eq!(app.event_count().await, events, "nothing written");
    let at_the_bound = json!({"good": domain::values::Units::MAX, "reject": 0});
    app.post(Some(&olga), &production, &at_the_bound).await.expect(200);
}

#[tokio::test]
async fn a_record_whose_newest_events_were_deleted_is_an_integrity_alarm_not_a_generic_failure() {
    let app = spawn(test_settings()).await;
    let (job, olga) = app.running_job().await;
    let production = format!("/api/v1/jobs/{job}/production");
    app.post(Some(&olga), &production, &json!({"good": 1, "reject": 0})).await.expect(200);
    // A superuser removes the newest events behind the service's back.
    let mut connection = app.owner.acquire().await.unwrap();
    for sql in
        ["SET session_replication_role = replica", "DELETE FROM events WHERE aggregate_id = $1 AND sequence >= 4"]
    {
        sqlx::query(sql).bind(&job).execute(&mut *connection).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let alarm = app.post(Some(&olga), &production, &json!({"good": 1, "reject": 0})).await.expect(500);
    assert_eq!(alarm.code(), "integrity_alarm");
    assert_eq!(alarm.body["details"]["aggregate_id"], job.as_str());
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1")
        .bind(&job)
        .fetch_one(&app.owner)
        .await
        .unwrap_or(-1);
    assert_eq!(events, 3, "nothing appended over the gap");
    let metrics = app.get(None, "/metrics").await;
    assert!(metrics.body.as_str().unwrap_or_default().contains("integrity_alarms_total{kind=\"missing_predecessor\"}"));
}
