use commands::adapter::{Adapted, Stamped};
use commands::event_log::{StreamBound, read_stream};
use commands::{EventMetadata, PgEventStore};
use cqrs_es::{AggregateError, CqrsFramework, EventStore};
use domain::job::{Job, JobCommand, JobError};

use crate::support::{context, fixture, job_start_commands};

/// cqrs-es's own framework runs on our store unchanged.
#[tokio::test]
async fn cqrs_framework_executes_commands_on_our_store() {
    let fixture = fixture().await;
    let store: PgEventStore<Job> = fixture.store();
    let framework = CqrsFramework::<Adapted<Job>, _>::new(store.clone(), vec![], ());
    let context = context();
    let metadata = EventMetadata::for_command(&context, None).to_map();
    for command in job_start_commands() {
        let stamped = Stamped { command, now: chrono::Utc::now() };
        framework.execute_with_metadata("job-1", stamped, metadata.clone()).await.unwrap();
    }
    let refused = framework
        .execute_with_metadata("job-1", Stamped { command: JobCommand::Start, now: chrono::Utc::now() }, metadata)
        .await;
    assert!(matches!(refused, Err(AggregateError::UserError(JobError::WrongStatus { .. }))));

    let envelopes = store.load_events("job-1").await.unwrap();
    assert_eq!(envelopes.len(), 4);
    assert_eq!(envelopes[3].sequence, 4);
    let stored = read_stream(&fixture.app, "job", "job-1", StreamBound::All).await.unwrap();
    assert_eq!(stored[0].metadata["actor_name"], "Ada Lovelace");
    assert_eq!(stored[0].metadata["causation_id"], context.command_id.to_string());
}
