//! An auditor's reads of a long record against a fresh one: a history page at the record's end (read
//! its events and predecessor, check their links) and the state as of the middle of the record (from
//! the newest trusted snapshot before it), each timed over many calls.

use std::sync::Arc;
use std::time::Duration;

use commands::PgEventStore;
use domain::job::Job;
use sqlx::PgPool;

use crate::runner::{Stats, run};

pub struct ReadFigures {
    pub events: u64,
    /// (what, long record, fresh record)
    pub rows: Vec<(&'static str, Stats, Stats)>,
}

/// `long` has `events` events, `fresh` four.
pub async fn measure(
    pool: &PgPool,
    store: &PgEventStore<Job>,
    long: &str,
    fresh: &str,
    events: u64,
    duration: Duration,
) -> anyhow::Result<ReadFigures> {
    let page = |id: String, length: u64, size: u64| {
        let pool = pool.clone();
        move |_: usize, _: u64| {
            let (pool, id) = (pool.clone(), id.clone());
            async move {
                let after = length.saturating_sub(size);
                let (predecessor, page, _) =
                    commands::event_log::read_page(&pool, "job", &id, after, size).await.map_err(|e| e.to_string())?;
                commands::event_log::links_hold(predecessor.as_ref(), &page)
                    .then_some(())
                    .ok_or_else(|| "a page that does not verify".to_owned())
            }
        }
    };
    let past = |id: String, at: u64| {
        let store = Arc::new(store.clone());
        move |_: usize, _: u64| {
            let (store, id) = (Arc::clone(&store), id.clone());
            async move { store.state_at(&id, at).await.map(|_| ()).map_err(|e| e.to_string()) }
        }
    };
    let mut rows = Vec::new();
    // Like against like: the same page size, the same number of events folded after the starting point;
    // then the long record's worst case (the longest tail after a snapshot) against the same fresh row.
    let fresh_page = run(4, duration, u64::MAX, None, page(fresh.to_owned(), 4, 4)).await;
    let long_page = run(4, duration, u64::MAX, None, page(long.to_owned(), events, 4)).await;
    rows.push(("history page of 4 events at the record's end", long_page, fresh_page.clone()));
    let long_page = run(4, duration, u64::MAX, None, page(long.to_owned(), events, 50)).await;
    rows.push(("history page of 50 events (fresh: its 4)", long_page, fresh_page));
    let fresh_past = run(4, duration, u64::MAX, None, past(fresh.to_owned(), 3)).await;
    // `ours::grow_stream` appends 4 events, then 1,000 at a time, each append leaving a snapshot.
    let middle = 4 + events / 2000 * 1000;
    let long_past = run(4, duration, u64::MAX, None, past(long.to_owned(), middle + 3)).await;
    rows.push(("state 3 events after its starting point", long_past, fresh_past.clone()));
    let long_past = run(4, duration, u64::MAX, None, past(long.to_owned(), middle + 99)).await;
    rows.push(("state 99 events after a snapshot (the service's worst case)", long_past, fresh_past));
    Ok(ReadFigures { events, rows })
}

pub fn print(figures: &ReadFigures) {
    println!(
        "| auditor read, 4 readers | {} events: p50 ms | p99 ms | fresh (4 events): p50 ms | p99 ms | p99 ratio (goal <= 1.5) |",
        figures.events
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (what, long, fresh) in &figures.rows {
        let ms = |stats: &Stats, p: f64| stats.percentile(p).as_secs_f64() * 1000.0;
        println!(
            "| {what} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            ms(long, 0.5),
            ms(long, 0.99),
            ms(fresh, 0.5),
            ms(fresh, 0.99),
            ms(long, 0.99) / ms(fresh, 0.99)
        );
    }
}
