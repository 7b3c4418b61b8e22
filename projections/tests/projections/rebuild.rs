//! Blue/green rebuilds (`engine::colors`): a read model rebuilt beside the one queries read, while
//! writers append and readers query, switched once; the same after a rebuild killed midway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use projections::engine::colors::{self, Color};
use projections::engine::worker::{self, Settings};
use projections::read_models::oee::Oee;

use crate::support::{DEADLINE, Fixture, fixture, produce, running_job};

/// Jobs on one line with `rounds` productions of 10 good units each: (jobs, units).
async fn history(fixture: &Fixture, jobs: usize, rounds: usize) -> i64 {
    let store = fixture.jobs();
    for _ in 0..jobs {
        let job = running_job(&store).await;
        for _ in 0..rounds {
            produce(&store, &job, 10, 0).await;
        }
    }
    i64::try_from(jobs * rounds * 10).unwrap()
}

/// Waits until the OEE pointer is on `color` with no rebuild running.
async fn switched_to(fixture: &Fixture, color: Color) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let pointer = colors::read(&fixture.app, "oee").await.unwrap();
        if pointer.active == color && pointer.building.is_none() {
            return;
        }
        assert!(Instant::now() < deadline, "the OEE read model never switched to {color}: {pointer:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rows of an OEE table in one schema that the other lacks, both ways.
async fn differences(fixture: &Fixture, a: Color, b: Color) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    for table in projections::read_models::oee::TABLES {
        let (left, right) = (format!("rm_oee_{a}.{table}"), format!("rm_oee_{b}.{table}"));
        let sql = format!(
            "SELECT (SELECT count(*) FROM (TABLE {left} EXCEPT ALL TABLE {right}) x)
                  + (SELECT count(*) FROM (TABLE {right} EXCEPT ALL TABLE {left}) y)"
        );
        let differing: i64 = sqlx::query_scalar(&sql).fetch_one(&fixture.owner).await.unwrap();
        let rows: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {left}")).fetch_one(&fixture.owner).await.unwrap();
        // The history has jobs and counts (and so hourly sums) only: no line configuration, no stops.
        let filled = matches!(table, "read_oee_jobs" | "read_oee_counts" | "read_oee_count_hours");
        assert!(rows > 0 || !filled, "{left} is empty");
        if differing > 0 {
            found.push((table.to_owned(), differing));
        }
    }
    found
}

async fn good_units(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(sum(good), 0)::bigint FROM read_oee_counts").fetch_one(pool).await
}

#[tokio::test]
async fn at_14_a_rebuild_beside_live_writers_and_readers_switches_once_shows_no_half_model_and_equals_a_cold_rebuild() {
    let fixture = fixture().await;
    let mut units = history(&fixture, 20, 20).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = Settings { batch_size: 25, ..Settings::default() };
    let workers = projections::spawn_all(&fixture.app, settings, None, &stopped);
    let deadline = Instant::now() + DEADLINE;
    while good_units(&fixture.app).await.unwrap() < units {
        assert!(Instant::now() < deadline, "the live OEE read model never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Sixteen dashboards read while the rebuild runs: no query may fail, and the good units they see
    // may never go down, as they would on a half-built model.
    let reading = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let (pool, reading) = (fixture.app.clone(), reading.clone());
            tokio::spawn(async move {
                let (mut seen, mut queries) = (0, 0u64);
                while reading.load(Ordering::Relaxed) {
                    let now = good_units(&pool).await.expect("a dashboard query failed");
                    assert!(now >= seen, "a dashboard saw {now} good units after {seen}");
                    seen = now;
                    queries += 1;
                }
                queries
            })
        })
        .collect();
    let store = fixture.jobs();
    let job = running_job(&store).await;
    assert_eq!(colors::request(&mut fixture.connection().await, &Oee).await.unwrap(), Color::Green);
    // Writers go on appending until the rebuild has switched, and a little after.
    let deadline = Instant::now() + DEADLINE;
    while colors::read(&fixture.app, "oee").await.unwrap().active != Color::Green {
        assert!(Instant::now() < deadline, "the rebuild never switched");
        produce(&store, &job, 10, 0).await;
        units += 10;
    }
    for _ in 0..10 {
        produce(&store, &job, 10, 0).await;
        units += 10;
    }
    let deadline = Instant::now() + DEADLINE;
    while good_units(&fixture.app).await.unwrap() < units {
        assert!(Instant::now() < deadline, "the switched read model never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reading.store(false, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.unwrap() > 0, "every dashboard read");
    }
    assert_eq!(good_units(&fixture.app).await.unwrap(), units, "no unit lost or counted twice across the switch");
    let switched: i64 =
        sqlx::query_scalar("SELECT count(*) FROM read_model_colors WHERE name = 'oee' AND switched_at IS NOT NULL")
            .fetch_one(&fixture.owner)
            .await
            .unwrap();
    assert_eq!(switched, 1);

    // A cold recomputation of the same log, into the other schema, gives the same rows.
    colors::request(&mut fixture.connection().await, &Oee).await.unwrap();
    switched_to(&fixture, Color::Blue).await;
    assert_eq!(differences(&fixture, Color::Green, Color::Blue).await, []);
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn at_14_a_rebuild_killed_midway_resumes_never_half_switched_and_ends_as_an_uninterrupted_one() {
    let fixture = fixture().await;
    let units = history(&fixture, 20, 30).await;
    fixture.caught_up(&Oee).await;
    colors::request(&mut fixture.connection().await, &Oee).await.unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let settings = Settings { batch_size: 20, ..Settings::default() };
    let rebuilding = tokio::spawn(worker::run_rebuilds(fixture.app.clone(), Oee, settings, stopped.clone()));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let applied: i64 =
            sqlx::query_scalar("SELECT events_applied FROM projection_checkpoints WHERE name = 'oee~rebuild'")
                .fetch_one(&fixture.owner)
                .await
                .unwrap();
        if applied >= 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the rebuild never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Killed midway: its task and its connection go, whatever it was doing.
    rebuilding.abort();
    assert!(rebuilding.await.unwrap_err().is_cancelled());
    let pointer = colors::read(&fixture.app, "oee").await.unwrap();
    assert_eq!((pointer.active, pointer.building), (Color::Blue, Some(Color::Green)), "never half switched");
    assert_eq!(good_units(&fixture.app).await.unwrap(), units, "queries still read the whole old model");

    let resumed = tokio::spawn(worker::run_rebuilds(fixture.app.clone(), Oee, settings, stopped.clone()));
    switched_to(&fixture, Color::Green).await;
    assert_eq!(good_units(&fixture.app).await.unwrap(), units);
    // The same log rebuilt without interruption, into the other schema: the same rows.
    colors::request(&mut fixture.connection().await, &Oee).await.unwrap();
    switched_to(&fixture, Color::Blue).await;
    assert_eq!(differences(&fixture, Color::Green, Color::Blue).await, []);
    resumed.abort();
}
