//! The workload both stores run: jobs on one line, brought to running, then one-event production counts.

use std::num::NonZeroU64;

use std::collections::HashMap;
use std::future::Future;

use commands::{CommandContext, EventMetadata};
use domain::actor::{Actor, Role, UserId};
use domain::job::JobCommand;
use domain::line_id::LineId;
use domain::values::{Name, ProductId};
use uuid::Uuid;

pub fn actor() -> Actor {
    Actor {
        user_id: UserId::from_uuid(Uuid::from_u128(1)),
        printed_name: Name::parse("Bench Operator").unwrap_or_else(|_| unreachable!("valid name")),
        role: Role::Operator,
    }
}

pub fn context() -> CommandContext {
    CommandContext::new(actor())
}

pub fn start_commands() -> Vec<JobCommand> {
    vec![
        JobCommand::Create {
            line: LineId::parse("bench/area/L1").unwrap_or_else(|_| unreachable!("valid line")),
            product: ProductId::parse("P-1").unwrap_or_else(|_| unreachable!("valid product")),
            target_quantity: NonZeroU64::new(domain::job::JOB_MAX_UNITS).unwrap_or(NonZeroU64::MIN),
        },
        JobCommand::AssignOperator { operator: actor().user_id, operator_name: actor().printed_name, reason: None },
        JobCommand::Accept { operator: actor().user_id },
        JobCommand::Start,
    ]
}

/// The measured command: one event.
pub fn one_good() -> JobCommand {
    JobCommand::RecordProduction { good: 1, reject: 0, reject_reason: None }
}

pub fn job_ids(count: usize) -> Vec<String> {
    (0..count).map(|_| Uuid::now_v7().to_string()).collect()
}

/// The same attribution as `context()`, in cqrs-es's metadata form.
pub fn metadata_map() -> HashMap<String, String> {
    EventMetadata::for_command(&context(), None).to_map()
}

/// A store the workload runs on: ours, or the baseline.
pub trait Target: Send + Sync + 'static {
    /// Brings a new job to running.
    fn start_job(&self, id: &str) -> impl Future<Output = Result<(), String>> + Send;
    /// The measured one-event command.
    fn command(&self, id: &str) -> impl Future<Output = Result<(), String>> + Send;
}
