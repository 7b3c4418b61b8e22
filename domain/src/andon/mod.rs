//! Andon call: a request for help at a station, from raise to resolution (docs/shop-floor.md, "Andon").
//! Escalation events come from a scheduler that reads the configured ladder; the aggregate only checks
//! that each escalation goes up and happens while the call is open.

mod escalation;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use self::escalation::{Escalation, EscalationLadder, LadderError, Tier, next_escalation};
use crate::aggregate::{self, event_enum};
use crate::line_id::LineId;
use crate::values::{Description, Reason, StationId};

/// The highest tier of the default ladder (L4, plant manager).
pub const MAX_ESCALATION_LEVEL: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CallType {
    Maintenance,
    Quality,
    Material,
    Safety,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AndonCommand {
    Raise { line: LineId, station: StationId, call_type: CallType, priority: Priority, description: Description },
    Acknowledge,
    Escalate { level: u8 },
    Resolve { resolution: Description, root_cause: Description },
    Cancel { reason: Reason },
}

impl aggregate::Command for AndonCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Cancel { reason } => Some(reason),
            _ => None,
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum AndonEvent {
        AndonRaised { line: LineId, station: StationId, call_type: CallType, priority: Priority, description: Description, at: DateTime<Utc> },
        AndonAcknowledged { at: DateTime<Utc> },
        AndonEscalated { level: u8, at: DateTime<Utc> },
        AndonResolved { resolution: Description, root_cause: Description, at: DateTime<Utc> },
        AndonCancelled { reason: Reason, at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AndonStatus {
    #[default]
    NotRaised,
    Raised,
    Acknowledged,
    Resolved,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AndonError {
    #[error("andon call already raised")]
    AlreadyRaised,
    #[error("andon call does not exist")]
    NotRaised,
    #[error("cannot {action} an andon call that is {status:?}")]
    WrongStatus { action: &'static str, status: AndonStatus },
    #[error("escalation must go above level {current} and at most to level {MAX_ESCALATION_LEVEL}")]
    BadEscalationLevel { current: u8 },
}

impl crate::aggregate::Rule for AndonError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRaised { .. } => "already_raised",
            Self::NotRaised { .. } => "not_raised",
            Self::WrongStatus { .. } => "wrong_status",
            Self::BadEscalationLevel { .. } => "bad_escalation_level",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AndonCall {
    pub status: AndonStatus,
    pub line: Option<LineId>,
    #[serde(default)]
    pub station: Option<StationId>,
    pub call_type: Option<CallType>,
    #[serde(default)]
    pub priority: Option<Priority>,
    pub level: u8,
    pub raised_at: Option<DateTime<Utc>>,
    /// When someone took the call: the response time (MTTA) ends here.
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the call was resolved or cancelled.
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
}

impl AndonCall {
    fn expect_status(&self, action: &'static str, allowed: &[AndonStatus]) -> Result<(), AndonError> {
        match self.status {
            AndonStatus::NotRaised => Err(AndonError::NotRaised),
            status if allowed.contains(&status) => Ok(()),
            status => Err(AndonError::WrongStatus { action, status }),
        }
    }
}

impl aggregate::Aggregate for AndonCall {
    const TYPE: &'static str = "andon";
    type Command = AndonCommand;
    type Event = AndonEvent;
    type Error = AndonError;

    fn handle(&self, command: AndonCommand, at: DateTime<Utc>) -> Result<Vec<AndonEvent>, AndonError> {
        use AndonStatus::{Acknowledged, Raised};
        let event = match command {
            AndonCommand::Raise { line, station, call_type, priority, description } => {
                if self.status != AndonStatus::NotRaised {
                    return Err(AndonError::AlreadyRaised);
                }
                AndonEvent::AndonRaised { line, station, call_type, priority, description, at }
            }
            AndonCommand::Acknowledge => {
                self.expect_status("acknowledge", &[Raised])?;
                AndonEvent::AndonAcknowledged { at }
            }
            AndonCommand::Escalate { level } => {
                self.expect_status("escalate", &[Raised, Acknowledged])?;
                if level <= self.level || level > MAX_ESCALATION_LEVEL {
                    return Err(AndonError::BadEscalationLevel { current: self.level });
                }
                AndonEvent::AndonEscalated { level, at }
            }
            AndonCommand::Resolve { resolution, root_cause } => {
                // Someone must have taken the call before it can be resolved: the response time is measured.
                self.expect_status("resolve", &[Acknowledged])?;
                AndonEvent::AndonResolved { resolution, root_cause, at }
            }
            AndonCommand::Cancel { reason } => {
                self.expect_status("cancel", &[Raised, Acknowledged])?;
                AndonEvent::AndonCancelled { reason, at }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &AndonEvent) {
        match event {
            AndonEvent::AndonRaised { line, station, call_type, priority, at, .. } => {
                self.status = AndonStatus::Raised;
                self.line = Some(line.clone());
                self.station = Some(station.clone());
                self.call_type = Some(*call_type);
                self.priority = Some(*priority);
                self.level = 1;
                self.raised_at = Some(*at);
            }
            AndonEvent::AndonAcknowledged { at } => {
                self.status = AndonStatus::Acknowledged;
                self.acknowledged_at = Some(*at);
            }
            AndonEvent::AndonEscalated { level, .. } => self.level = *level,
            AndonEvent::AndonResolved { at, .. } => {
                self.status = AndonStatus::Resolved;
                self.closed_at = Some(*at);
            }
            AndonEvent::AndonCancelled { at, .. } => {
                self.status = AndonStatus::Cancelled;
                self.closed_at = Some(*at);
            }
        }
    }
}
