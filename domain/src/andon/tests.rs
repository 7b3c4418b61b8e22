use chrono::{DateTime, Utc};

use super::*;
use crate::test_support::{given, test_now, text};

fn now() -> DateTime<Utc> {
    test_now()
}
fn raised() -> AndonEvent {
    AndonEvent::AndonRaised {
        line: LineId::parse("plant-1/packing/L3").unwrap(),
        station: StationId::parse("capper").unwrap(),
        call_type: CallType::Maintenance,
        priority: Priority::High,
        description: text("capper jams every few minutes"),
        at: now(),
    }
}
fn acknowledged() -> Vec<AndonEvent> {
    vec![raised(), AndonEvent::AndonAcknowledged { at: now() }]
}
fn resolve() -> AndonCommand {
    AndonCommand::Resolve { resolution: text("replaced torque head"), root_cause: text("worn clutch") }
}
fn cancel() -> AndonCommand {
    AndonCommand::Cancel { reason: Reason::parse("raised on the wrong line").unwrap() }
}

#[test]
fn raises_a_call_once() {
    let raise = AndonCommand::Raise {
        line: LineId::parse("plant-1/packing/L3").unwrap(),
        station: StationId::parse("capper").unwrap(),
        call_type: CallType::Maintenance,
        priority: Priority::High,
        description: text("capper jams every few minutes"),
    };
    assert_eq!(given::<AndonCall>(&[], raise.clone()), Ok(vec![raised()]));
    assert_eq!(given::<AndonCall>(&[raised()], raise), Err(AndonError::AlreadyRaised));
}

#[test]
fn acknowledges_a_raised_call_once() {
    assert_eq!(
        given::<AndonCall>(&[raised()], AndonCommand::Acknowledge),
        Ok(vec![AndonEvent::AndonAcknowledged { at: now() }])
    );
    assert_eq!(given::<AndonCall>(&[], AndonCommand::Acknowledge), Err(AndonError::NotRaised));
    assert_eq!(
        given::<AndonCall>(&acknowledged(), AndonCommand::Acknowledge),
        Err(AndonError::WrongStatus { action: "acknowledge", status: AndonStatus::Acknowledged })
    );
}

#[test]
fn escalates_upwards_only_and_not_past_the_top_tier() {
    assert_eq!(
        given::<AndonCall>(&[raised()], AndonCommand::Escalate { level: 2 }),
        Ok(vec![AndonEvent::AndonEscalated { level: 2, at: now() }])
    );
    assert!(given::<AndonCall>(&acknowledged(), AndonCommand::Escalate { level: 3 }).is_ok());
    assert_eq!(
        given::<AndonCall>(&[raised()], AndonCommand::Escalate { level: 1 }),
        Err(AndonError::BadEscalationLevel { current: 1 })
    );
    assert_eq!(
        given::<AndonCall>(&[raised()], AndonCommand::Escalate { level: 5 }),
        Err(AndonError::BadEscalationLevel { current: 1 })
    );
    let at_three = [raised(), AndonEvent::AndonEscalated { level: 3, at: now() }];
    assert_eq!(
        given::<AndonCall>(&at_three, AndonCommand::Escalate { level: 2 }),
        Err(AndonError::BadEscalationLevel { current: 3 })
    );
}

#[test]
fn resolves_only_an_acknowledged_call() {
    assert_eq!(
        given::<AndonCall>(&acknowledged(), resolve()),
        Ok(vec![AndonEvent::AndonResolved {
            resolution: text("replaced torque head"),
            root_cause: text("worn clutch"),
            at: now()
        }])
    );
    assert_eq!(
        given::<AndonCall>(&[raised()], resolve()),
        Err(AndonError::WrongStatus { action: "resolve", status: AndonStatus::Raised })
    );
}

#[test]
fn cancels_an_open_call_with_a_reason_and_nothing_follows_a_closed_one() {
    assert!(given::<AndonCall>(&[raised()], cancel()).is_ok());
    let mut resolved = acknowledged();
    resolved.push(AndonEvent::AndonResolved { resolution: text("r"), root_cause: text("c"), at: now() });
    assert_eq!(
        given::<AndonCall>(&resolved, cancel()),
        Err(AndonError::WrongStatus { action: "cancel", status: AndonStatus::Resolved })
    );
    assert_eq!(
        given::<AndonCall>(&resolved, AndonCommand::Escalate { level: 2 }),
        Err(AndonError::WrongStatus { action: "escalate", status: AndonStatus::Resolved })
    );
}
