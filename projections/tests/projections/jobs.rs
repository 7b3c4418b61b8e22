//! The jobs read model: equal to the domain's fold of every job's stream, and rebuilt identically.

use commands::event_log::{self, StreamBound};
use domain::job::Job;
use projections::read_models::jobs::{JobFilter, Jobs, list};
use serde_json::Value;

use crate::support::{Fixture, context, fixture, produce, running_job};

async fn rows(fixture: &Fixture) -> Vec<(String, Value, i64, i64)> {
    sqlx::query_as("SELECT job_id, state, good, reject FROM read_jobs ORDER BY job_id")
        .fetch_all(&fixture.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn at_14_the_jobs_read_model_is_the_fold_of_each_stream_and_a_rebuild_gives_the_same_rows() {
    let fixture = fixture().await;
    let store = fixture.jobs();
    let mut ids = Vec::new();
    for n in 0..5u64 {
        let id = running_job(&store).await;
        for _ in 0..n {
            produce(&store, &id, 10, 1).await;
        }
        ids.push(id);
    }
    let complete = domain::job::JobCommand::Complete;
    commands::execute(&store, &ids[4], complete, &context()).await.unwrap();
    fixture.caught_up(&Jobs).await;

    let before = rows(&fixture).await;
    assert_eq!(before.len(), 5);
    for (id, state, good, reject) in &before {
        let stream = event_log::read_stream(&fixture.app, "job", id, StreamBound::All).await.unwrap();
        let folded = event_log::fold::<Job>(&stream).unwrap();
        assert_eq!(*state, serde_json::to_value(&folded).unwrap_or_default());
        assert_eq!(
            (*good, *reject),
            (i64::try_from(folded.good).unwrap_or(-1), i64::try_from(folded.reject).unwrap_or(-1))
        );
    }
    assert_eq!(before.iter().map(|row| row.2).sum::<i64>(), 10 * (1 + 2 + 3 + 4));

    let running = list(&fixture.app, &JobFilter { status: Some("running".into()), limit: 100, ..JobFilter::default() })
        .await
        .unwrap();
    assert_eq!(running.len(), 4);
    let page =
        list(&fixture.app, &JobFilter { limit: 2, after: Some(running[1].job_id.clone()), ..JobFilter::default() })
            .await
            .unwrap();
    assert_eq!(page.iter().map(|row| row.job_id.clone()).collect::<Vec<_>>(), vec![ids[2].clone(), ids[3].clone()]);

    // A version the code does not have: the rebuild worker asks for a rebuild, on the record, beside the
    // live rows, which queries read until the rebuilt ones replace them.
    sqlx::query("UPDATE projection_checkpoints SET version = 0 WHERE name = 'jobs'")
        .execute(&fixture.owner)
        .await
        .unwrap();
    fixture.caught_up(&Jobs).await;
    let pointer = projections::engine::colors::read(&fixture.app, "jobs").await.unwrap();
    let asked = projections::rebuilds::request_if_outdated::<Jobs>(&fixture.app, &pointer).await.unwrap();
    assert_eq!(asked, Some(projections::engine::colors::Color::Green));
    let reason: String = sqlx::query_scalar(
        "SELECT metadata->>'reason' FROM events WHERE aggregate_type = 'read_model' AND event_type = 'RebuildRequested'",
    )
    .fetch_one(&fixture.owner)
    .await
    .unwrap();
    assert_eq!(reason, "the code builds version 2 of jobs; the read model is at version 0");
    let pointer = projections::engine::colors::read(&fixture.app, "jobs").await.unwrap();
    assert_eq!(pointer.building, Some(projections::engine::colors::Color::Green));
    fixture.rebuilt(&Jobs).await;
    let pointer = projections::engine::colors::read(&fixture.app, "jobs").await.unwrap();
    assert_eq!((pointer.active, pointer.building), (projections::engine::colors::Color::Green, None));
    assert_eq!(rows(&fixture).await, before, "a rebuild gives byte-identical rows");
    let version: i32 = sqlx::query_scalar("SELECT version FROM projection_checkpoints WHERE name = 'jobs'")
        .fetch_one(&fixture.owner)
        .await
        .unwrap();
    assert_eq!(version, <Jobs as projections::Projection>::VERSION, "the switch brings the new version");
}
