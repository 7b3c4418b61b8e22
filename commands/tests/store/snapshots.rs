use commands::{PgEventStore, StoreSettings, execute};
use domain::job::Job;

use crate::support::{context, fixture, one_good, running_job};

fn every_ten(keep_warm: bool) -> StoreSettings {
    StoreSettings { snapshot_every: 10, keep_warm, ..StoreSettings::default() }
}

#[tokio::test]
async fn snapshots_are_written_with_the_append_and_a_cold_load_from_one_matches_the_stream() {
    let fixture = fixture().await;
    let store: PgEventStore<Job> = PgEventStore::new(fixture.app.clone(), every_ten(true));
    let id = running_job(&store).await;
    for _ in 0..21 {
        execute(&store, &id, one_good(), &context()).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let snapshot_at: i64 = sqlx::query_scalar("SELECT sequence FROM snapshots WHERE aggregate_id = $1")
        .bind(&id)
        .fetch_one(&fixture.app)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snapshot_at, 20);

    let cold: PgEventStore<Job> = PgEventStore::new(fixture.app.clone(), every_ten(false));
    let loaded = cold.load(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.version(), 25);
    assert_eq!(loaded.state().good, 21);
    drop(loaded);
    execute(&cold, &id, one_good(), &context()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cold.load(&id).await.unwrap_or_else(|e| panic!("{e}")).state().good, 22);
}

#[tokio::test]
async fn an_unreadable_snapshot_is_ignored_and_the_stream_replayed() {
    let fixture = fixture().await;
    let store: PgEventStore<Job> = PgEventStore::new(fixture.app.clone(), every_ten(true));
    let id = running_job(&store).await;
    for _ in 0..10 {
        execute(&store, &id, one_good(), &context()).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let changed = sqlx::query("UPDATE snapshots SET state = '{\"from\": \"an older build\"}' WHERE aggregate_id = $1")
        .bind(&id)
        .execute(&fixture.app)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(changed.rows_affected(), 1);
    let cold: PgEventStore<Job> = PgEventStore::new(fixture.app.clone(), every_ten(false));
    let loaded = cold.load(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((loaded.version(), loaded.state().good), (14, 10));
}
