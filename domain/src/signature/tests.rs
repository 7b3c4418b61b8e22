use super::*;
use crate::aggregate::Rule;
use crate::checklist::{Checklist, ChecklistCommand, ChecklistEvent};
use crate::job::{Job, JobCommand, JobEvent};
use crate::test_support::{given, person, reason, signing, test_now};

fn job_history() -> Vec<JobEvent> {
    use crate::test_support::{line, product};
    let at = test_now();
    vec![
        JobEvent::JobCreated { line: line(), product: product(), target_quantity: std::num::NonZeroU64::MIN, at },
        JobEvent::JobAccepted { operator: person(1, Role::Operator).user_id, at },
        JobEvent::JobStarted { at },
        JobEvent::ProductionRecorded { good: 10, reject: 0, reject_reason: None, reject_category: None, at },
        JobEvent::JobCompleted { good: 10, reject: 0, at },
    ]
}

fn signed(events: Result<Vec<JobEvent>, crate::job::JobError>) -> JobEvent {
    match events.as_deref() {
        Ok([event @ JobEvent::JobSigned { .. }]) => event.clone(),
        other => panic!("expected one signature, got {other:?}"),
    }
}

#[test]
fn es_02_es_03_a_signature_names_its_signer_meaning_and_record_version_and_its_digest_covers_them() {
    let quality = person(7, Role::Quality);
    let event = signed(given::<Job>(&job_history(), JobCommand::Sign(signing("job", Meaning::Released, quality, 5))));
    let JobEvent::JobSigned { signature, at } = event else { unreachable!() };
    assert_eq!(
        (signature.meaning, signature.version, signature.printed_name.as_str()),
        (Meaning::Released, 5, "Person 7")
    );
    let record = RecordRef { record_type: "job".into(), record_id: "1".into() };
    assert!(signature.digest_holds(&record, at));
    let manifest = signature.manifest(&record, at);
    assert!(manifest.contains("record: job/1\nversion: 5\n") && manifest.contains("meaning: released\n"), "{manifest}");
    // Moved to another record, edited, or dated otherwise, it no longer holds.
    assert!(!signature.digest_holds(&RecordRef { record_type: "job".into(), record_id: "2".into() }, at));
    assert!(!Signature { version: 4, ..signature.clone() }.digest_holds(&record, at));
    assert!(!Signature { meaning: Meaning::Approved, ..signature.clone() }.digest_holds(&record, at));
    assert!(!signature.digest_holds(&record, at + chrono::Duration::microseconds(1)));
}

#[test]
fn es_05_the_role_model_decides_who_signs_with_which_meaning_and_admins_and_auditors_never_sign() {
    for meaning in Meaning::ALL {
        for role in [Role::Admin, Role::Auditor, Role::Device, Role::Display, Role::System] {
            assert!(!meaning.may_be_signed_by(role), "{role:?} may sign {meaning}");
        }
    }
    assert!(Meaning::Released.may_be_signed_by(Role::Quality));
    assert!(!Meaning::Released.may_be_signed_by(Role::TeamLeader));
    assert!(Meaning::Performed.may_be_signed_by(Role::Operator));
    assert!(!Meaning::Verified.may_be_signed_by(Role::Operator));
    // Only quality releases a job, only a completed one, and a job takes no other meaning than its own.
    let leader = person(2, Role::TeamLeader);
    let refused = given::<Job>(&job_history(), JobCommand::Sign(signing("job", Meaning::Released, leader, 5)));
    assert_eq!(refused.map_err(|e| e.code()), Err("role_may_not_sign"));
    let early = given::<Job>(
        &job_history()[..4],
        JobCommand::Sign(signing("job", Meaning::Released, person(7, Role::Quality), 4)),
    );
    assert_eq!(early.map_err(|e| e.code()), Err("not_ready_to_sign"));
    let performed = given::<Job>(
        &job_history(),
        JobCommand::Sign(signing("job", Meaning::Performed, person(1, Role::Operator), 5)),
    );
    assert_eq!(performed.map_err(|e| e.code()), Err("meaning_not_for_record"));
}

#[test]
fn es_05_a_checklist_is_verified_by_another_person_than_the_one_who_performed_it() {
    use crate::checklist::{Answer, ItemKind, TemplateItem, TemplateVersion};
    let item = TemplateItem {
        id: crate::values::ChecklistItemId::parse("guards").unwrap(),
        prompt: crate::test_support::name("Guards closed"),
        kind: ItemKind::Check,
        mandatory: true,
    };
    let at = test_now();
    let template = TemplateVersion { template_id: "startup".into(), version: 1, items: vec![item.clone()] };
    let mut history = vec![
        ChecklistEvent::ChecklistStarted { template, job: None, at },
        ChecklistEvent::ChecklistItemAnswered { item: item.id, answer: Answer::Check(true), within_limits: true, at },
    ];
    let operator = person(1, Role::Operator);
    let verify = |signer| ChecklistCommand::Sign(signing("checklist", Meaning::Verified, signer, 4));
    let not_yet = given::<Checklist>(&history, verify(person(2, Role::TeamLeader)));
    assert_eq!(not_yet.map_err(|e| e.code()), Err("not_ready_to_sign"));
    history.extend(
        given::<Checklist>(
            &history,
            ChecklistCommand::Sign(signing("checklist", Meaning::Performed, operator.clone(), 2)),
        )
        .unwrap(),
    );
    // The operator who performed it also leads the team: still not their own verifier.
    let same = crate::actor::Actor { role: Role::TeamLeader, ..operator.clone() };
    assert_eq!(given::<Checklist>(&history, verify(same)).map_err(|e| e.code()), Err("two_person_rule"));
    let verified = given::<Checklist>(&history, verify(person(2, Role::TeamLeader))).unwrap();
    history.extend(verified);
    let mut state = Checklist::default();
    history.iter().for_each(|event| crate::aggregate::Aggregate::apply(&mut state, event));
    assert!(state.completed && state.signatures.has(Meaning::Verified));
    // The performance cannot be withdrawn under the verification that rests on it.
    let performed = state.signatures.standing(Meaning::Performed).map(|held| held.id).next().unwrap();
    let withdraw = ChecklistCommand::RevokeSignature(Revocation {
        signature: performed,
        by: operator,
        reason: reason("wrong batch"),
    });
    assert_eq!(given::<Checklist>(&history, withdraw).map_err(|e| e.code()), Err("signature_depended_on"));
}

#[test]
fn es_04_revoking_is_a_new_event_with_a_reason_by_the_signer_or_quality_and_the_release_no_longer_stands() {
    let quality = person(7, Role::Quality);
    let mut history = job_history();
    history
        .push(signed(given::<Job>(&history, JobCommand::Sign(signing("job", Meaning::Released, quality.clone(), 5)))));
    let id = uuid::Uuid::from_u128(1005);
    let revoke =
        |by| JobCommand::RevokeSignature(Revocation { signature: id, by, reason: reason("released the wrong lot") });
    assert_eq!(
        given::<Job>(&history, revoke(person(1, Role::Operator))).map_err(|e| e.code()),
        Err("not_your_signature")
    );
    let revoked = given::<Job>(&history, revoke(quality.clone())).unwrap();
    assert!(
        matches!(revoked.as_slice(), [JobEvent::JobSignatureRevoked { meaning: Meaning::Released, reason, .. }] if reason.as_str() == "released the wrong lot")
    );
    history.extend(revoked);
    let mut job = Job::default();
    history.iter().for_each(|event| crate::aggregate::Aggregate::apply(&mut job, event));
    assert!(!job.released());
    assert_eq!(given::<Job>(&history, revoke(quality)).map_err(|e| e.code()), Err("already_revoked"));
}

#[test]
fn at_13_a_job_with_an_unreviewed_correction_is_released_only_after_a_review() {
    let quality = person(7, Role::Quality);
    let mut history = job_history();
    history.push(JobEvent::ProductionCorrected {
        good_delta: -1,
        reject_delta: 1,
        reason: reason("one was scrap"),
        at: test_now(),
    });
    let release = |version| JobCommand::Sign(signing("job", Meaning::Released, quality.clone(), version));
    assert_eq!(given::<Job>(&history, release(6)).map_err(|e| e.code()), Err("unreviewed_changes"));
    let reviewer = person(2, Role::TeamLeader);
    history.push(signed(given::<Job>(&history, JobCommand::Sign(signing("job", Meaning::Reviewed, reviewer, 6)))));
    assert!(given::<Job>(&history, release(7)).is_ok());
    // A later correction needs a later review.
    history.push(JobEvent::ProductionCorrected {
        good_delta: 1,
        reject_delta: -1,
        reason: reason("recount"),
        at: test_now(),
    });
    assert_eq!(given::<Job>(&history, release(8)).map_err(|e| e.code()), Err("unreviewed_changes"));
}

#[test]
fn every_meaning_has_a_statement_and_a_stable_name() {
    let names: Vec<&str> = Meaning::ALL.iter().map(|meaning| meaning.as_str()).collect();
    assert_eq!(names, ["performed", "reviewed", "verified", "approved", "released", "authored"]);
    assert!(Meaning::ALL.iter().all(|meaning| meaning.statement().ends_with('.')));
}
