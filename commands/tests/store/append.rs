use commands::event_log::{StreamBound, read_stream, verify_stream};
use commands::{CommandError, EventMetadata, execute};
use domain::job::{Job, JobCommand, JobError, JobStatus};
use domain::values::{DeviceId, Reason};

use crate::support::{context, count_events, fixture, one_good, operator, running_job};

#[tokio::test]
async fn appended_events_read_back_in_sequence_with_full_attribution() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    let id = running_job(&store).await;
    let mut cancel_context = context();
    cancel_context.device_id = DeviceId::parse("tablet-7").ok();
    cancel_context.source_timestamp = chrono::DateTime::from_timestamp(1_790_000_000, 0);
    let reason = Reason::parse("customer order withdrawn").unwrap();
    let outcome =
        execute(&store, &id, JobCommand::Cancel { reason: reason.clone() }, &cancel_context).await.expect("cancel");
    assert_eq!(outcome.version, 5);

    let events = read_stream(&fixture.app, "job", &id, StreamBound::All).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["JobCreated", "OperatorAssigned", "JobAccepted", "JobStarted", "JobCancelled"]);
    assert_eq!(events.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(events[4].payload["reason"], "customer order withdrawn");

    let metadata: EventMetadata = serde_json::from_value(events[4].metadata.clone()).unwrap();
    assert_eq!(metadata.actor_user_id, operator().user_id);
    assert_eq!(metadata.actor_name, operator().printed_name);
    assert_eq!(metadata.reason, Some(reason));
    assert_eq!(metadata.causation_id, cancel_context.command_id);
    assert_eq!(metadata.correlation_id, cancel_context.correlation_id);
    assert_eq!(metadata.device_id, cancel_context.device_id);
    assert_eq!(metadata.source_timestamp, cancel_context.source_timestamp);
    assert!(events.windows(2).all(|pair| pair[0].position < pair[1].position));
    assert_eq!(verify_stream(&events), Ok(()));
}

#[tokio::test]
async fn a_refused_command_writes_nothing() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    let id = running_job(&store).await;
    let before = count_events(&fixture.app).await;
    let refused = execute(&store, &id, JobCommand::Start, &context()).await;
    assert!(matches!(
        refused,
        Err(CommandError::Rejected(JobError::WrongStatus { action: "start", status: JobStatus::Running }))
    ));
    assert_eq!(count_events(&fixture.app).await, before);
}

#[tokio::test]
async fn a_command_that_decides_nothing_appends_nothing() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    let id = running_job(&store).await;
    let reading = |value| {
        JobCommand::RecordCounterReading(domain::job::CounterReading {
            counter: domain::values::CounterId::parse("good").unwrap(),
            kind: domain::job::CountKind::Good,
            width: domain::counter::CounterWidth::Bits32,
            sequence: 1,
            value,
            source_timestamp: chrono::Utc::now(),
        })
    };
    let first = execute(&store, &id, reading(10), &context()).await.unwrap();
    let repeat = execute(&store, &id, reading(10), &context()).await.unwrap();
    assert_eq!(first.version, 5);
    assert_eq!(repeat.version, 5);
    assert!(repeat.appended.is_none());
}

#[tokio::test]
async fn a_stream_reads_up_to_a_sequence_or_a_time() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    let id = running_job(&store).await;
    let all = read_stream(&fixture.app, "job", &id, StreamBound::All).await.unwrap();
    let cut = all[1].recorded_at;
    for _ in 0..3 {
        execute(&store, &id, one_good(), &context()).await.unwrap();
    }
    let first_two = read_stream(&fixture.app, "job", &id, StreamBound::UpToSequence(2)).await.unwrap();
    assert_eq!(first_two.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 2]);
    let as_of = read_stream(&fixture.app, "job", &id, StreamBound::UpToTime(cut)).await.unwrap();
    assert!(as_of.iter().all(|e| e.recorded_at <= cut));
    assert!(as_of.len() >= 2 && as_of.len() <= 4, "as of the second event's time: {} events", as_of.len());
    let everything = read_stream(&fixture.app, "job", &id, StreamBound::All).await.unwrap();
    assert_eq!(everything.len(), 7);
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_that_names_the_current_version() {
    let fixture = fixture().await;
    let store = fixture.store::<Job>();
    let id = running_job(&store).await;
    let mut stale = context();
    stale.expected_version = Some(3);
    let before = count_events(&fixture.app).await;
    let result = execute(&store, &id, one_good(), &stale).await;
    assert!(matches!(result, Err(CommandError::Conflict { expected: 3, current_version: 4 })), "{result:?}");
    assert_eq!(count_events(&fixture.app).await, before);
    let mut current = context();
    current.expected_version = Some(4);
    assert!(execute(&store, &id, one_good(), &current).await.is_ok());
}
