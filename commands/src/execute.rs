//! Executing one command: load, check the caller's expected version, decide, append, and on a conflict
//! with another process decide again on fresh state (bounded).

use chrono::{SubsecRound, Utc};

use crate::error::StoreError;
use crate::metadata::{CommandContext, EventMetadata};
use crate::store::{Appended, LoadedAggregate, PgEventStore};

/// How often a command is decided again after losing a race to another process. In-process writers
/// queue instead of racing (see `cache`), so this bounds contention between service instances only.
pub const MAX_ATTEMPTS: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The domain refused the command; nothing was written.
    #[error(transparent)]
    Rejected(E),
    /// The caller's expected version is stale; nothing was written.
    #[error("expected version {expected} but the aggregate is at version {current_version}")]
    Conflict { expected: u64, current_version: u64 },
    /// Other writers kept winning for every attempt; nothing was written.
    #[error("gave up after {MAX_ATTEMPTS} attempts lost to concurrent writers")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of an accepted command: the aggregate's version after it and the events it appended
/// (none when the command changed nothing, e.g. a repeated PLC reading).
#[derive(Debug, Clone)]
pub struct CommandOutcome {
    pub version: u64,
    pub appended: Option<Appended>,
}

/// Executes `command` on aggregate `aggregate_id`, attributing every event to `context`.
pub async fn execute<A: domain::Aggregate>(
    store: &PgEventStore<A>,
    aggregate_id: &str,
    command: A::Command,
    context: &CommandContext,
) -> Result<CommandOutcome, CommandError<A::Error>>
where
    A::Command: Clone,
{
    let metadata = EventMetadata::for_command(context, domain::Command::reason(&command));
    for _ in 0..MAX_ATTEMPTS {
        let mut loaded = store.load(aggregate_id).await?;
        if let Some(expected) = context.expected_version
            && expected != loaded.version()
            && !loaded.is_fresh()
        {
            // The caller may have seen a version another process wrote after our warm copy.
            store.reload(&mut loaded).await?;
        }
        check_expected(context, &loaded)?;
        let events = match decide(&mut loaded, &command) {
            Ok(events) => events,
            Err(refusal) if loaded.is_fresh() => return Err(CommandError::Rejected(refusal)),
            Err(refusal) => {
                // A warm copy may be behind another process; a refusal is final only on fresh state.
                let warm_version = loaded.version();
                store.reload(&mut loaded).await?;
                if loaded.version() == warm_version {
                    return Err(CommandError::Rejected(refusal));
                }
                check_expected(context, &loaded)?;
                decide(&mut loaded, &command).map_err(CommandError::Rejected)?
            }
        };
        if events.is_empty() {
            return Ok(CommandOutcome { version: loaded.version(), appended: None });
        }
        match store.append(loaded, events, &metadata, context.idempotency.as_ref()).await {
            Ok(appended) => return Ok(CommandOutcome { version: appended.version, appended: Some(appended) }),
            Err(StoreError::Conflict { current_version }) => {
                if let Some(expected) = context.expected_version {
                    return Err(CommandError::Conflict { expected, current_version });
                }
                tracing::debug!(aggregate_type = A::TYPE, aggregate_id, current_version, "lost a race; deciding again");
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(CommandError::Contended)
}

/// The caller's expected version against the aggregate as loaded.
fn check_expected<A: domain::Aggregate>(
    context: &CommandContext,
    loaded: &LoadedAggregate<A>,
) -> Result<(), CommandError<A::Error>> {
    match context.expected_version {
        Some(expected) if expected != loaded.version() => {
            Err(CommandError::Conflict { expected, current_version: loaded.version() })
        }
        _ => Ok(()),
    }
}

/// Decides `command` on the loaded state at the server's time, and applies the events to the working
/// copy only when the command is accepted (docs/adr/0005).
fn decide<A: domain::Aggregate>(
    loaded: &mut LoadedAggregate<A>,
    command: &A::Command,
) -> Result<Vec<A::Event>, A::Error>
where
    A::Command: Clone,
{
    let events = loaded.state().handle(command.clone(), Utc::now().trunc_subsecs(6))?;
    loaded.apply_decided(&events);
    Ok(events)
}
