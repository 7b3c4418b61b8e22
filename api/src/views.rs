//! Read-model rows as the API answers them: the HTTP contract's own types with their schemas, converted
//! from the read models' rows, so a row can change without changing the contract. Several endpoints
//! (and the live streams) answer with the same ones.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::oee_view::PeriodView;

/// One stop of a line.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Stop {
    pub downtime_id: String,
    pub line: String,
    pub equipment: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// `small_stop` or `downtime`, once it ended.
    pub class: Option<String>,
    pub reason_code: Option<String>,
    /// `unassigned` until the stop has a reason.
    pub loss_category: String,
}

impl From<projections::read_models::downtime::StopRow> for Stop {
    fn from(row: projections::read_models::downtime::StopRow) -> Self {
        let projections::read_models::downtime::StopRow {
            downtime_id,
            line,
            equipment,
            started_at,
            ended_at,
            duration_ms,
            class,
            reason_code,
            loss_category,
        } = row;
        Self { downtime_id, line, equipment, started_at, ended_at, duration_ms, class, reason_code, loss_category }
    }
}

/// One Andon call as the board and the history show it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CallView {
    pub call_id: String,
    pub line: String,
    pub station: String,
    pub call_type: String,
    pub priority: String,
    pub status: String,
    /// The escalation tier reached (1: raised).
    pub level: i16,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was resolved or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<projections::read_models::andon::CallRow> for CallView {
    fn from(row: projections::read_models::andon::CallRow) -> Self {
        let projections::read_models::andon::CallRow {
            call_id,
            line,
            station,
            call_type,
            priority,
            status,
            level,
            raised_at,
            acknowledged_at,
            closed_at,
        } = row;
        Self { call_id, line, station, call_type, priority, status, level, raised_at, acknowledged_at, closed_at }
    }
}

/// A job as the jobs read model has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub line: String,
    pub status: String,
    pub product: String,
    /// A whole number, as text (it may exceed what JSON numbers hold exactly).
    pub target_quantity: String,
    pub good: i64,
    pub reject: i64,
    /// The log position of the job's last event folded in.
    pub last_position: i64,
}

impl From<projections::read_models::jobs::JobRow> for JobView {
    fn from(row: projections::read_models::jobs::JobRow) -> Self {
        let projections::read_models::jobs::JobRow {
            job_id,
            line,
            status,
            product,
            target_quantity,
            good,
            reject,
            last_position,
        } = row;
        Self { job_id, line, status, product, target_quantity, good, reject, last_position }
    }
}

/// Where a role or a device applies: a site, or one line of it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScopeView {
    Site { site: String },
    Line { line: String },
}

impl From<domain::scope::Scope> for ScopeView {
    fn from(scope: domain::scope::Scope) -> Self {
        match scope {
            domain::scope::Scope::Site { site } => Self::Site { site: site.to_string() },
            domain::scope::Scope::Line { line } => Self::Line { line: line.to_string() },
        }
    }
}

/// A role held within a scope.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    #[schema(example = "operator")]
    pub role: String,
    pub scope: ScopeView,
}

/// An account as administrators and auditors see it; never its credentials.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub username: Option<String>,
    pub printed_name: Option<String>,
    pub grants: Vec<GrantView>,
    pub deactivated: bool,
    pub locked_out: bool,
    pub consecutive_failures: u32,
    pub must_change_password: bool,
}

impl From<domain::user::User> for UserView {
    fn from(user: domain::user::User) -> Self {
        Self {
            username: user.username.map(|name| name.to_string()),
            printed_name: user.printed_name.map(|name| name.to_string()),
            grants: user
                .grants
                .into_iter()
                .map(|grant| GrantView {
                    role: projections::read_models::folded::name_of(&grant.role),
                    scope: grant.scope.into(),
                })
                .collect(),
            deactivated: user.deactivated,
            locked_out: user.locked_out,
            consecutive_failures: user.consecutive_failures,
            must_change_password: user.must_change_password,
        }
    }
}

/// An enrolled device: its kind (`tablet`, `plc_gateway`) and where it may act.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentView(pub String, pub ScopeView);

/// A device as administrators see it; never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub name: Option<String>,
    /// `[kind, scope]` once enrolled.
    pub enrolled: Option<EnrolmentView>,
    pub revoked: bool,
}

impl From<domain::device::Device> for DeviceView {
    fn from(device: domain::device::Device) -> Self {
        Self {
            name: device.name.map(|name| name.to_string()),
            enrolled: device
                .enrolled
                .map(|(kind, scope)| EnrolmentView(projections::read_models::folded::name_of(&kind), scope.into())),
            revoked: device.revoked,
        }
    }
}

/// A job as its events fold it: status, counts, operator and each PLC counter's last reading.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobStateView {
    #[schema(example = "running")]
    pub status: String,
    pub line: Option<String>,
    pub product: Option<String>,
    pub target_quantity: u64,
    pub operator: Option<uuid::Uuid>,
    pub good: u64,
    pub reject: u64,
    /// By counter id.
    pub counters: std::collections::BTreeMap<String, CounterView>,
}

/// A PLC counter's last accepted reading in a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterView {
    /// `good` or `reject`.
    pub kind: String,
    /// `bits16`, `bits32` or `bits64`.
    pub width: String,
    pub sequence: u64,
    pub value: u64,
}

impl From<domain::job::Job> for JobStateView {
    fn from(job: domain::job::Job) -> Self {
        use projections::read_models::folded::name_of;
        Self {
            status: name_of(&job.status),
            line: job.line.map(|line| line.to_string()),
            product: job.product.map(|product| product.to_string()),
            target_quantity: job.target_quantity,
            operator: job.operator.map(|operator| operator.as_uuid()),
            good: job.good,
            reject: job.reject,
            counters: job
                .counters
                .into_iter()
                .map(|(counter, state)| {
                    let view = CounterView {
                        kind: name_of(&state.kind),
                        width: name_of(&state.width),
                        sequence: state.sequence,
                        value: state.value,
                    };
                    (counter.to_string(), view)
                })
                .collect(),
        }
    }
}

/// A line's status board.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoardView {
    pub line: String,
    /// `stopped` while a stop of the whole line is open, else `running` while a job runs, else `unknown`.
    pub state: &'static str,
    /// The open stop of the whole line, with its reason once given.
    pub stop: Option<Stop>,
    /// The running or paused job, the newest if several.
    pub job: Option<JobView>,
    pub open_calls: Vec<CallView>,
    /// The shift occurrence running at the time of the query, up to then; `null` between shifts.
    pub shift_oee: Option<PeriodView>,
    /// Where each read model behind this board is in the log: `[projection, position]` pairs.
    #[schema(value_type = Vec<Vec<String>>)]
    pub freshness: Vec<(String, i64)>,
}

impl From<projections::live::line_status::LineStatus> for BoardView {
    fn from(status: projections::live::line_status::LineStatus) -> Self {
        Self {
            line: status.line,
            state: status.state,
            stop: status.stop.map(Stop::from),
            job: status.job.map(JobView::from),
            open_calls: status.open_calls.into_iter().map(CallView::from).collect(),
            shift_oee: status.shift_oee.map(PeriodView::from),
            freshness: status.freshness,
        }
    }
}

/// The JSON shapes of what the log stores beside an event, described for the OpenAPI document; answers
/// show the stored JSON itself (the bytes the hash chain covers), never a re-serialisation.
#[allow(dead_code)] // read only by the OpenAPI generator
pub mod stored {
    use serde::Serialize;
    use utoipa::ToSchema;

    /// Who, why and from where (Part 11 AT-02, AT-09): written with every event.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct Metadata {
        pub actor_user_id: uuid::Uuid,
        /// The actor's printed name at the time.
        pub actor_name: String,
        /// The role the actor used.
        #[schema(example = "operator")]
        pub actor_role: String,
        /// The reason, where a record changed or was voided.
        pub reason: Option<String>,
        pub correlation_id: uuid::Uuid,
        pub causation_id: uuid::Uuid,
        pub device_id: Option<String>,
        /// When the data was taken at its source.
        pub source_timestamp: Option<chrono::DateTime<chrono::Utc>>,
        pub source_sequence: Option<u64>,
        pub idempotency_key: Option<String>,
    }
}
