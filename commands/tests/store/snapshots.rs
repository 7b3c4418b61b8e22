use commands::error::{AlarmKind, IntegrityAlarm};
use commands::{PgEventStore, StoreError, StoreSettings, execute};
use domain::job::{Job, JobCommand, JobEvent};

use crate::support::{Fixture, context, fixture, one_good, running_job};

fn every_ten(keep_warm: bool) -> StoreSettings {
    StoreSettings { snapshot_every: 10, keep_warm, ..StoreSettings::default() }
}

/// A job with 4 start events and `produced` single-unit records, snapshotted every ten events.
async fn produced_job(fixture: &Fixture, produced: usize) -> String {
    let store: PgEventStore<Job> = PgEventStore::new(fixture.app.clone(), every_ten(true));
    let id = running_job(&store).await;
    for _ in 0..produced {
        execute(&store, &id, one_good(), &context()).await.unwrap();
    }
    id
}

async fn superuser(fixture: &Fixture, sql: &str, id: &str) -> u64 {
    let owner = fixture.database.owner_pool().await;
    let done = sqlx::query(sql).bind(id).execute(&owner).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    done.rows_affected()
}

fn cold(fixture: &Fixture) -> PgEventStore<Job> {
    PgEventStore::new(fixture.app.clone(), every_ten(false))
}

#[tokio::test]
async fn snapshots_are_written_with_the_append_and_a_cold_load_from_one_matches_the_stream() {
    let fixture = fixture().await;
    let id = produced_job(&fixture, 21).await;
    let snapshots: Vec<i64> =
        sqlx::query_scalar("SELECT sequence FROM snapshots WHERE aggregate_id = $1 ORDER BY sequence")
            .bind(&id)
            .fetch_all(&fixture.app)
            .await
            .unwrap();
    assert_eq!(snapshots, [10, 20], "each snapshot is a row of its own; none is replaced");

    let cold = cold(&fixture);
    let loaded = cold.load(&id).await.unwrap();
    assert_eq!(loaded.version(), 25);
    assert_eq!(loaded.state().good, 21);
    drop(loaded);
    execute(&cold, &id, one_good(), &context()).await.unwrap();
    assert_eq!(cold.load(&id).await.unwrap().state().good, 22);
}

#[tokio::test]
async fn the_application_role_cannot_change_or_remove_a_snapshot() {
    let fixture = fixture().await;
    let id = produced_job(&fixture, 10).await;
    for sql in
        ["UPDATE snapshots SET state = '{}' WHERE aggregate_id = $1", "DELETE FROM snapshots WHERE aggregate_id = $1"]
    {
        let refused = sqlx::query(sql).bind(&id).execute(&fixture.app).await;
        let code = refused.err().and_then(|e| e.as_database_error().and_then(|e| e.code().map(|c| c.into_owned())));
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: insufficient privilege");
    }
}

#[tokio::test]
async fn an_edited_snapshot_is_ignored_and_the_service_decides_on_the_replayed_stream() {
    let fixture = fixture().await;
    let id = produced_job(&fixture, 101).await;
    // The attack the MAC stops: the newest snapshot claims a million more good units.
    let edited = superuser(
        &fixture,
        "UPDATE snapshots SET state = jsonb_set(state, '{good}', '1000004')
         WHERE aggregate_id = $1 AND sequence = (SELECT max(sequence) FROM snapshots WHERE aggregate_id = $1)",
        &id,
    )
    .await;
    assert_eq!(edited, 1);
    let cold = cold(&fixture);
    let completed = execute(&cold, &id, JobCommand::Complete, &context()).await.unwrap();
    assert_eq!(completed.version, 106);
    let events = commands::event_log::read_stream(&fixture.app, "job", &id, commands::event_log::StreamBound::All)
        .await
        .unwrap();
    let last = events.last().map(|event| event.decode::<JobEvent>());
    assert!(matches!(last, Some(Ok(JobEvent::JobCompleted { good: 101, .. }))), "{last:?}");
}

#[tokio::test]
async fn a_snapshot_inserted_without_the_key_is_ignored() {
    let fixture = fixture().await;
    let id = produced_job(&fixture, 5).await;
    // The application role may insert snapshots; one it forges at the stream's end carries no valid MAC.
    let forged = sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, sequence, state, stream_hash, mac)
         SELECT 'job', $1, 9, jsonb_build_object('status', 'running', 'good', 999), stream_hash, sha256('x')
         FROM events WHERE aggregate_id = $1 AND sequence = 9",
    )
    .bind(&id)
    .execute(&fixture.app)
    .await
    .unwrap();
    assert_eq!(forged.rows_affected(), 1);
    let loaded = cold(&fixture).load(&id).await.unwrap();
    assert_eq!((loaded.version(), loaded.state().good), (9, 5));
}

#[tokio::test]
async fn a_snapshot_of_another_instance_key_is_replayed_not_trusted() {
    let fixture = fixture().await;
    let id = produced_job(&fixture, 12).await;
    let other_key = commands::snapshot::SnapshotKey::from_bytes([9; 32]);
    let other =
        PgEventStore::<Job>::new(fixture.app.clone(), StoreSettings { snapshot_key: other_key, ..every_ten(false) });
    let loaded = other.load(&id).await.unwrap();
    assert_eq!((loaded.version(), loaded.state().good), (16, 12), "the same state, from the events");
}

async fn alarm_on_load(fixture: &Fixture, id: &str) -> IntegrityAlarm {
    match cold(fixture).load(id).await {
        Err(StoreError::Integrity(alarm)) => alarm,
        other => panic!("expected an integrity alarm, got {:?}", other.map(|loaded| loaded.version())),
    }
}

/// Superuser edits of the log, with the triggers that forbid them switched off for the session.
async fn tamper(fixture: &Fixture, sql: &str, id: &str) {
    let owner = fixture.database.owner_pool().await;
    let mut connection = owner.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica").execute(&mut *connection).await.unwrap();
    sqlx::query(sql).bind(id).execute(&mut *connection).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn a_stream_cut_below_its_snapshot_is_an_integrity_alarm() {
    let fixture = fixture().await;
    let id = produced_job(&fixture, 12).await;
    tamper(&fixture, "DELETE FROM events WHERE aggregate_id = $1 AND sequence >= 10", &id).await;
    let alarm = alarm_on_load(&fixture, &id).await;
    assert_eq!((alarm.sequence, alarm.kind), (10, AlarmKind::StreamShortened { seen: 10 }));
}

#[tokio::test]
async fn a_deleted_middle_event_and_an_edited_payload_are_integrity_alarms() {
    // Eight events and no snapshot: a cold load reads, and checks, the whole stream. (Below a trusted
    // snapshot a load reads nothing; the Part 11 verifier checks whole streams.)
    let fixture = fixture().await;
    let id = produced_job(&fixture, 4).await;
    tamper(&fixture, "DELETE FROM events WHERE aggregate_id = $1 AND sequence = 6", &id).await;
    let alarm = alarm_on_load(&fixture, &id).await;
    assert_eq!((alarm.sequence, alarm.kind), (6, AlarmKind::MissingPredecessor));

    let other = produced_job(&fixture, 4).await;
    tamper(
        &fixture,
        "UPDATE events SET payload = jsonb_set(payload, '{good}', '7') WHERE aggregate_id = $1 AND sequence = 7",
        &other,
    )
    .await;
    let alarm = alarm_on_load(&fixture, &other).await;
    assert_eq!((alarm.sequence, alarm.kind), (7, AlarmKind::HashMismatch));
}

#[tokio::test]
async fn a_stream_shortened_under_a_warm_copy_is_an_integrity_alarm_on_the_next_command() {
    let fixture = fixture().await;
    let warm: PgEventStore<Job> = PgEventStore::new(fixture.app.clone(), every_ten(true));
    let id = running_job(&warm).await;
    for _ in 0..3 {
        execute(&warm, &id, one_good(), &context()).await.unwrap();
    }
    tamper(&fixture, "DELETE FROM events WHERE aggregate_id = $1 AND sequence >= 6", &id).await;
    let refused = execute(&warm, &id, one_good(), &context()).await;
    match refused {
        Err(commands::CommandError::Store(StoreError::Integrity(alarm))) => {
            assert_eq!(alarm.kind, AlarmKind::MissingPredecessor);
            assert_eq!(alarm.sequence, 7);
        }
        other => panic!("expected an integrity alarm, got {other:?}"),
    }
    let events = crate::support::count_events(&fixture.app).await;
    assert_eq!(events, 5, "nothing was appended over the gap");
}
