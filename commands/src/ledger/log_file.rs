//! The event log as a portable file, and its verification with nothing but the file and the verifier
//! key (docs/event-store.md, "Export files"). NDJSON, one object per line, with a `kind`:
//!
//! - `header`: the format, its version, when it was exported, the first and last ledger number in it
//!   and, for a file that starts after ledger number 1, the edge of the tree before it (the stored hashes
//!   `tree::Frontier` keeps), which the file's first signed checkpoint then vouches for;
//! - `event`: one per ledger entry, in ledger order: the ledger number and leaf hash, every field the
//!   stream hash covers (payload and metadata as stored) and the stream hash;
//! - `checkpoint`: each signed checkpoint, right after the event whose ledger number is its size;
//! - `trailer`: the counts and the SHA-256 of every byte before the trailer line.
//!
//! Written and read batch by batch: memory does not grow with the log. Verification recomputes every
//! chain and the whole tree as the database's verification does (`verify::Chains`), checks each
//! checkpoint where it stands, and names the first bad line. A file of a range verified alone takes each
//! stream's first event in it as it comes (its predecessor is not in the file); its leaf is checked, and
//! the tree a checkpoint signs commits to it. Import is that verification, storing each verified part in
//! one transaction: a file with a fault imports nothing. It imports into an empty database, or into one
//! whose log the file continues: the same tree up to the file's first entry, each stream continuing from
//! its last event there.

use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::LedgerError;
use super::checkpoint::{SignedCheckpoint, VerifierKey};
use super::rows;
use super::tree::{Digest, Frontier, Known};
use super::verify::{Chains, Fault, FaultKind, Row, StreamHead, batch, check_checkpoint};

pub const FORMAT: &str = "ms5-floor-log";
pub const FORMAT_VERSION: u32 = 1;

/// Entries verified together (their hashes recomputed on every core).
const BATCH: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("writing the file: {0}")]
    Write(#[from] std::io::Error),
    #[error("serialising a line: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no ledger entries from {from} to {up_to} to export")]
    Range { from: u64, up_to: u64 },
    /// The log is not whole: an export would not verify. Verify the database to find out more.
    #[error("the event sealed as ledger number {0} is not in the log")]
    EventMissing(i64),
}

#[derive(Serialize, Deserialize)]
struct Header {
    kind: String,
    format: String,
    version: u32,
    exported_at: DateTime<Utc>,
    /// The first ledger number in the file.
    #[serde(default = "first_ledger_number")]
    from: u64,
    /// The last ledger number in the file, fixed when the export started.
    up_to: u64,
    /// The tree before `from`: the stored hashes of `tree::Frontier::indexes(from - 1)`, hex, in that
    /// order.
    #[serde(default)]
    edge: Vec<String>,
}

fn first_ledger_number() -> u64 {
    1
}

impl Header {
    /// The tree before the file's first entry, as the header states it.
    fn frontier(&self) -> Result<Frontier, String> {
        let before = self.from.checked_sub(1).ok_or("the first ledger number is 1 or more")?;
        let indexes = Frontier::indexes(before);
        if indexes.len() != self.edge.len() {
            return Err(format!(
                "the tree before ledger number {} has {} edge hashes, not {}",
                self.from,
                indexes.len(),
                self.edge.len()
            ));
        }
        let hashes = self
            .edge
            .iter()
            .map(|text| hex::decode(text).ok().and_then(|bytes| Digest::try_from(bytes).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or("an edge hash is not 64 hex digits")?;
        Ok(Frontier::new(before, Known::new(indexes.into_iter().zip(hashes))))
    }
}

/// Parses a header line.
fn header(text: &str) -> Result<Header, String> {
    match serde_json::from_str::<Header>(text) {
        Ok(header) if header.format == FORMAT && header.version == FORMAT_VERSION => Ok(header),
        Ok(header) => {
            Err(format!("format {} version {}, not {FORMAT} {FORMAT_VERSION}", header.format, header.version))
        }
        Err(error) => Err(format!("the header: {error}")),
    }
}

#[derive(Serialize, Deserialize)]
struct EventLine<'a> {
    kind: &'a str,
    ledger_number: i64,
    leaf_hash: &'a str,
    event_id: Uuid,
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    sequence: i64,
    event_type: &'a str,
    event_version: i32,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(borrow)]
    metadata: &'a RawValue,
    recorded_at: DateTime<Utc>,
    stream_hash: &'a str,
}

#[derive(Serialize, Deserialize)]
struct CheckpointLine {
    kind: String,
    tree_size: i64,
    signed_at: DateTime<Utc>,
    note: String,
}

#[derive(Serialize, Deserialize)]
struct Trailer {
    kind: String,
    entries: u64,
    checkpoints: u64,
    sha256: String,
}

#[derive(Deserialize)]
struct Kind<'a> {
    kind: &'a str,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub entries: u64,
    pub checkpoints: u64,
    pub sha256: String,
}

/// Writes lines to a file, hashing them for the trailer.
struct Lines<'a, W: Write> {
    out: &'a mut W,
    hasher: Sha256,
}

impl<W: Write> Lines<'_, W> {
    fn line(&mut self, value: &impl Serialize) -> Result<(), ExportError> {
        let mut bytes = serde_json::to_vec(value)?;
        bytes.push(b'\n');
        self.hasher.update(&bytes);
        self.out.write_all(&bytes)?;
        Ok(())
    }
}

/// Told after each batch how many entries of how many are done, for a progress bar.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, u64) + Send);

/// Writes the log's ledger entries `from`..=`up_to` (default: from 1 to every entry sealed when it
/// starts) and the checkpoints among them to `out`. The file is written as it is read; `out` should be
/// buffered.
pub async fn export(
    pool: &PgPool,
    from: Option<u64>,
    up_to: Option<u64>,
    out: &mut impl Write,
    progress: Progress<'_>,
) -> Result<Exported, ExportError> {
    let sealed = rows::size(pool).await?;
    let up_to = up_to.map_or(sealed, |wanted| wanted.min(sealed));
    let from = from.unwrap_or(1);
    if from == 0 || from > up_to.max(1) {
        return Err(ExportError::Range { from, up_to });
    }
    let last = i64::try_from(up_to).unwrap_or(i64::MAX);
    let indexes = Frontier::indexes(from - 1);
    let known = rows::hashes(pool, &indexes).await?;
    let edge = known.all(&indexes).ok_or(ExportError::Range { from, up_to })?;
    let mut lines = Lines { out, hasher: Sha256::new() };
    let exported_at = Utc::now();
    lines.line(&Header {
        kind: "header".into(),
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        exported_at,
        from,
        up_to,
        edge: edge.iter().map(hex::encode).collect(),
    })?;
    let (mut entries, mut checkpoints) = (0, 0);
    let mut after = i64::try_from(from - 1).unwrap_or(i64::MAX);
    // The next batch is read while this one is written.
    let mut next = (after < last).then(|| tokio::spawn(batch(pool.clone(), after)));
    while let Some(reading) = next.take() {
        let read = reading.await.map_err(|error| LedgerError::Interrupted(error.to_string()))??;
        let rows: Vec<Row> = read.into_iter().take_while(|row| row.ledger_number <= last).collect();
        let Some(batch_last) = rows.last().map(|row| row.ledger_number) else { break };
        next = (batch_last < last).then(|| tokio::spawn(batch(pool.clone(), batch_last)));
        // Sizes are distinct, so no more checkpoints fall in the batch than it has entries.
        let limit = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let mut due =
            rows::checkpoints(pool, after, limit).await?.into_iter().filter(|c| c.tree_size <= batch_last).peekable();
        for row in rows {
            let number = row.ledger_number;
            let (leaf, event) = row.into_event();
            let event = event.ok_or(ExportError::EventMissing(number))?;
            let (leaf, stream_hash) = (hex::encode(leaf), hex::encode(&event.stream_hash));
            let payload = RawValue::from_string(event.payload.clone())?;
            let metadata = RawValue::from_string(event.metadata.clone())?;
            lines.line(&EventLine {
                kind: "event",
                ledger_number: number,
                leaf_hash: &leaf,
                event_id: event.event_id,
                aggregate_type: &event.aggregate_type,
                aggregate_id: &event.aggregate_id,
                sequence: event.sequence,
                event_type: &event.event_type,
                event_version: event.event_version,
                payload: &payload,
                metadata: &metadata,
                recorded_at: event.recorded_at,
                stream_hash: &stream_hash,
            })?;
            entries += 1;
            after = number;
            while let Some(checkpoint) = due.next_if(|checkpoint| checkpoint.tree_size <= number) {
                let (kind, tree_size, signed_at) = ("checkpoint".into(), checkpoint.tree_size, checkpoint.signed_at);
                lines.line(&CheckpointLine { kind, tree_size, signed_at, note: checkpoint.note })?;
                checkpoints += 1;
            }
        }
        progress(entries, up_to);
    }
    let sha256 = hex::encode(lines.hasher.finalize());
    let trailer = Trailer { kind: "trailer".into(), entries, checkpoints, sha256: sha256.clone() };
    let mut bytes = serde_json::to_vec(&trailer)?;
    bytes.push(b'\n');
    lines.out.write_all(&bytes)?;
    lines.out.flush()?;
    Ok(Exported { entries, checkpoints, sha256 })
}

/// What verifying a file found. Clean when `fault` is `None`.
#[derive(Debug, Clone, Serialize)]
pub struct FileVerification {
    pub lines: u64,
    /// The file's first ledger number (1 unless it holds a range).
    pub from: u64,
    pub entries_checked: u64,
    pub streams: u64,
    pub checkpoints_checked: u64,
    /// The size of the last signed checkpoint in the file: entries after it are covered by their
    /// chains and the trailer only, which anyone could recompute.
    pub last_checkpoint: Option<u64>,
    pub fault: Option<FileFault>,
}

impl FileVerification {
    pub fn is_clean(&self) -> bool {
        self.fault.is_none()
    }

    /// The ledger's size before the file's first entry.
    fn before(&self) -> u64 {
        self.from.saturating_sub(1)
    }
}

/// The first thing found wrong, and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFault {
    pub line: u64,
    #[serde(flatten)]
    pub fault: Fault,
}

fn malformed(line: u64, detail: String) -> FileFault {
    FileFault { line, fault: Fault { ledger_number: None, record: None, kind: FaultKind::Malformed, detail } }
}

/// The entries read but not checked yet, with their line numbers.
#[derive(Default)]
struct Pending {
    rows: Vec<Row>,
    lines: Vec<u64>,
}

/// What is done with each part of a file once it is verified.
trait Sink {
    /// Whether the sink takes the entries (verification alone does not copy them).
    const TAKES_ENTRIES: bool;
    async fn entries(&mut self, rows: Vec<Row>) -> Result<(), LedgerError>;
    async fn checkpoint(&mut self, checkpoint: &SignedCheckpoint, signed_at: DateTime<Utc>) -> Result<(), LedgerError>;
}

/// Verification alone.
struct Nowhere;

impl Sink for Nowhere {
    const TAKES_ENTRIES: bool = false;
    async fn entries(&mut self, _: Vec<Row>) -> Result<(), LedgerError> {
        Ok(())
    }
    async fn checkpoint(&mut self, _: &SignedCheckpoint, _: DateTime<Utc>) -> Result<(), LedgerError> {
        Ok(())
    }
}

/// Verifies an export file read from `input` with `key` alone: every line in order, every chain, the
/// whole tree, every checkpoint where it stands, and the trailer's counts and digest.
pub async fn verify_file(
    input: impl BufRead,
    key: &VerifierKey,
    progress: Progress<'_>,
) -> Result<FileVerification, LedgerError> {
    verify_into(input, key, &mut Nowhere, None, progress).await
}

/// Verifies the file into `sink`, continuing from the streams' last events `heads` when they are known.
async fn verify_into(
    input: impl BufRead,
    key: &VerifierKey,
    sink: &mut impl Sink,
    heads: Option<Vec<StreamHead>>,
    progress: Progress<'_>,
) -> Result<FileVerification, LedgerError> {
    let mut report = FileVerification {
        lines: 0,
        from: 1,
        entries_checked: 0,
        streams: 0,
        checkpoints_checked: 0,
        last_checkpoint: None,
        fault: None,
    };
    let mut chains = Chains::default();
    let fault = scan(input, key, &mut chains, heads, &mut report, sink, progress).await?;
    report.entries_checked = chains.frontier.size() - report.before();
    report.streams = chains.streams();
    report.fault = fault;
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("reading the file: {0}")]
    Read(#[from] std::io::Error),
    /// The database holds events the file does not continue from.
    #[error("the file is not a continuation of this database's log: {0}")]
    NotAContinuation(String),
    /// Events not sealed yet: what the file continues is not settled.
    #[error("the database holds {held} events of which {sealed} are sealed; let the service seal them first")]
    Unsealed { held: i64, sealed: u64 },
}

/// Imports an export file into the database of `pool`, verifying it as [`verify_file`] does; the events
/// and the checkpoints are stored in one transaction, committed only when the whole file verified, while
/// no other event can be appended. The database must be empty and the file start at ledger number 1, or
/// the file must continue the database's log: start right after its last entry, with the same tree
/// before it, each stream's chain continuing from its last event there. The events get new positions and
/// transaction ids, in ledger order; the sealer then seals them in that order, to the same ledger
/// numbers and tree, which the imported checkpoints sign.
pub async fn import(
    pool: &PgPool,
    mut input: impl BufRead,
    key: &VerifierKey,
    progress: Progress<'_>,
) -> Result<FileVerification, ImportError> {
    let mut transaction = pool.begin().await?;
    sqlx::query("SELECT lock_events_for_import()").execute(&mut *transaction).await?;
    let mut first = String::new();
    input.read_line(&mut first)?;
    // A header that does not parse is the verification's to report, at line 1.
    let heads = match header(first.trim_end_matches('\n')) {
        Ok(header) => continued(&mut transaction, &header).await?,
        Err(_) => None,
    };
    let mut sink = Store { transaction };
    let input = std::io::Read::chain(std::io::Cursor::new(first.into_bytes()), input);
    let report = verify_into(input, key, &mut sink, heads, progress).await?;
    if report.is_clean() {
        sink.transaction.commit().await?;
    }
    Ok(report)
}

/// What the file continues in the database: nothing (an empty database and a file from ledger number 1),
/// or the log up to the file's first entry, whose streams' last events are returned.
async fn continued(connection: &mut PgConnection, header: &Header) -> Result<Option<Vec<StreamHead>>, ImportError> {
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&mut *connection).await?;
    let before = header.from.saturating_sub(1);
    if held == 0 {
        return match before {
            0 => Ok(None),
            _ => Err(ImportError::NotAContinuation(format!(
                "the database is empty and the file starts at ledger number {}",
                header.from
            ))),
        };
    }
    let sealed = rows::size(&mut *connection).await?;
    if i64::try_from(sealed).ok() != Some(held) {
        return Err(ImportError::Unsealed { held, sealed });
    }
    if before != sealed {
        return Err(ImportError::NotAContinuation(format!(
            "the database holds {sealed} entries and the file starts at ledger number {}",
            header.from
        )));
    }
    let theirs = header.frontier().map_err(ImportError::NotAContinuation)?;
    let ours = rows::frontier(&mut *connection).await?;
    if theirs.root().map_err(LedgerError::from)? != ours.root().map_err(LedgerError::from)? {
        return Err(ImportError::NotAContinuation(format!(
            "the tree before ledger number {} is not this database's: the file continues another log",
            header.from
        )));
    }
    let heads: Vec<(String, String, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT DISTINCT ON (aggregate_type, aggregate_id) aggregate_type, aggregate_id, sequence, stream_hash
         FROM events ORDER BY aggregate_type, aggregate_id, sequence DESC",
    )
    .fetch_all(&mut *connection)
    .await?;
    Ok(Some(
        heads
            .into_iter()
            .map(|(kind, id, sequence, hash)| ((kind, id), (sequence, hash.try_into().unwrap_or([0; 32]))))
            .collect(),
    ))
}

/// Storing into the database, in one transaction.
struct Store {
    transaction: sqlx::Transaction<'static, sqlx::Postgres>,
}

impl Sink for Store {
    const TAKES_ENTRIES: bool = true;

    async fn entries(&mut self, rows: Vec<Row>) -> Result<(), LedgerError> {
        let mut columns = Columns::default();
        for row in rows {
            let (_, Some(event)) = row.into_event() else { continue };
            columns.push(event);
        }
        // Ordered by the arrays' ordinality: each event after its predecessor, as the trigger requires.
        sqlx::query(
            "INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, metadata, recorded_at, stream_hash)
             SELECT e, t, i, s, y, v, p::jsonb, m::jsonb, r, h
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::int4[], $7::text[],
                         $8::text[], $9::timestamptz[], $10::bytea[]) WITH ORDINALITY AS u(e, t, i, s, y, v, p, m, r, h, n)
             ORDER BY n",
        )
        .bind(columns.event_id)
        .bind(columns.aggregate_type)
        .bind(columns.aggregate_id)
        .bind(columns.sequence)
        .bind(columns.event_type)
        .bind(columns.event_version)
        .bind(columns.payload)
        .bind(columns.metadata)
        .bind(columns.recorded_at)
        .bind(columns.stream_hash)
        .execute(&mut *self.transaction)
        .await?;
        Ok(())
    }

    async fn checkpoint(&mut self, checkpoint: &SignedCheckpoint, signed_at: DateTime<Utc>) -> Result<(), LedgerError> {
        rows::insert_checkpoint(&mut *self.transaction, checkpoint, signed_at).await?;
        Ok(())
    }
}

/// A batch of events as one array per column.
#[derive(Default)]
struct Columns {
    event_id: Vec<Uuid>,
    aggregate_type: Vec<String>,
    aggregate_id: Vec<String>,
    sequence: Vec<i64>,
    event_type: Vec<String>,
    event_version: Vec<i32>,
    payload: Vec<String>,
    metadata: Vec<String>,
    recorded_at: Vec<DateTime<Utc>>,
    stream_hash: Vec<Vec<u8>>,
}

impl Columns {
    fn push(&mut self, event: super::verify::Event) {
        self.event_id.push(event.event_id);
        self.aggregate_type.push(event.aggregate_type);
        self.aggregate_id.push(event.aggregate_id);
        self.sequence.push(event.sequence);
        self.event_type.push(event.event_type);
        self.event_version.push(event.event_version);
        self.payload.push(event.payload);
        self.metadata.push(event.metadata);
        self.recorded_at.push(event.recorded_at);
        self.stream_hash.push(event.stream_hash);
    }
}

/// Checks the file line by line with `chains`, set up from its header and `heads` (the streams' last
/// events before the file, when they are known).
async fn scan(
    input: impl BufRead,
    key: &VerifierKey,
    chains: &mut Chains,
    mut heads: Option<Vec<StreamHead>>,
    report: &mut FileVerification,
    sink: &mut impl Sink,
    progress: Progress<'_>,
) -> Result<Option<FileFault>, LedgerError> {
    let mut hasher = Sha256::new();
    let mut total = 0;
    let mut pending = Pending::default();
    let mut trailer_seen = false;
    for (number, text) in (1u64..).zip(input.lines()) {
        report.lines = number;
        let Ok(text) = text else { return Ok(Some(malformed(number, "the line is not UTF-8 text".into()))) };
        if trailer_seen {
            return Ok(Some(malformed(number, "a line after the trailer".into())));
        }
        let kind = serde_json::from_str::<Kind<'_>>(&text).map(|kind| kind.kind.to_owned());
        match (number, kind.as_deref()) {
            (1, Ok("header")) => match header(&text).and_then(|header| Ok((header.frontier()?, header))) {
                Ok((frontier, header)) => {
                    report.from = header.from;
                    total = header.up_to.saturating_sub(report.before());
                    *chains = Chains::continuing(frontier, heads.take());
                }
                Err(detail) => return Ok(Some(malformed(1, detail))),
            },
            (1, _) => return Ok(Some(malformed(1, "the file does not start with its header".into()))),
            (_, Ok("event")) => {
                let row = match event_row(&text) {
                    Ok(row) => row,
                    Err(detail) => return Ok(Some(malformed(number, detail))),
                };
                pending.rows.push(row);
                pending.lines.push(number);
                if pending.rows.len() >= BATCH {
                    if let Some(fault) = flush(chains, &mut pending, sink).await? {
                        return Ok(Some(fault));
                    }
                    progress(chains.frontier.size() - report.before(), total);
                }
            }
            (_, Ok("checkpoint")) => {
                if let Some(fault) = flush(chains, &mut pending, sink).await? {
                    return Ok(Some(fault));
                }
                let checkpoint = match serde_json::from_str::<CheckpointLine>(&text) {
                    Ok(checkpoint) => checkpoint,
                    Err(error) => return Ok(Some(malformed(number, format!("the checkpoint: {error}")))),
                };
                let whose = format!("the checkpoint on line {number}");
                match check_checkpoint(&chains.frontier, key, &checkpoint.note, &whose)? {
                    Ok(opened) => sink.checkpoint(&opened, checkpoint.signed_at).await?,
                    Err(fault) => return Ok(Some(FileFault { line: number, fault })),
                }
                report.checkpoints_checked += 1;
                report.last_checkpoint = Some(chains.frontier.size());
            }
            (_, Ok("trailer")) => {
                if let Some(fault) = flush(chains, &mut pending, sink).await? {
                    return Ok(Some(fault));
                }
                let digest = hex::encode(hasher.clone().finalize());
                match serde_json::from_str::<Trailer>(&text) {
                    Ok(trailer)
                        if (trailer.entries, trailer.checkpoints)
                            != (chains.frontier.size() - report.before(), report.checkpoints_checked) =>
                    {
                        let detail = format!(
                            "the trailer counts {} entries and {} checkpoints, the file holds {} and {}: lines are missing",
                            trailer.entries,
                            trailer.checkpoints,
                            chains.frontier.size() - report.before(),
                            report.checkpoints_checked
                        );
                        return Ok(Some(FileFault {
                            line: number,
                            fault: Fault { kind: FaultKind::Truncated, ledger_number: None, record: None, detail },
                        }));
                    }
                    Ok(trailer) if trailer.sha256 != digest => {
                        let detail = "the file's bytes are not the ones the trailer's digest covers".to_owned();
                        return Ok(Some(FileFault {
                            line: number,
                            fault: Fault { kind: FaultKind::DigestMismatch, ledger_number: None, record: None, detail },
                        }));
                    }
                    Ok(_) => trailer_seen = true,
                    Err(error) => return Ok(Some(malformed(number, format!("the trailer: {error}")))),
                }
            }
            (_, Ok(other)) => return Ok(Some(malformed(number, format!("unknown kind of line {other:?}")))),
            (_, Err(error)) => return Ok(Some(malformed(number, format!("not a JSON object with a kind: {error}")))),
        }
        hasher.update(text.as_bytes());
        hasher.update(b"\n");
    }
    if let Some(fault) = flush(chains, &mut pending, sink).await? {
        return Ok(Some(fault));
    }
    if !trailer_seen {
        let detail = "the file ends without its trailer: it was cut short".to_owned();
        let fault =
            Fault { kind: FaultKind::Truncated, ledger_number: Some(chains.frontier.size() + 1), record: None, detail };
        return Ok(Some(FileFault { line: report.lines + 1, fault }));
    }
    Ok(None)
}

/// Checks the pending entries and hands them to `sink` when they verify; a fault is placed on the line
/// of its ledger number.
async fn flush<S: Sink>(
    chains: &mut Chains,
    pending: &mut Pending,
    sink: &mut S,
) -> Result<Option<FileFault>, LedgerError> {
    let Some(first) = pending.rows.first().map(|row| row.ledger_number) else { return Ok(None) };
    let lines = std::mem::take(&mut pending.lines);
    let rows = std::mem::take(&mut pending.rows);
    let expected = chains.frontier.size() + 1;
    let kept = S::TAKES_ENTRIES.then(|| rows.clone());
    let fault = chains.entries(rows, &mut |_| Ok(None)).await?;
    if let (None, Some(rows)) = (&fault, kept) {
        sink.entries(rows).await?;
    }
    Ok(fault.map(|fault| {
        let number = fault.ledger_number.unwrap_or(expected);
        // A gap is reported at the line where the missing number was expected.
        let index = number.saturating_sub(u64::try_from(first).unwrap_or(0));
        let line = usize::try_from(index).ok().and_then(|index| lines.get(index)).copied().unwrap_or_default();
        FileFault { line, fault }
    }))
}

fn event_row(text: &str) -> Result<Row, String> {
    let line: EventLine<'_> = serde_json::from_str(text).map_err(|error| format!("the event: {error}"))?;
    let hash = |what: &str, hex_text: &str| hex::decode(hex_text).map_err(|_| format!("the {what} is not hexadecimal"));
    Ok(Row {
        ledger_number: line.ledger_number,
        leaf_hash: hash("leaf hash", line.leaf_hash)?,
        event_id: Some(line.event_id),
        aggregate_type: Some(line.aggregate_type.to_owned()),
        aggregate_id: Some(line.aggregate_id.to_owned()),
        sequence: Some(line.sequence),
        event_type: Some(line.event_type.to_owned()),
        event_version: Some(line.event_version),
        payload: Some(line.payload.get().to_owned()),
        metadata: Some(line.metadata.get().to_owned()),
        recorded_at: Some(line.recorded_at),
        stream_hash: Some(hash("stream hash", line.stream_hash)?),
    })
}
