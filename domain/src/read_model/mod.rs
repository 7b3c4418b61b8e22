//! A read model's rebuilds, as records (Part 11 AT-07: rebuilds are system actions on the record):
//! who asked for a rebuild and why, when queries switched to the rebuilt version and where in the log it
//! stood, cancellations, and old versions emptied on request. The rebuilds themselves run in the
//! projections' engine; these events say that they happened.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{self, event_enum};
use crate::values::Reason;

/// The two schemas of a read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "blue" => Some(Self::Blue),
            "green" => Some(Self::Green),
            _ => None,
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Blue => Self::Green,
            Self::Green => Self::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
        }
    }
}

impl std::fmt::Display for Color {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadModelCommand {
    RequestRebuild {
        into: Color,
        version: i32,
        reason: Reason,
    },
    /// The service records a switch it made; `switched_at` is the switch's own time (the pointer's), so
    /// that a switch already recorded is not recorded again.
    RecordSwitch {
        to: Color,
        version: i32,
        position: i64,
        events_applied: i64,
        switched_at: DateTime<Utc>,
    },
    CancelRebuild {
        reason: Reason,
    },
    DropOld {
        color: Color,
        reason: Reason,
    },
}

impl aggregate::Command for ReadModelCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::RequestRebuild { reason, .. } | Self::CancelRebuild { reason } | Self::DropOld { reason, .. } => {
                Some(reason)
            }
            Self::RecordSwitch { .. } => None,
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ReadModelEvent {
        RebuildRequested { into: Color, version: i32, reason: Reason, at: DateTime<Utc> },
        ReadModelSwitched { to: Color, version: i32, position: i64, events_applied: i64, switched_at: DateTime<Utc>, at: DateTime<Utc> },
        RebuildCancelled { reason: Reason, at: DateTime<Utc> },
        OldVersionDropped { color: Color, reason: Reason, at: DateTime<Utc> },
    }
}

/// Nothing is refused: the engine decides what may happen to a read model, and these events record
/// what it did; a switch already recorded is recorded no second time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadModelError {}

impl aggregate::Rule for ReadModelError {
    fn code(&self) -> &'static str {
        match *self {}
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadModel {
    pub building: Option<Color>,
    pub last_switched_at: Option<DateTime<Utc>>,
}

impl aggregate::Aggregate for ReadModel {
    const TYPE: &'static str = "read_model";
    type Command = ReadModelCommand;
    type Event = ReadModelEvent;
    type Error = ReadModelError;

    fn handle(&self, command: ReadModelCommand, at: DateTime<Utc>) -> Result<Vec<ReadModelEvent>, ReadModelError> {
        let event = match command {
            ReadModelCommand::RequestRebuild { into, version, reason } => {
                ReadModelEvent::RebuildRequested { into, version, reason, at }
            }
            ReadModelCommand::RecordSwitch { switched_at, .. } if self.last_switched_at == Some(switched_at) => {
                return Ok(vec![]);
            }
            ReadModelCommand::RecordSwitch { to, version, position, events_applied, switched_at } => {
                ReadModelEvent::ReadModelSwitched { to, version, position, events_applied, switched_at, at }
            }
            ReadModelCommand::CancelRebuild { reason } => ReadModelEvent::RebuildCancelled { reason, at },
            ReadModelCommand::DropOld { color, reason } => ReadModelEvent::OldVersionDropped { color, reason, at },
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &ReadModelEvent) {
        match event {
            ReadModelEvent::RebuildRequested { into, .. } => self.building = Some(*into),
            ReadModelEvent::ReadModelSwitched { switched_at, .. } => {
                self.building = None;
                self.last_switched_at = Some(*switched_at);
            }
            ReadModelEvent::RebuildCancelled { .. } => self.building = None,
            ReadModelEvent::OldVersionDropped { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{given, reason, test_now};

    #[test]
    fn a_switch_is_recorded_once_whoever_records_it_again() {
        let switch = ReadModelCommand::RecordSwitch {
            to: Color::Green,
            version: 2,
            position: 900,
            events_applied: 870,
            switched_at: test_now(),
        };
        let requested = ReadModelEvent::RebuildRequested {
            into: Color::Green,
            version: 2,
            reason: reason("bug fixed"),
            at: test_now(),
        };
        let recorded = given::<ReadModel>(std::slice::from_ref(&requested), switch.clone()).unwrap();
        assert!(matches!(recorded.as_slice(), [ReadModelEvent::ReadModelSwitched { position: 900, .. }]));
        assert_eq!(given::<ReadModel>(&[requested, recorded[0].clone()], switch), Ok(vec![]));
    }
}
