//! A signature as the API answers and prints it: its manifestation (Part 11 11.50: printed name, time
//! in UTC and in the line's local time, meaning) and what it is worth now.

use chrono::{DateTime, Utc};
use commands::signatures::{SignatureCheck, SignatureStatus};
use domain::actor::Role;
use domain::signature::Meaning;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::views::trail::local;

/// What a signature is worth now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum StatusView {
    /// It verifies and the record is as signed.
    Standing,
    /// It verifies; the record changed afterwards, first at this sequence number.
    RecordChanged {
        first_change: u64,
    },
    Revoked {
        reason: String,
        revoked_at: DateTime<Utc>,
    },
    /// It does not verify against the stored record.
    Broken {
        why: String,
    },
}

/// A signature's manifestation (Part 11 11.50): printed name, time in UTC and local, meaning.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureView {
    pub signature_id: Uuid,
    /// The sequence number of the signature's event in the record's history.
    pub sequence: u64,
    pub meaning: Meaning,
    pub statement: &'static str,
    pub signer: Uuid,
    pub printed_name: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub signed_at: DateTime<Utc>,
    /// The same instant in the line's time zone, with its offset.
    pub signed_local: String,
    /// The record version signed and its stream hash (hex).
    pub version: u64,
    pub record_hash: String,
    /// SHA-256 (hex) of the signature's manifest.
    pub digest: String,
    #[serde(flatten)]
    pub status: StatusView,
}

pub fn signature_view(check: SignatureCheck, time_zone: Option<&str>) -> SignatureView {
    let SignatureCheck { sequence, signed_at, signature, status } = check;
    let status = match status {
        SignatureStatus::Standing => StatusView::Standing,
        SignatureStatus::RecordChanged { first_change } => StatusView::RecordChanged { first_change },
        SignatureStatus::Revoked { reason, revoked_at } => {
            StatusView::Revoked { reason: reason.to_string(), revoked_at }
        }
        SignatureStatus::Broken { why } => StatusView::Broken { why },
    };
    SignatureView {
        signature_id: signature.id,
        sequence,
        meaning: signature.meaning,
        statement: signature.meaning.statement(),
        signer: signature.signer.as_uuid(),
        printed_name: signature.printed_name.to_string(),
        role: signature.role,
        signed_at,
        signed_local: local(signed_at, time_zone),
        version: signature.version,
        record_hash: signature.record_hash,
        digest: signature.digest,
        status,
    }
}
