//! The schema versions of stored events. A stored event is never rewritten: when an event type's
//! payload changes shape it gets the next version here, with an upcaster that raises a payload of the
//! version before to it, and readers raise every stored event, step by step, to the shape the domain
//! reads now. The version is part of what the event's hash covers. docs/event-store.md, "Event versions".

use serde_json::{Map, Value};

/// An upcaster: the payload of one version, changed in place into the next.
type Upcaster = fn(&mut Map<String, Value>);

/// Every event type whose shape changed: its current version, and the upcaster from each version
/// before it (index 0 raises version 1 to 2).
const CHANGED: &[(&str, &[Upcaster])] = &[("ProductionRecorded", &[production_recorded_v1_to_v2])];

/// The version of `event_type` this code writes and reads (1 for a type that never changed).
pub fn current(event_type: &str) -> u32 {
    CHANGED
        .iter()
        .find(|(changed, _)| *changed == event_type)
        .map_or(1, |(_, upcasters)| u32::try_from(upcasters.len()).unwrap_or(u32::MAX - 1) + 1)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// Written by a newer release than this one (during a rolling upgrade a release must read a new
    /// version before any release writes it).
    #[error("{event_type} version {stored} is newer than this release reads ({current})")]
    Newer { event_type: String, stored: u32, current: u32 },
    #[error("{event_type} version {stored}: the payload is not an object")]
    NotAnObject { event_type: String, stored: u32 },
}

/// Raises a payload stored as `stored` to the current version of `event_type`.
pub fn upcast(event_type: &str, stored: u32, payload: Value) -> Result<Value, UpcastError> {
    let current = current(event_type);
    if stored > current {
        return Err(UpcastError::Newer { event_type: event_type.to_owned(), stored, current });
    }
    if stored == current {
        return Ok(payload);
    }
    let Value::Object(mut fields) = payload else {
        return Err(UpcastError::NotAnObject { event_type: event_type.to_owned(), stored });
    };
    let upcasters = CHANGED.iter().find(|(changed, _)| *changed == event_type).map_or(&[][..], |(_, up)| *up);
    // Version 0 is no version: rows are checked to be at least 1, and a 0 is raised like a 1.
    let from = usize::try_from(stored.max(1) - 1).unwrap_or(usize::MAX);
    for raise in upcasters.iter().skip(from) {
        raise(&mut fields);
    }
    Ok(Value::Object(fields))
}

/// Version 2 always names the rejects' category. Records of version 1 were made before reject reasons
/// were a tree (their codes were free text): their category is unknown, which the loss tree books as
/// production rejects.
fn production_recorded_v1_to_v2(fields: &mut Map<String, Value>) {
    fields.entry("reject_category").or_insert(Value::Null);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stored_version_is_raised_to_the_current_one_and_a_newer_one_is_refused() {
        assert_eq!(current("ProductionRecorded"), 2);
        assert_eq!(current("JobStarted"), 1);
        let v1 = json!({"good": 5, "reject": 1, "reject_reason": "SCRATCH", "at": "2026-11-02T06:00:00Z"});
        let raised = upcast("ProductionRecorded", 1, v1).unwrap();
        assert_eq!(raised["reject_category"], Value::Null);
        assert_eq!(raised["good"], 5);
        let v2 = json!({"good": 5, "reject": 1, "reject_reason": "SCRATCH", "reject_category": "startup",
                        "at": "2026-11-02T06:00:00Z"});
        assert_eq!(upcast("ProductionRecorded", 2, v2.clone()).unwrap(), v2);
        assert_eq!(
            upcast("ProductionRecorded", 3, v2),
            Err(UpcastError::Newer { event_type: "ProductionRecorded".into(), stored: 3, current: 2 })
        );
    }
}
