use std::collections::BTreeMap;
use std::sync::Arc;

use commands::event_log::{StreamBound, read_stream, verify_stream};
use commands::{CommandError, PgEventStore, execute};
use domain::job::Job;
use tokio::sync::Barrier;

use crate::support::{context, count_events, fixture, one_good, running_job};

/// 32 writers race on one aggregate, each as if in its own process (no shared in-process lock) and each
/// naming the version it read. Every success must own exactly one sequence number, every failure must be
/// a conflict, and the stream must hold exactly the successes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_racing_writers_each_win_one_gapless_sequence_number_or_get_a_conflict() {
    const WRITERS: usize = 32;
    const WINS_EACH: usize = 3;
    let fixture = fixture().await;
    let id = running_job(&fixture.store::<Job>()).await;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let store: PgEventStore<Job> = fixture.store();
        let (id, barrier) = (id.clone(), Arc::clone(&barrier));
        writers.push(tokio::spawn(async move {
            barrier.wait().await;
            let (mut won, mut conflicts) = (Vec::new(), 0usize);
            while won.len() < WINS_EACH {
                let mut attempt = context();
                attempt.expected_version = Some(store.current_version(&id).await.unwrap());
                match execute(&store, &id, one_good(), &attempt).await {
                    Ok(outcome) => won.push(outcome.version),
                    Err(CommandError::Conflict { .. }) => conflicts += 1,
                    Err(other) => panic!("a racing writer failed with something other than a conflict: {other}"),
                }
            }
            (won, conflicts)
        }));
    }
    let mut sequences = Vec::new();
    let mut conflicts = 0;
    for writer in writers {
        let (won, lost) = writer.await.expect("writer panicked");
        sequences.extend(won);
        conflicts += lost;
    }
    sequences.sort_unstable();
    let expected: Vec<u64> = (5..5 + (WRITERS * WINS_EACH) as u64).collect();
    assert_eq!(sequences, expected, "each success owns one sequence number, none shared, none skipped");
    assert!(conflicts > 0, "32 writers on one aggregate must have collided at least once");

    let events = read_stream(&fixture.app, "job", &id, StreamBound::All).await.unwrap();
    assert_eq!(events.len(), 4 + WRITERS * WINS_EACH);
    assert_eq!(verify_stream(&events), Ok(()));
    let fresh: PgEventStore<Job> = fixture.store();
    let job = fresh.load(&id).await.unwrap();
    assert_eq!(job.version(), (4 + WRITERS * WINS_EACH) as u64);
}

/// 32 writers on 10 hot aggregates through two stores (two service instances) and no expected version:
/// the command layer serialises in-process writers and re-decides on conflicts with the other instance,
/// so every command lands exactly once and no caller sees a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_aggregates_lose_no_command_and_apply_none_twice() {
    const WRITERS: usize = 32;
    const COMMANDS_EACH: usize = 15;
    const AGGREGATES: usize = 10;
    let fixture = fixture().await;
    let instances: [PgEventStore<Job>; 2] = [fixture.store(), fixture.store()];
    let mut jobs = Vec::new();
    for _ in 0..AGGREGATES {
        jobs.push(running_job(&instances[0]).await);
    }
    let events_before = count_events(&fixture.app).await;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = instances[writer % 2].clone();
        let (jobs, barrier) = (jobs.clone(), Arc::clone(&barrier));
        writers.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut sent = BTreeMap::<String, u64>::new();
            for i in 0..COMMANDS_EACH {
                let id = &jobs[(writer + i) % AGGREGATES];
                execute(&store, id, one_good(), &context()).await.expect("command failed");
                *sent.entry(id.clone()).or_default() += 1;
            }
            sent
        }));
    }
    let mut sent = BTreeMap::<String, u64>::new();
    for writer in writers {
        for (id, count) in writer.await.expect("writer panicked") {
            *sent.entry(id).or_default() += count;
        }
    }
    assert_eq!(count_events(&fixture.app).await - events_before, (WRITERS * COMMANDS_EACH) as i64);
    let fresh: PgEventStore<Job> = fixture.store();
    for id in &jobs {
        let events = read_stream(&fixture.app, "job", id, StreamBound::All).await.unwrap();
        assert_eq!(verify_stream(&events), Ok(()));
        let job = fresh.load(id).await.unwrap();
        assert_eq!(job.state().good, sent[id], "job {id}: every command counted exactly once");
    }
}

/// A warm copy can be behind what another instance committed. A command that copy would refuse must be
/// decided again on fresh state before the refusal is reported.
#[tokio::test]
async fn a_command_refused_on_a_stale_warm_copy_is_decided_again_on_fresh_state() {
    let fixture = fixture().await;
    let (instance_a, instance_b): (PgEventStore<Job>, PgEventStore<Job>) = (fixture.store(), fixture.store());
    let id = running_job(&instance_a).await;
    drop(instance_b.load(&id).await.unwrap());
    execute(&instance_a, &id, domain::job::JobCommand::Pause { reason: None }, &context()).await.unwrap();

    let resumed = execute(&instance_b, &id, domain::job::JobCommand::Resume, &context()).await;
    assert!(resumed.is_ok(), "instance B refused on its stale copy: {resumed:?}");
    let refused = execute(&instance_b, &id, domain::job::JobCommand::Resume, &context()).await;
    assert!(matches!(refused, Err(CommandError::Rejected(_))), "a second resume is refused on fresh state");
}
