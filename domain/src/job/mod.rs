//! Job (work order): a quantity of one product made on one line, from creation to completion.
//! Counts come from operators or from PLC counter readings; every step is checked against the job's
//! status so that out-of-order steps are refused (Part 11 11.10(f)).

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::UserId;
use crate::aggregate::{self, event_enum};
use crate::counter::{CounterStep, CounterWidth, counter_delta};
use crate::line::RejectReason;
use crate::line_id::LineId;
use crate::signature::{Meaning, Revocation, Rules, Signature, SignatureError, SignatureRequest, Signatures};
use crate::values::{CounterId, Name, ProductId, Reason, ReasonCode, RejectCategory, Units, ValueError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CountKind {
    Good,
    Reject,
}

/// One reading of a PLC counter, as a gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterReading {
    pub counter: CounterId,
    pub kind: CountKind,
    pub width: CounterWidth,
    /// Per-source sequence: a reading at or below the last one seen is a repeat.
    pub sequence: u64,
    pub value: u64,
    pub source_timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobCommand {
    Create {
        line: LineId,
        product: ProductId,
        target_quantity: NonZeroU64,
    },
    /// Reassigning an already assigned job is a change and needs a reason.
    AssignOperator {
        operator: UserId,
        operator_name: Name,
        reason: Option<Reason>,
    },
    /// The assigned operator takes the job on; `operator` is the person accepting.
    Accept {
        operator: UserId,
    },
    Start,
    Pause {
        reason: Option<Reason>,
    },
    Resume,
    RecordProduction {
        good: u64,
        reject: u64,
        /// A leaf of the line's reject reason tree, looked up by the write side.
        reject_reason: Option<RejectReason>,
    },
    RecordCounterReading(CounterReading),
    CorrectProduction {
        good_delta: i64,
        reject_delta: i64,
        reason: Reason,
    },
    Complete,
    Cancel {
        reason: Reason,
    },
    /// Quality releases a completed job, or a reviewer signs that they reviewed it (Part 11 AT-13).
    Sign(SignatureRequest),
    RevokeSignature(Revocation),
}

impl aggregate::Command for JobCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::AssignOperator { reason, .. } | Self::Pause { reason } => reason.as_ref(),
            Self::CorrectProduction { reason, .. } | Self::Cancel { reason } => Some(reason),
            Self::RevokeSignature(revocation) => Some(&revocation.reason),
            _ => None,
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum JobEvent {
        JobCreated { line: LineId, product: ProductId, #[cfg_attr(feature = "openapi", schema(value_type = u64, minimum = 1))] target_quantity: NonZeroU64, at: DateTime<Utc> },
        OperatorAssigned { operator: UserId, operator_name: Name, reason: Option<Reason>, at: DateTime<Utc> },
        JobAccepted { operator: UserId, at: DateTime<Utc> },
        JobStarted { at: DateTime<Utc> },
        JobPaused { reason: Option<Reason>, at: DateTime<Utc> },
        JobResumed { at: DateTime<Utc> },
        /// Version 2: `reject_category` is always present. Version 1 records (made before reject
        /// reasons were a tree, their codes free text) lack it and are raised with `null`
        /// (`crate::versions`); the loss tree books those rejects as production rejects.
        ProductionRecorded { good: u64, reject: u64, reject_reason: Option<ReasonCode>, reject_category: Option<RejectCategory>, at: DateTime<Utc> },
        /// The first reading of a counter in this job: the baseline later readings are measured from.
        CounterBaselineRecorded { counter: CounterId, kind: CountKind, width: CounterWidth, sequence: u64, value: u64, source_timestamp: DateTime<Utc>, at: DateTime<Utc> },
        CounterProductionCounted { counter: CounterId, kind: CountKind, sequence: u64, value: u64, delta: u64, step: CounterStep, source_timestamp: DateTime<Utc>, at: DateTime<Utc> },
        ProductionCorrected { good_delta: i64, reject_delta: i64, reason: Reason, at: DateTime<Utc> },
        JobCompleted { good: u64, reject: u64, at: DateTime<Utc> },
        JobCancelled { reason: Reason, at: DateTime<Utc> },
        JobSigned { signature: Signature, at: DateTime<Utc> },
        JobSignatureRevoked { signature: Uuid, meaning: Meaning, reason: Reason, at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    #[default]
    NotCreated,
    Created,
    Accepted,
    Running,
    Paused,
    Completed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("job already exists")]
    AlreadyCreated,
    #[error("job does not exist")]
    NotCreated,
    #[error("cannot {action} a job that is {status:?}")]
    WrongStatus { action: &'static str, status: JobStatus },
    #[error("no operator is assigned to this job")]
    NoOperatorAssigned,
    #[error("only the assigned operator can accept this job")]
    NotTheAssignedOperator,
    #[error("reassigning an operator needs a reason")]
    ReasonRequired,
    #[error("a production record needs at least one unit")]
    EmptyProduction,
    #[error("rejected units need a reject reason")]
    RejectReasonRequired,
    #[error("counter {counter} was first reported as {expected:?} and cannot change to {got:?}")]
    CounterChanged { counter: CounterId, expected: String, got: String },
    #[error("counter value {value} exceeds the counter's width")]
    CounterOutOfRange { value: u64 },
    #[error("a correction must change at least one count")]
    EmptyCorrection,
    #[error("the correction would make a count negative")]
    NegativeCount,
    #[error("the job's count would exceed {max} units")]
    CountOverflow { max: u64 },
    #[error(transparent)]
    OutOfRange(#[from] ValueError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl crate::aggregate::Rule for JobError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyCreated { .. } => "already_created",
            Self::NotCreated { .. } => "not_created",
            Self::WrongStatus { .. } => "wrong_status",
            Self::NoOperatorAssigned { .. } => "no_operator_assigned",
            Self::NotTheAssignedOperator { .. } => "not_the_assigned_operator",
            Self::ReasonRequired { .. } => "reason_required",
            Self::EmptyProduction { .. } => "empty_production",
            Self::RejectReasonRequired { .. } => "reject_reason_required",
            Self::CounterChanged { .. } => "counter_changed",
            Self::CounterOutOfRange { .. } => "counter_out_of_range",
            Self::EmptyCorrection { .. } => "empty_correction",
            Self::NegativeCount { .. } => "negative_count",
            Self::CountOverflow { .. } => "count_overflow",
            Self::OutOfRange { .. } => "out_of_range",
            Self::Signature(refusal) => crate::aggregate::Rule::code(refusal),
        }
    }
}

/// The most units a job may count of each kind (good, reject) and target: a thousand million
/// bookings' worth, far beyond any real job, and well within the read models' i64.
pub const JOB_MAX_UNITS: u64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterState {
    pub kind: CountKind,
    pub width: CounterWidth,
    pub sequence: u64,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub status: JobStatus,
    pub line: Option<LineId>,
    pub product: Option<ProductId>,
    pub target_quantity: u64,
    pub operator: Option<UserId>,
    pub good: u64,
    pub reject: u64,
    pub counters: BTreeMap<CounterId, CounterState>,
    pub signatures: Signatures,
}

/// The meanings a job is signed with: quality releases it, reviewers review its corrections.
const JOB_MEANINGS: &[Meaning] = &[Meaning::Reviewed, Meaning::Released];

impl Job {
    /// Whether quality has released the job (a standing `released` signature).
    pub fn released(&self) -> bool {
        self.signatures.has(Meaning::Released)
    }

    fn sign(&self, request: SignatureRequest, at: DateTime<Utc>) -> Result<JobEvent, JobError> {
        if self.status == JobStatus::NotCreated {
            return Err(JobError::NotCreated);
        }
        let not_ready = match request.meaning {
            Meaning::Released if self.status != JobStatus::Completed => Some("only a completed job is released"),
            Meaning::Released if self.released() => Some("the job is already released"),
            _ => None,
        };
        let rules = Rules { record_type: <Self as aggregate::Aggregate>::TYPE, meanings: JOB_MEANINGS, not_ready };
        Ok(JobEvent::JobSigned { signature: self.signatures.sign(request, &rules, at)?, at })
    }

    fn expect_status(&self, action: &'static str, allowed: &[JobStatus]) -> Result<(), JobError> {
        if self.status == JobStatus::NotCreated {
            return Err(JobError::NotCreated);
        }
        if allowed.contains(&self.status) { Ok(()) } else { Err(JobError::WrongStatus { action, status: self.status }) }
    }

    fn counter_reading(&self, reading: CounterReading, at: DateTime<Utc>) -> Result<Vec<JobEvent>, JobError> {
        let CounterReading { counter, kind, width, sequence, value, source_timestamp } = reading;
        if value > width.max_value() {
            return Err(JobError::CounterOutOfRange { value });
        }
        let Some(last) = self.counters.get(&counter) else {
            return Ok(vec![JobEvent::CounterBaselineRecorded {
                counter,
                kind,
                width,
                sequence,
                value,
                source_timestamp,
                at,
            }]);
        };
        if (last.kind, last.width) != (kind, width) {
            return Err(JobError::CounterChanged {
                counter,
                expected: format!("{:?} {:?}", last.kind, last.width),
                got: format!("{kind:?} {width:?}"),
            });
        }
        // A repeated or older reading adds nothing: the newer reading already covers what it saw.
        if sequence <= last.sequence {
            return Ok(vec![]);
        }
        let (delta, step) = counter_delta(last.value, value, width);
        // A step beyond one booking's bound is a wrong reading or a replaced counter, not production:
        // refused, so the next plausible reading counts from the last accepted one.
        Units::new(delta)?;
        self.total_after(kind, delta)?;
        Ok(vec![JobEvent::CounterProductionCounted {
            counter,
            kind,
            sequence,
            value,
            delta,
            step,
            source_timestamp,
            at,
        }])
    }

    fn total_after(&self, kind: CountKind, delta: u64) -> Result<u64, JobError> {
        let current = match kind {
            CountKind::Good => self.good,
            CountKind::Reject => self.reject,
        };
        current
            .checked_add(delta)
            .filter(|total| *total <= JOB_MAX_UNITS)
            .ok_or(JobError::CountOverflow { max: JOB_MAX_UNITS })
    }
}

fn corrected(count: u64, delta: i64) -> Result<u64, JobError> {
    match count.checked_add_signed(delta) {
        None if delta < 0 => Err(JobError::NegativeCount),
        Some(total) if total <= JOB_MAX_UNITS => Ok(total),
        _ => Err(JobError::CountOverflow { max: JOB_MAX_UNITS }),
    }
}

impl aggregate::Aggregate for Job {
    const TYPE: &'static str = "job";
    type Command = JobCommand;
    type Event = JobEvent;
    type Error = JobError;

    fn handle(&self, command: JobCommand, at: DateTime<Utc>) -> Result<Vec<JobEvent>, JobError> {
        use JobStatus::{Accepted, Completed, Created, Paused, Running};
        let event = match command {
            JobCommand::Create { line, product, target_quantity } => {
                if self.status != JobStatus::NotCreated {
                    return Err(JobError::AlreadyCreated);
                }
                if target_quantity.get() > JOB_MAX_UNITS {
                    return Err(ValueError::OutOfRange { what: "target quantity", max: JOB_MAX_UNITS }.into());
                }
                JobEvent::JobCreated { line, product, target_quantity, at }
            }
            JobCommand::AssignOperator { operator, operator_name, reason } => {
                self.expect_status("assign an operator to", &[Created, Accepted, Running, Paused])?;
                if self.operator.is_some() && reason.is_none() {
                    return Err(JobError::ReasonRequired);
                }
                JobEvent::OperatorAssigned { operator, operator_name, reason, at }
            }
            JobCommand::Accept { operator } => {
                self.expect_status("accept", &[Created])?;
                match self.operator {
                    None => return Err(JobError::NoOperatorAssigned),
                    Some(assigned) if assigned != operator => return Err(JobError::NotTheAssignedOperator),
                    Some(_) => JobEvent::JobAccepted { operator, at },
                }
            }
            JobCommand::Start => {
                self.expect_status("start", &[Accepted])?;
                JobEvent::JobStarted { at }
            }
            JobCommand::Pause { reason } => {
                self.expect_status("pause", &[Running])?;
                JobEvent::JobPaused { reason, at }
            }
            JobCommand::Resume => {
                self.expect_status("resume", &[Paused])?;
                JobEvent::JobResumed { at }
            }
            JobCommand::RecordProduction { good, reject, reject_reason } => {
                self.expect_status("record production on", &[Running])?;
                if good == 0 && reject == 0 {
                    return Err(JobError::EmptyProduction);
                }
                if reject > 0 && reject_reason.is_none() {
                    return Err(JobError::RejectReasonRequired);
                }
                Units::new(good)?;
                Units::new(reject)?;
                self.total_after(CountKind::Good, good)?;
                self.total_after(CountKind::Reject, reject)?;
                let (reject_reason, reject_category) =
                    reject_reason.map(|reason| (reason.code, reason.category)).unzip();
                JobEvent::ProductionRecorded { good, reject, reject_reason, reject_category, at }
            }
            JobCommand::RecordCounterReading(reading) => {
                // A machine keeps counting while a job is paused; those units belong to the job.
                self.expect_status("record a counter reading on", &[Running, Paused])?;
                return self.counter_reading(reading, at);
            }
            JobCommand::CorrectProduction { good_delta, reject_delta, reason } => {
                self.expect_status("correct production of", &[Running, Paused, Completed])?;
                if good_delta == 0 && reject_delta == 0 {
                    return Err(JobError::EmptyCorrection);
                }
                Units::of_change(good_delta)?;
                Units::of_change(reject_delta)?;
                corrected(self.good, good_delta)?;
                corrected(self.reject, reject_delta)?;
                JobEvent::ProductionCorrected { good_delta, reject_delta, reason, at }
            }
            JobCommand::Complete => {
                self.expect_status("complete", &[Running, Paused])?;
                JobEvent::JobCompleted { good: self.good, reject: self.reject, at }
            }
            JobCommand::Cancel { reason } => {
                self.expect_status("cancel", &[Created, Accepted, Running, Paused])?;
                JobEvent::JobCancelled { reason, at }
            }
            JobCommand::Sign(request) => self.sign(request, at)?,
            JobCommand::RevokeSignature(revocation) => {
                let meaning = self.signatures.revoke(&revocation)?;
                JobEvent::JobSignatureRevoked {
                    signature: revocation.signature,
                    meaning,
                    reason: revocation.reason,
                    at,
                }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &JobEvent) {
        match event {
            JobEvent::JobCreated { line, product, target_quantity, .. } => {
                self.status = JobStatus::Created;
                self.line = Some(line.clone());
                self.product = Some(product.clone());
                self.target_quantity = target_quantity.get();
            }
            JobEvent::OperatorAssigned { operator, .. } => self.operator = Some(*operator),
            JobEvent::JobAccepted { .. } => self.status = JobStatus::Accepted,
            JobEvent::JobStarted { .. } | JobEvent::JobResumed { .. } => self.status = JobStatus::Running,
            JobEvent::JobPaused { .. } => self.status = JobStatus::Paused,
            JobEvent::ProductionRecorded { good, reject, .. } => {
                self.good = self.good.saturating_add(*good);
                self.reject = self.reject.saturating_add(*reject);
            }
            JobEvent::CounterBaselineRecorded { counter, kind, width, sequence, value, .. } => {
                self.counters.insert(
                    counter.clone(),
                    CounterState { kind: *kind, width: *width, sequence: *sequence, value: *value },
                );
            }
            JobEvent::CounterProductionCounted { counter, kind, sequence, value, delta, .. } => {
                match kind {
                    CountKind::Good => self.good = self.good.saturating_add(*delta),
                    CountKind::Reject => self.reject = self.reject.saturating_add(*delta),
                }
                if let Some(state) = self.counters.get_mut(counter) {
                    state.sequence = *sequence;
                    state.value = *value;
                }
            }
            JobEvent::ProductionCorrected { good_delta, reject_delta, .. } => {
                self.good = self.good.saturating_add_signed(*good_delta);
                self.reject = self.reject.saturating_add_signed(*reject_delta);
                self.signatures.corrected();
            }
            JobEvent::JobCompleted { .. } => self.status = JobStatus::Completed,
            JobEvent::JobCancelled { .. } => self.status = JobStatus::Cancelled,
            JobEvent::JobSigned { signature, .. } => self.signatures.signed(signature),
            JobEvent::JobSignatureRevoked { signature, .. } => self.signatures.revoked(*signature),
        }
    }
}
