use chrono::NaiveDate;

use super::*;
use crate::actor::Role;
use crate::aggregate::Aggregate as _;
use crate::test_support::{given, line, name, person, signing, test_now, text};

fn key() -> ShiftKey {
    ShiftKey {
        line: line(),
        date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default(),
        shift: ShiftName::parse("early").unwrap_or_else(|_| panic!("valid shift")),
    }
}
fn prepare(content: &str) -> ShiftReportCommand {
    ShiftReportCommand::PrepareApproval { key: key(), content: content.to_owned(), shift_ended: true }
}
fn prepared(content: &str) -> ShiftReportEvent {
    ShiftReportEvent::ApprovalPrepared {
        key: key(),
        content: content.to_owned(),
        content_digest: content_digest(content),
        at: test_now(),
    }
}
fn folded(events: &[ShiftReportEvent]) -> ShiftReport {
    let mut report = ShiftReport::default();
    events.iter().for_each(|event| report.apply(event));
    report
}
fn leader_signs(report: &ShiftReport, version: u64) -> Result<Vec<ShiftReportEvent>, ShiftReportError> {
    let request = signing("shift_report", Meaning::Approved, person(7, Role::TeamLeader), version);
    report.handle(ShiftReportCommand::Sign(request), test_now())
}

#[test]
fn a_note_is_kept_with_its_author_and_the_record_names_its_line() {
    let note = ShiftReportCommand::AddHandoverNote {
        key: key(),
        author: person(7, Role::TeamLeader).user_id,
        author_name: name("Theo Leader"),
        note: text("Filler 2 leaks; maintenance booked for the late shift."),
    };
    let events = given::<ShiftReport>(&[], note);
    let report = folded(&events.unwrap_or_default());
    assert_eq!((report.notes.len(), report.line, report.version), (1, Some(line()), 1));
}

#[test]
fn a_report_is_prepared_only_once_its_shift_ended_and_the_same_content_is_not_prepared_twice() {
    let running = ShiftReportCommand::PrepareApproval { key: key(), content: "{}".into(), shift_ended: false };
    assert_eq!(given::<ShiftReport>(&[], running), Err(ShiftReportError::ShiftNotEnded));
    assert_eq!(given::<ShiftReport>(&[], prepare("{\"oee\":1}")), Ok(vec![prepared("{\"oee\":1}")]));
    assert_eq!(given::<ShiftReport>(&[prepared("{\"oee\":1}")], prepare("{\"oee\":1}")), Ok(vec![]));
    let other = ShiftKey { shift: ShiftName::parse("late").unwrap_or_else(|_| panic!("valid")), ..key() };
    let elsewhere = ShiftReportCommand::PrepareApproval { key: other, content: "{}".into(), shift_ended: true };
    assert!(matches!(given::<ShiftReport>(&[prepared("{}")], elsewhere), Err(ShiftReportError::OtherShift(_))));
}

/// Approved, then changed by a late reason (a new content), then approved again: the first approval
/// keeps its content readable until the second one stands.
#[test]
fn an_approval_covers_the_content_prepared_last_and_a_changed_report_needs_a_new_one() {
    let unprepared = folded(&[]);
    assert!(matches!(leader_signs(&unprepared, 0), Err(ShiftReportError::Signature(SignatureError::NotReady { .. }))));
    let mut history = vec![prepared("first")];
    let approval = leader_signs(&folded(&history), 1).unwrap_or_default();
    history.extend(approval);
    let report = folded(&history);
    assert_eq!(report.approved().map(|(prepared, _)| prepared.content.as_str()), Some("first"));
    // A signature at a version that does not end with the content is refused.
    assert!(matches!(leader_signs(&report, 2), Err(ShiftReportError::Signature(SignatureError::NotReady { .. }))));

    history.push(prepared("after a late reason"));
    let changed = folded(&history);
    assert_eq!(changed.approved().map(|(prepared, _)| prepared.content.as_str()), Some("first"), "still readable");
    history.extend(leader_signs(&changed, 3).unwrap_or_default());
    let again = folded(&history);
    assert_eq!(
        again.approved().map(|(prepared, held)| (prepared.content.as_str(), held.version)),
        Some(("after a late reason", 3))
    );
    let operator = signing("shift_report", Meaning::Approved, person(8, Role::Operator), 3);
    assert!(matches!(
        again.handle(ShiftReportCommand::Sign(operator), test_now()),
        Err(ShiftReportError::Signature(SignatureError::RoleMayNotSign { .. }))
    ));
}
