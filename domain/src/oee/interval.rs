//! Half-open UTC intervals [start, end) and the operations OEE windows need: clipping a stop to a
//! window, merging overlapping stops, and removing planned time from unplanned time (planned wins).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Interval {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Interval {
    /// `None` unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }
    pub fn duration_ms(&self) -> u64 {
        u64::try_from((self.end - self.start).num_milliseconds()).unwrap_or_default()
    }
    /// The part of this interval inside `window`, if any.
    pub fn clip(&self, window: &Interval) -> Option<Interval> {
        Interval::new(self.start.max(window.start), self.end.min(window.end))
    }
}

/// Overlapping or touching intervals joined, in order: overlapping unplanned stops on one line count once.
pub fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort_unstable();
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for interval in intervals {
        match merged.last_mut() {
            Some(last) if interval.start <= last.end => last.end = last.end.max(interval.end),
            _ => merged.push(interval),
        }
    }
    merged
}

/// `from` with every part covered by `remove` taken out; both may be unsorted and overlapping.
pub fn subtract(from: Vec<Interval>, remove: Vec<Interval>) -> Vec<Interval> {
    let remove = merge(remove);
    let mut rest = Vec::new();
    for interval in merge(from) {
        let mut cursor = interval.start;
        for cut in remove.iter().filter(|cut| cut.start < interval.end && cut.end > interval.start) {
            rest.extend(Interval::new(cursor, cut.start));
            cursor = cursor.max(cut.end);
        }
        rest.extend(Interval::new(cursor, interval.end));
    }
    rest
}

pub fn total_ms(intervals: &[Interval]) -> u64 {
    intervals.iter().map(Interval::duration_ms).sum()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn at(hhmm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-03-02T{hhmm}:00Z"))
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }
    pub(crate) fn between(from: &str, to: &str) -> Interval {
        Interval::new(at(from), at(to)).unwrap_or_else(|| panic!("empty interval {from}-{to}"))
    }
    const MINUTE: u64 = 60_000;

    #[test]
    fn a_stop_across_a_shift_change_is_split_between_the_shifts() {
        let stop = between("21:50", "22:20");
        let (late, night) = (between("14:00", "22:00"), between("22:00", "23:59"));
        assert_eq!(stop.clip(&late).map(|part| part.duration_ms()), Some(10 * MINUTE));
        assert_eq!(stop.clip(&night).map(|part| part.duration_ms()), Some(20 * MINUTE));
        assert_eq!(stop.clip(&between("06:00", "14:00")), None);
    }

    #[test]
    fn overlapping_stops_are_merged_and_counted_once() {
        let merged = merge(vec![between("10:10", "10:30"), between("10:00", "10:20"), between("11:00", "11:05")]);
        assert_eq!(merged, vec![between("10:00", "10:30"), between("11:00", "11:05")]);
        assert_eq!(total_ms(&merged), 35 * MINUTE);
    }

    #[test]
    fn planned_time_wins_over_unplanned_downtime() {
        let unplanned = vec![between("09:50", "10:40")];
        let breaks = vec![between("10:00", "10:15"), between("10:30", "11:00")];
        let left = subtract(unplanned, breaks);
        assert_eq!(left, vec![between("09:50", "10:00"), between("10:15", "10:30")]);
        assert_eq!(total_ms(&left), 25 * MINUTE);
    }

    #[test]
    fn an_interval_needs_its_start_before_its_end() {
        assert_eq!(Interval::new(at("10:00"), at("10:00")), None);
        assert_eq!(Interval::new(at("10:00"), at("09:00")), None);
    }
}
