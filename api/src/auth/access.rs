//! Who may do what where (Part 11 AC-03): the roles each kind of action allows, and the check of a
//! principal's grants against them and against the line or site the action touches.

use domain::actor::{Actor, Role, UserId};
use domain::device::DeviceKind;
use domain::line_id::LineId;
use domain::scope::Scope;
use domain::values::SiteId;
use uuid::Uuid;

use super::principal::{Principal, Who};
use crate::error::ApiError;

use Role::{Admin, Auditor, Device, Display, Engineer, Maintenance, Operator, Quality, TeamLeader};

/// Registering lines and setting their configuration: equipment, cycle times, calendars, reason trees.
pub const CONFIGURE_LINES: &[Role] = &[Engineer];
/// Defining checklist templates.
pub const DEFINE_CHECKLISTS: &[Role] = &[Engineer, Quality];
/// Creating, assigning and cancelling jobs.
pub const PLAN_JOBS: &[Role] = &[TeamLeader];
/// Accepting, starting, pausing, resuming, completing jobs and booking counts by hand.
pub const RUN_JOBS: &[Role] = &[Operator, TeamLeader];
/// Correcting booked counts, with a reason.
pub const CORRECT_COUNTS: &[Role] = &[TeamLeader, Quality];
/// PLC counter readings.
pub const READ_COUNTERS: &[Role] = &[Operator, TeamLeader, Device];
/// Starting and ending stops.
pub const RECORD_STOPS: &[Role] = &[Operator, TeamLeader, Maintenance, Device];
/// Giving a stop its reason or changing it.
pub const EXPLAIN_STOPS: &[Role] = &[Operator, TeamLeader, Maintenance];
/// Voiding a stop recorded in error, with a reason.
pub const VOID_STOPS: &[Role] = &[TeamLeader, Quality];
pub const RAISE_ANDON: &[Role] = &[Operator, TeamLeader, Maintenance, Quality];
/// Acknowledging and resolving Andon calls.
pub const RESPOND_TO_ANDON: &[Role] = &[TeamLeader, Maintenance, Quality];
pub const ESCALATE_ANDON: &[Role] = &[TeamLeader];
pub const CANCEL_ANDON: &[Role] = &[Operator, TeamLeader];
pub const WORK_CHECKLISTS: &[Role] = &[Operator, TeamLeader, Quality];
/// Users, devices, sessions and security alerts.
/// Read the boards (a line's status, the live streams, the open Andon calls): everyone who reads
/// records, and an enrolled display within its scope.
pub const READ_BOARDS: &[Role] = &[Operator, TeamLeader, Maintenance, Quality, Engineer, Auditor, Admin, Display];
/// Write a shift's handover notes.
pub const HAND_OVER_SHIFTS: &[Role] = &[TeamLeader];
/// Fix a shift report's content for approval (the signature's meaning decides who may sign it).
pub const APPROVE_SHIFTS: &[Role] = &[TeamLeader, Quality];
pub const ADMINISTER: &[Role] = &[Admin];
/// Reading records, their history and their state at a past point.
pub const READ_RECORDS: &[Role] = &[Operator, TeamLeader, Maintenance, Quality, Engineer, Auditor, Admin];
/// Reading user and device accounts and their history.
pub const READ_ACCOUNTS: &[Role] = &[Auditor, Admin];
/// Reading the audit trail, within the scopes of these roles' grants.
pub const READ_TRAIL: &[Role] = &[TeamLeader, Quality, Engineer, Auditor, Admin];
/// The ledger: checkpoints, proofs and verification of the whole log, across every line.
pub const AUDIT_LEDGER: &[Role] = &[Auditor, Quality, Admin];

/// What an action touches, to be covered by the scope of the grant that allows it.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Line(&'a LineId),
    Site(&'a SiteId),
    /// Grants in this scope: an administrator needs the whole site.
    Scope(&'a Scope),
    /// Accounts: an allowed role in any scope will do.
    Anywhere,
}

fn covers(scope: &Scope, target: Target<'_>) -> bool {
    match target {
        Target::Line(line) => scope.covers(line),
        Target::Site(site) => scope.includes(&Scope::Site { site: site.clone() }),
        Target::Scope(other) => scope.includes(&Scope::Site { site: other.site().clone() }),
        Target::Anywhere => true,
    }
}

/// The scopes in which a principal holds one of the `allowed` roles (none for a device).
pub fn scopes_of(principal: &Principal, allowed: &[Role]) -> Vec<Scope> {
    match &principal.who {
        Who::Person { grants, .. } => {
            grants.iter().filter(|grant| allowed.contains(&grant.role)).map(|grant| grant.scope.clone()).collect()
        }
        Who::Device { .. } => Vec::new(),
    }
}

/// The actor an allowed action is attributed to, with the role that allowed it; 403 otherwise.
pub fn authorize(principal: &Principal, allowed: &[Role], target: Target<'_>) -> Result<Actor, ApiError> {
    match &principal.who {
        Who::Person { id, printed_name, grants } => {
            let permitted = grants.iter().filter(|grant| allowed.contains(&grant.role));
            let mut in_some_scope = false;
            for grant in permitted {
                in_some_scope = true;
                if covers(&grant.scope, target) {
                    return Ok(Actor { user_id: *id, printed_name: printed_name.clone(), role: grant.role });
                }
            }
            Err(if in_some_scope {
                ApiError::forbidden("out_of_scope", "your role does not extend to this line or site")
            } else {
                ApiError::forbidden("forbidden", format!("this action needs one of the roles {}", role_list(allowed)))
            })
        }
        Who::Device { id, name, kind, scope } => {
            let Some(role) = device_role(*kind).filter(|role| allowed.contains(role)) else {
                return Err(ApiError::forbidden("forbidden", "devices may not perform this action"));
            };
            if !covers(scope, target) {
                return Err(ApiError::forbidden("out_of_scope", "the device is not enrolled for this line or site"));
            }
            Ok(Actor { user_id: device_user_id(id.as_str()), printed_name: name.clone(), role })
        }
    }
}

/// The role a device acts in: a gateway as `device`, a display as `display`; a tablet acts only through
/// the person signed in on it.
pub fn device_role(kind: DeviceKind) -> Option<Role> {
    match kind {
        DeviceKind::PlcGateway => Some(Device),
        DeviceKind::Display => Some(Display),
        DeviceKind::Tablet => None,
    }
}

/// The id a PLC gateway acts under in event metadata: derived from the device id, so it is stable and
/// can never collide with a person's (random) id in practice.
pub fn device_user_id(device: &str) -> UserId {
    UserId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("ms5-floor:device:{device}").as_bytes()))
}

fn role_list(roles: &[Role]) -> String {
    roles.iter().map(|role| format!("{role:?}")).collect::<Vec<_>>().join(", ")
}
