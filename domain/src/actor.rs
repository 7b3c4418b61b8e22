//! Who acts: the attribution every event carries (Part 11 AT-02). Authentication lives in `api`;
//! here are only the values it produces.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::Name;

/// A person's account id; never reused, even after deactivation (AC-02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserId(Uuid);

impl UserId {
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    pub fn as_uuid(self) -> Uuid {
        self.0
    }
}
impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The authority a person acted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Operator,
    TeamLeader,
    Maintenance,
    Quality,
    Engineer,
    Auditor,
    Admin,
    /// An enrolled PLC gateway acting on its own (counter readings, machine states). Never held by a person.
    Device,
    /// An enrolled display reading the boards of its scope. Never held by a person, and allowed no write.
    Display,
    /// The service itself, applying a configured rule (the Andon escalation scheduler). Never held by a person.
    System,
}

impl Role {
    /// Roles a person can hold; the others are how machines and the service act.
    pub fn is_personal(self) -> bool {
        !matches!(self, Self::Device | Self::Display | Self::System)
    }

    /// Roles whose holders create or change production and quality records. An admin must not also hold
    /// one (Part 11 AC-04, segregation of duties): administrators do not own the records they administer.
    pub fn owns_records(self) -> bool {
        matches!(self, Self::Operator | Self::TeamLeader | Self::Maintenance | Self::Quality | Self::Engineer)
    }
}

/// The person behind a command, with the printed name they had at that moment (Part 11 11.50).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: UserId,
    pub printed_name: Name,
    pub role: Role,
}
