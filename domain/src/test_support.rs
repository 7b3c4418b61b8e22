//! What the domain's tests share: given/when/then, a fixed "now", and the values most tests use.

use chrono::{DateTime, Utc};

use crate::aggregate::Aggregate;
use crate::line_id::LineId;
use crate::values::{Description, Name, ProductId, Reason, ReasonCode};

/// Given/when/then for aggregate tests: replay `given`, handle `when`, return the decision.
pub(crate) fn given<A: Aggregate>(given: &[A::Event], when: A::Command) -> Result<Vec<A::Event>, A::Error> {
    let mut state = A::default();
    for event in given {
        state.apply(event);
    }
    state.handle(when, test_now())
}

pub(crate) fn test_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

/// Line 3 of the packing area of plant 1.
pub(crate) fn line() -> LineId {
    LineId::parse("plant-1/packing/L3").unwrap_or_else(|_| panic!("valid line path"))
}

pub(crate) fn product() -> ProductId {
    ProductId::parse("BOTTLE-500").unwrap_or_else(|_| panic!("valid product"))
}

pub(crate) fn name(text: &str) -> Name {
    Name::parse(text).unwrap_or_else(|_| panic!("valid name: {text}"))
}

pub(crate) fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap_or_else(|_| panic!("valid reason: {text}"))
}

pub(crate) fn code(text: &str) -> ReasonCode {
    ReasonCode::parse(text).unwrap_or_else(|_| panic!("valid code: {text}"))
}

pub(crate) fn text(value: &str) -> Description {
    Description::parse(value).unwrap_or_else(|_| panic!("valid text: {value}"))
}

/// A person acting in `role`, named after the role.
pub(crate) fn person(number: u128, role: crate::actor::Role) -> crate::actor::Actor {
    crate::actor::Actor {
        user_id: crate::actor::UserId::from_uuid(uuid::Uuid::from_u128(number)),
        printed_name: name(&format!("Person {number}")),
        role,
    }
}

/// `signer`'s request to sign record `record_type/1` at `version` with `meaning`.
pub(crate) fn signing(
    record_type: &str,
    meaning: crate::signature::Meaning,
    signer: crate::actor::Actor,
    version: u64,
) -> crate::signature::SignatureRequest {
    crate::signature::SignatureRequest {
        id: uuid::Uuid::from_u128(1000 + u128::from(version)),
        meaning,
        signer,
        record: crate::signature::RecordRef { record_type: record_type.into(), record_id: "1".into() },
        version,
        record_hash: format!("{version:064x}"),
    }
}
