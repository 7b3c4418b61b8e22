//! The engine: exactly once under concurrent writers, rollbacks, a long transaction and a projector
//! killed at random points; stopping at a failing event; one owner among several workers; wake-ups.

use std::time::{Duration, Instant};

use projections::engine::checkpoint;
use projections::engine::worker::{Settings, WorkerError, catch_up, run};
use projections::read_models::jobs::Jobs;
use projections::read_models::oee::Oee;
use tokio::sync::watch;
use uuid::Uuid;

use testkit::insert_probe_event;

use crate::support::{DEADLINE, Recorder, fixture, produce, running_job};

/// A pseudo-random duration up to `max_ms`, for chaos only (never to wait for something).
fn random_millis(max_ms: u64) -> Duration {
    Duration::from_millis(u64::from(Uuid::new_v4().as_bytes()[0]) % max_ms.max(1))
}

/// Catches the recorder up until it has applied `count` events or the deadline passes.
async fn catch_up_to(fixture: &crate::support::Fixture, recorder: &Recorder, count: usize) {
    let deadline = Instant::now() + DEADLINE;
    while fixture.applied().await.len() < count && Instant::now() < deadline {
        if let Err(error) = catch_up(&mut fixture.connection().await, recorder, 50).await {
            panic!("catch-up failed: {error}");
        }
    }
}

#[tokio::test]
async fn every_committed_event_is_applied_exactly_once_whatever_happens_around_the_projector() {
    let fixture = fixture().await;
    let store = fixture.jobs();
    let mut jobs = Vec::new();
    for _ in 0..8 {
        jobs.push(running_job(&store).await);
    }
    // A transaction that writes first and commits last: nothing after it may be applied before it.
    let mut long = fixture.owner.begin().await.unwrap();
    insert_probe_event(&mut long).await;

    let mut writers = Vec::new();
    for job in jobs.clone() {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..40 {
                produce(&store, &job, 1, 0).await;
            }
        }));
    }
    let owner = fixture.owner.clone();
    writers.push(tokio::spawn(async move {
        for _ in 0..20 {
            let mut doomed = owner.begin().await.unwrap();
            insert_probe_event(&mut doomed).await;
            doomed.rollback().await.unwrap();
        }
    }));

    // The projector is killed at random points while the writers run, and started again. Each life has
    // its own pool that dies with it, as a process's connections do: the server rolls back whatever the
    // killed projector had open. (Within one process an aborted task could also hand a connection back
    // mid-BEGIN: sqlx's `begin` is not cancel-safe on PostgreSQL.)
    const KILLS: usize = 12;
    for _ in 0..KILLS {
        let pool = fixture.own_pool().await;
        let app = pool.clone();
        let projector = tokio::spawn(async move {
            let recorder = Recorder::new("chaos");
            loop {
                let applied = (
                    catch_up(&mut app.acquire().await.unwrap(), &recorder, 7).await,
                    catch_up(&mut app.acquire().await.unwrap(), &Oee, 11).await,
                    catch_up(&mut app.acquire().await.unwrap(), &Jobs, 5).await,
                );
                if let (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) = applied {
                    panic!("catch-up failed: {error}");
                }
                tokio::task::yield_now().await;
            }
        });
        tokio::time::sleep(random_millis(25)).await;
        projector.abort();
        assert!(projector.await.is_err_and(|e| e.is_cancelled()), "the projector never failed");
        pool.close().await;
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let before_commit = fixture.applied().await;
    long.commit().await.unwrap();

    let committed = fixture.committed_positions().await;
    assert_eq!(committed.len(), 8 * 4 + 8 * 40 + 1, "the rolled-back probes are not in the log");
    catch_up_to(&fixture, &Recorder::new("chaos"), committed.len()).await;
    let applied: Vec<i64> = fixture.applied().await.into_iter().map(|(position, _)| position).collect();
    let mut sorted = applied.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, committed, "every committed event applied exactly once ({KILLS} kills)");
    let long_position = committed.iter().copied().find(|p| !before_commit.iter().any(|(a, _)| a == p));
    assert!(long_position.is_some(), "the long transaction's event waited for its commit");
    let status = checkpoint::load(&mut fixture.connection().await, "test_recorder", 1).await.unwrap();
    assert_eq!(usize::try_from(status.events_applied).ok(), Some(committed.len()));

    // The read models' totals equal a recount from the events themselves.
    fixture.caught_up(&Oee).await;
    fixture.caught_up(&Jobs).await;
    let pool = &fixture.app;
    let totals = |sql: &'static str| async move {
        let (units, good): (Option<i64>, Option<i64>) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
        (units.unwrap_or_default(), good.unwrap_or_default())
    };
    let recount = totals(
        "SELECT sum((payload->>'good')::bigint + (payload->>'reject')::bigint)::bigint, sum((payload->>'good')::bigint)::bigint
         FROM events WHERE event_type = 'ProductionRecorded'",
    )
    .await;
    assert_eq!(recount, (8 * 40, 8 * 40));
    assert_eq!(
        totals("SELECT sum(total)::bigint, sum(good)::bigint FROM read_oee_counts").await,
        recount,
        "OEE counts"
    );
    assert_eq!(totals("SELECT sum(good + reject)::bigint, sum(good)::bigint FROM read_jobs").await, recount, "jobs");
}

#[tokio::test]
async fn a_projection_stops_before_an_event_it_cannot_apply_and_never_skips_it() {
    let fixture = fixture().await;
    let store = fixture.jobs();
    let job = running_job(&store).await;
    for _ in 0..6 {
        produce(&store, &job, 1, 0).await;
    }
    let committed = fixture.committed_positions().await;
    let poison = committed[6];
    let recorder = Recorder { worker: "one", poison: Some(poison) };
    let deadline = Instant::now() + DEADLINE;
    let stopped = loop {
        match catch_up(&mut fixture.connection().await, &recorder, 100).await {
            Err(WorkerError::Stopped { position, error, .. }) => break (position, error),
            Ok(_) if Instant::now() < deadline => continue,
            other => panic!("expected the projection to stop, got {other:?}"),
        }
    };
    assert_eq!(stopped.0, poison);
    assert!(stopped.1.contains("poisoned"));
    let applied: Vec<i64> = fixture.applied().await.into_iter().map(|(position, _)| position).collect();
    assert_eq!(applied, committed[..6], "everything before the failing event, nothing after it");
    let status = checkpoint::load(&mut fixture.connection().await, "test_recorder", 1).await.unwrap();
    assert_eq!((status.position, status.failed_position), (committed[5], Some(poison)));
    assert!(
        matches!(catch_up(&mut fixture.connection().await, &recorder, 100).await, Err(WorkerError::Stopped { .. })),
        "it stays stopped"
    );
    assert_eq!(fixture.applied().await.len(), 6);
}

fn quick() -> Settings {
    Settings { batch_size: 10, poll_interval: Duration::from_millis(50), ownership_retry: Duration::from_millis(50) }
}

#[tokio::test]
async fn one_instance_owns_a_projection_and_another_takes_over_when_it_stops() {
    let fixture = fixture().await;
    let store = fixture.jobs();
    let (stop_a, stopped_a) = watch::channel(false);
    let (stop_b, stopped_b) = watch::channel(false);
    let a = tokio::spawn(run(fixture.app.clone(), Recorder::new("a"), quick(), stopped_a));
    let b = tokio::spawn(run(fixture.app.clone(), Recorder::new("b"), quick(), stopped_b));
    let job = running_job(&store).await;
    for _ in 0..20 {
        produce(&store, &job, 1, 0).await;
    }
    let applied = fixture.wait_for_applied(24).await;
    assert_eq!(applied.len(), 24);
    let owner = applied[0].1.clone();
    assert!(applied.iter().all(|(_, worker)| *worker == owner), "one worker applied everything: {applied:?}");

    let (stop_owner, owner_task) = if owner == "a" { (stop_a, a) } else { (stop_b, b) };
    stop_owner.send(true).unwrap();
    owner_task.await.unwrap();
    for _ in 0..10 {
        produce(&store, &job, 1, 0).await;
    }
    let applied = fixture.wait_for_applied(34).await;
    assert_eq!(applied.len(), 34);
    assert!(applied[24..].iter().all(|(_, worker)| *worker != owner), "the other worker took over: {applied:?}");
}

#[tokio::test]
async fn a_notification_after_an_append_wakes_the_worker() {
    let fixture = fixture().await;
    let store = fixture.jobs();
    let job = running_job(&store).await;
    let (_stop, stopped) = watch::channel(false);
    // Polling once an hour: only the announcer's notifications can wake it within the deadline.
    let settings = Settings { poll_interval: Duration::from_secs(3600), ..quick() };
    tokio::spawn(commands::wake::announce_appends(fixture.app.clone(), Duration::from_millis(5), stopped.clone()));
    tokio::spawn(run(fixture.app.clone(), Recorder::new("listener"), settings, stopped));
    let before = fixture.applied().await.len();
    let deadline = Instant::now() + DEADLINE;
    // Each append notifies; the cluster-wide horizon may hold an early one back, so append until seen.
    while fixture.applied().await.len() <= before + 4 && Instant::now() < deadline {
        produce(&store, &job, 1, 0).await;
        tokio::task::yield_now().await;
    }
    assert!(fixture.applied().await.len() > before + 4);
}

#[tokio::test]
async fn a_projections_speed_is_the_rate_of_its_last_window_of_ten_seconds_and_falls_while_it_idles() {
    let fixture = fixture().await;
    let store = fixture.jobs();
    let job = running_job(&store).await;
    fixture.caught_up(&Jobs).await;
    let speed = || async {
        let speeds = checkpoint::events_per_second(&fixture.app).await.unwrap();
        speeds.get("jobs").copied().unwrap_or_else(|| panic!("no speed for jobs: {speeds:?}"))
    };
    let window = |started_seconds_ago: i64, events: i64| {
        sqlx::query(
            "UPDATE projection_checkpoints SET rate_since = now() - make_interval(secs => $1), rate_events = $2
             WHERE name = 'jobs'",
        )
        .bind(started_seconds_ago as f64)
        .bind(events)
        .execute(&fixture.owner)
    };

    // 40 events in a window that started 20 s ago and has seen no batch for over 10 s: 2 events/s.
    window(20, 40).await.unwrap();
    let idle = speed().await;
    assert!((1.9..=2.0).contains(&idle), "{idle}");
    // The next batch closes that window with its own event: 41 events in 20 s.
    produce(&store, &job, 1, 0).await;
    fixture.caught_up(&Jobs).await;
    let closed = speed().await;
    assert!((1.95..=2.05).contains(&closed), "{closed}");
    // Nothing applied for 100 s after 10 events: the speed falls with the time.
    window(100, 10).await.unwrap();
    let falling = speed().await;
    assert!((0.09..=0.1).contains(&falling), "{falling}");
}

#[tokio::test]
async fn a_unique_violation_from_another_writer_or_a_held_row_lock_is_retried_never_recorded_as_a_stop() {
    let fixture = fixture().await;
    let store = fixture.jobs();
    running_job(&store).await;
    let committed = fixture.committed_positions().await;
    let recorder = Recorder::new("one");

    // Another writer put a row where the projection is about to write: not the events' fault.
    sqlx::query("INSERT INTO test_applied (position, worker) VALUES ($1, 'intruder')")
        .bind(committed[2])
        .execute(&fixture.owner)
        .await
        .unwrap();
    // Every event visible at once: a batch that stopped short of the intruder would succeed.
    fixture.past_horizon().await;
    let failed = catch_up(&mut fixture.connection().await, &recorder, 100).await;
    assert!(matches!(&failed, Err(error) if !matches!(error, WorkerError::Stopped { .. })), "{failed:?}");
    let status = checkpoint::load(&mut fixture.connection().await, "test_recorder", 1).await.unwrap();
    assert_eq!((status.failed_position, status.events_applied), (None, 0), "nothing recorded, nothing applied");

    // A lock someone holds on the checkpoint row, past the batch's lock timeout: retried as well.
    sqlx::query("DELETE FROM test_applied").execute(&fixture.owner).await.unwrap();
    let mut holder = fixture.owner.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM projection_checkpoints WHERE name = 'test_recorder' FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let mut waiting = fixture.connection().await;
    sqlx::query("SET lock_timeout = '50ms'").execute(&mut waiting).await.unwrap();
    let timed_out = catch_up(&mut waiting, &recorder, 100).await;
    assert!(matches!(&timed_out, Err(error) if !matches!(error, WorkerError::Stopped { .. })), "{timed_out:?}");
    holder.rollback().await.unwrap();
    sqlx::query("RESET lock_timeout").execute(&mut waiting).await.unwrap();

    // Once the obstacle is gone, the same events are applied, each once.
    catch_up_to(&fixture, &recorder, committed.len()).await;
    let positions: Vec<i64> = fixture.applied().await.into_iter().map(|(position, _)| position).collect();
    assert_eq!(positions, committed);
}
