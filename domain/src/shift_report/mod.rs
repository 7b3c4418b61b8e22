//! Shift report: the record of one shift occurrence of a line that a team leader approves (docs/oee.md,
//! "Shift reports"). The report's figures are formed from the read models when asked, like every OEE
//! figure; this record holds what people add to it (handover notes) and what they sign: the report's
//! canonical content is fixed in the record (`ApprovalPrepared`), and an `approved` signature covers
//! the record up to that event, so the signature's record hash covers exactly the content approved.

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::actor::UserId;
use crate::aggregate::{self, event_enum};
use crate::line_id::LineId;
use crate::signature::{Meaning, Revocation, Rules, Signature, SignatureError, SignatureRequest, Signatures};
use crate::values::{Description, Name, Reason, ShiftName};

/// Which shift occurrence a report is about: a line's shift that starts on a local date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShiftKey {
    pub line: LineId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2026-03-02"))]
    pub date: NaiveDate,
    pub shift: ShiftName,
}

impl ShiftKey {
    /// The report's record id: `site/area/line/date/shift`.
    pub fn record_id(&self) -> String {
        format!("{}/{}/{}", self.line, self.date, self.shift)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShiftReportCommand {
    AddHandoverNote {
        key: ShiftKey,
        author: UserId,
        author_name: Name,
        note: Description,
    },
    /// Fixes `content` (the report's canonical JSON, formed by the read side) in the record for a
    /// signature to cover. `shift_ended` is looked up by the write side: a running shift's report is
    /// not final and cannot be approved.
    PrepareApproval {
        key: ShiftKey,
        content: String,
        shift_ended: bool,
    },
    /// A team leader approves the report as prepared (or quality reviews it).
    Sign(SignatureRequest),
    RevokeSignature(Revocation),
}

impl aggregate::Command for ShiftReportCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::RevokeSignature(revocation) => Some(&revocation.reason),
            _ => None,
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ShiftReportEvent {
        HandoverNoteAdded { key: ShiftKey, author: UserId, author_name: Name, note: Description, at: DateTime<Utc> },
        /// `content_digest` is the SHA-256 (hex) of `content`.
        ApprovalPrepared { key: ShiftKey, content: String, content_digest: String, at: DateTime<Utc> },
        ShiftReportSigned { signature: Signature, at: DateTime<Utc> },
        ShiftReportSignatureRevoked { signature: Uuid, meaning: Meaning, reason: Reason, at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShiftReportError {
    #[error("this record is the report of {0}; the command names another shift")]
    OtherShift(String),
    #[error("the shift has not ended; its report is not final yet")]
    ShiftNotEnded,
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl aggregate::Rule for ShiftReportError {
    fn code(&self) -> &'static str {
        match self {
            Self::OtherShift(_) => "other_shift",
            Self::ShiftNotEnded => "shift_not_ended",
            Self::Signature(error) => aggregate::Rule::code(error),
        }
    }
}

/// A handover note as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandoverNote {
    pub author: UserId,
    pub author_name: Name,
    pub note: Description,
    pub at: DateTime<Utc>,
}

/// A content fixed for approval, at the record version its event made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prepared {
    pub version: u64,
    pub content: String,
    pub content_digest: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftReport {
    pub key: Option<ShiftKey>,
    /// The line, for scoping and the audit trail.
    pub line: Option<LineId>,
    pub notes: Vec<HandoverNote>,
    pub prepared: Vec<Prepared>,
    /// Events applied: the record's version.
    pub version: u64,
    pub signatures: Signatures,
}

/// SHA-256 (hex) of a report's canonical content.
pub fn content_digest(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

impl ShiftReport {
    /// The content the newest standing approval covers, if the report is approved.
    pub fn approved(&self) -> Option<(&Prepared, &crate::signature::Held)> {
        let held = self.signatures.standing(Meaning::Approved).max_by_key(|held| held.version)?;
        let prepared = self.prepared.iter().find(|prepared| prepared.version == held.version)?;
        Some((prepared, held))
    }

    fn same_shift(&self, key: &ShiftKey) -> Result<(), ShiftReportError> {
        match &self.key {
            Some(mine) if mine != key => Err(ShiftReportError::OtherShift(mine.record_id())),
            _ => Ok(()),
        }
    }
}

impl aggregate::Aggregate for ShiftReport {
    const TYPE: &'static str = "shift_report";
    type Command = ShiftReportCommand;
    type Event = ShiftReportEvent;
    type Error = ShiftReportError;

    fn handle(
        &self,
        command: ShiftReportCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<ShiftReportEvent>, ShiftReportError> {
        match command {
            ShiftReportCommand::AddHandoverNote { key, author, author_name, note } => {
                self.same_shift(&key)?;
                Ok(vec![ShiftReportEvent::HandoverNoteAdded { key, author, author_name, note, at }])
            }
            ShiftReportCommand::PrepareApproval { key, content, shift_ended } => {
                self.same_shift(&key)?;
                if !shift_ended {
                    return Err(ShiftReportError::ShiftNotEnded);
                }
                let content_digest = content_digest(&content);
                // The same content already fixed as the record's newest event: nothing to add.
                let unchanged = self
                    .prepared
                    .last()
                    .is_some_and(|last| last.version == self.version && last.content_digest == content_digest);
                Ok(if unchanged {
                    vec![]
                } else {
                    vec![ShiftReportEvent::ApprovalPrepared { key, content, content_digest, at }]
                })
            }
            ShiftReportCommand::Sign(request) => {
                // A signature covers the record up to the version signed: it must be the version whose
                // event fixed the content, or the signer would approve without a content in view.
                let prepared_last = self.prepared.last().is_some_and(|last| last.version == request.version);
                let not_ready = (!prepared_last).then_some(
                    "prepare the report for approval first (its content is fixed as the record's newest entry)",
                );
                let rules = Rules {
                    record_type: <Self as aggregate::Aggregate>::TYPE,
                    meanings: &[Meaning::Approved, Meaning::Reviewed],
                    not_ready,
                };
                Ok(vec![ShiftReportEvent::ShiftReportSigned {
                    signature: self.signatures.sign(request, &rules, at)?,
                    at,
                }])
            }
            ShiftReportCommand::RevokeSignature(revocation) => {
                let meaning = self.signatures.revoke(&revocation)?;
                Ok(vec![ShiftReportEvent::ShiftReportSignatureRevoked {
                    signature: revocation.signature,
                    meaning,
                    reason: revocation.reason,
                    at,
                }])
            }
        }
    }

    fn apply(&mut self, event: &ShiftReportEvent) {
        self.version += 1;
        match event.clone() {
            ShiftReportEvent::HandoverNoteAdded { key, author, author_name, note, at } => {
                self.line = Some(key.line.clone());
                self.key = Some(key);
                self.notes.push(HandoverNote { author, author_name, note, at });
            }
            ShiftReportEvent::ApprovalPrepared { key, content, content_digest, at } => {
                self.line = Some(key.line.clone());
                self.key = Some(key);
                self.prepared.push(Prepared { version: self.version, content, content_digest, at });
            }
            ShiftReportEvent::ShiftReportSigned { signature, .. } => self.signatures.signed(&signature),
            ShiftReportEvent::ShiftReportSignatureRevoked { signature, .. } => self.signatures.revoked(signature),
        }
    }
}
