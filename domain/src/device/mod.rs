//! Enrolled device: a tablet or PLC gateway that may send commands, identified on every event it
//! causes (Part 11 AC-09), or a display (a TV above a line) that reads boards and never writes. Its secret lives with the API's credentials, not in events. A revoked device
//! stays on record; its id is never reused.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{self, event_enum};
use crate::scope::Scope;
use crate::values::{Name, Reason};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeviceKind {
    Tablet,
    PlcGateway,
    /// A shared screen: reads the boards of its scope (no personal login on it, AC-01), writes nothing.
    Display,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCommand {
    Enroll { name: Name, kind: DeviceKind, scope: Scope },
    Revoke { reason: Reason },
}

impl aggregate::Command for DeviceCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Revoke { reason } => Some(reason),
            Self::Enroll { .. } => None,
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum DeviceEvent {
        DeviceEnrolled { name: Name, kind: DeviceKind, scope: Scope, at: DateTime<Utc> },
        DeviceRevoked { reason: Reason, at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("device is already enrolled")]
    AlreadyEnrolled,
    #[error("device is not enrolled")]
    NotEnrolled,
    #[error("device is revoked")]
    Revoked,
}

impl crate::aggregate::Rule for DeviceError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyEnrolled { .. } => "already_enrolled",
            Self::NotEnrolled { .. } => "not_enrolled",
            Self::Revoked { .. } => "revoked",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub name: Option<Name>,
    pub enrolled: Option<(DeviceKind, Scope)>,
    pub revoked: bool,
}

impl aggregate::Aggregate for Device {
    const TYPE: &'static str = "device";
    type Command = DeviceCommand;
    type Event = DeviceEvent;
    type Error = DeviceError;

    fn handle(&self, command: DeviceCommand, at: DateTime<Utc>) -> Result<Vec<DeviceEvent>, DeviceError> {
        let event = match command {
            DeviceCommand::Enroll { name, kind, scope } => {
                if self.enrolled.is_some() {
                    return Err(DeviceError::AlreadyEnrolled);
                }
                DeviceEvent::DeviceEnrolled { name, kind, scope, at }
            }
            DeviceCommand::Revoke { reason } => {
                if self.enrolled.is_none() {
                    return Err(DeviceError::NotEnrolled);
                }
                if self.revoked {
                    return Err(DeviceError::Revoked);
                }
                DeviceEvent::DeviceRevoked { reason, at }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &DeviceEvent) {
        match event {
            DeviceEvent::DeviceEnrolled { name, kind, scope, .. } => {
                self.name = Some(name.clone());
                self.enrolled = Some((*kind, scope.clone()));
            }
            DeviceEvent::DeviceRevoked { .. } => self.revoked = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{given, test_now};
    use crate::values::SiteId;

    fn enrolled() -> DeviceEvent {
        DeviceEvent::DeviceEnrolled {
            name: Name::parse("Gateway L3").unwrap(),
            kind: DeviceKind::PlcGateway,
            scope: Scope::Site { site: SiteId::parse("plant-1").unwrap() },
            at: test_now(),
        }
    }
    fn revoke() -> DeviceCommand {
        DeviceCommand::Revoke { reason: Reason::parse("stolen").unwrap() }
    }

    #[test]
    fn enrols_a_device_once() {
        let DeviceEvent::DeviceEnrolled { name, kind, scope, .. } = enrolled() else { unreachable!() };
        let enroll = DeviceCommand::Enroll { name, kind, scope };
        assert_eq!(given::<Device>(&[], enroll.clone()), Ok(vec![enrolled()]));
        assert_eq!(given::<Device>(&[enrolled()], enroll), Err(DeviceError::AlreadyEnrolled));
    }

    #[test]
    fn revokes_an_enrolled_device_once_with_a_reason() {
        let revoked = DeviceEvent::DeviceRevoked { reason: Reason::parse("stolen").unwrap(), at: test_now() };
        assert_eq!(given::<Device>(&[enrolled()], revoke()), Ok(vec![revoked.clone()]));
        assert_eq!(given::<Device>(&[], revoke()), Err(DeviceError::NotEnrolled));
        assert_eq!(given::<Device>(&[enrolled(), revoked], revoke()), Err(DeviceError::Revoked));
    }
}
