//! Value types shared by the aggregates. Each is parsed once at the edge and is valid from then on
//! ("parse, don't validate"); deserialising goes through the same parser, so a replayed event can never
//! smuggle in a value a command could not.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused. Messages are lowercase and name the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} may hold only letters, digits, '.', '-' and '_' and must start with a letter or digit")]
    BadCharacters { what: &'static str },
    #[error("{what} must not contain control characters other than line breaks and tabs")]
    ControlCharacters { what: &'static str },
    #[error("{what} must be greater than zero")]
    NotPositive { what: &'static str },
    #[error("{what} must be at most {max}")]
    OutOfRange { what: &'static str, max: u64 },
}

/// An identifier as people type them on the floor: `LINE-3`, `mech.jam`, `FILLER_2`.
fn parse_code(what: &'static str, raw: &str) -> Result<String, ValueError> {
    const MAX: usize = 64;
    let first_ok = raw.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if raw.is_empty() {
        return Err(ValueError::Empty { what });
    }
    if raw.chars().count() > MAX {
        return Err(ValueError::TooLong { what, max: MAX });
    }
    if !first_ok || !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Err(ValueError::BadCharacters { what });
    }
    Ok(raw.to_owned())
}

/// The conversions of a newtype over `String` whose `parse(&str) -> Result<Self, ValueError>` is the only
/// way in: deserialising and `TryFrom` go through it.
macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = $crate::values::ValueError;
            fn try_from(raw: String) -> Result<Self, $crate::values::ValueError> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use string_value;

macro_rules! code_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, ValueError> {
                parse_code($what, raw).map(Self)
            }
        }
        string_value!($name);
    };
}

code_type!(/// ISA-95 site id.
    SiteId, "site id");
code_type!(/// ISA-95 area id, unique within a site.
    AreaId, "area id");
code_type!(/// Production line id, unique within an area.
    LineCode, "line id");
code_type!(/// Equipment (work cell) id, unique within a line.
    EquipmentId, "equipment id");
code_type!(/// Product (material) id.
    ProductId, "product id");
code_type!(/// Code of a downtime reason; immutable once used.
    ReasonCode, "reason code");
code_type!(/// Enrolled device (tablet, PLC gateway) id.
    DeviceId, "device id");
code_type!(/// A PLC counter's id within its gateway.
    CounterId, "counter id");
code_type!(/// Station on a line where an Andon call is raised.
    StationId, "station id");
code_type!(/// Item of a checklist template.
    ChecklistItemId, "checklist item id");
code_type!(/// Checklist template id.
    TemplateId, "template id");
code_type!(/// Name of a shift in a line's calendar (`early`, `late`, `night`).
    ShiftName, "shift name");

/// Free text with a length limit, trimmed; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValueError::Empty { what: "text" });
        }
        if trimmed.chars().count() > MAX {
            return Err(ValueError::TooLong { what: "text", max: MAX });
        }
        // NUL cannot be stored in jsonb at all; other control characters only hide what was written.
        if trimmed.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(ValueError::ControlCharacters { what: "text" });
        }
        Ok(Self(trimmed.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl<const MAX: usize> TryFrom<String> for Text<MAX> {
    type Error = ValueError;
    fn try_from(raw: String) -> Result<Self, ValueError> {
        Self::parse(&raw)
    }
}
impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(value: Text<MAX>) -> String {
        value.0
    }
}
impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name: a line's, a person's printed name, an equipment's.
pub type Name = Text<200>;
/// Why a record was changed, voided or cancelled (Part 11 11.10(e), Annex 11 §9).
pub type Reason = Text<1000>;
/// Longer free text: an Andon call's description, a resolution, a checklist answer.
pub type Description = Text<4000>;

/// A strictly positive duration in integer milliseconds (OEE arithmetic is exact), at
/// most [`Millis::MAX`]: a year and a day, longer than any cycle, shift, threshold or escalation delay,
/// and small enough that a year of bookings at [`Units::MAX`] priced with it stays within i128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Millis(u64);

impl Millis {
    pub const MAX: u64 = 366 * 24 * 60 * 60 * 1000;

    pub const fn new(ms: u64) -> Result<Self, ValueError> {
        if ms == 0 {
            Err(ValueError::NotPositive { what: "duration" })
        } else if ms > Self::MAX {
            Err(ValueError::OutOfRange { what: "duration in milliseconds", max: Self::MAX })
        } else {
            Ok(Self(ms))
        }
    }
    pub const fn get(self) -> u64 {
        self.0
    }
}
impl TryFrom<u64> for Millis {
    type Error = ValueError;
    fn try_from(ms: u64) -> Result<Self, ValueError> {
        Self::new(ms)
    }
}
impl From<Millis> for u64 {
    fn from(value: Millis) -> u64 {
        value.0
    }
}

/// Units in one booking: a production record, one counter step, the size of one correction. Bounded so
/// that no read model or OEE sum can overflow (docs/bounds.md): a line booking the maximum every
/// millisecond for a year books 3.2e18 units, below the read models' i64 (9.2e18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Units(u64);

impl Units {
    pub const MAX: u64 = 100_000_000;

    pub const fn new(units: u64) -> Result<Self, ValueError> {
        if units > Self::MAX {
            Err(ValueError::OutOfRange { what: "units in one booking", max: Self::MAX })
        } else {
            Ok(Self(units))
        }
    }
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The size of a signed change of units (a correction), bounded like a booking.
    pub fn of_change(delta: i64) -> Result<Self, ValueError> {
        Self::new(delta.unsigned_abs())
    }
}
impl TryFrom<u64> for Units {
    type Error = ValueError;
    fn try_from(units: u64) -> Result<Self, ValueError> {
        Self::new(units)
    }
}
impl From<Units> for u64 {
    fn from(value: Units) -> u64 {
        value.0
    }
}

/// Where an Andon call or a downtime's loss is booked (docs/shop-floor.md, "Downtime reasons").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LossCategory {
    Unplanned,
    Planned,
    Setup,
    SmallStop,
    SlowCycle,
    ProductionReject,
    StartupReject,
    Excluded,
}

/// Where a rejected unit's loss is booked in the loss tree (docs/oee.md, "The loss tree"): made while the
/// line was starting up (after a changeover, a restart), or in stable production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RejectCategory {
    Startup,
    Production,
}

impl LossCategory {
    /// Planned stops come off planned production time; everything else that stops a line is downtime.
    pub fn is_planned(self) -> bool {
        matches!(self, Self::Planned | Self::Excluded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_accept_floor_spellings_and_refuse_the_rest() {
        assert!(LineCode::parse("LINE-3").is_ok());
        assert!(ReasonCode::parse("mech.jam_2").is_ok());
        assert_eq!(LineCode::parse(""), Err(ValueError::Empty { what: "line id" }));
        assert_eq!(LineCode::parse("-x"), Err(ValueError::BadCharacters { what: "line id" }));
        assert_eq!(LineCode::parse("a b"), Err(ValueError::BadCharacters { what: "line id" }));
        assert_eq!(LineCode::parse(&"a".repeat(65)), Err(ValueError::TooLong { what: "line id", max: 64 }));
    }

    #[test]
    fn text_is_trimmed_and_never_blank() {
        assert_eq!(Reason::parse("  wrong code ").map(|r| r.to_string()), Ok("wrong code".into()));
        assert!(Reason::parse("   ").is_err());
        assert!(Name::parse(&"x".repeat(201)).is_err());
        assert_eq!(Reason::parse("a\u{0}b"), Err(ValueError::ControlCharacters { what: "text" }));
        assert!(Reason::parse("line one\nline two\tend").is_ok());
    }

    #[test]
    fn deserialising_goes_through_the_parser() {
        let bad: Result<LineCode, _> = serde_json::from_str("\"no spaces\"");
        assert!(bad.is_err());
        let zero: Result<Millis, _> = serde_json::from_str("0");
        assert!(zero.is_err());
    }
}
