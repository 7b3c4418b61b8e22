//! Downtime: one stop of a line or of one of its equipment, from start to end, with the reason that
//! explains it. A reason is assigned once; changing it is a separate event that keeps the old value and
//! carries a reason for change (Part 11 AT-03).

#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{self, event_enum};
use crate::line::AssignableReason;
use crate::line_id::LineId;
use crate::signature::{Meaning, Revocation, Rules, Signature, SignatureError, SignatureRequest, Signatures};
use crate::values::{DeviceId, EquipmentId, LossCategory, Millis, Reason, ReasonCode};

/// How far ahead of the server clock a source timestamp may be before it is refused as implausible.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StopSource {
    Operator,
    Plc { device: DeviceId },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DowntimeCommand {
    /// `started_at` is the source's time of the stop; `small_stop_threshold` is the line's setting in
    /// force then, looked up by the write side.
    Start {
        line: LineId,
        equipment: Option<EquipmentId>,
        source: StopSource,
        started_at: DateTime<Utc>,
        small_stop_threshold: Millis,
    },
    AssignReason {
        reason_code: AssignableReason,
    },
    /// A change after the stop's shift has ended alters figures people have already seen: its author
    /// signs it (`authored`). `shift_ended` is looked up by the write side from the line's calendar.
    ChangeReason {
        reason_code: AssignableReason,
        reason: Reason,
        shift_ended: bool,
        signature: Option<SignatureRequest>,
    },
    End {
        ended_at: DateTime<Utc>,
    },
    /// The stop was recorded in error (Part 11 AT-04): it leaves every current figure and stays in the
    /// trail with who, when and why.
    Void {
        reason: Reason,
    },
    /// A reviewer signs that they reviewed the stop and its changes (Part 11 AT-13).
    Sign(SignatureRequest),
    RevokeSignature(Revocation),
}

impl aggregate::Command for DowntimeCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::ChangeReason { reason, .. } | Self::Void { reason } => Some(reason),
            Self::RevokeSignature(revocation) => Some(&revocation.reason),
            _ => None,
        }
    }
}

/// What a finished stop turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StopClass {
    /// Shorter than the threshold: a performance loss, not subtracted from run time, no reason needed.
    SmallStop,
    Downtime,
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum DowntimeEvent {
        DowntimeStarted { line: LineId, equipment: Option<EquipmentId>, source: StopSource, started_at: DateTime<Utc>, small_stop_threshold: Millis, at: DateTime<Utc> },
        DowntimeReasonAssigned { reason_code: ReasonCode, loss_category: LossCategory, at: DateTime<Utc> },
        DowntimeReasonChanged { from: ReasonCode, to: ReasonCode, loss_category: LossCategory, reason: Reason, at: DateTime<Utc> },
        DowntimeEnded { ended_at: DateTime<Utc>, duration: Millis, class: StopClass, at: DateTime<Utc> },
        DowntimeVoided { reason: Reason, at: DateTime<Utc> },
        DowntimeSigned { signature: Signature, at: DateTime<Utc> },
        DowntimeSignatureRevoked { signature: Uuid, meaning: Meaning, reason: Reason, at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DowntimeError {
    #[error("downtime already started")]
    AlreadyStarted,
    #[error("downtime has not started")]
    NotStarted,
    #[error("downtime has already ended")]
    AlreadyEnded,
    #[error("the stop's time {0} lies in the future")]
    InTheFuture(DateTime<Utc>),
    #[error("a stop must end after it started ({started_at})")]
    EndsBeforeStart { started_at: DateTime<Utc> },
    #[error("a reason is already assigned; change it with a reason for change")]
    ReasonAlreadyAssigned,
    #[error("no reason is assigned yet")]
    NoReasonAssigned,
    #[error("the stop already has reason {0}")]
    SameReason(ReasonCode),
    #[error("the stop was voided")]
    Voided,
    #[error("the stop's shift has ended: changing its reason needs your signature")]
    SignatureRequired,
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl crate::aggregate::Rule for DowntimeError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyStarted { .. } => "already_started",
            Self::NotStarted { .. } => "not_started",
            Self::AlreadyEnded { .. } => "already_ended",
            Self::InTheFuture { .. } => "in_the_future",
            Self::EndsBeforeStart { .. } => "ends_before_start",
            Self::ReasonAlreadyAssigned { .. } => "reason_already_assigned",
            Self::NoReasonAssigned { .. } => "no_reason_assigned",
            Self::SameReason { .. } => "same_reason",
            Self::Voided => "voided",
            Self::SignatureRequired => "signature_required",
            Self::Signature(refusal) => crate::aggregate::Rule::code(refusal),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopInterval {
    pub started_at: DateTime<Utc>,
    pub small_stop_threshold: Millis,
    pub ended: Option<(DateTime<Utc>, StopClass)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downtime {
    pub line: Option<LineId>,
    /// The machine that stopped; `None` when the whole line did.
    #[serde(default)]
    pub equipment: Option<EquipmentId>,
    pub interval: Option<StopInterval>,
    pub reason: Option<AssignableReason>,
    /// Recorded in error: out of every current figure, never out of the trail.
    #[serde(default)]
    pub voided: bool,
    pub signatures: Signatures,
}

impl Downtime {
    fn interval(&self) -> Result<&StopInterval, DowntimeError> {
        self.interval.as_ref().ok_or(DowntimeError::NotStarted)
    }

    /// Planned stops come off planned production time; the rest is availability loss. An unexplained
    /// stop is unplanned until someone says otherwise.
    pub fn loss_category(&self) -> LossCategory {
        self.reason.as_ref().map_or(LossCategory::Unplanned, |reason| reason.loss_category)
    }

    fn sign(
        &self,
        request: SignatureRequest,
        meanings: &[Meaning],
        at: DateTime<Utc>,
    ) -> Result<DowntimeEvent, DowntimeError> {
        let rules = Rules { record_type: <Self as aggregate::Aggregate>::TYPE, meanings, not_ready: None };
        Ok(DowntimeEvent::DowntimeSigned { signature: self.signatures.sign(request, &rules, at)?, at })
    }

    fn change_reason(
        &self,
        reason_code: AssignableReason,
        reason: Reason,
        shift_ended: bool,
        signature: Option<SignatureRequest>,
        at: DateTime<Utc>,
    ) -> Result<Vec<DowntimeEvent>, DowntimeError> {
        self.interval()?;
        let current = self.reason.as_ref().ok_or(DowntimeError::NoReasonAssigned)?;
        if current.code == reason_code.code {
            return Err(DowntimeError::SameReason(reason_code.code));
        }
        let signed = match signature {
            Some(request) => Some(self.sign(request, &[Meaning::Authored], at)?),
            None if shift_ended => return Err(DowntimeError::SignatureRequired),
            None => None,
        };
        let changed = DowntimeEvent::DowntimeReasonChanged {
            from: current.code.clone(),
            to: reason_code.code,
            loss_category: reason_code.loss_category,
            reason,
            at,
        };
        Ok([changed].into_iter().chain(signed).collect())
    }
}

impl aggregate::Aggregate for Downtime {
    const TYPE: &'static str = "downtime";
    type Command = DowntimeCommand;
    type Event = DowntimeEvent;
    type Error = DowntimeError;

    fn handle(&self, command: DowntimeCommand, at: DateTime<Utc>) -> Result<Vec<DowntimeEvent>, DowntimeError> {
        if self.voided {
            return Err(DowntimeError::Voided);
        }
        let event = match command {
            DowntimeCommand::Start { line, equipment, source, started_at, small_stop_threshold } => {
                if self.interval.is_some() {
                    return Err(DowntimeError::AlreadyStarted);
                }
                if started_at > at + CLOCK_SKEW_ALLOWANCE {
                    return Err(DowntimeError::InTheFuture(started_at));
                }
                DowntimeEvent::DowntimeStarted { line, equipment, source, started_at, small_stop_threshold, at }
            }
            DowntimeCommand::AssignReason { reason_code } => {
                self.interval()?;
                if self.reason.is_some() {
                    return Err(DowntimeError::ReasonAlreadyAssigned);
                }
                DowntimeEvent::DowntimeReasonAssigned {
                    reason_code: reason_code.code,
                    loss_category: reason_code.loss_category,
                    at,
                }
            }
            DowntimeCommand::ChangeReason { reason_code, reason, shift_ended, signature } => {
                return self.change_reason(reason_code, reason, shift_ended, signature, at);
            }
            DowntimeCommand::End { ended_at } => {
                let interval = self.interval()?;
                if interval.ended.is_some() {
                    return Err(DowntimeError::AlreadyEnded);
                }
                if ended_at > at + CLOCK_SKEW_ALLOWANCE {
                    return Err(DowntimeError::InTheFuture(ended_at));
                }
                let length = (ended_at - interval.started_at).num_milliseconds();
                let duration = u64::try_from(length)
                    .ok()
                    .and_then(|ms| Millis::new(ms).ok())
                    .ok_or(DowntimeError::EndsBeforeStart { started_at: interval.started_at })?;
                let class =
                    if duration < interval.small_stop_threshold { StopClass::SmallStop } else { StopClass::Downtime };
                DowntimeEvent::DowntimeEnded { ended_at, duration, class, at }
            }
            DowntimeCommand::Void { reason } => {
                self.interval()?;
                DowntimeEvent::DowntimeVoided { reason, at }
            }
            DowntimeCommand::Sign(request) => {
                self.interval()?;
                self.sign(request, &[Meaning::Reviewed], at)?
            }
            DowntimeCommand::RevokeSignature(revocation) => {
                let meaning = self.signatures.revoke(&revocation)?;
                DowntimeEvent::DowntimeSignatureRevoked {
                    signature: revocation.signature,
                    meaning,
                    reason: revocation.reason,
                    at,
                }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &DowntimeEvent) {
        match event {
            DowntimeEvent::DowntimeStarted { line, equipment, started_at, small_stop_threshold, .. } => {
                self.line = Some(line.clone());
                self.equipment = equipment.clone();
                self.interval = Some(StopInterval {
                    started_at: *started_at,
                    small_stop_threshold: *small_stop_threshold,
                    ended: None,
                });
            }
            DowntimeEvent::DowntimeReasonAssigned { reason_code, loss_category, .. } => {
                self.reason = Some(AssignableReason { code: reason_code.clone(), loss_category: *loss_category });
            }
            DowntimeEvent::DowntimeReasonChanged { to, loss_category, .. } => {
                self.reason = Some(AssignableReason { code: to.clone(), loss_category: *loss_category });
                self.signatures.corrected();
            }
            DowntimeEvent::DowntimeEnded { ended_at, class, .. } => {
                if let Some(interval) = &mut self.interval {
                    interval.ended = Some((*ended_at, *class));
                }
            }
            DowntimeEvent::DowntimeVoided { .. } => self.voided = true,
            DowntimeEvent::DowntimeSigned { signature, .. } => self.signatures.signed(signature),
            DowntimeEvent::DowntimeSignatureRevoked { signature, .. } => self.signatures.revoked(*signature),
        }
    }
}
