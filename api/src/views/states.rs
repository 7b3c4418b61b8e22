//! A record's state as its events fold it (the answer of `/api/v1/state`, a line's and an account's
//! record), in the contract's own types: an aggregate's snapshot shape can change without changing these.
//! Values that events carry (a shift calendar, an escalation ladder, a checklist item) keep the shape of
//! the event that set them, which the log pins for ever.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use projections::read_models::folded::name_of;

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
                .map(|grant| GrantView { role: name_of(&grant.role), scope: grant.scope.into() })
                .collect(),
            deactivated: user.deactivated,
            locked_out: user.locked_out,
            consecutive_failures: user.consecutive_failures,
            must_change_password: user.must_change_password,
        }
    }
}

/// A device as administrators see it; never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub name: Option<String>,
    /// `[kind, scope]` once enrolled; the kind is `tablet` or `plc_gateway`.
    pub enrolled: Option<(String, ScopeView)>,
    pub revoked: bool,
}

impl From<domain::device::Device> for DeviceView {
    fn from(device: domain::device::Device) -> Self {
        Self {
            name: device.name.map(|name| name.to_string()),
            enrolled: device.enrolled.map(|(kind, scope)| (name_of(&kind), scope.into())),
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
    pub counters: BTreeMap<String, CounterView>,
    /// Its signatures (release, reviews) and how many corrections it has had.
    pub signatures: domain::signature::Signatures,
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
            signatures: job.signatures,
        }
    }
}

/// A line's configuration as its events fold it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    /// `[line, name, time zone]` once registered.
    pub identity: Option<(String, String, String)>,
    /// Names by equipment id.
    pub equipment: BTreeMap<String, String>,
    /// By product id, every version in the order set.
    pub ideal_cycle_times: BTreeMap<String, Vec<VersionedMillis>>,
    pub calendars: Vec<VersionedCalendar>,
    /// The non-production days, every version in the order set.
    pub non_production_days: Vec<VersionedNonProductionDays>,
    /// The crew rotations, every version in the order set.
    pub crew_rotations: Vec<VersionedCrewRotation>,
    pub small_stop_thresholds: Vec<VersionedMillis>,
    /// By call type.
    pub escalation_ladders: BTreeMap<String, Vec<VersionedLadder>>,
    /// The downtime reason tree by code.
    pub reasons: BTreeMap<String, ReasonNodeView>,
    /// The reject reason tree by code.
    pub reject_reasons: BTreeMap<String, RejectReasonNodeView>,
}

/// A duration in milliseconds as configured from a time on.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionedMillis {
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    pub value: u64,
}

/// A shift calendar as configured from a time on.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionedCalendar {
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    pub value: Vec<domain::line::ShiftDefinition>,
}

/// A list of non-production days as configured from a time on.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionedNonProductionDays {
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    pub value: Vec<domain::line::NonProductionDay>,
}

/// A crew rotation as configured from a time on.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionedCrewRotation {
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    pub value: domain::line::CrewRotation,
}

/// An escalation ladder as configured from a time on.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionedLadder {
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    pub value: domain::andon::EscalationLadder,
}

/// One downtime reason of a line's tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonNodeView {
    pub label: String,
    pub parent: Option<String>,
    #[schema(example = "unplanned")]
    pub loss_category: String,
    /// A used reason's code is never redefined.
    pub used: bool,
}

/// One reject reason of a line's tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectReasonNodeView {
    pub label: String,
    pub parent: Option<String>,
    /// `startup` or `production`: the loss tree branch its rejects count in.
    #[schema(example = "startup")]
    pub category: String,
    /// A used reason's code is never redefined.
    pub used: bool,
}

fn versioned_millis(versions: Vec<domain::line::Versioned<domain::values::Millis>>) -> Vec<VersionedMillis> {
    versions
        .into_iter()
        .map(|v| VersionedMillis { version: v.version, effective_from: v.effective_from, value: v.value.get() })
        .collect()
}

impl From<domain::line::Line> for LineView {
    fn from(line: domain::line::Line) -> Self {
        Self {
            identity: line.identity.map(|(id, name, zone)| (id.to_string(), name.to_string(), zone.name().to_owned())),
            equipment: line.equipment.into_iter().map(|(id, name)| (id.to_string(), name.to_string())).collect(),
            ideal_cycle_times: line
                .ideal_cycle_times
                .into_iter()
                .map(|(product, versions)| (product.to_string(), versioned_millis(versions)))
                .collect(),
            calendars: line
                .calendars
                .into_iter()
                .map(|v| VersionedCalendar { version: v.version, effective_from: v.effective_from, value: v.value })
                .collect(),
            non_production_days: line
                .non_production_days
                .into_iter()
                .map(|v| VersionedNonProductionDays {
                    version: v.version,
                    effective_from: v.effective_from,
                    value: v.value,
                })
                .collect(),
            crew_rotations: line
                .crew_rotations
                .into_iter()
                .map(|v| VersionedCrewRotation { version: v.version, effective_from: v.effective_from, value: v.value })
                .collect(),
            small_stop_thresholds: versioned_millis(line.small_stop_thresholds),
            escalation_ladders: line
                .escalation_ladders
                .into_iter()
                .map(|(call_type, versions)| {
                    let versions = versions
                        .into_iter()
                        .map(|v| VersionedLadder {
                            version: v.version,
                            effective_from: v.effective_from,
                            value: v.value,
                        })
                        .collect();
                    (name_of(&call_type), versions)
                })
                .collect(),
            reasons: line
                .reasons
                .into_iter()
                .map(|(code, node)| {
                    let view = ReasonNodeView {
                        label: node.label.to_string(),
                        parent: node.parent.map(|parent| parent.to_string()),
                        loss_category: name_of(&node.loss_category),
                        used: node.used,
                    };
                    (code.to_string(), view)
                })
                .collect(),
            reject_reasons: line
                .reject_reasons
                .into_iter()
                .map(|(code, node)| {
                    let view = RejectReasonNodeView {
                        label: node.label.to_string(),
                        parent: node.parent.map(|parent| parent.to_string()),
                        category: name_of(&node.category),
                        used: node.used,
                    };
                    (code.to_string(), view)
                })
                .collect(),
        }
    }
}

/// A stop as its events fold it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DowntimeStateView {
    pub line: Option<String>,
    /// The machine that stopped; `null` when the whole line did.
    pub equipment: Option<String>,
    pub interval: Option<StopIntervalView>,
    pub reason: Option<AssignedReasonView>,
    /// Recorded in error (with a reason, in its history): out of every current figure.
    pub voided: bool,
    /// Its signatures (reviews, signed late changes) and how many reason changes it has had.
    pub signatures: domain::signature::Signatures,
}

/// When a stop began and, once it ended, when and as what.
#[derive(Debug, Serialize, ToSchema)]
pub struct StopIntervalView {
    pub started_at: DateTime<Utc>,
    /// The small-stop threshold in force when the stop began, in milliseconds.
    pub small_stop_threshold: u64,
    /// `[ended_at, class]` once ended; the class is `small_stop` or `downtime`.
    pub ended: Option<(DateTime<Utc>, String)>,
}

/// A stop's reason and the loss it is booked to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignedReasonView {
    pub code: String,
    #[schema(example = "unplanned")]
    pub loss_category: String,
}

impl From<domain::downtime::Downtime> for DowntimeStateView {
    fn from(stop: domain::downtime::Downtime) -> Self {
        Self {
            line: stop.line.map(|line| line.to_string()),
            equipment: stop.equipment.map(|equipment| equipment.to_string()),
            interval: stop.interval.map(|interval| StopIntervalView {
                started_at: interval.started_at,
                small_stop_threshold: interval.small_stop_threshold.get(),
                ended: interval.ended.map(|(at, class)| (at, name_of(&class))),
            }),
            reason: stop.reason.map(|reason| AssignedReasonView {
                code: reason.code.to_string(),
                loss_category: name_of(&reason.loss_category),
            }),
            voided: stop.voided,
            signatures: stop.signatures,
        }
    }
}

/// An Andon call as its events fold it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AndonCallStateView {
    #[schema(example = "raised")]
    pub status: String,
    pub line: Option<String>,
    pub station: Option<String>,
    pub call_type: Option<String>,
    pub priority: Option<String>,
    /// The escalation tier reached (1: raised).
    pub level: u8,
    pub raised_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was resolved or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<domain::andon::AndonCall> for AndonCallStateView {
    fn from(call: domain::andon::AndonCall) -> Self {
        Self {
            status: name_of(&call.status),
            line: call.line.map(|line| line.to_string()),
            station: call.station.map(|station| station.to_string()),
            call_type: call.call_type.map(|call_type| name_of(&call_type)),
            priority: call.priority.map(|priority| name_of(&priority)),
            level: call.level,
            raised_at: call.raised_at,
            acknowledged_at: call.acknowledged_at,
            closed_at: call.closed_at,
        }
    }
}

/// A checklist template's version in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistTemplateStateView {
    pub line: Option<String>,
    pub version: u32,
    pub items: Vec<domain::checklist::TemplateItem>,
}

impl From<domain::checklist::ChecklistTemplate> for ChecklistTemplateStateView {
    fn from(template: domain::checklist::ChecklistTemplate) -> Self {
        Self { line: template.line.map(|line| line.to_string()), version: template.version, items: template.items }
    }
}

/// A checklist as its events fold it: the template version it follows and the answers given.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistStateView {
    pub template: Option<domain::checklist::TemplateVersion>,
    /// By item id.
    pub answers: BTreeMap<String, domain::checklist::Answer>,
    /// Completed by its performer's signature.
    pub completed: bool,
    /// Its signatures (performed, verified, reviewed) and how many answers were changed.
    pub signatures: domain::signature::Signatures,
}

impl From<domain::checklist::Checklist> for ChecklistStateView {
    fn from(checklist: domain::checklist::Checklist) -> Self {
        Self {
            template: checklist.template,
            answers: checklist.answers.into_iter().map(|(item, answer)| (item.to_string(), answer)).collect(),
            completed: checklist.completed,
            signatures: checklist.signatures,
        }
    }
}

macro_rules! record_state_from {
    ($($variant:ident($domain:ty, $view:ty)),* $(,)?) => {
        $(impl From<$domain> for RecordStateView {
            fn from(state: $domain) -> Self {
                Self::$variant(<$view>::from(state))
            }
        })*
    };
}

record_state_from!(
    Line(domain::line::Line, LineView),
    Job(domain::job::Job, JobStateView),
    Downtime(domain::downtime::Downtime, DowntimeStateView),
    AndonCall(domain::andon::AndonCall, AndonCallStateView),
    ChecklistTemplate(domain::checklist::ChecklistTemplate, ChecklistTemplateStateView),
    Checklist(domain::checklist::Checklist, ChecklistStateView),
    User(domain::user::User, UserView),
    Device(domain::device::Device, DeviceView),
    ReadModel(domain::read_model::ReadModel, ReadModelView),
    ShiftReport(domain::shift_report::ShiftReport, ShiftReportStateView),
);

/// A shift report's record as its events fold it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftReportStateView {
    pub key: Option<domain::shift_report::ShiftKey>,
    pub line: Option<String>,
    pub notes: Vec<domain::shift_report::HandoverNote>,
    /// Every content fixed for approval, with the record version its event made.
    pub prepared: Vec<domain::shift_report::Prepared>,
    pub version: u64,
    pub signatures: domain::signature::Signatures,
}

impl From<domain::shift_report::ShiftReport> for ShiftReportStateView {
    fn from(report: domain::shift_report::ShiftReport) -> Self {
        Self {
            key: report.key,
            line: report.line.map(|line| line.to_string()),
            notes: report.notes,
            prepared: report.prepared,
            version: report.version,
            signatures: report.signatures,
        }
    }
}

/// A read model's rebuilds as its events fold them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadModelView {
    /// The schema a requested rebuild is building, until it is switched to or cancelled.
    pub building: Option<domain::read_model::Color>,
    /// When queries last switched to a rebuilt version.
    pub last_switched_at: Option<DateTime<Utc>>,
}

impl From<domain::read_model::ReadModel> for ReadModelView {
    fn from(model: domain::read_model::ReadModel) -> Self {
        Self { building: model.building, last_switched_at: model.last_switched_at }
    }
}

/// Any record's state, by its record type.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RecordStateView {
    Line(LineView),
    Job(JobStateView),
    Downtime(DowntimeStateView),
    AndonCall(AndonCallStateView),
    ChecklistTemplate(ChecklistTemplateStateView),
    Checklist(ChecklistStateView),
    User(UserView),
    Device(DeviceView),
    ReadModel(ReadModelView),
    ShiftReport(ShiftReportStateView),
}

#[cfg(test)]
mod tests {
    //! The views answer what the API answered before they existed, the domain's own serialisation of
    //! each state: a client sees the same JSON, now with a schema.

    use domain::Aggregate;
    use serde_json::{Value, json};

    use super::*;

    fn folded<A: Aggregate>(events: Value) -> A {
        let mut state = A::default();
        for event in serde_json::from_value::<Vec<A::Event>>(events).expect("events") {
            state.apply(&event);
        }
        state
    }

    fn same_json<A: Aggregate, V: Serialize + From<A>>(events: Value) {
        let state: A = folded(events);
        let before = serde_json::to_value(&state).expect("domain state");
        assert_eq!(serde_json::to_value(V::from(state)).expect("view"), before);
    }

    const AT: &str = "2026-11-22T06:00:00Z";

    #[test]
    fn a_configured_line_answers_the_json_of_its_folded_state() {
        same_json::<domain::line::Line, LineView>(json!([
            {"LineRegistered": {"line": "plant-1/packing/line-3", "name": "Line 3", "time_zone": "Europe/Berlin"}},
            {"EquipmentAdded": {"equipment": "filler", "name": "Filler"}},
            {"IdealCycleTimeSet": {"product": "sku-1", "version": 1, "ideal_cycle_time": 1500,
                                   "effective_from": AT, "reason": null}},
            {"IdealCycleTimeSet": {"product": "sku-1", "version": 2, "ideal_cycle_time": 1200,
                                   "effective_from": AT, "reason": "new tooling"}},
            {"ShiftCalendarSet": {"version": 1, "effective_from": AT, "reason": null, "shifts": [
                {"name": "early", "start": "06:00:00", "end": "14:00:00",
                 "breaks": [{"start": "10:00:00", "duration": 1_800_000}]}]}},
            {"SmallStopThresholdSet": {"version": 1, "threshold": 120_000, "effective_from": AT, "reason": null}},
            {"EscalationLadderSet": {"call_type": "quality", "version": 1, "effective_from": AT, "reason": null,
                                     "ladder": [{"level": 2, "unacknowledged_after_ms": 300_000},
                                                {"level": 3, "unresolved_after_ms": 1_800_000}]}},
            {"DowntimeReasonDefined": {"code": "mech", "label": "Mechanical", "parent": null,
                                       "loss_category": "unplanned", "reason": null}},
            {"DowntimeReasonDefined": {"code": "jam", "label": "Jam", "parent": "mech",
                                       "loss_category": "unplanned", "reason": null}},
            {"DowntimeReasonMarkedUsed": {"code": "jam"}},
        ]));
    }

    #[test]
    fn a_stop_answers_the_json_of_its_folded_state_open_and_ended() {
        let started = json!({"DowntimeStarted": {"line": "plant-1/packing/line-3", "equipment": "filler",
            "source": {"kind": "operator"}, "started_at": AT, "small_stop_threshold": 120_000, "at": AT}});
        same_json::<domain::downtime::Downtime, DowntimeStateView>(json!([started]));
        same_json::<domain::downtime::Downtime, DowntimeStateView>(json!([started,
            {"DowntimeReasonAssigned": {"reason_code": "jam", "loss_category": "unplanned", "at": AT}},
            {"DowntimeEnded": {"ended_at": "2026-11-22T06:20:00Z", "duration": 1_200_000, "class": "downtime",
                               "at": AT}},
        ]));
    }

    #[test]
    fn an_andon_call_answers_the_json_of_its_folded_state() {
        same_json::<domain::andon::AndonCall, AndonCallStateView>(json!([
            {"AndonRaised": {"line": "plant-1/packing/line-3", "station": "st-2", "call_type": "maintenance",
                             "priority": "high", "description": "belt slips", "at": AT}},
            {"AndonEscalated": {"level": 2, "at": AT}},
            {"AndonAcknowledged": {"at": AT}},
        ]));
    }

    #[test]
    fn a_checklist_and_its_template_answer_the_json_of_their_folded_states() {
        let items = json!([
            {"id": "guards", "prompt": "Guards closed", "kind": {"kind": "check"}, "mandatory": true},
            {"id": "weight", "prompt": "Fill weight", "kind": {"kind": "number", "min": 495, "max": 505},
             "mandatory": true},
        ]);
        same_json::<domain::checklist::ChecklistTemplate, ChecklistTemplateStateView>(json!([
            {"ChecklistTemplateDefined": {"version": 1, "line": "plant-1/packing/line-3", "product": null,
                                          "name": "Start-up", "items": items, "reason": null, "at": AT}},
        ]));
        same_json::<domain::checklist::Checklist, ChecklistStateView>(json!([
            {"ChecklistStarted": {"template": {"template_id": "start-up", "version": 1, "items": items},
                                  "job": null, "at": AT}},
            {"ChecklistItemAnswered": {"item": "guards", "answer": {"kind": "check", "value": true},
                                       "within_limits": true, "at": AT}},
            {"ChecklistItemAnswered": {"item": "weight", "answer": {"kind": "number", "value": 510},
                                       "within_limits": false, "at": AT}},
            {"ChecklistCompleted": {"at": AT}},
        ]));
    }

    #[test]
    fn a_job_answers_the_json_of_its_folded_state_with_its_counters() {
        same_json::<domain::job::Job, JobStateView>(json!([
            {"JobCreated": {"line": "plant-1/packing/line-3", "product": "sku-1", "target_quantity": 100, "at": AT}},
            {"JobStarted": {"at": AT}},
            {"CounterBaselineRecorded": {"counter": "c1", "kind": "good", "width": "bits16", "sequence": 1,
                                         "value": 65_000, "source_timestamp": AT, "at": AT}},
            {"CounterProductionCounted": {"counter": "c1", "kind": "good", "sequence": 2, "value": 10,
                                          "delta": 546, "step": "rolled_over", "source_timestamp": AT, "at": AT}},
        ]));
    }
}
