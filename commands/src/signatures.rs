//! The write side's part of electronic signatures (docs/part11.md "Electronic signatures"): the stream
//! hash of the exact record version a signer was shown, and the check of every signature of a record
//! against the events as stored: its digest, the version it names, and what happened to the record
//! after it (revoked, changed since, or standing).

use chrono::{DateTime, Utc};
use domain::actor::Actor;
use domain::signature::{Meaning, RecordRef, Signature, SignatureRequest};
use domain::values::Reason;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::StoreError;
use crate::event_log::{self, RecordedEvent, StreamBound};

/// The event types that hold a signature, and those that revoke one (persisted names).
const SIGNED: &[&str] = &["JobSigned", "ChecklistSigned", "DowntimeSigned", "ShiftReportSigned"];
const REVOKED: &[&str] =
    &["JobSignatureRevoked", "ChecklistSignatureRevoked", "DowntimeSignatureRevoked", "ShiftReportSignatureRevoked"];

/// The request for `signer` to sign `record` as it stands at `version` with `meaning`, or `None` when
/// the record has no event at that version. The command that carries it must expect `version`, so
/// that the signature lands on exactly the version that was shown.
pub async fn request(
    pool: &PgPool,
    record: RecordRef,
    version: u64,
    meaning: Meaning,
    signer: Actor,
) -> Result<Option<SignatureRequest>, StoreError> {
    let hash: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT stream_hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
    )
    .bind(&record.record_type)
    .bind(&record.record_id)
    .bind(i64::try_from(version).unwrap_or(i64::MAX))
    .fetch_optional(pool)
    .await?;
    Ok(hash.map(|hash| SignatureRequest {
        id: Uuid::now_v7(),
        meaning,
        signer,
        record,
        version,
        record_hash: hex::encode(hash),
    }))
}

/// What a signature is worth now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum SignatureStatus {
    /// It verifies and the record is as signed (later signatures aside).
    Standing,
    /// It verifies, and the record changed after it: the signature covers an earlier version.
    RecordChanged {
        first_change: u64,
    },
    Revoked {
        reason: Reason,
        revoked_at: DateTime<Utc>,
    },
    /// It does not verify: its digest or the version it names does not match the stored record.
    Broken {
        why: String,
    },
}

/// One signature of a record and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCheck {
    /// The sequence number of the signature's own event in the record's stream.
    pub sequence: u64,
    pub signed_at: DateTime<Utc>,
    pub signature: Signature,
    pub status: SignatureStatus,
}

#[derive(Deserialize)]
struct Signed {
    signature: Signature,
    at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Revoked {
    signature: Uuid,
    reason: Reason,
    at: DateTime<Utc>,
}

/// The event's fields (the log stores an event's payload without its type tag).
fn body<'a, T: Deserialize<'a>>(event: &'a RecordedEvent) -> Result<T, StoreError> {
    Ok(T::deserialize(&event.payload)?)
}

/// The signature an event holds, if it is a signature event.
pub fn signature_of(event: &RecordedEvent) -> Result<Option<(Signature, DateTime<Utc>)>, StoreError> {
    if !SIGNED.contains(&event.event_type.as_str()) {
        return Ok(None);
    }
    let Signed { signature, at } = body(event)?;
    Ok(Some((signature, at)))
}

/// Every signature of a record, in the order they were made, each checked against the stored events.
pub async fn check(pool: &PgPool, record: &RecordRef) -> Result<Vec<SignatureCheck>, StoreError> {
    let events = event_log::read_stream(pool, &record.record_type, &record.record_id, StreamBound::All).await?;
    let broken_at = event_log::verify_stream(&events).err().map(|broken| broken.sequence);
    let mut revocations = Vec::new();
    for event in events.iter().filter(|event| REVOKED.contains(&event.event_type.as_str())) {
        revocations.push(body::<Revoked>(event)?);
    }
    let mut checks = Vec::new();
    for event in &events {
        let Some((signature, signed_at)) = signature_of(event)? else { continue };
        let sequence = u64::try_from(event.sequence).unwrap_or_default();
        let status = status(record, &events, broken_at, &revocations, (&signature, signed_at, sequence));
        checks.push(SignatureCheck { sequence, signed_at, signature, status });
    }
    Ok(checks)
}

fn status(
    record: &RecordRef,
    events: &[RecordedEvent],
    broken_at: Option<i64>,
    revocations: &[Revoked],
    (signature, signed_at, sequence): (&Signature, DateTime<Utc>, u64),
) -> SignatureStatus {
    let broken = |why: String| SignatureStatus::Broken { why };
    if let Some(at) = broken_at.filter(|at| u64::try_from(*at).unwrap_or_default() <= sequence) {
        return broken(format!("the record's hash chain breaks at sequence {at}, before this signature"));
    }
    if !signature.digest_holds(record, signed_at) {
        return broken("the digest does not match the signature's manifest for this record".into());
    }
    let signed_version = usize::try_from(signature.version).ok().and_then(|version| version.checked_sub(1));
    let stored = signed_version.and_then(|index| events.get(index)).map(|event| hex::encode(&event.stream_hash));
    if stored.as_deref() != Some(signature.record_hash.as_str()) {
        return broken(format!("the record at version {} is not the version that was signed", signature.version));
    }
    if let Some(revoked) = revocations.iter().find(|revoked| revoked.signature == signature.id) {
        return SignatureStatus::Revoked { reason: revoked.reason.clone(), revoked_at: revoked.at };
    }
    let changed = events
        .iter()
        .skip(usize::try_from(sequence).unwrap_or(usize::MAX))
        .find(|event| !SIGNED.contains(&event.event_type.as_str()) && !REVOKED.contains(&event.event_type.as_str()));
    match changed {
        Some(event) => {
            SignatureStatus::RecordChanged { first_change: u64::try_from(event.sequence).unwrap_or_default() }
        }
        None => SignatureStatus::Standing,
    }
}
