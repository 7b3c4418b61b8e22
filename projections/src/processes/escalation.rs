//! The Andon escalation scheduler (docs/shop-floor.md, "Andon"): escalates every open call whose next tier of
//! the ladder is due, as an event attributed to the scheduler. Nothing is kept in memory between ticks:
//! the due times come from the calls' events, so a restart (or another instance taking over) rebuilds
//! every timer, and tiers missed while no scheduler ran are recorded in order. Each call follows its
//! line's ladder for its call type, as configured when it was raised, read from the line's own events.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::event_log::current_state;
use commands::{CommandContext, CommandError, PgEventStore, StoreError, StoreSettings, execute};
use domain::actor::{Actor, Role, UserId};
use domain::andon::{AndonCall, AndonCommand, EscalationLadder, next_escalation};
use domain::line::Line;
use domain::values::Name;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::engine::ownership::{self, connection_lost, pause, stopping};
use crate::engine::worker::WorkerError;
use crate::read_models::andon;

/// Who the escalation events name: the service, by a fixed id.
pub fn scheduler() -> Actor {
    Actor {
        user_id: UserId::from_uuid(uuid_for("ms5-floor:andon-escalation-scheduler")),
        printed_name: Name::parse("Andon escalation scheduler").unwrap_or_else(|_| unreachable!("a valid name")),
        role: Role::System,
    }
}

fn uuid_for(name: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes())
}

/// Escalates every open call whose next tier is due at `now`, tier by tier; returns how many escalations
/// it recorded. Each is decided on the call's current state with its version expected, so a call
/// acknowledged or resolved meanwhile is decided again, not escalated blindly.
pub async fn escalate_due(
    pool: &PgPool,
    calls: &PgEventStore<AndonCall>,
    now: DateTime<Utc>,
) -> Result<usize, WorkerError> {
    let mut escalated = 0;
    let mut lines = HashMap::new();
    for id in andon::all_open(pool).await? {
        // Bounded: each round either escalates one tier, finds nothing due, or re-reads after a conflict.
        for _ in 0..8 {
            let (call, version) = calls.state_and_version(&id).await?;
            let ladder = ladder_of(pool, &mut lines, &call).await?;
            let Some(next) = next_escalation(&call, &ladder).filter(|next| next.due_at <= now) else { break };
            let mut context = CommandContext::new(scheduler());
            context.expected_version = Some(version);
            match execute(calls, &id, AndonCommand::Escalate { level: next.level }, &context).await {
                Ok(_) => escalated += 1,
                Err(CommandError::Conflict { .. }) => {}
                Err(CommandError::Rejected(refusal)) => {
                    tracing::info!(call = %id, %refusal, "not escalated");
                    break;
                }
                Err(CommandError::Contended) => break,
                Err(CommandError::Store(error)) => return Err(error.into()),
            }
        }
    }
    Ok(escalated)
}

/// The ladder a call follows. Each line is read once per check, from its events: a warm copy in this
/// process could miss a ladder another instance recorded.
async fn ladder_of(
    pool: &PgPool,
    lines: &mut HashMap<String, Line>,
    call: &AndonCall,
) -> Result<EscalationLadder, StoreError> {
    let (Some(line), Some(call_type), Some(raised_at)) = (&call.line, call.call_type, call.raised_at) else {
        return Ok(EscalationLadder::default());
    };
    let config = match lines.entry(line.to_string()) {
        Entry::Occupied(known) => known.into_mut(),
        Entry::Vacant(unknown) => {
            let config = current_state::<Line>(pool, unknown.key()).await?;
            unknown.insert(config)
        }
    };
    Ok(config.escalation_ladder_at(call_type, raised_at))
}

/// Runs the scheduler until `stop`: one instance at a time (see `ownership`), a check every `tick`.
/// Its escalations are commands decided on each call's current version, so they need no fence beyond
/// that; the owner's connection is checked every tick, so a scheduler whose lock went with its
/// connection stops and takes ownership again.
pub async fn run(pool: PgPool, tick: Duration, mut stop: watch::Receiver<bool>) {
    let calls = PgEventStore::new(pool.clone(), StoreSettings::default());
    while let Some(mut connection) = ownership::owned(&pool, NAME, tick, &mut stop).await {
        while !stopping(&stop) {
            if let Err(error) = sqlx::query("SELECT 1").execute(&mut connection).await
                && connection_lost(&error)
            {
                tracing::warn!(%error, "lost the scheduler's connection; taking ownership again");
                break;
            }
            match escalate_due(&pool, &calls, Utc::now()).await {
                Ok(0) => {}
                Ok(escalated) => tracing::info!(escalated, "Andon calls escalated"),
                Err(error) => tracing::warn!(%error, "escalation check failed; retrying"),
            }
            pause(tick, &mut stop).await;
        }
    }
}

/// The scheduler's name as a worker (its ownership lock, its row in `/api/v1/projections`).
pub const NAME: &str = "andon escalation";
