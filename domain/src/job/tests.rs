use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::*;
use crate::test_support::{code, given, line, product, reason, test_now};

fn now() -> DateTime<Utc> {
    test_now()
}
fn operator() -> UserId {
    UserId::from_uuid(Uuid::from_u128(7))
}
fn target() -> NonZeroU64 {
    NonZeroU64::new(1000).unwrap_or(NonZeroU64::MIN)
}
fn counter() -> CounterId {
    CounterId::parse("good-count").unwrap()
}
fn created() -> JobEvent {
    JobEvent::JobCreated { line: line(), product: product(), target_quantity: target(), at: now() }
}
fn assigned() -> JobEvent {
    JobEvent::OperatorAssigned {
        operator: operator(),
        operator_name: Name::parse("Ada Lovelace").unwrap(),
        reason: None,
        at: now(),
    }
}
fn accepted() -> Vec<JobEvent> {
    vec![created(), assigned(), JobEvent::JobAccepted { operator: operator(), at: now() }]
}
fn running() -> Vec<JobEvent> {
    let mut events = accepted();
    events.push(JobEvent::JobStarted { at: now() });
    events
}
fn paused() -> Vec<JobEvent> {
    let mut events = running();
    events.push(JobEvent::JobPaused { reason: None, at: now() });
    events
}
fn completed() -> Vec<JobEvent> {
    let mut events = running();
    events.push(JobEvent::JobCompleted { good: 0, reject: 0, at: now() });
    events
}
fn reading(sequence: u64, value: u64) -> JobCommand {
    JobCommand::RecordCounterReading(CounterReading {
        counter: counter(),
        kind: CountKind::Good,
        width: CounterWidth::Bits16,
        sequence,
        value,
        source_timestamp: now() - Duration::seconds(1),
    })
}
fn baseline(sequence: u64, value: u64) -> JobEvent {
    JobEvent::CounterBaselineRecorded {
        counter: counter(),
        kind: CountKind::Good,
        width: CounterWidth::Bits16,
        sequence,
        value,
        source_timestamp: now() - Duration::seconds(1),
        at: now(),
    }
}
fn wrong_status(action: &'static str, status: JobStatus) -> Result<Vec<JobEvent>, JobError> {
    Err(JobError::WrongStatus { action, status })
}

#[test]
fn creates_a_job_once() {
    let create = JobCommand::Create { line: line(), product: product(), target_quantity: target() };
    assert_eq!(given::<Job>(&[], create.clone()), Ok(vec![created()]));
    assert_eq!(given::<Job>(&[created()], create), Err(JobError::AlreadyCreated));
}

#[test]
fn rejects_every_step_on_a_job_that_does_not_exist() {
    assert_eq!(given::<Job>(&[], JobCommand::Start), Err(JobError::NotCreated));
    assert_eq!(given::<Job>(&[], JobCommand::Cancel { reason: reason("x") }), Err(JobError::NotCreated));
}

#[test]
fn assigns_an_operator_and_needs_a_reason_to_reassign() {
    let assign = |why: Option<Reason>| JobCommand::AssignOperator {
        operator: operator(),
        operator_name: Name::parse("Ada Lovelace").unwrap(),
        reason: why,
    };
    assert_eq!(given::<Job>(&[created()], assign(None)), Ok(vec![assigned()]));
    assert_eq!(given::<Job>(&[created(), assigned()], assign(None)), Err(JobError::ReasonRequired));
    assert!(given::<Job>(&[created(), assigned()], assign(Some(reason("shift change")))).is_ok());
    assert_eq!(
        given::<Job>(&completed(), assign(Some(reason("late")))),
        wrong_status("assign an operator to", JobStatus::Completed)
    );
}

#[test]
fn only_the_assigned_operator_accepts() {
    let accept = |who: UserId| JobCommand::Accept { operator: who };
    assert_eq!(given::<Job>(&[created()], accept(operator())), Err(JobError::NoOperatorAssigned));
    assert_eq!(
        given::<Job>(&[created(), assigned()], accept(UserId::from_uuid(Uuid::from_u128(8)))),
        Err(JobError::NotTheAssignedOperator)
    );
    assert_eq!(
        given::<Job>(&[created(), assigned()], accept(operator())),
        Ok(vec![JobEvent::JobAccepted { operator: operator(), at: now() }])
    );
    assert_eq!(given::<Job>(&accepted(), accept(operator())), wrong_status("accept", JobStatus::Accepted));
}

#[test]
fn ac_10_starts_only_an_accepted_job() {
    assert_eq!(given::<Job>(&accepted(), JobCommand::Start), Ok(vec![JobEvent::JobStarted { at: now() }]));
    assert_eq!(given::<Job>(&[created(), assigned()], JobCommand::Start), wrong_status("start", JobStatus::Created));
    assert_eq!(given::<Job>(&running(), JobCommand::Start), wrong_status("start", JobStatus::Running));
}

#[test]
fn pauses_a_running_job_and_resumes_a_paused_one() {
    let pause = JobCommand::Pause { reason: Some(reason("material")) };
    assert_eq!(
        given::<Job>(&running(), pause.clone()),
        Ok(vec![JobEvent::JobPaused { reason: Some(reason("material")), at: now() }])
    );
    assert_eq!(given::<Job>(&paused(), pause), wrong_status("pause", JobStatus::Paused));
    assert_eq!(given::<Job>(&paused(), JobCommand::Resume), Ok(vec![JobEvent::JobResumed { at: now() }]));
    assert_eq!(given::<Job>(&running(), JobCommand::Resume), wrong_status("resume", JobStatus::Running));
}

#[test]
fn records_production_while_running_with_a_reason_for_rejects() {
    let scrap = RejectReason { code: code("label-skew"), category: RejectCategory::Startup };
    let record = JobCommand::RecordProduction { good: 10, reject: 2, reject_reason: Some(scrap) };
    assert_eq!(
        given::<Job>(&running(), record.clone()),
        Ok(vec![JobEvent::ProductionRecorded {
            good: 10,
            reject: 2,
            reject_reason: Some(code("label-skew")),
            reject_category: Some(RejectCategory::Startup),
            at: now()
        }])
    );
    assert_eq!(given::<Job>(&paused(), record), wrong_status("record production on", JobStatus::Paused));
    assert_eq!(
        given::<Job>(&running(), JobCommand::RecordProduction { good: 0, reject: 0, reject_reason: None }),
        Err(JobError::EmptyProduction)
    );
    assert_eq!(
        given::<Job>(&running(), JobCommand::RecordProduction { good: 1, reject: 1, reject_reason: None }),
        Err(JobError::RejectReasonRequired)
    );
}

#[test]
fn the_first_counter_reading_is_a_baseline_and_later_ones_count_the_delta() {
    assert_eq!(given::<Job>(&running(), reading(1, 100)), Ok(vec![baseline(1, 100)]));
    let mut history = running();
    history.push(baseline(1, 100));
    assert_eq!(
        given::<Job>(&history, reading(2, 130)),
        Ok(vec![JobEvent::CounterProductionCounted {
            counter: counter(),
            kind: CountKind::Good,
            sequence: 2,
            value: 130,
            delta: 30,
            step: CounterStep::Advanced,
            source_timestamp: now() - Duration::seconds(1),
            at: now()
        }])
    );
}

#[test]
fn a_repeated_or_older_counter_reading_is_idempotent() {
    let mut history = running();
    history.push(baseline(5, 100));
    assert_eq!(given::<Job>(&history, reading(5, 100)), Ok(vec![]));
    assert_eq!(given::<Job>(&history, reading(4, 90)), Ok(vec![]));
}

#[test]
fn counter_rollover_and_reset_are_counted_and_flagged() {
    let mut history = running();
    history.push(baseline(1, 65_530));
    let counted = given::<Job>(&history, reading(2, 4));
    assert!(matches!(
        counted.as_deref(),
        Ok([JobEvent::CounterProductionCounted { delta: 10, step: CounterStep::RolledOver, .. }])
    ));
    let mut history = running();
    history.push(baseline(1, 500));
    let counted = given::<Job>(&history, reading(2, 7));
    assert!(matches!(
        counted.as_deref(),
        Ok([JobEvent::CounterProductionCounted { delta: 7, step: CounterStep::Reset, .. }])
    ));
}

#[test]
fn counter_readings_are_refused_out_of_range_with_a_changed_kind_or_before_start() {
    assert_eq!(given::<Job>(&running(), reading(1, 70_000)), Err(JobError::CounterOutOfRange { value: 70_000 }));
    let mut history = running();
    history.push(baseline(1, 100));
    let as_reject = JobCommand::RecordCounterReading(CounterReading {
        counter: counter(),
        kind: CountKind::Reject,
        width: CounterWidth::Bits16,
        sequence: 2,
        value: 120,
        source_timestamp: now(),
    });
    assert!(matches!(given::<Job>(&history, as_reject), Err(JobError::CounterChanged { .. })));
    assert_eq!(
        given::<Job>(&accepted(), reading(1, 1)),
        wrong_status("record a counter reading on", JobStatus::Accepted)
    );
    assert!(given::<Job>(&paused(), reading(1, 1)).is_ok());
}

#[test]
fn corrections_carry_a_reason_and_never_make_a_count_negative() {
    let mut history = running();
    history.push(JobEvent::ProductionRecorded {
        good: 10,
        reject: 0,
        reject_reason: None,
        reject_category: None,
        at: now(),
    });
    let correct = |good_delta, reject_delta| JobCommand::CorrectProduction {
        good_delta,
        reject_delta,
        reason: reason("miscounted"),
    };
    assert_eq!(
        given::<Job>(&history, correct(-3, 3)),
        Ok(vec![JobEvent::ProductionCorrected {
            good_delta: -3,
            reject_delta: 3,
            reason: reason("miscounted"),
            at: now()
        }])
    );
    assert_eq!(given::<Job>(&history, correct(-11, 0)), Err(JobError::NegativeCount));
    assert_eq!(given::<Job>(&history, correct(0, 0)), Err(JobError::EmptyCorrection));
    assert!(given::<Job>(&completed(), correct(1, 0)).is_ok());
    assert_eq!(given::<Job>(&accepted(), correct(1, 0)), wrong_status("correct production of", JobStatus::Accepted));
}

#[test]
fn completes_with_the_totals_and_only_from_running_or_paused() {
    let mut history = running();
    history.push(JobEvent::ProductionRecorded {
        good: 10,
        reject: 1,
        reject_reason: ReasonCode::parse("x").ok(),
        reject_category: None,
        at: now(),
    });
    history.push(JobEvent::ProductionCorrected { good_delta: -2, reject_delta: 2, reason: reason("r"), at: now() });
    assert_eq!(
        given::<Job>(&history, JobCommand::Complete),
        Ok(vec![JobEvent::JobCompleted { good: 8, reject: 3, at: now() }])
    );
    assert!(given::<Job>(&paused(), JobCommand::Complete).is_ok());
    assert_eq!(given::<Job>(&accepted(), JobCommand::Complete), wrong_status("complete", JobStatus::Accepted));
    assert_eq!(given::<Job>(&completed(), JobCommand::Complete), wrong_status("complete", JobStatus::Completed));
}

#[test]
fn cancels_an_unfinished_job_with_a_reason() {
    let cancel = JobCommand::Cancel { reason: reason("order withdrawn") };
    assert_eq!(
        given::<Job>(&[created()], cancel.clone()),
        Ok(vec![JobEvent::JobCancelled { reason: reason("order withdrawn"), at: now() }])
    );
    assert!(given::<Job>(&paused(), cancel.clone()).is_ok());
    assert_eq!(given::<Job>(&completed(), cancel.clone()), wrong_status("cancel", JobStatus::Completed));
    let mut cancelled = vec![created()];
    cancelled.push(JobEvent::JobCancelled { reason: reason("x"), at: now() });
    assert_eq!(given::<Job>(&cancelled, cancel), wrong_status("cancel", JobStatus::Cancelled));
}

#[test]
fn refuses_counts_that_would_overflow_the_job_total() {
    let mut history = running();
    history.push(JobEvent::ProductionRecorded {
        good: u64::MAX,
        reject: 0,
        reject_reason: None,
        reject_category: None,
        at: now(),
    });
    let more = JobCommand::RecordProduction { good: 1, reject: 0, reject_reason: None };
    assert_eq!(given::<Job>(&history, more), Err(JobError::CountOverflow { max: JOB_MAX_UNITS }));
}

#[test]
fn refuses_a_booking_above_the_bound_and_accepts_one_at_it() {
    let at_bound = JobCommand::RecordProduction { good: Units::MAX, reject: 0, reject_reason: None };
    assert!(given::<Job>(&running(), at_bound).is_ok());
    let above = JobCommand::RecordProduction { good: 1 << 63, reject: 0, reject_reason: None };
    let out_of_range = ValueError::OutOfRange { what: "units in one booking", max: Units::MAX };
    assert_eq!(given::<Job>(&running(), above), Err(JobError::OutOfRange(out_of_range.clone())));
    let correction = JobCommand::CorrectProduction { good_delta: i64::MIN, reject_delta: 0, reason: reason("typo") };
    assert_eq!(given::<Job>(&running(), correction), Err(JobError::OutOfRange(out_of_range)));
}

#[test]
fn refuses_a_counter_step_above_the_bound_and_counts_the_next_plausible_reading_from_the_last_accepted() {
    let reading = |sequence: u64, value: u64| {
        JobCommand::RecordCounterReading(CounterReading {
            counter: CounterId::parse("c1").unwrap(),
            kind: CountKind::Good,
            width: CounterWidth::Bits64,
            sequence,
            value,
            source_timestamp: now(),
        })
    };
    let mut history = running();
    history.extend(given::<Job>(&history, reading(1, 100)).unwrap());
    assert!(matches!(given::<Job>(&history, reading(2, 1 << 63)), Err(JobError::OutOfRange(_))));
    let next = given::<Job>(&history, reading(3, 130)).unwrap();
    assert!(matches!(next.as_slice(), [JobEvent::CounterProductionCounted { delta: 30, .. }]));
}

mod bounds {
    use proptest::prelude::*;

    use super::*;
    use crate::Aggregate as _;

    fn command() -> impl Strategy<Value = JobCommand> {
        let units = prop_oneof![0..=Units::MAX, any::<u64>(), Just(u64::MAX), Just(1 << 63)];
        let delta = prop_oneof![-1000i64..=1000, any::<i64>(), Just(i64::MIN)];
        prop_oneof![
            (units.clone(), units.clone()).prop_map(|(good, reject)| JobCommand::RecordProduction {
                good,
                reject,
                reject_reason: product_reject()
            }),
            (delta.clone(), delta).prop_map(|(good_delta, reject_delta)| JobCommand::CorrectProduction {
                good_delta,
                reject_delta,
                reason: reason("recount")
            }),
        ]
    }

    fn product_reject() -> Option<RejectReason> {
        Some(RejectReason { code: ReasonCode::parse("scrap").ok()?, category: RejectCategory::Production })
    }

    proptest! {
        /// Whatever a job accepts keeps every number the read models store within their i64.
        #[test]
        fn every_accepted_count_stays_within_the_read_models_integers(commands in prop::collection::vec(command(), 1..40)) {
            let mut job = Job::default();
            for event in running() {
                job.apply(&event);
            }
            for command in commands {
                if let Ok(events) = job.handle(command, now()) {
                    for event in &events {
                        if let JobEvent::ProductionRecorded { good, reject, .. } = event {
                            prop_assert!(*good <= Units::MAX && *reject <= Units::MAX);
                        }
                        job.apply(event);
                    }
                }
                prop_assert!(job.good <= JOB_MAX_UNITS && job.reject <= JOB_MAX_UNITS);
                prop_assert!(i64::try_from(job.good).is_ok() && i64::try_from(job.reject).is_ok());
            }
        }
    }
}
