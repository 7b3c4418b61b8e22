//! Production line: the configuration every figure of a line is computed with. Each setting that
//! changes over time is versioned with an effective-from instant (RC-03) and a change carries a reason.

mod calendar;
mod crews;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use self::calendar::{
    CalendarError, Day, NonProductionDay, PlannedBreak, ShiftDefinition, Weekdays, check_calendar,
    check_non_production_days,
};
pub use self::crews::{CrewRotation, LONGEST_CYCLE_DAYS};
use crate::aggregate::{self, event_enum};
use crate::andon::{CallType, EscalationLadder};
use crate::line_id::LineId;
use crate::values::{EquipmentId, LossCategory, Millis, Name, ProductId, Reason, ReasonCode, RejectCategory};

/// The small-stop threshold a line has until one is configured (docs/oee.md: 2 minutes).
pub const DEFAULT_SMALL_STOP_THRESHOLD: Millis = match Millis::new(120_000) {
    Ok(ms) => ms,
    Err(_) => panic!("the default threshold is positive"),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineCommand {
    Register {
        line: LineId,
        name: Name,
        time_zone: Tz,
    },
    AddEquipment {
        equipment: EquipmentId,
        name: Name,
    },
    SetIdealCycleTime {
        product: ProductId,
        ideal_cycle_time: Millis,
        effective_from: DateTime<Utc>,
        reason: Option<Reason>,
    },
    SetShiftCalendar {
        shifts: Vec<ShiftDefinition>,
        effective_from: DateTime<Utc>,
        reason: Option<Reason>,
    },
    /// The days the line does not produce, as a whole list that replaces the one before from
    /// `effective_from` on.
    SetNonProductionDays {
        days: Vec<NonProductionDay>,
        effective_from: DateTime<Utc>,
        reason: Option<Reason>,
    },
    /// Which crew works each shift from `effective_from` on.
    SetCrewRotation {
        rotation: CrewRotation,
        effective_from: DateTime<Utc>,
        reason: Option<Reason>,
    },
    SetSmallStopThreshold {
        threshold: Millis,
        effective_from: DateTime<Utc>,
        reason: Option<Reason>,
    },
    /// The ladder the line's Andon calls of one type follow when raised from `effective_from` on.
    SetEscalationLadder {
        call_type: CallType,
        ladder: EscalationLadder,
        effective_from: DateTime<Utc>,
        reason: Option<Reason>,
    },
    DefineDowntimeReason {
        code: ReasonCode,
        label: Name,
        parent: Option<ReasonCode>,
        loss_category: LossCategory,
        reason: Option<Reason>,
    },
    /// Locks a code against redefinition; the write side sends it before a stop first uses the code.
    MarkDowntimeReasonUsed {
        code: ReasonCode,
    },
    /// A reason rejected units may be booked with: a tree like the downtime reasons', each node with
    /// the loss tree branch its rejects count in.
    DefineRejectReason {
        code: ReasonCode,
        label: Name,
        parent: Option<ReasonCode>,
        category: RejectCategory,
        reason: Option<Reason>,
    },
    /// Locks a reject reason against redefinition; sent before a production record first uses it.
    MarkRejectReasonUsed {
        code: ReasonCode,
    },
}

impl aggregate::Command for LineCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::SetIdealCycleTime { reason, .. }
            | Self::SetShiftCalendar { reason, .. }
            | Self::SetNonProductionDays { reason, .. }
            | Self::SetCrewRotation { reason, .. }
            | Self::SetSmallStopThreshold { reason, .. }
            | Self::SetEscalationLadder { reason, .. }
            | Self::DefineDowntimeReason { reason, .. }
            | Self::DefineRejectReason { reason, .. } => reason.as_ref(),
            Self::Register { .. }
            | Self::AddEquipment { .. }
            | Self::MarkDowntimeReasonUsed { .. }
            | Self::MarkRejectReasonUsed { .. } => None,
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum LineEvent {
        LineRegistered { line: LineId, name: Name, #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Europe/Berlin"))] time_zone: Tz },
        EquipmentAdded { equipment: EquipmentId, name: Name },
        IdealCycleTimeSet { product: ProductId, version: u32, ideal_cycle_time: Millis, effective_from: DateTime<Utc>, reason: Option<Reason> },
        ShiftCalendarSet { version: u32, shifts: Vec<ShiftDefinition>, effective_from: DateTime<Utc>, reason: Option<Reason> },
        NonProductionDaysSet { version: u32, days: Vec<NonProductionDay>, effective_from: DateTime<Utc>, reason: Option<Reason> },
        SmallStopThresholdSet { version: u32, threshold: Millis, effective_from: DateTime<Utc>, reason: Option<Reason> },
        EscalationLadderSet { call_type: CallType, version: u32, ladder: EscalationLadder, effective_from: DateTime<Utc>, reason: Option<Reason> },
        DowntimeReasonDefined { code: ReasonCode, label: Name, parent: Option<ReasonCode>, loss_category: LossCategory, reason: Option<Reason> },
        DowntimeReasonMarkedUsed { code: ReasonCode },
        RejectReasonDefined { code: ReasonCode, label: Name, parent: Option<ReasonCode>, category: RejectCategory, reason: Option<Reason> },
        RejectReasonMarkedUsed { code: ReasonCode },
        CrewRotationSet { version: u32, rotation: CrewRotation, effective_from: DateTime<Utc>, reason: Option<Reason> },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("line is already registered")]
    AlreadyRegistered,
    #[error("line is not registered")]
    NotRegistered,
    #[error("equipment {0} already exists on this line")]
    DuplicateEquipment(EquipmentId),
    #[error("a new version must take effect after the current one ({current})")]
    NotAfterCurrentVersion { current: DateTime<Utc> },
    #[error("changing an existing setting needs a reason")]
    ReasonRequired,
    #[error("invalid shift calendar: {0}")]
    Calendar(#[from] CalendarError),
    #[error("reason {0} is not defined on this line")]
    UnknownReason(ReasonCode),
    #[error("reason {0} has been used and can no longer change")]
    ReasonInUse(ReasonCode),
    #[error("reason {0} cannot be its own ancestor")]
    ReasonCycle(ReasonCode),
    #[error("reason {0} has sub-reasons; only leaves can be assigned")]
    NotALeaf(ReasonCode),
}

impl crate::aggregate::Rule for LineError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRegistered { .. } => "already_registered",
            Self::NotRegistered { .. } => "not_registered",
            Self::DuplicateEquipment { .. } => "duplicate_equipment",
            Self::NotAfterCurrentVersion { .. } => "not_after_current_version",
            Self::ReasonRequired { .. } => "reason_required",
            Self::Calendar { .. } => "calendar",
            Self::UnknownReason { .. } => "unknown_reason",
            Self::ReasonInUse { .. } => "reason_in_use",
            Self::ReasonCycle { .. } => "reason_cycle",
            Self::NotALeaf { .. } => "not_a_leaf",
        }
    }
}

/// One version of a setting that changes over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    pub value: T,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DowntimeReasonNode {
    pub label: Name,
    pub parent: Option<ReasonCode>,
    pub loss_category: LossCategory,
    pub used: bool,
}

/// A reason a stop may be given: a defined leaf of the tree, with the category its loss is booked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignableReason {
    pub code: ReasonCode,
    pub loss_category: LossCategory,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectReasonNode {
    pub label: Name,
    pub parent: Option<ReasonCode>,
    pub category: RejectCategory,
    pub used: bool,
}

/// A reason rejected units may be booked with: a defined leaf of the line's reject reason tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectReason {
    pub code: ReasonCode,
    pub category: RejectCategory,
}

/// What the two reason trees share: codes in a tree, locked once used.
trait TreeNode {
    fn parent(&self) -> Option<&ReasonCode>;
    fn used(&self) -> bool;
}

impl TreeNode for DowntimeReasonNode {
    fn parent(&self) -> Option<&ReasonCode> {
        self.parent.as_ref()
    }
    fn used(&self) -> bool {
        self.used
    }
}

impl TreeNode for RejectReasonNode {
    fn parent(&self) -> Option<&ReasonCode> {
        self.parent.as_ref()
    }
    fn used(&self) -> bool {
        self.used
    }
}

/// A (re)definition of `code` under `parent` in `tree`: a used code cannot change nor gain children,
/// redefining needs a reason, and no code may become its own ancestor.
fn check_definition<N: TreeNode>(
    tree: &BTreeMap<ReasonCode, N>,
    code: &ReasonCode,
    parent: Option<&ReasonCode>,
    reason: Option<&Reason>,
) -> Result<(), LineError> {
    if let Some(existing) = tree.get(code) {
        if existing.used() {
            return Err(LineError::ReasonInUse(code.clone()));
        }
        if reason.is_none() {
            return Err(LineError::ReasonRequired);
        }
    }
    if let Some(parent_code) = parent {
        let parent_node = tree.get(parent_code).ok_or_else(|| LineError::UnknownReason(parent_code.clone()))?;
        // A used leaf that gains a child would stop being assignable: that is a change to a used code.
        if parent_node.used() {
            return Err(LineError::ReasonInUse(parent_code.clone()));
        }
        let mut ancestor = Some(parent_code);
        while let Some(current) = ancestor {
            if current == code {
                return Err(LineError::ReasonCycle(code.clone()));
            }
            ancestor = tree.get(current).and_then(TreeNode::parent);
        }
    }
    Ok(())
}

/// `code`'s node, if it is a defined leaf of `tree`: only leaves are assigned.
fn leaf<'a, N: TreeNode>(tree: &'a BTreeMap<ReasonCode, N>, code: &ReasonCode) -> Result<&'a N, LineError> {
    let node = tree.get(code).ok_or_else(|| LineError::UnknownReason(code.clone()))?;
    if tree.values().any(|node| node.parent() == Some(code)) {
        return Err(LineError::NotALeaf(code.clone()));
    }
    Ok(node)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub identity: Option<(LineId, Name, Tz)>,
    pub equipment: BTreeMap<EquipmentId, Name>,
    pub ideal_cycle_times: BTreeMap<ProductId, Vec<Versioned<Millis>>>,
    pub calendars: Vec<Versioned<Vec<ShiftDefinition>>>,
    /// Lines registered before non-production days existed have none.
    #[serde(default)]
    pub non_production_days: Vec<Versioned<Vec<NonProductionDay>>>,
    pub small_stop_thresholds: Vec<Versioned<Millis>>,
    #[serde(default)]
    pub escalation_ladders: BTreeMap<CallType, Vec<Versioned<EscalationLadder>>>,
    pub reasons: BTreeMap<ReasonCode, DowntimeReasonNode>,
    /// Lines configured before crews rotated have none.
    #[serde(default)]
    pub crew_rotations: Vec<Versioned<CrewRotation>>,
    /// Lines configured before reject reasons were a tree have none.
    #[serde(default)]
    pub reject_reasons: BTreeMap<ReasonCode, RejectReasonNode>,
}

/// The next version of a versioned setting: takes effect strictly after the current one, and replacing
/// one needs a reason.
fn next_version<T>(
    versions: &[Versioned<T>],
    effective_from: DateTime<Utc>,
    reason: Option<&Reason>,
) -> Result<u32, LineError> {
    let Some(current) = versions.last() else { return Ok(1) };
    if effective_from <= current.effective_from {
        return Err(LineError::NotAfterCurrentVersion { current: current.effective_from });
    }
    if reason.is_none() {
        return Err(LineError::ReasonRequired);
    }
    Ok(current.version + 1)
}

impl Line {
    pub fn is_registered(&self) -> bool {
        self.identity.is_some()
    }

    /// The site's time zone the line keeps its calendar in.
    pub fn time_zone(&self) -> Option<Tz> {
        self.identity.as_ref().map(|(_, _, zone)| *zone)
    }

    /// The small-stop threshold in force at `at`.
    pub fn small_stop_threshold_at(&self, at: DateTime<Utc>) -> Millis {
        self.small_stop_thresholds
            .iter()
            .rev()
            .find(|version| version.effective_from <= at)
            .map_or(DEFAULT_SMALL_STOP_THRESHOLD, |version| version.value)
    }

    /// Whether the shift that `at` falls in had ended by `now`: its figures have been seen, so changing
    /// what they count needs a signature. False when `at` lies in no shift (no figure counts it).
    pub fn shift_ended(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        // A shift lasts at most a day and a night, so one containing `at` starts in the two days before.
        let Some(range) =
            crate::oee::Interval::new(at - chrono::Duration::days(2), at + chrono::Duration::milliseconds(1))
        else {
            return false;
        };
        self.scheduled(range)
            .iter()
            .any(|shift| shift.interval.start() <= at && at < shift.interval.end() && shift.interval.end() <= now)
    }

    /// The line's shift occurrences that start in `range` (none before it is registered): each follows
    /// the calendar in force at its start and is left out on a non-production day of the list in force
    /// then.
    pub fn scheduled(&self, range: crate::oee::Interval) -> Vec<crate::oee::ShiftOccurrence> {
        let Some(zone) = self.time_zone() else { return Vec::new() };
        let mut scheduled = crate::oee::scheduled(&self.calendars, &self.non_production_days, zone, range);
        for occurrence in &mut scheduled {
            let start = occurrence.interval.start();
            let rotation = self.crew_rotations.iter().rev().find(|version| version.effective_from <= start);
            occurrence.crew =
                rotation.and_then(|version| version.value.crew_on(occurrence.date, &occurrence.shift)).cloned();
        }
        scheduled
    }

    /// Whether a shift of the line ends in (`after`, `until`]: a moment its figures are final and worth
    /// sealing under a checkpoint.
    pub fn a_shift_ends(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        // A shift ends at most a day and a night after it starts.
        let Some(range) = crate::oee::Interval::new(after - chrono::Duration::days(2), until) else { return false };
        self.scheduled(range).iter().any(|shift| shift.interval.end() > after && shift.interval.end() <= until)
    }

    /// The escalation ladder of a call of `call_type` raised at `raised_at`: the version in force then, or
    /// the default ladder (docs/shop-floor.md) when none was.
    pub fn escalation_ladder_at(&self, call_type: CallType, raised_at: DateTime<Utc>) -> EscalationLadder {
        self.escalation_ladders
            .get(&call_type)
            .and_then(|versions| versions.iter().rev().find(|version| version.effective_from <= raised_at))
            .map_or_else(EscalationLadder::default, |version| version.value.clone())
    }

    /// Looks a code up for assignment to a stop: it must be defined and a leaf.
    pub fn assignable_reason(&self, code: &ReasonCode) -> Result<AssignableReason, LineError> {
        let node = leaf(&self.reasons, code)?;
        Ok(AssignableReason { code: code.clone(), loss_category: node.loss_category })
    }

    /// Looks a code up for booking rejected units: it must be a defined leaf of the reject reason tree.
    pub fn reject_reason(&self, code: &ReasonCode) -> Result<RejectReason, LineError> {
        let node = leaf(&self.reject_reasons, code)?;
        Ok(RejectReason { code: code.clone(), category: node.category })
    }

    fn registered(&self) -> Result<(), LineError> {
        if self.is_registered() { Ok(()) } else { Err(LineError::NotRegistered) }
    }
}

impl aggregate::Aggregate for Line {
    const TYPE: &'static str = "line";
    type Command = LineCommand;
    type Event = LineEvent;
    type Error = LineError;

    fn handle(&self, command: LineCommand, _now: DateTime<Utc>) -> Result<Vec<LineEvent>, LineError> {
        if !matches!(command, LineCommand::Register { .. }) {
            self.registered()?;
        }
        match command {
            LineCommand::Register { line, name, time_zone } => {
                if self.is_registered() {
                    return Err(LineError::AlreadyRegistered);
                }
                Ok(vec![LineEvent::LineRegistered { line, name, time_zone }])
            }
            LineCommand::AddEquipment { equipment, name } => {
                if self.equipment.contains_key(&equipment) {
                    return Err(LineError::DuplicateEquipment(equipment));
                }
                Ok(vec![LineEvent::EquipmentAdded { equipment, name }])
            }
            LineCommand::SetIdealCycleTime { product, ideal_cycle_time, effective_from, reason } => {
                let versions = self.ideal_cycle_times.get(&product).map_or(&[][..], Vec::as_slice);
                let version = next_version(versions, effective_from, reason.as_ref())?;
                Ok(vec![LineEvent::IdealCycleTimeSet { product, version, ideal_cycle_time, effective_from, reason }])
            }
            LineCommand::SetShiftCalendar { shifts, effective_from, reason } => {
                check_calendar(&shifts)?;
                let version = next_version(&self.calendars, effective_from, reason.as_ref())?;
                Ok(vec![LineEvent::ShiftCalendarSet { version, shifts, effective_from, reason }])
            }
            LineCommand::SetNonProductionDays { days, effective_from, reason } => {
                check_non_production_days(&days)?;
                let version = next_version(&self.non_production_days, effective_from, reason.as_ref())?;
                Ok(vec![LineEvent::NonProductionDaysSet { version, days, effective_from, reason }])
            }
            LineCommand::SetCrewRotation { rotation, effective_from, reason } => {
                let version = next_version(&self.crew_rotations, effective_from, reason.as_ref())?;
                Ok(vec![LineEvent::CrewRotationSet { version, rotation, effective_from, reason }])
            }
            LineCommand::SetSmallStopThreshold { threshold, effective_from, reason } => {
                let version = next_version(&self.small_stop_thresholds, effective_from, reason.as_ref())?;
                Ok(vec![LineEvent::SmallStopThresholdSet { version, threshold, effective_from, reason }])
            }
            LineCommand::SetEscalationLadder { call_type, ladder, effective_from, reason } => {
                let versions = self.escalation_ladders.get(&call_type).map_or(&[][..], Vec::as_slice);
                let version = next_version(versions, effective_from, reason.as_ref())?;
                Ok(vec![LineEvent::EscalationLadderSet { call_type, version, ladder, effective_from, reason }])
            }
            LineCommand::DefineDowntimeReason { code, label, parent, loss_category, reason } => {
                check_definition(&self.reasons, &code, parent.as_ref(), reason.as_ref())?;
                Ok(vec![LineEvent::DowntimeReasonDefined { code, label, parent, loss_category, reason }])
            }
            LineCommand::MarkDowntimeReasonUsed { code } => {
                let already = leaf(&self.reasons, &code)?.used;
                Ok(if already { vec![] } else { vec![LineEvent::DowntimeReasonMarkedUsed { code }] })
            }
            LineCommand::DefineRejectReason { code, label, parent, category, reason } => {
                check_definition(&self.reject_reasons, &code, parent.as_ref(), reason.as_ref())?;
                Ok(vec![LineEvent::RejectReasonDefined { code, label, parent, category, reason }])
            }
            LineCommand::MarkRejectReasonUsed { code } => {
                let already = leaf(&self.reject_reasons, &code)?.used;
                Ok(if already { vec![] } else { vec![LineEvent::RejectReasonMarkedUsed { code }] })
            }
        }
    }

    fn apply(&mut self, event: &LineEvent) {
        match event.clone() {
            LineEvent::LineRegistered { line, name, time_zone } => self.identity = Some((line, name, time_zone)),
            LineEvent::EquipmentAdded { equipment, name } => {
                self.equipment.insert(equipment, name);
            }
            LineEvent::IdealCycleTimeSet { product, version, ideal_cycle_time, effective_from, .. } => {
                self.ideal_cycle_times.entry(product).or_default().push(Versioned {
                    version,
                    effective_from,
                    value: ideal_cycle_time,
                });
            }
            LineEvent::ShiftCalendarSet { version, shifts, effective_from, .. } => {
                self.calendars.push(Versioned { version, effective_from, value: shifts });
            }
            LineEvent::NonProductionDaysSet { version, days, effective_from, .. } => {
                self.non_production_days.push(Versioned { version, effective_from, value: days });
            }
            LineEvent::SmallStopThresholdSet { version, threshold, effective_from, .. } => {
                self.small_stop_thresholds.push(Versioned { version, effective_from, value: threshold });
            }
            LineEvent::EscalationLadderSet { call_type, version, ladder, effective_from, .. } => {
                self.escalation_ladders.entry(call_type).or_default().push(Versioned {
                    version,
                    effective_from,
                    value: ladder,
                });
            }
            LineEvent::DowntimeReasonDefined { code, label, parent, loss_category, .. } => {
                self.reasons.insert(code, DowntimeReasonNode { label, parent, loss_category, used: false });
            }
            LineEvent::DowntimeReasonMarkedUsed { code } => {
                if let Some(node) = self.reasons.get_mut(&code) {
                    node.used = true;
                }
            }
            LineEvent::RejectReasonDefined { code, label, parent, category, .. } => {
                self.reject_reasons.insert(code, RejectReasonNode { label, parent, category, used: false });
            }
            LineEvent::CrewRotationSet { version, rotation, effective_from, .. } => {
                self.crew_rotations.push(Versioned { version, effective_from, value: rotation });
            }
            LineEvent::RejectReasonMarkedUsed { code } => {
                if let Some(node) = self.reject_reasons.get_mut(&code) {
                    node.used = true;
                }
            }
        }
    }
}
