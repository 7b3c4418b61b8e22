use std::collections::HashSet;
use std::time::{Duration, Instant};

use commands::event_log::{LogPosition, RecordedEvent, read_committed, read_committed_batch};
use commands::execute;
use domain::job::Job;
use futures_util::TryStreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use testkit::insert_probe_event;

use crate::support::{context, fixture, one_good, running_job};

/// Reads to the horizon once. The horizon is cluster-wide: transactions of other databases (other
/// tests) can hold it back, so tests that expect events wait for them with `read_at_least`.
async fn read_all_after(pool: &PgPool, checkpoint: &mut LogPosition) -> Vec<RecordedEvent> {
    let batches: Vec<Vec<RecordedEvent>> = read_committed(pool.clone(), *checkpoint, 3).try_collect().await.unwrap();
    let events: Vec<RecordedEvent> = batches.into_iter().flatten().collect();
    if let Some(last) = events.last() {
        *checkpoint = last.log_position();
    }
    events
}

/// Reads until at least `count` events arrived, or 30 seconds passed.
async fn read_at_least(pool: &PgPool, checkpoint: &mut LogPosition, count: usize) -> Vec<RecordedEvent> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    while events.len() < count && Instant::now() < deadline {
        events.extend(read_all_after(pool, checkpoint).await);
    }
    events
}

/// The classic skip: a writer inserts first (lower position) but commits last. A position-based reader
/// would pass it by; ours holds back everything from later transactions until it has finished, then
/// delivers it and the rest, each exactly once.
#[tokio::test]
async fn a_reader_never_skips_an_event_whose_transaction_commits_late() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    running_job(&store).await;
    let mut checkpoint = LogPosition::START;
    assert_eq!(read_at_least(&fixture.app, &mut checkpoint, 4).await.len(), 4);

    let mut slow_writer = fixture.app.begin().await.unwrap();
    let late = insert_probe_event(&mut slow_writer).await;
    let job = running_job(&store).await;
    execute(&store, &job, one_good(), &context()).await.unwrap();

    let while_open = read_all_after(&fixture.app, &mut checkpoint).await;
    assert!(while_open.is_empty(), "delivered {} events while an older writer was still open", while_open.len());

    slow_writer.commit().await.unwrap();
    let delivered = read_at_least(&fixture.app, &mut checkpoint, 6).await;
    assert_eq!(delivered.len(), 6, "the late event and the five committed after it");
    assert_eq!(delivered[0].event_id, late, "the late event comes first in commit order (transaction id)");
    assert!(delivered[1..].iter().all(|e| e.aggregate_id == job));
    assert!(read_all_after(&fixture.app, &mut checkpoint).await.is_empty());
}

/// A writer that opens its transaction first but writes only after others committed gets a later
/// transaction id: the reader delivers the others, then it.
#[tokio::test]
async fn an_event_written_late_in_a_long_transaction_is_delivered_after_the_others() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    let mut long_transaction = fixture.app.begin().await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *long_transaction).await.unwrap();
    let job = running_job(&store).await;
    let mut checkpoint = LogPosition::START;
    assert_eq!(read_at_least(&fixture.app, &mut checkpoint, 4).await.len(), 4);
    let late = insert_probe_event(&mut long_transaction).await;
    long_transaction.commit().await.unwrap();
    let delivered = read_at_least(&fixture.app, &mut checkpoint, 1).await;
    assert_eq!(delivered.iter().map(|e| e.event_id).collect::<Vec<_>>(), [late]);
    assert!(delivered[0].aggregate_id != job);
}

/// Concurrent writers that commit and roll back in a shuffled order while a reader tails the log:
/// the reader ends up with every committed event exactly once and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tailing_reader_sees_every_committed_event_once_under_concurrent_writers() {
    const WRITERS: usize = 8;
    const TRANSACTIONS_EACH: usize = 25;
    let fixture = fixture().await;
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let pool = fixture.app.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for i in 0..TRANSACTIONS_EACH {
                let mut transaction = pool.begin().await.unwrap();
                let mut ids = vec![insert_probe_event(&mut transaction).await];
                // Hold some transactions across other writers' commits; yield so they interleave.
                for _ in 0..(writer * 7 + i * 3) % 5 {
                    tokio::task::yield_now().await;
                    ids.push(insert_probe_event(&mut transaction).await);
                }
                if (writer + i) % 4 == 0 {
                    transaction.rollback().await.unwrap();
                } else {
                    transaction.commit().await.unwrap();
                    committed.extend(ids);
                }
            }
            committed
        }));
    }
    let mut delivered = Vec::new();
    let mut checkpoint = LogPosition::START;
    while !writers.iter().all(|w| w.is_finished()) {
        for event in read_committed_batch(&fixture.app, checkpoint, 50).await.unwrap() {
            checkpoint = event.log_position();
            delivered.push(event.event_id);
        }
        tokio::task::yield_now().await;
    }
    let mut committed = HashSet::new();
    for writer in writers {
        committed.extend(writer.await.expect("writer panicked"));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered.len() < committed.len() && Instant::now() < deadline {
        for event in read_committed_batch(&fixture.app, checkpoint, 50).await.unwrap() {
            checkpoint = event.log_position();
            delivered.push(event.event_id);
        }
    }
    let unique: HashSet<Uuid> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len(), "an event was delivered twice");
    assert_eq!(unique, committed, "the reader must see exactly the committed events");
}
