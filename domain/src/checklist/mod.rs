//! Checklist: one run through a template version: started, items answered, completed once every
//! mandatory item has an answer (Part 11 AC-10). Re-answering an item is a change and needs a reason.
//! Completion is a signature: the person who did the checks signs "performed", and another person may
//! then sign "verified" (Part 11 ES-05, the two-person rule).

mod template;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use self::template::{
    ChecklistTemplate, ChecklistTemplateCommand, ChecklistTemplateError, ChecklistTemplateEvent, ItemKind,
    TemplateItem, TemplateVersion,
};
use crate::aggregate::{self, event_enum};
use crate::signature::{Meaning, Revocation, Rules, Signature, SignatureError, SignatureRequest, Signatures};
use crate::values::{ChecklistItemId, Description, Reason};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Answer {
    Check(bool),
    Number(i64),
    Text(Description),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecklistCommand {
    /// `template` is the version in force, looked up by the write side.
    Start {
        template: TemplateVersion,
        job: Option<Uuid>,
    },
    Answer {
        item: ChecklistItemId,
        answer: Answer,
        reason: Option<Reason>,
    },
    /// `performed` completes the checklist; `verified` and `reviewed` follow its completion.
    Sign(SignatureRequest),
    /// Revoking the `performed` signature reopens the checklist.
    RevokeSignature(Revocation),
}

impl aggregate::Command for ChecklistCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Answer { reason, .. } => reason.as_ref(),
            Self::RevokeSignature(revocation) => Some(&revocation.reason),
            Self::Start { .. } | Self::Sign(_) => None,
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ChecklistEvent {
        ChecklistStarted { template: TemplateVersion, job: Option<Uuid>, at: DateTime<Utc> },
        /// `within_limits` is false for a number outside the item's limits: recorded, never refused,
        /// because an out-of-spec reading is exactly what a checklist exists to capture.
        ChecklistItemAnswered { item: ChecklistItemId, answer: Answer, within_limits: bool, at: DateTime<Utc> },
        ChecklistAnswerChanged { item: ChecklistItemId, from: Answer, to: Answer, within_limits: bool, reason: Reason, at: DateTime<Utc> },
        ChecklistCompleted { at: DateTime<Utc> },
        ChecklistSigned { signature: Signature, at: DateTime<Utc> },
        ChecklistSignatureRevoked { signature: Uuid, meaning: Meaning, reason: Reason, at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecklistError {
    #[error("checklist already started")]
    AlreadyStarted,
    #[error("checklist has not started")]
    NotStarted,
    #[error("checklist is completed")]
    Completed,
    #[error("the template has no item {0}")]
    UnknownItem(ChecklistItemId),
    #[error("item {0} expects a different kind of answer")]
    WrongAnswerKind(ChecklistItemId),
    #[error("changing an answer needs a reason")]
    ReasonRequired,
    #[error("the answer is unchanged")]
    SameAnswer,
    #[error("mandatory items are unanswered: {0:?}")]
    MandatoryUnanswered(Vec<ChecklistItemId>),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl crate::aggregate::Rule for ChecklistError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyStarted { .. } => "already_started",
            Self::NotStarted { .. } => "not_started",
            Self::Completed { .. } => "completed",
            Self::UnknownItem { .. } => "unknown_item",
            Self::WrongAnswerKind { .. } => "wrong_answer_kind",
            Self::ReasonRequired { .. } => "reason_required",
            Self::SameAnswer { .. } => "same_answer",
            Self::MandatoryUnanswered { .. } => "mandatory_unanswered",
            Self::Signature(refusal) => crate::aggregate::Rule::code(refusal),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    pub template: Option<TemplateVersion>,
    pub answers: BTreeMap<ChecklistItemId, Answer>,
    pub completed: bool,
    pub signatures: Signatures,
}

/// The meanings a checklist is signed with.
const CHECKLIST_MEANINGS: &[Meaning] = &[Meaning::Performed, Meaning::Verified, Meaning::Reviewed];

fn within_limits(item: &TemplateItem, answer: &Answer) -> Result<bool, ChecklistError> {
    match (&item.kind, answer) {
        (ItemKind::Check, Answer::Check(_)) | (ItemKind::Text, Answer::Text(_)) => Ok(true),
        (ItemKind::Number { min, max }, Answer::Number(value)) => {
            Ok(min.is_none_or(|min| *value >= min) && max.is_none_or(|max| *value <= max))
        }
        _ => Err(ChecklistError::WrongAnswerKind(item.id.clone())),
    }
}

impl Checklist {
    fn open_template(&self) -> Result<&TemplateVersion, ChecklistError> {
        let template = self.template.as_ref().ok_or(ChecklistError::NotStarted)?;
        if self.completed {
            return Err(ChecklistError::Completed);
        }
        Ok(template)
    }

    fn sign(&self, request: SignatureRequest, at: DateTime<Utc>) -> Result<Vec<ChecklistEvent>, ChecklistError> {
        if self.template.is_none() {
            return Err(ChecklistError::NotStarted);
        }
        let performing = request.meaning == Meaning::Performed;
        if performing {
            self.check_complete()?;
        }
        let not_ready =
            (request.meaning == Meaning::Verified && !self.completed).then_some("the checklist is not completed");
        let rules =
            Rules { record_type: <Self as aggregate::Aggregate>::TYPE, meanings: CHECKLIST_MEANINGS, not_ready };
        let signed = ChecklistEvent::ChecklistSigned { signature: self.signatures.sign(request, &rules, at)?, at };
        Ok(if performing { vec![ChecklistEvent::ChecklistCompleted { at }, signed] } else { vec![signed] })
    }

    /// Whether the checklist can be completed: open, with every mandatory item answered.
    fn check_complete(&self) -> Result<(), ChecklistError> {
        let template = self.open_template()?;
        let missing: Vec<ChecklistItemId> = template
            .items
            .iter()
            .filter(|item| item.mandatory && !self.answers.contains_key(&item.id))
            .map(|item| item.id.clone())
            .collect();
        if missing.is_empty() { Ok(()) } else { Err(ChecklistError::MandatoryUnanswered(missing)) }
    }
}

impl aggregate::Aggregate for Checklist {
    const TYPE: &'static str = "checklist";
    type Command = ChecklistCommand;
    type Event = ChecklistEvent;
    type Error = ChecklistError;

    fn handle(&self, command: ChecklistCommand, at: DateTime<Utc>) -> Result<Vec<ChecklistEvent>, ChecklistError> {
        let event = match command {
            ChecklistCommand::Start { template, job } => {
                if self.template.is_some() {
                    return Err(ChecklistError::AlreadyStarted);
                }
                ChecklistEvent::ChecklistStarted { template, job, at }
            }
            ChecklistCommand::Answer { item, answer, reason } => {
                let template = self.open_template()?;
                let definition = template
                    .items
                    .iter()
                    .find(|candidate| candidate.id == item)
                    .ok_or_else(|| ChecklistError::UnknownItem(item.clone()))?;
                let within_limits = within_limits(definition, &answer)?;
                match (self.answers.get(&item), reason) {
                    (None, _) => ChecklistEvent::ChecklistItemAnswered { item, answer, within_limits, at },
                    (Some(previous), _) if *previous == answer => return Err(ChecklistError::SameAnswer),
                    (Some(_), None) => return Err(ChecklistError::ReasonRequired),
                    (Some(previous), Some(reason)) => ChecklistEvent::ChecklistAnswerChanged {
                        item,
                        from: previous.clone(),
                        to: answer,
                        within_limits,
                        reason,
                        at,
                    },
                }
            }
            ChecklistCommand::Sign(request) => return self.sign(request, at),
            ChecklistCommand::RevokeSignature(revocation) => {
                let meaning = self.signatures.revoke(&revocation)?;
                ChecklistEvent::ChecklistSignatureRevoked {
                    signature: revocation.signature,
                    meaning,
                    reason: revocation.reason,
                    at,
                }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &ChecklistEvent) {
        match event {
            ChecklistEvent::ChecklistStarted { template, .. } => self.template = Some(template.clone()),
            ChecklistEvent::ChecklistItemAnswered { item, answer, .. } => {
                self.answers.insert(item.clone(), answer.clone());
            }
            ChecklistEvent::ChecklistAnswerChanged { item, to, .. } => {
                self.answers.insert(item.clone(), to.clone());
                self.signatures.corrected();
            }
            ChecklistEvent::ChecklistCompleted { .. } => self.completed = true,
            ChecklistEvent::ChecklistSigned { signature, .. } => self.signatures.signed(signature),
            ChecklistEvent::ChecklistSignatureRevoked { signature, meaning, .. } => {
                self.signatures.revoked(*signature);
                if *meaning == Meaning::Performed {
                    self.completed = false;
                }
            }
        }
    }
}
