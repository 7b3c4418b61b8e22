//! Verification of the whole log (Part 11 AT-15; docs/part11.md): from the rows alone, recompute every
//! stream's hash chain and the ledger's whole tree, check every stored checkpoint's signature and its
//! root against the recomputed tree (which makes consecutive checkpoints consistent), and, given a
//! checkpoint kept outside the database, that today's log still extends it. Reports the first fault
//! found, with its ledger number and record. Reads the log batch by batch in ledger order, in memory
//! bounded by the number of streams.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::LedgerError;
use super::checkpoint::{SignedCheckpoint, VerifierKey};
use super::rows::{self, StoredCheckpoint};
use super::tree::{self, Digest, Frontier};
use super::witness::WitnessVerifierKey;
use crate::canonical::{self, HashedEvent, StreamHash};

const BATCH: i64 = 5_000;

/// What was checked, and the first fault if any. Clean when `fault` is `None`.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Ledger entries whose events, chains and leaves were recomputed.
    pub entries_checked: u64,
    pub streams: u64,
    pub checkpoints_checked: u64,
    /// The newest stored checkpoint's size, if any.
    pub newest_checkpoint: Option<u64>,
    /// Entries sealed after the newest checkpoint: covered by the next one.
    pub entries_after_newest_checkpoint: u64,
    /// Events not sealed yet (the sealer runs behind the writers by a moment).
    pub unsealed_events: u64,
    /// The size of the checkpoint kept outside the database that was checked, if one was given.
    pub external_checkpoint: Option<u64>,
    pub fault: Option<Fault>,
}

impl Verification {
    pub fn is_clean(&self) -> bool {
        self.fault.is_none()
    }
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// The first ledger number at which the log is not what was sealed, when one can be named.
    pub ledger_number: Option<u64>,
    pub record: Option<RecordRef>,
    pub kind: FaultKind,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordRef {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A sealed event is no longer in the log.
    EventMissing,
    /// Ledger numbers are not 1, 2, 3, ...
    LedgerGap,
    /// A stream's sequence, in ledger order, skips or repeats.
    SequenceOutOfOrder,
    /// An event's stream hash is not the hash of its predecessor's and its own contents.
    ChainBroken,
    /// An event is not what was sealed: its leaf differs from the sealed one.
    LeafMismatch,
    /// A checkpoint's signature does not verify with the key given.
    BadCheckpointSignature,
    /// A checkpoint's root is not the root of the tree recomputed from the log.
    CheckpointMismatch,
    /// A checkpoint covers more entries than the ledger holds: the end of the log was removed. In an
    /// export file: lines are missing at its end, or the file was cut short.
    Truncated,
    /// A line of an export file is not what the format says it is.
    Malformed,
    /// An export file's bytes are not the ones its trailer's digest covers.
    DigestMismatch,
}

/// Verifies the log with `key`; `external` is a signed checkpoint kept outside the database.
pub async fn verify(pool: &PgPool, key: &VerifierKey, external: Option<&str>) -> Result<Verification, LedgerError> {
    let mut report = Verification {
        entries_checked: 0,
        streams: 0,
        checkpoints_checked: 0,
        newest_checkpoint: None,
        entries_after_newest_checkpoint: 0,
        unsealed_events: 0,
        external_checkpoint: None,
        fault: None,
    };
    let external = match external.map(|text| key.open(text)).transpose() {
        Ok(external) => external,
        Err(error) => {
            report.fault = Some(Fault::at(
                None,
                None,
                FaultKind::BadCheckpointSignature,
                format!("the external checkpoint: {error}"),
            ));
            return Ok(report);
        }
    };
    report.external_checkpoint = external.as_ref().map(|outside| outside.head.size);
    let mut scan = Scan { chains: Chains::default(), stored: Stored::default() };
    let fault = scan.run(pool, key, external.as_ref(), &mut report).await?;
    report.entries_checked = scan.chains.frontier.size();
    report.streams = scan.chains.streams();
    if fault.is_some() {
        report.fault = fault;
        return Ok(report);
    }
    let size = scan.chains.frontier.size();
    report.entries_after_newest_checkpoint = size - report.newest_checkpoint.unwrap_or(0);
    // A checkpoint larger than the ledger: its end was cut off.
    if let Some(beyond) = scan.stored.peek(pool).await?.map(|stored| stored.tree_size) {
        report.fault = Some(truncated(size, u64::try_from(beyond).unwrap_or(u64::MAX), "a stored checkpoint"));
        return Ok(report);
    }
    if let Some(outside) = external.as_ref().filter(|outside| outside.head.size > size) {
        report.fault = Some(truncated(size, outside.head.size, "the external checkpoint"));
        return Ok(report);
    }
    let unsealed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.position = e.position)",
    )
    .fetch_one(pool)
    .await?;
    report.unsealed_events = u64::try_from(unsealed).unwrap_or(0);
    Ok(report)
}

fn truncated(size: u64, covered: u64, whose: &str) -> Fault {
    Fault::at(
        Some(size + 1),
        None,
        FaultKind::Truncated,
        format!("{whose} covers {covered} entries, the ledger holds {size}: entries from {} on are gone", size + 1),
    )
}

impl Fault {
    fn at(ledger_number: Option<u64>, record: Option<RecordRef>, kind: FaultKind, detail: String) -> Self {
        Self { ledger_number, record, kind, detail }
    }
}

/// The checks that do not depend on where the log is read from: in ledger order, each entry's number,
/// its stream's sequence, its chain link and its leaf, and the tree they add up to.
#[derive(Default)]
pub(crate) struct Chains {
    pub(crate) frontier: Frontier,
    /// Per stream: the last sequence seen and its stored hash.
    streams: HashMap<(String, String), (i64, StreamHash)>,
    /// Where the log is read from a ledger number after 1 and the streams' earlier events are not at
    /// hand (a range file verified alone): a stream's first event here is taken at its sequence and its
    /// link is left unchecked. Its leaf still is, and the tree a signed checkpoint covers commits to it.
    earlier_events_unknown: bool,
}

/// The last event of a stream: its type and id, sequence and stored hash.
pub(crate) type StreamHead = ((String, String), (i64, StreamHash));

impl Chains {
    /// Checks that continue a log at `frontier`'s size: with the streams' last events (`heads`) when
    /// they are known, else taking each stream's first event as it comes.
    pub(crate) fn continuing(frontier: Frontier, heads: Option<Vec<StreamHead>>) -> Self {
        let earlier_events_unknown = heads.is_none() && frontier.size() > 0;
        Self { frontier, streams: heads.unwrap_or_default().into_iter().collect(), earlier_events_unknown }
    }

    pub(crate) fn streams(&self) -> u64 {
        u64::try_from(self.streams.len()).unwrap_or(u64::MAX)
    }

    /// Checks `rows`, the next entries in ledger order, and adds their leaves to the tree; after each
    /// leaf, `at_size` checks what is due at the tree's new size (checkpoints of that size). Returns the
    /// first fault found.
    pub(crate) async fn entries(
        &mut self,
        rows: Vec<Row>,
        at_size: &mut (dyn FnMut(&Frontier) -> Result<Option<Fault>, LedgerError> + Send),
    ) -> Result<Option<Fault>, LedgerError> {
        let (work, structural) = self.order(rows);
        let hashed = tokio::task::spawn_blocking(move || hash_all(work))
            .await
            .map_err(|error| LedgerError::Interrupted(error.to_string()))??;
        for entry in hashed {
            if let Some(fault) = entry.fault {
                return Ok(Some(fault));
            }
            self.frontier.push(entry.leaf)?;
            if let Some(fault) = at_size(&self.frontier)? {
                return Ok(Some(fault));
            }
        }
        Ok(structural)
    }

    /// The cheap checks, in ledger order: numbers dense, every sealed event present, each stream's
    /// sequence in order. Returns the entries up to the first fault found, each with its predecessor's
    /// stored hash, and that fault.
    fn order(&mut self, rows: Vec<Row>) -> (Vec<Work>, Option<Fault>) {
        let mut work = Vec::with_capacity(rows.len());
        let first = self.frontier.size() + 1;
        for (expected, row) in (first..).zip(rows) {
            let number = u64::try_from(row.ledger_number).unwrap_or(0);
            if number != expected {
                let detail = format!("ledger number {expected} is missing; the next is {number}");
                return (work, Some(Fault::at(Some(expected), None, FaultKind::LedgerGap, detail)));
            }
            let (leaf_hash, event) = row.into_event();
            let Some(event) = event else {
                let detail = format!("the event sealed as ledger number {number} is not in the log");
                return (work, Some(Fault::at(Some(number), None, FaultKind::EventMissing, detail)));
            };
            let stream = (event.aggregate_type.clone(), event.aggregate_id.clone());
            let previous = self.streams.get(&stream);
            let link = match previous {
                Some((_, hash)) => Link::After(*hash),
                None if self.earlier_events_unknown && event.sequence > 1 => Link::Unchecked,
                None => Link::First,
            };
            let expected_sequence = match (previous, &link) {
                (Some((last, _)), _) => last + 1,
                (None, Link::Unchecked) => event.sequence,
                (None, _) => 1,
            };
            if event.sequence != expected_sequence {
                let detail = format!(
                    "sequence {} follows {} in its stream",
                    event.sequence,
                    previous.map_or(0, |(last, _)| *last)
                );
                let fault = Fault::at(Some(number), Some(event.record()), FaultKind::SequenceOutOfOrder, detail);
                return (work, Some(fault));
            }
            let stored: StreamHash = event.stream_hash.clone().try_into().unwrap_or([0; 32]);
            self.streams.insert(stream, (event.sequence, stored));
            work.push(Work { number, event, leaf_hash, link });
        }
        (work, None)
    }
}

/// Checks a signed checkpoint `note` against the tree as far as it has been recomputed: its
/// signature, that it is of this size, and its root. `whose` names it in a fault.
pub(crate) fn check_checkpoint(
    frontier: &Frontier,
    key: &VerifierKey,
    note: &str,
    whose: &str,
) -> Result<Result<SignedCheckpoint, Fault>, LedgerError> {
    let size = frontier.size();
    let opened = match key.open(note) {
        Ok(opened) if opened.head.size == size => opened,
        Ok(opened) => {
            let detail = format!("{whose} says size {} where the tree has {size} entries", opened.head.size);
            return Ok(Err(Fault::at(None, None, FaultKind::CheckpointMismatch, detail)));
        }
        Err(error) => {
            let detail = format!("{whose}: {error}");
            return Ok(Err(Fault::at(None, None, FaultKind::BadCheckpointSignature, detail)));
        }
    };
    if opened.head.root != frontier.root()? {
        let detail = format!("{whose} does not match the tree recomputed from the log");
        return Ok(Err(Fault::at(None, None, FaultKind::CheckpointMismatch, detail)));
    }
    Ok(Ok(opened))
}

/// The database's log: its ledger and events read batch by batch, its stored checkpoints page by page.
struct Scan {
    chains: Chains,
    stored: Stored,
}

impl Scan {
    async fn run(
        &mut self,
        pool: &PgPool,
        key: &VerifierKey,
        external: Option<&SignedCheckpoint>,
        report: &mut Verification,
    ) -> Result<Option<Fault>, LedgerError> {
        // The next batch is read while this one is checked.
        let mut next = tokio::spawn(batch(pool.clone(), 0));
        loop {
            let rows = next.await.map_err(|error| LedgerError::Interrupted(error.to_string()))??;
            let Some(last) = rows.last().map(|row| row.ledger_number) else { return Ok(None) };
            next = tokio::spawn(batch(pool.clone(), last));
            let mut due = self.stored.up_to(pool, last).await?;
            let mut at_size = |frontier: &Frontier| checkpoints_at(frontier, &mut due, key, external, report);
            if let Some(fault) = self.chains.entries(rows, &mut at_size).await? {
                return Ok(Some(fault));
            }
        }
    }
}

/// Checks every stored checkpoint of the tree's current size, and the external one if it is of it.
fn checkpoints_at(
    frontier: &Frontier,
    due: &mut std::collections::VecDeque<StoredCheckpoint>,
    key: &VerifierKey,
    external: Option<&SignedCheckpoint>,
    report: &mut Verification,
) -> Result<Option<Fault>, LedgerError> {
    let size = frontier.size();
    let size_i64 = i64::try_from(size).unwrap_or(i64::MAX);
    while let Some(stored) = due.front().filter(|stored| stored.tree_size <= size_i64) {
        if stored.tree_size != size_i64 {
            let detail = format!("the checkpoint stored as size {} lies between ledger numbers", stored.tree_size);
            return Ok(Some(Fault::at(None, None, FaultKind::CheckpointMismatch, detail)));
        }
        let whose = format!("the signed checkpoint of size {size}");
        if let Err(fault) = check_checkpoint(frontier, key, &stored.note, &whose)? {
            return Ok(Some(fault));
        }
        due.pop_front();
        report.checkpoints_checked += 1;
        report.newest_checkpoint = Some(size);
    }
    if let Some(outside) = external.filter(|outside| outside.head.size == size)
        && outside.head.root != frontier.root()?
    {
        let detail = format!("the external checkpoint of size {size} does not match the tree recomputed from the log");
        return Ok(Some(Fault::at(None, None, FaultKind::CheckpointMismatch, detail)));
    }
    Ok(None)
}

/// The stored checkpoints in size order, read a page at a time.
#[derive(Default)]
struct Stored {
    page: std::collections::VecDeque<StoredCheckpoint>,
    after: i64,
    exhausted: bool,
}

impl Stored {
    async fn peek(&mut self, pool: &PgPool) -> Result<Option<&StoredCheckpoint>, sqlx::Error> {
        if self.page.is_empty() && !self.exhausted {
            let page = rows::checkpoints(pool, self.after, 1_000).await?;
            self.exhausted = page.is_empty();
            if let Some(last) = page.last() {
                self.after = last.tree_size;
            }
            self.page.extend(page);
        }
        Ok(self.page.front())
    }

    /// The stored checkpoints of size at most `size` not taken yet.
    async fn up_to(
        &mut self,
        pool: &PgPool,
        size: i64,
    ) -> Result<std::collections::VecDeque<StoredCheckpoint>, sqlx::Error> {
        let mut due = std::collections::VecDeque::new();
        while let Some(stored) = self.peek(pool).await?.filter(|stored| stored.tree_size <= size) {
            due.push_back(stored.clone());
            self.page.pop_front();
        }
        Ok(due)
    }
}

/// A ledger entry and, when it is still in the log, the event it seals.
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct Row {
    pub(crate) ledger_number: i64,
    pub(crate) leaf_hash: Vec<u8>,
    pub(crate) event_id: Option<Uuid>,
    pub(crate) aggregate_type: Option<String>,
    pub(crate) aggregate_id: Option<String>,
    pub(crate) sequence: Option<i64>,
    pub(crate) event_type: Option<String>,
    pub(crate) event_version: Option<i32>,
    pub(crate) payload: Option<String>,
    pub(crate) metadata: Option<String>,
    pub(crate) recorded_at: Option<DateTime<Utc>>,
    pub(crate) stream_hash: Option<Vec<u8>>,
}

impl Row {
    /// The sealed leaf, and the event it seals when that is still in the log.
    pub(crate) fn into_event(self) -> (Vec<u8>, Option<Event>) {
        let Row {
            leaf_hash,
            event_id,
            aggregate_type,
            aggregate_id,
            sequence,
            event_type,
            event_version,
            payload,
            metadata,
            recorded_at,
            stream_hash,
            ..
        } = self;
        let event = (|| {
            Some(Event {
                event_id: event_id?,
                aggregate_type: aggregate_type?,
                aggregate_id: aggregate_id?,
                sequence: sequence?,
                event_type: event_type?,
                event_version: event_version?,
                payload: payload?,
                metadata: metadata?,
                recorded_at: recorded_at?,
                stream_hash: stream_hash?,
            })
        })();
        (leaf_hash, event)
    }
}

pub(crate) struct Event {
    pub(crate) event_id: Uuid,
    pub(crate) aggregate_type: String,
    pub(crate) aggregate_id: String,
    pub(crate) sequence: i64,
    pub(crate) event_type: String,
    pub(crate) event_version: i32,
    /// As text: parsed where the hashes are recomputed, on every core.
    pub(crate) payload: String,
    pub(crate) metadata: String,
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) stream_hash: Vec<u8>,
}

impl Event {
    fn record(&self) -> RecordRef {
        RecordRef {
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            sequence: self.sequence,
        }
    }
}

/// What an event's stream hash chains from.
enum Link {
    /// The stream's first event.
    First,
    /// The stored hash of the stream's previous event.
    After(StreamHash),
    /// The previous event is not at hand (`Chains::earlier_events_unknown`).
    Unchecked,
}

/// An entry whose hashes are to be recomputed.
struct Work {
    number: u64,
    event: Event,
    leaf_hash: Vec<u8>,
    link: Link,
}

/// An entry with its hashes recomputed: its leaf, or the fault found.
struct Hashed {
    leaf: Digest,
    fault: Option<Fault>,
}

/// One batch of ledger entries with their events, in ledger order, after `after`.
pub(crate) async fn batch(pool: PgPool, after: i64) -> Result<Vec<Row>, LedgerError> {
    Ok(sqlx::query_as(
        "SELECT l.ledger_number, l.leaf_hash, e.event_id, e.aggregate_type, e.aggregate_id, e.sequence,
                e.event_type, e.event_version, e.payload::text AS payload, e.metadata::text AS metadata,
                e.recorded_at, e.stream_hash
         FROM ledger l LEFT JOIN events e ON e.position = l.position
         WHERE l.ledger_number > $1 ORDER BY l.ledger_number LIMIT $2",
    )
    .bind(after)
    .bind(BATCH)
    .fetch_all(&pool)
    .await?)
}

/// Recomputes every entry's stream hash and leaf, on every core: each link of a chain is checked
/// against its predecessor's stored hash, so entries need not wait for one another. A part that did
/// not finish is an error: fewer leaves than entries would read as a shorter log.
fn hash_all(work: Vec<Work>) -> Result<Vec<Hashed>, LedgerError> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let size = work.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> =
            work.chunks(size).map(|part| scope.spawn(move || part.iter().map(hash_one).collect::<Vec<_>>())).collect();
        let mut hashed = Vec::with_capacity(work.len());
        for part in parts {
            hashed.extend(part.join().map_err(|_| LedgerError::Interrupted("a hashing thread panicked".to_owned()))?);
        }
        Ok(hashed)
    })
}

fn hash_one(work: &Work) -> Hashed {
    let event = &work.event;
    let parse = |text: &str| serde_json::from_str::<Value>(text);
    let (Ok(payload), Ok(metadata)) = (parse(&event.payload), parse(&event.metadata)) else {
        let detail = "the stored payload or metadata is not JSON".to_owned();
        let fault = Fault::at(Some(work.number), Some(event.record()), FaultKind::ChainBroken, detail);
        return Hashed { leaf: [0; 32], fault: Some(fault) };
    };
    let canonical = canonical::hashed_bytes(&HashedEvent {
        event_id: event.event_id,
        aggregate_type: &event.aggregate_type,
        aggregate_id: &event.aggregate_id,
        sequence: u64::try_from(event.sequence).unwrap_or_default(),
        event_type: &event.event_type,
        event_version: u32::try_from(event.event_version).unwrap_or_default(),
        payload: &payload,
        metadata: &metadata,
        recorded_at: event.recorded_at,
    });
    let leaf = tree::leaf_hash(&canonical, &event.stream_hash);
    let chained = match &work.link {
        Link::First => event.stream_hash == canonical::chain(None, &canonical),
        Link::After(previous) => event.stream_hash == canonical::chain(Some(previous), &canonical),
        Link::Unchecked => true,
    };
    let fault = if !chained {
        let detail = "the stored stream hash is not the hash of the event and its predecessor".to_owned();
        Some(Fault::at(Some(work.number), Some(event.record()), FaultKind::ChainBroken, detail))
    } else if work.leaf_hash != leaf {
        let detail = "the event is not the one that was sealed".to_owned();
        Some(Fault::at(Some(work.number), Some(event.record()), FaultKind::LeafMismatch, detail))
    } else {
        None
    };
    Hashed { leaf, fault }
}

/// What one witness's stored cosignatures show. Clean when `bad` is `None`.
#[derive(Debug, Clone, Serialize)]
pub struct Witnessed {
    pub witness: String,
    pub cosignatures_checked: u64,
    /// The largest checkpoint the witness cosigned.
    pub newest_cosigned: Option<u64>,
    /// The first cosignature that does not check with the witness's key: its checkpoint's size and why.
    pub bad: Option<(u64, String)>,
}

/// Checks every stored cosignature of each of `witnesses` against the checkpoint it is stored with,
/// with that witness's key. A cosignature by a witness not given is not checked.
pub async fn cosignatures(pool: &PgPool, witnesses: &[WitnessVerifierKey]) -> Result<Vec<Witnessed>, LedgerError> {
    let mut reports = Vec::new();
    for key in witnesses {
        let mut report =
            Witnessed { witness: key.name().to_owned(), cosignatures_checked: 0, newest_cosigned: None, bad: None };
        let mut after = 0_i64;
        'pages: loop {
            let page: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT c.tree_size, c.note, s.signature FROM ledger_cosignatures s
                 JOIN ledger_checkpoints c USING (tree_size)
                 WHERE s.witness = $1 AND s.tree_size > $2 ORDER BY s.tree_size LIMIT $3",
            )
            .bind(key.name())
            .bind(after)
            .bind(BATCH)
            .fetch_all(pool)
            .await?;
            let Some(last) = page.last().map(|(size, _, _)| *size) else { break };
            for (size, note, signature) in page {
                let size_u64 = u64::try_from(size).unwrap_or_default();
                if let Err(error) = key.check(&format!("{note}{signature}")) {
                    report.bad = Some((size_u64, error.to_string()));
                    break 'pages;
                }
                report.cosignatures_checked += 1;
                report.newest_cosigned = Some(size_u64);
            }
            after = last;
        }
        reports.push(report);
    }
    Ok(reports)
}
