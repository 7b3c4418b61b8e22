//! The PostgreSQL event store: loading aggregates (snapshot + tail, or warm from memory) and appending a
//! command's events in one statement, with the hash chain, optimistic concurrency and snapshots.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use cqrs_es::{AggregateContext, AggregateError, EventEnvelope};
use domain::Event as _;
use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::adapter::{Adapted, AdaptedEvent};
use crate::cache::{AggregateCache, Loaded, SlotGuard};
use crate::canonical::{HashedEvent, StreamHash, stream_hash};
use crate::codec::{decode_event, encode_event};
use crate::error::{AlarmKind, IntegrityAlarm, StoreError};
use crate::event_log::{COLUMNS, RecordedEvent, StreamBound, read_stream};
use crate::metadata::{EventMetadata, IdempotencyRecord};
use crate::snapshot::{self, SnapshotFacts, SnapshotKey};

#[derive(Debug, Clone, Copy)]
pub struct StoreSettings {
    /// A snapshot is written with the append that takes a stream this many events past the last one.
    pub snapshot_every: u64,
    /// How many idle aggregates this process keeps warm before it forgets them.
    pub cache_capacity: usize,
    /// Keep each aggregate's committed state between commands. Off, every command reads its aggregate
    /// from the database (snapshot + tail): the cold path, which benchmarks measure on its own.
    pub keep_warm: bool,
    /// Signs the snapshots this store writes and checks the ones it reads.
    pub snapshot_key: SnapshotKey,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            snapshot_every: 100,
            cache_capacity: 10_000,
            keep_warm: true,
            snapshot_key: SnapshotKey::of_this_process(),
        }
    }
}

/// SQLSTATE of the gapless-sequence trigger's refusal (integrity_constraint_violation).
const PREDECESSOR_MISSING: &str = "23000";

/// The event store for aggregates of type `A`. Cheap to clone; clones share the warm state.
#[derive(Debug)]
pub struct PgEventStore<A> {
    pool: PgPool,
    cache: Arc<AggregateCache<Adapted<A>>>,
    settings: StoreSettings,
    aggregate: PhantomData<fn() -> A>,
}

impl<A> Clone for PgEventStore<A> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            cache: Arc::clone(&self.cache),
            settings: self.settings,
            aggregate: PhantomData,
        }
    }
}

/// An aggregate loaded for one command: the lock on it, and a working copy that the decision mutates.
#[derive(Debug)]
pub struct LoadedAggregate<A> {
    aggregate_id: String,
    guard: SlotGuard<Adapted<A>>,
    working: Loaded<Adapted<A>>,
    /// Read from the database for this command, rather than kept warm since an earlier one.
    fresh: bool,
}

impl<A> LoadedAggregate<A> {
    /// The stream's version (its last sequence number) before this command.
    pub fn version(&self) -> u64 {
        self.working.version
    }

    pub fn state(&self) -> &A {
        &self.working.aggregate.0
    }

    /// Folds the events a decision produced into the working copy (not yet into the warm state: that
    /// happens when they are appended).
    pub(crate) fn apply_decided(&mut self, events: &[A::Event])
    where
        A: domain::Aggregate,
    {
        for event in events {
            self.working.aggregate.0.apply(event);
        }
    }

    /// Whether the state was read from the database for this command. A warm copy can be behind what
    /// another process has committed since.
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }
}

impl<A: domain::Aggregate> AggregateContext<Adapted<A>> for LoadedAggregate<A> {
    fn aggregate(&mut self) -> &mut Adapted<A> {
        &mut self.working.aggregate
    }
}

/// The events one append wrote, as the log now holds them.
#[derive(Debug, Clone)]
pub struct Appended {
    pub version: u64,
    pub events: Vec<AppendedEvent>,
}

/// Where one appended event landed in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEvent {
    pub event_id: Uuid,
    pub sequence: u64,
    pub event_type: &'static str,
    pub position: i64,
    pub transaction_id: i64,
    pub stream_hash: StreamHash,
}

/// Columns every event of one append shares, bound once as $1..$4.
const SHARED_COLUMNS: usize = 4;
/// Columns each event binds for itself.
const EVENT_COLUMNS: usize = 6;
/// Columns of a snapshot taken with the append: sequence, state, stream hash, MAC.
const SNAPSHOT_COLUMNS: usize = 4;
/// Columns of the idempotency record: principal, key, request hash, attempt, accepted status, first and
/// last sequence.
const IDEMPOTENCY_COLUMNS: usize = 7;

/// `count` placeholders from `$first` on.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|p| format!("${p}")).collect::<Vec<_>>().join(", ")
}

/// One INSERT of `events` rows. Multi-row VALUES keeps the rows in command order, so the identity
/// column and the gapless-sequence trigger see each event after its predecessor. With `snapshot`, a
/// snapshot row is inserted, and with `idempotency` the key's record, by CTEs of the same statement: in
/// the same transaction as the events, so neither exists without them.
fn append_statement(events: usize, snapshot: bool, idempotency: bool) -> String {
    let mut sql = String::with_capacity(800 + events * 60);
    let mut next = SHARED_COLUMNS + events * EVENT_COLUMNS + 1;
    let mut ctes = Vec::new();
    if snapshot {
        ctes.push(format!(
            "snapshot AS (INSERT INTO snapshots (aggregate_type, aggregate_id, sequence, state, stream_hash, mac)
             VALUES ($1, $2, {}) ON CONFLICT DO NOTHING)",
            placeholders(next, SNAPSHOT_COLUMNS)
        ));
        next += SNAPSHOT_COLUMNS;
    }
    if idempotency {
        ctes.push(format!(
            "idempotency AS (INSERT INTO idempotency_keys (aggregate_type, aggregate_id, principal, key, request_hash,
                 attempt, accepted_status, first_sequence, last_sequence) VALUES ($1, $2, {}))",
            placeholders(next, IDEMPOTENCY_COLUMNS)
        ));
    }
    if !ctes.is_empty() {
        sql.push_str("WITH ");
        sql.push_str(&ctes.join(", "));
        sql.push(' ');
    }
    sql.push_str(
        "INSERT INTO events (aggregate_type, aggregate_id, metadata, recorded_at, event_id, sequence, event_type, \
         event_version, payload, stream_hash) VALUES ",
    );
    for event in 0..events {
        if event > 0 {
            sql.push_str(", ");
        }
        let p = SHARED_COLUMNS + event * EVENT_COLUMNS + 1;
        sql.push_str(&format!("($1, $2, $3, $4, {})", placeholders(p, EVENT_COLUMNS)));
    }
    sql.push_str(" RETURNING sequence, position, transaction_id::text::bigint");
    sql
}

fn as_hash(bytes: &[u8]) -> Option<StreamHash> {
    bytes.try_into().ok()
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl<A: domain::Aggregate> PgEventStore<A> {
    pub fn new(pool: PgPool, settings: StoreSettings) -> Self {
        Self { pool, cache: Arc::new(AggregateCache::new(settings.cache_capacity)), settings, aggregate: PhantomData }
    }

    /// Locks `aggregate_id` in this process and returns its committed state.
    pub async fn load(&self, aggregate_id: &str) -> Result<LoadedAggregate<A>, StoreError> {
        let mut guard = self.cache.lock(aggregate_id).await;
        let (working, fresh) = match guard.as_ref() {
            Some(warm) if self.settings.keep_warm => (warm.clone(), false),
            _ => {
                let loaded = self.read_state_at(aggregate_id, u64::MAX).await?;
                *guard = Some(loaded.clone());
                (loaded, true)
            }
        };
        Ok(LoadedAggregate { aggregate_id: aggregate_id.to_owned(), guard, working, fresh })
    }

    /// The aggregate's committed state, for a decision about another aggregate. The aggregate's lock is
    /// released as soon as the state is loaded.
    pub async fn state(&self, aggregate_id: &str) -> Result<A, StoreError> {
        Ok(self.load(aggregate_id).await?.working.aggregate.0)
    }

    /// The aggregate as it was after sequence `up_to` (or its newest, if shorter), and that version (0:
    /// it did not exist): what auditors ask for. Read from the database, from the newest trusted
    /// snapshot at or before the point, never from the warm copy.
    pub async fn state_at(&self, aggregate_id: &str, up_to: u64) -> Result<(A, u64), StoreError> {
        let loaded = self.read_state_at(aggregate_id, up_to).await?;
        Ok((loaded.aggregate.0, loaded.version))
    }

    /// The aggregate's committed state and version (0: it does not exist), as [`Self::state`].
    pub async fn state_and_version(&self, aggregate_id: &str) -> Result<(A, u64), StoreError> {
        let loaded = self.load(aggregate_id).await?;
        Ok((loaded.working.aggregate.0, loaded.working.version))
    }

    /// Re-reads a loaded aggregate from the database: the warm copy may be behind what another process
    /// has committed since. A stream found shorter than the warm copy was shortened outside the service.
    pub async fn reload(&self, context: &mut LoadedAggregate<A>) -> Result<(), StoreError> {
        let seen = context.working.version;
        let fresh = self.read_state_at(&context.aggregate_id, u64::MAX).await?;
        if fresh.version < seen {
            *context.guard = None;
            return Err(self.alarm(&context.aggregate_id, fresh.version + 1, AlarmKind::StreamShortened { seen }));
        }
        *context.guard = Some(fresh.clone());
        context.working = fresh;
        context.fresh = true;
        Ok(())
    }

    fn alarm(&self, aggregate_id: &str, sequence: u64, kind: AlarmKind) -> StoreError {
        IntegrityAlarm { aggregate_type: A::TYPE.to_owned(), aggregate_id: aggregate_id.to_owned(), sequence, kind }
            .into()
    }

    /// The newest snapshot at or before sequence `up_to` that passes its MAC and deserialises, as a
    /// starting point (see `snapshot`).
    async fn trusted_snapshot(&self, aggregate_id: &str, up_to: u64) -> Result<Option<Loaded<Adapted<A>>>, StoreError> {
        /// Sequence, state, stream hash, MAC.
        type SnapshotRow = (i64, Value, Vec<u8>, Option<Vec<u8>>);
        let row: Option<SnapshotRow> = sqlx::query_as(
            "SELECT sequence, state, stream_hash, mac FROM snapshots
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence <= $3 ORDER BY sequence DESC LIMIT 1",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(to_i64(up_to))
        .fetch_optional(&self.pool)
        .await?;
        let Some((sequence, state, hash, mac)) = row else { return Ok(None) };
        let (Ok(version), Some(stream_hash)) = (u64::try_from(sequence), as_hash(&hash)) else { return Ok(None) };
        let facts = SnapshotFacts {
            aggregate_type: A::TYPE,
            aggregate_id,
            sequence: version,
            stream_hash: &stream_hash,
            state: &state,
        };
        if !mac.is_some_and(|mac| snapshot::verify(&self.settings.snapshot_key, &facts, &mac)) {
            tracing::warn!(aggregate_type = A::TYPE, aggregate_id, sequence, "ignoring a snapshot that fails its MAC");
            return Ok(None);
        }
        match serde_json::from_value::<Adapted<A>>(state) {
            Ok(aggregate) => {
                Ok(Some(Loaded { aggregate, version, stream_hash: Some(stream_hash), snapshot_version: version }))
            }
            Err(error) => {
                // Written by an older shape of the state: replaying the stream is always correct.
                tracing::warn!(%error, aggregate_type = A::TYPE, aggregate_id, "ignoring unreadable snapshot");
                Ok(None)
            }
        }
    }

    /// Rebuilds an aggregate as of sequence `up_to` from its newest trusted snapshot at or before it and
    /// the events after that, streaming the tail and checking its hash chain from the snapshot's event
    /// on: the snapshot must stand at an event the stream still holds, and every later event must follow
    /// its predecessor. The cost is that of the tail, however long the stream before it.
    async fn read_state_at(&self, aggregate_id: &str, up_to: u64) -> Result<Loaded<Adapted<A>>, StoreError> {
        let snapshot = self.trusted_snapshot(aggregate_id, up_to).await?;
        let mut loaded = snapshot.unwrap_or(Loaded {
            aggregate: Adapted::default(),
            version: 0,
            stream_hash: None,
            snapshot_version: 0,
        });
        let statement = format!(
            "SELECT {COLUMNS} FROM events
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence >= $3 AND sequence <= $4
             ORDER BY sequence"
        );
        let mut tail = sqlx::query_as::<_, RecordedEvent>(&statement)
            .bind(A::TYPE)
            .bind(aggregate_id)
            .bind(to_i64(loaded.version.max(1)))
            .bind(to_i64(up_to))
            .fetch(&self.pool);
        let mut snapshot_event_seen = loaded.version == 0;
        while let Some(event) = tail.try_next().await? {
            let sequence = u64::try_from(event.sequence).unwrap_or_default();
            if !snapshot_event_seen {
                // The snapshot's own event: it must still be there, unchanged.
                if sequence != loaded.version {
                    return Err(self.alarm(aggregate_id, loaded.version, AlarmKind::MissingPredecessor));
                }
                if as_hash(&event.stream_hash) != loaded.stream_hash {
                    return Err(self.alarm(aggregate_id, loaded.version, AlarmKind::HashMismatch));
                }
                snapshot_event_seen = true;
                continue;
            }
            if sequence != loaded.version + 1 {
                return Err(self.alarm(aggregate_id, loaded.version + 1, AlarmKind::MissingPredecessor));
            }
            let recomputed = event.recompute_hash(loaded.stream_hash.as_ref());
            if event.stream_hash != recomputed {
                return Err(self.alarm(aggregate_id, sequence, AlarmKind::HashMismatch));
            }
            loaded.aggregate.0.apply(&event.decode::<A::Event>()?);
            loaded.version = sequence;
            loaded.stream_hash = Some(recomputed);
        }
        if !snapshot_event_seen {
            let seen = loaded.version;
            return Err(self.alarm(aggregate_id, seen, AlarmKind::StreamShortened { seen }));
        }
        Ok(loaded)
    }

    /// Appends `events` (already applied to the context's working copy) after the context's version,
    /// in one statement, with the idempotency record when there is one. On success the working copy
    /// becomes the warm state; on any failure the warm state is dropped, so the next command reads the
    /// database.
    pub async fn append(
        &self,
        mut context: LoadedAggregate<A>,
        events: Vec<A::Event>,
        metadata: &EventMetadata,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Appended, StoreError> {
        let version = context.working.version + events.len() as u64;
        let snapshot_due = version - context.working.snapshot_version >= self.settings.snapshot_every;
        match self.insert(&context, &events, metadata, snapshot_due, idempotency).await {
            Ok(appended) => {
                crate::wake::appended();
                context.working.version = appended.version;
                context.working.stream_hash = appended.events.last().map(|event| event.stream_hash);
                if snapshot_due {
                    context.working.snapshot_version = appended.version;
                }
                *context.guard = Some(context.working);
                Ok(appended)
            }
            Err(error) => {
                *context.guard = None;
                Err(error)
            }
        }
    }

    async fn insert(
        &self,
        context: &LoadedAggregate<A>,
        events: &[A::Event],
        metadata: &EventMetadata,
        take_snapshot: bool,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Appended, StoreError> {
        let recorded_at = Utc::now().trunc_subsecs(6);
        let metadata = metadata.to_json();
        let mut previous = context.working.stream_hash;
        let mut appended = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        for (sequence, event) in (context.working.version + 1..).zip(events) {
            let (event_type, payload) = encode_event(event)?;
            let event_id = Uuid::now_v7();
            let hash = stream_hash(
                previous.as_ref(),
                &HashedEvent {
                    event_id,
                    aggregate_type: A::TYPE,
                    aggregate_id: &context.aggregate_id,
                    sequence,
                    event_type,
                    event_version: event.event_version(),
                    payload: &payload,
                    metadata: &metadata,
                    recorded_at,
                },
            );
            previous = Some(hash);
            payloads.push(payload);
            appended.push(AppendedEvent {
                event_id,
                sequence,
                event_type,
                position: 0,
                transaction_id: 0,
                stream_hash: hash,
            });
        }
        let first = context.working.version + 1;
        let version = context.working.version + appended.len() as u64;
        let statement = append_statement(appended.len(), take_snapshot, idempotency.is_some());
        let mut query = sqlx::query_as::<_, (i64, i64, i64)>(&statement)
            .bind(A::TYPE)
            .bind(&context.aggregate_id)
            .bind(&metadata)
            .bind(recorded_at);
        for ((row, payload), event) in appended.iter().zip(&payloads).zip(events) {
            query = query
                .bind(row.event_id)
                .bind(to_i64(row.sequence))
                .bind(row.event_type)
                .bind(i32::try_from(event.event_version()).unwrap_or(i32::MAX))
                .bind(payload)
                .bind(&row.stream_hash[..]);
        }
        if take_snapshot {
            let state = serde_json::to_value(&context.working.aggregate)?;
            let hash = previous.unwrap_or_default();
            let facts = SnapshotFacts {
                aggregate_type: A::TYPE,
                aggregate_id: &context.aggregate_id,
                sequence: version,
                stream_hash: &hash,
                state: &state,
            };
            let mac = snapshot::sign(&self.settings.snapshot_key, &facts);
            query = query.bind(to_i64(version)).bind(state).bind(hash.to_vec()).bind(mac);
        }
        if let Some(record) = idempotency {
            query = query
                .bind(&record.principal)
                .bind(&record.key)
                .bind(&record.request_hash)
                .bind(record.attempt)
                .bind(record.accepted_status)
                .bind(to_i64(first))
                .bind(to_i64(version));
        }
        let written = match query.fetch_all(&self.pool).await {
            Ok(written) => written,
            Err(sqlx::Error::Database(error)) if error.constraint() == Some("events_stream_sequence_key") => {
                let current_version = self.current_version(&context.aggregate_id).await?;
                if current_version < context.working.version {
                    let seen = context.working.version;
                    return Err(self.alarm(
                        &context.aggregate_id,
                        current_version + 1,
                        AlarmKind::StreamShortened { seen },
                    ));
                }
                return Err(StoreError::Conflict { current_version });
            }
            Err(sqlx::Error::Database(error)) if error.constraint() == Some("idempotency_keys_pkey") => {
                return Err(StoreError::IdempotencyKeyUsed);
            }
            // The gapless-sequence trigger: the event this append follows is gone.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(PREDECESSOR_MISSING) => {
                return Err(self.alarm(&context.aggregate_id, context.working.version, AlarmKind::MissingPredecessor));
            }
            Err(error) => return Err(error.into()),
        };
        for (sequence, position, transaction_id) in written {
            if let Some(row) = appended.iter_mut().find(|row| to_i64(row.sequence) == sequence) {
                row.position = position;
                row.transaction_id = transaction_id;
            }
        }
        Ok(Appended { version, events: appended })
    }

    /// The stream's version as committed now.
    pub async fn current_version(&self, aggregate_id: &str) -> Result<u64, StoreError> {
        let version: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(sequence), 0) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(version).unwrap_or_default())
    }
}

fn framework_error<E: std::error::Error>(error: StoreError) -> AggregateError<E> {
    match error {
        StoreError::Conflict { .. } => AggregateError::AggregateConflict,
        StoreError::Database(error) => AggregateError::DatabaseConnectionError(Box::new(error)),
        StoreError::Corrupt(error) => AggregateError::DeserializationError(Box::new(error)),
        StoreError::Metadata(error) => AggregateError::UnexpectedError(Box::new(error)),
        StoreError::Version(error) => AggregateError::DeserializationError(Box::new(error)),
        error @ (StoreError::IdempotencyKeyUsed | StoreError::Integrity(_)) => {
            AggregateError::UnexpectedError(Box::new(error))
        }
    }
}

fn envelope<A: domain::Aggregate>(event: RecordedEvent) -> Result<EventEnvelope<Adapted<A>>, StoreError> {
    let metadata: EventMetadata = serde_json::from_value(event.metadata)?;
    Ok(EventEnvelope {
        aggregate_id: event.aggregate_id,
        sequence: usize::try_from(event.sequence).unwrap_or_default(),
        payload: AdaptedEvent(decode_event(&event.event_type, event.event_version, event.payload)?),
        metadata: metadata.to_map(),
    })
}

/// cqrs-es's view of the store, so `CqrsFramework` runs on it. MS5 Floor's own command path
/// (`execute`) uses the inherent methods, which also report the current version on a conflict.
impl<A: domain::Aggregate> cqrs_es::EventStore<Adapted<A>> for PgEventStore<A> {
    type AC = LoadedAggregate<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<Adapted<A>>>, AggregateError<A::Error>> {
        let events = read_stream(&self.pool, A::TYPE, aggregate_id, StreamBound::All).await.map_err(framework_error)?;
        events.into_iter().map(envelope::<A>).collect::<Result<_, _>>().map_err(framework_error)
    }

    async fn load_aggregate(&self, aggregate_id: &str) -> Result<Self::AC, AggregateError<A::Error>> {
        self.load(aggregate_id).await.map_err(framework_error)
    }

    async fn commit(
        &self,
        events: Vec<AdaptedEvent<A::Event>>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<Adapted<A>>>, AggregateError<A::Error>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let parsed = EventMetadata::from_map(&metadata).map_err(|e| framework_error(e.into()))?;
        let aggregate_id = context.aggregate_id.clone();
        let payloads: Vec<A::Event> = events.into_iter().map(|event| event.0).collect();
        let appended = self.append(context, payloads.clone(), &parsed, None).await.map_err(framework_error)?;
        Ok(appended
            .events
            .iter()
            .zip(payloads)
            .map(|(row, payload)| EventEnvelope {
                aggregate_id: aggregate_id.clone(),
                sequence: usize::try_from(row.sequence).unwrap_or_default(),
                payload: AdaptedEvent(payload),
                metadata: metadata.clone(),
            })
            .collect())
    }
}
