//! A line's shift calendar: shifts in site-local wall-clock time that repeat daily, with planned breaks.
//! Occurrences (UTC intervals, 23- and 25-hour DST days) are computed by the read side from these
//! definitions and the line's time zone; here we only guarantee the definitions are coherent.

use chrono::{NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::values::{Millis, ShiftName};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlannedBreak {
    /// Local wall-clock start; must fall inside the shift.
    pub start: NaiveTime,
    pub duration: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShiftDefinition {
    pub name: ShiftName,
    pub start: NaiveTime,
    /// A shift that ends at or before its start ends the next day and belongs to the day it starts.
    pub end: NaiveTime,
    pub breaks: Vec<PlannedBreak>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("a shift calendar needs at least one shift")]
    NoShifts,
    #[error("shift {0} is defined twice")]
    DuplicateShift(ShiftName),
    #[error("shifts {0} and {1} overlap")]
    OverlappingShifts(ShiftName, ShiftName),
    #[error("a break of shift {0} does not lie wholly inside the shift")]
    BreakOutsideShift(ShiftName),
    #[error("breaks of shift {0} overlap")]
    OverlappingBreaks(ShiftName),
}

impl crate::aggregate::Rule for CalendarError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoShifts { .. } => "no_shifts",
            Self::DuplicateShift { .. } => "duplicate_shift",
            Self::OverlappingShifts { .. } => "overlapping_shifts",
            Self::BreakOutsideShift { .. } => "break_outside_shift",
            Self::OverlappingBreaks { .. } => "overlapping_breaks",
        }
    }
}

fn ms_of_day(time: NaiveTime) -> u64 {
    u64::from(time.num_seconds_from_midnight()) * 1000 + u64::from(time.nanosecond() / 1_000_000)
}

impl ShiftDefinition {
    /// Offset of the shift's start from midnight and its length, both in ms; a shift never has length 0
    /// (start == end is a 24-hour shift).
    fn span(&self) -> (u64, u64) {
        let start = ms_of_day(self.start);
        let end = ms_of_day(self.end);
        let length = if end > start { end - start } else { DAY_MS - start + end };
        (start, length)
    }

    /// The shift as intervals on a 48-hour line, so that overlap with any other shift on the daily circle
    /// is a plain interval test against that shift shifted by -1, 0 and +1 day.
    fn overlaps(&self, other: &ShiftDefinition) -> bool {
        let (a_start, a_len) = self.span();
        let (b_start, b_len) = other.span();
        [0, DAY_MS, 2 * DAY_MS].iter().any(|shift| {
            let b0 = b_start + shift;
            let a0 = a_start + DAY_MS;
            a0 < b0 + b_len && b0 < a0 + a_len
        })
    }

    fn check_breaks(&self) -> Result<(), CalendarError> {
        let (start, length) = self.span();
        let mut offsets: Vec<(u64, u64)> = Vec::with_capacity(self.breaks.len());
        for planned in &self.breaks {
            let offset = (ms_of_day(planned.start) + DAY_MS - start) % DAY_MS;
            if offset + planned.duration.get() > length {
                return Err(CalendarError::BreakOutsideShift(self.name.clone()));
            }
            offsets.push((offset, offset + planned.duration.get()));
        }
        offsets.sort_unstable();
        if offsets.windows(2).any(|pair| pair[1].0 < pair[0].1) {
            return Err(CalendarError::OverlappingBreaks(self.name.clone()));
        }
        Ok(())
    }
}

/// Checks a whole calendar version: unique names, no overlapping shifts, breaks inside their shift.
pub fn check_calendar(shifts: &[ShiftDefinition]) -> Result<(), CalendarError> {
    if shifts.is_empty() {
        return Err(CalendarError::NoShifts);
    }
    for (i, shift) in shifts.iter().enumerate() {
        shift.check_breaks()?;
        for other in &shifts[i + 1..] {
            if other.name == shift.name {
                return Err(CalendarError::DuplicateShift(shift.name.clone()));
            }
            if shift.overlaps(other) {
                return Err(CalendarError::OverlappingShifts(shift.name.clone(), other.name.clone()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap_or_default()
    }

    pub(crate) fn shift(name: &str, start: &str, end: &str, breaks: &[(&str, u64)]) -> ShiftDefinition {
        ShiftDefinition {
            name: ShiftName::parse(name).unwrap_or_else(|_| panic!("bad test shift name {name}")),
            start: time(start),
            end: time(end),
            breaks: breaks
                .iter()
                .map(|(at, minutes)| PlannedBreak {
                    start: time(at),
                    duration: Millis::new(minutes * 60_000).unwrap_or_else(|_| panic!("zero break")),
                })
                .collect(),
        }
    }

    #[test]
    fn three_shifts_around_the_clock_are_coherent() {
        let shifts = [
            shift("early", "06:00", "14:00", &[("09:00", 15), ("11:30", 30)]),
            shift("late", "14:00", "22:00", &[]),
            shift("night", "22:00", "06:00", &[("02:00", 30)]),
        ];
        assert_eq!(check_calendar(&shifts), Ok(()));
    }

    #[test]
    fn a_night_shift_overlapping_the_early_shift_across_midnight_is_rejected() {
        let shifts = [shift("early", "05:00", "13:00", &[]), shift("night", "22:00", "06:00", &[])];
        assert!(matches!(check_calendar(&shifts), Err(CalendarError::OverlappingShifts(..))));
    }

    #[test]
    fn duplicate_names_empty_calendars_and_stray_breaks_are_rejected() {
        assert_eq!(check_calendar(&[]), Err(CalendarError::NoShifts));
        let twice = [shift("a", "06:00", "08:00", &[]), shift("a", "10:00", "12:00", &[])];
        assert!(matches!(check_calendar(&twice), Err(CalendarError::DuplicateShift(_))));
        let outside = [shift("a", "06:00", "08:00", &[("07:50", 15)])];
        assert!(matches!(check_calendar(&outside), Err(CalendarError::BreakOutsideShift(_))));
        let overlapping = [shift("a", "06:00", "14:00", &[("09:00", 30), ("09:15", 15)])];
        assert!(matches!(check_calendar(&overlapping), Err(CalendarError::OverlappingBreaks(_))));
    }

    #[test]
    fn a_break_after_midnight_inside_a_night_shift_is_inside() {
        assert_eq!(check_calendar(&[shift("night", "22:00", "06:00", &[("23:45", 30)])]), Ok(()));
    }
}
