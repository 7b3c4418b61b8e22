//! Aggregate type names and event type names are stored with every event: they are an API, and renaming
//! one in place would orphan every stored event of it. This golden test pins them all; a new event type
//! adds a line to `persisted_names.txt`, and nothing may change or remove one.

// Test code: a failed unwrap is a failed test, with its error in the message (clippy.toml allows the
// same in unit tests; helpers outside a #[test] need it said here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use domain::{Aggregate, Event};

fn names<A: Aggregate>() -> String {
    format!("{}: {}\n", A::TYPE, <A::Event as Event>::TYPES.join(", "))
}

#[test]
fn every_persisted_aggregate_and_event_type_name_is_the_one_pinned() {
    let current = [
        names::<domain::line::Line>(),
        names::<domain::job::Job>(),
        names::<domain::downtime::Downtime>(),
        names::<domain::andon::AndonCall>(),
        names::<domain::checklist::ChecklistTemplate>(),
        names::<domain::checklist::Checklist>(),
        names::<domain::user::User>(),
        names::<domain::device::Device>(),
        names::<domain::export::Export>(),
        names::<domain::read_model::ReadModel>(),
        names::<domain::shift_report::ShiftReport>(),
    ]
    .concat();
    let pinned = include_str!("persisted_names.txt");
    for line in pinned.lines() {
        let (aggregate, events) = line.split_once(": ").unwrap_or((line, ""));
        let now = current.lines().find(|now| now.starts_with(&format!("{aggregate}: ")));
        let now_events: Vec<&str> =
            now.and_then(|now| now.split_once(": ")).map_or(vec![], |(_, e)| e.split(", ").collect());
        for event in events.split(", ") {
            assert!(now_events.contains(&event), "{aggregate}: persisted event type {event} was renamed or removed");
        }
    }
    assert_eq!(current, pinned, "a new name? add it to domain/tests/domain/persisted_names.txt");
}

#[test]
fn every_correction_named_for_printouts_is_a_persisted_event_type() {
    let pinned = include_str!("persisted_names.txt");
    let persisted: Vec<&str> =
        pinned.lines().filter_map(|line| line.split_once(": ")).flat_map(|(_, events)| events.split(", ")).collect();
    for correction in domain::aggregate::CORRECTIONS {
        assert!(persisted.contains(correction), "{correction} is not a persisted event type");
    }
}
