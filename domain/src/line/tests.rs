use chrono::{DateTime, Duration, Utc};

use super::calendar::tests::shift;
use super::*;
use crate::aggregate::Aggregate as _;
use crate::test_support::{code, given, line, name, product, reason, test_now};

fn ms(value: u64) -> Millis {
    Millis::new(value).unwrap_or_else(|_| panic!("positive"))
}
fn at(hours: i64) -> DateTime<Utc> {
    test_now() + Duration::hours(hours)
}
fn registered() -> LineEvent {
    LineEvent::LineRegistered { line: line(), name: name("Line 3"), time_zone: chrono_tz::Europe::Berlin }
}
fn reason_defined(text: &str, parent: Option<&str>) -> LineEvent {
    LineEvent::DowntimeReasonDefined {
        code: code(text),
        label: name(text),
        parent: parent.map(code),
        loss_category: LossCategory::Unplanned,
        reason: None,
    }
}

#[test]
fn registers_a_line_once() {
    let command = LineCommand::Register { line: line(), name: name("Line 3"), time_zone: chrono_tz::Europe::Berlin };
    assert_eq!(given::<Line>(&[], command.clone()), Ok(vec![registered()]));
    assert_eq!(given::<Line>(&[registered()], command), Err(LineError::AlreadyRegistered));
}

#[test]
fn rejects_configuration_of_an_unregistered_line() {
    let command = LineCommand::AddEquipment { equipment: EquipmentId::parse("filler").unwrap(), name: name("Filler") };
    assert_eq!(given::<Line>(&[], command), Err(LineError::NotRegistered));
}

#[test]
fn adds_equipment_and_rejects_a_duplicate() {
    let filler = EquipmentId::parse("filler").unwrap();
    let command = LineCommand::AddEquipment { equipment: filler.clone(), name: name("Filler") };
    let added = LineEvent::EquipmentAdded { equipment: filler.clone(), name: name("Filler") };
    assert_eq!(given::<Line>(&[registered()], command.clone()), Ok(vec![added.clone()]));
    assert_eq!(given::<Line>(&[registered(), added], command), Err(LineError::DuplicateEquipment(filler)));
}

#[test]
fn versions_ideal_cycle_times_and_requires_a_reason_to_change_one() {
    let first = LineCommand::SetIdealCycleTime {
        product: product(),
        ideal_cycle_time: ms(1000),
        effective_from: at(0),
        reason: None,
    };
    let first_set = LineEvent::IdealCycleTimeSet {
        product: product(),
        version: 1,
        ideal_cycle_time: ms(1000),
        effective_from: at(0),
        reason: None,
    };
    assert_eq!(given::<Line>(&[registered()], first), Ok(vec![first_set.clone()]));

    let history = [registered(), first_set];
    let without_reason = LineCommand::SetIdealCycleTime {
        product: product(),
        ideal_cycle_time: ms(900),
        effective_from: at(1),
        reason: None,
    };
    assert_eq!(given::<Line>(&history, without_reason), Err(LineError::ReasonRequired));

    let backdated = LineCommand::SetIdealCycleTime {
        product: product(),
        ideal_cycle_time: ms(900),
        effective_from: at(0),
        reason: Some(reason("faster nozzle")),
    };
    assert_eq!(given::<Line>(&history, backdated), Err(LineError::NotAfterCurrentVersion { current: at(0) }));

    let change = LineCommand::SetIdealCycleTime {
        product: product(),
        ideal_cycle_time: ms(900),
        effective_from: at(1),
        reason: Some(reason("faster nozzle")),
    };
    assert_eq!(
        given::<Line>(&history, change),
        Ok(vec![LineEvent::IdealCycleTimeSet {
            product: product(),
            version: 2,
            ideal_cycle_time: ms(900),
            effective_from: at(1),
            reason: Some(reason("faster nozzle"))
        }])
    );
}

#[test]
fn sets_a_shift_calendar_and_rejects_overlapping_shifts() {
    let good = vec![shift("early", "06:00", "14:00", &[("10:00", 30)]), shift("late", "14:00", "22:00", &[])];
    let command = LineCommand::SetShiftCalendar { shifts: good.clone(), effective_from: at(0), reason: None };
    assert_eq!(
        given::<Line>(&[registered()], command),
        Ok(vec![LineEvent::ShiftCalendarSet { version: 1, shifts: good, effective_from: at(0), reason: None }])
    );
    let overlapping = vec![shift("early", "06:00", "14:00", &[]), shift("late", "13:00", "22:00", &[])];
    let command = LineCommand::SetShiftCalendar { shifts: overlapping, effective_from: at(0), reason: None };
    assert!(matches!(
        given::<Line>(&[registered()], command),
        Err(LineError::Calendar(CalendarError::OverlappingShifts(..)))
    ));
}

#[test]
fn versions_the_small_stop_threshold_with_the_default_before_the_first() {
    let command = LineCommand::SetSmallStopThreshold { threshold: ms(60_000), effective_from: at(1), reason: None };
    let set =
        LineEvent::SmallStopThresholdSet { version: 1, threshold: ms(60_000), effective_from: at(1), reason: None };
    assert_eq!(given::<Line>(&[registered()], command), Ok(vec![set.clone()]));
    let mut line = Line::default();
    line.apply(&registered());
    line.apply(&set);
    assert_eq!(line.small_stop_threshold_at(at(0)), DEFAULT_SMALL_STOP_THRESHOLD);
    assert_eq!(line.small_stop_threshold_at(at(2)), ms(60_000));
    let again = LineCommand::SetSmallStopThreshold { threshold: ms(30_000), effective_from: at(2), reason: None };
    assert_eq!(given::<Line>(&[registered(), set], again), Err(LineError::ReasonRequired));
}

#[test]
fn versions_escalation_ladders_per_call_type_and_a_call_follows_the_one_in_force_when_raised() {
    use crate::andon::{CallType, EscalationLadder, Tier};
    let safety =
        EscalationLadder::new(vec![Tier { level: 2, unacknowledged_after: Some(ms(60_000)), unresolved_after: None }])
            .unwrap();
    let command = LineCommand::SetEscalationLadder {
        call_type: CallType::Safety,
        ladder: safety.clone(),
        effective_from: at(1),
        reason: None,
    };
    let set = LineEvent::EscalationLadderSet {
        call_type: CallType::Safety,
        version: 1,
        ladder: safety.clone(),
        effective_from: at(1),
        reason: None,
    };
    assert_eq!(given::<Line>(&[registered()], command.clone()), Ok(vec![set.clone()]));
    let mut line = Line::default();
    line.apply(&registered());
    line.apply(&set);
    assert_eq!(line.escalation_ladder_at(CallType::Safety, at(0)), EscalationLadder::default(), "raised before");
    assert_eq!(line.escalation_ladder_at(CallType::Safety, at(2)), safety);
    assert_eq!(line.escalation_ladder_at(CallType::Quality, at(2)), EscalationLadder::default(), "other types");
    let again = LineCommand::SetEscalationLadder {
        call_type: CallType::Safety,
        ladder: EscalationLadder::default(),
        effective_from: at(2),
        reason: None,
    };
    assert_eq!(given::<Line>(&[registered(), set], again), Err(LineError::ReasonRequired));
}

#[test]
fn defines_a_reason_tree_under_known_parents_only() {
    let root = reason_defined("mech", None);
    let child = LineCommand::DefineDowntimeReason {
        code: code("mech.jam"),
        label: name("mech.jam"),
        parent: Some(code("mech")),
        loss_category: LossCategory::Unplanned,
        reason: None,
    };
    assert_eq!(
        given::<Line>(&[registered(), root.clone()], child.clone()),
        Ok(vec![reason_defined("mech.jam", Some("mech"))])
    );
    assert_eq!(given::<Line>(&[registered()], child), Err(LineError::UnknownReason(code("mech"))));
}

#[test]
fn redefining_an_unused_code_needs_a_reason_and_a_used_code_never_changes() {
    let history = [registered(), reason_defined("jam", None)];
    let redefine = |with_reason: Option<Reason>| LineCommand::DefineDowntimeReason {
        code: code("jam"),
        label: name("Jam at infeed"),
        parent: None,
        loss_category: LossCategory::Unplanned,
        reason: with_reason,
    };
    assert_eq!(given::<Line>(&history, redefine(None)), Err(LineError::ReasonRequired));
    assert!(given::<Line>(&history, redefine(Some(reason("clearer label")))).is_ok());

    let used = [registered(), reason_defined("jam", None), LineEvent::DowntimeReasonMarkedUsed { code: code("jam") }];
    assert_eq!(given::<Line>(&used, redefine(Some(reason("clearer label")))), Err(LineError::ReasonInUse(code("jam"))));
    let child_of_used = LineCommand::DefineDowntimeReason {
        code: code("jam.a"),
        label: name("a"),
        parent: Some(code("jam")),
        loss_category: LossCategory::Unplanned,
        reason: None,
    };
    assert_eq!(given::<Line>(&used, child_of_used), Err(LineError::ReasonInUse(code("jam"))));
}

#[test]
fn rejects_a_reason_that_would_become_its_own_ancestor() {
    let history = [registered(), reason_defined("a", None), reason_defined("b", Some("a"))];
    let cycle = LineCommand::DefineDowntimeReason {
        code: code("a"),
        label: name("a"),
        parent: Some(code("b")),
        loss_category: LossCategory::Unplanned,
        reason: Some(reason("move")),
    };
    assert_eq!(given::<Line>(&history, cycle), Err(LineError::ReasonCycle(code("a"))));
}

#[test]
fn marks_a_leaf_used_once_and_refuses_parents_and_unknown_codes() {
    let history = [registered(), reason_defined("mech", None), reason_defined("mech.jam", Some("mech"))];
    let mark = |text: &str| LineCommand::MarkDowntimeReasonUsed { code: code(text) };
    assert_eq!(
        given::<Line>(&history, mark("mech.jam")),
        Ok(vec![LineEvent::DowntimeReasonMarkedUsed { code: code("mech.jam") }])
    );
    assert_eq!(given::<Line>(&history, mark("mech")), Err(LineError::NotALeaf(code("mech"))));
    assert_eq!(given::<Line>(&history, mark("nope")), Err(LineError::UnknownReason(code("nope"))));
    let marked = [registered(), reason_defined("jam", None), LineEvent::DowntimeReasonMarkedUsed { code: code("jam") }];
    assert_eq!(given::<Line>(&marked, mark("jam")), Ok(vec![]));
}

#[test]
fn a_new_shift_calendar_version_needs_a_reason_and_a_later_start() {
    let shifts = vec![shift("early", "06:00", "14:00", &[])];
    let first = LineEvent::ShiftCalendarSet { version: 1, shifts: shifts.clone(), effective_from: at(0), reason: None };
    let history = [registered(), first];
    let change = |from: DateTime<Utc>, why: Option<Reason>| LineCommand::SetShiftCalendar {
        shifts: shifts.clone(),
        effective_from: from,
        reason: why,
    };
    assert_eq!(given::<Line>(&history, change(at(24), None)), Err(LineError::ReasonRequired));
    assert_eq!(
        given::<Line>(&history, change(at(0), Some(reason("summer hours")))),
        Err(LineError::NotAfterCurrentVersion { current: at(0) })
    );
    let accepted = given::<Line>(&history, change(at(24), Some(reason("summer hours"))));
    assert!(matches!(accepted.as_deref(), Ok([LineEvent::ShiftCalendarSet { version: 2, .. }])));
}

#[test]
fn reject_reasons_are_a_tree_of_their_own_with_a_category_per_leaf() {
    let define = |text: &str, parent: Option<&str>, category| LineCommand::DefineRejectReason {
        code: code(text),
        label: name(text),
        parent: parent.map(code),
        category,
        reason: None,
    };
    let defined = |text: &str, parent: Option<&str>, category| LineEvent::RejectReasonDefined {
        code: code(text),
        label: name(text),
        parent: parent.map(code),
        category,
        reason: None,
    };
    let startup = RejectCategory::Startup;
    assert_eq!(
        given::<Line>(&[registered()], define("seal", None, RejectCategory::Production)),
        Ok(vec![defined("seal", None, RejectCategory::Production)])
    );
    // A downtime reason's code is no reject reason: the trees are separate.
    let history = [registered(), reason_defined("jam", None), defined("seal", None, startup)];
    assert_eq!(
        given::<Line>(&history, define("seal.warm-up", Some("jam"), startup)),
        Err(LineError::UnknownReason(code("jam")))
    );
    let mut history = history.to_vec();
    history.push(defined("seal.warm-up", Some("seal"), startup));
    let mut line = Line::default();
    history.iter().for_each(|event| line.apply(event));
    assert_eq!(
        line.reject_reason(&code("seal.warm-up")),
        Ok(RejectReason { code: code("seal.warm-up"), category: startup })
    );
    assert_eq!(line.reject_reason(&code("seal")), Err(LineError::NotALeaf(code("seal"))));
    assert_eq!(line.reject_reason(&code("jam")), Err(LineError::UnknownReason(code("jam"))));
    let mark = LineCommand::MarkRejectReasonUsed { code: code("seal.warm-up") };
    let marked = LineEvent::RejectReasonMarkedUsed { code: code("seal.warm-up") };
    assert_eq!(given::<Line>(&history, mark.clone()), Ok(vec![marked.clone()]));
    history.push(marked);
    assert_eq!(given::<Line>(&history, mark), Ok(vec![]), "marking twice changes nothing");
    let redefine = LineCommand::DefineRejectReason {
        code: code("seal.warm-up"),
        label: name("warm-up"),
        parent: Some(code("seal")),
        category: RejectCategory::Production,
        reason: Some(reason("reclassify")),
    };
    assert_eq!(given::<Line>(&history, redefine), Err(LineError::ReasonInUse(code("seal.warm-up"))));
}
