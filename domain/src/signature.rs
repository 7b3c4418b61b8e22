//! Electronic signatures (Part 11 ES-01..ES-07, docs/part11.md "Electronic signatures"): a signature is
//! an event in the signed record's own stream, holding the signer's printed name, the meaning from a
//! controlled list and a digest over a manifest that names the exact record version signed. Who may sign
//! with which meaning is decided here (the role model); that the signer re-entered their credentials is
//! the API's part, and the record version's hash is the write side's.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::actor::{Actor, Role, UserId};
use crate::values::{Name, Reason};

/// What a signature declares: the controlled list of Part 11 11.50(a)(3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Meaning {
    Performed,
    Reviewed,
    Verified,
    Approved,
    Released,
    Authored,
}

impl Meaning {
    pub const ALL: [Meaning; 6] =
        [Self::Performed, Self::Reviewed, Self::Verified, Self::Approved, Self::Released, Self::Authored];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Performed => "performed",
            Self::Reviewed => "reviewed",
            Self::Verified => "verified",
            Self::Approved => "approved",
            Self::Released => "released",
            Self::Authored => "authored",
        }
    }

    /// What the signer declares, shown before credentials are asked for (ES-07) and printed with the
    /// signature.
    pub fn statement(self) -> &'static str {
        match self {
            Self::Performed => "I performed the work this record describes, as recorded.",
            Self::Reviewed => "I reviewed this record and every change to it, with the reasons given.",
            Self::Verified => "I verified, independently of the person who performed it, that this record is correct.",
            Self::Approved => "I approve this record as it stands.",
            Self::Released => "I release what this record describes for its next use, as the quality unit.",
            Self::Authored => "I am the author of this entry and of the change it makes.",
        }
    }

    /// The role model (ES-05): administrators and auditors never sign (AC-04), machines cannot.
    pub fn may_be_signed_by(self, role: Role) -> bool {
        use Role::{Engineer, Maintenance, Operator, Quality, TeamLeader};
        match self {
            Self::Performed | Self::Authored => {
                matches!(role, Operator | TeamLeader | Maintenance | Quality | Engineer)
            }
            Self::Verified | Self::Reviewed | Self::Approved => matches!(role, TeamLeader | Quality),
            Self::Released => role == Quality,
        }
    }

    /// Meanings that a record's unreviewed corrections block (Part 11 AT-13).
    fn needs_review_first(self) -> bool {
        matches!(self, Self::Released | Self::Approved)
    }
}

impl fmt::Display for Meaning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record a signature is about, as the store names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    pub record_type: String,
    pub record_id: String,
}

/// A signature as stored in its record's stream. The signing time is the event's `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signature {
    pub id: Uuid,
    pub meaning: Meaning,
    pub signer: UserId,
    pub printed_name: Name,
    pub role: Role,
    /// The record version the signer was shown and signed (the stream's sequence number).
    pub version: u64,
    /// The record's stream hash at `version` (hex): it covers every event up to that version.
    pub record_hash: String,
    /// SHA-256 (hex) of [`manifest`].
    pub digest: String,
}

impl Signature {
    /// Whether the digest is the one of this signature's manifest for `record` signed at `signed_at`:
    /// false when any signed field was edited or the signature was moved to another record.
    pub fn digest_holds(&self, record: &RecordRef, signed_at: DateTime<Utc>) -> bool {
        digest(&self.manifest(record, signed_at)) == self.digest
    }

    /// The exact text the digest covers: the record, its version and hash, the meaning, the time and
    /// the signer, one `key: value` line each (docs/part11.md "Signature manifest").
    pub fn manifest(&self, record: &RecordRef, signed_at: DateTime<Utc>) -> String {
        format!(
            "ms5-floor signature v1\nrecord: {}/{}\nversion: {}\nrecord-hash: {}\nmeaning: {}\nsigned-at: {}\nsigner: {}\nprinted-name: {}\nrole: {}\n",
            record.record_type,
            record.record_id,
            self.version,
            self.record_hash,
            self.meaning,
            signed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.signer,
            self.printed_name,
            role_name(self.role),
        )
    }
}

/// The role as it is serialised everywhere else.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Operator => "operator",
        Role::TeamLeader => "team_leader",
        Role::Maintenance => "maintenance",
        Role::Quality => "quality",
        Role::Engineer => "engineer",
        Role::Auditor => "auditor",
        Role::Admin => "admin",
        Role::Device => "device",
        Role::Display => "display",
        Role::System => "system",
    }
}

fn digest(manifest: &str) -> String {
    hex::encode(Sha256::digest(manifest.as_bytes()))
}

/// What the write side brings to a signing command: the signer (re-authenticated by the API), and the
/// record version the signer was shown with its stream hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRequest {
    pub id: Uuid,
    pub meaning: Meaning,
    pub signer: Actor,
    pub record: RecordRef,
    pub version: u64,
    pub record_hash: String,
}

/// Revoking a signature: a new event with a reason (ES-04), by the signer or by quality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub signature: Uuid,
    pub by: Actor,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("a {record_type} record cannot be signed as {meaning}")]
    MeaningNotForRecord { record_type: &'static str, meaning: Meaning },
    #[error("the {role:?} role may not sign as {meaning}")]
    RoleMayNotSign { role: Role, meaning: Meaning },
    #[error("the record is not ready to be signed as {meaning}: {why}")]
    NotReady { meaning: Meaning, why: &'static str },
    #[error("you have already signed this record as {0}")]
    AlreadySigned(Meaning),
    #[error("the verifier must be another person than the one who performed the work")]
    SamePerson,
    #[error("the record has corrections nobody has reviewed; a reviewer signs 'reviewed' first")]
    UnreviewedChanges,
    #[error("the record has no signature {0}")]
    UnknownSignature(Uuid),
    #[error("the signature is already revoked")]
    AlreadyRevoked,
    #[error("only the signer or quality may revoke a signature")]
    NotYours,
    #[error("a later {0} signature rests on this one; revoke that first")]
    DependedOn(Meaning),
}

impl crate::aggregate::Rule for SignatureError {
    fn code(&self) -> &'static str {
        match self {
            Self::MeaningNotForRecord { .. } => "meaning_not_for_record",
            Self::RoleMayNotSign { .. } => "role_may_not_sign",
            Self::NotReady { .. } => "not_ready_to_sign",
            Self::AlreadySigned(_) => "already_signed",
            Self::SamePerson => "two_person_rule",
            Self::UnreviewedChanges => "unreviewed_changes",
            Self::UnknownSignature(_) => "unknown_signature",
            Self::AlreadyRevoked => "already_revoked",
            Self::NotYours => "not_your_signature",
            Self::DependedOn(_) => "signature_depended_on",
        }
    }
}

/// A signature as its record's state keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Held {
    pub id: Uuid,
    pub meaning: Meaning,
    pub signer: UserId,
    pub version: u64,
    /// How many corrections the record had when this was signed: a review covers those.
    pub corrections_seen: u32,
    pub revoked: bool,
}

/// The signatures of one record and its count of corrections (the events `aggregate::CORRECTIONS`
/// names). Records keep this field without a serde default, so a snapshot written before it existed
/// fails to load and the stream is replayed instead of starting from zero corrections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signatures {
    pub held: Vec<Held>,
    pub corrections: u32,
}

/// Which meanings a kind of record takes, and what the record's own state says about the one asked for.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub record_type: &'static str,
    pub meanings: &'a [Meaning],
    /// Why the record cannot take the requested meaning now, if it cannot.
    pub not_ready: Option<&'static str>,
}

impl Signatures {
    /// The signatures with `meaning` that stand (not revoked).
    pub fn standing(&self, meaning: Meaning) -> impl Iterator<Item = &Held> {
        self.held.iter().filter(move |held| held.meaning == meaning && !held.revoked)
    }

    pub fn has(&self, meaning: Meaning) -> bool {
        self.standing(meaning).next().is_some()
    }

    /// Whether a correction was made that no standing review covers (Part 11 AT-13).
    pub fn unreviewed_changes(&self) -> bool {
        let reviewed = self.standing(Meaning::Reviewed).map(|held| held.corrections_seen).max().unwrap_or(0);
        self.corrections > reviewed
    }

    /// The signature `request` makes on a record in this state at `at`, or why it may not.
    pub fn sign(
        &self,
        request: SignatureRequest,
        rules: &Rules<'_>,
        at: DateTime<Utc>,
    ) -> Result<Signature, SignatureError> {
        let SignatureRequest { id, meaning, signer, record, version, record_hash } = request;
        if !rules.meanings.contains(&meaning) {
            return Err(SignatureError::MeaningNotForRecord { record_type: rules.record_type, meaning });
        }
        if !meaning.may_be_signed_by(signer.role) {
            return Err(SignatureError::RoleMayNotSign { role: signer.role, meaning });
        }
        if let Some(why) = rules.not_ready {
            return Err(SignatureError::NotReady { meaning, why });
        }
        if self.standing(meaning).any(|held| held.signer == signer.user_id && held.version == version) {
            return Err(SignatureError::AlreadySigned(meaning));
        }
        if meaning == Meaning::Verified && self.standing(Meaning::Performed).any(|held| held.signer == signer.user_id) {
            return Err(SignatureError::SamePerson);
        }
        if meaning.needs_review_first() && self.unreviewed_changes() {
            return Err(SignatureError::UnreviewedChanges);
        }
        let mut signature = Signature {
            id,
            meaning,
            signer: signer.user_id,
            printed_name: signer.printed_name,
            role: signer.role,
            version,
            record_hash,
            digest: String::new(),
        };
        signature.digest = digest(&signature.manifest(&record, at));
        Ok(signature)
    }

    /// Checks that `revocation` may revoke one of these signatures, returning its meaning.
    pub fn revoke(&self, revocation: &Revocation) -> Result<Meaning, SignatureError> {
        let held = self
            .held
            .iter()
            .find(|held| held.id == revocation.signature)
            .ok_or(SignatureError::UnknownSignature(revocation.signature))?;
        if held.revoked {
            return Err(SignatureError::AlreadyRevoked);
        }
        if held.signer != revocation.by.user_id && revocation.by.role != Role::Quality {
            return Err(SignatureError::NotYours);
        }
        // A verification checked the performance it rests on; the performance goes only after it.
        if held.meaning == Meaning::Performed && self.has(Meaning::Verified) {
            return Err(SignatureError::DependedOn(Meaning::Verified));
        }
        Ok(held.meaning)
    }

    pub fn signed(&mut self, signature: &Signature) {
        self.held.push(Held {
            id: signature.id,
            meaning: signature.meaning,
            signer: signature.signer,
            version: signature.version,
            corrections_seen: self.corrections,
            revoked: false,
        });
    }

    pub fn revoked(&mut self, id: Uuid) {
        if let Some(held) = self.held.iter_mut().find(|held| held.id == id) {
            held.revoked = true;
        }
    }

    pub fn corrected(&mut self) {
        self.corrections = self.corrections.saturating_add(1);
    }
}

#[cfg(test)]
mod tests;
