//! The six big losses of a period (docs/oee.md, "The loss tree"): planned production time broken into
//! fully productive time and the time lost to each loss, in exact milliseconds that add up to planned
//! production time, so a chart can draw them as a waterfall.

use std::ops::Add;

use serde::{Deserialize, Serialize};

use super::figures::OeeInputs;

/// What the loss tree needs beyond a window's OEE inputs (everything else in it is derived from
/// those): kept per window, and summed like the inputs in roll-ups. All zero without planned time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossFacts {
    /// Downtime booked to setups and changeovers (at most the window's downtime).
    pub setup_ms: u64,
    /// Small stops inside run time (overlaps, and time already downtime, counted once).
    pub small_stop_ms: u64,
    /// Rejects booked with a start-up reason, and their ideal time (at most the window's rejects).
    pub startup_rejects: i64,
    pub startup_reject_ms: i128,
}

impl Add for LossFacts {
    type Output = LossFacts;
    fn add(self, other: LossFacts) -> LossFacts {
        LossFacts {
            setup_ms: self.setup_ms + other.setup_ms,
            small_stop_ms: self.small_stop_ms + other.small_stop_ms,
            startup_rejects: self.startup_rejects + other.startup_rejects,
            startup_reject_ms: self.startup_reject_ms + other.startup_reject_ms,
        }
    }
}

/// A window's loss tree, derived by [`LossTree::of`]. Planned production time is the sum of unplanned stops, setups, small stops, slow cycles, start-up
/// rejects, production rejects and fully productive time, exactly. Time losses are measured; slow cycles are
/// what remains of run time after small stops and the ideal time of every unit made; reject losses are
/// the ideal time of the rejected units; fully productive time is the ideal time of the good units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossTree {
    pub planned_production_ms: u64,
    /// Downtime booked to any category but setup, and downtime without a reason yet.
    pub unplanned_stop_ms: u64,
    /// Downtime booked to setups and changeovers.
    pub setup_ms: u64,
    /// Small stops inside run time (overlaps counted once).
    pub small_stop_ms: u64,
    /// Negative when more was made than the ideal cycle time allows in what run time remains after
    /// small stops: performance above 100 %, or units counted during a small stop.
    pub slow_cycle_ms: i128,
    pub startup_reject_ms: i128,
    /// Negative only where corrections took more rejects back than a period counted.
    pub production_reject_ms: i128,
    pub fully_productive_ms: u128,
    pub startup_rejects: i64,
    pub production_rejects: i64,
    pub good_count: u64,
    /// Units made: with the ideal time of all of them, what converts a time loss into units at the
    /// period's average ideal cycle time.
    pub total_count: u64,
    pub ideal_total_ms: u128,
}

/// A part of the loss tree, in waterfall order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LossPart {
    UnplannedStops,
    Setups,
    SmallStops,
    SlowCycles,
    StartupRejects,
    ProductionRejects,
    FullyProductive,
}

impl LossTree {
    /// The tree of a window (or a roll-up) from its OEE inputs and loss facts, so the two can never
    /// disagree: downtime is planned minus run time, performance loss run time minus the ideal time of
    /// all units, quality loss the ideal time of the rejects. Empty without planned time.
    pub fn of(inputs: &OeeInputs, facts: &LossFacts) -> LossTree {
        if inputs.planned_production_ms == 0 {
            return LossTree::default();
        }
        let signed = |ms: u128| i128::try_from(ms).unwrap_or(i128::MAX);
        let (ideal_total, ideal_good) = (signed(inputs.ideal_total_ms), signed(inputs.ideal_good_ms));
        let downtime_ms = inputs.planned_production_ms - inputs.run_ms;
        let rejects =
            i64::try_from(inputs.total_count).unwrap_or(i64::MAX) - i64::try_from(inputs.good_count).unwrap_or(0);
        LossTree {
            planned_production_ms: inputs.planned_production_ms,
            unplanned_stop_ms: downtime_ms - facts.setup_ms,
            setup_ms: facts.setup_ms,
            small_stop_ms: facts.small_stop_ms,
            slow_cycle_ms: i128::from(inputs.run_ms) - i128::from(facts.small_stop_ms) - ideal_total,
            startup_reject_ms: facts.startup_reject_ms,
            production_reject_ms: ideal_total - ideal_good - facts.startup_reject_ms,
            fully_productive_ms: inputs.ideal_good_ms,
            startup_rejects: facts.startup_rejects,
            production_rejects: rejects - facts.startup_rejects,
            good_count: inputs.good_count,
            total_count: inputs.total_count,
            ideal_total_ms: inputs.ideal_total_ms,
        }
    }

    /// The parts in waterfall order, each in ms: they add up to planned production time.
    pub fn parts_ms(&self) -> [(LossPart, i128); 7] {
        [
            (LossPart::UnplannedStops, i128::from(self.unplanned_stop_ms)),
            (LossPart::Setups, i128::from(self.setup_ms)),
            (LossPart::SmallStops, i128::from(self.small_stop_ms)),
            (LossPart::SlowCycles, self.slow_cycle_ms),
            (LossPart::StartupRejects, self.startup_reject_ms),
            (LossPart::ProductionRejects, self.production_reject_ms),
            (LossPart::FullyProductive, i128::try_from(self.fully_productive_ms).unwrap_or(i128::MAX)),
        ]
    }

    /// The units a part holds where they were counted (rejects, good units); `None` for a time loss.
    pub fn units_counted(&self, part: LossPart) -> Option<i64> {
        match part {
            LossPart::StartupRejects => Some(self.startup_rejects),
            LossPart::ProductionRejects => Some(self.production_rejects),
            LossPart::FullyProductive => Some(i64::try_from(self.good_count).unwrap_or(i64::MAX)),
            _ => None,
        }
    }
}
