//! Electronic signatures over HTTP (Part 11 ES-01..ES-07, AT-13): what is signed is shown before any
//! credential, the credentials are re-entered by the signed-in person only, failures count towards the
//! lockout, and every signature is checked against the record as stored.

use std::num::NonZeroU32;

use commands::event_log::{StreamBound, read_stream};
use serde_json::{Value, json};

use crate::support::{LINE, OWN_PASSWORD, TestApp, on_line, on_site, spawn, test_settings};

struct Floor {
    admin: String,
    engineer: String,
    leader: String,
    quality: String,
    quality_id: String,
    operator: String,
    operator_id: String,
}

/// A UTC line with people: an engineer, a team leader (theo), quality (quinn) and an operator (olga).
async fn floor(app: &TestApp) -> Floor {
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    let (_, leader) = app.person(&admin, "theo", on_site("team_leader")).await;
    let (quality_id, quality) = app.person(&admin, "quinn", on_site("quality")).await;
    let (operator_id, operator) = app.person(&admin, "olga", on_line("operator", LINE)).await;
    let register = json!({"line": LINE, "name": "L3", "time_zone": "Europe/Berlin"});
    app.post(Some(&engineer), "/api/v1/lines", &register).await.expect(201);
    Floor { admin, engineer, leader, quality, quality_id, operator, operator_id }
}

/// A job olga ran to completion with 10 good units; its id.
async fn completed_job(app: &TestApp, floor: &Floor) -> String {
    let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 10});
    let job = app.post(Some(&floor.leader), "/api/v1/jobs", &job).await.expect(201);
    let job = job.body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    let at = |action: &str| format!("/api/v1/jobs/{job}/{action}");
    app.post(Some(&floor.leader), &at("assign"), &json!({"operator": floor.operator_id})).await.expect(200);
    for step in ["accept", "start"] {
        app.post(Some(&floor.operator), &at(step), &json!({})).await.expect(200);
    }
    app.post(Some(&floor.operator), &at("production"), &json!({"good": 10, "reject": 0})).await.expect(200);
    app.post(Some(&floor.operator), &at("complete"), &json!({})).await.expect(200);
    job
}

fn signing(record_type: &str, id: &str, version: u64, meaning: &str, username: Option<&str>) -> Value {
    let mut body = json!({"record_type": record_type, "record_id": id, "version": version, "meaning": meaning,
                          "password": OWN_PASSWORD});
    if let Some(username) = username {
        body["username"] = json!(username);
    }
    body
}

async fn version(app: &TestApp, token: &str, record_type: &str, id: &str) -> u64 {
    let history = app.get(Some(token), &format!("/api/v1/history?record_type={record_type}&id={id}&limit=1")).await;
    history.expect(200).body["version"].as_u64().unwrap_or_default()
}

async fn event_types(app: &TestApp, token: &str, record_type: &str, id: &str) -> Vec<String> {
    let history = app.get(Some(token), &format!("/api/v1/history?record_type={record_type}&id={id}")).await;
    let events = history.expect(200).body["events"].as_array().cloned().unwrap_or_default();
    events.iter().filter_map(|event| event["event_type"].as_str().map(str::to_owned)).collect()
}

async fn signatures(app: &TestApp, token: &str, record_type: &str, id: &str) -> Vec<Value> {
    let url = format!("/api/v1/record-signatures?record_type={record_type}&id={id}");
    app.get(Some(token), &url).await.expect(200).body.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn es_07_es_01_the_intent_shows_what_is_signed_first_and_a_session_signs_first_with_both_credentials() {
    let app = spawn(test_settings()).await;
    let floor = floor(&app).await;
    let job = completed_job(&app, &floor).await;
    let quinn = &floor.quality;
    let intent = format!("/api/v1/signatures/intent?record_type=job&record_id={job}&meaning=released");
    let shown = app.get(Some(quinn), &intent).await.expect(200).body;
    assert_eq!((shown["version"].as_u64(), shown["meaning"].as_str()), (Some(6), Some("released")));
    assert!(shown["statement"].as_str().is_some_and(|text| text.contains("release")), "{shown}");
    assert_eq!((shown["signer"].as_str(), shown["role"].as_str()), (Some("Person quinn"), Some("quality")));
    assert_eq!(shown["credentials"], "username_and_password");
    let lines: Vec<(String, String)> = shown["summary"]
        .as_array()
        .map(|lines| lines.iter().map(|l| (l["label"].to_string(), l["value"].to_string())).collect())
        .unwrap_or_default();
    assert!(
        lines.contains(&("\"Good\"".into(), "\"10\"".into()))
            && lines.contains(&("\"Status\"".into(), "\"completed\"".into()))
    );
    assert_eq!(version(&app, quinn, "job", &job).await, 6, "showing the intent writes nothing");

    // A token alone never signs; the first signature of the session needs the username too.
    let no_password = json!({"record_type": "job", "record_id": job, "version": 6, "meaning": "released"});
    assert_eq!(app.post(Some(quinn), "/api/v1/signatures", &no_password).await.status, 400);
    let password_only = app.post(Some(quinn), "/api/v1/signatures", &signing("job", &job, 6, "released", None)).await;
    assert_eq!(password_only.expect(401).code(), "username_required");
    let signed = app.post(Some(quinn), "/api/v1/signatures", &signing("job", &job, 6, "released", Some("quinn"))).await;
    assert_eq!(signed.expect(201).body["events"][0]["event_type"], "JobSigned");

    // Later in the same session the password is enough.
    assert_eq!(
        app.get(Some(quinn), &intent.replace("released", "reviewed")).await.expect(200).body["credentials"],
        "password"
    );
    app.post(Some(quinn), "/api/v1/signatures", &signing("job", &job, 7, "reviewed", None)).await.expect(201);

    // After signing out, a new session starts again with both.
    app.post(Some(quinn), "/api/v1/auth/logout", &json!({})).await.expect(204);
    let quinn = app.login("quinn", OWN_PASSWORD).await;
    assert_eq!(
        app.get(Some(&quinn), &intent.replace("released", "reviewed")).await.expect(200).body["credentials"],
        "username_and_password"
    );
    let refused = app.post(Some(&quinn), "/api/v1/signatures", &signing("job", &job, 8, "reviewed", None)).await;
    assert_eq!(refused.expect(401).code(), "username_required");
    let history = event_types(&app, &floor.admin, "user", &floor.quality_id).await;
    assert!(
        !history.iter().any(|event| event == "SigningFailed"),
        "a missing username is no failed attempt: {history:?}"
    );
}

#[tokio::test]
async fn es_06_wrong_or_another_persons_credentials_are_audited_and_count_towards_the_lockout() {
    let settings =
        api::ServiceSettings { max_failed_logins: NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN), ..test_settings() };
    let app = spawn(settings).await;
    let floor = floor(&app).await;
    let job = completed_job(&app, &floor).await;
    let quinn = &floor.quality;
    let mut wrong = signing("job", &job, 6, "released", Some("quinn"));
    wrong["password"] = json!("Not-The-Password-1");
    assert_eq!(app.post(Some(quinn), "/api/v1/signatures", &wrong).await.expect(401).code(), "invalid_credentials");
    // Nobody signs for another person, whatever their password (AC-04).
    let as_olga = signing("job", &job, 6, "released", Some("olga"));
    assert_eq!(app.post(Some(quinn), "/api/v1/signatures", &as_olga).await.expect(403).code(), "not_your_account");
    assert_eq!(version(&app, &floor.leader, "job", &job).await, 6, "no failed attempt signs anything");
    let failed = app.post(None, "/api/v1/auth/login", &json!({"username": "quinn", "password": "Wrong-1"})).await;
    assert_eq!(failed.expect(401).code(), "invalid_credentials");
    let ended = app.get(Some(quinn), "/api/v1/ledger/verifier-key").await;
    assert_eq!((ended.status, ended.code()), (401, "session_ended"), "the third failure locked the account");
    let history = event_types(&app, &floor.admin, "user", &floor.quality_id).await;
    assert!(
        history.ends_with(&[
            "SigningFailed".into(),
            "SigningFailed".into(),
            "LoginFailed".into(),
            "UserLockedOut".into()
        ]),
        "{history:?}"
    );
}

#[tokio::test]
async fn es_02_es_03_es_04_a_release_is_printed_stops_standing_after_a_change_and_is_revoked_with_a_reason() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let floor = floor(&app).await;
    let job = completed_job(&app, &floor).await;
    app.post(Some(&floor.quality), "/api/v1/signatures", &signing("job", &job, 6, "released", Some("quinn")))
        .await
        .expect(201);
    let [release] = signatures(&app, &floor.leader, "job", &job).await.try_into().expect("one signature");
    assert_eq!((release["status"].as_str(), release["meaning"].as_str()), (Some("standing"), Some("released")));
    assert_eq!((release["printed_name"].as_str(), release["role"].as_str()), (Some("Person quinn"), Some("quality")));
    assert_eq!((release["version"].as_u64(), release["sequence"].as_u64()), (Some(6), Some(7)));
    assert!(release["signed_at"].as_str().is_some_and(|at| at.ends_with('Z')), "UTC: {release}");
    assert!(release["signed_local"].as_str().is_some_and(|at| at.ends_with("+01:00")), "Berlin time: {release}");
    assert_eq!(release["digest"].as_str().map(str::len), Some(64));

    // A correction after the release: the signature covers the version before it.
    let correction = json!({"good_delta": -1, "reject_delta": 1, "reason": "one scrapped at inspection"});
    app.post(Some(&floor.leader), &format!("/api/v1/jobs/{job}/corrections"), &correction).await.expect(200);
    let [changed] = signatures(&app, &floor.leader, "job", &job).await.try_into().expect("one signature");
    assert_eq!((changed["status"].as_str(), changed["first_change"].as_u64()), (Some("record_changed"), Some(8)));

    // Revoked by another person than the signer, who is not quality: refused; by the signer: kept, marked.
    let revoke = json!({"record_type": "job", "record_id": job, "signature_id": release["signature_id"],
                        "reason": "released before the correction"});
    let by_operator = app.post(Some(&floor.operator), "/api/v1/signatures/revoke", &revoke).await;
    assert_eq!(by_operator.expect(422).code(), "not_your_signature");
    app.post(Some(&floor.quality), "/api/v1/signatures/revoke", &revoke).await.expect(200);
    let [revoked] = signatures(&app, &floor.leader, "job", &job).await.try_into().expect("one signature");
    assert_eq!(
        (revoked["status"].as_str(), revoked["reason"].as_str()),
        (Some("revoked"), Some("released before the correction"))
    );
    let types = event_types(&app, &floor.leader, "job", &job).await;
    assert_eq!(types[6..], ["JobSigned", "ProductionCorrected", "JobSignatureRevoked"]);

    // The printed report shows the signature's manifestation and its status (AT-11).
    crate::audit_trail::trail(&app, &floor.quality, &format!("/api/v1/audit-trail?record_type=job&record_id={job}"), 9)
        .await;
    let report =
        app.get(Some(&floor.quality), &format!("/api/v1/audit-trail/report?record_type=job&record_id={job}")).await;
    let html = report.expect(200).body.as_str().unwrap_or_default().to_owned();
    assert!(
        html.contains("<td>Person quinn (quality)</td>") && html.contains("<strong>released</strong>: I release"),
        "{html}"
    );
    assert!(html.contains("revoked ") && html.contains(": released before the correction"), "{html}");
}

#[tokio::test]
async fn es_03_a_signature_copied_onto_another_record_does_not_verify_even_with_the_chain_recomputed() {
    let app = spawn(test_settings()).await;
    let floor = floor(&app).await;
    let (signed_job, other_job) = (completed_job(&app, &floor).await, completed_job(&app, &floor).await);
    app.post(Some(&floor.quality), "/api/v1/signatures", &signing("job", &signed_job, 6, "released", Some("quinn")))
        .await
        .expect(201);
    // A superuser appends the release to the other job, with a fresh id and that stream's chain.
    let source = read_stream(&app.pool, "job", &signed_job, StreamBound::All).await.unwrap();
    let target = read_stream(&app.pool, "job", &other_job, StreamBound::All).await.unwrap();
    let mut copy = source[6].clone();
    copy.aggregate_id = other_job.clone();
    copy.sequence = 7;
    copy.event_id = uuid::Uuid::now_v7();
    let previous: [u8; 32] = target[5].stream_hash.clone().try_into().unwrap();
    copy.stream_hash = copy.recompute_hash(Some(&previous)).to_vec();
    let mut connection = app.owner.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica").execute(&mut *connection).await.unwrap();
    sqlx::query(
        "INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                             metadata, recorded_at, stream_hash)
         VALUES ($1, 'job', $2, 7, $3, $4, $5, $6, $7, $8)",
    )
    .bind(copy.event_id)
    .bind(&copy.aggregate_id)
    .bind(&copy.event_type)
    .bind(copy.event_version)
    .bind(&copy.payload)
    .bind(&copy.metadata)
    .bind(copy.recorded_at)
    .bind(&copy.stream_hash)
    .execute(&mut *connection)
    .await
    .unwrap();
    let history = app.get(Some(&floor.leader), &format!("/api/v1/history?record_type=job&id={other_job}")).await;
    assert_eq!(history.expect(200).body["chain_verified"], true, "the chain alone is satisfied");
    let [moved] = signatures(&app, &floor.leader, "job", &other_job).await.try_into().expect("the copied signature");
    assert_eq!(moved["status"], "broken", "{moved}");
    let [original] = signatures(&app, &floor.leader, "job", &signed_job).await.try_into().expect("the signature");
    assert_eq!(original["status"], "standing", "the untouched control");
}

#[tokio::test]
async fn at_13_a_corrected_job_is_released_only_after_its_correction_was_reviewed() {
    let app = spawn(test_settings()).await;
    let floor = floor(&app).await;
    let job = completed_job(&app, &floor).await;
    let correction = json!({"good_delta": -2, "reject_delta": 2, "reason": "two cartons crushed"});
    app.post(Some(&floor.leader), &format!("/api/v1/jobs/{job}/corrections"), &correction).await.expect(200);
    let release = signing("job", &job, 7, "released", Some("quinn"));
    let refused = app.post(Some(&floor.quality), "/api/v1/signatures", &release).await;
    assert_eq!(refused.expect(422).code(), "unreviewed_changes");
    assert_eq!(version(&app, &floor.leader, "job", &job).await, 7, "a refused signature writes nothing");
    app.post(Some(&floor.leader), "/api/v1/signatures", &signing("job", &job, 7, "reviewed", Some("theo")))
        .await
        .expect(201);
    app.post(Some(&floor.quality), "/api/v1/signatures", &signing("job", &job, 8, "released", Some("quinn")))
        .await
        .expect(201);
    let meanings: Vec<Value> =
        signatures(&app, &floor.leader, "job", &job).await.iter().map(|s| s["meaning"].clone()).collect();
    assert_eq!(meanings, ["reviewed", "released"]);
}

#[tokio::test]
async fn es_05_a_checklist_is_performed_by_one_person_and_verified_by_another_and_admins_never_sign() {
    let app = spawn(test_settings()).await;
    let floor = floor(&app).await;
    let template = json!({"line": LINE, "name": "Line clearance",
        "items": [{"id": "guard", "prompt": "Guard closed", "kind": {"kind": "check"}, "mandatory": true}]});
    app.post(Some(&floor.engineer), "/api/v1/checklist-templates/clearance", &template).await.expect(200);
    // Tess runs the line and leads the team: she may verify checklists, but not her own.
    let grants = json!([{"role": "operator", "scope": {"kind": "line", "line": LINE}},
                        {"role": "team_leader", "scope": {"kind": "line", "line": LINE}}]);
    let (_, tess) = app.person(&floor.admin, "tess", grants).await;
    let checklist = app.post(Some(&tess), "/api/v1/checklists", &json!({"template_id": "clearance"})).await;
    let checklist = checklist.expect(201).body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    let early = app
        .post(Some(&tess), "/api/v1/signatures", &signing("checklist", &checklist, 1, "performed", Some("tess")))
        .await;
    assert_eq!(early.expect(422).code(), "mandatory_unanswered");
    let answer = json!({"item": "guard", "answer": {"kind": "check", "value": true}});
    app.post(Some(&tess), &format!("/api/v1/checklists/{checklist}/answers"), &answer).await.expect(200);
    let performed = app
        .post(Some(&tess), "/api/v1/signatures", &signing("checklist", &checklist, 2, "performed", Some("tess")))
        .await;
    let types: Vec<Value> =
        performed.expect(201).body["events"].as_array().unwrap().iter().map(|e| e["event_type"].clone()).collect();
    assert_eq!(types, ["ChecklistCompleted", "ChecklistSigned"]);
    let own = app.post(Some(&tess), "/api/v1/signatures", &signing("checklist", &checklist, 4, "verified", None)).await;
    assert_eq!(own.expect(422).code(), "two_person_rule");
    let by_operator = app
        .post(
            Some(&floor.operator),
            "/api/v1/signatures",
            &signing("checklist", &checklist, 4, "verified", Some("olga")),
        )
        .await;
    assert_eq!(by_operator.expect(403).code(), "forbidden", "an operator does not verify");
    app.post(Some(&floor.leader), "/api/v1/signatures", &signing("checklist", &checklist, 4, "verified", Some("theo")))
        .await
        .expect(201);
    let state = app.get(Some(&floor.leader), &format!("/api/v1/state?record_type=checklist&id={checklist}")).await;
    assert_eq!(state.expect(200).body["state"]["completed"], true);

    // Administrators and auditors sign nothing, not even what they may read.
    let (_, auditor) = app.person(&floor.admin, "audrey", on_site("auditor")).await;
    for token in [&floor.admin, &auditor] {
        let intent = format!("/api/v1/signatures/intent?record_type=checklist&record_id={checklist}&meaning=reviewed");
        assert_eq!(app.get(Some(token), &intent).await.expect(403).code(), "forbidden");
    }
}

#[tokio::test]
async fn es_01_a_stop_reason_changed_after_its_shift_ended_is_signed_by_the_person_who_changes_it() {
    let app = spawn(test_settings()).await;
    let floor = floor(&app).await;
    let line = |what: &str| format!("/api/v1/lines/{LINE}/{what}");
    let shift = json!({"name": "early", "start": "06:00:00", "end": "14:00:00", "breaks": []});
    let calendar = json!({"shifts": [shift], "effective_from": "2026-01-01T00:00:00Z"});
    app.post(Some(&floor.engineer), &line("shift-calendar"), &calendar).await.expect(200);
    for code in ["jam", "changeover"] {
        let reason = json!({"code": code, "label": code, "loss_category": "unplanned"});
        app.post(Some(&floor.engineer), &line("downtime-reasons"), &reason).await.expect(200);
    }
    let stop = json!({"line": LINE, "started_at": "2026-11-23T07:00:00Z"});
    let stop = app.post(Some(&floor.leader), "/api/v1/downtime", &stop).await.expect(201);
    let stop = stop.body["aggregate_id"].as_str().unwrap_or_default().to_owned();
    let reason = format!("/api/v1/downtime/{stop}/reason");
    app.post(Some(&floor.leader), &reason, &json!({"code": "jam"})).await.expect(200);

    let change = json!({"code": "changeover", "reason_for_change": "it was the planned changeover"});
    let unsigned = app.post(Some(&floor.leader), &reason, &change).await;
    assert_eq!(unsigned.expect(422).code(), "signature_required");
    let mut signed = change.clone();
    signed["signature"] = json!({"version": 2, "username": "theo", "password": OWN_PASSWORD});
    let accepted = app.post(Some(&floor.leader), &reason, &signed).await.expect(200);
    let types: Vec<Value> =
        accepted.body["events"].as_array().unwrap().iter().map(|e| e["event_type"].clone()).collect();
    assert_eq!(types, ["DowntimeReasonChanged", "DowntimeSigned"]);
    let [authored] = signatures(&app, &floor.leader, "downtime", &stop).await.try_into().expect("one signature");
    assert_eq!((authored["meaning"].as_str(), authored["status"].as_str()), (Some("authored"), Some("standing")));
    assert_eq!(authored["version"], 2, "it names the version its author was shown");
}
