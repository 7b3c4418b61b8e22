//! The ledger as an auditor uses it over HTTP (Part 11 AT-15): a record's history names each event's
//! ledger number, the proof file of one event checks offline with the verifier key the service
//! publishes, and verification of the whole log answers clean.

use commands::ledger::VerifierKey;
use commands::ledger::proof::EventProof;
use serde_json::json;

use crate::support::{ADMIN_PASSWORD, on_site, spawn, test_settings};

#[tokio::test]
async fn at_15_an_auditor_finds_a_jobs_history_downloads_an_events_proof_and_it_checks_offline() {
    let app = spawn(test_settings()).await;
    let (job, olga) = app.running_job().await;
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    let (_, auditor) = app.person(&admin, "audrey", on_site("auditor")).await;
    let _projectors = app.start_projectors();

    let history = format!("/api/v1/history?record_type=job&id={job}");
    let sealed = |body: &serde_json::Value| {
        body["events"].as_array().is_some_and(|events| events.iter().all(|event| event["ledger_number"].is_i64()))
    };
    let history = app.get_until(&auditor, &history, sealed).await.expect(200);
    let started = &history.body["events"][3];
    assert_eq!(started["event_type"], "JobStarted");
    let number = started["ledger_number"].as_i64().unwrap();

    let proof_path = format!("/api/v1/ledger/proofs/{number}");
    let download = app.get_until(&auditor, &proof_path, |body| body["format"].is_string()).await.expect(200);
    let disposition = download.headers.get("content-disposition").and_then(|value| value.to_str().ok());
    assert_eq!(disposition, Some(format!("attachment; filename=\"event-{number}.proof.json\"").as_str()));
    let proof: EventProof = serde_json::from_value(download.body).unwrap();
    assert_eq!((proof.event.aggregate_id.as_str(), proof.event.event_type.as_str()), (job.as_str(), "JobStarted"));
    assert_eq!(proof.event.metadata["actor_name"], "Person olga");

    let published = app.get(Some(&auditor), "/api/v1/ledger/verifier-key").await.expect(200);
    let key = VerifierKey::parse(published.body.as_str().unwrap()).unwrap();
    assert!(proof.check(&key).unwrap().size >= u64::try_from(number).unwrap());

    let latest = app.get(Some(&auditor), "/api/v1/ledger/checkpoints/latest").await.expect(200);
    let latest = latest.body.as_str().unwrap().to_owned();
    key.open(&latest).unwrap();
    let verification =
        app.post(Some(&auditor), "/api/v1/ledger/verify", &json!({"external_checkpoint": latest})).await.expect(200);
    assert_eq!(verification.body["clean"], true, "{}", verification.body);
    assert!(verification.body["entries_checked"].as_u64().is_some_and(|checked| checked >= 4));

    // A later checkpoint extends this one, and the consistency proof between them checks.
    let first = key.open(&latest).unwrap().head.size;
    app.post(Some(&olga), &format!("/api/v1/jobs/{job}/pause"), &json!({})).await.expect(200);
    let newer = |body: &serde_json::Value| {
        body["checkpoints"].as_array().and_then(|all| all.last()).and_then(|last| last["tree_size"].as_u64())
            > Some(first)
    };
    let listed = app.get_until(&auditor, "/api/v1/ledger/checkpoints", newer).await.expect(200);
    let newest = listed.body["checkpoints"].as_array().unwrap().last().unwrap()["tree_size"].as_u64().unwrap();
    let proven =
        app.get(Some(&auditor), &format!("/api/v1/ledger/consistency?old={first}&new={newest}")).await.expect(200);
    let old = key.open(proven.body["old"].as_str().unwrap()).unwrap().head;
    let new = key.open(proven.body["new"].as_str().unwrap()).unwrap().head;
    let proof: Vec<[u8; 32]> = proven.body["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| hex::decode(hash.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    commands::ledger::tree::check_consistency(&proof, &new, &old).unwrap();
    let reversed = format!("/api/v1/ledger/consistency?old={newest}&new={first}");
    assert_eq!(app.get(Some(&auditor), &reversed).await.expect(400).code(), "invalid_query");

    let wrong = json!({"verifier_key": "not-a-key"});
    assert_eq!(
        app.post(Some(&auditor), "/api/v1/ledger/verify", &wrong).await.expect(422).code(),
        "invalid_verifier_key"
    );
    assert_eq!(app.get(Some(&olga), &proof_path).await.expect(403).code(), "forbidden");
    assert_eq!(app.get(Some(&auditor), "/api/v1/ledger/proofs/999999").await.expect(404).code(), "not_found");
}

#[tokio::test]
async fn at_14_at_15_a_long_records_past_state_and_history_pages_are_read_from_where_they_are() {
    let app = spawn(test_settings()).await;
    let (job, olga) = app.running_job().await;
    for good in 1..=130u64 {
        let body = json!({"good": good, "reject": 0});
        app.post(Some(&olga), &format!("/api/v1/jobs/{job}/production"), &body).await.expect(200);
    }
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    let (_, auditor) = app.person(&admin, "audrey", on_site("auditor")).await;

    // As of sequence 104 (after 100 productions of 1..=100 units), from the snapshot at or before it.
    let state =
        app.get(Some(&auditor), &format!("/api/v1/state?record_type=job&id={job}&sequence=104")).await.expect(200);
    assert_eq!((state.body["version"].as_u64(), state.body["state"]["good"].as_u64()), (Some(104), Some(5050)));
    let stream =
        commands::event_log::read_stream(&app.pool, "job", &job, commands::event_log::StreamBound::UpToSequence(104))
            .await
            .unwrap();
    let folded: domain::job::Job = commands::event_log::fold(&stream).unwrap();
    assert_eq!(state.body["state"]["good"].as_u64(), Some(folded.good), "the same as a fold from the first event");

    let page = |after: u64| format!("/api/v1/history?record_type=job&id={job}&after_sequence={after}&limit=10");
    let late = app.get(Some(&auditor), &page(110)).await.expect(200);
    assert_eq!((late.body["version"].as_u64(), late.body["chain_verified"].as_bool()), (Some(134), Some(true)));
    let sequences: Vec<u64> =
        late.body["events"].as_array().unwrap().iter().filter_map(|e| e["sequence"].as_u64()).collect();
    assert_eq!(sequences, (111..=120).collect::<Vec<_>>());

    // A superuser edits event 115: its page no longer verifies; a page before it still does.
    let mut transaction = app.owner.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *transaction).await.unwrap();
    sqlx::query(
        "UPDATE events SET payload = jsonb_set(payload, '{good}', '1') WHERE aggregate_id = $1 AND sequence = 115",
    )
    .bind(&job)
    .execute(&mut *transaction)
    .await
    .unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(app.get(Some(&auditor), &page(110)).await.expect(200).body["chain_verified"], false);
    assert_eq!(app.get(Some(&auditor), &page(0)).await.expect(200).body["chain_verified"], true);
}
