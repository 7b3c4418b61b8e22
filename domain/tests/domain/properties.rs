//! Properties of the arithmetic a plant's figures rest on, checked against simple models.

// Test code: a failed unwrap is a failed test, with its error in the message (clippy.toml allows the
// same in unit tests; helpers outside a #[test] need it said here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use domain::counter::{CounterWidth, counter_delta};
use domain::line::{CalendarError, ShiftDefinition, check_calendar};
use domain::oee::{Interval, merge, subtract, total_ms};
use domain::values::ShiftName;
use proptest::prelude::*;

proptest! {
    /// A 16-bit counter read often enough (less than half its range between readings) yields exactly
    /// the units produced, however often it rolls over.
    #[test]
    fn counter_deltas_add_up_to_what_was_produced(start in 0u64..65_536, steps in prop::collection::vec(0u64..32_768, 1..50)) {
        let mut reading = start;
        let mut counted = 0;
        for step in &steps {
            let next = (reading + step) % 65_536;
            counted += counter_delta(reading, next, CounterWidth::Bits16).0;
            reading = next;
        }
        prop_assert_eq!(counted, steps.iter().sum::<u64>());
    }
}

fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

fn interval((from, length): (i64, i64)) -> Interval {
    Interval::new(base() + Duration::minutes(from), base() + Duration::minutes(from + length)).expect("positive length")
}

/// The minutes an interval list covers, as a set: the model.
fn minutes(intervals: &[Interval]) -> BTreeSet<i64> {
    intervals.iter().flat_map(|i| (i.start() - base()).num_minutes()..(i.end() - base()).num_minutes()).collect()
}

fn intervals() -> impl Strategy<Value = Vec<Interval>> {
    prop::collection::vec((0i64..300, 1i64..60), 0..12).prop_map(|raw| raw.into_iter().map(interval).collect())
}

proptest! {
    #[test]
    fn merging_keeps_exactly_the_covered_minutes_in_disjoint_sorted_intervals(stops in intervals()) {
        let merged = merge(stops.clone());
        prop_assert_eq!(minutes(&merged), minutes(&stops));
        prop_assert!(merged.windows(2).all(|pair| pair[0].end() < pair[1].start()));
        prop_assert_eq!(total_ms(&merged), minutes(&stops).len() as u64 * 60_000);
    }

    #[test]
    fn subtracting_planned_time_leaves_exactly_the_unplanned_minutes(unplanned in intervals(), planned in intervals()) {
        let left = subtract(unplanned.clone(), planned.clone());
        let expected: BTreeSet<i64> = minutes(&unplanned).difference(&minutes(&planned)).copied().collect();
        prop_assert_eq!(minutes(&left), expected);
        prop_assert_eq!(total_ms(&left), minutes(&left).len() as u64 * 60_000);
    }
}

const DAY: u32 = 24 * 60;

fn shift(index: usize, (start, length): (u32, u32)) -> ShiftDefinition {
    let at = |minute: u32| NaiveTime::from_num_seconds_from_midnight_opt((minute % DAY) * 60, 0).unwrap_or_default();
    ShiftDefinition {
        name: ShiftName::parse(&format!("s{index}")).unwrap(),
        start: at(start),
        end: at(start + length),
        breaks: vec![],
        days: domain::line::Weekdays::default(),
    }
}

/// The minutes of the daily circle a shift covers: the model of overlap.
fn circle_minutes((start, length): (u32, u32)) -> BTreeSet<u32> {
    (start..start + length).map(|minute| minute % DAY).collect()
}

proptest! {
    /// The calendar check refuses exactly the calendars in which two shifts share a minute of the day.
    #[test]
    fn calendar_overlap_matches_shared_minutes_on_the_daily_circle(raw in prop::collection::vec((0u32..DAY, 1u32..DAY), 1..5)) {
        let shifts: Vec<ShiftDefinition> = raw.iter().enumerate().map(|(i, s)| shift(i, *s)).collect();
        let overlapping = raw.iter().enumerate().any(|(i, a)| {
            raw[i + 1..].iter().any(|b| !circle_minutes(*a).is_disjoint(&circle_minutes(*b)))
        });
        let checked = check_calendar(&shifts);
        prop_assert_eq!(matches!(checked, Err(CalendarError::OverlappingShifts(..))), overlapping, "{:?}", checked);
        prop_assert_eq!(checked.is_ok(), !overlapping);
    }
}
