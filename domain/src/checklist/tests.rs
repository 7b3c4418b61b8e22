use chrono::{DateTime, Utc};

use super::*;
use crate::actor::Role;
use crate::line_id::LineId;
use crate::signature::Meaning;
use crate::test_support::{given, line, person, reason, signing, test_now};
use crate::values::Name;

fn now() -> DateTime<Utc> {
    test_now()
}
fn id(text: &str) -> ChecklistItemId {
    ChecklistItemId::parse(text).unwrap()
}
fn item(name: &str, kind: ItemKind, mandatory: bool) -> TemplateItem {
    TemplateItem { id: id(name), prompt: Name::parse(name).unwrap(), kind, mandatory }
}
fn items() -> Vec<TemplateItem> {
    vec![
        item("guards-closed", ItemKind::Check, true),
        item("fill-weight", ItemKind::Number { min: Some(495), max: Some(505) }, true),
        item("remarks", ItemKind::Text, false),
    ]
}
fn template() -> TemplateVersion {
    TemplateVersion { template_id: "startup".into(), version: 1, items: items() }
}
fn started() -> ChecklistEvent {
    ChecklistEvent::ChecklistStarted { template: template(), job: None, at: now() }
}
fn answer(item: &str, answer: Answer) -> ChecklistCommand {
    ChecklistCommand::Answer { item: id(item), answer, reason: None }
}
fn answered(item: &str, answer: Answer, within_limits: bool) -> ChecklistEvent {
    ChecklistEvent::ChecklistItemAnswered { item: id(item), answer, within_limits, at: now() }
}
fn define(line: LineId, items: Vec<TemplateItem>, reason: Option<Reason>) -> ChecklistTemplateCommand {
    ChecklistTemplateCommand::Define { line, product: None, name: Name::parse("Start-up").unwrap(), items, reason }
}

#[test]
fn defines_a_template_and_versions_its_revisions_with_a_reason() {
    let first = given::<ChecklistTemplate>(&[], define(line(), items(), None));
    let Ok(first) = first else { panic!("definition refused: {first:?}") };
    assert!(matches!(first.as_slice(), [ChecklistTemplateEvent::ChecklistTemplateDefined { version: 1, .. }]));
    assert_eq!(
        given::<ChecklistTemplate>(&first, define(line(), items(), None)),
        Err(ChecklistTemplateError::ReasonRequired)
    );
    let revised = given::<ChecklistTemplate>(&first, define(line(), items(), Some(reason("new limit"))));
    assert!(matches!(revised.as_deref(), Ok([ChecklistTemplateEvent::ChecklistTemplateDefined { version: 2, .. }])));
    let other_line = LineId::parse("plant-1/packing/L4").unwrap();
    assert_eq!(
        given::<ChecklistTemplate>(&first, define(other_line, items(), Some(reason("x")))),
        Err(ChecklistTemplateError::LineChanged)
    );
}

#[test]
fn refuses_templates_without_items_with_duplicates_or_with_inverted_limits() {
    assert_eq!(given::<ChecklistTemplate>(&[], define(line(), vec![], None)), Err(ChecklistTemplateError::NoItems));
    let twice = vec![item("a", ItemKind::Check, true), item("a", ItemKind::Text, false)];
    assert_eq!(
        given::<ChecklistTemplate>(&[], define(line(), twice, None)),
        Err(ChecklistTemplateError::DuplicateItem(id("a")))
    );
    let inverted = vec![item("w", ItemKind::Number { min: Some(10), max: Some(1) }, true)];
    assert_eq!(
        given::<ChecklistTemplate>(&[], define(line(), inverted, None)),
        Err(ChecklistTemplateError::BadLimits(id("w")))
    );
}

#[test]
fn starts_once_from_a_template_version() {
    let start = ChecklistCommand::Start { template: template(), job: None };
    assert_eq!(given::<Checklist>(&[], start.clone()), Ok(vec![started()]));
    assert_eq!(given::<Checklist>(&[started()], start), Err(ChecklistError::AlreadyStarted));
}

#[test]
fn answers_items_and_flags_numbers_outside_their_limits() {
    assert_eq!(
        given::<Checklist>(&[started()], answer("guards-closed", Answer::Check(true))),
        Ok(vec![answered("guards-closed", Answer::Check(true), true)])
    );
    assert_eq!(
        given::<Checklist>(&[started()], answer("fill-weight", Answer::Number(510))),
        Ok(vec![answered("fill-weight", Answer::Number(510), false)])
    );
    assert_eq!(given::<Checklist>(&[], answer("guards-closed", Answer::Check(true))), Err(ChecklistError::NotStarted));
    assert_eq!(
        given::<Checklist>(&[started()], answer("nope", Answer::Check(true))),
        Err(ChecklistError::UnknownItem(id("nope")))
    );
    assert_eq!(
        given::<Checklist>(&[started()], answer("fill-weight", Answer::Check(true))),
        Err(ChecklistError::WrongAnswerKind(id("fill-weight")))
    );
}

#[test]
fn changing_an_answer_needs_a_reason_and_keeps_the_old_value() {
    let history = [started(), answered("fill-weight", Answer::Number(510), false)];
    assert_eq!(
        given::<Checklist>(&history, answer("fill-weight", Answer::Number(500))),
        Err(ChecklistError::ReasonRequired)
    );
    assert_eq!(
        given::<Checklist>(&history, answer("fill-weight", Answer::Number(510))),
        Err(ChecklistError::SameAnswer)
    );
    let change = ChecklistCommand::Answer {
        item: id("fill-weight"),
        answer: Answer::Number(500),
        reason: Some(reason("re-weighed")),
    };
    assert_eq!(
        given::<Checklist>(&history, change),
        Ok(vec![ChecklistEvent::ChecklistAnswerChanged {
            item: id("fill-weight"),
            from: Answer::Number(510),
            to: Answer::Number(500),
            within_limits: true,
            reason: reason("re-weighed"),
            at: now()
        }])
    );
}

fn perform(signer: crate::actor::Actor, version: u64) -> ChecklistCommand {
    ChecklistCommand::Sign(signing("checklist", Meaning::Performed, signer, version))
}

#[test]
fn completes_only_when_every_mandatory_item_is_answered_and_then_accepts_nothing() {
    let operator = person(1, Role::Operator);
    assert_eq!(
        given::<Checklist>(&[started()], perform(operator.clone(), 1)),
        Err(ChecklistError::MandatoryUnanswered(vec![id("guards-closed"), id("fill-weight")]))
    );
    let history = [
        started(),
        answered("guards-closed", Answer::Check(true), true),
        answered("fill-weight", Answer::Number(500), true),
    ];
    let completed = given::<Checklist>(&history, perform(operator.clone(), 3)).unwrap();
    assert!(matches!(
        completed.as_slice(),
        [ChecklistEvent::ChecklistCompleted { .. }, ChecklistEvent::ChecklistSigned { signature, .. }]
            if signature.meaning == Meaning::Performed && signature.version == 3
    ));
    let done: Vec<ChecklistEvent> = history.iter().cloned().chain(completed).collect();
    assert_eq!(given::<Checklist>(&done, perform(operator, 5)), Err(ChecklistError::Completed));
    assert_eq!(
        given::<Checklist>(&done, answer("remarks", Answer::Text(Description::parse("ok").unwrap()))),
        Err(ChecklistError::Completed)
    );
    assert_eq!(given::<Checklist>(&[], perform(person(1, Role::Operator), 0)), Err(ChecklistError::NotStarted));
}
