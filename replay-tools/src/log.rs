//! Replaying the log (or part of it) in commit order for an auditor: the sealed events in ledger order
//! (which is the order they committed), filtered by ledger numbers, time, record type and line, streamed as
//! they are read, ending with a count and a digest. The digest covers each replayed event's canonical
//! bytes (the bytes its stream hash covers), so the same selection of the same log gives the same digest
//! byte for byte, whatever database it was restored into.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use commands::canonical::{HashedEvent, hashed_bytes};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Which events to replay.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub from_ledger: Option<u64>,
    pub to_ledger: Option<u64>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub record_type: Option<String>,
    /// Only the records of this line: the line itself, and the jobs, stops, Andon calls, checklist
    /// templates and checklists on it (accounts and devices belong to no line).
    pub line: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub count: u64,
    /// SHA-256 over each replayed event's canonical bytes, each followed by a newline.
    pub digest: String,
    /// The last ledger number read; entries after it were sealed after the replay began.
    pub up_to: u64,
}

/// One replayed event, with its ledger number and everything its stream hash covers.
#[derive(Debug, Serialize)]
pub struct Replayed {
    pub ledger_number: i64,
    pub event_id: uuid::Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: i32,
    pub recorded_at: DateTime<Utc>,
    pub metadata: Value,
    pub payload: Value,
}

/// An event as read: payload and metadata as JSON text, parsed where it is hashed, on every core (the
/// database's `jsonb` decoded on the reading thread was the replay's bottleneck).
#[derive(sqlx::FromRow)]
struct Read {
    ledger_number: i64,
    event_id: uuid::Uuid,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: i32,
    recorded_at: DateTime<Utc>,
    metadata: String,
    payload: String,
}

const BATCH: i64 = 5_000;

/// Hands each selected event to `each` as it is read, and returns the count and digest. The upper bound
/// is the ledger's size when the replay starts. The next batch is read while this one is hashed, and
/// the hashing runs on every core; the digest takes the events in ledger order. `progress` is told the
/// ledger numbers read of those to read after each batch.
pub async fn replay(
    database: &crate::Database,
    selection: &Selection,
    mut each: impl FnMut(&Replayed) -> anyhow::Result<()>,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<Summary> {
    let pool = database.connect().await?;
    let size = i64::try_from(commands::ledger::rows::size(&pool).await?).unwrap_or(i64::MAX);
    let last = selection.to_ledger.map_or(size, |to| i64::try_from(to).unwrap_or(i64::MAX).min(size));
    let mut after = selection.from_ledger.map_or(0, |from| i64::try_from(from).unwrap_or(i64::MAX) - 1).max(0);
    // Read after the size: every record created up to `last` is among them.
    let records = match &selection.line {
        Some(line) => Some(records_of(&pool, line).await?),
        None => None,
    };
    let first = after;
    let to_read = u64::try_from(last - first).unwrap_or_default();
    let (mut hasher, mut count) = (Sha256::new(), 0);
    let mut next = (after < last).then(|| tokio::spawn(batch(pool.clone(), after, last)));
    while let Some(reading) = next.take() {
        let events = reading.await??;
        let Some(batch_last) = events.last().map(|event| event.ledger_number) else {
            anyhow::bail!(
                "the event sealed as ledger number {} is no longer in the log; run `ms5-replay verify`",
                after + 1
            );
        };
        if let Some(gap) = events.iter().zip(after + 1..).find(|(event, expected)| event.ledger_number != *expected) {
            anyhow::bail!(
                "the event sealed as ledger number {} is no longer in the log; run `ms5-replay verify`",
                gap.1
            );
        }
        after = batch_last;
        next = (after < last).then(|| tokio::spawn(batch(pool.clone(), after, last)));
        let chosen: Vec<Read> =
            events.into_iter().filter(|event| selected(selection, records.as_ref(), event)).collect();
        let hashed = tokio::task::spawn_blocking(move || canonical_all(chosen)).await??;
        for (event, canonical) in hashed {
            hasher.update(canonical);
            hasher.update(b"\n");
            count += 1;
            each(&event)?;
        }
        progress(u64::try_from(after - first).unwrap_or_default(), to_read);
    }
    pool.close().await;
    Ok(Summary { count, digest: hex::encode(hasher.finalize()), up_to: u64::try_from(after).unwrap_or_default() })
}

/// The sealed events after ledger number `after`, up to `last`, one batch. The range itself is bounded
/// (not a LIMIT over all that follow): with a LIMIT, the planner can read and sort everything up to
/// `last` for every batch, which made the replay quadratic.
async fn batch(pool: sqlx::PgPool, after: i64, last: i64) -> Result<Vec<Read>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.ledger_number, e.event_id, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type,
                e.event_version, e.recorded_at, e.metadata::text AS metadata, e.payload::text AS payload
         FROM ledger l JOIN events e ON e.position = l.position
         WHERE l.ledger_number > $1 AND l.ledger_number <= least($1 + $3, $2) ORDER BY l.ledger_number",
    )
    .bind(after)
    .bind(last)
    .bind(BATCH)
    .fetch_all(&pool)
    .await
}

/// Each event parsed, with its canonical bytes, computed on every core, in the order given. A part that
/// did not finish is an error: a missing event would change the digest silently.
fn canonical_all(mut events: Vec<Read>) -> anyhow::Result<Vec<(Replayed, Vec<u8>)>> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let size = events.len().div_ceil(cores).max(1);
    let mut parts = Vec::new();
    while events.len() > size {
        let rest = events.split_off(size);
        parts.push(std::mem::replace(&mut events, rest));
    }
    parts.push(events);
    std::thread::scope(|scope| {
        let running: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(parsed).collect::<anyhow::Result<Vec<_>>>()))
            .collect();
        let mut done = Vec::new();
        for part in running {
            done.extend(part.join().map_err(|_| anyhow::anyhow!("a hashing thread panicked"))??);
        }
        Ok(done)
    })
}

/// The event with its payload and metadata parsed, and its canonical bytes.
fn parsed(read: Read) -> anyhow::Result<(Replayed, Vec<u8>)> {
    let number = read.ledger_number;
    let json = |text: &str| {
        serde_json::from_str::<Value>(text)
            .map_err(|error| anyhow::anyhow!("the event sealed as ledger number {number} holds no JSON: {error}"))
    };
    let event = Replayed {
        payload: json(&read.payload)?,
        metadata: json(&read.metadata)?,
        ledger_number: read.ledger_number,
        event_id: read.event_id,
        aggregate_type: read.aggregate_type,
        aggregate_id: read.aggregate_id,
        sequence: read.sequence,
        event_type: read.event_type,
        event_version: read.event_version,
        recorded_at: read.recorded_at,
    };
    let bytes = canonical(&event);
    Ok((event, bytes))
}

fn canonical(event: &Replayed) -> Vec<u8> {
    hashed_bytes(&HashedEvent {
        event_id: event.event_id,
        aggregate_type: &event.aggregate_type,
        aggregate_id: &event.aggregate_id,
        sequence: u64::try_from(event.sequence).unwrap_or_default(),
        event_type: &event.event_type,
        event_version: u32::try_from(event.event_version).unwrap_or_default(),
        payload: &event.payload,
        metadata: &event.metadata,
        recorded_at: event.recorded_at,
    })
}

/// A record: its stored type and id.
type Record = (String, String);

fn selected(selection: &Selection, records: Option<&HashSet<Record>>, event: &Read) -> bool {
    selection.since.is_none_or(|since| event.recorded_at >= since)
        && selection.until.is_none_or(|until| event.recorded_at <= until)
        && selection.record_type.as_ref().is_none_or(|wanted| *wanted == event.aggregate_type)
        && records.is_none_or(|records| records.contains(&(event.aggregate_type.clone(), event.aggregate_id.clone())))
}

/// The records of `line`, from the events that created them: each names its line (`line` in its first
/// event's payload), except a checklist, which names its template.
async fn records_of(pool: &sqlx::PgPool, line: &str) -> Result<HashSet<Record>, sqlx::Error> {
    let records: Vec<Record> = sqlx::query_as(
        "WITH created AS (SELECT aggregate_type, aggregate_id, payload FROM events WHERE sequence = 1)
         SELECT aggregate_type, aggregate_id FROM created
         WHERE payload->>'line' = $1
            OR (aggregate_type = 'checklist' AND payload->'template'->>'template_id' IN
                (SELECT aggregate_id FROM created WHERE aggregate_type = 'checklist_template' AND payload->>'line' = $1))",
    )
    .bind(line)
    .fetch_all(pool)
    .await?;
    Ok(records.into_iter().collect())
}
