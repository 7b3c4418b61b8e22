use commands::event_log::{StreamBound, read_stream, verify_stream};
use domain::job::Job;
use sqlx::PgPool;

use crate::support::{fixture, running_job};

async fn refused(pool: &PgPool, statement: &str) -> String {
    match sqlx::query(statement).execute(pool).await {
        Ok(done) => panic!("`{statement}` succeeded and touched {} rows", done.rows_affected()),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn at_05_the_application_role_cannot_update_delete_or_truncate_events() {
    let fixture = fixture().await;
    running_job(&fixture.store::<Job>()).await;
    for statement in ["UPDATE events SET payload = '{}'", "DELETE FROM events", "TRUNCATE events"] {
        let error = refused(&fixture.app, statement).await;
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
}

#[tokio::test]
async fn at_05_even_the_owner_cannot_update_delete_or_truncate_events() {
    let fixture = fixture().await;
    running_job(&fixture.store::<Job>()).await;
    let owner = fixture.database.owner_pool().await;
    for statement in ["UPDATE events SET payload = '{}'", "DELETE FROM events", "TRUNCATE events"] {
        let error = refused(&owner, statement).await;
        assert!(error.contains("append-only"), "{statement}: {error}");
    }
    let remaining: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&owner).await.unwrap();
    assert_eq!(remaining, 4);
}

#[tokio::test]
async fn a_sequence_gap_is_refused_by_the_database() {
    let fixture = fixture().await;
    let error = refused(
        &fixture.app,
        "INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                             metadata, recorded_at, stream_hash)
         VALUES (gen_random_uuid(), 'job', 'x', 2, 'JobStarted', 1, '{}', '{}', now(), sha256(''))",
    )
    .await;
    assert!(error.contains("has no predecessor"), "{error}");
}

/// The hash chain recomputed from the rows matches what was written, and stops matching at the first
/// event someone altered or removed (here a superuser who switched the trigger off).
#[tokio::test]
async fn at_15_the_hash_chain_matches_the_rows_and_exposes_an_edit_or_a_deletion() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    let (edited, shortened) = (running_job(&store).await, running_job(&store).await);
    for id in [&edited, &shortened] {
        let events = read_stream(&fixture.app, "job", id, StreamBound::All).await.unwrap();
        assert_eq!(verify_stream(&events), Ok(()));
    }

    let owner = fixture.database.owner_pool().await;
    let tamper = [
        "ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete".to_owned(),
        format!(
            "UPDATE events SET payload = jsonb_set(payload, '{{target_quantity}}', '1') WHERE aggregate_id = '{edited}' AND sequence = 2"
        ),
        format!("DELETE FROM events WHERE aggregate_id = '{shortened}' AND sequence = 3"),
    ];
    for statement in &tamper {
        sqlx::query(statement).execute(&owner).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    for (id, first_bad_sequence) in [(&edited, 2), (&shortened, 4)] {
        let events = read_stream(&fixture.app, "job", id, StreamBound::All).await.unwrap();
        let broken = verify_stream(&events).err().unwrap_or_else(|| panic!("tampering with {id} went unnoticed"));
        assert_eq!(broken.sequence, first_bad_sequence);
    }
}
