//! When an open Andon call escalates next (docs/shop-floor.md, "Andon"). Each tier of a ladder fires when
//! the call has gone unacknowledged, or unresolved, for its time since being raised. Acknowledging stops
//! the unacknowledged timers only; resolving or cancelling stops all. The scheduler that raises the
//! escalation events asks this function after every change and after a restart, so timers are always
//! rebuilt from the events. Ladders are configured per line and call type (`line::Line`); a call follows
//! the ladder in force when it was raised.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{AndonCall, AndonStatus, MAX_ESCALATION_LEVEL};
use crate::values::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tier {
    /// The level the call goes to: 2 to 4 (level 1, the team leader, is the raise itself).
    pub level: u8,
    /// Fires when the call is still unacknowledged this long after it was raised.
    #[serde(rename = "unacknowledged_after_ms", default, skip_serializing_if = "Option::is_none")]
    pub unacknowledged_after: Option<Millis>,
    /// Fires when the call is still unresolved this long after it was raised.
    #[serde(rename = "unresolved_after_ms", default, skip_serializing_if = "Option::is_none")]
    pub unresolved_after: Option<Millis>,
}

/// Why a ladder was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LadderError {
    #[error("an escalation ladder needs at least one tier")]
    NoTiers,
    #[error(
        "tier levels must rise from 2 to at most {MAX_ESCALATION_LEVEL}; level {0} is out of order or out of range"
    )]
    BadLevel(u8),
    #[error("tier {0} has neither an unacknowledged nor an unresolved time")]
    NoTimer(u8),
    #[error("tier {0} fires no later than a lower tier on the same timer; each tier's times must come later")]
    NotLater(u8),
}

impl crate::aggregate::Rule for LadderError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoTiers { .. } => "no_tiers",
            Self::BadLevel { .. } => "bad_level",
            Self::NoTimer { .. } => "no_timer",
            Self::NotLater { .. } => "not_later",
        }
    }
}

/// Tiers in rising level, each firing later than the tiers below it on the same timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Tier>", into = "Vec<Tier>")]
pub struct EscalationLadder {
    tiers: Vec<Tier>,
}

impl EscalationLadder {
    pub fn new(tiers: Vec<Tier>) -> Result<Self, LadderError> {
        if tiers.is_empty() {
            return Err(LadderError::NoTiers);
        }
        for (index, tier) in tiers.iter().enumerate() {
            let lower = &tiers[..index];
            let floor = lower.last().map_or(1, |below| below.level);
            if tier.level <= floor || tier.level > MAX_ESCALATION_LEVEL {
                return Err(LadderError::BadLevel(tier.level));
            }
            if tier.unacknowledged_after.is_none() && tier.unresolved_after.is_none() {
                return Err(LadderError::NoTimer(tier.level));
            }
            let later = |timer: fn(&Tier) -> Option<Millis>| {
                timer(tier).is_none_or(|this| lower.iter().filter_map(timer).all(|below| below < this))
            };
            if !later(|tier| tier.unacknowledged_after) || !later(|tier| tier.unresolved_after) {
                return Err(LadderError::NotLater(tier.level));
            }
        }
        Ok(Self { tiers })
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }
}

impl TryFrom<Vec<Tier>> for EscalationLadder {
    type Error = LadderError;
    fn try_from(tiers: Vec<Tier>) -> Result<Self, LadderError> {
        Self::new(tiers)
    }
}

impl From<EscalationLadder> for Vec<Tier> {
    fn from(ladder: EscalationLadder) -> Vec<Tier> {
        ladder.tiers
    }
}

const fn minutes(n: u64) -> Option<Millis> {
    match Millis::new(n * 60_000) {
        Ok(ms) => Some(ms),
        Err(_) => None,
    }
}

impl Default for EscalationLadder {
    /// L1 team leader at once (the raise itself); L2 supervisor when unacknowledged after 5 minutes or
    /// unresolved after 15; L3 area manager at 30 minutes; L4 plant manager at 60.
    fn default() -> Self {
        let tier =
            |level, unacknowledged_after, unresolved_after| Tier { level, unacknowledged_after, unresolved_after };
        Self { tiers: vec![tier(2, minutes(5), minutes(15)), tier(3, None, minutes(30)), tier(4, None, minutes(60))] }
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
            let after = Duration::milliseconds(i64::try_from(after.get()).unwrap_or(i64::MAX));
            Some(Escalation { level: tier.level, due_at: raised_at.checked_add_signed(after)? })
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

    fn tier(level: u8, unacknowledged: Option<u64>, unresolved: Option<u64>) -> Tier {
        let ms = |minutes: u64| Millis::new(minutes * 60_000).unwrap();
        Tier { level, unacknowledged_after: unacknowledged.map(ms), unresolved_after: unresolved.map(ms) }
    }

    #[test]
    fn a_tier_with_only_an_acknowledgement_timer_is_skipped_once_acknowledged() {
        let ladder = EscalationLadder::new(vec![tier(2, Some(2), None), tier(3, None, Some(20))]).unwrap();
        assert_eq!(next_escalation(&call(AndonStatus::Raised, 1), &ladder), due(2, 2));
        assert_eq!(next_escalation(&call(AndonStatus::Acknowledged, 1), &ladder), due(3, 20));
    }

    #[test]
    fn a_ladder_rises_level_by_level_and_each_tier_fires_later_than_those_below() {
        let refused = |tiers| EscalationLadder::new(tiers).err();
        assert_eq!(refused(vec![]), Some(LadderError::NoTiers));
        assert_eq!(refused(vec![tier(1, Some(1), None)]), Some(LadderError::BadLevel(1)));
        assert_eq!(refused(vec![tier(5, Some(1), None)]), Some(LadderError::BadLevel(5)));
        assert_eq!(refused(vec![tier(3, Some(1), None), tier(2, Some(2), None)]), Some(LadderError::BadLevel(2)));
        assert_eq!(refused(vec![tier(2, None, None)]), Some(LadderError::NoTimer(2)));
        assert_eq!(refused(vec![tier(2, None, Some(30)), tier(3, None, Some(30))]), Some(LadderError::NotLater(3)));
        assert_eq!(refused(vec![tier(2, Some(5), None), tier(4, Some(4), Some(60))]), Some(LadderError::NotLater(4)));
        assert_eq!(refused(vec![tier(2, Some(5), None), tier(4, None, Some(1))]), None, "different timers");
    }

    #[test]
    fn a_ladder_is_written_as_its_tiers_in_milliseconds_and_read_back_only_if_valid() {
        let json = serde_json::to_value(EscalationLadder::default()).unwrap();
        assert_eq!(
            json[0],
            serde_json::json!({"level": 2, "unacknowledged_after_ms": 300_000, "unresolved_after_ms": 900_000})
        );
        let back: EscalationLadder = serde_json::from_value(json).unwrap();
        assert_eq!(back, EscalationLadder::default());
        let unordered =
            serde_json::json!([{"level": 3, "unresolved_after_ms": 1}, {"level": 2, "unresolved_after_ms": 2}]);
        assert!(serde_json::from_value::<EscalationLadder>(unordered).is_err());
    }
}
