//! Events whose shape changed: a stored event of an older schema version is read through its
//! upcaster; one of a version newer than this release reads is refused, never misread.

use commands::event_log::{RecordedEvent, StreamBound, read_stream, verify_stream};
use commands::{StoreError, canonical::StreamHash};
use domain::job::{Job, JobEvent};
use serde_json::{Value, json};

use crate::support::{Fixture, fixture, running_job};

/// Appends to the job's stream an event as an earlier release stored it: `event_type` at `version`
/// with `payload`, chained to the stream's hash as the store chains every event.
async fn append_as_stored(fixture: &Fixture, job: &str, event_type: &str, version: i32, payload: Value) {
    let stream = read_stream(&fixture.app, "job", job, StreamBound::All).await.unwrap();
    let last = stream.last().unwrap();
    let previous: StreamHash = last.stream_hash.as_slice().try_into().unwrap();
    let mut event = RecordedEvent {
        event_id: uuid::Uuid::now_v7(),
        sequence: last.sequence + 1,
        event_type: event_type.to_owned(),
        event_version: version,
        payload,
        recorded_at: last.recorded_at + chrono::Duration::milliseconds(1),
        ..last.clone()
    };
    event.stream_hash = event.recompute_hash(Some(&previous)).to_vec();
    sqlx::query(
        "INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                             metadata, recorded_at, stream_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(event.event_id)
    .bind(&event.aggregate_type)
    .bind(&event.aggregate_id)
    .bind(event.sequence)
    .bind(&event.event_type)
    .bind(event.event_version)
    .bind(&event.payload)
    .bind(&event.metadata)
    .bind(event.recorded_at)
    .bind(&event.stream_hash)
    .execute(&fixture.app)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_stored_version_1_production_record_is_read_through_its_upcaster_and_a_newer_version_is_refused() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    let job = running_job(&store).await;
    // Version 1, as recorded before reject reasons were a tree: no reject category at all.
    let v1 = json!({"good": 7, "reject": 2, "reject_reason": "SCRATCH", "at": "2026-11-02T06:00:00Z"});
    append_as_stored(&fixture, &job, "ProductionRecorded", 1, v1.clone()).await;

    let stream = read_stream(&fixture.app, "job", &job, StreamBound::All).await.unwrap();
    assert_eq!(verify_stream(&stream), Ok(()), "stored as it was, under the hash chain");
    let stored = stream.last().unwrap();
    assert_eq!((stored.event_version, &stored.payload), (1, &v1), "the stored event is never rewritten");
    match stored.decode::<JobEvent>().unwrap() {
        JobEvent::ProductionRecorded { good, reject, reject_category, .. } => {
            assert_eq!((good, reject, reject_category), (7, 2, None));
        }
        other => panic!("read as {other:?}"),
    }
    // Another instance (no warm copy) loads the job from the log.
    let store = fixture.store::<Job>();
    let state = store.state(&job).await.unwrap();
    assert_eq!((state.good, state.reject), (7, 2), "the aggregate folds the raised event");

    // What this release records is version 2, with the category always named.
    commands::execute(&store, &job, crate::support::one_good(), &crate::support::context()).await.unwrap();
    let newest = read_stream(&fixture.app, "job", &job, StreamBound::All).await.unwrap().pop().unwrap();
    assert_eq!((newest.event_type.as_str(), newest.event_version), ("ProductionRecorded", 2));
    assert_eq!(newest.payload["reject_category"], Value::Null);

    // A version from a newer release: refused with what it is, not read with fields missing.
    let v3 = json!({"good": 1, "reject": 0, "reject_reason": null, "reject_category": null, "lot": "L-7",
                    "at": "2026-11-02T07:00:00Z"});
    append_as_stored(&fixture, &job, "ProductionRecorded", 3, v3).await;
    match fixture.store::<Job>().state(&job).await {
        Err(StoreError::Version(error)) => {
            assert_eq!(error.to_string(), "ProductionRecorded version 3 is newer than this release reads (2)");
        }
        other => panic!("a newer version was read: {other:?}"),
    }
}

/// A rolling upgrade: the newer release has applied a migration this one does not know. This release
/// still starts (its migrations are all applied; the newer one is additive) and reports ready.
#[tokio::test]
async fn an_older_release_starts_on_a_database_that_a_newer_release_has_migrated() {
    let fixture = fixture().await;
    let owner = fixture.database.owner_pool().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99991231000000, 'a column added by the next release', true, '\\x00', 1)",
    )
    .execute(&owner)
    .await
    .unwrap();
    commands::database::migrate(&fixture.database.url).await.expect("the older release migrates and starts");
    assert!(commands::database::migrations_applied(&fixture.app).await.unwrap());
}
