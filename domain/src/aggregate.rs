//! The shape every aggregate has: a pure decision over its own state and an `apply` that only assigns.
//! The write side adapts this trait to cqrs-es; keeping it here keeps `domain` free of any async runtime.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::values::Reason;

pub trait Aggregate: Default + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Persisted name of the aggregate type: an API, never renamed in place.
    const TYPE: &'static str;
    type Command: Command;
    type Event: Event;
    type Error: std::error::Error + Rule + Send + Sync + 'static;

    /// Decides which events a command produces on the current state. `now` is the server's clock,
    /// passed in so that deciding (and replaying) never reads a clock of its own.
    fn handle(&self, command: Self::Command, now: DateTime<Utc>) -> Result<Vec<Self::Event>, Self::Error>;

    /// Folds one event into the state. Never fails: events are facts that already happened.
    fn apply(&mut self, event: &Self::Event);
}

/// A refusal's stable, machine-readable name (`wrong_status`): clients branch on it, so it is written out
/// for every variant, never derived from a type's name, and renaming a variant changes no code.
pub trait Rule {
    fn code(&self) -> &'static str;
}

pub trait Command: Send + Sync + 'static {
    /// The reason for change this command carries, when it changes or voids a record.
    /// The write side copies it into every event's metadata.
    fn reason(&self) -> Option<&Reason> {
        None
    }
}

/// Events serialise externally tagged (`{"JobStarted": {...}}`): the tag is the persisted event type.
pub trait Event: Serialize + DeserializeOwned + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// Every persisted event type of this enum, in declaration order.
    const TYPES: &'static [&'static str];
    fn event_type(&self) -> &'static str;
    /// Schema version of this event's payload; a shape change bumps it and adds an upcaster
    /// (`crate::versions`).
    fn event_version(&self) -> u32 {
        crate::versions::current(self.event_type())
    }
}

/// The event types that change what an earlier event recorded (a correction, always with its reason):
/// what a printout marks "changed since original entry" (Part 11 AT-12). Configuration that takes a new
/// version from a time on is not a correction: the earlier version stays true for its time.
pub const CORRECTIONS: &[&str] =
    &["DowntimeReasonChanged", "ChecklistAnswerChanged", "PrintedNameChanged", "ProductionCorrected"];

/// Declares an event enum of struct variants and derives its `Event::event_type` from the variant names.
macro_rules! event_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident { $($body:tt)* }),* $(,)? }) => {
        $(#[$meta])*
        pub enum $name { $($(#[$vmeta])* $variant { $($body)* }),* }

        impl $crate::aggregate::Event for $name {
            const TYPES: &'static [&'static str] = &[$(stringify!($variant)),*];
            fn event_type(&self) -> &'static str {
                match self { $(Self::$variant { .. } => stringify!($variant)),* }
            }
        }
    };
}
pub(crate) use event_enum;
