use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::test_support::{given, line, reason, test_now};

fn now() -> DateTime<Utc> {
    test_now()
}
fn threshold() -> Millis {
    Millis::new(120_000).unwrap()
}
fn reason_code(code: &str, loss_category: LossCategory) -> AssignableReason {
    AssignableReason { code: ReasonCode::parse(code).unwrap(), loss_category }
}
fn plc() -> StopSource {
    StopSource::Plc { device: DeviceId::parse("gw-1").unwrap() }
}
fn started() -> DowntimeEvent {
    DowntimeEvent::DowntimeStarted {
        line: line(),
        equipment: None,
        source: plc(),
        started_at: now() - Duration::minutes(10),
        small_stop_threshold: threshold(),
        at: now(),
    }
}
fn assigned() -> DowntimeEvent {
    DowntimeEvent::DowntimeReasonAssigned {
        reason_code: reason_code("jam", LossCategory::Unplanned).code,
        loss_category: LossCategory::Unplanned,
        at: now(),
    }
}
fn end_after(minutes: i64) -> DowntimeCommand {
    DowntimeCommand::End { ended_at: now() - Duration::minutes(10) + Duration::minutes(minutes) }
}

#[test]
fn starts_a_stop_at_the_source_time_once() {
    let start = DowntimeCommand::Start {
        line: line(),
        equipment: None,
        source: plc(),
        started_at: now() - Duration::minutes(10),
        small_stop_threshold: threshold(),
    };
    assert_eq!(given::<Downtime>(&[], start.clone()), Ok(vec![started()]));
    assert_eq!(given::<Downtime>(&[started()], start), Err(DowntimeError::AlreadyStarted));
}

#[test]
fn refuses_a_stop_in_the_future_beyond_clock_skew() {
    let late = now() + Duration::minutes(6);
    let start = DowntimeCommand::Start {
        line: line(),
        equipment: None,
        source: StopSource::Operator,
        started_at: late,
        small_stop_threshold: threshold(),
    };
    assert_eq!(given::<Downtime>(&[], start), Err(DowntimeError::InTheFuture(late)));
}

#[test]
fn assigns_a_reason_once_to_a_started_stop() {
    let assign = DowntimeCommand::AssignReason { reason_code: reason_code("jam", LossCategory::Unplanned) };
    assert_eq!(given::<Downtime>(&[started()], assign.clone()), Ok(vec![assigned()]));
    assert_eq!(given::<Downtime>(&[], assign.clone()), Err(DowntimeError::NotStarted));
    assert_eq!(given::<Downtime>(&[started(), assigned()], assign), Err(DowntimeError::ReasonAlreadyAssigned));
}

#[test]
fn changing_a_reason_keeps_the_old_value_and_the_reason_for_change() {
    let change = DowntimeCommand::ChangeReason {
        reason_code: reason_code("changeover", LossCategory::Setup),
        reason: reason("was a planned changeover"),
        shift_ended: false,
        signature: None,
    };
    assert_eq!(
        given::<Downtime>(&[started(), assigned()], change.clone()),
        Ok(vec![DowntimeEvent::DowntimeReasonChanged {
            from: reason_code("jam", LossCategory::Unplanned).code,
            to: reason_code("changeover", LossCategory::Setup).code,
            loss_category: LossCategory::Setup,
            reason: reason("was a planned changeover"),
            at: now(),
        }])
    );
    assert_eq!(given::<Downtime>(&[started()], change.clone()), Err(DowntimeError::NoReasonAssigned));
    assert_eq!(given::<Downtime>(&[], change), Err(DowntimeError::NotStarted));
    let same = DowntimeCommand::ChangeReason {
        reason_code: reason_code("jam", LossCategory::Unplanned),
        reason: reason("x"),
        shift_ended: false,
        signature: None,
    };
    assert!(matches!(given::<Downtime>(&[started(), assigned()], same), Err(DowntimeError::SameReason(_))));
}

#[test]
fn a_stop_shorter_than_the_threshold_ends_as_a_small_stop() {
    let ended = given::<Downtime>(&[started()], end_after(1));
    assert!(matches!(ended.as_deref(), Ok([DowntimeEvent::DowntimeEnded { class: StopClass::SmallStop, .. }])));
    let ended = given::<Downtime>(&[started()], end_after(2));
    assert!(
        matches!(ended.as_deref(), Ok([DowntimeEvent::DowntimeEnded { class: StopClass::Downtime, duration, .. }]) if duration.get() == 120_000)
    );
}

#[test]
fn refuses_to_end_a_stop_twice_before_it_started_or_before_its_start() {
    assert_eq!(given::<Downtime>(&[], end_after(1)), Err(DowntimeError::NotStarted));
    assert_eq!(
        given::<Downtime>(&[started()], end_after(0)),
        Err(DowntimeError::EndsBeforeStart { started_at: now() - Duration::minutes(10) })
    );
    let ended = DowntimeEvent::DowntimeEnded {
        ended_at: now(),
        duration: Millis::new(600_000).unwrap(),
        class: StopClass::Downtime,
        at: now(),
    };
    assert_eq!(given::<Downtime>(&[started(), ended], end_after(11)), Err(DowntimeError::AlreadyEnded));
    let future = now() + Duration::hours(1);
    assert_eq!(
        given::<Downtime>(&[started()], DowntimeCommand::End { ended_at: future }),
        Err(DowntimeError::InTheFuture(future))
    );
}

#[test]
fn the_loss_category_follows_the_reason_and_is_unplanned_until_explained() {
    let mut stop = Downtime::default();
    aggregate::Aggregate::apply(&mut stop, &started());
    assert_eq!(stop.loss_category(), LossCategory::Unplanned);
    aggregate::Aggregate::apply(
        &mut stop,
        &DowntimeEvent::DowntimeReasonAssigned {
            reason_code: reason_code("break", LossCategory::Planned).code,
            loss_category: LossCategory::Planned,
            at: now(),
        },
    );
    assert!(stop.loss_category().is_planned());
}

#[test]
fn at_04_a_stop_recorded_in_error_is_voided_once_with_a_reason_and_then_takes_nothing_more() {
    let void = DowntimeCommand::Void { reason: reason("the PLC reported a stop that never happened") };
    let voided =
        DowntimeEvent::DowntimeVoided { reason: reason("the PLC reported a stop that never happened"), at: now() };
    assert_eq!(given::<Downtime>(&[started(), assigned()], void.clone()), Ok(vec![voided.clone()]));
    assert_eq!(given::<Downtime>(&[], void.clone()), Err(DowntimeError::NotStarted));
    assert_eq!(given::<Downtime>(&[started(), voided.clone()], void), Err(DowntimeError::Voided));
    assert_eq!(given::<Downtime>(&[started(), voided], end_after(20)), Err(DowntimeError::Voided));
}
