//! Commands whose decision needs facts owned by another aggregate. The domain takes those facts as
//! values in the command; these functions look them up first, then execute the command as usual.

use chrono::{DateTime, Utc};
use domain::checklist::{Checklist, ChecklistCommand, ChecklistTemplate, TemplateVersion};
use domain::downtime::{Downtime, DowntimeCommand, StopSource};
use domain::job::{Job, JobCommand, JobError};
use domain::line::{Line, LineCommand, LineError};
use domain::line_id::LineId;
use domain::signature::SignatureRequest;
use domain::values::{EquipmentId, Reason, ReasonCode};
use uuid::Uuid;

use crate::execute::{CommandError, CommandOutcome, execute};
use crate::metadata::CommandContext;
use crate::store::PgEventStore;

/// Why a command that depends on another aggregate was refused.
#[derive(Debug, thiserror::Error)]
pub enum LookupError<E: std::error::Error> {
    /// The command itself was refused or could not be stored.
    #[error(transparent)]
    Command(CommandError<E>),
    /// The line the command refers to refused it (unregistered, unknown or non-leaf reason).
    #[error(transparent)]
    Line(CommandError<LineError>),
    #[error("checklist template {0} has not been defined")]
    UnknownTemplate(String),
    #[error("equipment {0} is not part of the line")]
    UnknownEquipment(EquipmentId),
}

impl<E: std::error::Error> From<crate::StoreError> for LookupError<E> {
    fn from(error: crate::StoreError) -> Self {
        Self::Command(CommandError::Store(error))
    }
}

/// Starts a stop on a registered line, classifying it later by the line's small-stop threshold in force
/// when it started.
pub async fn start_downtime(
    lines: &PgEventStore<Line>,
    stops: &PgEventStore<Downtime>,
    downtime_id: &str,
    start: StopStart,
    context: &CommandContext,
) -> Result<CommandOutcome, LookupError<domain::downtime::DowntimeError>> {
    let line = lines.state(&start.line.to_string()).await?;
    if !line.is_registered() {
        return Err(LookupError::Line(CommandError::Rejected(LineError::NotRegistered)));
    }
    if let Some(equipment) = &start.equipment
        && !line.equipment.contains_key(equipment)
    {
        return Err(LookupError::UnknownEquipment(equipment.clone()));
    }
    let command = DowntimeCommand::Start {
        small_stop_threshold: line.small_stop_threshold_at(start.started_at),
        line: start.line,
        equipment: start.equipment,
        source: start.source,
        started_at: start.started_at,
    };
    execute(stops, downtime_id, command, context).await.map_err(LookupError::Command)
}

/// What a caller says about a stop that starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopStart {
    pub line: LineId,
    pub equipment: Option<EquipmentId>,
    pub source: StopSource,
    pub started_at: DateTime<Utc>,
}

/// Gives a stop a reason from its line's tree: assigns it, or with `reason_for_change` replaces the one it
/// has; a change after the stop's shift ended (by the line's calendar) needs `signature`. The code is locked against redefinition on the line first and its definition read after, so the
/// stop books the code's final loss category; if the stop then refuses the reason, the code merely stays
/// locked, which loses nothing.
pub async fn give_downtime_reason(
    lines: &PgEventStore<Line>,
    stops: &PgEventStore<Downtime>,
    downtime_id: &str,
    code: ReasonCode,
    reason_for_change: Option<Reason>,
    signature: Option<SignatureRequest>,
    context: &CommandContext,
) -> Result<CommandOutcome, LookupError<domain::downtime::DowntimeError>> {
    let stop = stops.state(downtime_id).await?;
    let started_at = stop.interval.as_ref().map(|interval| interval.started_at);
    let Some(line_id) = stop.line else {
        return Err(LookupError::Command(CommandError::Rejected(domain::downtime::DowntimeError::NotStarted)));
    };
    let line_id = line_id.to_string();
    // Lock first, then read: once locked the code's definition can no longer change under us.
    let mark = LineCommand::MarkDowntimeReasonUsed { code: code.clone() };
    execute(lines, &line_id, mark, &line_context(context)).await.map_err(LookupError::Line)?;
    let line = lines.state(&line_id).await?;
    let reason_code =
        line.assignable_reason(&code).map_err(|error| LookupError::Line(CommandError::Rejected(error)))?;
    let command = match reason_for_change {
        None => DowntimeCommand::AssignReason { reason_code },
        Some(reason) => DowntimeCommand::ChangeReason {
            reason_code,
            reason,
            shift_ended: started_at.is_some_and(|at| line.shift_ended(at, Utc::now())),
            signature,
        },
    };
    execute(stops, downtime_id, command, context).await.map_err(LookupError::Command)
}

/// Books units a running job made; rejects need a leaf of the job's line's reject reason tree, which
/// is locked against redefinition first and read after, as a stop's reason is (`give_downtime_reason`).
pub async fn record_production(
    lines: &PgEventStore<Line>,
    jobs: &PgEventStore<Job>,
    job_id: &str,
    (good, reject): (u64, u64),
    reject_code: Option<ReasonCode>,
    context: &CommandContext,
) -> Result<CommandOutcome, LookupError<JobError>> {
    let reject_reason = match reject_code {
        Some(code) => {
            let Some(line_id) = jobs.state(job_id).await?.line else {
                return Err(LookupError::Command(CommandError::Rejected(JobError::NotCreated)));
            };
            let line_id = line_id.to_string();
            let mark = LineCommand::MarkRejectReasonUsed { code: code.clone() };
            execute(lines, &line_id, mark, &line_context(context)).await.map_err(LookupError::Line)?;
            let line = lines.state(&line_id).await?;
            Some(line.reject_reason(&code).map_err(|error| LookupError::Line(CommandError::Rejected(error)))?)
        }
        None => None,
    };
    let command = JobCommand::RecordProduction { good, reject, reject_reason };
    execute(jobs, job_id, command, context).await.map_err(LookupError::Command)
}

/// The same attribution for a follow-on command on another aggregate: caused by the same command, but
/// the caller's expected version and idempotency record are about the other aggregate's command.
fn line_context(context: &CommandContext) -> CommandContext {
    CommandContext { expected_version: None, idempotency: None, ..context.clone() }
}

/// Starts a checklist from the current version of a template.
pub async fn start_checklist(
    templates: &PgEventStore<ChecklistTemplate>,
    checklists: &PgEventStore<Checklist>,
    checklist_id: &str,
    template_id: &str,
    job: Option<Uuid>,
    context: &CommandContext,
) -> Result<CommandOutcome, LookupError<domain::checklist::ChecklistError>> {
    let template = templates.state(template_id).await?;
    if template.version == 0 {
        return Err(LookupError::UnknownTemplate(template_id.to_owned()));
    }
    let version =
        TemplateVersion { template_id: template_id.to_owned(), version: template.version, items: template.items };
    execute(checklists, checklist_id, ChecklistCommand::Start { template: version, job }, context)
        .await
        .map_err(LookupError::Command)
}
