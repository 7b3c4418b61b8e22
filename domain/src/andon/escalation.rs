//! When an open Andon call escalates next (shop-floor.md, "Andon"). Each tier of a ladder fires when
//! the call has gone unacknowledged, or unresolved, for its time since being raised. Acknowledging stops
//! the unacknowledged timers only; resolving or cancelling stops all. The scheduler that raises the
//! escalation events asks this function after every change and after a restart, so timers are always
//! rebuilt from the events.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{AndonCall, AndonStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub level: u8,
    pub unacknowledged_after: Option<Duration>,
    pub unresolved_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationLadder {
    pub tiers: Vec<Tier>,
}

impl Default for EscalationLadder {
    /// L1 team leader at once (the raise itself); L2 supervisor when unacknowledged after 5 minutes or
    /// unresolved after 15; L3 area manager at 30 minutes; L4 plant manager at 60.
    fn default() -> Self {
        let tier =
            |level, unacknowledged_after, unresolved_after| Tier { level, unacknowledged_after, unresolved_after };
        Self {
            tiers: vec![
                tier(2, Some(Duration::minutes(5)), Some(Duration::minutes(15))),
                tier(3, None, Some(Duration::minutes(30))),
                tier(4, None, Some(Duration::minutes(60))),
            ],
        }
    }
}

/// The next escalation of a call: to `level`, due at `due_at` (possibly already past).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub level: u8,
    pub due_at: DateTime<Utc>,
}

/// The earliest-due tier above the call's level, or `None` when nothing is left to escalate. Tiers fall
/// due in turn, so a scheduler that was down records each tier it missed, in order.
pub fn next_escalation(call: &AndonCall, ladder: &EscalationLadder) -> Option<Escalation> {
    let raised_at = call.raised_at?;
    let acknowledged = match call.status {
        AndonStatus::Raised => false,
        AndonStatus::Acknowledged => true,
        AndonStatus::NotRaised | AndonStatus::Resolved | AndonStatus::Cancelled => return None,
    };
    ladder
        .tiers
        .iter()
        .filter(|tier| tier.level > call.level)
        .filter_map(|tier| {
            let unacknowledged = tier.unacknowledged_after.filter(|_| !acknowledged);
            let after = [unacknowledged, tier.unresolved_after].into_iter().flatten().min()?;
            Some(Escalation { level: tier.level, due_at: raised_at + after })
        })
        .min_by_key(|escalation| (escalation.due_at, escalation.level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::test_now;

    fn call(status: AndonStatus, level: u8) -> AndonCall {
        AndonCall { status, level, raised_at: Some(test_now()), ..AndonCall::default() }
    }
    fn due(level: u8, minutes: i64) -> Option<Escalation> {
        Some(Escalation { level, due_at: test_now() + Duration::minutes(minutes) })
    }

    #[test]
    fn an_unacknowledged_call_reaches_the_supervisor_after_five_minutes() {
        assert_eq!(next_escalation(&call(AndonStatus::Raised, 1), &EscalationLadder::default()), due(2, 5));
    }

    #[test]
    fn acknowledging_stops_only_the_acknowledgement_timer() {
        assert_eq!(next_escalation(&call(AndonStatus::Acknowledged, 1), &EscalationLadder::default()), due(2, 15));
    }

    #[test]
    fn each_tier_follows_the_last_until_the_plant_manager() {
        let ladder = EscalationLadder::default();
        assert_eq!(next_escalation(&call(AndonStatus::Raised, 2), &ladder), due(3, 30));
        assert_eq!(next_escalation(&call(AndonStatus::Acknowledged, 3), &ladder), due(4, 60));
        assert_eq!(next_escalation(&call(AndonStatus::Raised, 4), &ladder), None);
    }

    #[test]
    fn resolved_cancelled_or_unraised_calls_never_escalate() {
        let ladder = EscalationLadder::default();
        for status in [AndonStatus::Resolved, AndonStatus::Cancelled] {
            assert_eq!(next_escalation(&call(status, 1), &ladder), None);
        }
        assert_eq!(next_escalation(&AndonCall::default(), &ladder), None);
    }

    #[test]
    fn a_tier_with_only_an_acknowledgement_timer_is_skipped_once_acknowledged() {
        let ladder = EscalationLadder {
            tiers: vec![
                Tier { level: 2, unacknowledged_after: Some(Duration::minutes(2)), unresolved_after: None },
                Tier { level: 3, unacknowledged_after: None, unresolved_after: Some(Duration::minutes(20)) },
            ],
        };
        assert_eq!(next_escalation(&call(AndonStatus::Raised, 1), &ladder), due(2, 2));
        assert_eq!(next_escalation(&call(AndonStatus::Acknowledged, 1), &ladder), due(3, 20));
    }
}
