//! A line's shift calendar: shifts in site-local wall-clock time that repeat on given weekdays (every
//! day unless said otherwise), with planned breaks, and the days the plant does not produce.
//! Occurrences (UTC intervals, 23- and 25-hour DST days) are computed by the read side from these
//! definitions and the line's time zone; here we only guarantee the definitions are coherent.

use chrono::{NaiveDate, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

use crate::values::{Millis, Name, ShiftName};

/// A day of the week, as a calendar names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    const ALL: [Day; 7] = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun];

    pub fn of(weekday: Weekday) -> Day {
        Self::ALL[weekday.num_days_from_monday() as usize]
    }

    /// The day `offset` days after this one (negative: before).
    fn plus(self, offset: i8) -> Day {
        Self::ALL[(self as i8 + offset).rem_euclid(7) as usize]
    }
}

/// The weekdays a shift starts on: at least one, each once, in week order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Day>", into = "Vec<Day>")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Weekdays(Vec<Day>);

impl Weekdays {
    pub fn contains(&self, day: Day) -> bool {
        self.0.contains(&day)
    }
}

/// Every day: what a shift defined before weekly patterns existed runs on.
impl Default for Weekdays {
    fn default() -> Self {
        Self(Day::ALL.to_vec())
    }
}

impl TryFrom<Vec<Day>> for Weekdays {
    type Error = CalendarError;

    fn try_from(mut days: Vec<Day>) -> Result<Self, CalendarError> {
        let given = days.len();
        days.sort_unstable();
        days.dedup();
        if days.is_empty() || days.len() != given {
            return Err(CalendarError::Weekdays);
        }
        Ok(Self(days))
    }
}

impl From<Weekdays> for Vec<Day> {
    fn from(days: Weekdays) -> Self {
        days.0
    }
}

/// A day the plant does not produce (a holiday, a planned shutdown): no shift starts on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NonProductionDay {
    pub date: NaiveDate,
    pub name: Name,
}

/// Checks a list of non-production days: each date once.
pub fn check_non_production_days(days: &[NonProductionDay]) -> Result<(), CalendarError> {
    let mut dates: Vec<NaiveDate> = days.iter().map(|day| day.date).collect();
    dates.sort_unstable();
    match dates.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(CalendarError::DuplicateDate(pair[0])),
        None => Ok(()),
    }
}

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
    /// The days it starts on (`mon` to `sun`); every day when left out.
    #[serde(default)]
    pub days: Weekdays,
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
    #[error("a shift's days name at least one day of the week, each once")]
    Weekdays,
    #[error("non-production day {0} is listed twice")]
    DuplicateDate(NaiveDate),
}

impl crate::aggregate::Rule for CalendarError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoShifts { .. } => "no_shifts",
            Self::DuplicateShift { .. } => "duplicate_shift",
            Self::OverlappingShifts { .. } => "overlapping_shifts",
            Self::BreakOutsideShift { .. } => "break_outside_shift",
            Self::OverlappingBreaks { .. } => "overlapping_breaks",
            Self::Weekdays => "weekdays",
            Self::DuplicateDate { .. } => "duplicate_date",
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

    /// Whether the shifts overlap in some week: this shift's occurrence on each of its days is placed in
    /// the middle of a 72-hour line and tested against the other's occurrences on the day before, the
    /// same day and the day after, where the other runs on that day.
    fn overlaps(&self, other: &ShiftDefinition) -> bool {
        let (a_start, a_len) = self.span();
        let (b_start, b_len) = other.span();
        let a0 = a_start + DAY_MS;
        self.days.0.iter().any(|day| {
            [(-1, 0), (0, DAY_MS), (1, 2 * DAY_MS)].iter().any(|(offset, shift)| {
                let b0 = b_start + shift;
                other.days.contains(day.plus(*offset)) && a0 < b0 + b_len && b0 < a0 + a_len
            })
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
            days: Weekdays::default(),
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

    fn on(mut shift: ShiftDefinition, days: &[Day]) -> ShiftDefinition {
        shift.days = Weekdays::try_from(days.to_vec()).unwrap_or_else(|_| panic!("bad test days"));
        shift
    }

    #[test]
    fn shifts_on_different_days_may_share_hours_but_not_when_a_night_runs_into_the_next_day() {
        use Day::*;
        let weekdays = on(shift("early", "06:00", "14:00", &[]), &[Mon, Tue, Wed, Thu, Fri]);
        let weekend = on(shift("weekend", "06:00", "18:00", &[]), &[Sat, Sun]);
        assert_eq!(check_calendar(&[weekdays.clone(), weekend]), Ok(()));
        // A Friday night shift until 07:00 runs into Saturday: it overlaps a Saturday early shift, not
        // the weekday one it never meets.
        let friday_night = on(shift("night", "22:00", "07:00", &[]), &[Fri]);
        let saturday = on(shift("sat-early", "06:00", "14:00", &[]), &[Sat]);
        assert!(matches!(check_calendar(&[friday_night.clone(), saturday]), Err(CalendarError::OverlappingShifts(..))));
        let monday = on(shift("mon-early", "06:00", "14:00", &[]), &[Mon]);
        assert_eq!(check_calendar(&[friday_night.clone(), monday]), Ok(()));
        // And a Sunday night into Monday meets Monday's early shift (the week wraps).
        let sunday_night = on(shift("sun-night", "22:00", "07:00", &[]), &[Sun]);
        assert!(matches!(check_calendar(&[sunday_night, weekdays]), Err(CalendarError::OverlappingShifts(..))));
        assert_eq!(Weekdays::try_from(vec![]), Err(CalendarError::Weekdays));
        assert_eq!(Weekdays::try_from(vec![Mon, Mon]), Err(CalendarError::Weekdays));
        let read: ShiftDefinition =
            serde_json::from_str(r#"{"name":"old","start":"06:00:00","end":"14:00:00","breaks":[]}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.days, Weekdays::default(), "a calendar stored before weekly patterns runs every day");
    }

    #[test]
    fn a_non_production_day_is_listed_once() {
        let day = |date: &str| NonProductionDay {
            date: date.parse().unwrap_or_default(),
            name: Name::parse("Holiday").unwrap_or_else(|_| panic!("name")),
        };
        assert_eq!(check_non_production_days(&[day("2026-12-25"), day("2026-12-26")]), Ok(()));
        assert!(matches!(
            check_non_production_days(&[day("2026-12-25"), day("2026-12-25")]),
            Err(CalendarError::DuplicateDate(_))
        ));
    }

    #[test]
    fn a_break_after_midnight_inside_a_night_shift_is_inside() {
        assert_eq!(check_calendar(&[shift("night", "22:00", "06:00", &[("23:45", 30)])]), Ok(()));
    }
}
