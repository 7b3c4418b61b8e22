//! Reading the log: one stream (whole, up to a sequence, up to a time) and the whole log in commit order.
//!
//! Commit order: positions are handed out at insert, but transactions commit in another order, so
//! "everything after position N" skips a row whose transaction commits late. A reader here sees only rows
//! whose writing transaction lies below the oldest transaction still running
//! (`pg_snapshot_xmin(pg_current_snapshot())`, so every such transaction has finished) and orders them by
//! (transaction id, position). A long-running writer therefore delays readers; it never causes a skip.

use chrono::{DateTime, Utc};
use futures_util::{Stream, TryStreamExt, stream};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::canonical::{HashedEvent, StreamHash, stream_hash};
use crate::error::{AlarmKind, IntegrityAlarm, StoreError};

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RecordedEvent {
    pub position: i64,
    pub transaction_id: i64,
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: i32,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
    pub stream_hash: Vec<u8>,
}

impl RecordedEvent {
    /// The stream hash recomputed from this row's own contents and its predecessor's hash.
    pub fn recompute_hash(&self, previous: Option<&StreamHash>) -> StreamHash {
        stream_hash(previous, &self.hashed())
    }

    /// The fields the stream hash and the ledger leaf cover.
    pub fn hashed(&self) -> HashedEvent<'_> {
        HashedEvent {
            event_id: self.event_id,
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: u64::try_from(self.sequence).unwrap_or_default(),
            event_type: &self.event_type,
            event_version: u32::try_from(self.event_version).unwrap_or_default(),
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_at: self.recorded_at,
        }
    }

    /// The domain event this row holds.
    pub fn decode<E: domain::Event>(&self) -> Result<E, StoreError> {
        crate::codec::decode_event(&self.event_type, self.event_version, self.payload.clone())
    }

    /// Where a reader that has processed this event resumes.
    pub fn log_position(&self) -> LogPosition {
        LogPosition { transaction_id: self.transaction_id, position: self.position }
    }
}

pub(crate) const COLUMNS: &str = "position, transaction_id::text::bigint AS transaction_id, event_id, aggregate_type, \
    aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, stream_hash";

/// How much of a stream to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamBound {
    All,
    /// Events up to and including this sequence number.
    UpToSequence(u64),
    /// Events recorded at or before this instant.
    UpToTime(DateTime<Utc>),
}

/// One aggregate's events in sequence order, within `bound`.
pub async fn read_stream(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    bound: StreamBound,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let (max_sequence, until) = match bound {
        StreamBound::All => (i64::MAX, None),
        StreamBound::UpToSequence(sequence) => (i64::try_from(sequence).unwrap_or(i64::MAX), None),
        StreamBound::UpToTime(time) => (i64::MAX, Some(time)),
    };
    let events = sqlx::query_as::<_, RecordedEvent>(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence <= $3
           AND ($4::timestamptz IS NULL OR recorded_at <= $4)
         ORDER BY sequence"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(max_sequence)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok(events)
}

/// The last sequence number of a stream recorded at or before `at`, if any.
pub async fn last_sequence_at(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<u64>, StoreError> {
    let sequence: Option<i64> = sqlx::query_scalar(
        "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND recorded_at <= $3",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(at)
    .fetch_one(pool)
    .await?;
    Ok(sequence.and_then(|sequence| u64::try_from(sequence).ok()))
}

/// A page of one stream: its events after sequence `after`, at most `limit`, preceded by the event at
/// `after` itself when there is one (whose stored hash the page's first event chains to), and the
/// stream's length. What a page costs does not grow with the stream.
pub async fn read_page(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    after: u64,
    limit: u64,
) -> Result<(Option<RecordedEvent>, Vec<RecordedEvent>, u64), StoreError> {
    let (after, limit) = (i64::try_from(after).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX));
    let mut events = sqlx::query_as::<_, RecordedEvent>(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence >= $3 AND sequence <= $3 + $4
         ORDER BY sequence"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let length: Option<i64> =
        sqlx::query_scalar("SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2")
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_one(pool)
            .await?;
    let predecessor = match events.first() {
        Some(first) if first.sequence == after && after > 0 => Some(events.remove(0)),
        _ => None,
    };
    Ok((predecessor, events, length.and_then(|length| u64::try_from(length).ok()).unwrap_or(0)))
}

/// Whether each of `events` (consecutive, in sequence order) recomputes to its stored hash from its
/// predecessor's stored hash, starting from `predecessor` (none before the first event of a stream).
pub fn links_hold(predecessor: Option<&RecordedEvent>, events: &[RecordedEvent]) -> bool {
    let mut previous: Option<StreamHash> = predecessor.and_then(|event| event.stream_hash.clone().try_into().ok());
    for (expected, event) in (predecessor.map_or(1, |event| event.sequence + 1)..).zip(events) {
        if event.sequence != expected || event.stream_hash != event.recompute_hash(previous.as_ref()) {
            return false;
        }
        previous = event.stream_hash.clone().try_into().ok();
    }
    true
}

/// The ids of every record of one type.
pub async fn aggregate_ids(pool: &PgPool, aggregate_type: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1 AND sequence = 1")
        .bind(aggregate_type)
        .fetch_all(pool)
        .await?)
}

/// Where one event stands in the log.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PlacedEvent {
    pub event_id: Uuid,
    pub sequence: i64,
    pub event_type: String,
    pub position: i64,
}

/// Where the events `first..=last` of one stream stand: what the command that appended them answered,
/// for a retry after that answer was lost. Fewer events than that is an integrity alarm.
pub async fn placed_events(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    first: u64,
    last: u64,
) -> Result<Vec<PlacedEvent>, StoreError> {
    let to_i64 = |sequence: u64| i64::try_from(sequence).unwrap_or(i64::MAX);
    let events: Vec<PlacedEvent> = sqlx::query_as(
        "SELECT event_id, sequence, event_type, position FROM events
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence BETWEEN $3 AND $4 ORDER BY sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(to_i64(first))
    .bind(to_i64(last))
    .fetch_all(pool)
    .await?;
    let found = u64::try_from(events.len()).unwrap_or_default();
    if found != last.saturating_sub(first) + 1 {
        return Err(IntegrityAlarm {
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            sequence: first + found,
            kind: AlarmKind::StreamShortened { seen: last },
        }
        .into());
    }
    Ok(events)
}

/// The newest `limit` user events that are security alerts (Part 11 AC-06): lockouts, and sign-in
/// attempts on locked or deactivated accounts; newest first.
pub async fn security_alerts(pool: &PgPool, limit: i64) -> Result<Vec<RecordedEvent>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE aggregate_type = 'user'
           AND (event_type = 'UserLockedOut' OR (event_type = 'LoginFailed' AND payload->>'blocked' = 'true'))
         ORDER BY position DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A reader's position in the commit-ordered log: the last (transaction id, position) it processed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogPosition {
    pub transaction_id: i64,
    pub position: i64,
}

impl LogPosition {
    /// Before the first event.
    pub const START: LogPosition = LogPosition { transaction_id: 0, position: 0 };
}

/// Up to `limit` events after `after`, in commit order, from transactions that have all finished.
/// An empty batch means the reader has caught up with the horizon. The ORDER BY names the table's
/// columns: the select list's `transaction_id` is a bigint alias, and ordering by it sorted the whole
/// log on every batch instead of walking the commit-order index.
pub async fn read_committed_batch(
    executor: impl sqlx::PgExecutor<'_>,
    after: LogPosition,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let events = sqlx::query_as::<_, RecordedEvent>(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE (transaction_id, position) > ($1::text::xid8, $2)
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY events.transaction_id, events.position
         LIMIT $3"
    ))
    .bind(after.transaction_id.to_string())
    .bind(after.position)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(events)
}

/// The whole log after `after` in commit order, batch by batch, holding one batch in memory at a time;
/// ends when it reaches the horizon.
pub fn read_committed(
    pool: PgPool,
    after: LogPosition,
    batch_size: i64,
) -> impl Stream<Item = Result<Vec<RecordedEvent>, StoreError>> {
    stream::try_unfold(Some(after), move |next| {
        let pool = pool.clone();
        async move {
            let Some(after) = next else { return Ok(None) };
            let batch = read_committed_batch(&pool, after, batch_size).await?;
            Ok(batch.last().map(RecordedEvent::log_position).map(|resume| (batch, Some(resume))))
        }
    })
    .try_filter(|batch| std::future::ready(!batch.is_empty()))
}

/// A stream whose hash chain does not match its rows, at the first sequence where it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hash chain of {aggregate_type}/{aggregate_id} breaks at sequence {sequence}")]
pub struct BrokenChain {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
}

/// Recomputes a whole stream's hash chain from its rows (given in sequence order) and checks that the
/// sequence runs 1, 2, 3, ... without a gap.
pub fn verify_stream(events: &[RecordedEvent]) -> Result<(), BrokenChain> {
    let mut previous: Option<StreamHash> = None;
    for (expected_sequence, event) in (1..).zip(events) {
        let recomputed = event.recompute_hash(previous.as_ref());
        if event.sequence != expected_sequence || event.stream_hash != recomputed {
            return Err(BrokenChain {
                aggregate_type: event.aggregate_type.clone(),
                aggregate_id: event.aggregate_id.clone(),
                sequence: event.sequence,
            });
        }
        previous = Some(recomputed);
    }
    Ok(())
}

/// The state of an aggregate after `events` (one stream, in sequence order): how auditors see a record
/// as of a past sequence number or instant.
pub fn fold<A: domain::Aggregate>(events: &[RecordedEvent]) -> Result<A, StoreError> {
    let mut state = A::default();
    for event in events {
        state.apply(&event.decode::<A::Event>()?);
    }
    Ok(state)
}

/// An aggregate's state from all its committed events, read now: unlike a store's warm copy, this sees
/// what every process has committed. For records with few events, such as a line's configuration.
pub async fn current_state<A: domain::Aggregate>(pool: &PgPool, aggregate_id: &str) -> Result<A, StoreError> {
    fold(&read_stream(pool, A::TYPE, aggregate_id, StreamBound::All).await?)
}
