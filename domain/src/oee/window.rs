//! The OEE of one window (an hour, a shift occurrence) from the facts a read model keeps: the shift
//! occurrences that schedule it, the line's stops and the units made in it. Every convention of docs/oee.md
//! that concerns time lives here: clipping at the window's edges and at "now", planned time winning
//! over stops, merged overlaps, small stops, and open stops counted up to now and marked provisional.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::figures::{OeeFigures, OeeInputs};
use super::interval::{Interval, subtract, total_ms};
use super::loss_tree::{LossFacts, LossTree};
use super::occurrences::ShiftOccurrence;
use crate::downtime::StopClass;
use crate::values::{LossCategory, Millis, ReasonCode};

/// A stop of the whole line as the read model keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopFact {
    pub started_at: DateTime<Utc>,
    /// With the class it was given when it ended; `None` while open.
    pub ended: Option<(DateTime<Utc>, StopClass)>,
    /// The threshold in force when it started: an open stop becomes downtime once it has lasted this long.
    pub small_stop_threshold: Millis,
    /// The category of its reason; `None` while no reason is given ("unassigned", booked as unplanned).
    pub loss: Option<LossCategory>,
    /// Its reason's code; `None` while no reason is given.
    #[serde(default)]
    pub reason: Option<ReasonCode>,
}

impl StopFact {
    /// The stop as it stands at `now`: its interval (an open one runs up to now), its class, and whether
    /// that is still provisional (open).
    fn as_of(&self, now: DateTime<Utc>) -> Option<(Interval, StopClass, bool)> {
        match self.ended {
            Some((ended_at, class)) => Some((Interval::new(self.started_at, ended_at)?, class, false)),
            None => {
                let interval = Interval::new(self.started_at, now)?;
                let class = if interval.duration_ms() >= self.small_stop_threshold.get() {
                    StopClass::Downtime
                } else {
                    StopClass::SmallStop
                };
                Some((interval, class, true))
            }
        }
    }

    fn is_planned(&self) -> bool {
        self.loss.is_some_and(LossCategory::is_planned)
    }
}

/// The units of a window, summed by the read model. Signed, because a correction booked in a later
/// window than the units it corrects can take a window below zero; such a window is flagged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountSums {
    pub total: i64,
    pub good: i64,
    /// Sum of (ideal cycle time in force when made, ms) x units.
    pub ideal_total_ms: i128,
    pub ideal_good_ms: i128,
    /// Units of products without an ideal cycle time at the time they were made: in the counts and in
    /// quality, but adding nothing to performance, so they are reported.
    pub units_without_ideal_cycle_time: i64,
    /// Rejects booked with a start-up reject reason, and their ideal time; every other reject is a
    /// production reject.
    pub startup_rejects: i64,
    pub ideal_startup_reject_ms: i128,
}

/// One window's OEE with the breakdown behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowOee {
    /// The window as measured: cut at "now" while it is still running.
    pub window: Option<Interval>,
    pub inputs: OeeInputs,
    pub figures: OeeFigures,
    /// Scheduled time minus planned breaks, before planned stops come off.
    pub scheduled_ms: u64,
    /// Stops booked to a planned category, inside scheduled time (they come off planned production time).
    pub planned_stop_ms: u64,
    /// Downtime inside planned production time by loss category; `unassigned` while no reason is given.
    pub downtime_ms: BTreeMap<String, u64>,
    /// The same by reason code.
    pub downtime_by_reason_ms: BTreeMap<String, u64>,
    pub small_stops: u64,
    pub small_stop_ms: u64,
    /// An open stop counts in this window: its figures change until it ends.
    pub provisional: bool,
    /// The window reaches past "now".
    pub in_progress: bool,
    pub units_without_ideal_cycle_time: u64,
    /// Corrections took a count of this window below zero; the count is shown as zero.
    pub counts_below_zero: bool,
    /// What the loss tree needs beyond `inputs` ([`WindowOee::loss_tree`]).
    pub losses: LossFacts,
}

/// The OEE of `window` as of `now`. `schedule` holds the shift occurrences that overlap it, `stops` the
/// line's stops that overlap it, `counts` the units made in it.
pub fn window_oee(
    window: Interval,
    schedule: &[ShiftOccurrence],
    stops: &[StopFact],
    counts: &CountSums,
    now: DateTime<Utc>,
) -> WindowOee {
    let in_progress = window.end() > now;
    let measured = Interval::new(window.start(), window.end().min(now));
    let empty = vec![];
    let scheduled = measured.map_or(empty, |measured| {
        let shifts = schedule.iter().filter_map(|occurrence| occurrence.interval.clip(&measured)).collect();
        let breaks = schedule.iter().flat_map(|occurrence| occurrence.breaks.iter()).filter_map(|b| b.clip(&measured));
        subtract(shifts, breaks.collect())
    });
    let now_stops: Vec<_> = stops.iter().filter_map(|stop| Some((stop, stop.as_of(now)?))).collect();
    let inside = |interval: Interval, of: &[Interval]| -> Vec<Interval> {
        of.iter().filter_map(|part| interval.clip(part)).collect()
    };

    let planned_stops = now_stops
        .iter()
        .filter(|(stop, (_, class, _))| stop.is_planned() && *class == StopClass::Downtime)
        .flat_map(|(_, (interval, ..))| inside(*interval, &scheduled))
        .collect();
    let planned = subtract(scheduled.clone(), planned_stops);
    let (scheduled_ms, planned_ms) = (total_ms(&scheduled), total_ms(&planned));

    let mut provisional = false;
    let (mut downtime_ms, mut downtime_by_reason_ms) = (BTreeMap::new(), BTreeMap::new());
    let mut covered: Vec<Interval> = Vec::new();
    let (mut small_stops, mut small_stop_ms, mut small_parts) = (0, 0, Vec::new());
    let mut in_order: Vec<_> = now_stops.iter().filter(|(stop, _)| !stop.is_planned()).collect();
    in_order.sort_by_key(|(_, (interval, ..))| *interval);
    for (stop, (interval, class, open)) in in_order {
        let parts = inside(*interval, &planned);
        if parts.is_empty() {
            continue;
        }
        provisional |= *open;
        if *class == StopClass::SmallStop {
            small_stops += 1;
            small_stop_ms += total_ms(&parts);
            small_parts.extend(parts);
            continue;
        }
        // Overlapping stops count once: each keeps only the time no earlier stop already took.
        let new = subtract(parts, covered.clone());
        *downtime_ms.entry(category_name(stop.loss)).or_insert(0) += total_ms(&new);
        let reason = stop.reason.as_ref().map_or_else(|| "unassigned".to_owned(), ToString::to_string);
        *downtime_by_reason_ms.entry(reason).or_insert(0) += total_ms(&new);
        covered.extend(new);
    }
    let small_stops_in_run = total_ms(&subtract(small_parts, covered.clone()));

    let (total, good, below_zero) =
        (non_negative(counts.total), non_negative(counts.good), counts.total < 0 || counts.good < 0);
    let inputs = OeeInputs {
        calendar_ms: measured.map_or(0, |measured| measured.duration_ms()),
        planned_production_ms: planned_ms,
        run_ms: planned_ms.saturating_sub(total_ms(&covered)),
        ideal_total_ms: u128::try_from(counts.ideal_total_ms).unwrap_or(0),
        ideal_good_ms: u128::try_from(counts.ideal_good_ms).unwrap_or(0),
        total_count: total,
        good_count: good,
    };
    let losses = if planned_ms == 0 {
        LossFacts::default()
    } else {
        loss_facts(&inputs, counts, downtime_ms.get("setup").copied().unwrap_or(0), small_stops_in_run)
    };
    WindowOee {
        window: measured,
        figures: inputs.figures(),
        inputs,
        scheduled_ms,
        planned_stop_ms: scheduled_ms - planned_ms,
        downtime_ms,
        downtime_by_reason_ms,
        small_stops,
        small_stop_ms,
        provisional,
        in_progress,
        units_without_ideal_cycle_time: non_negative(counts.units_without_ideal_cycle_time),
        counts_below_zero: below_zero,
        losses,
    }
}

/// What a window with planned production time adds to its inputs for the loss tree: its setups and
/// small stops, and its start-up rejects, each at most what the inputs leave room for.
fn loss_facts(inputs: &OeeInputs, counts: &CountSums, setup_ms: u64, small_stop_ms: u64) -> LossFacts {
    let signed = |ms: u128| i128::try_from(ms).unwrap_or(i128::MAX);
    let reject_ms = signed(inputs.ideal_total_ms) - signed(inputs.ideal_good_ms);
    let rejects = i64::try_from(inputs.total_count).unwrap_or(i64::MAX) - i64::try_from(inputs.good_count).unwrap_or(0);
    LossFacts {
        setup_ms: setup_ms.min(inputs.planned_production_ms - inputs.run_ms),
        small_stop_ms,
        startup_rejects: counts.startup_rejects.clamp(0, rejects.max(0)),
        startup_reject_ms: counts.ideal_startup_reject_ms.clamp(0, reject_ms.max(0)),
    }
}

fn non_negative(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

fn category_name(loss: Option<LossCategory>) -> String {
    let name = match loss {
        None => "unassigned",
        Some(LossCategory::Unplanned) => "unplanned",
        Some(LossCategory::Planned) => "planned",
        Some(LossCategory::Setup) => "setup",
        Some(LossCategory::SmallStop) => "small_stop",
        Some(LossCategory::SlowCycle) => "slow_cycle",
        Some(LossCategory::ProductionReject) => "production_reject",
        Some(LossCategory::StartupReject) => "startup_reject",
        Some(LossCategory::Excluded) => "excluded",
    };
    name.to_owned()
}

impl WindowOee {
    /// Planned production time broken into the six big losses; empty without planned time.
    pub fn loss_tree(&self) -> LossTree {
        LossTree::of(&self.inputs, &self.losses)
    }

    /// The same figures over `calendar` as the period's whole time, cut at `now` (a day of which only
    /// the shifts were measured, a range that holds periods with no shift): what utilization and TEEP
    /// divide by.
    pub fn over(mut self, calendar: Interval, now: DateTime<Utc>) -> WindowOee {
        let measured = Interval::new(calendar.start(), calendar.end().min(now));
        self.inputs.calendar_ms = measured.map_or(0, |measured| measured.duration_ms());
        self.figures = self.inputs.figures();
        self
    }
}

/// Sums periods (the hours or shifts of a day, the lines of an area) component by component. Periods
/// without planned production time stay out of the figures (docs/oee.md) but their flags and breakdowns count.
pub fn roll_up_windows<'a>(parts: impl IntoIterator<Item = &'a WindowOee> + Clone) -> WindowOee {
    let inputs = super::figures::roll_up(parts.clone().into_iter().map(|part| &part.inputs));
    let mut sum = WindowOee {
        window: None,
        inputs,
        figures: inputs.figures(),
        scheduled_ms: 0,
        planned_stop_ms: 0,
        downtime_ms: BTreeMap::new(),
        downtime_by_reason_ms: BTreeMap::new(),
        small_stops: 0,
        small_stop_ms: 0,
        provisional: false,
        in_progress: false,
        units_without_ideal_cycle_time: 0,
        counts_below_zero: false,
        losses: LossFacts::default(),
    };
    for part in parts {
        sum.window = match (sum.window, part.window) {
            (Some(a), Some(b)) => Interval::new(a.start().min(b.start()), a.end().max(b.end())),
            (a, b) => a.or(b),
        };
        sum.scheduled_ms += part.scheduled_ms;
        sum.planned_stop_ms += part.planned_stop_ms;
        for (category, ms) in &part.downtime_ms {
            *sum.downtime_ms.entry(category.clone()).or_insert(0) += ms;
        }
        for (reason, ms) in &part.downtime_by_reason_ms {
            *sum.downtime_by_reason_ms.entry(reason.clone()).or_insert(0) += ms;
        }
        sum.losses = sum.losses + part.losses;
        sum.small_stops += part.small_stops;
        sum.small_stop_ms += part.small_stop_ms;
        sum.provisional |= part.provisional;
        sum.in_progress |= part.in_progress;
        sum.units_without_ideal_cycle_time += part.units_without_ideal_cycle_time;
        sum.counts_below_zero |= part.counts_below_zero;
    }
    sum
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::oee::interval::tests::{at, between};
    use crate::values::ShiftName;

    const MINUTE: u64 = 60_000;

    fn ms(minutes: u64) -> Millis {
        Millis::new(minutes * MINUTE).unwrap()
    }
    fn shift(from: &str, to: &str, breaks: &[(&str, &str)]) -> ShiftOccurrence {
        ShiftOccurrence {
            shift: ShiftName::parse("early").unwrap(),
            date: NaiveDate::default(),
            interval: between(from, to),
            breaks: breaks.iter().map(|(start, end)| between(start, end)).collect(),
            crew: None,
        }
    }
    fn ended(from: &str, to: &str, class: StopClass, loss: Option<LossCategory>) -> StopFact {
        StopFact { started_at: at(from), ended: Some((at(to), class)), small_stop_threshold: ms(2), loss, reason: None }
    }
    fn open(from: &str) -> StopFact {
        StopFact { started_at: at(from), ended: None, small_stop_threshold: ms(2), loss: None, reason: None }
    }
    fn units(total: i64, good: i64, ideal_ms: i128) -> CountSums {
        CountSums {
            total,
            good,
            ideal_total_ms: i128::from(total) * ideal_ms,
            ideal_good_ms: i128::from(good) * ideal_ms,
            units_without_ideal_cycle_time: 0,
            startup_rejects: 0,
            ideal_startup_reject_ms: 0,
        }
    }
    /// The OEE of a whole shift occurrence.
    fn in_shift(shift: &ShiftOccurrence, stops: &[StopFact], counts: &CountSums, now: DateTime<Utc>) -> WindowOee {
        window_oee(shift.interval, std::slice::from_ref(shift), stops, counts, now)
    }
    const DOWNTIME: StopClass = StopClass::Downtime;
    const UNPLANNED: Option<LossCategory> = Some(LossCategory::Unplanned);
    const END_OF_DAY: &str = "23:59";

    /// docs/oee.md's worked example, scheduled as a real shift: 06:00-14:00 with breaks of 15, 30 and 15
    /// minutes, 47 minutes of unplanned stops, 19,271 units at 1.0 s of which 423 rejects.
    #[test]
    fn the_published_example_as_a_shift_with_breaks_and_stops() {
        let early = shift("06:00", "14:00", &[("08:00", "08:15"), ("10:00", "10:30"), ("12:00", "12:15")]);
        let stops = [ended("07:00", "07:40", DOWNTIME, UNPLANNED), ended("11:00", "11:07", DOWNTIME, UNPLANNED)];
        let oee = in_shift(&early, &stops, &units(19_271, 18_848, 1000), at(END_OF_DAY));
        assert_eq!((oee.inputs.planned_production_ms, oee.inputs.run_ms), (420 * MINUTE, 373 * MINUTE));
        let bp = |ratio: Option<super::super::Ratio>| ratio.map(super::super::Ratio::basis_points);
        let figures = oee.figures;
        assert_eq!(
            [bp(figures.availability), bp(figures.performance), bp(figures.quality), bp(figures.oee)],
            [Some(8881), Some(8611), Some(9780), Some(7479)]
        );
        assert_eq!(oee.downtime_ms.get("unplanned"), Some(&(47 * MINUTE)));
        assert!(!oee.provisional && !oee.in_progress);
    }

    /// Our worked example for the loss tree (docs/oee.md): 06:00-14:00 with a break 10:00-10:30, seen at
    /// 13:00. An unplanned stop 07:00-07:40 overlapped by a setup 07:30-08:00 (its own time from 07:40),
    /// small stops 07:10-07:11 (inside the unplanned stop: counted once, as downtime), 09:00-09:01 and
    /// 11:00-11:01, a stop open since 12:50 without reason. 18,000 units at 1.0 s, 150 start-up and 250
    /// production rejects. Planned 390 min = unplanned 50 + setups 20 + small stops 2 + slow cycles 18
    /// + start-up rejects 2.5 + production rejects 4.17 + fully productive 293.33.
    #[test]
    fn the_loss_tree_adds_up_to_planned_time_with_overlaps_small_stops_a_break_and_an_open_stop() {
        let early = shift("06:00", "14:00", &[("10:00", "10:30")]);
        let stops = [
            ended("07:00", "07:40", DOWNTIME, UNPLANNED),
            ended("07:30", "08:00", DOWNTIME, Some(LossCategory::Setup)),
            ended("07:10", "07:11", StopClass::SmallStop, None),
            ended("09:00", "09:01", StopClass::SmallStop, None),
            ended("11:00", "11:01", StopClass::SmallStop, None),
            open("12:50"),
        ];
        let counts =
            CountSums { startup_rejects: 150, ideal_startup_reject_ms: 150_000, ..units(18_000, 17_600, 1000) };
        let oee = in_shift(&early, &stops, &counts, at("13:00"));
        let tree = oee.loss_tree();
        let second = 1000;
        assert_eq!(tree.planned_production_ms, 390 * MINUTE);
        assert_eq!((tree.unplanned_stop_ms, tree.setup_ms, tree.small_stop_ms), (50 * MINUTE, 20 * MINUTE, 2 * MINUTE));
        assert_eq!(tree.slow_cycle_ms, 18 * i128::from(MINUTE));
        assert_eq!((tree.startup_reject_ms, tree.production_reject_ms), (150 * second, 250 * second));
        assert_eq!(tree.fully_productive_ms, 17_600 * 1000);
        assert_eq!((tree.startup_rejects, tree.production_rejects, tree.good_count), (150, 250, 17_600));
        let sum: i128 = tree.parts_ms().iter().map(|(_, ms)| ms).sum();
        assert_eq!(sum, i128::from(tree.planned_production_ms), "the parts add up exactly");
        assert!(oee.provisional);
        // A roll-up's tree is the sum of its parts' trees and still adds up.
        let hour = in_shift(&shift("14:00", "15:00", &[]), &[], &units(3_000, 3_000, 1000), at("23:00"));
        let both = roll_up_windows([&oee, &hour]).loss_tree();
        assert_eq!(both.planned_production_ms, 450 * MINUTE);
        assert_eq!(both.slow_cycle_ms, 18 * i128::from(MINUTE) + 10 * i128::from(MINUTE));
        assert_eq!(both.parts_ms().iter().map(|(_, ms)| ms).sum::<i128>(), 450 * i128::from(MINUTE));
    }

    #[test]
    fn a_window_without_planned_time_has_an_empty_loss_tree_and_faster_than_ideal_shows_negative_slow_cycles() {
        let nothing = window_oee(between("03:00", "04:00"), &[], &[], &units(10, 10, 1000), at(END_OF_DAY));
        assert_eq!(nothing.loss_tree(), LossTree::default());
        let fast = in_shift(&shift("06:00", "07:00", &[]), &[], &units(4_000, 4_000, 1000), at(END_OF_DAY));
        assert_eq!(fast.loss_tree().slow_cycle_ms, -400_000, "3,600 s of run time, 4,000 s of ideal time");
        assert_eq!(fast.loss_tree().parts_ms().iter().map(|(_, ms)| ms).sum::<i128>(), 60 * i128::from(MINUTE));
    }

    #[test]
    fn downtime_is_also_summed_by_reason_code() {
        let early = shift("06:00", "14:00", &[]);
        let jam = StopFact { reason: ReasonCode::parse("jam").ok(), ..ended("07:00", "07:20", DOWNTIME, UNPLANNED) };
        let oee =
            in_shift(&early, &[jam, ended("08:00", "08:05", DOWNTIME, None)], &CountSums::default(), at(END_OF_DAY));
        let expected = BTreeMap::from([("jam".to_owned(), 20 * MINUTE), ("unassigned".to_owned(), 5 * MINUTE)]);
        assert_eq!(oee.downtime_by_reason_ms, expected);
    }

    #[test]
    fn a_stop_across_a_shift_change_is_split_between_the_shifts() {
        let (late, night) = (shift("14:00", "22:00", &[]), shift("22:00", END_OF_DAY, &[]));
        let stop = [ended("21:50", "22:20", DOWNTIME, UNPLANNED)];
        let of = |window: &ShiftOccurrence| {
            window_oee(window.interval, &[late.clone(), night.clone()], &stop, &CountSums::default(), at(END_OF_DAY))
        };
        assert_eq!(of(&late).downtime_ms.get("unplanned"), Some(&(10 * MINUTE)));
        assert_eq!(of(&night).downtime_ms.get("unplanned"), Some(&(20 * MINUTE)));
    }

    #[test]
    fn planned_time_wins_over_a_stop_and_overlapping_stops_count_once() {
        let early = shift("06:00", "14:00", &[("10:00", "10:30")]);
        let stops = [
            ended("09:50", "10:40", DOWNTIME, UNPLANNED),
            ended("10:35", "10:50", DOWNTIME, Some(LossCategory::Setup)),
        ];
        let oee = in_shift(&early, &stops, &CountSums::default(), at(END_OF_DAY));
        assert_eq!(oee.downtime_ms.get("unplanned"), Some(&(20 * MINUTE)), "09:50-10:00 and 10:30-10:40");
        assert_eq!(oee.downtime_ms.get("setup"), Some(&(10 * MINUTE)), "10:40-10:50: the overlap counts once");
        assert_eq!(oee.inputs.run_ms, (450 - 30) * MINUTE);
    }

    #[test]
    fn a_stop_booked_as_planned_comes_off_planned_production_time() {
        let early = shift("06:00", "14:00", &[]);
        let meeting = [ended("07:00", "07:30", DOWNTIME, Some(LossCategory::Planned))];
        let oee = in_shift(&early, &meeting, &CountSums::default(), at(END_OF_DAY));
        assert_eq!((oee.planned_stop_ms, oee.inputs.planned_production_ms), (30 * MINUTE, 450 * MINUTE));
        assert_eq!(oee.inputs.run_ms, 450 * MINUTE, "a planned stop is no availability loss");
    }

    #[test]
    fn small_stops_stay_in_run_time_and_a_stop_without_reason_is_unassigned() {
        let early = shift("06:00", "14:00", &[]);
        let stops = [ended("07:00", "07:01", StopClass::SmallStop, None), ended("08:00", "08:10", DOWNTIME, None)];
        let oee = in_shift(&early, &stops, &CountSums::default(), at(END_OF_DAY));
        assert_eq!((oee.small_stops, oee.small_stop_ms), (1, MINUTE));
        assert_eq!(oee.downtime_ms.get("unassigned"), Some(&(10 * MINUTE)));
        assert_eq!(oee.inputs.run_ms, 470 * MINUTE);
    }

    #[test]
    fn an_open_stop_counts_up_to_now_is_provisional_and_becomes_downtime_at_the_threshold() {
        let early = shift("06:00", "14:00", &[]);
        let stop = [open("09:00")];
        let young = in_shift(&early, &stop, &CountSums::default(), at("09:01"));
        assert_eq!((young.small_stops, young.downtime_ms.len()), (1, 0), "under the threshold: a small stop");
        let old = in_shift(&early, &stop, &CountSums::default(), at("09:30"));
        assert_eq!(old.downtime_ms.get("unassigned"), Some(&(30 * MINUTE)));
        assert!(old.provisional && old.in_progress);
        assert_eq!(old.inputs.planned_production_ms, 210 * MINUTE, "the shift so far: 06:00 to now");
        assert_eq!(old.inputs.run_ms, 180 * MINUTE);
    }

    #[test]
    fn unscheduled_time_is_undefined_and_a_stopped_shift_is_zero() {
        let outside = window_oee(between("03:00", "04:00"), &[], &[], &units(10, 10, 1000), at(END_OF_DAY));
        let unplanned = OeeFigures { utilization: outside.figures.utilization, ..OeeFigures::default() };
        assert_eq!(outside.figures, unplanned, "no planned production time: every factor undefined");
        assert_eq!(
            outside.figures.utilization.map(super::super::Ratio::basis_points),
            Some(0),
            "but none of the hour planned"
        );
        let early = shift("06:00", "14:00", &[]);
        let down = [ended("06:00", "14:00", DOWNTIME, UNPLANNED)];
        let stopped = in_shift(&early, &down, &CountSums::default(), at(END_OF_DAY));
        assert_eq!(stopped.figures.availability.map(super::super::Ratio::basis_points), Some(0));
        assert_eq!(stopped.figures.performance, None);
    }

    #[test]
    fn corrections_below_zero_are_flagged_and_rolled_up_periods_sum_their_parts() {
        let hour = |from, to| shift(from, to, &[]);
        let (first, second) = (hour("06:00", "07:00"), hour("07:00", "08:00"));
        let corrected = in_shift(&first, &[], &units(-5, -5, 1000), at(END_OF_DAY));
        assert!(corrected.counts_below_zero);
        assert_eq!(corrected.inputs.total_count, 0);
        let busy = in_shift(&second, &[], &units(3_600, 3_600, 1000), at(END_OF_DAY));
        let both = roll_up_windows([&corrected, &busy]);
        assert_eq!(both.inputs.planned_production_ms, 120 * MINUTE);
        assert_eq!(both.figures.oee.map(super::super::Ratio::basis_points), Some(5000));
        assert!(both.counts_below_zero);
        assert_eq!(both.window, Some(between("06:00", "08:00")));
    }
}
